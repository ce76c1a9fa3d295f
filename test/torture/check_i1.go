package torture

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// w1Window is W1's "about 1 s": a write a master acknowledged at most this
// long (plus its replica's reported lag) before it was killed, stalled or
// cut off may be lost.
const w1Window = time.Second

// classified is a missing acknowledged write and why it is (not) allowed.
type classified struct {
	a      ack
	window string // "W1", "W3" or "" (no window)
}

// checkI1: every acknowledged write is on the final master, or inside W1,
// or inside W3 and in a backup of the node that acknowledged it (else I3).
// When the pair did not converge (I2 already reports it), a write counts as
// lost only when neither server holds it: nothing was discarded yet.
func (r *run) checkI1(conv convergence) {
	var acks []ack
	var keys []string
	for _, w := range r.writers {
		for _, a := range w.result().Acks {
			acks = append(acks, a)
			keys = append(keys, a.Key)
		}
	}
	where := ""
	has := map[string]bool{}
	if conv.Master >= 0 {
		where = "the final master " + r.c.hosts[conv.Master].name
		h, err := present(r.c.hosts[conv.Master].redis, keys)
		if err != nil {
			r.violate("I1", "final master unreadable", err.Error())
			return
		}
		has = h
	} else {
		where = "both servers (the pair did not converge)"
		for _, hst := range r.c.hosts {
			h, err := present(hst.redis, keys)
			if err != nil {
				r.violate("I1", "server unreadable at the end", hst.name+": "+err.Error())
				return
			}
			for k := range h {
				has[k] = true
			}
		}
	}
	var missing []classified
	for _, a := range acks {
		if !has[a.Key] {
			missing = append(missing, classified{a: a, window: r.window(a)})
		}
	}
	if len(missing) == 0 {
		return
	}
	var askBackups []string
	for _, m := range missing {
		if m.window == "W3" || m.a.Role == "slave" {
			askBackups = append(askBackups, m.a.Key)
		}
	}
	inBackup := r.backedUp(askBackups)
	groups := map[string][]classified{}
	for _, m := range missing {
		switch {
		case m.a.Role == "slave" && inBackup[m.a.Key]:
			// A replica someone made writable: redis-vip makes it read-only
			// again within a reconcile pass, after a verified backup of what
			// came through (the lead's policy, like W3: acknowledged by a
			// node that was not the master, kept in a backup).
		case m.a.Role == "slave":
			groups["I1|acknowledged by a writable replica, lost and in no backup"] = append(groups["I1|acknowledged by a writable replica, lost and in no backup"], m)
		case m.window == "W1":
		case m.window == "W3" && inBackup[m.a.Key]:
		case m.window == "W3":
			groups["I3|split-brain write (W3) discarded without a backup"] = append(groups["I3|split-brain write (W3) discarded without a backup"], m)
		default:
			groups["I1|acknowledged write lost outside W1-W3"] = append(groups["I1|acknowledged write lost outside W1-W3"], m)
		}
	}
	for key, ms := range groups {
		inv, class, _ := strings.Cut(key, "|")
		byNode := map[string]int{}
		for _, m := range ms {
			byNode[r.c.hosts[m.a.Node].name]++
		}
		detail := fmt.Sprintf("%d of %d acknowledged writes missing from %s (by acknowledging node: %v; %d missing in all, %d of them inside W1 or in a backup under W3)",
			len(ms), len(acks), where, byNode, len(missing), len(missing)-countGroups(groups))
		var ev []string
		for i, m := range ms {
			if i == 6 {
				ev = append(ev, fmt.Sprintf("... and %d more", len(ms)-i))
				break
			}
			ev = append(ev, fmt.Sprintf("%s acked by %s (%s) at %s", m.a.Key, r.c.hosts[m.a.Node].name, m.a.Role, r.rel(m.a.At)))
		}
		saved := 0
		for _, m := range ms {
			if inBackup[m.a.Key] {
				saved++
			}
		}
		ev = append(ev, fmt.Sprintf("first %s, last %s; %d of them in a backup", r.rel(ms[0].a.At), r.rel(ms[len(ms)-1].a.At), saved))
		r.violate(inv, class, detail, ev...)
	}
}

func countGroups(g map[string][]classified) int {
	n := 0
	for _, v := range g {
		n += len(v)
	}
	return n
}

// window says which loss window a write falls in. W1: the node that
// acknowledged it was killed, stalled or cut off within w1Window after. W3:
// the node was cut off from its peer (a partition or a replication cut was
// on: either way the peer's redis-vip cannot reach it), or its peer was
// a master too and had been promoted while this node was unreachable from it
// (down, stalled, link cut): the node was a zombie master. A peer promoted
// over a node that was alive and answering (busy, wrong password, maxclients)
// opens no window (S9). W2 (--force) never occurs: the suite never forces.
func (r *run) window(a ack) string {
	if r.diedWithItsDisk(a) {
		return "W1"
	}
	events := r.inj.eventLog()
	for _, e := range events {
		affects := e.Host == a.Node || e.Host == -1
		switch e.Kind {
		case fKill, fStall, fReplCut, fPartition:
			w := w1Window + r.replicaLag(a.Node, e.Start)
			if affects && !a.At.Before(e.Start.Add(-w)) && !a.At.After(e.Start.Add(200*time.Millisecond)) {
				return "W1"
			}
		}
		if (e.Kind == fPartition || e.Kind == fReplCut) && !a.At.Before(e.Start) && !a.At.After(e.End.Add(time.Second)) {
			return "W3"
		}
	}
	promoted, ok := r.masterSince(r.c.hosts[1-a.Node].name, a.At)
	if !ok {
		return ""
	}
	for _, e := range events {
		switch e.Kind {
		case fKill, fStall, fReplCut, fPartition:
			if (e.Host == a.Node || e.Host == -1) && !promoted.Before(e.Start) && !promoted.After(e.End.Add(500*time.Millisecond)) {
				return "W3"
			}
		}
	}
	return ""
}

// diedWithItsDisk: the node that acknowledged a stayed master until it was
// killed and restarted with its files lost or rolled back to an older
// snapshot, with no replica of it in sync in between. The write died with
// the process and its disk before any replica had it and before any step
// of redis-vip could act: W1 (acknowledged but not yet sent to its replica
// when it died), whatever the time between.
func (r *run) diedWithItsDisk(a ack) bool {
	name := r.c.hosts[a.Node].name
	for _, e := range r.inj.eventLog() {
		if e.Kind != fKill || e.Host != a.Node || (e.Files != "lost" && e.Files != "old") || e.Start.Before(a.At) {
			continue
		}
		for _, s := range r.mon.between(name, a.At, e.Start) {
			if !s.ok() {
				continue
			}
			if s.Role != "master" {
				return false
			}
			for _, rep := range s.Replicas {
				if rep.State == "online" && rep.Lag <= 1 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// replicaLag is the lag node i, as a master, last reported for its replica
// before t (INFO's slaveN lag, whole seconds): W1 is "bounded by the
// replica's lag at that instant", so a loaded machine widens it.
func (r *run) replicaLag(i int, t time.Time) time.Duration {
	s, ok := r.mon.before(r.c.hosts[i].name, t)
	if !ok || s.Role != "master" {
		return 0
	}
	var lag int64
	for _, e := range s.Replicas {
		lag = max(lag, e.Lag)
	}
	return time.Duration(lag) * time.Second
}

// masterSince: when name was a master around t (within 500 ms), the time of
// the first sample of that uninterrupted run as master.
func (r *run) masterSince(name string, t time.Time) (time.Time, bool) {
	ss := r.mon.between(name, r.start, t.Add(500*time.Millisecond))
	i := len(ss) - 1
	for i >= 0 && !ss[i].ok() {
		i--
	}
	if i < 0 || ss[i].Role != "master" || ss[i].At.Before(t.Add(-500*time.Millisecond)) {
		return time.Time{}, false
	}
	for i > 0 && (ss[i-1].Role == "master" || !ss[i-1].ok()) {
		i--
	}
	return ss[i].At, true
}

// backedUp reports which keys some backup of any host holds.
func (r *run) backedUp(keys []string) map[string]bool {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out
	}
	for _, h := range r.c.hosts {
		for _, b := range r.backups(h, keys) {
			for k := range b.has {
				out[k] = true
			}
		}
	}
	return out
}

func (r *run) backups(h *host, ask []string) []backupFile {
	return listBackups(h.backupDir, filepath.Join(r.c.root, "scratch-"+h.name), ask)
}

// rel prints t relative to the schedule's start.
func (r *run) rel(t time.Time) string {
	return fmt.Sprintf("+%.1fs", t.Sub(r.start).Seconds())
}

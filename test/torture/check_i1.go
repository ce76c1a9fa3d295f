package torture

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/fence"
)

// w1Window is W1's "about 1 s": a write a master acknowledged at most this
// long (plus its replica's reported lag) before it was killed, stalled or
// cut off may be lost.
const w1Window = time.Second

// fenceSlack is the suite's own measurement slack on the fence window
// (I1 with fencing on): a partition's start is read just after the paths
// changed, and a proxy goroutine may still deliver a chunk it read just
// before (the replica's last acknowledgement) a moment later. A write's
// time for the window is when its EXEC was sent: the server ran it between
// then and the reply, so a write sent later than the window's end was
// acknowledged later than it, whatever the client's scheduling delays.
const fenceSlack = 250 * time.Millisecond

// The I1 classes of a W3 write the fence rule refuses.
const (
	classBeyondFence = "split-brain write (W3) acknowledged later than fence_after after its node lost its peer"
	classLeaseKept   = "write lost in a partition where the master kept the witness lease (W3 must be empty)"
)

// classified is a missing acknowledged write and why it is (not) allowed.
type classified struct {
	a      ack
	window string // "W1", "W3" or "" (no window)
	// ev is the fault that opened W3; breach, when set, is why the fence
	// rule refuses that W3 (its I1 class); excused, why a rule that would
	// refuse it does not apply.
	ev      *event
	breach  string
	excused string
}

// checkI1: every acknowledged write is on the final master, or inside W1,
// or inside W3 and in a backup of the node that acknowledged it (else I3).
// When the pair did not converge (I2 already reports it), a write counts as
// lost only when neither server holds it: nothing was discarded yet.
//
// The exact rule for a missing write w, acknowledged by node X:
//
//  1. W1 (allowed): X died with its disk (diedWithItsDisk), or a kill,
//     stall or link fault hit X between w - (1 s + X's replica's lag) and
//     w + 200 ms.
//  2. W3 by a fault e (classify): e cut the link and w came between e's
//     start and 1 s after its end; or X's peer was a master promoted while
//     e (a kill, stall or link fault) made X unreachable, and X was still
//     acknowledging as a master then.
//  3. A W3 write must be in a backup that loads, and, with fencing on,
//     e must allow it (fenceBreach): fence_after 0 allows every W3
//     write; with fencing on, a write in W3 by a link fault e needs
//     sent(w) <= start(e) + fence_after + fenceSlack, sent(w) being when
//     its EXEC left the client; with the witness, where the master kept
//     the lease through e (leaseKept), none at all. A stall's or a kill's
//     zombie master keeps the rule of fencing off, and so, with the
//     witness, does a node whose fence keeper was down between e's start
//     and w (both in fenceBreach, with why).
//  4. Anything else is "lost outside W1-W3".
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
			missing = append(missing, r.classify(a))
		}
	}
	r.noteW3(missing)
	if len(missing) == 0 {
		return
	}
	// Every missing write is looked up, so the evidence says how many of
	// any group are in a backup (only W3 and a writable replica's need one).
	askBackups := make([]string, 0, len(missing))
	for _, m := range missing {
		askBackups = append(askBackups, m.a.Key)
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
		case m.window == "W3" && m.breach != "":
			groups["I1|"+m.breach] = append(groups["I1|"+m.breach], m)
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
			line := fmt.Sprintf("%s acked by %s (%s) at %s (EXEC sent %s)", m.a.Key, r.c.hosts[m.a.Node].name, m.a.Role, r.rel(m.a.At), r.rel(m.a.Sent))
			if m.ev != nil {
				line += fmt.Sprintf("; W3 of %s from %s, %s after it began", m.ev, r.rel(m.ev.Start), m.a.Sent.Sub(m.ev.Start).Round(time.Millisecond))
			}
			ev = append(ev, line)
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

// classify says which loss window a write falls in. W1: the node that
// acknowledged it was killed, stalled or cut off within w1Window (plus its
// replica's lag) after. W3: the node was cut off from its peer (a link
// fault was on, or ended at most 1 s before: either way the peer's
// redis-vip could not reach it), or its peer was a master too and had been
// promoted while this node was unreachable from it (down, stalled, link
// cut): the node was a zombie master. A peer promoted over a node that was
// alive and answering (busy, wrong password, maxclients) opens no window
// (S9). W2 (--force) never occurs: the suite never forces.
//
// With fencing on, W3 is narrower (fenceBreach): a write in W3 only by a
// fault that cut the link must have been acknowledged within fence_after
// of that fault's start; with the witness, none is allowed at all where
// the master kept the lease. A write in W3 by several faults is allowed
// when one of them allows it.
func (r *run) classify(a ack) classified {
	c := classified{a: a}
	if r.diedWithItsDisk(a) {
		c.window = "W1"
		return c
	}
	events := r.inj.eventLog()
	var w3 []event
	for _, e := range events {
		cutOff := e.Kind == fKill || e.Kind == fStall || e.Kind.isLink()
		affects := e.Host == a.Node || e.Host == -1 || e.Kind.isLink()
		if cutOff && affects {
			w := w1Window + r.replicaLag(a.Node, e.Start)
			if !a.At.Before(e.Start.Add(-w)) && !a.At.After(e.Start.Add(200*time.Millisecond)) {
				c.window = "W1"
				return c
			}
		}
		if e.Kind.isLink() && !a.At.Before(e.Start) && !a.At.After(e.End.Add(time.Second)) {
			w3 = append(w3, e)
		}
	}
	if promoted, ok := r.masterSince(r.c.hosts[1-a.Node].name, a.At); ok {
		for _, e := range events {
			cutOff := e.Kind == fKill || e.Kind == fStall || e.Kind.isLink()
			if cutOff && (e.Host == a.Node || e.Host == -1 || e.Kind.isLink()) && !promoted.Before(e.Start) && !promoted.After(e.End.Add(500*time.Millisecond)) {
				w3 = append(w3, e)
			}
		}
	}
	if len(w3) == 0 {
		return c
	}
	c.window = "W3"
	for i, e := range w3 {
		breach, excused := r.fenceBreach(a, e)
		if breach == "" {
			c.ev, c.breach, c.excused = &w3[i], "", excused
			return c
		}
		if c.breach == "" {
			c.ev, c.breach = &w3[i], breach
		}
	}
	return c
}

// fenceBreach is the fence rule of I1 for a write a in W3 by fault e: ""
// when it allows it (and, when a rule was set aside, why), else the I1
// class that refuses it.
//
//   - Fencing off: allowed (it must be in a backup: checkI1).
//   - e did not cut the link (a stall or a kill made the node a zombie
//     master): allowed as with fencing off. The fence's argument
//     (docs/partitions.md) counts on the old master's Redis running: a
//     SIGSTOPped Redis counts no replica silence and, on SIGCONT, serves
//     what waits in its sockets before its once-a-second cron refreshes its
//     count of good replicas.
//   - The witness runs, the master held the lease when e began and kept it
//     (leaseKept): refused, W3 must be empty.
//   - Sent (EXEC) later than e's start + fence_after + fenceSlack: refused,
//     unless the witness runs and the node's fence keeper was down at some
//     moment between e's start and the write (FIFO mode: notify-fifo killed
//     or keepalived restarted): a master whose fence was open because it
//     held the lease keeps it open while its redis-vip is gone, which
//     docs/partitions.md leaves uncovered ("What this does not cover").
func (r *run) fenceBreach(a ack, e event) (breach, excused string) {
	fa := r.sched.Fence.After
	if fa == 0 || !e.Kind.isLink() {
		return "", ""
	}
	keeperGone := r.sched.Fence.Witness && r.keeperDown(a.Node, e.Start, a.At)
	if r.leaseKept(e) {
		if keeperGone {
			return "", "fence keeper down with the lease held"
		}
		return classLeaseKept, ""
	}
	if a.Sent.After(e.Start.Add(fa + fenceSlack)) {
		if keeperGone {
			return "", "fence keeper down with the lease held"
		}
		return classBeyondFence, ""
	}
	return "", ""
}

// leaseKept says whether the master kept the witness lease through the
// link fault e: a witness runs; the master held the lease when e began,
// for at least the margin the nodes themselves require (fence.Margin), as
// the suite asked the witness; e did not isolate the master; and no fault
// overlapping e killed the witness, cut the master's path to it, or
// touched the master itself (kill, stall, restart, password, busy script,
// maxclients, keepalived restart).
func (r *run) leaseKept(e event) bool {
	if !r.sched.Fence.Witness || !e.Kind.isLink() || e.Master < 0 || e.LeaseHolder != e.Master || e.LeaseLeft < fence.Margin(r.sched.Fence.After) {
		return false
	}
	if e.Kind == fIsolate && e.Host == e.Master {
		return false
	}
	for _, o := range r.inj.eventLog() {
		if !o.overlaps(e.Start, e.End) || o.Kind.isLink() {
			continue
		}
		switch {
		case o.Kind == fWitnessKill:
			return false
		case o.Kind == fWitnessCut && (o.Host == e.Master || o.Host == -1):
			return false
		case o.Kind != fWitnessCut && o.Kind != fEvict && o.Host == e.Master:
			return false
		}
	}
	return true
}

// keeperDown says whether host i's fence keeper was not running at some
// moment of [from, to]: in FIFO mode it lives in notify-fifo, which hook
// faults kill and keepalived restarts terminate; in hooks mode it lives in
// reconcile --loop, which no fault stops.
func (r *run) keeperDown(i int, from, to time.Time) bool {
	if r.sched.Mode != "fifo" {
		return false
	}
	name := r.c.hosts[i].name
	for _, h := range r.notifier.runs() {
		if h.Killed && h.Output == "notify-fifo" && h.Host == name && !h.Started.After(to) && !h.Ended.Before(from) {
			return true
		}
	}
	for _, e := range r.inj.eventLog() {
		if e.Kind == fKeepalived && e.Host == i && e.overlaps(from, to) {
			return true
		}
	}
	return false
}

// noteW3 puts the W3 writes lost into the timeline, and keeps for the
// run's summary how many there were and the latest, after its fault
// began, of those the fence rule bounded (a link fault's, not set aside).
func (r *run) noteW3(missing []classified) {
	n, by, latest, bounded, excused := 0, map[string]int{}, time.Duration(0), 0, 0
	for _, m := range missing {
		if m.window != "W3" || m.ev == nil || m.a.Role == "slave" {
			continue // a writable replica's writes have their own rule
		}
		n++
		by[r.c.hosts[m.a.Node].name]++
		switch {
		case m.excused != "":
			excused++
		case m.ev.Kind.isLink():
			bounded++
			latest = max(latest, m.a.Sent.Sub(m.ev.Start))
		}
	}
	r.w3Lost, r.w3Latest = n, latest
	if n > 0 {
		r.timeline("I1: %d W3 writes lost (by node %v): %d by a link fault, the latest sent %s after it began; %d by a stall's or a kill's zombie; %d where the fence rule was set aside (fencing %s)",
			n, by, bounded, latest.Round(time.Millisecond), n-bounded-excused, excused, r.sched.Fence)
	}
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

// backups are every backup host h had in this schedule: those in its
// backup dir, and those retention deleted since (the watcher's held links,
// Pruned): a backup retention removed by its rule was there when the
// data it holds was discarded (retention itself is checked apart,
// checkRetention).
func (r *run) backups(h *host, ask []string) []backupFile {
	scratch := filepath.Join(r.c.root, "scratch-"+h.name)
	out := listBackups(h.backupDir, scratch, ask, nil)
	have := map[string]bool{}
	for _, b := range out {
		have[filepath.Base(b.Path)] = true
	}
	for _, b := range listBackups(h.heldDir, scratch+"-held", ask, have) {
		b.Pruned = true
		out = append(out, b)
	}
	return out
}

// rel prints t relative to the schedule's start.
func (r *run) rel(t time.Time) string {
	return fmt.Sprintf("+%.1fs", t.Sub(r.start).Seconds())
}

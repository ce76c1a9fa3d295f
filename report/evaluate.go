package report

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Reason codes, stable across releases (docs/report.md explains each).
const (
	CodeReportFailed      = "report_failed"
	CodeLocalUnreachable  = "local_unreachable"
	CodePeerUnreachable   = "peer_unreachable"
	CodePeerIsLocal       = "peer_is_local"
	CodeLoading           = "node_loading"
	CodeBothMasters       = "both_masters"
	CodeLoop              = "replication_loop"
	CodeNoMaster          = "no_master"
	CodeReplicaElsewhere  = "replica_elsewhere"
	CodeLinkDown          = "replica_link_down"
	CodeFullSync          = "full_sync"
	CodeDiverged          = "diverged"
	CodeEmptyMaster       = "empty_master"
	CodeLagBytes          = "replication_lag_bytes"
	CodeLagSeconds        = "replication_lag_seconds"
	CodeBgsaveFailed      = "rdb_bgsave_failed"
	CodeAOFWriteFailed    = "aof_write_failed"
	CodeSaveAge           = "last_save_age"
	CodeNoPersistence     = "no_persistence_no_guard"
	CodeMemory            = "memory"
	CodeVIPNotAnswering   = "vip_not_answering"
	CodeVIPWrongServer    = "vip_wrong_server"
	CodeVIPUnheld         = "vip_unheld"
	CodeVIPOther          = "vip_other"
	CodeVIPUnknown        = "vip_unknown"
	CodeVIPOnReplica      = "vip_on_replica"
	CodeVIPOnIneligible   = "vip_on_ineligible"
	CodeHoldoff           = "holdoff"
	CodeTransitionFailed  = "transition_failed"
	CodeJournalUnreadable = "journal_unreadable"
	CodeStateUnreadable   = "state_unreadable"
	CodeBackupsUnreadable = "backups_unreadable"
	CodeMaintenance       = "maintenance"
	CodeFenceClosed       = "fence_closed"
	CodeNoFenceKeeper     = "no_fence_keeper"
)

// evaluation collects reasons while Evaluate walks the instance.
type evaluation struct{ reasons []Reason }

func (e *evaluation) add(s Status, code, side, format string, args ...any) {
	e.reasons = append(e.reasons, Reason{Status: s, Code: code, Node: side, Message: fmt.Sprintf(format, args...)})
}

// Evaluate sets the derived parts of in (replication, guard statuses, VIP
// holders, check verdict, journal failures) and its verdict with every
// reason. It is pure: the same instance, thresholds and now give the same
// result.
func Evaluate(in *Instance, th Thresholds, now time.Time) {
	var e evaluation
	in.Reasons, in.Check, in.Replication = nil, nil, Replication{State: ReplUnknown}
	if in.Err != "" {
		in.Reasons = []Reason{{Status: Unknown, Code: CodeReportFailed, Message: in.Err}}
		in.Status = Unknown
		return
	}
	l, p := &in.Local, &in.Peer
	if l.Facts == nil {
		e.add(Critical, CodeLocalUnreachable, SideLocal, "local %s: %s", l.Addr, readError(*l))
	}
	if p.Facts == nil {
		e.add(Critical, CodePeerUnreachable, SidePeer, "peer %s: %s", p.Addr, readError(*p))
	}
	if l.Facts != nil && p.Facts != nil && l.Facts.RunID != "" && l.Facts.RunID == p.Facts.RunID {
		e.add(Critical, CodePeerIsLocal, SidePeer, "peer %s is the local Redis itself (same run_id): fix peer in the configuration", p.Addr)
	}
	for _, n := range []*Node{l, p} {
		if n.Facts != nil && n.Facts.Loading {
			e.add(Warning, CodeLoading, n.Side, "%s %s is loading its dataset", n.Side, n.Addr)
		}
	}
	in.Replication = replication(*l, *p)
	e.replication(in.Replication, *l, *p, th)
	l.GuardStatus = guardStatus(*l, now)
	p.GuardStatus = GuardUnknown
	for _, n := range []*Node{l, p} {
		e.persistence(*n, th, now)
		e.memory(*n, th)
	}
	in.Check = checkVerdict(in, now)
	e.vips(in)
	e.state(in, now)
	e.fence(in)
	e.journal(in, th, now)
	if in.Backups.Err != "" {
		e.add(Warning, CodeBackupsUnreadable, "", "backups in %s: %s", in.Backups.Dir, in.Backups.Err)
	}
	sort.SliceStable(e.reasons, func(i, j int) bool { return e.reasons[i].Status.rank() > e.reasons[j].Status.rank() })
	in.Reasons = e.reasons
	in.Status = OK
	for _, r := range in.Reasons {
		in.Status = Worse(in.Status, r.Status)
	}
}

// readError is why a node could not be read, without the "INFO addr: "
// the client puts in front, and saying "unreachable" when nothing else does.
func readError(n Node) string {
	msg := strings.TrimPrefix(n.Err, "INFO "+n.Addr.String()+": ")
	switch {
	case strings.HasPrefix(msg, "unreachable"), strings.HasPrefix(msg, "authentication"):
	case n.Answered:
		msg = "answers with an error, so it is alive but cannot be read (S9): " + msg
	default:
		msg = "unreachable: " + msg
	}
	return msg
}

// follows reports whether rep (a replica) replicates mas, by address or as
// mas lists its replicas.
func follows(rep, mas Node) bool {
	if rep.Facts == nil || rep.Facts.Role != node.RoleReplica {
		return false
	}
	ma := rep.Facts.Master()
	if ma.Same(mas.announced()) || ma.Same(mas.reached()) {
		return true
	}
	if mas.Facts == nil {
		return false
	}
	for _, r := range mas.Facts.Replicas {
		// Listed by mas: rep reaches mas under another name.
		if r.Addr().Same(rep.announced()) || r.Addr().Same(rep.reached()) {
			return true
		}
	}
	return false
}

// replication says who follows whom and how far behind.
func replication(l, p Node) Replication {
	r := Replication{State: ReplUnknown}
	lf, pf := l.Facts, p.Facts
	setPair := func(mas, rep Node) {
		r.Master, r.Replica = mas.Side, rep.Side
		r.LinkUp, r.SyncInProgress = rep.Facts.MasterLinkUp, rep.Facts.MasterSyncInProgress
		if r.LinkUp && !r.SyncInProgress && rep.Facts.MasterLastIOSecsAgo >= 0 {
			r.LagSeconds, r.HasLagSeconds = rep.Facts.MasterLastIOSecsAgo, true
		}
		if mas.Facts != nil && mas.Facts.ReplID != "" && mas.Facts.ReplID == rep.Facts.ReplID {
			r.LagBytes, r.HasLagBytes = max(0, mas.Facts.ReplOffset-rep.Facts.ReplOffset), true
		}
	}
	switch {
	case lf == nil && pf == nil:
		return r
	case lf == nil || pf == nil:
		known, other := l, p
		if lf == nil {
			known, other = p, l
		}
		if follows(known, other) {
			setPair(other, known)
		} else if known.Facts.Role == node.RoleMaster {
			r.Master = known.Side
		}
		return r
	}
	r.Relation = relation(l, p).String()
	switch {
	case lf.Role == node.RoleMaster && pf.Role == node.RoleMaster:
		r.State = ReplBothMasters
	case lf.Role == node.RoleReplica && pf.Role == node.RoleReplica:
		r.State = ReplBothReplicas
		if follows(l, p) && follows(p, l) {
			r.State = ReplLoop
		}
	default:
		mas, rep := l, p
		if lf.Role == node.RoleReplica {
			mas, rep = p, l
		}
		r.State = ReplElsewhere
		r.Master = mas.Side
		if follows(rep, mas) {
			r.State = ReplMasterReplica
			setPair(mas, rep)
		}
	}
	return r
}

// relation is how local's data stands against the peer's. A replica on
// its master's current history holds nothing the master lacks: when one
// node follows the other, a higher offset on the replica only means it was
// read after its master (node.Unskew), and the report says "same", not
// that the master is behind its own replica.
func relation(l, p Node) node.Relation {
	rel := node.Compare(*l.Facts, *p.Facts)
	switch {
	case follows(p, l):
		rel = node.Unskew(rel, *l.Facts, *p.Facts, p.Facts.Master())
	case follows(l, p):
		rel = node.Unskew(rel.Reverse(), *p.Facts, *l.Facts, l.Facts.Master()).Reverse()
	}
	return rel
}

func (e *evaluation) replication(r Replication, l, p Node, th Thresholds) {
	side := func(s string) Node {
		if s == SideLocal {
			return l
		}
		return p
	}
	switch r.State {
	case ReplBothMasters:
		e.add(Critical, CodeBothMasters, "", "both nodes are masters: writes to one never reach the other (relation %s)", r.Relation)
	case ReplLoop:
		e.add(Critical, CodeLoop, "", "replication loop: local and peer replicate each other, neither takes writes")
	case ReplBothReplicas:
		e.add(Critical, CodeNoMaster, "", "both nodes are replicas (local of %s, peer of %s): the pair has no master", l.Facts.MasterAddr(), p.Facts.MasterAddr())
	case ReplElsewhere:
		rep := p
		if r.Master == SidePeer {
			rep = l
		}
		e.add(Warning, CodeReplicaElsewhere, rep.Side, "%s replicates %s, which is neither local nor peer", rep.Side, rep.Facts.MasterAddr())
	}
	if r.Relation == node.Diverged.String() && !(r.State == ReplMasterReplica && r.SyncInProgress) {
		e.add(Critical, CodeDiverged, "", "histories diverged (split brain): local %s, peer %s", l.Facts.Summary(), p.Facts.Summary())
	}
	if r.State == ReplUnknown && r.Replica == "" {
		for _, n := range []Node{l, p} {
			if n.Facts != nil && n.Facts.Role == node.RoleReplica {
				e.add(Warning, CodeReplicaElsewhere, n.Side, "%s replicates %s, which is neither local nor peer", n.Side, n.Facts.MasterAddr())
			}
		}
	}
	if r.Replica == "" {
		return
	}
	rep, mas := side(r.Replica), side(r.Master)
	switch {
	case r.SyncInProgress:
		// Redis shows the link down while a full sync runs.
		e.add(Warning, CodeFullSync, rep.Side, "%s is in a full sync from %s: no second copy until it ends", rep.Side, mas.Side)
	case !r.LinkUp:
		down := ""
		if rep.Facts.MasterLinkDownSecs >= 0 {
			down = fmt.Sprintf(" for %s", humanDuration(time.Duration(rep.Facts.MasterLinkDownSecs)*time.Second))
		}
		e.add(Critical, CodeLinkDown, rep.Side, "%s's replication link to %s %s is down%s: the pair has no second copy", rep.Side, mas.Side, rep.Facts.MasterAddr(), down)
	}
	if mas.Facts != nil && mas.Facts.Empty() && !rep.Facts.Empty() && r.State == ReplMasterReplica {
		e.add(Critical, CodeEmptyMaster, mas.Side, "master %s %s is empty while its replica holds %d keys: a full sync wipes them (S1/S5)", mas.Side, mas.Addr, rep.Facts.Keys)
	}
	if !r.LinkUp {
		return
	}
	if r.HasLagBytes {
		switch {
		case th.LagBytesCrit > 0 && r.LagBytes >= th.LagBytesCrit:
			e.add(Critical, CodeLagBytes, rep.Side, "%s is %s behind its master (critical at %s)", rep.Side, humanBytes(r.LagBytes), humanBytes(th.LagBytesCrit))
		case th.LagBytesWarn > 0 && r.LagBytes >= th.LagBytesWarn:
			e.add(Warning, CodeLagBytes, rep.Side, "%s is %s behind its master (warning at %s)", rep.Side, humanBytes(r.LagBytes), humanBytes(th.LagBytesWarn))
		}
	}
	if r.HasLagSeconds {
		lag := time.Duration(r.LagSeconds) * time.Second
		switch {
		case th.LagSecondsCrit > 0 && lag >= th.LagSecondsCrit:
			e.add(Critical, CodeLagSeconds, rep.Side, "%s last heard from its master %s ago (critical at %s)", rep.Side, humanDuration(lag), shortDuration(th.LagSecondsCrit))
		case th.LagSecondsWarn > 0 && lag >= th.LagSecondsWarn:
			e.add(Warning, CodeLagSeconds, rep.Side, "%s last heard from its master %s ago (warning at %s)", rep.Side, humanDuration(lag), shortDuration(th.LagSecondsWarn))
		}
	}
}

// guardStatus applies the guard rule to the local node: guard is active
// when its include file was written by guard no earlier than Window before
// the running Redis started (start = now - uptime).
func guardStatus(n Node, now time.Time) string {
	g := n.Guard
	switch {
	case g.Path == "" || g.Err != "":
		return GuardUnknown
	case !g.Exists || !g.ByGuard:
		return GuardMissing
	case n.Facts == nil:
		return GuardUnknown
	}
	start := now.Add(-time.Duration(n.Facts.Uptime) * time.Second)
	if g.Written.Before(start.Add(-g.Window)) {
		return GuardStale
	}
	return GuardActive
}

func (e *evaluation) persistence(n Node, th Thresholds, now time.Time) {
	f := n.Facts
	if f == nil {
		return
	}
	grave := Warning
	if f.Role == node.RoleMaster {
		grave = Critical
	}
	if !f.RDBLastBgsaveOK {
		e.add(grave, CodeBgsaveFailed, n.Side, "%s's last BGSAVE failed: a master refuses writes while stop-writes-on-bgsave-error is yes; see the Redis log", n.Side)
	}
	if f.AOFEnabled && !f.AOFLastWriteOK {
		e.add(grave, CodeAOFWriteFailed, n.Side, "%s's last AOF write failed: a master refuses writes until it succeeds; see the Redis log (disk full?)", n.Side)
	}
	if n.RDB == TriOn && !f.AOFEnabled && f.RDBChangesSinceSave > 0 && !f.RDBLastSave.IsZero() {
		age := now.Sub(f.RDBLastSave)
		switch {
		case th.SaveAgeCrit > 0 && age >= th.SaveAgeCrit:
			e.add(Critical, CodeSaveAge, n.Side, "%s's last successful save was %s ago with %d changes since (critical at %s)", n.Side, humanDuration(age), f.RDBChangesSinceSave, shortDuration(th.SaveAgeCrit))
		case th.SaveAgeWarn > 0 && age >= th.SaveAgeWarn:
			e.add(Warning, CodeSaveAge, n.Side, "%s's last successful save was %s ago with %d changes since (warning at %s)", n.Side, humanDuration(age), f.RDBChangesSinceSave, shortDuration(th.SaveAgeWarn))
		}
	}
	if n.Side == SideLocal && n.PersistenceOff() && n.GuardStatus != GuardActive {
		e.add(Warning, CodeNoPersistence, n.Side, "local runs without persistence (save \"\", appendonly no) and guard %s: if it restarts it comes back empty and may serve or be copied as master (S5)", guardPhrase(n))
	}
}

func guardPhrase(n Node) string {
	switch n.GuardStatus {
	case GuardStale:
		return fmt.Sprintf("did not run before its start (include %s last written %s)", n.Guard.Path, n.Guard.Written.UTC().Format(time.RFC3339))
	case GuardMissing:
		return fmt.Sprintf("never ran (%s not written by guard)", n.Guard.Path)
	}
	detail := "status unknown"
	if n.Guard.Err != "" {
		detail += ": " + n.Guard.Err
	}
	return detail
}

func (e *evaluation) memory(n Node, th Thresholds) {
	f := n.Facts
	if f == nil || f.MaxMemory <= 0 {
		return
	}
	pct := float64(f.UsedMemory) * 100 / float64(f.MaxMemory)
	switch {
	case th.MemoryCrit > 0 && pct >= th.MemoryCrit:
		e.add(Critical, CodeMemory, n.Side, "%s uses %.0f%% of maxmemory (%s of %s; critical at %.0f%%)", n.Side, pct, humanBytes(f.UsedMemory), humanBytes(f.MaxMemory), th.MemoryCrit)
	case th.MemoryWarn > 0 && pct >= th.MemoryWarn:
		e.add(Warning, CodeMemory, n.Side, "%s uses %.0f%% of maxmemory (%s of %s; warning at %.0f%%)", n.Side, pct, humanBytes(f.UsedMemory), humanBytes(f.MaxMemory), th.MemoryWarn)
	}
}

// checkVerdict is what `redis-vip check` would answer now.
func checkVerdict(in *Instance, now time.Time) *check.Result {
	ci := check.Input{Local: in.Local.Facts, Peer: in.Peer.Facts, LocalAnnounce: in.Local.announced(), PeerAddr: in.Peer.announced(),
		LastEvent: in.State.LastEvent, TransitionRunning: in.State.Busy, Holdoff: in.State.Holdoff, Now: now,
		MaxLinkDown: in.MaxLinkDown, Maintenance: in.State.Maintenance,
		Fence: check.Fence{On: in.Fence.On(), Witness: in.Fence.Witness != "", FenceAfter: in.Fence.FenceAfter,
			PendingSlack: in.Fence.PendingSlack, KeeperStale: in.Fence.KeeperStale, State: in.Fence.State, Now: in.Fence.Now}}
	if in.Local.Facts == nil {
		ci.LocalErr = errors.New(in.Local.Err)
	}
	if in.Peer.Facts == nil {
		ci.PeerErr = peerErr(in.Peer)
	}
	res := check.Verdict(ci)
	return &res
}

func (e *evaluation) vips(in *Instance) {
	lf, pf := in.Local.Facts, in.Peer.Facts
	for i := range in.VIPs {
		v := &in.VIPs[i]
		// Who answers decides, by run_id; the interfaces tell only whether
		// the address is on this host.
		switch {
		case v.RunID == "" && v.OnLocalInterface:
			v.Holder = HolderLocal
			e.add(Critical, CodeVIPNotAnswering, SideLocal, "VIP %s is on this host but Redis does not answer on it: %s", v.Addr, v.Err)
		case v.RunID == "":
			v.Holder = HolderNone
			e.add(Critical, CodeVIPUnheld, "", "no host holds VIP %s: nothing answers on it (%s)", v.Addr, v.Err)
		case lf != nil && v.RunID == lf.RunID, lf == nil && v.OnLocalInterface:
			v.Holder = HolderLocal
		case pf != nil && v.RunID == pf.RunID:
			v.Holder = HolderPeer
		case pf == nil && !v.OnLocalInterface:
			v.Holder = HolderUnknown
			e.add(Warning, CodeVIPUnknown, "", "VIP %s is answered by run_id %s; the peer is unreachable, so whether that is the peer is unknown", v.Addr, v.RunID)
		default:
			v.Holder = HolderOther
			if !v.OnLocalInterface {
				e.add(Critical, CodeVIPOther, "", "VIP %s is answered by a Redis that is neither local nor peer (run_id %s)", v.Addr, v.RunID)
			}
		}
		if v.OnLocalInterface && v.RunID != "" && v.Holder != HolderLocal && lf != nil {
			e.add(Critical, CodeVIPWrongServer, SideLocal, "VIP %s is on this host but is answered by %s, not the local Redis (run_id %s)", v.Addr, holderWord(v.Holder), v.RunID)
		}
		holder := map[string]*node.Facts{HolderLocal: lf, HolderPeer: pf}[v.Holder]
		if holder != nil && holder.Role == node.RoleReplica {
			e.add(Critical, CodeVIPOnReplica, v.Holder, "VIP %s is on %s, a replica of %s: clients cannot write", v.Addr, v.Holder, holder.MasterAddr())
		}
		if v.Holder == HolderLocal && in.Check != nil && !in.Check.OK {
			e.add(Critical, CodeVIPOnIneligible, SideLocal, "VIP %s is on this host but check says local may not hold it: %s", v.Addr, in.Check.Reason)
		}
	}
}

func holderWord(h string) string {
	switch h {
	case HolderPeer:
		return "the peer"
	case HolderUnknown:
		return "a Redis that may be the peer"
	}
	return "another Redis"
}

func (e *evaluation) state(in *Instance, now time.Time) {
	if in.State.Err != "" {
		e.add(Warning, CodeStateUnreadable, "", "state dir: %s", in.State.Err)
	}
	if h := in.State.Holdoff; h.Active(now) {
		e.add(Warning, CodeHoldoff, SideLocal, "check fails until %s: %s", h.Until.UTC().Format(time.RFC3339), h.Reason)
	}
	if m := in.State.Maintenance; m.On {
		e.add(Warning, CodeMaintenance, SideLocal, "MAINTENANCE MODE is %s: automation is paused on this host (no transition, no reconcile, check keeps the holder eligible); end it with `redis-vip maintenance off`", m)
	}
}

// failedOutcome reports whether a journal outcome needs the operator.
func failedOutcome(o string) bool {
	return o == transition.OutcomeFailed || o == transition.OutcomeRefused || o == transition.OutcomeSyncTimeout
}

func (e *evaluation) journal(in *Instance, th Thresholds, now time.Time) {
	j := &in.Journal
	if j.Err != "" {
		e.add(Warning, CodeJournalUnreadable, "", "journal %s: %s", j.Path, j.Err)
	}
	j.FailedInWindow = 0
	var newest *transition.Record
	for i := range j.Records {
		r := &j.Records[i]
		if !failedOutcome(r.Outcome) || (th.JournalWindow > 0 && r.Time.Before(now.Add(-th.JournalWindow))) {
			continue
		}
		j.FailedInWindow++
		newest = r
	}
	if newest == nil {
		return
	}
	what := strings.TrimSpace(newest.Error)
	if what == "" && newest.Plan != nil {
		what = newest.Plan.Reason
	}
	window := "in the journal"
	if th.JournalWindow > 0 {
		window = "in the last " + shortDuration(th.JournalWindow)
	}
	e.add(Warning, CodeTransitionFailed, SideLocal, "%d transition(s) failed, were refused or timed out %s; newest: %s %s %s: %s",
		j.FailedInWindow, window, newest.Time.UTC().Format(time.RFC3339), newest.Event, newest.Outcome, what)
}

package check

import (
	"fmt"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Exit codes of `redis-vip check`.
const (
	ExitEligible    = 0
	ExitNotEligible = 1
	ExitBadInput    = 2
)

// Input is what Verdict looks at.
type Input struct {
	// Local is nil when LocalErr says why it could not be read.
	Local    *node.Facts
	LocalErr error
	// Peer is nil when PeerErr says why it could not be read.
	Peer    *node.Facts
	PeerErr error
	// LocalAnnounce and PeerAddr are the configured addresses.
	LocalAnnounce, PeerAddr node.Addr
	// LastEvent is the newest event keepalived sent this instance ("" none);
	// Newest is its ticket (when and from whom it came).
	LastEvent transition.Event
	Newest    transition.Ticket
	// StaleMasterAfter is the age past which a master event keepalived
	// delivered may be stale (transition.StaleMaster); 0 never.
	StaleMasterAfter time.Duration
	// TransitionRunning is true while a notify hook holds the instance lock.
	TransitionRunning bool
	// Holdoff, when Now is before its Until, makes the check fail.
	Holdoff transition.Holdoff
	Now     time.Time
	// LocalStream and PeerStream say what each side took since their fork,
	// when one continued the other's history (S11).
	LocalStream, PeerStream node.Writes
	// MaxLinkDown bounds a replica's link-down time for taking over (S10).
	MaxLinkDown time.Duration
	// VIPs says whether one of the instance's configured VIPs is on this
	// host (Held), when it has any (Known).
	VIPs transition.VIPs
	// Maintenance is the instance's maintenance mode on this host: while
	// on, the current holder stays eligible (see withMaintenance).
	Maintenance maintenance.State
	// Fence is partition safety (issue 10).
	Fence Fence
}

// Fence is what check knows of the fence: the settings, and the fence file
// the keeper and the transitions write (check never calls the witness: it
// runs every second and must stay bounded).
type Fence struct {
	// On is fence_after > 0; Witness: a witness is configured.
	On, Witness bool
	FenceAfter  time.Duration
	// PendingSlack is timeouts.transition (FenceState.PromotedSince).
	PendingSlack time.Duration
	// KeeperStale: a keeper decision older than this means no keeper runs.
	KeeperStale time.Duration
	// State is the fence file; Now the boot clock when it was read
	// (zero BootID when the clock could not be read).
	State transition.FenceState
	Now   fence.Stamp
}

// Result is the verdict: OK or not, one line of why, and warnings that do
// not change it.
type Result struct {
	OK       bool     `json:"ok"`
	Reason   string   `json:"reason"`
	Warnings []string `json:"warnings,omitempty"`
	// Maintenance is true while maintenance mode is on.
	Maintenance bool `json:"maintenance,omitempty"`
}

// ExitCode maps the verdict to the process exit code.
func (r Result) ExitCode() int {
	if r.OK {
		return ExitEligible
	}
	return ExitNotEligible
}

func fail(format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...)}
}

// Verdict says whether the local Redis may hold the VIP: reachable, not
// loading, a master or a replica in sync (or whose master is unreachable),
// and not empty or stale while the peer holds newer data. In maintenance
// mode the current holder stays eligible (withMaintenance).
func Verdict(in Input) Result { return withMaintenance(in, verdict(in)) }

func verdict(in Input) Result {
	res := judge(in)
	if !res.OK && in.TransitionRunning && in.Local != nil && !in.Local.Loading && in.Local.Role == node.RoleReplica && !in.Holdoff.Active(in.Now) {
		if peerHoldsLease(in) {
			return peerLeaseVerdict(in)
		}
		// A replica in the middle of its promotion (syncing, link coming
		// up) must not lose the VIP to the transition making it master. A
		// master the rules fail (stale, superseded, diverged) is not
		// excused by a transition running: that would leave two masters
		// of diverged data both eligible.
		return Result{OK: true, Reason: "transition in progress (without it: " + res.Reason + ")"}
	}
	return res
}

// judge is the verdict from the facts alone.
func judge(in Input) Result {
	if in.Local == nil {
		return fail("local redis unreachable: %v", in.LocalErr)
	}
	l := *in.Local
	if l.Loading {
		return fail("local redis is loading its dataset")
	}
	if in.Peer != nil && in.Peer.RunID != "" && in.Peer.RunID == l.RunID {
		return fail("peer %s is the local redis itself (same run_id): fix peer in the configuration", in.PeerAddr)
	}
	if in.Holdoff.Active(in.Now) {
		return fail("holding off until %s: %s", in.Holdoff.Until.UTC().Format(time.RFC3339), in.Holdoff.Reason)
	}
	var warnings []string
	if in.Peer == nil && node.Answered(in.PeerErr) {
		if l.Role == node.RoleMaster && (in.LastEvent == transition.EventBackup || in.LastEvent == transition.EventFault) {
			// VRRP told this node to stand down and its hook could not make
			// it follow; the peer is alive but cannot be read, so nothing
			// says this master's data is the one to serve (S9).
			return fail("local is still master although its newest event is %s, and the peer answers with an error, so it is alive but cannot be compared (S9): %v", in.LastEvent, in.PeerErr)
		}
		warnings = append(warnings, fmt.Sprintf("peer answers with an error, so it is alive (S9): %v", in.PeerErr))
	}
	if in.Peer != nil && !in.Peer.Loading && !in.Peer.MasterSyncInProgress {
		p := *in.Peer
		// A replica of local on local's current history holds nothing
		// local lacks, whichever was read first (Judge unskews).
		rel, raw := node.Judge(l, p, in.LocalAnnounce, in.LocalStream, in.PeerStream)
		switch {
		case l.Empty() && !p.Empty() && !l.MasterSyncInProgress && rel != node.Ahead:
			return fail("local is empty while the peer holds %d keys: it must not serve (S5)", p.Keys)
		case rel == node.Behind && raw == node.Successor && l.Role == node.RoleMaster && p.Role == node.RoleMaster:
			return fail("local master was promoted from the peer's history but took no writes since, while the peer did (%s, local stream %s): the peer holds the data (S11)", p.Summary(), in.LocalStream)
		case rel == node.Behind && l.Role == node.RoleMaster && !p.LinkedTo(in.LocalAnnounce):
			// A replica of ours read a moment after us can show a higher
			// offset on our own history: that is skew, not staleness.
			return fail("local master is stale: peer %s holds newer data (S5)", p.Summary())
		case rel == node.Predecessor && l.Role == node.RoleMaster && p.Role == node.RoleMaster:
			return fail("local master is superseded: the peer was promoted from its history and has taken writes since (%s); local's later writes are backed up when it follows", p.Summary())
		case rel == node.Ahead && raw == node.Predecessor:
			warnings = append(warnings, fmt.Sprintf("the peer was promoted from local's history but took no writes since (%s): it follows local", p.Summary()))
		case rel == node.Diverged && l.Role == node.RoleMaster && p.Role == node.RoleMaster &&
			(in.LastEvent == transition.EventBackup || in.LastEvent == transition.EventFault):
			// Two masters of diverged data: only the one VRRP keeps may
			// serve; this one was told to stand down, and its hook backs
			// it up and resyncs it (or refuses, as on_diverged says).
			return fail("histories diverged (split brain) and this master's newest event is %s: not eligible while its hook resolves it (local %s, peer %s)", in.LastEvent, l.Summary(), p.Summary())
		case rel == node.Diverged || rel == node.Successor:
			warnings = append(warnings, fmt.Sprintf("histories diverged (split brain): local %s, peer %s", l.Summary(), p.Summary()))
		}
	}
	if l.Role == node.RoleMaster {
		if in.Fence.On {
			return fencedMaster(in, warnings)
		}
		return Result{OK: true, Reason: "local is master", Warnings: warnings}
	}
	return replicaVerdict(in, l, warnings)
}

// fencedMaster is a master's verdict with fencing on (issue 10). With a
// witness, a master whose peer is unknown must hold the lease: without it,
// its writes are fenced and the VIP belongs with the holder. A master
// promoted on unknown evidence whose writes still wait for the old
// master's fence is the one to hold the VIP: it passes, with a warning.
func fencedMaster(in Input, warnings []string) Result {
	f := in.Fence
	st := f.State
	unknown := in.Peer == nil && !node.Answered(in.PeerErr) && fence.Classify(in.PeerErr) == fence.Unknown
	if st.At != nil && f.Now.BootID != "" && f.KeeperStale > 0 {
		if d, ok := st.At.Since(f.Now); !ok || d > f.KeeperStale {
			warnings = append(warnings, "no fence keeper has decided lately: run notify-fifo, reconcile --loop or run, or the fence is set only by transitions")
		}
	} else if st.At == nil {
		warnings = append(warnings, "no fence keeper has decided yet: run notify-fifo, reconcile --loop or run, or the fence is set only by transitions")
	}
	if unknown && f.Witness && !st.LeaseHeld(f.Now, fence.Margin(f.FenceAfter), false) {
		why := "not held"
		switch {
		case st.LeaseError != "":
			why = "not held: " + st.LeaseError
		case st.LeaseHolder != "" && st.LeaseUntil == nil:
			why = "held by " + st.LeaseHolder
		}
		return fail("local is master but the peer is unknown (%v) and this node does not hold the witness lease (%s): its writes are fenced, the VIP belongs with the lease holder", in.PeerErr, why)
	}
	if since, ok := st.PromotedSince(f.Now, f.PendingSlack); ok && unknown {
		if wait := f.FenceAfter + fence.Margin(f.FenceAfter); since < wait {
			warnings = append(warnings, fmt.Sprintf("promoted on unknown evidence: writes wait %s more for the old master's fence (fence closed)", (wait-since).Round(time.Millisecond)))
		}
	}
	if st.Level != nil && *st.Level == fence.Closed {
		warnings = append(warnings, "fence closed: "+st.Reason)
	}
	return Result{OK: true, Reason: "local is master", Warnings: warnings}
}

// peerHoldsLease: with a witness, the peer is unknown but has held the
// lease, renewing it, for longer than a lease lasts (the fence file's
// witness answers). This node's master transition waits for a lease it
// cannot get, so it must not keep the VIP meanwhile: during a split the VIP
// on a replica answering -READONLY stopped every write for the whole split.
func peerHoldsLease(in Input) bool {
	f := in.Fence
	if !f.On || !f.Witness || in.Peer != nil || node.Answered(in.PeerErr) || fence.Classify(in.PeerErr) != fence.Unknown {
		return false
	}
	return f.State.PeerRenewsLease(fence.LeaseDuration(f.FenceAfter), fence.Margin(f.FenceAfter))
}

func peerLeaseVerdict(in Input) Result {
	return fail("local replica's master (the peer) is unknown (%v) but holds the witness lease and renews it: it is alive beyond a partition, and no promotion can happen here (issue 10): give the VIP back", in.PeerErr)
}

func replicaVerdict(in Input, l node.Facts, warnings []string) Result {
	followsPeer := l.Master().Same(in.PeerAddr)
	if in.Peer != nil && followsPeer && in.Peer.Role == node.RoleReplica && in.Peer.Master().Same(in.LocalAnnounce) {
		return fail("replication loop: local and peer replicate each other")
	}
	if followsPeer && in.Peer == nil && peerHoldsLease(in) {
		return peerLeaseVerdict(in)
	}
	if in.LastEvent == transition.EventMaster {
		if !transition.StaleMaster(in.Newest, in.Now, in.StaleMasterAfter, in.VIPs, l, in.Peer, in.PeerAddr) {
			return fail("VRRP made this node master but its redis is a replica of %s: give the VIP back", l.MasterAddr())
		}
		// keepalived has long moved this node out of MASTER (this check
		// failed all along); passing lets it leave FAULT, and its
		// notify_backup records the truth (S12).
		warnings = append(warnings, fmt.Sprintf("the newest event, master, came from keepalived over %s ago while this host holds no VIP: it is stale (a lost or late hook)", in.StaleMasterAfter))
	}
	if in.VIPs.Held {
		// keepalived made this node MASTER but no master event reached
		// redis-vip (a lost notify_master): clients would reach a replica.
		return fail("this host holds the VIP but its redis is a replica of %s and no master event was recorded: give the VIP back", l.MasterAddr())
	}
	switch {
	case l.InSync():
		return Result{OK: true, Reason: "local is a replica in sync with " + l.MasterAddr(), Warnings: warnings}
	case l.MasterSyncInProgress:
		return fail("local replica is in a full sync from %s", l.MasterAddr())
	case followsPeer && in.Peer == nil && node.Answered(in.PeerErr):
		return fail("local replica's master (the peer) answers with an error, so it is alive: not taking over (S9): %v", in.PeerErr)
	case followsPeer && in.Peer == nil:
		if why, stale := transition.StaleBy(l, in.MaxLinkDown); stale {
			return fail("local replica is stale: %s, beyond max_link_down %s (S10); promote by hand with `redis-vip notify-master --force` to accept the loss", why, in.MaxLinkDown)
		}
		return Result{OK: true, Reason: fmt.Sprintf("local is a replica and its master (the peer) is unreachable (%v): eligible to take over", in.PeerErr), Warnings: warnings}
	}
	return fail("local replica's link to %s is down while that master is reachable", l.MasterAddr())
}

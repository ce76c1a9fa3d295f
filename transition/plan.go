package transition

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
)

// Event is what keepalived (or the built-in VRRP mode) says happened.
type Event string

// The events a transition handles.
const (
	EventMaster Event = "master"
	EventBackup Event = "backup"
	EventFault  Event = "fault"
	EventStop   Event = "stop"
)

// ParseEvent reads an event name.
func ParseEvent(s string) (Event, error) {
	switch e := Event(s); e {
	case EventMaster, EventBackup, EventFault, EventStop:
		return e, nil
	}
	return "", fmt.Errorf("unknown event %q: want master, backup, fault or stop", s)
}

// Step is one action a plan takes; Runner knows how to do each.
type Step string

// The steps a plan can hold.
const (
	// StepFollowPeer: local REPLICAOF peer.
	StepFollowPeer Step = "follow-peer"
	// StepWaitInSync: poll until local is a replica of peer with the link up.
	StepWaitInSync Step = "wait-in-sync"
	// StepFailover: FAILOVER TO local on the peer (6.2+), wait for the swap.
	StepFailover Step = "failover"
	// StepPauseHandover: CLIENT PAUSE WRITE on peer, wait for equal offsets,
	// promote local, make peer follow local, unpause.
	StepPauseHandover Step = "pause-handover"
	// StepPromote: local REPLICAOF NO ONE.
	StepPromote Step = "promote"
	// StepPausePeerWrites: CLIENT PAUSE WRITE on the peer (6.2+), when the
	// peer is a superseded old master that may still hold the VIP: writes
	// block instead of being acknowledged and then discarded, until the
	// peer's own transition makes it follow.
	StepPausePeerWrites Step = "pause-peer-writes"
	// StepHandOverToPeer: local is master and the peer its in-sync replica,
	// but local's event says it follows: hand the role over with no write
	// lost with FAILOVER TO peer on local (6.2+ on both).
	StepHandOverToPeer Step = "hand-over-to-peer"
	// StepPauseHandOverToPeer: the same with the pause handover reversed
	// (older servers, or handover: pause).
	StepPauseHandOverToPeer Step = "pause-hand-over-to-peer"
	// StepPauseLocalWrites: CLIENT PAUSE WRITE on local (6.2+) before a
	// master follows the peer (before its backup, when there is one), so no
	// write is acknowledged after the facts the plan rests on, or after the
	// snapshot, and then discarded by the follow (S6); follow-peer lifts it,
	// and without a backup since the pause it first checks that local's
	// offset has not moved since the plan was made.
	StepPauseLocalWrites Step = "pause-local-writes"
	// StepPromotePeer: peer REPLICAOF NO ONE, when the peer replicates the
	// local node yet holds data the local node lacks: its link must not come
	// back up and copy the local emptiness over its data.
	StepPromotePeer Step = "promote-peer"
	// StepBackup: BGSAVE local and copy the RDB into the backup dir (S6).
	StepBackup Step = "backup"
	// StepKillClients: CLIENT KILL TYPE normal on local (S7).
	StepKillClients Step = "kill-clients"
	// StepReadOnly: CONFIG SET replica-read-only yes on local, a replica
	// that accepted writes: they are in no offset and Redis discards them
	// at its next full sync, so a replica redis-vip keeps must refuse them.
	StepReadOnly Step = "replica-read-only"
	// StepRewrite: CONFIG REWRITE on local; planned only when local runs
	// from a config file (S7).
	StepRewrite Step = "config-rewrite"
	// StepFenceClose: CONFIG SET min-replicas-to-write 2 on local, before
	// a promotion on unknown evidence (issue 10): the new master
	// acknowledges no write before the old master's fence is up.
	StepFenceClose Step = "fence-close"
	// StepFenceOpen: CONFIG SET min-replicas-to-write 0 on local, before a
	// promotion where no partition can hide (the peer positively dead, or
	// alive): a level left from an earlier term as master must not refuse
	// its writes. The fence keeper arms it once the peer is in sync.
	StepFenceOpen Step = "fence-open"
	// StepFenceWait: after a promotion on unknown evidence, wait until
	// fence.Decide opens the fence (fence_after + margin after the
	// promotion, at once if the peer turns out dead or syncing from
	// local), then set that level.
	StepFenceWait Step = "fence-wait"
)

// Handover modes, as in the handover setting.
const (
	HandoverAuto     = "auto"
	HandoverFailover = "failover"
	HandoverPause    = "pause"
)

// Input is everything Decide looks at.
type Input struct {
	Event Event
	Local node.Facts
	// Peer is nil when the peer could not be read.
	Peer *node.Facts
	// PeerAnswered is true when Peer is nil because the peer answered with
	// an error (-BUSY, -LOADING, maxclients, ...): it is alive, and a live
	// peer is never taken for an absent one (S9).
	PeerAnswered bool
	// LocalStream and PeerStream say what each side's replication stream
	// since their fork holds (S11); WritesUnknown when not read. Only
	// consulted when one side continued the other's history.
	LocalStream, PeerStream node.Writes
	// MaxLinkDown bounds how long a replica's link may have been down for
	// it to be promoted alone (S10); 0 means no bound.
	MaxLinkDown time.Duration
	// LocalWritable: local is a replica that accepts writes
	// (replica-read-only no). Writes made on it are in no offset and are
	// lost at the next full sync, so a follow is preceded by a backup.
	LocalWritable bool
	// LocalAnnounce is the address at which the peer reaches the local Redis.
	LocalAnnounce node.Addr
	// PeerAddr is the configured address of the peer.
	PeerAddr node.Addr
	// Force lets notify-backup follow an empty, older or diverged peer.
	Force bool
	// FollowDiverged is on_diverged = backup-and-follow.
	FollowDiverged bool
	// Handover is auto, failover or pause.
	Handover string
	// PeerWaitOver is true on the last decision after waiting for the peer:
	// a node that has waited its turn stops waiting.
	PeerWaitOver bool
	// Fencing is fence_after > 0 (issue 10, package fence): promotions
	// set the fence, and one on unknown evidence waits for the old
	// master's fence.
	Fencing bool
	// PeerEvidence is what the failed peer read says (fence.Classify):
	// dead (refused) or unknown (timeouts, no route). Read only when Peer
	// is nil and PeerAnswered is false.
	PeerEvidence fence.Evidence
	// Witness: a witness is configured. LeaseHeld: this node holds its
	// lease, granted by a request sent after the peer read failed.
	Witness, LeaseHeld bool
}

// Plan is Decide's answer.
type Plan struct {
	// Decision names the case, e.g. "sync-then-promote".
	Decision string `json:"decision"`
	// Reason says why, for the log, the journal and the operator.
	Reason string `json:"reason"`
	// Relation is how local's data stands against the peer's.
	Relation string `json:"relation,omitempty"`
	Steps    []Step `json:"steps"`
	// Refused marks an S1 refusal: the operator must look.
	Refused bool `json:"refused,omitempty"`
	// Wait means "cannot decide yet": re-read the facts and decide again
	// until the peer wait runs out, then give up without acting.
	Wait bool `json:"wait,omitempty"`
}

// Decide returns the plan for an event. It is pure: same input, same plan,
// and every step in it is fully resolved (handover kind, pausing before a
// backup, rewriting the config or not), so the runner only executes.
func Decide(in Input) Plan {
	var p Plan
	switch in.Event {
	case EventMaster:
		p = decideMaster(in)
	case EventBackup, EventFault:
		p = decideFollow(in)
	default:
		return Plan{Decision: "record", Reason: "VRRP stopped on this node; Redis left as it is so the peer can sync from it"}
	}
	if writableReplica(in) && !p.Wait && !slices.Contains(p.Steps, StepPromote) {
		// Close the door first, then keep a copy of what came through it.
		steps := []Step{StepReadOnly}
		if !slices.Contains(p.Steps, StepBackup) {
			steps = append(steps, StepBackup)
		}
		p.Steps = append(steps, p.Steps...)
		if !slices.Contains(p.Steps, StepRewrite) {
			p.Steps = append(p.Steps, StepRewrite)
		}
		p.Reason += "; local is a replica that accepts writes (replica-read-only no): made read-only after a backup of what clients wrote to it (S6)"
	}
	p.Steps = resolve(in, p.Steps)
	if in.Fencing && in.Event == EventMaster && promotesLocal(p.Steps) && !slices.Contains(p.Steps, StepFenceClose) && !slices.Contains(p.Steps, StepFenceOpen) {
		// The peer is alive or dead, not unknown: nothing hides. Open
		// just before the promotion: local is a replica then (a master
		// about to follow must not take writes it then discards).
		i := slices.IndexFunc(p.Steps, isPromotion)
		p.Steps = slices.Insert(p.Steps, i, StepFenceOpen)
	}
	return p
}

// promotesLocal reports whether steps make local a master.
func promotesLocal(steps []Step) bool { return slices.ContainsFunc(steps, isPromotion) }

func isPromotion(s Step) bool { return s == StepPromote || s == StepPauseHandover || s == StepFailover }

// writableReplica reports whether local is a replica holding data that
// clients may write to directly.
func writableReplica(in Input) bool {
	return in.LocalWritable && in.Local.Role == node.RoleReplica && !in.Local.Empty()
}

// resolve drops what the servers make needless: config-rewrite when local
// runs without a config file, a backup of an empty local, pauses a server
// before 6.2 cannot take (CLIENT PAUSE WRITE).
func resolve(in Input, steps []Step) []Step {
	if needsBackup(in, steps) {
		// Whatever the plan, a sync from the peer discards what local did
		// since the fork, or what clients wrote to a writable replica:
		// keep a copy first (S6, S11).
		steps = append([]Step{StepBackup}, steps...)
	}
	out := steps[:0:0]
	for _, s := range steps {
		switch s {
		case StepRewrite:
			if in.Local.ConfigFile == "" {
				continue
			}
		case StepBackup:
			if in.Local.Empty() {
				continue
			}
			if in.Local.Role == node.RoleMaster && in.Local.Version.AtLeast(6, 2) {
				out = append(out, StepPauseLocalWrites)
			}
		case StepPausePeerWrites:
			if in.Peer == nil || !in.Peer.Version.AtLeast(6, 2) {
				continue
			}
		case StepHandOverToPeer:
			if !useFailover(in) {
				s = StepPauseHandOverToPeer
			}
		case StepFollowPeer:
			if in.Local.Role == node.RoleMaster && in.Local.Version.AtLeast(6, 2) && !slices.Contains(out, StepPauseLocalWrites) {
				// A master acknowledges writes between the facts this plan
				// rests on and its REPLICAOF, which then discards them:
				// pause first; follow-peer checks nothing moved since.
				out = append(out, StepPauseLocalWrites)
			}
		}
		out = append(out, s)
	}
	return out
}

// forkBackup reports whether local went on alone after a fork and its
// stream does not prove it took nothing since (S11): a sync from the peer
// would discard those writes.
func forkBackup(in Input) bool {
	if in.Peer == nil || in.Local.Empty() || in.LocalStream == node.WritesNone {
		return false
	}
	raw := node.Compare(in.Local, *in.Peer)
	return raw == node.Successor || raw == node.Predecessor
}

// needsBackup reports whether steps discard local data that no backup step
// keeps: what local did since a fork (any sync from the peer), or what
// clients wrote to a writable replica (a follow, which resyncs it).
func needsBackup(in Input, steps []Step) bool {
	if slices.Contains(steps, StepBackup) {
		return false
	}
	follows := slices.Contains(steps, StepFollowPeer)
	syncs := follows || slices.Contains(steps, StepWaitInSync)
	return forkBackup(in) && syncs || writableReplica(in) && follows
}

// relation is how local's data stands against the peer's: Compare, refined
// by what each side's stream since a fork holds (S11).
func relation(in Input) node.Relation {
	if node.AwaitsFirstSync(in.Local, *in.Peer, in.PeerAddr) {
		// Started to follow the peer (guard, after a backup), not synced
		// yet: the peer's data wins; promoting local as diverged would
		// undo guard's choice and drop the peer's writes since (seed 4014).
		return node.Behind
	}
	// The runner reads local first, then the peer (Judge's order).
	rel, _ := node.Judge(in.Local, *in.Peer, in.LocalAnnounce, in.LocalStream, in.PeerStream)
	return rel
}

// unfinished reports whether f is not a finished dataset (S11): loading, or
// in a full sync, so its data is not judged empty, older or diverged.
func unfinished(f node.Facts) bool { return f.Loading || f.MasterSyncInProgress }

// StaleBy says how long a replica's link to its master has been down, and
// whether that is beyond the bound (S10). A link down for an unknown time
// (-1: never up since the server started) is beyond any bound.
func StaleBy(l node.Facts, bound time.Duration) (string, bool) {
	if l.Role != node.RoleReplica || l.MasterLinkUp || bound <= 0 {
		return "", false
	}
	if l.MasterLinkDownSecs < 0 {
		return "the link to its master has not been up since it started", true
	}
	d := time.Duration(l.MasterLinkDownSecs) * time.Second
	return fmt.Sprintf("the link to its master has been down for %s", d), d > bound
}

func decideMaster(in Input) Plan {
	l := in.Local
	promote := func(decision, reason, rel string) Plan {
		p := Plan{Decision: decision, Reason: reason, Relation: rel}
		if l.Role == node.RoleReplica {
			p.Steps = []Step{StepPromote, StepRewrite}
		} else {
			p.Decision, p.Reason = "keep-master", reason+"; local is already master"
		}
		return p
	}
	if in.Peer == nil {
		if in.PeerAnswered {
			return Plan{Decision: "wait-peer-answers", Reason: "the peer answers with an error, so it is alive: never promote alone over a live peer (S9)", Wait: true}
		}
		if l.MasterSyncInProgress {
			return Plan{Decision: "wait-local-sync", Reason: "local is in a full sync: its dataset is not finished (S11)", Wait: true}
		}
		var p Plan
		if why, stale := StaleBy(l, in.MaxLinkDown); stale {
			if !in.Force {
				return Plan{Decision: "refuse-stale", Reason: fmt.Sprintf("peer unreachable but local is a stale replica: %s, beyond max_link_down %s (S10); promote with --force to accept the loss", why, in.MaxLinkDown), Refused: true}
			}
			p = promote("promote-alone-forced", "peer unreachable; local is a stale replica ("+why+") promoted because --force was given (S10, W2)", "")
		} else {
			p = promote("promote-alone", "peer unreachable: promote at once (S3)", "")
		}
		if in.Fencing && l.Role == node.RoleReplica {
			return fencePromotion(in, p)
		}
		return p
	}
	p := *in.Peer
	rel := relation(in)
	if p.Loading {
		return Plan{Decision: "wait-peer-loading", Reason: "peer is loading its dataset", Wait: true, Relation: rel.String()}
	}
	if p.MasterSyncInProgress {
		if isReplicaOf(p, in.LocalAnnounce) && !unfinished(l) {
			// It is copying our data: ours is the finished dataset.
			return promote("promote-alone", "peer is in a full sync from local: its dataset is not finished (S11)", rel.String())
		}
		return Plan{Decision: "wait-peer-sync", Reason: "peer is in a full sync: its dataset is not finished (S11)", Wait: true, Relation: rel.String()}
	}
	if l.MasterSyncInProgress {
		if !followsPeer(l, in.PeerAddr) || p.Role != node.RoleMaster {
			return Plan{Decision: "wait-local-sync", Reason: "local is in a full sync: its dataset is not finished (S11)", Wait: true, Relation: rel.String()}
		}
		// Local is copying the live peer: finish that, then take over (S2).
		return Plan{Decision: "sync-then-promote", Reason: "local is in a full sync from the live peer master: finish it, pause the peer's writes, then promote (S2, S11)",
			Relation: rel.String(), Steps: []Step{StepWaitInSync, handoverStep(in), StepRewrite}}
	}
	if p.Role == node.RoleMaster {
		switch rel {
		case node.Ahead:
			why := "peer is older"
			switch {
			case p.Empty():
				why = "peer is empty"
			case node.Compare(l, p) == node.Predecessor:
				why = "peer was promoted from local's history but took no writes since, while local did (S11)"
			}
			return promote("promote-alone", why+": promote without syncing from it (S3)", rel.String())
		case node.Diverged:
			return promote("promote-alone", "histories diverged (split brain): keep local data, the peer must resync from it", rel.String())
		case node.Successor:
			return promote("promote-alone", "local was promoted from the peer's history and has taken writes since: keep local data, the peer backs up and resyncs", rel.String())
		}
		steps := []Step{}
		decision, reason := "sync-then-promote", "peer is a live master at least as fresh: sync from it, pause its writes, then promote (S2)"
		switch {
		case rel == node.Predecessor:
			// The peer was promoted from our history and took the writes
			// since; ours after the fork go to a backup, then we take its data.
			steps = append(steps, StepBackup)
			decision, reason = "backup-sync-then-promote", "peer was promoted from local's history and holds the writes since: back up local, sync from the peer, pause its writes, then promote (S2, S6)"
		case rel == node.Behind && node.Compare(l, p) == node.Successor:
			// Promoted during a blip, took nothing but deletions: the
			// peer's data wins; the deletions go to a backup.
			steps = append(steps, StepBackup)
			decision, reason = "backup-sync-then-promote", "local was promoted from the peer's history but took no writes since, while the peer did (S11): back up local, sync from the peer, pause its writes, then promote (S2, S6)"
		}
		if !followsPeer(l, in.PeerAddr) {
			steps = append(steps, StepFollowPeer)
		}
		steps = append(steps, StepWaitInSync, handoverStep(in), StepRewrite)
		return Plan{Decision: decision, Reason: reason, Relation: rel.String(), Steps: steps}
	}
	// The peer is a replica.
	if rel != node.Behind {
		return promote("promote-alone", "peer is a replica holding nothing local lacks", rel.String())
	}
	if isReplicaOf(p, in.LocalAnnounce) {
		if p.LinkedTo(in.LocalAnnounce) && !l.Empty() {
			// Our own replica, linked, read a moment after us: offset skew.
			return promote("promote-alone", "peer is our replica, in sync", rel.String())
		}
		steps := []Step{StepPromotePeer, StepFollowPeer, StepWaitInSync, handoverStep(in), StepRewrite}
		return Plan{Decision: "promote-peer-then-sync", Reason: "local is " + describeLocal(l) + " while its own replica holds the data: promote the replica so it keeps its data, copy it, then take over (S5)",
			Relation: rel.String(), Steps: steps}
	}
	steps := []Step{}
	if !followsPeer(l, in.PeerAddr) {
		steps = append(steps, StepFollowPeer)
	}
	steps = append(steps, StepWaitInSync, StepPromote, StepRewrite)
	return Plan{Decision: "sync-from-replica-then-promote", Reason: "peer is a replica with data local lacks: copy it, then promote", Relation: rel.String(), Steps: steps}
}

// fencePromotion adds the fence to a promotion of local while the peer
// cannot be read (issue 10). A peer that refused the connection is
// positively dead: promote at once with the fence open. An unknown peer
// may be a partition: with a witness, only the lease holder promotes; the
// fence is closed before the promotion and opens only once the old
// master's own fence is certain to be up (fence-wait).
func fencePromotion(in Input, p Plan) Plan {
	if in.PeerEvidence == fence.Dead {
		p.Reason += "; the peer's host refused the connection (positively dead): fence open"
		p.Steps = append([]Step{StepFenceOpen}, p.Steps...)
		return p
	}
	ok, why := fence.MayPromoteOnUnknown(in.Witness, in.LeaseHeld)
	if !ok && !in.Force {
		return Plan{Decision: "wait-lease", Reason: "peer unknown (no answer: a partition may hide there) and " + why + ": not promoted on unknown evidence (issue 10)", Wait: true}
	}
	switch {
	case !ok:
		why = "the witness lease is not held, but --force was given: promote, writes wait for the old master's fence"
	case in.Witness:
		why += ": promote, writes wait for the old master's fence"
	}
	p.Decision = "promote-fenced"
	if p.Reason == "peer unreachable: promote at once (S3)" {
		p.Reason = "peer unknown (no answer: a partition may hide there)"
	}
	p.Reason += "; " + why + " (fence closed until fence_after + margin after the promotion, issue 10)"
	p.Steps = []Step{StepFenceClose, StepPromote, StepRewrite, StepFenceWait}
	return p
}

// useFailover reports whether a handover uses FAILOVER TO rather than the
// pause handover. auto picks the pause handover: FAILOVER TO waits for the
// replica's once-a-second REPLCONF ACK, so its write pause lasts up to a
// second, while the pause handover promotes as soon as the offsets match
// (tens of ms). Both are lossless (S2); failover is there for operators
// who prefer Redis's own command, where both servers have it (6.2+).
func useFailover(in Input) bool {
	return in.Handover == HandoverFailover && in.Peer != nil && in.Peer.Version.AtLeast(6, 2) && in.Local.Version.AtLeast(6, 2)
}

func handoverStep(in Input) Step {
	if useFailover(in) {
		return StepFailover
	}
	return StepPauseHandover
}

func decideFollow(in Input) Plan {
	l := in.Local
	if in.Peer == nil {
		if in.PeerAnswered {
			return Plan{Decision: "deferred", Reason: "the peer answers with an error (alive, S9): local left as it is until it can be read", Wait: true}
		}
		return Plan{Decision: "deferred", Reason: "peer unreachable: local left as it is", Wait: true}
	}
	p := *in.Peer
	rel := relation(in)
	if p.Loading {
		return Plan{Decision: "wait-peer-loading", Reason: "peer is loading its dataset", Wait: true, Relation: rel.String()}
	}
	if p.MasterSyncInProgress {
		return Plan{Decision: "wait-peer-sync", Reason: "peer is in a full sync: its dataset is not finished (S11)", Wait: true, Relation: rel.String()}
	}
	if l.MasterSyncInProgress && followsPeer(l, in.PeerAddr) {
		// Local's own dataset is not judged while it is being replaced; only
		// an empty source is stopped before it wipes local data (S1).
		if p.Empty() && l.Keys > 0 && !in.Force {
			return Plan{Decision: "detach", Reason: "local is in a full sync from an empty peer that would wipe its data: stop following (S1)",
				Relation: rel.String(), Steps: []Step{StepPromote, StepRewrite}, Refused: true}
		}
		return Plan{Decision: "already-following", Reason: "local is in a full sync from the peer (S11)", Relation: rel.String()}
	}
	if p.Role != node.RoleMaster {
		if followsPeer(l, in.PeerAddr) && isReplicaOf(p, in.LocalAnnounce) {
			// Each replicates the other (an older transition's handover cut
			// short, say): nobody takes writes and nothing else will end it.
			// This node's event says it follows, so the peer becomes master,
			// unless local holds data the peer lacks (S1).
			if rel.HasDataPeerLacks() {
				return Plan{Decision: "break-loop-keep-local", Reason: "local and peer replicate each other and local holds data the peer lacks: local becomes master (S1)", Relation: rel.String(), Steps: []Step{StepPromote, StepRewrite}}
			}
			return Plan{Decision: "break-loop", Reason: "local and peer replicate each other: the peer becomes master and local stays its replica", Relation: rel.String(), Steps: []Step{StepPromotePeer}}
		}
		if in.PeerWaitOver && l.Role == node.RoleMaster && isReplicaOf(p, in.LocalAnnounce) && p.InSync() {
			// Still master after waiting, and the peer is our in-sync
			// replica: nobody else will make the peer master, so hand over.
			return Plan{Decision: "hand-over-to-peer", Reason: "local is still master after the peer wait and the peer is its in-sync replica: hand the master role over with no write lost (S2)", Relation: rel.String(), Steps: []Step{StepHandOverToPeer, StepRewrite}}
		}
		return Plan{Decision: "wait-peer-master", Reason: "peer is not a master yet: nothing to follow", Wait: true, Relation: rel.String()}
	}
	demote := []Step{StepFollowPeer}
	if l.Role == node.RoleMaster {
		demote = append(demote, StepKillClients)
	}
	demote = append(demote, StepRewrite)
	withBackup := append([]Step{StepBackup}, demote...)
	raw := node.Compare(l, p)

	if followsPeer(l, in.PeerAddr) {
		switch {
		case l.InSync():
			return Plan{Decision: "already-following", Reason: "local is a replica of the peer, in sync", Relation: rel.String()}
		case rel == node.Predecessor && (in.FollowDiverged || in.Force):
			return Plan{Decision: "backup-while-following", Reason: "local follows the master promoted from its history: back up local's writes since the fork before the full sync discards them (S6)",
				Relation: rel.String(), Steps: []Step{StepBackup}}
		case rel == node.Diverged && in.FollowDiverged && !in.Force:
			// on_diverged says back up and follow (guard said the same at
			// start): keep a copy and let the sync go on, rather than
			// promote local next to a live master (two masters).
			return Plan{Decision: "backup-while-following", Reason: "local follows a master whose history diverged from local's (on_diverged: backup-and-follow): back up local before the full sync discards it (S6)",
				Relation: rel.String(), Steps: []Step{StepBackup}}
		case rel == node.Behind && raw == node.Successor && in.LocalStream == node.WritesDeletesOnly:
			return Plan{Decision: "backup-while-following", Reason: "local follows the peer it was promoted from; its own stream since holds only deletions: back them up before the full sync discards them (S6, S11)",
				Relation: rel.String(), Steps: []Step{StepBackup}}
		case rel.HasDataPeerLacks() && !in.Force:
			return Plan{Decision: "detach", Reason: fmt.Sprintf("local follows a peer that is %s and holds data the peer lacks: stop following before a full sync wipes it (S1)", describe(rel, p)),
				Relation: rel.String(), Steps: []Step{StepPromote, StepRewrite}, Refused: true}
		}
		return Plan{Decision: "already-following", Reason: "local is a replica of the peer, link not up yet", Relation: rel.String()}
	}
	if rel == node.Same && l.Role == node.RoleMaster && !yields(in.LocalAnnounce, in.PeerAddr) && !in.PeerWaitOver {
		// Two masters holding the same data (a cold start of both, or a
		// clean stop): if both followed, each would replicate the other.
		// The lower address yields; this side waits for the peer to follow
		// or for its own notify-master, and follows once its wait is over
		// (the peer is then the VRRP master that already ran its hook).
		return Plan{Decision: "wait-peer-yields", Reason: "both are masters with the same data: the node with the lower address follows, this one waits", Wait: true, Relation: rel.String()}
	}
	switch rel {
	case node.Same, node.Behind:
		if raw == node.Successor {
			// Promoted during a blip and took no writes since (S11): the
			// peer holds everything; deletions local took go to a backup.
			reason := "local was promoted from the peer's history but took no writes since, while the peer did (S11): follow it"
			if in.LocalStream == node.WritesDeletesOnly {
				return Plan{Decision: "backup-and-follow", Reason: reason + "; local's deletions since are backed up first (S6)", Relation: rel.String(), Steps: withBackup}
			}
			return Plan{Decision: "follow", Reason: reason, Relation: rel.String(), Steps: demote}
		}
		return Plan{Decision: "follow", Reason: "peer is a live master at least as fresh", Relation: rel.String(), Steps: demote}
	case node.Ahead, node.Successor:
		if in.Force {
			return Plan{Decision: "follow-forced", Reason: "peer is " + describe(rel, p) + " but --force was given: back up, then follow", Relation: rel.String(), Steps: withBackup}
		}
		refusal := Plan{Decision: "refuse", Reason: fmt.Sprintf("refusing to follow a peer that is %s: local holds data it lacks (S1); use --force to override", describe(rel, p)), Relation: rel.String(), Refused: true}
		if rel == node.Successor || raw == node.Predecessor {
			// The peer is a master that lacks local's writes and may hold the
			// VIP (after a healed split brain, or promoted during a blip):
			// until its check fails, it would acknowledge writes that its own
			// resync then discards. Make them wait instead.
			refusal.Steps = []Step{StepPausePeerWrites}
			refusal.Reason += "; pausing the peer's writes until it follows"
		}
		return refusal
	}
	if in.FollowDiverged || in.Force {
		reason := "histories diverged (split brain): back up local data, then resync from the peer (S6)"
		if rel == node.Predecessor {
			reason = "the peer was promoted from local's history and holds the writes since: back up local's writes after the fork, then resync from the peer (S6)"
		}
		return Plan{Decision: "backup-and-follow", Reason: reason, Relation: rel.String(), Steps: withBackup}
	}
	return Plan{Decision: "refuse", Reason: "histories diverged (split brain) and on_diverged is refuse: operator must choose (S1)", Relation: rel.String(), Refused: true}
}

func describeLocal(l node.Facts) string {
	if l.Empty() {
		return "empty"
	}
	return "behind"
}

func describe(rel node.Relation, p node.Facts) string {
	switch {
	case p.Empty():
		return "empty"
	case rel == node.Ahead:
		return "older"
	case rel == node.Successor:
		return "the old master this node was promoted from"
	}
	return rel.String()
}

// yields reports whether local, at localAddr, is the side that follows when
// two masters hold the same data: the one with the lower address (IP bytes,
// then port; host:port strings when they are not IP literals).
func yields(localAddr, peerAddr node.Addr) bool {
	l, okL := ipPort(localAddr)
	p, okP := ipPort(peerAddr)
	if !okL || !okP {
		return localAddr.String() < peerAddr.String()
	}
	return l.Compare(p) < 0
}

// ipPort is a as an IP literal and port, when it is one.
func ipPort(a node.Addr) (netip.AddrPort, bool) {
	ip, err := netip.ParseAddr(a.Host)
	if err != nil || a.Port < 0 || a.Port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(a.Port)), true
}

// followsPeer reports whether local is configured as a replica of the peer.
func followsPeer(l node.Facts, peerAddr node.Addr) bool {
	return l.Role == node.RoleReplica && l.Master().Same(peerAddr)
}

// isReplicaOf reports whether f replicates the server at addr.
func isReplicaOf(f node.Facts, addr node.Addr) bool {
	return f.Role == node.RoleReplica && f.Master().Same(addr)
}

// Package fence decides when a master may acknowledge writes while its peer
// cannot be seen (issue 10). Two nodes cannot tell "my peer died" from "I can
// no longer see my peer"; a master that keeps acknowledging writes in a
// partition while the other side promotes loses them when the pair heals.
//
// The fence has two layers. Armed is Redis's own min-replicas-to-write 1 with
// min-replicas-max-lag L: a master whose replica has not acknowledged for L
// seconds refuses writes (-NOREPLICAS) by itself, with no help from
// redis-vip, so a master whose redis-vip is dead or cut off is fenced within
// fence_after. Closed is min-replicas-to-write 2: redis-vip closes the fence
// at once when it sees the peer unknown, so a live redis-vip fences within
// its detection time, far inside fence_after. The fence is open
// (min-replicas-to-write 0) only when losing the peer cannot hide a
// partition: the peer is positively dead, the peer is connected and syncing,
// the witness lease is held and no replica is in sync (one in sync keeps an
// armed fence's writes flowing, and armed still holds if redis-vip dies
// while the lease moves on), or this node is the one that promoted itself
// on unknown evidence and has waited out the old master's fence.
//
// Everything here is pure: facts and durations in, a decision out.
package fence

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/node"
)

// Evidence is what a node knows about its peer.
type Evidence int

const (
	// Unknown: timeouts, no route, a host that does not answer. A
	// partition hides here, and so does a host that lost power.
	Unknown Evidence = iota
	// Alive: the peer answered, even with an error (S9).
	Alive
	// Dead: positively gone. The peer's host answered but its Redis
	// refused the connection, or the peer resigned (a VRRP advert with
	// priority 0).
	Dead
)

func (e Evidence) String() string {
	switch e {
	case Alive:
		return "alive"
	case Dead:
		return "dead"
	}
	return "unknown"
}

// Classify maps the outcome of reading the peer to evidence: nil and errors
// the peer answered with mean alive; a refused connection (the host's kernel
// answered with a reset) means dead; everything else is unknown.
func Classify(err error) Evidence {
	switch {
	case err == nil || node.Answered(err):
		return Alive
	case errors.Is(err, syscall.ECONNREFUSED):
		return Dead
	}
	return Unknown
}

// MinFenceAfter is the shortest fence_after: Redis counts replica lag in
// whole seconds and refreshes its count of good replicas once a second, so
// with min-replicas-max-lag L a master refuses writes at most L+2 s after the
// last acknowledgement it received (measured: 1.3-1.7 s with L=1 on 7.0).
const MinFenceAfter = 3 * time.Second

// MaxLag is the min-replicas-max-lag (whole seconds) that makes Redis fence
// itself within fenceAfter: L+2 s <= fenceAfter.
func MaxLag(fenceAfter time.Duration) int {
	l := int(fenceAfter/time.Second) - 2
	if l < 1 {
		l = 1
	}
	return l
}

// Validate checks a fence_after setting: 0 (fencing off) or at least
// MinFenceAfter.
func Validate(fenceAfter time.Duration) error {
	if fenceAfter != 0 && fenceAfter < MinFenceAfter {
		return fmt.Errorf("fence_after %v is shorter than %v (Redis counts replica lag in whole seconds): use 0 to turn fencing off or at least %v", fenceAfter, MinFenceAfter, MinFenceAfter)
	}
	return nil
}

// Margin is what a node that promoted itself on unknown evidence waits
// beyond fenceAfter before it opens: both sides measure with their own
// monotonic clocks, whose rates differ by far less than 1%; 10% plus 250 ms
// also covers a scheduler delay on either side.
func Margin(fenceAfter time.Duration) time.Duration {
	return fenceAfter/10 + 250*time.Millisecond
}

// LeaseDuration is the witness lease that keeps the windows apart: an old
// master isolated just before it would have renewed (its last renewal up to
// RenewEvery before the partition) must be fenced by its own Redis before
// the lease can move: LeaseDuration - RenewEvery >= fenceAfter + Margin.
func LeaseDuration(fenceAfter time.Duration) time.Duration {
	return (fenceAfter + Margin(fenceAfter)) * 4 / 3
}

// RenewEvery is how often a holder renews a lease of duration d.
func RenewEvery(d time.Duration) time.Duration { return d / 4 }

// Level is how far a master's fence is closed, as min-replicas-to-write.
type Level int

const (
	// Open: min-replicas-to-write 0, writes need no replica.
	Open Level = 0
	// Armed: min-replicas-to-write 1. While the replica acknowledges,
	// nothing changes; once it has not for min-replicas-max-lag, Redis
	// refuses writes by itself, with or without redis-vip.
	Armed Level = 1
	// Closed: min-replicas-to-write 2, more replicas than a pair has:
	// writes are refused at once, until redis-vip opens the fence.
	Closed Level = 2
)

func (l Level) String() string {
	switch l {
	case Open:
		return "open"
	case Armed:
		return "armed"
	}
	return "closed"
}

// MinReplicas is the min-replicas-to-write value of the level.
func (l Level) MinReplicas() int { return int(l) }

// Input is what a master knows when its fence is decided.
type Input struct {
	// FenceAfter is the bound set by the operator; 0 turns fencing off.
	FenceAfter time.Duration
	// Peer is the evidence about the peer's Redis.
	Peer Evidence
	// PeerSyncing: the peer is connected to this master as a replica and
	// in a full sync (it answers, and it cannot be promoted, S11).
	PeerSyncing bool
	// PeerInSync: the peer is this master's replica with its link up, and
	// this master counts an acknowledgement of it within the armed max-lag,
	// so an armed fence lets writes flow. (A replica's own "link up" can
	// be stale after a partition heals: its acknowledgements resume only
	// after TCP's retransmission backoff, seconds later.)
	PeerInSync bool
	// PeerElsewhere: the peer answered and does not replicate this master
	// (another master, or the replica of someone else). No replica of
	// this master's exists, so an armed fence would pass nothing but
	// stale acknowledgements: ones a partition held back on the old
	// replication connection, delivered at the heal just before its
	// close, which make Redis count a good replica for a moment (torture
	// seeds 5011, 5015: a write acknowledged by the old master 0.1 s
	// after the heal, lost).
	PeerElsewhere bool
	// Witness: a witness is configured. LeaseHeld: this node holds the
	// lease for at least the margin still, by a renewal sent after the
	// peer was last seen: a lease renewed before the peer vanished says
	// nothing about which side of a partition this node is on (an
	// isolated master keeps its old lease for a while).
	Witness, LeaseHeld bool
	// PromotedOnUnknown: this node promoted itself while the peer was
	// unknown and has not seen it in sync since; Since is the monotonic
	// time since that promotion.
	PromotedOnUnknown bool
	Since             time.Duration
}

// Decision is a master's fence level and why.
type Decision struct {
	Level  Level
	Reason string
	// Recheck, when non-zero, is when the decision changes by itself.
	Recheck time.Duration
	// OnLease: the level is open only because this node holds the witness
	// lease, so it lasts only while someone renews the lease (a keeper
	// that stops arms it).
	OnLease bool
}

// Decide is the fence of a master.
func Decide(in Input) Decision {
	wait := in.FenceAfter + Margin(in.FenceAfter)
	switch {
	case in.FenceAfter == 0:
		return Decision{Level: Open, Reason: "fencing off (fence_after 0)"}
	case in.Peer == Dead:
		return Decision{Level: Open, Reason: "the peer is positively dead"}
	case in.PeerSyncing:
		return Decision{Level: Open, Reason: "the peer is connected and syncing"}
	case in.PromotedOnUnknown && in.Since < wait:
		// Even with the lease: the old master may have lost the lease
		// long before the partition, and its Redis fence counts from the
		// last acknowledgement it received, which is before this
		// promotion.
		return Decision{Level: Closed, Reason: fmt.Sprintf("promoted on unknown evidence: writes wait %v for the old master's fence", (wait - in.Since).Round(time.Millisecond)), Recheck: wait - in.Since}
	case in.Witness && in.LeaseHeld && in.PeerInSync:
		// Open would do as long as this node's redis-vip renews the lease;
		// armed also holds once it stops (dies, hangs) and the lease moves
		// on: Redis then fences itself within fence_after of the replica's
		// last acknowledgement, as without a witness.
		return Decision{Level: Armed, Reason: "armed: the replica's acknowledgements keep writes flowing (this node holds the witness lease; armed also fences it if redis-vip stops renewing)"}
	case in.Witness && in.LeaseHeld:
		return Decision{Level: Open, Reason: "this node holds the witness lease and no replica is in sync", OnLease: true}
	case in.Witness && in.Peer == Unknown:
		return Decision{Level: Closed, Reason: "peer unknown and no witness lease: writes stop until the peer or the lease returns"}
	case !in.Witness && in.PromotedOnUnknown:
		return Decision{Level: Open, Reason: "promoted on unknown evidence; the old master's fence is up"}
	case in.Peer == Alive && in.PeerElsewhere:
		return Decision{Level: Closed, Reason: "the peer answers but does not replicate this master (another master?): writes stop until it follows or the roles are settled"}
	case in.Peer == Alive:
		return Decision{Level: Armed, Reason: "armed: the replica's acknowledgements keep writes flowing"}
	}
	return Decision{Level: Closed, Reason: "peer unknown: writes stop until it returns or is positively dead (a witness keeps them going)"}
}

// MayPromoteOnUnknown says whether a replica may become master while its
// master is unknown: without a witness yes (its writes wait, see Decide);
// with one, only while it holds the lease.
func MayPromoteOnUnknown(witness, leaseHeld bool) (bool, string) {
	switch {
	case !witness:
		return true, "no witness: promote, writes wait for the old master's fence"
	case leaseHeld:
		return true, "holds the witness lease"
	}
	return false, "the master is unknown and the witness lease is not held: a partition may hide there"
}

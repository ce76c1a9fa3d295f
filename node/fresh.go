package node

import "strings"

// Relation says how one node's data stands against another's.
type Relation int

// The relations Compare can return, read as "a is ... b".
const (
	// Same: both hold the same history up to the same offset, or both are empty.
	Same Relation = iota
	// Ahead: a holds everything b holds and more (b may be empty).
	Ahead
	// Behind: b holds everything a holds and more (a may be empty).
	Behind
	// Diverged: both hold data and neither history contains the other.
	Diverged
	// Successor: diverged, and a was promoted from b's history (a's replid2
	// is b's replid): a is the side the VIP moved to, b the old master that
	// went on alone (typically isolated, its offset moved by replication
	// PINGs or by clients that could still reach it). a's data wins; b's
	// writes after the fork must be backed up before they are discarded.
	Successor
	// Predecessor: the reverse of Successor: b was promoted from a's history.
	Predecessor
)

// String names the relation for logs and journals.
func (r Relation) String() string {
	switch r {
	case Same:
		return "same"
	case Ahead:
		return "ahead"
	case Behind:
		return "behind"
	case Diverged:
		return "diverged"
	case Successor:
		return "successor"
	case Predecessor:
		return "predecessor"
	}
	return "unknown"
}

// Compare says how a's data stands against b's, per DESIGN.md section 3:
// an empty node shares no history with anyone, unless it was drained on
// purpose (its history holds the other's position and goes further: the
// deletions are the newest writes); two nodes share history when
// their replids match, or when one continued from the other's replid (replid2)
// at a point no earlier than the other's offset.
func Compare(a, b Facts) Relation {
	switch {
	case a.Empty() && b.Empty():
		return Same
	case b.Empty():
		if drained(b, a) {
			return Behind
		}
		return Ahead
	case a.Empty():
		if drained(a, b) {
			return Ahead
		}
		return Behind
	}
	ab, ba := AtLeastAsFresh(a, b), AtLeastAsFresh(b, a)
	switch {
	case ab && ba:
		return Same
	case ab:
		return Ahead
	case ba:
		return Behind
	case continuedFrom(a, b):
		return Successor
	case continuedFrom(b, a):
		return Predecessor
	}
	return Diverged
}

// sourceOf reports whether master m (reached at mAddr) is where replica
// r's data comes from: r follows mAddr on m's current replid. A master's
// replid is new at each start and each promotion (the old one becomes its
// replid2), so only m's own stream carries it, and r holds nothing m lacks.
func sourceOf(m, r Facts, mAddr Addr) bool {
	return m.Role == RoleMaster && r.Role == RoleReplica && r.Master().Same(mAddr) &&
		m.ReplID != "" && r.ReplID == m.ReplID && !m.Loading && !r.Loading && !m.Empty() && !r.Empty()
}

// Unskew corrects rel (how master a's data stands against b's, a read
// before b) when b is a's replica on a's current history: b holds nothing
// a lacks, so a higher offset on b only means b was read after a, and the
// two are the Same. Torture seed 5004: a master read first, its
// reconnecting replica a moment later, was judged behind it, and the plan
// promoted the replica over the master that held the witness lease. aAddr
// is the address a's replicas name as their master. The other way round
// (a replica read first) the skew shows the replica behind, which is safe.
func Unskew(rel Relation, a, b Facts, aAddr Addr) Relation {
	if rel == Behind && sourceOf(a, b, aAddr) {
		return Same
	}
	return rel
}

// drained reports whether the empty node e was emptied on purpose after
// holding everything x holds (a FLUSHALL, or every key deleted or expired):
// its own history contains x's position and goes further. An empty node
// that restarted without its files has a new replid and contains nothing.
func drained(e, x Facts) bool {
	return AtLeastAsFresh(e, x) && !AtLeastAsFresh(x, e)
}

// continuedFrom reports whether x was promoted from y's history: x's replid2
// is y's replid and x forked at a point y had reached.
func continuedFrom(x, y Facts) bool {
	return hasReplID2(x) && x.ReplID2 == y.ReplID && x.SecondReplOffset-1 <= y.ReplOffset
}

// Reverse is the relation read from the other side: a's data against b's
// becomes b's against a's.
func (r Relation) Reverse() Relation {
	switch r {
	case Ahead:
		return Behind
	case Behind:
		return Ahead
	case Successor:
		return Predecessor
	case Predecessor:
		return Successor
	}
	return r
}

// HasDataPeerLacks reports whether a holds writes b does not: a is Ahead,
// or the two diverged in any way.
func (r Relation) HasDataPeerLacks() bool {
	return r == Ahead || r == Diverged || r == Successor || r == Predecessor
}

// AtLeastAsFresh reports whether x holds every write y holds, judged by their
// replication histories alone (emptiness is Compare's business). A history
// is a replid up to an offset, continuing (when replid2 is set) another
// replid up to second_repl_offset-1. y's data is inside x's when y's position
// lies on x's history; a node promoted without writes since (offset ==
// second_repl_offset-1) also stands at its old position.
func AtLeastAsFresh(x, y Facts) bool {
	if x.ReplID == "" || y.ReplID == "" {
		return false
	}
	if onHistory(x, y.ReplID, y.ReplOffset) {
		return true
	}
	return hasReplID2(y) && y.ReplOffset == y.SecondReplOffset-1 && onHistory(x, y.ReplID2, y.ReplOffset)
}

// onHistory reports whether position (id, off) lies on x's history.
func onHistory(x Facts, id string, off int64) bool {
	if off > x.ReplOffset {
		return false
	}
	if id == x.ReplID {
		return true
	}
	return hasReplID2(x) && id == x.ReplID2 && off < x.SecondReplOffset
}

// hasReplID2 reports whether f continued another history (replid2 is set).
func hasReplID2(f Facts) bool {
	return f.SecondReplOffset > 0 && f.ReplID2 != "" && strings.Trim(f.ReplID2, "0") != ""
}

// ForkPoint returns the first offset after the point where one of a and b
// continued the other's history (Compare says Successor or Predecessor):
// the streams of both from there on hold what each did on its own.
func ForkPoint(a, b Facts) (int64, bool) {
	switch {
	case continuedFrom(a, b):
		return a.SecondReplOffset, true
	case continuedFrom(b, a):
		return b.SecondReplOffset, true
	}
	return 0, false
}

// Judge is how local's data stands against the peer's, every correction
// applied, for a local read before the peer: Compare, then Unskew (a
// replica of local on local's current history holds nothing local lacks;
// localAddr is the address local's replicas name as their master), then
// Refine with what each side's stream since a fork holds (S11). raw is
// Compare's answer alone: some rules need to know that the histories
// forked even where the streams show one side holds everything.
func Judge(local, peer Facts, localAddr Addr, localStream, peerStream Writes) (rel, raw Relation) {
	raw = Compare(local, peer)
	return Refine(Unskew(raw, local, peer, localAddr), localStream, peerStream), raw
}

// Refine corrects a Successor or Predecessor relation with what each side's
// replication stream since the fork holds (S11). Offsets grow with key
// expiry, eviction and PINGs, so a node promoted during a blip that no
// client wrote to still looks like it went on; its stream shows it took
// nothing but deletions, and then the side that took writes holds
// everything it lacks. Unknown streams, or writes on both sides (a real
// split brain), leave the relation as it is.
func Refine(rel Relation, local, peer Writes) Relation {
	quiet := func(w Writes) bool { return w == WritesNone || w == WritesDeletesOnly }
	switch rel {
	case Successor:
		switch {
		case local == WritesNone && peer == WritesNone:
			return Same
		case quiet(local) && peer == WritesSome, local == WritesNone && peer == WritesDeletesOnly:
			return Behind
		}
	case Predecessor:
		switch {
		case local == WritesNone && peer == WritesNone:
			return Same
		case quiet(peer) && local == WritesSome, peer == WritesNone && local == WritesDeletesOnly:
			return Ahead
		}
	}
	return rel
}

package node

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
	}
	return "unknown"
}

// Compare says how a's data stands against b's, per DESIGN.md section 3:
// an empty node shares no history with anyone; two nodes share history when
// their replids match, or when one continued from the other's replid (replid2)
// at a point no earlier than the other's offset.
func Compare(a, b Facts) Relation {
	switch {
	case a.Empty() && b.Empty():
		return Same
	case b.Empty():
		return Ahead
	case a.Empty():
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
	}
	return Diverged
}

// AtLeastAsFresh reports whether x holds every write y holds, judged by their
// replication histories alone (emptiness is Compare's business).
func AtLeastAsFresh(x, y Facts) bool {
	if x.ReplID == "" || y.ReplID == "" {
		return false
	}
	if x.ReplID == y.ReplID {
		return x.ReplOffset >= y.ReplOffset
	}
	// x continued from y's history: y's last byte must come before the point
	// where x switched to its new replid.
	if x.ReplID2 == y.ReplID && x.SecondReplOffset > 0 {
		return y.ReplOffset < x.SecondReplOffset && x.ReplOffset >= y.ReplOffset
	}
	return false
}

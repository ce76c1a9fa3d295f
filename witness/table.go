package witness

import "time"

// Lease bounds, on both sides.
const (
	// MinLease is the shortest lease a client may ask for.
	MinLease = 100 * time.Millisecond
	// MaxMaxLease is the highest --max-lease a witness accepts.
	MaxMaxLease = 10 * time.Minute
	// DefaultMaxLease is the witness's --max-lease by default.
	DefaultMaxLease = 10 * time.Second
	// DefaultMaxPairs bounds how many pairs one witness tracks.
	DefaultMaxPairs = 10000
)

// Table is the witness's pure core: one lease per pair, time passed in.
// now is the witness's monotonic time since it started (the server passes
// time.Since(start)); a Table must be new at every start, because its whole
// safety across restarts rests on the grace: until now reaches the grace
// (the maximum lease), it grants nothing, so every lease an earlier run
// granted has expired before this run grants one. Not safe for concurrent
// use: the server serialises calls.
type Table struct {
	max      time.Duration // the longest grant
	grace    time.Duration // no grants before this; equal to max
	maxPairs int
	// seq is the last grant number handed out. A release names the grant
	// it ends, so numbers must not repeat across runs either: the server
	// starts it at a random point (NewTable at 0, for tests).
	seq    uint64
	leases map[string]*entry
}

type entry struct {
	holder string
	until  time.Duration // witness time the lease ends (exclusive)
	seq    uint64
}

// Answer is the Table's reply; the server puts it on the wire.
type Answer struct {
	Status Status
	Holder string        // the holder, "" for none
	D      time.Duration // granted: the duration; held: what is left; starting: the wait
	Seq    uint64        // the holder's grant number
	// Taken is true on a grant to a node that did not hold the lease
	// (not a renewal); for the log.
	Taken bool
	// Prev is who held the lease before this call changed it ("" if
	// nobody or unchanged); for the log.
	Prev string
}

// NewTable returns an empty table whose grants are at most maxLease and
// whose restart grace is maxLease. maxPairs bounds the pairs tracked at
// once (<= 0: DefaultMaxPairs).
func NewTable(maxLease time.Duration, maxPairs int) *Table {
	if maxPairs <= 0 {
		maxPairs = DefaultMaxPairs
	}
	return &Table{max: maxLease, grace: maxLease, maxPairs: maxPairs, leases: map[string]*entry{}}
}

// starting returns the answer during the restart grace, ok false after it.
func (t *Table) starting(now time.Duration) (Answer, bool) {
	if now < t.grace {
		return Answer{Status: StatusStarting, D: t.grace - now}, true
	}
	return Answer{}, false
}

// live returns the pair's lease if it has not expired at now.
func (t *Table) live(pair string, now time.Duration) *entry {
	e := t.leases[pair]
	if e == nil || now >= e.until {
		return nil
	}
	return e
}

// Acquire grants node the pair's lease for min(d, max) from now, or renews
// it when node holds it (a renewal never shortens it). Held by another
// node: StatusHeld with the holder and what it has left.
func (t *Table) Acquire(now time.Duration, pair, node string, d time.Duration) Answer {
	if a, ok := t.starting(now); ok {
		return a
	}
	d = min(d, t.max)
	e := t.live(pair, now)
	if e != nil && e.holder != node {
		return Answer{Status: StatusHeld, Holder: e.holder, D: e.until - now, Seq: e.seq}
	}
	prev, taken := "", e == nil
	if e == nil {
		if old := t.leases[pair]; old != nil {
			prev = old.holder // expired: for the log only
		} else if len(t.leases) >= t.maxPairs && !t.sweep(now) {
			return Answer{Status: StatusBusy}
		}
		e = &entry{holder: node}
		t.leases[pair] = e
	}
	t.seq++
	e.seq = t.seq
	e.until = max(e.until, now+d)
	if prev == node {
		prev = ""
	}
	return Answer{Status: StatusGranted, Holder: node, D: d, Seq: e.seq, Prev: prev, Taken: taken}
}

// Release ends node's grant seq of the pair. A grant node does not hold
// (expired, another's, never) is already released. A different grant of
// node's (a renewal since the one named) stays: StatusHeld with its number,
// so a release delayed on the network cannot end a later grant.
func (t *Table) Release(now time.Duration, pair, node string, seq uint64) Answer {
	if a, ok := t.starting(now); ok {
		return a
	}
	e := t.live(pair, now)
	switch {
	case e == nil || e.holder != node:
		return Answer{Status: StatusReleased}
	case e.seq != seq:
		return Answer{Status: StatusHeld, Holder: e.holder, D: e.until - now, Seq: e.seq}
	}
	delete(t.leases, pair)
	return Answer{Status: StatusReleased, Prev: node}
}

// Status says who holds the pair's lease and for how long.
func (t *Table) Status(now time.Duration, pair string) Answer {
	if a, ok := t.starting(now); ok {
		return a
	}
	e := t.live(pair, now)
	if e == nil {
		return Answer{Status: StatusFree}
	}
	return Answer{Status: StatusHeld, Holder: e.holder, D: e.until - now, Seq: e.seq}
}

// Len is the number of pairs tracked, expired ones included until swept.
func (t *Table) Len() int { return len(t.leases) }

// sweep forgets expired leases; it reports whether there is room now.
func (t *Table) sweep(now time.Duration) bool {
	for p, e := range t.leases {
		if now >= e.until {
			delete(t.leases, p)
		}
	}
	return len(t.leases) < t.maxPairs
}

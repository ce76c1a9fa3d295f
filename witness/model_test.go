package witness

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The model: two nodes, a witness and a network, driven by a seeded random
// schedule on one real-time axis. Each host's monotonic clock runs at its
// own rate; messages are delayed, reordered, lost, or late past the
// client's timeout; the witness crashes and restarts with an empty table.
// The clients reason exactly as Client does (view from the send time minus
// Margin, a late answer ignored, release by grant number), the witness is
// the real Table. The invariant: the intervals during which the two nodes
// believe they hold the lease never overlap.

// knobs break one defence each, to show the checker finds what it must.
type knobs struct {
	drift       float64                           // clock rates in [1-drift, 1+drift]
	margin      func(time.Duration) time.Duration // the client's margin
	fromReceipt bool                              // view counted from the answer's arrival
	noGrace     bool                              // a restarted witness grants at once
	releaseAny  bool                              // a release ends whatever grant the node holds
	seqFromOne  bool                              // every witness run numbers grants from 1
}

var safe = knobs{drift: 0.0049, margin: Margin}

const (
	simMax     = 2 * time.Second        // the witness's max lease (and grace)
	simTimeout = 800 * time.Millisecond // the client's timeout
)

type interval struct{ from, to time.Duration }

type simClient struct {
	name     string
	rate     float64
	waiting  bool
	reqID    int
	op       Op
	sentAt   time.Duration // real time
	deadline time.Duration // real time
	tries    int           // release retries
	lastSeq  uint64
	beliefs  []interval
	grants   int
}

type simMsg struct {
	at        time.Duration
	toWitness bool
	inc       int // the witness run the request's connection reached
	client    int
	reqID     int
	op        Op
	d         time.Duration
	seq       uint64
	ans       Answer
}

type sim struct {
	k       knobs
	r       *rand.Rand
	seqs    *rand.Rand // the witness's random start of grant numbers
	now     time.Duration
	clients [2]*simClient
	msgs    []simMsg
	nextID  int
	// the witness
	up    bool
	inc   int
	start time.Duration
	rate  float64
	table *Table
	trace []string
	moves int
}

func newSim(seed uint64, k knobs) *sim {
	s := &sim{k: k, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seqs: rand.New(rand.NewPCG(seed, 1))}
	for i, n := range []string{"a", "b"} {
		s.clients[i] = &simClient{name: n, rate: s.rate1()}
	}
	// Start as if the witness has run for a while (no grace at first),
	// unless the schedule restarts it.
	s.restart()
	s.start = -simMax - time.Duration(s.r.IntN(int(simMax)))
	return s
}

func (s *sim) rate1() float64 { return 1 + s.k.drift*(2*s.r.Float64()-1) }

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%12s ", s.now)+fmt.Sprintf(format, args...))
}

func (s *sim) restart() {
	s.up, s.inc, s.start, s.rate = true, s.inc+1, s.now, s.rate1()
	s.table = NewTable(simMax, 0)
	if s.k.noGrace {
		s.table.grace = 0
	}
	if !s.k.seqFromOne {
		s.table.seq = s.seqs.Uint64() >> 1 // as NewServer does
	}
}

func (s *sim) witnessNow() time.Duration {
	return time.Duration(float64(s.now-s.start) * s.rate)
}

// delay draws a network delay: mostly short, sometimes very long.
func (s *sim) delay() time.Duration {
	if s.r.IntN(10) == 0 {
		return time.Duration(s.r.Int64N(int64(3 * time.Second)))
	}
	return time.Duration(s.r.Int64N(int64(30 * time.Millisecond)))
}

func (s *sim) send(ci int, op Op, d time.Duration, seq uint64) {
	c := s.clients[ci]
	s.nextID++
	c.waiting, c.reqID, c.op, c.sentAt = true, s.nextID, op, s.now
	c.deadline = s.now + time.Duration(float64(simTimeout)/c.rate)
	s.logf("%s sends %s d=%s seq=%d", c.name, op, d, seq)
	if s.r.IntN(12) == 0 || !s.up {
		s.logf("  request lost")
		return
	}
	s.msgs = append(s.msgs, simMsg{at: s.now + s.delay(), toWitness: true, inc: s.inc, client: ci, reqID: s.nextID, op: op, d: d, seq: seq})
}

// release: the node stops believing at once, then tells the witness.
func (s *sim) release(ci int) {
	c := s.clients[ci]
	for i := range c.beliefs {
		c.beliefs[i].to = min(c.beliefs[i].to, s.now)
	}
	c.tries = 0
	s.send(ci, OpRelease, 0, c.lastSeq)
}

func (s *sim) deliver(m simMsg) {
	if m.toWitness {
		if !s.up || m.inc != s.inc {
			s.logf("request of %s lost with the witness run", s.clients[m.client].name)
			return
		}
		now := s.witnessNow()
		var a Answer
		switch m.op {
		case OpAcquire:
			a = s.table.Acquire(now, "p", s.clients[m.client].name, m.d)
			if a.Status == StatusGranted && a.Taken {
				s.moves++
			}
		case OpRelease:
			seq := m.seq
			if e := s.table.leases["p"]; s.k.releaseAny && e != nil {
				seq = e.seq
			}
			a = s.table.Release(now, "p", s.clients[m.client].name, seq)
		}
		s.logf("witness(t=%s) %s from %s -> %s holder=%s d=%s seq=%d", now, m.op, s.clients[m.client].name, a.Status, a.Holder, a.D, a.Seq)
		if s.r.IntN(12) == 0 {
			s.logf("  answer lost")
			return
		}
		s.msgs = append(s.msgs, simMsg{at: s.now + s.delay(), client: m.client, reqID: m.reqID, op: m.op, ans: a})
		return
	}
	c := s.clients[m.client]
	if !c.waiting || c.reqID != m.reqID {
		s.logf("%s ignores a late answer", c.name)
		return
	}
	c.waiting = false
	a := m.ans
	switch {
	case m.op == OpAcquire && a.Status == StatusGranted:
		c.lastSeq = a.Seq
		c.grants++
		var end time.Duration
		local := float64(c.sentAt) * c.rate
		if s.k.fromReceipt {
			local = float64(s.now) * c.rate
		}
		end = time.Duration((local + float64(a.D-s.k.margin(a.D))) / c.rate)
		if end > s.now {
			c.beliefs = append(c.beliefs, interval{s.now, end})
		}
		s.logf("%s holds until %s", c.name, end)
	case m.op == OpRelease && a.Status == StatusHeld && a.Holder == c.name && c.tries == 0:
		c.tries++
		s.send(m.client, OpRelease, 0, a.Seq)
	}
}

// advance moves real time by dt, delivering messages and timeouts in order.
func (s *sim) advance(dt time.Duration) {
	target := s.now + dt
	for {
		next, idx := target, -1
		for i, m := range s.msgs {
			if m.at <= next {
				next, idx = m.at, i
			}
		}
		for _, c := range s.clients {
			if c.waiting && c.deadline <= next {
				next, idx = c.deadline, -2
			}
		}
		s.now = max(s.now, next)
		switch idx {
		case -1:
			return
		case -2:
			for _, c := range s.clients {
				if c.waiting && c.deadline <= s.now {
					c.waiting = false
					s.logf("%s times out", c.name)
				}
			}
		default:
			m := s.msgs[idx]
			s.msgs = append(s.msgs[:idx], s.msgs[idx+1:]...)
			s.deliver(m)
		}
	}
}

func (s *sim) run(steps int) {
	for range steps {
		ci := s.r.IntN(2)
		c := s.clients[ci]
		switch x := s.r.IntN(100); {
		case x < 40:
			s.advance(time.Duration(s.r.Int64N(int64(simMax / 2))))
		case x < 75:
			if !c.waiting {
				d := MinLease + time.Duration(s.r.Int64N(int64(simMax+simMax/2)))
				s.send(ci, OpAcquire, d, 0)
			}
		case x < 85:
			if !c.waiting {
				s.release(ci)
			}
		case x < 90:
			if s.up {
				s.up = false
				s.logf("witness crashes")
			} else {
				s.restart()
				s.logf("witness restarts")
			}
		case x < 92:
			if s.up {
				s.restart()
				s.logf("witness restarts at once")
			}
		}
	}
	s.advance(10 * simMax)
}

// overlap returns a pair of overlapping belief intervals, if any.
func (s *sim) overlap() (interval, interval, bool) {
	for _, x := range s.clients[0].beliefs {
		for _, y := range s.clients[1].beliefs {
			if x.from < y.to && y.from < x.to {
				return x, y, true
			}
		}
	}
	return interval{}, interval{}, false
}

func TestModelNeverTwoHolders(t *testing.T) {
	seeds, steps := 3000, 300
	if testing.Short() {
		seeds = 300
	}
	// WITNESS_MODEL_SEEDS=100000 for a longer search.
	if n, err := strconv.Atoi(os.Getenv("WITNESS_MODEL_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	var grants [2]int
	moves := 0
	for seed := range uint64(seeds) {
		s := newSim(seed, safe)
		s.run(steps)
		if x, y, bad := s.overlap(); bad {
			t.Fatalf("seed %d: a believes %v and b believes %v at once; trace:\n%s", seed, x, y, strings.Join(s.trace, "\n"))
		}
		grants[0] += s.clients[0].grants
		grants[1] += s.clients[1].grants
		moves += s.moves
	}
	// Not vacuous: both nodes held the lease, and it moved often.
	if grants[0] < seeds || grants[1] < seeds || moves < seeds {
		t.Fatalf("the schedules exercised too little: grants %v, moves %d over %d seeds", grants, moves, seeds)
	}
	t.Logf("%d schedules: grants a=%d b=%d, lease taken %d times", seeds, grants[0], grants[1], moves)
}

// Each defence is needed: without it the same schedules find two holders.
func TestModelFindsBrokenDefences(t *testing.T) {
	noMargin := func(time.Duration) time.Duration { return 0 }
	cases := []struct {
		name string
		k    knobs
	}{
		{"no restart grace", knobs{drift: safe.drift, margin: Margin, noGrace: true}},
		{"view counted from the answer", knobs{drift: safe.drift, margin: noMargin, fromReceipt: true}},
		{"release of any grant", knobs{drift: safe.drift, margin: Margin, releaseAny: true}},
		{"no margin with drifting clocks", knobs{drift: 0.05, margin: noMargin}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(3000) {
				s := newSim(seed, tc.k)
				s.run(300)
				if _, _, bad := s.overlap(); bad {
					t.Logf("found at seed %d", seed)
					return
				}
			}
			t.Fatal("3000 schedules found no two holders: the model does not exercise this defence")
		})
	}
}

// Seed 5636 of the first 200,000 found two holders when every witness run
// numbered its grants from 1: b kept grant number 1 of an earlier run, its
// release naming it was delayed past a restart and b's new grant, which
// the new run had numbered 1 too; the release ended it and a took the
// lease while b believed it held it.
func TestModelSeqRepeatedAcrossRuns(t *testing.T) {
	broken := safe
	broken.seqFromOne = true
	s := newSim(5636, broken)
	s.run(300)
	if _, _, bad := s.overlap(); !bad {
		t.Fatal("seed 5636 no longer reproduces the repeated grant number: find another seed")
	}
	s = newSim(5636, safe)
	s.run(300)
	if x, y, bad := s.overlap(); bad {
		t.Fatalf("a believes %v and b believes %v at once; trace:\n%s", x, y, strings.Join(s.trace, "\n"))
	}
}

package witness

import (
	"strconv"
	"testing"
	"time"
)

const sec = time.Second

// step is one call on a table and the answer it must give.
type step struct {
	at   time.Duration
	op   Op
	node string
	d    time.Duration // acquire
	seq  uint64        // release
	want Answer        // Prev and Taken are not compared
}

func runSteps(t *testing.T, tb *Table, steps []step) {
	t.Helper()
	for i, s := range steps {
		var got Answer
		switch s.op {
		case OpAcquire:
			got = tb.Acquire(s.at, "p", s.node, s.d)
		case OpRelease:
			got = tb.Release(s.at, "p", s.node, s.seq)
		case OpStatus:
			got = tb.Status(s.at, "p")
		}
		got.Prev, got.Taken = "", false
		if got != s.want {
			t.Fatalf("step %d (%s %s at %s): got %+v, want %+v", i, s.op, s.node, s.at, got, s.want)
		}
	}
}

func TestTable(t *testing.T) {
	g := 10 * sec // max lease and grace
	granted := func(node string, d time.Duration, seq uint64) Answer {
		return Answer{Status: StatusGranted, Holder: node, D: d, Seq: seq}
	}
	held := func(node string, left time.Duration, seq uint64) Answer {
		return Answer{Status: StatusHeld, Holder: node, D: left, Seq: seq}
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"grace refuses everything, then grants", []step{
			{at: 0, op: OpAcquire, node: "a", d: sec, want: Answer{Status: StatusStarting, D: g}},
			{at: 4 * sec, op: OpStatus, want: Answer{Status: StatusStarting, D: 6 * sec}},
			{at: 9 * sec, op: OpRelease, node: "a", want: Answer{Status: StatusStarting, D: sec}},
			{at: g - 1, op: OpAcquire, node: "b", d: sec, want: Answer{Status: StatusStarting, D: 1}},
			{at: g, op: OpAcquire, node: "b", d: sec, want: granted("b", sec, 1)},
		}},
		{"one holder; the other waits for expiry", []step{
			{at: g, op: OpAcquire, node: "a", d: 3 * sec, want: granted("a", 3*sec, 1)},
			{at: g + sec, op: OpAcquire, node: "b", d: 3 * sec, want: held("a", 2*sec, 1)},
			{at: g + 3*sec - 1, op: OpAcquire, node: "b", d: 3 * sec, want: held("a", 1, 1)},
			{at: g + 3*sec, op: OpAcquire, node: "b", d: 3 * sec, want: granted("b", 3*sec, 2)},
			{at: g + 4*sec, op: OpStatus, want: held("b", 2*sec, 2)},
			{at: g + 6*sec, op: OpStatus, want: Answer{Status: StatusFree}},
		}},
		{"renewal extends, never shortens", []step{
			{at: g, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 1)},
			{at: g + sec, op: OpAcquire, node: "a", d: sec, want: granted("a", sec, 2)},
			{at: g + 3*sec, op: OpAcquire, node: "b", d: sec, want: held("a", 2*sec, 2)},
			{at: g + 4*sec, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 3)},
			{at: g + 8*sec, op: OpAcquire, node: "b", d: sec, want: held("a", sec, 3)},
		}},
		{"grants are capped at the maximum", []step{
			{at: g, op: OpAcquire, node: "a", d: time.Hour, want: granted("a", g, 1)},
			{at: 2*g - 1, op: OpStatus, want: held("a", 1, 1)},
		}},
		{"release by the holder frees it at once", []step{
			{at: g, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 1)},
			{at: g + sec, op: OpRelease, node: "a", seq: 1, want: Answer{Status: StatusReleased}},
			{at: g + sec, op: OpAcquire, node: "b", d: 5 * sec, want: granted("b", 5*sec, 2)},
		}},
		{"release of an older grant keeps the newer one", []step{
			{at: g, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 1)},
			{at: g + sec, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 2)},
			{at: g + 2*sec, op: OpRelease, node: "a", seq: 1, want: held("a", 4*sec, 2)},
			{at: g + 2*sec, op: OpAcquire, node: "b", d: 5 * sec, want: held("a", 4*sec, 2)},
			{at: g + 2*sec, op: OpRelease, node: "a", seq: 2, want: Answer{Status: StatusReleased}},
		}},
		{"release by another node or of nothing changes nothing", []step{
			{at: g, op: OpRelease, node: "a", seq: 0, want: Answer{Status: StatusReleased}},
			{at: g, op: OpAcquire, node: "a", d: 5 * sec, want: granted("a", 5*sec, 1)},
			{at: g + sec, op: OpRelease, node: "b", seq: 1, want: Answer{Status: StatusReleased}},
			{at: g + sec, op: OpStatus, want: held("a", 4*sec, 1)},
			{at: g + 5*sec, op: OpRelease, node: "a", seq: 1, want: Answer{Status: StatusReleased}},
		}},
		{"an expired holder asks again", []step{
			{at: g, op: OpAcquire, node: "a", d: sec, want: granted("a", sec, 1)},
			{at: g + 2*sec, op: OpAcquire, node: "a", d: sec, want: granted("a", sec, 2)},
			{at: g + 2*sec, op: OpAcquire, node: "b", d: sec, want: held("a", sec, 2)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, NewTable(g, 0), tc.steps) })
	}
}

func TestTableLogFields(t *testing.T) {
	tb := NewTable(sec, 0)
	if a := tb.Acquire(sec, "p", "a", sec); !a.Taken || a.Prev != "" {
		t.Fatalf("first grant: %+v", a)
	}
	if a := tb.Acquire(sec+1, "p", "a", sec); a.Taken || a.Prev != "" {
		t.Fatalf("renewal: %+v", a)
	}
	if a := tb.Acquire(3*sec, "p", "b", sec); !a.Taken || a.Prev != "a" {
		t.Fatalf("move: %+v", a)
	}
	if a := tb.Release(3*sec, "p", "b", 3); a.Prev != "b" {
		t.Fatalf("release: %+v", a)
	}
}

func TestTableManyPairs(t *testing.T) {
	const n = 2000
	tb := NewTable(sec, n)
	now := sec
	for i := range n {
		if a := tb.Acquire(now, pairName(i), "a", sec); a.Status != StatusGranted {
			t.Fatalf("pair %d: %+v", i, a)
		}
	}
	if a := tb.Acquire(now, "one-too-many", "a", sec); a.Status != StatusBusy {
		t.Fatalf("full table granted: %+v", a)
	}
	// The pairs already tracked still work when full.
	if a := tb.Acquire(now, pairName(7), "a", sec); a.Status != StatusGranted {
		t.Fatalf("renewal in a full table: %+v", a)
	}
	// Expired leases make room.
	now += 2 * sec
	if a := tb.Acquire(now, "one-too-many", "a", sec); a.Status != StatusGranted || tb.Len() != 1 {
		t.Fatalf("after expiry: %+v, %d pairs", a, tb.Len())
	}
}

func pairName(i int) string { return "pair-" + strconv.Itoa(i) }

package torture

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// sliceCase is one fixed schedule: a seed, its mode and its fault count.
type sliceCase struct {
	seed   uint64
	mode   string
	faults int
	what   string
}

// slice is what `make test` runs: a few fixed seeds that pass against the
// current binary, so a new failure is a regression. PROVISIONAL: chosen
// while the safety core is being rewritten; the lead picks the final seeds.
var slice = []sliceCase{
	{seed: 10, mode: "hooks", faults: 3, what: "hooks with delays, duplicates, drops and kills; AOF"},
	{seed: 13, mode: "fifo", faults: 3, what: "notify FIFO"},
}

// TestTortureSlice runs the fixed slice (make test). Each schedule takes
// 20-70 s; the convergence bound is 40 s after the last fault is healed.
func TestTortureSlice(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the torture slice starts real servers for about a minute per seed")
	}
	runCases(t, slice)
}

// regression is a failing seed found by the suite, kept as a named test.
type regression struct {
	name string
	sliceCase
	// skip is why it is skipped until the fix lands ("" runs it).
	skip string
}

// regressions are seeds that found violations against the binary of their
// day. Each runs when its skip reason is cleared, or with -torture.regressions.
var regressions = []regression{
	{name: "BusyPeerPromotedAlone", skip: "S9 fix pending (issue 9, class 1/4)",
		sliceCase: sliceCase{seed: 11, mode: "fifo", faults: 3,
			what: "-BUSY master counted as unreachable: replica promoted alone, two masters never repaired, ~800 writes of the old master lost"}},
	{name: "GuardBacksUpAOFManifest", skip: "S6 fix pending (issue 9, class 3)",
		sliceCase: sliceCase{seed: 12, mode: "hooks", faults: 3,
			what: "AOF: guard's backup is the 88-byte manifest, which does not load"}},
}

func TestTortureRegressions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, r := range regressions {
		t.Run(r.name, func(t *testing.T) {
			if r.skip != "" && !*flags.regressions {
				t.Skipf("seed %d (%s): %s; skipped: %s (run with -args -torture.regressions)", r.seed, r.mode, r.what, r.skip)
			}
			runCases(t, []sliceCase{r.sliceCase})
		})
	}
}

func runCases(t *testing.T, cases []sliceCase) {
	redistest.Require(t)
	bin := binary(t)
	total, bad := 0, 0
	for _, c := range cases {
		o := defaultOptions(c.mode)
		o.Faults = c.faults
		out, err := runSchedule(context.Background(), bin, c.seed, o)
		if err != nil {
			t.Fatalf("seed %d: harness error: %v", c.seed, err)
		}
		total++
		bad += len(out.Violations)
		if len(out.Violations) > 0 {
			t.Errorf("seed %d (%s, %s):\n%s", c.seed, c.mode, c.what, out.report(false))
		} else {
			t.Logf("seed %d (%s): 0 violations in %s", c.seed, c.mode, out.Took.Round(1e9))
		}
	}
	fmt.Printf("%d schedules, %d violations\n", total, bad)
}

package torture

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// cliFlags are the suite's command-line knobs (go test ... -args -seed N).
// Test flags are registered on the test binary's flag set before it
// parses, which in Go means package level: the one exception to "no flags
// as package variables", as in the standard library's own -update flags.
type cliFlags struct {
	seed        *uint64
	start       *uint64
	schedules   *int
	duration    *time.Duration
	mode        *string
	faults      *int
	bound       *time.Duration
	verbose     *bool
	bin         *string
	regressions *bool
	list        *bool
	keep        *bool
}

var flags = cliFlags{
	seed:        flag.Uint64("seed", 0, "replay this one seed (0: none)"),
	start:       flag.Uint64("start", 0, "first seed of a run; seeds count up from it (0: derived from the clock, printed)"),
	schedules:   flag.Int("schedules", 0, "number of schedules (0: until -duration passes)"),
	duration:    flag.Duration("duration", 0, "run schedules until this much time has passed"),
	mode:        flag.String("mode", "mixed", "hooks, fifo, or mixed (seed parity picks)"),
	faults:      flag.Int("faults", 3, "faults per schedule"),
	bound:       flag.Duration("bound", 40*time.Second, "convergence bound after the last fault is healed (I2)"),
	verbose:     flag.Bool("torture.verbose", false, "print every schedule's timeline, not only failing ones"),
	bin:         flag.String("bin", "", "use this redis-vip binary instead of building cmd/redis-vip"),
	list:        flag.Bool("list", false, "print the schedules the seeds draw, without running them"),
	regressions: flag.Bool("torture.regressions", false, "run the regression seeds even while their fix is pending"),
	keep:        flag.Bool("torture.keep", false, "keep each schedule's directory (logs, journals, data) and print where"),
}

// binary is the redis-vip under test: -bin, or built once from this tree.
func binary(t *testing.T) string {
	if *flags.bin != "" {
		return *flags.bin
	}
	return redistest.Binary(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.RemoveBinary()
	os.Exit(code)
}

// defaultOptions are the stated bounds: keepalived's check every 500 ms
// with fall 2 / rise 2, advert_int 1 s, and I2 within Bound of the last
// fault's heal.
func defaultOptions(mode string) Options {
	return Options{Mode: mode, Faults: *flags.faults, Bound: *flags.bound, CheckInterval: 500 * time.Millisecond, SeedKeys: 200, Verbose: *flags.verbose, Keep: *flags.keep}
}

func modeFor(seed uint64, mode string) string {
	if mode == "mixed" {
		if seed%2 == 1 {
			return "fifo"
		}
		return "hooks"
	}
	return mode
}

// TestTorture runs randomized schedules: `make torture DURATION=30m`, or
// -args -seed N to replay one. Without -seed, -schedules or -duration it
// skips (make test runs TestTortureSlice instead).
func TestTorture(t *testing.T) {
	if *flags.seed == 0 && *flags.schedules == 0 && *flags.duration == 0 {
		t.Skip("no -seed, -schedules or -duration: the randomized run is `make torture` (TestTortureSlice is the fixed slice)")
	}
	redistest.Require(t)
	if *flags.mode != "hooks" && *flags.mode != "fifo" && *flags.mode != "mixed" {
		t.Fatalf("-mode %q: want hooks, fifo or mixed", *flags.mode)
	}
	bin := ""
	if !*flags.list {
		bin = binary(t)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var seeds func(i int) (uint64, bool)
	switch {
	case *flags.seed != 0:
		n := max(*flags.schedules, 1)
		seeds = func(i int) (uint64, bool) { return *flags.seed + uint64(i), i < n }
		fmt.Printf("torture: replaying seed %d (%d schedule(s))\n", *flags.seed, n)
	default:
		start := *flags.start
		if start == 0 {
			start = uint64(time.Now().Unix() % 1000000)
		}
		deadline := time.Now().Add(*flags.duration)
		n := *flags.schedules
		seeds = func(i int) (uint64, bool) {
			if n > 0 && i >= n {
				return 0, false
			}
			if *flags.duration > 0 && time.Now().After(deadline) {
				return 0, false
			}
			return start + uint64(i), true
		}
		fmt.Printf("torture: start seed %d, schedules %d, duration %s, mode %s\n", start, n, *flags.duration, *flags.mode)
	}
	total, bad := 0, 0
	var failing []uint64
	var sum classSummary
	for i := 0; ctx.Err() == nil; i++ {
		seed, ok := seeds(i)
		if !ok {
			break
		}
		if *flags.list {
			fmt.Println(drawSchedule(seed, modeFor(seed, *flags.mode), *flags.faults, catalogueLatest))
			continue
		}
		out, err := runSchedule(ctx, bin, seed, defaultOptions(modeFor(seed, *flags.mode)))
		if err != nil {
			t.Errorf("seed %d: harness error: %v", seed, err)
			continue
		}
		total++
		bad += len(out.Violations)
		if len(out.Violations) > 0 {
			failing = append(failing, seed)
		}
		sum.add(out)
		fmt.Print(out.report(*flags.verbose))
	}
	fmt.Print(sum)
	if len(failing) > 0 {
		fmt.Printf("failing seeds: %v\n", failing)
		t.Errorf("%d violations in %d schedules", bad, len(failing))
	}
	fmt.Printf("%d schedules, %d violations\n", total, bad)
}

// classSummary counts a run's schedules by fencing and partition class:
// how many ran each class, how many of those had violations, and the W3
// writes lost under each fencing configuration.
type classSummary struct {
	runs, failed map[string]int
	seeds        map[string][]uint64
	w3           map[string]int
	w3Latest     map[string]time.Duration
}

func (c *classSummary) add(o outcome) {
	if c.runs == nil {
		c.runs, c.failed, c.seeds = map[string]int{}, map[string]int{}, map[string][]uint64{}
		c.w3, c.w3Latest = map[string]int{}, map[string]time.Duration{}
	}
	seen := map[string]bool{}
	for _, cl := range o.Classes {
		if seen[cl] {
			continue
		}
		seen[cl] = true
		c.runs[cl]++
		if len(o.Violations) > 0 {
			c.failed[cl]++
			c.seeds[cl] = append(c.seeds[cl], o.Schedule.Seed)
		}
	}
	f := "fencing=" + o.Schedule.Fence.String()
	c.w3[f] += o.W3Lost
	c.w3Latest[f] = max(c.w3Latest[f], o.W3Latest)
}

func (c classSummary) String() string {
	var b strings.Builder
	classes := make([]string, 0, len(c.runs))
	for cl := range c.runs {
		classes = append(classes, cl)
	}
	sort.Strings(classes)
	fmt.Fprintf(&b, "partition classes (schedules that ran one; of them with violations):\n")
	for _, cl := range classes {
		fmt.Fprintf(&b, "  %-70s %3d; %d", cl, c.runs[cl], c.failed[cl])
		if len(c.seeds[cl]) > 0 {
			fmt.Fprintf(&b, " (seeds %v)", c.seeds[cl])
		}
		b.WriteString("\n")
	}
	fs := make([]string, 0, len(c.w3))
	for f := range c.w3 {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	for _, f := range fs {
		fmt.Fprintf(&b, "W3 writes lost with %s: %d (of those a link fault opened, the latest sent %s after it began)\n", f, c.w3[f], c.w3Latest[f].Round(time.Millisecond))
	}
	return b.String()
}

// Package bench holds benchmark commands that print figures; they run only
// when RV_BENCH=1 (make bench-check), never as timed assertions.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// sample is one process run: wall time and peak resident memory.
type sample struct{ wall time.Duration }

// measure times one run. Peak memory comes from GNU time (peakKB): a child
// started by Go inherits this test process's ru_maxrss across exec.
func measure(t *testing.T, name string, args ...string) sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return sample{wall: time.Since(start)}
}

// peakKB is the largest maximum resident set size GNU time reports over runs.
func peakKB(t *testing.T, runs int, name string, args ...string) int64 {
	t.Helper()
	var peak int64
	for i := 0; i < runs; i++ {
		out, err := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", "/dev/stdout", name}, args...)...).Output()
		if err != nil {
			t.Fatalf("time %s: %v", name, err)
		}
		lines := strings.Fields(string(out))
		kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			t.Fatalf("time %s output %q", name, out)
		}
		peak = max(peak, kb)
	}
	return peak
}

type stats struct{ median, p90 time.Duration }

func summarize(s []sample) stats {
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	return stats{median: s[len(s)/2].wall, p90: s[len(s)*9/10].wall}
}

func TestCheckCost(t *testing.T) {
	if os.Getenv("RV_BENCH") != "1" {
		t.Skip("benchmark: run with make bench-check")
	}
	for _, tool := range []string{"redis-cli", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
	a := redistest.Start(t, redistest.Options{})
	b := redistest.Start(t, redistest.Options{Args: []string{fmt.Sprintf("replicaof 127.0.0.1 %d", a.Port)}})
	bin := redistest.Binary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis-vip.yml")
	body := fmt.Sprintf("instances:\n  redis:\n    local: %s\n    announce: %s\n    peer: %s\n    state_dir: %s\n    backup_dir: %s\n",
		a.Addr(), a.Addr(), b.Addr(), filepath.Join(dir, "state"), filepath.Join(dir, "backups"))
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	const runs = 200
	type contender struct {
		label string
		name  string
		args  []string
	}
	port := fmt.Sprint(a.Port)
	contenders := []contender{
		{"redis-cli PING (bare)", "redis-cli", []string{"-p", port, "PING"}},
		{"redis_check.sh: redis-cli PING | grep PONG", "sh", []string{"-c", "redis-cli -p " + port + " PING | grep -q PONG"}},
		{"redis-vip check (local + peer, INFO x4 each)", bin, []string{"check", "--config", conf}},
	}
	results := make([][]sample, len(contenders))
	// Interleave the contenders so machine noise hits them alike.
	for i := 0; i < runs; i++ {
		for j, c := range contenders {
			results[j] = append(results[j], measure(t, c.name, c.args...))
		}
	}
	base := summarize(results[1])
	fmt.Printf("\nwhole-process cost over %d runs each (interleaved), loopback, Redis %s\n", runs, "7.0")
	fmt.Printf("%-48s %10s %10s %10s %12s\n", "command", "median", "p90", "peak RSS", "median ratio")
	for j, c := range contenders {
		s := summarize(results[j])
		peak := "n/a"
		if c.name != "sh" {
			peak = fmt.Sprintf("%d kB", peakKB(t, 20, c.name, c.args...))
		}
		fmt.Printf("%-48s %10s %10s %11s %11.2fx\n", c.label, s.median.Round(10*time.Microsecond), s.p90.Round(10*time.Microsecond), peak,
			float64(s.median)/float64(base.median))
	}
	fmt.Println("ratio: against the redis_check.sh pipeline (1.00x); below 1 is faster")
	fmt.Println("peak RSS: GNU time's maximum resident set size over 20 runs (the pipeline is several processes: n/a)")
}

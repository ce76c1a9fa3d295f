// Command bench-failover-builtin measures the failover of the built-in VRRP
// mode (`redis-vip run` on both hosts): for each run it builds a fresh lab
// in network namespaces, writes through the VIP, kills the master's
// redis-server with SIGKILL, and measures the write gap: from the kill to
// the first write acknowledged through the VIP by the new master. It prints
// every run and the median and worst gap.
//
//	sudo go run ./test/vrrpe2e/cmd/bench-failover-builtin -n 5
//
// Settings: VRRPv3, 100 ms adverts, health check every 100 ms with fall 2,
// priorities 150/100; the writer (test/writer's rv-writer) writes every
// 1 ms with 100 ms dial/command timeouts and 10 ms between retries.
// Needs root, ip, redis-server and redis-cli. Exit codes: 0 measured, 1 a
// run failed, 2 bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Run is one measured failover.
type Run struct {
	GapMS      int64  `json:"gap_ms"`
	VIPMovedMS int64  `json:"vip_moved_ms"`
	Lost       int    `json:"lost_beyond_crash_window"`
	LostWindow int    `json:"lost_in_crash_window"`
	Error      string `json:"error,omitempty"`
}

// Result is the whole benchmark.
type Result struct {
	Mode     string `json:"mode"`
	Runs     []Run  `json:"runs"`
	MedianMS int64  `json:"median_gap_ms"`
	WorstMS  int64  `json:"worst_gap_ms"`
	Settings string `json:"settings"`
}

const settings = "VRRPv3, advert_interval 100ms, check_interval 100ms, fall 2, priorities 150/100; writer every 1ms, 100ms timeouts, 10ms retry"

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-failover-builtin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 5, "number of runs")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "print lab progress")
	if err := fs.Parse(args); err != nil || *n < 1 || fs.NArg() > 0 {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bench-failover-builtin: needs root (network namespaces)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "rvt-bench-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, writerBin, err := netlab.Build(dir)
	if err != nil {
		fmt.Fprintf(stderr, "bench-failover-builtin: %v\n", err)
		return 1
	}
	logf := func(string, ...any) {}
	if *verbose {
		logf = func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	}
	res := Result{Mode: "built-in (redis-vip run)", Settings: settings}
	failed := false
	for i := 1; i <= *n && ctx.Err() == nil; i++ {
		r, err := once(ctx, i, dir, bin, writerBin, logf)
		if err != nil {
			r.Error = err.Error()
			failed = true
		}
		res.Runs = append(res.Runs, r)
		if !*asJSON {
			if err != nil {
				fmt.Fprintf(stdout, "run %d: FAILED: %v\n", i, err)
			} else {
				fmt.Fprintf(stdout, "run %d: write gap %d ms (VIP moved after %d ms; acknowledged writes lost: %d in the crash window, %d beyond)\n",
					i, r.GapMS, r.VIPMovedMS, r.LostWindow, r.Lost)
			}
		}
	}
	var gaps []int64
	for _, r := range res.Runs {
		if r.Error == "" {
			gaps = append(gaps, r.GapMS)
		}
	}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		res.MedianMS = median(gaps)
		res.WorstMS = gaps[len(gaps)-1]
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else if len(gaps) > 0 {
		fmt.Fprintf(stdout, "built-in mode (redis-vip run), kill -9 of the master's redis-server -> first acknowledged write through the VIP, %d runs: median %d ms, worst %d ms\n  (%s)\n",
			len(gaps), res.MedianMS, res.WorstMS, settings)
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func median(sorted []int64) int64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

// once builds a lab, fails the master's Redis over and measures.
func once(ctx context.Context, i int, dir, bin, writerBin string, logf func(string, ...any)) (Run, error) {
	var r Run
	runDir, err := os.MkdirTemp(dir, fmt.Sprintf("run%d-", i))
	if err != nil {
		return r, err
	}
	l, err := netlab.New(netlab.Options{Prefix: fmt.Sprintf("rvt-bench-%d-%d", os.Getpid(), i), Dir: runDir, Bin: bin, Writer: writerBin, Logf: logf})
	if err != nil {
		return r, err
	}
	defer l.Close()
	h1, h2 := l.Hosts[0], l.Hosts[1]
	step := func(err error) error {
		if err == nil {
			err = ctx.Err()
		}
		return err
	}
	if err := step(l.Pair(netlab.RunVRRP(150, nil), netlab.RunVRRP(100, nil))); err != nil {
		return r, err
	}
	if err := step(errors.Join(h1.StartRun(), h2.StartRun())); err != nil {
		return r, err
	}
	if err := step(netlab.WaitFor(5*time.Second, "h1 holding the VIP", func() bool { return l.Holder() == "h1" })); err != nil {
		return r, err
	}
	key := "bench"
	w, err := l.StartWriter(time.Minute, "--key", key)
	if err != nil {
		return r, err
	}
	if err := step(netlab.WaitFor(10*time.Second, "writes on h1", func() bool { return h1.LLen(key) > 500 })); err != nil {
		return r, err
	}
	killAt := h1.KillRedis()
	if err := step(netlab.WaitFor(10*time.Second, "the VIP on h2", func() bool { return l.Holder() == "h2" })); err != nil {
		return r, err
	}
	r.VIPMovedMS = time.Since(killAt).Milliseconds()
	if err := step(netlab.WaitFor(10*time.Second, "writes on h2", func() bool { return h2.Role() == "master" && h2.LLen(key) > 0 })); err != nil {
		return r, err
	}
	base := h2.LLen(key)
	if err := step(netlab.WaitFor(10*time.Second, "writes resuming on h2", func() bool { return h2.LLen(key) > base+200 })); err != nil {
		return r, err
	}
	if err := w.Stop(); err != nil {
		return r, err
	}
	first, _, ok := w.FirstAckAfter(killAt, h2.IP.String())
	if !ok {
		return r, errors.New("no write acknowledged by the new master after the kill")
	}
	r.GapMS = first.Sub(killAt).Milliseconds()
	inWindow, beyond, err := w.SplitLost(h2, h1, killAt)
	if err != nil {
		return r, err
	}
	r.LostWindow, r.Lost = len(inWindow), len(beyond)
	if r.Lost > 0 {
		return r, fmt.Errorf("%d acknowledged writes lost beyond the crash window", r.Lost)
	}
	return r, nil
}

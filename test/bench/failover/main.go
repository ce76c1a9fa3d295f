// Command failover is `make bench-failover`: it builds each way of running
// a two-node Redis pair in network namespaces on this machine, one after
// the other, injects the same faults into each while a client writes, and
// prints one table of the longest write gap the client saw and the
// acknowledged writes lost.
//
// Setups (rows):
//   - Sentinel + HAProxy, the baseline: Debian's redis-sentinel (three
//     sentinels, quorum 2, down-after 3000 ms) and HAProxy on the client
//     host with the classic tcp-check for role:master every 3 s;
//   - keepalived with the seed's shell scripts (redis-cli PING | grep PONG;
//     SLAVEOF peer; sleep 10; SLAVEOF NO ONE), the set-up redis-vip replaces;
//   - redis-vip with keepalived and the shipped packaging/keepalived
//     configs, notify hooks and notify FIFO variants (test/lab, the lab of the end-to-end tests);
//   - redis-vip `run`, the built-in VRRP mode (100 ms adverts and checks).
//
// Faults (columns): kill -9 of the master's Redis; SIGSTOP of the master's
// Redis, SIGCONT after -hang; a planned move of the master role; failback
// (the killed master's Redis returns and, where the setup preempts, takes
// the role back).
//
// The client is test/writer's rv-writer in the client namespace: a write
// every 1 ms through the VIP (through HAProxy for Sentinel), 150 ms dial
// and command timeouts, reconnecting after every failure. A fault's gap is
// the longest stretch without an acknowledged write from the fault on;
// lost is the acknowledged writes missing from the final master, plus any
// write of an earlier trial that this fault's recovery removed.
//
// Nothing here asserts a time: the command prints figures. Every wait is
// bounded; the whole run is bounded by -max; every namespace and process
// it made is removed at the end, also after a failure or a signal.
//
//	sudo go run ./test/bench/failover -n 5          (make bench-failover RUNS=5)
//
// -setups and -faults pick rows and columns (scripts/bench-failover.sh -n 5
// -setups run -faults kill: the built-in mode's kill -9 alone; the killed
// master's Redis still returns after each run, by failback where the setup
// preempts).
//
// Needs root, ip, redis-server, redis-sentinel, haproxy, keepalived.
// Exit codes: 0 printed the table, 1 failed before it could, 2 bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// env is what every setup needs from the command line.
type env struct {
	repo, bin, writer string
	// dir holds every lab's files; prefix starts every namespace name.
	dir, prefix string
	debugf      func(string, ...any)
	builds      map[string]int
}

// labDir returns a fresh directory for the next build of setup id (a
// rebuilt lab never sees the files of the one before).
func (e *env) labDir(id string) (string, error) {
	if e.builds == nil {
		e.builds = map[string]int{}
	}
	e.builds[id]++
	d := filepath.Join(e.dir, fmt.Sprintf("%s-%d", id, e.builds[id]))
	return d, os.MkdirAll(d, 0o755)
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

var allSetups = []string{"sentinel", "seed", "ka-hooks", "ka-fifo", "run"}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("n", 5, "runs of every fault in every setup")
	only := fs.String("setups", strings.Join(allSetups, ","), "setups to run, in order (the first is the baseline of the ratio column)")
	onlyFaults := fs.String("faults", strings.Join(faultID[:], ","), "faults to run (columns), e.g. kill: the others are left out of the table; the killed master's Redis still returns after each kill -9")
	hang := fs.Duration("hang", 8*time.Second, "how long the master's Redis stays SIGSTOPped")
	clientTimeout := fs.Duration("client-timeout", 150*time.Millisecond, "the client's bound on each dial and command (the floor of a gap when a request is in flight at the move)")
	recoverIn := fs.Duration("recover", 60*time.Second, "bound on the wait for the pair to settle after a fault")
	maxTotal := fs.Duration("max", 0, "bound on the whole run (0: 6 min + 6 min per run)")
	kaPreempt := fs.Bool("ka-preempt", false, "also run the keepalived setups with the lab's preempt variant (lab.Options.Preempt, rv-lab -preempt)")
	repo := fs.String("repo", ".", "repository root (packaging/)")
	bin := fs.String("bin", "", "redis-vip binary (built before any timing starts)")
	writerBin := fs.String("writer", "", "rv-writer binary")
	verbose := fs.Bool("v", false, "print lab details on stderr")
	keep := fs.Bool("keep", false, "keep the labs' files (configs, logs, journals) after the run and print where")
	command := fs.String("command", "", "the command line to print under the table")
	if err := fs.Parse(args); err != nil || *runs < 1 || fs.NArg() > 0 || *bin == "" || *writerBin == "" {
		if err == nil {
			fmt.Fprintln(stderr, "usage: failover -bin redis-vip -writer rv-writer [-n RUNS] [-setups a,b] [-hang 8s] [-max 40m]")
		}
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bench-failover: needs root (network namespaces)")
		return 2
	}
	for _, tool := range []string{"ip", "redis-server", "redis-cli", "redis-sentinel", "haproxy", "keepalived"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(stderr, "bench-failover: %s not found (scripts/install-deps.sh installs it)\n", tool)
			return 1
		}
	}
	var ids []string
	for _, id := range strings.Split(*only, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if !slices.Contains(allSetups, id) {
			fmt.Fprintf(stderr, "bench-failover: unknown setup %q (have %s)\n", id, strings.Join(allSetups, ", "))
			return 2
		}
		ids = append(ids, id)
	}
	var run [numFaults]bool
	for _, id := range strings.Split(*onlyFaults, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		f := slices.Index(faultID[:], id)
		if f < 0 {
			fmt.Fprintf(stderr, "bench-failover: unknown fault %q (have %s)\n", id, strings.Join(faultID[:], ", "))
			return 2
		}
		run[f] = true
	}
	if run == [numFaults]bool{} {
		fmt.Fprintln(stderr, "bench-failover: -faults names no fault")
		return 2
	}
	if *maxTotal == 0 {
		*maxTotal = 6*time.Minute + time.Duration(*runs)*6*time.Minute
	}
	started := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxTotal)
	defer cancel()

	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	e := &env{repo: abs(*repo), bin: abs(*bin), writer: abs(*writerBin),
		prefix: fmt.Sprintf("rvbf%d-", os.Getpid()), debugf: func(string, ...any) {}}
	if *verbose {
		e.debugf = func(f string, a ...any) { fmt.Fprintf(stderr, "  "+f+"\n", a...) }
	}
	dir, err := os.MkdirTemp("", "rvbf-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_ = os.Chmod(dir, 0o755) // the keepalived script user reads the lab dirs
	e.dir = dir
	defer func() {
		if *keep {
			fmt.Fprintf(stderr, "bench-failover: the labs' files are in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	// Whatever happens, nothing of this run stays behind.
	defer func() {
		for _, ns := range namespacesWithPrefix(e.prefix) {
			_ = netlab.RemoveNamespace(ns)
		}
	}()

	b := &bench{env: e, runs: *runs, faults: run, hang: *hang, recover: *recoverIn, clientTimeout: *clientTimeout, started: started, stderr: stderr}
	var rows []row
	var setups []setup
	for _, id := range ids {
		setups = append(setups, newSetup(id, e, false))
		if *kaPreempt && strings.HasPrefix(id, "ka-") {
			setups = append(setups, newSetup(id, e, true))
		}
	}
	for _, s := range setups {
		rows = append(rows, b.runSetup(ctx, s))
	}
	elapsed := time.Since(started).Round(time.Second)
	b.logf("done in %s", elapsed)

	cmd := *command
	if cmd == "" {
		cmd = "failover " + strings.Join(args, " ")
	}
	fmt.Fprint(stdout, report(rows, ids[0], b, cmd, elapsed, ctx.Err()))
	return 0
}

func newSetup(id string, e *env, preempt bool) setup {
	switch id {
	case "sentinel":
		return &sentinelSetup{baseLab: baseLab{env: e}}
	case "seed":
		return &seedSetup{baseLab: baseLab{env: e}}
	case "ka-hooks":
		return &kaSetup{notify: "hooks", env: e, preempt: preempt}
	case "ka-fifo":
		return &kaSetup{notify: "fifo", env: e, preempt: preempt}
	case "run":
		return &runSetup{env: e}
	}
	panic("unknown setup " + id)
}

// report is everything printed on stdout: the table, the knobs, the notes
// and the command.
func report(rows []row, baseline string, b *bench, cmd string, elapsed time.Duration, ctxErr error) string {
	var w strings.Builder
	fmt.Fprintf(&w, "Longest write gap seen by a client and acknowledged writes lost, %d run(s) of each fault (one writer: a write every 1 ms, %s timeouts)\n\n", b.runs, fmtDur(b.clientTimeout))
	w.WriteString(renderTable(rows, baseline, b.runs, b.hang))
	w.WriteString("\nmedian / worst: longest stretch without an acknowledged write, from the fault until the pair settled;\n")
	w.WriteString("lost: acknowledged writes missing from the final master, summed over the runs; vs S+H: median / Sentinel + HAProxy's median.\n")
	if b.faults[faultHang] {
		fmt.Fprintf(&w, "SIGSTOP: the master's redis-server is stopped for %s, then continued; the gap runs until the pair settled after SIGCONT.\n", fmtDur(b.hang))
	}
	fmt.Fprintf(&w, "A gap of about %s is this client's floor: a request (or a connect) in flight when the VIP moves gets no answer, so it\n", fmtDur(b.clientTimeout+10*time.Millisecond))
	fmt.Fprintf(&w, "waits out its %s timeout and 10 ms more before it tries again (-client-timeout changes it).\n", fmtDur(b.clientTimeout))
	unsettled := false
	for _, r := range rows {
		for f := fault(0); f < numFaults; f++ {
			unsettled = unsettled || statsOf(r.samples[f]).unsettled > 0
		}
	}
	if unsettled {
		w.WriteString("*: in at least one run the pair did not settle by itself (one master, its peer replicating it, clients routed to it) within the bound; see the notes.\n")
	}
	w.WriteString("\nWhat bounds the figures:\n")
	for _, r := range rows {
		for _, k := range r.knobs {
			fmt.Fprintf(&w, "  %s: %s\n", r.name, k)
		}
	}
	w.WriteString("\nNotes:\n")
	for _, r := range rows {
		for f := fault(0); f < numFaults; f++ {
			if r.na[f] != "" && r.na[f] != notRun {
				fmt.Fprintf(&w, "  %s, %s: - (%s)\n", r.name, faultID[f], r.na[f])
			}
			if r.earlier[f] > 0 {
				fmt.Fprintf(&w, "  %s, %s: %d of the lost writes were acknowledged in an earlier trial and removed by this fault's recovery\n", r.name, faultID[f], r.earlier[f])
			}
		}
		for _, n := range r.notes {
			fmt.Fprintf(&w, "  %s: %s\n", r.name, n)
		}
	}
	if ctxErr != nil {
		fmt.Fprintf(&w, "  stopped early: %v (cells with n= are short)\n", ctxErr)
	}
	fmt.Fprintf(&w, "\nCommand: %s\nTook %s on %s (%d CPUs).\n", cmd, elapsed, hostName(), numCPU())
	return w.String()
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}

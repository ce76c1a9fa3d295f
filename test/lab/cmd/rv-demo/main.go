// Command rv-demo is `make demo`: redis-vip in one minute, on this machine.
//
// It builds two Redis hosts with keepalived and redis-vip in network
// namespaces (package test/lab, the lab the end-to-end tests use, with the
// shipped keepalived configurations), has a client write numbered entries
// through the virtual IP, kills the master's Redis with kill -9, and shows
// that the VIP moved to the other host and that no acknowledged write was
// lost. It tears everything down at the end, also on failure, SIGINT or
// SIGTERM, and exits 1 when a check failed. Needs root (namespaces), Go,
// redis-server and keepalived (make demo installs them first).
//
//	sudo go run ./test/lab/cmd/rv-demo [-dir /tmp/redis-vip-demo] [-prefix rvdemo]
//
// Its namespaces are PREFIX-h1, -h2, -w, -c and -br (default prefix rvdemo,
// env LAB_PREFIX): neither a test run's (rvt-, rvtest-e2e-) nor the
// operators' lab's (rv, make lab). The lab dir (env LAB_DIR) is removed at
// the end unless a check failed: then it keeps the logs and says where.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/cmd/internal/labcmd"
	"github.com/redis-vip/redis-vip/test/writer"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// out prints the demo's lines: steps in bold, indented text, PASS and FAIL.
type out struct {
	w        io.Writer
	color    bool
	failures int
}

func (o *out) esc(code, s string) string {
	if !o.color {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

func (o *out) bold(format string, a ...any) {
	fmt.Fprintf(o.w, "\n%s\n", o.esc("1", fmt.Sprintf(format, a...)))
}

func (o *out) say(format string, a ...any) { fmt.Fprintf(o.w, "  %s\n", fmt.Sprintf(format, a...)) }

// check prints a PASS or FAIL line and counts the failures.
func (o *out) check(ok bool, format string, a ...any) {
	word := o.esc("32", "PASS")
	if !ok {
		word = o.esc("31", "FAIL")
		o.failures++
	}
	fmt.Fprintf(o.w, "  %s  %s\n", word, fmt.Sprintf(format, a...))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rv-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", labcmd.Env("LAB_DIR", "/tmp/redis-vip-demo"), "the lab's files: configs, data, logs (env LAB_DIR)")
	prefix := fs.String("prefix", labcmd.Env("LAB_PREFIX", "rvdemo"), "namespace names are PREFIX-h1 and so on (env LAB_PREFIX)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fmt.Fprintln(stderr, "usage: rv-demo [-dir DIR] [-prefix PREFIX]")
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	o := &out{w: stdout}
	if f, ok := stdout.(*os.File); ok {
		o.color = isTerminal(f)
	}
	d := &demo{out: o, dir: *dir, prefix: *prefix}
	ses, err := labcmd.Start(*dir, *prefix, "make demo", "ip", "redis-server", "redis-cli", "keepalived", "go")
	if ses == nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	d.ses = ses
	if err == nil {
		err = d.run(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted (SIGINT or SIGTERM)")
		}
		o.check(false, "%v", err)
	}
	d.teardown()
	if o.failures == 0 {
		o.bold("demo: PASS")
		return 0
	}
	o.bold("demo: FAIL (%d check(s) failed; logs are in %s)", o.failures, d.dir)
	return 1
}

// demo is one run: what to tear down and what was seen.
type demo struct {
	*out
	dir, prefix string
	ses         *labcmd.Session
	lab         *lab.Lab
	writer      *lab.WriterRun
}

func (d *demo) run(ctx context.Context) error {
	d.bold("1/6  Building redis-vip and the test client")
	if err := d.ses.Build(); err != nil {
		return err
	}
	d.say("built %s and %s", d.ses.Bin, d.ses.Writer)

	d.bold("2/6  Building the lab: two Redis hosts and a client, each in its own network namespace")
	d.say("h1 = %s, h2 = %s, client = %s; the VIP %s belongs to whichever host is master.", lab.Addr["h1"], lab.Addr["h2"], lab.Addr["client"], lab.VIP)
	d.say("Each host runs redis-server (guarded by 'redis-vip guard'), and keepalived with")
	d.say("packaging/keepalived/keepalived-host-{a,b}.conf: 'redis-vip check' every second, 'redis-vip notify-*' on changes.")
	var err error
	if d.lab, err = d.ses.NewLab(lab.Options{Logf: d.logf}); err != nil {
		return err
	}
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = d.lab.Up(uctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the lab did not come up: %w", err)
	}
	fmt.Fprintln(d.w, lab.Indent(d.lab.Status(ctx)))
	before := d.lab.VIPHolder(ctx)
	d.say("The VIP is on %s; its Redis is the master, the other host replicates it.", before)

	d.bold("3/6  A client writes numbered entries (RPUSH 1, 2, 3, ...) through the VIP, 100 per second")
	d.writer, err = d.lab.StartWriter(ctx, "demo", "client", "--addr", lab.VIP+":6379", "--duration", "60s", "--settle", "20s")
	if err != nil {
		return err
	}
	if err := d.writer.WaitAcked(ctx, 200, 30*time.Second); err != nil {
		return fmt.Errorf("the client: %w", err)
	}
	d.client()

	d.bold("4/6  Killing the master's Redis on %s with kill -9 (a crash: no goodbye, no warning)", before)
	if err := d.lab.KillRedis(ctx, before); err != nil {
		return err
	}
	d.say("keepalived on %s sees 'redis-vip check' fail twice (about 2 s) and gives up the VIP;", before)
	d.say("keepalived on the other host takes it and runs 'redis-vip notify-master', which promotes its Redis.")
	for range 5 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		d.client()
	}
	s, werr := d.lab.WaitSettled(ctx, 30*time.Second, nil)
	after, _ := s.Settled()

	d.bold("5/6  Where is the VIP now?")
	fmt.Fprintln(d.w, lab.Indent(d.lab.Status(ctx)))
	if werr != nil {
		d.say("the pair did not settle: %v", werr)
	}
	if after != "" {
		logPath := filepath.Join(d.lab.HostDir(after), "log", "redis-vip.log")
		d.say("What redis-vip did on %s (from %s):", after, logPath)
		d.say("  %s", lastTransition(logPath))
		// Writes flow again through the new master before the client stops.
		_ = d.writer.WaitMoreAcks(ctx, 200, 20*time.Second)
	}

	d.bold("6/6  Stopping the client; it reads the list back from the new master and checks every acknowledged write")
	rep, err := d.writer.Stop(time.Minute)
	d.writer = nil
	if err != nil {
		return err
	}
	d.say("%s", rep.Summary())

	d.bold("Result")
	if after != "" && after != before {
		d.check(true, "the VIP moved from %s to %s", before, after)
	} else {
		d.check(false, "the VIP should have moved away from %s (it is on: %s)", before, d.lab.VIPHolder(ctx))
	}
	d.checkReport(rep)
	return nil
}

// client prints the writer's last progress line.
func (d *demo) client() {
	if p := d.writer.Progress(); p != "" {
		d.say("client: %s", p)
	}
}

func (d *demo) checkReport(rep writer.Report) {
	if rep.VIPOnMaster {
		d.check(true, "the VIP reaches the only master, %s", rep.FinalMaster)
	} else {
		final := rep.FinalMaster
		if final == "" {
			final = "none"
		}
		d.check(false, "the VIP does not reach the master (master: %s)", final)
	}
	d.check(rep.Lost == 0 && rep.Acked > 0 && rep.VerifyError == "", "%d of %d acknowledged writes lost", rep.Lost, rep.Acked)
	d.say("the client waited at most %d ms for a write to be acknowledged during the failover", rep.MaxGapMS)
	d.say("(bounded by: check interval x fall + keepalived's skew time + promotion; see make bench-failover)")
}

// lastTransition summarizes the last "transition ended" line of a
// redis-vip log: "notify-master: DECISION (REASON), OUTCOME in N ms".
func lastTransition(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], `"msg":"transition ended"`) {
			continue
		}
		var e struct {
			Event, Decision, Reason, Outcome string
			DurationMS                       int64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			return lines[i]
		}
		return fmt.Sprintf("notify-%s: %s (%s), %s in %d ms", e.Event, e.Decision, e.Reason, e.Outcome, e.DurationMS)
	}
	return "no transition in the log"
}

// logf appends the lab's log lines to lab.log in the lab dir.
func (d *demo) logf(format string, a ...any) {
	f, err := os.OpenFile(filepath.Join(d.dir, "lab.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, time.Now().Format("15:04:05.000 ")+format+"\n", a...)
	f.Close()
}

// teardown removes everything the demo made, whatever happened before:
// the writer, the lab's processes and namespaces, the binaries, and the
// lab dir unless a check failed.
func (d *demo) teardown() {
	d.bold("Tearing the lab down")
	if d.writer != nil {
		_, _ = d.writer.Stop(5 * time.Second)
	}
	left, err := d.ses.Close(d.failures > 0)
	if len(left) > 0 {
		d.check(false, "namespaces left behind: %s", strings.Join(left, " "))
	} else {
		d.say("namespaces %s-* and every process the demo started are gone", d.prefix)
	}
	if err != nil {
		d.say("%v", err)
	}
}

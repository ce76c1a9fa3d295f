package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/witness"
	"github.com/redis-vip/redis-vip/witness/witnesstest"
)

// The witness command against package witness's client: a real
// `redis-vip witness` process on a loopback port.

// witnessProc is a running `redis-vip witness`.
type witnessProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done

	mu    sync.Mutex
	lines []string // stderr, one log line each
}

func (w *witnessProc) stderr() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// logged returns the JSON log records whose message contains msg.
func (w *witnessProc) logged(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range w.stderr() {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && strings.Contains(rec["msg"].(string), msg) {
			out = append(out, rec)
		}
	}
	return out
}

// writeSecret writes a secret file of mode 0600.
func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "witness.secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startWitness runs the witness on listen and waits until it says where it
// listens. The process is killed at the end of the test.
func startWitness(t *testing.T, listen, secretFile string, maxLease time.Duration) *witnessProc {
	t.Helper()
	bin := redistest.Binary(t) // built before any bound below starts
	w := &witnessProc{done: make(chan struct{})}
	w.cmd = exec.Command(bin, "witness", "--listen", listen, "--secret-file", secretFile,
		"--max-lease", maxLease.String(), "--log-format", "json", "--log-level", "debug")
	pipe, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			l := sc.Text()
			w.mu.Lock()
			w.lines = append(w.lines, l)
			w.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
		if t.Failed() {
			t.Logf("witness stderr:\n%s", strings.Join(w.stderr(), "\n"))
		}
	})
	select {
	case w.addr = <-addr:
	case <-w.done:
		t.Fatalf("witness exited: %v\n%s", w.err, strings.Join(w.stderr(), "\n"))
	case <-time.After(30 * time.Second):
		t.Fatalf("witness did not say where it listens:\n%s", strings.Join(w.stderr(), "\n"))
	}
	return w
}

// kill ends the witness at once (SIGKILL): everything it knew is lost.
func (w *witnessProc) kill(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Kill()
	<-w.done
}

func witnessClient(t *testing.T, addr, node, secret string) *witness.Client {
	t.Helper()
	c, err := witness.NewClient(addr, "redis/pair-1", node, []byte(secret), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitGranting waits for the witness's restart grace to end.
func waitGranting(t *testing.T, c *witness.Client) {
	t.Helper()
	waitFor(t, "the end of the witness's restart grace", 60*time.Second, func() bool {
		_, _, err := c.Status(context.Background())
		return err == nil
	})
}

const witnessSecret = "integration-test-secret-0123456789"

func TestWitnessLeases(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	w := startWitness(t, "127.0.0.1:0", writeSecret(t, witnessSecret), time.Second)
	ctx := context.Background()
	a := witnessClient(t, w.addr, "10.0.0.1:6379", witnessSecret)
	b := witnessClient(t, w.addr, "10.0.0.2:6379", witnessSecret)
	waitGranting(t, a)

	// Two nodes contend: one wins, the other learns who.
	la, err := a.Acquire(ctx, time.Second)
	if err != nil || !la.Held {
		t.Fatalf("a: %+v %v", la, err)
	}
	lb, err := b.Acquire(ctx, time.Second)
	if err != nil || lb.Held || lb.Holder != "10.0.0.1:6379" {
		t.Fatalf("b while a holds: %+v %v", lb, err)
	}

	// Renewals keep it. b tries all along and must never hold the lease
	// while a's view of it runs; if every renewal of a's came back while
	// the one before still ran (not guaranteed on a stalled machine), b
	// must not have got it at all.
	continuous, bHeld := true, false
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		next, err := a.Acquire(ctx, time.Second)
		now := time.Now()
		if err != nil || !next.Held || !la.Valid(now) {
			continuous = false
		}
		if err == nil && next.Held {
			la = next
		}
		lb, err := b.Acquire(ctx, time.Second)
		now = time.Now()
		if err == nil && lb.Held {
			if la.Valid(now) {
				t.Fatalf("b got the lease while a's view ran until %v (now %v)", la.Until, now)
			}
			bHeld = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if continuous && bHeld {
		t.Fatal("b got the lease although a renewed it in time")
	}
	if !continuous {
		t.Log("a renewal came late (a loaded machine): skipped the check that b never got the lease")
	}

	// Expiry moves it: a stops renewing; b gets it, after a's view ended.
	if !bHeld {
		waitFor(t, "b to get the lease after a's expired", 30*time.Second, func() bool {
			lb, err = b.Acquire(ctx, time.Second)
			return err == nil && lb.Held
		})
		if now := time.Now(); la.Valid(now) {
			t.Fatalf("b got the lease while a's view ran until %v (now %v)", la.Until, now)
		}
	}
	if h, _, err := a.Status(ctx); err != nil || h != "10.0.0.2:6379" {
		t.Fatalf("status: %q %v", h, err)
	}

	// Release: b gives it back, a takes it at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if la, err = a.Acquire(ctx, time.Second); err != nil || !la.Held {
		t.Fatalf("a after b released: %+v %v", la, err)
	}
	if len(w.logged("lease moved")) == 0 || len(w.logged("lease released")) != 1 {
		t.Errorf("the witness did not log the moves:\n%s", strings.Join(w.stderr(), "\n"))
	}
}

func TestWitnessWrongSecret(t *testing.T) {
	w := startWitness(t, "127.0.0.1:0", writeSecret(t, witnessSecret), time.Second)
	good := witnessClient(t, w.addr, "a", witnessSecret)
	waitGranting(t, good)
	const other = "not-the-witness-secret-9876543210"
	bad := witnessClient(t, w.addr, "b", other)
	_, err := bad.Acquire(context.Background(), time.Second)
	if !errors.Is(err, witness.ErrWrongSecret) {
		t.Fatalf("got %v", err)
	}
	oneLine(t, "client error", err.Error())
	if strings.Contains(err.Error(), other) || strings.Contains(err.Error(), witnessSecret) {
		t.Fatalf("the error shows a secret: %v", err)
	}
	// The witness says so in one line, without either secret.
	waitFor(t, "the witness's line about the wrong MAC", 10*time.Second, func() bool { return len(w.logged("wrong MAC")) == 1 })
	for _, l := range w.stderr() {
		if strings.Contains(l, other) || strings.Contains(l, witnessSecret) || strings.Contains(l, "goroutine ") {
			t.Fatalf("witness log line %q", l)
		}
	}
	if l, err := good.Acquire(context.Background(), time.Second); err != nil || !l.Held {
		t.Fatalf("the right secret after a wrong one: %+v %v", l, err)
	}
}

// A "witness" that is not one: junk, silence, a closed port.
func TestWitnessClientAgainstBadWitnesses(t *testing.T) {
	timeout := 500 * time.Millisecond
	call := func(t *testing.T, addr string) (time.Duration, error) {
		c, err := witness.NewClient(addr, "redis/pair-1", "a", []byte(witnessSecret), timeout)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		l, err := c.Acquire(context.Background(), time.Second)
		if err == nil || l.Held {
			t.Fatalf("got a lease: %+v %v", l, err)
		}
		oneLine(t, "client error", err.Error())
		return time.Since(start), err
	}

	t.Run("junk", func(t *testing.T) {
		addr := witnesstest.Serve(t, func(c net.Conn) { _, _ = c.Write([]byte("+OK redis here\r\n-ERR junk\r\n")) })
		if _, err := call(t, addr); !errors.Is(err, witness.ErrGarbage) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("accepts and never answers", func(t *testing.T) {
		release := make(chan struct{})
		addr := witnesstest.Serve(t, func(net.Conn) { <-release })
		t.Cleanup(func() { close(release) }) // runs before the listener's cleanup
		el, err := call(t, addr)
		if !errors.Is(err, witness.ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
		if el < timeout || el > timeout+10*time.Second {
			t.Fatalf("took %s with a timeout of %s", el, timeout)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		if _, err := call(t, witnesstest.ClosedPort(t)); !errors.Is(err, witness.ErrUnreachable) {
			t.Fatalf("got %v", err)
		}
	})
}

// A restarted witness knows no lease, so it grants none for its maximum
// lease: by then every lease of its earlier run has ended, at the witness
// and (earlier still) in the holder's view.
func TestWitnessRestartGrantsNothingDuringGrace(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	maxLease := 3 * time.Second
	secret := writeSecret(t, witnessSecret)
	w := startWitness(t, "127.0.0.1:0", secret, maxLease)
	ctx := context.Background()
	a := witnessClient(t, w.addr, "a", witnessSecret)
	b := witnessClient(t, w.addr, "b", witnessSecret)
	waitGranting(t, a)
	la, err := a.Acquire(ctx, maxLease)
	if err != nil || !la.Held {
		t.Fatalf("a: %+v %v", la, err)
	}

	w.kill(t)
	launched := time.Now()
	w2 := startWitness(t, w.addr, secret, maxLease)

	sawStarting := false
	var lb witness.Lease
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no grant 60 s after the restart")
		}
		_, errA := a.Acquire(ctx, maxLease)
		lb, err = b.Acquire(ctx, maxLease)
		now := time.Now()
		var se *witness.StartingError
		for _, e := range []error{errA, err} {
			if errors.As(e, &se) {
				sawStarting = true
				if se.RetryAfter > maxLease {
					t.Fatalf("retry after %s, more than the grace", se.RetryAfter)
				}
			}
		}
		if errA == nil || (err == nil && lb.Held) {
			// The first grant of the new run: not before the grace, and
			// after a's view of its old lease ended.
			if el := now.Sub(launched); el < maxLease {
				t.Fatalf("granted %s after the restart began, grace %s", el, maxLease)
			}
			if la.Valid(now) {
				t.Fatalf("granted while a's old lease ran until %v (now %v)", la.Until, now)
			}
			break
		}
		for _, e := range []error{errA, err} {
			if !errors.Is(e, witness.ErrStarting) && !errors.Is(e, witness.ErrUnreachable) {
				t.Fatalf("during the grace: a %v, b %v", errA, err)
			}
		}
	}
	if !sawStarting {
		t.Fatal("never answered starting: the restart took longer than the grace")
	}
	waitFor(t, "the witness's line about the end of the grace", 10*time.Second, func() bool {
		return len(w2.logged("restart grace over")) == 1
	})
}

// SIGTERM: stop granting, finish, exit 0.
func TestWitnessStopsOnSIGTERM(t *testing.T) {
	w := startWitness(t, "127.0.0.1:0", writeSecret(t, witnessSecret), time.Second)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after SIGTERM")
	}
	if w.err != nil || len(w.logged("stopped")) != 1 {
		t.Fatalf("exit %v\n%s", w.err, strings.Join(w.stderr(), "\n"))
	}
}

func TestWitnessBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", witnessSecret+"\n", 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"no --listen", []string{"--secret-file", good}, "--listen is required"},
		{"missing secret file", []string{"--listen", "127.0.0.1:0", "--secret-file", filepath.Join(dir, "nope")}, "no such file"},
		{"secret file is a directory", []string{"--listen", "127.0.0.1:0", "--secret-file", dir}, "not a regular file"},
		{"world-readable secret", []string{"--listen", "127.0.0.1:0", "--secret-file", file("world", witnessSecret, 0o644)}, "mode 0644"},
		{"group-readable secret", []string{"--listen", "127.0.0.1:0", "--secret-file", file("group", witnessSecret, 0o640)}, "mode 0640"},
		{"empty secret", []string{"--listen", "127.0.0.1:0", "--secret-file", file("empty", "\n", 0o600)}, "is empty"},
		{"short secret", []string{"--listen", "127.0.0.1:0", "--secret-file", file("short", "hunter2", 0o600)}, "at least 16"},
		{"listen without a port", []string{"--listen", "127.0.0.1", "--secret-file", good}, "missing port"},
		{"listen on a bad port", []string{"--listen", "127.0.0.1:99999", "--secret-file", good}, "invalid port"},
		{"listen on a port in use", []string{"--listen", busy.Addr().String(), "--secret-file", good}, "address already in use"},
		{"max lease too long", []string{"--listen", "127.0.0.1:0", "--secret-file", good, "--max-lease", "11m"}, "want 100ms to 10m"},
		{"max lease too short", []string{"--listen", "127.0.0.1:0", "--secret-file", good, "--max-lease", "99ms"}, "want 100ms to 10m"},
		{"max lease not a duration", []string{"--listen", "127.0.0.1:0", "--secret-file", good, "--max-lease", "soon"}, "max-lease"},
		{"bad log level", []string{"--listen", "127.0.0.1:0", "--secret-file", good, "--log-level", "loud"}, "loud"},
		{"an argument", []string{"--listen", "127.0.0.1:0", "--secret-file", good, "extra"}, "no arguments"},
	}
	if os.Geteuid() != 0 { // root reads any file
		cases = append(cases, struct {
			name     string
			args     []string
			inStderr string
		}{"unreadable secret", []string{"--listen", "127.0.0.1:0", "--secret-file", file("unreadable", witnessSecret, 0o200)}, "permission denied"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vip(t, append([]string{"witness"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.inStderr) || r.stdout != "" {
				t.Fatalf("exit %d stderr %q stdout %q; want exit 2 mentioning %q", r.code, r.stderr, r.stdout, tc.inStderr)
			}
			oneLine(t, "stderr", r.stderr)
			if strings.Contains(r.stderr, witnessSecret) {
				t.Fatalf("stderr shows the secret: %q", r.stderr)
			}
		})
	}
}

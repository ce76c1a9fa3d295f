package liveness

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// recorder collects a Watcher's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 64)} }

func (r *recorder) report(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.ch <- ev
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// next waits for the next event (bounded).
func (r *recorder) next(t *testing.T, limit time.Duration, what string) Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(limit):
		t.Fatalf("no event after %s: want %s (events so far: %+v)", limit, what, r.all())
	}
	return Event{}
}

// none fails if an event comes within d.
func (r *recorder) none(t *testing.T, d time.Duration, why string) {
	t.Helper()
	select {
	case ev := <-r.ch:
		t.Fatalf("%s: unexpected event %+v", why, ev)
	case <-time.After(d):
	}
}

// countingDial wraps a net.Dialer and counts the connections it made.
type countingDial struct {
	n atomic.Int32
}

func (c *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		c.n.Add(1)
	}
	return conn, err
}

func start(t *testing.T, o Options) (*recorder, func()) {
	t.Helper()
	if o.Log == nil {
		o.Log = zaptest.NewLogger(t)
	}
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, rec.report) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return rec, stop
}

func TestKillIsGoneAtOnce(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	rec, _ := start(t, Options{Addr: s.Addr()})
	if ev := rec.next(t, 5*time.Second, "up"); !ev.Up {
		t.Fatalf("first event %+v, want up", ev)
	}
	time.Sleep(50 * time.Millisecond) // let the Watcher block in its read
	killed := time.Now()
	s.Kill()
	closed := time.Now() // Kill returns once a connect is refused
	ev := rec.next(t, 5*time.Second, "gone")
	if ev.Up {
		t.Fatalf("event %+v after kill -9, want gone", ev)
	}
	// Printed, not asserted (a loaded machine): the process's exit takes
	// the kernel a moment; the Watcher follows it within a millisecond.
	t.Logf("gone %s after SIGKILL (the port was seen closed after %s): %s", ev.At.Sub(killed).Round(time.Microsecond),
		closed.Sub(killed).Round(time.Microsecond), ev.Reason)
	if !strings.Contains(ev.Reason, "refused") {
		t.Errorf("reason %q does not say the reconnect was refused", ev.Reason)
	}
}

func TestClientKillIsNotGone(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	var cd countingDial
	rec, _ := start(t, Options{Addr: s.Addr(), Dial: cd.dial, MinHold: 10 * time.Millisecond})
	if ev := rec.next(t, 5*time.Second, "up"); !ev.Up {
		t.Fatalf("first event %+v, want up", ev)
	}
	c := s.Client()
	ctx := context.Background()
	time.Sleep(50 * time.Millisecond)
	// What a demotion does (S7): every normal client, the Watcher's too.
	n, err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Int()
	if err != nil || n < 1 {
		t.Fatalf("CLIENT KILL TYPE normal: %d, %v", n, err)
	}
	rec.none(t, 500*time.Millisecond, "after CLIENT KILL")
	if got := cd.n.Load(); got < 2 {
		t.Errorf("the Watcher made %d connections, want a new one after CLIENT KILL", got)
	}
	// It watches the new connection: kill -9 is still seen.
	s.Kill()
	if ev := rec.next(t, 5*time.Second, "gone"); ev.Up {
		t.Fatalf("event %+v after kill -9, want gone", ev)
	}
}

func TestIdleTimeoutIsNotGone(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"timeout 1"}})
	var cd countingDial
	rec, _ := start(t, Options{Addr: s.Addr(), Dial: cd.dial, MinHold: 100 * time.Millisecond})
	if ev := rec.next(t, 5*time.Second, "up"); !ev.Up {
		t.Fatalf("first event %+v, want up", ev)
	}
	// Redis closes the idle connection after 1-2 s; the Watcher must
	// reconnect without reporting anything.
	deadline := time.Now().Add(10 * time.Second)
	for cd.n.Load() < 2 && time.Now().Before(deadline) {
		select {
		case ev := <-rec.ch:
			t.Fatalf("event %+v while Redis only closed an idle connection", ev)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if cd.n.Load() < 2 {
		t.Fatal("Redis did not close the idle connection within 10s (timeout 1)")
	}
	rec.none(t, 200*time.Millisecond, "after the idle timeout")
}

func TestRestartIsBack(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	rec, _ := start(t, Options{Addr: s.Addr()})
	if ev := rec.next(t, 5*time.Second, "up"); !ev.Up {
		t.Fatalf("first event %+v, want up", ev)
	}
	s.Kill()
	if ev := rec.next(t, 5*time.Second, "gone"); ev.Up {
		t.Fatalf("event %+v after kill -9, want gone", ev)
	}
	rec.none(t, 300*time.Millisecond, "while Redis is down")
	restarted := time.Now()
	s.Restart()
	ev := rec.next(t, 5*time.Second, "back")
	if !ev.Up || !strings.Contains(ev.Reason, "again") {
		t.Fatalf("event %+v after the restart, want up again", ev)
	}
	t.Logf("back %s after the restart began", ev.At.Sub(restarted).Round(time.Millisecond))
	// And gone again on the next kill.
	time.Sleep(50 * time.Millisecond)
	s.Kill()
	if ev := rec.next(t, 5*time.Second, "gone"); ev.Up {
		t.Fatalf("event %+v after the second kill, want gone", ev)
	}
}

func TestRefusedAtStartIsGone(t *testing.T) {
	rec, _ := start(t, Options{Addr: "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))})
	ev := rec.next(t, 5*time.Second, "gone")
	if ev.Up {
		t.Fatalf("first event %+v with nothing listening, want gone", ev)
	}
	rec.none(t, 300*time.Millisecond, "while nothing listens")
}

// While nothing listens the Watcher does not back off: it tries again
// every GonePoll, so a restart is seen at once however long the server was
// down (with the old doubling backoff, about 6 attempts in a second).
func TestGonePollsWithoutBackoff(t *testing.T) {
	var refused atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			refused.Add(1)
		}
		return c, err
	}
	rec, stop := start(t, Options{Addr: "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)), Dial: dial, GonePoll: 10 * time.Millisecond})
	if ev := rec.next(t, 5*time.Second, "gone"); ev.Up {
		t.Fatalf("first event %+v with nothing listening, want gone", ev)
	}
	time.Sleep(time.Second)
	stop()
	// About 100 at 10 ms; 25 leaves room for a loaded machine.
	if n := refused.Load(); n < 25 {
		t.Errorf("%d refused attempts in about 1s, want one every GonePoll (10ms)", n)
	}
}

// A server that accepts and closes every connection (maxclients) makes
// the Watcher back off, not spin, and report nothing.
func TestServerClosingEveryConnectionDoesNotSpin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Write([]byte("-ERR max number of clients reached\r\n"))
			c.Close()
		}
	}()
	rec, stop := start(t, Options{Addr: ln.Addr().String(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if ev := rec.next(t, 5*time.Second, "up"); !ev.Up {
		t.Fatalf("first event %+v, want up", ev)
	}
	rec.none(t, time.Second, "a server that closes every connection is alive")
	stop()
	if n := accepted.Load(); n > 20 {
		t.Errorf("%d connections in about 1s: the Watcher spins", n)
	}
}

// A connect that times out proves nothing: no event.
func TestDialTimeoutReportsNothing(t *testing.T) {
	var calls atomic.Int32
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		calls.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	rec, stop := start(t, Options{Addr: "127.0.0.1:6379", Dial: dial, DialTimeout: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
	rec.none(t, 300*time.Millisecond, "connects time out")
	stop()
	if calls.Load() < 2 {
		t.Errorf("%d connect attempts in 300ms, want retries", calls.Load())
	}
}

func TestNewRejectsBadAddress(t *testing.T) {
	if _, err := New(Options{Addr: "localhost"}); err == nil {
		t.Error("New accepted an address without a port")
	}
}

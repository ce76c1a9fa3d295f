package wiring

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/sdnotify"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/router"
)

type fakeWatched struct {
	mu   sync.Mutex
	st   router.Status
	beat time.Time
}

func (f *fakeWatched) Status() router.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeWatched) LastLoop() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beat
}

func (f *fakeWatched) set(st router.Status, beat time.Time) {
	f.mu.Lock()
	f.st, f.beat = st, beat
	f.mu.Unlock()
}

func TestLoopsAliveAndStatusLine(t *testing.T) {
	now := time.Now()
	names := []string{"a", "b"}
	if ok, who := loopsAlive([]time.Time{now, now.Add(-time.Second)}, names, now, 3*time.Second); !ok || who != "" {
		t.Errorf("fresh loops: %v %q", ok, who)
	}
	if ok, who := loopsAlive([]time.Time{now, now.Add(-4 * time.Second)}, names, now, 3*time.Second); ok || who != "b" {
		t.Errorf("stale b: %v %q", ok, who)
	}
	if ok, who := loopsAlive([]time.Time{{}, now}, names, now, 3*time.Second); ok || who != "a" {
		t.Errorf("never ran: %v %q", ok, who)
	}
	got := statusLine(names, []router.Status{{State: fsm.Master, HoldsVIP: true}, {State: fsm.Fault, CannotHold: "x", Maintenance: true}})
	if want := "a MASTER (VIP held); b FAULT (cannot hold the VIP) [maintenance]"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

// Over a unix datagram socket, as systemd listens: READY=1 with the status
// first, WATCHDOG=1 while the loop goes round and none while it is stuck,
// the status again when it changes, STOPPING=1 at the end.
func TestStartSystemdNotifies(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(b[:n])
		}
	}()
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "400000"}
	getenv := func(k string) string { return env[k] }
	r := &fakeWatched{}
	r.set(router.Status{State: fsm.Backup}, time.Now())
	stop := make(chan struct{})
	go func() { // the loop goes round until stopped
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				r.mu.Lock()
				r.beat = time.Now()
				r.mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := startSystemd(ctx, sdnotify.FromEnv(getenv), getenv, []watched{r}, []string{"r6379"}, zap.NewNop())
	next := func() string {
		select {
		case m := <-msgs:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no message within 5s")
		}
		return ""
	}
	if m := next(); m != "READY=1\nSTATUS=r6379 BACKUP" {
		t.Fatalf("first message %q", m)
	}
	if m := next(); m != "WATCHDOG=1" {
		t.Fatalf("second message %q, want WATCHDOG=1", m)
	}
	r.mu.Lock()
	r.st = router.Status{State: fsm.Master, HoldsVIP: true}
	r.mu.Unlock()
	for m := next(); m != "STATUS=r6379 MASTER (VIP held)"; m = next() {
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected %q", m)
		}
	}
	// The loop stops going round: after minLoopAge no more pings.
	close(stop)
	time.Sleep(minLoopAge + 300*time.Millisecond)
	for len(msgs) > 0 {
		<-msgs
	}
	time.Sleep(400 * time.Millisecond)
	if n := len(msgs); n != 0 {
		t.Errorf("%d messages while the loop is stuck, want none", n)
	}
	cancel()
	done()
	if m := next(); !strings.HasPrefix(m, "STOPPING=1\nSTATUS=stopping") {
		t.Errorf("last message %q", m)
	}
	// Without NOTIFY_SOCKET nothing happens.
	startSystemd(context.Background(), nil, getenv, []watched{r}, []string{"r6379"}, zap.NewNop())()
}

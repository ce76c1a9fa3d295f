package liveness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"
)

// trackRig runs a TrackFile on a temporary file with a Ready the test sets.
type trackRig struct {
	path   string
	events chan Event
	ready  atomic.Bool
	paused atomic.Bool
	asked  atomic.Int32
	cancel context.CancelFunc
	done   chan struct{}
}

func newTrackRig(t *testing.T, initial string) *trackRig {
	t.Helper()
	r := &trackRig{path: filepath.Join(t.TempDir(), "redis6379.down"), events: make(chan Event), done: make(chan struct{})}
	if initial != "" {
		if err := os.WriteFile(r.path, []byte(initial), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tf := &TrackFile{
		Path:   r.path,
		Paused: r.paused.Load,
		Ready: func(context.Context) (bool, string) {
			r.asked.Add(1)
			if r.ready.Load() {
				return true, "ok"
			}
			return false, "replica not in sync"
		},
		Retry: 100 * time.Millisecond,
		Log:   zaptest.NewLogger(t),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.done); tf.Run(ctx, r.events) }()
	return r
}

func (r *trackRig) send(up bool) { r.events <- Event{Up: up, At: time.Now(), Reason: "test"} }

func (r *trackRig) stop() {
	r.cancel()
	<-r.done
}

func (r *trackRig) value(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.path)
	if os.IsNotExist(err) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestTrackFileGoneThenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTrackRig(t, "0\n")
		defer r.stop()
		r.send(true) // up at start: nothing to reset
		synctest.Wait()
		if v := r.value(t); v != "0" {
			t.Fatalf("after up at start: %q, want 0", v)
		}
		if n := r.asked.Load(); n != 0 {
			t.Errorf("Ready asked %d times with nothing to reset", n)
		}
		r.send(false)
		synctest.Wait()
		if v := r.value(t); v != "1" {
			t.Fatalf("after gone: %q, want 1", v)
		}
		// Back, but the check fails: stays 1 and asks again.
		r.send(true)
		time.Sleep(350 * time.Millisecond)
		synctest.Wait()
		if v := r.value(t); v != "1" {
			t.Fatalf("back with a failing check: %q, want 1", v)
		}
		if n := r.asked.Load(); n < 3 {
			t.Errorf("Ready asked %d times in 350ms at a 100ms retry, want 3 or more", n)
		}
		r.ready.Store(true)
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		if v := r.value(t); v != "0" {
			t.Fatalf("back with a passing check: %q, want 0", v)
		}
		asked := r.asked.Load()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := r.asked.Load(); n != asked {
			t.Errorf("Ready asked %d more times after the file was reset", n-asked)
		}
	})
}

func TestTrackFileGoneAgainWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTrackRig(t, "")
		defer r.stop()
		r.send(false)
		r.send(true)
		time.Sleep(50 * time.Millisecond)
		r.send(false) // gone again before the check passed
		r.ready.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if v := r.value(t); v != "1" {
			t.Fatalf("gone again while waiting: %q, want 1", v)
		}
	})
}

func TestTrackFileMaintenanceLeavesItAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTrackRig(t, "0\n")
		defer r.stop()
		r.paused.Store(true)
		r.send(false)
		synctest.Wait()
		if v := r.value(t); v != "0" {
			t.Fatalf("gone in maintenance mode: %q, want 0 (left alone)", v)
		}
		r.send(true)
		r.paused.Store(false)
		r.send(false)
		synctest.Wait()
		if v := r.value(t); v != "1" {
			t.Fatalf("gone after maintenance: %q, want 1", v)
		}
	})
}

// A 1 left by an earlier process is reset once the server is back and
// ready; a 1 left at exit is reset on the way out.
func TestTrackFileStaleAndExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTrackRig(t, "1\n")
		r.ready.Store(true)
		r.send(true)
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if v := r.value(t); v != "0" {
			t.Fatalf("stale 1 with the server ready: %q, want 0", v)
		}
		r.send(false)
		synctest.Wait()
		if v := r.value(t); v != "1" {
			t.Fatalf("after gone: %q, want 1", v)
		}
		r.stop()
		if v := r.value(t); v != "0" {
			t.Fatalf("after exit: %q, want 0", v)
		}
	})
}

// The write is a rename: a reader never sees a half-written value, and
// the writer needs only the directory (keepalived creates the file as
// root, mode 0600).
func TestWriteTrackReplacesAFileItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.down")
	if err := os.WriteFile(p, []byte("0\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for v := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = WriteTrack(p, v) }()
	}
	wg.Wait()
	if err := WriteTrack(p, 1); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "1\n" {
		t.Fatalf("file %q, %v; want 1", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := WriteTrack(filepath.Join(dir, "missing", "x.down"), 1); err == nil {
		t.Error("WriteTrack into a missing directory did not fail")
	}
}

func TestReadTrack(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content string
		want    bool
		bad     bool
	}{{"", false, false}, {"0\n", false, false}, {"1\n", true, false}, {" 2 ", true, false}, {"0x1", true, false}, {"x", false, true}} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readTrack(p)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("readTrack(%q) = %v, %v; want %v, error %v", c.content, got, err, c.want, c.bad)
		}
	}
	if got, err := readTrack(filepath.Join(dir, "none")); got || err != nil {
		t.Errorf("missing file: %v, %v; want false, nil", got, err)
	}
}

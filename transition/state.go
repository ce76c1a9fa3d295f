package transition

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/internal/atomicfile"
)

// ErrSuperseded: a newer event for the same instance arrived; this one stops.
var ErrSuperseded = errors.New("superseded by a newer event")

// ErrLockTimeout: the instance lock was not free within the transition bound.
var ErrLockTimeout = errors.New("timed out waiting for the instance lock")

// StateDir holds one instance's files: the event sequence, the lock, the
// journal and the hold-off marker.
type StateDir struct {
	Dir      string
	Instance string
	// JournalMax bounds the journal file before it rotates (see
	// MaxJournalBytes, the bound when zero).
	JournalMax int64
}

func (s StateDir) path(ext string) string { return filepath.Join(s.Dir, s.Instance+"."+ext) }

// JournalPath is the file of JSON lines, one per transition (S8); the
// older lines are in RotatedJournalPath(JournalPath()). Read it with
// ReadJournal or ReadJournalTail.
func (s StateDir) JournalPath() string { return s.path("journal") }

// Ticket is an event's place in the order of arrival.
type Ticket struct {
	Seq   int64     `json:"seq"`
	Event Event     `json:"event"`
	At    time.Time `json:"at"`
	PID   int       `json:"pid"`
	// Source says who delivered the event (SourceHook, SourceRouter...;
	// "" in a sequence file written before sources were recorded).
	Source string `json:"source,omitempty"`
}

// Enqueue gives the event the next sequence number and records it as the
// newest: every older transition still running stops at its next step.
func (s StateDir) Enqueue(ev Event, source string, now time.Time) (Ticket, error) {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return Ticket{}, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(s.path("seq"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return Ticket{}, fmt.Errorf("open sequence: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return Ticket{}, fmt.Errorf("lock sequence: %w", err)
	}
	last, _ := readTicket(f)
	t := Ticket{Seq: last.Seq + 1, Event: ev, At: now.UTC(), PID: os.Getpid(), Source: source}
	b, _ := json.Marshal(t)
	if err := f.Truncate(0); err != nil {
		return Ticket{}, fmt.Errorf("write sequence: %w", err)
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return Ticket{}, fmt.Errorf("write sequence: %w", err)
	}
	return t, nil
}

func readTicket(f *os.File) (Ticket, error) {
	b := make([]byte, 512)
	n, err := f.ReadAt(b, 0)
	if n == 0 {
		return Ticket{}, err
	}
	var t Ticket
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(b[:n]))), &t); err != nil {
		return Ticket{}, fmt.Errorf("sequence file: %w", err)
	}
	return t, nil
}

// Newest returns the newest event enqueued (zero Ticket when none).
func (s StateDir) Newest() (Ticket, error) {
	f, err := os.Open(s.path("seq"))
	if errors.Is(err, fs.ErrNotExist) {
		return Ticket{}, nil
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("open sequence: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return Ticket{}, fmt.Errorf("lock sequence: %w", err)
	}
	return readTicket(f)
}

// Superseded reports whether a newer event than t has been enqueued.
func (s StateDir) Superseded(t Ticket) bool {
	n, err := s.Newest()
	return err == nil && n.Seq > t.Seq
}

// Pending marks a transition between its ticket and its journal line: it
// holds a shared lock on the instance's pending file, so that the reconciler
// can see, without any clock, that an event's own transition still owns it
// (a process that dies drops the lock with it).
type Pending struct{ f *os.File }

// MarkPending takes the pending mark; Done drops it. Take it before Enqueue.
func (s StateDir) MarkPending() (*Pending, error) {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(s.path("pending"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open pending: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock pending: %w", err)
	}
	return &Pending{f: f}, nil
}

// Done drops the pending mark.
func (p *Pending) Done() {
	if p != nil {
		p.f.Close()
	}
}

// TransitionPending reports whether an event's transition is waiting for
// the lock or running (it holds the pending mark).
func (s StateDir) TransitionPending() bool {
	f, err := os.Open(s.path("pending"))
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK)
}

// Lock is the held instance lock; Release frees it.
type Lock struct{ f *os.File }

// Release frees the lock.
func (l *Lock) Release() error { return l.f.Close() }

// Acquire takes the instance lock, polling until ctx ends. It gives up with
// ErrSuperseded as soon as a newer event than t arrives, so only the newest
// waiter runs.
func (s StateDir) Acquire(ctx context.Context, t Ticket, poll time.Duration) (*Lock, error) {
	f, err := os.OpenFile(s.path("lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		if s.Superseded(t) {
			f.Close()
			return nil, ErrSuperseded
		}
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if s.Superseded(t) {
				f.Close()
				return nil, ErrSuperseded
			}
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", s.path("lock"), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ErrLockTimeout
		case <-time.After(poll):
		}
	}
}

// ErrBusy: the instance lock is held by a running transition.
var ErrBusy = errors.New("a transition is running")

// TryAcquire takes the instance lock for t without waiting: ErrBusy when a
// transition holds it, ErrSuperseded when t is no longer the newest event.
func (s StateDir) TryAcquire(t Ticket) (*Lock, error) {
	f, err := os.OpenFile(s.path("lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", s.path("lock"), err)
	}
	if s.Superseded(t) {
		f.Close()
		return nil, ErrSuperseded
	}
	return &Lock{f: f}, nil
}

// Busy reports whether a transition holds the instance lock right now.
func (s StateDir) Busy() bool {
	f, err := os.Open(s.path("lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	return false
}

// WriteHoldoff records a hold-off for check.
func (s StateDir) WriteHoldoff(h Holdoff) error {
	return writeFileAtomic(s.path("holdoff"), h)
}

// ReadHoldoff returns the recorded hold-off (zero when none).
func (s StateDir) ReadHoldoff() (Holdoff, error) {
	var h Holdoff
	b, err := os.ReadFile(s.path("holdoff"))
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read holdoff: %w", err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("holdoff file %s: %w", s.path("holdoff"), err)
	}
	return h, nil
}

// ClearHoldoff removes the hold-off marker.
func (s StateDir) ClearHoldoff() error {
	err := os.Remove(s.path("holdoff"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o640)
}

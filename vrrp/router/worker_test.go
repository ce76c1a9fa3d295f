package router

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/transition"
)

// blockingTrans runs each transition until the test releases it.
type blockingTrans struct {
	mu         sync.Mutex
	superseded []transition.Event
	started    chan transition.Event
	release    chan struct{}
	supErr     error
}

func (b *blockingTrans) Supersede(ev transition.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.superseded = append(b.superseded, ev)
	return b.supErr
}

func (b *blockingTrans) Run(ctx context.Context, ev transition.Event, _ string) (transition.Record, error) {
	b.started <- ev
	select {
	case <-b.release:
		return transition.Record{Event: ev, Outcome: transition.OutcomeOK}, nil
	case <-ctx.Done():
		return transition.Record{Event: ev, Outcome: transition.OutcomeFailed}, ctx.Err()
	}
}

func (b *blockingTrans) supersededEvents() []transition.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.superseded)
}

// Events that arrive while a transition runs mark it superseded at once and
// collapse to the newest; an event on an idle worker marks nothing.
func TestWorkerNewestWins(t *testing.T) {
	tr := &blockingTrans{started: make(chan transition.Event), release: make(chan struct{})}
	results := make(chan result, 4)
	w := newWorker(tr, time.Hour, results)
	var errs []error
	w.onError = func(err error) { errs = append(errs, err) }
	done := make(chan struct{})
	go func() { defer close(done); w.run(context.Background()) }()

	if g := w.submit(transition.EventMaster); g != 1 {
		t.Fatalf("first generation %d", g)
	}
	if ev := <-tr.started; ev != transition.EventMaster {
		t.Fatalf("started %s", ev)
	}
	if s := tr.supersededEvents(); len(s) != 0 {
		t.Fatalf("an event on an idle worker superseded %v", s)
	}
	tr.supErr = errors.New("state dir gone")
	w.submit(transition.EventBackup)
	w.submit(transition.EventFault)
	if s := tr.supersededEvents(); !slices.Equal(s, []transition.Event{transition.EventBackup, transition.EventFault}) {
		t.Fatalf("superseded %v while master ran, want backup, fault", s)
	}
	if len(errs) != 2 {
		t.Fatalf("onError got %v, want both Supersede errors", errs)
	}
	if w.latest() != 3 {
		t.Fatalf("latest %d, want 3", w.latest())
	}
	tr.release <- struct{}{}
	if r := <-results; r.gen != 1 || r.ev != transition.EventMaster {
		t.Fatalf("first result %+v", r)
	}
	// backup was replaced by fault while waiting: fault runs next.
	if ev := <-tr.started; ev != transition.EventFault {
		t.Fatalf("started %s, want the newest (fault)", ev)
	}
	tr.release <- struct{}{}
	if r := <-results; r.gen != 3 || r.ev != transition.EventFault {
		t.Fatalf("second result %+v", r)
	}
	w.stop()
	<-done
}

// stop cancels the transition in progress and run returns.
func TestWorkerStopCancelsRunning(t *testing.T) {
	tr := &blockingTrans{started: make(chan transition.Event), release: make(chan struct{})}
	w := newWorker(tr, time.Hour, make(chan result))
	done := make(chan struct{})
	go func() { defer close(done); w.run(context.Background()) }()
	w.submit(transition.EventBackup)
	<-tr.started
	w.stop()
	w.stop()
	<-done
}

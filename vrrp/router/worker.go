package router

import (
	"context"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/transition"
)

// worker runs transitions one at a time, off the event loop, so a slow
// sync-then-promote never delays an advert. A newer event marks itself as
// the newest at once (Transitions.Supersede), so the transition still
// running stops at its next step; events waiting behind it collapse to the
// newest. Every event gets a generation number, so the loop can tell the
// result of the newest transition from stale ones.
type worker struct {
	trans   Transitions
	timeout time.Duration
	results chan<- result

	mu      sync.Mutex
	gen     uint64 // newest generation submitted
	pending *job
	busy    bool
	onError func(error)

	wake chan struct{}
	quit chan struct{}
	once sync.Once
}

type job struct {
	gen uint64
	ev  transition.Event
}

func newWorker(t Transitions, timeout time.Duration, results chan<- result) *worker {
	return &worker{trans: t, timeout: timeout, results: results, wake: make(chan struct{}, 1), quit: make(chan struct{}), onError: func(error) {}}
}

// submit queues ev as the newest event and returns its generation.
func (w *worker) submit(ev transition.Event) uint64 {
	w.mu.Lock()
	w.gen++
	g := w.gen
	w.pending = &job{gen: g, ev: ev}
	if w.busy {
		// Under the lock: the worker cannot start the pending job (whose
		// own Run enqueues after this mark) before the mark is written.
		if err := w.trans.Supersede(ev); err != nil {
			w.onError(err)
		}
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return g
}

// latest returns the newest generation submitted.
func (w *worker) latest() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// stop makes run return; a transition in progress is cancelled.
func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }

// run executes queued jobs until stop.
func (w *worker) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-w.quit:
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			j := w.pending
			w.pending = nil
			w.busy = j != nil
			w.mu.Unlock()
			if j == nil {
				break
			}
			began := time.Now()
			rctx, rcancel := context.WithTimeout(ctx, w.timeout)
			rec, err := w.trans.Run(rctx, j.ev, EventSource)
			rcancel()
			w.mu.Lock()
			w.busy = false
			w.mu.Unlock()
			select {
			case w.results <- result{gen: j.gen, ev: j.ev, rec: rec, err: err, took: time.Since(began)}:
			case <-w.quit:
				return
			}
		}
	}
}

package router

import (
	"context"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/internal/newest"
	"github.com/redis-vip/redis-vip/transition"
)

// worker runs transitions one at a time, off the event loop, so a slow
// sync-then-promote never delays an advert. Its queue (package newest, the
// one the notify FIFO reader uses too) keeps only the newest event waiting;
// a newer event that arrives while a transition runs marks itself as the
// newest at once (Transitions.Supersede), so the running one stops at its
// next step. Every event gets a generation number, so the loop can tell
// the result of the newest transition from stale ones.
type worker struct {
	trans   Transitions
	timeout time.Duration
	results chan<- result
	onError func(error)
	queue   *newest.Queue[struct{}, job]

	mu  sync.Mutex // orders generations as the queue orders their jobs
	gen uint64     // newest generation submitted

	quit chan struct{}
	once sync.Once
}

type job struct {
	gen uint64
	ev  transition.Event
}

func newWorker(t Transitions, timeout time.Duration, results chan<- result) *worker {
	w := &worker{trans: t, timeout: timeout, results: results, quit: make(chan struct{}), onError: func(error) {}}
	w.queue = newest.New(func(_ struct{}, j job, running bool) {
		if !running {
			return
		}
		// Under the queue's lock: the worker cannot start this job (whose
		// own Run enqueues after this mark) before the mark is written.
		if err := w.trans.Supersede(j.ev); err != nil {
			w.onError(err)
		}
	})
	return w
}

// submit queues ev as the newest event and returns its generation.
func (w *worker) submit(ev transition.Event) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.queue.Put(struct{}{}, job{gen: w.gen, ev: ev})
	return w.gen
}

// latest returns the newest generation submitted.
func (w *worker) latest() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// stop makes run return; a transition in progress is cancelled, and one
// waiting is not started.
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
		_, j, ok := w.queue.Take(ctx)
		if !ok {
			return
		}
		began := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, w.timeout)
		rec, err := w.trans.Run(rctx, j.ev, EventSource)
		rcancel()
		w.queue.Done(struct{}{})
		select {
		case w.results <- result{gen: j.gen, ev: j.ev, rec: rec, err: err, took: time.Since(began)}:
		case <-w.quit:
			return
		}
	}
}

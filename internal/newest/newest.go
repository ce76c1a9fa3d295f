// Package newest is a work queue that keeps only the newest pending value
// per key (safety rule S4: one transition at a time, newest wins).
//
// Both long-running processes use it: the keepalived notify FIFO reader
// (keyed by instance, package keepalived) and the built-in VRRP router's
// transition worker (one key, package vrrp/router). A value put for a key
// replaces the one still waiting for that key, so events that queue up
// behind a running transition collapse to the newest; keys are handed out
// in the order of their newest Put. A value taken counts as running for
// its key until Done, and the hook given to New is told, under the queue's
// lock, whether the key is running: a caller can mark the running one
// superseded before anything else can be taken.
package newest

import (
	"context"
	"slices"
	"sync"
)

// Queue holds at most one pending value per key. Its methods may be
// called from any goroutine.
type Queue[K comparable, V any] struct {
	onPut func(key K, v V, running bool)

	mu      sync.Mutex
	order   []K // keys with a pending value, oldest Put first
	pending map[K]V
	running map[K]int // values taken and not yet Done
	closed  bool

	ready chan struct{} // a token: something may be taken
	done  chan struct{} // closed by Close
	once  sync.Once
}

// New returns an empty queue. onPut, when not nil, runs at the start of
// every Put that is accepted, under the queue's lock, and is told whether a
// value of the same key is running (taken and not yet Done). Nothing can be
// taken while it runs, so whatever it records happens before the value it
// announces can be taken. It must not call the queue.
func New[K comparable, V any](onPut func(key K, v V, running bool)) *Queue[K, V] {
	return &Queue[K, V]{
		onPut:   onPut,
		pending: map[K]V{},
		running: map[K]int{},
		ready:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// Put queues v as key's newest value: a value still pending for key is
// dropped, and key moves behind every other pending key. It reports whether
// v was queued: after Close nothing is.
func (q *Queue[K, V]) Put(key K, v V) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.onPut != nil {
		q.onPut(key, v, q.running[key] > 0)
	}
	if _, ok := q.pending[key]; ok {
		q.order = slices.DeleteFunc(q.order, func(k K) bool { return k == key })
	}
	q.pending[key] = v
	q.order = append(q.order, key)
	q.mu.Unlock()
	q.signal()
	return true
}

// Take waits for the pending value of the oldest key, removes it from the
// queue and counts it as running until Done(key). ok is false once ctx is
// done (even with values pending), or once the queue is closed and empty:
// after Close, Take still hands out what was pending.
func (q *Queue[K, V]) Take(ctx context.Context) (key K, v V, ok bool) {
	for {
		if ctx.Err() != nil {
			return key, v, false
		}
		q.mu.Lock()
		if len(q.order) > 0 {
			key = q.order[0]
			q.order = q.order[1:]
			v = q.pending[key]
			delete(q.pending, key)
			q.running[key]++
			more := len(q.order) > 0
			q.mu.Unlock()
			if more {
				q.signal() // for another taker
			}
			return key, v, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return key, v, false
		}
		select {
		case <-q.ready:
		case <-q.done:
		case <-ctx.Done():
		}
	}
}

// Done says that a value taken for key has been dealt with: key no longer
// counts as running (once every value taken for it is done).
func (q *Queue[K, V]) Done(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running[key] <= 1 {
		delete(q.running, key)
		return
	}
	q.running[key]--
}

// Close refuses further Puts. Values already pending stay to be taken;
// then Take reports false. Close may be called more than once.
func (q *Queue[K, V]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.once.Do(func() { close(q.done) })
}

// Len is the number of keys with a pending value.
func (q *Queue[K, V]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

func (q *Queue[K, V]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

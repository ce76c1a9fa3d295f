package newest

import (
	"context"
	"sync"
	"testing"
)

func take[K comparable, V any](t *testing.T, q *Queue[K, V]) (K, V) {
	t.Helper()
	k, v, ok := q.Take(context.Background())
	if !ok {
		t.Fatal("Take: nothing")
	}
	return k, v
}

func TestNewestPerKeyInOrderOfNewestPut(t *testing.T) {
	q := New[string, int](nil)
	q.Put("a", 1)
	q.Put("b", 1)
	q.Put("a", 2) // replaces a's 1 and goes behind b
	q.Put("c", 1)
	if q.Len() != 3 {
		t.Fatalf("Len %d, want 3", q.Len())
	}
	want := []struct {
		k string
		v int
	}{{"b", 1}, {"a", 2}, {"c", 1}}
	for _, w := range want {
		if k, v := take(t, q); k != w.k || v != w.v {
			t.Fatalf("took %s=%d, want %s=%d", k, v, w.k, w.v)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after taking all", q.Len())
	}
}

func TestOnPutSeesRunning(t *testing.T) {
	type put struct {
		k       string
		v       int
		running bool
	}
	var puts []put
	q := New(func(k string, v int, running bool) { puts = append(puts, put{k, v, running}) })
	q.Put("a", 1) // idle
	take(t, q)    // a runs
	q.Put("a", 2) // a running: the hook can mark it superseded
	q.Put("b", 1) // another key: not running
	q.Done("a")
	q.Put("a", 3) // a's 2 is pending, not running
	want := []put{{"a", 1, false}, {"a", 2, true}, {"b", 1, false}, {"a", 3, false}}
	if len(puts) != len(want) {
		t.Fatalf("puts %v, want %v", puts, want)
	}
	for i := range want {
		if puts[i] != want[i] {
			t.Fatalf("puts %v, want %v", puts, want)
		}
	}
	// Two values of one key taken: running until both are done.
	take(t, q) // b
	take(t, q) // a=3
	q.Put("a", 4)
	take(t, q)
	q.Done("a")
	q.Put("a", 5)
	q.Done("a")
	q.Put("a", 6)
	if got := puts[len(puts)-2:]; !got[0].running || got[1].running {
		t.Fatalf("running after one of two Done / after both: %v", got)
	}
	q.Done("z") // never taken: nothing to undo
}

func TestCloseDrainsThenStops(t *testing.T) {
	q := New[string, int](nil)
	q.Put("a", 1)
	q.Put("b", 2)
	q.Close()
	q.Close()
	if q.Put("c", 3) {
		t.Fatal("Put after Close queued a value")
	}
	if k, _ := take(t, q); k != "a" {
		t.Fatalf("took %s first", k)
	}
	if k, _ := take(t, q); k != "b" {
		t.Fatalf("took %s second", k)
	}
	if _, _, ok := q.Take(context.Background()); ok {
		t.Fatal("Take after Close and drain returned a value")
	}
}

func TestTakeStopsWithContext(t *testing.T) {
	q := New[struct{}, int](nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan bool)
	go func() {
		_, _, ok := q.Take(ctx)
		got <- ok
	}()
	cancel()
	if <-got {
		t.Fatal("Take returned a value from an empty queue")
	}
	// A done context wins over pending values: a stopped worker starts
	// nothing new.
	q.Put(struct{}{}, 1)
	if _, _, ok := q.Take(ctx); ok {
		t.Fatal("Take with a done context returned a value")
	}
	if q.Len() != 1 {
		t.Fatal("the pending value was lost")
	}
}

func TestTakeWaitsForPut(t *testing.T) {
	q := New[string, int](nil)
	got := make(chan int)
	go func() {
		_, v, _ := q.Take(context.Background())
		got <- v
	}()
	q.Put("a", 7)
	if v := <-got; v != 7 {
		t.Fatalf("took %d", v)
	}
	// A taker waiting on an empty queue ends at Close.
	end := make(chan bool)
	go func() {
		_, _, ok := q.Take(context.Background())
		end <- ok
	}()
	q.Close()
	if <-end {
		t.Fatal("Take after Close of an empty queue returned a value")
	}
}

// Producers put increasing values per key while a taker takes: each key's
// values come out in increasing order, none twice, and the newest of each
// key always comes out (run with -race).
func TestConcurrentNewestWins(t *testing.T) {
	const keys, per, takers = 4, 500, 1
	q := New[int, int](nil)
	var mu sync.Mutex
	last := map[int]int{}
	var tw sync.WaitGroup
	for range takers {
		tw.Add(1)
		go func() {
			defer tw.Done()
			for {
				k, v, ok := q.Take(context.Background())
				if !ok {
					return
				}
				mu.Lock()
				if v <= last[k] {
					t.Errorf("key %d: took %d after %d", k, v, last[k])
				}
				last[k] = v
				mu.Unlock()
				q.Done(k)
			}
		}()
	}
	var pw sync.WaitGroup
	for k := range keys {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for v := 1; v <= per; v++ {
				q.Put(k, v)
			}
		}()
	}
	pw.Wait()
	q.Close()
	tw.Wait()
	for k := range keys {
		if last[k] != per {
			t.Errorf("key %d: newest taken %d, want %d", k, last[k], per)
		}
	}
}

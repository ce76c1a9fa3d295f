package netlab

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// The crash window of a kill -9 runs from CrashWindow before the kill
// until the new master's first acknowledgement: a reply the old master
// sent before it died may arrive after the kill was signalled (seen in
// CI through HAProxy), but a write the old master acknowledged earlier
// than the window, after the new master answered (it came back), or
// that the new master acknowledged, is a failure when lost.
func TestSplitLost(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	kill := start.Add(10 * time.Second)
	const old, final = "192.0.2.71", "192.0.2.72"
	acks := []writer.Ack{
		{N: 1, At: 8 * time.Second, By: old},                         // before the window
		{N: 2, At: 9*time.Second + 500*time.Millisecond, By: old},    // in the window
		{N: 3, At: 10*time.Second + 2*time.Millisecond, By: old},     // in flight at the kill
		{N: 4, At: 10*time.Second + 300*time.Millisecond, By: final}, // the new master answers
		{N: 5, At: 10*time.Second + 400*time.Millisecond, By: final}, // the new master's write
		{N: 6, At: 12 * time.Second, By: old},                        // old came back as master
	}
	w := &Writer{Log: writer.Log{Start: start, Acks: acks}}
	in, beyond := w.splitLost(nil, final, old, kill)
	if got, want := numbers(in), "[2 3]"; got != want {
		t.Errorf("in the crash window: %s, want %s", got, want)
	}
	if got, want := numbers(beyond), "[1 4 5 6]"; got != want {
		t.Errorf("beyond it: %s, want %s", got, want)
	}
	// The new master never answered: only what old acknowledged before
	// the kill can be in the window.
	w.Log.Acks = acks[:3]
	if got, want := numbers(first(w.splitLost(nil, final, old, kill))), "[2]"; got != want {
		t.Errorf("no new master: in the window %s, want %s", got, want)
	}
	if at, by, ok := w.FirstAckAfter(kill, final); ok {
		t.Errorf("FirstAckAfter(kill, final) with no ack by final: %v %s", at, by)
	}
	w.Log.Acks = acks
	if at, by, ok := w.FirstAckAfter(kill, ""); !ok || by != old || !at.Equal(start.Add(acks[2].At)) {
		t.Errorf("FirstAckAfter(kill, any) = %v %s %v, want the in-flight reply", at, by, ok)
	}
	if at, _, ok := w.FirstAckAfter(kill, final); !ok || !at.Equal(start.Add(acks[3].At)) {
		t.Errorf("FirstAckAfter(kill, final) = %v %v, want write 4", at, ok)
	}
}

func first(a, _ []LostAck) []LostAck { return a }

func numbers(as []LostAck) string {
	ns := make([]int64, len(as))
	for i, a := range as {
		ns[i] = a.N
	}
	return fmt.Sprint(ns)
}

package e2e

import (
	"testing"
	"time"
)

// Scenario 9: the check flaps: the master's Redis is paused (SIGSTOP) long
// enough for the check to fail, then resumed (SIGCONT), three times, each
// time on whichever host is master then. The pair must settle with one
// master, the other its replica (no replication loop), and no acknowledged
// write lost.
func TestScenario09CheckFlaps(t *testing.T) {
	l, ctx := newLab(t, labOptions{})
	settled(t, ctx, l, 20*time.Second, nil)
	w := startWriter(t, ctx, l, "s9")
	for i := 0; i < 3; i++ {
		s := l.State(ctx)
		m := s.Masters()
		if len(m) != 1 {
			t.Fatalf("round %d: masters %v (%s)", i+1, m, s)
		}
		pause := 1500 * time.Millisecond
		if i == 1 {
			pause = 2500 * time.Millisecond // long enough for fall 2: a failover
		}
		must(t, l.FreezeRedis(m[0]))
		time.Sleep(pause)
		must(t, l.ThawRedis(m[0]))
		t.Logf("round %d: paused %s for %s; now %s", i+1, m[0], pause, l.State(ctx))
		time.Sleep(1500 * time.Millisecond)
	}
	settled(t, ctx, l, 45*time.Second, nil)
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := stopWriter(t, w)
	checkEnd(t, ctx, l, r, 0)
}

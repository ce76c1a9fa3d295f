package e2e

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// Scenario 8: both hosts cold-start together (Redis with guard on both at
// once, then keepalived on both at once, as after a power cut), with data on
// both, only on the master, only on the replica, or on neither. Every write
// acknowledged before the stop must survive as long as one host kept its
// data, and the pair must settle with one master holding the VIP. Each
// variant builds its own lab.
func TestScenario08ColdStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		wipe string // "", "master", "replica", "both"
	}{
		{"both-have-data", ""},
		{"only-master-has-data", "replica"},
		{"only-replica-has-data", "master"},
		{"neither-has-data", "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ctx := newLab(t, labOptions{})
			master, _ := settled(t, ctx, l, 20*time.Second, nil)
			saved := filepath.Join(l.Dir(), "s8-writes.json")
			w := startWriter(t, ctx, l, "s8", "--save-log", saved)
			if err := w.WaitMoreAcks(ctx, 150, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			r := stopWriter(t, w)
			checkEnd(t, ctx, l, r, 0)
			stopAll(t, ctx, l)
			switch tc.wipe {
			case "master":
				wipe(t, l, master)
			case "replica":
				wipe(t, l, lab.Peer(master))
			case "both":
				wipe(t, l, "h1")
				wipe(t, l, "h2")
			}
			startAll(t, ctx, l)
			s, err := l.WaitSettled(ctx, 45*time.Second, nil)
			if err != nil {
				t.Error(err)
			} else {
				t.Logf("settled: %s", s)
			}
			v, err := l.StartWriter(ctx, "s8-verify", "client", "--verify-log", saved, "--settle", "5s")
			if err != nil {
				t.Fatal(err)
			}
			vr, err := v.Wait(60 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, after the cold start: %s", tc.name, vr.Summary())
			if tc.wipe == "both" {
				// Nothing to keep: the data is gone by construction.
				if vr.Present != 0 {
					t.Errorf("both hosts started without data, yet the master holds %d entries", vr.Present)
				}
				vr.Lost = 0
			}
			checkEnd(t, ctx, l, vr, 0)
		})
	}
}

// stopAll stops keepalived, then Redis (gracefully: it saves its RDB), on
// both hosts at once.
func stopAll(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	both(t, func(h string) error { return l.StopKeepalived(ctx, h) })
	both(t, func(h string) error { return l.StopRedis(ctx, h) })
}

// startAll starts Redis (guard first) on both hosts at once, then keepalived
// on both at once, as after a power cut.
func startAll(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	both(t, func(h string) error { _, err := l.StartRedis(ctx, h); return err })
	both(t, func(h string) error { return l.StartKeepalived(ctx, h) })
}

// both runs do for h1 and h2 at once.
func both(t *testing.T, do func(host string) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(lab.Hosts))
	for i, h := range lab.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = do(h)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

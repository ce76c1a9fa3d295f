package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// Scenario 5: the old master returns after a failover. guard makes it start
// as the new master's replica, so it syncs first (S2). With nopreempt it
// stays BACKUP; without nopreempt (and a higher priority) it takes the VIP
// back, and its notify-master syncs and hands over with FAILOVER TO.
func TestScenario05OldMasterReturns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preempt bool
	}{{"nopreempt", false}, {"preempt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			l, ctx := newLab(t, labOptions{preempt: tc.preempt})
			old, _ := settled(t, ctx, l, 20*time.Second, nil)
			w := startWriter(t, ctx, l, "s5-"+tc.name)
			// A planned stop: Redis 7 waits for its replica before exiting.
			must(t, l.StopRedis(ctx, old))
			settled(t, ctx, l, 30*time.Second, func(m string, _ lab.State) bool { return m == lab.Peer(old) })
			if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			out := startRedis(t, ctx, l, old)
			if !strings.Contains(out, "start-as-replica") {
				t.Errorf("guard on the returning master should start it as a replica, said: %s", out)
			}
			want := lab.Peer(old)
			if tc.preempt {
				want = old
			}
			settled(t, ctx, l, 45*time.Second, func(m string, s lab.State) bool {
				return m == want && s.Nodes[lab.Peer(m)].KA == "BACKUP"
			})
			if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			r := stopWriter(t, w)
			checkEnd(t, ctx, l, r, 0)
		})
	}
}

// Scenario 6: the master's Redis crashes and restarts at once with no data
// (files deleted, persistence off), before keepalived notices. With guard it
// starts as the replica of the peer, which keeps its data; without guard it
// starts as an empty master and its replica copies the emptiness.
func TestScenario06RestartEmpty(t *testing.T) {
	t.Run("with-guard", func(t *testing.T) {
		l, ctx := newLab(t, labOptions{})
		master, _ := settled(t, ctx, l, 20*time.Second, nil)
		peer := lab.Peer(master)
		w := startWriter(t, ctx, l, "s6-guard")
		if err := w.WaitMoreAcks(ctx, 150, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		before := listLen(t, ctx, l, peer, "e2e:s6-guard")
		restartEmpty(t, ctx, l, master, true)
		settled(t, ctx, l, 45*time.Second, nil)
		if n := listLen(t, ctx, l, peer, "e2e:s6-guard"); n < before {
			t.Errorf("peer %s lost data: list had %d entries before the restart, %d after", peer, before, n)
		}
		if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		r := stopWriter(t, w)
		checkEnd(t, ctx, l, r, 0)
	})
	t.Run("without-guard", func(t *testing.T) {
		l, ctx := newLab(t, labOptions{})
		master, _ := settled(t, ctx, l, 20*time.Second, nil)
		peer := lab.Peer(master)
		w := startWriter(t, ctx, l, "s6-noguard")
		if err := w.WaitMoreAcks(ctx, 150, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		before := listLen(t, ctx, l, peer, "e2e:s6-noguard")
		restartEmpty(t, ctx, l, master, false)
		// Watch the peer for a few seconds: Redis's own replication reconnects
		// to the restarted, empty master and copies it.
		minLen := before
		deadline := time.Now().Add(6 * time.Second)
		for time.Now().Before(deadline) {
			if n, err := l.Cli(ctx, peer, "LLEN", "e2e:s6-noguard"); err == nil {
				if v, err := strconv.Atoi(n); err == nil && v < minLen {
					minLen = v
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		s, err := l.WaitSettled(ctx, 30*time.Second, nil)
		t.Logf("WITHOUT guard: peer %s held %d entries before the restart, as few as %d after; settle: %v; state: %s",
			peer, before, minLen, err, s)
		r, err := w.Stop(45 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("WITHOUT guard: %s", r.Summary())
		t.Logf("WITHOUT guard: %d of %d acknowledged writes lost: this is the data loss guard prevents (S5)", r.Lost, r.Acked)
	})
}

// restartEmpty kills host's Redis, deletes its data files and starts it
// again at once with persistence off, with or without guard.
func restartEmpty(t *testing.T, ctx context.Context, l *lab.Lab, host string, guard bool) {
	t.Helper()
	must(t, l.KillRedis(ctx, host))
	wipe(t, l, host)
	flags := []lab.RedisFlag{lab.NoPersist}
	if !guard {
		flags = append(flags, lab.NoGuard)
	}
	startRedis(t, ctx, l, host, flags...)
}

func wipe(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	for _, f := range []string{"dump.rdb", "appendonlydir"} {
		if err := os.RemoveAll(filepath.Join(l.HostDir(host), "data", f)); err != nil {
			t.Fatal(err)
		}
	}
}

func listLen(t *testing.T, ctx context.Context, l *lab.Lab, host, key string) int {
	t.Helper()
	out, err := l.Cli(ctx, host, "LLEN", key)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("LLEN %s on %s: %q", key, host, out)
	}
	return n
}

// Scenario 7: the master restarts from an older snapshot. guard sees that
// the file is older than the peer and starts it as a replica: the peer is
// not rolled back.
func TestScenario07OlderSnapshot(t *testing.T) {
	l, ctx := newLab(t, labOptions{})
	master, _ := settled(t, ctx, l, 20*time.Second, nil)
	w := startWriter(t, ctx, l, "s7")
	if _, err := l.Cli(ctx, master, "SAVE"); err != nil {
		t.Fatal(err)
	}
	rdb := filepath.Join(l.HostDir(master), "data", "dump.rdb")
	old, err := os.ReadFile(rdb)
	if err != nil {
		t.Fatal(err)
	}
	snapLen := listLen(t, ctx, l, master, "e2e:s7")
	if err := w.WaitMoreAcks(ctx, 200, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, l.StopRedis(ctx, master))
	if err := os.WriteFile(rdb, old, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s restarts from a snapshot holding %d entries; the peer holds %d", master, snapLen, listLen(t, ctx, l, lab.Peer(master), "e2e:s7"))
	out := startRedis(t, ctx, l, master)
	if !strings.Contains(out, "start-as-replica") {
		t.Errorf("guard should start %s as a replica of its fresher peer, said: %s", master, out)
	}
	settled(t, ctx, l, 45*time.Second, func(m string, _ lab.State) bool { return m == lab.Peer(master) })
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := stopWriter(t, w)
	checkEnd(t, ctx, l, r, 0)
}

// Scenario 10: the replica dies and returns. The master keeps the VIP the
// whole time and the replica resyncs.
func TestScenario10ReplicaDiesAndReturns(t *testing.T) {
	l, ctx := newLab(t, labOptions{})
	master, _ := settled(t, ctx, l, 20*time.Second, nil)
	replica := lab.Peer(master)
	w := startWriter(t, ctx, l, "s10")
	holders := watchVIP(ctx, l)
	must(t, l.KillRedis(ctx, replica))
	if err := lab.WaitFor(ctx, 10*time.Second, replica+" keepalived FAULT", func() bool { return l.KeepalivedState(replica) == "FAULT" }); err != nil {
		t.Error(err)
	}
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	startRedis(t, ctx, l, replica)
	settled(t, ctx, l, 30*time.Second, func(m string, s lab.State) bool { return m == master && s.Nodes[replica].KA == "BACKUP" })
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := stopWriter(t, w)
	if seen := holders(); len(seen) != 1 || seen[0] != master {
		t.Errorf("the VIP should have stayed on %s; it was seen on %v", master, seen)
	}
	if r.MaxGapMS > 1500 {
		t.Errorf("the master should have kept serving: longest gap %d ms", r.MaxGapMS)
	}
	checkEnd(t, ctx, l, r, 0)
}

// watchVIP samples where the VIP is every 100 ms until the returned
// function is called, which returns the distinct holders seen, in order.
func watchVIP(ctx context.Context, l *lab.Lab) func() []string {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			h := l.VIPHolder(ctx)
			mu.Lock()
			if ctx.Err() == nil && (len(seen) == 0 || seen[len(seen)-1] != h) {
				seen = append(seen, h)
			}
			mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

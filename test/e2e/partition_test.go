package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/writer"
)

// Scenario 2: the master host's link goes down for 10 s (cut off the bridge:
// its link stays up, so its keepalived stays MASTER while the peer, hearing
// no adverts, becomes MASTER too). Clients behind the VIP move to the peer;
// a client on the cut-off host itself keeps writing to the old master. When
// the link returns, VRRP keeps one master (equal priorities: the higher
// address, h2) and the other resyncs from it, after backing up its diverged
// data (S6). The test shows the writes on each side and checks that the
// backup holds the writes the losing side took during the split.
//
// It runs twice: with h1 as the master that is cut off (when the link
// returns VRRP's tie-break, the higher address, favours h2, the side the
// clients moved to), and with h2 cut off (the tie-break favours the stale
// side, so redis-vip itself must keep the data where the clients wrote).
func TestScenario02LinkDown10s(t *testing.T) {
	for _, cut := range []string{"h1", "h2"} {
		t.Run("master-"+cut, func(t *testing.T) { scenario02(t, cut) })
	}
}

func scenario02(t *testing.T, cut string) {
	l, ctx := newLab(t, labOptions{})
	master, _ := settled(t, ctx, l, 20*time.Second, nil)
	if master != cut {
		// Move the master role with a planned keepalived restart (scenario 3).
		must(t, l.StopKeepalived(ctx, master))
		if err := lab.WaitFor(ctx, 30*time.Second, "the VIP on "+cut, func() bool { return l.VIPHolder(ctx) == cut }); err != nil {
			t.Fatal(err)
		}
		must(t, l.StartKeepalived(ctx, master))
		master, _ = settled(t, ctx, l, 30*time.Second, func(m string, s lab.State) bool {
			return m == cut && s.Nodes[lab.Peer(cut)].KA == "BACKUP"
		})
	}
	w := startWriter(t, ctx, l, "s2")
	side, err := l.StartWriter(ctx, "s2-side", master, "--addr", "127.0.0.1:6379", "--key", "e2e:s2-side", "--settle", "20s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = side.Stop(40 * time.Second) })
	if err := side.WaitAcked(ctx, 50, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sideBefore := side.Acked()

	must(t, l.Isolate(ctx, master))
	cutAt := time.Now()
	splitSeen := lab.WaitFor(ctx, 9*time.Second, "two masters", func() bool { return len(l.State(ctx).Masters()) == 2 }) == nil
	t.Logf("during the split (%.1fs after the cut): %s", time.Since(cutAt).Seconds(), l.State(ctx))
	if !splitSeen {
		t.Errorf("expected both sides to be master during the split")
	}
	time.Sleep(time.Until(cutAt.Add(10 * time.Second)))
	mainDuring, sideDuring := w.Acked(), side.Acked()
	must(t, l.Heal(ctx, master))

	winner, _ := settled(t, ctx, l, 45*time.Second, nil)
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	loser := lab.Peer(winner)
	sr, err := side.Stop(45 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := stopWriter(t, w)
	t.Logf("writes through the VIP: %d acknowledged in all, %d by the end of the split; by server %v; lost %d",
		r.Acked, mainDuring, r.AckedBy, r.Lost)
	t.Logf("writes on the cut-off host itself (client in %s writing to 127.0.0.1): %d acknowledged before the cut, %d by the end of the split; %d of its acknowledged writes are not on the final master %s",
		master, sideBefore, sideDuring, sr.Lost, sr.FinalMaster)
	t.Logf("scenario 2: %d acknowledged writes through the VIP lost; documented bound: writes the old master "+
		"acknowledged but had not yet replicated when its link went down (at ~100 writes/s, 0 or 1), plus any the "+
		"losing side acknowledged during the split, which are in its backup (S6)", r.Lost)
	checkEnd(t, ctx, l, r, 5)

	// The losing side's data was backed up before it resynced (S6).
	backups := l.Backups(loser)
	t.Logf("%s backups: %v", loser, backups)
	if len(backups) == 0 {
		t.Fatalf("no backup in %s's backup dir: its diverged data was discarded without a copy (S6)", loser)
	}
	// Every acknowledged write missing from the final master must be in the
	// loser's newest backup: the cut-off host's own client's, and any the
	// loser took through the VIP.
	newest := backups[len(backups)-1]
	for _, c := range []struct {
		what string
		key  string
		r    writer.Report
	}{{"the cut-off host's own client", "e2e:s2-side", sr}, {"the client writing through the VIP", "e2e:s2", r}} {
		if c.r.Lost == 0 || !lostOn(c.r, loser) {
			continue
		}
		inBackup, err := listFromRDB(ctx, l, loser, newest, c.key)
		if err != nil {
			t.Fatal(err)
		}
		missing := lostNumbers(c.r, inBackup)
		t.Logf("%s: %d acknowledged writes are not on the final master; the backup %s holds %d entries of its list; %d of the lost writes are not in it either",
			c.what, c.r.Lost, filepath.Base(newest), len(inBackup), len(missing))
		if len(missing) > 0 {
			t.Errorf("%s: %d acknowledged writes are in neither the final master nor the backup (S6), e.g. %v",
				c.what, len(missing), missing[:min(5, len(missing))])
		}
	}
}

// lostOn reports whether the report's lost writes were acknowledged by host.
func lostOn(r writer.Report, host string) bool {
	return r.LostBy[lab.Addr[host]] > 0
}

// lostNumbers returns the report's lost numbers that are not in have.
func lostNumbers(r writer.Report, have []int64) []int64 {
	set := map[int64]bool{}
	for _, n := range have {
		set[n] = true
	}
	var out []int64
	for _, rg := range r.LostRanges {
		for n := rg[0]; n <= rg[1]; n++ {
			if !set[n] {
				out = append(out, n)
			}
		}
	}
	return out
}

// listFromRDB loads an RDB into a scratch redis-server inside host's
// namespace (port 6390, no persistence) and reads a list from it.
func listFromRDB(ctx context.Context, l *lab.Lab, host, rdb, key string) ([]int64, error) {
	dir, err := os.MkdirTemp(l.Dir(), "scratch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(rdb)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b, 0o644); err != nil {
		return nil, err
	}
	pidfile := filepath.Join(dir, "redis.pid")
	if _, err := l.Exec(ctx, host, "redis-server", "--port", "6390", "--bind", "127.0.0.1", "--dir", dir,
		"--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", pidfile,
		"--logfile", filepath.Join(dir, "redis.log")); err != nil {
		return nil, err
	}
	defer func() {
		_, _ = l.Exec(context.Background(), host, "redis-cli", "-p", "6390", "shutdown", "nosave")
	}()
	var out string
	err = lab.WaitFor(ctx, 10*time.Second, "scratch redis", func() bool {
		var e error
		out, e = l.Exec(ctx, host, "redis-cli", "-p", "6390", "LRANGE", key, "0", "-1")
		return e == nil && !strings.Contains(out, "LOADING")
	})
	if err != nil {
		return nil, err
	}
	nums, err := writer.ParseList(out)
	if err != nil {
		return nil, fmt.Errorf("backup list: %w", err)
	}
	return nums, nil
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// The notify FIFO variant's fast path: notify-fifo holds a connection to
// the local Redis. kill -9 of the master's Redis makes it write 1 into the
// track file redis_down at once, keepalived goes to FAULT without waiting
// for chk_redis, and the peer takes over. When the Redis comes back (guard
// first, as the systemd drop-in does) and its check passes, the file goes
// back to 0 and the node rejoins as BACKUP. Asserted: the file's values,
// the failover, nothing lost beyond W1; printed: the longest write gap.
func TestFIFOTrackFileOnKill(t *testing.T) {
	l, ctx := newLab(t, labOptions{notify: "fifo"})
	master, _ := settled(t, ctx, l, 20*time.Second, nil)
	down := filepath.Join(l.HostDir(master), "state", "redis6379.down")
	value := func() string {
		b, err := os.ReadFile(down)
		if err != nil {
			return "missing: " + err.Error()
		}
		return strings.TrimSpace(string(b))
	}
	if v := value(); v != "0" {
		t.Fatalf("%s holds %q before the kill, want 0 (keepalived's init_file)", down, v)
	}
	w := startWriter(t, ctx, l, "trackfile")
	if err := w.WaitMoreAcks(ctx, 150, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, l.KillRedis(ctx, master))
	deadline := time.Now().Add(5 * time.Second)
	for value() != "1" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if v := value(); v != "1" {
		t.Fatalf("%s holds %q after kill -9 of the master's Redis, want 1", down, v)
	}
	settled(t, ctx, l, 30*time.Second, func(m string, _ lab.State) bool { return m == lab.Peer(master) })
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if log := l.Tail(master+"/log/redis-vip.log", 400); !strings.Contains(log, "track file set to 1") {
		t.Errorf("%s's notify-fifo did not log the track file going to 1:\n%s", master, log)
	}

	// Back: guard makes it a replica of the new master; once its check
	// passes, the file goes back to 0 and keepalived leaves FAULT.
	startRedis(t, ctx, l, master)
	deadline = time.Now().Add(30 * time.Second)
	for value() != "0" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if v := value(); v != "0" {
		t.Fatalf("%s holds %q after the Redis came back, want 0", down, v)
	}
	settled(t, ctx, l, 30*time.Second, func(m string, s lab.State) bool {
		return m == lab.Peer(master) && s.Nodes[master].KA == "BACKUP"
	})
	r := stopWriter(t, w)
	t.Logf("kill -9 through the track file: longest write gap %d ms, %d acknowledged writes lost", r.MaxGapMS, r.Lost)
	checkEnd(t, ctx, l, r, 5)
}

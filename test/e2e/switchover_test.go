package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// Scenario 4: `redis-vip switchover` and back again, while keepalived keeps
// running and a client writes through the VIP: zero acknowledged writes
// lost. Then a switchover while the peer cannot be in sync (its Redis
// paused) must be refused and change nothing.
func TestScenario04Switchover(t *testing.T) {
	if env.skip == "" {
		if err := exec.Command(env.bin, "switchover", "--help").Run(); err != nil {
			t.Skip("this redis-vip has no switchover command (register switchoverCommand() in cmd/redis-vip/app.go)")
		}
	}
	l, ctx := newLab(t, labOptions{})
	first, _ := settled(t, ctx, l, 20*time.Second, nil)
	w := startWriter(t, ctx, l, "s4")
	for i, from := range []string{first, lab.Peer(first)} {
		out, err := switchover(ctx, l, from)
		t.Logf("switchover %d on %s: %s", i+1, from, out)
		if err != nil {
			t.Fatalf("switchover on %s: %v", from, err)
		}
		settled(t, ctx, l, 30*time.Second, func(m string, s lab.State) bool {
			return m == lab.Peer(from) && s.Nodes[from].KA == "BACKUP"
		})
		if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Refused: the replica does not answer, so it cannot be shown in sync.
	replica := lab.Peer(first)
	must(t, l.FreezeRedis(replica))
	out, err := switchover(ctx, l, first)
	must(t, l.ThawRedis(replica))
	t.Logf("switchover with the replica paused: %v: %s", err, out)
	if err == nil || !strings.Contains(out, "refused") {
		t.Errorf("switchover should refuse while the peer is not in sync; got err=%v out=%s", err, out)
	}
	settled(t, ctx, l, 30*time.Second, func(m string, _ lab.State) bool { return m == first })
	if err := w.WaitMoreAcks(ctx, 100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := stopWriter(t, w)
	checkEnd(t, ctx, l, r, 0)
}

// switchover runs `redis-vip switchover` on host, as an operator would.
func switchover(ctx context.Context, l *lab.Lab, host string) (string, error) {
	out, err := l.Exec(ctx, host, filepath.Join(l.Dir(), "bin", "redis-vip"), "switchover",
		"--config", filepath.Join(l.HostDir(host), "etc", "redis-vip.yml"), "--wait", "30s")
	return strings.TrimSpace(out), err
}

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

func guardInclude(n *node) string { return filepath.Join(filepath.Dir(n.config), "guard.conf") }

// S5: a master that restarts with no data comes back as a replica of the peer
// holding the data (which guard promotes, since it replicated the dead node),
// and the peer keeps its data. Without guard the same restart wipes the peer.
func TestS5GuardEmptyRestartStartsAsReplica(t *testing.T) {
	a, b := pair(t, 100, nil)
	ctx := context.Background()
	a.srv.Kill()
	// The full sync left an RDB on A's disk; an empty restart is one whose
	// files are gone (persistence off, disk replaced).
	os.Remove(filepath.Join(a.srv.Dir, "dump.rdb"))

	r := a.run(t, "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "start-as-replica") || !strings.Contains(r.stdout, "peer promoted first") {
		t.Fatalf("guard: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	inc, _ := os.ReadFile(guardInclude(a))
	if !strings.Contains(string(inc), fmt.Sprintf("replicaof 127.0.0.1 %d", b.srv.Port)) {
		t.Fatalf("include file:\n%s", inc)
	}
	if b.srv.Role(ctx) != "master" || dbsize(t, b.srv) != 100 {
		t.Fatalf("peer: role %s keys %d, want promoted master with 100", b.srv.Role(ctx), dbsize(t, b.srv))
	}
	a.srv.Restart("include " + guardInclude(a))
	waitInSync(t, a.srv)
	if dbsize(t, a.srv) != 100 || dbsize(t, b.srv) != 100 {
		t.Fatalf("keys after restart: A %d B %d, want 100 and 100", dbsize(t, a.srv), dbsize(t, b.srv))
	}
	// A second run (the node is up now) refuses: guard runs before redis-server.
	if r := a.run(t, "guard"); r.code != 2 || !strings.Contains(r.stderr, "already running") {
		t.Fatalf("guard with redis running: exit %d %q", r.code, r.stderr)
	}
}

// Without guard the hazard is real: the empty restarted master is followed
// by its replica, which throws its data away. This is what S5 prevents.
func TestS5WithoutGuardEmptyRestartWipesPeer(t *testing.T) {
	a, b := pair(t, 100, nil)
	a.srv.Kill()
	os.Remove(filepath.Join(a.srv.Dir, "dump.rdb"))
	a.srv.Restart()
	waitInSync(t, b.srv)
	n := dbsize(t, b.srv)
	t.Logf("without guard: the replica holds %d keys after its master restarted empty (it had 100)", n)
	if n != 0 {
		t.Fatalf("expected the unguarded restart to wipe the replica (the hazard guard exists for); it holds %d", n)
	}
}

// S5: guard leaves a node alone when its file matches the peer that
// replicates it, and never lets it copy an empty peer.
func TestS5GuardLeavesFreshNodeAlone(t *testing.T) {
	a, b := pair(t, 100, nil)
	ctx := context.Background()
	if err := a.srv.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica at master offset", 5e9, func() bool { return followsInSync(ctx, b.srv, a.srv) })
	a.srv.Kill()
	r := a.run(t, "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "leave-alone") {
		t.Fatalf("guard: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	inc, _ := os.ReadFile(guardInclude(a))
	if strings.Contains(string(inc), "\nreplicaof") {
		t.Fatalf("include has a directive:\n%s", inc)
	}
	if b.srv.Role(ctx) != "slave" {
		t.Fatalf("peer role %s: guard must not touch it here", b.srv.Role(ctx))
	}
}

// S5/S1: a node with data whose redis.conf says replicaof an empty peer
// starts as master instead of copying the emptiness.
func TestS5GuardNeverFollowsEmptyPeer(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "data", 30)
	ctx := context.Background()
	if err := sa.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	a := writeConfig(t, "redis", sa, sb, nil)
	sa.Kill()
	r := a.run(t, "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "start-as-master") {
		t.Fatalf("guard: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	sa.Restart(fmt.Sprintf("replicaof 127.0.0.1 %d", sb.Port), "include "+guardInclude(a))
	if sa.Role(ctx) != "master" || dbsize(t, sa) != 30 {
		t.Fatalf("A role %s keys %d: want master with its 30 keys", sa.Role(ctx), dbsize(t, sa))
	}
}

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/backup"
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

// S6: before a stopped Redis 7 with a multi-part AOF starts as a replica,
// guard backs up its whole append-only directory (manifest, base and
// incremental files, not just the manifest), the copy loads back in a fresh
// redis-server with every key, retention keeps the instance's newest
// backups, and another instance's backups (cache-eu beside cache) and
// files that are not backups stay.
func TestS6GuardBacksUpWholeAOFDir(t *testing.T) {
	ctx := context.Background()
	sa := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "base", 40)
	sa.RewriteAOF(t)
	fill(t, sa, "incr", 10) // in the incremental file only
	fill(t, sb, "peer", 100)
	a := writeConfig(t, "cache", sa, sb, settings{"backups_keep": 2})

	if err := os.MkdirAll(a.backup, 0o750); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(inst string, d int) string {
		return backup.Name{Instance: inst, Time: old.AddDate(0, 0, d), ReplID: "abc", Offset: 1, Origin: backup.OriginBGSave, Kind: backup.KindRDB}.String()
	}
	oldest, older := name("cache", 0), name("cache", 1)
	stay := []string{older, name("cache-eu", 0), name("cache-eu", 1), name("cache-eu", 2), "cache-20250101T000000.000Z-aaaa-1.rdb", "notes.txt"}
	for _, n := range append([]string{oldest}, stay...) {
		if err := os.WriteFile(filepath.Join(a.backup, n), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	sa.Kill()

	r := a.run(t, "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "start-as-replica") || !strings.Contains(r.stdout, "backed up") {
		t.Fatalf("guard: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	list, err := backup.List(a.backup, "cache")
	if err != nil || len(list) != 2 || filepath.Base(list[0].Path) != older {
		t.Fatalf("cache's backups %+v, %v: want the older one and the new one", list, err)
	}
	got := list[1]
	if got.Name.Kind != backup.KindAOFDir || got.Name.Origin != backup.OriginGuard || got.Name.ReplID != backup.NoReplID {
		t.Fatalf("new backup %+v", got.Name)
	}
	for _, n := range stay {
		if _, err := os.Stat(filepath.Join(a.backup, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(a.backup, oldest)); err == nil {
		t.Errorf("%s was not pruned", oldest)
	}
	// The copy holds every file of the directory, byte for byte.
	src := filepath.Join(sa.Dir, "appendonlydir")
	files, _ := os.ReadDir(src)
	copied, _ := os.ReadDir(got.Path)
	if len(files) < 3 || len(copied) != len(files) {
		t.Fatalf("appendonlydir holds %d files, the backup %d", len(files), len(copied))
	}
	for _, f := range files {
		x, _ := os.ReadFile(filepath.Join(src, f.Name()))
		y, err := os.ReadFile(filepath.Join(got.Path, f.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Fatalf("%s not copied as it is: %v", f.Name(), err)
		}
	}
	// It loads back: a fresh redis-server on a scratch copy of it.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "appendonlydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range copied {
		b, _ := os.ReadFile(filepath.Join(got.Path, f.Name()))
		if err := os.WriteFile(filepath.Join(dir, "appendonlydir", f.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loaded := redistest.Start(t, redistest.Options{Dir: dir, Args: []string{"appendonly yes"}})
	var n int64
	waitFor(t, "the backup to load", 15*time.Second, func() bool {
		n, err = loaded.Client().DBSize(ctx).Result()
		return err == nil
	})
	if n != 50 {
		t.Fatalf("the backup loads back with %d keys, want 50", n)
	}
}

// S6: when guard cannot back up data it is about to discard, it exits
// non-zero (systemd then does not start redis-server) and writes no
// include file.
func TestS6GuardBackupFailureStopsTheStart(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "a", 20)
	fill(t, sb, "b", 30)
	if err := sa.Client().Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	a := writeConfig(t, "cache", sa, sb, nil)
	// The backup directory cannot be made: a file is in the way.
	if err := os.WriteFile(a.backup, []byte("in the way"), 0o640); err != nil {
		t.Fatal(err)
	}
	sa.Kill()
	r := a.run(t, "guard")
	if r.code != 1 || !strings.Contains(r.stderr, "back up") {
		t.Fatalf("guard: exit %d %q %q; want 1, not backed up", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(guardInclude(a)); err == nil {
		t.Fatal("guard wrote the include file although the backup failed")
	}
}

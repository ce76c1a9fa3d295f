package guard

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/internal/redistest"
)

const (
	fixtureRepl = "../rdbfile/testdata/master-repl-7.0.rdb" // 2 keys, repl-id d5c8cdec1d2c..., offset 106
	fixtureKeys = "../rdbfile/testdata/keys-7.0.rdb"        // 4 keys, no history
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFixture(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aofFiles is a data dir with a multi-part AOF whose base is the given
// RDB and whose incremental file holds incr.
func aofFiles(t *testing.T, base []byte, incr string) DataFiles {
	t.Helper()
	d := DataFiles{Dir: t.TempDir(), DBFilename: "dump.rdb", AOF: true, AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	adir := filepath.Join(d.Dir, d.AppendDirName)
	writeFile(t, filepath.Join(adir, "appendonly.aof.1.base.rdb"), base)
	writeFile(t, filepath.Join(adir, "appendonly.aof.1.incr.aof"), []byte(incr))
	writeFile(t, filepath.Join(adir, "appendonly.aof.manifest"),
		[]byte("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"))
	return d
}

const setCmd = "*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n"

func TestInspectLocal(t *testing.T) {
	rdb := DataFiles{Dir: t.TempDir(), DBFilename: "dump.rdb", AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	writeFile(t, filepath.Join(rdb.Dir, "dump.rdb"), readFixture(t, fixtureRepl))
	l := InspectLocal(rdb)
	if !l.HasReplInfo || l.ReplID != "d5c8cdec1d2c04670b63fd378475c9918d71eaaa" || l.ReplOffset != 106 || l.Path != filepath.Join(rdb.Dir, "dump.rdb") || !l.HasData() {
		t.Fatalf("rdb with history: %+v", l)
	}

	// appendonly on and only an RDB: Redis 7 starts empty.
	onlyRDB := rdb
	onlyRDB.AOF = true
	if l := InspectLocal(onlyRDB); !l.Missing {
		t.Fatalf("aof on, only an rdb: %+v", l)
	}

	// An AOF dir is the whole directory. A base whose RDB records a
	// history with nothing after it carries that history...
	d := aofFiles(t, readFixture(t, fixtureRepl), "")
	l = InspectLocal(d)
	if !l.HasReplInfo || l.ReplOffset != 106 || l.Path != filepath.Join(d.Dir, "appendonlydir") {
		t.Fatalf("aof dir, base with history, no incr: %+v", l)
	}
	// ...but writes after the base make it newer than any history the base
	// records: no history then, never an invented one.
	d = aofFiles(t, readFixture(t, fixtureRepl), setCmd)
	if l := InspectLocal(d); l.HasReplInfo || l.ReplID != "" || !l.HasData() {
		t.Fatalf("aof dir with incr: %+v", l)
	}
	d = aofFiles(t, readFixture(t, fixtureKeys), "")
	if l := InspectLocal(d); l.HasReplInfo || !l.HasData() {
		t.Fatalf("aof dir, base without history: %+v", l)
	}

	// A manifest redis-server cannot read: corrupt, and the path is the
	// directory (the whole of it is what gets backed up).
	d = aofFiles(t, readFixture(t, fixtureKeys), "")
	writeFile(t, filepath.Join(d.Dir, "appendonlydir", "appendonly.aof.manifest"), []byte("file x seq 1 type q\n"))
	if l := InspectLocal(d); !l.Corrupt || l.Path != filepath.Join(d.Dir, "appendonlydir") || !l.HasData() {
		t.Fatalf("corrupt manifest: %+v", l)
	}
}

// guard's backup of an AOF dataset is the whole directory, named and
// pruned per instance.
func TestRunnerBackupCopiesWholeAOFDir(t *testing.T) {
	d := aofFiles(t, readFixture(t, fixtureKeys), setCmd)
	bdir := t.TempDir()
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &Runner{Files: d, BackupDir: bdir, Instance: "cache", Keep: 2, Now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	l := InspectLocal(d)
	var paths []string
	for range 3 {
		p, err := r.backup(l)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	list, err := backup.List(bdir, "cache")
	if err != nil || len(list) != 2 || list[1].Path != paths[2] || list[0].Path != paths[1] {
		t.Fatalf("kept %+v %v, want the newest 2 of %v", list, err, paths)
	}
	if !strings.HasSuffix(paths[2], "@none@0@guard.aof-dir") {
		t.Fatalf("name %s", paths[2])
	}
	src := filepath.Join(d.Dir, "appendonlydir")
	for _, n := range []string{"appendonly.aof.manifest", "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"} {
		a, _ := os.ReadFile(filepath.Join(src, n))
		b, err := os.ReadFile(filepath.Join(paths[2], n))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s not in the backup as it is: %v", n, err)
		}
	}

	// The dataset guard looked at is the one it backs up, or nothing.
	moved := r.Files
	moved.AppendDirName = "elsewhere"
	if err := os.Rename(src, filepath.Join(d.Dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	r.Files = moved
	if _, err := r.backup(l); err == nil {
		t.Fatal("backup of a dataset other than the one inspected succeeded")
	}
}

// guard's backups and the transitions' (BGSAVE) backups are one set per
// instance under one rule (S6, package backup's retention): a guard backup
// counts toward backups_keep with the BGSAVE ones and prunes the oldest of
// either origin, and never touches another instance's backups or files that
// are not backups.
func TestRunnerBackupPrunedWithTransitionBackups(t *testing.T) {
	d := DataFiles{Dir: t.TempDir(), DBFilename: "dump.rdb", AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	writeFile(t, filepath.Join(d.Dir, "dump.rdb"), readFixture(t, fixtureRepl))
	bdir := t.TempDir()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// What the transitions' writer (Writer.Snapshot) left: two BGSAVE
	// backups of cache, older than guard's; another instance's; a stranger.
	name := func(inst string, ago time.Duration, o backup.Origin) string {
		return backup.Name{Instance: inst, Time: at.Add(-ago), ReplID: "d5c8cdec1d2c", Offset: 100, Origin: o, Kind: backup.KindRDB}.String()
	}
	oldest, older := name("cache", 3*time.Hour, backup.OriginBGSave), name("cache", 2*time.Hour, backup.OriginBGSave)
	others := []string{name("cache-eu", 4*time.Hour, backup.OriginBGSave), name("cache@eu", 4*time.Hour, backup.OriginGuard), "cache.rdb"}
	for _, n := range append([]string{oldest, older}, others...) {
		writeFile(t, filepath.Join(bdir, n), readFixture(t, fixtureRepl))
	}
	r := &Runner{Files: d, BackupDir: bdir, Instance: "cache", Keep: 2, Now: func() time.Time { return at }}
	p, err := r.backup(InspectLocal(d))
	if err != nil {
		t.Fatal(err)
	}
	list, err := backup.List(bdir, "cache")
	if err != nil || len(list) != 2 || filepath.Base(list[0].Path) != older || list[1].Path != p {
		t.Fatalf("kept %+v %v: want the newer BGSAVE backup and guard's", list, err)
	}
	if list[1].Name.Origin != backup.OriginGuard || list[1].Name.ReplID != "d5c8cdec1d2c" || list[1].Name.Offset != 106 {
		t.Fatalf("guard's backup is named %+v", list[1].Name)
	}
	for _, n := range others {
		if _, err := os.Stat(filepath.Join(bdir, n)); err != nil {
			t.Errorf("%s: %v (not cache's backup: must stay)", n, err)
		}
	}
}

// What a real Redis 7.0.15 leaves: neither a master with a replica (so a
// backlog) nor the replica records a history in its AOF, so guard treats
// both as having none.
func TestInspectLocalRealAOFHasNoHistory(t *testing.T) {
	m := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	r := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	ctx := context.Background()
	if err := r.Client().Do(ctx, "REPLICAOF", "127.0.0.1", m.Port).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.WaitInfo(t, "replication", "master_link_status:up", "master_sync_in_progress:0")
	for _, s := range []*redistest.Server{m, r} {
		s.RewriteAOF(t)
	}
	for _, s := range []*redistest.Server{m, r} {
		s.Kill()
		l := InspectLocal(DataFiles{Dir: s.Dir, DBFilename: "dump.rdb", AOF: true, AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"})
		if l.HasReplInfo || l.ReplID != "" || !l.HasData() || l.Path != filepath.Join(s.Dir, "appendonlydir") {
			t.Errorf("%s: %+v", s.Addr(), l)
		}
	}
}

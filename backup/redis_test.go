package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/node"
)

// Integration tests against real redis-server processes on loopback: every
// backup is loaded back into a fresh redis-server.

func fillKeys(t *testing.T, s *redistest.Server, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	p := s.Client().Pipeline()
	for i := range n {
		p.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// dbsizeOf waits until s has loaded its data and returns DBSIZE.
func dbsizeOf(t *testing.T, s *redistest.Server) int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := s.Client().DBSize(context.Background()).Result()
		if err == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbsize %s: %v", s.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyTree copies a file or a directory of files to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range dirNames(t, src) {
		copyTree(t, filepath.Join(src, n), filepath.Join(dst, n))
	}
}

// loadBack starts a fresh redis-server from a scratch copy of the backup
// (as dump.rdb, appendonly.aof or appendonlydir, by its kind) and returns
// its DBSIZE. The backup itself is never handed to redis-server, which may
// change what it loads.
func loadBack(t *testing.T, e Entry) int64 {
	t.Helper()
	dir := t.TempDir()
	var args []string
	switch e.Name.Kind {
	case KindRDB:
		copyTree(t, e.Path, filepath.Join(dir, "dump.rdb"))
	case KindAOFFile:
		copyTree(t, e.Path, filepath.Join(dir, "appendonly.aof"))
		args = []string{"appendonly yes"}
	case KindAOFDir:
		copyTree(t, e.Path, filepath.Join(dir, "appendonlydir"))
		args = []string{"appendonly yes"}
	}
	s := redistest.Start(t, redistest.Options{Dir: dir, Args: args})
	defer s.Kill()
	return dbsizeOf(t, s)
}

func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	na, nb := dirNames(t, a), dirNames(t, b)
	if fmt.Sprint(na) != fmt.Sprint(nb) {
		t.Fatalf("%s holds %v, %s holds %v", a, na, b, nb)
	}
	for _, n := range na {
		x, _ := os.ReadFile(filepath.Join(a, n))
		y, _ := os.ReadFile(filepath.Join(b, n))
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs", n)
		}
	}
}

// guard's backup of a stopped Redis 7 with a multi-part AOF copies the
// whole append-only directory (manifest, base, incremental files), and the
// copy loads back with every key.
func TestRedisStoppedAOFDirBackupLoadsBack(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	fillKeys(t, s, "base", 200)
	s.RewriteAOF(t)
	fillKeys(t, s, "incr", 50) // after the rewrite: in the incremental file only
	want := dbsizeOf(t, s)
	s.Kill()

	adir := filepath.Join(s.Dir, "appendonlydir")
	if n := len(dirNames(t, adir)); n < 3 {
		t.Fatalf("appendonlydir holds %d files, want manifest, base and incr", n)
	}
	ds, err := Locate(s.Dir, "dump.rdb", true, "appendonlydir", "appendonly.aof")
	if err != nil || ds.Kind != KindAOFDir {
		t.Fatalf("locate: %+v %v", ds, err)
	}
	bdir := t.TempDir()
	w := &Writer{Dir: bdir, Instance: "cache", Keep: 5}
	res, err := w.CopyStopped(ds)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup %s: %d bytes, base keys hint %d, incr %d bytes", res.Path, res.Size, res.Summary.KeysHint, res.Summary.IncrSize)
	sameFiles(t, adir, res.Path)
	if res.Summary.IncrSize == 0 || res.Summary.KeysHint != 200 || res.Name.ReplID != NoReplID {
		t.Fatalf("summary %+v name %+v", res.Summary, res.Name)
	}
	if got := loadBack(t, res.Entry); got != want {
		t.Fatalf("the backup loads back with %d keys, the server had %d", got, want)
	}
}

// The same for an RDB: the copy of dump.rdb loads back with every key, and
// its name carries the history the file records.
func TestRedisStoppedRDBBackupLoadsBack(t *testing.T) {
	m := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{})
	fillKeys(t, m, "k", 300)
	ctx := context.Background()
	if err := r.Client().Do(ctx, "REPLICAOF", "127.0.0.1", m.Port).Err(); err != nil {
		t.Fatal(err)
	}
	r.WaitInfo(t, "replication", "master_link_status:up", "master_sync_in_progress:0")
	if err := r.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	info, _ := r.Client().Info(ctx, "replication").Result()
	want := dbsizeOf(t, r)
	r.Kill()

	ds, err := Locate(r.Dir, "dump.rdb", false, "appendonlydir", "appendonly.aof")
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Writer{Dir: t.TempDir(), Instance: "cache", Keep: 5}).CopyStopped(ds)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name.ReplID == NoReplID || !strings.Contains(info, "master_replid:"+res.Name.ReplID) {
		t.Fatalf("name %+v does not carry the replica's history (%s)", res.Name, info)
	}
	if got := loadBack(t, res.Entry); got != want || got != 300 {
		t.Fatalf("the backup loads back with %d keys, the server had %d", got, want)
	}
}

// A Redis 6 style single appendonly.aof (RDB preamble and commands) is
// copied as one file and loads back.
func TestRedisStoppedAOFFileBackupLoadsBack(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	fillKeys(t, s, "base", 100)
	s.RewriteAOF(t)
	fillKeys(t, s, "incr", 20)
	s.Kill()
	// Build the single file Redis 6 would have written: base, then commands.
	adir := filepath.Join(s.Dir, "appendonlydir")
	var legacy []byte
	for _, n := range dirNames(t, adir) {
		if strings.Contains(n, ".base.") {
			b, _ := os.ReadFile(filepath.Join(adir, n))
			legacy = append(b, legacy...)
		}
		if strings.Contains(n, ".incr.") {
			b, _ := os.ReadFile(filepath.Join(adir, n))
			legacy = append(legacy, b...)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "appendonly.aof"), legacy, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := Locate(dir, "dump.rdb", true, "appendonlydir", "appendonly.aof")
	if err != nil || ds.Kind != KindAOFFile {
		t.Fatalf("locate: %+v %v", ds, err)
	}
	res, err := (&Writer{Dir: t.TempDir(), Instance: "cache", Keep: 5}).CopyStopped(ds)
	if err != nil {
		t.Fatal(err)
	}
	if got := loadBack(t, res.Entry); got != 120 {
		t.Fatalf("the backup loads back with %d keys, want 120", got)
	}
}

// transition's backup of a live server (BGSAVE, copy the RDB) verifies and
// loads back with the server's key count, with AOF on or off.
func TestRedisSnapshotLoadsBack(t *testing.T) {
	for _, aof := range []string{"no", "yes"} {
		t.Run("appendonly="+aof, func(t *testing.T) {
			s := redistest.Start(t, redistest.Options{Args: []string{"appendonly " + aof}})
			fillKeys(t, s, "k", 500)
			c := node.Dial(node.Options{Addr: s.Addr(), DialTimeout: time.Second, CommandTimeout: 5 * time.Second})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			f, err := c.Facts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A save right before: the backup must still be a new one.
			if err := s.Client().Save(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			fillKeys(t, s, "late", 7)
			bdir := t.TempDir()
			w := &Writer{Dir: bdir, Instance: "cache", Keep: 5, Poll: 20 * time.Millisecond}
			res, err := w.Snapshot(ctx, c, f)
			if err != nil {
				t.Fatal(err)
			}
			if res.Name.Origin != OriginBGSave || res.Name.Kind != KindRDB || res.Summary.KeysHint != 507 {
				t.Fatalf("%+v %+v", res.Name, res.Summary)
			}
			if got := loadBack(t, res.Entry); got != 507 {
				t.Fatalf("the backup loads back with %d keys, want 507", got)
			}
		})
	}
}

// A copy damaged after it was written fails verification, is not published
// and leaves nothing behind, for a live snapshot and for an AOF directory.
func TestRedisCorruptCopyFailsVerification(t *testing.T) {
	truncate := func(staged string) error {
		fi, err := os.Stat(staged)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			for _, n := range dirNames(t, staged) {
				if strings.Contains(n, ".base.") {
					staged = filepath.Join(staged, n)
				}
			}
			fi, err = os.Stat(staged)
			if err != nil {
				return err
			}
		}
		return os.Truncate(staged, fi.Size()/2)
	}

	s := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	fillKeys(t, s, "k", 200)
	s.RewriteAOF(t)
	c := node.Dial(node.Options{Addr: s.Addr(), DialTimeout: time.Second, CommandTimeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	w := &Writer{Dir: bdir, Instance: "cache", Keep: 5, Poll: 20 * time.Millisecond, afterCopy: truncate}
	if _, err := w.Snapshot(ctx, c, f); !errors.Is(err, ErrVerify) {
		t.Fatalf("truncated snapshot: %v, want ErrVerify", err)
	}
	s.Kill()
	ds, err := Locate(s.Dir, "dump.rdb", true, "appendonlydir", "appendonly.aof")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CopyStopped(ds); !errors.Is(err, ErrVerify) {
		t.Fatalf("truncated aof dir: %v, want ErrVerify", err)
	}
	if l, _ := List(bdir, "cache"); len(l) != 0 {
		t.Fatalf("published %v", l)
	}
	assertNoLeftovers(t, bdir)
}

// What Redis 7.0.15 writes: an AOF base never records a replication
// history, not even on a master with a connected replica (a backlog) nor on
// that replica, while an RDB saved by the same replica does. So guard has no
// history for an AOF dataset and must not invent one.
func TestRedisAOFBaseRecordsNoHistory(t *testing.T) {
	m := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	r := redistest.Start(t, redistest.Options{Args: []string{"appendonly yes"}})
	ctx := context.Background()
	if err := r.Client().Do(ctx, "REPLICAOF", "127.0.0.1", m.Port).Err(); err != nil {
		t.Fatal(err)
	}
	fillKeys(t, m, "k", 50)
	r.WaitInfo(t, "replication", "master_link_status:up", "master_sync_in_progress:0")
	m.WaitInfo(t, "replication", "repl_backlog_active:1")
	for _, s := range []*redistest.Server{m, r} {
		s.RewriteAOF(t)
	}
	if err := r.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*redistest.Server{m, r} {
		s.Kill()
		ds, err := Locate(s.Dir, "dump.rdb", true, "appendonlydir", "appendonly.aof")
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ds.Inspect()
		if err != nil {
			t.Fatal(err)
		}
		if sum.HasReplInfo || sum.ReplID != "" || sum.KeysHint != 50 {
			t.Errorf("%s: AOF base records history %v %q@%d (keys hint %d)", s.Addr(), sum.HasReplInfo, sum.ReplID, sum.ReplOffset, sum.KeysHint)
		}
		if _, ok := HistoryOf(sum); ok {
			t.Errorf("%s: HistoryOf found a history in an AOF base", s.Addr())
		}
	}
	rdb, err := (Dataset{Kind: KindRDB, Path: filepath.Join(r.Dir, "dump.rdb")}).Inspect()
	if err != nil || !rdb.HasReplInfo {
		t.Fatalf("the replica's RDB records no history (%+v, %v): the backlog was not there", rdb, err)
	}
}

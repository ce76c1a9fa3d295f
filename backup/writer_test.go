package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/rdbfile"
)

const (
	fixtureKeys = "../rdbfile/testdata/keys-7.0.rdb"        // 4 keys in db 0, no history
	fixtureRepl = "../rdbfile/testdata/master-repl-7.0.rdb" // 2 keys, repl-id d5c8cdec1d2c..., offset 106
)

// dataDir copies an RDB fixture into a fresh data directory as dump.rdb.
func dataDir(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testWriter(t *testing.T, dir string) *Writer {
	now := t0
	return &Writer{Dir: dir, Instance: "cache", Keep: 3, Now: func() time.Time { return now }}
}

// assertNoLeftovers fails when dir holds anything but backups.
func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	for _, n := range dirNames(t, dir) {
		if _, err := ParseName(n); err != nil {
			t.Errorf("left behind in %s: %s", dir, n)
		}
	}
}

func TestCopyStoppedRDB(t *testing.T) {
	src := dataDir(t, fixtureRepl)
	bdir := filepath.Join(t.TempDir(), "backups")
	w := testWriter(t, bdir)
	ds, err := Locate(src, "dump.rdb", false, "appendonlydir", "appendonly.aof")
	if err != nil || ds.Kind != KindRDB {
		t.Fatalf("locate: %+v %v", ds, err)
	}
	res, err := w.CopyStopped(ds)
	if err != nil {
		t.Fatal(err)
	}
	if want := "cache@20250102T030405.678Z@d5c8cdec1d2c@106@guard.rdb"; filepath.Base(res.Path) != want {
		t.Fatalf("backup %s, want %s", res.Path, want)
	}
	a, _ := os.ReadFile(filepath.Join(src, "dump.rdb"))
	b, _ := os.ReadFile(res.Path)
	if !bytes.Equal(a, b) || res.Summary.KeysHint != 2 || res.Size != int64(len(a)) || res.Unreadable {
		t.Fatalf("copy differs or summary wrong: %+v", res)
	}
	fi, _ := os.Stat(res.Path)
	if fi.Mode().Perm() != fileMode {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	assertNoLeftovers(t, bdir)
}

// Two backups in one millisecond get two names, and Keep bounds them.
func TestCopyStoppedSameMillisecondAndKeep(t *testing.T) {
	src := dataDir(t, fixtureKeys)
	bdir := t.TempDir()
	now := t0
	w := &Writer{Dir: bdir, Instance: "cache", Keep: 3, Now: func() time.Time { return now }}
	ds := Dataset{Kind: KindRDB, Path: filepath.Join(src, "dump.rdb")}
	var paths []string
	for i := range 5 {
		if i >= 2 {
			now = now.Add(time.Hour)
		}
		res, err := w.CopyStopped(ds)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, res.Path)
	}
	if !strings.HasSuffix(paths[0], "030405.678Z@none@0@guard.rdb") || !strings.HasSuffix(paths[1], "030405.679Z@none@0@guard.rdb") {
		t.Fatalf("two backups in the same millisecond: %s, %s", paths[0], paths[1])
	}
	l, err := List(bdir, "cache")
	if err != nil || len(l) != 3 || l[0].Path != paths[2] || l[2].Path != paths[4] {
		t.Fatalf("kept %+v %v; want the newest 3 of %v", l, err, paths)
	}
}

// Every way the copy can differ from the source fails verification, and
// nothing is published or left behind.
func TestCopyStoppedCorruptCopyFailsVerification(t *testing.T) {
	for name, corrupt := range map[string]func(string) error{
		"truncated": func(p string) error { return os.Truncate(p, 100) },
		"byte flipped, same size": func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[60] ^= 0xff
			return os.WriteFile(p, b, 0o640)
		},
		"extra file": func(p string) error { return os.WriteFile(p+"-extra", nil, 0o640) },
	} {
		t.Run(name, func(t *testing.T) {
			src := dataDir(t, fixtureKeys)
			bdir := t.TempDir()
			w := testWriter(t, bdir)
			w.afterCopy = corrupt
			if name == "extra file" {
				// A directory dataset: the extra file lands inside the copy.
				w.afterCopy = func(p string) error { return os.WriteFile(filepath.Join(p, "stray"), nil, 0o640) }
				src = aofDirFixture(t)
			}
			ds, err := Locate(src, "dump.rdb", name == "extra file", "appendonlydir", "appendonly.aof")
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.CopyStopped(ds)
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("corrupt copy: %v, want ErrVerify", err)
			}
			if l, _ := List(bdir, "cache"); len(l) != 0 {
				t.Fatalf("published %v", l)
			}
			assertNoLeftovers(t, bdir)
		})
	}
}

// The rdbfile check on its own (the hashes aside) rejects a copy that does
// not read back as its source.
func TestSameSummary(t *testing.T) {
	src, err := rdbfile.Inspect(fixtureRepl)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameSummary(src, src); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*rdbfile.Summary){
		"keys":    func(s *rdbfile.Summary) { s.KeysHint = 0 },
		"size":    func(s *rdbfile.Summary) { s.Size-- },
		"history": func(s *rdbfile.Summary) { s.ReplOffset++ },
		"incr":    func(s *rdbfile.Summary) { s.IncrSize++ },
		"empty":   func(s *rdbfile.Summary) { s.Empty, s.NonEmpty = true, false },
	} {
		got := src
		change(&got)
		if err := sameSummary(src, got); err == nil {
			t.Errorf("%s: a different copy passed", name)
		}
	}
	dir := t.TempDir()
	b, _ := os.ReadFile(fixtureKeys)
	p := filepath.Join(dir, "cut.rdb")
	if err := os.WriteFile(p, b[:len(b)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Dataset{Kind: KindRDB, Path: p}).Inspect(); !errors.Is(err, rdbfile.ErrCorrupt) {
		t.Fatalf("truncated copy inspected as %v", err)
	}
}

// A dataset rdbfile cannot read is still backed up, byte for byte.
func TestCopyStoppedUnreadableSource(t *testing.T) {
	src := t.TempDir()
	b, _ := os.ReadFile(fixtureKeys)
	if err := os.WriteFile(filepath.Join(src, "dump.rdb"), b[:120], 0o600); err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	res, err := testWriter(t, bdir).CopyStopped(Dataset{Kind: KindRDB, Path: filepath.Join(src, "dump.rdb")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(res.Path)
	if !res.Unreadable || !bytes.Equal(got, b[:120]) || res.Name.ReplID != NoReplID {
		t.Fatalf("%+v", res)
	}
}

func TestCopyStoppedMissingSource(t *testing.T) {
	bdir := t.TempDir()
	_, err := testWriter(t, bdir).CopyStopped(Dataset{Kind: KindRDB, Path: filepath.Join(t.TempDir(), "dump.rdb")})
	if err == nil {
		t.Fatal("backup of a missing file succeeded")
	}
	assertNoLeftovers(t, bdir)
}

// aofDirFixture builds a multi-part AOF directory from the RDB fixture (as
// base) and one incremental file, in a fresh data directory.
func aofDirFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	adir := filepath.Join(dir, "appendonlydir")
	if err := os.Mkdir(adir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fixtureKeys)
	files := map[string]string{
		"appendonly.aof.1.base.rdb": string(b),
		"appendonly.aof.1.incr.aof": "*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n",
		"appendonly.aof.manifest":   "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(adir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCopyStoppedAOFDir(t *testing.T) {
	src := aofDirFixture(t)
	bdir := t.TempDir()
	ds, err := Locate(src, "dump.rdb", true, "appendonlydir", "appendonly.aof")
	if err != nil || ds.Kind != KindAOFDir {
		t.Fatalf("%+v %v", ds, err)
	}
	res, err := testWriter(t, bdir).CopyStopped(ds)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name.Kind != KindAOFDir || res.Name.ReplID != NoReplID || res.Summary.KeysHint != 4 || res.Summary.IncrFiles != 1 {
		t.Fatalf("%+v", res)
	}
	for _, n := range dirNames(t, filepath.Join(src, "appendonlydir")) {
		a, _ := os.ReadFile(filepath.Join(src, "appendonlydir", n))
		b, err := os.ReadFile(filepath.Join(res.Path, n))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s not copied: %v", n, err)
		}
	}
	if got, want := len(dirNames(t, res.Path)), 3; got != want {
		t.Fatalf("copy holds %d files, want %d", got, want)
	}
	// A manifest naming a missing file is corrupt: copied, verified byte
	// for byte, marked unreadable.
	os.Remove(filepath.Join(src, "appendonlydir", "appendonly.aof.1.incr.aof"))
	res, err = testWriter(t, bdir).CopyStopped(ds)
	if err != nil || !res.Unreadable || len(dirNames(t, res.Path)) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	if _, err := Locate(dir, "dump.rdb", false, "appendonlydir", "appendonly.aof"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no rdb: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "dump.rdb"), nil, 0o600)
	// With appendonly on, Redis 7 ignores the RDB.
	if _, err := Locate(dir, "dump.rdb", true, "appendonlydir", "appendonly.aof"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("aof on, only an rdb: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "appendonly.aof"), nil, 0o600)
	if ds, err := Locate(dir, "dump.rdb", true, "appendonlydir", "appendonly.aof"); err != nil || ds.Kind != KindAOFFile || ds.Path != filepath.Join(dir, "appendonly.aof") {
		t.Fatalf("legacy aof: %+v %v", ds, err)
	}
	os.MkdirAll(filepath.Join(dir, "appendonlydir"), 0o700)
	os.WriteFile(filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest"), nil, 0o600)
	if ds, err := Locate(dir, "dump.rdb", true, "appendonlydir", "appendonly.aof"); err != nil || ds.Kind != KindAOFDir || ds.Manifest != "appendonly.aof.manifest" {
		t.Fatalf("aof dir: %+v %v", ds, err)
	}
}

func TestHistoryOf(t *testing.T) {
	id := strings.Repeat("a", 40)
	for _, c := range []struct {
		s    rdbfile.Summary
		want bool
	}{
		{rdbfile.Summary{Source: rdbfile.SourceRDB, HasReplInfo: true, ReplID: id, ReplOffset: 5}, true},
		{rdbfile.Summary{Source: rdbfile.SourceRDB}, false},
		{rdbfile.Summary{Source: rdbfile.SourceAOFDir, HasReplInfo: true, ReplID: id}, true},
		// Writes after the base: the base's position is not the dataset's.
		{rdbfile.Summary{Source: rdbfile.SourceAOFDir, HasReplInfo: true, ReplID: id, IncrSize: 1}, false},
		{rdbfile.Summary{Source: rdbfile.SourceAOFFile, HasReplInfo: true, ReplID: id}, false},
	} {
		h, ok := HistoryOf(c.s)
		if ok != c.want || (ok && (h.ReplID != id || h.Offset != c.s.ReplOffset)) {
			t.Errorf("%+v: %+v %v", c.s, h, ok)
		}
	}
}

// fakeServer is a live server whose BGSAVE copies an RDB fixture into its
// dir; the first saves find one already in progress.
type fakeServer struct {
	mu       sync.Mutex
	dir      string
	fixture  string
	keys     int64
	busy     int // BGSAVE answers "already in progress" this many times
	lastSave time.Time
	calls    []string
	failSave bool
}

func (f *fakeServer) Addr() string { return "fake:6379" }

func (f *fakeServer) Facts(context.Context) (node.Facts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return node.Facts{Keys: f.keys, RDBLastBgsaveOK: !f.failSave, ReplID: strings.Repeat("f", 40), ReplOffset: 77}, nil
}

func (f *fakeServer) ConfigGet(_ context.Context, name string) (string, error) {
	switch name {
	case "dir":
		return f.dir, nil
	case "dbfilename":
		return "dump.rdb", nil
	}
	return "", fmt.Errorf("no %s", name)
}

func (f *fakeServer) LastSave(context.Context) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSave, nil
}

func (f *fakeServer) BGSave(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "BGSAVE")
	if f.busy > 0 {
		f.busy--
		return errors.New("ERR Background save already in progress")
	}
	b, err := os.ReadFile(f.fixture)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.dir, "dump.rdb"), b, 0o600); err != nil {
		return err
	}
	f.lastSave = time.Now().Truncate(time.Second)
	return nil
}

func TestSnapshotWaitsForRunningSaveAndVerifies(t *testing.T) {
	s := &fakeServer{dir: t.TempDir(), fixture: fixtureRepl, keys: 2, busy: 2, lastSave: time.Now().Add(-time.Hour)}
	bdir := t.TempDir()
	w := &Writer{Dir: bdir, Instance: "cache", Keep: 2, Poll: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := w.Snapshot(ctx, s, node.Facts{ReplID: strings.Repeat("e", 40), ReplOffset: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 3 {
		t.Fatalf("BGSAVE sent %d times, want 3 (two found a save running)", len(s.calls))
	}
	// The RDB's own history names it, not the facts from before.
	if res.Name.Origin != OriginBGSave || res.Name.Kind != KindRDB || res.Name.ReplID != "d5c8cdec1d2c" || res.Name.Offset != 106 {
		t.Fatalf("%+v", res.Name)
	}

	// An RDB without history is named after the facts.
	s = &fakeServer{dir: t.TempDir(), fixture: fixtureKeys, keys: 4, lastSave: time.Now().Add(-time.Hour)}
	res, err = w.Snapshot(ctx, s, node.Facts{ReplID: strings.Repeat("e", 40), ReplOffset: 50})
	if err != nil || res.Name.ReplID != "eeeeeeeeeeee" || res.Name.Offset != 50 {
		t.Fatalf("%+v %v", res.Name, err)
	}
}

func TestSnapshotRefusesACopyWithoutTheKeys(t *testing.T) {
	bdir := t.TempDir()
	w := &Writer{Dir: bdir, Instance: "cache", Keep: 2, Poll: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The server holds keys but the RDB it wrote is empty.
	s := &fakeServer{dir: t.TempDir(), fixture: "../rdbfile/testdata/empty-7.0.rdb", keys: 5, lastSave: time.Now().Add(-time.Hour)}
	if _, err := w.Snapshot(ctx, s, node.Facts{}); !errors.Is(err, ErrVerify) {
		t.Fatalf("empty copy of a server with keys: %v", err)
	}
	// BGSAVE failed.
	s = &fakeServer{dir: t.TempDir(), fixture: fixtureKeys, keys: 4, failSave: true, lastSave: time.Now().Add(-time.Hour)}
	if _, err := w.Snapshot(ctx, s, node.Facts{}); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("failed BGSAVE: %v", err)
	}
	// A save that never ends is bounded by ctx.
	s = &fakeServer{dir: t.TempDir(), fixture: fixtureKeys, keys: 4, busy: 1 << 30, lastSave: time.Now().Add(-time.Hour)}
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := w.Snapshot(short, s, node.Facts{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("endless save: %v", err)
	}
	if l, _ := List(bdir, "cache"); len(l) != 0 {
		t.Fatalf("published %v", l)
	}
	assertNoLeftovers(t, bdir)
}

// keepalived runs its scripts with umask 0177: directories the writer makes
// come out without the owner's search bit unless it sets their mode itself.
// Found by the keepalived lab (permission denied inside the staging dir).
func TestWriterUnderKeepalivedUmask(t *testing.T) {
	src := aofDirFixture(t)
	bdir := t.TempDir()
	ds, err := Locate(src, "dump.rdb", true, "appendonlydir", "appendonly.aof")
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o177)
	res, err := testWriter(t, bdir).CopyStopped(ds)
	syscall.Umask(old)
	if err != nil {
		t.Fatalf("backup under umask 0177: %v", err)
	}
	// Root may write into a directory of mode 0600, so look at the modes:
	// a non-root script user could not have.
	st, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o700 != 0o700 {
		t.Fatalf("backup directory %s has mode %v under umask 0177: its owner cannot use it", res.Path, st.Mode().Perm())
	}
}

package backup

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

// touch creates a backup-shaped file (or directory, for KindAOFDir).
func touch(t *testing.T, dir, name string, kind Kind) {
	t.Helper()
	p := filepath.Join(dir, name)
	if kind == KindAOFDir {
		if err := os.MkdirAll(p, 0o750); err != nil {
			t.Fatal(err)
		}
		p = filepath.Join(p, "appendonly.aof.manifest")
	}
	if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
}

func nameAt(inst string, i int, kind Kind) string {
	return Name{Instance: inst, Time: t0.Add(time.Duration(i) * time.Hour), ReplID: "8c3f1a2b9d0e", Offset: int64(i), Origin: OriginGuard, Kind: kind}.String()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

// Retention of cache keeps cache's newest and touches nothing of
// cache-eu's, nothing foreign and nothing malformed.
func TestPruneKeepsNewestOfOwnInstanceOnly(t *testing.T) {
	dir := t.TempDir()
	kinds := []Kind{KindRDB, KindAOFDir, KindAOFFile}
	for i := range 6 {
		touch(t, dir, nameAt("cache", i, kinds[i%3]), kinds[i%3])
		touch(t, dir, nameAt("cache-eu", i, KindRDB), KindRDB)
	}
	foreign := []string{
		"cache-20250101T000000.000Z-aaaa-1.rdb", // the old format, of cache
		"cache-eu-20250101T000000.000Z-aaaa-1.rdb",
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb.tmp",
		"cache@garbage@x@1@guard.rdb",
		"README",
		".cache@tmp-123", // a staging directory in use (fresh)
	}
	for _, f := range foreign {
		touch(t, dir, f, KindRDB)
	}
	// A directory named like an RDB backup is not one.
	touch(t, dir, nameAt("cache", 10, KindRDB), KindAOFDir)
	before := dirNames(t, dir)

	removed, err := prune(dir, "cache", 2, nameAt("cache", 5, KindAOFFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{nameAt("cache", 0, KindRDB), nameAt("cache", 1, KindAOFDir), nameAt("cache", 2, KindAOFFile), nameAt("cache", 3, KindRDB)}
	var got []string
	for _, p := range removed {
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("removed %v, want %v", got, want)
	}
	after := dirNames(t, dir)
	var gone []string
	for _, n := range before {
		if !slices.Contains(after, n) {
			gone = append(gone, n)
		}
	}
	if !slices.Equal(gone, want) {
		t.Fatalf("files gone %v, want exactly %v", gone, want)
	}
	list, err := List(dir, "cache")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || filepath.Base(list[0].Path) != nameAt("cache", 4, KindAOFDir) || filepath.Base(list[1].Path) != nameAt("cache", 5, KindAOFFile) {
		t.Fatalf("cache's backups %+v", list)
	}
	eu, err := List(dir, "cache-eu")
	if err != nil || len(eu) != 6 {
		t.Fatalf("cache-eu's backups %d, %v: want all 6", len(eu), err)
	}
}

// The backup just written is kept even when it sorts oldest (the clock
// went back), and the newest Keep-1 others are kept beside it.
func TestPruneNeverRemovesTheOneJustWritten(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 3; i++ {
		touch(t, dir, nameAt("cache", i, KindRDB), KindRDB)
	}
	just := nameAt("cache", -5, KindRDB)
	touch(t, dir, just, KindRDB)
	if _, err := prune(dir, "cache", 1, just); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{just}) {
		t.Fatalf("left %v, want only the one just written", got)
	}

	touch(t, dir, nameAt("cache", 7, KindRDB), KindRDB)
	touch(t, dir, nameAt("cache", 8, KindRDB), KindRDB)
	if _, err := prune(dir, "cache", 2, just); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{just, nameAt("cache", 8, KindRDB)}) {
		t.Fatalf("left %v", got)
	}
}

func TestPruneBelowOneKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		touch(t, dir, nameAt("cache", i, KindRDB), KindRDB)
	}
	if removed, err := prune(dir, "cache", 0, ""); err != nil || len(removed) != 0 {
		t.Fatalf("keep 0 removed %v, %v", removed, err)
	}
}

func TestListMissingDirIsEmpty(t *testing.T) {
	l, err := List(filepath.Join(t.TempDir(), "nope"), "cache")
	if err != nil || len(l) != 0 {
		t.Fatalf("%v %v", l, err)
	}
}

func TestListSizes(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, nameAt("cache", 1, KindAOFDir), KindAOFDir)
	if err := os.WriteFile(filepath.Join(dir, nameAt("cache", 1, KindAOFDir), "base.rdb"), make([]byte, 100), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, nameAt("cache", 2, KindRDB)), make([]byte, 7), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := List(dir, "cache")
	if err != nil || len(l) != 2 || l[0].Size != 101 || l[1].Size != 7 || l[0].Name.Kind != KindAOFDir {
		t.Fatalf("%+v %v", l, err)
	}
}

func TestStaleStagingRemovedForOwnInstanceOnly(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{".cache@tmp-1", ".cache@tmp-2", ".cache-eu@tmp-1"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-25 * time.Hour)
	for _, d := range []string{".cache@tmp-1", ".cache-eu@tmp-1"} {
		if err := os.Chtimes(filepath.Join(dir, d), old, old); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := removeStaleStaging(dir, "cache", time.Now())
	if err != nil || len(removed) != 1 || filepath.Base(removed[0]) != ".cache@tmp-1" {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{".cache-eu@tmp-1", ".cache@tmp-2"}) {
		t.Fatalf("left %v", got)
	}
}

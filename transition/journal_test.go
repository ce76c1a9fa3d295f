package transition

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

func journalSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// wantSuffix checks that recs are the records seq from..to-1 in order, for
// some from: what rotation keeps is always the newest, with no gap.
func wantSuffix(t *testing.T, recs []Record, to int64) {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	from := to - int64(len(recs))
	for i, r := range recs {
		if r.Seq != from+int64(i) {
			t.Fatalf("record %d has seq %d, want %d: the newest %d records in order, no gap", i, r.Seq, from+int64(i), len(recs))
		}
	}
}

// The journal rotates to one .1 file before it passes its bound: both
// files stay within it, the reader reads both, oldest first, and what is
// dropped is only the oldest records.
func TestJournalRotatesAndReadsBoth(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r1", JournalMax: 2000}
	path := sd.JournalPath()
	const n = 100
	for i := range int64(n) {
		if err := sd.Append(Record{Seq: i, Event: EventBackup, Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		if sz := journalSize(t, path); sz > sd.JournalMax {
			t.Fatalf("journal %d bytes after %d appends, bound %d", sz, i+1, sd.JournalMax)
		}
	}
	if sz := journalSize(t, RotatedJournalPath(path)); sz > sd.JournalMax || sz < sd.JournalMax/2 {
		t.Fatalf("rotated file %d bytes, bound %d", sz, sd.JournalMax)
	}
	recs, bad, err := ReadJournal(path)
	if err != nil || bad != 0 {
		t.Fatalf("bad %d err %v", bad, err)
	}
	wantSuffix(t, recs, n)
	if len(recs) >= n {
		t.Fatalf("read %d of %d records", len(recs), n)
	}

	// A line longer than the bound goes alone into a fresh journal.
	if err := sd.Append(Record{Seq: n, Error: strings.Repeat("x", 3000)}); err != nil {
		t.Fatal(err)
	}
	if err := sd.Append(Record{Seq: n + 1}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ = ReadJournal(path)
	if len(recs) != 2 || recs[0].Seq != n || recs[1].Seq != n+1 {
		t.Fatalf("after a long line: %d records", len(recs))
	}
}

// A crash right after the rename leaves only the rotated file: nothing is
// lost, and the next append starts the journal again.
func TestJournalCrashAfterRotation(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r1"}
	path := sd.JournalPath()
	for i := range int64(3) {
		if err := sd.Append(Record{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(path, RotatedJournalPath(path)); err != nil {
		t.Fatal(err)
	}
	recs, _, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	wantSuffix(t, recs, 3)
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	if err := sd.Append(Record{Seq: 3}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ = ReadJournal(path)
	if len(recs) != 4 {
		t.Fatalf("%d records after the next append", len(recs))
	}
	wantSuffix(t, recs, 4)
}

func TestReadJournalTail(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/r.journal"
	line := func(seq int) string {
		b, _ := json.Marshal(Record{Seq: int64(seq), Error: strings.Repeat("x", 80)})
		return string(b) + "\n"
	}
	var old, cur strings.Builder
	for i := range 10 {
		old.WriteString(line(i))
	}
	old.WriteString(`{"seq": 10, "torn`) // a crash mid-line, then rotation
	cur.WriteString("not json\n\n")
	for i := 11; i < 14; i++ {
		cur.WriteString(line(i))
	}
	if err := os.WriteFile(RotatedJournalPath(path), []byte(old.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(cur.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	recs, bad, err := ReadJournal(path)
	if err != nil || bad != 2 || len(recs) != 13 || recs[9].Seq != 9 || recs[10].Seq != 11 {
		t.Fatalf("all: %d records, %d bad, %v", len(recs), bad, err)
	}
	// The bound reaches into the rotated file: the line it cuts is dropped,
	// not counted.
	lineLen := int64(len(line(0)))
	recs, bad, err = ReadJournalTail(path, int64(cur.Len())+int64(len(`{"seq": 10, "torn`))+2*lineLen+5)
	if err != nil || bad != 2 || len(recs) != 5 || recs[0].Seq != 8 {
		t.Fatalf("tail into .1: %+v, %d bad, %v", recs, bad, err)
	}
	// The bound inside the journal: the rotated file is not read.
	recs, bad, err = ReadJournalTail(path, 2*lineLen+5)
	if err != nil || bad != 0 || len(recs) != 2 || recs[0].Seq != 12 {
		t.Fatalf("tail of the journal: %+v, %d bad, %v", recs, bad, err)
	}
	if recs, bad, err := ReadJournal(dir + "/none"); err != nil || bad != 0 || len(recs) != 0 {
		t.Fatalf("missing journal: %v %d %v", recs, bad, err)
	}
}

// Writers (each with its own file, as processes have) append while the
// journal rotates and readers read: each writer's surviving records are
// its newest, in order, none lost but to rotation, none twice (run with
// -race).
func TestJournalConcurrentAppendsAndReads(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r1", JournalMax: 3000}
	const writers, per = 4, 150
	check := func(recs []Record, final bool) error {
		last := map[string]int64{}
		for _, r := range recs {
			w := r.Source
			if l, ok := last[w]; ok && r.Seq != l+1 {
				return fmt.Errorf("writer %s: seq %d after %d", w, r.Seq, l)
			}
			last[w] = r.Seq
		}
		if final {
			for i := range writers {
				if l, ok := last[fmt.Sprint(i)]; ok && l != per-1 {
					return fmt.Errorf("writer %d: newest read %d, want %d", i, l, per-1)
				}
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var rg sync.WaitGroup
	for range 2 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				recs, bad, err := ReadJournal(sd.JournalPath())
				if err != nil || bad != 0 {
					t.Errorf("read: %d bad, %v", bad, err)
					return
				}
				if err := check(recs, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range int64(per) {
				if err := sd.Append(Record{Seq: i, Source: fmt.Sprint(w)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	recs, _, err := ReadJournal(sd.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := check(recs, true); err != nil {
		t.Fatal(err)
	}
	// The newest record of all is there.
	if len(recs) == 0 || recs[len(recs)-1].Seq != per-1 {
		t.Fatalf("newest record missing: %d records", len(recs))
	}
}

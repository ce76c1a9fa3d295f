package transition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxJournalBytes bounds one journal file (S8). Before a line would take
// the journal past it, Append renames the journal to <journal>.1 (replacing
// the older rotated file) and starts a new one, so an instance's journal
// takes at most twice this on disk, plus one line. A record is about 1 to
// 3 KiB: 4 MiB holds thousands of transitions, years of a healthy pair's
// events and days of a flapping one's; report reads only the newest MiB.
const MaxJournalBytes = 4 << 20

// rotatedSuffix names the journal's one rotated file.
const rotatedSuffix = ".1"

// RotatedJournalPath is the file the journal at path rotates to: the
// older records, read before path's.
func RotatedJournalPath(path string) string { return path + rotatedSuffix }

func (s StateDir) journalMax() int64 {
	if s.JournalMax > 0 {
		return s.JournalMax
	}
	return MaxJournalBytes
}

// Append adds one record to the journal as a JSON line, rotating the
// journal first when the line would take it past the bound (see
// MaxJournalBytes). Appends and rotations of every process take the
// journal's lock (flock), so none is lost to a rotation; a rotation is one
// rename, so a crash during it loses nothing: the records are in the
// rotated file or the journal, and the reader reads both.
func (s StateDir) Append(r Record) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	b = append(b, '\n')
	f, err := s.openJournal(int64(len(b)))
	if err != nil {
		return fmt.Errorf("journal %s: %w", s.JournalPath(), err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", s.JournalPath(), err)
	}
	return f.Close()
}

// openJournal opens the journal for appending a line of n bytes and locks
// it; when the line would take a non-empty journal past the bound, it
// rotates the journal and opens the new one. Closing the file unlocks it.
func (s StateDir) openJournal(n int64) (*os.File, error) {
	path := s.JournalPath()
	for range 16 {
		f, err := lockedCurrent(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, syscall.LOCK_EX)
		if errors.Is(err, errRotated) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if fi.Size() == 0 || fi.Size()+n <= s.journalMax() {
			return f, nil
		}
		// Under the lock: appenders that opened this file before the rename
		// see that it is no longer the journal and open the new one.
		err = os.Rename(path, RotatedJournalPath(path))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		// Best effort: a rename lost to a crash leaves the journal as it was.
		syncDir(filepath.Dir(path))
	}
	return nil, errors.New("the journal kept being rotated under this append")
}

// errRotated: the file opened was renamed away before its lock was taken.
var errRotated = errors.New("journal rotated while it was opened")

// lockedCurrent opens path with flag and flocks it with how; errRotated
// when path is no longer the file opened once the lock is held.
func lockedCurrent(path string, flag int, how int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pi, err := os.Stat(path)
	if err != nil || !os.SameFile(fi, pi) {
		f.Close()
		return nil, errRotated
	}
	return f, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadJournal returns all the records of the journal at path (its rotated
// file first), oldest first; unreadable lines are skipped and counted. A
// journal that does not exist holds no records.
func ReadJournal(path string) ([]Record, int, error) {
	return ReadJournalTail(path, 0)
}

// ReadJournalTail is the one reader of the journal at path: it reads the
// rotated file (RotatedJournalPath) and then path, and returns their
// records oldest first. With limit > 0 it reads only the last limit bytes
// of the two together (the newest records): the line that bound cuts is
// dropped. Lines that do not parse are skipped and counted; each file is
// parsed on its own, so a line torn by a crash at the end of the rotated
// file spoils no line of the journal. It holds the journal's lock (shared)
// while it reads, so no rotation runs in between; missing files hold no
// records.
func ReadJournalTail(path string, limit int64) ([]Record, int, error) {
	var cur *os.File
	for range 16 {
		f, err := lockedCurrent(path, os.O_RDONLY, syscall.LOCK_SH)
		if errors.Is(err, errRotated) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("journal: %w", err)
		}
		cur = f // nil when missing: right after a rotation, or no journal yet
		break
	}
	if cur != nil {
		defer cur.Close()
	}
	newer, cut, err := readTail(cur, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("journal %s: %w", path, err)
	}
	var older []byte
	if !cut && (limit <= 0 || int64(len(newer)) < limit) {
		old, err := os.Open(RotatedJournalPath(path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, 0, fmt.Errorf("journal: %w", err)
		default:
			defer old.Close()
			if limit > 0 {
				limit -= int64(len(newer))
			}
			if older, _, err = readTail(old, limit); err != nil {
				return nil, 0, fmt.Errorf("journal %s: %w", old.Name(), err)
			}
		}
	}
	recs, bad := parseJournal(older)
	more, moreBad := parseJournal(newer)
	return append(recs, more...), bad + moreBad, nil
}

// readTail reads f's last limit bytes (all of it when limit <= 0 or f is
// smaller), without the line that bound cuts; cut says it cut one. A nil f
// reads nothing.
func readTail(f *os.File, limit int64) (b []byte, cut bool, err error) {
	if f == nil {
		return nil, false, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	off := int64(0)
	if limit > 0 && fi.Size() > limit {
		off = fi.Size() - limit
	}
	b, err = io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil || off == 0 {
		return b, false, err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:], true, nil
	}
	return nil, true, nil
}

// parseJournal parses JSON lines; blank lines are skipped, lines that do
// not parse are counted.
func parseJournal(b []byte) ([]Record, int) {
	var out []Record
	bad := 0
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			bad++
			continue
		}
		out = append(out, r)
	}
	return out, bad
}

package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one backup in the backup directory.
type Entry struct {
	Name Name
	// Path is the backup's file or directory.
	Path string
	// Size is its size in bytes (for a directory, of the files in it).
	Size int64
}

// List returns instance's backups in dir, oldest first. Names that do not
// parse, other instances' backups, and entries whose type does not match
// their kind (a directory named like an RDB) are left out. A missing dir
// holds no backups.
func List(dir, instance string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	var out []Entry
	for _, de := range des {
		n, err := ParseName(de.Name())
		if err != nil || n.Instance != instance {
			continue
		}
		e := Entry{Name: n, Path: filepath.Join(dir, de.Name())}
		switch {
		case n.Kind == KindAOFDir && de.IsDir():
			e.Size = dirSize(e.Path)
		case n.Kind != KindAOFDir && de.Type().IsRegular():
			if fi, err := de.Info(); err == nil {
				e.Size = fi.Size()
			}
		default:
			continue
		}
		out = append(out, e)
	}
	sortOldestFirst(out)
	return out, nil
}

func sortOldestFirst(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		if !es[i].Name.Time.Equal(es[j].Name.Time) {
			return es[i].Name.Time.Before(es[j].Name.Time)
		}
		return filepath.Base(es[i].Path) < filepath.Base(es[j].Path)
	})
}

// dirSize sums the sizes of the regular files directly in dir.
func dirSize(dir string) int64 {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// prune removes instance's backups in dir beyond the newest keep, never the
// one named justWritten; keep < 1 removes nothing. It returns what it
// removed.
func prune(dir, instance string, keep int, justWritten string) ([]string, error) {
	if keep < 1 {
		return nil, nil
	}
	all, err := List(dir, instance)
	if err != nil {
		return nil, err
	}
	var others []Entry
	for _, e := range all {
		if filepath.Base(e.Path) != justWritten {
			others = append(others, e)
		}
	}
	// The one just written counts toward keep wherever it sorts.
	drop := len(others) - (keep - 1)
	var removed []string
	var errs []error
	for _, e := range others[:max(drop, 0)] {
		if err := os.RemoveAll(e.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Path)
	}
	return removed, errors.Join(errs...)
}

// stagingPrefix starts the temporary directories the writer stages
// instance's backups in; the escaped name holds no separator, so it is
// unique to the instance.
func stagingPrefix(instance string) string {
	return "." + escapeInstance(instance) + sep + "tmp-"
}

// staleStaging is how old a staging directory must be before the writer
// removes it as left behind by a crash: far longer than any copy takes.
const staleStaging = 24 * time.Hour

// removeStaleStaging removes instance's staging directories in dir that
// are older than staleStaging at now.
func removeStaleStaging(dir, instance string, now time.Time) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	prefix := stagingPrefix(instance)
	var removed []string
	var errs []error
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), prefix) {
			continue
		}
		fi, err := de.Info()
		if err != nil || now.Sub(fi.ModTime()) < staleStaging {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

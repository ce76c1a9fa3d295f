package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/redis-vip/redis-vip/rdbfile"
)

// Dataset is the set of files redis-server loads at start.
type Dataset struct {
	// Kind says which files they are.
	Kind Kind
	// Path is the RDB file, the AOF file, or the append-only directory.
	Path string
	// Manifest is the manifest's file name inside Path, for KindAOFDir.
	Manifest string
}

// Locate finds the dataset redis-server would load, given its dir,
// dbfilename, appendonly, appenddirname and appendfilename settings, by the
// rule of rdbfile.InspectDataDir: with appendonly off the RDB; with it on the
// append-only directory when its manifest exists, else a single
// appendfilename (Redis 6), else nothing (Redis 7 then starts empty and does
// not load the RDB). It only looks for the files, so it also finds a dataset
// too damaged to inspect. When there is none the error matches
// fs.ErrNotExist.
func Locate(dir, dbfilename string, aof bool, appendDirName, appendFilename string) (Dataset, error) {
	exists := func(p string) (bool, error) {
		_, err := os.Stat(p)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		}
		return false, fmt.Errorf("locate dataset: %w", err)
	}
	if !aof {
		p := filepath.Join(dir, dbfilename)
		ok, err := exists(p)
		if err != nil || !ok {
			return Dataset{}, errOrMissing(err, p)
		}
		return Dataset{Kind: KindRDB, Path: p}, nil
	}
	adir := filepath.Join(dir, appendDirName)
	mname := appendFilename + ".manifest"
	ok, err := exists(filepath.Join(adir, mname))
	if err != nil {
		return Dataset{}, err
	}
	if ok {
		return Dataset{Kind: KindAOFDir, Path: adir, Manifest: mname}, nil
	}
	legacy := filepath.Join(dir, appendFilename)
	ok, err = exists(legacy)
	if err != nil || !ok {
		return Dataset{}, errOrMissing(err, filepath.Join(adir, mname)+" or "+legacy)
	}
	return Dataset{Kind: KindAOFFile, Path: legacy}, nil
}

func errOrMissing(err error, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("locate dataset: no %s: %w", what, fs.ErrNotExist)
}

// Inspect reads what the dataset's files say about themselves (package
// rdbfile). A damaged dataset gives an error wrapping rdbfile.ErrCorrupt.
func (d Dataset) Inspect() (rdbfile.Summary, error) {
	switch d.Kind {
	case KindRDB:
		return rdbfile.Inspect(d.Path)
	case KindAOFDir:
		return rdbfile.InspectAOFDir(d.Path, d.Manifest)
	case KindAOFFile:
		return rdbfile.InspectAOF(d.Path)
	}
	return rdbfile.Summary{}, fmt.Errorf("inspect dataset %s: unknown kind %q", d.Path, d.Kind)
}

// files lists the dataset's files, relative to Path for an AOF directory
// (every regular file in it: the manifest, the base, the incremental files,
// and anything else redis-server left there) or "" for a single file.
func (d Dataset) files() ([]string, error) {
	if d.Kind != KindAOFDir {
		return []string{""}, nil
	}
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Path, err)
	}
	var names []string
	for _, e := range entries {
		st, err := os.Stat(filepath.Join(d.Path, e.Name())) // follows a symlink, as redis-server would
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", d.Path, err)
		}
		if st.Mode().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// History is a position in a replication history.
type History struct {
	ReplID string
	Offset int64
}

// HistoryOf returns the replication history the dataset's files record,
// and false when they record none. Only an RDB header carries one (AUX
// repl-id and repl-offset), and it describes the whole dataset only when
// nothing follows it: an AOF base with incremental files after it, or a
// single AOF file (which may hold commands after its preamble), is newer
// than its header says, so it counts as recording none. Redis 7.0.15 never
// writes a history into an AOF base anyway, not even with replicas and a
// backlog (checked by experiment; see TestRedisAOFBaseRecordsNoHistory).
func HistoryOf(s rdbfile.Summary) (History, bool) {
	if !s.HasReplInfo {
		return History{}, false
	}
	switch s.Source {
	case rdbfile.SourceRDB:
	case rdbfile.SourceAOFDir:
		if s.IncrSize != 0 {
			return History{}, false
		}
	default:
		return History{}, false
	}
	return History{ReplID: s.ReplID, Offset: s.ReplOffset}, true
}

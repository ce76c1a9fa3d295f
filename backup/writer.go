package backup

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/redis-vip/redis-vip/internal/atomicfile"
	"github.com/redis-vip/redis-vip/rdbfile"
)

// File and directory modes of backups.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// ErrVerify is wrapped by the error of a backup whose copy does not read
// back as the source did; the copy is removed.
var ErrVerify = errors.New("backup does not verify")

// Writer writes one instance's backups into Dir and prunes them.
type Writer struct {
	// Dir is the backup directory (created when missing).
	Dir string
	// Instance is the configured instance name.
	Instance string
	// Keep is how many of the instance's backups are kept, the one just
	// written included; below 1 nothing is pruned.
	Keep int
	// Poll is how often Snapshot re-reads the server while it waits.
	Poll time.Duration
	// Now gives the time in new names; nil means time.Now.
	Now func() time.Time
	// Log receives the path of every backup written and pruned; nil logs
	// nothing.
	Log *zap.Logger

	// afterCopy, when set (by tests), runs on the staged copy before it is
	// verified.
	afterCopy func(staged string) error
}

// Result is a backup written and verified.
type Result struct {
	Entry
	// Summary is what package rdbfile read from the copy; zero when the
	// source was unreadable.
	Summary rdbfile.Summary
	// Unreadable: the source could not be inspected (rdbfile.ErrCorrupt);
	// the copy was verified byte for byte only.
	Unreadable bool
	// Pruned lists the older backups removed afterwards, and PruneErr says
	// why others could not be; the backup itself is good either way.
	Pruned   []string
	PruneErr error
}

func (w *Writer) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

func (w *Writer) log() *zap.Logger {
	if w.Log == nil {
		return zap.NewNop()
	}
	return w.Log
}

// CopyStopped backs up the dataset of a stopped server: it copies ds's
// files and verifies that the copy reads back as ds does. A dataset that
// rdbfile cannot read (rdbfile.ErrCorrupt) is still copied and verified
// byte for byte (Result.Unreadable), so that damaged data is kept too.
func (w *Writer) CopyStopped(ds Dataset) (Result, error) {
	src, err := ds.Inspect()
	unreadable := false
	if err != nil {
		if !errors.Is(err, rdbfile.ErrCorrupt) {
			return Result{}, fmt.Errorf("backup %s: %w", ds.Path, err)
		}
		unreadable = true
		w.log().Warn("dataset is unreadable; its backup is verified byte for byte only",
			zap.String("dataset", ds.Path), zap.Error(err))
	}
	verify := func(copied Dataset) (rdbfile.Summary, error) {
		got, err := copied.Inspect()
		if unreadable {
			return rdbfile.Summary{}, nil
		}
		if err != nil {
			return got, err
		}
		return got, sameSummary(src, got)
	}
	hist := func(rdbfile.Summary) History {
		h, _ := HistoryOf(src)
		return h
	}
	res, err := w.write(ds, OriginGuard, verify, hist)
	res.Unreadable = unreadable
	return res, err
}

// sameSummary reports how the copy's summary differs from the source's.
func sameSummary(src, got rdbfile.Summary) error {
	type view struct {
		Source                            rdbfile.Source
		Size, IncrSize                    int64
		IncrFiles, RDBVersion             int
		ReplID                            string
		ReplOffset, KeysHint              int64
		HasReplInfo, Empty, NonEmpty, Pre bool
		Stop                              rdbfile.StopReason
	}
	v := func(s rdbfile.Summary) view {
		return view{s.Source, s.Size, s.IncrSize, s.IncrFiles, s.RDBVersion, s.ReplID, s.ReplOffset, s.KeysHint,
			s.HasReplInfo, s.Empty, s.NonEmpty, s.AOFPreamble, s.Stop}
	}
	if a, b := v(src), v(got); a != b {
		return fmt.Errorf("the copy reads back as %+v, the source as %+v", b, a)
	}
	if src.NonEmpty && src.RDBVersion > 0 && src.KeysHint > 0 && got.KeysHint == 0 {
		return errors.New("the copy announces no keys")
	}
	return nil
}

// write stages a copy of ds, verifies it, names it and moves it into Dir,
// then prunes. verify reads the staged copy; hist gives the history for
// the name from what verify read.
func (w *Writer) write(ds Dataset, origin Origin, verify func(Dataset) (rdbfile.Summary, error),
	hist func(rdbfile.Summary) History) (Result, error) {
	if w.Instance == "" || w.Dir == "" {
		return Result{}, errors.New("backup: no instance name or backup directory")
	}
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("backup %s of instance %s into %s: %w", ds.Path, w.Instance, w.Dir, err)
	}
	if err := os.MkdirAll(w.Dir, dirMode); err != nil {
		return fail(err)
	}
	stage, err := os.MkdirTemp(w.Dir, stagingPrefix(w.Instance)+"*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(stage)
	// The mode must not depend on the umask: keepalived runs its scripts
	// with one that clears the owner's search bit (0177), and a directory
	// of mode 0600 cannot be written into even by its owner.
	if err := os.Chmod(stage, 0o700); err != nil {
		return fail(err)
	}
	staged := Dataset{Kind: ds.Kind, Path: filepath.Join(stage, "data"), Manifest: ds.Manifest}
	sums, err := copyDataset(ds, staged.Path)
	if err != nil {
		return fail(err)
	}
	if w.afterCopy != nil {
		if err := w.afterCopy(staged.Path); err != nil {
			return fail(err)
		}
	}
	// Every file must hash as the bytes read from the source did, and read
	// back with rdbfile as the source does.
	if err := verifyCopy(staged, sums); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrVerify, err))
	}
	sum, err := verify(staged)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrVerify, err))
	}
	h := hist(sum)
	name := Name{Instance: w.Instance, Time: w.now().UTC().Truncate(time.Millisecond),
		ReplID: ShortReplID(h.ReplID), Offset: h.Offset, Origin: origin, Kind: ds.Kind}
	path, err := publish(staged.Path, w.Dir, &name)
	if err != nil {
		return fail(err)
	}
	res := Result{Entry: Entry{Name: name, Path: path, Size: sum.Size}, Summary: sum}
	if res.Size == 0 {
		res.Size = pathSize(path)
	}
	w.log().Info("backup written and verified", zap.String("backup", path), zap.String("source", ds.Path),
		zap.String("kind", string(ds.Kind)), zap.Int64("keys_hint", sum.KeysHint), zap.Int64("bytes", res.Size))
	stale, serr := removeStaleStaging(w.Dir, w.Instance, w.now())
	res.Pruned, res.PruneErr = prune(w.Dir, w.Instance, w.Keep, filepath.Base(path))
	res.Pruned = append(res.Pruned, stale...)
	res.PruneErr = errors.Join(res.PruneErr, serr)
	for _, p := range res.Pruned {
		w.log().Info("old backup removed", zap.String("backup", p))
	}
	if res.PruneErr != nil {
		w.log().Warn("pruning old backups failed", zap.String("dir", w.Dir), zap.Error(res.PruneErr))
	}
	return res, nil
}

func pathSize(p string) int64 {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return 0
	case fi.IsDir():
		return dirSize(p)
	}
	return fi.Size()
}

// digests maps a dataset's file names (see Dataset.files) to the SHA-256
// of the bytes read from the source while copying them.
type digests map[string][]byte

// copyDataset copies ds to dst: a file, or a directory of ds's files. Each
// file is written with atomicfile (and so fsynced); a directory is fsynced
// after its files.
func copyDataset(ds Dataset, dst string) (digests, error) {
	names, err := ds.files()
	if err != nil {
		return nil, err
	}
	sums := digests{}
	if ds.Kind != KindAOFDir {
		sums[""], err = copyFile(ds.Path, dst)
		return sums, err
	}
	if err := os.Mkdir(dst, dirMode); err != nil {
		return nil, err
	}
	if err := os.Chmod(dst, dirMode); err != nil { // whatever the umask
		return nil, err
	}
	for _, n := range names {
		if sums[n], err = copyFile(filepath.Join(ds.Path, n), filepath.Join(dst, n)); err != nil {
			return nil, err
		}
	}
	return sums, syncDir(dst)
}

// copyFile copies src to dst and returns the SHA-256 of the bytes read.
func copyFile(src, dst string) ([]byte, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(in, h)}
	if err := atomicfile.WriteFrom(dst, cr, fileMode); err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	if cr.n != st.Size() {
		return nil, fmt.Errorf("copy %s: read %d bytes of %d: the file changed while it was copied", src, cr.n, st.Size())
	}
	return h.Sum(nil), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// verifyCopy re-reads every file of the staged copy and compares its hash
// with that of the bytes read from the source, and checks that the copy
// holds exactly the files copied.
func verifyCopy(staged Dataset, sums digests) error {
	got, err := staged.files()
	if err != nil {
		return err
	}
	if len(got) != len(sums) {
		return fmt.Errorf("the copy holds %d files, %d were copied", len(got), len(sums))
	}
	for _, n := range got {
		want, ok := sums[n]
		if !ok {
			return fmt.Errorf("the copy holds %s, which was not copied", n)
		}
		p := staged.Path
		if n != "" {
			p = filepath.Join(p, n)
		}
		h, size, err := hashFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(h, want) {
			return fmt.Errorf("%s (%d bytes) does not read back as the bytes copied into it", p, size)
		}
	}
	return nil
}

func hashFile(p string) ([]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, fmt.Errorf("read back %s: %w", p, err)
	}
	return h.Sum(nil), n, nil
}

// publish moves staged into dir under name without replacing anything: a
// name taken already (two backups in one millisecond) moves to the next
// millisecond. It fsyncs dir and returns the final path.
func publish(staged, dir string, name *Name) (string, error) {
	for range 1000 {
		dst := filepath.Join(dir, name.String())
		err := renameNoReplace(staged, dst)
		if errors.Is(err, os.ErrExist) {
			name.Time = name.Time.Add(time.Millisecond)
			continue
		}
		if err != nil {
			return "", err
		}
		return dst, syncDir(dir)
	}
	return "", fmt.Errorf("publish %s: no free name", name)
}

// renameNoReplace renames old to new, failing with an error matching
// os.ErrExist when new exists. Where the filesystem lacks RENAME_NOREPLACE
// it checks first (the instance's lock, or guard running alone before
// redis-server, rules out a second writer).
func renameNoReplace(oldPath, newPath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if _, serr := os.Lstat(newPath); serr == nil {
			return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: os.ErrExist}
		}
		return os.Rename(oldPath, newPath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

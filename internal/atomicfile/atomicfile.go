// Package atomicfile replaces files so that a reader (redis-server, the
// check, node_exporter) sees the old content or the new, never half of it:
// write a temporary file in the same directory, fsync it, set its mode,
// rename it over the target.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data.
func Write(path string, data []byte, mode os.FileMode) error {
	return replace(path, mode, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteFrom replaces path with everything read from r.
func WriteFrom(path string, r io.Reader, mode os.FileMode) error {
	return replace(path, mode, func(f *os.File) error {
		_, err := io.Copy(f, r)
		return err
	})
}

// Copy replaces dst with a copy of src.
func Copy(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return replace(dst, mode, func(f *os.File) error {
		if _, err := io.Copy(f, in); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		return nil
	})
}

// replace fills a temporary file next to path and renames it over path; on
// any failure the temporary file is removed and path is left as it was.
func replace(path string, mode os.FileMode, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	err = fill(tmp)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

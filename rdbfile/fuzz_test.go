package rdbfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspect feeds arbitrary bytes to the RDB scanner, strict and as an
// AOF preamble, and to the LZF decoder: none may panic, and every error
// must be ErrCorrupt (a bytes.Reader cannot fail otherwise).
func FuzzInspect(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.rdb")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add(newRDB(10).raw(opModuleAux, 1, 2, 2, modString, 0xC3, 5, 32, 0, 'a', 0xE0, 22, 0, modEOF).end())
	f.Add(newRDB(9).raw(opAux, 0x81, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0xC2, 1, 2, 3, 4).end())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, preamble := range []bool{false, true} {
			res, err := scanRDB(bytes.NewReader(data), int64(len(data)), preamble)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("preamble=%v: error not ErrCorrupt: %v", preamble, err)
				}
				continue
			}
			s := res.sum
			if s.Empty && s.NonEmpty {
				t.Fatalf("both Empty and NonEmpty: %+v", s)
			}
			if s.Empty != (s.Stop == StopEOF) {
				t.Fatalf("Empty %v with Stop %s", s.Empty, s.Stop)
			}
			if s.Stop == StopEOF && res.end > int64(len(data)) {
				t.Fatalf("end %d past size %d", res.end, len(data))
			}
		}
		if len(data) > 0 {
			out, err := lzfDecompress(data[1:], int(data[0])*4)
			if err == nil && len(out) != int(data[0])*4 {
				t.Fatalf("lzf: %d bytes, want %d", len(out), int(data[0])*4)
			}
		}
	})
}

// FuzzManifest feeds arbitrary text to the AOF manifest parser: it may
// only fail with ErrCorrupt, and what it accepts must be safe file names.
func FuzzManifest(f *testing.F) {
	f.Add([]byte("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"))
	f.Add([]byte("# c\nfile \"a\\x41 b\" seq 2 type b\nfile 'x\\'y' seq 3 type i\nfile z seq 4 type h\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		entries := m.incr
		if m.base != nil {
			entries = append(entries, *m.base)
		}
		for _, e := range entries {
			if e.name == "" || e.name == ".." || filepath.Base(e.name) != e.name {
				t.Fatalf("unsafe name accepted: %q", e.name)
			}
		}
	})
}

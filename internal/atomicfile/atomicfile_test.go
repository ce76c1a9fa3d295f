package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestWriteReplacesWithModeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "new" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("content %q mode %v", b, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestCopyFailureLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "dst")
	if err := os.WriteFile(dst, []byte("kept"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Copy(filepath.Join(dir, "missing"), dst, 0o640); err == nil {
		t.Fatal("copy of a missing file succeeded")
	}
	if err := Copy(dir, dst, 0o640); err == nil { // reading a directory fails mid-copy
		t.Fatal("copy of a directory succeeded")
	}
	if b, _ := os.ReadFile(dst); string(b) != "kept" {
		t.Fatalf("target changed: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("data"), 0o600)
	if err := Copy(src, dst, 0o640); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "data" {
		t.Fatalf("copy: %q", b)
	}
}

func TestWriteFromFailureLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "dst")
	if err := os.WriteFile(dst, []byte("kept"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrom(dst, iotest.ErrReader(errors.New("disk gone")), 0o640); err == nil {
		t.Fatal("a failing reader replaced the target")
	}
	if b, _ := os.ReadFile(dst); string(b) != "kept" {
		t.Fatalf("target changed: %q", b)
	}
	if err := WriteFrom(dst, strings.NewReader("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	fi, _ := os.Stat(dst)
	if string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWrite(t *testing.T) {
	goroot, a, b := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, goroot, map[string]string{"LICENSE": "go license\n", "PATENTS": "go patents\n", "VERSION": "go1.99.1\ntime x\n", "README.md": "no"})
	writeFiles(t, a, map[string]string{"LICENSE.txt": "a license", "NOTICE": "a notice\n", "main.go": "package a"})
	writeFiles(t, b, map[string]string{"COPYING": "b license\n"})
	dirs := map[string]string{"example.com/a@v1.0.0": a, "example.com/b2@v2.0.0": b}
	dir := func(path, version string) (string, error) {
		if d, ok := dirs[path+"@"+version]; ok {
			return d, nil
		}
		return "", errors.New("unknown module")
	}
	info := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/redis-vip/redis-vip", Version: "v1.2.3"},
		Deps: []*debug.Module{
			{Path: "example.com/b", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/b2", Version: "v2.0.0"}},
			{Path: "example.com/a", Version: "v1.0.0"},
		}}
	var out bytes.Buffer
	if err := write(&out, info, goroot, dir); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Third-party software in redis-vip v1.2.3\n",
		"  Go standard library go1.99.1\n  example.com/a v1.0.0\n  example.com/b v1.0.0 (replaced by example.com/b2 v2.0.0)\n",
		"--- LICENSE ---\n\ngo license\n", "--- PATENTS ---\n\ngo patents\n",
		"example.com/a v1.0.0\nhttps://pkg.go.dev/example.com/a@v1.0.0\n\n--- LICENSE.txt ---\n\na license\n\n--- NOTICE ---\n\na notice\n",
		"--- COPYING ---\n\nb license\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("notices lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "README") || strings.Contains(got, "package a") {
		t.Errorf("notices include a file that is no license:\n%s", got)
	}

	// A module without a license file, or another Go than the binary's: no notices.
	if err := os.Remove(filepath.Join(b, "COPYING")); err != nil {
		t.Fatal(err)
	}
	if err := write(&out, info, goroot, dir); err == nil || !strings.Contains(err.Error(), "no license file") {
		t.Errorf("module without a license: err %v", err)
	}
	info.GoVersion = "go1.98.0"
	if err := write(&out, info, goroot, dir); err == nil || !strings.Contains(err.Error(), "built with go1.98.0") {
		t.Errorf("other Go: err %v", err)
	}
}

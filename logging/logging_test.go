package logging

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestNewWritesJSONToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "redis-vip.log")
	log, flush, err := New(Options{Level: "info", Format: "json", File: path})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	log.Debug("not at info level")
	flush()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"msg":"hello"`) || strings.Contains(string(b), "not at info") {
		t.Fatalf("log file: %s", b)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, _, err := New(Options{Level: "loud", Format: "json"}); err == nil {
		t.Error("bad level accepted")
	}
	if _, _, err := New(Options{Level: "info", Format: "xml"}); err == nil {
		t.Error("bad format accepted")
	}
}

// A log file root creates (guard, switchover) belongs to the owner of its
// directory, so the keepalived hooks running as the script user can append.
func TestRootCreatedLogFileGoesToDirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a file for another user")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "redis-vip.log")
	_, flush, err := New(Options{Level: "info", Format: "json", File: path})
	if err != nil {
		t.Fatal(err)
	}
	flush()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Fatalf("log file owned by %d:%d, want the directory's 65534:65534", st.Uid, st.Gid)
	}
}

package maintenance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOnOffRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if s, err := Read(dir, "r1"); err != nil || s.On {
		t.Fatalf("fresh dir: %+v, %v; want off", s, err)
	}
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := Enable(dir, "r1", State{Since: since, By: "root@a", Reason: "kernel upgrade"}); err != nil {
		t.Fatal(err)
	}
	s, err := Read(dir, "r1")
	if err != nil || !s.On || !s.Since.Equal(since) || s.By != "root@a" || s.Reason != "kernel upgrade" {
		t.Fatalf("after Enable: %+v, %v", s, err)
	}
	if got, want := s.String(), "on since 2025-01-02T03:04:05Z by root@a (kernel upgrade)"; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	if Active(dir, "r2") {
		t.Error("another instance is in maintenance too")
	}
	st, err := os.Stat(Path(dir, "r1"))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, %v; want 0644", st.Mode(), err)
	}
	was, err := Disable(dir, "r1")
	if err != nil || !was.On || was.Reason != "kernel upgrade" {
		t.Fatalf("Disable: %+v, %v", was, err)
	}
	if Active(dir, "r1") {
		t.Error("still on after Disable")
	}
	if was, err := Disable(dir, "r1"); err != nil || was.On {
		t.Errorf("second Disable: %+v, %v; want off, no error", was, err)
	}
}

// The file's presence is what counts: an empty file (touch) is on, and so
// is one whose content does not parse (with an error saying so).
func TestPresenceMeansOn(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir, "r1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Read(dir, "r1"); err != nil || !s.On {
		t.Errorf("touched file: %+v, %v; want on", s, err)
	}
	if err := os.WriteFile(Path(dir, "r1"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Read(dir, "r1")
	if !s.On || err == nil || !strings.Contains(err.Error(), filepath.Base(Path(dir, "r1"))) {
		t.Errorf("garbled file: %+v, %v; want on with an error naming the file", s, err)
	}
	if !Active(dir, "r1") {
		t.Error("garbled file: Active false")
	}
	if got := (State{}).String(); got != "off" {
		t.Errorf("zero State %q", got)
	}
}

// A file the reader may not read still means on (root turned it on; the
// daemon runs as another user).
func TestUnreadableFileIsOn(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir, "r1"), []byte("{}"), 0o000); err != nil {
		t.Fatal(err)
	}
	if s, err := Read(dir, "r1"); !s.On || err == nil {
		t.Errorf("unreadable: %+v, %v; want on with an error", s, err)
	}
}

package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/config"
)

// A password file every user may read, or a password in the configuration
// file, is one warning each (through Source.Warn), and nothing else
// changes: the configuration loads.
func TestPasswordWarnings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "c.yml")
	body := `defaults:
  password: fromdefaults
instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379", password_file: ` + pw + `}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380", password: inline}
  c: {local: "192.0.2.1:6381", peer: "192.0.2.2:6381"}
`
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	src := config.Source{Path: conf, Explicit: true, Warn: func(s string) { got = append(got, s) }}
	cfg, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], conf+" holds the Redis password (password: in defaults, instance b), and every user may read it (mode 0644)") {
		t.Fatalf("load warnings %q", got)
	}
	got = nil
	in, err := cfg.Instance("a")
	if err != nil || in.Password != "s3cret" {
		t.Fatalf("select a: %v", err)
	}
	if len(got) != 1 || got[0] != "password_file "+pw+" is readable by every user (mode 0644): chmod o-r "+pw {
		t.Fatalf("select warnings %q", got)
	}

	// Tight modes: the password file says nothing; the config still holds
	// a password, without the mode clause.
	if err := os.Chmod(pw, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(conf, 0o640); err != nil {
		t.Fatal(err)
	}
	got = nil
	cfg, err = config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Instance("a"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || strings.Contains(got[0], "every user") || !strings.Contains(got[0], "move it to a password_file") {
		t.Errorf("warnings with tight modes %q", got)
	}
	// No password in the file, no warning; and Warn may be nil.
	if err := os.WriteFile(conf, []byte("instances:\n  c: {local: \"192.0.2.1:6381\", peer: \"192.0.2.2:6381\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = nil
	if _, err := config.Load(src); err != nil || len(got) != 0 {
		t.Errorf("clean file: %v, %q", err, got)
	}
	if _, err := config.Load(config.Source{Path: conf, Explicit: true}); err != nil {
		t.Error(err)
	}
}

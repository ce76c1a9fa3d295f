package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/report"
)

// runCLI runs the program's run() with args and returns its exit code and
// what it printed.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"redis-vip"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// healthyPairConfig starts a master and its replica (with RDB, so the pair
// is OK) and writes a configuration naming them as instance "pair".
func healthyPairConfig(t *testing.T) string {
	t.Helper()
	redistest.Require(t)
	master := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	replica := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	ctx := context.Background()
	if err := master.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", master.Port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := replica.Client().Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync: %v\n%s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`log:
  level: error
instances:
  pair:
    local: %[1]s
    announce: %[1]s
    peer: %[2]s
    state_dir: %[3]s/state
    backup_dir: %[3]s/backups
    guard:
      include: %[3]s/guard.conf
`, master.Addr(), replica.Addr(), dir)
	path := filepath.Join(dir, "redis-vip.yml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// unwritableTextfileDir is a directory where the metrics file cannot be
// written, also by root: its redis-vip.prom is a non-empty directory, so
// the rename over it fails.
func unwritableTextfileDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, report.TextfileName, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportTextfile(t *testing.T) {
	conf := healthyPairConfig(t)

	t.Run("written", func(t *testing.T) {
		dir := t.TempDir()
		code, out, errOut := runCLI(t, "report", "--config", conf, "--textfile-dir", dir)
		if code != 0 || !strings.HasPrefix(out, "OK: pair: ") {
			t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		line, _, _ := strings.Cut(out, "\n")
		if !strings.Contains(line, " | 'lag_bytes'=0B;") || !strings.Contains(line, "'keys'=1;") {
			t.Errorf("status line without perfdata: %q", line)
		}
		if _, err := os.Stat(filepath.Join(dir, report.TextfileName)); err != nil {
			t.Error(err)
		}
	})

	// The status line must agree with the exit code: UNKNOWN, and why.
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("not written, quiet %v", quiet), func(t *testing.T) {
			args := []string{"report", "--config", conf, "--textfile-dir", unwritableTextfileDir(t)}
			if quiet {
				args = append(args, "--quiet")
			}
			code, out, errOut := runCLI(t, args...)
			if code != 3 {
				t.Errorf("exit %d, want 3 (UNKNOWN)", code)
			}
			if !strings.HasPrefix(out, "UNKNOWN: metrics textfile not written: ") || !strings.Contains(out, "; OK: pair: ") {
				t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}

	t.Run("not written, json", func(t *testing.T) {
		code, out, _ := runCLI(t, "report", "--config", conf, "--format", "json", "--textfile-dir", unwritableTextfileDir(t))
		var doc struct {
			Status        string  `json:"status"`
			ExitCode      int     `json:"exit_code"`
			TextfileError *string `json:"textfile_error"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if code != 3 || doc.Status != "UNKNOWN" || doc.ExitCode != 3 || doc.TextfileError == nil {
			t.Errorf("exit %d, document %+v", code, doc)
		}
	})

	t.Run("not written, prometheus", func(t *testing.T) {
		code, _, errOut := runCLI(t, "report", "--config", conf, "--format", "prometheus", "--textfile-dir", unwritableTextfileDir(t))
		if code != 3 || !strings.Contains(errOut, "metrics textfile not written") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

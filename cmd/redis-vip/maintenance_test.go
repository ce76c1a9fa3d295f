package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/wiring"
)

// pairInstance reads instance "pair" of a test configuration.
func pairInstance(t *testing.T, conf string) config.Instance {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: conf, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := cfg.Instance("pair")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func lastRecord(t *testing.T, in config.Instance) transition.Record {
	t.Helper()
	recs, _, err := transition.ReadJournal(wiring.StateDir(in).JournalPath())
	if err != nil || len(recs) == 0 {
		t.Fatalf("journal: %d records, %v", len(recs), err)
	}
	return recs[len(recs)-1]
}

func role(t *testing.T, addr string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			return v
		}
	}
	return ""
}

// In maintenance mode the hooks (and notify-fifo) record each event with
// the outcome "maintenance" and change nothing; check keeps the master
// eligible; report warns; off re-checks the pair once.
func TestMaintenanceModeHooks(t *testing.T) {
	conf := healthyPairConfig(t)
	in := pairInstance(t, conf)
	code, out, errOut := runCLI(t, "maintenance", "on", "--config", conf, "--reason", "kernel upgrade")
	if code != 0 || !strings.Contains(out, "pair: maintenance on since") || !strings.Contains(out, "(kernel upgrade)") {
		t.Fatalf("maintenance on: exit %d, %q, %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "maintenance", "status", "--config", conf)
	if code != 0 || !strings.HasPrefix(out, "pair: maintenance on since") {
		t.Errorf("status: exit %d, %q", code, out)
	}

	// notify-backup on the master would hand over to the replica: here it
	// only records.
	code, out, errOut = runCLI(t, "notify-backup", "--config", conf)
	if code != 0 || !strings.Contains(out, "pair backup: maintenance: maintenance mode is on") {
		t.Fatalf("notify-backup in maintenance: exit %d, %q, %q", code, out, errOut)
	}
	if r := lastRecord(t, in); r.Outcome != transition.OutcomeMaintenance || r.Event != transition.EventBackup || r.Source != "keepalived" {
		t.Errorf("journal: %+v", r)
	}
	if got := role(t, in.Local.String()); got != "master" {
		t.Fatalf("local is %s after notify-backup in maintenance; want master (nothing changed)", got)
	}

	// The same through the notify FIFO (a file with one line: EOF ends it).
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := os.WriteFile(fifo, []byte("INSTANCE \"pair\" FAULT 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "notify-fifo", "--config", conf, fifo); code != 0 || !strings.Contains(out, "pair fault: maintenance") {
		t.Fatalf("notify-fifo: exit %d, %q, %q", code, out, errOut)
	}
	if r := lastRecord(t, in); r.Outcome != transition.OutcomeMaintenance || r.Event != transition.EventFault || r.Source != "keepalived-fifo" {
		t.Errorf("journal after the FIFO line: %+v", r)
	}

	// VRRP's newest word is "fault", yet the master stays eligible.
	code, out, _ = runCLI(t, "check", "--config", conf)
	if code != 0 || !strings.HasPrefix(out, "OK: pair: local is master") {
		t.Errorf("check in maintenance: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, "report", "--config", conf)
	if code != 1 || !strings.HasPrefix(out, "WARNING") || !strings.Contains(out, "MAINTENANCE MODE") {
		t.Errorf("report in maintenance: exit %d:\n%s", code, out)
	}
	if got := role(t, in.Local.String()); got != "master" {
		t.Fatalf("local is %s after the FIFO line in maintenance", got)
	}

	// Off: one reconcile pass decides the newest event (fault) again from
	// fresh facts (here: nothing to do, the peer is no master to follow).
	code, out, errOut = runCLI(t, "maintenance", "off", "--config", conf)
	if code != 0 || !strings.Contains(out, "pair: maintenance off (was on since") || !strings.Contains(out, "re-checking the pair\npair reconcile") {
		t.Fatalf("maintenance off: exit %d, %q, %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "maintenance", "status", "--config", conf)
	if code != 0 || out != "pair: maintenance off\n" {
		t.Errorf("status after off: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI(t, "maintenance", "off", "--config", conf); code != 0 || !strings.Contains(out, "was off; nothing to do") {
		t.Errorf("second off: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t, "maintenance", "--config", conf, "sideways"); code != 2 || !strings.Contains(errOut, `maintenance "sideways": want on, off or status`) {
		t.Errorf("bad verb: exit %d, %q", code, errOut)
	}
}

// notify-stop exits 0 as the README says, also when the local Redis
// cannot be read: it only records (bad input is still 2).
func TestNotifyStopExitsZero(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(conf, []byte(`log: {level: error}
instances:
  r1:
    local: 127.0.0.1:1
    announce: 192.0.2.1:1
    peer: 127.0.0.1:2
    state_dir: `+dir+`/state
    backup_dir: `+dir+`/backups
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "notify-stop", "--config", conf); code != 0 || !strings.HasPrefix(out, "r1 stop: ") {
		t.Errorf("notify-stop with the local Redis down: exit %d, %q, %q; want 0", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "notify", "--config", conf, "INSTANCE", "r1", "STOP", "0"); code != 0 {
		t.Errorf("notify INSTANCE r1 STOP: exit %d, want 0", code)
	}
	if code, _, _ := runCLI(t, "notify-stop", "--config", filepath.Join(dir, "missing.yml")); code != 2 {
		t.Errorf("notify-stop with a missing config: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "notify-master", "--config", conf); code != 1 {
		t.Errorf("notify-master with the local Redis down: exit %d, want 1 (only stop is always 0)", code)
	}
}

// A world-readable password file is one warning line on stderr; the
// command runs as usual.
func TestPasswordFileWarningOnStderr(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(conf, []byte(`log: {level: error}
instances:
  r1: {local: "127.0.0.1:1", announce: "192.0.2.1:1", peer: "127.0.0.1:2", password_file: `+pw+`, state_dir: `+dir+`}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "maintenance", "status", "--config", conf)
	want := "redis-vip: warning: password_file " + pw + " is readable by every user (mode 0644): chmod o-r " + pw + "\n"
	if code != 0 || out != "r1: maintenance off\n" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want stderr %q", code, out, errOut, want)
	}
}

// --timeout 5parsecs: one line naming the setting and the syntax.
func TestBadDurationFlag(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(conf, []byte("instances:\n  r1: {local: \"127.0.0.1:1\", announce: \"192.0.2.1:1\", peer: \"127.0.0.1:2\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "check", "--config", conf, "--timeout", "5parsecs")
	want := `redis-vip: configuration: instance r1: flags/env: timeouts.check "5parsecs": want a duration such as 500ms, 2s or 1m30s (a number and a unit: ns, us, ms, s, m, h)` + "\n"
	if code != 2 || errOut != want {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, want)
	}
}

// Help is for people: no rule names such as "(S5)" (logs and the journal
// keep them).
func TestHelpNamesNoRules(t *testing.T) {
	rule := regexp.MustCompile(`\bS[0-9]{1,2}\b`)
	_, top, _ := runCLI(t, "--help")
	if m := rule.FindString(top); m != "" {
		t.Errorf("redis-vip --help names rule %s", m)
	}
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		if c.Hidden {
			continue
		}
		_, help, _ := runCLI(t, c.Name, "--help")
		for _, l := range strings.Split(help, "\n") {
			if m := rule.FindString(l); m != "" {
				t.Errorf("redis-vip %s --help names rule %s: %q", c.Name, m, strings.TrimSpace(l))
			}
		}
	}
}

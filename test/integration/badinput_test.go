package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// oneLine asserts the message is one line with no panic or stack trace.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	s = strings.TrimRight(s, "\n")
	if s == "" || strings.Contains(s, "\n") || strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Fatalf("%s: want one clear line, got %q", what, s)
	}
}

// untouched asserts a server kept its role and key count.
func untouched(t *testing.T, s *redistest.Server, role string, keys int64, password ...string) {
	t.Helper()
	ctx := context.Background()
	c := s.Client(password...)
	info, err := c.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:"+role) {
		t.Fatalf("%s: role changed (want %s): %v\n%s", s.Addr(), role, err, info)
	}
	if n, _ := c.DBSize(ctx).Result(); n != keys {
		t.Fatalf("%s: %d keys, want %d", s.Addr(), n, keys)
	}
}

func TestBadInput(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "k", 10)
	follow(t, sb, sa)
	a := writeConfig(t, "redis", sa, sb, nil)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := func(extra string) string {
		return fmt.Sprintf("instances:\n  redis:\n    local: %s\n    announce: %s\n    state_dir: %s\n    backup_dir: %s\n%s",
			sa.Addr(), sa.Addr(), filepath.Join(dir, "state"), filepath.Join(dir, "backups"), extra)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"missing config file", []string{"notify-master", "--config", filepath.Join(dir, "nope.yml")}, 2, "no such file"},
		{"malformed config", []string{"notify-master", "--config", write("bad.yml", "instances: [oops\n")}, 2, "configuration"},
		{"unknown key", []string{"check", "--config", write("typo.yml", cfg("    peer: "+sb.Addr()+"\n    peeer: x:1\n"))}, 2, "peeer"},
		{"unknown instance", []string{"notify-master", "--config", a.config, "--instance", "nosuch"}, 2, `unknown instance "nosuch"`},
		{"peer unresolvable", []string{"notify-master", "--config", write("dns.yml", cfg("    peer: no-such-host.invalid:6379\n"))}, 2, "not found"},
		{"peer equal to local", []string{"notify-master", "--config", write("self.yml", cfg("    peer: "+sa.Addr()+"\n"))}, 2, "own Redis"},
		{"peer is local under another name", []string{"notify-master", "--config", write("alias.yml", cfg(fmt.Sprintf("    peer: localhost:%d\n", sa.Port)))}, 2, "same server"},
		{"notify with bad arguments", []string{"notify", "--config", a.config, "INSTANCE", "redis"}, 2, "TYPE NAME STATE"},
		{"notify for an unknown keepalived instance", []string{"notify", "--config", a.config, "INSTANCE", "VI_OTHER", "MASTER", "100"}, 2, "matches no instance"},
		{"unknown flag", []string{"check", "--bogus"}, 2, "bogus"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vip(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.inStderr) {
				t.Fatalf("exit %d stderr %q stdout %q; want exit %d mentioning %q", r.code, r.stderr, r.stdout, tc.code, tc.inStderr)
			}
			oneLine(t, "stderr", r.stderr)
			untouched(t, sa, "master", 10)
			untouched(t, sb, "slave", 10)
		})
	}
}

func TestBadInputWrongPassword(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{Args: []string{"requirepass right"}})
	sb := redistest.Start(t, redistest.Options{Args: []string{"requirepass right"}})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := writeConfig(t, "redis", sa, sb, settings{"password_file": pw})
	// A refused password is a configuration error (S9): bad input, exit 2.
	r := a.run(t, "check")
	if r.code != 2 || !strings.Contains(r.stderr, "authentication failed") {
		t.Fatalf("check: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "check stderr", r.stderr)
	// A refused password is a configuration error (S9): bad input, exit 2.
	r = a.run(t, "notify-backup")
	if r.code != 2 || !strings.Contains(r.stderr, "authentication failed") {
		t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "notify stderr", r.stderr)
	untouched(t, sa, "master", 0, "right")
}

func TestBadInputRedisDown(t *testing.T) {
	a, b := pair(t, 10, nil)
	a.srv.Kill()
	r := a.run(t, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "local redis unreachable") {
		t.Fatalf("check: exit %d %q", r.code, r.stdout)
	}
	oneLine(t, "check", r.stdout)
	r = a.run(t, "notify-master")
	if r.code != 1 || !strings.Contains(r.stderr, "local redis unavailable") {
		t.Fatalf("notify-master: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "notify", r.stderr)
	untouched(t, b.srv, "slave", 10)
	// The check is bounded even when the peer is dead and the local is a
	// replica whose master is gone: it passes (eligible to take over), fast.
	start := time.Now()
	if r := b.run(t, "check"); r.code != 0 {
		t.Fatalf("check on the replica of a dead master: exit %d %q", r.code, r.stdout)
	}
	t.Logf("check with a dead peer took %s", time.Since(start))
}

func TestBadInputRedisLoading(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	if err := sa.Client().Do(ctx, "DEBUG", "POPULATE", "20000").Err(); err != nil {
		t.Skipf("DEBUG POPULATE unavailable: %v", err)
	}
	if err := sa.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sa.Kill()
	sa.Restart("key-load-delay 200") // 200 us per key: about 4 s of loading
	a := writeConfig(t, "redis", sa, sb, settings{"timeouts.peer_wait": "500ms"})
	r := a.run(t, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "loading") {
		t.Fatalf("check: exit %d %q", r.code, r.stdout)
	}
	r = a.run(t, "notify-backup")
	if r.code != 1 || !strings.Contains(r.stderr, "loading") {
		t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "notify", r.stderr)
	waitFor(t, "loading done", 30*time.Second, func() bool {
		info, err := sa.Client().Info(ctx, "persistence").Result()
		return err == nil && strings.Contains(info, "loading:0")
	})
	untouched(t, sa, "master", 20000)
}

// A peer that accepts connections and never answers (a hung host) must not
// hold the check past its bound: keepalived would count a hung script as
// failed and, worse, stack them up.
func TestCheckBoundedWithHungPeer(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, never read or answer
		}
	}()
	hung := &redistest.Server{Port: silent.Addr().(*net.TCPAddr).Port}
	a := writeConfig(t, "redis", sa, hung, settings{"timeouts.command": "5s"})
	redistest.Binary(t) // build outside the measured run
	start := time.Now()
	r := a.run(t, "check", "--timeout", "700ms")
	took := time.Since(start)
	t.Logf("check with a hung peer: exit %d in %s: %s", r.code, took, strings.TrimSpace(r.stdout))
	if r.code != 0 || !strings.Contains(r.stdout, "local is master") {
		t.Fatalf("check: exit %d %q %q; a master with a hung peer stays eligible", r.code, r.stdout, r.stderr)
	}
	// Unbounded, it would wait out the 5 s command timeout; the margin
	// (process start on a loaded machine) stays well below that.
	if took > 700*time.Millisecond+3*time.Second {
		t.Fatalf("check took %s with --timeout 700ms: it must be bounded by its timeout", took)
	}
}

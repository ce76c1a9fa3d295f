// Package integration runs the redis-vip binary against pairs of real
// redis-server processes on loopback ports, one test per safety rule.
package integration

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/transition"
)

// TestMain builds the binary before any test, and so before any deadline,
// starts: a cold build on a busy two-core machine takes longer than a run's
// bound.
func TestMain(m *testing.M) {
	flag.Parse()
	// The long tests here (t.Parallel) wait on leases, grace periods and
	// timeouts, not on the CPU: run up to eight at once rather than one per
	// core, unless -parallel says otherwise.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(redistest.Main(m))
}

// node is one side of a pair: its Redis and its redis-vip config.
type node struct {
	name   string
	srv    *redistest.Server
	config string
	state  string
	backup string
}

// settings are config keys in dotted form ("timeouts.sync") and values.
type settings map[string]any

// writeConfig writes a redis-vip config for local guarding peer.
func writeConfig(t *testing.T, name string, local, peer *redistest.Server, extra settings) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{name: name, srv: local, state: filepath.Join(dir, "state"), backup: filepath.Join(dir, "backups")}
	kv := settings{
		"local": local.Addr(), "announce": local.Addr(), "peer": peer.Addr(),
		"state_dir": n.state, "backup_dir": n.backup,
		"timeouts.sync": "5s", "timeouts.transition": "20s", "timeouts.peer_wait": "1s",
		"timeouts.connect": "300ms", "timeouts.command": "2s", "timeouts.check": "1s",
		"guard.include": filepath.Join(dir, "guard.conf"), "guard.redis_conf": local.ConfigFile,
	}
	for k, v := range extra {
		kv[k] = v
	}
	inst := map[string]any{}
	for k, v := range kv {
		m := inst
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			if _, ok := m[p]; !ok {
				m[p] = map[string]any{}
			}
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	doc := map[string]any{
		"log":       map[string]any{"format": "json", "level": "debug", "stderr": false, "file": filepath.Join(dir, "redis-vip.log")},
		"instances": map[string]any{name: inst},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	n.config = filepath.Join(dir, "redis-vip.yml")
	if err := os.WriteFile(n.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "redis-vip.log"))
			t.Logf("%s redis-vip log:\n%s", name, tail(string(log), 40))
		}
	})
	return n
}

// result of one redis-vip run.
type result struct {
	code   int
	stdout string
	stderr string
}

// vip runs the redis-vip binary with args and a bound.
func vip(t *testing.T, args ...string) result {
	t.Helper()
	// Built by TestMain, before any deadline starts; the bound is on the
	// run alone, and generous: it catches a hang, not a slow machine.
	bin := redistest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run redis-vip %v: %v", args, err)
	}
	return r
}

// run runs a subcommand for n.
func (n *node) run(t *testing.T, sub string, extra ...string) result {
	t.Helper()
	return vip(t, append([]string{sub, "--config", n.config}, extra...)...)
}

// journal returns n's journal records.
func (n *node) journal(t *testing.T) []transition.Record {
	t.Helper()
	recs, bad, err := transition.ReadJournal(filepath.Join(n.state, n.name+".journal"))
	if err != nil || bad != 0 {
		t.Fatalf("journal: %v (%d bad lines)", err, bad)
	}
	return recs
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", bound, what)
}

// fill writes n keys named prefix:i.
func fill(t *testing.T, s *redistest.Server, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	p := s.Client().Pipeline()
	for i := 0; i < n; i++ {
		p.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func dbsize(t *testing.T, s *redistest.Server) int64 {
	t.Helper()
	n, err := s.Client().DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("dbsize %s: %v", s.Addr(), err)
	}
	return n
}

// follow makes replica follow master and waits until it is in sync.
func follow(t *testing.T, replica, master *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	if err := replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", master.Port).Err(); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, replica)
}

func waitInSync(t *testing.T, replica *redistest.Server) {
	t.Helper()
	waitFor(t, replica.Addr()+" in sync", 15*time.Second, func() bool {
		info, err := replica.Client().Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0")
	})
}

// pair starts A (master, keys) and B (replica of A, in sync) with configs.
func pair(t *testing.T, keys int, extra settings) (a, b *node) {
	t.Helper()
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "seed", keys)
	follow(t, sb, sa)
	return writeConfig(t, "redis", sa, sb, extra), writeConfig(t, "redis", sb, sa, extra)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

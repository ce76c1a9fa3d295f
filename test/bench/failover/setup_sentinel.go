package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// sentinelSetup is the baseline: Debian's redis-sentinel (three sentinels:
// one per Redis host and one on the client host) and HAProxy on the client
// host routing to whichever server says role:master.
type sentinelSetup struct {
	baseLab
	clientDir string
	sentinels []string // namespaces
}

func (s *sentinelSetup) id() string   { return "sentinel" }
func (s *sentinelSetup) name() string { return "Sentinel + HAProxy (baseline)" }

func (s *sentinelSetup) up(ctx context.Context) error {
	if err := s.build(s.id()); err != nil {
		return err
	}
	s.clientDir = filepath.Join(s.dir, "client")
	if err := os.MkdirAll(s.clientDir, 0o755); err != nil {
		return err
	}
	master := s.l.Hosts[0].IP.String()
	type where struct{ name, ns, dir, ip string }
	places := []where{
		{"h1", s.l.Hosts[0].NS, filepath.Join(s.l.Hosts[0].Dir, "sentinel"), s.l.Hosts[0].IP.String()},
		{"h2", s.l.Hosts[1].NS, filepath.Join(s.l.Hosts[1].Dir, "sentinel"), s.l.Hosts[1].IP.String()},
		{"client", s.l.ClientNS, filepath.Join(s.clientDir, "sentinel"), netlab.ClientIP.Addr().String()},
	}
	s.sentinels = nil
	for _, p := range places {
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return err
		}
		conf := filepath.Join(p.dir, "sentinel.conf")
		if err := render("sentinel.conf", conf, 0o644, map[string]string{"Host": p.name, "Dir": p.dir, "IP": p.ip, "MasterIP": master}); err != nil {
			return err
		}
		if _, err := s.l.Start("redis-sentinel", p.ns, p.dir, "redis-sentinel", conf); err != nil {
			return err
		}
		s.sentinels = append(s.sentinels, p.ns)
	}
	cfg := filepath.Join(s.clientDir, "haproxy.cfg")
	if err := render("haproxy.cfg", cfg, 0o644, map[string]string{"Dir": s.clientDir, "H1": s.l.Hosts[0].IP.String(), "H2": s.l.Hosts[1].IP.String()}); err != nil {
		return err
	}
	if out, err := exec.Command("haproxy", "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy -c: %w: %s", err, out)
	}
	if _, err := s.l.Start("haproxy", s.l.ClientNS, s.clientDir, "haproxy", "-db", "-f", cfg); err != nil {
		return err
	}
	// The sentinels find each other and the replica through the master's
	// hello channel (every 2 s); wait until each knows the other two.
	if err := netlab.WaitFor(60*time.Second, "three sentinels that know each other and the replica", func() bool {
		for _, ns := range s.sentinels {
			m, err := s.sentinelMaster(ns)
			if err != nil || m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	_, err := waitSettled(ctx, s, 90*time.Second, func(m string) bool { return m == "h1" })
	return err
}

// sentinelMaster is SENTINEL MASTER mymaster as a map.
func (s *sentinelSetup) sentinelMaster(ns string) (map[string]string, error) {
	v, err := redisDo(ns, "127.0.0.1:26379", 400*time.Millisecond, "SENTINEL", "MASTER", "mymaster")
	if err != nil {
		return nil, err
	}
	a, _ := v.([]any)
	m := map[string]string{}
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		val, _ := a[i+1].(string)
		m[k] = val
	}
	return m, nil
}

func (s *sentinelSetup) settled(ctx context.Context) (string, bool, string) {
	nodes := readNodes(s.hosts())
	m, ok, why := pairSettled(nodes)
	if !ok {
		return m, false, why
	}
	ip := s.l.Host(m).IP.String()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var bad []string
	for _, ns := range s.sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sm, err := s.sentinelMaster(ns)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("sentinel in %s: %v", ns, err))
			case sm["ip"] != ip:
				bad = append(bad, fmt.Sprintf("sentinel in %s names %s master", ns, sm["ip"]))
			case sm["flags"] != "master":
				bad = append(bad, fmt.Sprintf("sentinel in %s: flags %s", ns, sm["flags"]))
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		return m, false, strings.Join(bad, "; ")
	}
	st, err := s.haproxyStatus()
	if err != nil {
		return m, false, err.Error()
	}
	if st[m] != "UP" || st[peerOf(m)] != "DOWN" {
		return m, false, fmt.Sprintf("HAProxy: h1 %s, h2 %s; master %s", st["h1"], st["h2"], m)
	}
	return m, true, ""
}

// haproxyStatus asks HAProxy's stats socket for each server's status (UP,
// DOWN, or a transition like "UP 1/3").
func (s *sentinelSetup) haproxyStatus() (map[string]string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(s.clientDir, "haproxy.sock"), time.Second)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return nil, fmt.Errorf("haproxy stats: unexpected %q", string(b))
	}
	head := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := -1
	for i, h := range head {
		if h == "status" {
			col = i
		}
	}
	out := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > col && col >= 0 && f[0] == "bk_redis" && (f[1] == "h1" || f[1] == "h2") {
			out[f[1]] = f[col]
		}
	}
	return out, nil
}

func (s *sentinelSetup) target() writerTarget {
	return writerTarget{ns: s.l.ClientNS, addr: "127.0.0.1:6379", hosts: []string{s.l.Hosts[0].Announce(), s.l.Hosts[1].Announce()}}
}

func (s *sentinelSetup) preferred() string { return "" }
func (s *sentinelSetup) noFailback() string {
	return "Sentinel never hands the role back: the returning server stays a replica"
}

func (s *sentinelSetup) planned(_ context.Context, m string) (string, error) {
	_, err := redisString(s.l.ClientNS, "127.0.0.1:26379", 2*time.Second, "SENTINEL", "FAILOVER", "mymaster")
	return peerOf(m), err
}

func (s *sentinelSetup) afterPlanned(context.Context, string) error { return nil }

func (s *sentinelSetup) plannedHow() string { return "SENTINEL FAILOVER mymaster" }

func (s *sentinelSetup) knobs() []string {
	return []string{
		"Sentinel: 3 sentinels, quorum 2, down-after-milliseconds 3000, failover-timeout 180000, parallel-syncs 1",
		"HAProxy: tcp mode, tcp-check `info replication` / expect `role:master` every 3 s (inter 3s) x fall 3 (rise 2)",
	}
}

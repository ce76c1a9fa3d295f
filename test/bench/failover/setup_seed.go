package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// seedSetup is the set-up redis-vip replaces: keepalived with the seed's
// shell scripts (DESIGN.md section 1), on plain Redis servers.
type seedSetup struct {
	baseLab
	kaUp map[string]bool
	cli  string
}

func (s *seedSetup) id() string   { return "seed" }
func (s *seedSetup) name() string { return "keepalived + the seed's shell scripts" }

var seedPrio = map[string]int{"h1": 101, "h2": 100}

func (s *seedSetup) up(ctx context.Context) error {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return err
	}
	s.cli = cli
	s.kaUp = map[string]bool{}
	if err := s.build(s.id()); err != nil {
		return err
	}
	for _, host := range s.l.Hosts {
		peer := s.l.Host(peerOf(host.Name))
		state := "BACKUP"
		if host.Name == "h1" {
			state = "MASTER"
		}
		data := map[string]any{"Host": host.Name, "Dir": host.Dir, "IP": host.IP.String(), "PeerIP": peer.IP.String(),
			"VIP": netlab.VIP.String(), "State": state, "Priority": seedPrio[host.Name], "Cli": s.cli}
		for _, f := range []string{"redis_check.sh", "redis_master.sh", "redis_backup.sh"} {
			if err := render(f, filepath.Join(host.Dir, f), 0o755, data); err != nil {
				return err
			}
		}
		if err := render("seed-keepalived.conf", host.KeepalivedConf(), 0o644, data); err != nil {
			return err
		}
	}
	// One at a time: started together, both may claim MASTER for a moment
	// and both run notify_master, which leaves two masters for good (the
	// seed's scripts cannot undo it). h1 first: it runs notify_backup,
	// then notify_master (10 s of sleep) and ends master; then h2 joins.
	for _, h := range []string{"h1", "h2"} {
		if err := s.l.Host(h).StartKeepalived(); err != nil {
			return err
		}
		s.kaUp[h] = true
		if _, err := waitSettled(ctx, s, 60*time.Second, func(m string) bool { return m == "h1" }); err != nil {
			return fmt.Errorf("after keepalived started on %s: %w", h, err)
		}
	}
	return nil
}

func (s *seedSetup) settled(ctx context.Context) (string, bool, string) {
	nodes := readNodes(s.hosts())
	// A host whose keepalived was stopped on purpose (the planned move) is
	// out of the pair until it is started again: its Redis, still a master
	// without the VIP, is not what clients see.
	in := map[string]node{}
	for h, n := range nodes {
		if !s.kaUp[h] {
			n.up = false
		}
		in[h] = n
	}
	m, ok, why := pairSettled(in)
	if !ok {
		return m, false, why
	}
	if hs := s.l.Holders(); len(hs) != 1 || hs[0] != m {
		return m, false, fmt.Sprintf("VIP on %v, master %s", hs, m)
	}
	for _, h := range []string{"h1", "h2"} {
		if !s.kaUp[h] {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(s.l.Host(h).Dir, "keepalived.log"))
		st := keepalivedState(string(b))
		if h == m && st != "MASTER" {
			return m, false, fmt.Sprintf("keepalived on master %s is %s", h, st)
		}
		if h != m && nodes[h].up && st != "BACKUP" {
			return m, false, fmt.Sprintf("keepalived on replica %s is %s", h, st)
		}
	}
	if p := scriptsRunning(s.dir + "/"); p != "" {
		return m, false, "notify script running: " + p
	}
	return m, true, ""
}

// scriptsRunning names a notify script still running from under dir ("" if none).
func scriptsRunning(dir string) string {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir) && (strings.Contains(cmd, "redis_master.sh") || strings.Contains(cmd, "redis_backup.sh")) {
			return filepath.Base(strings.Fields(cmd)[len(strings.Fields(cmd))-1])
		}
	}
	return ""
}

func (s *seedSetup) preferred() string  { return "h1" }
func (s *seedSetup) noFailback() string { return "" }

func (s *seedSetup) planned(_ context.Context, m string) (string, error) {
	_, err := s.l.Host(m).StopKeepalived()
	s.kaUp[m] = false
	return peerOf(m), err
}

func (s *seedSetup) afterPlanned(ctx context.Context, m string) error {
	if err := s.l.Host(m).StartKeepalived(); err != nil {
		return err
	}
	s.kaUp[m] = true
	// Its check needs rise 2 (2 s) before it can preempt: do not take the
	// moment before for the end state.
	sleepCtx(ctx, 5*time.Second)
	return nil
}

func (s *seedSetup) plannedHow() string {
	return "keepalived stopped on the master (SIGTERM), started again afterwards"
}

func (s *seedSetup) knobs() []string {
	return []string{"check `redis-cli PING | grep PONG` every 1 s x fall 2 (rise 2, timeout 2 s); advert_int 1 s; VRRP v2; priorities 101/100, preempt; notify_master sleeps 10 s before SLAVEOF NO ONE"}
}

// The seed's slowest legitimate recovery (after SIGCONT: rise 2, preempt,
// notify_master's 10 s of sleep) ends well within this; past it the pair
// is stuck (typically two masters) and nothing in the set-up changes that.
func (s *seedSetup) recoverBound() time.Duration { return 30 * time.Second }

// repair does what an operator would: the VIP holder's Redis becomes the
// master and the other Redis its replica.
func (s *seedSetup) repair(ctx context.Context) (string, error) {
	holder := s.l.Holder()
	if holder == "" {
		return "", fmt.Errorf("repair: no single VIP holder (%v)", s.l.Holders())
	}
	nodes := readNodes(s.hosts())
	var did []string
	if n := nodes[holder]; n.up && n.role != "master" {
		if _, err := redisString(s.l.Host(holder).NS, "127.0.0.1:6379", time.Second, "SLAVEOF", "NO", "ONE"); err != nil {
			return "", err
		}
		did = append(did, holder+": SLAVEOF NO ONE")
	}
	o := peerOf(holder)
	if n := nodes[o]; n.up && (n.role != "slave" || n.master != holder) {
		if _, err := redisString(s.l.Host(o).NS, "127.0.0.1:6379", time.Second, "SLAVEOF", s.l.Host(holder).IP.String(), "6379"); err != nil {
			return "", err
		}
		did = append(did, fmt.Sprintf("%s: SLAVEOF %s", o, holder))
	}
	return strings.Join(did, ", "), nil
}

// stuck: both Redis servers masters and no notify script running. Only a
// script changes a role in this set-up, and keepalived runs one on every
// state change, so if none has run for stuckFor nothing ever will.
func (s *seedSetup) stuck() (bool, string) {
	if scriptsRunning(s.dir+"/") != "" {
		return false, ""
	}
	nodes := readNodes(s.hosts())
	for _, h := range []string{"h1", "h2"} {
		if n := nodes[h]; !s.kaUp[h] || !n.up || n.role != "master" {
			return false, ""
		}
	}
	return true, fmt.Sprintf("two masters, VIP on %v, no notify script running", s.l.Holders())
}

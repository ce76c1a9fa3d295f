package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// runSetup is the built-in VRRP mode (`redis-vip run` on both hosts) with
// the settings of the README's example and of the end-to-end tests
// (netlab.RunVRRP): VRRPv3, 100 ms adverts and checks, priorities 150/100.
type runSetup struct {
	env  *env
	l    *netlab.Lab
	pids map[string]int
}

var (
	runPrio = map[string]int{"h1": 150, "h2": 100}
)

func (s *runSetup) id() string   { return "run" }
func (s *runSetup) name() string { return "redis-vip `run` (built-in VRRP)" }

func (s *runSetup) vrrp(h string) netlab.VRRP { return netlab.RunVRRP(runPrio[h], nil) }

func (s *runSetup) up(ctx context.Context) error {
	dir, err := s.env.labDir(s.id())
	if err != nil {
		return err
	}
	l, err := netlab.New(netlab.Options{Prefix: s.env.prefix + s.id(), Dir: dir, Bin: s.env.bin, Writer: s.env.writer, Logf: s.env.debugf})
	if err != nil {
		return err
	}
	s.l = l
	s.pids = map[string]int{}
	if err = l.Pair(s.vrrp("h1"), s.vrrp("h2")); err != nil {
		return err
	}
	if err := errors.Join(l.Hosts[0].StartRun(), l.Hosts[1].StartRun()); err != nil {
		return err
	}
	_, err = waitSettled(ctx, s, time.Minute, func(m string) bool { return m == "h1" })
	return err
}

func (s *runSetup) close() {
	if s.l != nil {
		// Processes first (netlab only kills the ones it started), then
		// the namespaces.
		for _, ns := range []string{s.l.Hosts[0].NS, s.l.Hosts[1].NS, s.l.ClientNS, s.l.BridgeNS} {
			_ = netlab.RemoveNamespace(ns)
		}
		s.l.Close()
		s.l = nil
	}
}

func (s *runSetup) hosts() []hostRef {
	return []hostRef{{"h1", s.l.Hosts[0].NS, s.l.Hosts[0].IP.String()}, {"h2", s.l.Hosts[1].NS, s.l.Hosts[1].IP.String()}}
}

func (s *runSetup) settled(ctx context.Context) (string, bool, string) {
	m, ok, why := pairSettled(readNodes(s.hosts()))
	if !ok {
		return m, false, why
	}
	if hs := s.l.Holders(); len(hs) != 1 || hs[0] != m {
		return m, false, fmt.Sprintf("VIP on %v, master %s", hs, m)
	}
	return m, true, ""
}

func (s *runSetup) target() writerTarget {
	return writerTarget{ns: s.l.ClientNS, addr: fmt.Sprintf("%s:%d", netlab.VIP.Addr(), netlab.RedisPort),
		hosts: []string{s.l.Hosts[0].Announce(), s.l.Hosts[1].Announce()}}
}

func (s *runSetup) redis(h string) (string, string) { return s.l.Host(h).NS, "127.0.0.1:6379" }

func (s *runSetup) preferred() string  { return "h1" }
func (s *runSetup) noFailback() string { return "" }

func (s *runSetup) kill(h string) error {
	s.l.Host(h).KillRedis()
	return nil
}

func (s *runSetup) hang(h string) error {
	pid, err := redisPid(s.l.Host(h).NS)
	if err != nil {
		return err
	}
	s.pids[h] = pid
	return syscall.Kill(pid, syscall.SIGSTOP)
}

func (s *runSetup) resume(h string) error {
	if s.pids[h] == 0 {
		return fmt.Errorf("%s: no stopped redis-server", h)
	}
	return syscall.Kill(s.pids[h], syscall.SIGCONT)
}

func (s *runSetup) restart(_ context.Context, h string) error {
	host := s.l.Host(h)
	if out, err := host.Guard(); err != nil {
		return fmt.Errorf("guard: %w: %s", err, out)
	}
	return host.StartRedis()
}

func (s *runSetup) planned(_ context.Context, m string) (string, error) {
	_, err := s.l.Host(m).StopRun(syscall.SIGTERM)
	return peerOf(m), err
}

func (s *runSetup) afterPlanned(ctx context.Context, m string) error {
	if err := s.l.Host(m).StartRun(); err != nil {
		return err
	}
	// It starts as BACKUP and preempts after its checks rise: do not take
	// the moment before for the end state.
	sleepCtx(ctx, 2*time.Second)
	return nil
}

func (s *runSetup) plannedHow() string { return "SIGTERM to the master's `redis-vip run`" }

func (s *runSetup) knobs() []string {
	v := s.vrrp("h1")
	return []string{fmt.Sprintf("in-process check every %v x fall %v (rise %v); advert_interval %v; VRRP v%v; priorities %d/%d, preempt",
		v["check_interval"], v["fall"], v["rise"], v["advert_interval"], v["version"], runPrio["h1"], runPrio["h2"])}
}

// redisPid asks the Redis in ns for its process id.
func redisPid(ns string) (int, error) {
	m, err := infoMap(ns, "127.0.0.1:6379", time.Second, "server")
	if err != nil {
		return 0, fmt.Errorf("redis pid: %w", err)
	}
	pid, err := strconv.Atoi(m["process_id"])
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("redis pid: %q", m["process_id"])
	}
	return pid, nil
}

// A dead Redis is seen within check_interval x fall: past 30 s after the
// fault the pair is stuck.
func (s *runSetup) recoverBound() time.Duration { return 30 * time.Second }

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// kaSetup is redis-vip with keepalived and the shipped configuration
// (packaging/keepalived), built by test/lab exactly as the
// end-to-end tests build it: hooks or notify FIFO variant.
type kaSetup struct {
	notify  string // hooks or fifo
	preempt bool   // lab.Options.Preempt (not the shipped file)
	env     *env
	prefix  string
	dir     string
	l       *lab.Lab
	vip     *vipWatch
	conf    kaConf
	// reconcilers are the `redis-vip reconcile --loop` processes (hooks
	// variant: what redis-vip-reconcile.service runs next to keepalived).
	reconcilers []*exec.Cmd
}

func (s *kaSetup) id() string {
	if s.preempt {
		return "ka-" + s.notify + "-preempt"
	}
	return "ka-" + s.notify
}

func (s *kaSetup) name() string {
	n := "redis-vip + keepalived, notify hooks"
	if s.notify == "fifo" {
		n = "redis-vip + keepalived, notify FIFO"
	}
	if s.preempt {
		n += " (lab preempt variant)"
	}
	return n
}

func (s *kaSetup) up(ctx context.Context) error {
	s.prefix = s.env.prefix + s.id()
	var err error
	if s.dir, err = s.env.labDir(s.id()); err != nil {
		return err
	}
	// The keepalived script user must reach the lab dir and the binary.
	for d := s.dir; d != filepath.Dir(s.env.dir); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	s.l = lab.New(lab.Options{Repo: s.env.repo, Dir: s.dir, Prefix: s.prefix, Bin: s.env.bin, Writer: s.env.writer,
		Notify: s.notify, Profile: "shipped", Preempt: s.preempt, Logf: s.env.debugf})
	uctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := s.l.Up(uctx); err != nil {
		return err
	}
	s.conf, err = readKAConf(filepath.Join(s.l.HostDir("h1"), "etc", "keepalived.conf"), filepath.Join(s.l.HostDir("h2"), "etc", "keepalived.conf"))
	if err != nil {
		return err
	}
	s.vip, err = newVIPWatch(netip.MustParseAddr(lab.VIP), s.l.NS("h1"), s.l.NS("h2"))
	if err != nil {
		return err
	}
	if s.notify == "hooks" {
		// The package ships redis-vip-reconcile.service for the per-event
		// hooks (notify-fifo does the same repairs in-process): run it as
		// its unit does, as the script user, on both hosts.
		for _, h := range []string{"h1", "h2"} {
			log, err := os.OpenFile(filepath.Join(s.l.HostDir(h), "log", "reconcile-loop.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			cmd := exec.Command("ip", "netns", "exec", s.l.NS(h), "setpriv", "--reuid=redis-vip", "--regid=redis-vip", "--init-groups",
				filepath.Join(s.dir, "bin", "redis-vip"), "reconcile", "--loop", "--config", s.hostConf(h))
			cmd.Stdout, cmd.Stderr = log, log
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			err = cmd.Start()
			log.Close()
			if err != nil {
				return fmt.Errorf("%s: reconcile --loop: %w", h, err)
			}
			go func() { _ = cmd.Wait() }()
			s.reconcilers = append(s.reconcilers, cmd)
		}
	}
	return nil
}

func (s *kaSetup) hostConf(h string) string {
	return filepath.Join(s.l.HostDir(h), "etc", "redis-vip.yml")
}

// repair runs one `redis-vip reconcile` pass on each host, as an operator
// would when the pair does not converge.
func (s *kaSetup) repair(ctx context.Context) (string, error) {
	var did []string
	for _, h := range []string{"h1", "h2"} {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := s.l.Exec(cctx, h, "setpriv", "--reuid=redis-vip", "--regid=redis-vip", "--init-groups",
			filepath.Join(s.dir, "bin", "redis-vip"), "reconcile", "--config", s.hostConf(h))
		cancel()
		did = append(did, fmt.Sprintf("%s: redis-vip reconcile: %s", h, firstLine(out, err)))
	}
	return strings.Join(did, "; "), nil
}

func firstLine(out string, err error) string {
	l, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if err != nil {
		return fmt.Sprintf("%v %s", err, l)
	}
	if l == "" {
		return "ok"
	}
	return l
}

// A dead Redis is seen within interval x fall and a switchover takes a
// second; past 30 s after the fault the pair is stuck.
func (s *kaSetup) recoverBound() time.Duration { return 30 * time.Second }

func (s *kaSetup) close() {
	for _, c := range s.reconcilers {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	s.reconcilers = nil
	if s.vip != nil {
		s.vip.close()
		s.vip = nil
	}
	if s.l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = s.l.Down(ctx)
		cancel()
	}
	for _, ns := range namespacesWithPrefix(s.prefix + "-") {
		_ = netlab.RemoveNamespace(ns)
	}
}

func (s *kaSetup) hosts() []hostRef {
	return []hostRef{{"h1", s.l.NS("h1"), lab.Addr["h1"]}, {"h2", s.l.NS("h2"), lab.Addr["h2"]}}
}

func (s *kaSetup) settled(ctx context.Context) (string, bool, string) {
	nodes := readNodes(s.hosts())
	m, ok, why := pairSettled(nodes)
	if !ok {
		return m, false, why
	}
	var on []string
	for _, h := range s.hosts() {
		if s.vip.holds(h.ns) {
			on = append(on, h.name)
		}
	}
	if len(on) != 1 || on[0] != m {
		return m, false, fmt.Sprintf("VIP on %v, master %s", on, m)
	}
	for _, h := range []string{"h1", "h2"} {
		if !s.l.KeepalivedRunning(h) {
			continue
		}
		st := s.l.KeepalivedState(h)
		if h == m && st != "MASTER" {
			return m, false, fmt.Sprintf("keepalived on master %s is %s", h, st)
		}
		if h != m && nodes[h].up && st != "BACKUP" {
			return m, false, fmt.Sprintf("keepalived on replica %s is %s", h, st)
		}
	}
	return m, true, ""
}

func (s *kaSetup) target() writerTarget {
	return writerTarget{ns: s.l.NS("client"), addr: lab.VIP + ":6379", hosts: []string{lab.Addr["h1"] + ":6379", lab.Addr["h2"] + ":6379"}}
}

func (s *kaSetup) redis(h string) (string, string) { return s.l.NS(h), "127.0.0.1:6379" }

func (s *kaSetup) preferred() string {
	if s.conf.preempt() {
		return s.conf.higher()
	}
	return ""
}

func (s *kaSetup) noFailback() string {
	if s.preferred() != "" {
		return ""
	}
	if s.conf.noPreempt {
		return "shipped config has nopreempt: the returning node stays a replica"
	}
	return "equal priorities: neither node takes the role back"
}

func (s *kaSetup) kill(h string) error   { return s.l.KillRedis(context.Background(), h) }
func (s *kaSetup) hang(h string) error   { return s.l.FreezeRedis(h) }
func (s *kaSetup) resume(h string) error { return s.l.ThawRedis(h) }

func (s *kaSetup) restart(ctx context.Context, h string) error {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := s.l.StartRedis(cctx, h) // guard first, as the systemd drop-in does
	return err
}

func (s *kaSetup) planned(ctx context.Context, m string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// As root, with the VIP named (the lab's redis-vip.yml has no vips:),
	// so that the old master keeps answering on it while keepalived moves
	// it (switchover's hold on lo).
	out, err := s.l.Exec(cctx, m, filepath.Join(s.l.Dir(), "bin", "redis-vip"), "switchover",
		"--config", filepath.Join(s.l.HostDir(m), "etc", "redis-vip.yml"), "--wait", "30s", "--vips", lab.VIP)
	if err != nil {
		return "", fmt.Errorf("switchover: %w: %s", err, strings.TrimSpace(out))
	}
	if s.preferred() == m {
		return "", nil // with preempt the preferred node takes the role straight back
	}
	return peerOf(m), nil
}

func (s *kaSetup) afterPlanned(context.Context, string) error { return nil }

func (s *kaSetup) plannedHow() string {
	return "`redis-vip switchover --vips VIP` as root on the master (it holds the VIP on lo while keepalived moves it)"
}

func (s *kaSetup) knobs() []string {
	c := s.conf
	pre := "nopreempt"
	if !c.noPreempt {
		pre = "preempt"
	}
	line := fmt.Sprintf("check `redis-vip check` every %s s x fall %s (rise %s, script timeout %s s); advert_int %s s; VRRP v%s; priorities %s/%s, %s",
		c.interval, c.fall, c.rise, c.timeout, c.advert, c.version, c.prio["h1"], c.prio["h2"], pre)
	if len(c.tracks) > 0 {
		line += "; track_file " + strings.Join(c.tracks, ", ")
	}
	if s.notify == "hooks" {
		line += "; `redis-vip reconcile --loop` running (redis-vip-reconcile.service)"
	} else {
		line += "; notify-fifo reconciles in-process"
	}
	return []string{line}
}

// kaConf is what the generated keepalived.conf files say about timing.
type kaConf struct {
	interval, fall, rise, timeout, advert, version string
	prio                                           map[string]string
	noPreempt                                      bool
	tracks                                         []string
}

func (c kaConf) preempt() bool {
	return !c.noPreempt && c.prio["h1"] != c.prio["h2"]
}

// higher is the host with the higher priority.
func (c kaConf) higher() string {
	a, _ := strconv.Atoi(c.prio["h1"])
	b, _ := strconv.Atoi(c.prio["h2"])
	if b > a {
		return "h2"
	}
	return "h1"
}

// readKAConf reads the keys that bound the failover time from the two
// hosts' generated keepalived.conf (whatever the shipped files say today).
func readKAConf(h1, h2 string) (kaConf, error) {
	c := kaConf{prio: map[string]string{}, version: "2", timeout: "?", interval: "?", fall: "1", rise: "1", advert: "1"}
	for i, path := range []string{h1, h2} {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, err
		}
		host := fmt.Sprintf("h%d", i+1)
		block := ""
		for _, raw := range strings.Split(string(b), "\n") {
			line := strings.TrimSpace(raw)
			if j := strings.Index(line, "#"); j >= 0 {
				line = strings.TrimSpace(line[:j])
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if len(f) >= 2 && f[len(f)-1] == "{" && (f[0] == "vrrp_script" || f[0] == "vrrp_instance" || f[0] == "track_file") {
				block = f[0]
				if f[0] == "track_file" && i == 0 && !strings.HasPrefix(strings.Join(f, " "), "track_file {") {
					c.tracks = append(c.tracks, f[1])
				}
			}
			val := ""
			if len(f) > 1 {
				val = f[1]
			}
			switch {
			case block == "vrrp_script" && f[0] == "interval":
				c.interval = val
			case block == "vrrp_script" && f[0] == "fall":
				c.fall = val
			case block == "vrrp_script" && f[0] == "rise":
				c.rise = val
			case block == "vrrp_script" && f[0] == "timeout":
				c.timeout = val
			case f[0] == "advert_int":
				c.advert = val
			case f[0] == "version":
				c.version = val
			case f[0] == "priority":
				c.prio[host] = val
			case f[0] == "nopreempt":
				c.noPreempt = true
			}
		}
	}
	return c, nil
}

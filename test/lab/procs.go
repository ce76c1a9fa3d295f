package lab

// Building the lab and running its processes (rv-lab's up, start-redis,
// stop-redis, start-keepalived, stop-keepalived and status). The processes
// are the lab's children (netlab.Proc): each dies with the program that
// built the lab, and Down kills whatever is left in the namespaces.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// UpNet builds the namespaces, the bridge, the dirs, the configs and the
// witness secret, and starts no process (rv-lab -net-only). Down
// removes it as usual.
func (l *Lab) UpNet(ctx context.Context) error {
	if l.net != nil {
		return errors.New("lab: already up")
	}
	if err := l.ensureScriptUser(); err != nil {
		return err
	}
	if err := os.MkdirAll(l.o.Dir, 0o755); err != nil {
		return err
	}
	if err := l.installBinary(); err != nil {
		return err
	}
	for _, h := range Hosts {
		for _, write := range []func(string) error{l.makeDirs, l.writeRedisConf, l.writeRedisVIPConf, l.writeKeepalivedConf} {
			if err := write(h); err != nil {
				return fmt.Errorf("%s: %w", h, err)
			}
		}
	}
	if err := l.ensureWitnessSecret(); err != nil {
		return err
	}
	n, err := netlab.New(netlab.Options{Prefix: l.o.Prefix, Dir: l.o.Dir, Bin: l.bin(), Writer: l.o.Writer,
		Logf: l.o.Logf, Addrs: addrs()})
	if err != nil {
		return err
	}
	l.net = n
	for _, h := range Hosts {
		if err := l.nonlocalBind(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// nonlocalBind lets host's Redis bind the VIP before keepalived assigns it.
func (l *Lab) nonlocalBind(ctx context.Context, h string) error {
	_, err := l.Exec(ctx, h, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1")
	return err
}

// Up builds the lab and starts the pair: UpNet, StartPair, then
// it waits (40 s) until the pair settles.
func (l *Lab) Up(ctx context.Context) error {
	if err := l.UpNet(ctx); err != nil {
		return err
	}
	if err := l.StartPair(ctx); err != nil {
		return err
	}
	s, err := l.WaitSettled(ctx, 40*time.Second, nil)
	if err != nil {
		return err
	}
	m, _ := s.Settled()
	l.o.Logf("up: master %s holds VIP %s; %s replicates it\n%s", m, VIP, Peer(m), Indent(l.Status(ctx)))
	return nil
}

// StartPair starts the processes of a lab built by UpNet so that every
// start is the same (h1 master, h2 its replica): h1's Redis (guard first)
// and keepalived, the VIP on h1 and h1's notify-master done, then h2's
// Redis and keepalived. It does not wait for h2.
func (l *Lab) StartPair(ctx context.Context) error {
	if _, err := l.StartRedis(ctx, "h1"); err != nil {
		return err
	}
	if err := l.StartKeepalived(ctx, "h1"); err != nil {
		return err
	}
	if err := WaitFor(ctx, 20*time.Second, "the VIP on h1", func() bool { return l.VIPHolder(ctx) == "h1" }); err != nil {
		return err
	}
	journal := filepath.Join(l.HostDir("h1"), "state", Instance+".journal")
	if err := WaitFor(ctx, 20*time.Second, "h1's notify-master to finish", func() bool {
		b, _ := os.ReadFile(journal)
		return strings.Contains(string(b), `"event":"master"`)
	}); err != nil {
		return err
	}
	if _, err := l.StartRedis(ctx, "h2"); err != nil {
		return err
	}
	return l.StartKeepalived(ctx, "h2")
}

// Down kills every process of the lab and deletes its namespaces; the lab
// dir stays (the caller removes it). Safe after a failed Up and more than
// once.
func (l *Lab) Down(ctx context.Context) error {
	if l.net != nil {
		l.net.Close()
	}
	l.o.Logf("down: namespaces and processes of prefix %s removed", l.o.Prefix)
	return nil
}

// RedisFlag changes how StartRedis starts redis-server.
type RedisFlag int

const (
	// NoGuard starts redis-server without `redis-vip guard` before it, as
	// on a host without the systemd drop-in: guard's include is emptied,
	// so redis.conf alone decides.
	NoGuard RedisFlag = iota + 1
	// NoPersist starts it with persistence off (--save "" --appendonly no).
	NoPersist
)

func (l *Lab) proc(m map[string]*netlab.Proc, host string) *netlab.Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[host]
}

func (l *Lab) setProc(m map[string]*netlab.Proc, host string, p *netlab.Proc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m[host] = p
}

func running(p *netlab.Proc) bool { return p != nil && p.Running() }

func checkHost(host string) error {
	if host != "h1" && host != "h2" {
		return fmt.Errorf("lab: host must be h1 or h2, got %q", host)
	}
	return nil
}

// StartRedis runs `redis-vip guard` and then redis-server on host, as the
// systemd drop-in does (ExecStartPre=+redis-vip guard; --include), and
// waits (10 s) until it answers PING. It returns guard's output. A Redis
// already running is left alone.
func (l *Lab) StartRedis(ctx context.Context, host string, flags ...RedisFlag) (string, error) {
	if err := checkHost(host); err != nil {
		return "", err
	}
	if running(l.proc(l.redis, host)) {
		l.o.Logf("%s: redis-server already running", host)
		return "", nil
	}
	guard, persist := true, true
	for _, f := range flags {
		switch f {
		case NoGuard:
			guard = false
		case NoPersist:
			persist = false
		}
	}
	var out string
	if guard {
		gctx, cancel := context.WithTimeout(ctx, time.Minute)
		o, err := l.Exec(gctx, host, l.bin(), "guard", "--config", l.config(host), "--instance", Instance)
		cancel()
		out = strings.TrimSpace(o)
		if err != nil {
			return out, fmt.Errorf("%s: guard failed, redis-server not started: %w", host, err)
		}
		l.o.Logf("%s: %s", host, out)
	} else {
		l.o.Logf("%s: starting redis-server WITHOUT guard", host)
		if err := os.WriteFile(l.guardInclude(host), []byte("# guard disabled for this start (lab.StartRedis NoGuard)\n"), 0o644); err != nil {
			return "", err
		}
	}
	args := []string{"redis-server", filepath.Join(l.HostDir(host), "etc", "redis.conf")}
	if l.o.Include == "cmdline" {
		args = append(args, "--include", l.guardInclude(host))
	}
	if !persist {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	p, err := l.net.Start("redis", l.NS(host), filepath.Join(l.HostDir(host), "log"), args...)
	if err != nil {
		return out, err
	}
	l.setProc(l.redis, host, p)
	err = WaitFor(ctx, 10*time.Second, host+" redis ping", func() bool {
		if !p.Running() {
			return true
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		pong, err := l.Cli(cctx, host, "PING")
		return err == nil && pong == "PONG"
	})
	if err == nil && !p.Running() {
		err = errors.New("redis-server exited")
	}
	if err != nil {
		return out, fmt.Errorf("%s: redis-server failed to start: %w; redis.log:\n%s", host, err, l.Tail(host+"/log/redis.log", 10))
	}
	l.o.Logf("%s: redis-server started", host)
	return out, nil
}

// stop sends sig and waits grace, then SIGKILL.
func stop(p *netlab.Proc, sig syscall.Signal, grace time.Duration) {
	if !running(p) {
		return
	}
	p.Signal(sig)
	if _, ok := p.Wait(grace); !ok {
		p.Kill()
	}
}

// StopRedis stops host's Redis gracefully: SIGTERM (it saves its RDB and,
// on Redis 7, waits for its replica), SIGKILL after 15 s.
func (l *Lab) StopRedis(ctx context.Context, host string) error {
	if err := checkHost(host); err != nil {
		return err
	}
	stop(l.proc(l.redis, host), syscall.SIGTERM, 15*time.Second)
	l.o.Logf("%s: redis-server stopped (SIGTERM)", host)
	return nil
}

// KillRedis kills host's Redis with SIGKILL (a crash).
func (l *Lab) KillRedis(ctx context.Context, host string) error {
	if err := checkHost(host); err != nil {
		return err
	}
	stop(l.proc(l.redis, host), syscall.SIGKILL, 5*time.Second)
	l.o.Logf("%s: redis-server killed", host)
	return nil
}

// FreezeRedis stops host's Redis with SIGSTOP (a hang); ThawRedis
// continues it (SIGCONT).
func (l *Lab) FreezeRedis(host string) error { return l.signalRedis(host, syscall.SIGSTOP) }

// ThawRedis continues a Redis FreezeRedis stopped.
func (l *Lab) ThawRedis(host string) error { return l.signalRedis(host, syscall.SIGCONT) }

func (l *Lab) signalRedis(host string, sig syscall.Signal) error {
	p := l.proc(l.redis, host)
	if !running(p) {
		return fmt.Errorf("%s: redis-server not running", host)
	}
	p.Signal(sig)
	l.o.Logf("%s: redis-server %s", host, sig)
	return nil
}

// RedisRunning says whether host's redis-server process is alive.
func (l *Lab) RedisRunning(host string) bool { return running(l.proc(l.redis, host)) }

// StartKeepalived runs keepalived on host in the foreground (-n), its
// detailed log (-l -D, no syslog: -G) in log/keepalived.log, VRRP only
// (-P), with pid files of its own in run/ (a system keepalived is never
// touched), and waits (5 s) until its VRRP child runs. One already running
// is left alone.
func (l *Lab) StartKeepalived(ctx context.Context, host string) error {
	if err := checkHost(host); err != nil {
		return err
	}
	if l.KeepalivedRunning(host) {
		l.o.Logf("%s: keepalived already running", host)
		return nil
	}
	run := filepath.Join(l.HostDir(host), "run")
	for _, f := range []string{"keepalived.pid", "vrrp.pid"} {
		_ = os.Remove(filepath.Join(run, f))
	}
	p, err := l.net.Start("keepalived", l.NS(host), filepath.Join(l.HostDir(host), "log"), "keepalived",
		"-n", "-l", "-D", "-G", "-P", "-f", l.KeepalivedConf(host),
		"-p", filepath.Join(run, "keepalived.pid"), "-r", filepath.Join(run, "vrrp.pid"))
	if err != nil {
		return err
	}
	l.setProc(l.ka, host, p)
	err = WaitFor(ctx, 5*time.Second, host+" keepalived vrrp child", func() bool {
		fi, err := os.Stat(filepath.Join(run, "vrrp.pid"))
		return !p.Running() || (err == nil && fi.Size() > 0)
	})
	if err == nil && !p.Running() {
		err = errors.New("keepalived exited")
	}
	if err != nil {
		return fmt.Errorf("%s: keepalived did not start: %w; keepalived.log:\n%s", host, err, l.Tail(host+"/log/keepalived.log", 10))
	}
	l.o.Logf("%s: keepalived started (%s, %s)", host, l.o.Notify, l.o.Profile)
	return nil
}

// StopKeepalived stops host's keepalived with SIGTERM (it sends a
// priority-0 advert, drops the VIP and runs notify_stop), SIGKILL after
// 10 s.
func (l *Lab) StopKeepalived(ctx context.Context, host string) error {
	if err := checkHost(host); err != nil {
		return err
	}
	stop(l.proc(l.ka, host), syscall.SIGTERM, 10*time.Second)
	run := filepath.Join(l.HostDir(host), "run")
	for _, f := range []string{"keepalived.pid", "vrrp.pid"} {
		_ = os.Remove(filepath.Join(run, f))
	}
	l.o.Logf("%s: keepalived stopped", host)
	return nil
}

// KeepalivedRunning says whether host's keepalived process is alive.
func (l *Lab) KeepalivedRunning(host string) bool { return running(l.proc(l.ka, host)) }

// Status describes the lab in a few lines (rv-lab's status): each host's
// namespace, Redis, role and keepalived, the witness, the VIP, the shape.
func (l *Lab) Status(ctx context.Context) string {
	if l.net == nil {
		return "lab not up"
	}
	shape, serr := l.Partition(ctx)
	off := func(h string) bool {
		for _, o := range shape.Off {
			if o == h {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %-6s %-6s %-30s %s\n", "HOST", "NETNS", "REDIS", "ROLE", "KEEPALIVED")
	for _, h := range Hosts {
		nss, redis, role := "up", "down", "-"
		if off(h) {
			nss = "off"
		}
		if l.RedisRunning(h) {
			redis = "up"
		}
		if n := l.Node(ctx, h); n.Up {
			role = fmt.Sprintf("%s keys=%d", n.Role, n.Keys)
			if n.Role == "slave" {
				role = fmt.Sprintf("replica link=%v keys=%d", n.LinkUp, n.Keys)
			}
		}
		fmt.Fprintf(&b, "%-7s %-6s %-6s %-30s %s\n", h, nss, redis, role, kaWord(Node{KA: l.KeepalivedState(h), KARunning: l.KeepalivedRunning(h)}))
	}
	wst := "stopped"
	if l.WitnessRunning() {
		wst = "running"
	}
	wns := "up"
	if off(Witness) {
		wns = "off"
	}
	fmt.Fprintf(&b, "w       %-6s witness %s\n", wns, wst)
	fmt.Fprintf(&b, "VIP %s on: %s\n", VIP, l.VIPHolder(ctx))
	if serr != nil {
		fmt.Fprintf(&b, "partition: %v", serr)
	} else {
		fmt.Fprintf(&b, "partition: %s", shape)
	}
	return b.String()
}

// Indent indents s's lines by four spaces for a test log, after trimming
// it ("" stays "").
func Indent(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

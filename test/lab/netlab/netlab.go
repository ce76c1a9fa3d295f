// Package netlab builds the network and runs the processes of every
// end-to-end lab: two hosts (h1, h2), a witness host (w) and a client, each
// a network namespace on a bridge that lives in a namespace of its own, so
// nothing touches the host's network. It runs real redis-server, `redis-vip
// run` and keepalived processes in them, samples who holds the VIP, and
// cleans everything up in Close, also after a failure: the processes it
// started and whatever else runs in its namespaces. Namespace names start
// with the prefix the caller gives (tests use rvt-<pid>-<n>, test/e2e
// rvtest-e2e-<pid>-<n>), so labs never collide.
//
// test/vrrpe2e and test/bench/failover use it directly (the built-in VRRP
// mode, mixed pairs, the baselines); package test/lab builds the keepalived
// lab with the shipped configurations on top of it, with the addresses of
// those configurations (Options.Addrs). By default the addresses are:
//
//	h1     192.0.2.71/26  redis-server 127.0.0.1:6379 (announced as 192.0.2.71:6379)
//	h2     192.0.2.72/26  the same, announced as 192.0.2.72:6379
//	w      192.0.2.73/26  the witness host: `redis-vip witness` on port 7379
//	client 192.0.2.80/26  the writer
//	VIP    192.0.2.70/26
//
// Bridge ports are v<host> (vh1, vh2, vw) and vc for the client.
//
// Partitions (partition.go), with the names and semantics of the operators'
// lab's commands (test/lab/cmd/rv-lab): Isolate/Heal a host, Split/HealSplit h1 from h2, PowerOff/PowerOn
// a host, HealAll, and Partition to read the shape; StartWitness,
// StopWitness, KillWitness run a process in w; StartLocalWriter runs a
// writer inside h1 or h2 against its own Redis. Cut (the bridge port down:
// the host's eth0 loses carrier) is not a partition shape: it is the cable
// pulled with the host noticing, which Heal also undoes.
package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Addresses of the lab unless Options.Addrs says otherwise (the run-mode
// lab's, above).
var (
	VIP      = netip.MustParsePrefix("192.0.2.70/26")
	ClientIP = netip.MustParsePrefix("192.0.2.80/26")
	HostIPs  = []netip.Prefix{netip.MustParsePrefix("192.0.2.71/26"), netip.MustParsePrefix("192.0.2.72/26")}
	// WitnessIP is the witness host's address.
	WitnessIP = netip.MustParsePrefix("192.0.2.73/26")
)

// Addrs are a lab's addresses, each with its prefix length.
type Addrs struct {
	VIP, Client, Witness netip.Prefix
	Hosts                [2]netip.Prefix
}

// DefaultAddrs are VIP, ClientIP, HostIPs and WitnessIP.
func DefaultAddrs() Addrs {
	return Addrs{VIP: VIP, Client: ClientIP, Witness: WitnessIP, Hosts: [2]netip.Prefix{HostIPs[0], HostIPs[1]}}
}

// RedisPort is the port of both Redis servers.
const RedisPort = 6379

// Options say how to build a lab.
type Options struct {
	// Prefix starts every namespace name, e.g. "rvt-1234-1".
	Prefix string
	// Dir holds configs, data and logs.
	Dir string
	// Bin is the redis-vip binary; Writer the rv-writer binary.
	Bin, Writer string
	// Logf reports progress (t.Logf); nil discards.
	Logf func(format string, args ...any)
	// Addrs are the lab's addresses; nil: DefaultAddrs. (test/lab gives
	// the keepalived lab those of the shipped keepalived configurations.)
	Addrs *Addrs
}

// Lab is one running lab. Close removes it.
type Lab struct {
	o        Options
	a        Addrs
	BridgeNS string
	ClientNS string
	Hosts    []*Host
	// W is the witness host (not in Hosts: it runs no Redis).
	W *Host

	mu      sync.Mutex
	procs   []*Proc
	ns      []string
	handles map[string]*netlink.Handle
	// off holds the bridge-port flags of each powered-off host, for PowerOn.
	off map[string]portFlags
}

// Host is one of the two Redis hosts.
type Host struct {
	lab *Lab
	// Name is h1 or h2.
	Name string
	// NS is the host's network namespace.
	NS string
	// IP is the host's own address.
	IP netip.Addr
	// Dir holds the host's files.
	Dir string
	// Extra are instance settings WriteConfig adds (or replaces), e.g.
	// health_listen.
	Extra map[string]any

	redis, run, keepalived, witness *Proc
	// addr is the host's address with its prefix length.
	addr netip.Prefix
}

// Peer returns the other Redis host (h1 and h2 only).
func (h *Host) Peer() *Host {
	if h == h.lab.Hosts[0] {
		return h.lab.Hosts[1]
	}
	return h.lab.Hosts[0]
}

// Announce is host:port at which the peer reaches this host's Redis.
func (h *Host) Announce() string { return fmt.Sprintf("%s:%d", h.IP, RedisPort) }

func (l *Lab) logf(format string, args ...any) {
	if l.o.Logf != nil {
		l.o.Logf(format, args...)
	}
}

// New builds the namespaces, the bridge and the links. On error it removes
// what it built.
func New(o Options) (l *Lab, err error) {
	if o.Prefix == "" || o.Dir == "" {
		return nil, errors.New("netlab: Prefix and Dir are required")
	}
	l = &Lab{o: o, a: DefaultAddrs(), BridgeNS: o.Prefix + "-br", ClientNS: o.Prefix + "-c", handles: map[string]*netlink.Handle{}, off: map[string]portFlags{}}
	if o.Addrs != nil {
		l.a = *o.Addrs
	}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if err := l.addNS(l.BridgeNS); err != nil {
		return nil, err
	}
	if err := ip("-n", l.BridgeNS, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"); err != nil {
		return nil, err
	}
	if err := ip("-n", l.BridgeNS, "link", "set", "br0", "up"); err != nil {
		return nil, err
	}
	if err := l.attach(l.ClientNS, "vc", l.a.Client, ""); err != nil {
		return nil, err
	}
	newHost := func(name string, p netip.Prefix) (*Host, error) {
		h := &Host{lab: l, Name: name, NS: o.Prefix + "-" + name, IP: p.Addr(), Dir: filepath.Join(o.Dir, name), addr: p}
		if err := os.MkdirAll(filepath.Join(h.Dir, "data"), 0o755); err != nil {
			return nil, err
		}
		return h, l.attach(h.NS, h.port(), p, "")
	}
	for i, p := range l.a.Hosts {
		h, err := newHost(fmt.Sprintf("h%d", i+1), p)
		if err != nil {
			return nil, err
		}
		l.Hosts = append(l.Hosts, h)
	}
	if l.W, err = newHost("w", l.a.Witness); err != nil {
		return nil, err
	}
	for _, ns := range []string{l.ClientNS, l.Hosts[0].NS, l.Hosts[1].NS} {
		if err := l.openHandle(ns); err != nil {
			return nil, err
		}
	}
	l.logf("lab %s up: bridge %s, hosts %s %s, witness %s, client %s", o.Prefix, l.BridgeNS, l.Hosts[0].NS, l.Hosts[1].NS, l.W.NS, l.ClientNS)
	return l, nil
}

// attach makes namespace ns and its veth pair: eth0 inside with addr (and
// the MAC address mac unless ""), port on the bridge.
func (l *Lab) attach(ns, port string, addr netip.Prefix, mac string) error {
	if err := l.addNS(ns); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", l.BridgeNS, "link", "add", "name", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
	}
	if mac != "" {
		steps = append(steps, []string{"-n", ns, "link", "set", "dev", "eth0", "address", mac})
	}
	steps = append(steps,
		[]string{"-n", l.BridgeNS, "link", "set", "dev", port, "master", "br0", "up"},
		[]string{"-n", ns, "addr", "add", addr.String(), "dev", "eth0"},
		[]string{"-n", ns, "link", "set", "dev", "eth0", "up"},
		[]string{"-n", ns, "link", "set", "dev", "lo", "up"},
	)
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// port is the host's bridge port.
func (h *Host) port() string { return "v" + h.Name }

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) addNS(name string) error {
	_ = exec.Command("ip", "netns", "del", name).Run() // stale, from a crashed run
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	l.mu.Lock()
	if !slices.Contains(l.ns, name) {
		l.ns = append(l.ns, name)
	}
	l.mu.Unlock()
	return nil
}

// openHandle opens a netlink handle inside ns, for sampling addresses
// without running a process each time.
func (l *Lab) openHandle(ns string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	l.mu.Lock()
	l.handles[ns] = h
	l.mu.Unlock()
	return nil
}

// Close stops every process the lab started and every other process in
// its namespaces (SIGKILL) and deletes the namespaces. It is safe to call
// more than once.
func (l *Lab) Close() {
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	nss := l.ns
	l.ns = nil
	handles := l.handles
	l.handles = map[string]*netlink.Handle{}
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, h := range handles {
		h.Close()
	}
	// What the lab's processes started (keepalived's children, its hooks,
	// a daemonized server) is not in procs: kill whatever the namespaces
	// still hold before deleting them (deleting one kills nothing).
	for _, ns := range nss {
		_ = signalNS(ns, syscall.SIGKILL)
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if err := ip("netns", "del", nss[i]); err != nil {
			l.logf("cleanup: %v", err)
		}
	}
}

// Proc is one process the lab started inside a namespace.
type Proc struct {
	Name string
	// Log is the file its stdout and stderr go to.
	Log  string
	ns   string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs argv inside ns ("ip netns exec" replaces itself with argv, so
// the process's pid is argv's), output appended to dir/name.log.
func (l *Lab) Start(name, ns, dir string, argv ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, ns: ns, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Running reports whether the process is still alive.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig and returns the moment it was sent.
func (p *Proc) Signal(sig syscall.Signal) time.Time {
	at := time.Now()
	_ = p.cmd.Process.Signal(sig)
	return at
}

// Wait waits up to timeout for the process to exit and returns its error.
func (p *Proc) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	if p.Running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Exec runs a command inside the host's namespace and returns its output.
func (h *Host) Exec(ctx context.Context, argv ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w: %s", h.Name, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Holds reports whether ns's eth0 carries the VIP.
func (l *Lab) holds(ns string) (bool, error) {
	l.mu.Lock()
	h := l.handles[ns]
	l.mu.Unlock()
	if h == nil {
		return false, fmt.Errorf("no handle for %s", ns)
	}
	link, err := h.LinkByName("eth0")
	if err != nil {
		return false, err
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(l.a.VIP.Addr().AsSlice()) }), nil
}

// Holders returns the names of the hosts whose interface holds the VIP.
func (l *Lab) Holders() []string {
	var out []string
	for _, h := range l.Hosts {
		if ok, err := l.holds(h.NS); err == nil && ok {
			out = append(out, h.Name)
		}
	}
	return out
}

// Holder returns the one host holding the VIP, or "" (none or both).
func (l *Lab) Holder() string {
	if hs := l.Holders(); len(hs) == 1 {
		return hs[0]
	}
	return ""
}

// VIP is the lab's virtual IP with its prefix length.
func (l *Lab) VIP() netip.Prefix { return l.a.VIP }

// Host returns the host named name.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// WaitFor polls cond every 20 ms until it holds or timeout passes.
func WaitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: still not %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Cut takes host's bridge port down (the cable is pulled: the host's own
// eth0 stays configured, without carrier); Heal puts it back.
func (l *Lab) Cut(h *Host) error { return ip("-n", l.BridgeNS, "link", "set", "dev", h.port(), "down") }

// Heal reattaches a cut or isolated host: its port up and forwarding
// (idempotent; a split or a poweroff stays).
func (l *Lab) Heal(h *Host) error {
	if l.isOff(h) {
		return l.setPort(h, "state", "forwarding")
	}
	if err := ip("-n", l.BridgeNS, "link", "set", "dev", h.port(), "up"); err != nil {
		return err
	}
	return l.setPort(h, "state", "forwarding")
}

// Build compiles redis-vip and rv-writer into dir and returns their paths.
func Build(dir string) (bin, writerBin string, err error) {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..", "..")
	bin, writerBin = filepath.Join(dir, "redis-vip"), filepath.Join(dir, "rv-writer")
	for out, pkg := range map[string]string{bin: "./cmd/redis-vip", writerBin: "./test/writer/cmd/rv-writer"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w: %s", pkg, err, b)
		}
	}
	out, err := exec.Command(bin, "run", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "redis-vip run") {
		return "", "", fmt.Errorf("the redis-vip binary has no run command (add runCommand() to the command list in cmd/redis-vip/app.go): %s", bytes.TrimSpace(out))
	}
	return bin, writerBin, nil
}

// Pair prepares both hosts for a run: redis-vip configs with the given
// `vrrp:` sections (nil: keepalived mode), h1's Redis a master and h2's a
// replica of it, both running and in sync.
func (l *Lab) Pair(v1, v2 VRRP) error {
	h1, h2 := l.Hosts[0], l.Hosts[1]
	for _, s := range []struct {
		h    *Host
		v    VRRP
		repl *Host
	}{{h1, v1, nil}, {h2, v2, h1}} {
		if err := s.h.WriteConfig(s.v); err != nil {
			return err
		}
		if err := s.h.WriteRedisConf(s.repl); err != nil {
			return err
		}
		if err := s.h.StartRedis(); err != nil {
			return err
		}
	}
	return WaitFor(10*time.Second, "h2 in sync with h1", h2.InSync)
}

// HostByAddr returns the host whose Redis is at addr (host:port).
func (l *Lab) HostByAddr(addr string) *Host {
	for _, h := range l.Hosts {
		if h.Announce() == addr {
			return h
		}
	}
	return nil
}

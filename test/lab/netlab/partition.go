package netlab

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/labnet"
)

// Partitions, with the names and semantics of rv-lab's commands (see
// package labnet for the model both labs share). A host's bridge port has
// two flags: its STP state (forwarding, or disabled: Isolate) and bridge
// port isolation (on for vh1 and vh2: Split). A powered-off host has no
// port; the lab keeps its flags until PowerOn. None of them touches a host's
// own interface: it keeps carrier and addresses, only the bridge stops
// carrying.

// WitnessPort is the port StartWitness gives `redis-vip witness --listen`.
const WitnessPort = 7379

// portFlags are a bridge port's partition flags.
type portFlags struct {
	state    string // forwarding or disabled
	isolated bool
	mac      string // the host's eth0 MAC, kept across a poweroff
}

// bridge runs the bridge command in the bridge namespace.
func (l *Lab) bridge(args ...string) ([]byte, error) {
	out, err := exec.Command("bridge", append([]string{"-n", l.BridgeNS}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("bridge %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func (l *Lab) isOff(h *Host) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.off[h.Name]
	return ok
}

// flags reads h's port flags from the bridge (or what PowerOff kept).
func (l *Lab) flags(h *Host) (portFlags, error) {
	l.mu.Lock()
	f, ok := l.off[h.Name]
	l.mu.Unlock()
	if ok {
		return f, nil
	}
	out, err := l.bridge("-d", "-j", "link", "show", "dev", h.port())
	if err != nil {
		return portFlags{}, err
	}
	var ports []struct {
		State    string `json:"state"`
		Isolated bool   `json:"isolated"`
	}
	if err := json.Unmarshal(out, &ports); err != nil || len(ports) != 1 {
		return portFlags{}, fmt.Errorf("bridge link show dev %s: %q: %v", h.port(), out, err)
	}
	return portFlags{state: ports[0].State, isolated: ports[0].Isolated}, nil
}

// setPort sets h's port state (forwarding, disabled) or isolation (on,
// off); on a powered-off host it changes what PowerOn restores.
func (l *Lab) setPort(h *Host, key, value string) error {
	l.mu.Lock()
	if f, ok := l.off[h.Name]; ok {
		switch key {
		case "state":
			f.state = value
		case "isolated":
			f.isolated = value == "on"
		}
		l.off[h.Name] = f
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	switch key + "/" + value {
	case "state/forwarding":
		_, err := l.bridge("link", "set", "dev", h.port(), "state", "3")
		return err
	case "state/disabled":
		_, err := l.bridge("link", "set", "dev", h.port(), "state", "0")
		return err
	case "isolated/on", "isolated/off":
		_, err := l.bridge("link", "set", "dev", h.port(), "isolated", value)
		return err
	}
	return fmt.Errorf("netlab: port %s=%s", key, value)
}

// Isolate cuts host h (h1, h2 or W) from everything: its bridge port
// forwards nothing (STP state disabled), its eth0 keeps carrier, its
// processes run on. Heal undoes it. A Cut and Heal of the same host (its
// port going down and up) ends the isolation too.
func (l *Lab) Isolate(h *Host) error { return l.setPort(h, "state", "disabled") }

// Split cuts h1 from h2 (VRRP adverts, unicast and multicast, replication,
// everything) while the client and the witness reach both: bridge port
// isolation on the vh1 and vh2 ports (isolated ports never forward to each
// other, only to the others). HealSplit undoes it.
func (l *Lab) Split() error {
	for _, h := range l.Hosts {
		if err := l.setPort(h, "isolated", "on"); err != nil {
			return err
		}
	}
	return nil
}

// HealSplit undoes Split (idempotent).
func (l *Lab) HealSplit() error {
	for _, h := range l.Hosts {
		if err := l.setPort(h, "isolated", "off"); err != nil {
			return err
		}
	}
	return nil
}

// nsPids lists the processes in namespace ns.
func nsPids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// Namespaces lists the network namespaces that exist now (ip netns list).
func Namespaces() []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var nss []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			nss = append(nss, f[0])
		}
	}
	return nss
}

// RemoveNamespace kills every process in ns, waits (at most 5 s) until
// they are gone, and deletes ns: what a lab a killed run left behind needs
// (deleting a namespace kills nothing, and a process left in a deleted
// namespace can no longer be found by it). Deleting is retried for up to
// 2 s while the kernel still holds the namespace. A namespace that does
// not exist is not an error.
func RemoveNamespace(ns string) error {
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for range 50 {
		_ = signalNS(ns, syscall.SIGKILL)
		if len(nsPids(ns)) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var err error
	for range 20 {
		if err = ip("netns", "del", ns); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// signalNS sends sig to every process in ns, again to any that appears
// meanwhile, until a pass finds no new one (at most 50 passes).
func signalNS(ns string, sig syscall.Signal) error {
	seen := map[int]bool{}
	for range 50 {
		fresh := false
		for _, p := range nsPids(ns) {
			if !seen[p] {
				seen[p] = true
				fresh = true
				_ = syscall.Kill(p, sig)
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("%s: processes kept appearing while sending %s", ns, sig)
}

// PowerOff simulates a power loss of host h (h1, h2 or W): every process in
// its namespace is frozen with SIGSTOP (so none reacts to the others' deaths
// or to the link), its cable pulled (the veth pair deleted: nothing its
// kernel sends afterwards, the FINs and RSTs of the sockets about to close
// included, leaves it), then all killed with SIGKILL, and the namespace
// deleted, so that PowerOn gives a host whose kernel state (the VIP, ARP
// cache, sockets) is gone as after a reboot. Writers running there die too.
// The files under the host's Dir stay, page cache included: data a process
// wrote but never fsynced survives, which a real power loss can lose.
// Idempotent.
func (l *Lab) PowerOff(h *Host) error {
	if l.isOff(h) {
		return nil
	}
	f, err := l.flags(h)
	if err != nil {
		return err
	}
	out, err := exec.Command("ip", "-n", h.NS, "-j", "link", "show", "dev", "eth0").Output()
	var links []struct {
		Address string `json:"address"`
	}
	if err != nil || json.Unmarshal(out, &links) != nil || len(links) != 1 {
		return fmt.Errorf("%s: eth0's MAC address: %q %v", h.Name, out, err)
	}
	f.mac = links[0].Address
	if err := signalNS(h.NS, syscall.SIGSTOP); err != nil {
		return err
	}
	if err := ip("-n", l.BridgeNS, "link", "del", "dev", h.port()); err != nil {
		return err
	}
	l.mu.Lock()
	l.off[h.Name] = f
	procs := slices.Clone(l.procs)
	handle := l.handles[h.NS]
	delete(l.handles, h.NS)
	l.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := signalNS(h.NS, syscall.SIGKILL); err != nil {
			return err
		}
		if len(nsPids(h.NS)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: processes survived SIGKILL: %v", h.Name, nsPids(h.NS))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		if p.ns == h.NS {
			if _, ok := p.Wait(5 * time.Second); !ok {
				return fmt.Errorf("%s: %s did not exit after SIGKILL", h.Name, p.Name)
			}
		}
	}
	h.redis, h.run, h.keepalived, h.witness = nil, nil, nil, nil
	if handle != nil {
		handle.Close()
	}
	if err := ip("netns", "del", h.NS); err != nil {
		return err
	}
	l.mu.Lock()
	l.ns = slices.DeleteFunc(l.ns, func(n string) bool { return n == h.NS })
	l.mu.Unlock()
	l.logf("%s powered off", h.Name)
	return nil
}

// PowerOn brings a powered-off host back: a fresh namespace, its address
// and MAC, its port with the Isolate/Split flags it had. No process is
// started: start them as a real host's boot would. Idempotent.
func (l *Lab) PowerOn(h *Host) error {
	l.mu.Lock()
	f, ok := l.off[h.Name]
	l.mu.Unlock()
	if !ok {
		return nil
	}
	if err := l.attach(h.NS, h.port(), h.addr, f.mac); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.off, h.Name)
	l.mu.Unlock()
	if f.state == "disabled" {
		if err := l.setPort(h, "state", "disabled"); err != nil {
			return err
		}
	}
	if f.isolated {
		if err := l.setPort(h, "isolated", "on"); err != nil {
			return err
		}
	}
	if h != l.W {
		if err := l.openHandle(h.NS); err != nil {
			return err
		}
	}
	l.logf("%s powered on", h.Name)
	return nil
}

// nodes are the hosts partitions act on.
func (l *Lab) nodes() []*Host { return []*Host{l.Hosts[0], l.Hosts[1], l.W} }

// HealAll powers every host on, heals every cut or isolated one and the
// split. It starts no process.
func (l *Lab) HealAll() error {
	var errs []error
	for _, h := range l.nodes() {
		errs = append(errs, l.PowerOn(h))
	}
	for _, h := range l.nodes() {
		errs = append(errs, l.Heal(h))
	}
	errs = append(errs, l.HealSplit())
	return errors.Join(errs...)
}

// Partition reads the current shape from the bridge.
func (l *Lab) Partition() (labnet.Shape, error) {
	var s labnet.Shape
	iso := 0
	for _, h := range l.nodes() {
		f, err := l.flags(h)
		if err != nil {
			return s, err
		}
		if f.state == "disabled" {
			s.Isolated = append(s.Isolated, h.Name)
		}
		if l.isOff(h) {
			s.Off = append(s.Off, h.Name)
		}
		if f.isolated && h != l.W {
			iso++
		}
	}
	switch iso {
	case 2:
		s.Split = true
	case 1:
		return s, errors.New("netlab: only one of h1 and h2 has port isolation (a partial split)")
	}
	sort.Strings(s.Isolated)
	sort.Strings(s.Off)
	return s, nil
}

// Endpoints are the lab's nodes as probes see them (labnet.Nodes).
func (l *Lab) Endpoints() map[string]labnet.Endpoint {
	m := map[string]labnet.Endpoint{"client": {NS: l.ClientNS, Addr: l.a.Client.Addr().String()}}
	for _, h := range l.nodes() {
		m[h.Name] = labnet.Endpoint{NS: h.NS, Addr: h.IP.String()}
	}
	return m
}

// Reachability probes every ordered pair of nodes (labnet.ProbeAll).
func (l *Lab) Reachability(timeout time.Duration) labnet.Matrix {
	return labnet.ProbeAll(l.Endpoints(), timeout)
}

// WitnessAddr is where the witness listens (192.0.2.73:7379).
func (l *Lab) WitnessAddr() string { return fmt.Sprintf("%s:%d", l.W.IP, WitnessPort) }

// WitnessSecret is the shared secret file of the witness and the nodes: 32
// random bytes in hex, mode 0600, made by the first StartWitness.
func (l *Lab) WitnessSecret() string { return filepath.Join(l.o.Dir, "witness.secret") }

func (l *Lab) ensureWitnessSecret() error {
	if fi, err := os.Stat(l.WitnessSecret()); err == nil && fi.Size() > 0 {
		return nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(l.WitnessSecret(), fmt.Appendf(nil, "%x\n", b), 0o600)
}

// StartWitness runs `redis-vip witness --listen WitnessAddr --secret-file
// WitnessSecret` in the witness host and waits (5 s) until it listens; with
// argv it runs argv there instead (a stand-in) and does not wait for a port.
// Its output goes to W.Dir/witness.log. It fails when one already runs.
func (l *Lab) StartWitness(argv ...string) (*Proc, error) {
	if l.isOff(l.W) {
		return nil, errors.New("netlab: the witness host is powered off")
	}
	if l.W.witness != nil && l.W.witness.Running() {
		return nil, errors.New("netlab: a witness process already runs")
	}
	wait := len(argv) == 0
	if wait {
		if err := l.ensureWitnessSecret(); err != nil {
			return nil, err
		}
		argv = []string{l.o.Bin, "witness", "--listen", l.WitnessAddr(), "--secret-file", l.WitnessSecret()}
	}
	p, err := l.Start("witness", l.W.NS, l.W.Dir, argv...)
	if err != nil {
		return nil, err
	}
	l.W.witness = p
	if !wait {
		return p, nil
	}
	err = WaitFor(5*time.Second, "the witness listening on "+l.WitnessAddr(), func() bool {
		if !p.Running() {
			return true
		}
		c, err := labnet.Dial(l.W.NS, l.WitnessAddr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err == nil && !p.Running() {
		err = fmt.Errorf("the witness exited: %s", p.Tail(5))
	}
	if err != nil {
		p.Kill()
		l.W.witness = nil
		return nil, err
	}
	return p, nil
}

// StopWitness stops the witness's process with SIGTERM and waits (5 s, then
// SIGKILL). Idempotent.
func (l *Lab) StopWitness() error {
	p := l.W.witness
	l.W.witness = nil
	if p == nil || !p.Running() {
		return nil
	}
	p.Signal(syscall.SIGTERM)
	if _, ok := p.Wait(5 * time.Second); !ok {
		p.Kill()
		return errors.New("netlab: the witness did not exit within 5s of SIGTERM")
	}
	return nil
}

// KillWitness kills the witness's process with SIGKILL: the witness dead,
// its host up. Idempotent.
func (l *Lab) KillWitness() {
	if p := l.W.witness; p != nil {
		p.Kill()
	}
	l.W.witness = nil
}

// WitnessRunning reports whether the process StartWitness started is alive.
func (l *Lab) WitnessRunning() bool { return l.W.witness != nil && l.W.witness.Running() }

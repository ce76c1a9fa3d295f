package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/labnet"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/test/writer"
)

// Witness is the name of the witness host (namespace Prefix-w, address
// Addr["w"]); WitnessPort is the port StartWitness gives `redis-vip witness
// --listen`.
const (
	Witness     = "w"
	WitnessPort = netlab.WitnessPort
)

// node is the netlab host a partition acts on (h1, h2 or w).
func (l *Lab) node(host string) (*netlab.Host, error) {
	if l.net == nil {
		return nil, errors.New("lab: not up")
	}
	switch host {
	case "h1", "h2":
		return l.net.Host(host), nil
	case Witness:
		return l.net.W, nil
	}
	return nil, fmt.Errorf("lab: host must be h1, h2 or w, got %q", host)
}

// Isolate cuts host (h1, h2 or w) from everything: its bridge port forwards
// nothing, its interface keeps carrier, its processes run on. Heal undoes it.
func (l *Lab) Isolate(ctx context.Context, host string) error {
	h, err := l.node(host)
	if err != nil {
		return err
	}
	l.o.Logf("%s: isolated (its bridge port forwards nothing; its link stays up)", host)
	return l.net.Isolate(h)
}

// Heal undoes Isolate (idempotent); it leaves a split or a poweroff alone.
func (l *Lab) Heal(ctx context.Context, host string) error {
	h, err := l.node(host)
	if err != nil {
		return err
	}
	l.o.Logf("%s: back on the bridge", host)
	return l.net.Heal(h)
}

// Split cuts h1 from h2 (VRRP adverts, replication, everything) while the
// client and w still reach both. HealSplit undoes it.
func (l *Lab) Split(ctx context.Context) error {
	if l.net == nil {
		return errors.New("lab: not up")
	}
	l.o.Logf("split: h1 and h2 no longer reach each other; the client and w reach both")
	return l.net.Split()
}

// HealSplit undoes Split (idempotent).
func (l *Lab) HealSplit(ctx context.Context) error {
	if l.net == nil {
		return errors.New("lab: not up")
	}
	l.o.Logf("split healed: h1 and h2 reach each other")
	return l.net.HealSplit()
}

// PowerOff simulates a power loss of host (h1, h2 or w): every process in
// its namespace frozen, its cable pulled, all killed with SIGKILL, the
// namespace deleted (netlab.Lab.PowerOff). Writers running there die too.
// Its files stay, but for the pid files (/run is a tmpfs).
func (l *Lab) PowerOff(ctx context.Context, host string) error {
	h, err := l.node(host)
	if err != nil {
		return err
	}
	if err := l.net.PowerOff(h); err != nil {
		return err
	}
	pids, _ := filepath.Glob(filepath.Join(l.HostDir(host), "run", "*.pid"))
	for _, p := range pids {
		_ = os.Remove(p)
	}
	return nil
}

// PowerOn brings a powered-off host's network back (a fresh namespace, with
// the isolate/split flags its port had); the test starts its processes.
func (l *Lab) PowerOn(ctx context.Context, host string) error {
	h, err := l.node(host)
	if err != nil {
		return err
	}
	if err := l.net.PowerOn(h); err != nil {
		return err
	}
	if host == Witness {
		return nil
	}
	return l.nonlocalBind(ctx, host)
}

// HealAll powers every host on, heals every isolated one and the split.
func (l *Lab) HealAll(ctx context.Context) error {
	if l.net == nil {
		return errors.New("lab: not up")
	}
	if err := l.net.HealAll(); err != nil {
		return err
	}
	for _, h := range Hosts {
		if err := l.nonlocalBind(ctx, h); err != nil {
			return err
		}
	}
	l.o.Logf("healed: every host on, its link up, on the bridge, no split")
	return nil
}

// Partition reads the current shape from the bridge.
func (l *Lab) Partition(ctx context.Context) (labnet.Shape, error) {
	if l.net == nil {
		return labnet.Shape{}, errors.New("lab: not up")
	}
	return l.net.Partition()
}

// StartWitness runs `redis-vip witness --listen WitnessAddr --secret-file
// WitnessSecret` in host w and waits (5 s) until it listens; with argv, it
// runs argv there instead and does not wait for a port (a stand-in). A
// witness already running is left alone. Its output goes to WitnessLog.
func (l *Lab) StartWitness(ctx context.Context, argv ...string) error {
	if l.net == nil {
		return errors.New("lab: not up")
	}
	if l.net.WitnessRunning() {
		l.o.Logf("w: witness already running")
		return nil
	}
	if err := l.ensureWitnessSecret(); err != nil {
		return err
	}
	if _, err := l.net.StartWitness(argv...); err != nil {
		return err
	}
	what := "redis-vip witness on " + l.WitnessAddr()
	if len(argv) > 0 {
		what = strings.Join(argv, " ")
	}
	l.o.Logf("w: started %s", what)
	return nil
}

// StopWitness stops the witness's process with SIGTERM (SIGKILL after 5 s).
func (l *Lab) StopWitness(ctx context.Context) error {
	if l.net == nil {
		return nil
	}
	return l.net.StopWitness()
}

// KillWitness kills the witness's process with SIGKILL: the witness dead,
// its host up.
func (l *Lab) KillWitness(ctx context.Context) error {
	if l.net != nil {
		l.net.KillWitness()
	}
	return nil
}

// WitnessRunning reports whether the process StartWitness started is alive.
func (l *Lab) WitnessRunning() bool { return l.net != nil && l.net.WitnessRunning() }

// WitnessAddr is where the witness listens (192.0.2.13:7379).
func (l *Lab) WitnessAddr() string { return fmt.Sprintf("%s:%d", Addr[Witness], WitnessPort) }

// WitnessSecret is the shared secret file UpNet writes (0600, owned by the
// keepalived script user).
func (l *Lab) WitnessSecret() string { return filepath.Join(l.o.Dir, "witness.secret") }

// WitnessLog is the witness's output (w/witness.log under the lab dir).
func (l *Lab) WitnessLog() string { return filepath.Join(l.HostDir(Witness), "witness.log") }

// Endpoints are the lab's nodes as probes see them.
func (l *Lab) Endpoints() map[string]labnet.Endpoint {
	m := map[string]labnet.Endpoint{}
	for _, n := range labnet.Nodes {
		m[n] = labnet.Endpoint{NS: l.NS(n), Addr: Addr[n]}
	}
	return m
}

// Reachability probes every ordered pair of nodes (labnet.ProbeAll).
func (l *Lab) Reachability(timeout time.Duration) labnet.Matrix {
	return labnet.ProbeAll(l.Endpoints(), timeout)
}

// StartLocalWriter runs rv-writer inside host (h1 or h2) against that
// host's own Redis (127.0.0.1:6379, never the VIP): the client on the
// master's own host that split-brain writes come from. Its list key is
// e2e-local:NAME unless args give --key; its acknowledged writes are saved
// to the lab dir when it stops, and VerifyWriter counts the lost ones from
// the client namespace, as for the writer behind the VIP. A PowerOff of its
// host kills it before it saves anything (see VerifyWriter).
func (l *Lab) StartLocalWriter(ctx context.Context, name, host string, args ...string) (*WriterRun, error) {
	save := filepath.Join(l.o.Dir, "writer-"+name+".json")
	_ = os.Remove(save)
	full := append([]string{"--addr", "127.0.0.1:6379", "--key", "e2e-local:" + name, "--save-log", save, "--settle", "1s"}, args...)
	w, err := l.StartWriter(ctx, name, host, full...)
	if err != nil {
		return nil, err
	}
	w.saveLog = save
	return w, nil
}

// ErrNoAckLog: the writer ended without saving its acknowledged writes
// (killed, e.g. by a PowerOff of its host), so they cannot be counted.
var ErrNoAckLog = errors.New("the writer saved no record of its acknowledged writes")

// VerifyWriter counts a stopped local writer's lost writes the way the
// writer behind the VIP counts its own: rv-writer --verify-log in the client
// namespace waits (up to settle) for one master the VIP reaches and reads
// the list back from it. The report's Lost, LostRanges and LostBy are the
// acknowledged writes that are not on the final master.
func (l *Lab) VerifyWriter(ctx context.Context, w *WriterRun, settle time.Duration) (writer.Report, error) {
	if w.saveLog == "" {
		return writer.Report{}, fmt.Errorf("writer %s: not started by StartLocalWriter", w.Name)
	}
	if _, err := os.Stat(w.saveLog); err != nil {
		return writer.Report{}, fmt.Errorf("writer %s: %w (%v)", w.Name, ErrNoAckLog, err)
	}
	cctx, cancel := context.WithTimeout(ctx, settle+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ip", "netns", "exec", l.NS("client"), l.o.Writer,
		"--verify-log", w.saveLog, "--json", "--settle", settle.String())
	out, err := cmd.Output()
	var r writer.Report
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		return r, fmt.Errorf("writer %s: verify: %v: no report in %q", w.Name, err, out)
	}
	l.o.Logf("writer %s (verified from the client): %s", w.Name, r.Summary())
	return r, nil
}

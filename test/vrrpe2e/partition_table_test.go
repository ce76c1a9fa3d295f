package vrrpe2e

// The partition table of issue 10 in the built-in VRRP mode (`redis-vip
// run`): the rows, columns, cells and rendering of test/lab/parttable (the
// same table test/e2e runs on the keepalived lab), on netlab. Each cell
// builds its own lab: the pair of the other tests here (netlab.Pair,
// RunVRRP: VRRPv3, 100 ms adverts, priority 150 on h1 and 100 on h2,
// preempt as shipped) with the column's fence_after, fence_interval and
// witness: settings added to the instance, and the witness started on host
// w before the pair. It runs with the partition table (as root):
//
//	RV_E2E=1 RV_PARTITION_TABLE=1 go test -count=1 -timeout 40m -run TestPartitionTable -v ./test/vrrpe2e/
//
// -run 'TestPartitionTable/split/' runs one row, -run
// 'TestPartitionTable//witness' one column; RV_PARTITION_TABLE_OUT names the
// directory for the table and each cell's logs (the whole table: about 5
// minutes). The default end-to-end tier runs one cell,
// TestPartitionSplitFenceCell (about 25 s; the split with the witness, the
// cell test/e2e runs there, takes about 45 s here: the witness grants
// nothing for 10 s after it starts).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/test/lab/parttable"
	"github.com/redis-vip/redis-vip/test/writer"
)

// runTable is the partition table on the built-in VRRP lab.
var runTable = parttable.Table{
	NewLab: newTableLab,
	About:  "redis-vip run, VRRPv3 100 ms adverts, priority 150/100 with preempt",
	Addrs:  map[string]string{"h1": netlab.HostIPs[0].Addr().String(), "h2": netlab.HostIPs[1].Addr().String()},
}

func TestPartitionTable(t *testing.T) {
	testtier.RequirePartitionTable(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	runTable.Run(t)
}

// TestPartitionSplitFenceCell is one cell of the table: the link between
// the hosts cut while the client reaches both, fence_after 3s and no
// witness (goal: lost writes within what fence_after allows, each in a
// backup). It also guards the announcement after the heal: h1 never left
// Master while h2 announced the VIP during the split, so unless h1
// announces it again (fsm.ActReclaim) the client's ARP entry still names
// h2 and its writes time out for about 20 s (one run in three before the
// fix).
func TestPartitionSplitFenceCell(t *testing.T) {
	res := runTable.Cell(t, parttable.ShapeNamed("split"), parttable.ModeNamed("fence"), "")
	t.Logf("partition table: %s", res.Summary())
}

// tableInstance is what a column adds to each host's instance settings.
func tableInstance(l *netlab.Lab, m parttable.Mode) map[string]any {
	if !m.Fence {
		return nil
	}
	extra := map[string]any{"fence_after": parttable.FenceAfter.String(), "fence_interval": parttable.FenceInterval.String()}
	if m.Witness {
		extra["witness"] = map[string]any{"address": l.WitnessAddr(), "secret_file": l.WitnessSecret(),
			"pair": netlab.Instance, "timeout": parttable.WitnessTimeout.String()}
	}
	return extra
}

// newTableLab builds the lab of one cell (newLab: it skips without root or
// a tool, removes every process and namespace when the test ends, and tails
// the logs into the test log when the cell failed); before that it copies
// the hosts' logs into keep (when not ""). It starts the witness (with a
// witness), then the pair: h1's `redis-vip run` first, so that it is the
// master, then h2's.
func newTableLab(t *testing.T, m parttable.Mode, keep string) (parttable.Lab, context.Context) {
	t.Helper()
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	t.Cleanup(func() { // before newLab's: the lab is still there
		if keep != "" {
			keepNetlabLogs(t, l.Dir(), keep)
		}
		if t.Failed() && m.Witness {
			b, _ := os.ReadFile(filepath.Join(l.W.Dir, "witness.log"))
			t.Logf("---- witness.log (tail)\n%s", tail(string(b), 20))
		}
	})
	if extra := tableInstance(l, m); extra != nil {
		for _, h := range l.Hosts {
			h.Extra = extra
		}
		t.Logf("added to each host's instance: %v", extra)
	}
	if m.Witness {
		if _, err := l.StartWitness(); err != nil {
			t.Fatalf("start the witness: %v", err)
		}
	}
	must(t, l.Pair(runVRRP(150, nil), runVRRP(100, nil)))
	h1, h2 := l.Hosts[0], l.Hosts[1]
	must(t, h1.StartRun())
	must(t, netlab.WaitFor(20*time.Second, "the VIP on h1", func() bool { return l.Holder() == "h1" }))
	must(t, h2.StartRun())
	return &tableLab{l: l, logf: t.Logf}, ctx
}

// keepNetlabLogs copies what explains a cell into keep.
func keepNetlabLogs(t *testing.T, dir, keep string) {
	rels := []string{"w/witness.log"}
	for _, h := range []string{"h1", "h2"} {
		rels = append(rels, h+"/redis-vip.log", h+"/redis-vip-run-stderr.log", h+"/redis-server.log",
			h+"/state/"+netlab.Instance+".journal", h+"/redis-vip.yml")
	}
	writers, _ := filepath.Glob(filepath.Join(dir, "writer*"))
	for _, w := range writers {
		rels = append(rels, filepath.Base(w))
	}
	parttable.Keep(t, dir, keep, rels)
}

// tableLab is netlab as the partition table drives it.
type tableLab struct {
	l    *netlab.Lab
	logf func(format string, args ...any)
}

// host is h1, h2 or w.
func (tl *tableLab) host(name string) *netlab.Host {
	if name == parttable.Witness {
		return tl.l.W
	}
	if h := tl.l.Host(name); h != nil {
		return h
	}
	panic("vrrpe2e: no host " + name)
}

func (tl *tableLab) Peer(host string) string     { return tl.host(host).Peer().Name }
func (tl *tableLab) Addr(host string) string     { return tl.host(host).IP.String() }
func (tl *tableLab) Announce(host string) string { return tl.host(host).Announce() }
func (tl *tableLab) Dir() string                 { return tl.l.Dir() }
func (tl *tableLab) Instance() string            { return netlab.Instance }

func (tl *tableLab) RedisVIPLog(host string) string {
	return filepath.Join(tl.host(host).Dir, "redis-vip.log")
}
func (tl *tableLab) WitnessLog() string { return filepath.Join(tl.l.W.Dir, "witness.log") }
func (tl *tableLab) BackupDir(host string) string {
	return filepath.Join(tl.host(host).Dir, "backups")
}

func (tl *tableLab) Exec(ctx context.Context, host string, argv ...string) (string, error) {
	return tl.host(host).Exec(ctx, argv...)
}

// node is one host's Redis and redis-vip run as the table sees them.
type node struct {
	up      bool
	role    string
	master  string // the host it replicates (or the address)
	linkUp  bool
	syncing bool
	offset  string
	run     bool
}

func (tl *tableLab) node(h *netlab.Host) node {
	r := h.Replication()
	n := node{up: r != nil && r["role"] != "", role: r["role"], offset: r["master_repl_offset"], run: h.Running()}
	if n.role == "slave" {
		n.master = r["master_host"]
		if m := tl.l.HostByAddr(fmt.Sprintf("%s:%d", r["master_host"], netlab.RedisPort)); m != nil {
			n.master = m.Name
		}
		n.linkUp = r["master_link_status"] == "up"
		n.syncing = r["master_sync_in_progress"] == "1"
	}
	return n
}

// state reads both hosts and the VIP, and whether the pair is settled:
// one master holding the VIP alone, the other Redis (when up) its replica
// in sync, and `redis-vip run` running beside every Redis that is up.
func (tl *tableLab) state() (parttable.State, string) {
	var s parttable.State
	var parts []string
	nodes := map[string]node{}
	for _, h := range tl.l.Hosts {
		n := tl.node(h)
		nodes[h.Name] = n
		run := "run stopped"
		if n.run {
			run = "run up"
		}
		switch {
		case !n.up:
			parts = append(parts, fmt.Sprintf("%s: redis down, %s", h.Name, run))
		case n.role == "master":
			s.Masters = append(s.Masters, h.Name)
			parts = append(parts, fmt.Sprintf("%s: master offset=%s, %s", h.Name, n.offset, run))
		default:
			link := "down"
			if n.linkUp {
				link = "up"
			}
			parts = append(parts, fmt.Sprintf("%s: replica of %s (link %s) offset=%s, %s", h.Name, n.master, link, n.offset, run))
		}
	}
	s.VIP = strings.Join(tl.l.Holders(), "+")
	if s.VIP == "" {
		s.VIP = "none"
	}
	s.Desc = strings.Join(parts, "; ") + "; VIP on " + s.VIP
	if len(s.Masters) != 1 || s.VIP != s.Masters[0] {
		return s, ""
	}
	master := s.Masters[0]
	for name, n := range nodes {
		if !n.up {
			continue
		}
		if !n.run {
			return s, ""
		}
		if name != master && (n.role != "slave" || n.master != master || !n.linkUp || n.syncing) {
			return s, ""
		}
	}
	return s, master
}

func (tl *tableLab) State(context.Context) parttable.State {
	s, _ := tl.state()
	return s
}

// WaitSettled polls every 200 ms, at most timeout.
func (tl *tableLab) WaitSettled(ctx context.Context, timeout time.Duration, ok func(string) bool) (string, parttable.State, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, m := tl.state()
		if m != "" && (ok == nil || ok(m)) {
			return m, s, nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return "", s, fmt.Errorf("the pair did not settle after %s: %s", timeout, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (tl *tableLab) Isolate(_ context.Context, host string) error { return tl.l.Isolate(tl.host(host)) }
func (tl *tableLab) Heal(_ context.Context, host string) error    { return tl.l.Heal(tl.host(host)) }
func (tl *tableLab) Split(context.Context) error                  { return tl.l.Split() }
func (tl *tableLab) HealSplit(context.Context) error              { return tl.l.HealSplit() }
func (tl *tableLab) PowerOff(_ context.Context, host string) error {
	return tl.l.PowerOff(tl.host(host))
}

// Boot powers host on and starts what its boot would: Redis through guard
// (the systemd drop-in's ExecStartPre), then `redis-vip run`.
func (tl *tableLab) Boot(ctx context.Context, host string) error {
	if err := tl.l.PowerOn(tl.host(host)); err != nil {
		return err
	}
	if err := tl.StartRedis(ctx, host); err != nil {
		return err
	}
	return tl.host(host).StartRun()
}

func (tl *tableLab) KillRedis(_ context.Context, host string) error {
	tl.host(host).KillRedis()
	return nil
}

// StartRedis runs guard, then redis-server.
func (tl *tableLab) StartRedis(_ context.Context, host string) error {
	h := tl.host(host)
	out, err := h.Guard()
	if err != nil {
		return fmt.Errorf("%s: guard: %w", host, err)
	}
	tl.logf("%s: guard: %s", host, strings.TrimSpace(out))
	return h.StartRedis()
}

func (tl *tableLab) StartWitness(context.Context) error {
	_, err := tl.l.StartWitness()
	return err
}

func (tl *tableLab) KillWitness(context.Context) error {
	tl.l.KillWitness()
	return nil
}

// tableWriterFlags make netlab's writers write as test/e2e's do (rv-writer's
// defaults: 10 ms between writes, 300 ms bounds, 20 ms retry) and report
// their progress.
var tableWriterFlags = []string{"--interval", "10ms", "--timeout", "300ms", "--retry", "20ms", "--progress", "200ms"}

func (tl *tableLab) StartWriter(_ context.Context, name, host string, args ...string) (parttable.Writer, error) {
	extra := append(append([]string(nil), tableWriterFlags...), args...)
	var w *netlab.Writer
	var err error
	if host == "client" {
		w, err = tl.l.StartWriter(3*time.Minute, extra...)
	} else {
		w, err = tl.l.StartLocalWriter(tl.host(host), 3*time.Minute, extra...)
	}
	if err != nil {
		return nil, fmt.Errorf("writer %s: %w", name, err)
	}
	return tableWriter{w}, nil
}

func (tl *tableLab) VerifyLog(ctx context.Context, path string, settle time.Duration) (writer.Report, error) {
	h1, h2 := tl.l.Hosts[0], tl.l.Hosts[1]
	return parttable.VerifyIn(ctx, tl.l.ClientNS, writerBin, path, settle,
		"--addr", fmt.Sprintf("%s:%d", netlab.VIP.Addr(), netlab.RedisPort), "--hosts", h1.Announce()+","+h2.Announce())
}

// tableWriter is a netlab writer as the table stops it (netlab bounds the
// stop by 60 s itself).
type tableWriter struct{ *netlab.Writer }

func (w tableWriter) Stop(time.Duration) (writer.Report, error) {
	err := w.Writer.Stop()
	return w.Report, err
}

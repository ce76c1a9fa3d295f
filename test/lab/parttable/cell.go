package parttable

// One cell of the partition table: a partition shape (a row) under one
// column's settings, in its own lab, with two writers: one through the VIP
// from the client, one on the master's own host against its local Redis
// (where split-brain writes come from).

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/writer"
)

// W1Allowance is how many acknowledged writes per writer the crash window
// W1 (DESIGN.md: written by a master, not yet sent to its replica when it
// died or was cut off) may cost, and may be in no backup: the allowance
// scenario 1 (kill -9 of the master's Redis) gives its writer.
const W1Allowance = 5

// HoldFor is how long a partition lasts before it heals: longer than a
// promotion on unknown evidence takes with the witness (the old master's
// lease runs out, then fence_after and its margin), so that every column
// shows the new master taking writes if it ever does.
const HoldFor = 15 * time.Second

// FenceAfter is the fence_after of the table's fencing columns (the least
// fence.Validate allows), FenceInterval its fence_interval (the default),
// WitnessTimeout the witness: timeout.
const (
	FenceAfter     = 3 * time.Second
	FenceInterval  = 250 * time.Millisecond
	WitnessTimeout = 300 * time.Millisecond
)

// Mode is a column of the table: the settings every node of the lab runs.
type Mode struct {
	Name, Title string
	// Fence: fence_after and fence_interval set; Witness: a witness:
	// section too, and the witness started on host w before the pair.
	Fence, Witness bool
}

// Modes are the columns.
var Modes = []Mode{
	{Name: "off", Title: "fencing off (today)"},
	{Name: "fence", Title: "fence_after 3s, no witness", Fence: true},
	{Name: "witness", Title: "fence_after 3s + witness", Fence: true, Witness: true},
}

// Shape is a row of the table: a fault and its end.
type Shape struct {
	Name, Title string
	// Crash: the master (its Redis, or its host) dies: the pair must fail
	// over; WitnessOnly: the row means nothing without a witness.
	Crash, WitnessOnly bool
	// Partitioned: the old master lives on cut off from its peer, so the
	// writer on its host can keep writing until it is fenced; Reachable:
	// the client still reaches it too (the writer through the VIP can).
	Partitioned, Reachable bool
	// fault makes the fault and undoes it (the heal, the host back).
	fault func(c *cell)
}

// Shapes are the rows.
var Shapes = []Shape{
	{Name: "isolate-master", Title: "master isolated from everything", Partitioned: true,
		fault: func(c *cell) {
			c.hold(func(ctx context.Context) error { return c.l.Isolate(ctx, c.master) },
				func(ctx context.Context) error { return c.l.Heal(ctx, c.master) })
		}},
	{Name: "split", Title: "h1-h2 link cut, client and witness reach both", Partitioned: true, Reachable: true,
		fault: func(c *cell) { c.hold(c.l.Split, c.l.HealSplit) }},
	{Name: "isolate-witness", Title: "witness isolated", WitnessOnly: true,
		fault: func(c *cell) {
			c.hold(func(ctx context.Context) error { return c.l.Isolate(ctx, Witness) },
				func(ctx context.Context) error { return c.l.Heal(ctx, Witness) })
		}},
	{Name: "witness-dead", Title: "witness dead (kill -9, then restarted)", WitnessOnly: true,
		fault: func(c *cell) { c.hold(c.l.KillWitness, c.l.StartWitness) }},
	{Name: "kill-redis", Title: "crash: kill -9 of the master's Redis", Crash: true,
		fault: func(c *cell) {
			c.must(c.l.KillRedis(c.ctx, c.master))
			c.failover()
			c.must(c.l.StartRedis(c.ctx, c.master))
		}},
	{Name: "poweroff", Title: "crash: master host powered off", Crash: true,
		fault: func(c *cell) {
			c.must(c.l.PowerOff(c.ctx, c.master))
			c.failover()
			c.must(c.l.Boot(c.ctx, c.master))
		}},
}

// ShapeNamed returns the row named name (it panics on a name no row has:
// a mistake in the test).
func ShapeNamed(name string) Shape {
	for _, s := range Shapes {
		if s.Name == name {
			return s
		}
	}
	panic("parttable: no shape " + name)
}

// ModeNamed returns the column named name (it panics on an unknown name).
func ModeNamed(name string) Mode {
	for _, m := range Modes {
		if m.Name == name {
			return m
		}
	}
	panic("parttable: no mode " + name)
}

// Result is one cell's figures.
type Result struct {
	Shape, Mode string
	// Skipped says why the cell did not run ("" when it did).
	Skipped string
	// VIP and Host are the writers' reports: through the VIP from the
	// client, and on the old master's own host against 127.0.0.1.
	VIP, Host writer.Report
	// HostKilled: the host writer died with its host; its acknowledgements
	// come from its ack log.
	HostKilled bool
	// HostRate is the host writer's acknowledgements per second before
	// the fault; Bound the writes fence_after allows at that rate.
	HostRate float64
	Bound    int
	// LostAfter is when the host writer's last lost write was acknowledged,
	// after the fault began (negative: before); FencedAfter when the old
	// master's redis-vip logged "fence closed" (-1: it did not).
	LostAfter, FencedAfter time.Duration
	// VIPInBackup and HostInBackup count the lost writes a verified backup
	// holds; Backups lists the backups read (host/name: keys).
	VIPInBackup, HostInBackup int
	Backups                   []string
	// FailedOver (crash rows): the peer became the master holding the VIP
	// and took writes through it.
	FailedOver bool
	// Duration is the cell's wall time; Missed lists the goals it missed.
	Duration time.Duration
	Missed   []string
}

// cell is the state of one running cell.
type cell struct {
	t            *testing.T
	ctx          context.Context
	l            Lab
	sh           Shape
	m            Mode
	master, peer string
	vip, host    Writer
	hostAcks     string
	faultAt      time.Time
	res          *Result
}

func (c *cell) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// hold makes a partition, keeps it HoldFor (logging the pair's state on
// the way), and heals it.
func (c *cell) hold(make, heal func(context.Context) error) {
	c.must(make(c.ctx))
	for _, at := range []time.Duration{2 * time.Second, 6 * time.Second, HoldFor - time.Second} {
		time.Sleep(time.Until(c.faultAt.Add(at)))
		c.t.Logf("%.0fs into the partition: %s; VIP writer acked %d, host writer %d", at.Seconds(), c.l.State(c.ctx), c.vip.Acked(), c.host.Acked())
	}
	time.Sleep(time.Until(c.faultAt.Add(HoldFor)))
	c.must(heal(c.ctx))
}

// settled waits for the pair to settle and fails the test if it does not.
func (c *cell) settled(timeout time.Duration, ok func(master string) bool) string {
	c.t.Helper()
	m, s, err := c.l.WaitSettled(c.ctx, timeout, ok)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("settled: %s", s)
	return m
}

// failover waits for the peer to be the master holding the VIP, and for
// the writer through the VIP to be acknowledged by it.
func (c *cell) failover() {
	_, _, err := c.l.WaitSettled(c.ctx, 60*time.Second, func(m string) bool { return m == c.peer })
	if err != nil {
		c.t.Errorf("no failover: %v", err)
		return
	}
	c.t.Logf("failed over %.1fs after the fault: %s", time.Since(c.faultAt).Seconds(), c.l.State(c.ctx))
	if err := waitMoreAcks(c.ctx, "pt-vip", c.vip, 100, 30*time.Second); err != nil {
		c.t.Errorf("after the failover: %v", err)
		return
	}
	c.res.FailedOver = true
}

// waitLease waits until the witness has granted the pair's lease to the
// master: a witness grants nothing for --max-lease (10 s) after it starts,
// and a fault before the master holds the lease would test a pair without
// a witness.
func (c *cell) waitLease() {
	node := fmt.Sprintf(`"node": "%s"`, c.l.Announce(c.master))
	err := lab.WaitFor(c.ctx, 30*time.Second, "the witness to grant the lease to "+c.master, func() bool {
		for _, line := range strings.Split(lab.TailFile(c.l.WitnessLog(), 50), "\n") {
			if strings.Contains(line, "lease granted") && strings.Contains(line, node) {
				return true
			}
		}
		return false
	})
	if err != nil {
		c.t.Fatalf("%v; witness.log:\n%s", err, lab.Indent(lab.TailFile(c.l.WitnessLog(), 10)))
	}
}

// startWriter starts a writer and waits until it got going.
func (c *cell) startWriter(name, host string, args ...string) Writer {
	c.t.Helper()
	w, err := c.l.StartWriter(c.ctx, name, host, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _, _ = w.Stop(40 * time.Second) })
	if err := waitAcked(c.ctx, name, w, 50, 15*time.Second); err != nil {
		c.t.Fatal(err)
	}
	return w
}

// Cell runs one cell in a lab of its own and returns its figures; keep is
// where its logs go ("" nowhere).
func (tb Table) Cell(t *testing.T, sh Shape, m Mode, keep string) *Result {
	start := time.Now()
	res := &Result{Shape: sh.Name, Mode: m.Name}
	l, ctx := tb.NewLab(t, m, keep)
	c := &cell{t: t, ctx: ctx, l: l, sh: sh, m: m, res: res}
	c.master = c.settled(40*time.Second, nil)
	c.peer = l.Peer(c.master)
	if m.Witness {
		c.waitLease()
	}

	c.vip = c.startWriter("pt-vip", "client", "--key", "e2e:pt-vip", "--settle", "20s", "--duration", "170s")
	c.hostAcks = filepath.Join(l.Dir(), "writer-pt-host.acks")
	c.host = c.startWriter("pt-host", c.master, "--ack-log", c.hostAcks, "--duration", "170s")
	// A steady stretch before the fault, to measure the host writer's rate.
	time.Sleep(3 * time.Second)
	c.faultAt = time.Now()
	t.Logf("fault %q at %s: %s", sh.Title, c.faultAt.Format("15:04:05.000"), l.State(ctx))
	sh.fault(c)

	healed := c.settled(60*time.Second, nil)
	t.Logf("after the fault: master %s", healed)
	if err := waitMoreAcks(ctx, "pt-vip", c.vip, 100, 20*time.Second); err != nil {
		t.Errorf("after the heal: %v", err)
	}
	// The host writer stops first (it writes beside the pair); the writer
	// through the VIP then reads its list back from the final master.
	if _, err := c.host.Stop(30 * time.Second); err != nil {
		res.HostKilled = true
		t.Logf("host writer: %v", err)
	}
	res.VIP = c.stopVIP()
	res.Host = c.verifyHost()
	c.rate()
	c.fenced()
	c.backups()
	res.Duration = time.Since(start)
	c.goals()
	return res
}

// stopVIP stops the writer through the VIP and returns its report.
func (c *cell) stopVIP() writer.Report {
	r, err := c.vip.Stop(45 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("%s: %s", "pt-vip", r.Summary())
	c.t.Logf("%s: acked by server %v, client-side errors %v", "pt-vip", r.AckedBy, r.Errors)
	return r
}

// verifyHost counts the host writer's lost writes from its ack log, as
// rv-writer --verify-log in the client namespace (the same reading of the
// final master as the writer through the VIP); when the writer ended by
// itself its saved log must agree with the ack log.
func (c *cell) verifyHost() writer.Report {
	t := c.t
	r, err := c.l.VerifyLog(c.ctx, c.hostAcks, 20*time.Second)
	if err != nil {
		t.Fatalf("host writer: verify %s: %v", c.hostAcks, err)
	}
	t.Logf("pt-host (from its ack log, verified from the client): %s", r.Summary())
	acks := readLog(t, c.hostAcks)
	if !c.res.HostKilled {
		saved := readLog(t, c.host.SavedLog())
		if len(saved.Acks) != len(acks.Acks) {
			t.Errorf("host writer: its ack log holds %d acknowledgements, its saved log %d", len(acks.Acks), len(saved.Acks))
		}
	}
	return r
}

func readLog(t *testing.T, path string) writer.Log {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, _, err := writer.ReadLog(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return l
}

// rate measures the host writer's acknowledgements per second in the 3 s
// before the fault, the writes fence_after allows at that rate, and when
// its last lost write was acknowledged relative to the fault.
func (c *cell) rate() {
	l := readLog(c.t, c.hostAcks)
	const window = 3 * time.Second
	n := 0
	for _, a := range l.Acks {
		at := l.Start.Add(a.At)
		if !at.Before(c.faultAt.Add(-window)) && at.Before(c.faultAt) {
			n++
		}
	}
	c.res.HostRate = float64(n) / window.Seconds()
	c.res.Bound = int(math.Ceil(c.res.HostRate * FenceAfter.Seconds()))
	lost := map[int64]bool{}
	for _, rg := range c.res.Host.LostRanges {
		for x := rg[0]; x <= rg[1]; x++ {
			lost[x] = true
		}
	}
	c.res.LostAfter = -time.Hour
	for _, a := range l.Acks {
		if lost[a.N] {
			c.res.LostAfter = max(c.res.LostAfter, l.Start.Add(a.At).Sub(c.faultAt))
		}
	}
}

// fenced finds when the old master's redis-vip first logged that it closed
// the fence after the fault (a figure for the table, from its log).
func (c *cell) fenced() {
	c.res.FencedAfter = -1
	b, err := os.ReadFile(c.l.RedisVIPLog(c.master))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"msg":"fence closed"`) {
			continue
		}
		var rec struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Time.Before(c.faultAt) {
			continue
		}
		c.res.FencedAfter = rec.Time.Sub(c.faultAt)
		return
	}
}

// backups reads every backup the lab left on either host into a scratch
// Redis (which verifies it reads back) and counts the lost writes of each
// writer that one of them holds.
func (c *cell) backups() {
	if c.res.VIP.Lost == 0 && c.res.Host.Lost == 0 {
		return
	}
	keys := map[string]*writer.Report{c.res.VIP.Key: &c.res.VIP, c.res.Host.Key: &c.res.Host}
	found := map[string]map[int64]bool{}
	for k := range keys {
		found[k] = map[int64]bool{}
	}
	for _, h := range Hosts {
		entries, err := backup.List(c.l.BackupDir(h), c.l.Instance())
		if err != nil {
			c.t.Errorf("%s backups: %v", h, err)
			continue
		}
		for _, e := range entries {
			if e.Name.Kind != backup.KindRDB {
				c.res.Backups = append(c.res.Backups, fmt.Sprintf("%s/%s: not read (%s)", h, filepath.Base(e.Path), e.Name.Kind))
				continue
			}
			lists, size, err := readRDB(c.ctx, c.l, h, e.Path, keys)
			if err != nil {
				c.t.Errorf("%s backup %s does not read back: %v", h, filepath.Base(e.Path), err)
				c.res.Backups = append(c.res.Backups, fmt.Sprintf("%s/%s: UNREADABLE", h, filepath.Base(e.Path)))
				continue
			}
			c.res.Backups = append(c.res.Backups, fmt.Sprintf("%s/%s: %d keys", h, filepath.Base(e.Path), size))
			for k, nums := range lists {
				for _, n := range nums {
					found[k][n] = true
				}
			}
		}
	}
	count := func(r writer.Report) int {
		n := 0
		for _, rg := range r.LostRanges {
			for x := rg[0]; x <= rg[1]; x++ {
				if found[r.Key][x] {
					n++
				}
			}
		}
		return n
	}
	c.res.VIPInBackup, c.res.HostInBackup = count(c.res.VIP), count(c.res.Host)
	c.t.Logf("backups: %v; lost writes found in them: through the VIP %d of %d, on the host %d of %d",
		c.res.Backups, c.res.VIPInBackup, c.res.VIP.Lost, c.res.HostInBackup, c.res.Host.Lost)
}

// readRDB loads an RDB into a scratch redis-server inside host's namespace
// (127.0.0.1:6391, no persistence) and reads the keys' lists and DBSIZE.
func readRDB(ctx context.Context, l Lab, host, rdb string, keys map[string]*writer.Report) (map[string][]int64, int64, error) {
	dir, err := os.MkdirTemp(l.Dir(), "scratch-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(rdb)
	if err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b, 0o644); err != nil {
		return nil, 0, err
	}
	if _, err := l.Exec(ctx, host, "redis-server", "--port", "6391", "--bind", "127.0.0.1", "--dir", dir,
		"--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "yes",
		"--pidfile", filepath.Join(dir, "redis.pid"), "--logfile", filepath.Join(dir, "redis.log")); err != nil {
		return nil, 0, err
	}
	defer func() { _, _ = l.Exec(context.Background(), host, "redis-cli", "-p", "6391", "shutdown", "nosave") }()
	var size int64
	err = lab.WaitFor(ctx, 15*time.Second, "the scratch redis to load "+filepath.Base(rdb), func() bool {
		out, e := l.Exec(ctx, host, "redis-cli", "-p", "6391", "DBSIZE")
		if e != nil {
			return false
		}
		size, e = strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		return e == nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%w (%s)", err, strings.TrimSpace(lab.TailFile(filepath.Join(dir, "redis.log"), 3)))
	}
	lists := map[string][]int64{}
	for k := range keys {
		out, err := l.Exec(ctx, host, "redis-cli", "-p", "6391", "LRANGE", k, "0", "-1")
		if err != nil {
			return nil, 0, err
		}
		ns, err := writer.ParseList(out)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", k, err)
		}
		lists[k] = ns
	}
	return lists, size, nil
}

// goals checks what must hold in this cell (t.Errorf) and records what it
// missed. Never a time: only counts of lost writes, where they are, and
// whether the pair failed over and ended with one master.
func (c *cell) goals() {
	r := c.res
	miss := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		r.Missed = append(r.Missed, s)
		c.t.Errorf("goal missed: %s", s)
	}
	for _, w := range []struct {
		name     string
		rep      writer.Report
		inBackup int
	}{{"through the VIP", r.VIP, r.VIPInBackup}, {"on the master's host", r.Host, r.HostInBackup}} {
		// W3: a lost write is in a verified backup, but for the crash
		// window W1 (written, not yet replicated, when the master died).
		if gone := w.rep.Lost - w.inBackup; gone > W1Allowance {
			miss("%s: %d lost writes are in no backup (W1 allows %d)", w.name, gone, W1Allowance)
		}
		if w.rep.VerifyError != "" {
			miss("%s: the writer could not verify: %s", w.name, w.rep.VerifyError)
		}
	}
	if !r.VIP.VIPOnMaster {
		miss("at the end the VIP reaches %q, the master is %q (masters %v)", r.VIP.VIPHost, r.VIP.FinalMaster, r.VIP.Masters)
	}
	s := c.l.State(c.ctx)
	if m := s.Masters; len(m) != 1 || s.VIP != m[0] {
		miss("at the end: masters %v, VIP on %s, want one master holding the VIP", m, s.VIP)
	}
	if c.sh.Crash && !r.FailedOver {
		miss("the crash did not fail over")
	}
	if !c.m.Fence {
		return // the baseline: today's loss, asserted only to be in backups
	}
	// With fencing, the host writer loses at most what it wrote within
	// fence_after of the fault (plus W1); so does the writer through the
	// VIP where the client still reaches the old master. Elsewhere the
	// client cannot reach the old master after the fault: W1 only.
	hostMax, vipMax := W1Allowance, W1Allowance
	if c.sh.Partitioned {
		hostMax = r.Bound + W1Allowance
		if c.sh.Reachable {
			vipMax = r.Bound + W1Allowance
		}
	}
	// With the witness, the side that keeps the lease keeps the role: a
	// split or a lost witness costs nothing.
	if c.m.Witness && (c.sh.WitnessOnly || c.sh.Name == "split") {
		hostMax, vipMax = 0, 0
	}
	if r.Host.Lost > hostMax {
		miss("on the master's host: %d acknowledged writes lost, the goal allows %d (fence_after %s at %.0f writes/s, plus W1 %d)",
			r.Host.Lost, hostMax, FenceAfter, r.HostRate, W1Allowance)
	}
	if r.VIP.Lost > vipMax {
		miss("through the VIP: %d acknowledged writes lost, the goal allows %d", r.VIP.Lost, vipMax)
	}
}

// Summary is the cell's one line.
func (r *Result) Summary() string {
	if r.Skipped != "" {
		return fmt.Sprintf("%s / %s: skipped (%s)", r.Shape, r.Mode, r.Skipped)
	}
	verdict := "goals met"
	if len(r.Missed) > 0 {
		verdict = "MISSED: " + strings.Join(r.Missed, "; ")
	}
	fo := ""
	if r.FailedOver {
		fo = ", failed over"
	}
	fenced := "never fenced"
	if r.FencedAfter >= 0 {
		fenced = fmt.Sprintf("fenced %.2fs after the fault", r.FencedAfter.Seconds())
	}
	return fmt.Sprintf("%s / %s: through the VIP %d of %d acknowledged writes lost, on the master's host %d of %d (rate %.0f/s, fence_after allows %d; old master %s); %d of the lost in a backup; longest gap through the VIP %d ms%s; final master %s; %.0fs; %s",
		r.Shape, r.Mode, r.VIP.Lost, r.VIP.Acked, r.Host.Lost, r.Host.Acked, r.HostRate, r.Bound, fenced,
		r.VIPInBackup+r.HostInBackup, r.VIP.MaxGapMS, fo, r.VIP.FinalMaster, r.Duration.Seconds(), verdict)
}

// sortedKeys is m's keys in order.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

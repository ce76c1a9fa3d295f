package report

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/guard"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

func TestMain(m *testing.M) {
	// go-redis reports failed dials on stderr; the tests make many on purpose.
	redis.SetLogger(node.DriverLogger{Log: zap.NewNop()})
	os.Exit(m.Run())
}

// rdbOn makes a test server persist (redistest starts them with save "").
var rdbOn = []string{"save 3600 1"}

// liveConfig is what the report needs to know of an instance (package
// wiring builds the same from the configuration).
type liveConfig struct {
	Name                  string
	Local, Announce, Peer string
	Timeouts              struct{ Connect, Command, Check, PeerWait time.Duration }
	StateDir, BackupDir   string
	Guard                 struct{ Include string }
}

// liveInstance is a configured instance for local guarding peer.
func liveInstance(t *testing.T, local, peer *redistest.Server, timeout time.Duration) *liveConfig {
	t.Helper()
	dir := t.TempDir()
	in := &liveConfig{Name: "redis", Local: local.Addr(), Announce: local.Addr(), Peer: peer.Addr(),
		StateDir: filepath.Join(dir, "state"), BackupDir: filepath.Join(dir, "backups")}
	in.Timeouts.Connect, in.Timeouts.Command, in.Timeouts.Check, in.Timeouts.PeerWait = 300*time.Millisecond, 2*time.Second, timeout, time.Second
	in.Guard.Include = filepath.Join(dir, "guard.conf")
	return in
}

// gatherLive reads inst with real clients, like `redis-vip report` does.
func gatherLive(t *testing.T, inst *liveConfig, th Thresholds, vips ...string) Instance {
	t.Helper()
	opts := func(addr string) node.Options {
		return node.Options{Addr: addr, DialTimeout: inst.Timeouts.Connect, CommandTimeout: inst.Timeouts.Command}
	}
	local, peer := node.Dial(opts(inst.Local)), node.Dial(opts(inst.Peer))
	defer local.Close()
	defer peer.Close()
	src := Sources{Name: inst.Name, Local: local, Peer: peer, LocalAddr: node.MustParseAddr(inst.Local), LocalAnnounce: node.MustParseAddr(inst.Announce), PeerAddr: node.MustParseAddr(inst.Peer),
		State: transition.StateDir{Dir: inst.StateDir, Instance: inst.Name}, BackupDir: inst.BackupDir, GuardInclude: inst.Guard.Include,
		GuardWindow: inst.Timeouts.PeerWait + inst.Timeouts.Connect + time.Minute, VIPs: vips,
		Probe:          ClientProber{Options: func(addr node.Addr) (node.Options, error) { return opts(addr.String()), nil }},
		InterfaceAddrs: net.InterfaceAddrs, Now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), inst.Timeouts.Check)
	defer cancel()
	in := Gather(ctx, src, th)
	t.Logf("%s", Headline(Report{Instances: []Instance{in}}))
	v := loadValidator(t)
	validateReport(t, v, Report{GeneratedAt: time.Now(), Thresholds: th, Instances: []Instance{in}})
	return in
}

func codes(in Instance) []string {
	var out []string
	for _, r := range in.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// wantReasons asserts the verdict and that each code is among its reasons.
func wantReasons(t *testing.T, in Instance, status Status, want ...string) {
	t.Helper()
	got := codes(in)
	for _, c := range want {
		if !slices.Contains(got, c) {
			t.Errorf("reason %s missing; got %v", c, in.Reasons)
		}
	}
	if in.Status != status {
		t.Errorf("status %s, want %s; reasons %+v", in.Status, status, in.Reasons)
	}
}

func livePair(t *testing.T, args ...string) (master, replica *redistest.Server) {
	t.Helper()
	master = redistest.Start(t, redistest.Options{Args: args})
	replica = redistest.Start(t, redistest.Options{Args: args})
	fill(t, master, 100)
	follow(t, replica, master)
	return master, replica
}

func fill(t *testing.T, s *redistest.Server, n int) {
	t.Helper()
	ctx := context.Background()
	p := s.Client().Pipeline()
	for i := 0; i < n; i++ {
		p.Set(ctx, fmt.Sprintf("k:%d", i), strings.Repeat("v", 100), 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func follow(t *testing.T, replica, master *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	if err := replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", master.Port).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "replica in sync", 15*time.Second, func() bool {
		info, err := replica.Client().Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0")
	})
}

func waitUntil(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", bound, what)
}

func TestLiveHealthy(t *testing.T) {
	m, r := livePair(t, rdbOn...)
	in := gatherLive(t, liveInstance(t, m, r, 2*time.Second), DefaultThresholds(), m.Addr())
	wantReasons(t, in, OK)
	rp := in.Replication
	if rp.State != ReplMasterReplica || rp.Master != SideLocal || !rp.LinkUp || !rp.HasLagBytes || in.Local.RDB != TriOn {
		t.Fatalf("replication %+v rdb %s", rp, in.Local.RDB)
	}
	if in.VIPs[0].Holder != HolderLocal || !in.VIPs[0].OnLocalInterface {
		t.Fatalf("vip %+v", in.VIPs[0])
	}
	// From the replica's side: it follows the peer, which holds the VIP.
	in = gatherLive(t, liveInstance(t, r, m, 2*time.Second), DefaultThresholds())
	wantReasons(t, in, OK)
	if in.Replication.Master != SidePeer || in.Local.Facts.Keys != 100 {
		t.Fatalf("replication %+v", in.Replication)
	}
}

func TestLiveVIPOnPeer(t *testing.T) {
	// 127.0.0.2 is routed to lo but is not an address of any interface:
	// it stands for a VIP the other host holds.
	m := redistest.Start(t, redistest.Options{Args: append([]string{"bind 127.0.0.1 127.0.0.2"}, rdbOn...)})
	r := redistest.Start(t, redistest.Options{Args: rdbOn})
	fill(t, m, 10)
	follow(t, r, m)
	vip := net.JoinHostPort("127.0.0.2", fmt.Sprint(m.Port))
	in := gatherLive(t, liveInstance(t, r, m, 2*time.Second), DefaultThresholds(), vip)
	wantReasons(t, in, OK)
	if v := in.VIPs[0]; v.Holder != HolderPeer || v.OnLocalInterface {
		t.Fatalf("vip %+v, want held by the peer", v)
	}
	// The VIP on a replica: clients could not write.
	in = gatherLive(t, liveInstance(t, m, r, 2*time.Second), DefaultThresholds(), net.JoinHostPort("127.0.0.1", fmt.Sprint(r.Port)))
	wantReasons(t, in, Critical, CodeVIPOnReplica, CodeVIPWrongServer)
	// Nobody answers on the VIP.
	in = gatherLive(t, liveInstance(t, m, r, 2*time.Second), DefaultThresholds(), net.JoinHostPort("127.0.0.2", fmt.Sprint(r.Port)))
	wantReasons(t, in, Critical, CodeVIPUnheld)
}

func TestLiveReplicaLinkDown(t *testing.T) {
	// The replica reaches its master through an address that accepts and
	// never answers (a broken network path): its link stays down, in the
	// handshake, while both servers answer INFO.
	m := redistest.Start(t, redistest.Options{Args: rdbOn})
	r := redistest.Start(t, redistest.Options{Args: rdbOn})
	fill(t, m, 10)
	path := hungListener(t)
	if err := r.Client().Do(context.Background(), "REPLICAOF", "127.0.0.1", path.Port).Err(); err != nil {
		t.Fatal(err)
	}
	inst := liveInstance(t, m, r, 2*time.Second)
	inst.Announce = path.Addr() // where the peer reaches the local Redis
	in := gatherLive(t, inst, DefaultThresholds())
	wantReasons(t, in, Critical, CodeLinkDown)
	if in.Replication.State != ReplMasterReplica || in.Replication.LinkUp || len(in.Reasons) != 1 {
		t.Fatalf("replication %+v reasons %+v", in.Replication, in.Reasons)
	}
}

func TestLiveLagOverThreshold(t *testing.T) {
	m, r := livePair(t, rdbOn...)
	ctx := context.Background()
	// A replica paused for writes stops applying the replication stream
	// but still answers INFO: a real lag the report can read.
	if err := r.Client().Do(ctx, "CLIENT", "PAUSE", "20000", "WRITE").Err(); err != nil {
		t.Skipf("CLIENT PAUSE WRITE: %v (Redis before 6.2)", err)
	}
	t.Cleanup(func() { r.Client().Do(ctx, "CLIENT", "UNPAUSE") })
	fill(t, m, 200) // about 25 KiB of replication stream
	th := DefaultThresholds()
	th.LagBytesWarn, th.LagBytesCrit = 4<<10, 1<<30
	in := gatherLive(t, liveInstance(t, m, r, 2*time.Second), th)
	wantReasons(t, in, Warning, CodeLagBytes)
	if in.Replication.LagBytes < 4<<10 {
		t.Fatalf("lag %d bytes", in.Replication.LagBytes)
	}
	th.LagBytesCrit = 8 << 10
	in = gatherLive(t, liveInstance(t, m, r, 2*time.Second), th)
	wantReasons(t, in, Critical, CodeLagBytes)
}

func TestLivePersistenceOffWithoutGuard(t *testing.T) {
	m, r := livePair(t) // save "", appendonly no
	inst := liveInstance(t, m, r, 2*time.Second)
	in := gatherLive(t, inst, DefaultThresholds())
	wantReasons(t, in, Warning, CodeNoPersistence)
	if len(in.Reasons) != 1 || in.Local.GuardStatus != GuardMissing || in.Local.RDB != TriOff {
		t.Fatalf("reasons %+v guard %s rdb %s", in.Reasons, in.Local.GuardStatus, in.Local.RDB)
	}
}

func TestLivePersistenceOffWithGuard(t *testing.T) {
	dir := t.TempDir()
	include := filepath.Join(dir, "guard.conf")
	// guard runs before redis-server starts (ExecStartPre) and writes its file.
	if err := guard.WriteInclude(include, guard.Decision{Action: guard.StartAsMaster, Reason: "test"}, node.Addr{Host: "127.0.0.1", Port: 1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := redistest.Start(t, redistest.Options{Args: []string{"include " + include}})
	r := redistest.Start(t, redistest.Options{})
	follow(t, r, m)
	inst := liveInstance(t, m, r, 2*time.Second)
	inst.Guard.Include = include
	in := gatherLive(t, inst, DefaultThresholds())
	wantReasons(t, in, OK)
	if in.Local.GuardStatus != GuardActive {
		t.Fatalf("guard %s", in.Local.GuardStatus)
	}
}

func TestLiveBothMasters(t *testing.T) {
	a := redistest.Start(t, redistest.Options{Args: rdbOn})
	b := redistest.Start(t, redistest.Options{Args: rdbOn})
	fill(t, a, 10)
	fill(t, b, 20)
	in := gatherLive(t, liveInstance(t, a, b, 2*time.Second), DefaultThresholds())
	wantReasons(t, in, Critical, CodeBothMasters, CodeDiverged)
}

func TestLiveReplicationLoop(t *testing.T) {
	a, b := livePair(t, rdbOn...)
	ctx := context.Background()
	if err := a.Client().Do(ctx, "REPLICAOF", "127.0.0.1", b.Port).Err(); err != nil {
		t.Fatal(err)
	}
	in := gatherLive(t, liveInstance(t, a, b, 2*time.Second), DefaultThresholds())
	wantReasons(t, in, Critical, CodeLoop)
}

func TestLivePeerUnreachable(t *testing.T) {
	m := redistest.Start(t, redistest.Options{Args: rdbOn})
	dead := &redistest.Server{Port: redistest.FreePort(t)}
	in := gatherLive(t, liveInstance(t, m, dead, 2*time.Second), DefaultThresholds())
	wantReasons(t, in, Critical, CodePeerUnreachable)
	if len(in.Reasons) != 1 {
		t.Fatalf("reasons %+v", in.Reasons)
	}
}

// A peer that accepts connections and never answers (a hung host) costs
// the report no more than its timeout.
func TestLiveHungPeerBoundedByTimeout(t *testing.T) {
	m := redistest.Start(t, redistest.Options{Args: rdbOn})
	hung := hungListener(t)
	inst := liveInstance(t, m, hung, 700*time.Millisecond)
	inst.Timeouts.Command = 5 * time.Second
	hungVIP := net.JoinHostPort("127.0.0.1", fmt.Sprint(hung.Port))
	start := time.Now()
	in := gatherLive(t, inst, DefaultThresholds(), hungVIP)
	took := time.Since(start)
	wantReasons(t, in, Critical, CodePeerUnreachable)
	if in.Local.Facts == nil || in.Local.RDB != TriOn {
		t.Fatalf("local not read while the peer hung: %+v", in.Local)
	}
	// The bound proves the timeout is honoured (an unbounded read would wait
	// out the 5s command timeout); the slack absorbs a loaded CI machine.
	if took > 700*time.Millisecond+1500*time.Millisecond {
		t.Fatalf("report took %s with a 700ms timeout (command timeout 5s)", took)
	}
}

// hungListener accepts connections and never answers.
func hungListener(t *testing.T) *redistest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return &redistest.Server{Port: l.Addr().(*net.TCPAddr).Port}
}

func TestLiveJournalFailedTransition(t *testing.T) {
	m, r := livePair(t, rdbOn...)
	inst := liveInstance(t, m, r, 2*time.Second)
	sd := transition.StateDir{Dir: inst.StateDir, Instance: inst.Name}
	now := time.Now().UTC()
	for _, rec := range []transition.Record{
		{Time: now.Add(-2 * time.Minute), Instance: inst.Name, Event: transition.EventMaster, Seq: 1, Outcome: transition.OutcomeOK, DurationMS: 40},
		{Time: now.Add(-time.Minute), Instance: inst.Name, Event: transition.EventBackup, Seq: 2, Outcome: transition.OutcomeFailed,
			Error: "REPLICAOF 127.0.0.1: i/o timeout", DurationMS: 1500},
	} {
		if err := sd.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	in := gatherLive(t, inst, DefaultThresholds())
	wantReasons(t, in, Warning, CodeTransitionFailed)
	if len(in.Journal.Records) != 2 || in.Journal.FailedInWindow != 1 {
		t.Fatalf("journal %+v", in.Journal)
	}
}

func TestLiveLocalUnreachable(t *testing.T) {
	r := redistest.Start(t, redistest.Options{Args: rdbOn})
	dead := &redistest.Server{Port: redistest.FreePort(t)}
	in := gatherLive(t, liveInstance(t, dead, r, 2*time.Second), DefaultThresholds())
	wantReasons(t, in, Critical, CodeLocalUnreachable)
}

// snapshot is what a report must leave unchanged on a server.
func snapshot(t *testing.T, s *redistest.Server) string {
	t.Helper()
	ctx := context.Background()
	c := s.Client()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(info, "\n") {
		l = strings.TrimSpace(l)
		// Offsets and timers move with the replication pings on their own.
		if strings.Contains(l, "offset") || strings.Contains(l, "last_io") || strings.HasPrefix(l, "slave0:") || strings.HasPrefix(l, "repl_backlog") {
			continue
		}
		keep = append(keep, l)
	}
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(cfg))
	for k := range cfg {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		keep = append(keep, k+"="+cfg[k])
	}
	return fmt.Sprintf("dbsize=%d\n%s", n, strings.Join(keep, "\n"))
}

// readOnlyCommands are the only commands a report may cause: INFO and
// CONFIG GET from the report and HELLO, go-redis's connection handshake
// (it sets the connection's protocol, nothing in Redis); PING and REPLCONF
// are the replication link's own traffic, CONFIG RESETSTAT the test's.
var readOnlyCommands = []string{"info", "config|get", "hello", "ping", "replconf", "config|resetstat"}

// commandsRun lists the commands counted by INFO commandstats.
func commandsRun(t *testing.T, s *redistest.Server) map[string]string {
	t.Helper()
	info, err := s.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		l = strings.TrimSpace(l)
		if name, rest, ok := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":"); ok && strings.HasPrefix(l, "cmdstat_") {
			out[name] = rest
		}
	}
	return out
}

func TestLiveReportChangesNothing(t *testing.T) {
	m, r := livePair(t, rdbOn...)
	ctx := context.Background()
	before := map[*redistest.Server]string{m: snapshot(t, m), r: snapshot(t, r)}
	for _, s := range []*redistest.Server{m, r} {
		if err := s.Client().Do(ctx, "CONFIG", "RESETSTAT").Err(); err != nil {
			t.Fatal(err)
		}
	}
	in := gatherLive(t, liveInstance(t, m, r, 2*time.Second), DefaultThresholds(), m.Addr(), r.Addr())
	wantReasons(t, in, Critical, CodeVIPOnReplica, CodeVIPWrongServer) // the second "VIP" is the replica itself
	for _, s := range []*redistest.Server{m, r} {
		cmds := commandsRun(t, s)
		if _, ok := cmds["info"]; !ok {
			t.Errorf("%s: no INFO counted: %v", s.Addr(), cmds)
		}
		for name, stat := range cmds {
			if !slices.Contains(readOnlyCommands, name) {
				t.Errorf("%s: report ran %s (%s)", s.Addr(), name, stat)
			}
		}
		if after := snapshot(t, s); after != before[s] {
			t.Errorf("%s changed:\nbefore:\n%s\nafter:\n%s", s.Addr(), before[s], after)
		}
	}
}

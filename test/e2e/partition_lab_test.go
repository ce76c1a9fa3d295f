package e2e

// Tests of the lab's partition primitives themselves (test/lab:
// isolate, split, poweroff, the witness host, the local writer), on a lab
// built with UpNet (no keepalived, no Redis unless a test starts
// one), so that each runs in seconds. The partition scenarios that use them
// live elsewhere.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/labnet"
)

// probeTimeout bounds each reachability probe. A reachable host answers in
// well under a millisecond once ARP has resolved it, but right after a heal a
// sender's ARP entry may be waiting for its next retransmission (1 s apart):
// the bound is above that (labnet.ProbeTimeout).
const probeTimeout = labnet.ProbeTimeout

// newNetLab builds a lab with namespaces and configs but no process (UpNet)
// and always removes it.
func newNetLab(t *testing.T) (*lab.Lab, context.Context) {
	t.Helper()
	ctx, name, dir := labPlace(t, 2*time.Minute)
	l := lab.New(lab.Options{Repo: env.repo, Dir: dir, Prefix: name, Bin: env.bin, Writer: env.writer, Logf: t.Logf})
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		if err := l.Down(dctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	if err := l.UpNet(ctx); err != nil {
		t.Fatalf("lab UpNet: %v", err)
	}
	return l, ctx
}

// expectShape reads the lab's shape and probes every pair of nodes, and fails
// the test unless both match want.
func expectShape(t *testing.T, ctx context.Context, l *lab.Lab, want labnet.Shape) {
	t.Helper()
	read, err := l.Partition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Check(want, read, l.Reachability(probeTimeout)); err != nil {
		for _, n := range labnet.Nodes {
			out, _ := exec.Command("ip", "-n", l.NS(n), "neigh").CombinedOutput()
			t.Logf("%s neighbours:\n%s", n, out)
		}
		out, _ := exec.Command("bridge", "-n", l.NS("br"), "-d", "link", "show").CombinedOutput()
		t.Logf("bridge ports:\n%s", out)
		t.Fatalf("shape %s:\n%v", want, err)
	}
}

// Every shape gives exactly the reachability its model predicts, is read
// back as made, is idempotent, and its heal restores the prior state; shapes
// combine, and heal-all undoes any mix of them.
func TestPartitionLabShapes(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l, ctx := newNetLab(t)
	healed := labnet.Shape{}
	expectShape(t, ctx, l, healed)
	do := func(f func(context.Context) error) {
		t.Helper()
		if err := f(ctx); err != nil {
			t.Fatal(err)
		}
	}
	host := func(f func(context.Context, string) error, h string) func(context.Context) error {
		return func(ctx context.Context) error { return f(ctx, h) }
	}
	for _, tc := range []struct {
		name       string
		make, undo func(context.Context) error
		want       labnet.Shape
	}{
		{"isolate h1", host(l.Isolate, "h1"), host(l.Heal, "h1"), labnet.Shape{Isolated: []string{"h1"}}},
		{"isolate h2", host(l.Isolate, "h2"), host(l.Heal, "h2"), labnet.Shape{Isolated: []string{"h2"}}},
		{"isolate w", host(l.Isolate, "w"), host(l.Heal, "w"), labnet.Shape{Isolated: []string{"w"}}},
		{"split", l.Split, l.HealSplit, labnet.Shape{Split: true}},
		{"poweroff h1", host(l.PowerOff, "h1"), host(l.PowerOn, "h1"), labnet.Shape{Off: []string{"h1"}}},
		{"poweroff w", host(l.PowerOff, "w"), host(l.PowerOn, "w"), labnet.Shape{Off: []string{"w"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do(tc.make)
			do(tc.make) // idempotent
			expectShape(t, ctx, l, tc.want)
			do(tc.undo)
			do(tc.undo)
			expectShape(t, ctx, l, healed)
		})
	}
	t.Run("combined", func(t *testing.T) {
		// The witness isolated during a split; then h2 loses power while
		// split: powering it on keeps the split (its port's flag comes back).
		do(l.Split)
		do(host(l.Isolate, "w"))
		expectShape(t, ctx, l, labnet.Shape{Split: true, Isolated: []string{"w"}})
		do(host(l.PowerOff, "h2"))
		expectShape(t, ctx, l, labnet.Shape{Split: true, Isolated: []string{"w"}, Off: []string{"h2"}})
		do(host(l.PowerOn, "h2"))
		expectShape(t, ctx, l, labnet.Shape{Split: true, Isolated: []string{"w"}})
		do(host(l.Heal, "w"))
		expectShape(t, ctx, l, labnet.Shape{Split: true})
		do(l.HealSplit)
		expectShape(t, ctx, l, healed)
	})
	t.Run("heal-all", func(t *testing.T) {
		do(l.Split)
		do(host(l.Isolate, "h1"))
		do(host(l.PowerOff, "w"))
		do(host(l.Isolate, "w")) // while off: it comes back isolated, unless healed
		expectShape(t, ctx, l, labnet.Shape{Split: true, Isolated: []string{"h1", "w"}, Off: []string{"w"}})
		do(l.HealAll)
		do(l.HealAll)
		expectShape(t, ctx, l, healed)
	})
}

// A split cuts VRRP adverts between h1 and h2 (IP protocol 112; the lab's
// keepalived sends them unicast, `redis-vip run` multicast: both are tried)
// while the witness still hears both.
func TestPartitionLabSplitCutsVRRP(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l, ctx := newNetLab(t)
	h1, h2 := netip.MustParseAddr(lab.Addr["h1"]), netip.MustParseAddr(lab.Addr["h2"])
	reaches := func(from, to string, dst netip.Addr) bool {
		t.Helper()
		ok, err := labnet.ProtoReaches(l.NS(from), l.NS(to), labnet.VRRPProto, dst, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	type path struct {
		from, to string
		dst      netip.Addr
	}
	paths := []path{
		{"h1", "h2", h2}, {"h2", "h1", h1},
		{"h1", "h2", labnet.VRRPGroup}, {"h2", "h1", labnet.VRRPGroup},
		{"h1", "w", labnet.VRRPGroup}, {"h2", "w", labnet.VRRPGroup},
	}
	check := func(split bool) {
		t.Helper()
		for _, p := range paths {
			want := !split || p.to == "w"
			if got := reaches(p.from, p.to, p.dst); got != want {
				t.Errorf("split=%v: VRRP packet %s -> %s (to %s) received=%v, want %v", split, p.from, p.to, p.dst, got, want)
			}
		}
	}
	check(false) // the probe itself works
	if err := l.Split(ctx); err != nil {
		t.Fatal(err)
	}
	check(true)
	if err := l.HealSplit(ctx); err != nil {
		t.Fatal(err)
	}
	check(false)
}

// startInNS runs argv in namespace ns as a child of the test (bounded by
// the test's cleanup) and returns it and a channel closed when it exits.
func startInNS(t *testing.T, ns string, argv ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

// redisConn connects from the client to addr, waiting (bounded) for the
// server to listen, and checks that it answers PING.
func redisConn(t *testing.T, l *lab.Lab, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	var c net.Conn
	err := lab.WaitFor(context.Background(), 10*time.Second, "redis at "+addr, func() bool {
		var err error
		c, err = labnet.Dial(l.NS("client"), addr, time.Second)
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING %s: %q %v", addr, line, err)
	}
	return c, r
}

// PowerOff kills every process in the host at once, and nothing the host's
// kernel sends afterwards reaches anyone: a connection from the client to a
// server that died with the host gets neither FIN nor RST, a new connection
// gets no answer. A plain kill -9 of a server (the control) does close its
// connection. PowerOn brings a fresh host: no process, no VIP, no listener.
func TestPartitionLabPowerOff(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l, ctx := newNetLab(t)
	ns := l.NS("h1")
	addr := func(port int) string { return fmt.Sprintf("%s:%d", lab.Addr["h1"], port) }
	redis := func(port int) []string {
		return []string{"redis-server", "--port", fmt.Sprint(port), "--bind", lab.Addr["h1"], "--save", "", "--appendonly", "no", "--protected-mode", "no"}
	}

	// Control: a kill -9 outside a poweroff closes the connection (the
	// kernel sends a FIN), so the check below can tell the difference.
	ctl, ctlDone := startInNS(t, ns, redis(7701)...)
	cc, cr := redisConn(t, l, addr(7701))
	_ = ctl.Process.Kill()
	<-ctlDone
	if got := labnet.Heard(cc, cr, 3*time.Second); got == "silence" {
		t.Fatalf("control: the connection to a server killed with -9 stayed silent; the poweroff check would prove nothing")
	}

	// The host: a server with a client connected, two other processes, a
	// VIP on its interface, a local writer.
	_, srvDone := startInNS(t, ns, redis(7702)...)
	c, r := redisConn(t, l, addr(7702))
	var others []chan struct{}
	for range 2 {
		_, done := startInNS(t, ns, "sleep", "120")
		others = append(others, done)
	}
	if _, err := l.Exec(ctx, "h1", "ip", "addr", "add", lab.VIP+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	w, err := l.StartLocalWriter(ctx, "poweroff-local", "h1", "--duration", "60s")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err != nil || len(strings.Fields(string(out))) < 4 {
		t.Fatalf("processes in %s before the poweroff: %q %v", ns, out, err)
	}

	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	for i, done := range append(others, srvDone) {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("process %d in h1 still runs after the poweroff", i)
		}
	}
	if _, err := w.Wait(10 * time.Second); err == nil {
		t.Errorf("the local writer on h1 survived the poweroff")
	}
	if _, err := l.VerifyWriter(ctx, w, time.Second); !errors.Is(err, lab.ErrNoAckLog) {
		t.Errorf("VerifyWriter after a poweroff: %v, want ErrNoAckLog", err)
	}
	if got := labnet.Heard(c, r, 2*time.Second); got != "silence" {
		t.Errorf("the client's connection to the powered-off host got %q: its kernel still spoke (a FIN or RST left it)", got)
	}
	if reach, detail := labnet.Probe(l.NS("client"), addr(7702), probeTimeout); reach != labnet.Cut {
		t.Errorf("a new connection to the powered-off host: %s (%s), want no answer", reach, detail)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
		t.Errorf("namespace %s still exists after the poweroff", ns)
	}

	if err := l.PowerOn(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	expectShape(t, ctx, l, labnet.Shape{})
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("processes in h1 after poweron: %q %v", out, err)
	}
	if reach, detail := labnet.Probe(l.NS("client"), addr(7702), probeTimeout); detail != "refused" {
		t.Errorf("h1 after poweron, port 7702: %s (%s), want refused (a fresh host, nothing listening)", reach, detail)
	}
	if out, err := l.Exec(ctx, "h1", "ip", "-4", "addr", "show", "dev", "eth0"); err != nil || strings.Contains(out, lab.VIP+"/") {
		t.Errorf("h1's addresses after poweron (the VIP must be gone, as after a reboot): %s %v", out, err)
	}
}

// The witness host runs a process that starts, stops and dies on demand (a
// stand-in here: the witness command may not exist yet); the real command
// either listens on WitnessAddr or fails to start leaving nothing behind.
func TestPartitionLabWitness(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l, ctx := newNetLab(t)
	if fi, err := os.Stat(l.WitnessSecret()); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() < 64 {
		t.Fatalf("witness secret: %v %v", fi, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	running := func(want bool) {
		t.Helper()
		if got := l.WitnessRunning(); got != want {
			t.Fatalf("witness running=%v, want %v", got, want)
		}
	}
	must(l.StartWitness(ctx, "sleep", "60"))
	running(true)
	must(l.StartWitness(ctx, "sleep", "60")) // already running: a no-op
	must(l.StopWitness(ctx))
	running(false)
	must(l.StopWitness(ctx))
	must(l.StartWitness(ctx, "sleep", "60"))
	must(l.KillWitness(ctx)) // the witness dead, its host up
	running(false)
	expectShape(t, ctx, l, labnet.Shape{})
	must(l.StartWitness(ctx, "sleep", "60"))
	must(l.PowerOff(ctx, "w"))
	running(false)
	if err := l.StartWitness(ctx, "sleep", "60"); err == nil {
		t.Fatal("start-witness on a powered-off host succeeded")
	}
	must(l.PowerOn(ctx, "w"))

	// The real command, as the lab gives it.
	if err := l.StartWitness(ctx); err != nil {
		t.Logf("redis-vip witness did not start (not built yet?): %v", err)
		running(false)
		return
	}
	running(true)
	for _, from := range []string{"h1", "h2", "client"} {
		if reach, detail := labnet.Probe(l.NS(from), l.WitnessAddr(), probeTimeout); detail != "connected" {
			t.Errorf("%s -> witness %s: %s (%s), want connected", from, l.WitnessAddr(), reach, detail)
		}
	}
	must(l.KillWitness(ctx))
	running(false)
}

// A writer on h1 against h1's own Redis keeps acknowledging writes while h1
// is isolated (where split-brain writes come from), and its lost writes are
// counted from the client namespace like those of the writer behind the VIP.
func TestPartitionLabLocalWriter(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l, ctx := newNetLab(t)
	startRedis(t, ctx, l, "h1", lab.NoGuard)
	w, err := l.StartLocalWriter(ctx, "local", "h1", "--duration", "60s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = w.Stop(20 * time.Second) })
	if err := w.WaitAcked(ctx, 50, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Isolate(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitMoreAcks(ctx, 50, 15*time.Second); err != nil {
		t.Fatalf("isolated h1's local writer: %v", err)
	}
	if err := l.Heal(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := l.VerifyWriter(ctx, w, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Acked < 100 || r.Lost != 0 || r.FinalMaster != lab.Addr["h1"]+":6379" || r.AckedBy[lab.Addr["h1"]] != r.Acked {
		t.Errorf("local writer: %s; acked by %v, final master %q, verify error %q", r.Summary(), r.AckedBy, r.FinalMaster, r.VerifyError)
	}
}

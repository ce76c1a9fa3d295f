package vrrpe2e

// Tests of netlab's partition primitives themselves (Isolate, Split,
// PowerOff, the witness host, the local writer), on a bare lab (namespaces
// only, unless a test starts a process), so that each runs in seconds. The
// partition scenarios that use them live elsewhere.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab/labnet"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// checkShape reads the lab's shape and probes every pair of nodes, and fails
// the test unless both match want.
func checkShape(t *testing.T, l *netlab.Lab, want labnet.Shape) {
	t.Helper()
	read, err := l.Partition()
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Check(want, read, l.Reachability(labnet.ProbeTimeout)); err != nil {
		t.Fatalf("shape %s:\n%v", want, err)
	}
}

// Every shape gives exactly the reachability its model predicts, is read
// back as made, is idempotent, and its heal restores the prior state; shapes
// combine, and HealAll undoes any mix of them.
func TestPartitionLabShapes(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l := newLab(t)
	h1, h2, w := l.Hosts[0], l.Hosts[1], l.W
	checkShape(t, l, labnet.Shape{})
	host := func(f func(*netlab.Host) error, h *netlab.Host) func() error { return func() error { return f(h) } }
	for _, tc := range []struct {
		name       string
		make, undo func() error
		want       labnet.Shape
	}{
		{"isolate h1", host(l.Isolate, h1), host(l.Heal, h1), labnet.Shape{Isolated: []string{"h1"}}},
		{"isolate w", host(l.Isolate, w), host(l.Heal, w), labnet.Shape{Isolated: []string{"w"}}},
		{"split", l.Split, l.HealSplit, labnet.Shape{Split: true}},
		{"poweroff h2", host(l.PowerOff, h2), host(l.PowerOn, h2), labnet.Shape{Off: []string{"h2"}}},
		{"poweroff w", host(l.PowerOff, w), host(l.PowerOn, w), labnet.Shape{Off: []string{"w"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(t, tc.make())
			must(t, tc.make()) // idempotent
			checkShape(t, l, tc.want)
			must(t, tc.undo())
			must(t, tc.undo())
			checkShape(t, l, labnet.Shape{})
		})
	}
	t.Run("combined", func(t *testing.T) {
		must(t, l.Split())
		must(t, l.Isolate(w))
		must(t, l.PowerOff(h1))
		checkShape(t, l, labnet.Shape{Split: true, Isolated: []string{"w"}, Off: []string{"h1"}})
		must(t, l.PowerOn(h1)) // comes back split
		checkShape(t, l, labnet.Shape{Split: true, Isolated: []string{"w"}})
		must(t, l.Heal(w))
		must(t, l.HealSplit())
		checkShape(t, l, labnet.Shape{})
	})
	t.Run("heal-all", func(t *testing.T) {
		must(t, l.Split())
		must(t, l.Isolate(h2))
		must(t, l.Cut(h1))
		must(t, l.PowerOff(w))
		must(t, l.HealAll())
		must(t, l.HealAll())
		checkShape(t, l, labnet.Shape{})
	})
}

// A split cuts VRRP adverts between h1 and h2 (IP protocol 112; `redis-vip
// run` sends them multicast, keepalived in the lab's mixed pairs too, and
// unicast is tried as well) while the witness still hears both.
func TestPartitionLabSplitCutsVRRP(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	type path struct {
		from, to *netlab.Host
		dst      netip.Addr
	}
	paths := []path{
		{h1, h2, h2.IP}, {h2, h1, h1.IP},
		{h1, h2, labnet.VRRPGroup}, {h2, h1, labnet.VRRPGroup},
		{h1, l.W, labnet.VRRPGroup}, {h2, l.W, labnet.VRRPGroup},
	}
	check := func(split bool) {
		t.Helper()
		for _, p := range paths {
			got, err := labnet.ProtoReaches(p.from.NS, p.to.NS, labnet.VRRPProto, p.dst, time.Second)
			must(t, err)
			if want := !split || p.to == l.W; got != want {
				t.Errorf("split=%v: VRRP packet %s -> %s (to %s) received=%v, want %v", split, p.from.Name, p.to.Name, p.dst, got, want)
			}
		}
	}
	check(false) // the probe itself works
	must(t, l.Split())
	check(true)
	must(t, l.HealSplit())
	check(false)
}

// pinged connects from the client to host's Redis and checks it answers.
func pinged(t *testing.T, l *netlab.Lab, h *netlab.Host) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := labnet.Dial(l.ClientNS, h.Announce(), time.Second)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write([]byte("PING\r\n"))
	must(t, err)
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING %s: %q %v", h.Name, line, err)
	}
	return c, r
}

// PowerOff kills every process in the host at once, and nothing the host's
// kernel sends afterwards reaches anyone: the client's connection to its
// Redis gets neither FIN nor RST, a new connection no answer. A plain kill
// -9 of a Redis (the control, on h2) does close its connection. PowerOn
// brings a fresh host: no process, no VIP, no listener.
func TestPartitionLabPowerOff(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	for _, h := range l.Hosts {
		must(t, h.WriteConfig(nil))
		must(t, h.WriteRedisConf(nil))
		must(t, h.StartRedis())
	}
	cc, cr := pinged(t, l, h2)
	h2.KillRedis()
	if got := labnet.Heard(cc, cr, 3*time.Second); got == "silence" {
		t.Fatalf("control: the connection to a Redis killed with -9 stayed silent; the poweroff check would prove nothing")
	}

	c, r := pinged(t, l, h1)
	var sleeps []*netlab.Proc
	for i := range 2 {
		p, err := l.Start(fmt.Sprintf("sleep%d", i), h1.NS, h1.Dir, "sleep", "120")
		must(t, err)
		sleeps = append(sleeps, p)
	}
	_, err := h1.Exec(t.Context(), "ip", "addr", "add", netlab.VIP.String(), "dev", "eth0")
	must(t, err)
	wr, err := l.StartLocalWriter(h1, time.Minute)
	must(t, err)
	must(t, netlab.WaitFor(5*time.Second, "h1 holding the VIP", func() bool { return l.Holder() == "h1" }))

	must(t, l.PowerOff(h1))
	for _, p := range sleeps {
		if p.Running() {
			t.Errorf("%s still runs in h1 after the poweroff", p.Name)
		}
	}
	if err := wr.Stop(); !errors.Is(err, netlab.ErrNoAckLog) {
		t.Errorf("the local writer's Stop after a poweroff: %v, want ErrNoAckLog", err)
	}
	if got := labnet.Heard(c, r, 2*time.Second); got != "silence" {
		t.Errorf("the client's connection to the powered-off host got %q: its kernel still spoke (a FIN or RST left it)", got)
	}
	if reach, detail := labnet.Probe(l.ClientNS, h1.Announce(), labnet.ProbeTimeout); reach != labnet.Cut {
		t.Errorf("a new connection to the powered-off host: %s (%s), want no answer", reach, detail)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", h1.NS)); err == nil {
		t.Errorf("namespace %s still exists after the poweroff", h1.NS)
	}
	if hs := l.Holders(); len(hs) != 0 {
		t.Errorf("VIP holders with h1 off: %v", hs)
	}

	must(t, l.PowerOn(h1))
	checkShape(t, l, labnet.Shape{})
	if reach, detail := labnet.Probe(l.ClientNS, h1.Announce(), labnet.ProbeTimeout); detail != "refused" {
		t.Errorf("h1's Redis port after poweron: %s (%s), want refused (a fresh host, nothing listening)", reach, detail)
	}
	if hs := l.Holders(); len(hs) != 0 {
		t.Errorf("VIP holders after h1's poweron (the VIP must be gone, as after a reboot): %v", hs)
	}
	must(t, h1.StartRedis()) // the normal start works on the fresh host
}

// The witness host runs a process that starts, stops and dies on demand (a
// stand-in here: the witness command may not exist yet); the real command
// either listens on WitnessAddr or fails to start, leaving nothing behind.
func TestPartitionLabWitness(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l := newLab(t)
	running := func(want bool) {
		t.Helper()
		if got := l.WitnessRunning(); got != want {
			t.Fatalf("witness running=%v, want %v", got, want)
		}
	}
	_, err := l.StartWitness("sleep", "60")
	must(t, err)
	running(true)
	if _, err := l.StartWitness("sleep", "60"); err == nil {
		t.Fatal("a second witness process started")
	}
	must(t, l.StopWitness())
	running(false)
	must(t, l.StopWitness())
	_, err = l.StartWitness("sleep", "60")
	must(t, err)
	l.KillWitness() // the witness dead, its host up
	running(false)
	l.KillWitness()
	checkShape(t, l, labnet.Shape{})
	_, err = l.StartWitness("sleep", "60")
	must(t, err)
	must(t, l.PowerOff(l.W))
	running(false)
	if _, err := l.StartWitness("sleep", "60"); err == nil {
		t.Fatal("the witness started on a powered-off host")
	}
	must(t, l.PowerOn(l.W))

	// The real command, as the lab gives it.
	if _, err := l.StartWitness(); err != nil {
		t.Logf("redis-vip witness did not start (not built yet?): %v", err)
		running(false)
		if fi, err := os.Stat(l.WitnessSecret()); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("witness secret: %v %v", fi, err)
		}
		return
	}
	running(true)
	for _, ns := range []string{l.Hosts[0].NS, l.Hosts[1].NS, l.ClientNS} {
		if reach, detail := labnet.Probe(ns, l.WitnessAddr(), labnet.ProbeTimeout); detail != "connected" {
			t.Errorf("%s -> witness %s: %s (%s), want connected", ns, l.WitnessAddr(), reach, detail)
		}
	}
	l.KillWitness()
}

// A writer on h1 against h1's own Redis keeps acknowledging writes while h1
// is isolated (where split-brain writes come from), and its lost writes are
// counted like those of the writer behind the VIP.
func TestPartitionLabLocalWriter(t *testing.T) {
	testtier.RequirePartitionTable(t)
	l := newLab(t)
	h1 := l.Hosts[0]
	must(t, h1.WriteConfig(nil))
	must(t, h1.WriteRedisConf(nil))
	must(t, h1.StartRedis())
	wr, err := l.StartLocalWriter(h1, time.Minute)
	must(t, err)
	t.Cleanup(func() { _ = wr.Stop() })
	must(t, netlab.WaitFor(10*time.Second, "local writes", func() bool { return h1.LLen(wr.Key) > 50 }))
	must(t, l.Isolate(h1))
	isolated := time.Now()
	before := h1.LLen(wr.Key)
	must(t, netlab.WaitFor(10*time.Second, "local writes while isolated", func() bool { return h1.LLen(wr.Key) > before+50 }))
	must(t, l.Heal(h1))
	must(t, wr.Stop())
	list, err := wr.List(h1)
	must(t, err)
	lost := wr.LostAcks(list)
	t.Logf("local writer: %d acknowledged (%d while h1 was isolated), %d lost", len(wr.Log.Acks), wr.AckedSince(isolated), len(lost))
	if len(lost) != 0 || wr.AckedSince(isolated) == 0 || wr.Report.AckedBy[h1.IP.String()] != len(wr.Log.Acks) {
		t.Errorf("local writer: %s; acked by %v", wr.Report.Summary(), wr.Report.AckedBy)
	}
}

package router

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// setCut cuts a node off the link, or heals it.
func (l *lab) setCut(n *testNode, cut bool) {
	l.mu.Lock()
	n.wire.cut = cut
	l.mu.Unlock()
}

// sentBy returns the adverts a node sent since t0.
func (l *lab) sentBy(name string, t0 time.Time) []sentAdvert {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sentAdvert
	for _, s := range l.sent {
		if s.from == name && !s.at.Before(t0) {
			out = append(out, s)
		}
	}
	return out
}

// pair starts a (priority 150, 192.0.2.71) and b (priority 100, 192.0.2.72)
// and waits until a holds the VIP.
func pair(t *testing.T, l *lab) (a, b *testNode) {
	t.Helper()
	a = l.add("a", "192.0.2.71", baseSettings(150))
	b = l.add("b", "192.0.2.72", baseSettings(100))
	a.start()
	b.start()
	waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
	return a, b
}

func TestElectionPromotesThenTakesVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		time.Sleep(2 * time.Second)
		if a.state() != fsm.Master || b.state() != fsm.Backup {
			t.Fatalf("states a=%s b=%s, want MASTER/BACKUP\n%s", a.state(), b.state(), l.dump())
		}
		if b.vips.Held() || !a.vips.Held() {
			t.Fatalf("VIP on a=%v b=%v", a.vips.Held(), b.vips.Held())
		}
		if got, want := a.trans.Runs(), []transition.Event{transition.EventBackup, transition.EventMaster}; !slices.Equal(got, want) {
			t.Errorf("a ran %v, want %v", got, want)
		}
		if got, want := b.trans.Runs(), []transition.Event{transition.EventBackup}; !slices.Equal(got, want) {
			t.Errorf("b ran %v, want %v", got, want)
		}
		// The VIP came after the promotion had finished, then the announce.
		ops := a.trans.l.opsOf("a")
		iDone, iAdd := slices.Index(ops, "done:master"), slices.Index(ops, "vip-add")
		if iDone < 0 || iAdd < iDone || slices.Index(ops, "announce") < iAdd {
			t.Errorf("a's order %v: want done:master, vip-add, announce", ops)
		}
		if w := l.worstDual(); w > 0 {
			t.Errorf("two VIP holders for %s", w)
		}
		if n := a.vips.Announces(); n != 1 {
			t.Errorf("a announced %d times, want 1", n)
		}
	})
}

// A long sync-then-promote does not hold up adverts: the peer stays Backup
// and nobody holds the VIP until the promotion is done.
func TestSlowPromotionKeepsAdvertsFlowingAndVIPWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.trans.promote = 3 * time.Second
		a.start()
		b.start()
		waitFor(t, time.Second, "a master", func() bool { return a.state() == fsm.Master })
		became := time.Now()
		time.Sleep(2900 * time.Millisecond)
		if a.vips.Held() || b.vips.Held() {
			t.Fatalf("VIP held during the promotion: a=%v b=%v", a.vips.Held(), b.vips.Held())
		}
		if b.state() != fsm.Backup {
			t.Fatalf("b is %s during a's promotion: adverts stopped?", b.state())
		}
		if n := len(l.sentBy("a", became)); n < 28 {
			t.Errorf("a sent %d adverts in 2.9s of promotion, want about 29", n)
		}
		waited := waitFor(t, time.Second, "a holding the VIP", a.vips.Held)
		if total := time.Since(became); total < 3*time.Second || total > 3*time.Second+10*time.Millisecond {
			t.Errorf("VIP taken %s after becoming master (waited %s more), want right after the 3s promotion", total, waited)
		}
	})
}

// A master transition that leaves the local Redis a replica takes no VIP;
// the failing health check then moves the node to Fault and the peer
// takes over.
func TestFailedPromotionTakesNoVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.trans.failPromote = true
		a.start()
		b.start()
		waitFor(t, time.Second, "a master", func() bool { return a.state() == fsm.Master })
		time.Sleep(time.Second)
		if a.vips.Held() {
			t.Fatal("a took the VIP although its Redis is not master")
		}
		// What the check verdict says in that case ("made master but its
		// redis is a replica", or the S2 hold-off).
		a.health.Set(false)
		waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		if a.state() != fsm.Fault {
			t.Errorf("a is %s, want FAULT", a.state())
		}
		if a.vips.Held() {
			t.Error("a holds the VIP")
		}
	})
}

func TestHealthFallHandsOverAndRiseTakesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		time.Sleep(time.Second)

		a.health.Set(false)
		failed := time.Now()
		waitFor(t, 2*time.Second, "b holding the VIP", b.vips.Held)
		took := time.Since(failed)
		// fall (2) checks of 100 ms, b's skew time (61 ms) after a's
		// priority 0, b's promotion (20 ms): well under a's full
		// master-down interval on top of the detection.
		if limit := 2*100*time.Millisecond + b.r.o.Settings.MasterDownInterval(); took > limit {
			t.Errorf("b took the VIP %s after a's Redis failed, want < %s", took, limit)
		}
		t.Logf("failover after a failed health check: %s", took)
		if a.state() != fsm.Fault || a.vips.Held() {
			t.Errorf("a is %s holding=%v, want FAULT without VIP", a.state(), a.vips.Held())
		}
		ops := l.opsOf("a")
		if i, j := slices.Index(ops, "vip-remove"), slices.Index(ops, "run:fault"); i < 0 || j < i {
			t.Errorf("a's order %v: want vip-remove before run:fault", ops)
		}

		// A single good check is not enough (rise 2) ...
		a.health.Set(true)
		time.Sleep(150 * time.Millisecond)
		a.health.Set(false)
		time.Sleep(time.Second)
		if a.state() != fsm.Fault {
			t.Fatalf("a left FAULT after one good check: %s", a.state())
		}
		// ... two are, and a (150) preempts b (100).
		a.health.Set(true)
		waitFor(t, 2*time.Second, "a holding the VIP again", a.vips.Held)
		time.Sleep(200 * time.Millisecond)
		if b.vips.Held() || b.state() != fsm.Backup {
			t.Errorf("b is %s holding=%v after a came back", b.state(), b.vips.Held())
		}
		if w := l.worstDual(); w > 0 {
			t.Errorf("two VIP holders for %s\n%s", w, l.dump())
		}
	})
}

func TestShutdownSendsPriorityZeroAndHandsOverAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		time.Sleep(time.Second)

		a.trans.mu.Lock()
		a.trans.demote = 50 * time.Millisecond
		a.trans.mu.Unlock()
		stopped := time.Now()
		if err := a.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if a.vips.Held() {
			t.Error("a still holds the VIP after Run returned")
		}
		sent := l.sentBy("a", stopped)
		if len(sent) == 0 || sent[len(sent)-1].prio != 0 {
			t.Errorf("a's last advert: %+v, want priority 0", sent)
		}
		ops := l.opsOf("a")
		if i, j := slices.Index(ops, "vip-remove"), slices.Index(ops, "run:stop"); i < 0 || j < i {
			t.Errorf("a's order %v: want vip-remove, then run:stop", ops)
		}
		if !slices.Contains(ops, "done:stop") {
			t.Errorf("Run returned before the stop transition finished: %v", ops)
		}
		took := waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		// b's skew time (61 ms) plus its promotion (20 ms), not a
		// master-down interval (361 ms).
		if took > 100*time.Millisecond {
			t.Errorf("handover took %s, want about skew time + promotion (81ms)", took)
		}
		t.Logf("handover after SIGTERM: %s", took)
	})
}

// A process that died holding the VIP left it on the interface: the next
// one removes it before anything else, and a node whose first health check
// fails starts in Fault and never becomes Master.
func TestStartRemovesStaleVIPAndNeverTakesUnearnedVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.vips.set(true, "left behind")
		a.health.Set(false)
		a.start()
		time.Sleep(5 * time.Second)
		if a.vips.Held() {
			t.Fatal("stale VIP not removed")
		}
		if a.state() != fsm.Fault {
			t.Fatalf("a is %s, want FAULT", a.state())
		}
		if runs := a.trans.Runs(); slices.Contains(runs, transition.EventMaster) {
			t.Fatalf("a ran %v", runs)
		}
		if ops := l.opsOf("a"); len(ops) < 2 || ops[1] != "vip-reconcile" {
			t.Errorf("first operations %v: want the stale VIP removed first", ops)
		}
		// Alone and healthy, it becomes Master after the master-down
		// interval, not before.
		a.health.Set(true)
		healthy := time.Now()
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		if took, min := time.Since(healthy), 2*100*time.Millisecond+a.r.o.Settings.MasterDownInterval(); took < min-100*time.Millisecond {
			t.Errorf("a took the VIP %s after recovering, before its master-down interval", took)
		}
	})
}

func TestReconcileRepairsAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		synctest.Wait()
		announced := a.vips.Announces()
		a.vips.set(false, "removed by an operator")
		waitFor(t, 1100*time.Millisecond, "a's VIP back", a.vips.Held)
		synctest.Wait()
		if got := a.vips.Announces(); got != announced+1 {
			t.Errorf("announces %d, want %d: a re-added VIP must be announced", got, announced+1)
		}
		b.vips.set(true, "added by an operator")
		waitFor(t, 1100*time.Millisecond, "b's VIP gone", func() bool { return !b.vips.Held() })
	})
}

// The result of a master transition that finishes after the node has left
// Master must not add the VIP.
func TestStaleMasterResultTakesNoVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.trans.promote = 2 * time.Second
		a.start()
		waitFor(t, time.Second, "a master", func() bool { return a.state() == fsm.Master })
		c := l.add("c", "192.0.2.73", baseSettings(200))
		c.start()
		waitFor(t, time.Second, "a backup", func() bool { return a.state() == fsm.Backup })
		time.Sleep(3 * time.Second)
		if a.vips.Held() {
			t.Fatal("a took the VIP as Backup")
		}
		if !c.vips.Held() {
			t.Fatal("c does not hold the VIP")
		}
		if ops := l.opsOf("a"); !slices.Contains(ops, "supersede:backup") {
			t.Errorf("a's running master transition was not superseded: %v", ops)
		}
	})
}

// After a partition both sides are Master; when it heals the lower
// priority gives the VIP up within one advert.
func TestPartitionHeals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		l.setCut(a, true)
		waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		if !a.vips.Held() {
			t.Fatal("a gave up the VIP although it hears nobody")
		}
		before := a.vips.Announces()
		l.setCut(a, false)
		took := waitFor(t, time.Second, "one holder", func() bool { return !b.vips.Held() })
		if took > 110*time.Millisecond {
			t.Errorf("dual holding lasted %s after the heal, want one advert interval", took)
		}
		// b announced the VIP during the partition: a, which never left
		// Master, announces it again so that the neighbours come back.
		waitFor(t, time.Second, "a announcing the VIP again", func() bool { return a.vips.Announces() > before })
		time.Sleep(5 * time.Second)
		a.vips.mu.Lock()
		aLast, aN := a.vips.announced[len(a.vips.announced)-1], a.vips.announces
		a.vips.mu.Unlock()
		b.vips.mu.Lock()
		bLast := b.vips.announced[len(b.vips.announced)-1]
		b.vips.mu.Unlock()
		if !aLast.After(bLast) {
			t.Errorf("a last announced at %s, before b's %s: the neighbours still follow b", aLast, bLast)
		}
		if aN != before+1 {
			t.Errorf("a announced %d times after the heal, want once", aN-before)
		}
	})
}

func TestRejectedAdvertsAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.start()
		peer := netip.MustParseAddr("192.0.2.72")
		grp := transport.IPv4.Group()
		good := packet.Advert{Version: 3, VRID: 51, Priority: 200, AdvertInterval: 100 * time.Millisecond, Addresses: []netip.Addr{testVIP.Addr()}}
		b, err := good.Marshal(peer, grp)
		if err != nil {
			t.Fatal(err)
		}
		other := good
		other.VRID = 52
		ob, _ := other.Marshal(peer, grp)
		bad := append([]byte(nil), b...)
		bad[len(bad)-1] ^= 0xff
		for _, d := range []transport.Datagram{
			{Payload: b, Src: peer, Dst: grp, TTL: 64},        // wrong TTL
			{Payload: bad, Src: peer, Dst: grp, TTL: 255},     // bad checksum
			{Payload: b[:4], Src: peer, Dst: grp, TTL: 255},   // short
			{Payload: ob, Src: peer, Dst: grp, TTL: 255},      // another VRID
			{Payload: b, Src: a.wire.src, Dst: grp, TTL: 255}, // our own
		} {
			a.wire.deliver(d, 0)
		}
		time.Sleep(2 * time.Second)
		st := a.r.Status()
		for _, r := range []packet.Reason{packet.ReasonTTL, packet.ReasonChecksum, packet.ReasonShort, packet.ReasonVRID} {
			if st.Rejected[r] != 1 {
				t.Errorf("rejected[%s] = %d, want 1 (all: %s)", r, st.Rejected[r], st.Rejected)
			}
		}
		if st.Rejected.Total() != 4 {
			t.Errorf("rejected %s, want 4 in all", st.Rejected)
		}
		// None of them counted as a live Master of priority 200.
		if st.State != fsm.Master || !st.HoldsVIP {
			t.Errorf("a is %s holding=%v, want MASTER with the VIP", st.State, st.HoldsVIP)
		}
	})
}

func TestUnicastPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		sa, sb := baseSettings(150), baseSettings(100)
		sa.UnicastPeers = []netip.Addr{netip.MustParseAddr("192.0.2.72")}
		sb.UnicastPeers = []netip.Addr{netip.MustParseAddr("192.0.2.71")}
		a := l.add("a", "192.0.2.71", sa)
		b := l.add("b", "192.0.2.72", sb)
		// A stranger with a higher priority multicasts: ignored by both.
		x := l.add("x", "192.0.2.99", baseSettings(250))
		x.trans.failPromote = true
		a.start()
		b.start()
		x.start()
		time.Sleep(2 * time.Second)
		if !a.vips.Held() || a.state() != fsm.Master || b.state() != fsm.Backup {
			t.Fatalf("a=%s/%v b=%s: the stranger's adverts were used", a.state(), a.vips.Held(), b.state())
		}
		for _, s := range l.sentBy("a", time.Time{}) {
			if s.dst != sa.UnicastPeers[0] {
				t.Fatalf("a sent to %s", s.dst)
			}
		}
		if a.r.Status().Foreign == 0 || b.r.Status().Foreign == 0 {
			t.Errorf("foreign adverts not counted: a=%d b=%d", a.r.Status().Foreign, b.r.Status().Foreign)
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.start()
		time.Sleep(10 * time.Millisecond)
		if err := a.r.Run(context.Background()); err == nil {
			t.Fatal("second Run did not fail")
		}
	})
}

func TestNewRejectsIncompleteOptions(t *testing.T) {
	if _, err := New(Options{Name: "x", Settings: baseSettings(100)}); err == nil {
		t.Fatal("New without parts succeeded")
	}
}

// A socket closed under the router is fatal: Run shuts down cleanly
// (VIP released, stop recorded) and returns the error.
func TestClosedWireIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.start()
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		close(a.wire.closed)
		err := <-a.done
		a.cancel()
		a.cancel = nil
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("Run returned %v, want ErrClosed", err)
		}
		if a.vips.Held() {
			t.Error("VIP still held after Run returned")
		}
		if ops := l.opsOf("a"); !slices.Contains(ops, "done:stop") {
			t.Errorf("stop not recorded: %v", ops)
		}
	})
}

// VRRPv2 (keepalived's default): whole-second intervals, and adverts with
// another interval or other addresses are rejected (RFC 3768 section 7.1).
func TestVersion2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		v2 := func(prio uint8) Settings {
			s := baseSettings(prio)
			s.Version, s.AdvertInterval = 2, time.Second
			return s
		}
		a := l.add("a", "192.0.2.71", v2(150))
		b := l.add("b", "192.0.2.72", v2(100))
		a.start()
		b.start()
		waitFor(t, 5*time.Second, "a holding the VIP", a.vips.Held)
		if b.state() != fsm.Backup {
			t.Fatalf("b is %s", b.state())
		}
		peer, grp := netip.MustParseAddr("192.0.2.99"), transport.IPv4.Group()
		for _, adv := range []packet.Advert{
			{Version: 2, VRID: 51, Priority: 200, AdvertInterval: 2 * time.Second, Addresses: []netip.Addr{testVIP.Addr()}},
			{Version: 2, VRID: 51, Priority: 200, AdvertInterval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.99")}},
			{Version: 3, VRID: 51, Priority: 200, AdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}},
		} {
			p, err := adv.Marshal(peer, grp)
			if err != nil {
				t.Fatal(err)
			}
			a.wire.deliver(transport.Datagram{Payload: p, Src: peer, Dst: grp, TTL: 255}, 0)
		}
		time.Sleep(3 * time.Second)
		st := a.r.Status()
		for _, r := range []packet.Reason{packet.ReasonIntervalMismatch, packet.ReasonAddresses, packet.ReasonVersion} {
			if st.Rejected[r] != 1 {
				t.Errorf("rejected[%s] = %d, want 1 (%s)", r, st.Rejected[r], st.Rejected)
			}
		}
		if !a.vips.Held() || st.State != fsm.Master {
			t.Errorf("a is %s holding=%v", st.State, a.vips.Held())
		}
	})
}

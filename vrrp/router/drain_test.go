package router

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// claimingVIPs is a fakeVIPs that also tells when another node of the lab
// holds the VIP, as *vip.Manager does by watching ARP.
type claimingVIPs struct {
	*fakeVIPs

	mu    sync.Mutex
	waits int
	err   error // WaitClaimed fails with it at once
	deaf  bool  // it never sees a claim
}

func (c *claimingVIPs) WaitClaimed(ctx context.Context, probe time.Duration) (netip.Addr, net.HardwareAddr, error) {
	c.mu.Lock()
	c.waits++
	err, deaf := c.err, c.deaf
	c.mu.Unlock()
	if probe <= 0 {
		c.l.t.Errorf("%s: probe interval %s", c.name, probe)
	}
	if err != nil {
		return netip.Addr{}, nil, err
	}
	for {
		if h := c.l.otherHolder(c.name); h != "" && !deaf {
			c.l.note("%s: claimed-by-%s", c.name, h)
			return testVIP.Addr(), net.HardwareAddr{2, 0, 0, 0, 0, h[0]}, nil
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (c *claimingVIPs) Waits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits
}

// otherHolder returns a node other than name that holds the VIP, "" if none.
func (l *lab) otherHolder(name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, held := range l.holders {
		if held && n != name {
			return n
		}
	}
	return ""
}

// addDraining adds a node whose addresses can watch for claims, so that it
// drains on a planned handover. The fake transition's check that no
// backup or stop transition runs while the VIP is held is off for it: a
// drain runs them while it keeps the VIP, on purpose.
func (l *lab) addDraining(name, addr string, s Settings) (*testNode, *claimingVIPs) {
	l.t.Helper()
	n := l.add(name, addr, s)
	c := &claimingVIPs{fakeVIPs: n.vips}
	o := n.r.o
	o.Addresses = c
	r, err := New(o)
	if err != nil {
		l.t.Fatal(err)
	}
	n.r = r
	n.trans.vips = &fakeVIPs{l: l, name: name + " (unchecked)"}
	return n, c
}

// drainingPair starts a (priority 150) and b (priority 100), both able to
// drain, and waits until a holds the VIP.
func drainingPair(t *testing.T, l *lab) (a, b *testNode, ca, cb *claimingVIPs) {
	t.Helper()
	a, ca = l.addDraining("a", "192.0.2.71", baseSettings(150))
	b, cb = l.addDraining("b", "192.0.2.72", baseSettings(100))
	a.start()
	b.start()
	waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
	time.Sleep(time.Second)
	return a, b, ca, cb
}

// inDrainingPair runs f in a synctest bubble on a started draining pair
// in which a holds the VIP, and stops the routers after it.
func inDrainingPair(t *testing.T, f func(t *testing.T, l *lab, a, b *testNode, ca, cb *claimingVIPs)) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b, ca, cb := drainingPair(t, l)
		f(t, l, a, b, ca, cb)
	})
}

// failOver fails a's health: a goes to FAULT, and b takes the VIP.
func failOver(t *testing.T, a, b *testNode) {
	t.Helper()
	a.health.Set(false)
	waitFor(t, 2*time.Second, "b holding the VIP", b.vips.Held)
	time.Sleep(time.Second)
	if a.state() != fsm.Fault {
		t.Fatalf("a is %s, want FAULT", a.state())
	}
}

// stopReleased stops n and checks that it no longer holds the VIP.
func stopReleased(t *testing.T, n *testNode) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("%s: Run: %v", n.name, err)
	}
	if n.vips.Held() {
		t.Errorf("%s holds the VIP after Run returned", n.name)
	}
}

// holderless samples the lab every millisecond until stop is closed, and
// returns on done the longest time nobody held the VIP.
func (l *lab) holderless(stop <-chan struct{}) <-chan time.Duration {
	done := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		var since time.Time
		for {
			l.mu.Lock()
			n := 0
			for _, h := range l.holders {
				if h {
					n++
				}
			}
			l.mu.Unlock()
			switch {
			case n == 0 && since.IsZero():
				since = time.Now()
			case n > 0 && !since.IsZero():
				worst = max(worst, time.Since(since))
				since = time.Time{}
			}
			select {
			case <-stop:
				done <- worst
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return done
}

// A planned stop keeps the VIP until the new master announces it: there
// is always a holder, both hold it only for the claim to be seen, and the
// old master's own stop transition runs meanwhile.
func TestShutdownDrainsUntilTheNewMasterAnnounces(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		stop := make(chan struct{})
		gaps := l.holderless(stop)

		stopped := time.Now()
		stopReleased(t, a)
		returned := time.Since(stopped)
		close(stop)
		if !b.vips.Held() {
			t.Fatalf("b does not hold the VIP after a's Run returned\n%s", l.dump())
		}
		if g := <-gaps; g > 0 {
			t.Errorf("nobody held the VIP for %s\n%s", g, l.dump())
		}
		if w := l.worstDual(); w > 5*time.Millisecond {
			t.Errorf("both held the VIP for %s, want only until the claim is seen", w)
		}
		// b's skew time (61 ms) and promotion (20 ms), then the claim.
		if returned > 150*time.Millisecond {
			t.Errorf("a's Run returned %s after the stop, want about b's skew time + promotion", returned)
		}
		ops := l.opsOf("a")
		iAdv, iStop, iClaim, iRemove := slices.Index(ops, "advert-0"), slices.Index(ops, "run:stop"), slices.Index(ops, "claimed-by-b"), slices.Index(ops, "vip-remove")
		if iAdv < 0 || iStop < iAdv || iClaim < iStop || iRemove < iClaim {
			t.Errorf("a's order %v: want advert-0, run:stop, claimed-by-b, vip-remove", ops)
		}
		if !slices.Contains(ops, "done:stop") {
			t.Errorf("Run returned before the stop transition finished: %v", ops)
		}
	})
}

// Failback: the returning node preempts, and the old master keeps the
// VIP until the new one has taken it.
func TestPreemptedMasterDrains(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		failOver(t, a, b)
		if ops := l.opsOf("a"); slices.Contains(ops, "claimed-by-b") {
			t.Errorf("a drained on FAULT: %v", ops)
		}

		stop := make(chan struct{})
		gaps := l.holderless(stop)
		a.health.Set(true)
		waitFor(t, 3*time.Second, "a holding the VIP again", a.vips.Held)
		waitFor(t, 10*time.Millisecond, "b releasing it", func() bool { return !b.vips.Held() })
		close(stop)
		if g := <-gaps; g > 0 {
			t.Errorf("nobody held the VIP for %s\n%s", g, l.dump())
		}
		if b.state() != fsm.Backup || !b.r.Status().Healthy || b.r.Status().Draining {
			t.Errorf("b: %+v, want a healthy BACKUP, not draining", b.r.Status())
		}
		ops := l.opsOf("b")
		iRun, iClaim, iRemove := slices.Index(ops, "run:backup"), slices.Index(ops, "claimed-by-a"), slices.Index(ops, "vip-remove")
		if iRun < 0 || iClaim < iRun || iRemove < iClaim {
			t.Errorf("b's order %v: want run:backup, claimed-by-a, vip-remove", ops)
		}
		if got := b.trans.Runs(); got[len(got)-1] != transition.EventBackup {
			t.Errorf("b ran %v", got)
		}
	})
}

// A node that leaves Master because its check failed releases the VIP at
// once: a Redis failing its check (a hang, a timeout, an error) may still
// answer, and must not serve. A "gone" that follows changes nothing.
func TestUnhealthyMasterDoesNotDrain(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, ca, _ *claimingVIPs) {
		a.health.Set(false)
		waitFor(t, 500*time.Millisecond, "a releasing the VIP", func() bool { return !a.vips.Held() })
		if b.vips.Held() {
			t.Fatal("b took the VIP before a released it")
		}
		a.live.gone()
		synctest.Wait()
		if n := ca.Waits(); n != 0 || a.r.Status().Draining {
			t.Errorf("a watched for claims %d times (draining %v), want none", n, a.r.Status().Draining)
		}
	})
}

// In maintenance mode the VIPs follow the VRRP state: no drain.
func TestMaintenanceDoesNotDrain(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, _ *testNode, ca, _ *claimingVIPs) {
		a.health.SetMaintenance(true)
		time.Sleep(300 * time.Millisecond)
		stopReleased(t, a)
		if n := ca.Waits(); n != 0 {
			t.Errorf("a watched for claims %d times in maintenance mode, want none", n)
		}
	})
}

// Alone, a stopping master waits one master down interval for a new
// master to advertise, then releases and returns.
func TestShutdownWithoutPeerEndsTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, _ := l.addDraining("a", "192.0.2.71", baseSettings(150))
		a.start()
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		stopped := time.Now()
		stopReleased(t, a)
		took := time.Since(stopped)
		if mdi := a.r.o.Settings.MasterDownInterval(); took < mdi || took > mdi+50*time.Millisecond {
			t.Errorf("Run returned %s after the stop, want its master down interval (%s)", took, mdi)
		}
	})
}

// After a partition both are Master; when it heals the lower priority
// goes Backup, and its probe finds the VIP held: it releases at once.
func TestPartitionHealEndsTheDrainAtOnce(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		l.setCut(a, true)
		waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		l.setCut(a, false)
		took := waitFor(t, time.Second, "one holder", func() bool { return !b.vips.Held() })
		if took > 110*time.Millisecond {
			t.Errorf("dual holding lasted %s after the heal, want one advert interval", took)
		}
		if ops := l.opsOf("b"); !slices.Contains(ops, "claimed-by-a") {
			t.Errorf("b's operations %v: want the drain ended by a's claim", ops)
		}
	})
}

// A watcher that cannot watch releases the VIP at once.
func TestDrainWatcherErrorReleases(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, ca, _ *claimingVIPs) {
		ca.mu.Lock()
		ca.err = errors.New("fake: no packet socket")
		ca.mu.Unlock()
		stopReleased(t, a)
		if b.vips.Held() {
			t.Error("b held the VIP before a released it: a waited for nothing")
		}
	})
}

// A new master that never announces the VIP does not keep the old one
// draining forever: the drain ends at its bound (the transition timeout
// plus the master down interval).
func TestDrainBound(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, cb *claimingVIPs) {
		failOver(t, a, b)
		cb.mu.Lock()
		cb.deaf = true
		cb.mu.Unlock()
		a.trans.mu.Lock()
		a.trans.failPromote = true
		a.trans.mu.Unlock()
		a.health.Set(true)
		waitFor(t, 2*time.Second, "b draining", func() bool { return b.r.Status().Draining })
		began := time.Now()
		waitFor(t, 15*time.Second, "b releasing the VIP", func() bool { return !b.vips.Held() })
		bound := b.r.o.TransitionTimeout + b.r.o.Settings.MasterDownInterval()
		if took := time.Since(began); took < bound-time.Second || took > bound+1100*time.Millisecond {
			t.Errorf("b released the VIP after %s, want its bound %s (checked each reconcile)", took, bound)
		}
	})
}

// A preempted master that is shut down while it drains keeps draining
// until the new master announces the VIP.
func TestShutdownWhileDrainingDrainsOn(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		failOver(t, a, b)
		a.trans.mu.Lock()
		a.trans.promote = 2 * time.Second // a slow sync-then-promote
		a.trans.mu.Unlock()
		a.health.Set(true)
		waitFor(t, 2*time.Second, "b draining", func() bool { return b.r.Status().Draining })
		stop := make(chan struct{})
		gaps := l.holderless(stop)
		stopReleased(t, b)
		close(stop)
		if !a.vips.Held() {
			t.Fatalf("a does not hold the VIP after b's Run returned\n%s", l.dump())
		}
		if g := <-gaps; g > 0 {
			t.Errorf("nobody held the VIP for %s\n%s", g, l.dump())
		}
	})
}

package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// lastPrio is the priority of a node's newest advert since t0 (-1: none).
func (l *lab) lastPrio(name string, t0 time.Time) int {
	s := l.sentBy(name, t0)
	if len(s) == 0 {
		return -1
	}
	return int(s[len(s)-1].prio)
}

// A node that may not add the VIP (EPERM: no CAP_NET_ADMIN) must not stay
// Master: it goes to Fault at once, sends priority 0, the peer takes the
// VIP, and it stays in Fault (no retry that would flap mastership).
func TestVIPAddPermissionErrorGoesToFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.vips.failAdd(fmt.Errorf("vip: add 192.0.2.70/26 to eth0: %w", syscall.EPERM))
		a.start()
		b.start()
		waitFor(t, 2*time.Second, "a master", func() bool { return a.state() == fsm.Master })
		became := time.Now()
		waitFor(t, time.Second, "a in FAULT", func() bool { return a.state() == fsm.Fault })
		if took := time.Since(became); took > 100*time.Millisecond {
			t.Errorf("a stayed master %s without the VIP; want it gone right after the promotion (20ms)", took)
		}
		if p := l.lastPrio("a", became); p != 0 {
			t.Errorf("a's last advert has priority %d, want 0\n%s", p, l.dump())
		}
		waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		why := a.r.Status().CannotHold
		if !strings.Contains(why, "operation not permitted") || !strings.Contains(why, "CAP_NET_ADMIN") {
			t.Errorf("CannotHold %q: want the error and what to do", why)
		}
		// It stays out: a (150) would preempt b (100) otherwise, and each
		// round would move the Redis master for nothing.
		time.Sleep(time.Minute)
		if a.state() != fsm.Fault || !b.vips.Held() || a.vips.Held() {
			t.Errorf("after a minute: a %s (VIP %v), b VIP %v; want a in FAULT, b holding", a.state(), a.vips.Held(), b.vips.Held())
		}
		if n := countOps(l.opsOf("a"), "vip-add-failed"); n != 1 {
			t.Errorf("a tried to add the VIP %d times, want once", n)
		}
		if got := a.trans.Runs(); !slices.Equal(got, []transition.Event{transition.EventBackup, transition.EventMaster, transition.EventFault}) {
			t.Errorf("a ran %v", got)
		}
	})
}

// Any other error is retried by the reconcile; if it lasts past the bound
// the node gives mastership up, and tries again after the hold.
func TestVIPAddFailurePastBoundGoesToFaultThenRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.vips.failAdd(fmt.Errorf("vip: add: %w", syscall.ENODEV))
		a.start()
		b.start()
		waitFor(t, 2*time.Second, "a master", func() bool { return a.state() == fsm.Master })
		became := time.Now()
		waitFor(t, 5*time.Second, "a in FAULT", func() bool { return a.state() == fsm.Fault })
		if took := time.Since(became); took < defaultVIPAddBound || took > defaultVIPAddBound+1100*time.Millisecond {
			t.Errorf("a gave up after %s, want after the %s bound (retried every reconcile)", took, defaultVIPAddBound)
		}
		if n := countOps(l.opsOf("a"), "vip-add-failed"); n != 1 {
			t.Errorf("Add called %d times (the reconcile retries through Reconcile)", n)
		}
		waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		a.vips.failAdd(nil)
		// After the hold a is healthy again and, preempting, takes back.
		waitFor(t, defaultVIPFaultHold+5*time.Second, "a holding the VIP again", a.vips.Held)
		if a.r.Status().CannotHold != "" {
			t.Errorf("CannotHold still %q", a.r.Status().CannotHold)
		}
		if w := l.worstDual(); w > 0 {
			t.Errorf("two holders for %s", w)
		}
	})
}

// A failure shorter than the bound is ridden out: the VIP is added by the
// reconcile and announced, and the node never leaves Master.
func TestVIPAddFailureShorterThanBoundIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.vips.failAdd(errors.New("netlink: timeout"))
		a.start()
		waitFor(t, 2*time.Second, "a master", func() bool { return a.state() == fsm.Master })
		time.Sleep(1500 * time.Millisecond)
		a.vips.failAdd(nil)
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		time.Sleep(5 * time.Second)
		if a.state() != fsm.Master || !a.vips.Held() || a.vips.Announces() != 1 {
			t.Errorf("a is %s, VIP %v, %d announces; want MASTER holding, announced once", a.state(), a.vips.Held(), a.vips.Announces())
		}
	})
}

// garp_master_refresh: while master, the VIPs are announced again every
// period with the configured rounds; not before the VIP is held, and not
// after it is released.
func TestPeriodicGARPRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		s := baseSettings(150)
		s.GARPRefresh, s.GARPRefreshRepeat = time.Second, 2
		a := l.add("a", "192.0.2.71", s)
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.start()
		b.start()
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		took := time.Now()
		time.Sleep(5500 * time.Millisecond)
		a.vips.mu.Lock()
		counts, at := slices.Clone(a.vips.counts), slices.Clone(a.vips.announced)
		a.vips.mu.Unlock()
		if want := []int{3, 2, 2, 2, 2, 2}; !slices.Equal(counts, want) {
			t.Fatalf("announce counts %v, want %v (the burst, then 2 rounds every second)", counts, want)
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap != time.Second {
				t.Errorf("refresh %d came %s after the previous, want 1s", i, gap)
			}
		}
		if at[0].Before(took.Add(-time.Millisecond)) {
			t.Error("announced before holding the VIP")
		}
		// Released: no more refreshes.
		a.health.Set(false)
		waitFor(t, time.Second, "a without the VIP", func() bool { return !a.vips.Held() })
		n := a.vips.Announces()
		time.Sleep(5 * time.Second)
		if m := a.vips.Announces(); m != n {
			t.Errorf("%d announces after the VIP was released", m-n)
		}
		// Off by default: b, holding now, announces once.
		if bn := b.vips.Announces(); bn != 1 {
			t.Errorf("b (no refresh) announced %d times, want 1", bn)
		}
	})
}

// In maintenance mode a Master whose Redis did not become master does not
// retry the master transition (which would only be recorded again and
// again); when maintenance ends it does.
func TestMaintenancePausesMasterRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		a.trans.failPromote = true
		a.health.SetMaintenance(true)
		a.start()
		waitFor(t, 2*time.Second, "a master", func() bool { return a.state() == fsm.Master })
		time.Sleep(10 * time.Second)
		if n := countEvents(a.trans.Runs(), transition.EventMaster); n != 1 {
			t.Errorf("in maintenance a ran the master transition %d times, want once", n)
		}
		if !a.r.Status().Maintenance || a.state() != fsm.Master || a.vips.Held() {
			t.Errorf("status %+v", a.r.Status())
		}
		a.trans.mu.Lock()
		a.trans.failPromote = false
		a.trans.mu.Unlock()
		a.health.SetMaintenance(false)
		waitFor(t, 5*time.Second, "a holding the VIP", a.vips.Held)
		if n := countEvents(a.trans.Runs(), transition.EventMaster); n != 2 {
			t.Errorf("after maintenance a ran the master transition %d times in all, want 2", n)
		}
	})
}

// The event loop goes round at least every reconcile interval, so a
// watchdog can tell a stuck loop from a quiet one.
func TestLastLoopAdvances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a := l.add("a", "192.0.2.71", baseSettings(150))
		if !a.r.LastLoop().IsZero() {
			t.Fatal("LastLoop set before Run")
		}
		a.start()
		for range 5 {
			time.Sleep(1500 * time.Millisecond)
			if age := time.Since(a.r.LastLoop()); age > time.Second {
				t.Fatalf("loop last went round %s ago", age)
			}
		}
	})
}

func countOps(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func countEvents(evs []transition.Event, ev transition.Event) int {
	n := 0
	for _, e := range evs {
		if e == ev {
			n++
		}
	}
	return n
}

package router

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// The local Redis gone (the watcher's event) puts a Master in Fault at
// once, without fall failing checks: priority 0 is the first thing it
// sends, before it removes the VIP, and the peer holds the VIP after its
// skew time plus its promotion.
func TestLivenessGoneFaultsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		time.Sleep(time.Second)

		// The checks would fail from now on too, but only after fall (2)
		// of them; the event comes first.
		a.health.Set(false)
		gone := time.Now()
		a.live.gone()
		synctest.Wait()
		if a.state() != fsm.Fault || a.vips.Held() {
			t.Fatalf("right after the event a is %s holding=%v, want FAULT without the VIP", a.state(), a.vips.Held())
		}
		if st := a.r.Status(); st.Healthy {
			t.Error("a's status still says healthy")
		}
		sent := l.sentBy("a", gone)
		if len(sent) == 0 || sent[0].prio != 0 || !sent[0].at.Equal(gone) {
			t.Fatalf("a's adverts after the event: %+v, want priority 0 at once", sent)
		}
		ops := l.opsOf("a")
		if i, j, k := slices.Index(ops, "advert-0"), slices.Index(ops, "vip-remove"), slices.Index(ops, "run:fault"); i < 0 || j < i || k < j {
			t.Errorf("a's order %v: want advert-0, vip-remove, run:fault", ops)
		}
		took := waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		// b's skew time (61 ms at priority 100, 100 ms adverts) plus its
		// promotion (20 ms, the fake's).
		if want := b.r.o.Settings.MasterDownInterval() - 3*b.r.o.Settings.AdvertInterval + 20*time.Millisecond + 5*time.Millisecond; took > want {
			t.Errorf("b took the VIP %s after the event, want about its skew time plus its promotion (%s)", took, want)
		}
		t.Logf("b holds the VIP %s after a's Redis was gone", took)

		// Back: nothing until rise (2) passing checks.
		a.live.back()
		synctest.Wait()
		if a.state() != fsm.Fault {
			t.Fatalf("a left FAULT on the back event alone: %s", a.state())
		}
		a.health.Set(true)
		waitFor(t, time.Second, "a out of FAULT", func() bool { return a.state() != fsm.Fault })
		if w := l.worstDual(); w > 0 {
			t.Errorf("two VIP holders for %s\n%s", w, l.dump())
		}
	})
}

// Without the event the same failure waits for fall checks: the event path
// is what makes the difference, and the periodic check stays the backstop.
func TestWithoutLivenessTheCheckDecides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, _ := pair(t, l)
		time.Sleep(time.Second)
		a.health.Set(false)
		took := waitFor(t, time.Second, "a in FAULT", func() bool { return a.state() == fsm.Fault })
		if took < 100*time.Millisecond {
			t.Errorf("a in FAULT %s after its check started failing: want fall (2) checks of 100ms", took)
		}
	})
}

// A Backup whose Redis is gone goes to Fault too, so it cannot take over.
func TestLivenessGoneOnBackup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		_, b := pair(t, l)
		time.Sleep(time.Second)
		b.live.gone()
		synctest.Wait()
		if b.state() != fsm.Fault {
			t.Fatalf("b is %s, want FAULT", b.state())
		}
	})
}

// In maintenance mode the event is logged and nothing moves: the check
// keeps the holder eligible while the operator restarts its Redis.
func TestLivenessGoneInMaintenanceMovesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		a, b := pair(t, l)
		a.health.SetMaintenance(true)
		time.Sleep(time.Second)
		before := a.r.Status()
		a.live.gone()
		time.Sleep(time.Second)
		st := a.r.Status()
		if st.State != fsm.Master || !st.Since.Equal(before.Since) || !a.vips.Held() || b.vips.Held() {
			t.Fatalf("after gone in maintenance: a %s since %s (was since %s) holding=%v, b holding=%v; want nothing moved",
				st.State, st.Since.Format("05.000"), before.Since.Format("05.000"), a.vips.Held(), b.vips.Held())
		}
	})
}

// A check that began before the Redis died and passes after the event is
// stale: with rise 1 it would otherwise make the node healthy again at once.
func TestPassingCheckFromBeforeTheEventIsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		defer l.stopAll()
		s := baseSettings(150)
		s.Rise = 1
		a := l.add("a", "192.0.2.71", s)
		b := l.add("b", "192.0.2.72", baseSettings(100))
		a.health.delay = 40 * time.Millisecond
		a.start()
		b.start()
		waitFor(t, 2*time.Second, "a holding the VIP", a.vips.Held)
		time.Sleep(time.Second)
		// Land in the middle of a check that began while the Redis was up.
		for a.health.checksSoFar() == 0 {
			time.Sleep(time.Millisecond)
		}
		n := a.health.checksSoFar()
		for a.health.checksSoFar() == n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		a.health.Set(false)
		a.live.gone()
		synctest.Wait()
		st := a.r.Status()
		if st.State != fsm.Fault {
			t.Fatalf("a is %s after the event, want FAULT", st.State)
		}
		time.Sleep(500 * time.Millisecond)
		if now := a.r.Status(); now.State != fsm.Fault || !now.Since.Equal(st.Since) {
			t.Fatalf("a left FAULT on a check that began before its Redis died: %s since %s, was FAULT since %s",
				now.State, now.Since.Format("05.000"), st.Since.Format("05.000"))
		}
	})
}

func (h *fakeHealth) checksSoFar() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checks
}

func TestOrderedSendsPriorityZeroFirst(t *testing.T) {
	changed := fsm.Action{Kind: fsm.ActStateChanged, From: fsm.Master, To: fsm.Fault}
	backup := fsm.Action{Kind: fsm.ActBecomeBackup}
	zero := fsm.Action{Kind: fsm.ActSendAdvert, Priority: 0}
	adv := fsm.Action{Kind: fsm.ActSendAdvert, Priority: 100}
	master := fsm.Action{Kind: fsm.ActBecomeMaster}
	for _, c := range []struct {
		name    string
		in, out []fsm.Action
	}{
		{"leaving master", []fsm.Action{changed, backup, zero}, []fsm.Action{zero, changed, backup}},
		{"already first", []fsm.Action{zero, changed}, []fsm.Action{zero, changed}},
		{"becoming master keeps its order", []fsm.Action{changed, adv, master}, []fsm.Action{changed, adv, master}},
		{"empty", nil, nil},
	} {
		if got := ordered(c.in); !slices.Equal(got, c.out) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.out)
		}
	}
	in := []fsm.Action{changed, backup, zero}
	ordered(in)
	if !slices.Equal(in, []fsm.Action{changed, backup, zero}) {
		t.Error("ordered changed its input")
	}
}

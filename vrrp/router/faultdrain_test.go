package router

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// dead is the leaving of a Master whose Redis the liveness watcher saw
// die, with everything a drain needs.
var dead = leaving{State: fsm.Fault, Reason: fsm.ReasonUnhealthy, LocalDead: true, Holding: true,
	WatchClaims: true, WatchLocal: true, IPv4: true}

func TestDrainFor(t *testing.T) {
	preempted := leaving{State: fsm.Backup, Reason: fsm.ReasonHigherPriority, Healthy: true, Holding: true,
		WatchClaims: true, WatchLocal: true, IPv4: true}
	shutdown := preempted
	shutdown.State, shutdown.Reason = fsm.Init, fsm.ReasonShutdown
	with := func(in leaving, f func(*leaving)) leaving { f(&in); return in }
	for _, c := range []struct {
		name string
		in   leaving
		want drainKind
	}{
		{"preempted", preempted, drainPlanned},
		{"shut down", shutdown, drainPlanned},
		{"shut down because the socket failed", with(shutdown, func(l *leaving) { l.StopFatal = true }), noDrain},
		{"preempted in maintenance", with(preempted, func(l *leaving) { l.Paused = true }), noDrain},
		{"preempted while unhealthy", with(preempted, func(l *leaving) { l.Healthy = false }), noDrain},
		{"two masters, higher address won", with(preempted, func(l *leaving) { l.Reason = fsm.ReasonHigherAddress }), noDrain},
		{"preempted, IPv6 VIP", with(preempted, func(l *leaving) { l.IPv4 = false }), noDrain},

		{"local Redis dead", dead, drainDead},
		{"fault from a failed check (hang, timeout, error)", with(dead, func(l *leaving) { l.LocalDead = false }), noDrain},
		{"dead in maintenance", with(dead, func(l *leaving) { l.Paused = true }), noDrain},
		{"dead, and the VIPs could not be added", with(dead, func(l *leaving) { l.CannotHold = true }), noDrain},
		{"dead without a liveness watcher", with(dead, func(l *leaving) { l.WatchLocal = false }), noDrain},
		{"dead without a claims watcher", with(dead, func(l *leaving) { l.WatchClaims = false }), noDrain},
		{"dead, IPv6 VIP", with(dead, func(l *leaving) { l.IPv4 = false }), noDrain},
		{"dead before the VIP was taken (promotion running)", with(dead, func(l *leaving) { l.Holding = false }), noDrain},
		{"dead Backup (no VIP)", with(dead, func(l *leaving) { l.Holding = false }), noDrain},

		{"shut down while draining on purpose: goes on", with(shutdown, func(l *leaving) { l.Holding, l.Draining = false, drainPlanned }), drainPlanned},
		{"dead while draining on purpose: ends", with(dead, func(l *leaving) { l.Holding, l.Draining = false, drainPlanned }), noDrain},
		{"dead drain, healthy again (Fault -> Backup): ends",
			leaving{State: fsm.Backup, Reason: fsm.ReasonHealthy, Healthy: true, Draining: drainDead, WatchClaims: true, WatchLocal: true, IPv4: true}, noDrain},
		{"dead drain, shut down: ends",
			leaving{State: fsm.Init, Reason: fsm.ReasonShutdown, Draining: drainDead, WatchClaims: true, WatchLocal: true, IPv4: true}, noDrain},
	} {
		got, why := drainFor(c.in)
		if got != c.want {
			t.Errorf("%s: %s (%q), want %s", c.name, got, why, c.want)
		}
		if (got == noDrain) != (why == "") {
			t.Errorf("%s: %s with reason %q", c.name, got, why)
		}
	}
}

func TestDrainOver(t *testing.T) {
	t0 := time.Unix(1000, 0)
	until := t0.Add(10 * time.Second)
	planned := drain{on: true, kind: drainPlanned, since: t0, until: until}
	deadDrain := drain{on: true, kind: drainDead, since: t0, until: until}
	in := func(at time.Duration, st fsm.State, paused, answered bool) drainNow {
		return drainNow{Now: t0.Add(at), State: st, Paused: paused, Answered: answered}
	}
	for _, c := range []struct {
		name string
		d    drain
		in   drainNow
		want string
	}{
		{"no drain", drain{}, in(time.Hour, fsm.Fault, true, true), ""},
		{"planned, before the bound", planned, in(time.Second, fsm.Backup, false, false), ""},
		{"planned, at the bound", planned, in(10*time.Second, fsm.Backup, false, false), endBound},
		{"planned: its own Redis answering is no reason", planned, in(time.Second, fsm.Backup, false, true), ""},
		{"dead, Redis still gone", deadDrain, in(time.Second, fsm.Fault, false, false), ""},
		{"dead, Redis answers again (restarted)", deadDrain, in(time.Second, fsm.Fault, false, true), endAnswered},
		{"dead, healthy again (Backup)", deadDrain, in(time.Second, fsm.Backup, false, false), endLeftFault},
		{"dead, Master again", deadDrain, in(time.Second, fsm.Master, false, false), endLeftFault},
		{"dead, shut down (Init)", deadDrain, in(time.Second, fsm.Init, false, false), endLeftFault},
		{"dead, maintenance mode on", deadDrain, in(time.Second, fsm.Fault, true, false), endPaused},
		{"dead, peer never claims: the bound", deadDrain, in(10*time.Second, fsm.Fault, false, false), endBound},
	} {
		if got := c.d.over(c.in); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// killLocal says a's Redis died: its checks fail from now on, and the
// liveness watcher's event comes at once.
func killLocal(n *testNode) time.Time {
	n.health.Set(false)
	at := time.Now()
	n.live.gone()
	synctest.Wait()
	return at
}

// wantDeadDrain checks that n went to FAULT at once and keeps the VIP.
func wantDeadDrain(t *testing.T, l *lab, n *testNode) {
	t.Helper()
	st := n.r.Status()
	if st.State != fsm.Fault || !st.Draining || st.HoldsVIP || !n.vips.Held() {
		t.Fatalf("%s right after its Redis died: %s draining=%v holds=%v on-interface=%v; want FAULT, draining, the VIP kept\n%s",
			n.name, st.State, st.Draining, st.HoldsVIP, n.vips.Held(), l.dump())
	}
}

// The local Redis dies: the master goes to FAULT at once (priority 0
// first), keeps the VIP until the new master announces it, and then
// releases it: there is always a holder, and two only until the claim is
// seen.
func TestDeadRedisDrainsUntilTheNewMasterAnnounces(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, ca, _ *claimingVIPs) {
		stop := make(chan struct{})
		gaps := l.holderless(stop)
		gone := killLocal(a)
		wantDeadDrain(t, l, a)
		if sent := l.sentBy("a", gone); len(sent) == 0 || sent[0].prio != 0 || !sent[0].at.Equal(gone) {
			t.Fatalf("a's adverts after the event: %+v, want priority 0 at once", sent)
		}
		took := waitFor(t, time.Second, "b holding the VIP", b.vips.Held)
		waitFor(t, 5*time.Millisecond, "a releasing it", func() bool { return !a.vips.Held() })
		close(stop)
		if g := <-gaps; g > 0 {
			t.Errorf("nobody held the VIP for %s\n%s", g, l.dump())
		}
		if w := l.worstDual(); w > 5*time.Millisecond {
			t.Errorf("both held the VIP for %s, want only until the claim is seen", w)
		}
		if st := a.r.Status(); st.State != fsm.Fault || st.Draining || ca.Waits() != 1 {
			t.Errorf("a after the claim: %+v, %d waits; want FAULT, not draining, one watch", st, ca.Waits())
		}
		ops := l.opsOf("a")
		iAdv, iRun, iClaim, iRemove := slices.Index(ops, "advert-0"), slices.Index(ops, "run:fault"), slices.Index(ops, "claimed-by-b"), slices.Index(ops, "vip-remove")
		if iAdv < 0 || iRun < iAdv || iClaim < iRun || iRemove < iClaim {
			t.Errorf("a's order %v: want advert-0, run:fault, claimed-by-b, vip-remove", ops)
		}
		t.Logf("b holds the VIP %s after a's Redis died", took)
	})
}

// Redis dies, the drain begins, and systemd restarts the Redis (guard may
// start it as a master: the peer is unreachable) before the new master
// announces the VIP: the VIP goes the moment the watcher sees it answer,
// never later, and the new master takes it when it is ready.
func TestDeadRedisRestartedDuringTheDrainReleasesAtOnce(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		b.trans.mu.Lock()
		b.trans.promote = 2 * time.Second // b's take-over is slow
		b.trans.mu.Unlock()
		killLocal(a)
		wantDeadDrain(t, l, a)
		time.Sleep(150 * time.Millisecond)
		wantDeadDrain(t, l, a)
		a.live.back() // it accepts connections again
		synctest.Wait()
		if a.vips.Held() || a.r.Status().Draining {
			t.Fatalf("a keeps the VIP after its Redis answers again: %+v\n%s", a.r.Status(), l.dump())
		}
		if ops := l.opsOf("a"); slices.Contains(ops, "claimed-by-b") || ops[len(ops)-1] != "vip-remove" {
			t.Errorf("a's operations %v: want the VIP removed on the answer, before any claim", ops)
		}
		waitFor(t, 3*time.Second, "b holding the VIP", b.vips.Held)
		if w := l.worstDual(); w > 0 {
			t.Errorf("both held the VIP for %s", w)
		}
	})
}

// Redis dies and the peer is dead too: nobody claims the VIP, and the
// drain ends at its bound (the transition timeout plus the master down
// interval); until then clients are refused at once.
func TestDeadRedisWithoutPeerReleasesAtTheBound(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		stopReleased(t, b)
		began := killLocal(a)
		wantDeadDrain(t, l, a)
		waitFor(t, 15*time.Second, "a releasing the VIP", func() bool { return !a.vips.Held() })
		took := time.Since(began)
		bound := a.r.o.TransitionTimeout + a.r.o.Settings.MasterDownInterval()
		if took < bound || took > bound+200*time.Millisecond {
			t.Errorf("a released the VIP %s after its Redis died, want at its bound %s", took, bound)
		}
		if st := a.r.Status(); st.State != fsm.Fault || st.Draining {
			t.Errorf("a after the bound: %+v, want FAULT, not draining", st)
		}
	})
}

// Redis dies, the peer is dead too, and the Redis comes back with its
// checks passing before the watcher's event: the node leaves FAULT, which
// ends the drain, and it becomes Master again by the usual way (promote
// first, then take the VIP).
func TestDeadRedisDrainThenMasterAgain(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		stopReleased(t, b)
		killLocal(a)
		wantDeadDrain(t, l, a)
		time.Sleep(300 * time.Millisecond)
		a.health.Set(true)
		waitFor(t, 3*time.Second, "a Master holding the VIP again", func() bool {
			st := a.r.Status()
			return st.State == fsm.Master && st.HoldsVIP
		})
		ops := l.opsOf("a")
		i0 := slices.Index(ops, "advert-0")
		rest := ops[i0:]
		iRemove, iRun, iAdd := slices.Index(rest, "vip-remove"), slices.Index(rest, "run:master"), slices.Index(rest, "vip-add")
		if i0 < 0 || iRemove < 0 || iRun < iRemove || iAdd < iRun {
			t.Errorf("a's order %v: want advert-0, vip-remove (leaving FAULT), run:master, vip-add", ops)
		}
		if a.r.Status().Draining {
			t.Error("a still draining as Master")
		}
	})
}

// Maintenance mode switched on during a dead drain: the VIPs follow the
// VRRP state (FAULT: none).
func TestDeadDrainEndsInMaintenance(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		b.trans.mu.Lock()
		b.trans.promote = 2 * time.Second
		b.trans.mu.Unlock()
		killLocal(a)
		wantDeadDrain(t, l, a)
		a.health.SetMaintenance(true)
		waitFor(t, 300*time.Millisecond, "a releasing the VIP", func() bool { return !a.vips.Held() })
	})
}

// A node draining on purpose (preempted) whose Redis dies releases the VIP
// at once, as before: only a drain begun by the death watches for the
// Redis answering again.
func TestPlannedDrainEndsWhenRedisDies(t *testing.T) {
	inDrainingPair(t, func(t *testing.T, l *lab, a, b *testNode, _, _ *claimingVIPs) {
		failOver(t, a, b)
		a.trans.mu.Lock()
		a.trans.promote = 2 * time.Second
		a.trans.mu.Unlock()
		a.health.Set(true)
		waitFor(t, 2*time.Second, "b draining", func() bool { return b.r.Status().Draining })
		killLocal(b)
		if b.vips.Held() || b.r.Status().Draining {
			t.Fatalf("b keeps the VIP after its Redis died while draining on purpose: %+v", b.r.Status())
		}
		waitFor(t, 3*time.Second, "a holding the VIP", a.vips.Held)
	})
}

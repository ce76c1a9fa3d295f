package vrrpe2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// Two `redis-vip run` hosts, a writer through the VIP (100 ms timeouts, a
// retry every 10 ms). kill -9 of the master's Redis: the old master goes to
// FAULT at once and keeps the VIP until the new master announces it (the
// drain on a dead Redis), so the client's connects through the VIP are
// refused at once by the old host's kernel instead of going unanswered
// until their timeout. Asserted, as counts rather than times: the drain
// ran and ended on the new master's claim; the client saw refusals and
// fewer timeouts than refusals (a VIP released at once gives timeouts and
// at most one refusal); no write was acknowledged by the old master after
// the new one acknowledged one; none lost beyond the crash window (W1); the
// VIP was on both hosts for at most one sample. Printed: the longest gap.
func TestKillMasterRedisClientsAreRefused(t *testing.T) {
	l := newLab(t)
	const every = 20 * time.Millisecond
	h1, h2, samp := startPair(t, l, every, 5*time.Second)

	key := "rvt-faultdrain"
	w, err := l.StartWriter(time.Minute, "--key", key)
	must(t, err)
	must(t, netlab.WaitFor(10*time.Second, "writes landing on h1", func() bool { return h1.LLen(key) > 300 }))

	killAt := h1.KillRedis()
	must(t, netlab.WaitFor(5*time.Second, "the VIP on h2 alone", func() bool { return l.Holder() == "h2" }))
	vipMoved := time.Since(killAt)
	must(t, netlab.WaitFor(5*time.Second, "h2 master", func() bool { return h2.Role() == "master" }))
	base := h2.LLen(key)
	must(t, netlab.WaitFor(10*time.Second, "writes resuming on h2", func() bool { return h2.LLen(key) > base+300 }))
	stopped := time.Now()
	must(t, w.Stop())
	samp.Stop()

	log := h1.RunLog(300)
	for _, want := range []string{"local Redis gone: unhealthy at once", "keeping the VIPs (clients are refused at once)", "the new master announced the VIPs: releasing them"} {
		if !strings.Contains(log, want) {
			t.Errorf("h1's log does not say %q:\n%s", want, log)
		}
	}
	refused, timeouts := w.Log.Errors["refused"], w.Log.Errors["timeout"]
	t.Logf("client errors: %v", w.Log.Errors)
	if refused < 1 || timeouts >= refused {
		t.Errorf("the client saw %d refused connects and %d timeouts: want refusals from the drained VIP, and fewer timeouts than refusals", refused, timeouts)
	}
	firstNew, _, ok := w.FirstAckAfter(killAt, h2.IP.String())
	if !ok {
		t.Fatal("no write acknowledged by h2 after the kill")
	}
	for _, a := range w.Log.Acks {
		if at := w.Log.Start.Add(a.At); at.After(firstNew) && a.By != h2.IP.String() {
			t.Errorf("write %d acknowledged by %s %s after h2's first acknowledgement", a.N, a.By, ms(at.Sub(firstNew)))
			break
		}
	}
	checkCrashWindow(t, w, h2, h1, killAt)
	// The old master keeps the VIP until it sees the new master's
	// gratuitous ARP (about a millisecond with both on it), and the
	// sampler reads the hosts one after the other: one sample may see
	// both; two in a row is two holders.
	if n := samp.MostDualSamples(); n > 1 {
		_, periods, _ := samp.Worst()
		t.Errorf("both hosts held the VIP for %d samples in a row: %v", n, periods)
	}
	gap, began := w.LongestGap(killAt, stopped)
	t.Logf("kill -9 of h1's Redis: VIP on h2 alone after %s; first write acknowledged by h2 after %s; longest write gap %s (from %s after the kill)",
		ms(vipMoved), ms(firstNew.Sub(killAt)), ms(gap), ms(began.Sub(killAt)))
	t.Logf("VIP holders (every %s): %v", every, samp.Changes())
}

// The peer is down (its redis-vip and its Redis), so nobody claims the VIP:
// after kill -9 of its Redis the old master keeps the VIP, and a client's
// connect through it is refused at once rather than left unanswered. Then
// its Redis is restarted (guard first, as systemd does): the VIP goes the
// moment the Redis accepts connections again, before anything else (the
// drain never keeps the VIP on a Redis that answers), and the node then
// comes back by the usual way. Asserted on the log and on the client's
// error, not on times.
func TestDeadRedisDrainEndsWhenRedisAnswers(t *testing.T) {
	l := newLab(t)
	h1, h2, samp := startPair(t, l, 20*time.Millisecond, 5*time.Second)
	if _, err := h2.StopRun(syscall.SIGTERM); err != nil {
		t.Fatalf("stop h2's redis-vip: %v", err)
	}
	h2.KillRedis()

	h1.KillRedis()
	must(t, netlab.WaitFor(5*time.Second, "h1 draining", func() bool {
		return strings.Contains(h1.RunLog(100), "keeping the VIPs (clients are refused at once)")
	}))
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h1" {
		t.Fatalf("during the drain the VIP is on %v, want h1", hs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	out, err := l.ClientRedis(ctx, netlab.VIP.Addr().String(), fmt.Sprint(netlab.RedisPort), "PING")
	cancel()
	if err == nil || !strings.Contains(strings.ToLower(out), "refused") {
		t.Errorf("a client's PING through the drained VIP: %q, %v; want connection refused", strings.TrimSpace(out), err)
	}

	out, err = h1.Guard()
	t.Logf("guard on h1 (peer down): %s %v", strings.TrimSpace(out), err)
	must(t, h1.StartRedis())
	answered := time.Now()
	must(t, netlab.WaitFor(5*time.Second, "h1's drain ended on its Redis answering", func() bool {
		return strings.Contains(h1.RunLog(200), `"because":"the local Redis accepts connections again"`)
	}))
	log := h1.RunLog(300)
	if strings.Contains(log, "the new master announced the VIPs") || strings.Contains(log, "no new master announced the VIPs within the bound") {
		t.Errorf("h1's drain ended otherwise than on the answer:\n%s", log)
	}
	samp.Stop()
	changes := samp.Changes()
	sawNone := false
	for _, c := range changes {
		if strings.HasSuffix(c, " none") {
			sawNone = true
		}
	}
	t.Logf("VIP holders (every 20 ms; Redis answering PING at %s): %v", answered.Format("15:04:05.000"), changes)
	if !sawNone {
		t.Errorf("the VIP never left h1 after its Redis answered again: %v", changes)
	}
}

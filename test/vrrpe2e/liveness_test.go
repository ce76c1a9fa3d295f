package vrrpe2e

import (
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// Two `redis-vip run` hosts, a writer through the VIP. kill -9 of the
// master's Redis: the held connection of the master's liveness watcher
// sees it at once, the master goes to FAULT without waiting for its
// checks (priority 0 first; it keeps the VIP, refusing clients, until
// the peer announces it) and the peer takes over. Before that,
// CLIENT KILL TYPE normal on the master (what a demotion does) moves
// nothing: the watcher reconnects. Asserted: the event path fired, the
// peer holds the VIP alone, no acknowledged write is lost beyond the crash
// window (W1). Printed, not asserted: the longest write gap.
func TestKillMasterRedisEventPath(t *testing.T) {
	l := newLab(t)
	h1, h2, samp := startPair(t, l, 20*time.Millisecond, 5*time.Second)

	key := "rvt-live"
	w, err := l.StartWriter(time.Minute, "--key", key)
	must(t, err)
	must(t, netlab.WaitFor(10*time.Second, "writes landing on h1", func() bool { return h1.LLen(key) > 300 }))

	// Not a death: every normal client of the master is killed, the
	// watcher's connection too; it reconnects and reports nothing.
	out, err := h1.Redis("CLIENT", "KILL", "TYPE", "normal")
	must(t, err)
	t.Logf("CLIENT KILL TYPE normal on h1: %s clients", strings.TrimSpace(out))
	time.Sleep(time.Second)
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h1" {
		t.Fatalf("after CLIENT KILL the VIP is on %v, want h1 alone", hs)
	}
	if log := h1.RunLog(200); strings.Contains(log, "local Redis gone") {
		t.Fatalf("CLIENT KILL was taken for a death:\n%s", log)
	}

	killAt := h1.KillRedis()
	must(t, netlab.WaitFor(5*time.Second, "the VIP on h2", func() bool { return l.Holder() == "h2" }))
	vipMoved := time.Since(killAt)
	must(t, netlab.WaitFor(5*time.Second, "h2 master", func() bool { return h2.Role() == "master" }))
	base := h2.LLen(key)
	must(t, netlab.WaitFor(10*time.Second, "writes resuming on h2", func() bool { return h2.LLen(key) > base+300 }))
	stopped := time.Now()
	must(t, w.Stop())
	samp.Stop()

	if log := h1.RunLog(200); !strings.Contains(log, "local Redis gone: unhealthy at once") {
		t.Errorf("h1 did not go to FAULT through the liveness event:\n%s", log)
	}
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h2" {
		t.Errorf("at the end the VIP is on %v, want h2 alone", hs)
	}
	// The old master keeps the VIP until it sees the new master's
	// gratuitous ARP (the drain on a dead Redis: about a millisecond with
	// both on it), and the sampler reads the hosts one after the other:
	// one sample may see both; two in a row is two holders.
	if n := samp.MostDualSamples(); n > 1 {
		_, periods, _ := samp.Worst()
		t.Errorf("both hosts held the VIP for %d samples in a row: %v", n, periods)
	}
	checkCrashWindow(t, w, h2, h1, killAt)
	gap, began := w.LongestGap(killAt.Add(-time.Second), stopped)
	first, by, _ := w.FirstAckAfter(killAt, h2.IP.String())
	t.Logf("kill -9 of h1's Redis: VIP on h2 after %s; first acknowledged write after %s (by %s); longest write gap %s (from %s after the kill)",
		ms(vipMoved), ms(first.Sub(killAt)), by, ms(gap), ms(began.Sub(killAt)))
	t.Logf("VIP holders (every 20 ms): %v", samp.Changes())
}

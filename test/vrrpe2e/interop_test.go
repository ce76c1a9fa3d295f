package vrrpe2e

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// (b) `redis-vip run` on h1 and keepalived (with the redis-vip check and
// notify hooks) on h2, same VRID, VRRPv2 and VRRPv3. They must agree on one
// master in both directions of failover, and never both hold the VIP for
// longer than one master-down interval.
func TestInteropKeepalived(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("needs keepalived")
	}
	for _, tc := range []struct {
		version int
		advert  time.Duration
	}{{3, 100 * time.Millisecond}, {2, time.Second}} {
		t.Run(fmt.Sprintf("VRRPv%d", tc.version), func(t *testing.T) { interop(t, tc.version, tc.advert) })
	}
}

func interop(t *testing.T, version int, advert time.Duration) {
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	// The longer of the two master-down intervals (keepalived's priority
	// 100 has the larger skew).
	mdi := fsm.MasterDownInterval(version, 100, advert)
	must(t, l.Pair(runVRRP(150, netlab.VRRP{"version": version, "advert_interval": advert.String(), "nopreempt": true}), nil))
	must(t, h2.WriteKeepalived(netlab.Keepalived{Version: version, VRID: 51, Priority: 100, AdvertInterval: advert.Seconds()}))
	samp := l.Sample(50 * time.Millisecond)
	defer samp.Stop()

	must(t, h2.StartKeepalived())
	must(t, h1.StartRun())
	must(t, netlab.WaitFor(3*mdi+5*time.Second, "the VIP on h1 (priority 150)", func() bool { return l.Holder() == "h1" }))
	stable(t, l, "h1", 2*mdi)

	// redis-vip -> keepalived: SIGTERM on the redis-vip master.
	at, err := h1.StopRun(syscall.SIGTERM)
	if err != nil {
		t.Errorf("redis-vip run: %v", err)
	}
	must(t, netlab.WaitFor(mdi+5*time.Second, "keepalived (h2) taking the VIP", func() bool { return l.Holder() == "h2" }))
	t.Logf("VRRPv%d redis-vip -> keepalived: VIP on h2 %s after SIGTERM", version, ms(time.Since(at)))
	must(t, netlab.WaitFor(20*time.Second, "h2's Redis promoted by notify-master", func() bool { return h2.Role() == "master" && h1.InSync() }))

	// redis-vip comes back with nopreempt: it follows keepalived's Master.
	must(t, h1.StartRun())
	stable(t, l, "h2", 2*mdi+time.Second)

	// keepalived -> redis-vip: SIGTERM on keepalived, the Master.
	at, err = h2.StopKeepalived()
	must(t, err)
	must(t, netlab.WaitFor(mdi+5*time.Second, "redis-vip (h1) taking the VIP", func() bool { return l.Holder() == "h1" }))
	t.Logf("VRRPv%d keepalived -> redis-vip: VIP on h1 %s after SIGTERM", version, ms(time.Since(at)))
	must(t, netlab.WaitFor(20*time.Second, "h1 master, h2 its replica", func() bool { return h1.Role() == "master" && h2.InSync() }))

	samp.Stop()
	worst, periods, n := samp.Worst()
	t.Logf("VRRPv%d: longest time both held the VIP: %s (master-down interval %s, %d samples every 50 ms); timeline %v", version, ms(worst), ms(mdi), n, samp.Changes())
	if worst > mdi {
		t.Errorf("both hosts held the VIP for %s, longer than one master-down interval (%s): %v", worst, mdi, periods)
	}
}

// stable checks that host alone holds the VIP for d.
func stable(t *testing.T, l *netlab.Lab, host string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if hs := l.Holders(); len(hs) != 1 || hs[0] != host {
			t.Fatalf("VIP holders %v, want only %s", hs, host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package check_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Check with fencing on (issue 10): a master whose peer is unknown needs
// the witness lease (as the fence file says); one promoted on unknown
// evidence and still waiting passes with a warning naming the wait.
func TestVerdictFence(t *testing.T) {
	fa := 5 * time.Second
	now := fence.Stamp{BootID: "boot", At: time.Hour}
	at := func(d time.Duration) *fence.Stamp { s := fence.Stamp{BootID: "boot", At: time.Hour + d}; return &s }
	closed := fence.Closed
	unknown := fmt.Errorf("INFO: %w: i/o timeout", node.ErrUnreachable)
	refused := fmt.Errorf("dial: %w: %w", node.ErrUnreachable, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	held := transition.FenceState{LeaseSent: at(-time.Second), LeaseUntil: at(4 * time.Second), PeerSeen: at(-2 * time.Second), At: at(0)}
	stale := transition.FenceState{LeaseSent: at(-3 * time.Second), LeaseUntil: at(3 * time.Second), PeerSeen: at(-2 * time.Second), At: at(0)}
	master := vMaster(vLocal, vHistA, 100, 10)
	in := func(f check.Fence, peer *node.Facts, perr error) check.Input {
		f.FenceAfter, f.Now, f.PendingSlack, f.KeeperStale = fa, now, time.Minute, 15*time.Second
		return check.Input{Local: master, Peer: peer, PeerErr: perr, LocalAnnounce: addrLocal, PeerAddr: addrPeer, Now: vNow, Fence: f}
	}
	for _, c := range []struct {
		name    string
		in      check.Input
		ok      bool
		reason  string
		warning string
	}{
		{name: "fencing off: master passes", in: in(check.Fence{}, nil, unknown), ok: true, reason: "local is master"},
		{name: "witness, peer unknown, no lease: fails", in: in(check.Fence{On: true, Witness: true, State: transition.FenceState{At: at(0), LeaseError: "witness refused our secret"}}, nil, unknown),
			reason: "does not hold the witness lease (not held: witness refused our secret)"},
		{name: "witness, peer unknown, lease held: passes", in: in(check.Fence{On: true, Witness: true, State: held}, nil, unknown), ok: true, reason: "local is master"},
		{name: "witness, peer unknown, lease renewed before the peer was last seen: fails", in: in(check.Fence{On: true, Witness: true, State: stale}, nil, unknown),
			reason: "does not hold the witness lease"},
		{name: "witness, peer refused (dead), no lease: passes", in: in(check.Fence{On: true, Witness: true, State: transition.FenceState{At: at(0)}}, nil, refused), ok: true, reason: "local is master"},
		{name: "witness, peer alive, no lease: passes", in: in(check.Fence{On: true, Witness: true, State: transition.FenceState{At: at(0)}}, vReplica(vPeer, vLocal, true, vHistA, 100, 10), nil), ok: true, reason: "local is master"},
		{name: "no witness, promoted on unknown, waiting: passes, names the wait", in: in(check.Fence{On: true, State: transition.FenceState{Promotion: at(-2 * time.Second), At: at(0), Level: &closed, Reason: "promoted on unknown evidence"}}, nil, unknown),
			ok: true, reason: "local is master", warning: "writes wait 3.75s more for the old master's fence"},
		{name: "witness with the lease, promoted, waiting: passes, names the wait", in: in(check.Fence{On: true, Witness: true, State: func() transition.FenceState { s := held; s.Promotion = at(-time.Second); return s }()}, nil, unknown),
			ok: true, reason: "local is master", warning: "writes wait 4.75s more"},
		{name: "no keeper ever: a warning", in: in(check.Fence{On: true}, vReplica(vPeer, vLocal, true, vHistA, 100, 10), nil), ok: true, warning: "no fence keeper has decided yet"},
		{name: "keeper gone quiet: a warning", in: in(check.Fence{On: true, State: transition.FenceState{At: at(-time.Minute)}}, vReplica(vPeer, vLocal, true, vHistA, 100, 10), nil), ok: true, warning: "no fence keeper has decided lately"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := check.Verdict(c.in)
			if res.OK != c.ok || !strings.Contains(res.Reason, c.reason) {
				t.Errorf("verdict %v %q, want %v %q", res.OK, res.Reason, c.ok, c.reason)
			}
			if c.warning != "" && !strings.Contains(strings.Join(res.Warnings, "|"), c.warning) {
				t.Errorf("warnings %q lack %q", res.Warnings, c.warning)
			}
			if c.warning == "" && !c.in.Fence.On && len(res.Warnings) > 0 {
				t.Errorf("fencing off, yet warnings %q", res.Warnings)
			}
		})
	}
}

// A replica whose master is unknown but holds the witness lease and renews
// it (the witness named it the holder for longer than a lease lasts) gives
// the VIP back, even while its master transition runs (waiting for a lease
// it cannot get): in a split, the VIP on the replica had stopped every
// write for the whole split. A holder seen for less than a lease (a dead
// master's lease running out) leaves the replica eligible.
func TestVerdictReplicaPeerRenewsLease(t *testing.T) {
	fa := 3 * time.Second
	d := fence.LeaseDuration(fa)
	now := fence.Stamp{BootID: "boot", At: time.Hour}
	at := func(x time.Duration) *fence.Stamp { s := fence.Stamp{BootID: "boot", At: time.Hour + x}; return &s }
	unknown := fmt.Errorf("INFO: %w: i/o timeout", node.ErrUnreachable)
	replica := vReplica(vLocal, vPeer, false, vHistA, 100, 10)
	renewing := transition.FenceState{LeaseHolder: vPeer, LeaseHolderSince: at(-d - 2*time.Second), LeaseHolderSeen: at(-100 * time.Millisecond), At: at(0)}
	expiring := transition.FenceState{LeaseHolder: vPeer, LeaseHolderSince: at(-2 * time.Second), LeaseHolderSeen: at(-100 * time.Millisecond), At: at(0)}
	for _, c := range []struct {
		name    string
		fence   check.Fence
		running bool
		ok      bool
		reason  string
	}{
		{"peer renews the lease", check.Fence{On: true, Witness: true, State: renewing}, false, false, "holds the witness lease and renews it"},
		{"peer renews the lease, transition running", check.Fence{On: true, Witness: true, State: renewing}, true, false, "holds the witness lease and renews it"},
		{"peer's lease running out", check.Fence{On: true, Witness: true, State: expiring}, false, true, "eligible to take over"},
		{"no witness", check.Fence{On: true, State: renewing}, false, true, "eligible to take over"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.fence
			f.FenceAfter, f.Now, f.PendingSlack, f.KeeperStale = fa, now, time.Minute, 15*time.Second
			in := check.Input{Local: replica, PeerErr: unknown, LocalAnnounce: addrLocal, PeerAddr: addrPeer, Now: vNow, Fence: f, TransitionRunning: c.running}
			if c.running {
				in.LastEvent = transition.EventMaster
			}
			res := check.Verdict(in)
			if res.OK != c.ok || !strings.Contains(res.Reason, c.reason) {
				t.Errorf("verdict %v %q, want %v %q", res.OK, res.Reason, c.ok, c.reason)
			}
		})
	}
}

package check_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

const (
	vLocal = "192.0.2.1:6379"
	vPeer  = "192.0.2.2:6379"
	vOther = "192.0.2.3:6379"
	vHistA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	vHistB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// addrLocal and addrPeer are vLocal and vPeer, parsed.
var addrLocal, addrPeer = node.Addr{Host: "192.0.2.1", Port: 6379}, node.Addr{Host: "192.0.2.2", Port: 6379}

var vNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func vMaster(addr, replid string, off, keys int64) *node.Facts {
	return &node.Facts{Addr: addr, ServerName: "redis", Version: node.Version{Major: 7, Minor: 2}, RunID: "run-" + addr,
		Role: node.RoleMaster, ReplID: replid, ReplOffset: off, Keys: keys, MasterLinkDownSecs: -1}
}

func vReplica(addr, of string, linkUp bool, replid string, off, keys int64) *node.Facts {
	f := vMaster(addr, replid, off, keys)
	f.Role = node.RoleReplica
	host, port, err := net.SplitHostPort(of)
	if err != nil {
		panic(err)
	}
	f.MasterHost = host
	f.MasterPort, _ = strconv.Atoi(port)
	f.MasterLinkUp = linkUp
	if !linkUp {
		f.MasterLinkDownSecs = 3
	}
	return f
}

func with(f *node.Facts, change func(*node.Facts)) *node.Facts {
	c := *f
	change(&c)
	return &c
}

type verdictCase struct {
	name string
	in   check.Input
	ok   bool
	// reason is a phrase the Reason must contain.
	reason string
	// warning is a phrase one warning must contain ("" for no warnings).
	warning string
}

func runVerdictCases(t *testing.T, cases []verdictCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.LocalAnnounce.IsZero() {
				in.LocalAnnounce = addrLocal
			}
			if in.PeerAddr.IsZero() {
				in.PeerAddr = addrPeer
			}
			if in.Now.IsZero() {
				in.Now = vNow
			}
			got := check.Verdict(in)
			if got.OK != tc.ok {
				t.Errorf("OK = %v, want %v (reason %q)", got.OK, tc.ok, got.Reason)
			}
			wantExit := check.ExitNotEligible
			if tc.ok {
				wantExit = check.ExitEligible
			}
			if got.ExitCode() != wantExit {
				t.Errorf("ExitCode = %d, want %d", got.ExitCode(), wantExit)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tc.reason)
			}
			if strings.Contains(got.Reason, "\n") {
				t.Errorf("reason %q is more than one line", got.Reason)
			}
			switch {
			case tc.warning == "" && len(got.Warnings) > 0:
				t.Errorf("warnings = %q, want none", got.Warnings)
			case tc.warning != "" && !strings.Contains(strings.Join(got.Warnings, "|"), tc.warning):
				t.Errorf("warnings = %q, want one containing %q", got.Warnings, tc.warning)
			}
		})
	}
}

// staleTicket is a master event keepalived delivered two minutes before vNow.
var staleTicket = transition.Ticket{Seq: 7, Event: transition.EventMaster, At: vNow.Add(-2 * time.Minute), Source: transition.SourceHook}

func edited[T any](v T, change func(*T)) T {
	change(&v)
	return v
}

func TestVerdict(t *testing.T) {
	healthyMaster := vMaster(vLocal, vHistA, 1000, 50)
	ourReplica := vReplica(vPeer, vLocal, true, vHistA, 1000, 50)
	peerMaster := vMaster(vPeer, vHistA, 1000, 50)
	cases := []verdictCase{
		{
			name:   "local unreachable",
			in:     check.Input{LocalErr: errors.New("dial tcp 192.0.2.1:6379: connection refused"), Peer: peerMaster},
			reason: "local redis unreachable: dial tcp",
		},
		{
			name:   "local loading",
			in:     check.Input{Local: with(healthyMaster, func(f *node.Facts) { f.Loading = true }), Peer: ourReplica},
			reason: "loading",
		},
		{
			name:   "peer is local (same run_id)",
			in:     check.Input{Local: healthyMaster, Peer: with(healthyMaster, func(f *node.Facts) { f.Addr = vPeer })},
			reason: "same run_id",
		},
		{
			name: "holdoff active",
			in: check.Input{Local: healthyMaster, Peer: ourReplica,
				Holdoff: transition.Holdoff{Until: vNow.Add(time.Second), Reason: "sync before promote timed out"}},
			reason: "holding off until 2025-03-01T12:00:01Z: sync before promote timed out",
		},
		{
			name: "holdoff expired",
			in: check.Input{Local: healthyMaster, Peer: ourReplica,
				Holdoff: transition.Holdoff{Until: vNow, Reason: "sync before promote timed out"}},
			ok: true, reason: "local is master",
		},
		{
			name: "holdoff wins over a running transition",
			in: check.Input{Local: healthyMaster, Peer: ourReplica, TransitionRunning: true,
				Holdoff: transition.Holdoff{Until: vNow.Add(time.Minute), Reason: "timeout"}},
			reason: "holding off",
		},
		{
			name:   "transition running",
			in:     check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 10, 1), Peer: peerMaster, TransitionRunning: true},
			ok:     true,
			reason: "transition in progress",
		},
		{
			name:   "transition running but local unreachable",
			in:     check.Input{LocalErr: errors.New("i/o timeout"), TransitionRunning: true},
			reason: "unreachable",
		},
		{
			name: "local master healthy, peer our replica",
			in:   check.Input{Local: healthyMaster, Peer: ourReplica},
			ok:   true, reason: "local is master",
		},
		{
			name: "local master healthy, peer unreachable",
			in:   check.Input{Local: healthyMaster, PeerErr: unreachable("connection refused")},
			ok:   true, reason: "local is master",
		},
		{
			name: "local master healthy, peer loading",
			in:   check.Input{Local: healthyMaster, Peer: with(peerMaster, func(f *node.Facts) { f.Loading = true; f.Keys = 0 })},
			ok:   true, reason: "local is master",
		},
		{
			name: "local master, peer an empty master",
			in:   check.Input{Local: healthyMaster, Peer: vMaster(vPeer, vHistB, 0, 0)},
			ok:   true, reason: "local is master",
		},
		{
			name:   "local master empty while the peer has keys (S5)",
			in:     check.Input{Local: vMaster(vLocal, vHistB, 0, 0), Peer: vReplica(vPeer, vLocal, false, vHistA, 5000, 1000)},
			reason: "empty while the peer holds 1000 keys",
		},
		{
			name:   "local master stale against a fresher peer master (S5)",
			in:     check.Input{Local: healthyMaster, Peer: vMaster(vPeer, vHistA, 2000, 60)},
			reason: "local master is stale",
		},
		{
			name: "local master behind a peer that continued its history",
			in: check.Input{Local: healthyMaster, Peer: with(vMaster(vPeer, vHistB, 1500, 60), func(f *node.Facts) {
				f.ReplID2, f.SecondReplOffset = vHistA, 1001
			})},
			reason: "stale",
		},
		{
			name: "local master ahead of an older peer master",
			in:   check.Input{Local: healthyMaster, Peer: vMaster(vPeer, vHistA, 900, 40)},
			ok:   true, reason: "local is master",
		},
		{
			name: "diverged: OK with a warning",
			in:   check.Input{Local: healthyMaster, Peer: vMaster(vPeer, vHistB, 3000, 70)},
			ok:   true, reason: "local is master", warning: "diverged",
		},
		{
			name: "diverged replica in sync with someone else: OK with a warning",
			in:   check.Input{Local: vReplica(vLocal, vOther, true, vHistA, 1000, 50), Peer: vMaster(vPeer, vHistB, 3000, 70)},
			ok:   true, reason: "in sync", warning: "split brain",
		},
		{
			name: "local replica in sync with the peer",
			in:   check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster},
			ok:   true, reason: "replica in sync with 192.0.2.2:6379",
		},
		{
			name:   "local replica in full sync",
			in:     check.Input{Local: with(vReplica(vLocal, vPeer, false, vHistA, 1000, 50), func(f *node.Facts) { f.MasterSyncInProgress = true }), Peer: peerMaster},
			reason: "full sync",
		},
		{
			name:   "local empty replica in its first full sync",
			in:     check.Input{Local: with(vReplica(vLocal, vPeer, false, vHistB, 0, 0), func(f *node.Facts) { f.MasterSyncInProgress = true }), Peer: peerMaster},
			reason: "full sync",
		},
		{
			name: "local replica, link down, peer unreachable: eligible",
			in: check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 1000, 50),
				PeerErr: unreachable("connection refused")},
			ok: true, reason: "unreachable (connection refused",
		},
		{
			name:   "local replica, link down, peer reachable",
			in:     check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 1000, 50), Peer: peerMaster},
			reason: "link to 192.0.2.2:6379 is down",
		},
		{
			name:   "local replica of a third server, link down, peer unreachable",
			in:     check.Input{Local: vReplica(vLocal, vOther, false, vHistA, 1000, 50), PeerErr: unreachable("timeout")},
			reason: "link to 192.0.2.3:6379 is down",
		},
		{
			name:   "replication loop",
			in:     check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 1000, 50), Peer: vReplica(vPeer, vLocal, false, vHistA, 1000, 50)},
			reason: "replication loop",
		},
		{
			name:   "LastEvent master while local is a replica",
			in:     check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster},
			reason: "give the VIP back",
		},
		{
			name: "a stale master event (keepalived's, past its bound, no VIP held) lets an in-sync replica pass",
			in: check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster,
				Newest: staleTicket, StaleMasterAfter: time.Minute, VIPs: transition.VIPs{Known: true}, Now: vNow},
			ok: true, reason: "in sync", warning: "stale",
		},
		{
			name: "a master event within its bound still fails a replica",
			in: check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster,
				Newest: edited(staleTicket, func(t *transition.Ticket) { t.At = vNow.Add(-30 * time.Second) }), StaleMasterAfter: time.Minute, VIPs: transition.VIPs{Known: true}, Now: vNow},
			reason: "give the VIP back",
		},
		{
			name: "an old master event while this host holds the VIP is current",
			in: check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster,
				Newest: staleTicket, StaleMasterAfter: time.Minute, VIPs: transition.VIPs{Known: true, Held: true}, Now: vNow},
			reason: "give the VIP back",
		},
		{
			name: "an old master event from the built-in router is current (it comes in order)",
			in: check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster,
				Newest: edited(staleTicket, func(t *transition.Ticket) { t.Source = transition.SourceRouter }), StaleMasterAfter: time.Minute, Now: vNow},
			reason: "give the VIP back",
		},
		{
			name: "an old master event while the replica's link is down is not stale",
			in: check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventMaster,
				Newest: staleTicket, StaleMasterAfter: time.Minute, Now: vNow},
			reason: "give the VIP back",
		},
		{
			name: "LastEvent backup while local is a replica in sync",
			in:   check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: peerMaster, LastEvent: transition.EventBackup},
			ok:   true, reason: "in sync",
		},
		{
			name: "LastEvent master while local is master",
			in:   check.Input{Local: healthyMaster, Peer: ourReplica, LastEvent: transition.EventMaster},
			ok:   true, reason: "local is master",
		},
		{
			name: "both empty, local master",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 0, 0), Peer: vReplica(vPeer, vLocal, true, vHistA, 0, 0)},
			ok:   true, reason: "local is master",
		},
		{
			name: "both empty, local replica in sync",
			in:   check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 0, 0), Peer: vMaster(vPeer, vHistA, 0, 0)},
			ok:   true, reason: "in sync",
		},
	}
	runVerdictCases(t, cases)
}

// TestVerdictSafetyCore covers the rules S9 to S11 with one row per class:
// a peer that answers is alive, staleness is bounded, and offsets grown by
// expiry or PINGs alone never make a node "fresher".
func TestVerdictSafetyCore(t *testing.T) {
	// B was promoted from A's history at offset 1000 (second_repl_offset
	// 1001); both went on.
	promoted := func(addr string, off int64) *node.Facts {
		f := vMaster(addr, vHistB, off, 50)
		f.ReplID2, f.SecondReplOffset = vHistA, 1001
		return f
	}
	oldMaster := func(addr string, off int64) *node.Facts { return vMaster(addr, vHistA, off, 60) }
	busy := fmt.Errorf("INFO %s: BUSY Redis is busy running a script", vPeer)
	auth := fmt.Errorf("INFO %s: %w: WRONGPASS invalid username-password pair", vPeer, node.ErrAuth)
	replica := vReplica(vLocal, vPeer, false, vHistA, 1000, 50)
	runVerdictCases(t, []verdictCase{
		{
			name:   "S9: replica whose master answers -BUSY does not take over",
			in:     check.Input{Local: replica, PeerErr: busy},
			reason: "answers with an error, so it is alive",
		},
		{
			name:   "S9: replica whose master refuses our password does not take over",
			in:     check.Input{Local: replica, PeerErr: auth},
			reason: "alive",
		},
		{
			name: "S9: master whose peer answers with an error stays, with a warning",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 1000, 50), PeerErr: busy},
			ok:   true, reason: "local is master", warning: "alive",
		},
		{
			name:   "S10: replica whose link has been down longer than the bound",
			in:     check.Input{Local: with(replica, func(f *node.Facts) { f.MasterLinkDownSecs = 30 }), PeerErr: unreachable("connection refused"), MaxLinkDown: 10 * time.Second},
			reason: "beyond max_link_down 10s",
		},
		{
			name:   "S10: replica whose link never came up since it started",
			in:     check.Input{Local: with(replica, func(f *node.Facts) { f.MasterLinkDownSecs = -1 }), PeerErr: unreachable("connection refused"), MaxLinkDown: 10 * time.Second},
			reason: "has not been up since it started",
		},
		{
			name: "S10: replica within the bound takes over",
			in:   check.Input{Local: with(replica, func(f *node.Facts) { f.MasterLinkDownSecs = 2 }), PeerErr: unreachable("connection refused"), MaxLinkDown: 10 * time.Second},
			ok:   true, reason: "eligible to take over",
		},
		{
			name: "S10: bound off",
			in:   check.Input{Local: with(replica, func(f *node.Facts) { f.MasterLinkDownSecs = 3000 }), PeerErr: unreachable("connection refused")},
			ok:   true, reason: "eligible to take over",
		},
		{
			name:   "S11: promoted during a blip, only expiry since, the old master took writes: give the VIP back",
			in:     check.Input{Local: promoted(vLocal, 1400), Peer: oldMaster(vPeer, 9000), LocalStream: node.WritesDeletesOnly, PeerStream: node.WritesSome},
			reason: "took no writes since",
		},
		{
			name: "S11: old master that took writes while the blip-promoted peer took none stays",
			in:   check.Input{Local: oldMaster(vLocal, 9000), Peer: promoted(vPeer, 1400), LocalStream: node.WritesSome, PeerStream: node.WritesDeletesOnly},
			ok:   true, reason: "local is master", warning: "took no writes since",
		},
		{
			name:   "S11: old master superseded by a peer that took writes",
			in:     check.Input{Local: oldMaster(vLocal, 1300), Peer: promoted(vPeer, 9000), LocalStream: node.WritesNone, PeerStream: node.WritesSome},
			reason: "superseded",
		},
		{
			name:   "S11: streams unknown: the successor rule stands",
			in:     check.Input{Local: oldMaster(vLocal, 9000), Peer: promoted(vPeer, 1400)},
			reason: "superseded",
		},
		{
			name:   "a transition running does not excuse a superseded master (I4: two masters of diverged data)",
			in:     check.Input{Local: oldMaster(vLocal, 1300), Peer: promoted(vPeer, 9000), LocalStream: node.WritesSome, PeerStream: node.WritesSome, TransitionRunning: true},
			reason: "superseded",
		},
		{
			name:   "S9: a master told to stand down whose peer answers with an error is not eligible",
			in:     check.Input{Local: vMaster(vLocal, vHistA, 1000, 50), PeerErr: busy, LastEvent: transition.EventFault},
			reason: "newest event is fault",
		},
		{
			name: "S9: a master VRRP keeps whose peer answers with an error stays eligible",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 1000, 50), PeerErr: busy, LastEvent: transition.EventMaster},
			ok:   true, reason: "local is master", warning: "alive",
		},
		{
			name:   "a replica whose host holds the VIP without a master event gives it back (a lost notify_master)",
			in:     check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: vMaster(vPeer, vHistA, 1000, 50), VIPs: transition.VIPs{Known: true, Held: true}, LastEvent: transition.EventBackup},
			reason: "holds the VIP",
		},
		{
			name:   "two masters of diverged data: the one told to stand down is not eligible (I4)",
			in:     check.Input{Local: vMaster(vLocal, vHistB, 0, 745), Peer: vMaster(vPeer, vHistA, 80000, 1200), LastEvent: transition.EventFault},
			reason: "newest event is fault",
		},
		{
			name: "two masters of diverged data: the one VRRP keeps stays eligible, with a warning",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 80000, 1200), Peer: vMaster(vPeer, vHistB, 0, 745), LastEvent: transition.EventMaster},
			ok:   true, reason: "local is master", warning: "diverged",
		},
		{
			name: "a replica in sync without the VIP stays eligible",
			in:   check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: vMaster(vPeer, vHistA, 1000, 50), LastEvent: transition.EventBackup},
			ok:   true, reason: "in sync",
		},
		{
			name: "a master holding the VIP is fine",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 1000, 50), Peer: vReplica(vPeer, vLocal, true, vHistA, 1000, 50), VIPs: transition.VIPs{Known: true, Held: true}},
			ok:   true, reason: "local is master",
		},
		{
			name: "a master drained on purpose (FLUSHALL after the peer's position) serves",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 2000, 0), Peer: vReplica(vPeer, vLocal, false, vHistA, 1500, 80)},
			ok:   true, reason: "local is master",
		},
		{
			name: "S11: a peer in a full sync is not judged",
			in:   check.Input{Local: vMaster(vLocal, vHistA, 1000, 50), Peer: with(vMaster(vPeer, vHistB, 5000, 70), func(f *node.Facts) { f.MasterSyncInProgress = true })},
			ok:   true, reason: "local is master",
		},
	})
}

// TestVerdictOffsetSkew: check reads the two servers concurrently, so a
// healthy in-sync replica read a moment after its master shows a higher
// offset in the same history. That must not make the master "stale", or
// every check under write load may fail and move the VIP for nothing.
func TestVerdictOffsetSkew(t *testing.T) {
	runVerdictCases(t, []verdictCase{{
		name: "master read before its in-sync replica",
		in: check.Input{Local: vMaster(vLocal, vHistA, 1000, 50),
			Peer: vReplica(vPeer, vLocal, true, vHistA, 1050, 51)},
		ok: true, reason: "local is master",
	}, {
		// Torture seed 5004: the replica reconnects after a partition; its
		// link is down, yet it replicates local's current history, so it
		// holds nothing local lacks.
		name: "master read before its reconnecting replica",
		in: check.Input{Local: vMaster(vLocal, vHistA, 1000, 50),
			Peer: vReplica(vPeer, vLocal, false, vHistA, 1050, 51)},
		ok: true, reason: "local is master",
	}, {
		name: "master restarted (a new history) behind its replica of the old one",
		in: check.Input{Local: with(vMaster(vLocal, vHistB, 10, 5), func(f *node.Facts) {
			f.ReplID2, f.SecondReplOffset = vHistA, 11 // restarted from an RDB at offset 10
		}), Peer: vReplica(vPeer, vLocal, false, vHistA, 1050, 51)},
		reason: "stale",
	}})
}

// unreachable is a peer error as node.Client gives it for a peer that
// cannot be reached at all.
func unreachable(msg string) error { return fmt.Errorf("%s: %w", msg, node.ErrUnreachable) }

func TestHoldsAny(t *testing.T) {
	vip := netip.MustParseAddr("192.0.2.10")
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.11"), Mask: net.CIDRMask(24, 32)}, &net.IPNet{IP: net.ParseIP("192.0.2.10").To4(), Mask: net.CIDRMask(32, 32)}}
	if !check.HoldsAny([]netip.Addr{vip}, addrs) {
		t.Errorf("192.0.2.10 is on the interface: want held")
	}
	if check.HoldsAny([]netip.Addr{vip}, addrs[:1]) || check.HoldsAny(nil, addrs) {
		t.Errorf("want not held")
	}
}

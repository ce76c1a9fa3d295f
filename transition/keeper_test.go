package transition

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/witness"
)

func TestKeeperPlan(t *testing.T) {
	fa := 5 * time.Second
	lag := fence.MaxLag(fa)
	wait := fa + fence.Margin(fa)
	for _, c := range []struct {
		name           string
		v              KeeperView
		decided        bool
		level          fence.Level
		setLag, setMin int
		clear, release bool
		reason         string
	}{
		{name: "replica: nothing", v: KeeperView{MinReplicas: 2, MaxLag: 10}, setLag: -1, setMin: -1},
		{name: "replica holding a lease: give it back", v: KeeperView{Witness: true, LeaseValid: true, MinReplicas: 2}, setLag: -1, setMin: -1, release: true},
		{name: "master, peer in sync, open: arm (lag first)", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerInSync: true, MinReplicas: 0, MaxLag: 10},
			decided: true, level: fence.Armed, setLag: lag, setMin: 1, reason: "armed"},
		{name: "master armed already: nothing to set", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerInSync: true, MinReplicas: 1, MaxLag: lag},
			decided: true, level: fence.Armed, setLag: -1, setMin: -1, reason: "armed"},
		{name: "peer unknown: close", v: KeeperView{LocalMaster: true, Peer: fence.Unknown, MinReplicas: 1, MaxLag: lag},
			decided: true, level: fence.Closed, setLag: -1, setMin: 2, reason: "peer unknown"},
		{name: "peer dead: open", v: KeeperView{LocalMaster: true, Peer: fence.Dead, MinReplicas: 2, MaxLag: lag},
			decided: true, level: fence.Open, setLag: -1, setMin: 0, reason: "positively dead"},
		{name: "peer syncing from local: open", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerSyncing: true, MinReplicas: 1, MaxLag: lag},
			decided: true, level: fence.Open, setLag: -1, setMin: 0, reason: "syncing"},
		{name: "witness, lease held, peer in sync: armed, not open", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerInSync: true, Witness: true, LeaseHeld: true, LeaseValid: true, MinReplicas: 0, MaxLag: 10},
			decided: true, level: fence.Armed, setLag: lag, setMin: 1, reason: "armed"},
		{name: "witness, lease held, peer alive but no replica in sync: open", v: KeeperView{LocalMaster: true, Peer: fence.Alive, Witness: true, LeaseHeld: true, LeaseValid: true, MinReplicas: 1, MaxLag: lag},
			decided: true, level: fence.Open, setLag: -1, setMin: 0, reason: "witness lease"},
		{name: "witness, promoted with the lease, waited, peer back in sync: armed and settled", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerInSync: true, Witness: true, LeaseHeld: true, Promoted: true, Since: wait, MinReplicas: 0, MaxLag: lag},
			decided: true, level: fence.Armed, setLag: -1, setMin: 1, clear: true, reason: "armed"},
		{name: "witness, lease held, peer unknown: open", v: KeeperView{LocalMaster: true, Peer: fence.Unknown, Witness: true, LeaseHeld: true, LeaseValid: true, MinReplicas: 2, MaxLag: lag},
			decided: true, level: fence.Open, setLag: -1, setMin: 0, reason: "witness lease"},
		{name: "witness, no lease, peer unknown: closed", v: KeeperView{LocalMaster: true, Peer: fence.Unknown, Witness: true, MinReplicas: 0, MaxLag: lag},
			decided: true, level: fence.Closed, setLag: -1, setMin: 2, reason: "no witness lease"},
		{name: "promoted on unknown, waiting: closed", v: KeeperView{LocalMaster: true, Peer: fence.Unknown, Promoted: true, Since: time.Second, MinReplicas: 2, MaxLag: 10},
			decided: true, level: fence.Closed, setLag: -1, setMin: -1, reason: "writes wait"},
		{name: "promoted on unknown, waited: open", v: KeeperView{LocalMaster: true, Peer: fence.Unknown, Promoted: true, Since: wait, MinReplicas: 2, MaxLag: 10},
			decided: true, level: fence.Open, setLag: -1, setMin: 0, reason: "fence is up"},
		{name: "promoted, peer back in sync: arm and settle the promotion", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerInSync: true, Promoted: true, Since: time.Second, MinReplicas: 2, MaxLag: 10},
			decided: true, level: fence.Armed, setLag: lag, setMin: 1, clear: true, reason: "armed"},
		{name: "the old master after a heal, its peer another master: closed (torture seeds 5011, 5015)", v: KeeperView{LocalMaster: true, Peer: fence.Alive, PeerElsewhere: true, MinReplicas: 2, MaxLag: lag},
			decided: true, level: fence.Closed, setLag: -1, setMin: -1, reason: "does not replicate"},
		{name: "CONFIG GET refused: set it all", v: KeeperView{LocalMaster: true, Peer: fence.Alive, MinReplicas: -1, MaxLag: -1},
			decided: true, level: fence.Armed, setLag: lag, setMin: 1, reason: "armed"},
	} {
		c.v.FenceAfter = fa
		a := KeeperPlan(c.v)
		if a.Decided != c.decided || (c.decided && a.Decision.Level != c.level) || a.SetMaxLag != c.setLag || a.SetMinReplicas != c.setMin ||
			a.ClearPromotion != c.clear || a.Release != c.release || !strings.Contains(a.Decision.Reason, c.reason) {
			t.Errorf("%s: %+v", c.name, a)
		}
	}
}

// keeperRig is a Keeper on the fakes of a rig: local master, peer its
// in-sync replica.
func keeperRig(t *testing.T, w Witness) (*rig, *Keeper, *observer.ObservedLogs) {
	g := newRig(t)
	g.peer.follow(addrL, true)
	core, logs := observer.New(zap.DebugLevel)
	k := &Keeper{Log: zap.New(core), State: g.r.State, Local: g.local, Peer: g.peer, LocalAnnounce: node.MustParseAddr(addrL),
		FenceAfter: 5 * time.Second, Interval: time.Millisecond, ProbeTimeout: time.Second, PendingSlack: time.Minute,
		Witness: w, LeaseDuration: fence.LeaseDuration(5 * time.Second)}
	if w != nil {
		k.lease = &leaseView{w: w, d: k.LeaseDuration, margin: fence.Margin(k.FenceAfter), sd: k.State, log: k.Log}
	}
	return g, k, logs
}

func TestKeeperPasses(t *testing.T) {
	g, k, logs := keeperRig(t, nil)
	ctx := context.Background()
	k.Pass(ctx)
	if g.local.config["min-replicas-to-write"] != "1" || g.local.config["min-replicas-max-lag"] != "3" {
		t.Fatalf("in sync: config %v, want armed with lag 3", g.local.config)
	}
	k.Pass(ctx) // nothing changes: no CONFIG SET, no second log line
	if n := g.local.n("ConfigSet"); n != 2 {
		t.Errorf("%d CONFIG SETs after two passes, want 2", n)
	}
	g.peer.fail("Facts", 0, errUnreachable)
	k.Pass(ctx)
	if g.local.config["min-replicas-to-write"] != "2" {
		t.Fatalf("peer unknown: config %v, want closed", g.local.config)
	}
	fs, _ := k.State.ReadFence()
	if fs.Level == nil || *fs.Level != fence.Closed || fs.Evidence != "unknown" || fs.PeerSeen == nil {
		t.Errorf("fence file %+v", fs)
	}
	if n := logs.FilterMessage("fence closed").Len(); n != 1 {
		t.Errorf("%d 'fence closed' lines, want 1", n)
	}
	k.Pass(ctx)
	if n := logs.FilterMessage("fence closed").Len(); n != 1 {
		t.Errorf("%d 'fence closed' lines after a second pass, want 1", n)
	}
	// A promotion on unknown evidence, then the peer back in sync: armed,
	// and the stamp settled.
	stamp, _ := fence.Now()
	_ = k.State.UpdateFence(func(f *FenceState) bool { f.Promotion = &stamp; return true })
	g.peer.fail("Facts", 0, nil)
	g.peer.set(func(f *fakeRedis) { f.down = false })
	delete(g.peer.errs, "Facts")
	k.Pass(ctx)
	fs, _ = k.State.ReadFence()
	if fs.Promotion != nil || g.local.config["min-replicas-to-write"] != "1" {
		t.Errorf("peer back in sync: promotion %v, config %v", fs.Promotion, g.local.config)
	}
	// Local a replica: nothing is set.
	g.local.follow(addrP, true)
	before := g.local.n("ConfigSet")
	g.peer.fail("Facts", 0, errUnreachable)
	k.Pass(ctx)
	if g.local.n("ConfigSet") != before {
		t.Errorf("a replica's settings were changed: %v", g.local.log())
	}
}

// A hung or dead local Redis: nothing set, the lease not renewed, one line.
func TestKeeperLocalUnreadable(t *testing.T) {
	w := &fakeWitness{grant: true}
	g, k, logs := keeperRig(t, w)
	g.local.fail("Facts", 0, errUnreachable)
	for range 3 {
		k.Pass(context.Background())
	}
	if acq, _ := w.counts(); acq != 0 || g.local.n("ConfigSet") != 0 {
		t.Errorf("%d witness calls, %d CONFIG SETs; want none", acq, g.local.n("ConfigSet"))
	}
	if n := logs.FilterMessageSnippet("local Redis unreadable").Len(); n != 1 {
		t.Errorf("%d lines, want 1", n)
	}
}

// With a witness: the holder is armed while its replica is in sync, opens
// when the peer vanishes, a node that cannot get the lease closes, a
// replica gives the lease back.
func TestKeeperWitness(t *testing.T) {
	w := &fakeWitness{grant: true}
	g, k, logs := keeperRig(t, w)
	ctx := context.Background()
	g.local.config = map[string]string{"min-replicas-to-write": "1"}
	k.Pass(ctx)
	if g.local.config["min-replicas-to-write"] != "1" || g.local.config["min-replicas-max-lag"] != "3" {
		t.Fatalf("lease held, peer in sync: config %v, want armed with lag 3", g.local.config)
	}
	if acq, _ := w.counts(); acq != 1 {
		t.Errorf("%d witness calls, want 1: an armed holder keeps its lease", acq)
	}
	k.Pass(ctx) // the peer seen alive after the last renewal
	g.peer.fail("Facts", 0, errUnreachable)
	k.lease.asked = time.Now().Add(-time.Second) // past the retry spacing
	acq0, _ := w.counts()
	k.Pass(ctx)
	if acq, _ := w.counts(); acq != acq0+1 || g.local.config["min-replicas-to-write"] != "0" {
		t.Errorf("peer gone: %d renewals (want 1, at once), config %v (want open)", acq-acq0, g.local.config)
	}
	// The witness now refuses our secret: the grant runs out, the fence
	// closes, one line however often it repeats.
	w.mu.Lock()
	w.err = fmt.Errorf("witness w:1 pair p: %w", witness.ErrWrongSecret)
	w.mu.Unlock()
	k.lease.lease.Until = time.Now() // the earlier grant is over
	for range 5 {
		k.lease.asked = time.Now().Add(-time.Second)
		k.Pass(ctx)
	}
	if g.local.config["min-replicas-to-write"] != "2" {
		t.Errorf("no lease, peer unknown: config %v, want closed", g.local.config)
	}
	if n := logs.FilterMessage("witness: no lease from this call").Len(); n != 1 {
		t.Errorf("%d witness lines, want 1", n)
	}
	fs, _ := k.State.ReadFence()
	if !strings.Contains(fs.LeaseError, "secret") {
		t.Errorf("fence file lease error %q", fs.LeaseError)
	}
	// Demoted while holding a lease: given back.
	w.mu.Lock()
	w.err, w.grant = nil, true
	w.mu.Unlock()
	k.lease.asked = time.Time{}
	g.peer.fail("Facts", 0, nil)
	delete(g.peer.errs, "Facts")
	k.Pass(ctx)
	g.local.follow(addrP, true)
	k.Pass(ctx)
	if _, rel := w.counts(); rel != 1 {
		t.Errorf("%d releases after the demotion, want 1", rel)
	}
}

// A keeper that stops with the fence open on the lease arms it (nobody
// renews the lease now); one that stops armed or open for another reason
// leaves it.
func TestKeeperStopArms(t *testing.T) {
	w := &fakeWitness{grant: true}
	g, k, logs := keeperRig(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	k.Pass(ctx)
	k.Pass(ctx)
	g.peer.fail("Facts", 0, errUnreachable)
	k.lease.asked = time.Now().Add(-time.Second)
	k.Pass(ctx)
	if g.local.config["min-replicas-to-write"] != "0" {
		t.Fatalf("lease held, peer unknown: config %v, want open", g.local.config)
	}
	cancel()
	k.stop(ctx)
	if g.local.config["min-replicas-to-write"] != "1" || g.local.config["min-replicas-max-lag"] != "3" {
		t.Errorf("stopped open on the lease: config %v, want armed", g.local.config)
	}
	if fs, _ := k.State.ReadFence(); fs.Level == nil || *fs.Level != fence.Armed {
		t.Errorf("fence file %+v, want armed", fs)
	}
	if n := logs.FilterMessageSnippet("is armed").Len(); n != 1 {
		t.Errorf("%d lines about arming, want 1", n)
	}

	// Open because the peer is positively dead: left open.
	g2, k2, _ := keeperRig(t, nil)
	g2.peer.fail("Facts", 0, errRefused)
	k2.Pass(context.Background())
	if fs, _ := k2.State.ReadFence(); fs.Level == nil || *fs.Level != fence.Open {
		t.Fatalf("peer dead: fence file %+v, want open", fs)
	}
	sets := g2.local.n("ConfigSet")
	k2.stop(context.Background())
	if g2.local.n("ConfigSet") != sets {
		t.Errorf("stopped open on a dead peer: %v, want nothing set", g2.local.log())
	}
}

func TestKeeperMaintenance(t *testing.T) {
	g, k, _ := keeperRig(t, nil)
	if err := maintenance.Enable(k.State.Dir, k.State.Instance, maintenance.State{On: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	k.Run(ctx)
	if n := g.local.n("Facts") + g.local.n("ConfigSet"); n != 0 {
		t.Errorf("%d calls under maintenance, want none", n)
	}
}

// PeerAsReplica judges the peer from both sides: a replica's own "link
// up" is not enough for an armed fence, which needs the master to count
// an acknowledgement within max-lag (after a heal the replica's link can
// look up while its acknowledgements wait out TCP's retransmission
// backoff: a 12 s gap of refused writes on a lease holder).
func TestPeerAsReplica(t *testing.T) {
	const local = "192.0.2.1:6379"
	master := func(reps ...node.Replica) node.Facts {
		return node.Facts{Role: node.RoleMaster, ReplID: "a", Replicas: reps}
	}
	replica := func(of string, up bool) node.Facts {
		host, port, _ := net.SplitHostPort(of)
		n, _ := strconv.Atoi(port)
		return node.Facts{Role: node.RoleReplica, MasterHost: host, MasterPort: n, MasterLinkUp: up, ReplID: "a"}
	}
	online := func(lag int64) node.Replica {
		return node.Replica{IP: "192.0.2.2", Port: 6379, State: "online", Lag: lag}
	}
	for _, c := range []struct {
		name                       string
		l, p                       node.Facts
		syncing, inSync, elsewhere bool
	}{
		{"in sync, acknowledged within max-lag", master(online(0)), replica(local, true), false, true, false},
		{"at max-lag", master(online(1)), replica(local, true), false, true, false},
		{"link up on the replica, acknowledgements 12 s old", master(online(12)), replica(local, true), false, false, false},
		{"link up on the replica, no replica on the master", master(), replica(local, true), false, false, false},
		{"in a full sync on the master", master(node.Replica{IP: "192.0.2.2", Port: 6379, State: "wait_bgsave"}), replica(local, true), false, false, false},
		{"link down", master(online(0)), replica(local, false), true, false, false},
		{"another master", master(online(0)), node.Facts{Role: node.RoleMaster, ReplID: "b"}, false, false, true},
		{"the replica of someone else", master(), replica("192.0.2.3:6379", true), false, false, true},
	} {
		s, i, e := PeerAsReplica(c.l, c.p, node.MustParseAddr(local), 1)
		if s != c.syncing || i != c.inSync || e != c.elsewhere {
			t.Errorf("%s: syncing %v, in sync %v, elsewhere %v; want %v %v %v", c.name, s, i, e, c.syncing, c.inSync, c.elsewhere)
		}
	}
}

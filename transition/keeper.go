package transition

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
)

// KeeperView is what one pass of the fence keeper knows: the input of
// KeeperPlan, read at the edges.
type KeeperView struct {
	// FenceAfter is fence_after (> 0: the keeper runs only with fencing on).
	FenceAfter time.Duration
	// LocalMaster: the local Redis is a master.
	LocalMaster bool
	// Peer is the evidence of this pass's peer read; PeerSyncing,
	// PeerInSync and PeerElsewhere say how the peer stands as local's
	// replica (PeerAsReplica; none when it could not be read).
	Peer                                   fence.Evidence
	PeerSyncing, PeerInSync, PeerElsewhere bool
	// Witness: a witness is configured. LeaseHeld: fence.Input's;
	// LeaseValid: this node holds a grant at all (to give back).
	Witness, LeaseHeld, LeaseValid bool
	// Promoted: the fence file holds a promotion on unknown evidence,
	// Since ago.
	Promoted bool
	Since    time.Duration
	// MinReplicas and MaxLag are what CONFIG GET shows (-1 unknown).
	MinReplicas, MaxLag int
}

// KeeperActions is what a pass does. -1 leaves a setting as it is.
type KeeperActions struct {
	// Decision is the master's fence (zero on a replica: Decided false).
	Decision fence.Decision
	Decided  bool
	// SetMaxLag and SetMinReplicas are the CONFIG SETs to make, max-lag
	// first.
	SetMaxLag, SetMinReplicas int
	// ClearPromotion drops the promotion stamp: the peer is in sync as
	// local's replica, so the wait is over for good.
	ClearPromotion bool
	// Release gives the lease back: local is no master, and a planned
	// move must not wait for the lease to run out.
	Release bool
}

// KeeperPlan maps a keeper's view to its actions (pure). On a master it
// decides the fence with fence.Decide and sets only what differs from
// what Redis shows; on a replica it touches no setting (a replica ignores
// them, and the promotion sets its own) and holds no lease.
func KeeperPlan(v KeeperView) KeeperActions {
	a := KeeperActions{SetMaxLag: -1, SetMinReplicas: -1}
	if !v.LocalMaster {
		a.Release = v.Witness && v.LeaseValid
		return a
	}
	promoted := v.Promoted && !v.PeerInSync
	a.ClearPromotion = v.Promoted && v.PeerInSync
	a.Decision = fence.Decide(fence.Input{FenceAfter: v.FenceAfter, Peer: v.Peer, PeerSyncing: v.PeerSyncing, PeerInSync: v.PeerInSync, PeerElsewhere: v.PeerElsewhere,
		Witness: v.Witness, LeaseHeld: v.LeaseHeld, PromotedOnUnknown: promoted, Since: v.Since})
	a.Decided = true
	if lag := fence.MaxLag(v.FenceAfter); a.Decision.Level == fence.Armed && v.MaxLag != lag {
		a.SetMaxLag = lag
	}
	if n := a.Decision.Level.MinReplicas(); v.MinReplicas != n {
		a.SetMinReplicas = n
	}
	return a
}

// Keeper keeps one instance's fence while local is master (issue 10):
// every Interval it reads both servers, keeps the witness lease, decides
// with KeeperPlan and applies the result. It runs in the long-running
// processes (notify-fifo, reconcile --loop, run) with fencing on.
type Keeper struct {
	Log           *zap.Logger
	State         StateDir
	Local, Peer   Server
	LocalAnnounce node.Addr
	FenceAfter    time.Duration
	Interval      time.Duration
	// ProbeTimeout bounds each read of a server.
	ProbeTimeout time.Duration
	// PendingSlack is timeouts.transition: a pending promotion stamp
	// counts from that long after it (FenceState.PromotedSince).
	PendingSlack time.Duration
	// Witness is nil without one; LeaseDuration what to ask for.
	Witness       Witness
	LeaseDuration time.Duration

	lease *leaseView
	// peerSeen is the lease's reference: the last time the peer was seen
	// alive, or, once a read of it failed, the time that read ended. A
	// renewal must be sent after it to count (fence.Input's LeaseHeld):
	// one sent before the failing read, even after the peer was last
	// seen, may predate the partition (torture seed 171: an isolated
	// master kept its fence open on a renewal sent just before it).
	peerSeen time.Time
	seenAt   fence.Stamp // the same, on the boot clock
	lost     bool        // the last read of the peer failed
	last     keeperMemo
	wrote    time.Time // when the fence file was last written
	quiet    complainer
}

// KeeperHeartbeat is how often the keeper rewrites its decision when it
// has not changed, so check and report can tell a keeper that runs from
// one that stopped.
const KeeperHeartbeat = 5 * time.Second

// keeperMemo is what the keeper last wrote and logged.
type keeperMemo struct {
	level    fence.Level
	decided  bool
	evidence fence.Evidence
	master   bool
	lease    bool
	promoted bool
	onLease  bool // the level is open only on the lease (fence.Decision.OnLease)
}

// complainer logs a repeating problem once, then once a minute.
type complainer struct {
	last     string
	at       time.Time
	repeated int
}

func (c *complainer) warn(log *zap.Logger, msg string, fields ...zap.Field) {
	now := time.Now()
	if msg == c.last && now.Sub(c.at) < errorLogEvery {
		c.repeated++
		return
	}
	if c.repeated > 0 {
		fields = append(fields, zap.Int("repeated", c.repeated))
	}
	log.Warn(msg, fields...)
	c.last, c.at, c.repeated = msg, now, 0
}

// Run keeps the fence until ctx ends. While maintenance mode is on, it
// does nothing.
func (k *Keeper) Run(ctx context.Context) {
	if k.FenceAfter <= 0 || k.Interval <= 0 {
		return
	}
	if k.Witness != nil {
		k.lease = &leaseView{w: k.Witness, d: k.LeaseDuration, margin: fence.Margin(k.FenceAfter), sd: k.State, log: k.Log}
	}
	t := time.NewTicker(k.Interval)
	defer t.Stop()
	for {
		if !maintenance.Active(k.State.Dir, k.State.Instance) {
			k.Pass(ctx)
		}
		select {
		case <-ctx.Done():
			k.stop(ctx)
			return
		case <-t.C:
		}
	}
}

// stop ends the keeper (a restart, a shutdown). The lease runs out by
// itself; a fence open only because of it is armed first: nobody renews
// the lease now, so it may move to the peer, and an open fence would stay
// open behind it (armed, Redis fences itself unless a replica
// acknowledges, which a promoted peer never does).
func (k *Keeper) stop(ctx context.Context) {
	if k.last.decided && k.last.master && k.last.onLease {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.ProbeTimeout)
		err := SetFence(c, k.Local, fence.Armed, k.FenceAfter)
		cancel()
		if err != nil {
			k.Log.Warn("fence keeper stopped with the fence open on the witness lease; arming it failed (it stays open until redis-vip runs again)", zap.Error(err))
		} else {
			k.Log.Info("fence keeper stopped: the fence, open on the witness lease, is armed (nobody renews the lease now)")
			_ = k.State.UpdateFence(func(f *FenceState) bool {
				l := fence.Armed
				f.Level, f.Reason = &l, "armed by the fence keeper as it stopped: the lease it held open on is no longer renewed"
				return true
			})
		}
	}
	if k.lease != nil && k.lease.lease.Valid(time.Now()) {
		k.Log.Info("fence keeper stopped; the witness lease runs out by itself")
	}
}

// Pass is one round of the keeper.
func (k *Keeper) Pass(ctx context.Context) {
	read := func(s Server) (node.Facts, error) {
		c, cancel := context.WithTimeout(ctx, k.ProbeTimeout)
		defer cancel()
		return s.Facts(c)
	}
	lf, err := read(k.Local)
	if err != nil {
		// Nothing to fence and nothing to renew: a hung local Redis must
		// not keep the lease from the peer.
		k.quiet.warn(k.Log, "fence keeper: local Redis unreadable; nothing changed, the lease is not renewed", zap.Error(err))
		return
	}
	v := KeeperView{FenceAfter: k.FenceAfter, LocalMaster: lf.Role == node.RoleMaster, Witness: k.Witness != nil, MinReplicas: -1, MaxLag: -1}
	now := time.Now()
	if v.LocalMaster {
		pf, perr := read(k.Peer)
		v.Peer = fence.Alive
		if perr != nil {
			v.Peer = fence.Classify(perr)
			if !k.lost {
				k.lost = true
				k.peerSeen = time.Now()
				k.seenAt, _ = fence.Now()
			}
		} else {
			k.lost = false
			v.PeerSyncing, v.PeerInSync, v.PeerElsewhere = PeerAsReplica(lf, pf, k.LocalAnnounce, fence.MaxLag(k.FenceAfter))
			k.peerSeen = time.Now()
			k.seenAt, _ = fence.Now()
		}
		if k.lease != nil {
			if k.lease.due(time.Now(), k.peerSeen, v.Peer == fence.Alive) {
				k.lease.ask(ctx)
			}
			now = time.Now()
			v.LeaseHeld = k.lease.held(now, k.peerSeen, v.Peer == fence.Alive)
		}
		fs, ferr := k.State.ReadFence()
		if ferr != nil {
			k.quiet.warn(k.Log, "fence keeper: fence file unreadable", zap.Error(ferr))
		}
		if stamp, serr := fence.Now(); serr == nil {
			v.Since, v.Promoted = fs.PromotedSince(stamp, k.PendingSlack)
		} else if fs.Promotion != nil {
			v.Promoted = true // Since 0: the wait starts again
		}
		v.MinReplicas = k.configInt(ctx, cfgMinReplicas)
		v.MaxLag = k.configInt(ctx, cfgMaxLag)
		if ferr != nil && !v.Promoted {
			// An unreadable file may hold a promotion: count it as one
			// made just now.
			v.Promoted = true
		}
		a := KeeperPlan(v)
		k.apply(ctx, v, a)
		if a.ClearPromotion {
			k.clearPromotion(fs)
		}
		return
	}
	if k.lease != nil {
		v.LeaseValid = k.lease.lease.Valid(now)
	}
	k.apply(ctx, v, KeeperPlan(v))
}

// configInt reads a whole-number setting of local (-1 when unknown).
func (k *Keeper) configInt(ctx context.Context, name string) int {
	c, cancel := context.WithTimeout(ctx, k.ProbeTimeout)
	defer cancel()
	s, err := k.Local.ConfigGet(c, name)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// apply carries the actions out, logs each change of level once and
// records the decision in the fence file.
func (k *Keeper) apply(ctx context.Context, v KeeperView, a KeeperActions) {
	if a.Release {
		c, cancel := context.WithTimeout(ctx, k.ProbeTimeout)
		err := k.lease.release(c)
		cancel()
		if err != nil {
			k.quiet.warn(k.Log, "fence keeper: local is no master; giving the witness lease back failed (it runs out by itself)", zap.Error(err))
		} else {
			k.Log.Info("fence keeper: local is no master: witness lease given back")
		}
	}
	c, cancel := context.WithTimeout(ctx, k.ProbeTimeout)
	defer cancel()
	if a.SetMaxLag >= 0 {
		if err := k.Local.ConfigSet(c, cfgMaxLag, strconv.Itoa(a.SetMaxLag)); err != nil {
			k.quiet.warn(k.Log, "fence keeper: config set "+cfgMaxLag, zap.Error(err))
			return
		}
	}
	if a.SetMinReplicas >= 0 {
		if err := k.Local.ConfigSet(c, cfgMinReplicas, strconv.Itoa(a.SetMinReplicas)); err != nil {
			k.quiet.warn(k.Log, "fence keeper: config set "+cfgMinReplicas, zap.Error(err))
			return
		}
	}
	memo := keeperMemo{level: a.Decision.Level, decided: a.Decided, evidence: v.Peer, master: v.LocalMaster, lease: v.LeaseHeld, promoted: v.Promoted, onLease: a.Decision.OnLease}
	if a.Decided && (!k.last.decided || k.last.level != memo.level) {
		k.Log.Info("fence "+a.Decision.Level.String(), zap.Int(cfgMinReplicas, a.Decision.Level.MinReplicas()),
			zap.String("reason", a.Decision.Reason), zap.String("peer", v.Peer.String()), zap.Bool("lease_held", v.LeaseHeld))
	}
	if memo == k.last && time.Since(k.wrote) < KeeperHeartbeat {
		return
	}
	k.last, k.wrote = memo, time.Now()
	now, _ := fence.Now()
	seen := k.seenAt
	err := k.State.UpdateFence(func(f *FenceState) bool {
		f.At = &now
		f.Evidence, f.Level, f.Reason = "", nil, "local is no master: no fence"
		if a.Decided {
			l := a.Decision.Level
			f.Evidence, f.Level, f.Reason = v.Peer.String(), &l, a.Decision.Reason
		}
		if seen.BootID != "" {
			f.PeerSeen = &seen
		}
		return true
	})
	if err != nil {
		k.quiet.warn(k.Log, "fence keeper: fence file", zap.Error(err))
	}
}

// clearPromotion drops the promotion stamp read in fs (the peer is in
// sync as local's replica), unless a transition replaced it meanwhile.
func (k *Keeper) clearPromotion(fs FenceState) {
	if fs.Promotion == nil {
		return
	}
	read := *fs.Promotion
	err := k.State.UpdateFence(func(f *FenceState) bool {
		if f.Promotion == nil || *f.Promotion != read {
			return false
		}
		f.Promotion, f.PromotionPending = nil, false
		return true
	})
	if err != nil {
		k.quiet.warn(k.Log, "fence keeper: fence file", zap.Error(err))
		return
	}
	k.Log.Info("fence keeper: the peer is in sync as local's replica: promotion on unknown evidence settled")
}

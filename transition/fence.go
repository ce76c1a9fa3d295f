package transition

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/witness"
)

// The Redis settings the fence is made of (package fence).
const (
	cfgMinReplicas = "min-replicas-to-write"
	cfgMaxLag      = "min-replicas-max-lag"
)

// leaseRetry spaces the witness calls of a node that does not hold the
// lease (a transition re-deciding every poll must not flood the witness).
const leaseRetry = 250 * time.Millisecond

// SetFence sets local's fence to level l: min-replicas-to-write, and
// min-replicas-max-lag (fence.MaxLag) first when armed.
func SetFence(ctx context.Context, s Server, l fence.Level, fenceAfter time.Duration) error {
	if l == fence.Armed {
		if err := s.ConfigSet(ctx, cfgMaxLag, strconv.Itoa(fence.MaxLag(fenceAfter))); err != nil {
			return fmt.Errorf("config set %s: %w", cfgMaxLag, err)
		}
	}
	if err := s.ConfigSet(ctx, cfgMinReplicas, strconv.Itoa(l.MinReplicas())); err != nil {
		return fmt.Errorf("config set %s: %w", cfgMinReplicas, err)
	}
	return nil
}

// PeerAsReplica is how peer p, read just after master l, stands as l's
// replica (the fence's inputs): syncing (it follows l, its link not up
// or a full sync running), in sync (its link up, and l counts an
// acknowledgement within maxLag seconds: what an armed fence needs), or
// elsewhere (it follows nobody, or someone else).
func PeerAsReplica(l, p node.Facts, localAnnounce node.Addr, maxLag int) (syncing, inSync, elsewhere bool) {
	if !isReplicaOf(p, localAnnounce) {
		return false, false, true
	}
	if !p.InSync() {
		return true, false, false
	}
	return false, acknowledged(l, maxLag), false
}

// acknowledged reports whether master l has a replica online whose last
// acknowledgement is at most maxLag seconds old, as Redis counts one for
// min-replicas-to-write.
func acknowledged(l node.Facts, maxLag int) bool {
	for _, r := range l.Replicas {
		if r.State == "online" && r.Lag >= 0 && r.Lag <= int64(maxLag) {
			return true
		}
	}
	return false
}

func (r *Runner) fencing() bool { return r.Opts.FenceAfter > 0 }

// setFence is the steps fence-close and fence-open. fence-close marks a
// promotion on unknown evidence as pending before it happens, so a fence
// keeper that sees local master before the promotion's own stamp keeps
// the fence closed; fence-open drops any such mark (this promotion needs
// no wait).
func (r *Runner) setFence(ctx context.Context, l fence.Level, why string) (string, error) {
	mark := func(f *FenceState) bool {
		if f.Promotion == nil && l == fence.Open {
			return false
		}
		f.Promotion, f.PromotionPending = nil, false
		return true
	}
	if l == fence.Closed {
		now, err := fence.Now()
		if err != nil {
			return "", err
		}
		mark = func(f *FenceState) bool { f.Promotion, f.PromotionPending = &now, true; return true }
	}
	if err := r.State.UpdateFence(mark); err != nil {
		return "", err
	}
	if err := SetFence(ctx, r.Local, l, r.Opts.FenceAfter); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d (%s): %s", cfgMinReplicas, l.MinReplicas(), l, why), nil
}

// stampPromotion records when local promoted itself on unknown evidence,
// after REPLICAOF NO ONE returned: every acknowledgement local sent the
// old master as its replica left before this stamp, so the wait counted
// from it is at least as long as the old master's fence needs. Without
// the record the keeper keeps the fence closed while the peer is unknown
// (the safe side).
func (r *Runner) stampPromotion() string {
	now, err := fence.Now()
	if err != nil {
		return "promotion stamp not taken: " + err.Error()
	}
	r.promotedAt = &now
	if err := r.State.UpdateFence(func(f *FenceState) bool { f.Promotion, f.PromotionPending = &now, false; return true }); err != nil {
		return "promotion stamp not recorded (the fence keeper keeps the fence closed while the peer is unknown): " + err.Error()
	}
	return fmt.Sprintf("promotion stamp recorded (boot clock %s)", now.At.Round(time.Millisecond))
}

// askLease asks the witness for the lease before a promotion on unknown
// evidence (after the peer read failed, so a grant is fresh) and says
// whether this node holds it, and what the witness said.
func (r *Runner) askLease(ctx context.Context) (bool, string) {
	lv := r.leaseView()
	now := time.Now()
	if lv.asked.IsZero() || now.Sub(lv.asked) >= leaseRetry {
		lv.ask(ctx)
		now = time.Now()
	}
	return lv.held(now, time.Time{}, false), lv.describe(now)
}

func (r *Runner) leaseView() *leaseView {
	if r.lease == nil {
		r.lease = &leaseView{w: r.Witness, d: r.Opts.LeaseDuration, margin: fence.Margin(r.Opts.FenceAfter), sd: r.State, log: r.Log}
	}
	return r.lease
}

// probeEvery spaces the peer reads of fence-wait and the keeper's renewal
// retries.
const probeEvery = 250 * time.Millisecond

// fenceWait is the step fence-wait: local was just promoted on unknown
// evidence with its fence closed. It re-reads the peer (and keeps the
// lease, with a witness) until fence.Decide opens the fence or the old
// master's fence is certain to be up, and sets that level.
func (r *Runner) fenceWait(ctx context.Context, t Ticket) (string, error) {
	start := r.promotedAt
	if start == nil {
		if f, err := r.State.ReadFence(); err == nil && !f.PromotionPending {
			start = f.Promotion
		}
	}
	if start == nil {
		// Nothing recorded: count from now, which is later than the
		// promotion, so the wait is longer, never shorter.
		now, err := fence.Now()
		if err != nil {
			return "", err
		}
		start = &now
	}
	fa := r.Opts.FenceAfter
	wait := fa + fence.Margin(fa)
	var probed, peerSeen time.Time
	lost := false
	evidence, syncing, inSync, elsewhere := fence.Unknown, false, false, false
	for {
		if r.State.Superseded(t) {
			return "", ErrSuperseded
		}
		now, err := fence.Now()
		if err != nil {
			return "", err
		}
		since, ok := start.Since(now)
		if !ok {
			since = 0
		}
		if time.Since(probed) >= probeEvery {
			evidence, syncing, inSync, elsewhere = r.probePeer(ctx)
			probed = time.Now()
			// The lease's reference (see Keeper.peerSeen): the last
			// time seen alive, or the end of the first failing read.
			if evidence == fence.Alive || !lost {
				peerSeen = probed
			}
			lost = evidence != fence.Alive
		}
		held := false
		if r.Witness != nil {
			lv := r.leaseView()
			if lv.due(time.Now(), peerSeen, evidence == fence.Alive) {
				lv.ask(ctx)
			}
			held = lv.held(time.Now(), peerSeen, evidence == fence.Alive)
		}
		d := fence.Decide(fence.Input{FenceAfter: fa, Peer: evidence, PeerSyncing: syncing, PeerInSync: inSync, PeerElsewhere: elsewhere, Witness: r.Witness != nil, LeaseHeld: held,
			PromotedOnUnknown: true, Since: since})
		if d.Level != fence.Closed || since >= wait {
			if err := SetFence(ctx, r.Local, d.Level, fa); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s after the promotion: %s %d (%s): %s", since.Round(time.Millisecond), cfgMinReplicas, d.Level.MinReplicas(), d.Level, d.Reason), nil
		}
		pause := probeEvery
		if d.Recheck > 0 && d.Recheck < pause {
			pause = d.Recheck
		}
		if err := sleepCtx(ctx, pause); err != nil {
			return "", fmt.Errorf("fence-wait: the fence stays closed (%s): %w", d.Reason, err)
		}
	}
}

// probePeer reads local, then the peer, once: the evidence, and how the
// peer stands as local's replica (PeerAsReplica).
func (r *Runner) probePeer(ctx context.Context) (ev fence.Evidence, syncing, inSync, elsewhere bool) {
	lf, lerr := r.Local.Facts(ctx)
	pf, err := r.Peer.Facts(ctx)
	if err != nil {
		return fence.Classify(err), false, false, false
	}
	if lerr != nil {
		// Local's view of the acknowledgements is unknown: not in sync.
		lf = node.Facts{}
	}
	syncing, inSync, elsewhere = PeerAsReplica(lf, pf, r.LocalAnnounce, fence.MaxLag(r.Opts.FenceAfter))
	return fence.Alive, syncing, inSync, elsewhere
}

// leaseView is one node's witness lease as its process knows it: the last
// grant, when its request was sent, the last error; it records each answer
// in the fence file and logs failures once (then once a minute while they
// repeat).
type leaseView struct {
	w      Witness
	d      time.Duration // asked for
	margin time.Duration // fence.Margin: a lease that ends sooner counts as not held
	sd     StateDir
	log    *zap.Logger

	lease     witness.Lease
	sent      time.Time   // when the request of the last grant was sent
	sentStamp fence.Stamp // the same on the boot clock
	asked     time.Time   // when the witness was last asked
	err       error

	lastErr  string
	lastLog  time.Time
	repeated int
}

// errorLogEvery spaces the log lines about one witness error repeating.
const errorLogEvery = time.Minute

// ask calls the witness once (acquire, or renew when held) and records
// the answer in the fence file.
func (v *leaseView) ask(ctx context.Context) {
	sentStamp, stampErr := fence.Now()
	sent := time.Now()
	lease, err := v.w.Acquire(ctx, v.d)
	v.asked, v.err = time.Now(), err
	switch {
	case err != nil:
		// An earlier grant stays valid until its Until, not a moment longer.
		v.complain(errorClass(err), err.Error())
	case lease.Held:
		v.lease, v.sent, v.sentStamp = lease, sent, sentStamp
		if stampErr != nil {
			v.sentStamp = fence.Stamp{}
		}
		if granted := lease.Until.Sub(sent) + witness.Margin(v.d); granted < v.d-witness.Margin(v.d) {
			v.complain("short grant", fmt.Sprintf("the witness granted %s of the %s asked (its --max-lease is shorter): renewing every quarter of it", granted.Round(time.Millisecond), v.d))
		} else if v.lastErr != "" {
			v.log.Info("witness: lease held", zap.String("after", v.lastErr))
			v.lastErr = ""
		}
	default:
		// Held by another node: any grant of ours is over.
		v.lease = lease
	}
	now := time.Now()
	answered, _ := fence.Now()
	_ = v.sd.UpdateFence(func(f *FenceState) bool {
		switch other := err == nil && !lease.Held && lease.Holder != ""; {
		case other && answered.BootID != "" && (f.LeaseHolder != lease.Holder || f.LeaseHolderSince == nil || f.LeaseHolderSince.BootID != answered.BootID):
			f.LeaseHolderSince, f.LeaseHolderSeen = &answered, &answered
		case other && answered.BootID != "":
			f.LeaseHolderSeen = &answered
		case err == nil: // this node or nobody holds it
			f.LeaseHolderSince, f.LeaseHolderSeen = nil, nil
		}
		f.LeaseError, f.LeaseHolder = "", v.lease.Holder
		if err != nil {
			f.LeaseError = err.Error()
		}
		f.LeaseSent, f.LeaseUntil = nil, nil
		if v.lease.Valid(now) && v.sentStamp.BootID != "" {
			until := fence.Stamp{BootID: v.sentStamp.BootID, At: v.sentStamp.At + v.lease.Until.Sub(v.sent)}
			sentAt := v.sentStamp
			f.LeaseSent, f.LeaseUntil = &sentAt, &until
		}
		return true
	})
}

// errorClass names the kind of a witness error (package witness's
// classes): repeats of one kind are one problem, whatever their details
// (a countdown, a port).
func errorClass(err error) string {
	for _, c := range []error{witness.ErrWrongSecret, witness.ErrStarting, witness.ErrGarbage, witness.ErrUnreachable, witness.ErrConfig} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	return err.Error()
}

// complain logs a witness problem: at once when its kind is new, then
// once a minute with how often it repeated.
func (v *leaseView) complain(kind, msg string) {
	now := time.Now()
	if kind == v.lastErr && now.Sub(v.lastLog) < errorLogEvery {
		v.repeated++
		return
	}
	fields := []zap.Field{zap.String("error", msg), zap.Duration("lease", v.d)}
	if v.repeated > 0 {
		fields = append(fields, zap.Int("repeated", v.repeated))
	}
	v.log.Warn("witness: no lease from this call", fields...)
	v.lastErr, v.lastLog, v.repeated = kind, now, 0
}

// held is fence.Input's LeaseHeld at now: a grant that lasts at least the
// margin still, whose request was sent after peerSeen (the last time the
// peer was seen alive) unless the peer is alive now.
func (v *leaseView) held(now, peerSeen time.Time, peerAlive bool) bool {
	if !v.lease.Valid(now) || v.lease.Until.Sub(now) < v.margin {
		return false
	}
	return peerAlive || v.sent.After(peerSeen)
}

// due says whether to call the witness now: a holder renews every quarter
// of its grant, and at once when the peer is not alive and was seen alive
// after the last renewal; a node without the lease asks again every
// leaseRetry.
func (v *leaseView) due(now, peerSeen time.Time, peerAlive bool) bool {
	if v.asked.IsZero() {
		return true
	}
	if !v.lease.Valid(now) || v.err != nil {
		return now.Sub(v.asked) >= leaseRetry
	}
	if !peerAlive && !v.sent.After(peerSeen) {
		return now.Sub(v.asked) >= leaseRetry/5
	}
	return now.Sub(v.sent) >= fence.RenewEvery(v.lease.Until.Sub(v.sent))
}

// describe says what the witness last said, for the journal.
func (v *leaseView) describe(now time.Time) string {
	switch {
	case v.err != nil:
		return "no lease: " + v.err.Error()
	case v.lease.Valid(now):
		return fmt.Sprintf("held for %s more", v.lease.Until.Sub(now).Round(time.Millisecond))
	case v.lease.Holder != "":
		return "held by " + v.lease.Holder
	}
	return "not held"
}

// release gives the lease back (a node that stopped being master), and
// forgets it.
func (v *leaseView) release(ctx context.Context) error {
	err := v.w.Release(ctx)
	v.lease, v.asked = witness.Lease{}, time.Time{}
	_ = v.sd.UpdateFence(func(f *FenceState) bool {
		f.LeaseSent, f.LeaseUntil, f.LeaseHolder = nil, nil, ""
		f.LeaseError = ""
		if err != nil {
			f.LeaseError = "release: " + err.Error()
		}
		return true
	})
	return err
}

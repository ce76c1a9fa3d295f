package transition

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/internal/pollwait"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/witness"
)

// Errors a transition ends with; main maps them to exit codes.
var (
	// ErrRefused: a safety rule forbade the step (S1); nothing was changed
	// except, for "detach", stopping a replication that would wipe data.
	ErrRefused = errors.New("refused")
	// ErrSyncTimeout: sync-before-promote did not finish in time (S2); local
	// was not promoted and check fails for the hold-off.
	ErrSyncTimeout = errors.New("sync before promote timed out")
	// ErrHandoverAborted: the peer ended a FAILOVER without handing over,
	// typically because another transition changed it meanwhile; the plan is
	// made again from fresh facts.
	ErrHandoverAborted = errors.New("handover aborted by the peer")
	// ErrPeerIsLocal: the configured peer is the local server.
	ErrPeerIsLocal = errors.New("peer is the local redis")
	// ErrLocalDown: the local server could not be read.
	ErrLocalDown = errors.New("local redis unavailable")
	// ErrConfig: a server refused the credentials; nothing was changed.
	ErrConfig = errors.New("configuration error")
)

// Server is what a transition needs from one Redis; *node.Client has it.
type Server interface {
	Addr() string
	Facts(ctx context.Context) (node.Facts, error)
	ReplicaOf(ctx context.Context, host string, port int) error
	PromoteNoOne(ctx context.Context) error
	FailoverTo(ctx context.Context, host string, port int, timeout time.Duration) error
	FailoverAbort(ctx context.Context) error
	PauseWrites(ctx context.Context, d time.Duration) error
	Unpause(ctx context.Context) error
	KillNormalClients(ctx context.Context) (int64, error)
	ConfigRewrite(ctx context.Context) error
	ConfigGet(ctx context.Context, name string) (string, error)
	ConfigSet(ctx context.Context, name, value string) error
	LastSave(ctx context.Context) (time.Time, error)
	BGSave(ctx context.Context) error
	StreamSince(ctx context.Context, from int64) (node.Stream, error)
}

// Backupper saves a dataset before it is discarded and returns where.
type Backupper interface {
	Backup(ctx context.Context, s Server, f node.Facts) (string, error)
}

// Options tune a Runner.
type Options struct {
	Force          bool
	FollowDiverged bool
	Handover       string
	// SyncTimeout bounds sync-before-promote (S2).
	SyncTimeout time.Duration
	// PeerWait bounds waiting for an unreachable or non-master peer.
	PeerWait time.Duration
	// Holdoff is how long check fails after a sync timeout.
	Holdoff time.Duration
	// Poll is the interval between condition checks.
	Poll time.Duration
	// MaxLinkDown bounds a replica's link-down time for promoting it alone
	// (S10); 0 means no bound.
	MaxLinkDown time.Duration
	// FenceAfter is fence_after (issue 10, package fence); 0 turns
	// fencing off: then no transition touches min-replicas-*.
	FenceAfter time.Duration
	// LeaseDuration is the witness lease asked for (with Runner.Witness).
	LeaseDuration time.Duration
	// StaleMasterAfter is the age past which a master event keepalived
	// delivered may be stale (StaleMaster); 0 never.
	StaleMasterAfter time.Duration
}

// Witness is the pair's lease service; *witness.Client has it.
type Witness interface {
	Acquire(ctx context.Context, d time.Duration) (witness.Lease, error)
	Release(ctx context.Context) error
}

// Runner executes transitions for one instance.
type Runner struct {
	Log           *zap.Logger
	Instance      string
	Local, Peer   Server
	LocalAnnounce node.Addr
	PeerAddr      node.Addr
	State         StateDir
	Backups       Backupper
	Opts          Options
	Now           func() time.Time
	// Witness, when not nil, is asked for the lease before a promotion on
	// unknown evidence (with Opts.FenceAfter > 0).
	Witness Witness
	// VIPs, when not nil, says whether this host holds the instance's
	// VIPs (StaleMaster); nil is unknown.
	VIPs func() VIPs

	// lease keeps what the witness said (created on first use).
	lease *leaseView
	// promotedAt is when this transition promoted local on unknown
	// evidence (the boot clock), for fence-wait.
	promotedAt *fence.Stamp

	// localPaused is set while the backup step holds local writes paused,
	// until localPausedUntil (Now's clock).
	localPaused      bool
	localPausedUntil time.Time
	// backedUpInPause: a backup was taken while local writes were paused,
	// so everything local acknowledged is in it.
	backedUpInPause bool
	// memo keeps the last streams read, so a plan that waits does not read
	// them on every poll.
	memo streamMemo
}

type streamMemo struct {
	key         string
	at          time.Time
	local, peer *node.Stream
}

// unmovedSincePlan checks, with local's writes paused, that local has taken
// nothing since the facts the plan rests on: a master that acknowledged
// writes in between would discard them by following (S6). Moved means
// decide again from fresh facts.
func (r *Runner) unmovedSincePlan(ctx context.Context, rec *Record) error {
	before := rec.Before.Local
	if before == nil {
		return errors.New("follow-peer: local facts unknown")
	}
	now, err := r.Local.Facts(ctx)
	if err != nil {
		return fmt.Errorf("follow-peer: re-read local under the pause: %w", err)
	}
	if now.ReplID != before.ReplID || now.ReplOffset != before.ReplOffset || now.Keys != before.Keys {
		return fmt.Errorf("follow-peer: local took writes after the plan was made (offset %d, now %d): deciding again", before.ReplOffset, now.ReplOffset)
	}
	return nil
}

// pauseMargin is how long before the backup's pause runs out follow-peer
// stops trusting it.
const pauseMargin = 500 * time.Millisecond

// unpauseLocal ends the pause the backup step took.
func (r *Runner) unpauseLocal() {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Local.Unpause(c); err != nil {
		r.Log.Warn("unpause local writes", zap.Error(err))
	}
	r.localPaused = false
}

// Snapshot is both nodes' facts at one moment, as the journal keeps them.
type Snapshot struct {
	Local     *node.Facts `json:"local,omitempty"`
	LocalErr  string      `json:"local_error,omitempty"`
	Peer      *node.Facts `json:"peer,omitempty"`
	PeerError string      `json:"peer_error,omitempty"`
	// PeerAnswered: the peer answered with an error, so it is alive (S9).
	PeerAnswered bool `json:"peer_answered,omitempty"`
	// PeerEvidence is what the peer read says (fence.Classify): alive,
	// dead or unknown (issue 10).
	PeerEvidence string `json:"peer_evidence,omitempty"`
	// Lease is what the witness said when asked for the lease before a
	// promotion on unknown evidence.
	Lease string `json:"lease,omitempty"`
	// LocalStream and PeerStream are what each side's replication stream
	// since their fork holds, read when one continued the other's history.
	LocalStream *node.Stream `json:"local_stream,omitempty"`
	PeerStream  *node.Stream `json:"peer_stream,omitempty"`
}

// StepResult is one executed step.
type StepResult struct {
	Step       Step   `json:"step"`
	OK         bool   `json:"ok"`
	Detail     string `json:"detail,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Outcomes a Record can have.
const (
	OutcomeOK          = "ok"
	OutcomeRefused     = "refused"
	OutcomeSuperseded  = "superseded"
	OutcomeDeferred    = "deferred"
	OutcomeSyncTimeout = "sync-timeout"
	OutcomeFailed      = "failed"
)

// Record is one journal line (S8).
type Record struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Event    Event     `json:"event"`
	Source   string    `json:"source,omitempty"`
	Seq      int64     `json:"seq"`
	// Attempts is how many times the plan was made (a step that failed
	// because the nodes changed under it is decided again, boundedly).
	Attempts   int          `json:"attempts"`
	Before     Snapshot     `json:"before"`
	Plan       *Plan        `json:"plan,omitempty"`
	Steps      []StepResult `json:"steps,omitempty"`
	After      Snapshot     `json:"after"`
	Outcome    string       `json:"outcome"`
	Error      string       `json:"error,omitempty"`
	DurationMS int64        `json:"duration_ms"`
}

// Run performs one transition: take a ticket, wait for the lock (giving up
// if superseded), decide, execute, journal. ctx bounds the whole of it.
func (r *Runner) Run(ctx context.Context, ev Event, source string) (Record, error) {
	start := r.Now()
	rec := Record{Time: start.UTC(), Instance: r.Instance, Event: ev, Source: source}
	// The pending mark tells the reconciler this event's own transition
	// owns it, from before the ticket until the journal line: a reconcile
	// pass neither starts nor goes on while it is held.
	pending, err := r.State.MarkPending()
	if err != nil {
		return rec, fmt.Errorf("transition %s: %w", ev, err)
	}
	defer pending.Done()
	ticket, err := r.State.Enqueue(ev, source, start)
	if err != nil {
		return rec, fmt.Errorf("transition %s: %w", ev, err)
	}
	rec.Seq = ticket.Seq
	log := r.Log.With(zap.String("event", string(ev)), zap.Int64("seq", ticket.Seq))
	lock, err := r.State.Acquire(ctx, ticket, r.Opts.Poll)
	if errors.Is(err, ErrSuperseded) {
		return r.finish(&rec, start, log, OutcomeSuperseded, nil)
	}
	if err != nil {
		return r.finish(&rec, start, log, OutcomeFailed, err)
	}
	defer lock.Release()
	outcome, err := r.runLocked(ctx, ticket, &rec, log, false)
	return r.finish(&rec, start, log, outcome, err)
}

// Reconcile repairs the pair without a new event (S12): when no transition
// holds the lock and no hold-off is active, it decides the newest event
// again from fresh facts, once, without waiting, and carries out the plan
// with the same steps and the same lock as the hooks; a newer event stops
// it at its next step. It journals only passes that took a step or failed
// (acted reports which); a pass that finds nothing to do leaves no trace.
func (r *Runner) Reconcile(ctx context.Context) (rec Record, acted bool, err error) {
	start := r.Now()
	ticket, err := r.State.Newest()
	if err != nil || ticket.Seq == 0 {
		return rec, false, err
	}
	if h, herr := r.State.ReadHoldoff(); herr == nil && h.Active(start) {
		return rec, false, nil
	}
	lock, err := r.State.TryAcquire(ticket)
	if errors.Is(err, ErrBusy) || errors.Is(err, ErrSuperseded) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	defer lock.Release()
	if r.State.TransitionPending() {
		// An event's own transition waits for this lock: it goes first
		// (a reconcile pass taking the lock as soon as the last one freed
		// it starved the router's master transition in run mode).
		return rec, false, nil
	}
	// Yield at once when an event's transition starts waiting, even in the
	// middle of reading a hung peer: the pass is cancelled, not finished.
	ctx, yielded := r.yieldTo(ctx)
	rec = Record{Time: start.UTC(), Instance: r.Instance, Event: ticket.Event, Source: "reconcile", Seq: ticket.Seq}
	log := r.Log.With(zap.String("event", string(ticket.Event)), zap.Int64("seq", ticket.Seq), zap.String("source", "reconcile"))
	outcome, err := r.runLocked(ctx, ticket, &rec, log, true)
	if yielded() {
		if len(rec.Steps) == 0 {
			return rec, false, nil
		}
		outcome, err = OutcomeSuperseded, nil
	}
	if len(rec.Steps) == 0 && (err == nil || errors.Is(err, ErrRefused) || errors.Is(err, ErrLocalDown)) {
		// Nothing done: a refusal or a wait already journaled by the
		// hook, or a local server still down; the next pass looks again.
		return rec, false, nil
	}
	rec, err = r.finish(&rec, start, log, outcome, err)
	return rec, true, err
}

// yieldTo returns ctx cancelled as soon as an event's transition holds the
// pending mark (polled every Opts.Poll), and yielded, which stops the
// polling and reports whether it cancelled.
func (r *Runner) yieldTo(ctx context.Context) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan bool, 1)
	go func() {
		gave := false
		_ = pollwait.Until(ctx, r.Opts.Poll, func() (bool, error) {
			gave = r.State.TransitionPending()
			return gave, nil
		})
		cancel()
		done <- gave
	}()
	return ctx, func() bool { cancel(); return <-done }
}

// finish completes and journals rec, and logs one line.
func (r *Runner) finish(rec *Record, start time.Time, log *zap.Logger, outcome string, err error) (Record, error) {
	rec.Outcome = outcome
	if err != nil {
		rec.Error = err.Error()
	}
	rec.DurationMS = r.Now().Sub(start).Milliseconds()
	if jerr := r.State.Append(*rec); jerr != nil {
		log.Error("journal write failed", zap.Error(jerr))
		if err == nil {
			err = jerr
		}
	}
	fields := []zap.Field{zap.String("outcome", outcome), zap.Int64("duration_ms", rec.DurationMS)}
	if rec.Plan != nil {
		fields = append(fields, zap.String("decision", rec.Plan.Decision), zap.String("reason", rec.Plan.Reason))
	}
	if err != nil && outcome != OutcomeSuperseded {
		log.Error("transition ended", append(fields, zap.Error(err))...)
	} else {
		log.Info("transition ended", fields...)
	}
	return *rec, err
}

// runLocked decides and executes with the lock held, deciding again (at
// most maxAttempts times) when a step failed because the nodes changed;
// once makes a single decision without waiting for the peer.
func (r *Runner) runLocked(ctx context.Context, ticket Ticket, rec *Record, log *zap.Logger, once bool) (string, error) {
	ev := ticket.Event
	var plan Plan
	var local, peer *node.Facts
	var err error
	for attempt := 1; ; attempt++ {
		rec.Attempts = attempt
		plan, local, peer, err = r.plan(ctx, ticket, rec, once)
		if errors.Is(err, ErrSuperseded) {
			return OutcomeSuperseded, nil
		}
		if err != nil {
			return OutcomeFailed, err
		}
		log.Info("decided", zap.Int("attempt", attempt), zap.String("decision", plan.Decision), zap.String("reason", plan.Reason),
			zap.Any("steps", plan.Steps), zap.Any("local", local), zap.Any("peer", peer))
		if plan.Wait {
			return OutcomeDeferred, nil
		}
		err = r.execute(ctx, ticket, plan, rec, log)
		if !retryable(err) || attempt >= maxAttempts || ctx.Err() != nil {
			break
		}
		// Another transition (an older event on the peer's host, say)
		// changed a node under this one: decide again from fresh facts.
		log.Warn("step failed; deciding again from fresh facts", zap.Int("attempt", attempt), zap.Error(err))
		if serr := sleepCtx(ctx, r.Opts.Poll); serr != nil {
			break
		}
	}
	rec.After = r.snapshot(ctx, peer != nil)
	switch {
	case errors.Is(err, ErrSuperseded):
		return OutcomeSuperseded, nil
	case errors.Is(err, ErrSyncTimeout):
		why := "sync before promote timed out; the peer holds the data"
		if ev != EventMaster {
			why = "handing the master role over timed out"
		}
		h := Holdoff{Until: r.Now().Add(r.Opts.Holdoff), Reason: why}
		if herr := r.State.WriteHoldoff(h); herr != nil {
			log.Error("write holdoff", zap.Error(herr))
		}
		return OutcomeSyncTimeout, err
	case err != nil:
		return OutcomeFailed, err
	case plan.Refused:
		log.Error("refused", zap.String("reason", plan.Reason), zap.Any("local", local), zap.Any("peer", peer))
		return OutcomeRefused, fmt.Errorf("%w: %s", ErrRefused, plan.Reason)
	}
	if ev == EventMaster {
		if err := r.State.ClearHoldoff(); err != nil {
			log.Warn("clear holdoff", zap.Error(err))
		}
	}
	return OutcomeOK, nil
}

// maxAttempts bounds how often a transition decides again after a step
// failed because the nodes changed under it.
const maxAttempts = 3

// retryable reports whether a failed step is worth deciding again: not a
// supersession, not the S2 deadline, not a refusal.
func retryable(err error) bool {
	return err != nil && !errors.Is(err, ErrSuperseded) && !errors.Is(err, ErrSyncTimeout) &&
		!errors.Is(err, ErrRefused) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// plan reads both nodes and decides, re-reading while the decision is "wait"
// and the peer wait lasts.
func (r *Runner) plan(ctx context.Context, t Ticket, rec *Record, once bool) (Plan, *node.Facts, *node.Facts, error) {
	// Fault waits like backup: keepalived sends nothing more while the
	// check keeps the node in FAULT, so giving up early would leave it there.
	// The wait counts from the event, so a later reconcile pass knows
	// whether the peer has had its time.
	ev := t.Event
	waitUntil := t.At.Add(r.Opts.PeerWait)
	for first := true; ; first = false {
		if !first && r.State.Superseded(t) {
			return Plan{}, nil, nil, ErrSuperseded
		}
		local, err := r.Local.Facts(ctx)
		if err != nil {
			rec.Before = Snapshot{LocalErr: err.Error()}
			if errors.Is(err, node.ErrAuth) {
				return Plan{}, nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
			}
			return Plan{}, nil, nil, fmt.Errorf("%w: %w", ErrLocalDown, err)
		}
		snap := Snapshot{Local: &local}
		var peer *node.Facts
		evidence := fence.Alive
		if pf, perr := r.Peer.Facts(ctx); perr == nil {
			peer = &pf
			snap.Peer = peer
			snap.PeerEvidence = evidence.String()
		} else {
			evidence = fence.Classify(perr)
			snap.PeerEvidence = evidence.String()
			snap.PeerError = perr.Error()
			snap.PeerAnswered = node.Answered(perr)
			if errors.Is(perr, node.ErrAuth) {
				// A configuration error, not a dead peer (S9): change nothing.
				rec.Before = snap
				return Plan{}, nil, nil, fmt.Errorf("%w: %w", ErrConfig, perr)
			}
		}
		if peer != nil && peer.RunID == local.RunID {
			rec.Before = snap
			return Plan{}, nil, nil, fmt.Errorf("%w: %s and %s are the same server (run_id %s)", ErrPeerIsLocal, r.PeerAddr, r.Local.Addr(), local.RunID)
		}
		if r.staleMaster(t, local, peer) {
			rec.Before = snap
			return Plan{Wait: true, Decision: "stale-master-event", Reason: fmt.Sprintf(
				"the newest event, master, came from keepalived over %s ago, this host holds no VIP and local is a replica in sync with the peer, a live master: the event is stale; taking nothing from the peer", r.Opts.StaleMasterAfter)}, &local, peer, nil
		}
		if peer != nil {
			snap.LocalStream, snap.PeerStream = r.streams(ctx, local, *peer)
		}
		writable := false
		if local.Role == node.RoleReplica && !local.Empty() {
			// Unknown (CONFIG renamed, ACL) counts as writable: a backup
			// too many beats writes discarded without one (S6).
			v, werr := r.Local.ConfigGet(ctx, "replica-read-only")
			writable = werr != nil || v == "no"
		}
		leaseHeld := false
		if ev == EventMaster && evidence == fence.Unknown && r.fencing() && r.Witness != nil && local.Role == node.RoleReplica {
			leaseHeld, snap.Lease = r.askLease(ctx)
		}
		rec.Before = snap
		// One reading of the clock for the decision and the exit: a plan
		// decided with the wait not over must not end the wait (the last
		// decision is the one made with PeerWaitOver).
		over := !r.Now().Before(waitUntil)
		wait := local.Loading
		var plan Plan
		if !wait {
			plan = Decide(Input{Event: ev, Local: local, Peer: peer, PeerAnswered: snap.PeerAnswered,
				LocalStream: snap.LocalStream.Class(), PeerStream: snap.PeerStream.Class(),
				LocalAnnounce: r.LocalAnnounce, PeerAddr: r.PeerAddr, MaxLinkDown: r.Opts.MaxLinkDown, LocalWritable: writable,
				Force: r.Opts.Force, FollowDiverged: r.Opts.FollowDiverged, Handover: r.Opts.Handover,
				PeerWaitOver: over, Fencing: r.fencing(), PeerEvidence: evidence, Witness: r.Witness != nil, LeaseHeld: leaseHeld})
			rec.Plan = &plan
			wait = plan.Wait
		}
		if !wait || once || over {
			if local.Loading {
				return Plan{}, nil, nil, fmt.Errorf("%w: %s is still loading its dataset", ErrLocalDown, r.Local.Addr())
			}
			return plan, &local, peer, nil
		}
		if err := sleepCtx(ctx, r.Opts.Poll); err != nil {
			return Plan{}, nil, nil, fmt.Errorf("waiting for the peer: %w", err)
		}
	}
}

// streams reads what both sides' replication streams hold since their
// fork, when one continued the other's history (S11); nil otherwise.
func (r *Runner) streams(ctx context.Context, local, peer node.Facts) (*node.Stream, *node.Stream) {
	from, ok := node.ForkPoint(local, peer)
	if !ok {
		return nil, nil
	}
	key := fmt.Sprintf("%s/%s/%d", local.ReplID, peer.ReplID, from)
	if r.memo.key == key && r.Now().Sub(r.memo.at) < time.Second {
		return r.memo.local, r.memo.peer
	}
	r.memo.local, r.memo.peer = node.ForkStreams(ctx, r.Local, r.Peer, local, peer)
	r.memo.key, r.memo.at = key, r.Now()
	return r.memo.local, r.memo.peer
}

// snapshot reads both nodes for the journal; a peer that was unreachable
// when the plan was made is not dialled again (a dead host costs a whole
// connect timeout, and the failover is waiting).
func (r *Runner) snapshot(ctx context.Context, readPeer bool) Snapshot {
	var s Snapshot
	if f, err := r.Local.Facts(ctx); err == nil {
		s.Local = &f
	} else {
		s.LocalErr = err.Error()
	}
	if !readPeer {
		s.PeerError = "not read again: unreachable when the plan was made"
		return s
	}
	if f, err := r.Peer.Facts(ctx); err == nil {
		s.Peer = &f
	} else {
		s.PeerError = err.Error()
	}
	return s
}

func (r *Runner) execute(ctx context.Context, t Ticket, plan Plan, rec *Record, log *zap.Logger) error {
	syncCtx, cancel := context.WithTimeout(ctx, r.Opts.SyncTimeout)
	defer cancel()
	defer func() {
		if r.localPaused { // a step failed between backup and follow-peer
			r.unpauseLocal()
		}
	}()
	owed := false // a writable replica was just made read-only
	for _, step := range plan.Steps {
		stepCtx := ctx
		if owed && step == StepBackup {
			// What clients wrote to the writable replica is in no offset:
			// once it is read-only no later plan sees that a backup is
			// owed, so finish it even when a newer event supersedes this
			// transition or a reconcile pass yields (torture seed 5023).
			// The transition's own bound still holds.
			c, cancel := owedContext(ctx)
			defer cancel()
			stepCtx = c
		} else {
			if r.State.Superseded(t) {
				return ErrSuperseded
			}
			if err := ctx.Err(); err != nil { // the bound, or a reconcile pass yielding
				return fmt.Errorf("before step %s: %w", step, err)
			}
		}
		began := r.Now()
		detail, err := r.do(stepCtx, syncCtx, t, step, rec)
		owed = step == StepReadOnly && err == nil
		res := StepResult{Step: step, OK: err == nil, Detail: detail, DurationMS: r.Now().Sub(began).Milliseconds()}
		if err != nil {
			res.Error = err.Error()
		}
		rec.Steps = append(rec.Steps, res)
		log.Info("step", zap.String("step", string(step)), zap.Bool("ok", err == nil), zap.String("detail", detail), zap.Error(err))
		if err != nil {
			return fmt.Errorf("step %s: %w", step, err)
		}
	}
	return nil
}

// owedContext is ctx without its cancellation but with its deadline: for
// a step that must finish once begun (a backup owed to a writable
// replica's writes).
func owedContext(ctx context.Context) (context.Context, context.CancelFunc) {
	c := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(c, dl)
	}
	return context.WithCancel(c)
}

// do performs one step. syncCtx carries the S2 deadline.
func (r *Runner) do(ctx, syncCtx context.Context, t Ticket, step Step, rec *Record) (string, error) {
	switch step {
	case StepFollowPeer:
		host, port, err := hostPort(r.PeerAddr)
		if err != nil {
			return "", err
		}
		if r.localPaused && !r.Now().Before(r.localPausedUntil.Add(-pauseMargin)) {
			// The pause may have run out during the backup: writes after
			// the snapshot would be in neither the backup nor the data
			// kept. Decide again (a new pause, a new backup) instead.
			r.unpauseLocal()
			return "", errors.New("follow-peer: the pause taken for the backup ran out; backing up again")
		}
		if r.localPaused && !r.backedUpInPause {
			if err := r.unmovedSincePlan(ctx, rec); err != nil {
				r.unpauseLocal()
				return "", err
			}
		}
		err = r.Local.ReplicaOf(ctx, host, port)
		if r.localPaused {
			// A replica refuses writes itself from here on.
			r.unpauseLocal()
		}
		return "replicaof " + r.PeerAddr.String(), err
	case StepWaitInSync:
		return r.waitInSync(syncCtx, t)
	case StepFailover:
		return r.failover(ctx, syncCtx, t, r.peerSide(), r.localSide())
	case StepPauseHandover:
		return r.pauseHandover(ctx, syncCtx, t, r.peerSide(), r.localSide())
	case StepHandOverToPeer:
		return r.failover(ctx, syncCtx, t, r.localSide(), r.peerSide())
	case StepPauseHandOverToPeer:
		return r.pauseHandover(ctx, syncCtx, t, r.localSide(), r.peerSide())
	case StepPromote:
		if err := r.Local.PromoteNoOne(ctx); err != nil {
			return "", err
		}
		if rec.Plan != nil && slices.Contains(rec.Plan.Steps, StepFenceWait) {
			return "replicaof no one; " + r.stampPromotion(), nil
		}
		return "replicaof no one", nil
	case StepFenceClose:
		return r.setFence(ctx, fence.Closed, "no write acknowledged before the old master's fence is up")
	case StepFenceOpen:
		return r.setFence(ctx, fence.Open, "no partition can hide: the peer is dead or alive")
	case StepFenceWait:
		return r.fenceWait(ctx, t)
	case StepPromotePeer:
		return "peer replicaof no one", r.Peer.PromoteNoOne(ctx)
	case StepPausePeerWrites:
		return fmt.Sprintf("peer writes paused for up to %s", r.Opts.SyncTimeout), r.Peer.PauseWrites(ctx, r.Opts.SyncTimeout)
	case StepPauseLocalWrites:
		// Writes acknowledged after the backup's snapshot would be in
		// neither the backup nor the data kept: stop them until follow-peer.
		// The pause lasts as long as the transition may (a big dataset's
		// BGSAVE can outlast the sync timeout); follow-peer or a failure
		// lifts it, and follow-peer refuses to go on if it ran out.
		d := r.Opts.SyncTimeout
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) > d {
			d = time.Until(dl)
		}
		if err := r.Local.PauseWrites(ctx, d); err != nil {
			return "", fmt.Errorf("pause local writes for the backup: %w", err)
		}
		r.localPaused, r.localPausedUntil, r.backedUpInPause = true, r.Now().Add(d), false
		return fmt.Sprintf("local writes paused for up to %s", d.Round(time.Millisecond)), nil
	case StepBackup:
		if rec.Before.Local == nil {
			return "", errors.New("backup: local facts unknown")
		}
		return r.Backups.Backup(ctx, r.Local, *rec.Before.Local)
	case StepReadOnly:
		return "replica-read-only yes", r.Local.ConfigSet(ctx, "replica-read-only", "yes")
	case StepKillClients:
		n, err := r.Local.KillNormalClients(ctx)
		return fmt.Sprintf("%d clients disconnected", n), err
	case StepRewrite:
		return rewriteIfFile(ctx, r.Local)
	}
	return "", fmt.Errorf("unknown step %q", step)
}

func rewriteIfFile(ctx context.Context, s Server) (string, error) {
	f, err := s.Facts(ctx)
	if err != nil {
		return "", err
	}
	if f.ConfigFile == "" {
		return "skipped: server runs without a config file", nil
	}
	return "rewrote " + f.ConfigFile, s.ConfigRewrite(ctx)
}

// waitInSync polls until local replicates the peer with the link up.
func (r *Runner) waitInSync(syncCtx context.Context, t Ticket) (string, error) {
	var last node.Facts
	err := r.poll(syncCtx, t, func() (bool, error) {
		f, err := r.Local.Facts(syncCtx)
		if err != nil {
			return false, nil
		}
		last = f
		return f.InSync() && f.Master().Same(r.PeerAddr), nil
	})
	if err != nil {
		return last.Summary(), err
	}
	return fmt.Sprintf("in sync at offset %d", last.ReplOffset), nil
}

// poll wraps pollUntil with supersession and maps the S2 deadline.
func (r *Runner) poll(syncCtx context.Context, t Ticket, cond func() (bool, error)) error {
	err := pollwait.Until(syncCtx, r.Opts.Poll, func() (bool, error) {
		if r.State.Superseded(t) {
			return false, ErrSuperseded
		}
		return cond()
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrSyncTimeout, r.Opts.SyncTimeout)
	}
	return err
}

// side is one server in a handover, with the address the other side knows
// it by.
type side struct {
	s        Server
	announce node.Addr
}

func (r *Runner) localSide() side { return side{r.Local, r.LocalAnnounce} }
func (r *Runner) peerSide() side  { return side{r.Peer, r.PeerAddr} }

// failover asks master (6.2+) to hand its role to target, its replica, and
// waits until the roles have swapped. S2 runs it with the peer as master and
// local as target; a node told to follow runs it the other way round.
func (r *Runner) failover(ctx, syncCtx context.Context, t Ticket, master, target side) (string, error) {
	mf, err := master.s.Facts(ctx)
	if err != nil {
		return "", err
	}
	host, port, listed, err := replicaAsSeenBy(mf, target.announce)
	if err != nil {
		return "", err
	}
	if !listed {
		// FAILOVER TO names a replica as its master lists it. One the
		// master lists under no name we can tell (port 0: its REPLCONF
		// listening-port was refused, a password changed mid-handshake)
		// or not at all would only get "not a replica", every retry: the
		// pause handover needs no name, only the offsets.
		out, err := r.pauseHandover(ctx, syncCtx, t, master, target)
		return fmt.Sprintf("%s lists no replica at %s, pause handover instead of FAILOVER TO: %s", master.s.Addr(), target.announce, out), err
	}
	deadline, _ := syncCtx.Deadline()
	remaining := time.Until(deadline)
	if remaining < 10*r.Opts.Poll {
		return "", fmt.Errorf("%w: no time left for FAILOVER", ErrSyncTimeout)
	}
	if err := master.s.FailoverTo(ctx, host, port, remaining); err != nil {
		return "", err
	}
	to := net.JoinHostPort(host, strconv.Itoa(port))
	err = r.poll(syncCtx, t, func() (bool, error) {
		tf, terr := target.s.Facts(syncCtx)
		mf, merr := master.s.Facts(syncCtx)
		if terr != nil || merr != nil {
			return false, nil // roles are switching; connections may drop
		}
		if tf.Role == node.RoleMaster && mf.Role == node.RoleReplica {
			return true, nil
		}
		if mf.Role == node.RoleMaster && (mf.FailoverState == "no-failover" || mf.FailoverState == "") {
			return false, fmt.Errorf("%w: %s ended FAILOVER TO %s without handing over", ErrHandoverAborted, master.s.Addr(), to)
		}
		return false, nil
	})
	if err != nil {
		// Abort, then let the master settle (bounded) so the next
		// transition reads finished roles, not a handover half way through.
		abortCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = master.s.FailoverAbort(abortCtx)
		_ = pollwait.Until(abortCtx, r.Opts.Poll, func() (bool, error) {
			mf, merr := master.s.Facts(abortCtx)
			return merr == nil && (mf.FailoverState == "no-failover" || mf.FailoverState == ""), nil
		})
		return "", err
	}
	return "FAILOVER TO " + to + "; " + r.afterDemotion(ctx, master.s), nil
}

// replicaAsSeenBy finds the replica announced as addr in a master's replica
// list, as FAILOVER TO needs the address the master knows the replica by:
// listed at addr, or the only one listed on addr's port (NAT). listed is
// false when neither is there.
func replicaAsSeenBy(mf node.Facts, addr node.Addr) (host string, port int, listed bool, err error) {
	if _, _, err := hostPort(addr); err != nil {
		return "", 0, false, err
	}
	var samePort []node.Replica
	for _, rep := range mf.Replicas {
		if rep.Addr().Same(addr) {
			return rep.IP, rep.Port, true, nil
		}
		if rep.Port == addr.Port {
			samePort = append(samePort, rep)
		}
	}
	if len(samePort) == 1 {
		return samePort[0].IP, samePort[0].Port, true, nil
	}
	return "", 0, false, nil
}

// pauseHandover is the handover for servers without FAILOVER: pause the
// master's writes, wait until target has every byte, promote target, make
// the old master follow it.
func (r *Runner) pauseHandover(ctx, syncCtx context.Context, t Ticket, master, target side) (string, error) {
	deadline, _ := syncCtx.Deadline()
	if err := master.s.PauseWrites(ctx, time.Until(deadline)); err != nil {
		return "", err
	}
	unpause := func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = master.s.Unpause(c)
	}
	mf, err := master.s.Facts(ctx)
	if err != nil {
		unpause()
		return "", err
	}
	want := mf.ReplOffset
	err = r.poll(syncCtx, t, func() (bool, error) {
		tf, err := target.s.Facts(syncCtx)
		if err != nil {
			return false, nil
		}
		return tf.InSync() && tf.ReplOffset >= want, nil
	})
	if err != nil {
		unpause()
		return "", err
	}
	if left := time.Until(deadline); left < 10*r.Opts.Poll {
		// The pause ends at the deadline: a write master acknowledges
		// after it, before it follows target, is lost in its resync.
		unpause()
		return "", fmt.Errorf("%w: too little of the pause on %s left (%s) to promote %s", ErrSyncTimeout, master.s.Addr(), left.Round(time.Millisecond), target.s.Addr())
	}
	if err := target.s.PromoteNoOne(ctx); err != nil {
		unpause()
		return "", err
	}
	host, port, err := hostPort(target.announce)
	if err == nil {
		err = master.s.ReplicaOf(ctx, host, port)
	}
	unpause()
	if err != nil {
		return "", fmt.Errorf("%s promoted at offset %d, but %s did not follow: %w", target.s.Addr(), want, master.s.Addr(), err)
	}
	return fmt.Sprintf("paused %s at offset %d; promoted %s; %s", master.s.Addr(), want, target.s.Addr(), r.afterDemotion(ctx, master.s)), nil
}

// afterDemotion sheds the demoted server's clients and persists its role
// (S7); failures are reported, not fatal: that node's own hook does the same.
func (r *Runner) afterDemotion(ctx context.Context, s Server) string {
	msg := ""
	if n, err := s.KillNormalClients(ctx); err != nil {
		msg += "peer client kill failed: " + err.Error()
	} else {
		msg += fmt.Sprintf("peer shed %d clients", n)
	}
	if d, err := rewriteIfFile(ctx, s); err != nil {
		msg += "; peer config rewrite failed: " + err.Error()
	} else {
		msg += "; peer " + d
	}
	return msg
}

// hostPort is a configured address's host and port, or an error naming it
// when it is not a usable host:port (unset, or built without ParseAddr).
func hostPort(a node.Addr) (string, int, error) {
	if !a.Valid() {
		return "", 0, fmt.Errorf("address %q: not a host:port", a)
	}
	return a.Host, a.Port, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// staleMaster is StaleMaster for t with this runner's clock, bound and
// VIPs. The interfaces are read only when everything else says stale (a
// held VIP can only veto), not on every plan of every event.
func (r *Runner) staleMaster(t Ticket, local node.Facts, peer *node.Facts) bool {
	now := r.Now()
	if !StaleMaster(t, now, r.Opts.StaleMasterAfter, VIPs{}, local, peer, r.PeerAddr) {
		return false
	}
	return r.VIPs == nil || StaleMaster(t, now, r.Opts.StaleMasterAfter, r.VIPs(), local, peer, r.PeerAddr)
}

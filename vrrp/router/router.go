package router

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/keepalived"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// ErrPrivileges is wrapped by the errors of Open and Run that come from the
// kernel refusing a raw socket or an address change: the process lacks
// CAP_NET_RAW or CAP_NET_ADMIN.
var ErrPrivileges = errors.New("needs CAP_NET_ADMIN and CAP_NET_RAW (run as root, or through redis-vip.service)")

// EventSource is the source recorded in the journal for the transitions a
// Router runs.
const EventSource = transition.SourceRouter

// Bounds on the I/O the event loop does itself.
const (
	netlinkTimeout           = 2 * time.Second
	defaultReconcileInterval = time.Second
	defaultVIPAddBound       = 3 * time.Second
	defaultVIPFaultHold      = 30 * time.Second
	receiveRetry             = 100 * time.Millisecond
	maxSendTimeout           = time.Second
)

// Wire sends and receives VRRP datagrams on one interface; *transport.Conn
// is one.
type Wire interface {
	// Send writes one VRRP message to dst (the group or a unicast peer).
	Send(ctx context.Context, payload []byte, dst netip.Addr) error
	// Receive waits for the next datagram.
	Receive(ctx context.Context) (transport.Datagram, error)
	// Source is the address adverts leave from, the instance's primary
	// address in VRRP's tie-break.
	Source() netip.Addr
}

// Addresses puts the VIPs on the interface and takes them off;
// *vip.Manager is one. The Router calls Announce from its own goroutine,
// possibly while the event loop calls the other methods.
type Addresses interface {
	// Add assigns every VIP (idempotent).
	Add(ctx context.Context) error
	// Remove takes every VIP off (idempotent).
	Remove(ctx context.Context) error
	// Reconcile makes the kernel hold the VIPs or not, as wantHeld says,
	// and reports whether it had to change anything.
	Reconcile(ctx context.Context, wantHeld bool) (bool, error)
	// Announce sends count rounds of gratuitous ARP / unsolicited NA.
	Announce(ctx context.Context, count int, gap time.Duration) error
}

// Transitions runs the Redis side of a state change: the same safe
// sequences (S1-S8) the keepalived hooks run.
type Transitions interface {
	// Supersede records ev as the newest event at once, so that a
	// transition still running stops at its next step (S4).
	Supersede(ev transition.Event) error
	// Run performs the transition for ev and returns its journal record.
	Run(ctx context.Context, ev transition.Event, source string) (transition.Record, error)
}

// Health is the in-process health check: may the local Redis hold the VIP?
type Health interface {
	// Check returns the verdict; it must return by ctx's deadline.
	Check(ctx context.Context) check.Result
}

// Liveness tells at once that the local Redis is gone (its process died:
// the connection the watcher holds closed, and a new one was refused) and
// when it accepts connections again; *liveness.Watcher is one.
type Liveness interface {
	// Run reports every change until ctx ends, from its own goroutine.
	Run(ctx context.Context, report func(liveness.Event))
}

// Options are what New needs to build a Router.
type Options struct {
	// Name is the instance's name, for logs.
	Name string
	// Settings are the instance's VRRP settings.
	Settings Settings
	// Wire carries the adverts.
	Wire Wire
	// Addresses holds the VIPs.
	Addresses Addresses
	// Transitions runs the Redis side of every state change.
	Transitions Transitions
	// Health is checked every Settings.CheckInterval.
	Health Health
	// Liveness, when set, makes the node unhealthy the moment the local
	// Redis is gone, without waiting for fall failing checks; nil: the
	// health check alone decides.
	Liveness Liveness
	// Log receives every state change with its reason; nil discards.
	Log *zap.Logger
	// CheckTimeout bounds one health check (timeouts.check).
	CheckTimeout time.Duration
	// TransitionTimeout bounds one transition (timeouts.transition).
	TransitionTimeout time.Duration
	// ReconcileInterval is how often the kernel's addresses are checked
	// against the state (default 1s).
	ReconcileInterval time.Duration
	// VIPAddBound is how long adding the VIPs may keep failing before the
	// node gives mastership up (default 3s); a permission error gives it
	// up at once.
	VIPAddBound time.Duration
	// VIPFaultHold is how long a node that could not add the VIPs stays in
	// Fault before it may try again (default 30s). After a permission
	// error it stays there until restarted: a process does not gain
	// CAP_NET_ADMIN.
	VIPFaultHold time.Duration
}

// Status is a snapshot of a Router, for logs, reports and tests.
type Status struct {
	// State is the VRRP state.
	State fsm.State
	// Since is when State was entered.
	Since time.Time
	// Healthy is the health after rise/fall.
	Healthy bool
	// HoldsVIP is true while the Router keeps the VIPs on the interface:
	// Master, and the promotion of the local Redis has finished.
	HoldsVIP bool
	// Draining is true while a node that left Master (on purpose, or
	// because its Redis died) keeps the VIPs on the interface until the
	// new master announces them (see the package documentation).
	Draining bool
	// Rejected counts received adverts rejected by the packet checks.
	Rejected packet.Snapshot
	// Foreign counts adverts ignored because their source is not one of
	// the unicast peers.
	Foreign uint64
	// Check is the last health check result.
	Check check.Result
	// CannotHold says why the node is in Fault although its health check
	// passes: adding the VIPs failed ("" otherwise).
	CannotHold string
	// Maintenance is true while the last health check saw maintenance mode.
	Maintenance bool
}

// Router is the built-in VRRP mode for one instance: one goroutine owns the
// state machine and drives it from received adverts, its timers, the
// health check and shutdown, and carries out its actions on the wire, the
// VIPs and the local Redis.
type Router struct {
	o         Options
	log       *zap.Logger
	validator packet.Validator
	dsts      []netip.Addr
	vips      []netip.Addr
	counters  packet.Counters
	foreign   atomic.Uint64
	closers   []func() error
	// beat is when the event loop last went round (Unix nanoseconds).
	beat atomic.Int64

	mu     sync.Mutex
	status Status
	ran    bool
}

// New checks the options and returns a Router ready to Run.
func New(o Options) (*Router, error) {
	var missing []string
	for name, v := range map[string]any{"Wire": o.Wire, "Addresses": o.Addresses, "Transitions": o.Transitions, "Health": o.Health} {
		if v == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("router %s: missing %v", o.Name, missing)
	}
	if o.CheckTimeout <= 0 || o.TransitionTimeout <= 0 {
		return nil, fmt.Errorf("router %s: check and transition timeouts must be positive", o.Name)
	}
	if o.Settings.CheckInterval <= 0 || o.Settings.Rise < 1 || o.Settings.Fall < 1 {
		return nil, fmt.Errorf("router %s: check_interval, rise and fall must be positive", o.Name)
	}
	if err := o.Settings.FSMConfig(o.Wire.Source()).Validate(); err != nil {
		return nil, fmt.Errorf("router %s: %w", o.Name, err)
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = defaultReconcileInterval
	}
	if o.VIPAddBound <= 0 {
		o.VIPAddBound = defaultVIPAddBound
	}
	if o.VIPFaultHold <= 0 {
		o.VIPFaultHold = defaultVIPFaultHold
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Router{
		o:         o,
		log:       o.Log.With(zap.String("instance", o.Name), zap.Uint8("vrid", o.Settings.VRID)),
		validator: o.Settings.Validator(),
		dsts:      o.Settings.Destinations(),
		vips:      o.Settings.Addresses(),
		status:    Status{State: fsm.Init},
	}, nil
}

// Status returns a snapshot of the Router's state.
func (r *Router) Status() Status {
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	s.Rejected = r.counters.Snapshot()
	s.Foreign = r.foreign.Load()
	return s
}

// LastLoop is when the event loop last went round (it does at least every
// ReconcileInterval while Run runs); zero before Run. A watchdog that
// pings only while it is recent proves the loop is not stuck.
func (r *Router) LastLoop() time.Time {
	n := r.beat.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (r *Router) setStatus(f func(*Status)) {
	r.mu.Lock()
	f(&r.status)
	r.mu.Unlock()
}

// Close releases what Open acquired (the socket, the Redis clients). A
// Router made with New has nothing to release.
func (r *Router) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// privileged maps the kernel's "permission denied" to ErrPrivileges.
func privileged(err error) error {
	if err != nil && errors.Is(err, fs.ErrPermission) && !errors.Is(err, ErrPrivileges) {
		return fmt.Errorf("%w: %w", ErrPrivileges, err)
	}
	return err
}

// Run drives the instance until ctx ends, then shuts down: it sends an
// advert with priority 0 (when Master), removes the VIPs, runs the stop
// transition and returns nil. It starts as Backup, removing VIPs left
// behind by an earlier process, and only after the first health check. It
// returns an error when it cannot run at all (no privileges, the socket
// closed under it). Run may be called once.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.ran {
		r.mu.Unlock()
		return errors.New("router: Run called twice")
	}
	r.ran = true
	r.mu.Unlock()

	m, err := fsm.New(r.o.Settings.FSMConfig(r.o.Wire.Source()))
	if err != nil {
		return fmt.Errorf("router %s: %w", r.o.Name, err)
	}
	// Nothing the daemon does must stop half-way because ctx ended: the
	// shutdown sequence below needs the wire, the VIPs and Redis.
	bg := context.WithoutCancel(ctx)
	if err := r.removeStale(bg); err != nil {
		return err
	}
	loopCtx, stopLoops := context.WithCancel(bg)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoops()

	l := &loop{
		r:        r,
		m:        m,
		bg:       bg,
		adverts:  make(chan fsm.Advert, 16),
		checks:   make(chan checked, 1),
		live:     make(chan liveness.Event, 4),
		fatal:    make(chan error, 1),
		results:  make(chan result, 4),
		claimed:  make(chan claim, 1),
		announce: func() {},
	}
	l.work = newWorker(r.o.Transitions, r.o.TransitionTimeout, l.results)
	l.work.onError = func(err error) {
		r.log.Error("could not mark the newest event; the running transition finishes first", zap.Error(err))
	}
	wg.Add(4)
	go func() { defer wg.Done(); l.work.run(bg) }()
	go func() { defer wg.Done(); r.receive(loopCtx, l.adverts, l.fatal) }()
	go func() { defer wg.Done(); r.checkLoop(loopCtx, l.checks) }()
	go func() { defer wg.Done(); <-loopCtx.Done(); l.work.stop() }()
	if r.o.Liveness != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.o.Liveness.Run(loopCtx, func(ev liveness.Event) {
				select {
				case l.live <- ev:
				case <-loopCtx.Done():
				}
			})
		}()
	}
	defer l.waitAnnounce()
	defer l.waitDrainWatcher()
	return l.run(ctx)
}

// removeStale clears VIPs left on the interface by a process that died
// without cleaning up: a Router starts as Backup and holds nothing.
func (r *Router) removeStale(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, netlinkTimeout)
	defer cancel()
	changed, err := r.o.Addresses.Reconcile(ctx, false)
	if err != nil {
		err = privileged(err)
		if errors.Is(err, ErrPrivileges) {
			return fmt.Errorf("router %s: remove stale VIPs: %w", r.o.Name, err)
		}
		r.log.Error("could not remove stale VIPs; will retry", zap.Error(err))
		return nil
	}
	if changed {
		r.log.Warn("removed VIPs left behind by an earlier process: starting as BACKUP")
	}
	return nil
}

// result is a finished transition.
type result struct {
	gen  uint64
	ev   transition.Event
	rec  transition.Record
	err  error
	took time.Duration
}

// loop is the state of one Run: everything here is touched by the Run
// goroutine only.
type loop struct {
	r       *Router
	m       *fsm.Machine
	bg      context.Context
	work    *worker
	adverts chan fsm.Advert
	checks  chan checked
	live    chan liveness.Event
	fatal   chan error
	results chan result
	claimed chan claim

	started     bool
	health      hysteresis
	lastReason  string
	state       fsm.State
	reason      fsm.Reason // why the machine entered state
	holding     bool
	masterGen   uint64    // generation of the newest master transition
	masterSince time.Time // when the newest BecomeMaster came
	masterDone  bool      // the newest master transition has finished
	masterRetry time.Time // when a master transition was last resubmitted
	sendFailing bool
	paused      bool // maintenance mode, as the last health check said
	// goneAt is when the liveness watcher last said the local Redis is
	// gone; a passing check that began before it is stale.
	goneAt time.Time
	// localDead is set while the machine's actions for the liveness
	// watcher's "gone" are carried out: the Fault they enter is the local
	// Redis positively dead (drainFor).
	localDead bool

	// cannotHold, when set, says why the VIPs could not be added: the node
	// stays in Fault until cannotHoldUntil (forever when zero).
	cannotHold      string
	cannotHoldUntil time.Time
	// addFailingSince is when adding the VIPs started failing (zero while
	// it works).
	addFailingSince time.Time
	// refresh fires the periodic announcements while the VIPs are held.
	refresh *time.Timer

	announce   context.CancelFunc
	announceWG sync.WaitGroup

	// dr is the drain of the VIPs after a planned handover (drain.go).
	dr      drain
	drainWG sync.WaitGroup
	// stopFatal: shutting down because the socket failed (no drain: the
	// peer hears nothing from this node).
	stopFatal bool
}

func (l *loop) run(ctx context.Context) error {
	r := l.r
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	reconcile := time.NewTicker(r.o.ReconcileInterval)
	defer reconcile.Stop()
	l.refresh = time.NewTimer(time.Hour)
	l.refresh.Stop()
	defer l.refresh.Stop()
	for {
		r.beat.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return l.shutdown()
		case err := <-l.fatal:
			l.stopFatal = true
			l.shutdown()
			return err
		case c := <-l.claimed:
			l.onClaim(c)
		case adv := <-l.adverts:
			l.apply(l.m.ReceiveAdvert(adv, time.Now()))
		case <-timer.C:
			l.apply(l.m.Tick(time.Now()))
		case c := <-l.checks:
			l.onCheck(c)
		case ev := <-l.live:
			l.onLive(ev)
		case res := <-l.results:
			l.onResult(res)
		case <-reconcile.C:
			l.reconcile()
		case <-l.refresh.C:
			l.refreshAnnounce()
		}
		if l.dr.on {
			l.checkDrain(time.Now())
		}
		if dl := l.m.NextDeadline(); dl.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(dl))
		}
	}
}

// onCheck feeds a health check result through rise/fall into the machine.
// The first result decides the starting health on its own, so a node whose
// Redis is down at start never becomes Master. A passing result of a check
// that began before the liveness watcher said the Redis is gone is stale:
// it does not count towards rise.
func (l *loop) onCheck(c checked) {
	r, now, res := l.r, time.Now(), c.res
	if res.OK && l.started && c.began.Before(l.goneAt) {
		r.log.Debug("passing check began before the local Redis was gone: ignored")
		return
	}
	r.setStatus(func(s *Status) { s.Check, s.Maintenance = res, res.Maintenance })
	if res.Maintenance != l.paused {
		l.paused = res.Maintenance
		if l.paused {
			r.log.Warn("maintenance mode on: no transition runs; the VRRP state and the VIP stay as they are while the check passes")
		} else {
			r.log.Info("maintenance mode off")
		}
	}
	if res.Reason != l.lastReason {
		if res.OK {
			r.log.Debug("health check", zap.Bool("ok", true), zap.String("reason", res.Reason), zap.Strings("warnings", res.Warnings))
		} else {
			r.log.Warn("health check failed", zap.String("reason", res.Reason))
		}
		l.lastReason = res.Reason
	}
	if !l.started {
		l.started = true
		l.health = hysteresis{rise: r.o.Settings.Rise, fall: r.o.Settings.Fall, healthy: res.OK}
		r.setStatus(func(s *Status) { s.Healthy = res.OK })
		r.log.Info("starting", zap.Bool("healthy", res.OK), zap.String("check", res.Reason),
			zap.Stringer("source", r.o.Wire.Source()), zap.Stringers("destinations", r.dsts),
			zap.Uint8("priority", r.o.Settings.Priority), zap.Int("version", r.o.Settings.Version),
			zap.Duration("advert_interval", r.o.Settings.AdvertInterval),
			zap.Duration("master_down_interval", r.o.Settings.MasterDownInterval()))
		l.apply(l.m.SetHealthy(res.OK, now))
		l.apply(l.m.Start(now))
		return
	}
	if !l.health.observe(res.OK) {
		return
	}
	r.setStatus(func(s *Status) { s.Healthy = l.health.healthy })
	if l.health.healthy {
		r.log.Info("healthy again", zap.Int("rise", l.health.rise), zap.String("check", res.Reason))
	} else {
		r.log.Warn("unhealthy: giving up the VIP", zap.Int("fall", l.health.fall), zap.String("check", res.Reason))
	}
	l.apply(l.m.SetHealthy(l.healthy(), now))
}

// onLive handles the liveness watcher's events. The local Redis gone makes
// the node unhealthy at once (no fall counting): a Master sends priority 0
// before anything else, so the peer takes over after its skew time, and
// drains the VIPs (startDrain: kept, refusing clients at once, until the
// new master announces them). The Redis accepting connections again ends
// such a drain at once. Rise passing checks make the node healthy again,
// as after any failure. In maintenance mode the event is only logged: the
// check keeps the holder eligible while the operator restarts its Redis.
func (l *loop) onLive(ev liveness.Event) {
	r := l.r
	if ev.Up {
		r.log.Info("local Redis accepts connections", zap.String("seen", ev.Reason))
		if l.dr.on {
			// A drain begun because it died ends now (checkDrain).
			l.dr.answered = true
		}
		return
	}
	l.goneAt = ev.At
	switch {
	case !l.started:
		r.log.Warn("local Redis gone before the first health check", zap.String("seen", ev.Reason))
		return
	case l.paused:
		r.log.Warn("local Redis gone, but maintenance mode is on: the health check decides", zap.String("seen", ev.Reason))
		return
	case !l.health.healthy:
		r.log.Info("local Redis gone (already unhealthy)", zap.String("seen", ev.Reason))
		return
	}
	l.health.healthy, l.health.streak = false, 0
	r.setStatus(func(s *Status) { s.Healthy = false })
	r.log.Warn("local Redis gone: unhealthy at once, giving up the VIP", zap.String("seen", ev.Reason),
		zap.Stringer("state", l.state), zap.Duration("after", time.Since(ev.At)))
	l.localDead = true
	l.apply(l.m.SetHealthy(l.healthy(), time.Now()))
	l.localDead = false
}

// healthy is the health the machine runs on: the health check's after
// rise/fall, unless the VIPs could not be added.
func (l *loop) healthy() bool { return l.health.healthy && l.cannotHold == "" }

// apply carries out the machine's actions in order, except that an advert
// with priority 0 goes first (see ordered).
func (l *loop) apply(actions []fsm.Action) {
	r := l.r
	for _, a := range ordered(actions) {
		switch a.Kind {
		case fsm.ActStateChanged:
			l.state, l.reason = a.To, a.Reason
			now := time.Now()
			r.setStatus(func(s *Status) { s.State, s.Since = a.To, now })
			r.log.Info("state changed", zap.Stringer("from", a.From), zap.Stringer("to", a.To), zap.Stringer("reason", a.Reason),
				zap.Duration("master_down_interval", l.m.MasterDownInterval()))
		case fsm.ActSendAdvert:
			l.send(a.Priority)
		case fsm.ActBecomeMaster:
			// The VIP is taken only when the promotion has finished (see
			// onResult): a client must never reach a replica through it.
			// A drain still running (the new master gave up) ends here.
			if l.dr.on {
				l.release()
			}
			l.masterSince = time.Now()
			l.masterGen, l.masterDone = l.work.submit(transition.EventMaster), false
		case fsm.ActBecomeBackup:
			// The VIP goes first, then Redis follows; after a planned
			// handover, or when the local Redis died, it stays until the
			// new master announces it (startDrain).
			if !l.startDrain() {
				l.release()
			}
			l.work.submit(eventFor(l.state))
		case fsm.ActReclaim:
			l.reclaim()
		}
	}
}

// reclaim announces the VIPs again because another router acted as
// Master too (a healed partition): the neighbours that followed its
// announcements would keep sending to it, where nobody answers for the
// VIPs any more, until their ARP entries expire. Not before the VIPs are
// held (take announces them then), and not while draining.
func (l *loop) reclaim() {
	if !l.holding || l.dr.on {
		return
	}
	l.r.log.Info("another router acted as master: announcing the VIPs again", zap.Stringers("vips", l.r.vips))
	l.announceRounds(l.r.o.Settings.GARPCount)
}

// ordered moves an advert with priority 0 (leaving Master: Fault or
// shutdown) to the front, so the peer starts its skew timer before this
// node spends time on logs, removing the VIPs or queueing its transition.
// The VIPs are gone long before the peer can add them: it waits its skew
// time and then promotes its Redis first.
func ordered(actions []fsm.Action) []fsm.Action {
	i := slices.IndexFunc(actions, func(a fsm.Action) bool { return a.Kind == fsm.ActSendAdvert && a.Priority == 0 })
	if i <= 0 {
		return actions
	}
	out := make([]fsm.Action, 0, len(actions))
	out = append(out, actions[i])
	out = append(out, actions[:i]...)
	return append(out, actions[i+1:]...)
}

// eventFor is the transition for a state other than Master: the one
// mapping of state names (keepalived's, as fsm.State prints them) to events.
func eventFor(s fsm.State) transition.Event { return keepalived.State(s.String()).Event() }

// send sends one advert with priority prio to every destination.
func (l *loop) send(prio uint8) {
	r := l.r
	s := r.o.Settings
	adv := packet.Advert{Version: packet.Version(s.Version), VRID: s.VRID, Priority: prio, AdvertInterval: s.AdvertInterval, Addresses: r.vips}
	src := r.o.Wire.Source()
	timeout := min(s.AdvertInterval, maxSendTimeout)
	var errs []error
	for _, dst := range r.dsts {
		b, err := adv.Marshal(src, dst)
		if err == nil {
			ctx, cancel := context.WithTimeout(l.bg, timeout)
			err = r.o.Wire.Send(ctx, b, dst)
			cancel()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case len(errs) > 0 && !l.sendFailing:
		l.sendFailing = true
		r.log.Error("sending adverts fails", zap.Uint8("priority", prio), zap.Error(errors.Join(errs...)))
	case len(errs) == 0 && l.sendFailing:
		l.sendFailing = false
		r.log.Info("sending adverts works again")
	}
	if prio == 0 {
		r.log.Info("sent advert with priority 0: the peer takes over after its skew time")
	}
}

// release takes the VIPs off at once, ending a drain.
func (l *loop) release() {
	r := l.r
	l.stopAnnouncing()
	was := l.holding || l.dr.on
	l.endDrain()
	l.addFailingSince = time.Time{}
	l.holding = false
	r.setStatus(func(s *Status) { s.HoldsVIP = false })
	ctx, cancel := context.WithTimeout(l.bg, netlinkTimeout)
	defer cancel()
	if err := r.o.Addresses.Remove(ctx); err != nil {
		r.log.Error("remove VIPs failed; the reconcile retries", zap.Error(err))
		return
	}
	if was {
		r.log.Info("VIPs released", zap.Stringers("vips", r.vips))
	}
}

// stopAnnouncing cancels the announcement rounds still being sent and the
// periodic refresh.
func (l *loop) stopAnnouncing() {
	l.announce()
	l.announce = func() {}
	l.refresh.Stop()
}

// onResult handles a finished transition. A master transition that is
// still current, while the machine is still Master, hands over the VIP if
// and only if the local Redis ended up master.
func (l *loop) onResult(res result) {
	r := l.r
	if res.ev == transition.EventMaster && res.gen == l.masterGen {
		l.masterDone = true
	}
	if res.ev != transition.EventMaster || res.gen != l.masterGen || l.state != fsm.Master || l.holding {
		r.log.Debug("transition finished", zap.String("event", string(res.ev)), zap.String("outcome", res.rec.Outcome),
			zap.Duration("took", res.took), zap.Error(res.err))
		return
	}
	local := res.rec.After.Local
	if local == nil {
		local = res.rec.Before.Local
	}
	if res.rec.Outcome == transition.OutcomeMaintenance && (local == nil || local.Role != node.RoleMaster) {
		r.log.Warn("maintenance mode: the master transition did not run and the local Redis is not master: not taking the VIP")
		return
	}
	if local == nil || local.Role != node.RoleMaster {
		role := "unknown"
		if local != nil {
			role = string(local.Role)
		}
		r.log.Error("not taking the VIP: the local Redis is not master after the transition; the health check will give mastership up",
			zap.String("outcome", res.rec.Outcome), zap.String("local_role", role), zap.Error(res.err))
		return
	}
	l.take(fmt.Sprintf("promotion %s (%s)", res.rec.Outcome, decision(res.rec)))
}

func decision(rec transition.Record) string {
	if rec.Plan == nil {
		return "no plan"
	}
	return rec.Plan.Decision
}

// take adds the VIPs and announces them in the background.
func (l *loop) take(why string) {
	r := l.r
	l.holding = true
	r.setStatus(func(s *Status) { s.HoldsVIP = true })
	ctx, cancel := context.WithTimeout(l.bg, netlinkTimeout)
	err := r.o.Addresses.Add(ctx)
	cancel()
	if err != nil {
		l.addFailed(err)
		return
	}
	l.addFailingSince = time.Time{}
	r.log.Info("VIPs taken", zap.Stringers("vips", r.vips), zap.String("after", why),
		zap.Duration("since_master", time.Since(l.masterSince)))
	l.startAnnounce()
}

// addFailed handles a failed attempt to put the VIPs on the interface
// while holding them. A node that cannot hold the VIPs must not stay
// master, or it keeps its peer in Backup and nobody serves the VIP: a
// permission error gives mastership up at once, any other error once it
// has lasted VIPAddBound; until then the reconcile retries every second.
func (l *loop) addFailed(err error) {
	r, now := l.r, time.Now()
	if errors.Is(err, fs.ErrPermission) {
		l.giveUp(fmt.Sprintf("the kernel refuses to add the VIPs (%v): %s; restart redis-vip with CAP_NET_ADMIN (redis-vip.service grants it)", err, capNetAdminNote()), time.Time{})
		return
	}
	if l.addFailingSince.IsZero() {
		l.addFailingSince = now
		r.log.Error("add VIPs failed; retrying every reconcile before giving mastership up", zap.Duration("bound", r.o.VIPAddBound), zap.Error(err))
		return
	}
	if failing := now.Sub(l.addFailingSince); failing >= r.o.VIPAddBound {
		l.giveUp(fmt.Sprintf("adding the VIPs has failed for %s (%v); trying again in %s", failing.Round(time.Millisecond), err, r.o.VIPFaultHold), now.Add(r.o.VIPFaultHold))
	}
}

// giveUp puts the node in Fault because it cannot hold the VIPs: a Master
// sends priority 0, so the peer takes over after its skew time. One log
// line says why. until is when it may try again (zero: never).
func (l *loop) giveUp(why string, until time.Time) {
	r := l.r
	l.cannotHold, l.cannotHoldUntil = why, until
	l.addFailingSince = time.Time{}
	r.setStatus(func(s *Status) { s.CannotHold = why })
	r.log.Error("cannot hold the VIP: going to FAULT, priority 0 sent so the peer takes over", zap.String("reason", why),
		zap.Stringer("state", l.state), zap.Stringers("vips", r.vips))
	l.apply(l.m.SetHealthy(false, time.Now()))
}

// startAnnounce sends GARPCount rounds in the background, and schedules
// the periodic refresh (GARPRefresh) while the VIPs are held.
func (l *loop) startAnnounce() {
	s := l.r.o.Settings
	l.announceRounds(s.GARPCount)
	l.scheduleRefresh()
}

// refreshAnnounce is keepalived's vrrp_garp_master_refresh: while the VIPs
// are held, GARPRefreshRepeat rounds every GARPRefresh, for switches and
// neighbours that forget.
func (l *loop) refreshAnnounce() {
	if !l.holding {
		return
	}
	l.announceRounds(l.r.o.Settings.GARPRefreshRepeat)
	l.scheduleRefresh()
}

func (l *loop) scheduleRefresh() {
	l.refresh.Stop()
	if d := l.r.o.Settings.GARPRefresh; d > 0 && l.holding {
		l.refresh.Reset(d)
	}
}

// announceRounds sends count rounds of gratuitous ARP / NA in the
// background, cancelling rounds still being sent.
func (l *loop) announceRounds(count int) {
	r := l.r
	s := r.o.Settings
	l.announce()
	if count == 0 {
		l.announce = func() {}
		return
	}
	ctx, cancel := context.WithCancel(l.bg)
	l.announce = cancel
	l.announceWG.Add(1)
	go func() {
		defer l.announceWG.Done()
		if err := r.o.Addresses.Announce(ctx, count, s.GARPInterval); err != nil && ctx.Err() == nil {
			r.log.Warn("announcing the VIPs failed", zap.Error(err))
		}
	}()
}

func (l *loop) waitAnnounce() {
	l.announce()
	l.announceWG.Wait()
}

// reconcile puts the kernel's addresses back in line with the state, and
// runs the master transition again when this node is Master, healthy, and
// its last one ended without the VIP (S12): whatever repaired the local
// Redis since, the VIP must not stay unserved.
func (l *loop) reconcile() {
	r := l.r
	if l.cannotHold != "" && !l.cannotHoldUntil.IsZero() && !time.Now().Before(l.cannotHoldUntil) {
		r.log.Info("may try to hold the VIPs again", zap.String("after", l.cannotHold))
		l.cannotHold, l.cannotHoldUntil = "", time.Time{}
		r.setStatus(func(s *Status) { s.CannotHold = "" })
		l.apply(l.m.SetHealthy(l.healthy(), time.Now()))
	}
	if l.state == fsm.Master && !l.holding && l.masterDone && l.health.healthy && !l.paused &&
		time.Since(l.masterRetry) >= 3*r.o.ReconcileInterval {
		l.masterRetry = time.Now()
		r.log.Info("Master without the VIP: running the master transition again")
		l.masterGen, l.masterDone = l.work.submit(transition.EventMaster), false
	}
	if l.dr.on {
		// The addresses are kept as they are, never added back: an
		// announcement would call the clients back from the new master.
		l.checkDrain(time.Now())
		return
	}
	ctx, cancel := context.WithTimeout(l.bg, netlinkTimeout)
	defer cancel()
	changed, err := r.o.Addresses.Reconcile(ctx, l.holding)
	if err != nil && l.holding {
		l.addFailed(err)
		return
	}
	if err != nil {
		r.log.Error("reconcile VIPs failed", zap.Bool("want_held", l.holding), zap.Error(err))
		return
	}
	if l.holding && !l.addFailingSince.IsZero() {
		r.log.Info("VIPs added after failing", zap.Duration("failed_for", time.Since(l.addFailingSince)))
		l.addFailingSince = time.Time{}
		l.startAnnounce()
		return
	}
	if !changed {
		return
	}
	if l.holding {
		r.log.Warn("VIPs were missing from the interface: added them back", zap.Stringer("state", l.state))
		l.startAnnounce()
	} else {
		r.log.Warn("VIPs were on the interface without being earned: removed them", zap.Stringer("state", l.state))
	}
}

// shutdown runs the Shutdown event: a Master sends priority 0, the VIPs
// go (after a drain, when it held them: the new master's announcement, or
// the drain's bounds), and the stop transition is recorded. It waits for
// the transitions (bounded) so the process does not exit in the middle of
// one.
func (l *loop) shutdown() error {
	r := l.r
	r.log.Info("shutting down", zap.Stringer("state", l.state))
	l.apply(l.m.Shutdown(time.Now()))
	l.waitDrain()
	l.release()
	if l.started {
		last := l.work.latest()
		wait := time.NewTimer(r.o.TransitionTimeout + time.Second)
		defer wait.Stop()
	drain:
		for {
			select {
			case res := <-l.results:
				if res.gen == last {
					break drain
				}
			case <-wait.C:
				r.log.Error("stop transition did not finish in time")
				break drain
			}
		}
	}
	r.log.Info("stopped", zap.Stringer("rejected_adverts", r.counters.Snapshot()), zap.Uint64("foreign_adverts", r.foreign.Load()))
	return nil
}

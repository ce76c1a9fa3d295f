package wiring

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/router"
	"github.com/redis-vip/redis-vip/vrrp/transport"
	"github.com/redis-vip/redis-vip/vrrp/vip"
)

// Router is a configured instance's running router.Router with what it
// owns: its socket and its health check's clients, closed with it.
type Router struct {
	*router.Router
	closers []func() error
}

// Close closes the router, then what it owns.
func (r *Router) Close() error {
	errs := []error{r.Router.Close()}
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// OpenRouter builds the Router of an instance with real parts: a VRRP
// socket on the interface (opened here, in the calling thread's network
// namespace), a vip.Manager for the VIPs, the check verdict as the health
// check, a liveness watcher on the local Redis (unhealthy the moment it
// dies) and the transition runner for the Redis side. Close it when done.
func OpenRouter(ctx context.Context, in config.Instance, v config.VRRP, log *zap.Logger) (*Router, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := router.Settings(v)
	ilog := log.With(zap.String("instance", in.Name))
	mgr, err := vip.New(s.Interface, s.VIPs, ilog)
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: vrrp: %w", config.ErrConfig, in.Name, err)
	}
	conn, err := transport.Listen(ctx, transport.Config{Interface: s.Interface, Family: s.Family(), Source: s.Source, Exclude: s.Addresses()})
	if err != nil {
		if errors.Is(err, fs.ErrPermission) && !errors.Is(err, router.ErrPrivileges) {
			err = fmt.Errorf("%w: %w", router.ErrPrivileges, err)
		}
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	health, err := NewHealth(in)
	if err != nil {
		conn.Close()
		return nil, err
	}
	live, err := NewLiveness(in, ilog)
	if err != nil {
		health.Close()
		conn.Close()
		return nil, err
	}
	r, err := router.New(router.Options{
		Name: in.Name, Settings: s, Wire: conn, Addresses: mgr,
		Transitions: Transitions{Instance: in, Log: ilog},
		Health:      health, Liveness: live, Log: log,
		CheckTimeout: in.Timeouts.Check, TransitionTimeout: in.Timeouts.Transition,
	})
	if err != nil {
		health.Close()
		conn.Close()
		return nil, err
	}
	return &Router{Router: r, closers: []func() error{conn.Close, health.Close}}, nil
}

// Health is the health check of an instance: check.Gather and
// check.Verdict, exactly what `redis-vip check` answers keepalived.
type Health struct {
	in          config.Instance
	local, peer *node.Client
}

// NewHealth dials (lazily) the instance's local and peer Redis.
func NewHealth(in config.Instance) (*Health, error) {
	local, peer, err := Dial(in)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	return &Health{in: in, local: local, peer: peer}, nil
}

// Check returns the eligibility verdict, bounded by ctx.
func (h *Health) Check(ctx context.Context) check.Result {
	return verdict(ctx, h.in, h.local, h.peer, time.Now())
}

// Close closes the Redis clients.
func (h *Health) Close() error {
	h.local.Close()
	return h.peer.Close()
}

// Liveness watches an instance's local Redis with a liveness.Watcher. It
// drops "gone" while maintenance mode is on (read from the state dir when
// it happens), so an operator's restart of the local Redis moves nothing,
// as the check promises in maintenance mode.
type Liveness struct {
	w   *liveness.Watcher
	sd  transition.StateDir
	log *zap.Logger
}

// NewLiveness makes the watcher of the instance's local address, with its
// connect timeout (timeouts.connect).
func NewLiveness(in config.Instance, log *zap.Logger) (*Liveness, error) {
	if log == nil {
		log = zap.NewNop()
	}
	w, err := liveness.New(liveness.Options{Addr: in.Local.String(), DialTimeout: in.Timeouts.Connect, Log: log})
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: local: %w", config.ErrConfig, in.Name, err)
	}
	return &Liveness{w: w, sd: StateDir(in), log: log}, nil
}

// Run reports the watcher's events until ctx ends, less "gone" in
// maintenance mode.
func (l *Liveness) Run(ctx context.Context, report func(liveness.Event)) {
	l.w.Run(ctx, func(ev liveness.Event) {
		if !ev.Up && l.paused() {
			l.log.Warn("local Redis gone, but maintenance mode is on: the health check decides", zap.String("seen", ev.Reason))
			return
		}
		report(ev)
	})
}

// paused reports whether maintenance mode is on for the instance (an
// unreadable maintenance file counts as on, as everywhere else).
func (l *Liveness) paused() bool {
	m, _ := l.sd.Maintenance()
	return m.On
}

// Transitions runs an instance's transitions for its Router with
// transition.Runner, dialling fresh clients for each one as a keepalived
// hook would, so a transition never reuses a connection a restart broke.
type Transitions struct {
	Instance config.Instance
	Log      *zap.Logger
}

// Supersede marks ev as the newest event in the instance's state dir.
func (t Transitions) Supersede(ev transition.Event) error {
	_, err := StateDir(t.Instance).Enqueue(ev, transition.SourceRouter, time.Now())
	return err
}

// Run performs one transition (never with --force). In maintenance mode it
// only records the event, with the local Redis's facts (bounded by ctx and
// the command timeout), so the Router takes the VIP only if that Redis is
// already master.
func (t Transitions) Run(ctx context.Context, ev transition.Event, source string) (transition.Record, error) {
	sd := StateDir(t.Instance)
	if m, merr := sd.Maintenance(); m.On {
		if merr != nil {
			t.Log.Warn("maintenance file unreadable; maintenance mode counts as on", zap.Error(merr))
		}
		var before transition.Snapshot
		if local, peer, err := Dial(t.Instance); err == nil {
			if f, err := local.Facts(ctx); err == nil {
				before.Local = &f
			} else {
				before.LocalErr = err.Error()
			}
			local.Close()
			peer.Close()
		}
		t.Log.Warn("maintenance mode: event recorded, nothing changed", zap.String("event", string(ev)), zap.Stringer("maintenance", m))
		return sd.RecordPaused(ev, source, m, before, time.Now())
	}
	local, peer, err := Dial(t.Instance)
	if err != nil {
		return transition.Record{Event: ev, Outcome: transition.OutcomeFailed, Error: err.Error()}, err
	}
	defer local.Close()
	defer peer.Close()
	return Runner(t.Instance, local, peer, t.Log, false).Run(ctx, ev, source)
}

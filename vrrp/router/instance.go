package router

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/transport"
	"github.com/redis-vip/redis-vip/vrrp/vip"
)

// Open builds the Router of a configured instance with real parts: a VRRP
// socket on the interface (opened here, in the calling thread's network
// namespace), a vip.Manager for the VIPs, the check verdict as the health
// check, a liveness.Watcher on the local Redis (unhealthy the moment it
// dies) and the transition runner for the Redis side. s is the instance's
// decoded `vrrp:` section (DecodeSettings). Close the Router when done.
func Open(ctx context.Context, inst *config.Instance, s Settings, log *zap.Logger) (*Router, error) {
	if log == nil {
		log = zap.NewNop()
	}
	mgr, err := vip.New(s.Interface, s.VIPs, log.With(zap.String("instance", inst.Name)))
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: vrrp: %w", config.ErrConfig, inst.Name, err)
	}
	conn, err := transport.Listen(ctx, transport.Config{Interface: s.Interface, Family: s.Family(), Source: s.Source, Exclude: s.Addresses()})
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.Name, privileged(err))
	}
	health, err := NewInstanceHealth(inst)
	if err != nil {
		conn.Close()
		return nil, err
	}
	live, err := NewInstanceLiveness(inst, log.With(zap.String("instance", inst.Name)))
	if err != nil {
		health.Close()
		conn.Close()
		return nil, err
	}
	r, err := New(Options{
		Name: inst.Name, Settings: s, Wire: conn, Addresses: mgr,
		Transitions: InstanceTransitions{Instance: inst, Log: log.With(zap.String("instance", inst.Name))},
		Health:      health, Liveness: live, Log: log,
		CheckTimeout: inst.Timeouts.Check, TransitionTimeout: inst.Timeouts.Transition,
	})
	if err != nil {
		health.Close()
		conn.Close()
		return nil, err
	}
	r.closers = append(r.closers, conn.Close, health.Close)
	return r, nil
}

// InstanceHealth is the health check of a configured instance: check.Gather
// and check.Verdict, exactly what `redis-vip check` answers keepalived.
type InstanceHealth struct {
	inst        *config.Instance
	local, peer *node.Client
}

// NewInstanceHealth dials (lazily) the instance's local and peer Redis.
func NewInstanceHealth(inst *config.Instance) (*InstanceHealth, error) {
	local, peer, err := inst.Dial()
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.Name, err)
	}
	return &InstanceHealth{inst: inst, local: local, peer: peer}, nil
}

// Check returns the eligibility verdict, bounded by ctx.
func (h *InstanceHealth) Check(ctx context.Context) check.Result {
	sd := transition.StateDir{Dir: h.inst.StateDir, Instance: h.inst.Name}
	in, err := check.Gather(ctx, h.local, h.peer, sd, h.inst.Announce, h.inst.Peer, time.Now())
	in.MaxLinkDown = h.inst.MaxLinkDown
	res := check.Verdict(in)
	if err != nil {
		res.Warnings = append(res.Warnings, "state dir: "+err.Error())
	}
	return res
}

// Close closes the Redis clients.
func (h *InstanceHealth) Close() error {
	h.local.Close()
	return h.peer.Close()
}

// InstanceLiveness watches a configured instance's local Redis with a
// liveness.Watcher. It drops "gone" while maintenance mode is on (read from
// the state dir when it happens), so an operator's restart of the local
// Redis moves nothing, as the check promises in maintenance mode.
type InstanceLiveness struct {
	w   *liveness.Watcher
	sd  transition.StateDir
	log *zap.Logger
}

// NewInstanceLiveness makes the watcher of inst's local address. The
// connect timeout is the instance's (timeouts.connect).
func NewInstanceLiveness(inst *config.Instance, log *zap.Logger) (*InstanceLiveness, error) {
	if log == nil {
		log = zap.NewNop()
	}
	w, err := liveness.New(liveness.Options{Addr: inst.Local, DialTimeout: inst.Timeouts.Connect, Log: log})
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: local: %w", config.ErrConfig, inst.Name, err)
	}
	return &InstanceLiveness{w: w, sd: transition.StateDir{Dir: inst.StateDir, Instance: inst.Name}, log: log}, nil
}

// Run reports the watcher's events until ctx ends, less "gone" in
// maintenance mode.
func (l *InstanceLiveness) Run(ctx context.Context, report func(liveness.Event)) {
	l.w.Run(ctx, func(ev liveness.Event) {
		if !ev.Up && l.Paused() {
			l.log.Warn("local Redis gone, but maintenance mode is on: the health check decides", zap.String("seen", ev.Reason))
			return
		}
		report(ev)
	})
}

// Paused reports whether maintenance mode is on for the instance (an
// unreadable maintenance file counts as on, as everywhere else).
func (l *InstanceLiveness) Paused() bool {
	m, _ := l.sd.Maintenance()
	return m.On
}

// InstanceTransitions runs a configured instance's transitions with
// transition.Runner, dialling fresh clients for each one as a keepalived
// hook would, so a transition never reuses a connection a restart broke.
type InstanceTransitions struct {
	Instance *config.Instance
	Log      *zap.Logger
}

// Supersede marks ev as the newest event in the instance's state dir.
func (t InstanceTransitions) Supersede(ev transition.Event) error {
	_, err := transition.StateDir{Dir: t.Instance.StateDir, Instance: t.Instance.Name}.Enqueue(ev, time.Now())
	return err
}

// Run performs one transition (never with --force). In maintenance mode it
// only records the event, with the local Redis's facts (bounded by ctx and
// the command timeout), so the Router takes the VIP only if that Redis is
// already master.
func (t InstanceTransitions) Run(ctx context.Context, ev transition.Event, source string) (transition.Record, error) {
	sd := transition.StateDir{Dir: t.Instance.StateDir, Instance: t.Instance.Name}
	if m, merr := sd.Maintenance(); m.On {
		if merr != nil {
			t.Log.Warn("maintenance file unreadable; maintenance mode counts as on", zap.Error(merr))
		}
		var before transition.Snapshot
		if local, peer, err := t.Instance.Dial(); err == nil {
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
	local, peer, err := t.Instance.Dial()
	if err != nil {
		return transition.Record{Event: ev, Outcome: transition.OutcomeFailed, Error: err.Error()}, err
	}
	defer local.Close()
	defer peer.Close()
	return transition.ForInstance(t.Instance, local, peer, t.Log, false).Run(ctx, ev, source)
}

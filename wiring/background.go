package wiring

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/transition"
)

// Reconcilers runs transition.ReconcileEvery for each instance in the
// background (S12), with fresh clients for every pass, and the fence
// keeper of each instance with fencing on (issue 10: every long-running
// process, notify-fifo, reconcile --loop and run, starts its helpers
// here); it returns a function that stops them and waits.
func Reconcilers(ctx context.Context, insts []config.Instance, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range insts {
		ilog := log.With(zap.String("instance", in.Name))
		if in.Fencing() {
			if k, release, err := FenceKeeper(in, ilog); err != nil {
				ilog.Error("fence keeper not started: the fence is set only by transitions", zap.Error(err))
			} else {
				wg.Go(func() { defer release(); k.Run(ctx) })
			}
		}
		if in.ReconcileInterval <= 0 {
			continue
		}
		wg.Go(func() {
			transition.ReconcileEvery(ctx, in.ReconcileInterval, in.Timeouts.Transition, func() (*transition.Runner, func(), error) {
				local, peer, err := Dial(in)
				if err != nil {
					return nil, nil, err
				}
				return Runner(in, local, peer, ilog, false), func() { local.Close(); peer.Close() }, nil
			}, ilog)
		})
	}
	return func() { cancel(); wg.Wait() }
}

// DownFile is the keepalived track_file (weight 0) that says the local
// Redis is gone: <state_dir>/<instance>.down.
func DownFile(in config.Instance) string {
	return filepath.Join(in.StateDir, in.Name+".down")
}

// TrackFiles watches each instance's local Redis with a held connection
// (package liveness) and keeps its down file in line: 1 the moment the
// Redis is gone, so keepalived goes to FAULT through inotify instead of
// after fall failing checks; 0 once it is back and `check` would pass
// again. It returns a function that stops them, resetting a 1 they left,
// and waits.
func TrackFiles(ctx context.Context, insts []config.Instance, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range insts {
		ilog := log.With(zap.String("instance", in.Name))
		w, err := liveness.New(liveness.Options{Addr: in.Local.String(), DialTimeout: in.Timeouts.Connect, Log: ilog})
		if err != nil {
			ilog.Error("local Redis not watched: the periodic check alone detects its death", zap.Error(err))
			continue
		}
		health, err := NewHealth(in)
		if err != nil {
			ilog.Error("local Redis not watched: the periodic check alone detects its death", zap.Error(err))
			continue
		}
		sd := StateDir(in)
		tf := &liveness.TrackFile{
			Path:   DownFile(in),
			Paused: func() bool { m, _ := sd.Maintenance(); return m.On },
			Ready: func(ctx context.Context) (bool, string) {
				res := health.Check(ctx)
				return res.OK, res.Reason
			},
			ReadyTimeout: in.Timeouts.Check,
			Log:          ilog,
		}
		events := make(chan liveness.Event)
		wg.Go(func() {
			w.Run(ctx, func(ev liveness.Event) {
				select {
				case events <- ev:
				case <-ctx.Done():
				}
			})
		})
		wg.Go(func() {
			defer health.Close()
			tf.Run(ctx, events)
		})
	}
	return func() { cancel(); wg.Wait() }
}

// HealthTarget is one instance whose health endpoints a long-running
// process serves: its VIPs as ip:port (run) and its VRRP state (run; nil
// in keepalived mode).
type HealthTarget struct {
	Instance config.Instance
	VIPs     []string
	VRRP     func() *httpapi.VRRP
}

// ServeHealth serves the health endpoints of every target with a
// health_listen address, in the background, until ctx ends or the
// returned function is called (which waits for the servers and closes
// their clients). A target that cannot be served is logged and left out; a
// server that cannot listen keeps trying (httpapi.Server.Serve).
func ServeHealth(ctx context.Context, targets []HealthTarget, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var closers []func() error
	host, _ := os.Hostname()
	for _, t := range targets {
		addr := t.Instance.HealthListen
		if addr == "" {
			continue
		}
		ilog := log.With(zap.String("instance", t.Instance.Name), zap.String("component", "health"))
		if err := httpapi.CheckListen(addr); err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		src, err := NewHealthSource(t.Instance, t.VIPs, t.VRRP)
		if err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		closers = append(closers, src.Close)
		srv, err := httpapi.New(httpapi.Options{Source: src, Timeout: t.Instance.Timeouts.Check, Host: host, Log: ilog})
		if err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		wg.Go(func() { srv.Serve(ctx, addr) })
	}
	return func() {
		cancel()
		wg.Wait()
		for _, c := range closers {
			_ = c()
		}
	}
}

// keeperProbeBound caps the command part of the keeper's bound on one
// read: a short one, so a hung peer is unknown soon.
const keeperProbeBound = 500 * time.Millisecond

// FenceKeeper builds the instance's fence keeper (transition.Keeper) with
// its own clients, and a function that closes them.
func FenceKeeper(in config.Instance, log *zap.Logger) (*transition.Keeper, func(), error) {
	local, peer, err := Dial(in)
	if err != nil {
		return nil, nil, err
	}
	k := &transition.Keeper{
		Log: log.With(zap.String("component", "fence")), State: StateDir(in),
		Local: local, Peer: peer, LocalAnnounce: in.Announce,
		FenceAfter: in.FenceAfter, Interval: in.FenceInterval,
		ProbeTimeout: in.Timeouts.Connect + min(in.Timeouts.Command, keeperProbeBound),
		PendingSlack: in.Timeouts.Transition,
		Witness:      Witness(in, log), LeaseDuration: in.LeaseDuration(),
	}
	return k, func() { local.Close(); peer.Close() }, nil
}

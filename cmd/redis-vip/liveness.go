package main

import (
	"context"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/router"
)

// downFile is the keepalived track_file (weight 0) that says the local
// Redis is gone: <state_dir>/<instance>.down.
func downFile(in *config.Instance) string {
	return filepath.Join(in.StateDir, in.Name+".down")
}

// startTrackFiles watches each instance's local Redis with a held
// connection (package liveness) and keeps its down file in line: 1 the
// moment the Redis is gone, so keepalived goes to FAULT through inotify
// instead of after fall failing checks; 0 once it is back and `check`
// would pass again. It returns a function that stops them, resetting a 1
// they left, and waits.
func startTrackFiles(ctx context.Context, insts []*config.Instance, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range insts {
		ilog := log.With(zap.String("instance", in.Name))
		w, err := liveness.New(liveness.Options{Addr: in.Local, DialTimeout: in.Timeouts.Connect, Log: ilog})
		if err != nil {
			ilog.Error("local Redis not watched: the periodic check alone detects its death", zap.Error(err))
			continue
		}
		health, err := router.NewInstanceHealth(in)
		if err != nil {
			ilog.Error("local Redis not watched: the periodic check alone detects its death", zap.Error(err))
			continue
		}
		sd := transition.StateDir{Dir: in.StateDir, Instance: in.Name}
		tf := &liveness.TrackFile{
			Path:   downFile(in),
			Paused: func() bool { m, _ := sd.Maintenance(); return m.On },
			Ready: func(ctx context.Context) (bool, string) {
				res := health.Check(ctx)
				return res.OK, res.Reason
			},
			ReadyTimeout: in.Timeouts.Check,
			Log:          ilog,
		}
		events := make(chan liveness.Event)
		wg.Add(2)
		go func() {
			defer wg.Done()
			w.Run(ctx, func(ev liveness.Event) {
				select {
				case events <- ev:
				case <-ctx.Done():
				}
			})
		}()
		go func() {
			defer wg.Done()
			defer health.Close()
			tf.Run(ctx, events)
		}()
	}
	return func() { cancel(); wg.Wait() }
}

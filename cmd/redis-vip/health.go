package main

import (
	"context"
	"os"
	"sync"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
)

// healthTarget is one instance whose health endpoints a long-running
// process serves: its VIPs as ip:port (run) and its VRRP state (run; nil
// in keepalived mode).
type healthTarget struct {
	inst *config.Instance
	vips []string
	vrrp func() *httpapi.VRRP
}

// keepalivedTargets are the targets of notify-fifo: no VRRP state of its own.
func keepalivedTargets(insts []*config.Instance) []healthTarget {
	out := make([]healthTarget, 0, len(insts))
	for _, in := range insts {
		out = append(out, healthTarget{inst: in})
	}
	return out
}

// startHealth serves the health endpoints of every target with a
// health_listen address, in the background, until ctx ends or the returned
// function is called (which waits for the servers and closes their
// clients). A target that cannot be served is logged and left out; a
// server that cannot listen keeps trying (httpapi.Server.Serve).
func startHealth(ctx context.Context, targets []healthTarget, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var closers []func() error
	host, _ := os.Hostname()
	for _, t := range targets {
		addr := t.inst.HealthListen
		if addr == "" {
			continue
		}
		ilog := log.With(zap.String("instance", t.inst.Name), zap.String("component", "health"))
		if err := httpapi.CheckListen(addr); err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		src, err := httpapi.NewInstanceSource(t.inst, t.vips, t.vrrp)
		if err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		closers = append(closers, src.Close)
		srv, err := httpapi.New(httpapi.Options{Source: src, Timeout: t.inst.Timeouts.Check, Host: host, Log: ilog})
		if err != nil {
			ilog.Error("health endpoints not served", zap.Error(err))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.Serve(ctx, addr)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		for _, c := range closers {
			_ = c()
		}
	}
}

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "exit 0 only when the local Redis may hold the VIP (keepalived vrrp_script)",
		UsageText: "redis-vip check [--instance NAME] [--timeout 1s]\n\n" +
			"keepalived.conf:\n  vrrp_script chk_redis {\n    script \"/usr/bin/redis-vip check --instance redis6379\"\n    interval 1\n    timeout 2\n    fall 2\n    rise 2\n  }\n\n" +
			"Exit codes: 0 eligible, 1 not eligible (one line says why), 2 bad input.",
		Flags: commonFlags(),
		Action: func(c *cli.Context) error {
			e, err := load(c)
			if err != nil {
				return err
			}
			defer e.flush()
			if err := checkResolvable(c.Context, e.inst.Peer); err != nil {
				return err
			}
			local, peer, err := e.dial()
			if err != nil {
				return err
			}
			defer local.Close()
			defer peer.Close()
			ctx, cancel := context.WithTimeout(c.Context, e.inst.Timeouts.Check)
			defer cancel()
			in := gatherCheck(ctx, e, local, peer)
			res := check.Verdict(in)
			word := "OK"
			if !res.OK {
				word = "FAIL"
			}
			fmt.Fprintf(c.App.Writer, "%s: %s: %s\n", word, e.inst.Name, res.Reason)
			fields := []zap.Field{zap.Bool("ok", res.OK), zap.String("reason", res.Reason), zap.Strings("warnings", res.Warnings)}
			if res.OK {
				e.log.Debug("check", fields...)
			} else {
				e.log.Warn("check", append(fields, zap.Any("local", in.Local), zap.Any("peer", in.Peer), zap.NamedError("peer_error", in.PeerErr))...)
			}
			if code := res.ExitCode(); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}

// gatherCheck reads both servers concurrently under ctx, and the state dir.
func gatherCheck(ctx context.Context, e *env, local, peer *node.Client) check.Input {
	in := check.Input{LocalAnnounce: e.inst.Announce, PeerAddr: e.inst.Peer, Now: time.Now()}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if f, err := local.Facts(ctx); err == nil {
			in.Local = &f
		} else {
			in.LocalErr = err
		}
	}()
	go func() {
		defer wg.Done()
		if f, err := peer.Facts(ctx); err == nil {
			in.Peer = &f
		} else {
			in.PeerErr = err
		}
	}()
	sd := transition.StateDir{Dir: e.inst.StateDir, Instance: e.inst.Name}
	if t, err := sd.Newest(); err == nil {
		in.LastEvent = t.Event
	}
	in.TransitionRunning = sd.Busy()
	if h, err := sd.ReadHoldoff(); err == nil {
		in.Holdoff = h
	} else {
		e.log.Warn("read holdoff", zap.Error(err))
	}
	wg.Wait()
	return in
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/wiring"
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
			// No single command may outlast the whole check.
			e.inst = e.inst.WithCheckBound()
			local, peer, release, err := e.connect(c.Context)
			if err != nil {
				return err
			}
			defer release()
			ctx, cancel := context.WithTimeout(c.Context, e.inst.Timeouts.Check)
			defer cancel()
			in, err := wiring.CheckInput(ctx, e.inst, local, peer, time.Now())
			if err != nil {
				e.log.Warn("check: state dir", zap.Error(err))
			}
			if errors.Is(in.LocalErr, node.ErrAuth) {
				return fmt.Errorf("%w: %w", config.ErrConfig, in.LocalErr)
			}
			in.VIPs = wiring.VIPs(e.inst)
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

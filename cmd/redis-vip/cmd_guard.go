package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/wiring"
)

func guardCommand() *cli.Command {
	return &cli.Command{
		Name:  "guard",
		Usage: "before redis-server starts: make a Redis that would start empty or stale start as a replica",
		UsageText: "redis-vip guard [--instance NAME]\n\n" +
			"systemd drop-in for redis-server.service (packaging/systemd/redis-server.service.d):\n  [Service]\n  ExecStartPre=/usr/bin/redis-vip guard --instance redis6379\n" +
			"  ExecStart=\n  ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --include /etc/redis/redis-vip-guard.conf ...\n" +
			"The include goes on the command line: CONFIG REWRITE appends its replicaof after the\n" +
			"last line of redis.conf, which would win over an include there.\n\n" +
			"Writes `replicaof <peer>` (local data missing, empty, older or diverged: backed up first),\n" +
			"`replicaof no one` (local data newer than the peer's, or the peer is empty), or nothing.\n" +
			"Exit codes: 0 decided and written, 1 failed (redis-server should not start), 2 bad input\n" +
			"(including: local Redis already running).",
		Flags: commonFlags(),
		Action: func(c *cli.Context) error {
			e, err := load(c)
			if err != nil {
				return err
			}
			defer e.flush()
			if err := e.cfg.GuardIncludeShared(e.inst.Name); err != nil {
				return err
			}
			r, err := wiring.GuardRunner(e.inst, e.log)
			if err != nil {
				return err
			}
			local, peer, release, err := e.connect(c.Context)
			if err != nil {
				return err
			}
			defer release()
			r.Local, r.Peer = local, peer
			ctx, cancel := context.WithTimeout(c.Context, e.inst.Timeouts.PeerWait+e.inst.Timeouts.Connect)
			defer cancel()
			d, err := r.Run(ctx)
			if err != nil {
				return err
			}
			extra := ""
			if d.PromotePeer {
				extra += " (peer promoted first)"
			}
			if d.BackupLocal {
				extra += " (local file backed up)"
			}
			fmt.Fprintf(c.App.Writer, "guard %s: %s%s: %s\n", e.inst.Name, d.Action, extra, d.Reason)
			return nil
		},
	}
}

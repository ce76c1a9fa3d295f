package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/guard"
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
			if other := e.cfg.GuardIncludeSharedWith(e.inst.Name); other != "" {
				return fmt.Errorf("%w: instances %s and %s: both write guard.include %s; give each its own", config.ErrConfig, e.inst.Name, other, e.inst.Guard.Include)
			}
			files, err := dataFiles(e.inst)
			if err != nil {
				return err
			}
			local, peer, release, err := e.connect(c.Context)
			if err != nil {
				return err
			}
			defer release()
			r := &guard.Runner{Log: e.log, Local: local, Peer: peer, PeerAddr: e.inst.Peer, LocalAnnounce: e.inst.Announce,
				Files: files, Include: e.inst.Guard.Include, RefuseDiverged: e.inst.OnDiverged == config.DivergedRefuse, BackupDir: e.inst.BackupDir, Instance: e.inst.Name,
				Poll: 100 * time.Millisecond, Now: time.Now, Keep: e.inst.BackupsKeep}
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

// dataFiles finds the local data files: redis.conf, then explicit settings.
func dataFiles(in *config.Instance) (guard.DataFiles, error) {
	files, err := guard.ReadRedisConf(in.Guard.RedisConf, in.Guard.Include)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || in.Guard.DataDir == "" {
			return files, fmt.Errorf("%w: guard: %w (set guard.redis_conf or guard.data_dir)", config.ErrConfig, err)
		}
	}
	if in.Guard.DataDir != "" {
		files.Dir = in.Guard.DataDir
	}
	if in.Guard.DBFilename != "" {
		files.DBFilename = in.Guard.DBFilename
	}
	return files, nil
}

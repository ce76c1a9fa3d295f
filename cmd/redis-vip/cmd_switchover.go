package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/switchover"
	"github.com/redis-vip/redis-vip/vrrp/vip"
)

// holdLifetime bounds how long the VIPs held on lo during a switchover
// outlive a switchover process that died: keepalived has moved the VIP to
// the peer within its skew time, so the hold has long done its work then.
const holdLifetime = 5 * time.Second

// switchoverCommand is the planned move of the master role to the peer.
func switchoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "switchover",
		Usage: "move the master role to the peer on purpose, with no lost writes, while keepalived keeps running",
		UsageText: "redis-vip switchover [--instance NAME] [--track-file PATH] [--wait 30s]\n\n" +
			"Run on the current master. Refuses unless the peer is an in-sync replica of this node.\n" +
			"Writes 1 into the keepalived track file (this node goes to FAULT and drops the VIP), waits\n" +
			"until the peer's notify-master has synced and promoted it and this node replicates it,\n" +
			"then writes 0 (this node becomes BACKUP). keepalived.conf must declare the file:\n" +
			"  track_file redis_switchover {\n    file \"/var/lib/redis-vip/redis6379.switchover\"\n    weight 0\n    init_file 0 overwrite\n  }\n" +
			"and track it in the vrrp_instance (track_file { redis_switchover }). With preempt and a\n" +
			"higher priority here, keepalived takes the role back as soon as the file says 0.\n\n" +
			"With vips: (or --vips) set and CAP_NET_ADMIN (run it as root), this host also holds the VIPs\n" +
			"on lo from before the file is written until it replicates the new master and has shed its\n" +
			"clients (each address expires by itself after a few seconds): when keepalived removes the\n" +
			"VIP, requests in flight to this node are still answered and its clients see their\n" +
			"connections close, instead of waiting out their own timeouts.\n\n" +
			"Exit codes: 0 done, 1 refused or timed out (the file is reset either way), 2 bad input.",
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: "track-file", Usage: "file keepalived's track_file watches (default <state_dir>/<instance>.switchover)"},
			&cli.DurationFlag{Name: "wait", Value: 30 * time.Second, Usage: "how long to wait for the peer to take the master role"},
			&cli.Int64Flag{Name: "max-lag", Value: 1 << 20, Usage: "refuse when the peer is more than this many bytes behind"},
		),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: switchover takes no arguments, got %q", errBadInput, c.Args().Slice())
			}
			e, err := load(c)
			if err != nil {
				return err
			}
			defer e.flush()
			local, peer, release, err := e.connect(c.Context)
			if err != nil {
				return err
			}
			defer release()
			track := c.String("track-file")
			if track == "" {
				track = filepath.Join(e.inst.StateDir, e.inst.Name+".switchover")
			}
			// Frequent enough that the VIPs held on lo are released soon
			// after the move; each poll is one INFO on each server.
			poll := 20 * time.Millisecond
			r := &switchover.Runner{
				Log: e.log, Local: local, Peer: peer, LocalAnnounce: e.inst.Announce, PeerAddr: e.inst.Peer,
				TrackFile: track, MaxLag: c.Int64("max-lag"), Now: time.Now,
				Wait: func(ctx context.Context) error {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(poll):
						return nil
					}
				},
			}
			if vips := e.inst.VIPs; len(vips) > 0 {
				lifetime := min(c.Duration("wait"), holdLifetime)
				r.Hold = func(ctx context.Context) (func(context.Context) error, error) {
					return vip.HoldOnLoopback(ctx, vips, lifetime, e.log)
				}
			} else {
				e.log.Info("switchover: vips not set, so the VIP is not held on lo while keepalived moves it: requests in flight to this node wait out their clients' timeouts")
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("wait"))
			defer cancel()
			res, err := r.Run(ctx)
			switch {
			case errors.Is(err, switchover.ErrNoTrackFile):
				return fmt.Errorf("%w: %w", errBadInput, err)
			case err != nil:
				return err
			}
			fmt.Fprintf(c.App.Writer, "switchover %s: master moved from %s to %s in %s\n", e.inst.Name, res.From, res.To, res.Duration.Round(time.Millisecond))
			return nil
		},
	}
}

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/wiring"
)

// chooseAll is every configured instance that validates; those that do
// not are logged and left out.
func chooseAll(cfg *config.Config, log *zap.Logger) []config.Instance {
	var out []config.Instance
	for _, name := range cfg.Names() {
		in, err := cfg.Instance(name)
		if err != nil {
			log.Error("reconcile: instance left out", zap.String("instance", name), zap.Error(err))
			continue
		}
		out = append(out, in)
	}
	return out
}

func reconcileCommand() *cli.Command {
	return &cli.Command{
		Name:  "reconcile",
		Usage: "re-check the pair and repair it with the newest event's decision, without waiting for keepalived",
		UsageText: "redis-vip reconcile [--instance NAME] [--loop]\n\n" +
			"One pass: if no transition is running, decide the newest keepalived event again from fresh\n" +
			"facts and carry the plan out (two masters, a replication loop, a hook that failed half-way).\n" +
			"notify-fifo and run do this every reconcile_interval on their own; with the per-event hooks,\n" +
			"run `redis-vip reconcile --loop` as a service to get the same; --loop also keeps the\n" +
			"keepalived track file <state_dir>/<instance>.down at 1 while the local Redis is dead, and,\n" +
			"with fence_after set, runs the fence keeper (see docs/partitions.md).\n\n" +
			"Exit codes: 0 nothing to do or repaired, 1 the pass failed, 2 bad input.",
		Flags: append(commonFlags(), &cli.BoolFlag{Name: "loop", Usage: "keep reconciling every reconcile_interval until SIGTERM"}),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: reconcile takes no arguments, got %q", errBadInput, c.Args().Slice())
			}
			if c.Bool("loop") {
				cfg, log, flush, err := loadConfig(c)
				if err != nil {
					return err
				}
				defer flush()
				var insts []config.Instance
				if name := c.String(config.SettingInstance.Flag); name != "" {
					in, err := cfg.Instance(name)
					if err != nil {
						return err
					}
					insts = []config.Instance{in}
				} else {
					insts = chooseAll(cfg, log)
				}
				stop := wiring.Reconcilers(c.Context, insts, log)
				// The same held connection as notify-fifo's: a dead Redis
				// sets the redis_down track file at once.
				stopTrack := wiring.TrackFiles(c.Context, insts, log)
				<-c.Context.Done()
				stopTrack()
				stop()
				return nil
			}
			e, err := load(c)
			if err != nil {
				return err
			}
			defer e.flush()
			return reconcileOnce(c.Context, c.App.Writer, e)
		},
	}
}

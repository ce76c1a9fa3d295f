package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/transition"
)

// startReconcilers runs transition.ReconcileEvery for each instance in the
// background (S12) and returns a function that stops them and waits.
func startReconcilers(ctx context.Context, insts []*config.Instance, log *zap.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range insts {
		if in.ReconcileInterval <= 0 {
			continue
		}
		ilog := log.With(zap.String("instance", in.Name))
		wg.Add(1)
		go func() {
			defer wg.Done()
			transition.ReconcileEvery(ctx, in.ReconcileInterval, in.Timeouts.Transition, func() (*transition.Runner, func(), error) {
				local, peer, err := in.Dial()
				if err != nil {
					return nil, nil, err
				}
				return transition.ForInstance(in, local, peer, ilog, false), func() { local.Close(); peer.Close() }, nil
			}, ilog)
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// selectAll validates every configured instance; instances that fail are
// logged and left out.
func selectAll(cfg *config.Config, src config.Source, log *zap.Logger) []*config.Instance {
	var out []*config.Instance
	for _, name := range cfg.Names() {
		in, err := cfg.Select(name, src)
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
			"keepalived track file <state_dir>/<instance>.down at 1 while the local Redis is dead.\n\n" +
			"Exit codes: 0 nothing to do or repaired, 1 the pass failed, 2 bad input.",
		Flags: append(commonFlags(), &cli.BoolFlag{Name: "loop", Usage: "keep reconciling every reconcile_interval until SIGTERM"}),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: reconcile takes no arguments, got %q", errBadInput, c.Args().Slice())
			}
			if c.Bool("loop") {
				cfg, src, log, flush, err := loadConfig(c)
				if err != nil {
					return err
				}
				defer flush()
				insts := selectAll(cfg, src, log)
				if name := c.String(config.SettingInstance.Flag); name != "" {
					in, err := cfg.Select(name, src)
					if err != nil {
						return err
					}
					insts = []*config.Instance{in}
				}
				stop := startReconcilers(c.Context, insts, log)
				// The same held connection as notify-fifo's: a dead Redis
				// sets the redis_down track file at once.
				stopTrack := startTrackFiles(c.Context, insts, log)
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
			local, peer, release, err := e.connect(c.Context)
			if err != nil {
				return err
			}
			defer release()
			ctx, cancel := context.WithTimeout(c.Context, e.inst.Timeouts.Transition)
			defer cancel()
			rec, acted, err := transition.ForInstance(e.inst, local, peer, e.log, false).Reconcile(ctx)
			switch {
			case !acted && err == nil:
				fmt.Fprintf(c.App.Writer, "%s reconcile: nothing to do\n", e.inst.Name)
			default:
				line := fmt.Sprintf("%s reconcile %s: %s", e.inst.Name, rec.Event, rec.Outcome)
				if rec.Plan != nil {
					line += fmt.Sprintf(": %s: %s", rec.Plan.Decision, rec.Plan.Reason)
				}
				fmt.Fprintln(c.App.Writer, line)
			}
			return err
		},
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/keepalived"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/wiring"
)

func forceFlag() cli.Flag {
	s := config.SettingForce
	return &cli.BoolFlag{Name: s.Flag, EnvVars: []string{s.Env}, Usage: s.Usage}
}

var notifyHelp = map[transition.Event]string{
	transition.EventMaster: "sync from a live, fresher peer, then promote (REPLICAOF NO ONE)",
	transition.EventBackup: "follow the peer, never an empty, older or diverged one",
	transition.EventFault:  "record; follow a fresher live master if local Redis is up",
	transition.EventStop:   "record; leave Redis as it is so the peer can sync from it",
}

func notifyCommand(name string, ev transition.Event) *cli.Command {
	exits := "Exit codes: 0 done (also: superseded by a newer event, deferred, or recorded in maintenance mode), 1 refused or failed, 2 bad input."
	if ev == transition.EventStop {
		exits = "Exit codes: 0 recorded (also when the local Redis cannot be read: nothing is changed anyway), 2 bad input."
	}
	return &cli.Command{
		Name:  name,
		Usage: notifyHelp[ev] + " (keepalived notify_" + string(ev) + ")",
		UsageText: fmt.Sprintf("redis-vip %s [--instance NAME] [--force]\n\n"+
			"keepalived.conf, inside vrrp_instance:\n  notify_%s \"/usr/bin/redis-vip %s --instance redis6379\"\n\n"+
			"In maintenance mode (redis-vip maintenance on) the event is only recorded in the journal.\n%s", name, ev, name, exits),
		Flags: append(commonFlags(), forceFlag()),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: %s takes no arguments, got %q", errBadInput, name, c.Args().Slice())
			}
			e, err := load(c)
			if err != nil {
				return err
			}
			defer e.flush()
			return runTransition(c.Context, c.App.Writer, e, ev, transition.SourceHook, c.Bool(config.SettingForce.Flag))
		},
	}
}

// runTransition runs one transition for e's instance and prints one line.
// In maintenance mode it only records the event. A stop always exits 0
// unless the input is bad: it records, and changes nothing anyway.
func runTransition(ctx context.Context, out io.Writer, e *env, ev transition.Event, source string, force bool) error {
	if paused, err := recordIfMaintenance(out, e, ev, source); paused {
		return err
	}
	err := runTransitionNow(ctx, out, e, ev, source, force)
	if err != nil && ev == transition.EventStop && !isBadInput(err) {
		e.log.Warn("stop recorded; the local Redis could not be read", zap.Error(err))
		return nil
	}
	return err
}

// recordIfMaintenance records ev without running it when maintenance mode
// is on for the instance (the journal says "maintenance"); paused reports
// whether it did.
func recordIfMaintenance(out io.Writer, e *env, ev transition.Event, source string) (paused bool, err error) {
	sd := wiring.StateDir(e.inst)
	m, merr := sd.Maintenance()
	if !m.On {
		return false, nil
	}
	if merr != nil {
		e.log.Warn("maintenance file unreadable; maintenance mode counts as on", zap.Error(merr))
	}
	rec, err := sd.RecordPaused(ev, source, m, transition.Snapshot{}, time.Now())
	fmt.Fprintf(out, "%s %s: %s: %s\n", e.inst.Name, ev, rec.Outcome, rec.Plan.Reason)
	e.log.Warn("maintenance mode: event recorded, nothing changed", zap.String("event", string(ev)), zap.String("source", source),
		zap.Int64("seq", rec.Seq), zap.Stringer("maintenance", m))
	return true, err
}

func runTransitionNow(ctx context.Context, out io.Writer, e *env, ev transition.Event, source string, force bool) error {
	local, peer, release, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	in := e.inst
	r := wiring.Runner(in, local, peer, e.log, force)
	ctx, cancel := context.WithTimeout(ctx, in.Timeouts.Transition)
	defer cancel()
	rec, err := r.Run(ctx, ev, source)
	line := fmt.Sprintf("%s %s: %s", in.Name, ev, rec.Outcome)
	if rec.Plan != nil {
		line += fmt.Sprintf(": %s: %s", rec.Plan.Decision, rec.Plan.Reason)
	}
	fmt.Fprintln(out, line)
	return err
}

// instanceFor finds the redis-vip instance for keepalived's NAME, unless
// --instance says it.
func instanceFor(c *cli.Context, cfg *config.Config, n keepalived.Notify) (string, error) {
	if name := c.String(config.SettingInstance.Flag); name != "" {
		return name, nil
	}
	name, ok := cfg.ByVRRPInstance(n.Name)
	if !ok {
		return "", fmt.Errorf("%w: keepalived %s %q matches no instance (set vrrp_instance: %s in one of: %v)", config.ErrConfig, n.Type, n.Name, n.Name, cfg.Names())
	}
	return name, nil
}

func genericNotifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "dispatch keepalived's generic notify (TYPE NAME STATE PRIORITY) to notify-master/backup/fault/stop",
		UsageText: "redis-vip notify [--instance NAME] TYPE NAME STATE [PRIORITY]\n\n" +
			"keepalived.conf, inside vrrp_instance VI_REDIS (keepalived appends the four words):\n  notify \"/usr/bin/redis-vip notify\"\n\n" +
			"The redis-vip instance is the one whose vrrp_instance is NAME (or whose name is NAME).\n" +
			"Exit codes: as notify-master and friends; 2 for malformed arguments.",
		Flags: append(commonFlags(), forceFlag()),
		Action: func(c *cli.Context) error {
			n, err := keepalived.ParseArgs(c.Args().Slice())
			if err != nil {
				return err
			}
			if n.State.Informational() {
				fmt.Fprintf(c.App.Writer, "%s %s: no transition for this state\n", n.Name, n.State)
				return nil
			}
			cfg, log, flush, err := loadConfig(c)
			if err != nil {
				return err
			}
			defer flush()
			name, err := instanceFor(c, cfg, n)
			if err != nil {
				return err
			}
			e, err := choose(cfg, log, name)
			if err != nil {
				return err
			}
			return runTransition(c.Context, c.App.Writer, e, n.State.Event(), transition.SourceNotify, c.Bool(config.SettingForce.Flag))
		},
	}
}

func notifyFIFOCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify-fifo",
		Usage: "read keepalived's notify FIFO and run the transitions in order, one at a time",
		UsageText: "redis-vip notify-fifo FIFO\n\n" +
			"keepalived.conf, global_defs:\n  vrrp_notify_fifo /run/keepalived/redis-vip.fifo\n  vrrp_notify_fifo_script \"/usr/bin/redis-vip notify-fifo\"\n\n" +
			"keepalived starts it with the FIFO's path. A newer event for an instance stops the\n" +
			"transition still running for it at its next step; events queued behind it collapse\n" +
			"to the newest per instance. Every reconcile_interval it also re-checks each instance and\n" +
			"repairs the pair with the newest event's decision (see redis-vip reconcile). Instances with\n" +
			"health_listen set get GET /primary, /replica, /health and /metrics on that address.\n" +
			"It holds a connection to each local Redis: when that Redis dies it writes 1 into\n" +
			"<state_dir>/<instance>.down at once (keepalived track_file, weight 0: FAULT now), and 0\n" +
			"once the Redis is back and its check passes.\n" +
			"Runs until the FIFO closes or SIGTERM.",
		Flags: commonFlags(),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return fmt.Errorf("%w: notify-fifo takes the FIFO path", errBadInput)
			}
			cfg, log, flush, err := loadConfig(c)
			if err != nil {
				return err
			}
			defer flush()
			f, err := os.Open(c.Args().First())
			if err != nil {
				return fmt.Errorf("%w: %w", errBadInput, err)
			}
			go func() { <-c.Context.Done(); f.Close() }()
			// S12: repair the pair on a timer, not only on keepalived's events.
			insts := chooseAll(cfg, log)
			stop := wiring.Reconcilers(c.Context, insts, log)
			defer stop()
			// The local Redis gone: keepalived's track_file says FAULT at once.
			stopTrack := wiring.TrackFiles(c.Context, insts, log)
			defer stopTrack()
			targets := make([]wiring.HealthTarget, len(insts))
			for i, in := range insts {
				targets[i] = wiring.HealthTarget{Instance: in}
			}
			stopHealth := wiring.ServeHealth(c.Context, targets, log)
			defer stopHealth()
			return serveFIFO(c, cfg, log, f)
		},
	}
}

// serveFIFO runs keepalived.ServeFIFO on the instances of cfg: each
// notification marks its instance's newest event in the state dir at once,
// and its transition runs as the hooks' do.
func serveFIFO(c *cli.Context, cfg *config.Config, log *zap.Logger, r io.Reader) error {
	return keepalived.ServeFIFO(c.Context, r, func(n keepalived.Notify) (string, keepalived.Target, error) {
		name, err := instanceFor(c, cfg, n)
		if err != nil {
			return "", nil, err
		}
		e, err := choose(cfg, log, name)
		if err != nil {
			return "", nil, err
		}
		return name, fifoTarget{out: c.App.Writer, e: e}, nil
	}, log)
}

// fifoTarget is an instance the notify FIFO drives.
type fifoTarget struct {
	out io.Writer
	e   *env
}

// Supersede marks ev as the instance's newest event in its state dir.
func (t fifoTarget) Supersede(ev transition.Event) error {
	_, err := wiring.StateDir(t.e.inst).Enqueue(ev, transition.SourceFIFO, time.Now())
	return err
}

// Run runs the transition as notify-master and friends do, and prints its line.
func (t fifoTarget) Run(ctx context.Context, ev transition.Event) error {
	return runTransition(ctx, t.out, t.e, ev, transition.SourceFIFO, false)
}

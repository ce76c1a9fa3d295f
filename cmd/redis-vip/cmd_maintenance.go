package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/wiring"
)

func maintenanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "maintenance",
		Usage: "pause automation for an instance on this host (on), resume it (off), or show it (status)",
		UsageText: "redis-vip maintenance on|off|status [--instance NAME] [--reason TEXT]\n\n" +
			"on: while it is on, no transition runs on this host (the hooks, notify-fifo and run record\n" +
			"each event in the journal with the outcome \"maintenance\" and change nothing), the\n" +
			"reconciler does nothing, check keeps the current holder eligible (a local master stays\n" +
			"eligible; no other node becomes eligible) and run keeps its VRRP state and VIP. report and\n" +
			"GET /health say so. It is per host: turn it on on both hosts to pause the pair.\n" +
			"off: ends it, then re-checks the pair once (one reconcile pass) before automation resumes.\n" +
			"status: prints the state of the instance (of every instance when none is chosen).\n" +
			"The state is the file <state_dir>/<instance>.maintenance.\n\n" +
			"Exit codes: 0 done (off: also when the pass found nothing to do), 1 the state could not be\n" +
			"written or the pass after off failed (maintenance is off either way), 2 bad input.",
		Flags: append(commonFlags(), &cli.StringFlag{Name: "reason", Usage: "a note for report and /health (on)"}),
		Action: func(c *cli.Context) error {
			if args := c.Args().Slice(); len(args) > 1 && slices.ContainsFunc(args[1:], func(a string) bool { return strings.HasPrefix(a, "-") }) {
				// "maintenance on --instance x": the flag parser stops at
				// the verb, so parse again with the verb last.
				return c.App.RunContext(c.Context, append(append([]string{c.App.Name, c.Command.Name}, args[1:]...), args[0]))
			}
			if c.Args().Len() != 1 {
				return fmt.Errorf("%w: maintenance takes one of on, off, status", errBadInput)
			}
			switch verb := c.Args().First(); verb {
			case "on":
				return maintenanceOn(c)
			case "off":
				return maintenanceOff(c)
			case "status":
				return maintenanceStatus(c)
			default:
				return fmt.Errorf("%w: maintenance %q: want on, off or status", errBadInput, verb)
			}
		},
	}
}

func maintenanceOn(c *cli.Context) error {
	e, err := load(c)
	if err != nil {
		return err
	}
	defer e.flush()
	sd := wiring.StateDir(e.inst)
	m, _ := sd.Maintenance()
	if !m.On || m.Since.IsZero() {
		m.Since = time.Now().UTC()
	}
	if !m.On || m.By == "" {
		m.By = operator()
	}
	if r := c.String("reason"); r != "" {
		m.Reason = r
	}
	if err := maintenance.Enable(e.inst.StateDir, e.inst.Name, m); err != nil {
		return err
	}
	m.On = true
	e.log.Warn("maintenance mode on: automation paused on this host", zap.Stringer("maintenance", m))
	busy := ""
	if sd.Busy() {
		busy = "; a transition is running now and finishes first"
	}
	fmt.Fprintf(c.App.Writer, "%s: maintenance %s on this host: no transition, no reconcile, check keeps the holder eligible%s; turn it on on the peer host too to pause the pair\n",
		e.inst.Name, m, busy)
	return nil
}

func maintenanceOff(c *cli.Context) error {
	e, err := load(c)
	if err != nil {
		return err
	}
	defer e.flush()
	was, err := maintenance.Disable(e.inst.StateDir, e.inst.Name)
	if err != nil {
		return err
	}
	if !was.On {
		fmt.Fprintf(c.App.Writer, "%s: maintenance was off; nothing to do\n", e.inst.Name)
		return nil
	}
	e.log.Warn("maintenance mode off: re-checking the pair", zap.Stringer("was", was))
	fmt.Fprintf(c.App.Writer, "%s: maintenance off (was %s); re-checking the pair\n", e.inst.Name, was)
	return reconcileOnce(c.Context, c.App.Writer, e)
}

// reconcileOnce runs one reconcile pass for e's instance and prints one
// line (what `redis-vip reconcile` does).
func reconcileOnce(ctx context.Context, out io.Writer, e *env) error {
	local, peer, release, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, e.inst.Timeouts.Transition)
	defer cancel()
	rec, acted, err := wiring.Runner(e.inst, local, peer, e.log, false).Reconcile(ctx)
	if !acted && err == nil {
		fmt.Fprintf(out, "%s reconcile: nothing to do\n", e.inst.Name)
		return nil
	}
	line := fmt.Sprintf("%s reconcile %s: %s", e.inst.Name, rec.Event, rec.Outcome)
	if rec.Plan != nil {
		line += fmt.Sprintf(": %s: %s", rec.Plan.Decision, rec.Plan.Reason)
	}
	fmt.Fprintln(out, line)
	return err
}

func maintenanceStatus(c *cli.Context) error {
	cfg, log, flush, err := loadConfig(c)
	if err != nil {
		return err
	}
	defer flush()
	names := []string{c.String(config.SettingInstance.Flag)}
	if names[0] == "" && len(cfg.Names()) > 1 {
		names = cfg.Names()
	}
	for _, name := range names {
		inst, err := cfg.Instance(name)
		if err != nil {
			return err
		}
		m, merr := maintenance.Read(inst.StateDir, inst.Name)
		if merr != nil {
			log.Warn("maintenance file", zap.String("instance", inst.Name), zap.Error(merr))
		}
		fmt.Fprintf(c.App.Writer, "%s: maintenance %s\n", inst.Name, m)
	}
	return nil
}

// operator names who turns maintenance on: the user (the one behind sudo
// when there is one) at this host.
func operator() string {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/sdnotify"
	"github.com/redis-vip/redis-vip/wiring"
)

func runCommand() *cli.Command {
	g := func(s config.GlobalSetting) cli.Flag {
		return &cli.StringFlag{Name: s.Flag, EnvVars: []string{s.Env}, Usage: s.Usage, Value: s.Default}
	}
	return &cli.Command{
		Name:  "run",
		Usage: "built-in VRRP mode: hold the VIP without keepalived (systemd redis-vip.service)",
		UsageText: "redis-vip run [--config FILE] [--instance NAME]...\n\n" +
			"Runs every instance that has a vrrp: section, or only those named with --instance:\n" +
			"speaks VRRP on the instance's interface, checks the local Redis every check_interval\n" +
			"(the verdict of redis-vip check), runs the same transitions as the keepalived hooks and\n" +
			"holds the VIP only while master with a promoted Redis. SIGTERM/SIGINT: send priority 0,\n" +
			"remove the VIP, record the stop, exit 0. Settings come from the file only.\n" +
			"Needs CAP_NET_ADMIN and CAP_NET_RAW; a node that cannot add the VIP goes to FAULT\n" +
			"(priority 0) so the peer takes over. With health_listen set it serves GET /primary,\n" +
			"/replica, /health and /metrics. Under systemd (Type=notify) it says READY=1 once the\n" +
			"routers run and pings the watchdog (WatchdogSec) while their event loops go round.\n" +
			"Exit codes: 0 stopped by a signal, 1 failed, 2 bad configuration.",
		Flags: []cli.Flag{
			g(config.SettingConfig),
			&cli.StringSliceFlag{Name: config.SettingInstance.Flag, EnvVars: []string{config.SettingInstance.Env},
				Usage: "instance to run (repeat for more; default: every instance with a vrrp: section)"},
			g(config.SettingLogLevel), g(config.SettingLogFmt), g(config.SettingLogFile),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: run takes no arguments, got %q (use --instance NAME)", errBadInput, c.Args().Slice())
			}
			cfg, log, flush, err := loadConfig(c)
			if err != nil {
				return err
			}
			defer flush()
			specs, err := runSpecs(c.Context, cfg, c.StringSlice(config.SettingInstance.Flag))
			if err != nil {
				return err
			}
			return runRouters(c.Context, specs, log)
		},
	}
}

// runSpec is one instance to run with its VRRP settings.
type runSpec struct {
	inst config.Instance
	vrrp config.VRRP
}

// runSpecs chooses and checks the instances to run (every instance with a
// vrrp: section when names is empty), reporting every problem of every
// instance at once: the configuration's, what this host lacks (the
// interface, the peer's name, the health address) and the collisions
// between them.
func runSpecs(ctx context.Context, cfg *config.Config, names []string) ([]runSpec, error) {
	if len(names) == 0 {
		var err error
		if names, err = cfg.VRRPNames(); err != nil {
			return nil, err
		}
	}
	var problems []string
	var badInput bool
	add := func(err error) {
		if errors.Is(err, errBadInput) {
			badInput = true
		}
		msg := strings.TrimPrefix(err.Error(), config.ErrConfig.Error()+": ")
		problems = append(problems, strings.TrimPrefix(msg, errBadInput.Error()+": "))
	}
	var specs []runSpec
	var insts []config.Instance
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		inst, err := cfg.Instance(name)
		if err != nil {
			add(err)
			continue
		}
		v, err := inst.VRRP()
		if err != nil {
			add(err)
			continue
		}
		if _, err := net.InterfaceByName(v.Interface); err != nil {
			add(fmt.Errorf("instance %s: vrrp: interface %s: no such interface on this host", name, v.Interface))
		}
		if err := checkResolvable(ctx, inst.Peer); err != nil {
			add(fmt.Errorf("instance %s: %w", name, err))
		}
		if inst.HealthListen != "" {
			if err := httpapi.CheckListen(inst.HealthListen); err != nil {
				add(fmt.Errorf("instance %s: %w", name, err))
			}
		}
		specs = append(specs, runSpec{inst: inst, vrrp: v})
		insts = append(insts, inst)
	}
	problems = append(problems, config.VRRPCollisions(insts)...)
	if len(problems) > 0 {
		kind := config.ErrConfig
		if badInput {
			kind = errBadInput
		}
		return nil, fmt.Errorf("%w: %s", kind, strings.Join(problems, "; "))
	}
	return specs, nil
}

// runRouters opens every instance's router, runs them until ctx ends (or
// one of them fails, which stops the others cleanly) and closes them.
func runRouters(ctx context.Context, specs []runSpec, log *zap.Logger) error {
	var routers []*wiring.Router
	defer func() {
		for _, r := range routers {
			if err := r.Close(); err != nil {
				log.Warn("close", zap.Error(err))
			}
		}
	}()
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		r, err := wiring.OpenRouter(ctx, s.inst, s.vrrp, log)
		if err != nil {
			return err
		}
		routers = append(routers, r)
		names = append(names, s.inst.Name)
	}
	log.Info("redis-vip run: started", zap.String("version", version), zap.Strings("instances", names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	insts := make([]config.Instance, 0, len(specs))
	for _, s := range specs {
		insts = append(insts, s.inst)
	}
	// S12: the same repairs notify-fifo makes, on the same lock.
	stopReconcile := wiring.Reconcilers(ctx, insts, log)
	defer stopReconcile()
	targets := make([]wiring.HealthTarget, len(specs))
	for i, s := range specs {
		targets[i] = runTarget(s, routers[i])
	}
	stopHealth := wiring.ServeHealth(ctx, targets, log)
	defer stopHealth()
	errs := make(chan error, len(routers))
	for _, r := range routers {
		go func() {
			err := r.Run(ctx)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	watch := make([]watched, len(routers))
	for i, r := range routers {
		watch[i] = r
	}
	stopSystemd := startSystemd(ctx, sdnotify.FromEnv(os.Getenv), os.Getenv, watch, names, log)
	defer stopSystemd()
	var all []error
	for range routers {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if len(all) > 0 {
		return errors.Join(all...)
	}
	log.Info("redis-vip run: stopped")
	return nil
}

// runTarget is a run instance's health target: its VIPs and its Router's
// state.
func runTarget(s runSpec, r *wiring.Router) wiring.HealthTarget {
	var vips []string
	for _, v := range s.vrrp.VIPs {
		if a, err := report.VIPAddr(v.Addr().String(), s.inst.Announce.String()); err == nil {
			vips = append(vips, a)
		}
	}
	prefixes := make([]string, len(s.vrrp.VIPs))
	for i, v := range s.vrrp.VIPs {
		prefixes[i] = v.String()
	}
	return wiring.HealthTarget{Instance: s.inst, VIPs: vips, VRRP: func() *httpapi.VRRP {
		st := r.Status()
		return &httpapi.VRRP{State: st.State.String(), Since: st.Since, Healthy: st.Healthy, HoldsVIP: st.HoldsVIP,
			VIPs: prefixes, CannotHold: st.CannotHold}
	}}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/sdnotify"
	"github.com/redis-vip/redis-vip/vrrp/router"
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
			debug.SetGCPercent(100) // a daemon: collect as usual (main defers GC for short runs)
			if c.Args().Len() > 0 {
				return fmt.Errorf("%w: run takes no arguments, got %q (use --instance NAME)", errBadInput, c.Args().Slice())
			}
			cfg, src, log, flush, err := loadConfig(c)
			if err != nil {
				return err
			}
			defer flush()
			specs, err := runSpecs(c.Context, cfg, src, c.StringSlice(config.SettingInstance.Flag))
			if err != nil {
				return err
			}
			return runRouters(c.Context, specs, log)
		},
	}
}

// runSpec is one instance to run with its decoded VRRP settings.
type runSpec struct {
	inst *config.Instance
	set  router.Settings
}

// runSpecs selects, validates and decodes the instances to run, reporting
// every problem of every instance at once.
func runSpecs(ctx context.Context, cfg *config.Config, src config.Source, names []string) ([]runSpec, error) {
	if len(names) == 0 {
		for _, n := range cfg.Names() {
			if router.Present(&cfg.Instances[n].VRRP) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			where := cfg.Path
			if where == "" {
				where = src.Path + " (not found)"
			}
			return nil, fmt.Errorf("%w: %s: no instance has a vrrp: section; redis-vip run needs one (interface, vrid, vips)", config.ErrConfig, where)
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
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		inst, err := cfg.Select(name, src)
		if err != nil {
			add(err)
			continue
		}
		if !router.Present(&inst.VRRP) {
			add(fmt.Errorf("instance %s: no vrrp: section", name))
			continue
		}
		set, err := router.DecodeSettings(&inst.VRRP)
		if err != nil {
			add(fmt.Errorf("instance %s: %s", name, strings.TrimPrefix(err.Error(), config.ErrConfig.Error()+": ")))
			continue
		}
		if _, err := net.InterfaceByName(set.Interface); err != nil {
			add(fmt.Errorf("instance %s: vrrp: interface %s: no such interface on this host", name, set.Interface))
		}
		if err := checkResolvable(ctx, inst.Peer); err != nil {
			add(fmt.Errorf("instance %s: %w", name, err))
		}
		if inst.HealthListen != "" {
			if err := httpapi.CheckListen(inst.HealthListen); err != nil {
				add(fmt.Errorf("instance %s: %w", name, err))
			}
		}
		specs = append(specs, runSpec{inst: inst, set: set})
	}
	for i, a := range specs {
		for _, b := range specs[i+1:] {
			if a.set.Interface == b.set.Interface && a.set.VRID == b.set.VRID && a.set.Family() == b.set.Family() {
				add(fmt.Errorf("instances %s and %s: both use vrid %d on %s; give each its own vrid", a.inst.Name, b.inst.Name, a.set.VRID, a.set.Interface))
			}
			for _, v := range a.set.VIPs {
				if slices.ContainsFunc(b.set.VIPs, func(w netip.Prefix) bool { return w.Addr() == v.Addr() }) {
					add(fmt.Errorf("instances %s and %s: both hold VIP %s", a.inst.Name, b.inst.Name, v.Addr()))
				}
			}
		}
	}
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
	var routers []*router.Router
	defer func() {
		for _, r := range routers {
			if err := r.Close(); err != nil {
				log.Warn("close", zap.Error(err))
			}
		}
	}()
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		r, err := router.Open(ctx, s.inst, s.set, log)
		if err != nil {
			return err
		}
		routers = append(routers, r)
		names = append(names, s.inst.Name)
	}
	log.Info("redis-vip run: started", zap.String("version", version), zap.Strings("instances", names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	insts := make([]*config.Instance, 0, len(specs))
	for _, s := range specs {
		insts = append(insts, s.inst)
	}
	// S12: the same repairs notify-fifo makes, on the same lock.
	stopReconcile := startReconcilers(ctx, insts, log)
	defer stopReconcile()
	targets := make([]healthTarget, len(specs))
	for i, s := range specs {
		targets[i] = runTarget(s, routers[i])
	}
	stopHealth := startHealth(ctx, targets, log)
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
func runTarget(s runSpec, r *router.Router) healthTarget {
	var vips []string
	for _, v := range s.set.VIPs {
		if a, err := report.VIPAddr(v.Addr().String(), s.inst.Announce); err == nil {
			vips = append(vips, a)
		}
	}
	prefixes := make([]string, len(s.set.VIPs))
	for i, v := range s.set.VIPs {
		prefixes[i] = v.String()
	}
	return healthTarget{inst: s.inst, vips: vips, vrrp: func() *httpapi.VRRP {
		st := r.Status()
		return &httpapi.VRRP{State: st.State.String(), Since: st.Since, Healthy: st.Healthy, HoldsVIP: st.HoldsVIP,
			VIPs: prefixes, CannotHold: st.CannotHold}
	}}
}

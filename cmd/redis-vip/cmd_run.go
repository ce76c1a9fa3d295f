package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/config"
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
			specs, err := wiring.RunSpecs(c.Context, cfg, c.StringSlice(config.SettingInstance.Flag))
			if err != nil {
				return err
			}
			return wiring.RunRouters(c.Context, specs, version, log)
		},
	}
}

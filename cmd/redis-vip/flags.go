package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/logging"
	"github.com/redis-vip/redis-vip/node"
)

// commonFlags are accepted by every command that reads the configuration,
// before or after the command name's arguments.
func commonFlags() []cli.Flag {
	g := func(s config.GlobalSetting) cli.Flag {
		if s.Bool {
			return &cli.BoolFlag{Name: s.Flag, EnvVars: []string{s.Env}, Usage: s.Usage}
		}
		return &cli.StringFlag{Name: s.Flag, EnvVars: []string{s.Env}, Usage: s.Usage, Value: s.Default}
	}
	flags := []cli.Flag{g(config.SettingConfig), g(config.SettingInstance), g(config.SettingLogLevel), g(config.SettingLogFmt), g(config.SettingLogFile), g(config.SettingLogErr)}
	for _, s := range config.Settings {
		if s.EnvOnly {
			continue
		}
		var aliases []string
		if s.Alias != "" {
			aliases = []string{s.Alias}
		}
		usage := s.Usage
		if s.Default != "" {
			usage += " (default " + s.Default + ")"
		}
		if s.Bool {
			flags = append(flags, &cli.BoolFlag{Name: s.Flag(), Aliases: aliases, EnvVars: []string{s.Env()}, Usage: usage, Category: "instance settings"})
		} else {
			flags = append(flags, &cli.StringFlag{Name: s.Flag(), Aliases: aliases, EnvVars: []string{s.Env()}, Usage: usage, Category: "instance settings"})
		}
	}
	return flags
}

// source collects the file path and the overrides from flags and env vars.
func source(c *cli.Context) config.Source {
	src := config.Source{
		Path:      c.String(config.SettingConfig.Flag),
		Explicit:  c.IsSet(config.SettingConfig.Flag),
		Overrides: map[string]string{},
		LogLevel:  c.String(config.SettingLogLevel.Flag),
		LogFormat: c.String(config.SettingLogFmt.Flag),
		LogFile:   c.String(config.SettingLogFile.Flag),
		Getenv:    os.Getenv,
	}
	if c.IsSet(config.SettingLogErr.Flag) {
		v := c.Bool(config.SettingLogErr.Flag)
		src.LogStderr = &v
	}
	for _, s := range config.Settings {
		switch {
		case s.EnvOnly:
			if v := os.Getenv(s.Env()); v != "" {
				src.Overrides[s.Key] = v
			}
		case c.IsSet(s.Flag()) && s.Bool:
			src.Overrides[s.Key] = fmt.Sprint(c.Bool(s.Flag()))
		case c.IsSet(s.Flag()):
			src.Overrides[s.Key] = c.String(s.Flag())
		}
	}
	return src
}

// env is what a command works with once the configuration is loaded.
type env struct {
	cfg   *config.Config
	inst  *config.Instance
	log   *zap.Logger
	flush func()
}

// loadConfig reads the configuration and builds the logger.
func loadConfig(c *cli.Context) (*config.Config, config.Source, *zap.Logger, func(), error) {
	src := source(c)
	cfg, err := config.Load(src)
	if err != nil {
		return nil, src, nil, nil, err
	}
	log, flush, err := logging.New(logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format, File: cfg.Log.File, Stderr: *cfg.Log.Stderr})
	if err != nil {
		return nil, src, nil, nil, fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	redis.SetLogger(node.DriverLogger{Log: log.Named("go-redis")})
	return cfg, src, log, flush, nil
}

// load reads the configuration and selects the instance named by --instance.
func load(c *cli.Context) (*env, error) {
	return loadNamed(c, c.String(config.SettingInstance.Flag))
}

func loadNamed(c *cli.Context, name string) (*env, error) {
	cfg, src, log, flush, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	inst, err := cfg.Select(name, src)
	if err != nil {
		flush()
		return nil, err
	}
	return &env{cfg: cfg, inst: inst, log: log.With(zap.String("instance", inst.Name)), flush: flush}, nil
}

// dial makes clients for the local and the peer Redis.
func (e *env) dial() (local, peer *node.Client, err error) { return e.inst.Dial() }

// checkResolvable fails with bad input when the peer's host name does not
// exist; a slow or failing DNS server is not bad input (the peer is then
// just unreachable).
func checkResolvable(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = net.DefaultResolver.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("%w: peer %s: host %q not found (check peer in the configuration)", errBadInput, addr, host)
	}
	return nil
}

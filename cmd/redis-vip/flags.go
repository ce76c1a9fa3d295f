package main

import (
	"context"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/logging"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/wiring"
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
		if s.EnvOnly || s.FileOnly {
			continue
		}
		var aliases []string
		if s.Alias != "" {
			aliases = []string{s.Alias}
		}
		// The default in urfave's own words: it prints "(default: X)" for
		// a flag with a Value, and for every bool flag by itself.
		usage := s.Usage
		if s.Default != "" && !s.Bool {
			usage += " (default: " + s.Default + ")"
		}
		if s.Bool {
			flags = append(flags, &cli.BoolFlag{Name: s.Flag(), Aliases: aliases, EnvVars: []string{s.Env()}, Usage: usage})
		} else {
			flags = append(flags, &cli.StringFlag{Name: s.Flag(), Aliases: aliases, EnvVars: []string{s.Env()}, Usage: usage})
		}
	}
	return flags
}

// source collects the file path and the overrides from flags and env vars.
// It asks urfave once which flags were given and reads env vars directly:
// IsSet per setting costs more than the whole check's Redis round trips.
func source(c *cli.Context) config.Source {
	given := map[string]bool{}
	for _, name := range c.LocalFlagNames() {
		given[name] = true
	}
	value := func(flag, env string, isBool bool) (string, bool) {
		if given[flag] {
			if isBool {
				return fmt.Sprint(c.Bool(flag)), true
			}
			return c.String(flag), true
		}
		return os.LookupEnv(env)
	}
	src := config.Source{Path: config.DefaultPath, Overrides: map[string]string{}, Getenv: os.Getenv, Warn: warnOnce(c.App.ErrWriter)}
	if v, ok := value(config.SettingConfig.Flag, config.SettingConfig.Env, false); ok {
		src.Path, src.Explicit = v, true
	}
	src.LogLevel, _ = value(config.SettingLogLevel.Flag, config.SettingLogLevel.Env, false)
	src.LogFormat, _ = value(config.SettingLogFmt.Flag, config.SettingLogFmt.Env, false)
	src.LogFile, _ = value(config.SettingLogFile.Flag, config.SettingLogFile.Env, false)
	if v, ok := value(config.SettingLogErr.Flag, config.SettingLogErr.Env, true); ok {
		b := v == "true" || v == "1"
		src.LogStderr = &b
	}
	for _, s := range config.Settings {
		if s.FileOnly {
			continue
		}
		if s.EnvOnly {
			if v := os.Getenv(s.Env()); v != "" {
				src.Overrides[s.Key] = v
			}
			continue
		}
		flag := s.Flag()
		if s.Alias != "" && given[s.Alias] {
			flag = s.Alias
		}
		if v, ok := value(flag, s.Env(), s.Bool); ok {
			src.Overrides[s.Key] = v
		}
	}
	return src
}

// env is what a command works with once the configuration is loaded.
type env struct {
	cfg   *config.Config
	inst  config.Instance
	log   *zap.Logger
	flush func()
}

// loadConfig reads the configuration and builds the logger.
func loadConfig(c *cli.Context) (*config.Config, *zap.Logger, func(), error) {
	cfg, err := config.Load(source(c))
	if err != nil {
		return nil, nil, nil, err
	}
	l := cfg.Log()
	log, flush, err := logging.New(logging.Options{Level: l.Level, Format: l.Format, File: l.File, Stderr: l.Stderr})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	redis.SetLogger(node.DriverLogger{Log: log.Named("go-redis")})
	return cfg, log, flush, nil
}

// load reads the configuration and chooses the instance named by --instance.
func load(c *cli.Context) (*env, error) {
	cfg, log, flush, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	e, err := choose(cfg, log, c.String(config.SettingInstance.Flag))
	if err != nil {
		flush()
		return nil, err
	}
	e.flush = flush
	return e, nil
}

// choose is the env of one instance of a loaded configuration; its flush
// does nothing (the caller's logger is flushed by the caller).
func choose(cfg *config.Config, log *zap.Logger, name string) (*env, error) {
	inst, err := cfg.Instance(name)
	if err != nil {
		return nil, err
	}
	return &env{cfg: cfg, inst: inst, log: log.With(zap.String("instance", inst.Name)), flush: func() {}}, nil
}

// connect checks that the peer's name resolves (bad input otherwise) and
// makes clients for the local and the peer Redis; release closes both.
func (e *env) connect(ctx context.Context) (local, peer *node.Client, release func(), err error) {
	if err := wiring.PeerResolvable(ctx, e.inst.Peer); err != nil {
		return nil, nil, nil, err
	}
	local, peer, err = wiring.Dial(e.inst)
	if err != nil {
		return nil, nil, nil, err
	}
	return local, peer, func() { local.Close(); peer.Close() }, nil
}

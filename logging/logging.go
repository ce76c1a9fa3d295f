// Package logging builds the zap logger redis-vip passes to every component:
// JSON or console lines, to stderr and/or a file (keepalived throws hook
// output away, so the file is what an operator reads).
package logging

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// giveToDirOwner hands a log file root just created to the owner of its
// directory: guard and switchover run as root, the keepalived hooks as the
// script user, and a root-owned log file would make every hook fail.
func giveToDirOwner(f *os.File, dir string) {
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}

// Options choose the format, level and destinations.
type Options struct {
	Level  string
	Format string
	File   string
	Stderr bool
}

// New builds the logger and returns a function that flushes it.
func New(o Options) (*zap.Logger, func(), error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", o.Level, err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch o.Format {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, nil, fmt.Errorf("log format %q: want json or console", o.Format)
	}
	var sinks []zapcore.WriteSyncer
	var closers []func()
	if o.Stderr {
		sinks = append(sinks, zapcore.Lock(os.Stderr))
	}
	if o.File != "" {
		if err := os.MkdirAll(filepath.Dir(o.File), 0o750); err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		_, statErr := os.Stat(o.File)
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		if os.IsNotExist(statErr) {
			giveToDirOwner(f, filepath.Dir(o.File))
		}
		sinks = append(sinks, zapcore.Lock(f))
		closers = append(closers, func() { f.Close() })
	}
	if len(sinks) == 0 {
		return zap.NewNop(), func() {}, nil
	}
	core := zapcore.NewCore(enc, zapcore.NewMultiWriteSyncer(sinks...), level)
	log := zap.New(core).With(zap.Int("pid", os.Getpid()))
	return log, func() {
		_ = log.Sync()
		for _, c := range closers {
			c()
		}
	}, nil
}

package liveness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// DefaultReadyRetry is how often TrackFile asks Ready again while the
// server is back but its health check still fails.
const DefaultReadyRetry = 500 * time.Millisecond

// TrackFile keeps a keepalived track_file (weight 0: non-zero is FAULT) in
// line with a Watcher's events: 1 as soon as the server is gone, 0 once it
// is back and Ready says its health check passes again. keepalived reads
// the file when inotify says it was written or renamed into place, so the
// node goes to FAULT (a master sends priority 0 and drops the VIP) without
// waiting for its periodic check to fail fall times.
type TrackFile struct {
	// Path is the file keepalived's track_file watches.
	Path string
	// Paused reports maintenance mode: while it is on a gone server does
	// not write 1 (the check keeps the holder eligible during a restart
	// the operator makes). nil: never paused.
	Paused func() bool
	// Ready runs the health check and says whether it passes, and why
	// not. It must return by ctx's deadline.
	Ready func(ctx context.Context) (bool, string)
	// ReadyTimeout bounds one Ready call (default 1s).
	ReadyTimeout time.Duration
	// Retry is how often Ready is asked again while it fails (default
	// DefaultReadyRetry).
	Retry time.Duration
	// Log receives one line per change of the file; nil discards.
	Log *zap.Logger
}

// Run applies events until ctx ends or events closes. A value other than
// 0 found in the file at start (left by an earlier process) counts as
// written by this one, so it is reset once the server is back and ready.
// On the way out it writes 0 if it left 1: the periodic check is then the
// only judge again, and a dead server still fails it.
func (t *TrackFile) Run(ctx context.Context, events <-chan Event) {
	log := t.Log
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("track_file", t.Path))
	retryEvery := t.Retry
	if retryEvery <= 0 {
		retryEvery = DefaultReadyRetry
	}
	readyTimeout := t.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = time.Second
	}
	down, err := readTrack(t.Path)
	if err != nil {
		log.Warn("track file unreadable; counts as 0", zap.Error(err))
	}
	waiting := false // back, waiting for Ready to pass
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			if down {
				if err := WriteTrack(t.Path, 0); err != nil {
					log.Error("could not reset the track file on the way out", zap.Error(err))
				} else {
					log.Info("track file reset to 0 on the way out: the periodic check alone judges the local Redis")
				}
			}
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Up {
				if down {
					waiting = true
					retry.Reset(0)
				}
				continue
			}
			waiting = false
			retry.Stop()
			if down {
				continue
			}
			if t.Paused != nil && t.Paused() {
				log.Warn("local Redis gone, but maintenance mode is on: track file left as it is", zap.String("seen", ev.Reason))
				continue
			}
			if err := WriteTrack(t.Path, 1); err != nil {
				log.Error("local Redis gone, but the track file could not be written; the periodic check fails over", zap.String("seen", ev.Reason), zap.Error(err))
				continue
			}
			down = true
			log.Warn("local Redis gone: track file set to 1, keepalived goes to FAULT now", zap.String("seen", ev.Reason),
				zap.Duration("after", time.Since(ev.At)))
		case <-retry.C:
			if !waiting {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, readyTimeout)
			ok, why := t.Ready(rctx)
			cancel()
			if !ok {
				log.Debug("local Redis back, its check still fails: track file stays 1", zap.String("check", why))
				retry.Reset(retryEvery)
				continue
			}
			if err := WriteTrack(t.Path, 0); err != nil {
				log.Error("could not reset the track file; retrying", zap.Error(err))
				retry.Reset(retryEvery)
				continue
			}
			down, waiting = false, false
			log.Info("local Redis back and its check passes: track file set to 0")
		}
	}
}

// WriteTrack replaces the track file with v, by writing a temporary file
// in the same directory and renaming it into place: keepalived sees the
// rename (IN_MOVED_TO) and reads the whole value, and the writer needs
// only the directory (keepalived's init_file creates the file as root).
// It does not fsync: the value matters only while keepalived runs, and
// init_file resets it when keepalived starts.
func WriteTrack(path string, v int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("track file: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.WriteString(strconv.Itoa(v) + "\n")
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("track file %s: %w", path, err)
	}
	return nil
}

// readTrack reports whether the file holds a value other than 0, as
// keepalived reads it (a number; a missing or empty file is 0).
func readTrack(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s := string(bytes.TrimSpace(b))
	if s == "" {
		return false, nil
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return false, fmt.Errorf("track file %s: %q is not a number", path, s)
	}
	return n != 0, nil
}

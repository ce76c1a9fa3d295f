package transition

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/internal/atomicfile"
	"github.com/redis-vip/redis-vip/node"
)

// FileBackup saves the local dataset before a step discards it (S6): BGSAVE,
// wait for it, copy the RDB into Dir under a name with the time, replid and
// offset, and keep the newest Keep copies of the instance.
type FileBackup struct {
	Dir      string
	Keep     int
	Instance string
	Poll     time.Duration
	Now      func() time.Time
}

// Backup saves s's dataset and returns the backup's path.
func (b FileBackup) Backup(ctx context.Context, s Server, f node.Facts) (string, error) {
	dir, err := s.ConfigGet(ctx, "dir")
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	name, err := s.ConfigGet(ctx, "dbfilename")
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	before, err := s.LastSave(ctx)
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	// LASTSAVE counts whole seconds: let the second of the previous save pass
	// so the new one is told apart from it.
	if err := pollUntil(ctx, b.Poll, func() (bool, error) { return b.Now().Unix() > before.Unix(), nil }); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	// A save already running would not contain writes made after it began:
	// wait for it to end, then start ours.
	err = pollUntil(ctx, b.Poll, func() (bool, error) {
		err := s.BGSave(ctx)
		if err != nil && strings.Contains(err.Error(), "already in progress") {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	var after node.Facts
	err = pollUntil(ctx, b.Poll, func() (bool, error) {
		t, err := s.LastSave(ctx)
		if err != nil {
			return false, err
		}
		if !t.After(before) {
			return false, nil
		}
		after, err = s.Facts(ctx)
		return err == nil && !after.RDBBgsaveInProgress, err
	})
	if err != nil {
		return "", fmt.Errorf("backup: waiting for BGSAVE: %w", err)
	}
	if !after.RDBLastBgsaveOK {
		return "", fmt.Errorf("backup: BGSAVE on %s failed (rdb_last_bgsave_status)", s.Addr())
	}
	dst := filepath.Join(b.Dir, fmt.Sprintf("%s-%s-%s-%d.rdb", b.Instance, b.Now().UTC().Format("20060102T150405.000Z"), shortID(f.ReplID), f.ReplOffset))
	if err := os.MkdirAll(b.Dir, 0o750); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if err := atomicfile.Copy(filepath.Join(dir, name), dst, 0o640); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if err := b.prune(); err != nil {
		return dst, fmt.Errorf("backup saved at %s but pruning failed: %w", dst, err)
	}
	return dst, nil
}

// List returns the instance's backups, oldest first.
func (b FileBackup) List() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(b.Dir, b.Instance+"-*.rdb"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func (b FileBackup) prune() error {
	files, err := b.List()
	if err != nil {
		return err
	}
	for len(files) > b.Keep {
		if err := os.Remove(files[0]); err != nil {
			return err
		}
		files = files[1:]
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	if id == "" {
		return "none"
	}
	return id
}

// pollUntil calls cond every poll until it says done, returns an error, or
// ctx ends.
func pollUntil(ctx context.Context, poll time.Duration, cond func() (bool, error)) error {
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

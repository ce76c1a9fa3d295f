package backup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/internal/pollwait"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/rdbfile"
)

// Server is what Snapshot needs from a live Redis (node.Client has it).
type Server interface {
	Addr() string
	Facts(ctx context.Context) (node.Facts, error)
	ConfigGet(ctx context.Context, name string) (string, error)
	LastSave(ctx context.Context) (time.Time, error)
	BGSave(ctx context.Context) error
}

// defaultPoll is Snapshot's polling interval when Writer.Poll is not set.
const defaultPoll = 50 * time.Millisecond

// Snapshot backs up a live server's dataset: BGSAVE (after any save
// already running, which would miss later writes), wait for it to end,
// copy the RDB it wrote, and verify the copy: its header and checksum read
// back, and it announces keys when the server holds some. f is the server's
// facts before; the name carries the RDB's replication history, or f's when
// the RDB records none. ctx bounds the waiting.
func (w *Writer) Snapshot(ctx context.Context, s Server, f node.Facts) (Result, error) {
	poll := w.Poll
	if poll <= 0 {
		poll = defaultPoll
	}
	dir, err := s.ConfigGet(ctx, "dir")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	name, err := s.ConfigGet(ctx, "dbfilename")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	before, err := s.LastSave(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	// LASTSAVE counts whole seconds: let the second of the previous save pass
	// so the new one is told apart from it.
	if err := pollwait.Until(ctx, poll, func() (bool, error) { return w.now().Unix() > before.Unix(), nil }); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	// A save already running would not contain writes made after it began:
	// wait for it to end, then start ours.
	err = pollwait.Until(ctx, poll, func() (bool, error) {
		err := s.BGSave(ctx)
		if err != nil && strings.Contains(err.Error(), "already in progress") {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	var after node.Facts
	err = pollwait.Until(ctx, poll, func() (bool, error) {
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
		return Result{}, fmt.Errorf("backup: waiting for BGSAVE: %w", err)
	}
	if !after.RDBLastBgsaveOK {
		return Result{}, fmt.Errorf("backup: BGSAVE on %s failed (rdb_last_bgsave_status)", s.Addr())
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	ds := Dataset{Kind: KindRDB, Path: filepath.Join(dir, name)}
	verify := func(copied Dataset) (rdbfile.Summary, error) {
		got, err := copied.Inspect()
		if err != nil {
			return got, err
		}
		return got, checkSnapshot(got, after.Keys)
	}
	hist := func(got rdbfile.Summary) History {
		if h, ok := HistoryOf(got); ok {
			return h
		}
		return History{ReplID: f.ReplID, Offset: f.ReplOffset}
	}
	return w.write(ds, OriginBGSave, verify, hist)
}

// checkSnapshot says whether an RDB copied after BGSAVE can stand for a
// server holding keys keys: it must announce keys (RESIZEDB) when the
// server holds some. (A copy holding more than the server is not an
// error: writes may have deleted keys since the save.)
func checkSnapshot(got rdbfile.Summary, keys int64) error {
	switch {
	case keys > 0 && got.Empty:
		return fmt.Errorf("the copy holds no keys, the server %d", keys)
	case keys > 0 && got.KeysHint == 0:
		return fmt.Errorf("the copy announces no key count (scan stopped at %s), the server holds %d keys", got.Stop, keys)
	}
	return nil
}

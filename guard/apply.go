package guard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/internal/atomicfile"
	"github.com/redis-vip/redis-vip/node"
)

// ErrLocalRunning: guard was run while the local Redis already answers; it
// only makes sense before redis-server starts.
var ErrLocalRunning = errors.New("local redis is already running")

// ErrConfig: the peer refused the credentials; nothing was changed.
var ErrConfig = errors.New("configuration error")

// ErrRefuseStart: the peer is alive but unreadable and local holds data, so
// redis-server must not start now (S9).
var ErrRefuseStart = errors.New("not starting redis-server")

// DataFiles says where the local Redis keeps its data.
type DataFiles struct {
	Dir            string
	DBFilename     string
	AOF            bool
	AppendDirName  string
	AppendFilename string
}

// ReadRedisConf reads the data-file directives from a redis.conf (following
// include lines, but never the guard's own include file).
func ReadRedisConf(path, guardInclude string) (DataFiles, error) {
	d := DataFiles{Dir: ".", DBFilename: "dump.rdb", AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	err := readConf(path, guardInclude, &d, 0)
	return d, err
}

func readConf(path, guardInclude string, d *DataFiles, depth int) error {
	if depth > 8 {
		return fmt.Errorf("redis.conf %s: includes nested too deep", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("redis.conf: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		val := strings.Trim(fields[1], `"'`)
		switch strings.ToLower(fields[0]) {
		case "dir":
			d.Dir = val
		case "dbfilename":
			d.DBFilename = val
		case "appendonly":
			d.AOF = strings.EqualFold(val, "yes")
		case "appenddirname":
			d.AppendDirName = val
		case "appendfilename":
			d.AppendFilename = val
		case "include":
			if filepath.Clean(val) == filepath.Clean(guardInclude) {
				continue
			}
			if err := readConf(val, guardInclude, d, depth+1); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("redis.conf %s: %w", path, err)
	}
	return nil
}

// InspectLocal reads what the local data files say: which dataset
// redis-server would load (backup.Locate: the RDB, the whole append-only
// directory, or a single AOF file; Path names it), whether it holds keys,
// and the replication history it records (backup.HistoryOf). Redis 7.0.15
// records none in an AOF, so an AOF dataset has no history here, and guard
// never invents one.
func InspectLocal(d DataFiles) LocalData {
	ds, err := backup.Locate(d.Dir, d.DBFilename, d.AOF, d.AppendDirName, d.AppendFilename)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return LocalData{Missing: true}
	case err != nil:
		// The files cannot even be looked for: they count as data, so they
		// are backed up (or guard fails), never dropped as missing.
		return LocalData{Path: d.Dir, Corrupt: true}
	}
	sum, err := ds.Inspect()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return LocalData{Missing: true}
	case err != nil:
		return LocalData{Path: ds.Path, Corrupt: true}
	}
	l := LocalData{Path: ds.Path, Empty: sum.Empty && !sum.NonEmpty}
	if h, ok := backup.HistoryOf(sum); ok {
		l.HasReplInfo, l.ReplID, l.ReplOffset = true, h.ReplID, h.Offset
	}
	return l
}

// Pinger is what guard needs from the local Redis: is it up?
type Pinger interface {
	Facts(ctx context.Context) (node.Facts, error)
}

// Peer is what guard needs from the peer.
type Peer interface {
	Facts(ctx context.Context) (node.Facts, error)
	PromoteNoOne(ctx context.Context) error
}

// Runner applies a guard decision.
type Runner struct {
	Log           *zap.Logger
	Local         Pinger
	Peer          Peer
	PeerAddr      node.Addr
	LocalAnnounce node.Addr
	Files         DataFiles
	Include       string
	BackupDir     string
	Instance      string
	Keep          int // backups of the instance kept (backups_keep); below 1 none are pruned
	// RefuseDiverged is on_diverged = refuse (the hooks' rule, kept here).
	RefuseDiverged bool
	Poll           time.Duration
	Now            func() time.Time
}

// Run decides and applies: back up the local file when it will be discarded,
// promote the peer when it replicates this stopped node, and write the
// include file. ctx bounds the whole of it (peer loading included).
func (r *Runner) Run(ctx context.Context) (Decision, error) {
	if _, err := r.Local.Facts(ctx); err == nil {
		return Decision{}, fmt.Errorf("%w: guard runs before redis-server starts (ExecStartPre)", ErrLocalRunning)
	}
	local := InspectLocal(r.Files)
	peer, perr := r.readPeer(ctx)
	if errors.Is(perr, node.ErrAuth) {
		// A configuration error, not a dead peer (S9): change nothing.
		return Decision{}, fmt.Errorf("%w: %w", ErrConfig, perr)
	}
	d := Decide(Input{Local: local, Peer: peer, PeerAnswered: node.Answered(perr), LocalAnnounce: r.LocalAnnounce, RefuseDiverged: r.RefuseDiverged})
	r.Log.Info("guard decided", zap.String("action", string(d.Action)), zap.String("reason", d.Reason),
		zap.Bool("promote_peer", d.PromotePeer), zap.Bool("backup_local", d.BackupLocal),
		zap.Any("local_files", local), zap.Any("peer", peer))
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d.Action == RefuseStart {
		return d, fmt.Errorf("guard: %w: %s", ErrRefuseStart, d.Reason)
	}
	if d.BackupLocal {
		path, err := r.backup(local)
		if err != nil {
			return d, fmt.Errorf("guard: back up %s before it is discarded: %w", local.Path, err)
		}
		r.Log.Info("backed up local data file", zap.String("backup", path))
	}
	if d.PromotePeer {
		if err := r.Peer.PromoteNoOne(actx); err != nil {
			return d, fmt.Errorf("guard: promote peer %s: %w", r.PeerAddr, err)
		}
	}
	if err := WriteInclude(r.Include, d, r.PeerAddr, r.Now()); err != nil {
		return d, err
	}
	return d, nil
}

// readPeer reads the peer, polling while it is loading or answers with an
// error until ctx ends; it returns nil and the error when the peer could
// not be read (unreachable, or alive but unreadable, S9). A read that ctx
// itself cut short does not erase an earlier answer: the peer answered,
// so it is alive (the last answer stands), whatever the deadline
// interrupted.
func (r *Runner) readPeer(ctx context.Context) (*node.Facts, error) {
	var lastFacts *node.Facts // the last answer while loading
	var lastErr error         // the last error the peer answered with
	for {
		f, err := r.Peer.Facts(ctx)
		switch {
		case err == nil && !f.Loading:
			return &f, nil
		case err != nil && ctx.Err() != nil && (lastFacts != nil || lastErr != nil):
			r.Log.Info("peer read cut short by guard's bound; its last answer stands", zap.String("peer", r.PeerAddr.String()), zap.Error(err))
			return r.lastAnswer(lastFacts, lastErr)
		case err != nil && (!node.Answered(err) || errors.Is(err, node.ErrAuth)):
			r.Log.Info("peer unreachable", zap.String("peer", r.PeerAddr.String()), zap.Error(err))
			return nil, err
		case err != nil:
			lastFacts, lastErr = nil, err
		default:
			lastFacts, lastErr = &f, nil
		}
		select {
		case <-ctx.Done():
			return r.lastAnswer(lastFacts, lastErr)
		case <-time.After(r.Poll):
		}
	}
}

// lastAnswer is readPeer's result when its bound ends while the peer keeps
// answering: its error (alive but unreadable), or its facts (still loading).
func (r *Runner) lastAnswer(f *node.Facts, err error) (*node.Facts, error) {
	if err != nil {
		r.Log.Warn("peer answers with an error", zap.String("peer", r.PeerAddr.String()), zap.Error(err))
		return nil, err
	}
	return f, nil
}

// backup copies the whole local dataset (the RDB, or every file of the
// append-only directory, or the single AOF file) into BackupDir with
// package backup's writer, which verifies the copy and keeps the newest
// Keep of the instance. An error means the copy is not there or did not
// verify: redis-server must not start as a replica over the data then.
func (r *Runner) backup(l LocalData) (string, error) {
	ds, err := backup.Locate(r.Files.Dir, r.Files.DBFilename, r.Files.AOF, r.Files.AppendDirName, r.Files.AppendFilename)
	if err != nil {
		return "", err
	}
	if ds.Path != l.Path {
		return "", fmt.Errorf("local dataset moved while guard ran: inspected %s, found %s", l.Path, ds.Path)
	}
	w := &backup.Writer{Dir: r.BackupDir, Instance: r.Instance, Keep: r.Keep, Now: r.Now, Log: r.Log}
	res, err := w.CopyStopped(ds)
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// WriteInclude writes the include file atomically; the same decision
// writes the same directive, so guard is idempotent.
func WriteInclude(path string, d Decision, peer node.Addr, now time.Time) error {
	var directive string
	switch d.Action {
	case StartAsReplica:
		if !peer.Valid() {
			return fmt.Errorf("guard: peer address %q: not a host:port", peer)
		}
		directive = fmt.Sprintf("replicaof %s %d\n", peer.Host, peer.Port)
	case StartAsMaster:
		directive = "replicaof no one\n"
	}
	body := fmt.Sprintf("# Written by redis-vip guard at %s; rewritten before every start.\n# %s: %s\n%s",
		now.UTC().Format(time.RFC3339), d.Action, d.Reason, directive)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("guard include: %w", err)
	}
	if err := atomicfile.Write(path, []byte(body), 0o644); err != nil {
		return fmt.Errorf("guard include: %w", err)
	}
	return nil
}

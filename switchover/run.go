package switchover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/node"
)

// ErrNoTrackFile: the track file keepalived watches does not exist, so
// keepalived is not configured for switchover (track_file ... init_file).
var ErrNoTrackFile = errors.New("keepalived track file missing")

// ErrConfig: a server refused the credentials; nothing was changed.
var ErrConfig = errors.New("configuration error")

// ErrTimeout: the peer did not take the master role in time; the track file
// was reset, so this node may take the VIP back.
var ErrTimeout = errors.New("switchover did not complete in time")

// Server is what a switchover reads from each Redis; *node.Client has it.
type Server interface {
	Facts(ctx context.Context) (node.Facts, error)
}

// Runner performs one switchover.
type Runner struct {
	Log           *zap.Logger
	Local, Peer   Server
	LocalAnnounce string
	PeerAddr      string
	// TrackFile is the file keepalived's track_file watches (weight 0).
	TrackFile string
	MaxLag    int64
	// Wait pauses between polls; it returns ctx's error when ctx ends.
	Wait func(ctx context.Context) error
	Now  func() time.Time
}

// Result says what happened.
type Result struct {
	From, To string
	Duration time.Duration
}

// Run checks, hands over through keepalived, waits for the peer to be
// master with local replicating it, and always resets the track file. ctx
// bounds the wait.
func (r *Runner) Run(ctx context.Context) (Result, error) {
	start := r.Now()
	res := Result{From: r.LocalAnnounce, To: r.PeerAddr}
	if _, err := os.Stat(r.TrackFile); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("%w: %s (declare it in keepalived.conf: track_file with init_file, weight 0, and track it in the vrrp_instance)", ErrNoTrackFile, r.TrackFile)
		}
		return res, fmt.Errorf("track file: %w", err)
	}
	local, err := r.Local.Facts(ctx)
	if errors.Is(err, node.ErrAuth) {
		return res, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err != nil {
		return res, fmt.Errorf("read local: %w", err)
	}
	peer, err := r.Peer.Facts(ctx)
	switch {
	case errors.Is(err, node.ErrAuth):
		// A configuration error, not a dead peer (S9).
		return res, fmt.Errorf("%w: %w", ErrConfig, err)
	case node.Answered(err):
		return res, fmt.Errorf("%w: the peer answers with an error: %w", ErrRefused, err)
	case err != nil:
		return res, fmt.Errorf("%w: peer unreachable: %w", ErrRefused, err)
	}
	if err := Check(Input{Local: local, Peer: peer, LocalAnnounce: r.LocalAnnounce, MaxLag: r.MaxLag}); err != nil {
		r.Log.Error("switchover refused", zap.Error(err), zap.Any("local", local), zap.Any("peer", peer))
		return res, err
	}
	r.Log.Info("switchover: handing the VIP to the peer through keepalived", zap.String("track_file", r.TrackFile),
		zap.String("peer", r.PeerAddr), zap.Int64("local_offset", local.ReplOffset), zap.Int64("peer_offset", peer.ReplOffset))
	if err := writeTrack(r.TrackFile, 1); err != nil {
		return res, err
	}
	defer func() {
		if err := writeTrack(r.TrackFile, 0); err != nil {
			r.Log.Error("switchover: reset track file", zap.Error(err))
		}
	}()
	var lastLocal, lastPeer node.Facts
	for {
		lf, lerr := r.Local.Facts(ctx)
		pf, perr := r.Peer.Facts(ctx)
		if lerr == nil && perr == nil {
			lastLocal, lastPeer = lf, pf
			if Done(lf, pf, r.PeerAddr) {
				res.Duration = r.Now().Sub(start)
				r.Log.Info("switchover done", zap.Duration("took", res.Duration), zap.Any("local", lf), zap.Any("peer", pf))
				return res, nil
			}
		}
		if err := r.Wait(ctx); err != nil {
			err = fmt.Errorf("%w after %s (local: %s; peer: %s); the track file is reset, keepalived decides again",
				ErrTimeout, r.Now().Sub(start).Round(time.Millisecond), lastLocal.Summary(), lastPeer.Summary())
			r.Log.Error("switchover failed", zap.Error(err))
			return res, err
		}
	}
}

// writeTrack writes the value keepalived reads from the track file, in
// place (keepalived watches the file for writes).
func writeTrack(path string, v int) error {
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
		return fmt.Errorf("track file: %w", err)
	}
	return nil
}

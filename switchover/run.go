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

// LocalServer is the local Redis: read, and its clients shed once it
// replicates the peer (S7); *node.Client has it.
type LocalServer interface {
	Server
	KillNormalClients(ctx context.Context) (int64, error)
}

// Hold keeps this host answering on the VIP while keepalived moves it
// away (vip.HoldOnLoopback), until the returned function releases it.
type Hold func(ctx context.Context) (release func(context.Context) error, err error)

// Runner performs one switchover.
type Runner struct {
	Log           *zap.Logger
	Local         LocalServer
	Peer          Server
	LocalAnnounce node.Addr
	PeerAddr      node.Addr
	// TrackFile is the file keepalived's track_file watches (weight 0).
	TrackFile string
	MaxLag    int64
	// Hold, when set, keeps this host answering on the VIP from before
	// the track file is written until this node replicates the new master
	// and has shed its clients. Without it, keepalived removes the VIP
	// from this host at once, and a request in flight to it never gets its
	// answer: the client waits out its own timeout.
	Hold Hold
	// Wait pauses between polls; it returns ctx's error when ctx ends.
	Wait func(ctx context.Context) error
	Now  func() time.Time
}

// Result says what happened.
type Result struct {
	From, To node.Addr
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
	release := r.hold(ctx)
	defer release()
	r.Log.Info("switchover: handing the VIP to the peer through keepalived", zap.String("track_file", r.TrackFile),
		zap.String("peer", r.PeerAddr.String()), zap.Int64("local_offset", local.ReplOffset), zap.Int64("peer_offset", peer.ReplOffset))
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
				// Clients still connected here reach a replica: shed them
				// (S7) while this host still answers on the VIP, so each
				// sees its connection close and reconnects to the new
				// master; then let the VIP go.
				if n, err := r.Local.KillNormalClients(ctx); err != nil {
					r.Log.Warn("switchover: shed the local clients", zap.Error(err))
				} else {
					r.Log.Info("switchover: shed the local clients", zap.Int64("clients", n))
				}
				release()
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

// hold runs Hold, if any, and returns the function that releases it once
// (a no-op when there is nothing to release). A hold that fails is logged:
// the switchover goes on without it.
func (r *Runner) hold(ctx context.Context) func() {
	if r.Hold == nil {
		return func() {}
	}
	rel, err := r.Hold(ctx)
	if err != nil {
		r.Log.Warn("switchover: cannot keep answering on the VIP while keepalived moves it (needs CAP_NET_ADMIN); a request in flight to this node waits out its client's timeout", zap.Error(err))
		return func() {}
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		// Bounded on its own: it must run after ctx ended too.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := rel(c); err != nil {
			r.Log.Error("switchover: release the VIP held on lo (it expires by itself)", zap.Error(err))
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

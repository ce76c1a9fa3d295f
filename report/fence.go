package report

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// FenceSettings are the instance's partition-safety settings (issue 10).
type FenceSettings struct {
	// FenceAfter is fence_after (0: fencing off); Witness the witness's
	// address ("" for none).
	FenceAfter time.Duration
	Witness    string
	// PendingSlack is timeouts.transition (FenceState.PromotedSince);
	// KeeperStale how old the keeper's last decision may be.
	PendingSlack, KeeperStale time.Duration
}

// The fence levels as the report names them.
const (
	FenceOpen    = "open"
	FenceArmed   = "armed"
	FenceClosed  = "closed"
	FenceNone    = "none"    // local is no master: a replica has no fence
	FenceUnknown = "unknown" // min-replicas-to-write could not be read
)

// Fence is partition safety as the report found it (local side only).
type Fence struct {
	FenceSettings
	// MinReplicas is local's min-replicas-to-write (-1 unknown); MinErr
	// why it could not be read.
	MinReplicas int
	MinErr      string
	// State is the fence file; Now the boot clock when it was read;
	// StateErr why the file could not be read.
	State    transition.FenceState
	Now      fence.Stamp
	StateErr string

	// Set by Evaluate.
	// Level is one of the Fence* constants; Reason the keeper's, when its
	// last decision is the level Redis shows.
	Level, Reason string
	// LeaseHeld: this node holds the witness lease (the fence file).
	LeaseHeld bool
	// PromotionWait is how long writes still wait after a promotion on
	// unknown evidence (0 when none).
	PromotionWait time.Duration
	// KeeperAge is the age of the keeper's last decision (-1 none).
	KeeperAge time.Duration
	// LossBound says in words how many acknowledged writes a partition can
	// cost now.
	LossBound string
}

// On reports whether fencing is on.
func (f Fence) On() bool { return f.FenceAfter > 0 }

// readFence reads local's min-replicas-to-write and the fence file.
func readFence(ctx context.Context, s Server, sd transition.StateDir, set FenceSettings) Fence {
	f := Fence{FenceSettings: set, MinReplicas: -1}
	if !f.On() {
		return f
	}
	f.Now, _ = fence.Now()
	st, err := sd.ReadFence()
	if err != nil {
		f.StateErr = oneLine(err)
	}
	f.State = st
	v, err := s.ConfigGet(ctx, "min-replicas-to-write")
	if err != nil {
		f.MinErr = oneLine(err)
		return f
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		f.MinReplicas = n
	} else {
		f.MinErr = fmt.Sprintf("min-replicas-to-write %q", v)
	}
	return f
}

// evaluateFence sets the derived parts of in.Fence and its reasons.
func (e *evaluation) fence(in *Instance) {
	f := &in.Fence
	f.Level, f.Reason, f.LeaseHeld, f.PromotionWait, f.KeeperAge = FenceNone, "", false, 0, -1
	if !f.On() {
		f.LossBound = "unbounded: fencing off"
		return
	}
	lf := in.Local.Facts
	master := lf != nil && lf.Role == node.RoleMaster
	peerAlive := in.Peer.Facts != nil || in.Peer.Answered
	f.LeaseHeld = f.Witness != "" && f.State.LeaseHeld(f.Now, fence.Margin(f.FenceAfter), peerAlive)
	if f.State.At != nil {
		if d, ok := f.State.At.Since(f.Now); ok {
			f.KeeperAge = d
		}
	}
	if since, ok := f.State.PromotedSince(f.Now, f.PendingSlack); ok && master {
		if wait := f.FenceAfter + fence.Margin(f.FenceAfter); since < wait {
			f.PromotionWait = wait - since
		}
	}
	switch {
	case !master:
	case f.MinReplicas < 0:
		f.Level = FenceUnknown
	case f.MinReplicas == 0:
		f.Level = FenceOpen
	case f.MinReplicas == 1:
		f.Level = FenceArmed
	default:
		f.Level = FenceClosed
	}
	if f.State.Level != nil && f.State.Level.String() == f.Level {
		f.Reason = f.State.Reason
	}
	if f.LeaseHeld {
		f.LossBound = "0 with the lease"
	} else {
		f.LossBound = fmt.Sprintf("at most fence_after (%s)", f.FenceAfter)
	}
	if f.StateErr != "" {
		e.add(Warning, CodeStateUnreadable, SideLocal, "fence file: %s", f.StateErr)
	}
	if !master {
		return
	}
	switch {
	case f.Level == FenceClosed && f.PromotionWait > 0:
		e.add(Warning, CodeFenceClosed, SideLocal, "local master refuses writes for %s more: promoted on unknown evidence, it waits for the old master's fence", f.PromotionWait.Round(time.Millisecond))
	case f.Level == FenceClosed:
		why := f.Reason
		if why == "" {
			why = "min-replicas-to-write " + strconv.Itoa(f.MinReplicas)
		}
		e.add(Warning, CodeFenceClosed, SideLocal, "local master's fence is closed, it refuses writes: %s", why)
	}
	if f.KeeperAge < 0 || (f.KeeperStale > 0 && f.KeeperAge > f.KeeperStale) {
		e.add(Warning, CodeNoFenceKeeper, SideLocal, "fencing is on but no fence keeper has decided lately: run notify-fifo, `reconcile --loop` or run on this host")
	}
}

// peerErr is the peer's read error for the check verdict, keeping what
// fence.Classify needs: a refused connection stays one.
func peerErr(n Node) error {
	if n.Answered {
		return errors.New(n.Err)
	}
	if n.Evidence == fence.Dead.String() {
		return fmt.Errorf("%s: %w: %w", n.Err, node.ErrUnreachable, syscall.ECONNREFUSED)
	}
	return fmt.Errorf("%s: %w", n.Err, node.ErrUnreachable)
}

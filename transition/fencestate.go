package transition

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/fence"
)

// FenceState is the instance's fence file, <state_dir>/<instance>.fence
// (issue 10): the promotion stamp a transition records when it promotes
// local on unknown evidence, the witness lease as this node last got it,
// and the fence keeper's last decision. Stamps are on this host's boot
// clock (fence.Now), so every process of the host reads them alike; a
// stamp from another boot counts for nothing. check and report read it
// instead of calling the witness or deciding again.
type FenceState struct {
	// Promotion is when local promoted itself while the peer was unknown;
	// nil once the keeper saw the peer in sync as its replica (or never).
	Promotion *fence.Stamp `json:"promotion,omitempty"`
	// PromotionPending marks a stamp taken by fence-close, before the
	// promotion: the promotion happened (if at all) within the
	// transition's bound after it.
	PromotionPending bool `json:"promotion_pending,omitempty"`
	// LeaseSent is when the request that granted the lease was sent, and
	// LeaseUntil when this node's view of it ends (the client's margin
	// already taken off); nil when the last call granted nothing.
	LeaseSent  *fence.Stamp `json:"lease_sent,omitempty"`
	LeaseUntil *fence.Stamp `json:"lease_until,omitempty"`
	// LeaseHolder is who holds the lease, as the witness last said ("" when
	// unknown or nobody); LeaseError why the last call failed.
	LeaseHolder string `json:"lease_holder,omitempty"`
	LeaseError  string `json:"lease_error,omitempty"`
	// LeaseHolderSince and LeaseHolderSeen are the first and the latest
	// answers that named LeaseHolder, another node, as the holder, without
	// a different holder in between (nil when this node or nobody holds
	// it): see PeerRenewsLease.
	LeaseHolderSince *fence.Stamp `json:"lease_holder_since,omitempty"`
	LeaseHolderSeen  *fence.Stamp `json:"lease_holder_seen,omitempty"`
	// PeerSeen is when the keeper last saw the peer alive.
	PeerSeen *fence.Stamp `json:"peer_seen,omitempty"`
	// Evidence, Level and Reason are the keeper's last decision, at At.
	Evidence string       `json:"evidence,omitempty"`
	Level    *fence.Level `json:"level,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	At       *fence.Stamp `json:"at,omitempty"`
}

// LeaseHeld is fence.Input's LeaseHeld from the file: the lease lasts at
// least margin beyond now, and it was granted by a request sent after the
// peer was last seen alive, unless the peer is alive now (then no
// partition hides, and a lease renewed a moment ago is as good).
func (s FenceState) LeaseHeld(now fence.Stamp, margin time.Duration, peerAlive bool) bool {
	if s.LeaseUntil == nil || s.LeaseSent == nil || s.LeaseUntil.BootID != now.BootID || s.LeaseSent.BootID != now.BootID {
		return false // none, or from another boot
	}
	if s.LeaseUntil.At-now.At < margin {
		return false
	}
	if peerAlive || s.PeerSeen == nil || s.PeerSeen.BootID != now.BootID {
		return true
	}
	return s.LeaseSent.At >= s.PeerSeen.At
}

// PeerRenewsLease reports whether the witness has named another node the
// holder for longer than a lease lasts (d plus margin): that node renewed
// it, so it is alive and reaches the witness, and a partition, not its
// death, hides it from this node. Witness answers only, no clock of now:
// a lease that ran out since the last answer does not count as renewed.
func (s FenceState) PeerRenewsLease(d, margin time.Duration) bool {
	if s.LeaseHolder == "" || s.LeaseHolderSince == nil || s.LeaseHolderSeen == nil || s.LeaseHolderSince.BootID != s.LeaseHolderSeen.BootID {
		return false
	}
	return s.LeaseHolderSeen.At-s.LeaseHolderSince.At > d+margin
}

// PromotedSince is the time since the promotion on unknown evidence, and
// whether there is one. A stamp from another boot counts as a promotion
// just now: the wait starts again. A pending stamp (taken before the
// promotion) counts from pendingSlack after it: the transition that took
// it promoted within its bound, if at all.
func (s FenceState) PromotedSince(now fence.Stamp, pendingSlack time.Duration) (time.Duration, bool) {
	if s.Promotion == nil {
		return 0, false
	}
	d, ok := s.Promotion.Since(now)
	if !ok {
		return 0, true
	}
	if s.PromotionPending {
		d = max(0, d-pendingSlack)
	}
	return d, true
}

// FencePath is the instance's fence file.
func (s StateDir) FencePath() string { return s.path("fence") }

// ReadFence returns the fence file (zero when there is none).
func (s StateDir) ReadFence() (FenceState, error) {
	var f FenceState
	b, err := os.ReadFile(s.FencePath())
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read fence file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return FenceState{}, fmt.Errorf("fence file %s: %w", s.FencePath(), err)
	}
	return f, nil
}

// UpdateFence changes the fence file with fn, under a lock held by every
// writer (a transition and the keeper run in different processes), and
// replaces it atomically, so readers never see half of it. fn returns
// false to leave the file as it is.
func (s StateDir) UpdateFence(fn func(*FenceState) bool) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	lock, err := os.OpenFile(s.path("fence.lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open fence lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock fence file: %w", err)
	}
	f, err := s.ReadFence()
	if err != nil {
		f = FenceState{} // a broken file is replaced; its promotion stamp is lost (the keeper then keeps the fence closed)
	}
	if !fn(&f) {
		return nil
	}
	if err := writeFileAtomic(s.FencePath(), f); err != nil {
		return fmt.Errorf("write fence file: %w", err)
	}
	return nil
}

package switchover

import (
	"errors"
	"fmt"

	"github.com/redis-vip/redis-vip/node"
)

// ErrRefused: the pair is not in a state where a switchover loses nothing.
var ErrRefused = errors.New("switchover refused")

// Input is what Check looks at.
type Input struct {
	Local, Peer node.Facts
	// LocalAnnounce is how the peer reaches the local Redis.
	LocalAnnounce node.Addr
	// MaxLag is how many bytes of replication offset the peer may be behind;
	// FAILOVER TO waits for the rest with writes paused.
	MaxLag int64
}

// Check says whether a switchover may start: local is a master not already
// failing over, and the peer is its replica, loaded, with the link up, no
// full sync running and at most MaxLag bytes behind. A refusal wraps
// ErrRefused and says why.
func Check(in Input) error {
	l, p := in.Local, in.Peer
	switch {
	case l.Loading:
		return fmt.Errorf("%w: local redis is loading its dataset", ErrRefused)
	case l.Role != node.RoleMaster:
		return fmt.Errorf("%w: local redis is not the master (%s): run switchover on the master", ErrRefused, l.Summary())
	case l.FailoverState != "" && l.FailoverState != "no-failover":
		return fmt.Errorf("%w: local redis is already failing over (%s)", ErrRefused, l.FailoverState)
	case p.Loading:
		return fmt.Errorf("%w: peer is loading its dataset", ErrRefused)
	case p.Role != node.RoleReplica || !p.Master().Same(in.LocalAnnounce):
		return fmt.Errorf("%w: peer is not a replica of this node (%s)", ErrRefused, p.Summary())
	case !p.MasterLinkUp:
		return fmt.Errorf("%w: peer's replication link is down (%s)", ErrRefused, p.Summary())
	case p.MasterSyncInProgress:
		return fmt.Errorf("%w: peer is in a full sync (%s)", ErrRefused, p.Summary())
	case p.ReplID != l.ReplID:
		return fmt.Errorf("%w: peer's replication history %s differs from local %s: not in sync", ErrRefused, p.ReplID, l.ReplID)
	case l.ReplOffset-p.ReplOffset > in.MaxLag:
		return fmt.Errorf("%w: peer is %d bytes behind (more than %d): not in sync", ErrRefused, l.ReplOffset-p.ReplOffset, in.MaxLag)
	}
	return nil
}

// Done reports whether the role has moved: the peer is master and local is
// its replica, in sync.
func Done(local, peer node.Facts, peerAddr node.Addr) bool {
	return peer.Role == node.RoleMaster && local.InSync() && local.Master().Same(peerAddr)
}

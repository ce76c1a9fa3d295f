package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/transition"
)

// Snapshot is one reading of the pair, what every endpoint answers from.
type Snapshot struct {
	// Instance is the instance's name; At is when the reading began.
	Instance string
	At       time.Time
	// Report is the instance as `redis-vip report` sees it, evaluated:
	// both nodes, replication, state dir (maintenance mode), journal.
	Report report.Instance
	// Check is the verdict of `redis-vip check`.
	Check check.Result
	// VRRP is the built-in VRRP mode's state; nil in keepalived mode.
	VRRP *VRRP
}

// VRRP is what `run` knows of its virtual router.
type VRRP struct {
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	Healthy    bool      `json:"healthy"`
	HoldsVIP   bool      `json:"holds_vip"`
	VIPs       []string  `json:"vips"`
	CannotHold string    `json:"cannot_hold,omitempty"`
}

// Source reads a Snapshot; it must return by ctx's deadline.
type Source interface {
	Snapshot(ctx context.Context) Snapshot
}

// Primary decides GET /primary: may this node take writes?
func Primary(s Snapshot) (bool, string) {
	l := s.Report.Local.Facts
	switch {
	case s.Report.Err != "":
		return false, "instance unreadable: " + s.Report.Err
	case l == nil:
		return false, "local Redis unreadable: " + s.Report.Local.Err
	case l.Loading:
		return false, "local Redis is loading its dataset"
	case l.Role != node.RoleMaster:
		return false, "local Redis is a replica of " + l.MasterAddr()
	case !s.Check.OK:
		return false, "check fails: " + s.Check.Reason
	case s.VRRP != nil && s.VRRP.State != "MASTER":
		return false, "VRRP state is " + s.VRRP.State
	case s.VRRP != nil && !s.VRRP.HoldsVIP:
		return false, "VRRP master, but the VIP is not held yet"
	case s.VRRP == nil && s.Report.State.LastEvent != transition.EventMaster:
		ev := string(s.Report.State.LastEvent)
		if ev == "" {
			ev = "none"
		}
		return false, "keepalived's newest event for the instance is " + ev + ", not master"
	case s.VRRP != nil:
		return true, "local Redis is master, check passes, this node holds the VIP"
	}
	return true, "local Redis is master, check passes, keepalived made this node master"
}

// Replica decides GET /replica: a replica with its link up and no full sync
// running; with bounded, its lag behind the peer (its master) must be
// known and at most maxLag bytes.
func Replica(s Snapshot, maxLag int64, bounded bool) (bool, string) {
	l := s.Report.Local.Facts
	switch {
	case s.Report.Err != "":
		return false, "instance unreadable: " + s.Report.Err
	case l == nil:
		return false, "local Redis unreadable: " + s.Report.Local.Err
	case l.Loading:
		return false, "local Redis is loading its dataset"
	case l.Role != node.RoleReplica:
		return false, "local Redis is master"
	case l.MasterSyncInProgress:
		return false, "local replica is in a full sync from " + l.MasterAddr()
	case !l.MasterLinkUp:
		return false, "local replica's link to " + l.MasterAddr() + " is down"
	}
	r := s.Report.Replication
	lag := ""
	if r.Replica == report.SideLocal && r.HasLagBytes {
		lag = fmt.Sprintf(", %d bytes behind", r.LagBytes)
	}
	if bounded {
		if r.Replica != report.SideLocal || !r.HasLagBytes {
			return false, "local replica's lag is unknown (its master is not the readable peer on the same history)"
		}
		if r.LagBytes > maxLag {
			return false, fmt.Sprintf("local replica is %d bytes behind, more than max_lag_bytes %d", r.LagBytes, maxLag)
		}
	}
	return true, "local replica in sync with " + l.MasterAddr() + lag
}

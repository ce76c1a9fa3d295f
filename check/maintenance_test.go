package check_test

import (
	"errors"
	"testing"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/transition"
)

// In maintenance mode the current holder stays eligible, and nothing makes
// a node eligible that was not.
func TestVerdictInMaintenance(t *testing.T) {
	on := maintenance.State{On: true, By: "root@a", Reason: "upgrade"}
	master := vMaster(vLocal, vHistA, 1000, 50)
	ourReplica := vReplica(vPeer, vLocal, true, vHistA, 1000, 50)
	peerNewer := vMaster(vPeer, vHistA, 2000, 60)
	down := errors.New("dial tcp 192.0.2.1:6379: connection refused")
	runVerdictCases(t, []verdictCase{
		{
			name: "healthy master stays OK, with a warning",
			in:   check.Input{Local: master, Peer: ourReplica, Maintenance: on},
			ok:   true, reason: "local is master", warning: "maintenance mode is on by root@a (upgrade)",
		},
		{
			name: "stale master stays eligible",
			in:   check.Input{Local: master, Peer: peerNewer, Maintenance: on},
			ok:   true, reason: "maintenance mode: local master stays eligible (without maintenance: local master is stale",
			warning: "automation paused",
		},
		{
			name: "local down on the node VRRP made master stays eligible",
			in:   check.Input{LocalErr: down, Peer: ourReplica, LastEvent: transition.EventMaster, Maintenance: on},
			ok:   true, reason: "the node VRRP made master stays eligible (without maintenance: local redis unreachable",
			warning: "maintenance",
		},
		{
			name:   "local down on a backup stays failing",
			in:     check.Input{LocalErr: down, Peer: peerNewer, LastEvent: transition.EventBackup, Maintenance: on},
			reason: "local redis unreachable", warning: "maintenance",
		},
		{
			name: "replica VRRP made master is not made eligible",
			in: check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: vMaster(vPeer, vHistA, 1000, 50),
				LastEvent: transition.EventMaster, Maintenance: on},
			reason: "VRRP made this node master but its redis is a replica", warning: "maintenance",
		},
		{
			name: "replica with its link down is not made eligible",
			in: check.Input{Local: vReplica(vLocal, vPeer, false, vHistA, 900, 50), Peer: vMaster(vPeer, vHistA, 1000, 50),
				Maintenance: on},
			reason: "link to 192.0.2.2:6379 is down", warning: "maintenance",
		},
		{
			name: "in-sync replica stays eligible",
			in:   check.Input{Local: vReplica(vLocal, vPeer, true, vHistA, 1000, 50), Peer: vMaster(vPeer, vHistA, 1000, 50), Maintenance: on},
			ok:   true, reason: "local is a replica in sync", warning: "maintenance",
		},
		{
			name:   "off: a stale master fails as always",
			in:     check.Input{Local: master, Peer: peerNewer},
			reason: "local master is stale",
		},
	})
	res := check.Verdict(check.Input{Local: master, Peer: ourReplica, Maintenance: on, LocalAnnounce: addrLocal, PeerAddr: addrPeer})
	if !res.Maintenance {
		t.Error("Result.Maintenance not set while on")
	}
	if res := check.Verdict(check.Input{Local: master, Peer: ourReplica, LocalAnnounce: addrLocal, PeerAddr: addrPeer}); res.Maintenance {
		t.Error("Result.Maintenance set while off")
	}
}

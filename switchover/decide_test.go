package switchover

import (
	"errors"
	"testing"

	"github.com/redis-vip/redis-vip/node"
)

var (
	localAddr = node.Addr{Host: "192.0.2.11", Port: 6379}
	peerAddr  = node.Addr{Host: "192.0.2.12", Port: 6379}
)

func master(offset int64) node.Facts {
	return node.Facts{Role: node.RoleMaster, ReplID: "aaaa", ReplOffset: offset, FailoverState: "no-failover", Keys: 10}
}

func replicaOf(host string, port int, offset int64) node.Facts {
	return node.Facts{Role: node.RoleReplica, MasterHost: host, MasterPort: port, MasterLinkUp: true,
		ReplID: "aaaa", ReplOffset: offset, Keys: 10}
}

func TestCheck(t *testing.T) {
	inSync := replicaOf("192.0.2.11", 6379, 1000)
	mod := func(f node.Facts, change func(*node.Facts)) node.Facts { change(&f); return f }
	for _, tc := range []struct {
		name        string
		local, peer node.Facts
		ok          bool
	}{
		{"in sync", master(1000), inSync, true},
		{"peer slightly behind", master(1500), inSync, true},
		{"peer too far behind", master(1000 + 2<<20), inSync, false},
		{"local is a replica", replicaOf("192.0.2.12", 6379, 1000), master(1000), false},
		{"local loading", mod(master(1000), func(f *node.Facts) { f.Loading = true }), inSync, false},
		{"local already failing over", mod(master(1000), func(f *node.Facts) { f.FailoverState = "waiting-for-sync" }), inSync, false},
		{"peer is a master too", master(1000), master(1000), false},
		{"peer replicates someone else", master(1000), replicaOf("192.0.2.99", 6379, 1000), false},
		{"peer link down", master(1000), mod(inSync, func(f *node.Facts) { f.MasterLinkUp = false }), false},
		{"peer in full sync", master(1000), mod(inSync, func(f *node.Facts) { f.MasterSyncInProgress = true }), false},
		{"peer loading", master(1000), mod(inSync, func(f *node.Facts) { f.Loading = true }), false},
		{"different history", master(1000), mod(inSync, func(f *node.Facts) { f.ReplID = "bbbb" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(Input{Local: tc.local, Peer: tc.peer, LocalAnnounce: localAddr, MaxLag: 1 << 20})
			if tc.ok && err != nil {
				t.Fatalf("want ok, got %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrRefused) {
				t.Fatalf("want ErrRefused, got %v", err)
			}
		})
	}
}

func TestDone(t *testing.T) {
	for _, tc := range []struct {
		name        string
		local, peer node.Facts
		want        bool
	}{
		{"moved", replicaOf("192.0.2.12", 6379, 10), master(10), true},
		{"not yet", master(10), replicaOf("192.0.2.11", 6379, 10), false},
		{"local replica, link down", func() node.Facts { f := replicaOf("192.0.2.12", 6379, 10); f.MasterLinkUp = false; return f }(), master(10), false},
		{"peer promoted, local still master", master(10), master(10), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Done(tc.local, tc.peer, peerAddr); got != tc.want {
				t.Fatalf("Done = %v, want %v", got, tc.want)
			}
		})
	}
}

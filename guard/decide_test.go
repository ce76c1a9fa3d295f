package guard_test

import (
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/guard"
	"github.com/redis-vip/redis-vip/node"
)

const (
	gLocal = "192.0.2.1:6379"
	gHistA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	gHistB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// gLocalAddr is gLocal, parsed.
var gLocalAddr = node.Addr{Host: "192.0.2.1", Port: 6379}

func gMaster(replid string, off, keys int64) *node.Facts {
	return &node.Facts{Addr: "192.0.2.2:6379", ServerName: "redis", Version: node.Version{Major: 7, Minor: 2}, RunID: "peer-run",
		Role: node.RoleMaster, ReplID: replid, ReplOffset: off, Keys: keys}
}

// gReplica is a peer replicating host:port.
func gReplica(host string, port int, linkUp bool, replid string, off, keys int64) *node.Facts {
	f := gMaster(replid, off, keys)
	f.Role = node.RoleReplica
	f.MasterHost, f.MasterPort, f.MasterLinkUp = host, port, linkUp
	return f
}

func rdb(replid string, off int64) guard.LocalData {
	return guard.LocalData{Path: "/var/lib/redis/dump.rdb", HasReplInfo: true, ReplID: replid, ReplOffset: off}
}

func TestDecide(t *testing.T) {
	peerData := gMaster(gHistA, 1000, 50)
	cases := []struct {
		name string
		in   guard.Input
		want guard.Decision
		why  string
	}{
		{
			name: "peer unreachable: leave alone",
			in:   guard.Input{Local: guard.LocalData{Missing: true}},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "unreachable",
		},
		{
			// S9: a peer that answers with an error is alive; with local
			// data neither role is safe, so redis-server does not start.
			name: "S9: peer answers with an error, local has data: refuse to start",
			in:   guard.Input{Local: rdb(gHistA, 500), PeerAnswered: true},
			want: guard.Decision{Action: guard.RefuseStart}, why: "alive",
		},
		{
			name: "S9: peer answers with an error, no local data: leave alone",
			in:   guard.Input{Local: guard.LocalData{Missing: true}, PeerAnswered: true},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "alive",
		},
		{
			name: "on_diverged refuse: a diverged file is kept, as the hooks would",
			in:   guard.Input{Local: rdb(gHistB, 500), Peer: peerData, RefuseDiverged: true},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "on_diverged is refuse",
		},
		{
			name: "peer drained on purpose after local's snapshot: back up, then follow",
			in:   guard.Input{Local: rdb(gHistA, 500), Peer: gMaster(gHistA, 900, 0)},
			want: guard.Decision{Action: guard.StartAsReplica, BackupLocal: true}, why: "emptied on purpose",
		},
		{
			name: "empty peer with a new history: never followed",
			in:   guard.Input{Local: rdb(gHistA, 500), Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "never copy the empty peer",
		},
		{
			name: "S11: peer in a full sync is not judged",
			in: guard.Input{Local: rdb(gHistA, 500), Peer: func() *node.Facts {
				f := gReplica("192.0.2.9", 6379, false, gHistB, 0, 0)
				f.MasterSyncInProgress = true
				return f
			}()},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "full sync",
		},
		{
			// Unreadable counts as data: start as master rather than follow
			// a peer nobody looked at (redis-server refuses the file anyway).
			name: "peer unreachable, local corrupt: start as master",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/dump.rdb", Corrupt: true}},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "unreachable",
		},
		{
			name: "peer loading: leave alone",
			in: guard.Input{Local: guard.LocalData{Missing: true}, Peer: func() *node.Facts {
				f := gMaster(gHistA, 0, 0)
				f.Loading = true
				return f
			}()},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "loading",
		},
		{
			name: "peer empty, local data: start as master (S1)",
			in:   guard.Input{Local: rdb(gHistA, 1000), Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "S1",
		},
		{
			name: "peer empty replica of us, local data: start as master",
			in:   guard.Input{Local: rdb(gHistA, 1000), Peer: gReplica("192.0.2.1", 6379, false, gHistB, 0, 0)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "peer is empty",
		},
		{
			name: "peer empty, local file without repl info: start as master",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/appendonly.aof"}, Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "peer is empty",
		},
		{
			name: "peer empty, local corrupt: start as master, keep the file",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/dump.rdb", Corrupt: true}, Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "peer is empty",
		},
		{
			name: "peer empty, local missing: leave alone",
			in:   guard.Input{Local: guard.LocalData{Missing: true}, Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "both empty",
		},
		{
			name: "peer empty, local empty file: leave alone",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/dump.rdb", Empty: true}, Peer: gMaster(gHistB, 0, 0)},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "both empty",
		},
		{
			name: "local missing, peer data: start as replica",
			in:   guard.Input{Local: guard.LocalData{Missing: true}, Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "no local data file",
		},
		{
			name: "local empty file, peer data: start as replica",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/dump.rdb", Empty: true}, Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "empty",
		},
		{
			name: "local corrupt, peer data: start as replica, back the file up",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/dump.rdb", Corrupt: true}, Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica, BackupLocal: true}, why: "unreadable",
		},
		{
			name: "local missing, peer our replica with data: replica, promote the peer",
			in:   guard.Input{Local: guard.LocalData{Missing: true}, Peer: gReplica("192.0.2.1", 6379, false, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.StartAsReplica, PromotePeer: true}, why: "S5",
		},
		{
			name: "local without repl info, peer data: replica, back up",
			in:   guard.Input{Local: guard.LocalData{Path: "/var/lib/redis/appendonly.aof"}, Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica, BackupLocal: true}, why: "no replication history",
		},
		{
			name: "local ahead (same replid, higher offset): start as master",
			in:   guard.Input{Local: rdb(gHistA, 2000), Peer: peerData},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "ahead",
		},
		{
			name: "local ahead of our replica: start as master",
			in:   guard.Input{Local: rdb(gHistA, 2000), Peer: gReplica("192.0.2.1", 6379, false, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.StartAsMaster}, why: "ahead",
		},
		{
			name: "local same and peer our replica: leave alone",
			in:   guard.Input{Local: rdb(gHistA, 1000), Peer: gReplica("192.0.2.1", 6379, false, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.LeaveAlone}, why: "replicates us",
		},
		{
			name: "local same and peer a master: start as replica, no backup",
			in:   guard.Input{Local: rdb(gHistA, 1000), Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "matches the peer",
		},
		{
			name: "local behind, peer master: start as replica",
			in:   guard.Input{Local: rdb(gHistA, 500), Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "older",
		},
		{
			name: "local behind, peer our replica: replica and promote the peer",
			in:   guard.Input{Local: rdb(gHistA, 500), Peer: gReplica("192.0.2.1", 6379, false, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.StartAsReplica, PromotePeer: true}, why: "older",
		},
		{
			name: "local behind a peer that was promoted from our history (replid2)",
			in: guard.Input{Local: rdb(gHistA, 1000), Peer: func() *node.Facts {
				f := gMaster(gHistB, 1500, 60)
				f.ReplID2, f.SecondReplOffset = gHistA, 1001
				return f
			}()},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "older",
		},
		{
			name: "local behind a replica of a third server: replica, do not promote it",
			in:   guard.Input{Local: rdb(gHistA, 500), Peer: gReplica("192.0.2.3", 6379, true, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.StartAsReplica}, why: "older",
		},
		{
			name: "diverged: replica and backup",
			in:   guard.Input{Local: rdb(gHistB, 3000), Peer: peerData},
			want: guard.Decision{Action: guard.StartAsReplica, BackupLocal: true}, why: "diverged",
		},
		{
			name: "diverged from our replica: replica, back up, promote the peer",
			in:   guard.Input{Local: rdb(gHistB, 3000), Peer: gReplica("192.0.2.1", 6379, false, gHistA, 1000, 50)},
			want: guard.Decision{Action: guard.StartAsReplica, BackupLocal: true, PromotePeer: true}, why: "diverged",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.LocalAnnounce = gLocalAddr
			got := guard.Decide(in)
			if got.Action != tc.want.Action || got.PromotePeer != tc.want.PromotePeer || got.BackupLocal != tc.want.BackupLocal {
				t.Errorf("Decide = {%s promotePeer=%v backup=%v}, want {%s promotePeer=%v backup=%v} (reason %q)",
					got.Action, got.PromotePeer, got.BackupLocal, tc.want.Action, tc.want.PromotePeer, tc.want.BackupLocal, got.Reason)
			}
			if !strings.Contains(got.Reason, tc.why) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tc.why)
			}
		})
	}
}

// TestDecideSafety checks guard's rules over a grid: it never starts a
// node with data as a replica of an empty peer (S1), never discards local
// data it cannot prove the peer holds without backing it up (S6), and never
// leaves a node with less data than a live master to start as configured
// (S5) unless that master is our own replica.
func TestDecideSafety(t *testing.T) {
	locals := []guard.LocalData{
		{Missing: true},
		{Path: "/d/dump.rdb", Empty: true},
		{Path: "/d/dump.rdb", Corrupt: true},
		{Path: "/d/appendonly.aof"},
	}
	for _, id := range []string{gHistA, gHistB} {
		for _, off := range []int64{500, 1000, 1500} {
			locals = append(locals, rdb(id, off))
		}
	}
	var peers []*node.Facts
	for _, id := range []string{gHistA, gHistB} {
		for _, off := range []int64{500, 1000, 1500} {
			for _, keys := range []int64{0, 10} {
				peers = append(peers, gMaster(id, off, keys),
					gReplica("192.0.2.1", 6379, false, id, off, keys),
					gReplica("192.0.2.3", 6379, true, id, off, keys))
			}
		}
	}
	peers = append(peers, nil)
	for _, l := range locals {
		for _, p := range peers {
			in := guard.Input{Local: l, Peer: p, LocalAnnounce: gLocalAddr}
			d := guard.Decide(in)
			peer := "unreachable"
			if p != nil {
				peer = p.Summary()
			}
			where := func() string { return "local " + l.Path + " peer " + peer + ": " + string(d.Action) + " " + d.Reason }
			if d != guard.Decide(in) {
				t.Fatalf("not deterministic: %s", where())
			}
			if d.Reason == "" {
				t.Fatalf("no reason: %s", where())
			}
			if p == nil {
				// Found by the lab's cold start: redis.conf may say replicaof
				// a peer that then comes up empty. With data, never follow
				// a peer nobody looked at; without, redis.conf decides.
				want := guard.LeaveAlone
				if l.HasData() {
					want = guard.StartAsMaster
				}
				if d.Action != want {
					t.Fatalf("peer unreachable: want %s: %s", want, where())
				}
				continue
			}
			drained := l.HasReplInfo && node.Compare(node.Facts{ReplID: l.ReplID, ReplOffset: l.ReplOffset, Keys: 1}, *p) == node.Behind
			if p.Empty() && l.HasData() && d.Action == guard.StartAsReplica && !drained {
				// Only a peer emptied on purpose after local's position
				// (its history holds local's and goes further) is followed.
				t.Fatalf("S1: replica of an empty peer: %s", where())
			}
			if p.Empty() && l.HasData() && d.Action == guard.StartAsReplica && !d.BackupLocal {
				t.Fatalf("S6: following a drained peer discards local data: back it up first: %s", where())
			}
			if d.Action == guard.StartAsReplica && l.HasData() && !d.BackupLocal {
				// Only a local file the peer provably contains may be dropped.
				rel := node.Compare(node.Facts{ReplID: l.ReplID, ReplOffset: l.ReplOffset, Keys: 1}, *p)
				if !l.HasReplInfo || (rel != node.Same && rel != node.Behind) {
					t.Fatalf("S6: local data dropped without a backup: %s", where())
				}
			}
			if d.PromotePeer && (d.Action != guard.StartAsReplica || p.Role != node.RoleReplica || !p.Master().Same(gLocalAddr)) {
				t.Fatalf("PromotePeer only for a replica of us we are about to follow: %s", where())
			}
			if d.Action == guard.StartAsReplica && p.Role == node.RoleReplica && p.Master().Same(gLocalAddr) && !d.PromotePeer {
				t.Fatalf("replication loop: replica of our own replica: %s", where())
			}
			if p.Role == node.RoleMaster && l.HasReplInfo && !p.Empty() &&
				node.Compare(node.Facts{ReplID: l.ReplID, ReplOffset: l.ReplOffset, Keys: 1}, *p) == node.Behind && d.Action != guard.StartAsReplica {
				t.Fatalf("S5: a stale local must not start as configured next to a fresher live master: %s", where())
			}
			if !p.Empty() && !p.Loading && p.Role == node.RoleMaster && !l.HasData() && d.Action != guard.StartAsReplica {
				t.Fatalf("S5: empty local must not start as configured next to a live master with data: %s", where())
			}
		}
	}
}

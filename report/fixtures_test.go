package report

import (
	"net"
	"strconv"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Fixed inputs for the table and golden tests (addresses from 192.0.2.0/24).
const (
	fxLocal = "192.0.2.11:6379"
	fxPeer  = "192.0.2.12:6379"
	fxThird = "192.0.2.13:6379"
	fxVIP   = "192.0.2.10:6379"
	fxHistA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fxHistB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var fxNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fxMaster(addr string, keys, off int64) *node.Facts {
	return &node.Facts{Addr: addr, ServerName: "redis", Version: node.Version{Major: 7, Minor: 0, Patch: 15},
		RunID: "run-" + addr, Uptime: 7200, Role: node.RoleMaster, ReplID: fxHistA, ReplOffset: off,
		SecondReplOffset: -1, MasterLinkDownSecs: -1, Keys: keys, UsedMemory: 3 << 20,
		RDBLastSave: fxNow.Add(-5 * time.Minute), RDBLastBgsaveOK: true, AOFLastWriteOK: true}
}

func fxReplica(addr, of string, linkUp bool, keys, off int64) *node.Facts {
	f := fxMaster(addr, keys, off)
	f.Role = node.RoleReplica
	host, port, _ := net.SplitHostPort(of)
	f.MasterHost = host
	f.MasterPort, _ = strconv.Atoi(port)
	f.MasterLinkUp = linkUp
	f.MasterLastIOSecsAgo = 1
	if !linkUp {
		f.MasterLinkDownSecs = 42
		f.MasterLastIOSecsAgo = -1
	}
	return f
}

// withReplica lists r as an online replica of m.
func withReplica(m *node.Facts, r *node.Facts) *node.Facts {
	host, port, _ := net.SplitHostPort(r.Addr)
	p, _ := strconv.Atoi(port)
	m.Replicas = append(m.Replicas, node.Replica{IP: host, Port: p, State: "online", Offset: r.ReplOffset})
	return m
}

// fxHealthy is a master (local) with its replica (peer) in sync, RDB on,
// guard active, the VIP on this host.
func fxHealthy() Instance {
	peer := fxReplica(fxPeer, fxLocal, true, 1000, 5000)
	local := withReplica(fxMaster(fxLocal, 1000, 5000), peer)
	return Instance{
		Name:     "redis6379",
		Duration: 12 * time.Millisecond,
		Local: Node{Side: SideLocal, Addr: node.MustParseAddr("127.0.0.1:6379"), Announce: node.MustParseAddr(fxLocal), Facts: local, RDB: TriOn, SavePolicy: "3600 1 300 100",
			Guard: GuardFile{Path: "/etc/redis/redis-vip-guard.conf", Exists: true, ByGuard: true,
				Written: fxNow.Add(-7200*time.Second - 3*time.Second), Window: 2 * time.Minute}},
		Peer:  Node{Side: SidePeer, Addr: node.MustParseAddr(fxPeer), Announce: node.MustParseAddr(fxPeer), Facts: peer, RDB: TriOn, SavePolicy: "3600 1 300 100"},
		VIPs:  []VIP{{Addr: fxVIP, OnLocalInterface: true, RunID: local.RunID}},
		State: State{LastEvent: transition.EventMaster},
		Journal: Journal{Path: "/var/lib/redis-vip/redis6379.journal", Records: []transition.Record{
			{Time: fxNow.Add(-26 * time.Hour), Instance: "redis6379", Event: transition.EventBackup, Seq: 1, Outcome: transition.OutcomeRefused, Error: "refused: peer is empty", DurationMS: 15},
			{Time: fxNow.Add(-3 * time.Hour), Instance: "redis6379", Event: transition.EventMaster, Source: "keepalived", Seq: 2,
				Plan: &transition.Plan{Decision: "sync-then-promote", Reason: "peer is a live master at least as fresh"}, Outcome: transition.OutcomeOK, DurationMS: 1250},
		}},
		Backups: Backups{Dir: "/var/lib/redis-vip/backups", Count: 2, Bytes: 3 << 20, Newest: fxNow.Add(-26 * time.Hour)},
	}
}

// fxBroken is a local master whose peer is unreachable, without
// persistence and without guard, with a failed transition an hour ago.
func fxBroken() Instance {
	local := fxMaster("127.0.0.1:6380", 50, 900)
	local.MaxMemory = 4 << 20
	return Instance{
		Name:     "redis6380",
		Duration: 1000 * time.Millisecond,
		Local: Node{Side: SideLocal, Addr: node.MustParseAddr("127.0.0.1:6380"), Announce: node.MustParseAddr("192.0.2.11:6380"), Facts: local, RDB: TriOff,
			Guard: GuardFile{Path: "/etc/redis/redis-vip-guard-6380.conf", Window: 2 * time.Minute}},
		Peer: Node{Side: SidePeer, Addr: node.MustParseAddr("192.0.2.12:6380"), Announce: node.MustParseAddr("192.0.2.12:6380"), RDB: TriUnknown,
			Err: "INFO 192.0.2.12:6380: unreachable: dial tcp 192.0.2.12:6380: i/o timeout"},
		Journal: Journal{Path: "/var/lib/redis-vip/redis6380.journal", Unreadable: 1, Records: []transition.Record{
			{Time: fxNow.Add(-time.Hour), Instance: "redis6380", Event: transition.EventMaster, Source: "keepalived", Seq: 7,
				Plan:    &transition.Plan{Decision: "sync-then-promote", Reason: "peer is a live master at least as fresh"},
				Outcome: transition.OutcomeSyncTimeout, Error: "sync before promote timed out", DurationMS: 30010},
		}},
		State: State{Holdoff: transition.Holdoff{Until: fxNow.Add(10 * time.Second), Reason: "sync before promote timed out"}},
	}
}

// fxReport is the report the golden files are rendered from.
func fxReport() Report {
	th := DefaultThresholds()
	a, b := fxHealthy(), fxBroken()
	Evaluate(&a, th, fxNow)
	Evaluate(&b, th, fxNow)
	bad := Instance{Name: "redis6381", Err: `configuration: instance redis6381: peer: missing (host:port)`}
	Evaluate(&bad, th, fxNow)
	return Report{GeneratedAt: fxNow, Host: "redis-a", Thresholds: th, Instances: []Instance{a, b, bad}}
}

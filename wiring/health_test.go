package wiring

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/transition"
)

// The health endpoints' source against a real master and replica on
// loopback: each side answers as itself, within the reading's bound.
func TestHealthSourceRealRedis(t *testing.T) {
	redistest.Require(t)
	m := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	r := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	ctx := context.Background()
	if err := m.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Client().Do(ctx, "REPLICAOF", "127.0.0.1", m.Port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := r.Client().Info(ctx, "replication").Result()
		if strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica not in sync")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mk := func(local, peer string) config.Instance {
		return config.Instance{Name: "pair", Local: addr(t, local), Announce: addr(t, local), Peer: addr(t, peer), StateDir: t.TempDir(), BackupDir: t.TempDir(),
			Timeouts: config.Timeouts{Connect: 300 * time.Millisecond, Command: 500 * time.Millisecond, Check: time.Second}}
	}
	onMaster, onReplica := mk(m.Addr(), r.Addr()), mk(r.Addr(), m.Addr())
	read := func(in config.Instance, vrrp func() *httpapi.VRRP) httpapi.Snapshot {
		src, err := NewHealthSource(in, nil, vrrp)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return src.Snapshot(ctx)
	}
	if ok, why := httpapi.Primary(read(onMaster, nil)); ok || !strings.Contains(why, "is none, not master") {
		t.Errorf("master without a keepalived event: %v %q", ok, why)
	}
	if _, err := (transition.StateDir{Dir: onMaster.StateDir, Instance: "pair"}).Enqueue(transition.EventMaster, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if ok, why := httpapi.Primary(read(onMaster, nil)); !ok {
		t.Errorf("master made master by keepalived: %q", why)
	}
	holding := func() *httpapi.VRRP { return &httpapi.VRRP{State: "MASTER", HoldsVIP: true} }
	if ok, why := httpapi.Primary(read(onMaster, holding)); !ok {
		t.Errorf("run master holding the VIP: %q", why)
	}
	s := read(onReplica, func() *httpapi.VRRP { return &httpapi.VRRP{State: "BACKUP"} })
	if ok, why := httpapi.Primary(s); ok || !strings.Contains(why, "replica of") {
		t.Errorf("replica /primary: %v %q", ok, why)
	}
	if ok, why := httpapi.Replica(s, 1<<20, true); !ok {
		t.Errorf("replica /replica: %q", why)
	}
	if s.Report.Local.Facts == nil || s.Report.Peer.Facts == nil || !s.Check.OK {
		t.Errorf("snapshot %+v", s)
	}
	// A dead peer costs no more than the bound.
	m.Kill()
	start := time.Now()
	s = read(onReplica, nil)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("reading with the peer down took %s", took)
	}
	if s.Report.Peer.Facts != nil {
		t.Error("peer read although killed")
	}
}

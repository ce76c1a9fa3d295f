package wiring

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

func TestMain(m *testing.M) {
	// go-redis reports failed dials on stderr; the tests make some on purpose.
	redis.SetLogger(node.DriverLogger{Log: zap.NewNop()})
	os.Exit(m.Run())
}

func addr(t *testing.T, s string) node.Addr {
	t.Helper()
	a, err := node.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// load reads instance a of a configuration file with body.
func load(t *testing.T, body string) config.Instance {
	t.Helper()
	in, err := loadConfig(t, body).Instance("a")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Runner maps an instance's configuration onto the transition runner.
func TestRunner(t *testing.T) {
	in := config.Instance{Name: "redis-6380", Announce: addr(t, "192.0.2.1:6380"), Peer: addr(t, "192.0.2.2:6380"),
		StateDir: t.TempDir(), BackupDir: t.TempDir(), BackupsKeep: 3, MaxLinkDown: time.Minute,
		OnDiverged: config.DivergedBackupAndFollow, Handover: config.HandoverPause,
		Timeouts: config.Timeouts{Sync: 3 * time.Second, PeerWait: 4 * time.Second, Holdoff: 5 * time.Second}}
	local, peer, err := Dial(in)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	defer peer.Close()
	r := Runner(in, local, peer, zap.NewNop(), true)
	want := transition.Options{Force: true, FollowDiverged: true, Handover: config.HandoverPause, SyncTimeout: 3 * time.Second,
		PeerWait: 4 * time.Second, Holdoff: 5 * time.Second, Poll: poll, MaxLinkDown: time.Minute}
	if r.Opts != want {
		t.Errorf("options = %+v, want %+v", r.Opts, want)
	}
	if r.Instance != "redis-6380" || r.LocalAnnounce.String() != "192.0.2.1:6380" || r.PeerAddr.String() != "192.0.2.2:6380" ||
		r.Local != transition.Server(local) || r.Peer != transition.Server(peer) ||
		r.State != (transition.StateDir{Dir: in.StateDir, Instance: "redis-6380"}) || r.Now == nil {
		t.Errorf("runner = %+v", r)
	}
	b, ok := r.Backups.(transition.Snapshots)
	if !ok || b.Writer == nil || b.Writer.Dir != in.BackupDir || b.Writer.Keep != 3 || b.Writer.Instance != "redis-6380" || b.Writer.Poll != poll {
		t.Errorf("backups = %+v", r.Backups)
	}
	in.OnDiverged = config.DivergedRefuse
	if r := Runner(in, local, peer, zap.NewNop(), false); r.Opts.FollowDiverged || r.Opts.Force {
		t.Errorf("on_diverged refuse, no --force: %+v", r.Opts)
	}
}

func TestClients(t *testing.T) {
	in := load(t, "instances:\n  a: {local: \"127.0.0.1:7001\", announce: \"192.0.2.1:7001\", peer: \"[::1]:7002\", username: u, password: p,\n"+
		"      timeouts: {connect: 123ms, command: 456ms}}\n")
	o, err := NodeOptions(in, in.Peer)
	if err != nil || o.Addr != "[::1]:7002" || o.Username != "u" || o.Password != "p" || o.TLS != nil ||
		o.DialTimeout != 123*time.Millisecond || o.CommandTimeout != 456*time.Millisecond {
		t.Errorf("options %+v, %v", o, err)
	}
	local, peer, err := Dial(in)
	if err != nil {
		t.Fatal(err)
	}
	if local.Addr() != "127.0.0.1:7001" || peer.Addr() != "[::1]:7002" {
		t.Errorf("clients for %s and %s", local.Addr(), peer.Addr())
	}
	local.Close()
	peer.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("no certificate here"), 0o600); err != nil {
		t.Fatal(err)
	}
	in = load(t, "instances:\n  a: {local: \"192.0.2.1:7001\", peer: \"redis-b.test:7002\", tls: {enabled: true, insecure_skip_verify: true}}\n")
	c, err := TLSConfig(in, in.Peer)
	if err != nil || c == nil || c.ServerName != "redis-b.test" || !c.InsecureSkipVerify {
		t.Errorf("TLS: %+v, %v", c, err)
	}
	in.TLS.ServerName, in.TLS.CAFile = "redis.test", ca
	if _, err := TLSConfig(in, in.Peer); err == nil || !strings.Contains(err.Error(), "no certificate found") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
	if _, _, err := Dial(in); !errors.Is(err, config.ErrConfig) {
		t.Errorf("Dial with a bad CA file: %v, want ErrConfig", err)
	}
}

func TestGuardRunner(t *testing.T) {
	dir := t.TempDir()
	in := load(t, "instances:\n  a: {local: \"192.0.2.1:6379\", peer: \"192.0.2.2:6379\", on_diverged: refuse, backups_keep: 4,\n"+
		"      guard: {redis_conf: "+dir+"/none.conf, data_dir: "+dir+", dbfilename: x.rdb, include: "+dir+"/inc.conf}}\n")
	r, err := GuardRunner(in, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if r.Files.Dir != dir || r.Files.DBFilename != "x.rdb" || r.Include != dir+"/inc.conf" || !r.RefuseDiverged || r.Keep != 4 ||
		r.PeerAddr.String() != "192.0.2.2:6379" || r.LocalAnnounce.String() != "192.0.2.1:6379" || r.Instance != "a" {
		t.Errorf("runner %+v", r)
	}
	in.Guard.DataDir = ""
	if _, err := GuardRunner(in, zap.NewNop()); !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "set guard.redis_conf or guard.data_dir") {
		t.Errorf("no redis.conf and no data_dir: %v", err)
	}
}

// In maintenance mode `run` records each transition and changes nothing.
func TestTransitionsInMaintenance(t *testing.T) {
	dir := t.TempDir()
	in := config.Instance{Name: "r1", Local: addr(t, "127.0.0.1:1"), Announce: addr(t, "192.0.2.1:1"), Peer: addr(t, "127.0.0.1:2"), StateDir: dir,
		Timeouts: config.Timeouts{Connect: 100 * time.Millisecond, Command: 100 * time.Millisecond}}
	if err := maintenance.Enable(dir, "r1", maintenance.State{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	tr := Transitions{Instance: in, Log: zap.NewNop()}
	rec, err := tr.Run(context.Background(), transition.EventMaster, "vrrp")
	if err != nil || rec.Outcome != transition.OutcomeMaintenance || rec.Before.LocalErr == "" {
		t.Fatalf("Run: %+v, %v", rec, err)
	}
	recs, _, err := transition.ReadJournal(filepath.Join(dir, "r1.journal"))
	if err != nil || len(recs) != 1 || recs[0].Outcome != transition.OutcomeMaintenance || recs[0].Source != "vrrp" {
		t.Fatalf("journal %+v, %v", recs, err)
	}
	if err := tr.Supersede(transition.EventBackup); err != nil {
		t.Fatal(err)
	}
	if n, err := StateDir(in).Newest(); err != nil || n.Event != transition.EventBackup {
		t.Errorf("newest event %+v, %v", n, err)
	}
	if DownFile(in) != filepath.Join(dir, "r1.down") {
		t.Errorf("down file %s", DownFile(in))
	}
}

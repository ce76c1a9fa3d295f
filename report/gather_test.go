package report

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// fakeServer answers from fixed facts, or blocks until ctx ends.
type fakeServer struct {
	facts   *node.Facts
	err     error
	save    string
	saveErr error
	block   bool
	calls   []string
}

func (f *fakeServer) FactsWithMemory(ctx context.Context) (node.Facts, error) {
	f.calls = append(f.calls, "INFO")
	if f.block {
		<-ctx.Done()
		return node.Facts{}, ctx.Err()
	}
	if f.err != nil {
		return node.Facts{}, f.err
	}
	return *f.facts, nil
}

func (f *fakeServer) ConfigGet(_ context.Context, name string) (string, error) {
	f.calls = append(f.calls, "CONFIG GET "+name)
	return f.save, f.saveErr
}

type fakeProber map[string]string

// fxHang is a VIP on which fakeProber never answers.
const fxHang = "192.0.2.98:6379"

func (p fakeProber) RunID(ctx context.Context, a node.Addr) (string, error) {
	addr := a.String()
	if id, ok := p[addr]; ok {
		return id, nil
	}
	if addr == fxHang {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", errors.New("connection refused")
}

func fakeSources(t *testing.T, local, peer *fakeServer) Sources {
	t.Helper()
	dir := t.TempDir()
	return Sources{
		Name: "redis", Local: local, Peer: peer,
		LocalAddr: node.MustParseAddr(fxLocal), LocalAnnounce: node.MustParseAddr(fxLocal), PeerAddr: node.MustParseAddr(fxPeer),
		State:        transition.StateDir{Dir: filepath.Join(dir, "state"), Instance: "redis"},
		BackupDir:    filepath.Join(dir, "backups"),
		GuardInclude: filepath.Join(dir, "guard.conf"),
		GuardWindow:  time.Minute,
		InterfaceAddrs: func() ([]net.Addr, error) {
			return []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.11"), Mask: net.CIDRMask(24, 32)}, &net.IPNet{IP: net.ParseIP("192.0.2.10"), Mask: net.CIDRMask(32, 32)}}, nil
		},
		Now: time.Now,
	}
}

func TestGatherReadsEverything(t *testing.T) {
	peerF := fxReplica(fxPeer, fxLocal, true, 10, 100)
	localF := withReplica(fxMaster(fxLocal, 10, 100), peerF)
	local := &fakeServer{facts: localF, save: "3600 1"}
	peer := &fakeServer{facts: peerF, saveErr: errors.New("ERR unknown command 'CONFIG'")}
	src := fakeSources(t, local, peer)
	src.VIPs = []string{fxVIP, "192.0.2.99:6379"}
	src.Probe = fakeProber{fxVIP: localF.RunID}
	// Two backups, one of an instance whose name starts like this one's,
	// and a file in the old format.
	if err := os.MkdirAll(src.BackupDir, 0o750); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(inst string, d int) string {
		return backup.Name{Instance: inst, Time: day.AddDate(0, 0, d), ReplID: "aaaa", Offset: int64(d), Origin: backup.OriginBGSave, Kind: backup.KindRDB}.String()
	}
	for name, size := range map[string]int{name("redis", 0): 100, name("redis", 1): 50, name("redis-eu", 2): 7, "redis-20250103T000000.000Z-aaaa-1.rdb": 9} {
		if err := os.WriteFile(filepath.Join(src.BackupDir, name), make([]byte, size), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.State.Append(transition.Record{Time: time.Now().Add(-time.Hour), Event: transition.EventMaster, Outcome: transition.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.State.Enqueue(transition.EventMaster, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	in := Gather(context.Background(), src, DefaultThresholds())
	if in.Status != Critical { // the second VIP answers nowhere
		t.Fatalf("status %s %+v", in.Status, in.Reasons)
	}
	if in.Local.RDB != TriOn || in.Local.SavePolicy != "3600 1" || in.Peer.RDB != TriUnknown || !strings.Contains(in.Peer.RDBErr, "unknown command") {
		t.Fatalf("rdb: local %s %q, peer %s %q", in.Local.RDB, in.Local.SavePolicy, in.Peer.RDB, in.Peer.RDBErr)
	}
	if !in.VIPs[0].OnLocalInterface || in.VIPs[0].Holder != HolderLocal || in.VIPs[1].Holder != HolderNone || in.VIPs[1].OnLocalInterface {
		t.Fatalf("vips %+v", in.VIPs)
	}
	if in.Backups.Count != 2 || in.Backups.Bytes != 150 || !in.Backups.Newest.Equal(day.AddDate(0, 0, 1)) {
		t.Fatalf("backups %+v", in.Backups)
	}
	if len(in.Journal.Records) != 1 || in.State.LastEvent != transition.EventMaster || in.State.Err != "" {
		t.Fatalf("journal %+v state %+v", in.Journal, in.State)
	}
	if in.Local.GuardStatus != GuardMissing {
		t.Fatalf("guard %s", in.Local.GuardStatus)
	}
	for _, s := range []*fakeServer{local, peer} {
		for _, c := range s.calls {
			if c != "INFO" && c != "CONFIG GET save" {
				t.Errorf("Gather sent %s", c)
			}
		}
	}
}

// A VIP that is not ip:port is parsed once, in Gather, and never probed.
func TestGatherVIPNotHostPort(t *testing.T) {
	local := &fakeServer{facts: fxMaster(fxLocal, 10, 100), save: ""}
	src := fakeSources(t, local, &fakeServer{facts: fxReplica(fxPeer, fxLocal, true, 10, 100)})
	src.VIPs = []string{"192.0.2.10"}
	src.Probe = fakeProber{"192.0.2.10": "never asked"}
	in := Gather(context.Background(), src, DefaultThresholds())
	if v := in.VIPs[0]; v.RunID != "" || !strings.HasPrefix(v.Err, "vip 192.0.2.10: ") {
		t.Fatalf("%+v", v)
	}
}

// A peer (and a VIP) that never answer cost no more than ctx allows.
func TestGatherBoundedByContext(t *testing.T) {
	local := &fakeServer{facts: fxMaster(fxLocal, 10, 100), save: ""}
	peer := &fakeServer{block: true}
	src := fakeSources(t, local, peer)
	src.VIPs = []string{fxHang}
	src.Probe = fakeProber{}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan Instance, 1)
	go func() { done <- Gather(ctx, src, DefaultThresholds()) }()
	select {
	case in := <-done:
		if in.Peer.Facts != nil || in.Local.Facts == nil || in.Status != Critical {
			t.Fatalf("%+v", in)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Gather did not return after its context ended")
	}
}

func TestReadGuard(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	byGuard := write("guard.conf", "# Written by redis-vip guard at 2025-03-01T12:00:00Z; rewritten before every start.\n# start-as-master: x\nreplicaof no one\n")
	placeholder := write("placeholder.conf", "# /etc/redis/redis-vip-guard.conf: written by `redis-vip guard` before every\n")
	if g := readGuard(byGuard, time.Minute); !g.Exists || !g.ByGuard || g.Written.IsZero() || g.Err != "" {
		t.Fatalf("%+v", g)
	}
	if g := readGuard(placeholder, time.Minute); !g.Exists || g.ByGuard {
		t.Fatalf("the packaged placeholder counted as written by guard: %+v", g)
	}
	if g := readGuard(filepath.Join(dir, "none"), time.Minute); g.Exists || g.Err != "" {
		t.Fatalf("%+v", g)
	}
	if g := readGuard(dir, time.Minute); g.Err == "" {
		t.Fatalf("a directory read as a guard file: %+v", g)
	}
}

func TestReadJournalTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "redis.journal")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// More than the tail bound: the report reads only the newest records,
	// skipping the line the bound cuts.
	pad := strings.Repeat("x", 2000)
	n := 0
	for written := 0; written < journalTailBytes+200_000; n++ {
		b, _ := json.Marshal(transition.Record{Seq: int64(n), Event: transition.EventBackup, Outcome: transition.OutcomeOK, Error: pad})
		b = append(b, '\n')
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		written += len(b)
	}
	if _, err := f.WriteString("not json\n\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j := readJournal(path)
	if j.Err != "" || j.Unreadable != 1 || len(j.Records) == 0 || j.Records[len(j.Records)-1].Seq != int64(n-1) {
		t.Fatalf("err %q unreadable %d records %d (want the newest, seq %d)", j.Err, j.Unreadable, len(j.Records), n-1)
	}
	if len(j.Records) >= n {
		t.Fatalf("read %d of %d records: the tail bound did not apply", len(j.Records), n)
	}
	if j := readJournal(filepath.Join(dir, "none")); j.Err != "" || len(j.Records) != 0 {
		t.Fatalf("missing journal: %+v", j)
	}
	// A rotated journal: the older records are in the .1 file, read first.
	sd := transition.StateDir{Dir: dir, Instance: "rotated", JournalMax: 600}
	for i := range int64(6) {
		if err := sd.Append(transition.Record{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(transition.RotatedJournalPath(sd.JournalPath())); err != nil {
		t.Fatalf("no rotation: %v", err)
	}
	j = readJournal(sd.JournalPath())
	if j.Err != "" || len(j.Records) < 2 || j.Records[len(j.Records)-1].Seq != 5 || j.Records[0].Seq != 6-int64(len(j.Records)) {
		t.Fatalf("rotated journal: %+v", j)
	}
}

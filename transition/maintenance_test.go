package transition

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
)

// maintCountingServer counts Facts calls and never answers; every other
// method is left unimplemented (a call would panic: none may happen).
type maintCountingServer struct {
	Server
	facts atomic.Int32
}

func (s *maintCountingServer) Addr() string { return "127.0.0.1:1" }
func (s *maintCountingServer) Facts(context.Context) (node.Facts, error) {
	s.facts.Add(1)
	return node.Facts{}, node.ErrUnreachable
}

// While maintenance mode is on the reconciler does nothing: it does not
// even read the servers. Off again, the next pass reads them.
func TestReconcileEveryPausesInMaintenance(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r1"}
	if _, err := sd.Enqueue(EventMaster, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := maintenance.Enable(sd.Dir, sd.Instance, maintenance.State{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	srv := &maintCountingServer{}
	newRunner := func() (*Runner, func(), error) {
		return &Runner{Log: zap.NewNop(), Instance: "r1", Local: srv, Peer: srv, State: sd, Now: time.Now,
			Opts: Options{Poll: time.Millisecond}}, func() {}, nil
	}
	run := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		ReconcileEvery(ctx, 5*time.Millisecond, time.Second, newRunner, zap.NewNop())
	}
	run(60 * time.Millisecond)
	if n := srv.facts.Load(); n != 0 {
		t.Fatalf("in maintenance the reconciler read the servers %d times", n)
	}
	if _, err := maintenance.Disable(sd.Dir, sd.Instance); err != nil {
		t.Fatal(err)
	}
	run(60 * time.Millisecond)
	if n := srv.facts.Load(); n == 0 {
		t.Fatal("after maintenance the reconciler did not read the servers")
	}
}

// RecordPaused makes the event the newest (a running transition stops at
// its next step) and journals it with the outcome "maintenance".
func TestRecordPaused(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r1"}
	old, err := sd.Enqueue(EventBackup, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := maintenance.State{On: true, By: "root@a", Reason: "upgrade"}
	rec, err := sd.RecordPaused(EventMaster, "keepalived", m, Snapshot{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !sd.Superseded(old) {
		t.Error("the paused event did not supersede the older one")
	}
	if n, _ := sd.Newest(); n.Event != EventMaster || n.Seq != rec.Seq {
		t.Errorf("newest %+v, record seq %d", n, rec.Seq)
	}
	recs, bad, err := ReadJournal(sd.JournalPath())
	if err != nil || bad != 0 || len(recs) != 1 {
		t.Fatalf("journal: %d records, %d bad, %v", len(recs), bad, err)
	}
	r := recs[0]
	if r.Outcome != OutcomeMaintenance || r.Event != EventMaster || r.Source != "keepalived" || r.Plan == nil || len(r.Plan.Steps) != 0 {
		t.Errorf("journal record %+v", r)
	}
	if r.Plan != nil && r.Plan.Reason != "maintenance mode is on by root@a (upgrade): event recorded, nothing changed" {
		t.Errorf("reason %q", r.Plan.Reason)
	}
	if st, err := sd.Maintenance(); err != nil || st.On {
		t.Errorf("Maintenance() %+v, %v: the file was never written here", st, err)
	}
}

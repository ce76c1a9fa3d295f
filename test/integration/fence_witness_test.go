package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/witness"
)

// The witness's --max-lease for these tests: at least the lease the nodes
// ask for with fence_after 3s (fence.LeaseDuration: 4.73s); it is also
// the witness's restart grace.
const fenceMaxLease = 5 * time.Second

// witnessPair starts a witness and a pair (A master, B its replica) that
// use it, A's fence keeper running, and waits until A holds the lease and
// its fence is armed (its replica in sync: a holder is open only while no
// replica acknowledges). secretB, when not "", is B's secret instead.
func witnessPair(t *testing.T, secretB string) (a, b *node, w *witnessProc) {
	a, b, w, _ = witnessPairKeeper(t, secretB)
	return a, b, w
}

// witnessPairKeeper is witnessPair, and the function that stops A's keeper.
func witnessPairKeeper(t *testing.T, secretB string) (a, b *node, w *witnessProc, stopKeeper func()) {
	t.Helper()
	secret := writeSecret(t, witnessSecret)
	w = startWitness(t, "127.0.0.1:0", secret, fenceMaxLease)
	extra := with(fenceSettings, settings{"witness.address": w.addr, "witness.secret_file": secret})
	a, b = pair(t, 20, extra)
	if secretB != "" {
		b = writeConfig(t, "redis", b.srv, a.srv, with(extra, settings{"witness.secret_file": writeSecret(t, secretB)}))
	}
	stopKeeper = startKeeper(t, a)
	waitFor(t, "A to hold the lease with its fence armed", 60*time.Second, func() bool {
		f := fenceFile(t, a)
		return f.LeaseUntil != nil && f.Level != nil && *f.Level == fence.Armed && configGet(t, a.srv, "min-replicas-to-write") == "1" &&
			configGet(t, a.srv, "min-replicas-max-lag") == "1"
	})
	return a, b, w, stopKeeper
}

// logLines counts the lines of n's redis-vip log that contain s.
func logLines(t *testing.T, n *node, s string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(n.config), "redis-vip.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// (d) The master holding the lease, armed while its replica is in sync,
// opens once its keeper sees the replica hung (unknown) and keeps accepting
// writes, past the time its Redis would have fenced itself armed. Between
// the hang and the keeper's decision its armed Redis may refuse writes for
// a moment (the replica's last acknowledgement was up to a second before
// the hang, and the keeper needs a probe timeout): the test prints how long.
func TestFenceWitnessHolderKeepsWriting(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b, _ := witnessPair(t, "")
	wa := fenceWriter(t, a.srv)
	b.srv.Freeze()
	hung := time.Now()
	refused, first, last := 0, time.Duration(0), time.Duration(0)
	for n := 0; ; n++ {
		err := set(wa, "k")
		switch {
		case noReplicas(err):
			if refused == 0 {
				first = time.Since(hung)
			}
			refused++
			last = time.Since(hung)
		case err != nil:
			t.Fatalf("write %d to the lease holder while its replica is hung: %v", n, err)
		}
		if f := fenceFile(t, a); err == nil && f.Level != nil && *f.Level == fence.Open {
			break
		}
		if time.Since(hung) > 10*time.Second {
			t.Fatalf("the lease holder's fence not open 10 s after its replica hung: %+v", fenceFile(t, a))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("replica hung: fence open on the lease %v after; %d writes refused in between (from %v to %v after the hang)",
		time.Since(hung).Round(time.Millisecond), refused, first.Round(time.Millisecond), last.Round(time.Millisecond))
	if last > 3*time.Second {
		t.Errorf("writes refused until %v after the hang, want the keeper to open within fence_after", last)
	}
	end := time.Now().Add(3*time.Second + 3*time.Second) // well past fence_after and a renewal
	n := 0
	for time.Now().Before(end) {
		if err := set(wa, "k"); err != nil {
			t.Fatalf("write %d to the lease holder, open, while its replica is hung: %v", n, err)
		}
		n++
		time.Sleep(20 * time.Millisecond)
	}
	if f := fenceFile(t, a); f.Evidence != "unknown" || f.Level == nil || *f.Level != 0 {
		t.Errorf("A's fence file %+v: want the peer unknown and the fence open", f)
	}
}

// (d) A keeper that stops (SIGTERM) while its fence is open on the lease
// arms it: nobody renews the lease now, and the Redis, its replica hung,
// refuses writes by itself.
func TestFenceWitnessKeeperStopArms(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b, _, stopKeeper := witnessPairKeeper(t, "")
	b.srv.Freeze()
	waitFor(t, "A's fence open on the lease", 10*time.Second, func() bool {
		f := fenceFile(t, a)
		return f.Level != nil && *f.Level == fence.Open && configGet(t, a.srv, "min-replicas-to-write") == "0"
	})
	stopKeeper()
	if v, lag := configGet(t, a.srv, "min-replicas-to-write"), configGet(t, a.srv, "min-replicas-max-lag"); v != "1" || lag != "1" {
		t.Fatalf("after the keeper stopped: min-replicas-to-write %s, max-lag %s; want armed (1, 1)", v, lag)
	}
	if f := fenceFile(t, a); f.Level == nil || *f.Level != fence.Armed {
		t.Errorf("fence file after the stop: %+v, want armed", f)
	}
	wa := fenceWriter(t, a.srv)
	waitFor(t, "A, armed with its replica hung, to refuse writes (within fence_after of the replica's last acknowledgement)", 5*time.Second, func() bool {
		return noReplicas(set(wa, "after-stop"))
	})
}

// (d) The replica cannot promote on unknown evidence while the master
// holds the lease; once the lease has run out (the master's Redis hung, so
// its keeper renews no more) it promotes, fenced.
func TestFenceWitnessLeaseBlocksReplica(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b, w := witnessPair(t, "")
	a.srv.Freeze()
	r := b.run(t, "notify-master")
	rec := lastRecord(t, b, transition.EventMaster)
	if rec.Plan == nil || rec.Plan.Decision != "wait-lease" || rec.Outcome != transition.OutcomeDeferred {
		t.Fatalf("notify-master while A holds the lease: %s %+v (%s)", rec.Outcome, rec.Plan, r.stdout)
	}
	if !strings.Contains(rec.Before.Lease, "held by "+a.srv.Addr()) {
		t.Errorf("journal lease %q, want held by %s", rec.Before.Lease, a.srv.Addr())
	}
	if role := b.srv.Role(context.Background()); role != "slave" {
		t.Fatalf("B is %s, want still a replica", role)
	}
	if c := b.run(t, "check"); c.code != 1 {
		t.Errorf("check on B: %d %s, want 1 (VRRP master, Redis replica)", c.code, c.stdout)
	}
	// The lease runs out: nobody renews it.
	st, err := witness.NewClient(w.addr, "redis", "observer", []byte(witnessSecret), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lease to run out", 30*time.Second, func() bool {
		holder, _, err := st.Status(context.Background())
		return err == nil && holder == ""
	})
	if r := b.run(t, "notify-master"); r.code != 0 {
		t.Fatalf("second notify-master: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rec = lastRecord(t, b, transition.EventMaster)
	if rec.Plan.Decision != "promote-fenced" || rec.Outcome != transition.OutcomeOK {
		t.Fatalf("after the lease ran out: %s %+v", rec.Outcome, rec.Plan)
	}
	if err := set(fenceWriter(t, b.srv), "after"); err != nil {
		t.Errorf("write to B after its wait: %v", err)
	}
}

// (d) The witness down: the pair keeps its roles (the master armed, its
// replica acknowledging), and a failover on a refused peer still works.
func TestFenceWitnessDown(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b, w := witnessPair(t, "")
	w.kill(t)
	waitFor(t, "A's lease to run out", 30*time.Second, func() bool { return fenceFile(t, a).LeaseUntil == nil })
	if v := configGet(t, a.srv, "min-replicas-to-write"); v != "1" {
		t.Fatalf("A without its lease: min-replicas-to-write %s, want armed (1)", v)
	}
	if err := set(fenceWriter(t, a.srv), "armed"); err != nil {
		t.Fatalf("write to A, armed with its replica in sync: %v", err)
	}
	if role := a.srv.Role(context.Background()); role != "master" {
		t.Fatalf("A is %s", role)
	}
	if n := logLines(t, a, "witness: no lease from this call"); n < 1 || n > 2 {
		t.Errorf("%d log lines about the dead witness, want one (or two: refused, then timed out)", n)
	}
	a.srv.Kill()
	if r := b.run(t, "notify-master"); r.code != 0 {
		t.Fatalf("notify-master: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rec := lastRecord(t, b, transition.EventMaster)
	if rec.Before.PeerEvidence != "dead" || rec.Plan.Decision != "promote-alone" {
		t.Fatalf("evidence %q, plan %+v", rec.Before.PeerEvidence, rec.Plan)
	}
	if err := set(fenceWriter(t, b.srv), "after"); err != nil {
		t.Errorf("write to B right after the failover: %v", err)
	}
}

// (d) A replica with the wrong secret never gets the lease: no promotion
// on unknown evidence, one log line. A witness configuration it cannot
// read is one line and exit 2.
func TestFenceWitnessWrongSecret(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b, _ := witnessPair(t, "another-secret-of-sixteen-bytes-or-more")
	a.srv.Freeze()
	b.run(t, "notify-master")
	rec := lastRecord(t, b, transition.EventMaster)
	if rec.Plan == nil || rec.Plan.Decision != "wait-lease" || !strings.Contains(rec.Before.Lease, "secret") {
		t.Fatalf("plan %+v, lease %q", rec.Plan, rec.Before.Lease)
	}
	if role := b.srv.Role(context.Background()); role != "slave" {
		t.Errorf("B is %s, want still a replica", role)
	}
	if n := logLines(t, b, "witness: no lease from this call"); n != 1 {
		t.Errorf("%d log lines about the wrong secret, want 1", n)
	}

	bad := writeConfig(t, "redis", b.srv, a.srv, with(fenceSettings, settings{"witness.address": "127.0.0.1:1", "witness.secret_file": "/nonexistent/witness.secret"}))
	r := bad.run(t, "check")
	if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr+r.stdout), "\n") != 0 || !strings.Contains(r.stderr+r.stdout, "witness.secret_file") {
		t.Errorf("check with an unreadable secret file: %d %q %q, want exit 2 and one line", r.code, r.stdout, r.stderr)
	}
}

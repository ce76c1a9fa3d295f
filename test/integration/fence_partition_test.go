package integration

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/transition"
)

// Partition safety (issue 10) against real redis-server pairs on
// loopback: a SIGSTOPped Redis is a peer that does not answer (unknown
// evidence: the kernel accepts the connection, nothing replies), a killed
// one a peer that is positively dead (the kernel refuses). The fence is
// Redis's own min-replicas-to-write, so every assertion is a write that
// Redis accepts or refuses.

// fenceSettings turn fencing on with the shortest fence_after.
var fenceSettings = settings{"fence_after": "3s", "fence_interval": "100ms", "timeouts.command": "500ms"}

func with(base settings, more settings) settings {
	out := settings{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// startKeeper runs `redis-vip reconcile --loop` for n (its fence keeper,
// with fencing on) until the end of the test, or until the function it
// returns stops it (SIGTERM, waiting for it to exit).
func startKeeper(t *testing.T, n *node) (stop func()) {
	t.Helper()
	cmd := exec.Command(redistest.Binary(t), "reconcile", "--loop", "--config", n.config)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _, _ = cmd.Process.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// fenceWriter is one client of a Redis with short timeouts.
func fenceWriter(t *testing.T, s *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func set(c *redis.Client, key string) error {
	return c.Set(context.Background(), key, "v", 0).Err()
}

func noReplicas(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOREPLICAS") }

func configGet(t *testing.T, s *redistest.Server, name string) string {
	t.Helper()
	v, err := s.Client().ConfigGet(context.Background(), name).Result()
	if err != nil {
		t.Fatalf("config get %s on %s: %v", name, s.Addr(), err)
	}
	return v[name]
}

func fenceFile(t *testing.T, n *node) transition.FenceState {
	t.Helper()
	f, err := transition.StateDir{Dir: n.state, Instance: n.name}.ReadFence()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func lastRecord(t *testing.T, n *node, ev transition.Event) transition.Record {
	t.Helper()
	recs := n.journal(t)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Event == ev && recs[i].Source != "reconcile" {
			return recs[i]
		}
	}
	t.Fatalf("no %s record in %s's journal", ev, n.name)
	return transition.Record{}
}

func stepList(r transition.Record) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, string(s.Step))
	}
	return out
}

// (a) Fencing off: a failover and a running keeper loop set no
// min-replicas-* anywhere.
func TestFenceOffChangesNothing(t *testing.T) {
	a, b := pair(t, 20, nil)
	startKeeper(t, a)
	startKeeper(t, b)
	a.srv.Kill()
	if r := b.run(t, "notify-master"); r.code != 0 {
		t.Fatalf("notify-master: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rec := lastRecord(t, b, transition.EventMaster)
	if got := strings.Join(stepList(rec), ","); strings.Contains(got, "fence") {
		t.Errorf("fencing off, yet steps %s", got)
	}
	if v, l := configGet(t, b.srv, "min-replicas-to-write"), configGet(t, b.srv, "min-replicas-max-lag"); v != "0" || l != "10" {
		t.Errorf("min-replicas-to-write %s, max-lag %s: want Redis's defaults 0 and 10", v, l)
	}
	if err := set(fenceWriter(t, b.srv), "after"); err != nil {
		t.Errorf("write to the new master: %v", err)
	}
}

// (b) The peer's Redis killed (refused: positively dead): promoted with
// the fence open, writes accepted at once.
func TestFencePeerRefusedOpensAtOnce(t *testing.T) {
	a, b := pair(t, 20, fenceSettings)
	a.srv.Kill()
	if r := b.run(t, "notify-master"); r.code != 0 {
		t.Fatalf("notify-master: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rec := lastRecord(t, b, transition.EventMaster)
	if rec.Before.PeerEvidence != "dead" || strings.Join(stepList(rec), ",") != "fence-open,promote,config-rewrite" {
		t.Fatalf("evidence %q, steps %v", rec.Before.PeerEvidence, stepList(rec))
	}
	if err := set(fenceWriter(t, b.srv), "after"); err != nil {
		t.Errorf("write right after the promotion: %v", err)
	}
}

// (c) The master's Redis hung (unknown), no witness: the replica promotes
// with its fence closed and refuses writes (-NOREPLICAS) until fence_after
// + margin after its promotion stamp, then accepts them; the old master,
// resumed with its keeper running, refuses writes: its replica is gone.
func TestFencePeerUnknownWaits(t *testing.T) {
	t.Parallel() // it waits on leases and grace periods, not the CPU
	a, b := pair(t, 20, fenceSettings)
	startKeeper(t, a)
	waitFor(t, "A armed by its keeper", 15*time.Second, func() bool {
		return configGet(t, a.srv, "min-replicas-to-write") == "1" && configGet(t, a.srv, "min-replicas-max-lag") == "1"
	})
	resumeA := a.srv.Freeze()
	hook := exec.Command(redistest.Binary(t), "notify-master", "--config", b.config)
	if err := hook.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hook.Wait() }()

	wb := fenceWriter(t, b.srv)
	refused, firstOK := 0, fence.Stamp{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && firstOK.BootID == "" {
		if b.srv.Role(context.Background()) != "master" {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		switch err := set(wb, "k"); {
		case err == nil:
			firstOK, _ = fence.Now()
		case noReplicas(err):
			refused++
		default:
			t.Fatalf("write to B: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if firstOK.BootID == "" {
		t.Fatal("B never accepted a write")
	}
	if err := <-done; err != nil {
		t.Fatalf("notify-master: %v", err)
	}
	if refused == 0 {
		t.Error("B accepted the first write it was sent as master: its fence was not closed")
	}
	f := fenceFile(t, b)
	if f.Promotion == nil {
		t.Fatal("no promotion stamp in B's fence file")
	}
	wait := 3*time.Second + fence.Margin(3*time.Second)
	if since, ok := f.Promotion.Since(firstOK); !ok || since < wait {
		t.Errorf("B accepted a write %s after its promotion stamp, want at least %s", since, wait)
	}
	rec := lastRecord(t, b, transition.EventMaster)
	if rec.Before.PeerEvidence != "unknown" || strings.Join(stepList(rec), ",") != "fence-close,promote,config-rewrite,fence-wait" {
		t.Errorf("evidence %q, steps %v", rec.Before.PeerEvidence, stepList(rec))
	}

	// A comes back: its replica is gone, its Redis (armed) and its keeper
	// (the peer alive as another master: armed) refuse its writes.
	resumeA()
	wa := fenceWriter(t, a.srv)
	waitFor(t, "the resumed old master to refuse writes", 15*time.Second, func() bool { return noReplicas(set(wa, "split")) })
	if v := configGet(t, a.srv, "min-replicas-to-write"); v == "0" {
		t.Errorf("old master's min-replicas-to-write %s: open", v)
	}
}

// (c) The old master's side: with its keeper running and its replica
// hung (unknown), a master without a witness closes its fence (writes
// refused), and opens it again, armed, once the replica is back in sync.
func TestFenceKeeperClosesOnUnknownPeer(t *testing.T) {
	a, b := pair(t, 20, fenceSettings)
	startKeeper(t, a)
	wa := fenceWriter(t, a.srv)
	waitFor(t, "A armed", 15*time.Second, func() bool { return configGet(t, a.srv, "min-replicas-to-write") == "1" })
	if err := set(wa, "before"); err != nil {
		t.Fatalf("armed master with its replica in sync refuses a write: %v", err)
	}
	resumeB := b.srv.Freeze()
	waitFor(t, "A closed while B is unknown", 15*time.Second, func() bool { return configGet(t, a.srv, "min-replicas-to-write") == "2" })
	if err := set(wa, "during"); !noReplicas(err) {
		t.Errorf("write to A while B is unknown: %v, want -NOREPLICAS", err)
	}
	// The keeper sets the level first and records it after: the file
	// may lag the setting by one write.
	waitFor(t, "A's fence file to record closed on unknown evidence", 5*time.Second, func() bool {
		f := fenceFile(t, a)
		return f.Level != nil && *f.Level == fence.Closed && f.Evidence == "unknown"
	})
	resumeB()
	waitFor(t, "A writable again", 20*time.Second, func() bool { return set(wa, "after") == nil })
	if v := configGet(t, a.srv, "min-replicas-to-write"); v != "1" {
		t.Errorf("min-replicas-to-write %s after the replica came back, want 1 (armed)", v)
	}
}

// (c) A master whose peer answers as another master (promoted while a
// partition hid it, then healed) has no replica to acknowledge anything:
// its keeper closes the fence rather than arming it, because armed would
// pass stale acknowledgements that the partition held back on the old
// replication connection (torture seeds 5011, 5015).
func TestFenceKeeperClosesWhenPeerIsAnotherMaster(t *testing.T) {
	a, b := pair(t, 20, fenceSettings)
	startKeeper(t, a)
	waitFor(t, "A armed", 15*time.Second, func() bool { return configGet(t, a.srv, "min-replicas-to-write") == "1" })
	if err := b.srv.Client().ReplicaOf(context.Background(), "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A closed while B is another master", 15*time.Second, func() bool {
		return configGet(t, a.srv, "min-replicas-to-write") == "2"
	})
	waitFor(t, "A's fence file to say why", 5*time.Second, func() bool {
		f := fenceFile(t, a)
		return f.Level != nil && *f.Level == fence.Closed && strings.Contains(f.Reason, "does not replicate")
	})
	if err := set(fenceWriter(t, a.srv), "k"); !noReplicas(err) {
		t.Errorf("write to A while B is another master: %v, want -NOREPLICAS", err)
	}
}

package transition

import (
	"go.uber.org/zap"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/witness"
)

// errRefused is what a peer host whose Redis is gone answers: a reset
// from its kernel (positively dead).
var errRefused = fmt.Errorf("dial: %w: %w", node.ErrUnreachable, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})

// fakeWitness grants the lease or not, or fails, as told.
type fakeWitness struct {
	mu       sync.Mutex
	grant    bool
	holder   string // who holds it when not granted
	err      error
	acquires int
	releases int
}

func (w *fakeWitness) Acquire(_ context.Context, d time.Duration) (witness.Lease, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acquires++
	switch {
	case w.err != nil:
		return witness.Lease{}, w.err
	case w.grant:
		return witness.Lease{Held: true, Holder: addrL, Until: time.Now().Add(d - witness.Margin(d)), Seq: 1}, nil
	}
	return witness.Lease{Holder: w.holder}, nil
}

func (w *fakeWitness) Release(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releases++
	w.grant = false
	return nil
}

func (w *fakeWitness) counts() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acquires, w.releases
}

// fencedRig is a rig whose local is a replica of a peer it cannot read
// (err), with fencing on and a short fence_after (the runner does not
// validate it: config does).
func fencedRig(t *testing.T, peerErr error) *rig {
	g := newRig(t)
	g.local.follow(addrP, false)
	g.peer.fail("Facts", 0, peerErr)
	g.r.Opts.FenceAfter = 100 * time.Millisecond
	g.r.Opts.LeaseDuration = fence.LeaseDuration(g.r.Opts.FenceAfter)
	return g
}

func fenceCalls(calls []string) []string {
	var out []string
	for _, c := range calls {
		if strings.Contains(c, "min-replicas") || strings.HasPrefix(c, "PromoteNoOne") {
			out = append(out, c)
		}
	}
	return out
}

// Fencing off: a failover touches no min-replicas-* setting.
func TestFenceOffSetsNothing(t *testing.T) {
	g := newRig(t)
	g.local.follow(addrP, false)
	g.peer.fail("Facts", 0, errUnreachable)
	rec, err := g.run(EventMaster)
	if err != nil || rec.Plan.Decision != "promote-alone" {
		t.Fatalf("%v: %+v", err, rec.Plan)
	}
	if got := fenceCalls(g.local.log()); !slices.Equal(got, []string{"PromoteNoOne"}) {
		t.Errorf("calls %v, want only PromoteNoOne", got)
	}
	if _, err := os.Stat(g.r.State.FencePath()); err == nil {
		t.Error("a fence file was written with fencing off")
	}
}

// Peer unknown, no witness: the fence is closed before REPLICAOF NO ONE,
// the promotion is stamped, and the fence opens no sooner than
// fence_after + margin after the stamp.
func TestFencedPromotionOnUnknown(t *testing.T) {
	g := fencedRig(t, errUnreachable)
	var openedAt fence.Stamp
	g.local.on("ConfigSet", 0, func() {
		if v := g.local.lastCall(); strings.HasSuffix(v, "min-replicas-to-write=0") {
			openedAt, _ = fence.Now()
		}
	})
	rec, err := g.run(EventMaster)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rec)
	}
	if rec.Plan.Decision != "promote-fenced" || rec.Before.PeerEvidence != "unknown" {
		t.Fatalf("plan %+v, evidence %q", rec.Plan, rec.Before.PeerEvidence)
	}
	want := []string{"fence-close", "promote", "config-rewrite", "fence-wait"}
	if got := stepNames(rec.Steps); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	calls := fenceCalls(g.local.log())
	if want := []string{"ConfigSet min-replicas-to-write=2", "PromoteNoOne", "ConfigSet min-replicas-to-write=0"}; !slices.Equal(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	fs, err := g.r.State.ReadFence()
	if err != nil || fs.Promotion == nil || fs.PromotionPending {
		t.Fatalf("fence file %+v, %v: want the promotion stamp", fs, err)
	}
	waited, ok := fs.Promotion.Since(openedAt)
	if wait := g.r.Opts.FenceAfter + fence.Margin(g.r.Opts.FenceAfter); !ok || waited < wait {
		t.Errorf("opened %v after the promotion stamp (ok %v), want at least %v", waited, ok, wait)
	}
	if !strings.Contains(rec.Steps[1].Detail, "promotion stamp recorded") || !strings.Contains(rec.Steps[3].Detail, "fence is up") {
		t.Errorf("details: %q / %q", rec.Steps[1].Detail, rec.Steps[3].Detail)
	}
}

// Peer refused: positively dead, promoted at once with the fence open
// before REPLICAOF NO ONE, and no wait.
func TestFencedPromotionOnRefused(t *testing.T) {
	g := fencedRig(t, errRefused)
	g.r.Opts.FenceAfter = time.Hour // a wait would hang the test
	rec, err := g.run(EventMaster)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Before.PeerEvidence != "dead" || !slices.Equal(stepNames(rec.Steps), []string{"fence-open", "promote", "config-rewrite"}) {
		t.Fatalf("evidence %q, steps %v", rec.Before.PeerEvidence, stepNames(rec.Steps))
	}
	if got, want := fenceCalls(g.local.log()), []string{"ConfigSet min-replicas-to-write=0", "PromoteNoOne"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

// With a witness whose lease another node holds, or that fails: no
// promotion on unknown evidence; a failure is logged once however often
// the plan is made again.
func TestFencedPromotionNeedsTheLease(t *testing.T) {
	for _, c := range []struct {
		name string
		w    *fakeWitness
		want string
	}{
		{"held by the peer", &fakeWitness{holder: addrP}, "held by " + addrP},
		{"wrong secret", &fakeWitness{err: fmt.Errorf("witness w:1 pair p: %w", witness.ErrWrongSecret)}, "no lease: "},
		{"unreachable", &fakeWitness{err: fmt.Errorf("witness w:1 pair p: %w: timeout", witness.ErrUnreachable)}, "no lease: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := fencedRig(t, errUnreachable)
			g.r.Witness = c.w
			g.r.Opts.PeerWait = 600 * time.Millisecond // many plans, a few witness calls
			rec, err := g.run(EventMaster)
			if err != nil || rec.Outcome != OutcomeDeferred || rec.Plan.Decision != "wait-lease" {
				t.Fatalf("%v: %s %+v", err, rec.Outcome, rec.Plan)
			}
			if hasCall(g.local.log(), "PromoteNoOne") || hasCall(g.local.log(), "ConfigSet") {
				t.Errorf("local changed: %v", g.local.log())
			}
			if !strings.HasPrefix(rec.Before.Lease, c.want) {
				t.Errorf("journal lease %q, want %q", rec.Before.Lease, c.want)
			}
			acq, _ := c.w.counts()
			if acq < 1 || acq > 10 {
				t.Errorf("%d witness calls in a 600ms wait, want a few (spaced by %s)", acq, leaseRetry)
			}
			if c.w.err != nil {
				if n := g.logs.FilterMessage("witness: no lease from this call").Len(); n != 1 {
					t.Errorf("%d log lines about the witness, want 1", n)
				}
			}
		})
	}
}

// With the lease: promoted fenced, and the lease is kept during the wait.
func TestFencedPromotionWithTheLease(t *testing.T) {
	g := fencedRig(t, errUnreachable)
	w := &fakeWitness{grant: true}
	g.r.Witness = w
	rec, err := g.run(EventMaster)
	if err != nil || rec.Plan.Decision != "promote-fenced" {
		t.Fatalf("%v: %+v", err, rec.Plan)
	}
	if !strings.HasPrefix(rec.Before.Lease, "held for") {
		t.Errorf("journal lease %q", rec.Before.Lease)
	}
	if got := g.local.config["min-replicas-to-write"]; got != "0" {
		t.Errorf("min-replicas-to-write %q after the wait, want 0 (the lease is held)", got)
	}
	fs, _ := g.r.State.ReadFence()
	if fs.LeaseUntil == nil || fs.LeaseSent == nil {
		t.Errorf("fence file without the lease: %+v", fs)
	}
}

// The wait ends at once when the peer turns out positively dead.
func TestFenceWaitEndsOnDeadPeer(t *testing.T) {
	g := fencedRig(t, errUnreachable)
	g.r.Opts.FenceAfter = time.Hour
	g.local.on("PromoteNoOne", 1, func() { g.peer.fail("Facts", 0, errRefused) })
	rec, err := g.run(EventMaster)
	if err != nil {
		t.Fatal(err)
	}
	last := rec.Steps[len(rec.Steps)-1]
	if last.Step != StepFenceWait || !strings.Contains(last.Detail, "positively dead") || g.local.config["min-replicas-to-write"] != "0" {
		t.Errorf("fence-wait %+v, min-replicas-to-write %q", last, g.local.config["min-replicas-to-write"])
	}
}

// A superseded fence-wait stops with the fence closed.
func TestFenceWaitSuperseded(t *testing.T) {
	g := fencedRig(t, errUnreachable)
	g.r.Opts.FenceAfter = time.Hour
	g.local.on("PromoteNoOne", 1, func() {
		if _, err := g.r.State.Enqueue(EventBackup, "", time.Now()); err != nil {
			t.Error(err)
		}
	})
	rec, err := g.run(EventMaster)
	if err != nil || rec.Outcome != OutcomeSuperseded {
		t.Fatalf("%v: %s", err, rec.Outcome)
	}
	if g.local.config["min-replicas-to-write"] != "2" {
		t.Errorf("min-replicas-to-write %q, want 2 (closed)", g.local.config["min-replicas-to-write"])
	}
}

func TestFenceStateLeaseHeld(t *testing.T) {
	now := fence.Stamp{BootID: "b", At: 100 * time.Second}
	at := func(s float64) *fence.Stamp {
		return &fence.Stamp{BootID: "b", At: time.Duration(s * float64(time.Second))}
	}
	m := 500 * time.Millisecond
	for _, c := range []struct {
		name  string
		s     FenceState
		alive bool
		want  bool
	}{
		{"none", FenceState{}, false, false},
		{"valid, renewed after the peer was seen", FenceState{LeaseSent: at(99), LeaseUntil: at(103), PeerSeen: at(98)}, false, true},
		{"valid, renewed before the peer was last seen", FenceState{LeaseSent: at(97), LeaseUntil: at(103), PeerSeen: at(98)}, false, false},
		{"the same with the peer alive", FenceState{LeaseSent: at(97), LeaseUntil: at(103), PeerSeen: at(98)}, true, true},
		{"ends within the margin", FenceState{LeaseSent: at(99), LeaseUntil: at(100.4)}, true, false},
		{"ended", FenceState{LeaseSent: at(90), LeaseUntil: at(95)}, true, false},
		{"another boot", FenceState{LeaseSent: &fence.Stamp{BootID: "a", At: 99 * time.Second}, LeaseUntil: &fence.Stamp{BootID: "a", At: 103 * time.Second}}, true, false},
	} {
		if got := c.s.LeaseHeld(now, m, c.alive); got != c.want {
			t.Errorf("%s: LeaseHeld = %v, want %v", c.name, got, c.want)
		}
	}
	p := FenceState{Promotion: at(90)}
	if d, ok := p.PromotedSince(now, time.Minute); !ok || d != 10*time.Second {
		t.Errorf("PromotedSince = %v %v", d, ok)
	}
	p.PromotionPending = true
	if d, ok := p.PromotedSince(now, 4*time.Second); !ok || d != 6*time.Second {
		t.Errorf("pending: PromotedSince = %v %v, want 6s (counted from the transition's bound)", d, ok)
	}
	p.Promotion = &fence.Stamp{BootID: "other", At: time.Second}
	if d, ok := p.PromotedSince(now, 0); !ok || d != 0 {
		t.Errorf("another boot: PromotedSince = %v %v, want 0 true (the wait starts again)", d, ok)
	}
}

func TestUpdateFenceKeepsWhatItDoesNotChange(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r"}
	stamp := fence.Stamp{BootID: "b", At: time.Second}
	if err := sd.UpdateFence(func(f *FenceState) bool { f.Promotion = &stamp; return true }); err != nil {
		t.Fatal(err)
	}
	if err := sd.UpdateFence(func(f *FenceState) bool { f.Reason = "x"; return true }); err != nil {
		t.Fatal(err)
	}
	f, err := sd.ReadFence()
	if err != nil || f.Promotion == nil || *f.Promotion != stamp || f.Reason != "x" {
		t.Errorf("%+v %v", f, err)
	}
	if err := os.WriteFile(sd.FencePath(), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sd.ReadFence(); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("garbage read as %v", err)
	}
}

// lastCall is the newest call f logged.
func (f *fakeRedis) lastCall() string {
	calls := f.log()
	if len(calls) == 0 {
		return ""
	}
	return calls[len(calls)-1]
}

// The fence file keeps the first and the latest witness answers naming
// another node the holder: a holder named across more than a lease has
// renewed it (check then gives the VIP back); an error leaves them as
// they were; this node or nobody holding it clears them.
func TestLeaseHolderSinceSeen(t *testing.T) {
	sd := StateDir{Dir: t.TempDir(), Instance: "r"}
	w := &fakeWitness{holder: addrP}
	v := &leaseView{w: w, d: 4 * time.Second, margin: time.Second, sd: sd, log: zap.NewNop()}
	read := func() FenceState {
		t.Helper()
		f, err := sd.ReadFence()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	v.ask(context.Background())
	first := read()
	if first.LeaseHolder != addrP || first.LeaseHolderSince == nil || first.LeaseHolderSeen == nil || *first.LeaseHolderSince != *first.LeaseHolderSeen {
		t.Fatalf("after one answer naming the peer: %+v", first)
	}
	time.Sleep(5 * time.Millisecond)
	v.ask(context.Background())
	second := read()
	if *second.LeaseHolderSince != *first.LeaseHolderSince || second.LeaseHolderSeen.At <= first.LeaseHolderSeen.At {
		t.Fatalf("a second answer must keep since and move seen: %+v then %+v", first, second)
	}
	if second.PeerRenewsLease(4*time.Second, time.Second) {
		t.Fatal("named for 5 ms: not renewed")
	}
	if !second.PeerRenewsLease(time.Millisecond, time.Millisecond) {
		t.Fatal("named for longer than a 1 ms lease: renewed")
	}
	w.mu.Lock()
	w.err = witness.ErrUnreachable
	w.mu.Unlock()
	v.ask(context.Background())
	if third := read(); third.LeaseHolderSince == nil || *third.LeaseHolderSince != *second.LeaseHolderSince {
		t.Fatalf("an error must leave since as it was: %+v", third)
	}
	w.mu.Lock()
	w.err, w.holder = nil, ""
	w.mu.Unlock()
	v.ask(context.Background())
	if fourth := read(); fourth.LeaseHolderSince != nil || fourth.LeaseHolderSeen != nil {
		t.Fatalf("nobody holding it must clear since and seen: %+v", fourth)
	}
}

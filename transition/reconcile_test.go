package transition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/redis-vip/redis-vip/node"
)

// reconcileCase is one Reconcile pass against the fake pair.
type reconcileCase struct {
	name string
	// ev is the newest event recorded before the pass, at, its age ("" for
	// none recorded).
	ev    Event
	age   time.Duration
	setup func(g *rig)
	acted bool
	// outcome, steps and errText describe an acting pass.
	outcome string
	steps   []string
	errText string
	// reads is how often local is read (-1: not checked).
	reads int
	check func(t *testing.T, g *rig, rec Record)
}

// S12: Reconcile repairs the pair from the newest event, once, with the
// lock, and journals only the passes that act.
func TestReconcile(t *testing.T) {
	cases := []reconcileCase{
		{
			name:  "no event ever recorded: nothing read, nothing journaled",
			reads: 0,
		},
		{
			name: "a replica of a dead peer after a master event is promoted",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
			},
			acted: true, outcome: OutcomeOK, steps: []string{"promote", "config-rewrite"}, reads: -1,
			check: func(t *testing.T, g *rig, rec Record) {
				if rec.Source != "reconcile" || rec.Event != EventMaster || rec.Seq != 1 || rec.Plan == nil || rec.Plan.Decision != "promote-alone" {
					t.Errorf("record = %+v", rec)
				}
				if role, _, _, _ := g.local.state(); role != node.RoleMaster {
					t.Errorf("local is %s", role)
				}
				// The next pass finds nothing to do and leaves no trace.
				rec2, acted, err := g.r.Reconcile(context.Background())
				if acted || err != nil || rec2.Outcome != "" {
					t.Errorf("second pass = %+v, %v, %v", rec2, acted, err)
				}
				if n := len(g.journal()); n != 1 {
					t.Errorf("journal has %d records after a quiet pass, want 1", n)
				}
			},
		},
		{
			name: "an active hold-off: nothing read",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				if err := g.r.State.WriteHoldoff(Holdoff{Until: time.Now().Add(time.Hour), Reason: "test"}); err != nil {
					g.t.Fatal(err)
				}
			},
			reads: 0,
		},
		{
			name: "an expired hold-off does not stop it",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				if err := g.r.State.WriteHoldoff(Holdoff{Until: time.Now().Add(-time.Second), Reason: "test"}); err != nil {
					g.t.Fatal(err)
				}
			},
			acted: true, outcome: OutcomeOK, steps: []string{"promote", "config-rewrite"}, reads: -1,
			check: func(t *testing.T, g *rig, _ Record) {
				if h, _ := g.r.State.ReadHoldoff(); !h.Until.IsZero() {
					t.Errorf("a master event that succeeded kept the hold-off: %+v", h)
				}
			},
		},
		{
			name: "the lock is busy: nothing read",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				n, _ := g.r.State.Newest()
				lock, err := g.r.State.TryAcquire(n)
				if err != nil {
					g.t.Fatal(err)
				}
				g.t.Cleanup(func() { lock.Release() })
				if !g.r.State.Busy() {
					g.t.Error("Busy = false with the lock held")
				}
			},
			reads: 0,
		},
		{
			name: "a plan that waits is not waited for",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.fail("Facts", 0, errors.New("BUSY Redis is busy running a script"))
				g.r.Opts.PeerWait = time.Hour
			},
			reads: 1,
		},
		{
			name: "a refusal without steps is the hook's to journal",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.local.linkDown = 600
				g.peer.down = true
				g.r.Opts.MaxLinkDown = time.Minute
			},
			reads: 2, // the decision, and the snapshot after it
		},
		{
			name: "local down: the next pass looks again",
			ev:   EventBackup, age: time.Minute,
			setup: func(g *rig) {
				g.local.down = true
			},
			reads: 1,
		},
		{
			name: "a failed step is journaled",
			ev:   EventMaster, age: time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				g.local.fail("PromoteNoOne", 0, errBoom)
			},
			acted: true, outcome: OutcomeFailed, steps: []string{"!promote", "!promote", "!promote"}, errText: "step promote", reads: -1,
		},
		{
			name: "a configuration error is journaled",
			ev:   EventBackup, age: time.Minute,
			setup: func(g *rig) {
				g.peer.fail("Facts", 0, fmt.Errorf("%w: WRONGPASS", node.ErrAuth))
			},
			acted: true, outcome: OutcomeFailed, steps: []string{}, errText: ErrConfig.Error(), reads: 1,
		},
		{
			name: "a newer event stops the pass at its next step",
			ev:   EventBackup, age: time.Minute,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.on("ReplicaOf", 1, func() { enqueue(g, EventMaster) })
			},
			acted: true, outcome: OutcomeSuperseded, steps: []string{"pause-local-writes", "follow-peer"}, reads: -1,
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("KillNormalClients") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "a stale master event takes nothing from a live master peer (torture seed 7020)",
			ev:   EventMaster, age: 2 * time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.configFile = ""
				g.r.Opts.StaleMasterAfter = time.Minute
				g.r.VIPs = func() VIPs { return VIPs{Known: true, Held: false} }
			},
			reads: 1,
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverTo") != 0 || g.local.n("PromoteNoOne") != 0 {
					t.Errorf("peer calls %v, local calls %v: want no handover", g.peer.log(), g.local.log())
				}
			},
		},
		{
			name: "a master event within its bound takes the role by handover",
			ev:   EventMaster, age: 30 * time.Second,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.configFile = ""
				g.r.Opts.StaleMasterAfter = time.Minute
			},
			acted: true, outcome: OutcomeOK, steps: []string{"wait-in-sync", "failover", "config-rewrite"}, reads: -1,
		},
		{
			name: "an old master event while this host holds the VIP is current: handover",
			ev:   EventMaster, age: 2 * time.Minute,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.configFile = ""
				g.r.Opts.StaleMasterAfter = time.Minute
				g.r.VIPs = func() VIPs { return VIPs{Known: true, Held: true} }
			},
			acted: true, outcome: OutcomeOK, steps: []string{"wait-in-sync", "failover", "config-rewrite"}, reads: -1,
		},
		{
			name: "a backup event follows a live master at once (the peer had its wait)",
			ev:   EventBackup, age: time.Minute,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.r.Opts.PeerWait = 30 * time.Second
			},
			acted: true, outcome: OutcomeOK, steps: []string{"pause-local-writes", "follow-peer", "kill-clients", "config-rewrite"}, reads: -1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newRig(t)
			if c.ev != "" {
				if _, err := g.r.State.Enqueue(c.ev, "", time.Now().Add(-c.age)); err != nil {
					t.Fatal(err)
				}
			}
			if c.setup != nil {
				c.setup(g)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rec, acted, err := g.r.Reconcile(ctx)
			if acted != c.acted {
				t.Errorf("acted = %v, want %v (record %+v, error %v)", acted, c.acted, rec, err)
			}
			if c.reads >= 0 && g.local.n("Facts") != c.reads {
				t.Errorf("local read %d times, want %d: %v", g.local.n("Facts"), c.reads, g.local.log())
			}
			recs := g.journal()
			if !c.acted {
				if err != nil || len(recs) != 0 {
					t.Errorf("quiet pass: error %v, journal %+v", err, recs)
				}
				return
			}
			if (c.errText == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.errText)) {
				t.Errorf("error = %v, want %q", err, c.errText)
			}
			if rec.Outcome != c.outcome || !reflect.DeepEqual(stepNames(rec.Steps), c.steps) || rec.Source != "reconcile" {
				t.Errorf("record = %q %v from %q, want %q %v", rec.Outcome, stepNames(rec.Steps), rec.Source, c.outcome, c.steps)
			}
			if len(recs) != 1 || recs[0].Outcome != rec.Outcome || recs[0].Source != "reconcile" || recs[0].Seq != rec.Seq {
				t.Errorf("journal = %+v, want the one record", recs)
			}
			if c.check != nil {
				c.check(t, g, rec)
			}
		})
	}
}

// A pass reads the newest event, not a fixed one, and takes no ticket: it
// never supersedes a hook.
func TestReconcileTakesNoTicket(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	enqueue(g, EventMaster)
	enqueue(g, EventBackup)
	rec, acted, err := g.r.Reconcile(context.Background())
	if err != nil || !acted || rec.Event != EventBackup || rec.Seq != 2 {
		t.Errorf("Reconcile = %+v, %v, %v; want the backup event, seq 2", rec, acted, err)
	}
	if n, _ := g.r.State.Newest(); n.Seq != 2 {
		t.Errorf("newest seq = %d, want 2", n.Seq)
	}
}

// A corrupt sequence file is an error, not a silent skip.
func TestReconcileBadSequence(t *testing.T) {
	g := newRig(t)
	if err := os.WriteFile(g.r.State.path("seq"), []byte("{not json\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, acted, err := g.r.Reconcile(context.Background()); acted || err == nil || !strings.Contains(err.Error(), "sequence file") {
		t.Errorf("Reconcile = %v, %v; want the sequence error", acted, err)
	}
}

// ReconcileEvery runs a pass per tick with fresh runners, logs passes that
// act or fail, releases every runner, and stops when its context ends.
func TestReconcileEvery(t *testing.T) {
	acting := newRig(t)
	acting.local.follow(addrP, false)
	acting.peer.down = true
	if _, err := acting.r.State.Enqueue(EventMaster, "", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	failing := newRig(t)
	failing.local.fail("Facts", 0, fmt.Errorf("%w: NOAUTH", node.ErrAuth))
	if _, err := failing.r.State.Enqueue(EventMaster, "", time.Now()); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	made, released := 0, 0
	newRunner := func() (*Runner, func(), error) {
		mu.Lock()
		defer mu.Unlock()
		made++
		release := func() {
			mu.Lock()
			released++
			mu.Unlock()
		}
		switch made {
		case 1:
			return nil, nil, errors.New("dial local: connection refused")
		case 2:
			return failing.r, release, nil
		case 3, 4:
			return acting.r, release, nil
		}
		cancel()
		return nil, nil, errors.New("stopping")
	}
	done := make(chan struct{})
	go func() {
		ReconcileEvery(ctx, time.Millisecond, 5*time.Second, newRunner, zap.New(core))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReconcileEvery did not stop when its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if made < 5 || released != 3 {
		t.Errorf("made %d runners, released %d; want every runner released", made, released)
	}
	if n := logs.FilterMessage("reconcile: clients").Len(); n < 1 {
		t.Errorf("client errors logged %d times", n)
	}
	warn := logs.FilterMessage("reconcile").All()
	if len(warn) != 1 || !strings.Contains(fmt.Sprint(warn[0].ContextMap()["error"]), ErrConfig.Error()) {
		t.Errorf("failed passes logged: %+v", warn)
	}
	acted := logs.FilterMessage("reconciled").All()
	if len(acted) != 1 || acted[0].ContextMap()["decision"] != "promote-alone" || acted[0].ContextMap()["outcome"] != OutcomeOK {
		t.Errorf("acting passes logged: %+v; want the one promote", acted)
	}
	if acting.local.n("PromoteNoOne") != 1 {
		t.Errorf("local promoted %d times", acting.local.n("PromoteNoOne"))
	}
}

func TestReconcileEveryStops(t *testing.T) {
	t.Run("no interval: returns at once", func(t *testing.T) {
		called := false
		ReconcileEvery(context.Background(), 0, time.Second, func() (*Runner, func(), error) {
			called = true
			return nil, nil, errors.New("unused")
		}, zap.NewNop())
		if called {
			t.Error("a pass ran with no interval")
		}
	})
	t.Run("context ends before the first tick", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		done := make(chan struct{})
		go func() {
			ReconcileEvery(ctx, time.Hour, time.Second, func() (*Runner, func(), error) {
				t.Error("a pass ran")
				return nil, nil, errors.New("unused")
			}, zap.NewNop())
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ReconcileEvery did not stop")
		}
	})
}

// A pass never starts while an event's own transition holds the pending
// mark (waiting for the lock or running): the event goes first. Once the
// mark is dropped, the pass acts.
func TestReconcileYieldsToPendingTransition(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	enqueue(g, EventBackup)
	p, err := g.r.State.MarkPending()
	if err != nil {
		t.Fatal(err)
	}
	if !g.r.State.TransitionPending() {
		t.Fatal("TransitionPending = false with the mark held")
	}
	if rec, acted, err := g.r.Reconcile(context.Background()); acted || err != nil || len(rec.Steps) != 0 {
		t.Errorf("Reconcile with a transition pending = %+v, %v, %v; want nothing done", rec, acted, err)
	}
	if n := g.local.n("ReplicaOf"); n != 0 {
		t.Errorf("REPLICAOF sent %d times while a transition was pending", n)
	}
	p.Done()
	if g.r.State.TransitionPending() {
		t.Fatal("TransitionPending = true after Done")
	}
	if _, acted, err := g.r.Reconcile(context.Background()); !acted || err != nil {
		t.Errorf("Reconcile after the mark dropped = %v, %v; want it to act", acted, err)
	}
}

// An event arriving in the middle of a pass (here while the pass reads the
// peer) cancels the pass before its first step; nothing is journaled.
func TestReconcileCancelledWhenEventArrives(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	enqueue(g, EventBackup)
	var p *Pending
	g.peer.on("Facts", 1, func() {
		var err error
		if p, err = g.r.State.MarkPending(); err != nil {
			t.Error(err)
		}
		// Let the pass notice before it goes on (bounded).
		deadline := time.Now().Add(5 * time.Second)
		for !g.r.State.TransitionPending() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	})
	rec, acted, err := g.r.Reconcile(context.Background())
	if p != nil {
		defer p.Done()
	}
	if acted || err != nil || len(rec.Steps) != 0 {
		t.Errorf("Reconcile = %+v, %v, %v; want a pass that yielded before any step", rec, acted, err)
	}
	if n := g.local.n("ReplicaOf"); n != 0 {
		t.Errorf("REPLICAOF sent %d times by a pass that should have yielded", n)
	}
	if got := len(g.journal()); got != 0 {
		t.Errorf("journal has %d lines, want 0", got)
	}
}

// A transition is not starved by passes run back to back (the run-mode
// bug: each pass took the lock as soon as the last one freed it, and the
// router's master transition, polling for the lock, lost every race).
func TestTransitionNotStarvedByReconcile(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	enqueue(g, EventBackup)
	// Every pass holds the lock a while, as one reading a hung peer does.
	g.peer.on("Facts", 0, func() { time.Sleep(30 * time.Millisecond) })
	g.r.Opts.Poll = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			_, _, _ = g.r.Reconcile(ctx)
		}
	}()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	rec, err := g.r.Run(rctx, EventMaster, "test")
	cancel()
	<-stopped
	if err != nil || rec.Outcome != OutcomeOK {
		t.Errorf("Run beside back-to-back passes = %s, %v; want ok", rec.Outcome, err)
	}
}

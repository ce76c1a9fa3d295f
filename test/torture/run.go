package torture

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options are a run's knobs (flags.go maps the command line onto them).
type Options struct {
	Mode   string // hooks or fifo
	Faults int    // faults per schedule
	// Bound is the stated convergence bound (I2) after the last fault is healed.
	Bound time.Duration
	// CheckInterval is keepalived's vrrp_script interval in the model.
	CheckInterval time.Duration
	SeedKeys      int
	// Verbose prints each schedule's timeline even when it passes.
	Verbose bool
}

// violation is one broken invariant with its evidence.
type violation struct {
	Invariant string // I1..I4
	Class     string
	Detail    string
	Evidence  []string
}

// outcome is one schedule's result.
type outcome struct {
	Schedule   schedule
	Violations []violation
	Timeline   []string
	Took       time.Duration
}

// run is one schedule in progress.
type run struct {
	o     Options
	sched schedule
	c     *cluster
	ka    *keepalived
	mon   *monitor
	inj   *injector
	rnd   *lockedRand
	start time.Time

	writers []*numberedWriter
	vio     []violation
}

func (r *run) violate(inv, class, detail string, evidence ...string) {
	r.vio = append(r.vio, violation{Invariant: inv, Class: class, Detail: detail, Evidence: evidence})
}

// runSchedule runs one seed's schedule against bin and returns what broke.
// Every process and file it makes is gone when it returns.
func runSchedule(ctx context.Context, bin string, seed uint64, o Options) (out outcome, err error) {
	sched := drawSchedule(seed, o.Mode, o.Faults)
	out.Schedule = sched
	started := time.Now()
	defer func() { out.Took = time.Since(started) }()
	root, err := os.MkdirTemp("", fmt.Sprintf("torture-%d-", seed))
	if err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	defer os.RemoveAll(root)
	r := &run{o: o, sched: sched, rnd: newRand(seed ^ 0x5eed), start: started}
	// The VIP answers once keepalived runs; its accept loop reads the
	// model through this pointer, set when the model exists.
	var ka atomic.Pointer[keepalived]
	var hosts [2]string
	c, err := newCluster(bin, root, sched.Persistence, func() string {
		k := ka.Load()
		if k == nil {
			return ""
		}
		if h := k.vipHolder(); h >= 0 {
			return hosts[h]
		}
		return ""
	})
	if err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	r.c = c
	hosts = [2]string{c.hosts[0].redis.addr(), c.hosts[1].redis.addr()}
	defer c.stopAll()
	if err := c.bootstrap(o.SeedKeys); err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	r.mon = newMonitor([]*redisServer{c.hosts[0].redis, c.hosts[1].redis}, 100*time.Millisecond)
	goRun(&wg, func() { r.mon.run(ctx) })

	n, closeN, err := r.newNotifier(ctx)
	if err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	defer closeN()
	timing := vrrpTiming{Advert: time.Second, Fall: 2, Rise: 2}
	r.ka = newKeepalived(c, n, timing, o.CheckInterval, func(int) { c.vip.dropAll() })
	ka.Store(r.ka)
	kaCtx, kaCancel := context.WithCancel(ctx)
	var kaWG sync.WaitGroup
	goRun(&kaWG, func() { r.ka.run(kaCtx) })
	defer func() {
		kaCancel()
		kaWG.Wait()
		n.wait()
	}()

	bg := &background{c: c, rnd: r.rnd}
	r.inj = &injector{c: c, ka: r.ka, mon: r.mon, bg: bg, rnd: r.rnd}
	if conv, took := r.waitConverged(ctx, o.Bound); !conv.OK {
		r.violate("I2", "initial pair never converged", fmt.Sprintf("healthy pair not converged after %s", took.Round(time.Second)), conv.Problems...)
		r.finish(&out, n)
		return out, nil
	}
	r.faultPhase(ctx, bg)
	conv, took := r.waitConverged(ctx, o.Bound)
	r.timeline("converged=%v after %s (bound %s)", conv.OK, took.Round(100*time.Millisecond), o.Bound)
	if !conv.OK {
		r.violate("I2", "no convergence", fmt.Sprintf("not converged %s after the last fault was healed (bound %s)", took.Round(time.Second), o.Bound), conv.Problems...)
	}
	r.checkI1(conv)
	r.checkI3()
	r.checkI4()
	r.finish(&out, n)
	return out, nil
}

// faultPhase runs the writers and the load while the faults are applied,
// then heals anything left and stops the writers 2 s later.
func (r *run) faultPhase(ctx context.Context, bg *background) {
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	r.writers = []*numberedWriter{
		newNumberedWriter("vip", "vip:", 20*time.Millisecond, vipDial(r.c)),
		newNumberedWriter("local-A", "loc:", 20*time.Millisecond, directDial(r.c, 0)),
	}
	for _, w := range r.writers {
		goRun(&wg, func() { w.run(wctx) })
	}
	goRun(&wg, func() { bg.run(wctx) })
	sleepCtx(ctx, 1500*time.Millisecond)
	r.inj.snapshot()
	for _, f := range r.sched.Faults {
		sleepCtx(ctx, f.Gap)
		if ctx.Err() != nil {
			break
		}
		r.inj.apply(ctx, f)
	}
	for _, note := range r.inj.ensureUp(ctx) {
		r.timeline("heal: %s", note)
	}
	sleepCtx(ctx, 2*time.Second)
	wcancel()
	wg.Wait()
}

func goRun(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}

func (r *run) newNotifier(ctx context.Context) (notifier, func(), error) {
	if r.o.Mode == "fifo" {
		n, err := newFIFONotifier(r.c, vrrpName, r.sched.Hooks, r.rnd)
		if err != nil {
			return nil, nil, err
		}
		return n, n.close, nil
	}
	return &hookNotifier{c: r.c, faults: r.sched.Hooks, rnd: r.rnd, bound: 30 * time.Second}, func() {}, nil
}

func (r *run) timeline(format string, args ...any) {
	r.inj.mu.Lock()
	defer r.inj.mu.Unlock()
	r.inj.notes = append(r.inj.notes, tlEntry{at: time.Now(), s: fmt.Sprintf(format, args...)})
}

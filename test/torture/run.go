package torture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
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
	// Catalogue is the fault catalogue the seeds draw from (0: the latest).
	Catalogue int
	// Keep leaves the schedule's directory (logs, journals, data) in place
	// and prints where.
	Keep bool
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
	// Classes are the partition classes the schedule ran, as applied (the
	// targets resolved), for the run's counts.
	Classes []string
	// W3Lost and W3Latest: the W3 writes lost (every pair), and the latest
	// sent after its fault began of those a link fault opened (noteW3).
	W3Lost   int
	W3Latest time.Duration
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
	wit     *witnessProc
	// w3Lost and w3Latest: I1's count of W3 writes lost, and the latest
	// sent after its fault began of those a link fault opened (noteW3).
	w3Lost   int
	w3Latest time.Duration
	notifier notifier
	bg       *background
	kaPtr    atomic.Pointer[keepalived]
	final    convergence
	// reportsShared: this pair reports findings about files every
	// instance on a host shares (the first pair does).
	reportsShared bool
}

func (r *run) violate(inv, class, detail string, evidence ...string) {
	r.vio = append(r.vio, violation{Invariant: inv, Class: class, Detail: detail, Evidence: evidence})
}

// runSchedule runs one seed's schedule against bin and returns what broke.
// Every process and file it makes is gone when it returns.
func runSchedule(ctx context.Context, bin string, seed uint64, o Options) (out outcome, err error) {
	cat := o.Catalogue
	if cat == 0 {
		cat = catalogueLatest
	}
	sched := drawSchedule(seed, o.Mode, o.Faults, cat)
	out.Schedule = sched
	started := time.Now()
	defer func() { out.Took = time.Since(started) }()
	root, err := os.MkdirTemp("", fmt.Sprintf("torture-%d-", seed))
	if err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	if o.Keep {
		fmt.Printf("schedule %d: files kept in %s\n", seed, root)
	} else {
		defer os.RemoveAll(root)
	}
	var files [2]*hostFiles
	for i, name := range []string{"A", "B"} {
		if files[i], err = newHostFiles(root, name); err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
	}
	specs := singlePair
	if sched.Instances > 1 {
		specs = multiPairs
	}
	rnd := newRand(seed ^ 0x5eed)
	var pairs []*run
	var clusters []*cluster
	var wit *witnessProc
	defer func() {
		for _, c := range clusters {
			c.stopAll()
		}
		if wit != nil {
			wit.stop(syscall.SIGKILL)
		}
	}()
	if sched.Fence.Witness {
		if wit, err = newWitnessProc(bin, root, sched.Fence.After); err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
	}
	nw := &network{}
	for _, spec := range specs {
		r, err := newRun(bin, root, files, spec, sched, o, rnd, started, nw, wit)
		if err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
		r.reportsShared = len(pairs) == 0
		pairs = append(pairs, r)
		clusters = append(clusters, r.c)
	}
	if err := writeConfigs(files, clusters); err != nil {
		return out, fmt.Errorf("schedule %d: %w", seed, err)
	}
	for _, r := range pairs {
		if err := r.c.bootstrap(o.SeedKeys); err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
	}
	if wit != nil {
		// Started before the nodes' keepers, so its grace is over soon
		// after the pair has converged.
		if err := wit.start(); err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	var fifo *fifoNotifier
	if o.Mode == "fifo" {
		if fifo, err = newFIFONotifier(bin, files, sched.Hooks, rnd); err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
		defer fifo.close()
	} else {
		// The per-event hooks come with the reconcile service (S12).
		rec, err := startReconcilers(bin, files)
		if err != nil {
			return out, fmt.Errorf("schedule %d: %w", seed, err)
		}
		defer rec.close()
	}
	kaCtx, kaCancel := context.WithCancel(ctx)
	var kaWG sync.WaitGroup
	defer func() {
		kaCancel()
		kaWG.Wait()
		for _, r := range pairs {
			r.notifier.wait()
		}
	}()
	for _, r := range pairs {
		r.launch(ctx, kaCtx, &wg, &kaWG, fifo)
	}
	var watchers [2]*backupWatcher
	for i, f := range files {
		watchers[i] = newBackupWatcher(f.backupDir, f.heldDir)
		goRun(&wg, func() { watchers[i].run(ctx) })
	}
	if !all(pairs, func(r *run) bool { return r.initiallyConverged(ctx) }) {
		return merge(out, pairs), nil
	}
	if wit != nil {
		// Faults start once the master holds the lease (bounded: a pair
		// whose master never gets it shows that in its timeline).
		each(pairs, func(r *run) { r.waitLease(ctx, wit, 20*time.Second) })
	}
	faultPhase(ctx, pairs, sched, fifo, wit)
	each(pairs, func(r *run) { r.converge(ctx) })
	for _, r := range pairs {
		r.checkI1(r.final)
		r.checkI3()
		r.checkI4()
	}
	checkRetention(pairs, watchers, filepath.Join(root, "scratch-retention"))
	return merge(out, pairs), nil
}

// newRun creates one pair; its VIP answers once its keepalived model runs.
// The VIP's clients reach the VRRP holder, unless it is isolated and the
// other router is MASTER too: its gratuitous ARPs reached the clients, the
// isolated one's did not.
func newRun(bin, root string, files [2]*hostFiles, spec pairSpec, sched schedule, o Options, rnd *lockedRand, started time.Time, nw *network, wit *witnessProc) (*run, error) {
	r := &run{o: o, sched: sched, rnd: rnd, start: started, wit: wit}
	var hosts [2]string
	c, err := newCluster(bin, root, files, spec, sched.Persistence, sched.Fence, nw, wit, func() string {
		k := r.kaPtr.Load()
		if k == nil {
			return ""
		}
		h := k.vipHolder()
		if h >= 0 && nw.isIsolated(h) && k.states()[1-h] == stMaster {
			h = 1 - h
		}
		if h >= 0 {
			return hosts[h]
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	r.c = c
	hosts = [2]string{c.hosts[0].redis.addr(), c.hosts[1].redis.addr()}
	return r, nil
}

// launch runs the pair's monitor, keepalived model and notifier.
func (r *run) launch(ctx, kaCtx context.Context, wg, kaWG *sync.WaitGroup, fifo *fifoNotifier) {
	r.mon = newMonitor([]*redisServer{r.c.hosts[0].redis, r.c.hosts[1].redis}, 100*time.Millisecond)
	goRun(wg, func() { r.mon.run(ctx) })
	if fifo != nil {
		r.notifier = pairFIFO{f: fifo, vrrp: r.c.spec.VRRP}
	} else {
		r.notifier = &hookNotifier{c: r.c, faults: r.sched.Hooks, rnd: r.rnd, bound: 30 * time.Second}
	}
	timing := vrrpTiming{Advert: time.Second, Fall: 2, Rise: 2}
	r.ka = newKeepalived(r.c, r.notifier, timing, r.o.CheckInterval, func(int) { r.c.vip.dropAll() })
	r.kaPtr.Store(r.ka)
	goRun(kaWG, func() { r.ka.run(kaCtx) })
	r.bg = &background{c: r.c, rnd: r.rnd}
	r.inj = &injector{c: r.c, ka: r.ka, mon: r.mon, bg: r.bg, rnd: r.rnd}
}

func (r *run) initiallyConverged(ctx context.Context) bool {
	conv, took := r.waitConverged(ctx, r.o.Bound)
	if !conv.OK {
		r.violate("I2", "initial pair never converged", fmt.Sprintf("healthy pair not converged after %s", took.Round(time.Second)), conv.Problems...)
	}
	return conv.OK
}

// converge waits for I2 within the bound after the last fault was healed.
func (r *run) converge(ctx context.Context) {
	conv, took := r.waitConverged(ctx, r.o.Bound)
	r.timeline("converged=%v after %s (bound %s)", conv.OK, took.Round(100*time.Millisecond), r.o.Bound)
	if !conv.OK {
		r.violate("I2", "no convergence", fmt.Sprintf("not converged %s after the last fault was healed (bound %s)", took.Round(time.Second), r.o.Bound), conv.Problems...)
	}
	r.final = conv
}

// faultPhase runs every pair's writers and load while the faults are
// applied, then heals anything left and stops the writers 2 s later. The
// writers: one through the VIP, and one on each host writing to that
// host's Redis directly (an application on the host: in a partition, the
// split-brain source).
func faultPhase(ctx context.Context, pairs []*run, sched schedule, fifo *fifoNotifier, wit *witnessProc) {
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range pairs {
		r.writers = []*numberedWriter{
			newNumberedWriter("vip", r.c.spec.Prefix+"vip:", 20*time.Millisecond, vipDial(r.c)),
			newNumberedWriter("local-A", r.c.spec.Prefix+"loc:", 20*time.Millisecond, directDial(r.c, 0)),
			newNumberedWriter("local-B", r.c.spec.Prefix+"locB:", 20*time.Millisecond, directDial(r.c, 1)),
		}
		for _, w := range r.writers {
			goRun(&wg, func() { w.run(wctx) })
		}
		goRun(&wg, func() { r.bg.run(wctx) })
	}
	sleepCtx(ctx, 1500*time.Millisecond)
	for _, r := range pairs {
		r.inj.snapshot()
	}
	for _, f := range sched.Faults {
		sleepCtx(ctx, f.Gap)
		if ctx.Err() != nil {
			break
		}
		switch f.Kind {
		case fReplCut, fPartition, fSplit, fIsolate, fWitnessCut, fWitnessKill:
			if wit == nil && (f.Kind == fWitnessCut || f.Kind == fWitnessKill || f.With != "") {
				continue // drawn for a witness this schedule does not run
			}
			linkFault(ctx, pairs, f, wit)
			continue
		case fKeepalived:
			applyKeepalivedRestart(ctx, pairs, f, fifo)
			continue
		}
		pairs[f.Pair%len(pairs)].inj.apply(ctx, f)
	}
	for _, r := range pairs {
		for _, note := range r.inj.ensureUp(ctx) {
			r.timeline("heal: %s", note)
		}
	}
	sleepCtx(ctx, 2*time.Second)
	wcancel()
	wg.Wait()
}

// applyKeepalivedRestart stops keepalived on one host for every instance
// (one keepalived runs them all): notify-stop fires, and in FIFO mode the
// notify-fifo process is terminated as keepalived does on exit; then it
// starts again (INIT, BACKUP, a new notify-fifo).
func applyKeepalivedRestart(ctx context.Context, pairs []*run, f fault, fifo *fifoNotifier) {
	i := pairs[0].inj.resolve(f.Target)
	start := time.Now()
	for _, r := range pairs {
		r.ka.stopRouter(ctx, i)
	}
	note := "notify-stop"
	if fifo != nil {
		sleepCtx(ctx, 200*time.Millisecond) // let the STOP line be read
		if err := fifo.readers[i].restartAfter(fifo.bin, f.Dur, syscall.SIGTERM); err != nil {
			note += "; " + err.Error()
		}
	} else {
		sleepCtx(ctx, f.Dur)
	}
	for _, r := range pairs {
		r.ka.startRouter(i)
	}
	for _, r := range pairs {
		r.inj.record(event{Kind: fKeepalived, Host: i, Start: start, End: time.Now(), Note: note})
	}
}

func all(pairs []*run, f func(*run) bool) bool {
	ok := true
	for _, r := range pairs {
		ok = f(r) && ok
	}
	return ok
}

// each runs f for every pair concurrently (their bounds run side by side).
func each(pairs []*run, f func(*run)) {
	var wg sync.WaitGroup
	for _, r := range pairs {
		goRun(&wg, func() { f(r) })
	}
	wg.Wait()
}

// merge folds the pairs' results into out.
func merge(out outcome, pairs []*run) outcome {
	for _, r := range pairs {
		var o outcome
		r.finish(&o, r.notifier)
		for _, v := range o.Violations {
			if len(pairs) > 1 {
				v.Class = r.c.spec.Inst + ": " + v.Class
			}
			out.Violations = append(out.Violations, v)
		}
		if len(pairs) > 1 {
			out.Timeline = append(out.Timeline, "== instance "+r.c.spec.Inst)
		}
		out.Timeline = append(out.Timeline, o.Timeline...)
		out.W3Lost += r.w3Lost
		out.W3Latest = max(out.W3Latest, r.w3Latest)
	}
	if len(pairs) > 0 && pairs[0].inj != nil {
		for _, e := range pairs[0].inj.eventLog() {
			if c := e.class(); c != "" {
				out.Classes = append(out.Classes, "fencing="+pairs[0].sched.Fence.String()+" "+c)
			}
		}
	}
	return out
}

func goRun(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}

func (r *run) timeline(format string, args ...any) {
	r.inj.mu.Lock()
	defer r.inj.mu.Unlock()
	r.inj.notes = append(r.inj.notes, tlEntry{at: time.Now(), s: fmt.Sprintf(format, args...)})
}

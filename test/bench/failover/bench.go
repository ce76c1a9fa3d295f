package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// bench runs the trials and collects the rows.
type bench struct {
	env  *env
	runs int
	// faults says which faults run (-faults); the others are no columns.
	// kill -9 runs for failback too (the preferred master must go first).
	faults  [numFaults]bool
	hang    time.Duration
	recover time.Duration
	// clientTimeout bounds each of the client's dials and commands.
	clientTimeout time.Duration
	started       time.Time
	stderr        io.Writer
}

func numCPU() int { return runtime.NumCPU() }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench-failover [%s] %s\n", time.Since(b.started).Round(time.Second), fmt.Sprintf(format, args...))
}

// keyRecord is one trial's list: what was acknowledged, and how many of
// those writes the final master still held at the last look.
type keyRecord struct {
	key     string
	acked   []int64
	present int   // acknowledged writes present at the last look
	llen    int64 // list length at the last look
}

// setupRun is the state of one setup's runs.
type setupRun struct {
	s    setup
	r    *row
	keys []*keyRecord
	// settledAt is when the pair was last seen settled (for settleStable)
	// with settledMaster as master.
	settledAt     time.Time
	settledMaster string
}

// ready waits until the pair is settled with a master want accepts. Right
// after a wait that ended settled, one look that finds the same master
// suffices (the state was just seen stable); otherwise it waits for a
// stable settled state, bounded by timeout.
func (sr *setupRun) ready(ctx context.Context, timeout time.Duration, want func(string) bool) (string, error) {
	if time.Since(sr.settledAt) < 3*time.Second {
		if m, ok, _ := sr.s.settled(ctx); ok && m == sr.settledMaster && (want == nil || want(m)) {
			return m, nil
		}
	}
	m, err := waitSettled(ctx, sr.s, timeout, want)
	if err == nil {
		sr.mark(m)
	}
	return m, err
}

func (sr *setupRun) mark(m string) { sr.settledAt, sr.settledMaster = time.Now(), m }

// maxRebuilds bounds how often a broken lab is rebuilt within one setup.
const maxRebuilds = 2

// runSetup builds the setup's lab, runs every fault b.runs times, and
// removes the lab.
func (b *bench) runSetup(ctx context.Context, s setup) row {
	r := &row{id: s.id(), name: s.name()}
	sr := &setupRun{s: s, r: r}
	defer s.close()
	b.logf("%s: building the lab", s.name())
	if err := s.up(ctx); err != nil {
		r.notes = append(r.notes, fmt.Sprintf("lab did not come up: %v", err))
		b.logf("%s: lab did not come up: %v", s.name(), err)
		return *r
	}
	r.knobs = s.knobs()
	r.na[faultFailback] = s.noFailback()
	for f := fault(0); f < numFaults; f++ {
		if !b.faults[f] {
			r.na[f] = notRun
		}
	}
	if b.faults[faultPlanned] {
		r.notes = append(r.notes, "planned move: "+s.plannedHow())
	}
	rebuilds := 0
	for i := 1; i <= b.runs && ctx.Err() == nil; i++ {
		err := b.round(ctx, sr, i)
		if err == nil || ctx.Err() != nil {
			continue
		}
		b.logf("%s run %d: %v", s.name(), i, err)
		r.notes = append(r.notes, fmt.Sprintf("run %d: %v", i, err))
		if rebuilds >= maxRebuilds {
			r.notes = append(r.notes, "gave up after rebuilding the lab twice")
			break
		}
		rebuilds++
		b.logf("%s: rebuilding the lab", s.name())
		s.close()
		sr.keys = nil
		if err := s.up(ctx); err != nil {
			r.notes = append(r.notes, fmt.Sprintf("lab did not come up again: %v", err))
			break
		}
	}
	return *r
}

// round runs each fault once: kill -9, failback (or a plain restart),
// SIGSTOP, planned move, leaving out those -faults does not name (kill -9
// runs for failback too). Faults act on whichever host is master then. An
// error means the lab is in a state the next fault cannot start from.
func (b *bench) round(ctx context.Context, sr *setupRun, i int) error {
	if b.faults[faultKill] || b.faults[faultFailback] {
		if err := b.killRound(ctx, sr, i); err != nil {
			return err
		}
	}
	if b.faults[faultHang] {
		if err := b.hangRound(ctx, sr, i); err != nil {
			return err
		}
	}
	if b.faults[faultPlanned] {
		return b.plannedRound(ctx, sr, i)
	}
	return nil
}

// killRound: kill -9 of the master's Redis, then failback where the setup
// preempts (or a plain restart).
func (b *bench) killRound(ctx context.Context, sr *setupRun, i int) error {
	s := sr.s
	pref := s.preferred()
	var want func(string) bool
	if pref != "" {
		want = func(m string) bool { return m == pref }
	}
	m, err := sr.ready(ctx, 90*time.Second, want)
	if err != nil && pref != "" && ctx.Err() == nil {
		m, err = sr.ready(ctx, 30*time.Second, nil)
	}
	if err != nil {
		return fmt.Errorf("before kill -9: %w", err)
	}
	if err := b.trial(ctx, sr, faultKill, i, func() error { return s.kill(m) },
		func(x string) bool { return x == peerOf(m) }); err != nil {
		return err
	}
	// The killed Redis returns: failback where the setup preempts,
	// otherwise it rejoins as a replica (not a column: its losses, if any,
	// count for kill -9).
	if pref != "" && m == pref && b.faults[faultFailback] {
		if err := b.trial(ctx, sr, faultFailback, i, func() error { return s.restart(ctx, m) },
			func(x string) bool { return x == m }); err != nil {
			return err
		}
	} else {
		if err := s.restart(ctx, m); err != nil {
			return fmt.Errorf("restart %s's Redis: %w", m, err)
		}
		if err := b.checkpoint(ctx, sr, faultKill, 90*time.Second); err != nil {
			return fmt.Errorf("after %s's Redis returned: %w", m, err)
		}
	}
	return nil
}

// hangRound: SIGSTOP of the master's Redis for b.hang, then SIGCONT.
func (b *bench) hangRound(ctx context.Context, sr *setupRun, i int) error {
	s, pref := sr.s, sr.s.preferred()
	m, err := sr.ready(ctx, 90*time.Second, nil)
	if err != nil {
		return fmt.Errorf("before SIGSTOP: %w", err)
	}
	// Where the setup preempts and the hung node is the preferred one, it
	// takes the role back once it answers again: wait for that too.
	var wantHang func(string) bool
	if hung := m; pref != "" && hung == pref {
		wantHang = func(x string) bool { return x == hung }
	}
	if err := b.trial(ctx, sr, faultHang, i, func() error {
		if err := s.hang(m); err != nil {
			return err
		}
		sleepCtx(ctx, b.hang)
		return s.resume(m)
	}, wantHang); err != nil {
		return err
	}
	return nil
}

// plannedRound: a planned move of the master role, then the setup's undo.
func (b *bench) plannedRound(ctx context.Context, sr *setupRun, i int) error {
	s := sr.s
	m, err := sr.ready(ctx, 90*time.Second, nil)
	if err != nil {
		return fmt.Errorf("before the planned move: %w", err)
	}
	expect := ""
	if err := b.trial(ctx, sr, faultPlanned, i, func() error {
		var err error
		expect, err = s.planned(ctx, m)
		return err
	}, func(x string) bool { return expect == "" || x == expect }); err != nil {
		return err
	}
	if err := s.afterPlanned(ctx, m); err != nil {
		return fmt.Errorf("after the planned move: %w", err)
	}
	if err := b.checkpoint(ctx, sr, faultPlanned, 120*time.Second); err != nil {
		return fmt.Errorf("after the planned move's undo: %w", err)
	}
	return nil
}

// trial runs one fault under a writer: it waits until writes flow, acts,
// waits (bounded by b.recover) until the pair settles with a master want
// accepts, lets writes flow a little longer, stops the writer and records
// the sample. It returns an error only when the lab cannot go on.
func (b *bench) trial(ctx context.Context, sr *setupRun, f fault, i int, act func() error, want func(string) bool) error {
	s := sr.s
	key := fmt.Sprintf("bench:%s:%s:%d", s.id(), faultID[f], i)
	w, err := startWriter(b.env.writer, b.env.dir, s.target(), key, 5*time.Minute, b.clientTimeout)
	if err != nil {
		return err
	}
	defer w.kill()
	if err := pollUntil(ctx, 20*time.Second, func() bool { return w.ackCount() >= 300 }); err != nil {
		return fmt.Errorf("%s: the client could not write before the fault (%d acks in 20 s)", faultID[f], w.ackCount())
	}
	t0 := time.Now()
	actErr := act()
	m, settleErr := "", error(nil)
	bound := b.recover
	if rb, ok := s.(recoverBounder); ok {
		bound = min(bound, rb.recoverBound())
	}
	if actErr == nil {
		m, settleErr = waitSettled(ctx, s, bound, want)
		if settleErr == nil {
			sr.mark(m)
			// Writes flow again: show it for a moment (bounded).
			n := w.ackCount()
			_ = pollUntil(ctx, 5*time.Second, func() bool { return w.ackCount() >= n+300 })
		}
	}
	res, werr := w.stop()
	switch {
	case actErr != nil:
		return fmt.Errorf("%s: %w", faultID[f], actErr)
	case werr != nil:
		return fmt.Errorf("%s: %w", faultID[f], werr)
	}
	if ctx.Err() != nil {
		// Stopped early (signal, -max): this fault was not seen through.
		return ctx.Err()
	}
	gap, began := longestGapFrom(res.log, t0)
	smp := sample{gap: gap, lost: res.report.Lost, unsettled: settleErr != nil}
	msg := fmt.Sprintf("%s run %d, %s: longest gap %s (from %+.2f s), %d acknowledged writes lost",
		s.name(), i, faultID[f], fmtDur(gap), began.Sub(t0).Seconds(), res.report.Lost)
	if settleErr != nil {
		sr.r.notes = append(sr.r.notes, fmt.Sprintf("run %d, %s: %v (figures count until the writer stopped)", i, faultID[f], settleErr))
		msg += " (" + settleErr.Error() + ")"
	}
	if res.report.VerifyError != "" {
		sr.r.notes = append(sr.r.notes, fmt.Sprintf("run %d, %s: writer's read-back: %s", i, faultID[f], res.report.VerifyError))
	}
	b.logf("%s", msg)
	sr.r.samples[f] = append(sr.r.samples[f], smp)
	if settleErr != nil {
		// Put the lab back together, by hand where the setup has a way,
		// so that the next fault starts from a settled pair.
		if rp, ok := s.(repairer); ok && ctx.Err() == nil {
			did, err := rp.repair(ctx)
			if err == nil {
				sr.r.notes = append(sr.r.notes, fmt.Sprintf("run %d, %s: repaired by hand: %s", i, faultID[f], did))
				b.logf("%s run %d, %s: repaired by hand: %s", s.name(), i, faultID[f], did)
				m, err = waitSettled(ctx, s, 60*time.Second, nil)
				if err == nil {
					sr.mark(m)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w; repair: %v", faultID[f], settleErr, err)
			}
		} else {
			return fmt.Errorf("%s: %w", faultID[f], settleErr)
		}
	}
	// Earlier trials' writes this fault's recovery removed count for it.
	if lost, err := b.earlierLost(sr, m); err == nil && lost > 0 {
		sr.r.samples[f][len(sr.r.samples[f])-1].lost += lost
		sr.r.earlier[f] += lost
		b.logf("%s run %d, %s: %d acknowledged writes of earlier trials are gone", s.name(), i, faultID[f], lost)
	}
	ns, addr := s.redis(m)
	llen, _ := listLen(ns, addr, key)
	sr.keys = append(sr.keys, &keyRecord{key: key, acked: ackedNumbers(res.log), present: res.report.Acked - res.report.Lost, llen: llen})
	return nil
}

// checkpoint waits for the pair to settle after a step outside a trial and
// charges any earlier trial's writes it removed to fault f.
func (b *bench) checkpoint(ctx context.Context, sr *setupRun, f fault, timeout time.Duration) error {
	m, err := waitSettled(ctx, sr.s, timeout, nil)
	if err != nil {
		return err
	}
	sr.mark(m)
	if lost, err := b.earlierLost(sr, m); err == nil && lost > 0 {
		if n := len(sr.r.samples[f]); n > 0 {
			sr.r.samples[f][n-1].lost += lost
		}
		sr.r.earlier[f] += lost
		b.logf("%s, after %s: %d acknowledged writes of earlier trials are gone", sr.s.name(), faultID[f], lost)
	}
	return nil
}

// earlierLost checks every earlier trial's list on the master: a list that
// got shorter lost writes; those are counted exactly (LRANGE against the
// acknowledged numbers) and returned.
func (b *bench) earlierLost(sr *setupRun, master string) (int, error) {
	if len(sr.keys) == 0 {
		return 0, nil
	}
	ns, addr := sr.s.redis(master)
	keys := make([]string, len(sr.keys))
	for i, k := range sr.keys {
		keys[i] = k.key
	}
	script := "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('LLEN', k) end return r"
	v, err := redisDo(ns, addr, 3*time.Second, append([]string{"EVAL", script, strconv.Itoa(len(keys))}, keys...)...)
	if err != nil {
		return 0, err
	}
	lens, _ := v.([]any)
	if len(lens) != len(keys) {
		return 0, errors.New("EVAL LLEN: short reply")
	}
	total := 0
	for i, k := range sr.keys {
		n, _ := lens[i].(int64)
		if n >= k.llen {
			k.llen = n
			continue
		}
		present, err := listNumbers(ns, addr, k.key)
		if err != nil {
			return total, err
		}
		have := make(map[int64]bool, len(present))
		for _, x := range present {
			have[x] = true
		}
		now := 0
		for _, a := range k.acked {
			if have[a] {
				now++
			}
		}
		if now < k.present {
			total += k.present - now
		}
		k.present, k.llen = now, n
	}
	return total, nil
}

func listLen(ns, addr, key string) (int64, error) {
	v, err := redisDo(ns, addr, 2*time.Second, "LLEN", key)
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return n, nil
}

func listNumbers(ns, addr, key string) ([]int64, error) {
	v, err := redisDo(ns, addr, 10*time.Second, "LRANGE", key, "0", "-1")
	if err != nil {
		return nil, err
	}
	items, _ := v.([]any)
	out := make([]int64, 0, len(items))
	for _, it := range items {
		s, _ := it.(string)
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// pollUntil polls cond every 50 ms for at most timeout.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return nil
}

package torture

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/fence"
)

// linkFault applies a fault that cuts the link between the hosts (repl-cut,
// partition, split, isolate) or the witness (witness-cut, witness-kill) to
// every pair at once: they share the machines, the network and the witness.
// It heals the fault before returning and records one event per pair, with
// that pair's master and witness lease holder when it began, and one more
// for a witness fault the partition carried.
func linkFault(ctx context.Context, pairs []*run, f fault, w *witnessProc) {
	nw := pairs[0].c.net
	waited := ""
	if f.Kind == fIsolate && f.Mode == isolateAfterRenewal && w != nil {
		waited = pairs[0].awaitRenewal(ctx, w)
	}
	m := pairs[0].inj.resolve("master")
	evs := make([]event, len(pairs))
	for i, r := range pairs {
		evs[i] = event{Kind: f.Kind, Host: -1, Master: r.inj.resolve("master"), LeaseHolder: -1, With: f.With, Mode: f.Mode, Note: f.Mode}
		if r.c.fence.Witness && w != nil {
			evs[i].LeaseHolder, evs[i].LeaseLeft, evs[i].Note = r.leaseNow(w, f.Mode)
		}
	}
	var witnessEv *event
	heard := [2]bool{true, true}
	var apply func(n *network)
	switch f.Kind {
	case fReplCut, fPartition:
		if f.Mode == "blackhole" {
			apply = func(n *network) { n.link = [2]bool{true, true} }
		} else {
			for _, r := range pairs {
				r.inj.cut(true, false)
			}
		}
		if f.Kind == fPartition {
			heard = [2]bool{false, false}
		}
	case fSplit:
		var link [2]bool
		switch f.Mode {
		case "master-out":
			link[m] = true
		case "master-in":
			link[1-m] = true
		default:
			link = [2]bool{true, true}
		}
		apply = func(n *network) { n.link = link }
		heard = [2]bool{!link[0], !link[1]}
	case fIsolate:
		h := pairs[0].inj.resolve(f.Target)
		for i := range evs {
			evs[i].Host = h
		}
		apply = func(n *network) { n.isolated[h] = true }
		heard = [2]bool{false, false}
	case fWitnessCut:
		hosts := []int{0, 1}
		switch f.Target {
		case "master":
			hosts = []int{m}
		case "replica":
			hosts = []int{1 - m}
		}
		for i := range evs {
			if len(hosts) == 1 {
				evs[i].Host = hosts[0]
			}
		}
		apply = func(n *network) {
			for _, h := range hosts {
				n.witness[h] = true
			}
		}
	}
	// A witness fault carried by the partition.
	switch f.With {
	case witnessCutMaster, witnessCutReplica:
		h := m
		if f.With == witnessCutReplica {
			h = 1 - m
		}
		witnessEv = &event{Kind: fWitnessCut, Host: h, Master: m, With: f.With, Note: "with the " + string(f.Kind)}
		prev := apply
		apply = func(n *network) {
			if prev != nil {
				prev(n)
			}
			n.witness[h] = true
		}
	case witnessKill:
		witnessEv = &event{Kind: fWitnessKill, Host: -1, Master: m, With: f.With, Note: "with the " + string(f.Kind)}
	}
	if f.Kind == fWitnessKill || f.With == witnessKill {
		w.stop(syscall.SIGKILL)
	}
	if apply != nil {
		nw.set(apply)
	}
	if f.Kind.isLink() {
		for _, r := range pairs {
			r.ka.setHeard(heard)
		}
	}
	// The start is read after the paths changed: the cut is at or before
	// it (check_i1.go's fence window counts from it).
	start := time.Now()
	state := nw.String()
	sleepCtx(ctx, f.Dur)
	if f.Kind == fReplCut || f.Kind == fPartition {
		for _, r := range pairs {
			r.inj.cut(false, false)
		}
	}
	nw.heal()
	for _, r := range pairs {
		r.ka.setLinked(true)
	}
	restarted := ""
	if f.Kind == fWitnessKill || f.With == witnessKill {
		restarted = "; witness started again"
		if err := w.start(); err != nil {
			restarted = "; witness NOT started again: " + err.Error()
		}
	}
	end := time.Now()
	for i, r := range pairs {
		e := evs[i]
		e.Start, e.End = start, end
		if state != "" {
			e.Note += "; " + state
		}
		if waited != "" {
			e.Note += "; " + waited
		}
		e.Note += restarted
		r.inj.record(e)
		if witnessEv != nil {
			we := *witnessEv
			we.Start, we.End = start, end
			r.inj.record(we)
		}
	}
}

// leaseNow is who holds the pair's witness lease now, as the suite asks the
// witness itself, and mode with that said.
func (r *run) leaseNow(w *witnessProc, mode string) (int, time.Duration, string) {
	holder, left, err := w.status(r.c.spec.Inst)
	note := mode
	if note != "" {
		note += "; "
	}
	switch {
	case err != nil:
		return -1, 0, note + "lease: " + err.Error()
	case holder == "":
		return -1, 0, note + "lease free"
	}
	for i, h := range r.c.hosts {
		if h.reach.addr() == holder {
			return i, left, note + fmt.Sprintf("lease held by %s for %s", h.name, left.Round(10*time.Millisecond))
		}
	}
	return -1, left, note + "lease held by " + holder
}

// awaitRenewal watches the pair's lease at the witness (every 20 ms, at
// most 3 s) until its holder has just renewed it: at least the lease the
// nodes ask for, less 200 ms, left. It says what it saw.
func (r *run) awaitRenewal(ctx context.Context, w *witnessProc) string {
	want := fence.LeaseDuration(r.sched.Fence.After) - 200*time.Millisecond
	start := time.Now()
	for time.Since(start) < 3*time.Second && ctx.Err() == nil {
		if holder, left, err := w.status(r.c.spec.Inst); err == nil && holder != "" && left >= want {
			return fmt.Sprintf("cut %s after the witness saw a renewal (%s left)", time.Since(start).Round(10*time.Millisecond), left.Round(10*time.Millisecond))
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	return "no renewal seen within 3s"
}

// waitLease waits (bounded) until the pair's master holds the witness
// lease, so the faults begin from a pair that keeps it.
func (r *run) waitLease(ctx context.Context, w *witnessProc, bound time.Duration) {
	start := time.Now()
	for time.Since(start) < bound && ctx.Err() == nil {
		m := r.inj.resolve("master")
		if h, _, _ := r.leaseNow(w, ""); h == m {
			r.timeline("witness lease held by the master %s after %s", r.c.hosts[m].name, time.Since(start).Round(100*time.Millisecond))
			return
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	r.timeline("witness lease NOT held by the master within %s", bound)
}

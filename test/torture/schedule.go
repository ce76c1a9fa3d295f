package torture

import (
	"fmt"
	"strings"
	"time"
)

// faultKind names an entry of the fault catalogue.
type faultKind string

// The fault catalogue.
const (
	// fKill: kill -9 a Redis, keep it down, restart it (guard first) keeping
	// its files, with its files lost, or from an older snapshot copy.
	fKill faultKind = "kill9"
	// fRestart: SHUTDOWN (saving when persistence is on), guard, start.
	fRestart faultKind = "restart"
	// fStall: SIGSTOP, then SIGCONT.
	fStall faultKind = "stall"
	// fReplCut: cut the link proxies (Redis traffic between the hosts);
	// keepalived's adverts still flow.
	fReplCut faultKind = "repl-cut"
	// fPartition: cut the link proxies and the adverts: both routers MASTER.
	fPartition faultKind = "partition"
	// fPassword: CONFIG SET requirepass on one server only.
	fPassword faultKind = "password"
	// fBusy: a long EVAL with busy-reply-threshold 100 ms: -BUSY to everyone.
	fBusy faultKind = "busy"
	// fMaxclients: fill the server's maxclients with idle connections.
	fMaxclients faultKind = "maxclients"
	// fEvict: maxmemory (volatile-lru) on both and large TTL values: eviction.
	fEvict faultKind = "evict"
	// fWritable: replica-read-only no on host A (the local writer's server).
	fWritable faultKind = "writable-replica"
	// fKeepalived: keepalived stops on one host (notify-stop; in FIFO mode
	// its notify-fifo is terminated too) and starts again.
	fKeepalived faultKind = "keepalived-restart"
)

// fault is one drawn fault: what, on whom, how, for how long, after what pause.
type fault struct {
	Kind   faultKind
	Pair   int    // which instance (several instances in one config file)
	Target string // "master", "replica", "A" or "B"
	Mode   string // kill9: keep, lost, old; cuts: refuse, blackhole
	Dur    time.Duration
	Gap    time.Duration
}

func (f fault) String() string {
	target := f.Target
	if f.Pair > 0 {
		target = fmt.Sprintf("#%d:%s", f.Pair, f.Target)
	}
	s := fmt.Sprintf("+%s %s(%s", f.Gap.Round(100*time.Millisecond), f.Kind, target)
	if f.Mode != "" {
		s += "," + f.Mode
	}
	return s + fmt.Sprintf(",%s)", f.Dur.Round(100*time.Millisecond))
}

// schedule is everything one seed decides.
type schedule struct {
	Seed        uint64
	Mode        string
	Instances   int
	Persistence Persistence
	Hooks       hookFaults
	Faults      []fault
}

func (s schedule) String() string {
	fs := make([]string, len(s.Faults))
	for i, f := range s.Faults {
		fs[i] = f.String()
	}
	inst := ""
	if s.Instances > 1 {
		inst = fmt.Sprintf(" instances=%d(one config file, shared dirs)", s.Instances)
	}
	return fmt.Sprintf("seed=%d mode=%s%s persistence=%s hooks[%s] faults: %s", s.Seed, s.Mode, inst, s.Persistence, s.Hooks, strings.Join(fs, " "))
}

// kindWeights is the catalogue's mix.
func kindWeights() []struct {
	k faultKind
	w int
} {
	return []struct {
		k faultKind
		w int
	}{
		{fKill, 4}, {fRestart, 1}, {fStall, 2}, {fReplCut, 1}, {fPartition, 2},
		{fPassword, 1}, {fBusy, 1}, {fMaxclients, 1}, {fEvict, 1}, {fWritable, 1},
	}
}

// drawSchedule draws a schedule from seed: the same seed, the same schedule.
func drawSchedule(seed uint64, mode string, nFaults int) schedule {
	r := newRand(seed)
	s := schedule{Seed: seed, Mode: mode}
	switch p := r.float(); {
	case p < 0.2:
		s.Persistence = PersistNone
	case p < 0.6:
		s.Persistence = PersistRDB
	default:
		s.Persistence = PersistAOF
	}
	if r.float() < 0.7 {
		s.Hooks = hookFaults{
			Delay: r.float() * 0.5, MaxDelay: r.dur(500*time.Millisecond, 4*time.Second),
			Dup: r.float() * 0.3, Drop: r.float() * 0.15, Kill: r.float() * 0.15,
		}
	}
	weights := kindWeights()
	total := 0
	for _, w := range weights {
		total += w.w
	}
	for i := 0; i < nFaults; i++ {
		pick := r.intn(total)
		var k faultKind
		for _, w := range weights {
			if pick < w.w {
				k = w.k
				break
			}
			pick -= w.w
		}
		s.Faults = append(s.Faults, drawFault(r, k))
	}
	// The topology has its own stream, so it leaves the draws above as they were.
	topo := newRand(seed ^ 0x70b0)
	s.Instances = 1
	if topo.float() < 0.25 {
		s.Instances = 2
		for i := range s.Faults {
			if p := topo.intn(2); s.Faults[i].Target != "link" {
				s.Faults[i].Pair = p
			}
		}
	}
	// Faults added to the catalogue later are drawn from their own stream
	// too, inserted among the others: older seeds keep their schedules.
	extra := newRand(seed ^ 0xe47a)
	if extra.float() < 0.25 {
		f := drawFault(extra, fKeepalived)
		at := extra.intn(len(s.Faults) + 1)
		s.Faults = append(s.Faults[:at], append([]fault{f}, s.Faults[at:]...)...)
	}
	return s
}

func drawFault(r *lockedRand, k faultKind) fault {
	f := fault{Kind: k, Gap: r.dur(time.Second, 4*time.Second)}
	targets := []string{"master", "master", "replica", "A", "B"}
	f.Target = targets[r.intn(len(targets))]
	switch k {
	case fKill:
		f.Mode = []string{"keep", "keep", "lost", "old"}[r.intn(4)]
		f.Dur = r.dur(500*time.Millisecond, 6*time.Second)
	case fRestart:
		f.Dur = r.dur(0, 2*time.Second)
	case fStall:
		f.Dur = r.dur(500*time.Millisecond, 8*time.Second)
	case fReplCut, fPartition:
		f.Target = "link"
		f.Mode = []string{"refuse", "blackhole"}[r.intn(2)]
		f.Dur = r.dur(time.Second, 8*time.Second)
	case fPassword:
		f.Dur = r.dur(2*time.Second, 6*time.Second)
	case fBusy:
		f.Dur = r.dur(time.Second, 4*time.Second)
	case fMaxclients:
		f.Dur = r.dur(time.Second, 5*time.Second)
	case fEvict:
		f.Target = "both"
		f.Dur = r.dur(2*time.Second, 6*time.Second)
	case fWritable:
		f.Target = "A"
		f.Dur = r.dur(2*time.Second, 6*time.Second)
	case fKeepalived:
		f.Dur = r.dur(500*time.Millisecond, 5*time.Second)
	}
	return f
}

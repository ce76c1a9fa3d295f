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

	// Partition faults (issue 10; partition.go). Blackholes: silence, no
	// reset, nothing refused (proxy.go), so the nodes see their peer
	// unknown, never dead.
	//
	// fSplit: the link between the hosts blackholed, Mode "both" ways,
	// "master-out" (the master's bytes towards the replica dropped) or
	// "master-in" (the replica's towards the master); VRRP adverts follow
	// the bytes. The VIP's clients and each host's own writer reach both.
	fSplit faultKind = "split"
	// fIsolate: one host cut off from everything: its peer (both ways,
	// adverts too), the VIP's clients, the witness. The writer on the host
	// itself still reaches its Redis: the split-brain source. Mode
	// isolateAfterRenewal: it begins right after a renewal of the lease.
	fIsolate faultKind = "isolate"
	// fWitnessCut: one host's path to the witness blackholed ("both": the
	// witness isolated from the pair).
	fWitnessCut faultKind = "witness-cut"
	// fWitnessKill: the witness SIGKILLed, down for Dur, started again
	// (its restart grace, --max-lease, follows).
	fWitnessKill faultKind = "witness-kill"
)

// isLink says whether a fault cuts the link between the hosts (a node's
// peer unreachable from it): the faults whose split-brain writes are W3.
func (k faultKind) isLink() bool {
	return k == fReplCut || k == fPartition || k == fSplit || k == fIsolate
}

// fencing is a schedule's partition-safety configuration: fence_after (0
// off) and whether a witness runs.
type fencing struct {
	After   time.Duration
	Witness bool
}

func (f fencing) String() string {
	switch {
	case f.After == 0:
		return "off"
	case f.Witness:
		return fmt.Sprintf("fence_after=%s+witness", f.After)
	}
	return fmt.Sprintf("fence_after=%s", f.After)
}

// The catalogues: a regression replays the schedule its seed drew when it
// was found.
const (
	// catalogueV1: the faults before issue 10 (no partition faults, no
	// fencing).
	catalogueV1 = 1
	// catalogueV2 adds the fencing configurations and the partition faults.
	catalogueV2 = 2
	// catalogueLatest is what new runs draw.
	catalogueLatest = catalogueV2
)

// fault is one drawn fault: what, on whom, how, for how long, after what pause.
type fault struct {
	Kind   faultKind
	Pair   int    // which instance (several instances in one config file)
	Target string // "master", "replica", "A" or "B"
	Mode   string // kill9: keep, lost, old; cuts: refuse, blackhole; split: both, master-out, master-in
	Dur    time.Duration
	Gap    time.Duration
	// With is a witness fault applied for the partition's whole length:
	// witnessCutMaster, witnessCutReplica or witnessKill ("" none).
	With string
}

// The witness faults a partition can carry.
const (
	witnessCutMaster  = "witness-cut(master)"
	witnessCutReplica = "witness-cut(replica)"
	witnessKill       = "witness-kill"
)

func (f fault) String() string {
	target := f.Target
	if f.Pair > 0 {
		target = fmt.Sprintf("#%d:%s", f.Pair, f.Target)
	}
	s := fmt.Sprintf("+%s %s(%s", f.Gap.Round(100*time.Millisecond), f.Kind, target)
	if f.Mode != "" {
		s += "," + f.Mode
	}
	if f.With != "" {
		s += ",+" + f.With
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
	Fence       fencing
	Catalogue   int
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
	cat := ""
	if s.Catalogue != catalogueLatest {
		cat = fmt.Sprintf(" catalogue=v%d", s.Catalogue)
	}
	return fmt.Sprintf("seed=%d mode=%s%s%s persistence=%s fencing=%s hooks[%s] faults: %s", s.Seed, s.Mode, cat, inst, s.Persistence, s.Fence, s.Hooks, strings.Join(fs, " "))
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

// drawSchedule draws a schedule from seed: the same seed and catalogue,
// the same schedule.
func drawSchedule(seed uint64, mode string, nFaults, catalogue int) schedule {
	r := newRand(seed)
	s := schedule{Seed: seed, Mode: mode, Catalogue: catalogue}
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
		s.insert(extra, f)
	}
	if catalogue >= catalogueV2 {
		s.drawPartitions()
	}
	return s
}

// insert puts f at a random place among the faults.
func (s *schedule) insert(r *lockedRand, f fault) {
	at := r.intn(len(s.Faults) + 1)
	s.Faults = append(s.Faults[:at], append([]fault{f}, s.Faults[at:]...)...)
}

// drawPartitions draws the fencing configuration (a third each: off,
// fence_after 3 s, fence_after 3 s with a witness) and the partition
// faults, from streams of their own: split or isolation, at most two, and
// with a witness, witness faults alone or carried by a partition.
func (s *schedule) drawPartitions() {
	fr := newRand(s.Seed ^ 0xfe4ce)
	switch fr.intn(3) {
	case 1:
		s.Fence = fencing{After: 3 * time.Second}
	case 2:
		s.Fence = fencing{After: 3 * time.Second, Witness: true}
	}
	pr := newRand(s.Seed ^ 0x9a27)
	n := 0
	if pr.float() < 0.65 {
		n++
		if pr.float() < 0.25 {
			n++
		}
	}
	for range n {
		k := fSplit
		if pr.float() < 0.5 {
			k = fIsolate
		}
		f := drawFault(pr, k)
		with := []string{"", "", "", witnessCutMaster, witnessCutReplica, witnessKill}[pr.intn(6)]
		if k == fIsolate {
			with = []string{"", "", witnessKill}[pr.intn(3)]
		}
		if s.Fence.Witness {
			f.With = with
		}
		s.insert(pr, f)
	}
	if pr.float() < 0.3 {
		f := drawFault(pr, []faultKind{fWitnessCut, fWitnessKill}[pr.intn(2)])
		if s.Fence.Witness {
			s.insert(pr, f)
		}
	}
	// With a witness, half the isolations begin just after the pair's
	// lease was renewed (their own stream: the draws above stay as they
	// were): the moment a holder's view of the lease is longest.
	tr := newRand(s.Seed ^ 0x7e4e)
	for i := range s.Faults {
		if s.Faults[i].Kind == fIsolate && s.Fence.Witness && tr.float() < 0.5 {
			s.Faults[i].Mode = isolateAfterRenewal
		}
	}
}

// isolateAfterRenewal is the isolation that begins as soon as the suite
// sees the lease renewed at the witness.
const isolateAfterRenewal = "after-renewal"

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
	case fSplit:
		f.Target = "link"
		f.Mode = []string{"both", "both", "master-out", "master-in"}[r.intn(4)]
		f.Dur = r.dur(3*time.Second, 12*time.Second)
	case fIsolate:
		f.Target = []string{"master", "master", "replica", "A", "B"}[r.intn(5)]
		f.Dur = r.dur(3*time.Second, 12*time.Second)
	case fWitnessCut:
		f.Target = []string{"master", "replica", "both"}[r.intn(3)]
		f.Dur = r.dur(2*time.Second, 8*time.Second)
	case fWitnessKill:
		f.Target = "witness"
		f.Dur = r.dur(time.Second, 6*time.Second)
	}
	return f
}

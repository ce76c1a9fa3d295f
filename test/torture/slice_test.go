package torture

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/internal/testtier"
)

// sliceCase is one fixed schedule: a seed, its mode, its fault count and
// the catalogue it draws from (0: the latest).
type sliceCase struct {
	seed      uint64
	mode      string
	faults    int
	catalogue int
	what      string
}

// slice is what `make test` runs besides the regressions below: two fixed
// seeds of catalogue v1, one per mode, between them RDB and AOF, kills
// keeping files and restoring an older snapshot, a stall, a replication
// cut, a clean restart and hook faults; and three of catalogue v2 (one
// fault drawn, the partitions added to it) for the partition faults and
// the witness: an isolated master with fencing alone, a split both ways
// where the master keeps the witness lease (W3 must be empty), a split one
// way with the witness killed. `make torture DURATION=30m START=2000` ran
// seeds 2000-2059 with 0 violations at this tree before issue 10.
var slice = []sliceCase{
	{seed: 13, mode: "fifo", faults: 3, catalogue: catalogueV1, what: "RDB; kill -9 of A kept files, replication cut (refused), clean restart of A; hook faults"},
	{seed: 18, mode: "hooks", faults: 3, catalogue: catalogueV1, what: "AOF; stall of the master, kill -9 of the master twice restarting from an older snapshot; clean hooks"},
	{seed: 39, mode: "fifo", faults: 1, what: "fence_after 3s, no witness; clean restart of the master, then the master isolated 7.3 s: its keeper closes the fence, the replica promotes fenced (writes wait fence_after + margin); W3 ends within fence_after"},
	{seed: 182, mode: "hooks", faults: 1, what: "fence_after 3s with the witness; writable replica, then the link blackholed both ways 9.3 s while the master holds the lease: the replica waits for the lease (wait-lease), the master writes on; W3 must be empty"},
	{seed: 49, mode: "fifo", faults: 1, what: "fence_after 3s with the witness; the link blackholed one way (replica to master) with the witness SIGKILLed for its length, then maxclients on A: the master closes its fence, no promotion on unknown evidence, the witness's restart grace after"},
}

// TestTortureSlice runs the fixed slice (make test). Each schedule takes
// 20-70 s (the three partition seeds 25-30 s each); the convergence bound
// is 40 s after the last fault is healed.
//
// The schedules run two at a time (go test's -parallel, GOMAXPROCS by
// default): each has its own servers, ports, directories and loopback
// addresses, and the invariants are judged on each one's own record.
func TestTortureSlice(t *testing.T) {
	testtier.RequireEndToEnd(t) // about a minute per seed
	for _, c := range slice {
		t.Run(fmt.Sprintf("seed%d", c.seed), func(t *testing.T) {
			t.Parallel()
			runCases(t, []sliceCase{c})
		})
	}
}

// regression is a failing seed found by the suite, kept as a named test.
type regression struct {
	name string
	sliceCase
	// skip is why it is skipped until the fix lands ("" runs it).
	skip string
}

// regressions are seeds that found violations, one per class, each with
// the binary it failed against. Replays draw the same schedule but not the
// same timing, so "intermittent" ones fail in some runs only. A skipped one
// runs with -args -torture.regressions.
var regressions = []regression{
	{name: "GuardBacksUpAOFManifest", sliceCase: sliceCase{seed: 12, mode: "hooks", faults: 3, catalogue: catalogueV1,
		what: "f536084: AOF, kill -9 of the replica restarted from an older snapshot: guard's backup is the 88-byte manifest, which does not load (I3); fixed by 1f25028"}},
	{name: "BusyPeerPromotedAlone", sliceCase: sliceCase{seed: 5, mode: "fifo", faults: 3, catalogue: catalogueV1,
		what: "f536084: -BUSY master read as unreachable, the replica promoted alone: 106 writes of the old master lost outside W1-W3 (I1, S9); passes at c2f893a"}},
	{name: "SplitBrainWritesFlushedWithoutBackup", sliceCase: sliceCase{seed: 103, mode: "fifo", faults: 3, catalogue: catalogueV1,
		what: "c2f893a: partition; after the heal the side the VIP moved to runs sync-then-promote from the old master and flushes its W3 writes with no backup (I3)"}},
	{name: "SplitBrainWritesFlushedWithoutBackup2", sliceCase: sliceCase{seed: 209, mode: "fifo", faults: 3, catalogue: catalogueV1,
		what: "c2f8c82: password on the master, partition: after the heal B runs sync-then-promote from A and flushes 781 keys of its own history, no backup (I3)"}},
	{name: "LostNotifyMasterLeavesVIPOnReplica", sliceCase: sliceCase{seed: 204, mode: "hooks", faults: 3, catalogue: catalogueV1,
		what: "c2f8c82: two instances; at start A's notify-backup hands the master role to B while VRRP makes A MASTER and its notify-master is lost: the VIP stays on a replica, check passes there (I2)"}},
	{name: "ZombieMasterNeverDemotedInHooksMode", sliceCase: sliceCase{seed: 22, mode: "hooks", faults: 3, catalogue: catalogueV1,
		what: "c2f893a: stalled master's notify-fault fails, the peer promotes; after SIGCONT two masters that nothing repairs (I2)"}},
	{name: "ZombieMasterPassesCheck", sliceCase: sliceCase{seed: 100, mode: "hooks", faults: 3, catalogue: catalogueV1,
		what: "c2f893a: after a stall both masters of diverged data pass check twice in a row (I4)"}},
	{name: "WritableReplicaAcksLost", sliceCase: sliceCase{seed: 11, mode: "fifo", faults: 3, catalogue: catalogueV1,
		what: "c2f893a: replica-read-only no on A while a replica: 264 writes it acknowledged are lost at its next sync (I1)"}},
	{name: "IsolatedLeaseHolderKeepsWriting", sliceCase: sliceCase{seed: 171, mode: "fifo", faults: 1, catalogue: catalogueV2,
		what: "cc98afb: fence_after 3s with the witness; master B isolated from everything 0.5 s after a renewal of its lease (the suite waits for one): B's keeper keeps the fence open 4.3 s, until that grant's end less the margin, and the 198 writes B's own writer got acknowledged meanwhile are lost (into a backup) when A takes the lease and promotes, 53 of them sent later than fence_after + 250 ms after the isolation began (I1). Seed 96 (hooks, 3 faults) hit it without aiming, about one isolation in four. Fixed: a renewal counts only when sent after the first failed read of the peer"}},
	{name: "ReplicaReadAfterItsMasterPromoted", sliceCase: sliceCase{seed: 5004, mode: "hooks", faults: 3,
		what: "503fad8: fence_after 3s with the witness; the link cut one way (replica to master) while the master A holds the lease; at the heal A's reconcile reads A, then its reconnecting replica B a moment later with a higher offset on A's own history, judges A behind it and promotes B (promote-peer-then-sync): the 6 writes A acknowledged meanwhile go to a backup, with W3 required empty (I1). 2 runs of 2. Fixed: a replica on its master's current replid holds nothing the master lacks (node.Unskew)"}},
	{name: "GuardPromotedPeerOverruledByReconcile", sliceCase: sliceCase{seed: 4014, mode: "hooks", faults: 3, catalogue: catalogueV2,
		what: "2665bf2: AOF; clean restart of the master B: B's guard finds its file without replication history, promotes its replica A and starts B as A's replica; before B has synced, B's reconcile --loop judges the two histories diverged and promotes B (promote-alone: keep local data), A backs up and follows B, and the 61-101 writes A acknowledged as master in between are lost outside W1-W3 (I1). 3 of 3 runs. Fixed: a replica not linked since it started, holding data no history records, is behind its live master (node.AwaitsFirstSync)"}},
}

func TestTortureRegressions(t *testing.T) {
	testtier.RequireEndToEnd(t) // about a minute per seed
	for _, r := range regressions {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel() // two at a time, as the slice
			if r.skip != "" && !*flags.regressions {
				t.Skipf("seed %d (%s): %s; skipped: %s (run with -args -torture.regressions)", r.seed, r.mode, r.what, r.skip)
			}
			runCases(t, []sliceCase{r.sliceCase})
		})
	}
}

func runCases(t *testing.T, cases []sliceCase) {
	redistest.Require(t)
	bin := binary(t)
	total, bad := 0, 0
	for _, c := range cases {
		o := defaultOptions(c.mode)
		o.Faults, o.Catalogue = c.faults, c.catalogue
		out, err := runSchedule(context.Background(), bin, c.seed, o)
		if err != nil {
			t.Fatalf("seed %d: harness error: %v", c.seed, err)
		}
		total++
		bad += len(out.Violations)
		if len(out.Violations) > 0 {
			t.Errorf("seed %d (%s, %s):\n%s", c.seed, c.mode, c.what, out.report(false))
		} else {
			t.Logf("seed %d (%s): 0 violations in %s", c.seed, c.mode, out.Took.Round(1e9))
		}
	}
	fmt.Printf("%d schedules, %d violations\n", total, bad)
}

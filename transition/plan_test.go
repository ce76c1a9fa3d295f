package transition_test

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Addresses and histories shared by the plan tests.
const (
	planLocal = "192.0.2.1:6379"
	planPeer  = "192.0.2.2:6379"
	planOther = "192.0.2.3:6379"
	histA     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	histB     = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	histC     = "cccccccccccccccccccccccccccccccccccccccc"
)

var (
	v72 = node.Version{Major: 7, Minor: 2, Patch: 4}
	v60 = node.Version{Major: 6, Minor: 0, Patch: 16}
	v62 = node.Version{Major: 6, Minor: 2, Patch: 0}
	v50 = node.Version{Major: 5, Minor: 0, Patch: 14}
)

// pMaster is a master at addr with the given history, offset and key count.
func pMaster(addr, replid string, off, keys int64) node.Facts {
	return node.Facts{Addr: addr, ServerName: "redis", Version: v72, RunID: "run-" + addr, Role: node.RoleMaster,
		ReplID: replid, ReplOffset: off, Keys: keys, MasterLinkDownSecs: -1, ConfigFile: "/etc/redis/redis.conf"}
}

// pReplica is a replica at addr of the server at of.
func pReplica(addr, of string, linkUp bool, replid string, off, keys int64) node.Facts {
	f := pMaster(addr, replid, off, keys)
	f.Role = node.RoleReplica
	host, port, err := net.SplitHostPort(of)
	if err != nil {
		panic(err)
	}
	f.MasterHost = host
	f.MasterPort, _ = strconv.Atoi(port)
	f.MasterLinkUp = linkUp
	if !linkUp {
		f.MasterLinkDownSecs = 5
	}
	return f
}

// pFirstSync is a replica of the server at of that has not been linked
// since it started, holding keys no history records (guard started it from
// an AOF so: offset 0, a fresh replid, no replid2).
func pFirstSync(addr, of string, keys int64) node.Facts {
	f := pReplica(addr, of, false, histC, 0, keys)
	f.MasterLinkDownSecs = -1
	return f
}

func pVersion(f node.Facts, v node.Version) node.Facts {
	f.Version = v
	return f
}

func pLoading(f node.Facts) node.Facts {
	f.Loading = true
	return f
}

func pp(f node.Facts) *node.Facts { return &f }

type planCase struct {
	name     string
	in       transition.Input
	decision string
	steps    []transition.Step
	refused  bool
	wait     bool
	relation string
	// reason is a phrase the Reason must contain.
	reason string
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.LocalAnnounce.IsZero() {
				in.LocalAnnounce = node.MustParseAddr(planLocal)
			}
			if in.PeerAddr.IsZero() {
				in.PeerAddr = node.MustParseAddr(planPeer)
			}
			if in.Handover == "" {
				in.Handover = transition.HandoverAuto
			}
			got := transition.Decide(in)
			if got.Decision != tc.decision {
				t.Errorf("decision = %q, want %q (reason %q)", got.Decision, tc.decision, got.Reason)
			}
			if !slices.Equal(got.Steps, tc.steps) {
				t.Errorf("steps = %v, want %v", got.Steps, tc.steps)
			}
			if got.Refused != tc.refused {
				t.Errorf("refused = %v, want %v", got.Refused, tc.refused)
			}
			if got.Wait != tc.wait {
				t.Errorf("wait = %v, want %v", got.Wait, tc.wait)
			}
			if got.Relation != tc.relation {
				t.Errorf("relation = %q, want %q", got.Relation, tc.relation)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tc.reason)
			}
		})
	}
}

const (
	sFollow   = transition.StepFollowPeer
	sWait     = transition.StepWaitInSync
	sFailover = transition.StepFailover
	sPause    = transition.StepPauseHandover
	sPromote  = transition.StepPromote
	sBackup   = transition.StepBackup
	sKill     = transition.StepKillClients
	sRewrite  = transition.StepRewrite
	sPauseL   = transition.StepPauseLocalWrites
)

func steps(s ...transition.Step) []transition.Step { return s }

func TestDecideMaster(t *testing.T) {
	ev := transition.EventMaster
	fresher := pMaster(planPeer, histA, 2000, 100)
	cases := []planCase{
		{
			name:     "peer unreachable, local replica: promote at once",
			in:       transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50)},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), reason: "unreachable",
		},
		{
			name:     "peer unreachable, local master: keep it",
			in:       transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50)},
			decision: "keep-master", steps: nil, reason: "already master",
		},
		{
			name:     "peer unreachable, local empty replica: still promote (S3)",
			in:       transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 0, 0)},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), reason: "unreachable",
		},
		{
			name: "peer empty master, local replica with data: promote without syncing",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "ahead", reason: "peer is empty",
		},
		{
			name: "local started to follow the live master, not synced yet, data without history: sync, then take over (seed 4014)",
			in: transition.Input{Event: ev, Local: pFirstSync(planLocal, planPeer, 1300),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "local without history follows an empty master: never copy it (S1)",
			in: transition.Input{Event: ev, Local: pFirstSync(planLocal, planPeer, 1300),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "ahead", reason: "peer is empty",
		},
		{
			name: "local without history, linked once since it started: still diverged",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histC, 0, 1300),
				Peer: pp(fresher)},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "diverged", reason: "diverged",
		},
		{
			name: "peer empty master, local master with data: keep it",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "keep-master", relation: "ahead", reason: "peer is empty",
		},
		{
			name: "peer older master (same replid, lower offset): promote without syncing",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histA, 900, 40))},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "ahead", reason: "peer is older",
		},
		{
			name: "peer fresher live master, local stale master, both 7.2: follow, sync, pause handover (auto)",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, both 7.2, handover=failover: FAILOVER",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(fresher), Handover: transition.HandoverFailover},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sFailover, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, both exactly 6.2, handover=failover: FAILOVER",
			in: transition.Input{Event: ev, Local: pVersion(pMaster(planLocal, histA, 1000, 50), v62),
				Peer: pp(pVersion(fresher, v62)), Handover: transition.HandoverFailover},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sFailover, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, local 6.0: pause handover",
			in: transition.Input{Event: ev, Local: pVersion(pMaster(planLocal, histA, 1000, 50), v60),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, peer 5.0: pause handover",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pVersion(fresher, v50))},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, both 7.2 but handover=pause: pause handover",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(fresher), Handover: transition.HandoverPause},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, handover=failover falls back to the pause handover on 6.0 (no FAILOVER there)",
			in: transition.Input{Event: ev, Local: pVersion(pMaster(planLocal, histA, 1000, 50), v60),
				Peer: pp(fresher), Handover: transition.HandoverFailover},
			decision: "sync-then-promote", steps: steps(sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, local already replicates it: no follow-peer step",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, true, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, local replicates it with link down: no follow-peer step",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher live master, local replicates someone else: follow-peer first",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planOther, true, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer fresher by continued history (peer replid2 = local replid)",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(func() node.Facts {
					f := pMaster(planPeer, histB, 1500, 60)
					f.ReplID2, f.SecondReplOffset = histA, 1001
					return f
				}())},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "local empty, peer live master with data: sync first",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histC, 0, 0),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name: "peer same and a live master, local in-sync replica",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, true, histA, 2000, 100),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sWait, sPause, sRewrite), relation: "same", reason: "S2",
		},
		{
			name: "peer same and a live master, local also master",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 2000, 100),
				Peer: pp(fresher)},
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sPause, sRewrite), relation: "same", reason: "S2",
		},
		{
			name: "diverged histories, local replica: keep local data, promote",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 5000, 80))},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "diverged", reason: "diverged",
		},
		{
			name: "diverged histories, local master: keep it",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 5000, 80))},
			decision: "keep-master", relation: "diverged", reason: "diverged",
		},
		{
			name: "peer loading: wait",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(pLoading(pMaster(planPeer, histA, 0, 0)))},
			decision: "wait-peer-loading", wait: true, relation: "ahead", reason: "loading",
		},
		{
			name: "peer is our replica in sync, local master: keep master",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 2000, 100),
				Peer: pp(pReplica(planPeer, planLocal, true, histA, 2000, 100))},
			decision: "keep-master", relation: "same", reason: "replica",
		},
		{
			name: "peer is our replica read a moment after us (offset skew): keep master",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 2000, 100),
				Peer: pp(pReplica(planPeer, planLocal, true, histA, 2050, 101))},
			decision: "keep-master", relation: "same", reason: "replica",
		},
		{
			name: "local master restarted empty (a new replid), its replica, reconnecting, holds the data: promote it, copy, take over (S5)",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histB, 0, 0),
				Peer: pp(pReplica(planPeer, planLocal, false, histA, 52198, 905))},
			decision: "promote-peer-then-sync", steps: steps(transition.StepPromotePeer, sPauseL, sFollow, sWait, sPause, sRewrite), relation: "behind", reason: "S5",
		},
		{
			name: "our replica, reconnecting, read a moment after us (offset skew): keep master, never promote it (seed 5004)",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 49253, 900),
				Peer: pp(pReplica(planPeer, planLocal, false, histA, 52198, 905))},
			decision: "keep-master", relation: "same", reason: "replica",
		},
		{
			name: "peer is an older replica of someone else, local replica: promote",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planOther, false, histA, 2000, 100),
				Peer: pp(pReplica(planPeer, planOther, false, histA, 1000, 50))},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), relation: "ahead", reason: "replica",
		},
		{
			name: "peer a replica with data we lack: sync from it, then promote",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pReplica(planPeer, planOther, false, histA, 2000, 100))},
			decision: "sync-from-replica-then-promote", steps: steps(sPauseL, sFollow, sWait, sPromote, sRewrite), relation: "behind", reason: "data local lacks",
		},
		{
			name: "peer a replica with data we lack, local already follows it",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, true, histA, 1000, 50),
				Peer: pp(pReplica(planPeer, planOther, false, histA, 2000, 100))},
			decision: "sync-from-replica-then-promote", steps: steps(sWait, sPromote, sRewrite), relation: "behind", reason: "data local lacks",
		},
		{
			// Copying emptiness over emptiness loses nothing, and the
			// handover leaves the peer as our replica instead of a second
			// (empty) master nobody demotes.
			name: "both empty, peer master: sync (harmless) then hand over",
			in: transition.Input{Event: ev, Local: pReplica(planLocal, planPeer, true, histC, 0, 0),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "sync-then-promote", steps: steps(sWait, sPause, sRewrite), relation: "same", reason: "S2",
		},
		{
			name: "both empty, peer our replica: keep master",
			in: transition.Input{Event: ev, Local: pMaster(planLocal, histC, 0, 0),
				Peer: pp(pReplica(planPeer, planLocal, true, histC, 0, 0))},
			decision: "keep-master", relation: "same", reason: "replica",
		},
	}
	runPlanCases(t, cases)
}

// TestDecideMasterKeepsReplicaData: a local master that came back empty must
// not keep the master role silently while the peer (a replica of it whose link
// is down) holds the only copy of the data: once the link comes back the
// peer's Redis full-syncs from the empty master and is wiped (S5).
func TestDecideMasterKeepsReplicaData(t *testing.T) {
	in := transition.Input{
		Event: transition.EventMaster, LocalAnnounce: node.MustParseAddr(planLocal), PeerAddr: node.MustParseAddr(planPeer), Handover: transition.HandoverAuto,
		Local: pMaster(planLocal, histC, 0, 0),
		Peer:  pp(pReplica(planPeer, planLocal, false, histA, 5000, 1000)),
	}
	got := transition.Decide(in)
	if got.Decision == "keep-master" || got.Decision == "promote-alone" {
		t.Fatalf("plan %q %v (%s): want a refusal or a plan that copies the peer's data first", got.Decision, got.Steps, got.Reason)
	}
	if !got.Refused {
		w, p := slices.Index(got.Steps, sWait), slices.Index(got.Steps, sPromote)
		if w < 0 || (p >= 0 && p < w) {
			t.Fatalf("steps %v: want wait-in-sync before any promote", got.Steps)
		}
	}
}

func TestDecideFollow(t *testing.T) {
	older := pMaster(planPeer, histA, 900, 40)
	fresher := pMaster(planPeer, histA, 2000, 100)
	diverged := pMaster(planPeer, histB, 5000, 80)
	cases := []planCase{
		{
			name:     "peer unreachable: wait, no steps",
			in:       transition.Input{Local: pMaster(planLocal, histA, 1000, 50)},
			decision: "deferred", wait: true, reason: "unreachable",
		},
		{
			name: "peer not a master: wait",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pReplica(planPeer, planLocal, false, histA, 1000, 50))},
			decision: "wait-peer-master", wait: true, relation: "same", reason: "not a master",
		},
		{
			name: "peer not a master even with --force: wait",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50), Force: true,
				Peer: pp(pReplica(planPeer, planOther, true, histA, 3000, 50))},
			decision: "wait-peer-master", wait: true, relation: "behind", reason: "not a master",
		},
		{
			name: "peer loading: wait",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pLoading(pMaster(planPeer, histA, 0, 0)))},
			decision: "wait-peer-loading", wait: true, relation: "ahead", reason: "loading",
		},
		{
			name: "local started to follow the live master, not synced yet, data without history: already following (seed 4014)",
			in: transition.Input{Local: pFirstSync(planLocal, planPeer, 1300),
				Peer: pp(fresher)},
			decision: "already-following", relation: "behind",
		},
		{
			name: "peer empty, local has data: refuse, no steps (S1)",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "refuse", refused: true, relation: "ahead", reason: "empty",
		},
		{
			name: "peer empty, local replica of someone else with data: refuse (S1)",
			in: transition.Input{Local: pReplica(planLocal, planOther, false, histA, 1000, 50), FollowDiverged: true,
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "refuse", refused: true, relation: "ahead", reason: "S1",
		},
		{
			name: "peer older: refuse (S1)",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(older)},
			decision: "refuse", refused: true, relation: "ahead", reason: "older",
		},
		{
			name: "peer older with --force, local master: back up first, then follow",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50), Force: true,
				Peer: pp(older)},
			decision: "follow-forced", steps: steps(sPauseL, sBackup, sFollow, sKill, sRewrite), relation: "ahead", reason: "--force",
		},
		{
			name: "peer empty with --force, local replica: back up first, then follow",
			in: transition.Input{Local: pReplica(planLocal, planOther, false, histA, 1000, 50), Force: true,
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "follow-forced", steps: steps(sBackup, sFollow, sRewrite), relation: "ahead", reason: "empty",
		},
		{
			name: "peer promoted from an older position, no writes since: older, refuse",
			in: transition.Input{Local: pMaster(planLocal, histA, 1500, 50),
				Peer: pp(func() node.Facts {
					f := pMaster(planPeer, histB, 1000, 40)
					f.ReplID2, f.SecondReplOffset = histA, 1001
					return f
				}())},
			decision: "refuse", refused: true, relation: "ahead", reason: "older",
		},
		{
			name: "peer promoted from our position, no writes since: same, follow",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(func() node.Facts {
					f := pMaster(planPeer, histB, 1000, 50)
					f.ReplID2, f.SecondReplOffset = histA, 1001
					return f
				}())},
			decision: "follow", steps: steps(sPauseL, sFollow, sKill, sRewrite), relation: "same", reason: "at least as fresh",
		},
		{
			name: "diverged with on_diverged=backup-and-follow: backup before follow",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50), FollowDiverged: true,
				Peer: pp(diverged)},
			decision: "backup-and-follow", steps: steps(sPauseL, sBackup, sFollow, sKill, sRewrite), relation: "diverged", reason: "S6",
		},
		{
			name: "diverged with --force and on_diverged=refuse: backup before follow",
			in: transition.Input{Local: pReplica(planLocal, planOther, false, histA, 1000, 50), Force: true,
				Peer: pp(diverged)},
			decision: "backup-and-follow", steps: steps(sBackup, sFollow, sRewrite), relation: "diverged", reason: "S6",
		},
		{
			name: "diverged without backup-and-follow: refuse",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(diverged)},
			decision: "refuse", refused: true, relation: "diverged", reason: "diverged",
		},
		{
			name: "peer fresher, local master: follow, shed clients, rewrite last",
			in: transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "follow", steps: steps(sPauseL, sFollow, sKill, sRewrite), relation: "behind", reason: "at least as fresh",
		},
		{
			name: "peer fresher, local replica of someone else: follow, no kill",
			in: transition.Input{Local: pReplica(planLocal, planOther, true, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "follow", steps: steps(sFollow, sRewrite), relation: "behind", reason: "at least as fresh",
		},
		{
			name: "peer same, local master: follow",
			in: transition.Input{Local: pMaster(planLocal, histA, 2000, 100),
				Peer: pp(fresher)},
			decision: "follow", steps: steps(sPauseL, sFollow, sKill, sRewrite), relation: "same", reason: "at least as fresh",
		},
		{
			name: "local empty master, peer with data: follow",
			in: transition.Input{Local: pMaster(planLocal, histC, 0, 0),
				Peer: pp(fresher)},
			decision: "follow", steps: steps(sPauseL, sFollow, sKill, sRewrite), relation: "behind", reason: "at least as fresh",
		},
		{
			name: "local already in sync with the peer: no steps",
			in: transition.Input{Local: pReplica(planLocal, planPeer, true, histA, 2000, 100),
				Peer: pp(fresher)},
			decision: "already-following", relation: "same", reason: "in sync",
		},
		{
			name: "local in sync, read after the peer (offset skew): no steps, no detach",
			in: transition.Input{Local: pReplica(planLocal, planPeer, true, histA, 2100, 101),
				Peer: pp(fresher)},
			decision: "already-following", relation: "ahead", reason: "in sync",
		},
		{
			name: "local follows the peer, link not up yet, peer fresher: no steps",
			in: transition.Input{Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(fresher)},
			decision: "already-following", relation: "behind", reason: "link not up",
		},
		{
			name: "local replica of an empty peer, link down: detach (promote), refused",
			in: transition.Input{Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "detach", steps: steps(sPromote, sRewrite), refused: true, relation: "ahead", reason: "empty",
		},
		{
			// Detaching would make local a second master next to a live
			// one (the torture suite saw a guard that had just backed the
			// node up and started it as a replica undone this way): with
			// backup-and-follow, back up and let the sync go on.
			name: "local replica of a diverged peer, link down, backup-and-follow: back up while following",
			in: transition.Input{Local: pReplica(planLocal, planPeer, false, histA, 1000, 50), FollowDiverged: true,
				Peer: pp(diverged)},
			decision: "backup-while-following", steps: steps(sBackup), relation: "diverged", reason: "S6",
		},
		{
			name: "local replica of a diverged peer, link down, on_diverged refuse: detach",
			in: transition.Input{Local: pReplica(planLocal, planPeer, false, histA, 1000, 50),
				Peer: pp(diverged)},
			decision: "detach", steps: steps(sPromote, sRewrite), refused: true, relation: "diverged", reason: "S1",
		},
		{
			name: "local replica of an older peer, link down, --force: keep following",
			in: transition.Input{Local: pReplica(planLocal, planPeer, false, histA, 1000, 50), Force: true,
				Peer: pp(older)},
			decision: "already-following", relation: "ahead", reason: "link not up",
		},
		{
			name: "both empty: follow",
			in: transition.Input{Local: pMaster(planLocal, histC, 0, 0),
				Peer: pp(pMaster(planPeer, histB, 0, 0))},
			decision: "follow", steps: steps(sPauseL, sFollow, sKill, sRewrite), relation: "same", reason: "at least as fresh",
		},
	}
	for _, ev := range []transition.Event{transition.EventBackup, transition.EventFault} {
		t.Run(string(ev), func(t *testing.T) {
			evCases := slices.Clone(cases)
			for i := range evCases {
				evCases[i].in.Event = ev
			}
			runPlanCases(t, evCases)
		})
	}
}

func TestDecideStop(t *testing.T) {
	inputs := map[string]transition.Input{
		"peer unreachable":   {Local: pMaster(planLocal, histA, 1000, 50)},
		"peer fresher":       {Local: pMaster(planLocal, histA, 1000, 50), Peer: pp(pMaster(planPeer, histA, 2000, 100))},
		"peer empty, forced": {Local: pReplica(planLocal, planPeer, false, histA, 1000, 50), Peer: pp(pMaster(planPeer, histB, 0, 0)), Force: true},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			in.Event = transition.EventStop
			got := transition.Decide(in)
			if len(got.Steps) != 0 || got.Refused || got.Wait {
				t.Fatalf("stop plan = %+v, want no steps", got)
			}
			if got.Decision != "record" {
				t.Errorf("decision = %q, want record", got.Decision)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	for _, s := range []string{"master", "backup", "fault", "stop"} {
		ev, err := transition.ParseEvent(s)
		if err != nil || string(ev) != s {
			t.Errorf("ParseEvent(%q) = %q, %v", s, ev, err)
		}
	}
	for _, s := range []string{"", "MASTER", "slave", "master "} {
		if _, err := transition.ParseEvent(s); err == nil {
			t.Errorf("ParseEvent(%q): want an error", s)
		}
	}
}

// gridFacts builds every kind of node the property test pairs up.
func gridFacts(addr, other string) []node.Facts {
	var out []node.Facts
	// Local history A at offset 1000; the other side varies around it.
	for _, replid := range []string{histA, histB} {
		for _, off := range []int64{500, 1000, 1500} {
			for _, keys := range []int64{0, 10} {
				base := pMaster(addr, replid, off, keys)
				out = append(out,
					base,
					pReplica(addr, other, true, replid, off, keys),
					pReplica(addr, other, false, replid, off, keys),
					pReplica(addr, planOther, false, replid, off, keys),
				)
				syncing := pReplica(addr, other, false, replid, off, keys)
				syncing.MasterSyncInProgress = true
				out = append(out, syncing, pLoading(base))
			}
		}
	}
	// Continued history: this node switched from A to C at 1001.
	// Offset 1000 = promoted with no writes since: it stands at A:1000.
	for _, off := range []int64{1000, 1200, 2000} {
		c := pMaster(addr, histC, off, 10)
		c.ReplID2, c.SecondReplOffset = histA, 1001
		out = append(out, c)
	}
	return out
}

func hasStep(p transition.Plan, s transition.Step) bool { return slices.Contains(p.Steps, s) }

func idx(p transition.Plan, s transition.Step) int { return slices.Index(p.Steps, s) }

// TestDecideSafetyProperties checks the safety rules directly over a grid of
// Facts pairs and every option, rather than case by case.
func TestDecideSafetyProperties(t *testing.T) {
	locals := gridFacts(planLocal, planPeer)
	peers := append(gridFacts(planPeer, planLocal), node.Facts{}) // zero Facts stands for "unreachable"
	events := []transition.Event{transition.EventMaster, transition.EventBackup, transition.EventFault, transition.EventStop}
	versions := []node.Version{v50, v72}
	n := 0
	for _, l0 := range locals {
		for _, p0 := range peers {
			// Streams since a fork matter only where one continued the other.
			streams := [][2]node.Writes{{node.WritesUnknown, node.WritesUnknown}}
			if _, ok := node.ForkPoint(l0, p0); ok && p0.Addr != "" {
				ws := []node.Writes{node.WritesUnknown, node.WritesNone, node.WritesDeletesOnly, node.WritesSome}
				streams = streams[:0]
				for _, a := range ws {
					for _, b := range ws {
						streams = append(streams, [2]node.Writes{a, b})
					}
				}
			}
			answered := []bool{false}
			if p0.Addr == "" {
				answered = []bool{false, true}
			}
			for _, ev := range events {
				for _, force := range []bool{false, true} {
					for _, fd := range []bool{false, true} {
						for _, ho := range []string{transition.HandoverAuto, transition.HandoverFailover, transition.HandoverPause} {
							for _, ver := range versions {
								for _, st := range streams {
									for _, ans := range answered {
										for _, bound := range []time.Duration{0, 3 * time.Second} {
											l := pVersion(l0, ver)
											in := transition.Input{Event: ev, Local: l, LocalAnnounce: node.MustParseAddr(planLocal), PeerAddr: node.MustParseAddr(planPeer),
												Force: force, FollowDiverged: fd, Handover: ho,
												LocalStream: st[0], PeerStream: st[1], PeerAnswered: ans, MaxLinkDown: bound,
												LocalWritable: bound > 0 && l.Role == node.RoleReplica}
											if p0.Addr != "" {
												in.Peer = pp(p0)
											}
											n++
											checkPlanProperties(t, in)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("checked %d inputs", n)
}

func checkPlanProperties(t *testing.T, in transition.Input) {
	t.Helper()
	plan := transition.Decide(in)
	desc := func() string {
		peer := "unreachable"
		if in.Peer != nil {
			peer = in.Peer.Summary()
		}
		return fmt.Sprintf("event=%s force=%v followDiverged=%v handover=%s local=[%s] peer=[%s] -> %s %v (%s)",
			in.Event, in.Force, in.FollowDiverged, in.Handover, in.Local.Summary(), peer, plan.Decision, plan.Steps, plan.Reason)
	}
	fatal := func(rule string) {
		t.Helper()
		t.Fatalf("%s broken: %s", rule, desc())
	}

	// Deterministic.
	if again := transition.Decide(in); !reflect.DeepEqual(plan, again) {
		fatal("determinism")
	}
	// Shape: no duplicate steps, known steps, config-rewrite last, waits and
	// stops do nothing, refusals never follow.
	seen := map[transition.Step]bool{}
	for _, s := range plan.Steps {
		switch s {
		case sFollow, sWait, sFailover, sPause, sPromote, sBackup, sKill, sRewrite, sPauseL, transition.StepReadOnly, transition.StepPromotePeer,
			transition.StepPausePeerWrites, transition.StepHandOverToPeer, transition.StepPauseHandOverToPeer:
		default:
			fatal("known steps")
		}
		if seen[s] {
			fatal("no duplicate steps")
		}
		seen[s] = true
	}
	// Never follow a peer that replicates us unless it was promoted first:
	// that is a replication loop in which the emptier side can win.
	if in.Peer != nil && in.Peer.Role == node.RoleReplica && in.Peer.Master().Same(in.LocalAnnounce) {
		if f := idx(plan, sFollow); f >= 0 && (idx(plan, transition.StepPromotePeer) < 0 || idx(plan, transition.StepPromotePeer) > f) {
			fatal("promote-peer before following our own replica")
		}
	}
	if i := idx(plan, sRewrite); i >= 0 && i != len(plan.Steps)-1 {
		fatal("config-rewrite last (S7)")
	}
	// Steps are resolved in the plan: rewrite only with a config file, a
	// backup only of data, a master's writes paused right before its backup
	// (S6), pauses only where CLIENT PAUSE WRITE exists.
	if hasStep(plan, sRewrite) && in.Local.ConfigFile == "" {
		fatal("config-rewrite only when local runs from a file")
	}
	if hasStep(plan, sBackup) && in.Local.Empty() {
		fatal("no backup of an empty local")
	}
	if b := idx(plan, sBackup); b >= 0 && in.Local.Role == node.RoleMaster && in.Local.Version.AtLeast(6, 2) && idx(plan, sPauseL) != b-1 {
		fatal("a 6.2+ master's writes are paused right before its backup (S6)")
	}
	if f := idx(plan, sFollow); f >= 0 && in.Local.Role == node.RoleMaster && in.Local.Version.AtLeast(6, 2) {
		if p := idx(plan, sPauseL); p < 0 || p > f {
			fatal("S6: a 6.2+ master follows the peer only with its writes paused")
		}
	}
	if hasStep(plan, sPauseL) && !in.Local.Version.AtLeast(6, 2) {
		fatal("no CLIENT PAUSE WRITE before 6.2")
	}
	if (plan.Wait || in.Event == transition.EventStop) && len(plan.Steps) != 0 {
		fatal("wait/stop plans take no steps")
	}
	if plan.Refused && hasStep(plan, sFollow) {
		fatal("a refusal never follows the peer (S1)")
	}
	if plan.Decision == "" || plan.Reason == "" {
		fatal("every plan names its decision and reason")
	}
	if in.Peer == nil {
		if hasStep(plan, sFollow) || hasStep(plan, sWait) || hasStep(plan, sFailover) || hasStep(plan, sPause) {
			fatal("no peer, no sync (S3)")
		}
		// S9: a peer that answered with an error is alive: nothing is done
		// on its account, least of all a promotion.
		if in.PeerAnswered && in.Event != transition.EventStop && (len(plan.Steps) != 0 || !plan.Wait) {
			fatal("S9: a peer that answers is not absent")
		}
		// S10: a stale replica is not promoted alone without --force.
		if _, stale := transition.StaleBy(in.Local, in.MaxLinkDown); stale && !in.Force && hasStep(plan, sPromote) {
			fatal("S10: no automatic promotion of a stale replica")
		}
		// S11: a node in a full sync is not promoted alone.
		if in.Local.MasterSyncInProgress && hasStep(plan, sPromote) {
			fatal("S11: no promotion in the middle of a full sync")
		}
		return
	}
	p := *in.Peer
	rel, raw := node.Judge(in.Local, p, node.MustParseAddr(planLocal), in.LocalStream, in.PeerStream)
	// S11: writes local took since a fork are backed up before a follow
	// discards them, unless its stream shows it took none; and an unfinished
	// peer is never followed.
	if (raw == node.Successor || raw == node.Predecessor) && in.LocalStream != node.WritesNone && !in.Local.Empty() {
		if f := idx(plan, sFollow); f >= 0 {
			if b := idx(plan, sBackup); b < 0 || b > f {
				fatal("S11/S6: back up local's writes since the fork before following")
			}
		}
		if hasStep(plan, sWait) && !hasStep(plan, sBackup) && !(in.Local.Role == node.RoleReplica && in.Local.Master().Same(node.MustParseAddr(planPeer))) {
			fatal("S11/S6: back up local's writes since the fork before syncing")
		}
	}
	// A writable replica's own writes are in no offset: it is made
	// read-only first in any plan that acts and keeps it a replica, and a
	// follow that resyncs it is preceded by a backup.
	if in.LocalWritable && in.Local.Role == node.RoleReplica && !in.Local.Empty() && !plan.Wait && !hasStep(plan, sPromote) && in.Event != transition.EventStop {
		if idx(plan, transition.StepReadOnly) != 0 {
			fatal("S6: a writable replica is made read-only before anything else")
		}
	}
	if in.LocalWritable && in.Local.Role == node.RoleReplica && !in.Local.Empty() {
		if f := idx(plan, sFollow); f >= 0 {
			if b := idx(plan, sBackup); b < 0 || b > f {
				fatal("S6: back up a writable replica before it follows")
			}
		}
	}
	if (p.MasterSyncInProgress || p.Loading) && hasStep(plan, sFollow) {
		fatal("S11: never follow an unfinished dataset")
	}
	if in.Event != transition.EventStop && plan.Relation != rel.String() {
		fatal("relation recorded")
	}
	if p.Loading && !plan.Wait && in.Event != transition.EventStop {
		fatal("wait while the peer loads")
	}

	follow := in.Event == transition.EventBackup || in.Event == transition.EventFault
	// S1: never follow an empty or older peer, nor the old master this node
	// was promoted from, nor a diverged one unless on_diverged allows it,
	// without --force.
	if follow && !in.Force && hasStep(plan, sFollow) &&
		(rel == node.Ahead || rel == node.Successor ||
			((rel == node.Diverged || rel == node.Predecessor) && !in.FollowDiverged)) {
		fatal("S1")
	}
	// S6: back up before following a peer that lacks local data, whatever
	// the event.
	if hasStep(plan, sFollow) && !in.Local.Empty() && rel.HasDataPeerLacks() {
		if b := idx(plan, sBackup); b < 0 || b > idx(plan, sFollow) {
			fatal("S6")
		}
	}
	// Kill clients only when demoting a master (S7).
	if hasStep(plan, sKill) && in.Local.Role != node.RoleMaster {
		fatal("kill-clients only on a demoted master (S7)")
	}
	if follow && hasStep(plan, sFollow) && in.Local.Role == node.RoleMaster && !hasStep(plan, sKill) {
		fatal("a demoted master sheds its clients (S7)")
	}
	// S3: an empty peer is never copied over local data on a master event.
	drained := node.AtLeastAsFresh(p, in.Local) && !node.AtLeastAsFresh(in.Local, p) // emptied on purpose after local's position
	if in.Event == transition.EventMaster && p.Empty() && !drained && !in.Local.Empty() && hasStep(plan, sFollow) {
		fatal("S3: no sync from an empty peer over local data")
	}
	// Two masters with the same data never both follow: only the side with
	// the lower address does (the cold-start replication loop the lab found).
	if follow && rel == node.Same && in.Local.Role == node.RoleMaster && p.Role == node.RoleMaster &&
		hasStep(plan, sFollow) && in.LocalAnnounce.String() > in.PeerAddr.String() {
		fatal("only the lower address follows an equal master")
	}
	// S2: against a live master at least as fresh and not empty, promote
	// only after syncing and a handover step.
	if in.Event == transition.EventMaster && p.Role == node.RoleMaster && !p.Loading &&
		(rel == node.Behind || rel == node.Same) {
		w := idx(plan, sWait)
		h := max(idx(plan, sFailover), idx(plan, sPause))
		if w < 0 || h < 0 || h < w {
			fatal("S2: wait-in-sync then a handover step")
		}
		if pr := idx(plan, sPromote); pr >= 0 && pr < h {
			fatal("S2: promote before the handover")
		}
		if !hasStep(plan, sFollow) && !(in.Local.Role == node.RoleReplica && in.Local.Master().Same(node.MustParseAddr(planPeer))) {
			fatal("S2: sync from the peer before promoting")
		}
		if hasStep(plan, sFailover) && hasStep(plan, sPause) {
			fatal("S2: one handover step")
		}
	}
	// Handover choice.
	if hasStep(plan, sFailover) && in.Handover == transition.HandoverPause {
		fatal("handover=pause never uses FAILOVER")
	}
	if hasStep(plan, sFailover) && (in.Handover != transition.HandoverFailover || !(p.Version.AtLeast(6, 2) && in.Local.Version.AtLeast(6, 2))) {
		fatal("FAILOVER only when both are 6.2+")
	}
	if hasStep(plan, sPause) && in.Handover == transition.HandoverFailover && p.Version.AtLeast(6, 2) && in.Local.Version.AtLeast(6, 2) {
		fatal("handover=failover uses FAILOVER where both servers have it")
	}
	// A master event never leaves local following the peer without a way to
	// be promoted.
	if in.Event == transition.EventMaster && hasStep(plan, sFollow) &&
		!hasStep(plan, sPromote) && !hasStep(plan, sFailover) && !hasStep(plan, sPause) {
		fatal("master event: a follow-peer is always followed by a promotion")
	}
}

// Two masters with the same data after a cold start of both: the lower
// address follows, the higher one waits, so they never replicate each other
// (the loop the lab found when both ran notify-backup at once).
func TestDecideFollowEqualMastersBreakSymmetry(t *testing.T) {
	low, high := "192.0.2.11:6379", "192.0.2.12:6379"
	for _, keys := range []int64{0, 10} {
		lowIn := transition.Input{Event: transition.EventBackup, Local: pMaster(low, histA, 1000, keys), Peer: pp(pMaster(high, histA, 1000, keys)), LocalAnnounce: node.MustParseAddr(low), PeerAddr: node.MustParseAddr(high)}
		highIn := transition.Input{Event: transition.EventBackup, Local: pMaster(high, histA, 1000, keys), Peer: pp(pMaster(low, histA, 1000, keys)), LocalAnnounce: node.MustParseAddr(high), PeerAddr: node.MustParseAddr(low)}
		lp, hp := transition.Decide(lowIn), transition.Decide(highIn)
		if lp.Decision != "follow" || !hasStep(lp, sFollow) {
			t.Errorf("keys=%d lower address: %s %v, want follow", keys, lp.Decision, lp.Steps)
		}
		if !hp.Wait || hasStep(hp, sFollow) {
			t.Errorf("keys=%d higher address: %s %v, want wait without following", keys, hp.Decision, hp.Steps)
		}
	}
}

// The higher address stops waiting once its peer wait is over: the lower
// one is then the VRRP master whose hook already ran, and will not follow.
func TestDecideFollowEqualMastersAfterWait(t *testing.T) {
	low, high := "192.0.2.11:6379", "192.0.2.12:6379"
	in := transition.Input{Event: transition.EventBackup, Local: pMaster(high, histA, 1000, 10), Peer: pp(pMaster(low, histA, 1000, 10)),
		LocalAnnounce: node.MustParseAddr(high), PeerAddr: node.MustParseAddr(low), PeerWaitOver: true}
	if p := transition.Decide(in); p.Wait || !hasStep(p, sFollow) {
		t.Fatalf("after the wait: %s %v, want follow", p.Decision, p.Steps)
	}
}

// Two replicas of each other: the node told to follow makes its peer the
// master, whichever address it has; with data the peer lacks it keeps its
// own instead (S1).
func TestDecideFollowBreaksReplicationLoop(t *testing.T) {
	low, high := "192.0.2.11:6379", "192.0.2.12:6379"
	for _, pair := range [][2]string{{low, high}, {high, low}} {
		p := transition.Decide(transition.Input{Event: transition.EventBackup, Local: pReplica(pair[0], pair[1], false, histA, 1000, 10),
			Peer: pp(pReplica(pair[1], pair[0], false, histA, 1000, 10)), LocalAnnounce: node.MustParseAddr(pair[0]), PeerAddr: node.MustParseAddr(pair[1])})
		if p.Decision != "break-loop" || !hasStep(p, transition.StepPromotePeer) || hasStep(p, sPromote) {
			t.Fatalf("%s in a loop: %s %v, want break-loop promoting the peer", pair[0], p.Decision, p.Steps)
		}
	}
	ahead := transition.Decide(transition.Input{Event: transition.EventFault, Local: pReplica(low, high, false, histA, 1500, 10),
		Peer: pp(pReplica(high, low, false, histA, 1000, 10)), LocalAnnounce: node.MustParseAddr(low), PeerAddr: node.MustParseAddr(high)})
	if ahead.Decision != "break-loop-keep-local" || !hasStep(ahead, sPromote) {
		t.Fatalf("local ahead in a loop: %s %v, want local promoted", ahead.Decision, ahead.Steps)
	}
}

// The successor refuses to follow its superseded old master and pauses the
// old master's writes, so none is acknowledged and then discarded.
func TestDecideFollowSuccessorPausesOldMaster(t *testing.T) {
	succ := pMaster(planLocal, histC, 2000, 10)
	succ.ReplID2, succ.SecondReplOffset = histA, 1001
	old := pMaster(planPeer, histA, 1500, 10)
	p := transition.Decide(transition.Input{Event: transition.EventBackup, Local: succ, Peer: pp(old), LocalAnnounce: node.MustParseAddr(planLocal), PeerAddr: node.MustParseAddr(planPeer)})
	if !p.Refused || hasStep(p, sFollow) || !hasStep(p, transition.StepPausePeerWrites) {
		t.Fatalf("successor: %s refused=%v %v, want a refusal that pauses the peer's writes", p.Decision, p.Refused, p.Steps)
	}
}

// A master told to follow, whose peer is its in-sync replica, hands over once
// its wait is over (nobody else will make the peer master); before that it
// waits.
func TestDecideFollowHandsOverToReplicaAfterWait(t *testing.T) {
	in := transition.Input{Event: transition.EventBackup, Local: pMaster(planLocal, histA, 1000, 10),
		Peer: pp(pReplica(planPeer, planLocal, true, histA, 990, 10)), LocalAnnounce: node.MustParseAddr(planLocal), PeerAddr: node.MustParseAddr(planPeer)}
	if p := transition.Decide(in); !p.Wait || len(p.Steps) != 0 {
		t.Fatalf("before the wait is over: %s %v, want wait", p.Decision, p.Steps)
	}
	in.PeerWaitOver = true
	if p := transition.Decide(in); p.Decision != "hand-over-to-peer" || !hasStep(p, transition.StepPauseHandOverToPeer) || hasStep(p, sFollow) {
		t.Fatalf("after the wait: %s %v, want hand-over-to-peer", p.Decision, p.Steps)
	}
	in.Peer.MasterLinkUp = false
	if p := transition.Decide(in); !p.Wait {
		t.Fatalf("replica not in sync: %s %v, want wait", p.Decision, p.Steps)
	}
}

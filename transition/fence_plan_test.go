package transition_test

import (
	"slices"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

const (
	sFenceClose = transition.StepFenceClose
	sFenceOpen  = transition.StepFenceOpen
	sFenceWait  = transition.StepFenceWait
)

// Decide with fencing on (issue 10): the evidence about an unreadable
// peer and the witness lease choose between promoting at once, promoting
// fenced and not promoting.
func TestDecideMasterFenced(t *testing.T) {
	ev := transition.EventMaster
	replica := pReplica(planLocal, planPeer, false, histA, 1000, 50)
	fenced := func(in transition.Input) transition.Input { in.Event, in.Fencing = ev, true; return in }
	runPlanCases(t, []planCase{
		{
			name:     "fencing off: as before, whatever the evidence",
			in:       transition.Input{Event: ev, Local: replica, PeerEvidence: fence.Unknown},
			decision: "promote-alone", steps: steps(sPromote, sRewrite), reason: "unreachable",
		},
		{
			name:     "peer refused (dead): promote at once, fence open first",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Dead}),
			decision: "promote-alone", steps: steps(sFenceOpen, sPromote, sRewrite), reason: "positively dead",
		},
		{
			name:     "peer unknown, no witness: closed, promote, then wait for the old master's fence",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Unknown}),
			decision: "promote-fenced", steps: steps(sFenceClose, sPromote, sRewrite, sFenceWait), reason: "no witness",
		},
		{
			name:     "peer unknown, witness, lease not held: no promotion",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Unknown, Witness: true}),
			decision: "wait-lease", wait: true, reason: "witness lease is not held",
		},
		{
			name:     "peer unknown, witness, lease held: promote fenced (the wait still applies)",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Unknown, Witness: true, LeaseHeld: true}),
			decision: "promote-fenced", steps: steps(sFenceClose, sPromote, sRewrite, sFenceWait), reason: "holds the witness lease",
		},
		{
			name:     "peer unknown, witness, no lease, --force: promote fenced",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Unknown, Witness: true, Force: true}),
			decision: "promote-fenced", steps: steps(sFenceClose, sPromote, sRewrite, sFenceWait), reason: "--force",
		},
		{
			name:     "peer unknown, local already master: kept, the keeper sets its fence",
			in:       fenced(transition.Input{Local: pMaster(planLocal, histA, 1000, 50), PeerEvidence: fence.Unknown, Witness: true}),
			decision: "keep-master", reason: "already master",
		},
		{
			name:     "peer answers with an error: alive, never promote alone (S9)",
			in:       fenced(transition.Input{Local: replica, PeerAnswered: true, PeerEvidence: fence.Alive}),
			decision: "wait-peer-answers", wait: true, reason: "S9",
		},
		{
			name:     "stale replica, peer unknown: still refused (S10)",
			in:       fenced(transition.Input{Local: replica, PeerEvidence: fence.Unknown, MaxLinkDown: time.Second}),
			decision: "refuse-stale", refused: true, reason: "S10",
		},
		{
			name: "live fresher peer: sync before promote, fence opened first",
			in: fenced(transition.Input{Local: pMaster(planLocal, histA, 1000, 50),
				Peer: pp(pMaster(planPeer, histA, 2000, 100)), PeerEvidence: fence.Alive}),
			decision: "sync-then-promote", steps: steps(sPauseL, sFollow, sWait, sFenceOpen, sPause, sRewrite), relation: "behind", reason: "S2",
		},
		{
			name:     "live older peer: promote without syncing, fence opened first",
			in:       fenced(transition.Input{Local: replica, Peer: pp(pMaster(planPeer, histA, 900, 40)), PeerEvidence: fence.Alive}),
			decision: "promote-alone", steps: steps(sFenceOpen, sPromote, sRewrite), relation: "ahead", reason: "peer is older",
		},
	})
}

// Over the grid of facts and options: fencing off adds no fence step; with
// fencing on, every promotion of local carries the fence before it, and
// one on unknown evidence is closed before it and waits after it, and
// never happens with a witness and no lease unless forced.
func TestDecideFenceProperties(t *testing.T) {
	n := 0
	for _, l := range gridFacts(planLocal, planPeer) {
		for _, p0 := range append(gridFacts(planPeer, planLocal), node.Facts{}) {
			for _, evidence := range []fence.Evidence{fence.Unknown, fence.Dead} {
				for _, fencing := range []bool{false, true} {
					for _, witness := range []bool{false, true} {
						for _, lease := range []bool{false, true} {
							for _, force := range []bool{false, true} {
								in := transition.Input{Event: transition.EventMaster, Local: l, LocalAnnounce: node.MustParseAddr(planLocal), PeerAddr: node.MustParseAddr(planPeer),
									Handover: transition.HandoverAuto, Force: force, MaxLinkDown: 10 * time.Second,
									Fencing: fencing, PeerEvidence: evidence, Witness: witness, LeaseHeld: lease && witness}
								if p0.Addr != "" {
									in.Peer, in.PeerEvidence = pp(p0), fence.Alive
								}
								n++
								checkFenceProperties(t, in)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("checked %d inputs", n)
}

func checkFenceProperties(t *testing.T, in transition.Input) {
	t.Helper()
	p := transition.Decide(in)
	fenceSteps := slices.ContainsFunc(p.Steps, func(s transition.Step) bool {
		return s == sFenceClose || s == sFenceOpen || s == sFenceWait
	})
	promotes := slices.ContainsFunc(p.Steps, func(s transition.Step) bool { return s == sPromote || s == sPause || s == sFailover })
	where := func() string {
		peer := "unreadable (" + in.PeerEvidence.String() + ")"
		if in.Peer != nil {
			peer = in.Peer.Summary()
		}
		return in.Local.Summary() + " / " + peer
	}
	if !in.Fencing {
		if fenceSteps {
			t.Fatalf("fencing off, yet fence steps %v (%s)", p.Steps, where())
		}
		return
	}
	if !promotes {
		return
	}
	first := slices.IndexFunc(p.Steps, func(s transition.Step) bool { return s == sPromote || s == sPause || s == sFailover })
	onUnknown := in.Peer == nil && in.PeerEvidence == fence.Unknown
	switch {
	case onUnknown && in.Witness && !in.LeaseHeld && !in.Force:
		t.Fatalf("promotes on unknown evidence with a witness and no lease: %v (%s)", p.Steps, where())
	case onUnknown && (!slices.Contains(p.Steps[:first], sFenceClose) || !slices.Contains(p.Steps[first:], sFenceWait)):
		t.Fatalf("promotes on unknown evidence without closing before and waiting after: %v (%s)", p.Steps, where())
	case !onUnknown && (first == 0 || p.Steps[first-1] != sFenceOpen):
		t.Fatalf("promotes with the peer dead or alive without opening the fence just before: %v (%s)", p.Steps, where())
	}
}

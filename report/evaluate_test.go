package report

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

func TestEvaluate(t *testing.T) {
	noVIP := func(in *Instance) { in.VIPs = nil }
	cases := []struct {
		name   string
		change func(in *Instance)
		status Status
		codes  []string
		// then checks derived fields.
		then func(t *testing.T, in Instance)
	}{
		{name: "healthy", change: func(*Instance) {}, status: OK, then: func(t *testing.T, in Instance) {
			r := in.Replication
			if r.State != ReplMasterReplica || r.Master != SideLocal || r.Replica != SidePeer || !r.LinkUp || !r.HasLagBytes || r.LagBytes != 0 || r.LagSeconds != 1 || r.Relation != "same" {
				t.Errorf("replication %+v", r)
			}
			if in.VIPs[0].Holder != HolderLocal || in.Local.GuardStatus != GuardActive || !in.Check.OK {
				t.Errorf("vip %+v guard %s check %+v", in.VIPs[0], in.Local.GuardStatus, in.Check)
			}
		}},
		{name: "peer unreachable", change: func(in *Instance) { in.Peer.Facts, in.Peer.Err = nil, "connection refused" },
			status: Critical, codes: []string{CodePeerUnreachable}, then: func(t *testing.T, in Instance) {
				if in.Replication.State != ReplUnknown || in.Replication.Master != SideLocal {
					t.Errorf("replication %+v", in.Replication)
				}
			}},
		{name: "local unreachable with the VIP on this host", change: func(in *Instance) { in.Local.Facts, in.Local.Err = nil, "connection refused" },
			status: Critical, codes: []string{CodeLocalUnreachable, CodeVIPOnIneligible}},
		{name: "replica read after its master, a write later: same data, not behind", change: func(in *Instance) {
			in.Peer.Facts.ReplOffset += 120
		}, status: OK, then: func(t *testing.T, in Instance) {
			if r := in.Replication; r.Relation != "same" || r.LagBytes != 0 {
				t.Errorf("replication %+v", r)
			}
		}},
		{name: "local replica read after the peer master: same data, not ahead", change: func(in *Instance) {
			peer := withReplica(fxMaster(fxPeer, 1000, 5000), fxReplica(fxLocal, fxPeer, true, 1000, 5120))
			in.Local.Facts, in.Peer.Facts = fxReplica(fxLocal, fxPeer, true, 1000, 5120), peer
			in.VIPs = nil
			in.State.LastEvent = transition.EventBackup
		}, status: OK, then: func(t *testing.T, in Instance) {
			if r := in.Replication; r.Relation != "same" || r.Master != SidePeer {
				t.Errorf("replication %+v", r)
			}
		}},
		{name: "replica on another history than its master: the offsets count", change: func(in *Instance) {
			in.Peer.Facts.ReplOffset += 120
			in.Peer.Facts.ReplID = "other-history"
		}, status: Critical, codes: []string{CodeDiverged}, then: func(t *testing.T, in Instance) {
			if r := in.Replication; r.Relation == "same" {
				t.Errorf("replication %+v: a replica off its master's history judged the same", r)
			}
		}},
		{name: "replica link down", change: func(in *Instance) {
			in.Peer.Facts = fxReplica(fxPeer, fxLocal, false, 1000, 4000)
			in.Local.Facts.Replicas = nil
		}, status: Critical, codes: []string{CodeLinkDown}, then: func(t *testing.T, in Instance) {
			if in.Replication.State != ReplMasterReplica || in.Replication.LinkUp || in.Replication.HasLagSeconds {
				t.Errorf("replication %+v", in.Replication)
			}
		}},
		{name: "replica of an unreachable master, link down", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxPeer, false, 1000, 4000)
			in.Peer.Facts, in.Peer.Err = nil, "connection refused"
			in.VIPs = nil
			in.State.LastEvent = transition.EventBackup
		}, status: Critical, codes: []string{CodePeerUnreachable, CodeLinkDown}, then: func(t *testing.T, in Instance) {
			if in.Replication.Master != SidePeer || in.Replication.Replica != SideLocal || !in.Check.OK {
				t.Errorf("replication %+v check %+v", in.Replication, in.Check)
			}
		}},
		{name: "stale replica of an unreachable master: the check says why it waits (S10)", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxPeer, false, 1000, 4000)
			in.Local.Facts.MasterLinkDownSecs = 60
			in.Peer.Facts, in.Peer.Err = nil, "connection refused"
			in.VIPs = nil
			in.State.LastEvent = transition.EventBackup
			in.MaxLinkDown = 10 * time.Second
		}, status: Critical, codes: []string{CodePeerUnreachable, CodeLinkDown}, then: func(t *testing.T, in Instance) {
			if in.Check.OK || !strings.Contains(in.Check.Reason, "max_link_down") || !strings.Contains(in.Check.Reason, "--force") {
				t.Errorf("check %+v: want not eligible, naming max_link_down and --force", in.Check)
			}
		}},
		{name: "replica whose master answers with an error: alive (S9)", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxPeer, false, 1000, 4000)
			in.Peer.Facts, in.Peer.Err, in.Peer.Answered = nil, "BUSY Redis is busy running a script", true
			in.VIPs = nil
			in.State.LastEvent = transition.EventBackup
		}, status: Critical, codes: []string{CodePeerUnreachable, CodeLinkDown}, then: func(t *testing.T, in Instance) {
			if !strings.Contains(in.Reasons[0].Message, "alive") {
				t.Errorf("reason %q: want the peer named alive", in.Reasons[0].Message)
			}
			if in.Check.OK || !strings.Contains(in.Check.Reason, "alive") {
				t.Errorf("check %+v: want not eligible, the peer is alive", in.Check)
			}
		}},
		{name: "replica of a third server, peer unreachable", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxThird, true, 1000, 5000)
			in.Peer.Facts, in.Peer.Err = nil, "connection refused"
			in.VIPs = nil
			in.State.LastEvent = ""
		}, status: Critical, codes: []string{CodePeerUnreachable, CodeReplicaElsewhere}},
		{name: "full sync", change: func(in *Instance) { in.Peer.Facts.MasterSyncInProgress = true },
			status: Warning, codes: []string{CodeFullSync}},
		{name: "full sync, link shown down as Redis does", change: func(in *Instance) {
			in.Peer.Facts = fxReplica(fxPeer, fxLocal, false, 1000, 5000)
			in.Peer.Facts.MasterSyncInProgress = true
		}, status: Warning, codes: []string{CodeFullSync}},
		{name: "lag bytes over warning", change: func(in *Instance) { in.Peer.Facts.ReplOffset = 5000 - 2<<20 },
			status: Warning, codes: []string{CodeLagBytes}},
		{name: "lag bytes over critical", change: func(in *Instance) { in.Peer.Facts.ReplOffset = 5000 - 20<<20 },
			status: Critical, codes: []string{CodeLagBytes}},
		{name: "replica ahead by read skew is no lag", change: func(in *Instance) { in.Peer.Facts.ReplOffset = 5100 },
			status: OK, then: func(t *testing.T, in Instance) {
				if in.Replication.LagBytes != 0 {
					t.Errorf("lag %d", in.Replication.LagBytes)
				}
			}},
		{name: "lag seconds over warning", change: func(in *Instance) { in.Peer.Facts.MasterLastIOSecsAgo = 45 },
			status: Warning, codes: []string{CodeLagSeconds}},
		{name: "lag seconds over critical", change: func(in *Instance) { in.Peer.Facts.MasterLastIOSecsAgo = 300 },
			status: Critical, codes: []string{CodeLagSeconds}},
		{name: "lag of another history is not counted", change: func(in *Instance) {
			in.Peer.Facts.ReplID, in.Peer.Facts.ReplOffset = fxHistB, 1
		}, status: Critical, codes: []string{CodeDiverged}, then: func(t *testing.T, in Instance) {
			if in.Replication.HasLagBytes {
				t.Errorf("lag bytes across histories: %+v", in.Replication)
			}
		}},
		{name: "both masters, diverged", change: func(in *Instance) {
			in.Peer.Facts = fxMaster(fxPeer, 10, 300)
			in.Peer.Facts.ReplID = fxHistB
			in.Local.Facts.Replicas = nil
		}, status: Critical, codes: []string{CodeBothMasters, CodeDiverged}, then: func(t *testing.T, in Instance) {
			if in.Replication.State != ReplBothMasters || in.Replication.Relation != "diverged" {
				t.Errorf("replication %+v", in.Replication)
			}
		}},
		{name: "both masters, peer empty", change: func(in *Instance) {
			in.Peer.Facts = fxMaster(fxPeer, 0, 0)
			in.Peer.Facts.ReplID = fxHistB
			in.Local.Facts.Replicas = nil
		}, status: Critical, codes: []string{CodeBothMasters}},
		{name: "replication loop", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxPeer, false, 1000, 5000)
			in.Peer.Facts = fxReplica(fxPeer, fxLocal, false, 1000, 5000)
		}, status: Critical, codes: []string{CodeLoop, CodeVIPOnReplica, CodeVIPOnIneligible}},
		{name: "both replicas of a third server", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxThird, true, 1000, 5000)
			in.Peer.Facts = fxReplica(fxPeer, fxThird, true, 1000, 5000)
			noVIP(in)
		}, status: Critical, codes: []string{CodeNoMaster}},
		{name: "replica of a third server", change: func(in *Instance) {
			in.Peer.Facts = fxReplica(fxPeer, fxThird, true, 1000, 5000)
			in.Local.Facts.Replicas = nil
		}, status: Warning, codes: []string{CodeReplicaElsewhere}},
		{name: "replica known to its master under another name", change: func(in *Instance) {
			in.Peer.Facts = fxReplica(fxPeer, "10.9.9.9:6379", true, 1000, 5000)
		}, status: OK},
		{name: "empty master, replica holds data, link down", change: func(in *Instance) {
			in.Local.Facts = fxMaster(fxLocal, 0, 0)
			in.Local.Facts.ReplID = fxHistB
			in.Peer.Facts = fxReplica(fxPeer, fxLocal, false, 1000, 5000)
			noVIP(in)
		}, status: Critical, codes: []string{CodeLinkDown, CodeEmptyMaster}},
		{name: "persistence off without guard", change: func(in *Instance) {
			in.Local.RDB, in.Local.Guard.Exists, in.Local.Guard.ByGuard = TriOff, false, false
		}, status: Warning, codes: []string{CodeNoPersistence}, then: func(t *testing.T, in Instance) {
			if in.Local.GuardStatus != GuardMissing || !strings.Contains(in.Reasons[0].Message, "never ran") {
				t.Errorf("guard %s: %s", in.Local.GuardStatus, in.Reasons[0].Message)
			}
		}},
		{name: "persistence off, include not written by guard", change: func(in *Instance) {
			in.Local.RDB, in.Local.Guard.ByGuard = TriOff, false
		}, status: Warning, codes: []string{CodeNoPersistence}},
		{name: "persistence off with guard active", change: func(in *Instance) { in.Local.RDB = TriOff }, status: OK},
		{name: "persistence off, guard ran long before this start", change: func(in *Instance) {
			in.Local.RDB = TriOff
			in.Local.Guard.Written = fxNow.Add(-30 * 24 * time.Hour)
		}, status: Warning, codes: []string{CodeNoPersistence}, then: func(t *testing.T, in Instance) {
			if in.Local.GuardStatus != GuardStale {
				t.Errorf("guard %s", in.Local.GuardStatus)
			}
		}},
		{name: "persistence off on the peer is the peer host's report", change: func(in *Instance) { in.Peer.RDB = TriOff }, status: OK},
		{name: "RDB unknown is no warning", change: func(in *Instance) {
			in.Local.RDB, in.Local.RDBErr, in.Local.Guard.Exists = TriUnknown, "ERR unknown command 'CONFIG'", false
		}, status: OK},
		{name: "AOF on counts as persistence", change: func(in *Instance) {
			in.Local.RDB, in.Local.Facts.AOFEnabled, in.Local.Guard.Exists = TriOff, true, false
		}, status: OK},
		{name: "bgsave failed on the master", change: func(in *Instance) { in.Local.Facts.RDBLastBgsaveOK = false },
			status: Critical, codes: []string{CodeBgsaveFailed}},
		{name: "bgsave failed on the replica", change: func(in *Instance) { in.Peer.Facts.RDBLastBgsaveOK = false },
			status: Warning, codes: []string{CodeBgsaveFailed}},
		{name: "AOF write failed", change: func(in *Instance) {
			in.Local.Facts.AOFEnabled, in.Local.Facts.AOFLastWriteOK = true, false
		}, status: Critical, codes: []string{CodeAOFWriteFailed}},
		{name: "last save old with changes", change: func(in *Instance) {
			in.Local.Facts.RDBLastSave, in.Local.Facts.RDBChangesSinceSave = fxNow.Add(-3*time.Hour), 10
		}, status: Warning, codes: []string{CodeSaveAge}},
		{name: "last save very old with changes", change: func(in *Instance) {
			in.Local.Facts.RDBLastSave, in.Local.Facts.RDBChangesSinceSave = fxNow.Add(-25*time.Hour), 10
		}, status: Critical, codes: []string{CodeSaveAge}},
		{name: "last save old without changes", change: func(in *Instance) { in.Local.Facts.RDBLastSave = fxNow.Add(-25 * time.Hour) }, status: OK},
		{name: "last save old but AOF on", change: func(in *Instance) {
			in.Local.Facts.RDBLastSave, in.Local.Facts.RDBChangesSinceSave, in.Local.Facts.AOFEnabled = fxNow.Add(-25*time.Hour), 10, true
		}, status: OK},
		{name: "memory over warning", change: func(in *Instance) { in.Local.Facts.UsedMemory, in.Local.Facts.MaxMemory = 92, 100 },
			status: Warning, codes: []string{CodeMemory}},
		{name: "memory over critical", change: func(in *Instance) { in.Peer.Facts.UsedMemory, in.Peer.Facts.MaxMemory = 99, 100 },
			status: Critical, codes: []string{CodeMemory}},
		{name: "no maxmemory", change: func(in *Instance) { in.Local.Facts.UsedMemory = 1 << 40 }, status: OK},
		{name: "peer loading", change: func(in *Instance) { in.Peer.Facts.Loading = true }, status: Warning, codes: []string{CodeLoading}},
		{name: "peer is the local redis", change: func(in *Instance) {
			c := *in.Local.Facts
			in.Peer.Facts = &c
			noVIP(in)
		}, status: Critical, codes: []string{CodePeerIsLocal, CodeBothMasters}},
		{name: "VIP on the peer, a master", change: func(in *Instance) {
			in.Local.Facts = fxReplica(fxLocal, fxPeer, true, 1000, 5000)
			in.Peer.Facts = withReplica(fxMaster(fxPeer, 1000, 5000), in.Local.Facts)
			in.VIPs = []VIP{{Addr: fxVIP, RunID: in.Peer.Facts.RunID}}
		}, status: OK, then: func(t *testing.T, in Instance) {
			if in.VIPs[0].Holder != HolderPeer {
				t.Errorf("holder %s", in.VIPs[0].Holder)
			}
		}},
		{name: "VIP on the peer, a replica", change: func(in *Instance) { in.VIPs = []VIP{{Addr: fxVIP, RunID: in.Peer.Facts.RunID}} },
			status: Critical, codes: []string{CodeVIPOnReplica}},
		{name: "VIP held by nobody", change: func(in *Instance) { in.VIPs = []VIP{{Addr: fxVIP, Err: "connection refused"}} },
			status: Critical, codes: []string{CodeVIPUnheld}, then: func(t *testing.T, in Instance) {
				if in.VIPs[0].Holder != HolderNone {
					t.Errorf("holder %s", in.VIPs[0].Holder)
				}
			}},
		{name: "VIP held by a third server", change: func(in *Instance) { in.VIPs = []VIP{{Addr: fxVIP, RunID: "someone-else"}} },
			status: Critical, codes: []string{CodeVIPOther}},
		{name: "VIP on this host, Redis not listening on it", change: func(in *Instance) {
			in.VIPs = []VIP{{Addr: fxVIP, OnLocalInterface: true, Err: "connection refused"}}
		}, status: Critical, codes: []string{CodeVIPNotAnswering}},
		{name: "VIP on this host answered by another Redis", change: func(in *Instance) {
			in.VIPs = []VIP{{Addr: fxVIP, OnLocalInterface: true, RunID: "someone-else"}}
		}, status: Critical, codes: []string{CodeVIPWrongServer}},
		{name: "VIP answered while the peer is unreachable", change: func(in *Instance) {
			in.Peer.Facts, in.Peer.Err = nil, "i/o timeout"
			in.VIPs = []VIP{{Addr: fxVIP, RunID: "maybe-the-peer"}}
		}, status: Critical, codes: []string{CodePeerUnreachable, CodeVIPUnknown}},
		{name: "failed transition within the window", change: func(in *Instance) {
			in.Journal.Records = append(in.Journal.Records, transition.Record{Time: fxNow.Add(-time.Hour), Event: transition.EventBackup, Outcome: transition.OutcomeFailed, Error: "REPLICAOF: i/o timeout"})
		}, status: Warning, codes: []string{CodeTransitionFailed}, then: func(t *testing.T, in Instance) {
			if in.Journal.FailedInWindow != 1 || !strings.Contains(in.Reasons[0].Message, "REPLICAOF: i/o timeout") {
				t.Errorf("failed %d: %v", in.Journal.FailedInWindow, in.Reasons)
			}
		}},
		{name: "superseded and deferred are not failures", change: func(in *Instance) {
			in.Journal.Records = append(in.Journal.Records,
				transition.Record{Time: fxNow.Add(-time.Hour), Event: transition.EventBackup, Outcome: transition.OutcomeSuperseded},
				transition.Record{Time: fxNow.Add(-time.Hour), Event: transition.EventBackup, Outcome: transition.OutcomeDeferred})
		}, status: OK},
		{name: "hold-off active", change: func(in *Instance) {
			in.State.Holdoff = transition.Holdoff{Until: fxNow.Add(time.Minute), Reason: "sync timed out"}
			noVIP(in)
		}, status: Warning, codes: []string{CodeHoldoff}, then: func(t *testing.T, in Instance) {
			if in.Check.OK {
				t.Errorf("check %+v during a hold-off", in.Check)
			}
		}},
		{name: "hold-off over", change: func(in *Instance) {
			in.State.Holdoff = transition.Holdoff{Until: fxNow.Add(-time.Minute), Reason: "sync timed out"}
		}, status: OK},
		{name: "files unreadable", change: func(in *Instance) {
			in.Journal.Err, in.State.Err, in.Backups.Err = "permission denied", "permission denied", "permission denied"
		}, status: Warning, codes: []string{CodeJournalUnreadable, CodeStateUnreadable, CodeBackupsUnreadable}},
		{name: "instance not reportable", change: func(in *Instance) { in.Err = "configuration: bad" },
			status: Unknown, codes: []string{CodeReportFailed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := fxHealthy()
			tc.change(&in)
			Evaluate(&in, DefaultThresholds(), fxNow)
			var got []string
			for _, r := range in.Reasons {
				got = append(got, r.Code)
			}
			sort.Strings(got)
			want := append([]string{}, tc.codes...)
			sort.Strings(want)
			if in.Status != tc.status || !slices.Equal(got, want) {
				t.Fatalf("status %s codes %v, want %s %v\nreasons: %+v", in.Status, got, tc.status, want, in.Reasons)
			}
			for i := 1; i < len(in.Reasons); i++ {
				if in.Reasons[i].Status.rank() > in.Reasons[i-1].Status.rank() {
					t.Errorf("reasons not gravest first: %+v", in.Reasons)
				}
			}
			if tc.then != nil {
				tc.then(t, in)
			}
		})
	}
}

func TestEvaluateIsPureAndRepeatable(t *testing.T) {
	in := fxBroken()
	Evaluate(&in, DefaultThresholds(), fxNow)
	first := append([]Reason{}, in.Reasons...)
	Evaluate(&in, DefaultThresholds(), fxNow)
	if !slices.Equal(first, in.Reasons) {
		t.Fatalf("second Evaluate differs:\n%+v\n%+v", first, in.Reasons)
	}
}

func TestThresholdsZeroDisables(t *testing.T) {
	in := fxHealthy()
	in.Peer.Facts.ReplOffset = 5000 - 100<<20
	in.Peer.Facts.MasterLastIOSecsAgo = 3600
	in.Local.Facts.UsedMemory, in.Local.Facts.MaxMemory = 100, 100
	in.Local.Facts.RDBLastSave, in.Local.Facts.RDBChangesSinceSave = fxNow.Add(-100*time.Hour), 1
	Evaluate(&in, Thresholds{JournalWindow: time.Hour}, fxNow)
	if in.Status != OK {
		t.Fatalf("zero thresholds: %s %+v", in.Status, in.Reasons)
	}
}

func TestWorse(t *testing.T) {
	order := []Status{OK, Warning, Unknown, Critical}
	for i, a := range order {
		for j, b := range order {
			want := order[max(i, j)]
			if got := Worse(a, b); got != want {
				t.Errorf("Worse(%s, %s) = %s, want %s", a, b, got, want)
			}
		}
	}
	r := Report{Instances: []Instance{{Status: Warning}, {Status: Unknown}}}
	if r.Status() != Unknown || (Report{Err: "x"}).Status() != Unknown || (Report{}).Status() != OK {
		t.Fatal("report status")
	}
}

func TestReplicationWhenBothUnreachable(t *testing.T) {
	in := fxHealthy()
	in.Local.Facts, in.Peer.Facts = nil, nil
	in.VIPs = nil
	Evaluate(&in, DefaultThresholds(), fxNow)
	if in.Replication.State != ReplUnknown || in.Status != Critical || in.Local.GuardStatus != GuardUnknown {
		t.Fatalf("%+v %s %s", in.Replication, in.Status, in.Local.GuardStatus)
	}
	_ = node.RoleMaster
}

package transition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
)

// runCase is one Run of the runner against the fake pair.
type runCase struct {
	name  string
	ev    Event
	setup func(g *rig)
	// outcome, err (errors.Is) and errText (substring) are what Run returns.
	outcome string
	err     error
	errText string
	// steps are the executed steps over all attempts, "!name" when failed.
	steps    []string
	attempts int
	decision string
	check    func(t *testing.T, g *rig, rec Record)
}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newRig(t)
			if c.setup != nil {
				c.setup(g)
			}
			rec, err := g.run(c.ev)
			if rec.Outcome != c.outcome {
				t.Errorf("outcome = %q, want %q (error %v)", rec.Outcome, c.outcome, err)
			}
			switch {
			case c.err == nil && c.errText == "" && err != nil:
				t.Errorf("error = %v, want none", err)
			case c.err != nil && !errors.Is(err, c.err):
				t.Errorf("error = %v, want %v", err, c.err)
			case c.errText != "" && (err == nil || !strings.Contains(err.Error(), c.errText)):
				t.Errorf("error = %v, want one containing %q", err, c.errText)
			}
			if got := stepNames(rec.Steps); !reflect.DeepEqual(got, c.steps) {
				t.Errorf("steps = %v, want %v", got, c.steps)
			}
			if c.attempts != 0 && rec.Attempts != c.attempts {
				t.Errorf("attempts = %d, want %d", rec.Attempts, c.attempts)
			}
			if c.decision != "" && (rec.Plan == nil || rec.Plan.Decision != c.decision) {
				t.Errorf("plan = %+v, want decision %q", rec.Plan, c.decision)
			}
			// One journal line per Run, the record Run returned (S8).
			recs := g.journal()
			if len(recs) != 1 {
				t.Fatalf("journal has %d records, want 1", len(recs))
			}
			j := recs[0]
			if j.Outcome != rec.Outcome || j.Seq != rec.Seq || j.Event != c.ev || j.Source != "test" ||
				j.Instance != "redis-6379" || !reflect.DeepEqual(stepNames(j.Steps), stepNames(rec.Steps)) || j.Error != rec.Error {
				t.Errorf("journal record = %+v, want %+v", j, rec)
			}
			if c.check != nil {
				c.check(t, g, rec)
			}
		})
	}
}

var errBoom = errors.New("ERR injected")

// Every step kind, succeeding and failing, with the calls it makes on the
// servers.
func TestRunSteps(t *testing.T) {
	runCases(t, []runCase{
		{
			name: "follow-peer: a master behind a live master follows it, sheds clients, persists the role (S7)",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
			},
			outcome: OutcomeOK, decision: "follow", attempts: 1,
			steps: []string{"pause-local-writes", "follow-peer", "kill-clients", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if role, master, _, _ := g.local.state(); role != node.RoleReplica || master != addrP {
					t.Errorf("local is %s of %q, want a replica of the peer", role, master)
				}
				if c := g.local.log(); !hasCall(c, "ReplicaOf 192.0.2.2:6379") {
					t.Errorf("local calls = %v, want REPLICAOF peer", c)
				}
				if g.local.n("KillNormalClients") != 1 || g.local.n("ConfigRewrite") != 1 {
					t.Errorf("local calls = %v, want one client kill and one rewrite", g.local.log())
				}
				for _, m := range []string{"ReplicaOf", "PromoteNoOne", "PauseWrites", "FailoverTo", "KillNormalClients"} {
					if g.peer.n(m) != 0 {
						t.Errorf("peer got %s: %v", m, g.peer.log())
					}
				}
				if rec.Steps[2].Detail != "3 clients disconnected" {
					t.Errorf("kill-clients detail = %q", rec.Steps[2].Detail)
				}
				if rec.Steps[3].Detail != "rewrote /etc/redis/redis.conf" {
					t.Errorf("config-rewrite detail = %q", rec.Steps[3].Detail)
				}
				// S11: no fork between the two, so no stream is read.
				if g.local.n("StreamSince")+g.peer.n("StreamSince") != 0 || rec.Before.LocalStream != nil {
					t.Errorf("streams read without a fork: %v %v", g.local.log(), g.peer.log())
				}
				if rec.Before.Local == nil || rec.Before.Local.Role != node.RoleMaster || rec.Before.Peer == nil {
					t.Errorf("before = %+v", rec.Before)
				}
				if rec.After.Local == nil || rec.After.Local.Role != node.RoleReplica || rec.After.Peer == nil {
					t.Errorf("after = %+v", rec.After)
				}
			},
		},
		{
			name: "fault follows like backup",
			ev:   EventFault,
			setup: func(g *rig) {
				g.peer.offset = 200
			},
			outcome: OutcomeOK, decision: "follow",
			steps: []string{"pause-local-writes", "follow-peer", "kill-clients", "config-rewrite"},
		},
		{
			name: "follow-peer fails every time: decided again, at most 3 attempts",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.fail("ReplicaOf", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step follow-peer: ERR injected", attempts: 3,
			steps: []string{"pause-local-writes", "!follow-peer", "pause-local-writes", "!follow-peer", "pause-local-writes", "!follow-peer"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("ReplicaOf") != 3 || g.local.n("KillNormalClients") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "follow-peer with a malformed peer address sends nothing",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.r.PeerAddr = node.Addr{Host: "192.0.2.2"}
			},
			outcome: OutcomeFailed, errText: `address "192.0.2.2:0"`, attempts: 3,
			steps: []string{"pause-local-writes", "!follow-peer", "pause-local-writes", "!follow-peer", "pause-local-writes", "!follow-peer"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("ReplicaOf") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "kill-clients fails: decided again from fresh facts, which find local following",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.fail("KillNormalClients", 1, errBoom)
			},
			outcome: OutcomeOK, decision: "already-following", attempts: 2,
			steps: []string{"pause-local-writes", "follow-peer", "!kill-clients"},
			check: func(t *testing.T, g *rig, rec Record) {
				if g.local.n("ReplicaOf") != 1 {
					t.Errorf("local calls = %v, want one REPLICAOF", g.local.log())
				}
				// Before is the snapshot the last decision was made from.
				if rec.Before.Local == nil || rec.Before.Local.Role != node.RoleReplica {
					t.Errorf("before = %+v, want local as the replica the second attempt saw", rec.Before)
				}
			},
		},
		{
			name: "config-rewrite fails: recorded; the next decision finds local following",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.fail("ConfigRewrite", 0, errBoom)
			},
			outcome: OutcomeOK, decision: "already-following", attempts: 2,
			steps: []string{"pause-local-writes", "follow-peer", "kill-clients", "!config-rewrite"},
		},
		{
			name: "the peer dies during the transition: the after snapshot says so",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.on("KillNormalClients", 1, func() { g.peer.set(func(f *fakeRedis) { f.down = true }) })
				// Facts calls on local: the plan, follow-peer's re-read under
				// the pause, config-rewrite's, then the after snapshot.
				g.local.fail("Facts", 4, errors.New("LOADING"))
			},
			outcome: OutcomeOK, decision: "follow", attempts: 1,
			steps: []string{"pause-local-writes", "follow-peer", "kill-clients", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if rec.After.Peer != nil || !strings.Contains(rec.After.PeerError, "unreachable") {
					t.Errorf("after = %+v, want the peer's error", rec.After)
				}
				if rec.After.Local != nil || rec.After.LocalErr != "LOADING" {
					t.Errorf("after = %+v, want local's error", rec.After)
				}
			},
		},
		{
			name: "wait-in-sync and failover: S2 with a 6.2+ peer hands the master role over",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.configFile = ""
			},
			outcome: OutcomeOK, decision: "sync-then-promote", attempts: 1,
			steps: []string{"wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if c := g.peer.log(); !hasCall(c, "FailoverTo 192.0.2.1:6379") || g.peer.n("FailoverAbort") != 0 {
					t.Errorf("peer calls = %v, want FAILOVER TO local", c)
				}
				tookOver(t, g)
				want := "FAILOVER TO 192.0.2.1:6379; peer shed 3 clients; peer skipped: server runs without a config file"
				if rec.Steps[1].Detail != want {
					t.Errorf("failover detail = %q, want %q", rec.Steps[1].Detail, want)
				}
				if rec.Steps[0].Detail != "in sync at offset 100" {
					t.Errorf("wait-in-sync detail = %q", rec.Steps[0].Detail)
				}
				if g.local.n("PromoteNoOne") != 0 {
					t.Errorf("local promoted itself besides FAILOVER: %v", g.local.log())
				}
				if h, _ := g.r.State.ReadHoldoff(); !h.Until.IsZero() {
					t.Errorf("holdoff = %+v", h)
				}
			},
		},
		{
			name: "follow-peer, wait-in-sync, failover: a master behind a live master syncs before it promotes",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.peer.offset, g.peer.keys = 200, 20
			},
			outcome: OutcomeOK, decision: "sync-then-promote",
			steps: []string{"pause-local-writes", "follow-peer", "wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if role, _, _, keys := g.local.state(); role != node.RoleMaster || keys != 20 {
					t.Errorf("local is %s with %d keys, want master with the peer's 20", role, keys)
				}
				if role, _, _, keys := g.peer.state(); role != node.RoleReplica || keys != 20 {
					t.Errorf("peer is %s with %d keys", role, keys)
				}
			},
		},
		{
			name: "FAILOVER TO the address the peer knows local by",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.local.seenAs = "10.0.0.1:6379"
			},
			outcome: OutcomeOK, decision: "sync-then-promote",
			steps: []string{"wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if c := g.peer.log(); !hasCall(c, "FailoverTo 10.0.0.1:6379") {
					t.Errorf("peer calls = %v, want FAILOVER TO the replica's address in its list", c)
				}
			},
		},
		{
			name: "a replica its master lists at port 0 is handed over by pause, not FAILOVER TO",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.local.seenAs = "192.0.2.1:0"
			},
			outcome: OutcomeOK, decision: "sync-then-promote", attempts: 1,
			steps: []string{"wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if c := g.peer.log(); g.peer.n("FailoverTo") != 0 || !hasCall(c, "PauseWrites") {
					t.Errorf("peer calls = %v, want a pause and no FAILOVER TO", c)
				}
				tookOver(t, g)
				if d := rec.Steps[1].Detail; !strings.Contains(d, "lists no replica at 192.0.2.1:6379, pause handover instead of FAILOVER TO: paused") {
					t.Errorf("failover detail = %q", d)
				}
			},
		},
		{
			name: "wait-in-sync times out: local not promoted, sync-timeout, hold-off, not retried (S2)",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.local.linkAfter = -1
				g.r.Opts.SyncTimeout = 30 * time.Millisecond
			},
			outcome: OutcomeSyncTimeout, err: ErrSyncTimeout, attempts: 1,
			steps: []string{"!wait-in-sync"},
			check: func(t *testing.T, g *rig, rec Record) {
				if g.local.n("PromoteNoOne")+g.peer.n("FailoverTo")+g.peer.n("PauseWrites") != 0 {
					t.Errorf("acted after the timeout: %v %v", g.local.log(), g.peer.log())
				}
				if role, _, _, _ := g.local.state(); role != node.RoleReplica {
					t.Errorf("local is %s, want still a replica", role)
				}
				h, err := g.r.State.ReadHoldoff()
				if err != nil || !h.Active(time.Now()) || h.Active(time.Now().Add(2*time.Minute)) {
					t.Errorf("holdoff = %+v, %v; want one active for about a minute", h, err)
				}
				if !strings.Contains(rec.Steps[0].Detail, "link=down") {
					t.Errorf("wait-in-sync detail = %q, want the last facts", rec.Steps[0].Detail)
				}
			},
		},
		{
			name: "FAILOVER aborted by the peer: FailoverAbort sent, decided again, handed over the second time",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.abortFailover = 1
			},
			outcome: OutcomeOK, decision: "sync-then-promote", attempts: 2,
			steps: []string{"wait-in-sync", "!failover", "wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if !strings.Contains(rec.Steps[1].Error, ErrHandoverAborted.Error()) {
					t.Errorf("failed failover error = %q", rec.Steps[1].Error)
				}
				if g.peer.n("FailoverAbort") != 1 || g.peer.n("FailoverTo") != 2 {
					t.Errorf("peer calls = %v", g.peer.log())
				}
				if role, _, _, _ := g.local.state(); role != node.RoleMaster {
					t.Errorf("local is %s", role)
				}
			},
		},
		{
			name: "FAILOVER aborted every time: failed with ErrHandoverAborted after 3 attempts",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.abortFailover = 99
			},
			outcome: OutcomeFailed, err: ErrHandoverAborted, attempts: 3,
			steps: []string{"wait-in-sync", "!failover", "wait-in-sync", "!failover", "wait-in-sync", "!failover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverAbort") != 3 {
					t.Errorf("peer calls = %v, want 3 FAILOVER ABORT", g.peer.log())
				}
				if role, _, _, _ := g.local.state(); role != node.RoleReplica {
					t.Errorf("local is %s, want still a replica", role)
				}
			},
		},
		{
			name: "FAILOVER refused by the peer",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.fail("FailoverTo", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step failover: ERR injected", attempts: 3,
			steps: []string{"wait-in-sync", "!failover", "wait-in-sync", "!failover", "wait-in-sync", "!failover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverAbort") != 0 {
					t.Errorf("aborted a FAILOVER never started: %v", g.peer.log())
				}
			},
		},
		{
			name: "FAILOVER: the peer cannot be read once; decided again",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.fail("Facts", 2, errors.New("BUSY"))
			},
			outcome: OutcomeOK, attempts: 2,
			steps: []string{"wait-in-sync", "!failover", "wait-in-sync", "failover", "config-rewrite"},
		},
		{
			name: "FAILOVER does not finish in time: aborted, sync-timeout",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.failoverAfter = 1 << 30
				g.r.Opts.SyncTimeout = 50 * time.Millisecond
			},
			outcome: OutcomeSyncTimeout, err: ErrSyncTimeout, attempts: 1,
			steps: []string{"wait-in-sync", "!failover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverAbort") != 1 {
					t.Errorf("peer calls = %v, want FAILOVER ABORT", g.peer.log())
				}
				g.peer.set(func(f *fakeRedis) {
					if f.failoverState != "no-failover" || f.role != node.RoleMaster {
						t.Errorf("peer left %s in %s", f.role, f.failoverState)
					}
				})
			},
		},
		{
			name: "FAILOVER with no time left is not started",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.r.Opts.SyncTimeout = 5 * time.Millisecond
			},
			outcome: OutcomeSyncTimeout, err: ErrSyncTimeout, errText: "no time left", attempts: 1,
			steps: []string{"wait-in-sync", "!failover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverTo") != 0 {
					t.Errorf("peer calls = %v", g.peer.log())
				}
			},
		},
		{
			name: "pause-handover: S2 with a peer older than 6.2",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.version = ver60
				g.local.offset, g.peer.offset = 200, 200
			},
			outcome: OutcomeOK, decision: "sync-then-promote", attempts: 1,
			steps: []string{"wait-in-sync", "pause-handover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				c := g.peer.log()
				p, f, u := callIndex(c, "PauseWrites"), callIndex(c, "ReplicaOf 192.0.2.1:6379"), callIndex(c, "Unpause")
				if p < 0 || f < p || u < f {
					t.Errorf("peer calls = %v, want pause, follow local, unpause", c)
				}
				if _, _, paused, _ := g.peer.state(); paused {
					t.Error("peer left paused")
				}
				g.peer.set(func(f *fakeRedis) {
					if f.pausedFor <= 0 || f.pausedFor > 2*time.Second {
						t.Errorf("peer paused for %s, want up to the sync timeout", f.pausedFor)
					}
				})
				if g.local.n("PromoteNoOne") != 1 {
					t.Errorf("local calls = %v", g.local.log())
				}
				if role, master, _, _ := g.peer.state(); role != node.RoleReplica || master != addrL {
					t.Errorf("peer is %s of %q", role, master)
				}
				if !strings.HasPrefix(rec.Steps[1].Detail, "paused 192.0.2.2:6379 at offset 200; promoted 192.0.2.1:6379; peer shed 3 clients") {
					t.Errorf("detail = %q", rec.Steps[1].Detail)
				}
			},
		},
		{
			name: "hand-over-to-peer: local still master after the wait hands over to its in-sync replica with FAILOVER",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.follow(addrL, true)
			},
			outcome: OutcomeOK, decision: "hand-over-to-peer", attempts: 1,
			steps: []string{"hand-over-to-peer", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if c := g.local.log(); !hasCall(c, "FailoverTo 192.0.2.2:6379") {
					t.Errorf("local calls = %v, want FAILOVER TO peer", c)
				}
				if role, master, _, _ := g.local.state(); role != node.RoleReplica || master != addrP {
					t.Errorf("local is %s of %q", role, master)
				}
				if g.local.n("KillNormalClients") != 1 {
					t.Errorf("demoted local kept its clients: %v", g.local.log())
				}
				if role, _, _, _ := g.peer.state(); role != node.RoleMaster {
					t.Errorf("peer is %s", role)
				}
			},
		},
		{
			name: "hand-over-to-peer refused by local",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.follow(addrL, true)
				g.local.fail("FailoverTo", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step hand-over-to-peer", attempts: 3,
			steps: []string{"!hand-over-to-peer", "!hand-over-to-peer", "!hand-over-to-peer"},
		},
		{
			name: "pause-hand-over-to-peer: the same with the pause handover",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.follow(addrL, true)
				g.r.Opts.Handover = HandoverPause
			},
			outcome: OutcomeOK, decision: "hand-over-to-peer", attempts: 1,
			steps: []string{"pause-hand-over-to-peer", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				c := g.local.log()
				p, f, u := callIndex(c, "PauseWrites"), callIndex(c, "ReplicaOf 192.0.2.2:6379"), callIndex(c, "Unpause")
				if p < 0 || f < p || u < f {
					t.Errorf("local calls = %v, want pause, follow peer, unpause", c)
				}
				if g.peer.n("PromoteNoOne") != 1 {
					t.Errorf("peer calls = %v", g.peer.log())
				}
				if role, _, paused, _ := g.local.state(); role != node.RoleReplica || paused {
					t.Errorf("local is %s, paused %v", role, paused)
				}
			},
		},
		{
			name: "pause-hand-over-to-peer: the peer cannot be promoted, local unpaused each time",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.follow(addrL, true)
				g.r.Opts.Handover = HandoverPause
				g.peer.fail("PromoteNoOne", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step pause-hand-over-to-peer", attempts: 3,
			steps: []string{"!pause-hand-over-to-peer", "!pause-hand-over-to-peer", "!pause-hand-over-to-peer"},
			check: func(t *testing.T, g *rig, _ Record) {
				if role, _, paused, _ := g.local.state(); role != node.RoleMaster || paused {
					t.Errorf("local is %s, paused %v", role, paused)
				}
				if g.local.n("PauseWrites") != 3 || g.local.n("Unpause") != 3 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "promote: peer unreachable, a replica promotes at once (S3)",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
			},
			outcome: OutcomeOK, decision: "promote-alone", attempts: 1,
			steps: []string{"promote", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if role, _, _, _ := g.local.state(); role != node.RoleMaster {
					t.Errorf("local is %s", role)
				}
				if rec.Before.PeerAnswered || !strings.Contains(rec.Before.PeerError, "unreachable") {
					t.Errorf("before = %+v", rec.Before)
				}
				// A dead peer is not dialled again for the journal.
				if g.peer.n("Facts") != 1 || !strings.Contains(rec.After.PeerError, "not read again") {
					t.Errorf("peer read %d times; after = %+v", g.peer.n("Facts"), rec.After)
				}
			},
		},
		{
			name: "promote fails every time",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				g.local.fail("PromoteNoOne", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step promote", attempts: 3,
			steps: []string{"!promote", "!promote", "!promote"},
		},
		{
			name: "config-rewrite after promote cannot read local: recorded; the next decision keeps the master",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.down = true
				g.local.fail("Facts", 2, errors.New("LOADING"))
			},
			outcome: OutcomeOK, decision: "keep-master", attempts: 2,
			steps: []string{"promote", "!config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("ConfigRewrite") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "a stale replica is not promoted alone (S10)",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.local.linkDown = 600
				g.peer.down = true
				g.r.Opts.MaxLinkDown = time.Minute
			},
			outcome: OutcomeRefused, err: ErrRefused, decision: "refuse-stale", attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("PromoteNoOne") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "promote-peer: two replicas of each other, the peer becomes master",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.follow(addrL, false)
			},
			outcome: OutcomeOK, decision: "break-loop", attempts: 1,
			steps: []string{"promote-peer"},
			check: func(t *testing.T, g *rig, _ Record) {
				if role, _, _, _ := g.peer.state(); role != node.RoleMaster || g.local.n("PromoteNoOne") != 0 {
					t.Errorf("peer is %s; local calls %v", role, g.local.log())
				}
			},
		},
		{
			name: "promote-peer fails",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.follow(addrL, false)
				g.peer.fail("PromoteNoOne", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step promote-peer", attempts: 3,
			steps: []string{"!promote-peer", "!promote-peer", "!promote-peer"},
		},
		{
			name: "promote-peer, follow, sync, failover: local restarted empty while its replica holds the data (S5)",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.replID, g.local.offset, g.local.keys = histC, 0, 0
				g.peer.follow(addrL, false)
				g.peer.linkAfter = -1
				g.peer.offset = 500
			},
			outcome: OutcomeOK, decision: "promote-peer-then-sync", attempts: 1,
			steps: []string{"promote-peer", "pause-local-writes", "follow-peer", "wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if role, _, _, keys := g.local.state(); role != node.RoleMaster || keys != 10 {
					t.Errorf("local is %s with %d keys, want master with the peer's 10", role, keys)
				}
				if role, master, _, keys := g.peer.state(); role != node.RoleReplica || master != addrL || keys != 10 {
					t.Errorf("peer is %s of %q with %d keys", role, master, keys)
				}
			},
		},
		{
			name: "pause-peer-writes: an old master promoted from local's history that took no writes is refused and paused (S1, S11)",
			ev:   EventBackup,
			setup: func(g *rig) {
				forkedPair(g)
			},
			outcome: OutcomeRefused, err: ErrRefused, decision: "refuse", attempts: 1,
			steps: []string{"pause-peer-writes"},
			check: func(t *testing.T, g *rig, rec Record) {
				if _, _, paused, _ := g.peer.state(); !paused {
					t.Error("peer not paused")
				}
				g.peer.set(func(f *fakeRedis) {
					if f.pausedFor != 2*time.Second {
						t.Errorf("peer paused for %s, want the sync timeout", f.pausedFor)
					}
				})
				if g.local.n("ReplicaOf") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
				// S11: the streams since the fork were read, once each, and kept.
				b := rec.Before
				if b.LocalStream == nil || b.LocalStream.Writes != node.WritesSome || b.PeerStream == nil || b.PeerStream.Writes != node.WritesNone {
					t.Errorf("before streams = %+v %+v", b.LocalStream, b.PeerStream)
				}
				g.local.set(func(f *fakeRedis) {
					if !reflect.DeepEqual(f.streamsAt, []int64{501}) {
						t.Errorf("local stream read from %v, want [501]", f.streamsAt)
					}
				})
				g.peer.set(func(f *fakeRedis) {
					if !reflect.DeepEqual(f.streamsAt, []int64{501}) {
						t.Errorf("peer stream read from %v, want [501]", f.streamsAt)
					}
				})
			},
		},
		{
			name: "pause-peer-writes fails; the streams are read once for all attempts",
			ev:   EventBackup,
			setup: func(g *rig) {
				forkedPair(g)
				g.peer.fail("PauseWrites", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step pause-peer-writes", attempts: 3,
			steps: []string{"!pause-peer-writes", "!pause-peer-writes", "!pause-peer-writes"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("StreamSince") != 1 || g.peer.n("StreamSince") != 1 {
					t.Errorf("streams read %d and %d times, want once each", g.local.n("StreamSince"), g.peer.n("StreamSince"))
				}
			},
		},
		{
			name: "a stream that cannot be read counts as writes (S11): refused, nothing done",
			ev:   EventBackup,
			setup: func(g *rig) {
				forkedPair(g)
				g.local.streamErr = fmt.Errorf("%w: backlog starts at 900", node.ErrNoHistory)
			},
			outcome: OutcomeRefused, err: ErrRefused, decision: "refuse", attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, rec Record) {
				if s := rec.Before.LocalStream; s == nil || s.Writes != node.WritesUnknown || !strings.Contains(s.Why, "backlog starts at 900") || s.From != 501 {
					t.Errorf("local stream = %+v", s)
				}
				if g.peer.n("PauseWrites") != 0 {
					t.Errorf("peer calls = %v", g.peer.log())
				}
			},
		},
		{
			name: "pause-local-writes, backup, follow: diverged with backup-and-follow (S6)",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
			},
			outcome: OutcomeOK, decision: "backup-and-follow", attempts: 1,
			steps: []string{"pause-local-writes", "backup", "follow-peer", "kill-clients", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				saved := g.backups.calls()
				if len(saved) != 1 || saved[0].ReplID != histA || saved[0].ReplOffset != 100 || saved[0].Keys != 10 {
					t.Errorf("backups = %+v, want local's dataset before the follow", saved)
				}
				c := g.local.log()
				p, f, u := callIndex(c, "PauseWrites"), callIndex(c, "ReplicaOf 192.0.2.2:6379"), callIndex(c, "Unpause")
				if p < 0 || f < p || u != f+1 {
					t.Errorf("local calls = %v, want pause, follow, and unpause right after the follow", c)
				}
				if _, _, paused, keys := g.local.state(); paused || keys != 20 {
					t.Errorf("local paused %v with %d keys", paused, keys)
				}
				if g.r.localPaused {
					t.Error("runner still thinks local is paused")
				}
				if !strings.HasPrefix(rec.Steps[1].Detail, "/var/backups/redis/") {
					t.Errorf("backup detail = %q, want the path", rec.Steps[1].Detail)
				}
			},
		},
		{
			name: "backup fails: local unpaused, never follows, retried",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
				g.backups.errs[0] = errors.New("backup did not verify")
			},
			outcome: OutcomeFailed, errText: "step backup: backup did not verify", attempts: 3,
			steps: []string{"pause-local-writes", "!backup", "pause-local-writes", "!backup", "pause-local-writes", "!backup"},
			check: func(t *testing.T, g *rig, _ Record) {
				if _, _, paused, keys := g.local.state(); paused || keys != 10 {
					t.Errorf("local paused %v with %d keys", paused, keys)
				}
				if g.local.n("ReplicaOf") != 0 || g.local.n("PauseWrites") != 3 || g.local.n("Unpause") != 3 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "pause-local-writes fails: no backup, no follow",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
				g.local.fail("PauseWrites", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "pause local writes for the backup", attempts: 3,
			steps: []string{"!pause-local-writes", "!pause-local-writes", "!pause-local-writes"},
			check: func(t *testing.T, g *rig, _ Record) {
				if len(g.backups.calls()) != 0 || g.local.n("ReplicaOf") != 0 || g.local.n("Unpause") != 0 {
					t.Errorf("local calls = %v; backups %d", g.local.log(), len(g.backups.calls()))
				}
			},
		},
		{
			name: "follow-peer fails after the backup: local unpaused",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
				g.local.fail("ReplicaOf", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step follow-peer", attempts: 3,
			steps: []string{"pause-local-writes", "backup", "!follow-peer", "pause-local-writes", "backup", "!follow-peer",
				"pause-local-writes", "backup", "!follow-peer"},
			check: func(t *testing.T, g *rig, _ Record) {
				if _, _, paused, _ := g.local.state(); paused || g.local.n("Unpause") != 3 {
					t.Errorf("local paused %v; calls %v", paused, g.local.log())
				}
			},
		},
		{
			name: "a writable replica holding data is backed up before it follows (S6)",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow("192.0.2.3:6379", false)
				g.local.writable = true
				g.peer.offset = 200
				g.backups.hook = func() {
					if g.local.n("ReplicaOf") != 0 {
						g.t.Error("backup after the follow")
					}
				}
			},
			outcome: OutcomeOK, decision: "follow", attempts: 1,
			steps: []string{"replica-read-only", "backup", "follow-peer", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if saved := g.backups.calls(); len(saved) != 1 || saved[0].Role != node.RoleReplica || saved[0].Keys != 10 {
					t.Errorf("backups = %+v", saved)
				}
				if g.local.n("ConfigGet") != 1 || g.local.n("PauseWrites") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "a read-only replica follows without a backup",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow("192.0.2.3:6379", false)
				g.peer.offset = 200
			},
			outcome: OutcomeOK, decision: "follow", attempts: 1,
			steps: []string{"follow-peer", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if len(g.backups.calls()) != 0 || g.local.n("ConfigGet") != 1 {
					t.Errorf("backups %d; local calls %v", len(g.backups.calls()), g.local.log())
				}
			},
		},
		{
			name: "replica-read-only cannot be read: taken as writable, backed up first (S6)",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow("192.0.2.3:6379", false)
				g.local.writable = true
				g.local.fail("ConfigGet", 0, errors.New("ERR unknown command 'CONFIG'"))
				g.peer.offset = 200
			},
			outcome: OutcomeOK, decision: "follow", attempts: 1,
			steps: []string{"replica-read-only", "backup", "follow-peer", "config-rewrite"},
		},
		{
			name: "the demoted peer cannot shed clients nor persist its role: said so, not fatal (its own hook does it)",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.fail("KillNormalClients", 0, errBoom)
				g.peer.fail("ConfigRewrite", 0, errBoom)
			},
			outcome: OutcomeOK, attempts: 1,
			steps: []string{"wait-in-sync", "failover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				want := "FAILOVER TO 192.0.2.1:6379; peer client kill failed: ERR injected; peer config rewrite failed: ERR injected"
				if rec.Steps[1].Detail != want {
					t.Errorf("detail = %q, want %q", rec.Steps[1].Detail, want)
				}
			},
		},
		{
			name: "local cannot be unpaused after the follow: logged, the follow stands",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
				g.local.fail("Unpause", 0, errBoom)
			},
			outcome: OutcomeOK, decision: "backup-and-follow", attempts: 1,
			steps: []string{"pause-local-writes", "backup", "follow-peer", "kill-clients", "config-rewrite"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.logs.FilterMessage("unpause local writes").Len() != 1 || g.local.n("Unpause") != 1 || g.r.localPaused {
					t.Errorf("unpause attempts %d, logged %d", g.local.n("Unpause"), g.logs.FilterMessage("unpause local writes").Len())
				}
			},
		},
		{
			name:    "stop: recorded, nothing changed",
			ev:      EventStop,
			outcome: OutcomeOK, decision: "record", attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, _ Record) {
				for _, f := range []*fakeRedis{g.local, g.peer} {
					for _, c := range f.log() {
						if c != "Facts" {
							t.Errorf("%s got %s", f.addr, c)
						}
					}
				}
			},
		},
	})
}

// forkedPair: the peer was promoted from local's history at offset 500 and
// took no writes since (its stream holds none), while local, the old master,
// went on with writes.
func forkedPair(g *rig) {
	g.local.offset = 1000
	g.local.stream = node.Stream{Writes: node.WritesSome, Commands: 3, First: "SET"}
	g.peer.replID, g.peer.replID2, g.peer.secondOffset, g.peer.offset = histB, histA, 501, 600
	g.peer.stream = node.Stream{Writes: node.WritesNone, Commands: 10}
}

// divergedPair: two masters with unrelated histories, and on_diverged =
// backup-and-follow.
func divergedPair(g *rig) {
	g.peer.replID, g.peer.offset, g.peer.keys = histB, 200, 20
	g.r.Opts.FollowDiverged = true
}

// The pause handover unpauses the master on every failure path, and never
// leaves it paused.
func TestRunPauseHandoverUnpausesOnFailure(t *testing.T) {
	base := func(g *rig) {
		g.local.follow(addrP, true)
		g.peer.version = ver60
	}
	runCases(t, []runCase{
		{
			name: "the pause itself fails",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.peer.fail("PauseWrites", 0, errBoom)
			},
			outcome: OutcomeFailed, errText: "step pause-handover", attempts: 3,
			steps: []string{"wait-in-sync", "!pause-handover", "wait-in-sync", "!pause-handover", "wait-in-sync", "!pause-handover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("PromoteNoOne") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "the master cannot be read after the pause",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.peer.fail("Facts", 2, errors.New("BUSY"))
			},
			outcome: OutcomeOK, attempts: 2,
			steps: []string{"wait-in-sync", "!pause-handover", "wait-in-sync", "pause-handover", "config-rewrite"},
		},
		{
			name: "local never catches up: sync-timeout, not promoted",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.peer.offset = 200
				g.local.frozen = true
				g.r.Opts.SyncTimeout = 40 * time.Millisecond
			},
			outcome: OutcomeSyncTimeout, err: ErrSyncTimeout, attempts: 1,
			steps: []string{"wait-in-sync", "!pause-handover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("PromoteNoOne") != 0 {
					t.Errorf("local calls = %v", g.local.log())
				}
			},
		},
		{
			name: "local cannot be promoted once",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.local.fail("PromoteNoOne", 1, errBoom)
			},
			outcome: OutcomeOK, attempts: 2,
			steps: []string{"wait-in-sync", "!pause-handover", "wait-in-sync", "pause-handover", "config-rewrite"},
		},
		{
			name: "the old master does not follow once: said so, decided again",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.peer.fail("ReplicaOf", 1, errBoom)
			},
			outcome: OutcomeOK, attempts: 2,
			steps: []string{"wait-in-sync", "!pause-handover", "pause-local-writes", "follow-peer", "wait-in-sync", "pause-handover", "config-rewrite"},
			check: func(t *testing.T, g *rig, rec Record) {
				if e := rec.Steps[1].Error; !strings.Contains(e, "192.0.2.1:6379 promoted at offset 100, but 192.0.2.2:6379 did not follow") {
					t.Errorf("error = %q", e)
				}
			},
		},
		{
			name: "superseded while waiting for the offsets",
			ev:   EventMaster,
			setup: func(g *rig) {
				base(g)
				g.local.frozen = true
				g.peer.offset = 200
				g.local.on("Facts", 4, func() { enqueue(g, EventBackup) })
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"wait-in-sync", "!pause-handover"},
		},
	})
	// Checked apart so that each case above also asserts it.
	for _, c := range []struct {
		name  string
		setup func(g *rig)
	}{
		{"pause fails", func(g *rig) { base(g); g.peer.fail("PauseWrites", 0, errBoom) }},
		{"facts fail", func(g *rig) { base(g); g.peer.fail("Facts", 2, errBoom) }},
		{"timeout", func(g *rig) {
			base(g)
			g.peer.offset, g.local.frozen, g.r.Opts.SyncTimeout = 200, true, 40*time.Millisecond
		}},
		{"promote fails", func(g *rig) { base(g); g.local.fail("PromoteNoOne", 0, errBoom) }},
		{"follow fails", func(g *rig) { base(g); g.peer.fail("ReplicaOf", 0, errBoom) }},
		{"bad announce", func(g *rig) { base(g); g.r.LocalAnnounce = node.Addr{Host: "192.0.2.1"} }},
	} {
		t.Run("unpaused/"+c.name, func(t *testing.T) {
			g := newRig(t)
			c.setup(g)
			if _, err := g.run(EventMaster); err == nil && c.name != "facts fail" {
				t.Fatal("no error")
			}
			if _, _, paused, _ := g.peer.state(); paused {
				t.Errorf("peer left paused: %v", g.peer.log())
			}
			pauses := g.peer.n("PauseWrites")
			if c.name == "pause fails" {
				pauses = 0
			}
			if g.peer.n("Unpause") != pauses {
				t.Errorf("%d pauses, %d unpauses: %v", pauses, g.peer.n("Unpause"), g.peer.log())
			}
		})
	}
}

// S2: the pause handover promotes the replica and makes the old master
// follow it only while the old master's writes are still paused: a write it
// acknowledged after the pause ran out would be discarded by its resync.
func TestRunPauseHandoverPromotesOnlyUnderThePause(t *testing.T) {
	g := newRig(t)
	g.local.follow(addrP, true)
	g.local.frozen = true
	g.peer.version = ver60
	g.peer.offset = 200
	g.r.Opts.SyncTimeout = 40 * time.Millisecond
	// Local catches up only on the last poll, when the pause has run out.
	g.local.on("Facts", 3, func() {
		time.Sleep(60 * time.Millisecond)
		g.local.set(func(f *fakeRedis) { f.frozen = false })
	})
	promotedUnpaused := false
	g.local.on("PromoteNoOne", 0, func() { promotedUnpaused = promotedUnpaused || !g.peer.pauseHolds() })
	g.peer.on("ReplicaOf", 0, func() { promotedUnpaused = promotedUnpaused || !g.peer.pauseHolds() })
	rec, err := g.run(EventMaster)
	if promotedUnpaused {
		t.Errorf("local promoted / peer made to follow after the peer's pause ran out: local %v, peer %v", g.local.log(), g.peer.log())
	}
	if rec.Outcome != OutcomeSyncTimeout || !errors.Is(err, ErrSyncTimeout) {
		t.Errorf("Run = %q, %v; want sync-timeout", rec.Outcome, err)
	}
	if role, _, _, _ := g.local.state(); role != node.RoleReplica {
		t.Errorf("local is %s, want still a replica", role)
	}
	if _, _, paused, _ := g.peer.state(); paused {
		t.Error("peer left paused")
	}
}

// enqueue records a newer event, as a hook run by keepalived meanwhile would.
func enqueue(g *rig, ev Event) {
	if _, err := g.r.State.Enqueue(ev, "", time.Now()); err != nil {
		g.t.Error(err)
	}
}

// S4: a newer event stops a transition at its next step.
func TestRunSuperseded(t *testing.T) {
	runCases(t, []runCase{
		{
			name: "between steps",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.offset = 200
				g.local.on("ReplicaOf", 1, func() { enqueue(g, EventMaster) })
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"pause-local-writes", "follow-peer"},
			check: func(t *testing.T, g *rig, rec Record) {
				if g.local.n("KillNormalClients")+g.local.n("ConfigRewrite") != 0 {
					t.Errorf("went on after the newer event: %v", g.local.log())
				}
				if rec.Seq != 1 {
					t.Errorf("seq = %d", rec.Seq)
				}
			},
		},
		{
			name: "while the plan waits for the peer",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.fail("Facts", 0, errors.New("LOADING Redis is loading the dataset in memory"))
				g.r.Opts.PeerWait = time.Minute
				g.local.on("Facts", 3, func() { enqueue(g, EventBackup) })
			},
			outcome: OutcomeSuperseded, steps: []string{},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("Facts") != 3 {
					t.Errorf("local read %d times after the newer event", g.local.n("Facts"))
				}
			},
		},
		{
			name: "while waiting in sync: not a sync timeout, no hold-off, not retried",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.local.linkAfter = -1
				g.local.on("Facts", 3, func() { enqueue(g, EventBackup) })
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"!wait-in-sync"},
			check: func(t *testing.T, g *rig, _ Record) {
				if h, _ := g.r.State.ReadHoldoff(); !h.Until.IsZero() {
					t.Errorf("holdoff = %+v", h)
				}
			},
		},
		{
			name: "during a FAILOVER: aborted",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, true)
				g.peer.failoverAfter = 1 << 30
				g.peer.on("FailoverTo", 1, func() { enqueue(g, EventBackup) })
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"wait-in-sync", "!failover"},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.peer.n("FailoverAbort") != 1 {
					t.Errorf("peer calls = %v", g.peer.log())
				}
			},
		},
		{
			name: "after a writable replica was made read-only: its backup is still taken (seed 5023)",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.follow("192.0.2.3:6379", false)
				g.local.writable = true
				g.peer.offset = 200
				g.local.on("ConfigSet", 1, func() { enqueue(g, EventMaster) })
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"replica-read-only", "backup"},
			check: func(t *testing.T, g *rig, _ Record) {
				if saved := g.backups.calls(); len(saved) != 1 {
					t.Errorf("backups = %+v, want the one owed to the writable replica", saved)
				}
				if g.local.n("ReplicaOf") != 0 {
					t.Errorf("followed after the newer event: %v", g.local.log())
				}
			},
		},
		{
			name: "after the backup of a paused master: local unpaused, not followed",
			ev:   EventBackup,
			setup: func(g *rig) {
				divergedPair(g)
				g.backups.hook = func() { enqueue(g, EventMaster) }
			},
			outcome: OutcomeSuperseded, attempts: 1,
			steps: []string{"pause-local-writes", "backup"},
			check: func(t *testing.T, g *rig, _ Record) {
				if _, _, paused, _ := g.local.state(); paused || g.local.n("ReplicaOf") != 0 {
					t.Errorf("local paused %v; calls %v", paused, g.local.log())
				}
			},
		},
	})
}

// S4: a transition waiting for the lock gives up when a newer event comes.
func TestRunSupersededWhileWaitingForTheLock(t *testing.T) {
	g := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := g.r.State.Enqueue(EventBackup, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lock, err := g.r.State.Acquire(ctx, held, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	type result struct {
		rec Record
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := g.r.Run(ctx, EventMaster, "test")
		done <- result{rec, err}
	}()
	waitFor(t, func() bool { n, _ := g.r.State.Newest(); return n.Seq == 2 })
	select {
	case <-done:
		t.Fatal("Run did not wait for the lock")
	case <-time.After(20 * time.Millisecond):
	}
	enqueue(g, EventBackup)
	var res result
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waiting after a newer event")
	}
	if res.err != nil || res.rec.Outcome != OutcomeSuperseded || res.rec.Seq != 2 || res.rec.Plan != nil {
		t.Errorf("Run = %+v, %v; want superseded before deciding", res.rec, res.err)
	}
	if g.local.n("Facts")+g.peer.n("Facts") != 0 {
		t.Errorf("servers read: %v %v", g.local.log(), g.peer.log())
	}
	if recs := g.journal(); len(recs) != 1 || recs[0].Outcome != OutcomeSuperseded {
		t.Errorf("journal = %+v", recs)
	}
}

// A transition whose bound ends while another holds the lock fails with
// ErrLockTimeout, and says so in the journal.
func TestRunLockTimeout(t *testing.T) {
	g := newRig(t)
	held, _ := g.r.State.Enqueue(EventBackup, "", time.Now())
	lock, err := g.r.State.TryAcquire(held)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	rec, err := g.r.Run(ctx, EventMaster, "test")
	if !errors.Is(err, ErrLockTimeout) || rec.Outcome != OutcomeFailed {
		t.Errorf("Run = %q, %v; want failed with ErrLockTimeout", rec.Outcome, err)
	}
	if recs := g.journal(); len(recs) != 1 || recs[0].Outcome != OutcomeFailed || !strings.Contains(recs[0].Error, "lock") {
		t.Errorf("journal = %+v", recs)
	}
	if g.local.n("Facts") != 0 {
		t.Errorf("local read without the lock: %v", g.local.log())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached in 5s")
}

// Cancellation ends a transition at once and is not retried.
func TestRunCanceledIsNotRetried(t *testing.T) {
	g := newRig(t)
	g.local.follow(addrP, false)
	g.local.linkAfter = -1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.local.on("Facts", 3, cancel)
	rec, err := g.r.Run(ctx, EventMaster, "test")
	if !errors.Is(err, context.Canceled) || rec.Outcome != OutcomeFailed || rec.Attempts != 1 {
		t.Errorf("Run = %q after %d attempts, %v; want failed, canceled, once", rec.Outcome, rec.Attempts, err)
	}
	if h, _ := g.r.State.ReadHoldoff(); !h.Until.IsZero() {
		t.Errorf("holdoff written on cancellation: %+v", h)
	}
	if got := stepNames(rec.Steps); !reflect.DeepEqual(got, []string{"!wait-in-sync"}) {
		t.Errorf("steps = %v", got)
	}
}

// S2: a sync timeout holds check off; a later master event that succeeds
// clears it, a backup event does not.
func TestRunSyncTimeoutHoldoffClearedByMaster(t *testing.T) {
	g := newRig(t)
	g.local.follow(addrP, false)
	g.local.linkAfter = -1
	g.r.Opts.SyncTimeout = 30 * time.Millisecond
	if rec, err := g.run(EventMaster); rec.Outcome != OutcomeSyncTimeout || !errors.Is(err, ErrSyncTimeout) {
		t.Fatalf("first run = %q, %v", rec.Outcome, err)
	}
	h, err := g.r.State.ReadHoldoff()
	if err != nil || !h.Active(time.Now()) || !strings.Contains(h.Reason, "the peer holds the data") {
		t.Fatalf("holdoff = %+v, %v", h, err)
	}
	// While it holds, reconcile leaves the pair alone.
	before := g.local.n("Facts")
	if _, acted, err := g.r.Reconcile(context.Background()); acted || err != nil || g.local.n("Facts") != before {
		t.Errorf("reconcile during the hold-off: acted %v, %v, local read %d times", acted, err, g.local.n("Facts")-before)
	}
	// The link comes up; a backup event (already following) keeps the hold-off.
	g.local.set(func(f *fakeRedis) { f.linkAfter = 0 })
	g.r.Opts.SyncTimeout = 2 * time.Second
	if rec, err := g.run(EventBackup); rec.Outcome != OutcomeOK || err != nil {
		t.Fatalf("backup run = %q, %v", rec.Outcome, err)
	}
	if h, _ := g.r.State.ReadHoldoff(); !h.Active(time.Now()) {
		t.Error("a backup event cleared the hold-off")
	}
	if rec, err := g.run(EventMaster); rec.Outcome != OutcomeOK || err != nil {
		t.Fatalf("second master run = %q, %v", rec.Outcome, err)
	}
	if h, err := g.r.State.ReadHoldoff(); err != nil || !h.Until.IsZero() {
		t.Errorf("holdoff after a successful master event = %+v, %v; want none", h, err)
	}
	if n := len(g.journal()); n != 3 {
		t.Errorf("journal has %d records, want 3", n)
	}
}

// S9: only an unreachable peer is absent; a wrong password is a
// configuration error that changes nothing.
func TestRunPeerAnswers(t *testing.T) {
	noCommands := func(t *testing.T, g *rig, _ Record) {
		t.Helper()
		for _, f := range []*fakeRedis{g.local, g.peer} {
			for _, c := range f.log() {
				if c != "Facts" && c != "ConfigGet replica-read-only" {
					t.Errorf("%s got %s", f.addr, c)
				}
			}
		}
	}
	runCases(t, []runCase{
		{
			name: "a peer answering with an error is alive: master event waits, promotes nothing",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.fail("Facts", 0, errors.New("LOADING Redis is loading the dataset in memory"))
				g.r.Opts.PeerWait = 20 * time.Millisecond
			},
			outcome: OutcomeDeferred, decision: "wait-peer-answers", attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, rec Record) {
				noCommands(t, g, rec)
				if !rec.Before.PeerAnswered || !strings.Contains(rec.Before.PeerError, "LOADING") {
					t.Errorf("before = %+v", rec.Before)
				}
				if g.peer.n("Facts") < 2 {
					t.Errorf("peer read %d times, want re-read while waiting", g.peer.n("Facts"))
				}
			},
		},
		{
			name: "a peer answering maxclients to a backup event: local left as it is",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.peer.fail("Facts", 0, errors.New("ERR max number of clients reached"))
			},
			outcome: OutcomeDeferred, decision: "deferred", steps: []string{},
			check: noCommands,
		},
		{
			name: "the peer refuses the password: ErrConfig, nothing changed",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.peer.fail("Facts", 0, fmt.Errorf("facts %s: %w: WRONGPASS", addrP, node.ErrAuth))
			},
			outcome: OutcomeFailed, err: ErrConfig, attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, rec Record) {
				noCommands(t, g, rec)
				if rec.Plan != nil || !rec.Before.PeerAnswered {
					t.Errorf("plan = %+v, before = %+v", rec.Plan, rec.Before)
				}
			},
		},
		{
			name: "local refuses the password: ErrConfig, the peer not even read",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.fail("Facts", 0, fmt.Errorf("facts %s: %w: NOAUTH", addrL, node.ErrAuth))
			},
			outcome: OutcomeFailed, err: node.ErrAuth, attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, rec Record) {
				if g.peer.n("Facts") != 0 || !strings.Contains(rec.Before.LocalErr, "NOAUTH") || !strings.Contains(rec.Error, ErrConfig.Error()) {
					t.Errorf("peer read %d times; before = %+v; error %q", g.peer.n("Facts"), rec.Before, rec.Error)
				}
			},
		},
		{
			name: "local down: ErrLocalDown, not retried",
			ev:   EventBackup,
			setup: func(g *rig) {
				g.local.down = true
			},
			outcome: OutcomeFailed, err: ErrLocalDown, attempts: 1,
			steps: []string{},
			check: func(t *testing.T, g *rig, _ Record) {
				if g.local.n("Facts") != 1 {
					t.Errorf("local read %d times", g.local.n("Facts"))
				}
			},
		},
		{
			name: "the peer is the local server",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.peer.runID = g.local.runID
			},
			outcome: OutcomeFailed, err: ErrPeerIsLocal, errText: "same server", steps: []string{},
			check: noCommands,
		},
		{
			name: "local still loading: waits for the peer wait, then gives up",
			ev:   EventMaster,
			setup: func(g *rig) {
				g.local.follow(addrP, false)
				g.local.loading = true
				g.peer.down = true
				g.r.Opts.PeerWait = 10 * time.Millisecond
			},
			outcome: OutcomeFailed, err: ErrLocalDown, errText: "still loading", steps: []string{},
			check: func(t *testing.T, g *rig, rec Record) {
				noCommands(t, g, rec)
				if rec.Plan != nil || g.local.n("Facts") < 2 {
					t.Errorf("plan %+v after %d reads", rec.Plan, g.local.n("Facts"))
				}
			},
		},
	})
}

// A transition that waited for the peer decides once more with the wait
// over: whatever the clock reads between the checks, the node that waited
// its turn stops waiting (here: hands the master role to its replica).
func TestRunPeerWaitEndsWithAFinalDecision(t *testing.T) {
	for wait := time.Millisecond; wait <= 6*time.Millisecond; wait += time.Millisecond {
		t.Run(wait.String(), func(t *testing.T) {
			g := newRig(t)
			g.peer.follow(addrL, true)
			clk := &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), step: time.Millisecond}
			g.r.Now = clk.Now
			g.r.Opts.PeerWait = wait
			rec, err := g.run(EventBackup)
			if err != nil || rec.Outcome != OutcomeOK || rec.Plan == nil || rec.Plan.Decision != "hand-over-to-peer" {
				t.Fatalf("Run = %q %+v, %v; want the hand-over after the wait", rec.Outcome, rec.Plan, err)
			}
			if got := stepNames(rec.Steps); !reflect.DeepEqual(got, []string{"hand-over-to-peer", "config-rewrite"}) {
				t.Errorf("steps = %v", got)
			}
		})
	}
}

// S11: while a plan waits, the streams since the fork are read at most once
// a second, not on every poll; a changed fork is read again at once.
func TestRunStreamsMemoisedWhileWaiting(t *testing.T) {
	g := newRig(t)
	forkedPair(g)
	g.peer.loading = true
	clk := &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	g.r.Now = clk.Now
	g.r.Opts.PeerWait = 2 * time.Second
	g.peer.on("Facts", 0, func() { clk.Advance(300 * time.Millisecond) })
	rec, err := g.run(EventBackup)
	if err != nil || rec.Outcome != OutcomeDeferred || rec.Plan == nil || rec.Plan.Decision != "wait-peer-loading" {
		t.Fatalf("Run = %q %+v, %v", rec.Outcome, rec.Plan, err)
	}
	// Polls at 0.3s, 0.6s ... 2.1s: the streams are read at 0.3s and 1.5s.
	if n := g.peer.n("Facts"); n != 7 {
		t.Errorf("peer read %d times, want 7 polls", n)
	}
	if a, b := g.local.n("StreamSince"), g.peer.n("StreamSince"); a != 2 || b != 2 {
		t.Errorf("streams read %d and %d times, want twice each in 2.1s", a, b)
	}
	if rec.Before.LocalStream == nil || rec.Before.LocalStream.Writes != node.WritesSome {
		t.Errorf("before = %+v", rec.Before)
	}

	// A different fork (the peer's history moved on) is not served from
	// the memo.
	g.peer.set(func(f *fakeRedis) { f.loading = false; f.replID = histC })
	g.r.memo.at = clk.Now()
	local, peer := g.r.streams(context.Background(), g.local.facts(), g.peer.facts())
	if g.peer.n("StreamSince") != 3 || local == nil || peer == nil {
		t.Errorf("a new fork was not read: %d reads", g.peer.n("StreamSince"))
	}
}

// S8: one record per Run, with what happened.
func TestRunJournal(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	for _, ev := range []Event{EventStop, EventBackup, EventBackup} {
		if _, err := g.run(ev); err != nil {
			t.Fatal(err)
		}
	}
	recs := g.journal()
	if len(recs) != 3 {
		t.Fatalf("journal has %d records, want 3", len(recs))
	}
	want := []struct {
		ev       Event
		decision string
		steps    []string
	}{
		{EventStop, "record", []string{}},
		{EventBackup, "follow", []string{"pause-local-writes", "follow-peer", "kill-clients", "config-rewrite"}},
		{EventBackup, "already-following", []string{}},
	}
	for i, r := range recs {
		w := want[i]
		if r.Seq != int64(i+1) || r.Event != w.ev || r.Outcome != OutcomeOK || r.Plan == nil || r.Plan.Decision != w.decision ||
			!reflect.DeepEqual(stepNames(r.Steps), w.steps) || r.Attempts != 1 || r.Time.IsZero() || r.DurationMS < 0 {
			t.Errorf("record %d = %+v, want %+v", i, r, w)
		}
		if r.Before.Local == nil || r.Before.Peer == nil || r.After.Local == nil || r.After.Peer == nil {
			t.Errorf("record %d lacks facts: before %+v after %+v", i, r.Before, r.After)
		}
	}
	if recs[1].Before.Local.Role != node.RoleMaster || recs[1].After.Local.Role != node.RoleReplica {
		t.Errorf("follow record: before %s, after %s", recs[1].Before.Local.Role, recs[1].After.Local.Role)
	}
}

// A journal that cannot be written fails the transition (after acting),
// and a state dir that cannot be made stops it before it acts.
func TestRunStateErrors(t *testing.T) {
	t.Run("journal unwritable", func(t *testing.T) {
		g := newRig(t)
		g.peer.offset = 200
		if err := os.MkdirAll(g.r.State.JournalPath(), 0o750); err != nil {
			t.Fatal(err)
		}
		rec, err := g.run(EventBackup)
		if err == nil || !strings.Contains(err.Error(), "journal") || rec.Outcome != OutcomeOK {
			t.Errorf("Run = %q, %v; want ok with the journal error", rec.Outcome, err)
		}
	})
	t.Run("state dir is a file", func(t *testing.T) {
		g := newRig(t)
		file := g.r.State.Dir + "/file"
		if err := os.WriteFile(file, nil, 0o640); err != nil {
			t.Fatal(err)
		}
		g.r.State.Dir = file
		rec, err := g.run(EventBackup)
		if err == nil || !strings.Contains(err.Error(), "transition backup: state dir") || rec.Seq != 0 {
			t.Errorf("Run = %+v, %v", rec, err)
		}
		if g.local.n("Facts") != 0 {
			t.Errorf("local read: %v", g.local.log())
		}
	})
}

// Steps the plans never hold fail rather than pass silently.
func TestDoRejectsWhatItCannotDo(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()
	if _, err := g.r.do(ctx, ctx, Ticket{}, Step("reboot"), &Record{}); err == nil || !strings.Contains(err.Error(), `unknown step "reboot"`) {
		t.Errorf("unknown step: %v", err)
	}
	if _, err := g.r.do(ctx, ctx, Ticket{}, StepBackup, &Record{}); err == nil || len(g.backups.calls()) != 0 {
		t.Errorf("backup without facts: %v, %d backups", err, len(g.backups.calls()))
	}
}

// tookOver checks a handover's end: local the master, the peer its replica.
func tookOver(t *testing.T, g *rig) {
	t.Helper()
	if role, _, _, _ := g.local.state(); role != node.RoleMaster {
		t.Errorf("local is %s, want master", role)
	}
	if role, master, _, _ := g.peer.state(); role != node.RoleReplica || master != addrL {
		t.Errorf("peer is %s of %q, want a replica of local", role, master)
	}
}

func TestReplicaAsSeenBy(t *testing.T) {
	rep := func(addr string) node.Replica {
		a := node.MustParseAddr(addr)
		return node.Replica{IP: a.Host, Port: a.Port}
	}
	cases := []struct {
		name     string
		replicas []node.Replica
		addr     node.Addr
		want     string
		err      bool
	}{
		{"listed at its address", []node.Replica{rep("192.0.2.9:6380"), rep(addrL)}, node.MustParseAddr(addrL), addrL, false},
		{"one replica on its port (NAT)", []node.Replica{rep("10.0.0.1:6379"), rep("10.0.0.2:6380")}, node.MustParseAddr(addrL), "10.0.0.1:6379", false},
		{"two on its port: not listed", []node.Replica{rep("10.0.0.1:6379"), rep("10.0.0.2:6379")}, node.MustParseAddr(addrL), "", false},
		{"listed at port 0 (listening-port refused): not listed", []node.Replica{{IP: "192.0.2.1", Port: 0}}, node.MustParseAddr(addrL), "", false},
		{"not listed", nil, node.MustParseAddr(addrL), "", false},
		{"malformed", nil, node.Addr{Host: "192.0.2.1"}, "", true},
		{"unset", nil, node.Addr{}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, port, listed, err := replicaAsSeenBy(node.Facts{Replicas: c.replicas}, c.addr)
			if (err != nil) != c.err {
				t.Fatalf("error = %v", err)
			}
			if c.err {
				return
			}
			if listed != (c.want != "") {
				t.Fatalf("listed = %v, want %v", listed, c.want != "")
			}
			if listed && fmt.Sprintf("%s:%d", host, port) != c.want {
				t.Errorf("got %s:%d, want %s", host, port, c.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errBoom, true},
		{fmt.Errorf("step failover: %w", ErrHandoverAborted), true},
		{fmt.Errorf("step x: %w", ErrSuperseded), false},
		{fmt.Errorf("step x: %w", ErrSyncTimeout), false},
		{fmt.Errorf("%w: no", ErrRefused), false},
		{fmt.Errorf("step x: %w", context.Canceled), false},
		{fmt.Errorf("step x: %w", context.DeadlineExceeded), false},
	}
	for _, c := range cases {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A backup that outlasts the pause taken for it must not be followed by the
// follow-peer: writes acknowledged after the pause ran out are in neither
// the backup nor the data kept. The runner unpauses, decides again, pauses
// and backs up again, then follows (S6).
func TestRunBackupOutlastingItsPauseIsTakenAgain(t *testing.T) {
	g := newRig(t)
	divergedPair(g)
	g.r.Opts.FollowDiverged = true
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	g.r.Now = clock.Now
	first := true
	g.backups.hook = func() {
		if first {
			first = false
			clock.Advance(time.Hour) // far beyond any pause
		}
	}
	rec, err := g.run(EventBackup)
	if err != nil || rec.Outcome != OutcomeOK || rec.Attempts != 2 {
		t.Fatalf("outcome %s attempts %d err %v, want ok after a second attempt", rec.Outcome, rec.Attempts, err)
	}
	var got []string
	for _, s := range rec.Steps {
		got = append(got, fmt.Sprintf("%s:%v", s.Step, s.OK))
	}
	want := []string{"pause-local-writes:true", "backup:true", "follow-peer:false",
		"pause-local-writes:true", "backup:true", "follow-peer:true", "kill-clients:true", "config-rewrite:true"}
	if !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if n := len(g.backups.calls()); n != 2 {
		t.Fatalf("%d backups, want 2", n)
	}
}

// A master acknowledges writes between the facts a plan rests on and its
// REPLICAOF, which would then discard them (the torture suite lost 6 this
// way, seed 103). Local's writes are paused before it follows, and
// follow-peer checks that nothing moved since the plan: here writes land
// just before the pause, so it decides again from fresh facts (S6).
func TestRunFollowRefusesWritesTakenSinceThePlan(t *testing.T) {
	g := newRig(t)
	g.peer.offset = 200
	g.local.on("PauseWrites", 1, func() { g.local.set(func(f *fakeRedis) { f.offset, f.keys = 150, 11 }) })
	rec, err := g.run(EventBackup)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var got []string
	for _, s := range rec.Steps {
		got = append(got, fmt.Sprintf("%s:%v", s.Step, s.OK))
	}
	if rec.Attempts != 2 || !slices.Equal(got[:2], []string{"pause-local-writes:true", "follow-peer:false"}) ||
		!strings.Contains(rec.Steps[1].Error, "took writes after the plan") {
		t.Fatalf("attempts %d steps %v (%q): want follow-peer refused, then a new decision", rec.Attempts, got, rec.Steps[1].Error)
	}
	if g.local.paused {
		t.Fatalf("local left paused")
	}
}

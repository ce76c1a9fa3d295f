package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/transition"
)

// fxFenced is fxHealthy with fencing on: local is master, min-replicas
// level and fence file as given.
func fxFenced(min int, witness string, st transition.FenceState, peerUnknown bool) Instance {
	in := fxHealthy()
	in.Fence = Fence{FenceSettings: FenceSettings{FenceAfter: 5 * time.Second, Witness: witness, PendingSlack: time.Minute, KeeperStale: 15 * time.Second},
		MinReplicas: min, State: st, Now: fence.Stamp{BootID: "b", At: time.Hour}}
	if peerUnknown {
		in.Peer.Facts, in.Peer.Err, in.Peer.Evidence = nil, "INFO 192.0.2.12:6379: i/o timeout", "unknown"
	}
	Evaluate(&in, DefaultThresholds(), fxNow)
	return in
}

func bootAt(d time.Duration) *fence.Stamp { return &fence.Stamp{BootID: "b", At: time.Hour + d} }

func TestReportFence(t *testing.T) {
	closed, armed, open := fence.Closed, fence.Armed, fence.Open
	held := transition.FenceState{LeaseSent: bootAt(-time.Second), LeaseUntil: bootAt(5 * time.Second), PeerSeen: bootAt(-2 * time.Second),
		At: bootAt(0), Level: &open, Reason: "this node holds the witness lease"}
	for _, c := range []struct {
		name                 string
		in                   Instance
		level, bound, reason string
		lease                bool
		code                 string
	}{
		{name: "off", in: fxHealthy(), level: FenceNone, bound: "unbounded: fencing off"},
		{name: "armed, no witness", in: fxFenced(1, "", transition.FenceState{At: bootAt(0), Level: &armed, Reason: "armed: the replica's acknowledgements keep writes flowing"}, false),
			level: FenceArmed, bound: "at most fence_after (5s)", reason: "armed: the replica's"},
		{name: "open with the lease, peer unknown", in: fxFenced(0, "192.0.2.20:7480", held, true),
			level: FenceOpen, bound: "0 with the lease", reason: "witness lease", lease: true},
		{name: "closed, peer unknown", in: fxFenced(2, "", transition.FenceState{At: bootAt(0), Level: &closed, Reason: "peer unknown: writes stop until it returns"}, true),
			level: FenceClosed, bound: "at most fence_after", reason: "peer unknown", code: CodeFenceClosed},
		{name: "closed, waiting after a promotion", in: fxFenced(2, "", transition.FenceState{At: bootAt(0), Promotion: bootAt(-time.Second), Level: &closed}, true),
			level: FenceClosed, bound: "at most fence_after", code: CodeFenceClosed},
		{name: "no keeper", in: fxFenced(1, "", transition.FenceState{}, false), level: FenceArmed, bound: "at most", code: CodeNoFenceKeeper},
	} {
		t.Run(c.name, func(t *testing.T) {
			Evaluate(&c.in, DefaultThresholds(), fxNow) // again for the fenced ones: pure
			f := c.in.Fence
			if f.Level != c.level || !strings.HasPrefix(f.LossBound, c.bound) || !strings.Contains(f.Reason, c.reason) || f.LeaseHeld != c.lease {
				t.Errorf("fence %+v", f)
			}
			if c.code != "" && !hasReason(c.in, c.code) {
				t.Errorf("no reason %s in %+v", c.code, c.in.Reasons)
			}
			r := Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{c.in}}
			validateReport(t, loadValidator(t), r)
			var txt, prom bytes.Buffer
			if err := RenderText(&txt, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(txt.String(), "loss bound: "+f.LossBound) {
				t.Errorf("text lacks the loss bound:\n%s", txt.String())
			}
			if err := RenderPrometheus(&prom, r); err != nil {
				t.Fatal(err)
			}
			series, _, err := parseExposition(prom.String())
			if err != nil {
				t.Fatal(err)
			}
			var level, lease = -1.0, -1.0
			for _, s := range series {
				switch s.Key() {
				case `redis_vip_fence_level,pair="redis6379"`:
					level = s.Value
				case `redis_vip_witness_lease_held,pair="redis6379"`:
					lease = s.Value
				}
			}
			wantLevel := map[string]float64{FenceOpen: 0, FenceArmed: 1, FenceClosed: 2, FenceNone: -1}[c.level]
			if level != wantLevel {
				t.Errorf("redis_vip_fence_level %v, want %v (-1: absent)", level, wantLevel)
			}
			wantLease := -1.0
			if f.Witness != "" {
				wantLease = b2f(c.lease)
			}
			if lease != wantLease {
				t.Errorf("redis_vip_witness_lease_held %v, want %v (-1: absent)", lease, wantLease)
			}
		})
	}
}

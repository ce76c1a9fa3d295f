package report

import (
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/transition"
)

// Maintenance mode is a WARNING with its own reason code, in every output,
// and the check verdict shown honours it (a stale local master stays
// eligible while it is on).
func TestMaintenanceIsAWarningEverywhere(t *testing.T) {
	in := fxHealthy()
	in.State.Maintenance = maintenance.State{On: true, Since: fxNow.Add(-time.Hour), By: "root@a", Reason: "kernel upgrade"}
	Evaluate(&in, DefaultThresholds(), fxNow)
	if in.Status != Warning || len(in.Reasons) != 1 || in.Reasons[0].Code != CodeMaintenance {
		t.Fatalf("status %s, reasons %+v; want WARNING maintenance", in.Status, in.Reasons)
	}
	if msg := in.Reasons[0].Message; !strings.Contains(msg, "MAINTENANCE MODE is on since 2025-03-01T11:00:00Z by root@a (kernel upgrade)") {
		t.Errorf("message %q", msg)
	}
	if !in.Check.OK || !in.Check.Maintenance {
		t.Errorf("check %+v", in.Check)
	}
	rep := Report{GeneratedAt: fxNow, Host: "a", Thresholds: DefaultThresholds(), Instances: []Instance{in}}
	var text, js, prom strings.Builder
	for _, r := range []struct {
		w      *strings.Builder
		render func(*strings.Builder) error
		want   string
	}{
		{&text, func(b *strings.Builder) error { return RenderText(b, rep) }, "MAINTENANCE MODE"},
		{&js, func(b *strings.Builder) error { return RenderJSON(b, rep) }, `"code": "maintenance"`},
		{&prom, func(b *strings.Builder) error { return RenderPrometheus(b, rep) }, `redis_vip_maintenance{pair="redis6379"} 1`},
	} {
		if err := r.render(r.w); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.w.String(), r.want) {
			t.Errorf("output lacks %q:\n%s", r.want, r.w.String())
		}
	}
	if !strings.HasPrefix(text.String(), "WARNING") {
		t.Errorf("text status line: %q", strings.SplitN(text.String(), "\n", 2)[0])
	}

	// A local master the peer has overtaken stays eligible in maintenance.
	stale := fxHealthy()
	stale.Peer.Facts = fxMaster(fxPeer, 1000, 9000)
	stale.State.Maintenance = maintenance.State{On: true}
	stale.State.LastEvent = transition.EventMaster
	Evaluate(&stale, DefaultThresholds(), fxNow)
	if !stale.Check.OK || !strings.Contains(stale.Check.Reason, "maintenance mode: local master stays eligible") {
		t.Errorf("stale master in maintenance: check %+v", stale.Check)
	}
}

// gather reads the maintenance file of the instance's state dir.
func TestReadStateReadsMaintenance(t *testing.T) {
	sd := transition.StateDir{Dir: t.TempDir(), Instance: "r1"}
	if st := readState(sd); st.Maintenance.On || st.Err != "" {
		t.Fatalf("no file: %+v", st)
	}
	if err := maintenance.Enable(sd.Dir, "r1", maintenance.State{Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if st := readState(sd); !st.Maintenance.On || st.Maintenance.Reason != "x" || st.Err != "" {
		t.Fatalf("file: %+v", st)
	}
}

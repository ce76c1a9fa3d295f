package router

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/transition"
)

// In maintenance mode `run` records each transition and changes nothing.
func TestInstanceTransitionsInMaintenance(t *testing.T) {
	dir := t.TempDir()
	in := &config.Instance{Name: "r1", Local: "127.0.0.1:1", Announce: "192.0.2.1:1", Peer: "127.0.0.1:2", StateDir: dir,
		Timeouts: config.Timeouts{Connect: 100 * time.Millisecond, Command: 100 * time.Millisecond}}
	if err := maintenance.Enable(dir, "r1", maintenance.State{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	tr := InstanceTransitions{Instance: in, Log: zap.NewNop()}
	rec, err := tr.Run(context.Background(), transition.EventMaster, EventSource)
	if err != nil || rec.Outcome != transition.OutcomeMaintenance || rec.Before.LocalErr == "" {
		t.Fatalf("Run: %+v, %v", rec, err)
	}
	recs, _, err := transition.ReadJournal(filepath.Join(dir, "r1.journal"))
	if err != nil || len(recs) != 1 || recs[0].Outcome != transition.OutcomeMaintenance || recs[0].Source != EventSource {
		t.Fatalf("journal %+v, %v", recs, err)
	}
}

func TestEffectiveCap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	for _, tc := range []struct {
		text    string
		has, ok bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true, true},
		{"CapEff:\t0000000000002000\n", false, true},
		{"CapEff:\t0000000000001000\n", true, true},
		{"CapPrm:\t0\n", false, false},
		{"CapEff:\tzz\n", false, false},
	} {
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if has, ok := effectiveCap(p, capNetAdmin); has != tc.has || ok != tc.ok {
			t.Errorf("%q: has %v ok %v, want %v %v", tc.text, has, ok, tc.has, tc.ok)
		}
	}
	if _, ok := effectiveCap(filepath.Join(t.TempDir(), "none"), capNetAdmin); ok {
		t.Error("a missing file tells something")
	}
}

package wiring

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/internal/pollwait"
)

// loadConfig reads a configuration file with body.
func loadConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Source{Path: p, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// run's preflight names every problem of every instance in one error:
// the configuration's, what the host lacks, and the collisions.
func TestRunSpecs(t *testing.T) {
	cfg := loadConfig(t, `instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379", vrrp: {interface: lo, vrid: 51, vips: [192.0.2.70/26]}}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380", health_listen: "nope", vrrp: {interface: lo, vrid: 51, vips: [192.0.2.71]}}
  c: {local: "192.0.2.1:6381", peer: "192.0.2.2:6381", vrrp: {interface: rvt-nosuch0, vrid: 300, vips: [192.0.2.72]}}
  d: {local: "192.0.2.1:6382", peer: "192.0.2.2:6382", vrrp: {interface: rvt-nosuch1, vrid: 9, vips: [192.0.2.73]}}
  e: {local: "192.0.2.1:6383", peer: "192.0.2.2:6383"}
`)
	_, err := RunSpecs(context.Background(), cfg, nil)
	if !errors.Is(err, config.ErrConfig) {
		t.Fatalf("error %v, want ErrConfig", err)
	}
	for _, want := range []string{
		"configuration: instance b: health_listen \"nope\"", "; instance c: vrrp: line 4: vrid 300: want 1-255",
		"; instance d: vrrp: interface rvt-nosuch1: no such interface on this host",
		"; instances a and b: both use vrid 51 on lo; give each its own vrid",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "instance e") || strings.Count(err.Error(), "configuration:") != 1 {
		t.Errorf("%v: e has no vrrp: section and is not run; one prefix", err)
	}
	if _, err := RunSpecs(context.Background(), cfg, []string{"e"}); err == nil || !strings.Contains(err.Error(), "instance e: no vrrp: section") {
		t.Errorf("e named: %v", err)
	}
	specs, err := RunSpecs(context.Background(), cfg, []string{"a", "a"})
	if err != nil || len(specs) != 1 || specs[0].Instance.Name != "a" || specs[0].VRRP.VRID != 51 {
		t.Errorf("a alone: %+v, %v", specs, err)
	}
	if err := PeerResolvable(context.Background(), specs[0].Instance.Peer); err != nil {
		t.Errorf("an IP address always resolves: %v", err)
	}
}

// With its local Redis gone, an instance's track file says 1; stopping
// resets it to 0 (the periodic check alone judges then). The reconcilers
// start and stop with it.
func TestTrackFilesAndReconcilers(t *testing.T) {
	dir := t.TempDir()
	in := load(t, "instances:\n  a: {local: \"127.0.0.1:1\", announce: \"192.0.2.1:1\", peer: \"127.0.0.1:2\", state_dir: "+dir+
		", reconcile_interval: 10ms, timeouts: {connect: 50ms, command: 50ms, check: 100ms}}\n")
	ctx := context.Background()
	stopTrack := TrackFiles(ctx, []config.Instance{in}, zap.NewNop())
	stopReconcile := Reconcilers(ctx, []config.Instance{in}, zap.NewNop())
	read := func() string { b, _ := os.ReadFile(DownFile(in)); return strings.TrimSpace(string(b)) }
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pollwait.Until(wctx, 10*time.Millisecond, func() (bool, error) { return read() == "1", nil }); err != nil {
		t.Fatalf("track file %q with the local Redis gone: %v", read(), err)
	}
	stopReconcile()
	stopTrack()
	if got := read(); got != "0" {
		t.Errorf("track file %q after stopping, want 0", got)
	}
}

// The health endpoints of an instance with health_listen answer (503:
// its Redis is gone); a bad address is left out, and stopping waits.
func TestServeHealth(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	in := load(t, "instances:\n  a: {local: \"127.0.0.1:1\", announce: \"192.0.2.1:1\", peer: \"127.0.0.1:2\", state_dir: "+t.TempDir()+
		", health_listen: \""+addr+"\", timeouts: {connect: 50ms, command: 50ms, check: 200ms}}\n")
	bad := in
	bad.Name, bad.HealthListen = "b", "nope"
	stop := ServeHealth(context.Background(), []HealthTarget{{Instance: in}, {Instance: bad}, {Instance: config.Instance{Name: "off"}}}, zap.NewNop())
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := 0
	err = pollwait.Until(ctx, 20*time.Millisecond, func() (bool, error) {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		code = resp.StatusCode
		return true, nil
	})
	if err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("GET /health: %d, %v; want 503", code, err)
	}
}

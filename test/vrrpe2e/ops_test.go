package vrrpe2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/transition"
)

// healthPort is where the lab's hosts serve the health endpoints.
const healthPort = 8008

// withHealth gives both hosts a health_listen address.
func withHealth(l *netlab.Lab) {
	for _, h := range l.Hosts {
		h.Extra = map[string]any{"health_listen": fmt.Sprintf(":%d", healthPort)}
	}
}

func healthURL(h *netlab.Host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", h.IP, healthPort, path)
}

// logLinesWith returns the lines of a host's redis-vip log that contain s.
func logLinesWith(h *netlab.Host, s string) []string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "redis-vip.log"))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// rv runs a redis-vip command on a host.
func rv(t *testing.T, h *netlab.Host, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := h.Exec(ctx, append([]string{bin}, append(args, "--config", h.Config())...)...)
	if err != nil {
		t.Fatalf("%s: redis-vip %s: %v", h.Name, strings.Join(args, " "), err)
	}
	return out
}

// A `run` without CAP_NET_ADMIN (but with CAP_NET_RAW) becomes master,
// cannot add the VIP, and goes to FAULT at once: priority 0 on the wire,
// the peer takes the VIP and the data, one log line says why, and it does
// not come back to flap mastership.
func TestRunWithoutNetAdminGoesToFault(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump")
	}
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	must(t, l.Pair(runVRRP(150, nil), runVRRP(100, nil)))
	vrrp, err := l.StartCapture("tcpdump-vrrp", h2.NS, "ip proto 112")
	must(t, err)
	must(t, h1.StartRun("setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"))
	must(t, h2.StartRun())
	must(t, netlab.WaitFor(15*time.Second, "h2 holding the VIP", func() bool { return l.Holder() == "h2" }))
	must(t, netlab.WaitFor(10*time.Second, "h2's Redis master", func() bool { return h2.Role() == "master" }))
	time.Sleep(5 * time.Second) // h1 (150, preempting) must not come back
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h2" {
		t.Errorf("after 5 s the VIP is on %v, want h2 alone", hs)
	}
	lines := logLinesWith(h1, "cannot hold the VIP")
	if len(lines) != 1 {
		t.Fatalf("h1 logged %d 'cannot hold the VIP' lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var rec struct {
		Level, Msg, Reason string
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Level != "error" || !strings.Contains(rec.Reason, "operation not permitted") || !strings.Contains(rec.Reason, "lacks CAP_NET_ADMIN") {
		t.Errorf("log line %s", lines[0])
	}
	t.Logf("h1: %s: %s", rec.Msg, rec.Reason)
	var prio0, prio150 int
	for _, line := range vrrp.Stop() {
		if !strings.Contains(line, h1.IP.String()+" > ") {
			continue
		}
		switch {
		case strings.Contains(line, "prio 0,"):
			prio0++
		case strings.Contains(line, "prio 150,"):
			prio150++
		}
	}
	if prio0 == 0 || prio150 == 0 {
		t.Errorf("h1 sent %d adverts with priority 150 and %d with priority 0; want it master first, then priority 0", prio150, prio0)
	}
	if n := len(logLinesWith(h1, `"to":"MASTER"`)); n != 1 {
		t.Errorf("h1 became MASTER %d times, want once (no flapping)", n)
	}
	if r := h1.Role(); r != "slave" {
		t.Errorf("h1's Redis is %q, want a replica of h2", r)
	}
}

// The health endpoints of `run`, with curl from the client: /primary and
// /replica on master and replica, /health's JSON, /metrics.
func TestHealthEndpointsRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	l := newLab(t)
	withHealth(l)
	h1, h2, _ := startPair(t, l, 0, 10*time.Second)
	must(t, netlab.WaitFor(10*time.Second, "h1's /primary 200", func() bool {
		code, _, _ := l.Curl(healthURL(h1, "/primary"))
		return code == 200
	}))
	for _, tc := range []struct {
		h     *netlab.Host
		path  string
		code  int
		parts []string
	}{
		{h1, "/primary", 200, []string{`"ok": true`, `"role": "master"`, "holds the VIP"}},
		{h2, "/primary", 503, []string{`"ok": false`, "replica of 192.0.2.71:6379"}},
		{h1, "/replica", 503, []string{"local Redis is master"}},
		{h2, "/replica", 200, []string{`"ok": true`, "in sync with 192.0.2.71:6379"}},
		{h2, "/replica?max_lag_bytes=1MiB", 200, []string{"bytes behind"}},
		{h1, "/health", 200, []string{`"mode": "run"`, `"state": "MASTER"`, `"holds_vip": true`, `"last_transition": {`}},
		{h2, "/health", 200, []string{`"mode": "run"`, `"state": "BACKUP"`, `"role": "replica"`}},
		{h1, "/metrics", 200, []string{`redis_vip_vrrp_state{pair="r6379",state="master"} 1`, `redis_vip_node_role{pair="r6379",node="local",role="master"} 1`, `redis_vip_check_eligible{pair="r6379"} 1`}},
		{h2, "/metrics", 200, []string{`redis_vip_vrrp_state{pair="r6379",state="backup"} 1`, `redis_vip_replication_lag_bytes{pair="r6379"}`}},
	} {
		code, body, _ := l.Curl(healthURL(tc.h, tc.path))
		if code != tc.code {
			t.Errorf("%s %s: %d, want %d: %s", tc.h.Name, tc.path, code, tc.code, body)
			continue
		}
		for _, p := range tc.parts {
			if !strings.Contains(body, p) {
				t.Errorf("%s %s: body lacks %q:\n%s", tc.h.Name, tc.path, p, body)
			}
		}
	}
	var doc struct {
		Local struct{ Facts struct{ Role string } }
		Peer  struct{ Facts struct{ Role string } }
		VRRP  struct{ State string }
	}
	_, body, _ := l.Curl(healthURL(h2, "/health"))
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Local.Facts.Role != "replica" || doc.Peer.Facts.Role != "master" || doc.VRRP.State != "BACKUP" {
		t.Errorf("h2 /health: %v %+v", err, doc)
	}
}

// HAProxy (Debian's, with the shipped example configuration) routes
// through GET /primary across a kill -9 of the master's Redis: writes
// resume on the new master and no acknowledged write is lost beyond the
// crash window (W1).
func TestHAProxyFailoverThroughPrimary(t *testing.T) {
	for _, tool := range []string{"haproxy", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	l := newLab(t)
	withHealth(l)
	h1, h2, _ := startPair(t, l, 0, 10*time.Second)
	hap, err := l.StartHAProxy(healthPort)
	must(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- haproxy (tail)\n%s", hap.Tail(40))
		}
	})
	key := "rvt-haproxy"
	// The writer's own end check compares the port it writes to with the
	// master's, which HAProxy's frontend does not share: settle at once,
	// and ask HAProxy below instead.
	w, err := l.StartWriterAt(netlab.HAProxyFrontend, 2*time.Minute, "--key", key, "--settle", "1s")
	must(t, err)
	must(t, netlab.WaitFor(15*time.Second, "writes through HAProxy landing on h1", func() bool { return h1.LLen(key) > 300 }))

	killAt := h1.KillRedis()
	must(t, netlab.WaitFor(10*time.Second, "h2 master", func() bool { return h2.Role() == "master" }))
	base := h2.LLen(key)
	must(t, netlab.WaitFor(15*time.Second, "writes through HAProxy resuming on h2", func() bool { return h2.LLen(key) > base+300 }))
	if code, _, _ := l.Curl(healthURL(h1, "/primary")); code != 503 {
		t.Errorf("h1's /primary with its Redis dead: %d, want 503", code)
	}
	must(t, w.Stop())
	rep := w.Report
	t.Logf("writer through HAProxy: %d sent, %d acknowledged, %d lost; final master %s", rep.Sent, rep.Acked, rep.Lost, rep.FinalMaster)
	if rep.FinalMaster != h2.Announce() {
		t.Fatalf("final master %q, want h2", rep.FinalMaster)
	}
	checkCrashWindow(t, w, h2, h1, killAt)
	first, _, ok := w.FirstAckAfter(killAt, h2.IP.String())
	if !ok {
		t.Fatal("no write acknowledged by h2 after the kill")
	}
	t.Logf("kill -9 of h1's Redis: first write through HAProxy acknowledged by h2 after %s", ms(first.Sub(killAt)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	host, port, _ := strings.Cut(netlab.HAProxyFrontend, ":")
	if who, err := l.ClientRedis(ctx, host, port, "CONFIG", "GET", "replica-announce-ip"); err != nil || !strings.Contains(who, h2.IP.String()) {
		t.Errorf("at the end HAProxy reaches %q (%v), want h2", who, err)
	}
}

// Maintenance mode with `run` on both hosts: a dead master Redis moves
// nothing (the VIP stays, no transition runs) and /health and report say
// so; maintenance off re-checks and the pair fails over.
func TestMaintenanceRun(t *testing.T) {
	l := newLab(t)
	withHealth(l)
	h1, h2, _ := startPair(t, l, 0, 10*time.Second)
	for _, h := range l.Hosts {
		out := rv(t, h, "maintenance", "on", "--reason", "lab")
		t.Logf("%s: %s", h.Name, strings.TrimSpace(out))
	}
	journalLen := func(h *netlab.Host) int {
		recs, _, _ := transition.ReadJournal(filepath.Join(h.StateDir(), netlab.Instance+".journal"))
		return len(recs)
	}
	before := [2]int{journalLen(h1), journalLen(h2)}
	h1.KillRedis()
	time.Sleep(5 * time.Second)
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h1" {
		t.Fatalf("in maintenance the VIP moved to %v after h1's Redis died", hs)
	}
	if r := h2.Role(); r != "slave" {
		t.Errorf("h2's Redis is %q in maintenance, want still a replica", r)
	}
	if after := [2]int{journalLen(h1), journalLen(h2)}; after != before {
		t.Errorf("journal records %v before, %v after: a transition ran in maintenance", before, after)
	}
	code, body, _ := l.Curl(healthURL(h2, "/health"))
	if code != 200 || !strings.Contains(body, "MAINTENANCE MODE is on since") || !strings.Contains(body, `"code": "maintenance"`) {
		t.Errorf("h2 /health in maintenance: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	out, _ := h2.Exec(ctx, bin, "report", "--config", h2.Config())
	cancel()
	if !strings.Contains(out, "MAINTENANCE MODE") {
		t.Errorf("report on h2 in maintenance:\n%s", out)
	}

	// Off on both: h1's check fails at once (its Redis is dead), h2 takes
	// over with its data.
	offAt := time.Now()
	for _, h := range []*netlab.Host{h2, h1} {
		t.Logf("%s: %q", h.Name, rv(t, h, "maintenance", "off"))
	}
	must(t, netlab.WaitFor(15*time.Second, "the VIP on h2 after maintenance", func() bool { return l.Holder() == "h2" }))
	must(t, netlab.WaitFor(10*time.Second, "h2 master", func() bool { return h2.Role() == "master" }))
	t.Logf("failover %s after maintenance off", ms(time.Since(offAt)))
}

// Maintenance mode with keepalived (notify FIFO, which also serves the
// health endpoints): the same pause, then the same failover when it ends.
func TestMaintenanceKeepalivedFIFO(t *testing.T) {
	for _, tool := range []string{"keepalived", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	withHealth(l)
	for _, h := range l.Hosts {
		h.Extra["vrrp_instance"] = "VI_REDIS" // the FIFO names keepalived's instance
	}
	must(t, l.Pair(nil, nil))
	for i, h := range l.Hosts {
		must(t, h.WriteKeepalived(netlab.Keepalived{Version: 3, VRID: 51, Priority: 150 - 50*i, AdvertInterval: 1, FIFO: true}))
		must(t, h.StartKeepalived())
	}
	must(t, netlab.WaitFor(20*time.Second, "h1 holding the VIP", func() bool { return l.Holder() == "h1" }))
	// notify-fifo serves the endpoints in keepalived mode.
	must(t, netlab.WaitFor(15*time.Second, "h1's /primary 200 (keepalived mode)", func() bool {
		code, _, _ := l.Curl(healthURL(h1, "/primary"))
		return code == 200
	}))
	for _, tc := range []struct {
		h    *netlab.Host
		path string
		code int
		part string
	}{
		{h1, "/primary", 200, "keepalived made this node master"},
		{h2, "/primary", 503, "replica of"},
		{h2, "/replica", 200, "in sync with"},
		{h1, "/health", 200, `"mode": "keepalived"`},
		{h2, "/metrics", 200, `redis_vip_node_role{pair="r6379",node="local",role="replica"} 1`},
	} {
		if code, body, _ := l.Curl(healthURL(tc.h, tc.path)); code != tc.code || !strings.Contains(body, tc.part) {
			t.Errorf("%s %s: %d %s; want %d and %q", tc.h.Name, tc.path, code, body, tc.code, tc.part)
		}
	}
	for _, h := range l.Hosts {
		rv(t, h, "maintenance", "on")
	}
	h1.KillRedis()
	time.Sleep(6 * time.Second)
	if hs := l.Holders(); len(hs) != 1 || hs[0] != "h1" {
		t.Fatalf("in maintenance the VIP moved to %v after h1's Redis died", hs)
	}
	if r := h2.Role(); r != "slave" {
		t.Errorf("h2's Redis is %q in maintenance", r)
	}
	if code, body, _ := l.Curl(healthURL(h2, "/health")); code != 200 || !strings.Contains(body, `"on": true`) {
		t.Errorf("h2 /health in maintenance: %d %s", code, body)
	}
	for _, h := range []*netlab.Host{h2, h1} {
		t.Logf("%s: %q", h.Name, rv(t, h, "maintenance", "off"))
	}
	must(t, netlab.WaitFor(20*time.Second, "the VIP on h2 after maintenance", func() bool { return l.Holder() == "h2" }))
	must(t, netlab.WaitFor(20*time.Second, "h2 master", func() bool { return h2.Role() == "master" }))
	must(t, netlab.WaitFor(15*time.Second, "h2's /primary 200", func() bool {
		code, _, _ := l.Curl(healthURL(h2, "/primary"))
		return code == 200
	}))
}

// garp_master_refresh: while master, `run` sends gratuitous ARP for the
// VIP again every period (captured on the client).
func TestPeriodicGARP(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump")
	}
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	must(t, l.Pair(runVRRP(150, netlab.VRRP{"garp_master_refresh": "1s", "garp_count": 1}), runVRRP(100, nil)))
	arp, err := l.StartCapture("tcpdump-arp", l.ClientNS, "arp")
	must(t, err)
	must(t, h1.StartRun())
	must(t, h2.StartRun())
	must(t, netlab.WaitFor(10*time.Second, "h1 holding the VIP", func() bool { return l.Holder() == "h1" }))
	time.Sleep(5500 * time.Millisecond)
	var at []float64
	vip := netlab.VIP.Addr().String()
	for _, line := range arp.Stop() {
		if strings.Contains(line, "who-has "+vip+" tell "+vip) {
			f, err := strconv.ParseFloat(strings.Fields(line)[0], 64)
			if err == nil {
				at = append(at, f)
			}
		}
	}
	t.Logf("%d gratuitous ARPs for %s", len(at), vip)
	if len(at) < 5 {
		t.Fatalf("%d gratuitous ARPs in 5.5 s of holding the VIP, want the first and one a second", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i] - at[i-1]; gap < 0.8 || gap > 1.3 {
			t.Errorf("gratuitous ARP %d came %.3f s after the previous, want about 1 s", i, gap)
		}
	}
}

// The shipped HAProxy example is a valid configuration (no root needed).
func TestHAProxyExampleIsValid(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("needs haproxy")
	}
	out, err := exec.Command("haproxy", "-c", "-f", filepath.Join("..", "..", "packaging", "haproxy", "haproxy.cfg")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Configuration file is valid") {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	for _, want := range []string{"option httpchk GET /primary", "http-check expect status 200", "check port 8008", "mode tcp"} {
		if !strings.Contains(readFile(t, filepath.Join("..", "..", "packaging", "haproxy", "haproxy.cfg")), want) {
			t.Errorf("example lacks %q", want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

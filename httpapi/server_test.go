package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/transition"
)

var tNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	tLocal = "192.0.2.11:6379"
	tPeer  = "192.0.2.12:6379"
)

func master(addr string, off int64) *node.Facts {
	return &node.Facts{Addr: addr, ServerName: "redis", RunID: "run-" + addr, Role: node.RoleMaster, ReplID: "aaaa", ReplOffset: off, Keys: 10, MasterLinkDownSecs: -1,
		RDBLastBgsaveOK: true, AOFLastWriteOK: true, RDBLastSave: tNow}
}

func replicaOf(addr, of string, off int64) *node.Facts {
	f := master(addr, off)
	f.Role = node.RoleReplica
	host, port, _ := net.SplitHostPort(of)
	f.MasterHost = host
	f.MasterPort, _ = strconv.Atoi(port)
	f.MasterLinkUp = true
	return f
}

// snap builds an evaluated snapshot of local and peer.
func snap(local, peer *node.Facts, lastEvent transition.Event, vrrp *VRRP) Snapshot {
	in := report.Instance{Name: "r6379",
		Local: report.Node{Side: report.SideLocal, Addr: node.MustParseAddr("127.0.0.1:6379"), Announce: node.MustParseAddr(tLocal), Facts: local, RDB: report.TriOn},
		Peer:  report.Node{Side: report.SidePeer, Addr: node.MustParseAddr(tPeer), Announce: node.MustParseAddr(tPeer), Facts: peer, RDB: report.TriOn},
		State: report.State{LastEvent: lastEvent},
	}
	if local == nil {
		in.Local.Err = "unreachable: connection refused"
	}
	if peer == nil {
		in.Peer.Err = "unreachable: connection refused"
	}
	report.Evaluate(&in, report.DefaultThresholds(), tNow)
	return Snapshot{Instance: "r6379", At: tNow, Report: in, Check: *in.Check, VRRP: vrrp}
}

func TestPrimary(t *testing.T) {
	m, r := master(tLocal, 100), replicaOf(tPeer, tLocal, 100)
	holding := &VRRP{State: "MASTER", HoldsVIP: true, Healthy: true}
	for _, tc := range []struct {
		name string
		s    Snapshot
		ok   bool
		why  string
	}{
		{"run: master holding the VIP", snap(m, r, transition.EventMaster, holding), true, "holds the VIP"},
		{"run: master without the VIP yet", snap(m, r, transition.EventMaster, &VRRP{State: "MASTER"}), false, "the VIP is not held yet"},
		{"run: VRRP backup", snap(m, r, transition.EventBackup, &VRRP{State: "BACKUP"}), false, "VRRP state is BACKUP"},
		{"keepalived: made master", snap(m, r, transition.EventMaster, nil), true, "keepalived made this node master"},
		{"keepalived: newest event backup", snap(m, r, transition.EventBackup, nil), false, "newest event for the instance is backup"},
		{"keepalived: no event yet", snap(m, r, "", nil), false, "is none, not master"},
		{"replica", snap(replicaOf(tLocal, tPeer, 100), master(tPeer, 100), transition.EventBackup, &VRRP{State: "BACKUP"}), false, "local Redis is a replica of 192.0.2.12:6379"},
		{"local down", snap(nil, master(tPeer, 100), transition.EventMaster, holding), false, "local Redis unreadable"},
		{"stale master: check fails", snap(m, master(tPeer, 500), transition.EventMaster, holding), false, "check fails: local master is stale"},
	} {
		ok, why := Primary(tc.s)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %v %q, want %v and %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestReplica(t *testing.T) {
	behind := snap(replicaOf(tLocal, tPeer, 900), master(tPeer, 1000), transition.EventBackup, nil)
	down := replicaOf(tLocal, tPeer, 900)
	down.MasterLinkUp = false
	syncing := replicaOf(tLocal, tPeer, 0)
	syncing.MasterSyncInProgress = true
	elsewhere := replicaOf(tLocal, "192.0.2.99:6379", 900)
	for _, tc := range []struct {
		name    string
		s       Snapshot
		max     int64
		bounded bool
		ok      bool
		why     string
	}{
		{"in sync", behind, 0, false, true, "in sync with 192.0.2.12:6379, 100 bytes behind"},
		{"within the bound", behind, 100, true, true, "100 bytes behind"},
		{"beyond the bound", behind, 99, true, false, "100 bytes behind, more than max_lag_bytes 99"},
		{"link down", snap(down, master(tPeer, 1000), transition.EventBackup, nil), 0, false, false, "link to 192.0.2.12:6379 is down"},
		{"full sync", snap(syncing, master(tPeer, 1000), transition.EventBackup, nil), 0, false, false, "full sync"},
		{"master", snap(master(tLocal, 1), replicaOf(tPeer, tLocal, 1), transition.EventMaster, nil), 0, false, false, "local Redis is master"},
		{"lag unknown with a bound", snap(elsewhere, master(tPeer, 1000), transition.EventBackup, nil), 1 << 20, true, false, "lag is unknown"},
		{"lag unknown without one", snap(elsewhere, master(tPeer, 1000), transition.EventBackup, nil), 0, false, true, "in sync with 192.0.2.99:6379"},
	} {
		ok, why := Replica(tc.s, tc.max, tc.bounded)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %v %q, want %v and %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

// fixedSource answers with a snapshot, counting readings; a positive delay
// makes each reading take that long (or until ctx ends).
type fixedSource struct {
	mu    sync.Mutex
	s     Snapshot
	delay time.Duration
	reads atomic.Int32
}

func (f *fixedSource) set(s Snapshot) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

func (f *fixedSource) Snapshot(ctx context.Context) Snapshot {
	f.reads.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func newTestServer(t *testing.T, src Source, maxAge time.Duration) *httptest.Server {
	t.Helper()
	s, err := New(Options{Source: src, Timeout: 500 * time.Millisecond, MaxAge: maxAge, Host: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestEndpoints(t *testing.T) {
	src := &fixedSource{}
	ts := newTestServer(t, src, time.Nanosecond)
	holding := &VRRP{State: "MASTER", HoldsVIP: true, Healthy: true, VIPs: []string{"192.0.2.10/24"}}
	src.set(snap(master(tLocal, 100), replicaOf(tPeer, tLocal, 100), transition.EventMaster, holding))

	code, h, body := get(t, "GET", ts.URL+"/primary")
	if code != 200 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"ok": true`) || !strings.Contains(body, `"role": "master"`) {
		t.Errorf("/primary on the master: %d %s", code, body)
	}
	if code, _, body := get(t, "GET", ts.URL+"/replica"); code != 503 || !strings.Contains(body, "local Redis is master") {
		t.Errorf("/replica on the master: %d %s", code, body)
	}
	if code, _, body := get(t, "HEAD", ts.URL+"/primary"); code != 200 || body != "" {
		t.Errorf("HEAD /primary: %d %q", code, body)
	}
	if code, _, _ := get(t, "POST", ts.URL+"/primary"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /primary: %d", code)
	}
	if code, _, _ := get(t, "GET", ts.URL+"/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}

	code, h, body = get(t, "GET", ts.URL+"/metrics")
	for _, want := range []string{`redis_vip_report_status{pair="r6379"} 0`, `redis_vip_node_role{pair="r6379",node="local",role="master"} 1`,
		`redis_vip_vrrp_state{pair="r6379",state="master"} 1`, `redis_vip_vrrp_holds_vip{pair="r6379"} 1`, `redis_vip_maintenance{pair="r6379"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("/metrics: %d %s", code, h.Get("Content-Type"))
	}

	// The replica, lagging 100 bytes, in maintenance.
	rs := snap(replicaOf(tLocal, tPeer, 900), master(tPeer, 1000), transition.EventBackup, nil)
	rs.Report.State.Maintenance = maintenance.State{On: true, By: "root@b", Reason: "upgrade"}
	report.Evaluate(&rs.Report, report.DefaultThresholds(), tNow)
	rs.Check = *rs.Report.Check
	rs.Report.Journal.Records = []transition.Record{{Event: transition.EventBackup, Outcome: transition.OutcomeMaintenance, Seq: 7}}
	src.set(rs)
	if code, _, body := get(t, "GET", ts.URL+"/primary"); code != 503 || !strings.Contains(body, "replica of") {
		t.Errorf("/primary on the replica: %d %s", code, body)
	}
	for q, want := range map[string]int{"": 200, "?max_lag_bytes=100": 200, "?max_lag_bytes=99": 503, "?max_lag_bytes=1KiB": 200, "?max_lag_bytes=lots": 400} {
		if code, _, body := get(t, "GET", ts.URL+"/replica"+q); code != want {
			t.Errorf("/replica%s: %d, want %d: %s", q, code, want, body)
		}
	}
	code, h, body = get(t, "GET", ts.URL+"/health")
	if code != 200 || h.Get("X-Redis-Vip-Maintenance") != "on" {
		t.Errorf("/health: %d, maintenance header %q", code, h.Get("X-Redis-Vip-Maintenance"))
	}
	var doc struct {
		Instance    string
		Mode        string
		Warnings    []string
		Maintenance maintenance.State
		Primary     struct{ OK bool }
		Replica     struct{ OK bool }
		Status      string
		Reasons     []struct{ Code string }
		Check       check.Result
		VRRP        *VRRP
		Local, Peer struct {
			Addr  string
			Facts *node.Facts
		}
		LastTransition *transition.Record `json:"last_transition"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/health is not JSON: %v\n%s", err, body)
	}
	if doc.Instance != "r6379" || doc.Mode != "keepalived" || doc.VRRP != nil || !doc.Maintenance.On || len(doc.Warnings) != 1 ||
		!strings.Contains(doc.Warnings[0], "MAINTENANCE MODE is on by root@b (upgrade)") || doc.Primary.OK || !doc.Replica.OK ||
		doc.Status != "WARNING" || len(doc.Reasons) != 1 || doc.Reasons[0].Code != "maintenance" || !doc.Check.Maintenance ||
		doc.Local.Facts == nil || doc.Local.Facts.Role != node.RoleReplica || doc.Peer.Facts == nil || doc.Peer.Addr != tPeer ||
		doc.LastTransition == nil || doc.LastTransition.Seq != 7 {
		t.Errorf("/health:\n%s", body)
	}

	// Local Redis down: /health says 503, with the JSON still.
	src.set(snap(nil, master(tPeer, 1000), transition.EventBackup, &VRRP{State: "FAULT"}))
	if code, _, body := get(t, "GET", ts.URL+"/health"); code != 503 || !strings.Contains(body, `"mode": "run"`) || !strings.Contains(body, "connection refused") {
		t.Errorf("/health with local down: %d %s", code, body)
	}
}

// Probes that arrive together share one reading, and a reading is reused
// for MaxAge; a reading that outlasts the bound answers 503.
func TestReadingsAreSharedAndBounded(t *testing.T) {
	src := &fixedSource{delay: 50 * time.Millisecond}
	src.set(snap(master(tLocal, 1), replicaOf(tPeer, tLocal, 1), transition.EventMaster, nil))
	ts := newTestServer(t, src, time.Hour)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, _ := get(t, "GET", ts.URL+"/primary"); code != 200 {
				t.Errorf("/primary: %d", code)
			}
		}()
	}
	wg.Wait()
	get(t, "GET", ts.URL+"/health")
	if n := src.reads.Load(); n != 1 {
		t.Errorf("%d readings for 21 requests, want 1", n)
	}

	slow := &fixedSource{delay: time.Hour}
	ts2 := newTestServer(t, slow, time.Nanosecond)
	start := time.Now()
	code, _, _ := get(t, "GET", ts2.URL+"/primary")
	if code != 200 && code != 503 {
		t.Errorf("slow source: %d", code)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a hung Redis held the request %s", took)
	}
}

// Serve keeps trying to listen while the address is taken, and serves once
// it is free; it returns when ctx ends.
func TestServeRetriesListen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	src := &fixedSource{}
	src.set(snap(master(tLocal, 1), replicaOf(tPeer, tLocal, 1), transition.EventMaster, nil))
	s, err := New(Options{Source: src, Timeout: time.Second, Retry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, addr); close(done) }()
	time.Sleep(100 * time.Millisecond)
	busy.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/primary")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("/primary: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{":8008": true, "192.0.2.11:8008": true, "[::1]:8008": true, "localhost:1": true,
		"8008": false, "host:0": false, "host:http": false, "host:70000": false} {
		if err := CheckListen(addr); (err == nil) != ok {
			t.Errorf("%q: %v", addr, err)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

func TestLongestGapFrom(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	acks := func(at ...int) []writer.Ack {
		var out []writer.Ack
		for i, a := range at {
			out = append(out, writer.Ack{N: int64(i + 1), At: ms(a)})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		acks       []writer.Ack
		duration   int
		from       int
		gap, from0 int
	}{
		{"gap across the fault counts whole", acks(0, 10, 20, 900, 910), 920, 25, 880, 20},
		{"a bigger gap before the fault does not", acks(0, 500, 510, 600, 610), 620, 550, 90, 510},
		{"writes never resumed: the tail counts", acks(0, 10, 20), 3000, 15, 2980, 20},
		{"no ack at all", nil, 1000, 0, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := writer.Log{Start: start, Acks: tc.acks, Duration: ms(tc.duration)}
			gap, began := longestGapFrom(l, start.Add(ms(tc.from)))
			if gap != ms(tc.gap) || !began.Equal(start.Add(ms(tc.from0))) {
				t.Fatalf("longestGapFrom = %v from %v; want %v from %v", gap, began.Sub(start), ms(tc.gap), ms(tc.from0))
			}
		})
	}
}

func TestStatsAndTable(t *testing.T) {
	s := func(ms ...int) []sample {
		var out []sample
		for _, m := range ms {
			out = append(out, sample{gap: time.Duration(m) * time.Millisecond, lost: 1})
		}
		return out
	}
	c := statsOf(s(300, 100, 200, 900))
	if c.median != 250*time.Millisecond || c.worst != 900*time.Millisecond || c.lost != 4 || c.n != 4 {
		t.Fatalf("statsOf = %+v", c)
	}
	base := row{id: "sentinel", name: "Sentinel + HAProxy"}
	base.samples[faultKill] = s(9000, 10000, 11000)
	base.na[faultFailback] = "no failback"
	other := row{id: "run", name: "run"}
	other.samples[faultKill] = s(100, 200, 300)
	other.samples[faultHang] = []sample{{gap: 8 * time.Second, unsettled: true}}
	other.samples[faultFailback] = s(50, 60, 70)
	out := renderTable([]row{base, other}, "sentinel", 3, 8*time.Second)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header, rule and two rows:\n%s", out)
	}
	for _, want := range []string{" 10.0 s |", " 200 ms |", " 0.020 |", " *8.00 s (n=1) |", "SIGSTOP 8s: median", " 60 ms |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(lines[2], "| Sentinel + HAProxy ") || !strings.HasSuffix(lines[2], " - |") {
		t.Errorf("baseline row (failback does not apply): %s", lines[2])
	}
}

func TestKeepalivedState(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"", ""},
		{"Starting Keepalived v2.2.7\n(VI_REDIS) Entering BACKUP STATE\n(VI_REDIS) Entering MASTER STATE\n", "MASTER"},
		{"(VI_REDIS) Entering MASTER STATE\nStopped Keepalived v2.2.7\n", "STOP"},
		{"(VI_REDIS) Entering MASTER STATE\nStopped Keepalived\nStarting Keepalived v2.2.7\n", ""},
		{"(VI_REDIS) Entering FAULT STATE\n", "FAULT"},
	} {
		if got := keepalivedState(tc.log); got != tc.want {
			t.Errorf("keepalivedState(%q) = %q, want %q", tc.log, got, tc.want)
		}
	}
}

func TestPairSettled(t *testing.T) {
	master := node{up: true, role: "master"}
	replica := node{up: true, role: "slave", master: "h1", linkUp: true}
	for _, tc := range []struct {
		name   string
		nodes  map[string]node
		master string
		ok     bool
	}{
		{"steady", map[string]node{"h1": master, "h2": replica}, "h1", true},
		{"replica down", map[string]node{"h1": master, "h2": {}}, "h1", true},
		{"two masters", map[string]node{"h1": master, "h2": master}, "", false},
		{"syncing", map[string]node{"h1": master, "h2": {up: true, role: "slave", master: "h1", linkUp: true, syncing: true}}, "h1", false},
		{"loop", map[string]node{"h1": {up: true, role: "slave", master: "h2", linkUp: true}, "h2": replica}, "", false},
	} {
		m, ok, _ := pairSettled(tc.nodes)
		if m != tc.master || ok != tc.ok {
			t.Errorf("%s: pairSettled = %q, %v; want %q, %v", tc.name, m, ok, tc.master, tc.ok)
		}
	}
}

// The knobs come from the generated configs, whatever the shipped files
// say today; the shipped files themselves must parse.
func TestReadKAConf(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.conf")
	b := filepath.Join(dir, "b.conf")
	conf := `vrrp_script chk_redis {
    script "/x check"
    interval 1
    timeout 2
    fall 2   # comment
    rise 2
}
track_file redis_switchover {
    file "/x"
}
vrrp_instance VI_REDIS {
    nopreempt
    priority %s
    advert_int 1
    track_file {
        redis_switchover
    }
}
`
	if err := os.WriteFile(a, []byte(strings.Replace(conf, "%s", "110", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(strings.Replace(conf, "%s", "100", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := readKAConf(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.interval != "1" || c.fall != "2" || c.rise != "2" || c.timeout != "2" || !c.noPreempt || c.prio["h1"] != "110" || c.higher() != "h1" || c.preempt() || len(c.tracks) != 1 {
		t.Fatalf("readKAConf = %+v", c)
	}
	for _, f := range []string{"keepalived-host-a.conf", "keepalived-fifo-host-a.conf"} {
		p := filepath.Join("..", "..", "..", "packaging", "keepalived", f)
		if _, err := readKAConf(p, p); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// -faults kill: the faults left out are no columns.
func TestRenderTableLeavesOutFaultsNotRun(t *testing.T) {
	r := row{id: "run", name: "run"}
	r.samples[faultKill] = []sample{{gap: 80 * time.Millisecond}, {gap: 90 * time.Millisecond}, {gap: 100 * time.Millisecond}}
	for _, f := range []fault{faultHang, faultPlanned, faultFailback} {
		r.na[f] = notRun
	}
	out := renderTable([]row{r}, "run", 3, 8*time.Second)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "kill -9: median") || strings.Contains(out, "SIGSTOP") ||
		strings.Contains(out, "planned") || strings.Contains(out, "failback") || !strings.Contains(lines[2], " 90 ms |") {
		t.Errorf("want only the kill -9 columns:\n%s", out)
	}
}

package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/reporttest"
)

// parseExposition reads a metrics text with Prometheus's own parser
// (internal/reporttest).
func parseExposition(text string) ([]reporttest.Series, map[string]string, error) {
	m, err := reporttest.ParseMetrics(text)
	return m.Series, m.Types, err
}

// checkConventions adds the project's own rules: the redis_vip_ prefix,
// gauges only, base units in names, known labels.
func checkConventions(t *testing.T, series []reporttest.Series, types map[string]string) {
	t.Helper()
	allowed := map[string]bool{"pair": true, "node": true, "role": true, "vip": true, "holder": true, "state": true, "status": true, "addr": true, "server": true, "version": true}
	for name, typ := range types {
		if !strings.HasPrefix(name, "redis_vip_") {
			t.Errorf("%s: metric names start with redis_vip_", name)
		}
		if typ != "gauge" || strings.HasSuffix(name, "_total") {
			t.Errorf("%s: %s; report metrics are gauges, never _total", name, typ)
		}
		for _, bad := range []string{"_ms", "_milliseconds", "_kb", "_mb", "_minutes", "_hours", "_percent"} {
			if strings.HasSuffix(name, bad) {
				t.Errorf("%s: use base units (seconds, bytes, ratios)", name)
			}
		}
	}
	for _, s := range series {
		for l := range s.Labels {
			if !allowed[l] {
				t.Errorf("%s: unexpected label %s", s.Name, l)
			}
		}
		if _, ok := s.Labels["instance"]; ok {
			t.Errorf("%s: label instance clashes with Prometheus's target label", s.Name)
		}
	}
}

func TestPrometheusParses(t *testing.T) {
	var b bytes.Buffer
	if err := RenderPrometheus(&b, fxReport()); err != nil {
		t.Fatal(err)
	}
	series, types, err := parseExposition(b.String())
	if err != nil {
		t.Fatalf("exposition: %v\n%s", err, b.String())
	}
	checkConventions(t, series, types)
	get := func(key string) float64 {
		t.Helper()
		for _, s := range series {
			if s.Key() == key {
				return s.Value
			}
		}
		t.Fatalf("no series %s", key)
		return 0
	}
	for key, want := range map[string]float64{
		`redis_vip_report_status,pair="redis6379"`:                                   0,
		`redis_vip_report_status,pair="redis6380"`:                                   2,
		`redis_vip_report_status,pair="redis6381"`:                                   3,
		`redis_vip_node_up,node="peer",pair="redis6380"`:                             0,
		`redis_vip_replication_lag_bytes,pair="redis6379"`:                           0,
		`redis_vip_guard_active,node="local",pair="redis6380"`:                       0,
		`redis_vip_vip_holder,holder="local",pair="redis6379",vip="192.0.2.10:6379"`: 1,
		`redis_vip_holdoff_active,pair="redis6380"`:                                  1,
		`redis_vip_journal_failed_transitions,pair="redis6380"`:                      1,
		`redis_vip_report_timestamp_seconds`:                                         float64(fxNow.Unix()),
	} {
		if got := get(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}

func TestPrometheusEscapesLabels(t *testing.T) {
	in := fxHealthy()
	in.Name = "odd \"name\" with \\ and\nnewline"
	Evaluate(&in, DefaultThresholds(), fxNow)
	var b bytes.Buffer
	if err := RenderPrometheus(&b, Report{GeneratedAt: fxNow, Instances: []Instance{in}}); err != nil {
		t.Fatal(err)
	}
	series, _, err := parseExposition(b.String())
	if err != nil {
		t.Fatalf("exposition: %v\n%s", err, b.String())
	}
	pairs := 0
	for _, s := range series {
		if p, ok := s.Labels["pair"]; ok {
			pairs++
			if p != in.Name {
				t.Fatalf("%s: pair label %q, want %q", s.Name, p, in.Name)
			}
		}
	}
	if pairs == 0 {
		t.Fatal("no series has a pair label")
	}
}

// The parser must reject what the format forbids, or the tests above
// prove nothing. (What Prometheus's parser accepts is the format: blank
// lines, HELP after the samples and labels starting with __ are allowed.)
func TestExpositionParserRejects(t *testing.T) {
	ok := "# HELP redis_vip_x X.\n# TYPE redis_vip_x gauge\nredis_vip_x{pair=\"a\"} 1\n"
	if _, _, err := parseExposition(ok); err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
	for name, text := range map[string]string{
		"no final newline":   strings.TrimSuffix(ok, "\n"),
		"sample before TYPE": "redis_vip_x 1\n# TYPE redis_vip_x gauge\n",
		"duplicate series":   "# TYPE redis_vip_x gauge\nredis_vip_x{a=\"1\"} 1\nredis_vip_x{a=\"1\"} 2\n",
		"bad label name":     "# TYPE redis_vip_x gauge\nredis_vip_x{1a=\"1\"} 1\n",
		"bad escape":         "# TYPE redis_vip_x gauge\nredis_vip_x{a=\"\\t\"} 1\n",
		"unquoted value":     "# TYPE redis_vip_x gauge\nredis_vip_x{a=1} 1\n",
		"bad value":          "# TYPE redis_vip_x gauge\nredis_vip_x one\n",
		"bad metric name":    "# TYPE redis-vip gauge\nredis-vip 1\n",
		"bad type":           "# TYPE redis_vip_x gauge2\nredis_vip_x 1\n",
		"twice TYPE":         "# TYPE redis_vip_x gauge\n# TYPE redis_vip_x gauge\nredis_vip_x 1\n",
	} {
		if _, _, err := parseExposition(text); err == nil {
			t.Errorf("%s: accepted\n%s", name, text)
		}
	}
}

func TestWriteTextfileAtomic(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, TextfileName)
	if err := os.WriteFile(old, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(dir, fxReport()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != TextfileName {
		t.Fatalf("dir holds %v, want only %s (no temporary file left)", entries, TextfileName)
	}
	st, err := os.Stat(old)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (node_exporter must read it)", st.Mode().Perm())
	}
	b, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseExposition(string(b)); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(filepath.Join(dir, "missing"), fxReport()); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "1k": 1024, "1KiB": 1024, "16MiB": 16 << 20, "2 gb": 2 << 30, "7b": 7} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "1TB", "-1", "99999999999G"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "30s": 30 * time.Second, "2h": 2 * time.Hour, "0": 0} {
		if got, err := ParseSeconds(in); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-5", "-1s"} {
		if _, err := ParseSeconds(bad); err == nil {
			t.Errorf("ParseSeconds(%q) accepted", bad)
		}
	}
	for in, want := range map[string]float64{"90": 90, "90%": 90, "0": 0, "99.5%": 99.5} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "101", "-1", "NaN", "ninety"} {
		if _, err := ParsePercent(bad); err == nil {
			t.Errorf("ParsePercent(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{500 * time.Millisecond: "500ms", 45 * time.Second: "45s", 185 * time.Second: "3m05s", 7380 * time.Second: "2h03m", 100 * time.Hour: "4d04h"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %s, want %s", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1536: "1.5KiB", 3 << 20: "3.0MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %s, want %s", n, got, want)
		}
	}
	for in, want := range map[string]string{"1.2.3.4": "1.2.3.4:6379", "1.2.3.4:7000": "1.2.3.4:7000", "2001:db8::10": "[2001:db8::10]:6379", "[2001:db8::10]:7000": "[2001:db8::10]:7000"} {
		if got, err := VIPAddr(in, "192.0.2.11:6379"); err != nil || got != want {
			t.Errorf("VIPAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"vip.example", "1.2.3.4:0", "1.2.3.4:x"} {
		if _, err := VIPAddr(bad, "192.0.2.11:6379"); err == nil {
			t.Errorf("VIPAddr(%q) accepted", bad)
		}
	}
}

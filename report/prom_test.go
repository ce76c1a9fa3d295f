package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// promSeries is one parsed sample.
type promSeries struct {
	name   string
	labels map[string]string
	value  float64
}

// key identifies the series: name and sorted labels.
func (s promSeries) key() string {
	names := make([]string, 0, len(s.labels))
	for k := range s.labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.name)
	for _, k := range names {
		fmt.Fprintf(&b, ",%s=%q", k, s.labels[k])
	}
	return b.String()
}

// parseExposition is a strict parser of the Prometheus text format 0.0.4:
// HELP and TYPE at most once per family and before its samples, a family's
// samples together, valid metric and label names, quoted label values with
// only \\, \" and \n escapes, float values, no duplicate series, and a
// newline at the end.
func parseExposition(text string) ([]promSeries, map[string]string, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, nil, fmt.Errorf("does not end with a newline")
	}
	types := map[string]string{}
	helped := map[string]bool{}
	done := map[string]bool{} // families whose samples are over
	seen := map[string]bool{}
	var out []promSeries
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		switch {
		case line == "":
			return nil, nil, fmt.Errorf("line %d: empty line", n)
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			fields := strings.SplitN(line[7:], " ", 2)
			name := fields[0]
			if !metricNameRE.MatchString(name) {
				return nil, nil, fmt.Errorf("line %d: bad metric name %q", n, name)
			}
			if len(fields) != 2 || fields[1] == "" {
				return nil, nil, fmt.Errorf("line %d: %s without text", n, line[2:6])
			}
			if done[name] || (current == name && seen[name+"#sample"]) {
				return nil, nil, fmt.Errorf("line %d: %s for %s after its samples", n, line[2:6], name)
			}
			if current != "" && current != name {
				done[current] = true
			}
			current = name
			if line[2:6] == "HELP" {
				if helped[name] {
					return nil, nil, fmt.Errorf("line %d: second HELP for %s", n, name)
				}
				if strings.Contains(strings.ReplaceAll(fields[1], `\\`, ""), `\`+"\"") {
					return nil, nil, fmt.Errorf("line %d: HELP escapes only \\\\ and \\n", n)
				}
				helped[name] = true
				continue
			}
			if _, dup := types[name]; dup {
				return nil, nil, fmt.Errorf("line %d: second TYPE for %s", n, name)
			}
			switch fields[1] {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				return nil, nil, fmt.Errorf("line %d: unknown TYPE %q", n, fields[1])
			}
			types[name] = fields[1]
		case strings.HasPrefix(line, "#"):
			continue // a comment
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", n, err)
			}
			if _, ok := types[s.name]; !ok {
				return nil, nil, fmt.Errorf("line %d: sample of %s without TYPE", n, s.name)
			}
			if done[s.name] || (current != s.name) {
				return nil, nil, fmt.Errorf("line %d: sample of %s outside its family's block", n, s.name)
			}
			seen[s.name+"#sample"] = true
			if seen[s.key()] {
				return nil, nil, fmt.Errorf("line %d: duplicate series %s", n, s.key())
			}
			seen[s.key()] = true
			out = append(out, s)
		}
	}
	return out, types, nil
}

func parseSample(line string) (promSeries, error) {
	s := promSeries{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	s.name = line[:i]
	if !metricNameRE.MatchString(s.name) {
		return s, fmt.Errorf("bad metric name %q", s.name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq < 0 {
				return s, fmt.Errorf("label without '=' in %q", line)
			}
			name := rest[:eq]
			if !labelNameRE.MatchString(name) || strings.HasPrefix(name, "__") {
				return s, fmt.Errorf("bad label name %q", name)
			}
			if _, dup := s.labels[name]; dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			rest = rest[eq+1:]
			if !strings.HasPrefix(rest, `"`) {
				return s, fmt.Errorf("label %s value not quoted", name)
			}
			var val strings.Builder
			j := 1
			for ; j < len(rest) && rest[j] != '"'; j++ {
				switch c := rest[j]; c {
				case '\\':
					j++
					if j >= len(rest) {
						return s, fmt.Errorf("label %s: escape at the end", name)
					}
					switch rest[j] {
					case '\\':
						val.WriteByte('\\')
					case '"':
						val.WriteByte('"')
					case 'n':
						val.WriteByte('\n')
					default:
						return s, fmt.Errorf("label %s: bad escape \\%c", name, rest[j])
					}
				case '\n':
					return s, fmt.Errorf("label %s: raw newline", name)
				default:
					val.WriteByte(c)
				}
			}
			if j >= len(rest) {
				return s, fmt.Errorf("label %s: unterminated value", name)
			}
			s.labels[name] = val.String()
			rest = rest[j+1:]
			switch {
			case strings.HasPrefix(rest, ","):
				rest = rest[1:]
			case strings.HasPrefix(rest, "}"):
			default:
				return s, fmt.Errorf("after label %s: want ',' or '}' in %q", name, line)
			}
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return s, fmt.Errorf("no space before the value in %q", line)
	}
	fields := strings.Split(rest[1:], " ")
	if len(fields) > 2 || fields[0] == "" {
		return s, fmt.Errorf("want value [timestamp] in %q", line)
	}
	switch fields[0] {
	case "+Inf":
		s.value = math.Inf(1)
	case "-Inf":
		s.value = math.Inf(-1)
	case "NaN":
		s.value = math.NaN()
	default:
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return s, fmt.Errorf("value %q: %w", fields[0], err)
		}
		s.value = v
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("timestamp %q: %w", fields[1], err)
		}
	}
	return s, nil
}

// checkConventions adds the project's own rules: the redis_vip_ prefix,
// gauges only, base units in names, known labels.
func checkConventions(t *testing.T, series []promSeries, types map[string]string) {
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
		for l := range s.labels {
			if !allowed[l] {
				t.Errorf("%s: unexpected label %s", s.name, l)
			}
		}
		if _, ok := s.labels["instance"]; ok {
			t.Errorf("%s: label instance clashes with Prometheus's target label", s.name)
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
			if s.key() == key {
				return s.value
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
	if series[2].labels["pair"] != in.Name {
		t.Fatalf("pair label %q, want %q", series[2].labels["pair"], in.Name)
	}
}

// The parser must reject what the format forbids.
func TestExpositionParserRejects(t *testing.T) {
	ok := "# HELP redis_vip_x X.\n# TYPE redis_vip_x gauge\nredis_vip_x{pair=\"a\"} 1\n"
	if _, _, err := parseExposition(ok); err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
	for name, text := range map[string]string{
		"no final newline":    strings.TrimSuffix(ok, "\n"),
		"sample before TYPE":  "redis_vip_x 1\n# TYPE redis_vip_x gauge\n",
		"HELP after samples":  "# TYPE redis_vip_x gauge\nredis_vip_x 1\n# HELP redis_vip_x X.\n",
		"duplicate series":    "# TYPE redis_vip_x gauge\nredis_vip_x{a=\"1\"} 1\nredis_vip_x{a=\"1\"} 2\n",
		"split family":        "# TYPE redis_vip_x gauge\nredis_vip_x 1\n# TYPE redis_vip_y gauge\nredis_vip_y 1\nredis_vip_x{a=\"b\"} 1\n",
		"bad label name":      "# TYPE redis_vip_x gauge\nredis_vip_x{1a=\"1\"} 1\n",
		"reserved label name": "# TYPE redis_vip_x gauge\nredis_vip_x{__a=\"1\"} 1\n",
		"bad escape":          "# TYPE redis_vip_x gauge\nredis_vip_x{a=\"\\t\"} 1\n",
		"unquoted value":      "# TYPE redis_vip_x gauge\nredis_vip_x{a=1} 1\n",
		"bad value":           "# TYPE redis_vip_x gauge\nredis_vip_x one\n",
		"bad metric name":     "# TYPE redis-vip gauge\nredis-vip 1\n",
		"bad type":            "# TYPE redis_vip_x gauge2\nredis_vip_x 1\n",
		"empty line":          "# TYPE redis_vip_x gauge\n\nredis_vip_x 1\n",
		"twice TYPE":          "# TYPE redis_vip_x gauge\n# TYPE redis_vip_x gauge\nredis_vip_x 1\n",
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

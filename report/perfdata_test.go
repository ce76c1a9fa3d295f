package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// perfItemParsed is one item of Nagios perfdata.
type perfItemParsed struct {
	label, value, uom, warn, crit, min, max string
}

// The grammar of the Nagios plugin development guidelines (section
// "Performance data"):
//
//		'label'=value[UOM];[warn];[crit];[min];[max]
//
//	  - space separated list of label/value pairs;
//	  - label can contain any characters except the equals sign or single
//	    quote; the quotes are optional unless the label has spaces; a single
//	    quote inside is written as two;
//	  - value, min and max in class [-0-9.], the same UOM; value may be a
//	    literal "U" (could not be determined);
//	  - warn and crit in range format: [@]start:end, start "~" for -inf,
//	    start and ":" optional when 0, end optional for +inf;
//	  - UOM: none, s ms us, %, B KB MB TB, c;
//	  - min and max are not needed for "%"; trailing unfilled semicolons can
//	    be dropped.
var (
	perfNumber = regexp.MustCompile(`^-?[0-9.]+$`)
	perfRange  = regexp.MustCompile(`^@?((~|-?[0-9.]+)?:)?(-?[0-9.]+)?$`)
	perfUOM    = map[string]bool{"": true, "s": true, "ms": true, "us": true, "%": true, "B": true, "KB": true, "MB": true, "TB": true, "c": true}
)

// parsePerfdata parses perfdata by the guidelines' grammar, strictly.
func parsePerfdata(s string) ([]perfItemParsed, error) {
	var items []perfItemParsed
	for s != "" {
		var it perfItemParsed
		if s[0] == '\'' {
			// Quoted label: '' is a quote.
			i := 1
			var b strings.Builder
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated label in %q", s)
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					break
				}
				b.WriteByte(s[i])
				i++
			}
			it.label, s = b.String(), s[i+1:]
			if !strings.HasPrefix(s, "=") {
				return nil, fmt.Errorf("label %q: no = after it", it.label)
			}
		} else {
			eq := strings.IndexByte(s, '=')
			if eq <= 0 {
				return nil, fmt.Errorf("no label=value in %q", s)
			}
			it.label, s = s[:eq], s[eq:]
			if strings.ContainsAny(it.label, " '") {
				return nil, fmt.Errorf("unquoted label %q has a space or quote", it.label)
			}
		}
		if it.label == "" || strings.Contains(it.label, "=") {
			return nil, fmt.Errorf("bad label %q", it.label)
		}
		s = s[1:] // "="
		end := strings.IndexByte(s, ' ')
		field := s
		if end >= 0 {
			field, s = s[:end], s[end+1:]
			if s == "" || s[0] == ' ' {
				return nil, fmt.Errorf("%s: stray space", it.label)
			}
		} else {
			s = ""
		}
		parts := strings.Split(field, ";")
		if len(parts) > 5 {
			return nil, fmt.Errorf("%s: more than 5 fields in %q", it.label, field)
		}
		parts = append(parts, make([]string, 5-len(parts))...)
		v := parts[0]
		if v == "U" {
			it.value = "U"
		} else {
			n := strings.IndexFunc(v, func(r rune) bool { return !strings.ContainsRune("-0123456789.", r) })
			if n < 0 {
				n = len(v)
			}
			it.value, it.uom = v[:n], v[n:]
			if !perfNumber.MatchString(it.value) {
				return nil, fmt.Errorf("%s: value %q is not a number", it.label, v)
			}
			if !perfUOM[it.uom] {
				return nil, fmt.Errorf("%s: unit %q is not one of the guidelines'", it.label, it.uom)
			}
		}
		it.warn, it.crit, it.min, it.max = parts[1], parts[2], parts[3], parts[4]
		for _, r := range []string{it.warn, it.crit} {
			if r != "" && !perfRange.MatchString(r) {
				return nil, fmt.Errorf("%s: threshold %q is not a range", it.label, r)
			}
		}
		for _, n := range []string{it.min, it.max} {
			if n != "" && !perfNumber.MatchString(n) {
				return nil, fmt.Errorf("%s: min/max %q is not a number", it.label, n)
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// The parser must reject what the guidelines forbid, or the tests below
// prove nothing.
func TestPerfdataParserRejects(t *testing.T) {
	for _, bad := range []string{
		"lag=1MiB", "lag=1x", "lag=abc", "lag=1;2;3;4;5;6", "my lag=1", "'lag=1", "=1",
		"lag=1;1:2:3", "lag=1;;;x", "lag=1  keys=2", "lag=1 ", "'a'b'=1",
	} {
		if _, err := parsePerfdata(bad); err == nil {
			t.Errorf("parsePerfdata(%q) accepted it", bad)
		}
	}
	good := "'a b'=1;2;3;0;10 c=U 'd''e'=0.5s;@1:2;~:3 f=3%"
	items, err := parsePerfdata(good)
	if err != nil || len(items) != 4 || items[0].label != "a b" || items[2].label != "d'e" || items[3].uom != "%" {
		t.Errorf("parsePerfdata(%q) = %+v, %v", good, items, err)
	}
}

// statusLine splits the first line of the text report into its text and
// its perfdata, as Nagios does (at the first "|").
func statusLine(t *testing.T, r Report) (text, perf string) {
	t.Helper()
	var b bytes.Buffer
	if err := RenderText(&b, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for _, l := range lines[1:] {
		if strings.Contains(l, "|") {
			t.Errorf("a long-text line has a |, which Nagios reads as perfdata: %q", l)
		}
	}
	text, perf, _ = strings.Cut(lines[0], "|")
	return strings.TrimSpace(text), strings.TrimSpace(perf)
}

func TestPerfdataSingleInstance(t *testing.T) {
	in := fxHealthy()
	Evaluate(&in, DefaultThresholds(), fxNow)
	text, perf := statusLine(t, Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{in}})
	if !strings.HasPrefix(text, "OK: ") {
		t.Errorf("status line %q", text)
	}
	items, err := parsePerfdata(perf)
	if err != nil {
		t.Fatalf("perfdata %q: %v", perf, err)
	}
	got := map[string]perfItemParsed{}
	for _, it := range items {
		got[it.label] = it
	}
	want := map[string]perfItemParsed{
		"lag_bytes":          {label: "lag_bytes", value: "0", uom: "B", warn: "1048576", crit: "16777216", min: "0"},
		"lag_seconds":        {label: "lag_seconds", value: "1", uom: "s", warn: "30", crit: "120", min: "0"},
		"link_down_seconds":  {label: "link_down_seconds", value: "0", uom: "s", min: "0"},
		"keys":               {label: "keys", value: "1000", min: "0"},
		"peer_keys":          {label: "peer_keys", value: "1000", min: "0"},
		"failed_transitions": {label: "failed_transitions", value: "0", warn: "0", min: "0"},
		"time":               {label: "time", value: "0.012", uom: "s", min: "0"},
	}
	if len(got) != len(items) || len(items) != len(want) {
		t.Errorf("perfdata %q: want the labels of %v", perf, want)
	}
	for label, w := range want {
		if got[label] != w {
			t.Errorf("%s: got %+v, want %+v", label, got[label], w)
		}
	}
}

func TestPerfdataLinkDownAndUnknown(t *testing.T) {
	in := fxHealthy()
	in.Peer.Facts = fxReplica(fxPeer, fxLocal, false, 1000, 5000)
	th := DefaultThresholds()
	th.LagBytesWarn, th.LagSecondsCrit = 0, 0 // off: no threshold
	Evaluate(&in, th, fxNow)
	down := in
	down.Name = "down"
	gone := fxHealthy()
	gone.Name = "gone"
	gone.Peer.Facts, gone.Peer.Err = nil, "refused"
	Evaluate(&gone, th, fxNow)
	text, perf := statusLine(t, Report{GeneratedAt: fxNow, Thresholds: th, Instances: []Instance{down, gone}})
	if !strings.HasPrefix(text, "CRITICAL: ") {
		t.Errorf("status line %q", text)
	}
	items, err := parsePerfdata(perf)
	if err != nil {
		t.Fatalf("perfdata %q: %v", perf, err)
	}
	got := map[string]perfItemParsed{}
	for _, it := range items {
		got[it.label] = it
	}
	for label, w := range map[string]perfItemParsed{
		"down_link_down_seconds": {label: "down_link_down_seconds", value: "42", uom: "s", min: "0"},
		"down_lag_bytes":         {label: "down_lag_bytes", value: "0", uom: "B", crit: "16777216", min: "0"},
		"down_lag_seconds":       {label: "down_lag_seconds", value: "U", warn: "30", min: "0"},
		"gone_peer_keys":         {label: "gone_peer_keys", value: "U", min: "0"},
		"gone_keys":              {label: "gone_keys", value: "1000", min: "0"},
		"gone_link_down_seconds": {label: "gone_link_down_seconds", value: "U", min: "0"},
	} {
		if got[label] != w {
			t.Errorf("%s: got %+v, want %+v", label, got[label], w)
		}
	}
	if len(items) != 14 {
		t.Errorf("%d items, want 7 per instance: %q", len(items), perf)
	}
}

func TestPerfdataNoneWhenTheReportFailed(t *testing.T) {
	r := Report{GeneratedAt: fxNow, Err: "redis-vip report: configuration: missing | pipe"}
	text, perf := statusLine(t, r)
	if perf != "" || text != "UNKNOWN: redis-vip report: configuration: missing / pipe" {
		t.Errorf("status line %q, perfdata %q", text, perf)
	}
}

func TestPerfdataQuotesLabels(t *testing.T) {
	in := fxHealthy()
	in.Name = "it's=odd"
	Evaluate(&in, DefaultThresholds(), fxNow)
	other := fxHealthy()
	Evaluate(&other, DefaultThresholds(), fxNow)
	items, err := parsePerfdata(Perfdata(Report{Thresholds: DefaultThresholds(), Instances: []Instance{in, other}}))
	if err != nil {
		t.Fatal(err)
	}
	if items[0].label != "it's_odd_lag_bytes" {
		t.Errorf("label %q", items[0].label)
	}
}

// A metrics file that could not be written makes the status line UNKNOWN
// with the reason, not OK with exit code 3.
func TestTextfileErrorInStatusLine(t *testing.T) {
	in := fxHealthy()
	Evaluate(&in, DefaultThresholds(), fxNow)
	r := Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{in},
		TextfileErr: "metrics textfile not written: permission denied"}
	if r.Status() != Unknown {
		t.Errorf("status %s, want UNKNOWN", r.Status())
	}
	text, _ := statusLine(t, r)
	if want := "UNKNOWN: metrics textfile not written: permission denied; OK: " + in.Name + ": "; !strings.HasPrefix(text, want) {
		t.Errorf("status line %q, want it to start with %q", text, want)
	}
	// A graver verdict stays, with the textfile named first.
	bad := fxHealthy()
	bad.Peer.Facts, bad.Peer.Err = nil, "refused"
	Evaluate(&bad, DefaultThresholds(), fxNow)
	r.Instances = []Instance{bad}
	text, _ = statusLine(t, r)
	if r.Status() != Critical || !strings.HasPrefix(text, "CRITICAL: metrics textfile not written: permission denied; "+bad.Name+": ") {
		t.Errorf("status %s, line %q", r.Status(), text)
	}
	var b bytes.Buffer
	if err := RenderJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"textfile_error": "metrics textfile not written: permission denied"`) {
		t.Errorf("JSON lacks textfile_error:\n%s", b.String())
	}
	validateReport(t, loadValidator(t), r)
}

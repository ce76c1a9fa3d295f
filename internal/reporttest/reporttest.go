// Package reporttest checks what `redis-vip report` writes with the
// formats' own libraries, not with parsers of ours: the JSON against the
// published schema (docs/report.schema.json, draft 2020-12) with
// santhosh-tekuri/jsonschema, and the metrics with Prometheus's own text
// parser (prometheus/common/expfmt). Tests only: nothing in the program
// imports it.
package reporttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaPath is the published JSON Schema of `report --format json`.
func SchemaPath() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "docs", "report.schema.json")
}

var schema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	s, err := c.Compile(SchemaPath())
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", SchemaPath(), err)
	}
	return s, nil
})

// Schema is the compiled schema (compiled once per process).
func Schema() (*jsonschema.Schema, error) { return schema() }

// DecodeJSON decodes b with numbers as json.Number, as the validator
// wants them.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// ValidateJSON checks that b is one JSON document that the schema accepts.
func ValidateJSON(b []byte) error {
	var doc any
	if err := DecodeJSON(b, &doc); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return Validate(doc)
}

// Validate checks a decoded document (numbers as json.Number) against
// the schema.
func Validate(doc any) error {
	s, err := Schema()
	if err != nil {
		return err
	}
	return s.Validate(doc)
}

// Series is one sample of a metrics text.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Key identifies the series: its name and its labels, sorted.
func (s Series) Key() string {
	names := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range names {
		fmt.Fprintf(&b, ",%s=%q", k, s.Labels[k])
	}
	return b.String()
}

// Metrics is a parsed metrics text.
type Metrics struct {
	// Series are every sample, sorted by Key.
	Series []Series
	// Types are the families' types, lower case ("gauge"; "untyped" for a
	// family without a TYPE line).
	Types map[string]string
}

// ParseMetrics reads the Prometheus text format with Prometheus's own
// parser, with classic metric and label names (what node_exporter's
// textfile collector reads), and adds the one check that parser leaves to
// its callers: no series twice. Only gauges and untyped samples are
// expected; anything else is an error.
func ParseMetrics(text string) (Metrics, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return Metrics{}, err
	}
	m := Metrics{Types: map[string]string{}}
	seen := map[string]bool{}
	for name, f := range families {
		m.Types[name] = strings.ToLower(f.GetType().String())
		for _, metric := range f.GetMetric() {
			s := Series{Name: name, Labels: map[string]string{}}
			for _, l := range metric.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case metric.Gauge != nil:
				s.Value = metric.GetGauge().GetValue()
			case metric.Untyped != nil:
				s.Value = metric.GetUntyped().GetValue()
			default:
				return Metrics{}, fmt.Errorf("%s: a %s; the report writes gauges", name, m.Types[name])
			}
			if seen[s.Key()] {
				return Metrics{}, fmt.Errorf("series %s twice", s.Key())
			}
			seen[s.Key()] = true
			m.Series = append(m.Series, s)
		}
	}
	sort.Slice(m.Series, func(i, j int) bool { return m.Series[i].Key() < m.Series[j].Key() })
	return m, nil
}

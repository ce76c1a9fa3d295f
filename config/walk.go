package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// values are the leaves of one mapping, by dotted key: a file's nodes keep
// their line numbers, a flag's or env var's value is a node with none.
type values map[string]*yaml.Node

// keySet is the keys a mapping may hold (dotted leaves), and their sections.
type keySet map[string]bool

// keysOf makes the keySet of the settings under prefix ("" or "vrrp."),
// named without it; extra are leaves kept as nodes (an instance's vrrp:).
func keysOf(prefix string, fileOnly bool, extra ...string) keySet {
	k := keySet{}
	for _, s := range Settings {
		if s.FileOnly == fileOnly && strings.HasPrefix(s.Key, prefix) {
			k[strings.TrimPrefix(s.Key, prefix)] = true
		}
	}
	for _, e := range extra {
		k[e] = true
	}
	return k
}

// section reports whether key is a section: a prefix of other keys.
func (k keySet) section(key string) bool {
	for full := range k {
		if strings.HasPrefix(full, key+".") {
			return true
		}
	}
	return false
}

// under lists the names a mapping at prefix may hold, sorted.
func (k keySet) under(prefix string) []string {
	var out []string
	for full := range k {
		if rest, ok := strings.CutPrefix(full, prefix); ok {
			name, _, _ := strings.Cut(rest, ".")
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// walk adds the leaves of mapping n (under prefix) to out, against keys,
// and returns one problem per unknown key, duplicate key or section that
// is no mapping, each naming the file's line.
func (k keySet) walk(n *yaml.Node, prefix string, out values) []string {
	n = deref(n)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = deref(n.Content[0])
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			return []string{fmt.Sprintf("line %d: want a mapping of settings", n.Line)}
		}
		return []string{fmt.Sprintf("line %d: %s: want a mapping of settings", n.Line, name)}
	}
	var problems []string
	for _, kv := range pairs(n, &problems) {
		key, v := prefix+kv.key.Value, kv.value
		switch {
		case k[key]:
			out[key] = v
		case k.section(key):
			problems = append(problems, k.walk(v, key+".", out)...)
		default:
			problems = append(problems, fmt.Sprintf("line %d: unknown key %q (known: %s)", kv.key.Line, kv.key.Value, strings.Join(k.under(prefix), ", ")))
		}
	}
	return problems
}

type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's entries, reporting a key given twice as the YAML
// decoder does.
func pairs(n *yaml.Node, problems *[]string) []pair {
	var out []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, dup := seen[k.Value]; dup {
			*problems = append(*problems, fmt.Sprintf("line %d: mapping key %q already defined at line %d", k.Line, k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{k, deref(n.Content[i+1])})
	}
	return out
}

// deref follows a YAML alias to its anchor.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether a node is absent or an explicit null.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// scalarNode is a flag's, env var's or built-in default's value as YAML
// would read it in the file: integers and booleans plain, anything else a
// string (a duration, an address), never null.
func scalarNode(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	if t := n.ShortTag(); t != "!!int" && t != "!!bool" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// parser reads leaves into typed values and collects every problem, each
// naming its setting and, for a value from the file, its line.
type parser struct {
	v        values
	problems []string
}

func (p *parser) bad(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if n != nil && n.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", n.Line, msg)
	}
	p.problems = append(p.problems, msg)
}

// scalar returns the text of key's value and whether it is set; a value
// that is no scalar is a problem.
func (p *parser) scalar(key string) (string, *yaml.Node, bool) {
	n := p.v[key]
	if isNull(n) {
		return "", n, false
	}
	if n.Kind != yaml.ScalarNode {
		p.bad(n, "%s: want a single value", key)
		return "", n, false
	}
	return n.Value, n, true
}

// str sets dst to key's value when it is set.
func (p *parser) str(key string, dst *string) {
	if v, _, ok := p.scalar(key); ok {
		*dst = v
	}
}

// boolean sets dst to key's value, true or false (yes/no, on/off too, as
// YAML reads them into a boolean).
func (p *parser) boolean(key string, dst *bool) {
	v, n, ok := p.scalar(key)
	if !ok {
		return
	}
	if err := n.Decode(dst); err != nil {
		p.bad(n, "%s %q: want true or false", key, v)
	}
}

// integer sets dst to key's whole-number value in lo..hi and reports
// whether it did.
func (p *parser) integer(key string, lo, hi int, dst *int) bool {
	v, n, ok := p.scalar(key)
	if !ok {
		return false
	}
	var i int
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.bad(n, "%s %q: want a whole number", key, v)
		return false
	}
	if i < lo || i > hi {
		p.bad(n, "%s %d: want %d-%d", key, i, lo, hi)
		return false
	}
	*dst = i
	return true
}

// durationHelp is how a duration is written, for messages.
const durationHelp = "want a duration such as 500ms, 2s or 1m30s (a number and a unit: ns, us, ms, s, m, h)"

// duration sets dst to key's duration and reports whether it did. A plain
// 0 needs no unit ("0 turns it off"). With seconds, a bare number is that
// many seconds, as keepalived's advert_int (the vrrp: section); elsewhere
// a bare number is refused: 30 could mean seconds or milliseconds.
func (p *parser) duration(key string, seconds bool, dst *time.Duration) bool {
	n := p.v[key]
	if !isNull(n) && n.Kind != yaml.ScalarNode {
		p.bad(n, "%s: %s", key, durationHelp)
		return false
	}
	v, n, ok := p.scalar(key)
	if !ok {
		return false
	}
	help := durationHelp
	if seconds {
		help += ", or a number of seconds"
	}
	switch tag := n.ShortTag(); {
	case tag == "!!int" && v == "0":
		*dst = 0
		return true
	case (tag == "!!int" || tag == "!!float") && seconds:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1e6 {
			p.bad(n, "%s %q: %s", key, v, help)
			return false
		}
		// Round to the microsecond so 0.29 is 290ms, not 289.999999ms.
		*dst = time.Duration(math.Round(f*1e6)) * time.Microsecond
		return true
	case tag == "!!int" || tag == "!!float":
		p.bad(n, "%s %q: %s", key, v, help)
		return false
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.bad(n, "%s %q: %s", key, v, help)
		return false
	}
	*dst = d
	return true
}

// list reads key's list of scalars (one scalar is a list of one) and
// reports whether it is set and well-formed.
func (p *parser) list(key string) ([]string, bool) {
	n := p.v[key]
	if isNull(n) {
		return nil, false
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, true
	}
	bad := n.Kind != yaml.SequenceNode
	var out []string
	for _, c := range n.Content {
		c = deref(c)
		bad = bad || c.Kind != yaml.ScalarNode
		out = append(out, c.Value)
	}
	if bad {
		p.bad(n, "%s: want a list of addresses", key)
		return nil, false
	}
	return out, true
}

// oneLine folds a multi-line error message into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

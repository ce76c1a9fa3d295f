package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var durationType = reflect.TypeOf(time.Duration(0))

// durationHelp is how a duration is written, for messages.
const durationHelp = "want a duration such as 500ms, 2s or 1m30s (a number and a unit: ns, us, ms, s, m, h)"

// badDurations walks a mapping node against a struct's yaml tags and
// returns one message per duration setting whose value does not parse,
// naming the setting by its dotted key: the YAML decoder's own message
// ("cannot unmarshal !!str `5parsecs` into time.Duration") names neither.
// A plain 0 is made the string "0" in n, so that it decodes as no time.
func badDurations(n *yaml.Node, t reflect.Type, prefix string) []string {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
		}
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		ft, ok := fields[key]
		switch {
		case !ok:
		case ft == durationType:
			tag := val.ShortTag()
			if val.Kind != yaml.ScalarNode || tag == "!!null" {
				if val.Kind != yaml.ScalarNode {
					out = append(out, fmt.Sprintf("%s%s: %s", prefix, key, durationHelp))
				}
				continue
			}
			if tag == "!!int" && val.Value == "0" {
				// "0 turns it off": a plain 0 needs no unit. The YAML
				// decoder refuses integers for durations, so it gets
				// the string "0", which time.ParseDuration reads.
				val.Tag = "!!str"
				continue
			}
			if _, err := time.ParseDuration(val.Value); err != nil || tag == "!!int" || tag == "!!float" {
				out = append(out, fmt.Sprintf("%s%s %q: %s", prefix, key, val.Value, durationHelp))
			}
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(yaml.Node{}):
			out = append(out, badDurations(val, ft, prefix+key+".")...)
		}
	}
	return out
}

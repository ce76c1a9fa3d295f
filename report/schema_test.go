package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/transition"
)

// schemaPath is the published JSON Schema of `report --format json`.
var schemaPath = filepath.Join("..", "docs", "report.schema.json")

// validator checks a JSON value against the subset of JSON Schema 2020-12
// that docs/report.schema.json uses. A keyword it does not know is an
// error, so the schema cannot use one that would be silently ignored.
type validator struct {
	root map[string]any
}

var annotations = map[string]bool{"$schema": true, "$id": true, "$defs": true, "title": true, "description": true}

func loadValidator(t *testing.T) *validator {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := decodeJSON(b, &root); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return &validator{root: root}
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// validate returns every violation found, each with its JSON path.
func (v *validator) validate(schema map[string]any, val any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for kw := range schema {
		switch kw {
		case "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "items", "minimum", "pattern", "oneOf":
		default:
			if !annotations[kw] {
				fail("schema keyword %q is not supported by the test validator", kw)
			}
		}
	}
	if ref, ok := schema["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		def, ok := v.root["$defs"].(map[string]any)[name].(map[string]any)
		if !found || !ok {
			fail("unresolvable $ref %q", ref)
			return errs
		}
		errs = append(errs, v.validate(def, val, path)...)
	}
	if t, ok := schema["type"]; ok {
		var types []string
		switch tt := t.(type) {
		case string:
			types = []string{tt}
		case []any:
			for _, x := range tt {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(ty string) bool { return hasType(val, ty) }) {
			fail("type %s, want %v", typeName(val), types)
			return errs
		}
	}
	if enum, ok := schema["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, val) }) {
			fail("value %v not in %v", val, enum)
		}
	}
	if c, ok := schema["const"]; ok && !jsonEqual(c, val) {
		fail("value %v, want %v", val, c)
	}
	if one, ok := schema["oneOf"].([]any); ok {
		matched := 0
		var sub []string
		for _, s := range one {
			e := v.validate(s.(map[string]any), val, path)
			if len(e) == 0 {
				matched++
			}
			sub = append(sub, e...)
		}
		if matched != 1 {
			fail("matches %d of oneOf, want 1: %v", matched, sub)
		}
	}
	if minimum, ok := schema["minimum"].(json.Number); ok {
		if n, isNum := val.(json.Number); isNum {
			a, _ := new(big.Float).SetString(n.String())
			b, _ := new(big.Float).SetString(minimum.String())
			if a.Cmp(b) < 0 {
				fail("%s below minimum %s", n, minimum)
			}
		}
	}
	if pat, ok := schema["pattern"].(string); ok {
		if s, isStr := val.(string); isStr && !regexp.MustCompile(pat).MatchString(s) {
			fail("%q does not match %s", s, pat)
		}
	}
	if obj, isObj := val.(map[string]any); isObj {
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := obj[r]; !ok {
				fail("missing required property %q", r)
			}
		}
		for k, x := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, v.validate(ps, x, path+"."+k)...)
			} else if ap, ok := schema["additionalProperties"].(bool); ok && !ap {
				fail("property %q not allowed", k)
			}
		}
	}
	if arr, isArr := val.([]any); isArr {
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, v.validate(items, x, path+"["+strconv.Itoa(i)+"]")...)
			}
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, x.(string))
		}
	}
	return out
}

func hasType(val any, ty string) bool {
	switch ty {
	case "null":
		return val == nil
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "number":
		_, ok := val.(json.Number)
		return ok
	case "integer":
		n, ok := val.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil
	}
	return false
}

func typeName(val any) string {
	for _, ty := range []string{"null", "boolean", "string", "object", "array", "integer", "number"} {
		if hasType(val, ty) {
			return ty
		}
	}
	return fmt.Sprintf("%T", val)
}

func jsonEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		x, _ := new(big.Float).SetString(an.String())
		y, _ := new(big.Float).SetString(bn.String())
		return x.Cmp(y) == 0
	}
	return typeName(a) == typeName(b) && fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

// validateReport renders r as JSON and validates it against the schema.
func validateReport(t *testing.T, v *validator, r Report) {
	t.Helper()
	var b bytes.Buffer
	if err := RenderJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	validateJSON(t, v, b.Bytes())
}

func validateJSON(t *testing.T, v *validator, b []byte) {
	t.Helper()
	var doc any
	if err := decodeJSON(b, &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if errs := v.validate(v.root, doc, "$"); len(errs) > 0 {
		t.Fatalf("JSON does not match %s:\n%s\n%s", schemaPath, strings.Join(errs, "\n"), b)
	}
}

func TestJSONMatchesSchema(t *testing.T) {
	v := loadValidator(t)
	variants := map[string]func() Report{
		"fixture": fxReport,
		"report failed": func() Report {
			return Report{GeneratedAt: fxNow, Host: "h", Thresholds: DefaultThresholds(), Err: "redis-vip report: configuration: missing"}
		},
		"both unreachable": func() Report {
			in := fxHealthy()
			in.Local.Facts, in.Local.Err, in.Peer.Facts, in.Peer.Err = nil, "refused", nil, "refused"
			in.VIPs = append(in.VIPs, VIP{Addr: "[2001:db8::10]:6379", Err: "refused"})
			in.Journal.Err = "permission denied"
			Evaluate(&in, DefaultThresholds(), fxNow)
			return Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{in}}
		},
		"replica link down, lag, hold-off, every reason kind": func() Report {
			in := fxHealthy()
			in.Local.Facts = fxReplica(fxLocal, fxPeer, false, 0, 10)
			in.Peer.Facts = fxMaster(fxPeer, 10, 1<<30)
			in.Peer.Facts.RDBLastBgsaveOK, in.Peer.Facts.UsedMemory, in.Peer.Facts.MaxMemory = false, 99, 100
			in.Local.RDB, in.Local.RDBErr = TriUnknown, "ERR unknown command 'CONFIG'"
			in.State.Holdoff = transition.Holdoff{Until: fxNow.Add(time.Minute), Reason: "sync before promote timed out"}
			in.State.Busy = true
			Evaluate(&in, DefaultThresholds(), fxNow)
			return Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{in}}
		},
	}
	for name, mk := range variants {
		t.Run(name, func(t *testing.T) { validateReport(t, v, mk()) })
	}
}

// The validator must reject what the schema forbids, or the test above
// proves nothing.
func TestSchemaValidatorRejects(t *testing.T) {
	v := loadValidator(t)
	var b bytes.Buffer
	if err := RenderJSON(&b, fxReport()); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(doc map[string]any){
		"missing field":    func(doc map[string]any) { delete(doc, "host") },
		"extra field":      func(doc map[string]any) { doc["surprise"] = true },
		"wrong type":       func(doc map[string]any) { doc["exit_code"] = "2" },
		"bad enum":         func(doc map[string]any) { doc["status"] = "BAD" },
		"bad version":      func(doc map[string]any) { doc["schema_version"] = json.Number("2") },
		"bad time":         func(doc map[string]any) { doc["generated_at"] = "yesterday" },
		"negative integer": func(doc map[string]any) { instance0(doc)["duration_seconds"] = json.Number("-1") },
		"nested null":      func(doc map[string]any) { instance0(doc)["local"].(map[string]any)["reachable"] = nil },
		"unknown reason":   func(doc map[string]any) { instance1Reason(doc)["code"] = "made_up" },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := decodeJSON(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			mutate(doc)
			if errs := v.validate(v.root, doc, "$"); len(errs) == 0 {
				t.Fatal("validator accepted an invalid document")
			}
		})
	}
}

func instance0(doc map[string]any) map[string]any {
	return doc["instances"].([]any)[0].(map[string]any)
}

func instance1Reason(doc map[string]any) map[string]any {
	return doc["instances"].([]any)[1].(map[string]any)["reasons"].([]any)[0].(map[string]any)
}

// Every reason code in evaluate.go is in the schema's enum, and the other
// way round.
func TestSchemaListsEveryReasonCode(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "evaluate.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || !strings.HasPrefix(vs.Names[0].Name, "Code") {
			return true
		}
		s, err := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, s)
		return true
	})
	v := loadValidator(t)
	reason := v.root["$defs"].(map[string]any)["reason"].(map[string]any)
	enum := asStrings(reason["properties"].(map[string]any)["code"].(map[string]any)["enum"])
	sort.Strings(codes)
	sort.Strings(enum)
	if len(codes) < 20 || !slices.Equal(codes, enum) {
		t.Fatalf("reason codes in evaluate.go %v\nin the schema %v", codes, enum)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !strings.Contains(string(doc), "`"+c+"`") {
			t.Errorf("docs/report.md does not explain reason %s", c)
		}
	}
}

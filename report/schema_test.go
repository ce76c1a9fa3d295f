package report

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/redis-vip/redis-vip/internal/reporttest"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// schemaPath is the published JSON Schema of `report --format json`.
var schemaPath = reporttest.SchemaPath()

// loadValidator is the schema compiled by a JSON Schema library
// (internal/reporttest): the oracle is not ours.
func loadValidator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	v, err := reporttest.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadSchemaDoc is the schema as plain JSON, to read its enums.
func loadSchemaDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := decodeJSON(b, &root); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return root
}

var decodeJSON = reporttest.DecodeJSON

func asStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// validateReport renders r as JSON and validates it against the schema.
func validateReport(t *testing.T, v *jsonschema.Schema, r Report) {
	t.Helper()
	var b bytes.Buffer
	if err := RenderJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	validateJSON(t, v, b.Bytes())
}

func validateJSON(t *testing.T, v *jsonschema.Schema, b []byte) {
	t.Helper()
	var doc any
	if err := decodeJSON(b, &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := v.Validate(doc); err != nil {
		t.Fatalf("JSON does not match %s:\n%v\n%s", schemaPath, err, b)
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

// Every relation node.Compare can name validates: the schema's enum holds
// them all (it once lacked successor and predecessor, the relations of a
// healed split).
func TestSchemaListsEveryRelation(t *testing.T) {
	v := loadValidator(t)
	for rel := node.Relation(0); rel.String() != "unknown"; rel++ {
		t.Run(rel.String(), func(t *testing.T) {
			in := fxHealthy()
			Evaluate(&in, DefaultThresholds(), fxNow)
			in.Replication.Relation = rel.String()
			validateReport(t, v, Report{GeneratedAt: fxNow, Thresholds: DefaultThresholds(), Instances: []Instance{in}})
		})
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
			if err := v.Validate(doc); err == nil {
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
	reason := loadSchemaDoc(t)["$defs"].(map[string]any)["reason"].(map[string]any)
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

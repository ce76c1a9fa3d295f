package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test ./report -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestRenderTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := RenderText(&b, fxReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt.golden", b.Bytes())
}

func TestRenderPrometheusGolden(t *testing.T) {
	var b bytes.Buffer
	if err := RenderPrometheus(&b, fxReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.prom.golden", b.Bytes())
}

func TestRenderJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := RenderJSON(&b, fxReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json.golden", b.Bytes())
}

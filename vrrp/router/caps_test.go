package router

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEffectiveCap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	for _, tc := range []struct {
		text    string
		has, ok bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true, true},
		{"CapEff:\t0000000000002000\n", false, true},
		{"CapEff:\t0000000000001000\n", true, true},
		{"CapPrm:\t0\n", false, false},
		{"CapEff:\tzz\n", false, false},
	} {
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if has, ok := effectiveCap(p, capNetAdmin); has != tc.has || ok != tc.ok {
			t.Errorf("%q: has %v ok %v, want %v %v", tc.text, has, ok, tc.has, tc.ok)
		}
	}
	if _, ok := effectiveCap(filepath.Join(t.TempDir(), "none"), capNetAdmin); ok {
		t.Error("a missing file tells something")
	}
}

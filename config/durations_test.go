package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/config"
)

// A malformed duration gets one line naming the setting and the syntax,
// from the file and from a flag; a plain 0 ("turns it off") is accepted.
func TestDurationErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte("instances:\n  r1:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const syntax = "want a duration such as 500ms, 2s or 1m30s (a number and a unit: ns, us, ms, s, m, h)"
	_, err := config.Load(config.Source{Path: write("    timeouts: {check: 5parsecs, sync: 3}\n    max_link_down: [1]\n"), Explicit: true})
	for _, want := range []string{`line 5: timeouts.check "5parsecs": ` + syntax, `line 5: timeouts.sync "3": ` + syntax, "line 6: max_link_down: " + syntax} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("file: error %v\nlacks %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "unmarshal") || strings.Contains(err.Error(), "\n")) {
		t.Errorf("file: %q is not one clean line", err)
	}

	p := write("    max_link_down: 0\n    reconcile_interval: 0\n")
	in, err := loadAndSelect(config.Source{Path: p, Explicit: true}, "r1")
	if err != nil || in.MaxLinkDown != 0 || in.ReconcileInterval != 0 {
		t.Fatalf("plain 0: %+v, %v", in, err)
	}
	_, err = loadAndSelect(config.Source{Path: p, Explicit: true, Overrides: map[string]string{"timeouts.check": "5parsecs"}}, "r1")
	if err == nil || !strings.Contains(err.Error(), `flags/env: timeouts.check "5parsecs": `+syntax) {
		t.Errorf("flag: %v", err)
	}
	in, err = loadAndSelect(config.Source{Path: p, Explicit: true, Overrides: map[string]string{"timeouts.check": "800ms", "max_link_down": "0"}}, "r1")
	if err != nil || in.Timeouts.Check != 800*time.Millisecond || in.MaxLinkDown != 0 {
		t.Errorf("good flags: %+v, %v", in, err)
	}
}

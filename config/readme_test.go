package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/config"
)

// The README's configuration reference has a row for every setting with
// its flag, its environment variable and its default, and a row for every
// key of the vrrp: section with its default, so it cannot silently fall
// behind the table that drives the file, the flags and the env vars.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, vrrpTable, _ := strings.Cut(readme, "The `vrrp:` keys")
	_, vrrpTable, ok := strings.Cut(vrrpTable, "| key | default | meaning |")
	if !ok {
		t.Fatal("README.md has no table of the vrrp: keys")
	}
	vrrpTable, _, _ = strings.Cut(vrrpTable, "\n\n")
	_, mainTable, ok := strings.Cut(readme, "| key | flag | environment | default | meaning |")
	if !ok {
		t.Fatal("README.md has no table of the settings")
	}
	// row is the table row whose first cell names key.
	row := func(text, key string) string {
		for _, l := range strings.Split(text, "\n") {
			if first, _, ok := strings.Cut(strings.TrimPrefix(l, "| "), " |"); ok && strings.HasPrefix(l, "| ") && strings.Contains(first, "`"+key+"`") {
				return l
			}
		}
		return ""
	}
	for _, s := range config.Settings {
		if s.FileOnly {
			key := strings.TrimPrefix(s.Key, "vrrp.")
			r := row(vrrpTable, key)
			if r == "" {
				t.Errorf("README.md's vrrp: table has no row for %s", key)
			} else if s.Default != "" && !strings.Contains(r, s.Default) {
				t.Errorf("README.md's row for vrrp: %s does not give its default %s: %s", key, s.Default, r)
			}
			continue
		}
		r := row(mainTable, s.Key)
		want := []string{s.Env()}
		if !s.EnvOnly {
			want = append(want, "--"+s.Flag())
		}
		if s.Default != "" {
			want = append(want, "`"+s.Default+"`")
		}
		for _, w := range want {
			if !strings.Contains(r, w) {
				t.Errorf("README.md's row for %s does not give %s: %q", s.Key, w, r)
			}
		}
	}
}

// The example config the package installs names the instance and the
// keepalived vrrp_instance the shipped keepalived examples call, and loads.
func TestShippedExampleMatchesKeepalivedExamples(t *testing.T) {
	cfg, err := config.Load(config.Source{Path: "../packaging/redis-vip.yml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := cfg.Instance("redis6379")
	if err != nil {
		t.Fatal(err)
	}
	if inst.VRRPInstance != "VI_REDIS" {
		t.Fatalf("vrrp_instance %q, want VI_REDIS", inst.VRRPInstance)
	}
	for _, f := range []string{"keepalived-host-a.conf", "keepalived-host-b.conf", "keepalived-fifo-host-a.conf", "keepalived-fifo-host-b.conf"} {
		b, err := os.ReadFile("../packaging/keepalived/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "vrrp_instance VI_REDIS") || !strings.Contains(string(b), "redis6379") {
			t.Errorf("%s does not name vrrp_instance VI_REDIS and instance redis6379", f)
		}
	}
}

package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/config"
)

// The README's configuration reference names every setting, its flag and its
// environment variable, so it cannot silently fall behind the code.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range config.Settings {
		if s.FileOnly {
			// The vrrp: section's own table names the key within it.
			if k := "`" + strings.TrimPrefix(s.Key, "vrrp.") + "`"; !strings.Contains(readme, k) {
				t.Errorf("README.md does not mention %s (setting %s)", k, s.Key)
			}
			continue
		}
		want := []string{"`" + s.Key + "`", s.Env()}
		if !s.EnvOnly {
			want = append(want, "--"+s.Flag())
		}
		for _, w := range want {
			if !strings.Contains(readme, w) {
				t.Errorf("README.md does not mention %s (setting %s)", w, s.Key)
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

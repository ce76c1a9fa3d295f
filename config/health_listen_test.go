package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/config"
)

// Two instances cannot serve their health endpoints on one address.
func TestHealthListenIsEachInstancesOwn(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(p, []byte(`defaults:
  health_listen: ":8008"
instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379"}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(config.Source{Path: p, Explicit: true})
	if err == nil || !strings.Contains(err.Error(), "instances a and b: both use health_listen :8008; each needs its own") {
		t.Fatalf("error %v", err)
	}
}

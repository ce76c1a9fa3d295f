package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/fence"
)

// fenceConfig writes instance a with the given extra lines and a witness
// secret file of mode 0600 (its path replaces SECRET in extra).
func fenceConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "witness.secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n" + strings.ReplaceAll(extra, "SECRET", secret)
	p := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFenceSettings(t *testing.T) {
	in, err := loadAndSelect(config.Source{Path: fenceConfig(t, ""), Explicit: true, Getenv: noEnv}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if in.Fencing() || in.HasWitness() || in.FenceInterval != 250*time.Millisecond || in.Witness.Timeout != 300*time.Millisecond || in.Witness.Pair != "a" {
		t.Errorf("defaults: fencing %v witness %v interval %s timeout %s pair %q", in.Fencing(), in.HasWitness(), in.FenceInterval, in.Witness.Timeout, in.Witness.Pair)
	}
	in, err = loadAndSelect(config.Source{Path: fenceConfig(t, "    fence_after: 5s\n    witness:\n      address: witness.example:7480\n      secret_file: SECRET\n"), Explicit: true, Getenv: noEnv}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Fencing() || !in.HasWitness() || string(in.Witness.Secret) != "0123456789abcdef-secret" || in.Witness.Pair != "a" {
		t.Errorf("witness: %+v", in.Witness)
	}
	if in.LeaseDuration() != fence.LeaseDuration(5*time.Second) {
		t.Errorf("LeaseDuration = %s", in.LeaseDuration())
	}
	// The secret never prints.
	if s := fmt.Sprintf("%v %+v %s", in, in.Witness, in.Witness.Secret); strings.Contains(s, "0123456789abcdef") {
		t.Errorf("the secret shows: %s", s)
	}
}

func TestBadFenceConfig(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		overrides   map[string]string
		want        []string
	}{
		{name: "fence_after too short", extra: "    fence_after: 2s\n", want: []string{"fence_after 2s is shorter than 3s", "use 0 to turn fencing off"}},
		{name: "witness without fence_after", extra: "    witness:\n      address: 192.0.2.9:7480\n      secret_file: SECRET\n", want: []string{"witness.address 192.0.2.9:7480", "needs fence_after"}},
		{name: "witness address without port", extra: "    fence_after: 5s\n    witness:\n      address: 192.0.2.9\n      secret_file: SECRET\n", want: []string{`witness.address "192.0.2.9": want host:port`}},
		{name: "witness port out of range", extra: "    fence_after: 5s\n    witness:\n      address: 192.0.2.9:99999\n      secret_file: SECRET\n", want: []string{"witness.address", "1-65535"}},
		{name: "secret file missing", extra: "    fence_after: 5s\n    witness:\n      address: 192.0.2.9:7480\n      secret_file: /nonexistent/witness.secret\n", want: []string{"witness.secret_file: secret file", "/nonexistent/witness.secret"}},
		{name: "secret file from a flag", extra: "    fence_after: 5s\n", overrides: map[string]string{"witness.address": "192.0.2.9:7480", "witness.secret_file": "/nonexistent/s"}, want: []string{"witness.secret_file", "/nonexistent/s"}},
		{name: "bad pair name", extra: "    fence_after: 5s\n    witness:\n      address: 192.0.2.9:7480\n      secret_file: SECRET\n      pair: \"a b\"\n", want: []string{"witness: pair name"}},
		{name: "witness timeout too long", extra: "    fence_after: 3s\n    witness:\n      address: 192.0.2.9:7480\n      secret_file: SECRET\n      timeout: 1s\n", want: []string{"witness.timeout (1s) must be at most half the lease's renewal period"}},
		{name: "lease beyond any witness", extra: "    fence_after: 9m\n    timeouts:\n      transition: 20m\n    witness:\n      address: 192.0.2.9:7480\n      secret_file: SECRET\n", want: []string{"longer than any witness grants"}},
		{name: "fence_interval not shorter", extra: "    fence_after: 3s\n    fence_interval: 3s\n", want: []string{"fence_interval (3s) must be shorter than fence_after (3s)"}},
		{name: "zero fence_interval", extra: "    fence_interval: 0s\n", want: []string{"fence_interval: must be positive"}},
		{name: "transition too short for the fence wait", extra: "    fence_after: 20s\n", want: []string{"timeouts.transition (1m0s) must be longer than timeouts.peer_wait + fence_after + its margin (1m2.25s)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadAndSelect(config.Source{Path: fenceConfig(t, c.extra), Explicit: true, Getenv: noEnv, Overrides: c.overrides}, "a")
			if err == nil {
				t.Fatal("no error")
			}
			oneLineWith(t, err, c.want...)
		})
	}
}

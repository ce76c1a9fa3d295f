package config_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/node"
)

// noEnv is a Getenv that sees an empty environment.
func noEnv(string) string { return "" }

// envOf is a Getenv reading from m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes content to name in a fresh temp dir and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// passFile is a readable password file.
func passFile(t *testing.T) string { return writeFile(t, "redis.pass", "s3cret\n") }

func settingByKey(t *testing.T, key string) config.Setting {
	t.Helper()
	for _, s := range config.Settings {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %q", key)
	return config.Setting{}
}

func TestLoadFullExample(t *testing.T) {
	const path = "testdata/full.yml"
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Path() != path {
		t.Errorf("Path = %q", cfg.Path())
	}
	if got := cfg.Names(); !reflect.DeepEqual(got, []string{"cache", "sessions"}) {
		t.Fatalf("Names = %v", got)
	}
	if l := cfg.Log(); l.Level != "info" || l.Format != "json" || l.File != "/var/log/redis-vip/redis-vip.log" || l.Stderr {
		t.Errorf("Log = %+v", l)
	}
	if n, ok := cfg.ByVRRPInstance("VI_SESSIONS"); !ok || n != "sessions" {
		t.Errorf("ByVRRPInstance(VI_SESSIONS) = %q, %v", n, ok)
	}
	if _, ok := cfg.ByVRRPInstance("VI_NOPE"); ok {
		t.Errorf("ByVRRPInstance(VI_NOPE) found something")
	}

	pass := passFile(t)
	cfg, err = config.Load(config.Source{Path: path, Explicit: true, Overrides: map[string]string{"password_file": pass}, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := cfg.Instance("cache")
	if err != nil {
		t.Fatalf("Select cache: %v", err)
	}
	want := config.Timeouts{Connect: 300 * time.Millisecond, Command: 500 * time.Millisecond, Check: time.Second,
		Sync: 30 * time.Second, Transition: time.Minute, PeerWait: 40 * time.Second, Holdoff: 30 * time.Second}
	if cache.Timeouts != want {
		t.Errorf("cache timeouts = %+v, want %+v", cache.Timeouts, want)
	}
	checks := []struct{ name, got, want string }{
		{"name", cache.Name, "cache"},
		{"vrrp_instance", cache.VRRPInstance, "VI_CACHE"},
		{"local", cache.Local.String(), "192.0.2.11:6379"},
		{"announce (defaults to local)", cache.Announce.String(), "192.0.2.11:6379"},
		{"peer", cache.Peer.String(), "192.0.2.12:6379"},
		{"username (from defaults)", cache.Username, "redis-vip"},
		{"password (from the file)", cache.Password, "s3cret"},
		{"state_dir", cache.StateDir, "/var/lib/redis-vip"},
		{"backup_dir", cache.BackupDir, "/var/lib/redis-vip/backups"},
		{"on_diverged", cache.OnDiverged, config.DivergedBackupAndFollow},
		{"handover", cache.Handover, config.HandoverAuto},
		{"guard.include", cache.Guard.Include, "/etc/redis/redis-vip-guard-6379.conf"},
		{"guard.redis_conf", cache.Guard.RedisConf, "/etc/redis/redis-6379.conf"},
		{"backups_keep", strconv.Itoa(cache.BackupsKeep), "5"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("cache %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cache.TLS.Enabled || cache.HasVRRP() {
		t.Errorf("cache TLS enabled or a vrrp: section")
	}

	sessions, err := cfg.Instance("sessions")
	if err != nil {
		t.Fatalf("Select sessions: %v", err)
	}
	if sessions.Timeouts.Sync != 20*time.Second {
		t.Errorf("sessions sync = %s, want the instance's 20s", sessions.Timeouts.Sync)
	}
	if sessions.Timeouts.Connect != 300*time.Millisecond || sessions.Timeouts.Transition != time.Minute {
		t.Errorf("sessions lost the default timeouts it did not set: %+v", sessions.Timeouts)
	}
	if sessions.Announce.String() != "192.0.2.11:6380" || sessions.Local.String() != "127.0.0.1:6380" {
		t.Errorf("sessions local/announce = %s/%s", sessions.Local, sessions.Announce)
	}
	if sessions.OnDiverged != config.DivergedRefuse || sessions.Handover != config.HandoverPause || sessions.BackupsKeep != 10 {
		t.Errorf("sessions overrides of defaults lost: on_diverged=%s handover=%s backups_keep=%d",
			sessions.OnDiverged, sessions.Handover, sessions.BackupsKeep)
	}
	if sessions.Username != "redis-vip" {
		t.Errorf("sessions username = %q, want the default", sessions.Username)
	}
}

func TestBuiltInDefaults(t *testing.T) {
	path := writeFile(t, "c.yml", "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n")
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := cfg.Instance("")
	if err != nil {
		t.Fatalf("Instance: %v", err)
	}
	if inst.Name != "a" || inst.VRRPInstance != "a" {
		t.Errorf("name %q vrrp_instance %q, want a/a", inst.Name, inst.VRRPInstance)
	}
	if l := cfg.Log(); l.Level != "info" || l.Format != "json" || l.File != "" || l.Stderr {
		t.Errorf("log defaults = %+v", l)
	}
	// Each default is what the instance holds: setting a key to its
	// default changes nothing.
	n := 0
	for _, s := range config.Settings {
		if s.Default == "" || s.FileOnly {
			continue
		}
		n++
		got := loadWith(t, map[string]string{s.Key: s.Default})
		if !reflect.DeepEqual(got, inst) {
			t.Errorf("%s: %s is not the default:\n%+v\n%+v", s.Key, s.Default, got, inst)
		}
	}
	if n < 10 {
		t.Errorf("only %d settings have defaults", n)
	}
}

// loadWith loads instance a (192.0.2.1:6379, peer 192.0.2.2:6379) with
// the given flags and env vars.
func loadWith(t *testing.T, overrides map[string]string) config.Instance {
	t.Helper()
	path := writeFile(t, "c.yml", "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n")
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv, Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := cfg.Instance("a")
	if err != nil {
		t.Fatalf("Instance: %v", err)
	}
	return inst
}

func TestInstanceOverridesDefaults(t *testing.T) {
	path := writeFile(t, "c.yml", `
defaults:
  handover: pause
  backups_keep: 7
  timeouts:
    sync: 10s
    check: 2s
instances:
  a:
    local: 192.0.2.1:6379
    peer: 192.0.2.2:6379
    handover: failover
    timeouts:
      check: 800ms
  b:
    local: 192.0.2.1:6380
    peer: 192.0.2.2:6380
`)
	cfg, err := config.Load(config.Source{Path: path, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cfg.Instance("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Instance("b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Handover != config.HandoverFailover || b.Handover != config.HandoverPause {
		t.Errorf("handover a=%s b=%s, want failover/pause", a.Handover, b.Handover)
	}
	if a.Timeouts.Check != 800*time.Millisecond || b.Timeouts.Check != 2*time.Second {
		t.Errorf("check a=%s b=%s, want 800ms/2s", a.Timeouts.Check, b.Timeouts.Check)
	}
	if a.Timeouts.Sync != 10*time.Second || b.Timeouts.Sync != 10*time.Second {
		t.Errorf("sync a=%s b=%s, want the file default 10s", a.Timeouts.Sync, b.Timeouts.Sync)
	}
	if a.Timeouts.Transition != time.Minute {
		t.Errorf("transition = %s, want the built-in 60s", a.Timeouts.Transition)
	}
	if a.BackupsKeep != 7 || b.BackupsKeep != 7 {
		t.Errorf("backups_keep a=%d b=%d, want 7", a.BackupsKeep, b.BackupsKeep)
	}
}

// Flags and env vars win over the file for the instances a command
// chooses; the file's values still decide which instance keepalived's
// name means and what the instances must not share.
func TestOverridesApply(t *testing.T) {
	pass := passFile(t)
	const path = "testdata/full.yml"
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv, Overrides: map[string]string{
		"password_file": pass, "timeouts.sync": "5s", "handover": "failover", "peer": "192.0.2.13:6380",
		"tls.insecure_skip_verify": "false", "backups_keep": "3", "vrrp_instance": "VI_FLAG", "guard.data_dir": "/srv/one",
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Instance("sessions")
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeouts.Sync != 5*time.Second || s.Handover != config.HandoverFailover || s.Peer.String() != "192.0.2.13:6380" || s.BackupsKeep != 3 || s.VRRPInstance != "VI_FLAG" {
		t.Errorf("overrides not applied: sync=%s handover=%s peer=%s keep=%d vrrp_instance=%s", s.Timeouts.Sync, s.Handover, s.Peer, s.BackupsKeep, s.VRRPInstance)
	}
	if s.OnDiverged != config.DivergedRefuse || s.Timeouts.Transition != time.Minute {
		t.Errorf("settings not overridden changed: on_diverged=%s transition=%s", s.OnDiverged, s.Timeouts.Transition)
	}
	if n, ok := cfg.ByVRRPInstance("VI_SESSIONS"); !ok || n != "sessions" {
		t.Errorf("ByVRRPInstance(VI_SESSIONS) = %q, %v: the file's name is the one keepalived uses", n, ok)
	}
}

// Config hands out copies: what one caller does to its instance no other
// caller sees, and a per-command bound makes a new value.
func TestInstancesAreCopies(t *testing.T) {
	path := writeFile(t, "c.yml", "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n    vips: 192.0.2.10, 192.0.2.11\n"+
		"    timeouts: {check: 200ms}\n    vrrp: {interface: eth0, vrid: 1, vips: [192.0.2.10/24]}\n")
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := cfg.Instance("a")
	first.Timeouts.Sync = time.Hour
	first.VIPs[0] = netip.MustParseAddr("192.0.2.99")
	v, _ := first.VRRP()
	v.VIPs[0] = netip.MustParsePrefix("192.0.2.99/24")
	bound := first.WithCheckBound()
	bound.VIPs[1] = netip.MustParseAddr("192.0.2.98")

	second, _ := cfg.Instance("a")
	if second.Timeouts.Sync != 30*time.Second || second.VIPs[0] != netip.MustParseAddr("192.0.2.10") || second.VIPs[1] != netip.MustParseAddr("192.0.2.11") {
		t.Errorf("a caller's change leaked: %+v", second)
	}
	if v, _ := second.VRRP(); v.VIPs[0] != netip.MustParsePrefix("192.0.2.10/24") {
		t.Errorf("a caller's change to the vrrp: section leaked: %v", v.VIPs)
	}
	if bound.Timeouts.Command != 200*time.Millisecond || bound.Timeouts.Connect != 200*time.Millisecond || first.Timeouts.Command != 500*time.Millisecond {
		t.Errorf("WithCheckBound: %+v, from %+v", bound.Timeouts, first.Timeouts)
	}
}

func TestFlagsOnlyNoFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "redis-vip.yml")
	src := config.Source{Path: missing, Getenv: noEnv, Overrides: map[string]string{
		"local": "192.0.2.1:6379", "peer": "192.0.2.2:6379", "timeouts.check": "700ms"}, LogLevel: "debug", LogFormat: "console"}
	cfg, err := config.Load(src)
	if err != nil {
		t.Fatalf("Load without a file: %v", err)
	}
	if cfg.Path() != "" {
		t.Errorf("Path = %q, want none", cfg.Path())
	}
	if l := cfg.Log(); l.Level != "debug" || l.Format != "console" {
		t.Errorf("log overrides: %+v", l)
	}
	inst, err := cfg.Instance("")
	if err != nil {
		t.Fatalf("Instance: %v", err)
	}
	if inst.Name != "default" || inst.Local.String() != "192.0.2.1:6379" || inst.Timeouts.Check != 700*time.Millisecond || inst.Timeouts.Sync != 30*time.Second {
		t.Errorf("instance = %s local=%s check=%s sync=%s", inst.Name, inst.Local, inst.Timeouts.Check, inst.Timeouts.Sync)
	}
}

func TestLogOverridesBeatFile(t *testing.T) {
	path := writeFile(t, "c.yml", "log:\n  level: warn\n  format: console\n  file: /var/log/a.log\n  stderr: true\n")
	no := false
	cfg, err := config.Load(config.Source{Path: path, LogLevel: "error", LogFile: "/var/log/b.log", LogStderr: &no})
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Log(); l.Level != "error" || l.Format != "console" || l.File != "/var/log/b.log" || l.Stderr {
		t.Errorf("log = %+v", l)
	}
	cfg, err = config.Load(config.Source{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Log(); l.Level != "warn" || l.File != "/var/log/a.log" || !l.Stderr {
		t.Errorf("log without overrides = %+v", l)
	}
	empty := writeFile(t, "e.yml", "")
	cfg, err = config.Load(config.Source{Path: empty})
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Log(); l.Level != "info" || l.Format != "json" || l.Stderr {
		t.Errorf("log defaults = %+v", l)
	}
}

func TestPassword(t *testing.T) {
	base := "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n"
	cases := []struct {
		name      string
		overrides map[string]string
		env       map[string]string
		want      string
	}{
		{"file, LF", map[string]string{"password_file": writeFile(t, "p1", "s3cret\nsecond line\n")}, nil, "s3cret"},
		{"file, CRLF", map[string]string{"password_file": writeFile(t, "p2", "s3cret\r\nsecond line\r\n")}, nil, "s3cret"},
		{"file, no newline", map[string]string{"password_file": writeFile(t, "p3", "s3cret")}, nil, "s3cret"},
		{"file, spaces kept", map[string]string{"password_file": writeFile(t, "p4", " s3 cret \n")}, nil, " s3 cret "},
		{"env", map[string]string{"password_env": "MY_REDIS_PW"}, map[string]string{"MY_REDIS_PW": "fromenv"}, "fromenv"},
		{"file wins over env", map[string]string{"password_file": writeFile(t, "p5", "fromfile\n"), "password_env": "MY_REDIS_PW"},
			map[string]string{"MY_REDIS_PW": "fromenv"}, "fromfile"},
		{"password itself (REDIS_VIP_PASSWORD)", map[string]string{"password": "direct"}, nil, "direct"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "c.yml", base)
			inst, err := loadAndSelect(config.Source{Path: path, Overrides: tc.overrides, Getenv: envOf(tc.env)}, "a")
			if err != nil {
				t.Fatalf("Load/Instance: %v", err)
			}
			if inst.Password != tc.want {
				t.Errorf("password = %q, want %q", inst.Password, tc.want)
			}
		})
	}
}

// loadAndSelect runs Load then Instance, returning the first error.
func loadAndSelect(src config.Source, name string) (config.Instance, error) {
	cfg, err := config.Load(src)
	if err != nil {
		return config.Instance{}, err
	}
	return cfg.Instance(name)
}

func TestBadConfig(t *testing.T) {
	const ab = "    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n"
	const b2 = "    local: 192.0.2.1:6380\n    peer: 192.0.2.2:6380\n"
	one := func(extra string) string { return "instances:\n  a:\n" + ab + extra }
	cases := []struct {
		name string
		// file is the config file's content; "-" means no file at all.
		file      string
		instance  string
		overrides map[string]string
		env       map[string]string
		logLevel  string
		// want are phrases the one-line message must contain.
		want []string
	}{
		{name: "missing explicit file", file: "-", want: []string{"c.yml", "no such file"}},
		{name: "empty file", file: "", want: []string{"no instances configured"}},
		{name: "malformed YAML", file: "instances:\n  a: [local: x\n", want: []string{"c.yml", "yaml"}},
		{name: "tab indentation", file: "instances:\n\ta:\n", want: []string{"c.yml", "yaml"}},
		{name: "duplicate key", file: one("    peer: 192.0.2.3:6379\n"), want: []string{"c.yml", `"peer" already defined`}},
		{name: "unknown key in an instance", file: one("    pasword_file: /etc/p\n"), want: []string{"instance a", "pasword_file"}},
		{name: "unknown key in defaults", file: "defaults:\n  handvoer: pause\n" + one(""), want: []string{"defaults", "handvoer"}},
		{name: "unknown nested key", file: one("    timeouts:\n      sycn: 5s\n"), want: []string{"sycn"}},
		{name: "unknown top-level key", file: "instance:\n  a:\n" + ab, want: []string{"instance"}},
		{name: "unknown override", file: one(""), instance: "a", overrides: map[string]string{"handvoer": "x"}, want: []string{"flags/env", "handvoer"}},
		{name: "override of the wrong type", file: one(""), instance: "a", overrides: map[string]string{"backups_keep": "many"}, want: []string{"flags/env", "many"}},
		{name: "unknown instance", file: one("  b:\n" + b2), instance: "c", want: []string{`unknown instance "c"`, "a, b"}},
		{name: "several instances, none chosen", file: one("  b:\n" + b2), want: []string{"a, b", "--instance"}},
		{name: "two instances guard one Redis", file: one("  b:\n" + ab), instance: "a", want: []string{"instances a and b", "both guard local 192.0.2.1:6379"}},
		{name: "two instances take one keepalived instance's events", file: one("    vrrp_instance: VI_1\n  b:\n" + b2 + "    vrrp_instance: VI_1\n"), instance: "a", want: []string{"both use vrrp_instance VI_1"}},
		{name: "instance name not a file name", file: "instances:\n  ..:\n" + ab, instance: "..", want: []string{`instance name ".."`}},
		{name: "missing local and peer", file: "instances:\n  a:\n    username: x\n", want: []string{"local: missing", "peer: missing"}},
		{name: "port out of range", file: "instances:\n  a:\n    local: 192.0.2.1:70000\n    peer: 192.0.2.2:6379\n", want: []string{"local", "70000", "1-65535"}},
		{name: "port not a number", file: "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:redis\n", want: []string{"peer", "redis"}},
		{name: "port missing", file: "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2\n", want: []string{"peer", "missing port"}},
		{name: "port zero", file: "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:0\n", want: []string{"peer", "1-65535"}},
		{name: "bad announce", file: one("    announce: 192.0.2.9\n"), want: []string{"announce", "missing port"}},
		{name: "peer equal to local", file: "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.1:6379\n", want: []string{"peer 192.0.2.1:6379", "own Redis"}},
		{name: "peer equal to local, IPv6 spelled differently", file: "instances:\n  a:\n    local: \"[2001:db8::1]:6379\"\n    peer: \"[2001:db8:0:0::1]:6379\"\n", want: []string{"own Redis"}},
		{name: "peer equal to announce", file: "instances:\n  a:\n    local: 127.0.0.1:6379\n    announce: 192.0.2.1:6379\n    peer: 192.0.2.1:6379\n", want: []string{"own Redis"}},
		{name: "loopback local without announce", file: "instances:\n  a:\n    local: 127.0.0.1:6379\n    peer: 192.0.2.2:6379\n", want: []string{"announce: missing", "loopback"}},
		{name: "localhost local without announce", file: "instances:\n  a:\n    local: localhost:6379\n    peer: 192.0.2.2:6379\n", want: []string{"announce: missing"}},
		{name: "IPv6 loopback local without announce", file: "instances:\n  a:\n    local: \"[::1]:6379\"\n    peer: \"[2001:db8::2]:6379\"\n", want: []string{"announce: missing"}},
		{name: "unreadable password_file", file: one("    password_file: /nonexistent/redis-vip/pass\n"), want: []string{"password_file", "/nonexistent/redis-vip/pass"}},
		{name: "empty password_env", file: one("    password_env: MY_REDIS_PW\n"), want: []string{"password_env", "MY_REDIS_PW", "empty or unset"}},
		{name: "bad duration", file: one("    timeouts:\n      sync: 5x\n"), want: []string{`timeouts.sync "5x": want a duration such as 500ms`}},
		{name: "bare number as duration", file: one("    timeouts:\n      sync: 30\n"), want: []string{`timeouts.sync "30": want a duration such as 500ms, 2s or 1m30s (a number and a unit`}},
		{name: "bad duration override", file: one(""), instance: "a", overrides: map[string]string{"timeouts.check": "soon"}, want: []string{"flags/env", "soon"}},
		{name: "negative timeout", file: one("    timeouts:\n      connect: -1s\n"), want: []string{"timeouts.connect: must be positive, got -1s"}},
		{name: "zero command timeout", file: one("    timeouts:\n      command: 0s\n"), want: []string{"timeouts.command: must be positive"}},
		{name: "negative peer_wait", file: one("    timeouts:\n      peer_wait: -5s\n"), want: []string{"timeouts.peer_wait"}},
		{name: "sync equal to transition", file: one("    timeouts:\n      sync: 60s\n      transition: 60s\n"), want: []string{"timeouts.sync (1m0s) must be shorter than timeouts.transition (1m0s)"}},
		{name: "sync longer than transition", file: one("    timeouts:\n      sync: 90s\n"), want: []string{"must be shorter"}},
		{name: "peer_wait equal to transition", file: one("    timeouts:\n      peer_wait: 1m\n"), want: []string{"timeouts.peer_wait (1m0s) must be shorter than timeouts.transition (1m0s)"}},
		{name: "relative state_dir", file: one("    state_dir: var/lib/redis-vip\n"), want: []string{`state_dir "var/lib/redis-vip": must be an absolute path`}},
		{name: "relative backup_dir", file: one("    backup_dir: backups\n"), want: []string{"backup_dir", "absolute"}},
		{name: "backups_keep 0", file: one("    backups_keep: 0\n"), want: []string{"backups_keep: must be at least 1, got 0"}},
		{name: "bad on_diverged", file: one("    on_diverged: follow\n"), want: []string{`on_diverged "follow"`, "backup-and-follow", "refuse"}},
		{name: "bad handover", file: one("    handover: sentinel\n"), want: []string{`handover "sentinel"`, "auto, failover or pause"}},
		{name: "bad log level", file: "log:\n  level: verbose\n" + one(""), want: []string{"log", `level "verbose"`}},
		{name: "bad log format", file: "log:\n  format: xml\n" + one(""), want: []string{"log", `format "xml"`}},
		{name: "bad log level flag", file: one(""), logLevel: "loud", want: []string{`level "loud"`}},
		{name: "tls cert without key", file: one("    tls:\n      enabled: true\n      cert_file: /nonexistent/c.pem\n"), want: []string{"cert_file and key_file go together", "tls.cert_file"}},
		{name: "tls ca_file missing", file: one("    tls:\n      enabled: true\n      ca_file: /nonexistent/ca.pem\n"), want: []string{"tls.ca_file", "/nonexistent/ca.pem"}},
		{
			name: "every problem of one instance in one message",
			file: "instances:\n  a:\n    local: 127.0.0.1:6379\n    handover: sentinel\n    on_diverged: maybe\n    backups_keep: 0\n    state_dir: rel\n" +
				"    password_env: MY_REDIS_PW\n    timeouts:\n      connect: -1s\n      sync: 2m\n",
			want: []string{"instance a", "peer: missing", "announce: missing", `handover "sentinel"`, `on_diverged "maybe"`,
				"backups_keep", `state_dir "rel"`, "password_env", "timeouts.connect", "timeouts.sync (2m0s) must be shorter"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "c.yml")
			if tc.file != "-" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			src := config.Source{Path: path, Explicit: true, Overrides: tc.overrides, Getenv: envOf(tc.env), LogLevel: tc.logLevel}
			inst, err := loadAndSelect(src, tc.instance)
			if err == nil {
				t.Fatalf("no error; got instance %+v", inst)
			}
			oneLineWith(t, err, tc.want...)
		})
	}
}

// oneLineWith checks that err is a configuration error in one line that
// says every phrase of want.
func oneLineWith(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, config.ErrConfig) {
		t.Errorf("error %v is not ErrConfig", err)
		return
	}
	msg := err.Error()
	t.Log(msg)
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q\nlacks %q", msg, w)
		}
	}
}

func TestZeroPeerWaitAndHoldoffAllowed(t *testing.T) {
	path := writeFile(t, "c.yml", "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n    timeouts:\n      peer_wait: 0s\n      holdoff: 0s\n")
	if _, err := loadAndSelect(config.Source{Path: path, Getenv: noEnv}, "a"); err != nil {
		t.Fatalf("peer_wait and holdoff of 0 should be allowed: %v", err)
	}
}

func TestSettingNames(t *testing.T) {
	named := []struct{ key, flag, env string }{
		{"local", "local", "REDIS_VIP_LOCAL"},
		{"vrrp_instance", "vrrp-instance", "REDIS_VIP_VRRP_INSTANCE"},
		{"password", "password", "REDIS_VIP_PASSWORD"},
		{"tls.insecure_skip_verify", "tls-insecure-skip-verify", "REDIS_VIP_TLS_INSECURE_SKIP_VERIFY"},
		{"timeouts.peer_wait", "timeouts-peer-wait", "REDIS_VIP_TIMEOUTS_PEER_WAIT"},
		{"guard.redis_conf", "guard-redis-conf", "REDIS_VIP_GUARD_REDIS_CONF"},
	}
	for _, n := range named {
		s := settingByKey(t, n.key)
		if s.Flag() != n.flag || s.Env() != n.env {
			t.Errorf("%s: flag %q env %q, want %q %q", n.key, s.Flag(), s.Env(), n.flag, n.env)
		}
	}
	if s := settingByKey(t, "timeouts.check"); s.Alias != "timeout" {
		t.Errorf("timeouts.check alias = %q, want timeout", s.Alias)
	}
	if s := settingByKey(t, "password"); !s.EnvOnly {
		t.Errorf("password must be env-only (ps shows flags)")
	}

	flags := map[string]string{}
	envs := map[string]string{}
	for _, g := range []config.GlobalSetting{config.SettingConfig, config.SettingInstance, config.SettingLogLevel,
		config.SettingLogFmt, config.SettingLogFile, config.SettingLogErr, config.SettingForce} {
		flags[g.Flag] = "global " + g.Flag
		envs[g.Env] = "global " + g.Flag
		if !strings.HasPrefix(g.Env, "REDIS_VIP_") || g.Usage == "" {
			t.Errorf("global %s: env %q usage %q", g.Flag, g.Env, g.Usage)
		}
	}
	for _, s := range config.Settings {
		if s.Usage == "" {
			t.Errorf("%s has no usage", s.Key)
		}
		if s.FileOnly {
			if !strings.HasPrefix(s.Key, "vrrp.") || s.EnvOnly || s.Alias != "" {
				t.Errorf("%s: file-only settings are the vrrp: section's, with no flag", s.Key)
			}
			continue
		}
		if !strings.HasPrefix(s.Env(), "REDIS_VIP_") || strings.ContainsAny(s.Env(), ".-") || s.Env() != strings.ToUpper(s.Env()) {
			t.Errorf("%s: bad env name %q", s.Key, s.Env())
		}
		if strings.ContainsAny(s.Flag(), "._") || s.Flag() != strings.ToLower(s.Flag()) {
			t.Errorf("%s: bad flag name %q", s.Key, s.Flag())
		}
		if s.EnvOnly && s.Key != "password" {
			t.Errorf("%s is env-only: only secrets should be", s.Key)
		}
		for _, f := range []string{s.Flag(), s.Alias} {
			if f == "" {
				continue
			}
			if other, dup := flags[f]; dup {
				t.Errorf("flag %q of %s already used by %s", f, s.Key, other)
			}
			flags[f] = s.Key
		}
		if other, dup := envs[s.Env()]; dup {
			t.Errorf("env %q of %s already used by %s", s.Env(), s.Key, other)
		}
		envs[s.Env()] = s.Key
		if s.Bool && s.Default != "" {
			if _, err := strconv.ParseBool(s.Default); err != nil {
				t.Errorf("%s: bool default %q", s.Key, s.Default)
			}
		}
	}
}

// everyKey gives each setting a valid value that differs from its default.
func everyKey(t *testing.T) map[string]string {
	dir := t.TempDir()
	touch := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return map[string]string{
		"local":                    "192.0.2.4:6379",
		"announce":                 "192.0.2.10:6379",
		"peer":                     "192.0.2.3:6379",
		"vrrp_instance":            "VI_EVERY",
		"username":                 "u",
		"password_file":            touch("pass", "fromfile\n"),
		"password_env":             "MY_REDIS_PW",
		"password":                 "direct",
		"tls.enabled":              "true",
		"tls.ca_file":              touch("ca.pem", ""),
		"tls.cert_file":            touch("cert.pem", ""),
		"tls.key_file":             touch("key.pem", ""),
		"tls.server_name":          "redis.test",
		"tls.insecure_skip_verify": "true",
		"timeouts.connect":         "111ms",
		"timeouts.command":         "222ms",
		"timeouts.check":           "333ms",
		"timeouts.sync":            "4s",
		"timeouts.transition":      "19s",
		"timeouts.peer_wait":       "6s",
		"timeouts.holdoff":         "7s",
		"state_dir":                "/srv/redis-vip",
		"backup_dir":               "/srv/redis-vip/b",
		"backups_keep":             "3",
		"max_link_down":            "3s",
		"reconcile_interval":       "750ms",
		"health_listen":            "192.0.2.1:8008",
		"vips":                     "192.0.2.10",
		"on_diverged":              "refuse",
		"handover":                 "failover",
		"guard.include":            "/srv/redis/inc.conf",
		"guard.redis_conf":         "/srv/redis/redis.conf",
		"guard.data_dir":           "/srv/redis/data",
		"guard.dbfilename":         "x.rdb",
		"fence_after":              "4s",
		"fence_interval":           "200ms",
		"witness.address":          "192.0.2.20:7480",
		"witness.secret_file":      touch("witness.secret", "0123456789abcdef0123\n"),
		"witness.pair":             "pair-every",
		"witness.timeout":          "250ms",
	}
}

// TestEverySettingDecodes sets each key once, from a file and from
// flags/env, and checks it lands in the instance: every key changes it,
// and together they set every field.
func TestEverySettingDecodes(t *testing.T) {
	values := everyKey(t)
	for _, s := range config.Settings {
		if s.FileOnly {
			continue
		}
		if _, ok := values[s.Key]; !ok {
			t.Fatalf("test gives no value for setting %s", s.Key)
		}
		if s.Default != "" && values[s.Key] == s.Default {
			t.Fatalf("test value for %s equals its default", s.Key)
		}
	}
	env := envOf(map[string]string{"MY_REDIS_PW": "fromenv"})
	want := config.Instance{
		Name: "every", VRRPInstance: "VI_EVERY",
		Local:    node.Addr{Host: "192.0.2.4", Port: 6379},
		Announce: node.Addr{Host: "192.0.2.10", Port: 6379}, Peer: node.Addr{Host: "192.0.2.3", Port: 6379},
		Username: "u", PasswordFile: values["password_file"], PasswordEnv: "MY_REDIS_PW",
		Password: "fromfile", // password_file wins
		TLS: config.TLS{Enabled: true, CAFile: values["tls.ca_file"], CertFile: values["tls.cert_file"], KeyFile: values["tls.key_file"],
			ServerName: "redis.test", InsecureSkipVerify: true},
		Timeouts: config.Timeouts{Connect: 111 * time.Millisecond, Command: 222 * time.Millisecond, Check: 333 * time.Millisecond,
			Sync: 4 * time.Second, Transition: 19 * time.Second, PeerWait: 6 * time.Second, Holdoff: 7 * time.Second},
		StateDir: "/srv/redis-vip", BackupDir: "/srv/redis-vip/b", BackupsKeep: 3,
		MaxLinkDown: 3 * time.Second, ReconcileInterval: 750 * time.Millisecond,
		OnDiverged: config.DivergedRefuse, Handover: config.HandoverFailover,
		Guard:        config.Guard{Include: "/srv/redis/inc.conf", RedisConf: "/srv/redis/redis.conf", DataDir: "/srv/redis/data", DBFilename: "x.rdb"},
		HealthListen: "192.0.2.1:8008",
		VIPs:         []netip.Addr{netip.MustParseAddr("192.0.2.10")},
		FenceAfter:   4 * time.Second, FenceInterval: 200 * time.Millisecond,
		Witness: config.Witness{Address: "192.0.2.20:7480", SecretFile: values["witness.secret_file"], Pair: "pair-every",
			Timeout: 250 * time.Millisecond, Secret: config.Secret("0123456789abcdef0123")},
	}
	// Every field is set: a field no setting fills would stay zero here.
	for i, f := range reflect.VisibleFields(reflect.TypeOf(want)) {
		if f.IsExported() && reflect.ValueOf(want).Field(i).IsZero() {
			t.Errorf("field %s: no setting sets it", f.Name)
		}
	}
	// Every key changes the instance on its own.
	base := loadWith(t, nil)
	for _, s := range config.Settings {
		if s.FileOnly || s.Key == "password" || s.Key == "password_env" {
			continue // password_env needs the variable, password shows with the file's
		}
		o := map[string]string{s.Key: values[s.Key]}
		switch s.Key {
		case "timeouts.transition": // longer than sync and peer_wait
			o["timeouts.sync"], o["timeouts.peer_wait"] = values["timeouts.sync"], values["timeouts.peer_wait"]
		case "witness.address": // a witness needs fence_after and its secret
			o["fence_after"], o["witness.secret_file"] = values["fence_after"], values["witness.secret_file"]
		}
		if got := loadWith(t, o); reflect.DeepEqual(got, base) {
			t.Errorf("%s=%s changes nothing", s.Key, values[s.Key])
		}
	}

	// The instance mapping as nested YAML, values as a person types them.
	inst := map[string]any{}
	for k, v := range values {
		m := inst
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	}
	raw, err := yaml.Marshal(map[string]any{"instances": map[string]any{"every": inst}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("file", func(t *testing.T) {
		path := writeFile(t, "every.yml", string(raw))
		got, err := loadAndSelect(config.Source{Path: path, Explicit: true, Getenv: env}, "every")
		if err != nil {
			t.Fatalf("Load: %v\n%s", err, raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("flags and env", func(t *testing.T) {
		src := config.Source{Path: filepath.Join(t.TempDir(), "none.yml"), Overrides: values, Getenv: env}
		got, err := loadAndSelect(src, "")
		if err != nil {
			t.Fatalf("Load/Instance: %v", err)
		}
		want := want
		want.Name = "default"
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
}

// TestErrorLinesAreFileLines: an operator fixing a typo looks for the line
// the message names, so it must be the line in the file.
func TestErrorLinesAreFileLines(t *testing.T) {
	path := writeFile(t, "c.yml", "# comment\ninstances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n    timeouts:\n      sycn: 5s\n")
	_, err := config.Load(config.Source{Path: path, Explicit: true})
	if err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Fatalf("error %v: want it to name line 7", err)
	}
}

func TestInstancePasswordEnvUnderDefaultFile(t *testing.T) {
	pass := writeFile(t, "p", "fromfile\n")
	path := writeFile(t, "c.yml", "defaults:\n  password_file: "+pass+"\ninstances:\n"+
		"  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n    password_env: MY_REDIS_PW\n"+
		"  b:\n    local: 192.0.2.1:6380\n    peer: 192.0.2.2:6380\n    password_env: MY_REDIS_PW\n    password_file: \"\"\n")
	env := envOf(map[string]string{"MY_REDIS_PW": "fromenv"})
	for name, want := range map[string]string{"a": "fromfile", "b": "fromenv"} {
		inst, err := loadAndSelect(config.Source{Path: path, Getenv: env}, name)
		if err != nil {
			t.Fatalf("instance %s: %v", name, err)
		}
		if inst.Password != want {
			t.Errorf("instance %s password = %q, want %q", name, inst.Password, want)
		}
	}
}

// An instance whose settings are wrong stops the commands about it, not
// those about another; a value that does not parse, or an unknown key,
// stops every command (the file itself is broken).
func TestOneBrokenInstanceStopsOnlyItself(t *testing.T) {
	path := writeFile(t, "c.yml", `instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379"}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2", password_env: NOPE}
`)
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Instance("a"); err != nil {
		t.Errorf("a: %v", err)
	}
	_, err = cfg.Instance("b")
	for _, want := range []string{"instance b: ", `line 3: peer "192.0.2.2": address 192.0.2.2: missing port in address`, "password_env: environment variable NOPE is empty or unset"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("b: %v\nlacks %q", err, want)
		}
	}
	path = writeFile(t, "d.yml", `instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379"}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380", backups_keep: many}
`)
	if _, err := config.Load(config.Source{Path: path, Explicit: true}); err == nil || !strings.Contains(err.Error(), `instance b: line 3: backups_keep "many": want a whole number`) {
		t.Errorf("a value that does not parse: %v", err)
	}
}

// guard refuses when two instances write one include file; the other
// commands do not care (only guard uses the file).
func TestGuardIncludeShared(t *testing.T) {
	path := writeFile(t, "c.yml", `instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379"}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380"}
  c: {local: "192.0.2.1:6381", peer: "192.0.2.2:6381", guard: {include: /etc/redis/c.conf}}
`)
	cfg, err := config.Load(config.Source{Path: path, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.GuardIncludeShared("a")
	if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "instances a and b: both write guard.include /etc/redis/redis-vip-guard.conf; give each its own") {
		t.Errorf("a: %v", err)
	}
	if err := cfg.GuardIncludeShared("c"); err != nil {
		t.Errorf("c: %v", err)
	}
	// A flag moves this command's instance to its own file.
	cfg, err = config.Load(config.Source{Path: path, Explicit: true, Overrides: map[string]string{"guard.include": "/etc/redis/x.conf"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.GuardIncludeShared("a"); err != nil {
		t.Errorf("a with --guard-include: %v", err)
	}
}

// YAML anchors and aliases read as the values they stand for.
func TestAliases(t *testing.T) {
	path := writeFile(t, "c.yml", `defaults:
  timeouts: &t {sync: 10s}
instances:
  a: {local: &l "192.0.2.1:6379", peer: "192.0.2.2:6379", timeouts: *t}
`)
	in, err := loadAndSelect(config.Source{Path: path, Explicit: true}, "a")
	if err != nil || in.Timeouts.Sync != 10*time.Second || in.Local.String() != "192.0.2.1:6379" {
		t.Errorf("%+v, %v", in, err)
	}
}

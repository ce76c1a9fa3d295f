package config_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/config"
)

// vrrpOf loads instance a with section as its vrrp: (indented under it)
// and returns the section's settings or problems.
func vrrpOf(t *testing.T, section string) (config.VRRP, error) {
	t.Helper()
	path := writeFile(t, "c.yml", "instances:\n  a:\n    local: 192.0.2.1:6379\n    peer: 192.0.2.2:6379\n    vrrp:"+section)
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	in, err := cfg.Instance("a")
	if err != nil {
		t.Fatalf("Instance: %v", err)
	}
	return in.VRRP()
}

func TestVRRPDefaults(t *testing.T) {
	s, err := vrrpOf(t, `
      interface: eth0
      vrid: 51
      vips: [192.0.2.70/26, 192.0.2.69]
`)
	if err != nil {
		t.Fatal(err)
	}
	want := config.VRRP{
		Interface: "eth0", VRID: 51, Priority: 100, AdvertInterval: time.Second, Version: 3,
		VIPs:          []netip.Prefix{netip.MustParsePrefix("192.0.2.70/26"), netip.MustParsePrefix("192.0.2.69/32")},
		CheckInterval: time.Second, Rise: 2, Fall: 2, GARPCount: 5, GARPInterval: 100 * time.Millisecond, GARPRefreshRepeat: 1,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
}

func TestVRRPAll(t *testing.T) {
	s, err := vrrpOf(t, `
      interface: bond0
      vrid: 7
      priority: 150
      advert_interval: 0.29
      version: 3
      vips: ["2001:db8::10/64"]
      unicast_peers: ["2001:db8::2"]
      source: "2001:db8::1"
      nopreempt: true
      check_interval: 250ms
      rise: 3
      fall: 1
      garp_count: 0
      garp_interval: 1s
      garp_master_refresh: 60
      garp_master_refresh_repeat: 2
`)
	if err != nil {
		t.Fatal(err)
	}
	want := config.VRRP{
		Interface: "bond0", VRID: 7, Priority: 150, AdvertInterval: 290 * time.Millisecond, Version: 3,
		VIPs:         []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")},
		UnicastPeers: []netip.Addr{netip.MustParseAddr("2001:db8::2")}, Source: netip.MustParseAddr("2001:db8::1"),
		NoPreempt: true, CheckInterval: 250 * time.Millisecond, Rise: 3, Fall: 1, GARPCount: 0, GARPInterval: time.Second,
		GARPRefresh: time.Minute, GARPRefreshRepeat: 2,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	s, err = vrrpOf(t, " {interface: eth0, vrid: 51, version: 2, advert_interval: 1, vips: [192.0.2.70/26]}\n")
	if err != nil || s.Version != 2 || s.AdvertInterval != time.Second {
		t.Errorf("v2 with a bare number of seconds: %+v, %v", s, err)
	}
}

// Every problem of the section is reported at once, in one line that
// names the file's lines, and only when the section is asked for: the
// instance itself stays usable (check, the hooks).
func TestVRRPErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"empty mapping", " {}\n", []string{"instance a: vrrp: ", "interface: missing", "vrid: missing", "vips: missing"}},
		{"not a mapping", " [1, 2]\n", []string{"line 5: want a mapping"}},
		{"unknown key", " {interface: eth0, vrid: 1, vips: [192.0.2.1], prority: 5}\n",
			[]string{`line 5: unknown key "prority" (known: advert_interval, check_interval, fall, garp_count`}},
		{"many at once", `
      interface: eth0
      vrid: 300
      priority: 0
      version: 4
      vips: [nonsense, 224.0.0.5/32, 192.0.2.70/26, 192.0.2.70/24]
      unicast_peers: ["2001:db8::1", 192.0.2.70, bogus]
      source: 192.0.2.70
      check_interval: 1ms
      rise: 0
      fall: -1
      garp_count: 101
      garp_interval: 1h
      garp_master_refresh: 500ms
      garp_master_refresh_repeat: 0
`, []string{
			"line 7: vrid 300: want 1-255", "priority 0: want 1-255", "version 4: want 2-3",
			`vips: "nonsense" is not an address or CIDR`, "vips: 224.0.0.5/32 is not a global unicast address", "vips: 192.0.2.70 listed twice",
			"unicast_peers: 2001:db8::1 is not of the VIPs' family", "unicast_peers: 192.0.2.70 is one of the vips", `unicast_peers: "bogus" is not an IP address`,
			"line 12: source: 192.0.2.70 is one of the vips", "check_interval 1ms: want at least 10ms",
			"rise 0: want 1-1000", "fall -1: want 1-1000", "garp_count 101: want 0-100", "garp_interval 1h0m0s: want 0-10s",
			"garp_master_refresh 500ms: want 0 (off) or 1s-24h", "garp_master_refresh_repeat 0: want 1-100",
		}},
		{"v3 interval", " {interface: eth0, vrid: 1, vips: [192.0.2.1], advert_interval: 15ms}\n", []string{"advert_interval 15ms: VRRP version 3 wants a multiple of 10ms"}},
		{"v2 interval", " {interface: eth0, vrid: 1, vips: [192.0.2.1], version: 2, advert_interval: 100ms}\n", []string{"advert_interval 100ms: VRRP version 2 wants whole seconds"}},
		{"v2 ipv6", " {interface: eth0, vrid: 1, vips: ['2001:db8::1'], version: 2}\n", []string{"VRRP version 2 carries IPv4 only"}},
		{"mixed families", " {interface: eth0, vrid: 1, vips: [192.0.2.1, '2001:db8::1']}\n", []string{"vips: mix IPv4 and IPv6"}},
		{"bad duration", " {interface: eth0, vrid: 1, vips: [192.0.2.1], check_interval: soon, garp_interval: [1]}\n",
			[]string{`check_interval "soon": want a duration such as 500ms, 2s or 1m30s (a number and a unit: ns, us, ms, s, m, h), or a number of seconds`, `garp_interval: want a duration`}},
		{"bad type", " {interface: eth0, vrid: one, nopreempt: yes please, vips: {a: 1}}\n", []string{`vrid "one": want a whole number`, `nopreempt "yes please": want true or false`, "vips: want a list of addresses"}},
		{"bad interface", " {interface: eth0/1, vrid: 1, vips: [192.0.2.1]}\n", []string{`interface "eth0/1": not a valid interface name`}},
		{"duplicate key", "\n      interface: eth0\n      vrid: 1\n      vrid: 2\n      vips: [192.0.2.1]\n", []string{`line 8: mapping key "vrid" already defined at line 7`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vrrpOf(t, tc.src)
			oneLineWith(t, err, tc.want...)
		})
	}
}

// run's rules: which instances have a section, and two sections that
// would fight over one virtual router or one VIP.
func TestVRRPNamesAndCollisions(t *testing.T) {
	path := writeFile(t, "c.yml", `instances:
  a: {local: "192.0.2.1:6379", peer: "192.0.2.2:6379", vrrp: {interface: eth0, vrid: 51, vips: [192.0.2.70/26]}}
  b: {local: "192.0.2.1:6380", peer: "192.0.2.2:6380", vrrp: {interface: eth0, vrid: 51, vips: [192.0.2.71, 192.0.2.70]}}
  c: {local: "192.0.2.1:6381", peer: "192.0.2.2:6381", vrrp: {interface: eth0, vrid: 51, vips: ["2001:db8::70"]}}
  d: {local: "192.0.2.1:6382", peer: "192.0.2.2:6382", vrrp: {interface: eth0, vrid: 0}}
  e: {local: "192.0.2.1:6383", peer: "192.0.2.2:6383"}
`)
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	names, err := cfg.VRRPNames()
	if err != nil || !reflect.DeepEqual(names, []string{"a", "b", "c", "d"}) {
		t.Errorf("VRRPNames = %v, %v", names, err)
	}
	var insts []config.Instance
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		in, err := cfg.Instance(n)
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, in)
	}
	if _, err := insts[3].VRRP(); err == nil || !strings.Contains(err.Error(), "instance d: vrrp: ") {
		t.Errorf("d: %v", err)
	}
	if _, err := insts[4].VRRP(); err == nil || !strings.Contains(err.Error(), "instance e: no vrrp: section") {
		t.Errorf("e: %v", err)
	}
	got := config.VRRPCollisions(insts)
	want := []string{"instances a and b: both use vrid 51 on eth0; give each its own vrid", "instances a and b: both hold VIP 192.0.2.70"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("collisions %q\nwant %q", got, want)
	}

	none := writeFile(t, "none.yml", "instances:\n  e: {local: \"192.0.2.1:6383\", peer: \"192.0.2.2:6383\"}\n")
	cfg, err = config.Load(config.Source{Path: none, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.VRRPNames(); err == nil || !strings.Contains(err.Error(), none+": no instance has a vrrp: section") {
		t.Errorf("no section: %v", err)
	}
}

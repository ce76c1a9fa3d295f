package router

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// vrrpNode parses src as the value of an instance's vrrp: key.
func vrrpNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc struct {
		VRRP yaml.Node `yaml:"vrrp"`
	}
	if err := yaml.Unmarshal([]byte("vrrp:\n"+src), &doc); err != nil {
		t.Fatal(err)
	}
	return &doc.VRRP
}

func TestDecodeSettingsDefaults(t *testing.T) {
	s, err := DecodeSettings(vrrpNode(t, `
  interface: eth0
  vrid: 51
  vips: [192.0.2.70/26, 192.0.2.69]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Interface: "eth0", VRID: 51, Priority: 100, AdvertInterval: time.Second, Version: 3,
		VIPs:          []netip.Prefix{netip.MustParsePrefix("192.0.2.70/26"), netip.MustParsePrefix("192.0.2.69/32")},
		CheckInterval: time.Second, Rise: 2, Fall: 2, GARPCount: 5, GARPInterval: 100 * time.Millisecond, GARPRefreshRepeat: 1,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	if s.Family() != transport.IPv4 || s.Destinations()[0] != netip.MustParseAddr("224.0.0.18") {
		t.Errorf("family %s destinations %v", s.Family(), s.Destinations())
	}
	if got := s.MasterDownInterval(); got != 3*time.Second+609375*time.Microsecond {
		t.Errorf("master down interval %s", got)
	}
}

func TestDecodeSettingsAll(t *testing.T) {
	s, err := DecodeSettings(vrrpNode(t, `
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
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.AdvertInterval != 290*time.Millisecond || !s.NoPreempt || s.Rise != 3 || s.Fall != 1 || s.GARPCount != 0 ||
		s.Family() != transport.IPv6 || s.Source != netip.MustParseAddr("2001:db8::1") || s.CheckInterval != 250*time.Millisecond ||
		s.GARPRefresh != time.Minute || s.GARPRefreshRepeat != 2 {
		t.Fatalf("%+v", s)
	}
	if d := s.Destinations(); len(d) != 1 || d[0] != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("destinations %v", d)
	}
	if c := s.FSMConfig(s.Source); c.Preempt || c.Priority != 150 || c.Validate() != nil {
		t.Errorf("fsm config %+v: %v", c, c.Validate())
	}
}

func TestDecodeSettingsV2Validator(t *testing.T) {
	s, err := DecodeSettings(vrrpNode(t, "  {interface: eth0, vrid: 51, version: 2, advert_interval: 1, vips: [192.0.2.70/26]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := s.Validator()
	if v.Version != packet.Version2 || v.Interval != time.Second || len(v.Addresses) != 1 || v.Family != packet.IPv4 {
		t.Errorf("validator %+v", v)
	}
}

// Every problem is reported at once, in one error wrapping ErrConfig.
func TestDecodeSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"empty mapping", "  {}\n", []string{"interface: missing", "vrid: missing", "vips: missing"}},
		{"not a mapping", "  [1, 2]\n", []string{"want a mapping"}},
		{"unknown key", "  {interface: eth0, vrid: 1, vips: [192.0.2.1], prority: 5}\n", []string{`unknown key "prority" (known: interface, vrid, priority`}},
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
			"vrid 300: want 1-255", "priority 0: want 1-255", "version 4: want 2-3",
			`vips: "nonsense" is not an address or CIDR`, "vips: 224.0.0.5/32 is not a global unicast address", "vips: 192.0.2.70 listed twice",
			"unicast_peers: 2001:db8::1 is not of the VIPs' family", "unicast_peers: 192.0.2.70 is one of the vips", `unicast_peers: "bogus" is not an IP address`,
			"source: 192.0.2.70 is one of the vips", "check_interval 1ms: want at least 10ms",
			"rise 0: want 1-1000", "fall -1: want 1-1000", "garp_count 101: want 0-100", "garp_interval 1h0m0s: want 0-10s",
			"garp_master_refresh 500ms: want 0 (off) or 1s-24h", "garp_master_refresh_repeat 0: want 1-100",
		}},
		{"v3 interval", "  {interface: eth0, vrid: 1, vips: [192.0.2.1], advert_interval: 15ms}\n", []string{"advert_interval 15ms: VRRP version 3 wants a multiple of 10ms"}},
		{"v2 interval", "  {interface: eth0, vrid: 1, vips: [192.0.2.1], version: 2, advert_interval: 100ms}\n", []string{"advert_interval 100ms: VRRP version 2 wants whole seconds"}},
		{"v2 ipv6", "  {interface: eth0, vrid: 1, vips: ['2001:db8::1'], version: 2}\n", []string{"VRRP version 2 carries IPv4 only"}},
		{"mixed families", "  {interface: eth0, vrid: 1, vips: [192.0.2.1, '2001:db8::1']}\n", []string{"vips: mix IPv4 and IPv6"}},
		{"bad duration", "  {interface: eth0, vrid: 1, vips: [192.0.2.1], check_interval: soon, garp_interval: [1]}\n", []string{`check_interval "soon": want a duration like 100ms or a number of seconds`, `garp_interval: want a single value`}},
		{"bad type", "  {interface: eth0, vrid: one, nopreempt: yes please, vips: {a: 1}}\n", []string{`vrid "one": want a whole number`, `nopreempt "yes please": want true or false`, "vips: want a list of addresses"}},
		{"bad interface", "  {interface: eth0/1, vrid: 1, vips: [192.0.2.1]}\n", []string{`interface "eth0/1": not a valid interface name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSettings(vrrpNode(t, tc.src))
			if !errors.Is(err, config.ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || strings.Contains(msg, "line ") {
				t.Errorf("message not one clean line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\nlacks %q", msg, w)
				}
			}
		})
	}
}

func TestPresent(t *testing.T) {
	var doc struct {
		A yaml.Node `yaml:"a"`
		B yaml.Node `yaml:"b"`
		C yaml.Node `yaml:"c"`
	}
	if err := yaml.Unmarshal([]byte("b: ~\nc: {vrid: 1}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if Present(&doc.A) || Present(&doc.B) || !Present(&doc.C) || Present(nil) {
		t.Errorf("Present: absent=%v null=%v set=%v", Present(&doc.A), Present(&doc.B), Present(&doc.C))
	}
	if _, err := DecodeSettings(&doc.A); !errors.Is(err, config.ErrConfig) {
		t.Errorf("absent section: %v", err)
	}
}

func TestHysteresis(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   bool
		results string // + pass, - fail
		want    string // health after each result: H healthy, U unhealthy
	}{
		{"fall needs two in a row", true, "+-+--", "HHHHU"},
		{"rise needs two in a row", false, "+-++", "UUUH"},
		{"flapping never changes", true, "-+-+-+", "HHHHHH"},
		{"down and up", true, "--++", "HUUH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hysteresis{rise: 2, fall: 2, healthy: tc.start}
			got := ""
			for _, c := range tc.results {
				before := h.healthy
				changed := h.observe(c == '+')
				if changed == (before == h.healthy) {
					t.Fatalf("observe reported changed=%v for %v -> %v", changed, before, h.healthy)
				}
				if h.healthy {
					got += "H"
				} else {
					got += "U"
				}
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

package router

import (
	"net/netip"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

func TestSettingsDerived(t *testing.T) {
	s := Settings{
		Interface: "eth0", VRID: 51, Priority: 100, AdvertInterval: time.Second, Version: 3,
		VIPs:          []netip.Prefix{netip.MustParsePrefix("192.0.2.70/26"), netip.MustParsePrefix("192.0.2.69/32")},
		CheckInterval: time.Second, Rise: 2, Fall: 2, GARPCount: 5, GARPInterval: 100 * time.Millisecond, GARPRefreshRepeat: 1,
	}
	if s.Family() != transport.IPv4 || s.Destinations()[0] != netip.MustParseAddr("224.0.0.18") {
		t.Errorf("family %s destinations %v", s.Family(), s.Destinations())
	}
	if got := s.MasterDownInterval(); got != 3*time.Second+609375*time.Microsecond {
		t.Errorf("master down interval %s", got)
	}
	if a := s.Addresses(); len(a) != 2 || a[1] != netip.MustParseAddr("192.0.2.69") {
		t.Errorf("addresses %v", a)
	}

	v6 := Settings{VRID: 7, Priority: 150, AdvertInterval: 290 * time.Millisecond, Version: 3, NoPreempt: true,
		VIPs:         []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")},
		UnicastPeers: []netip.Addr{netip.MustParseAddr("2001:db8::2")}, Source: netip.MustParseAddr("2001:db8::1")}
	if d := v6.Destinations(); v6.Family() != transport.IPv6 || len(d) != 1 || d[0] != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("family %s destinations %v", v6.Family(), d)
	}
	if c := v6.FSMConfig(v6.Source); c.Preempt || c.Priority != 150 || c.Validate() != nil {
		t.Errorf("fsm config %+v: %v", c, c.Validate())
	}
	if v := v6.Validator(); v.Interval != 0 || v.Addresses != nil {
		t.Errorf("v3 validator checks interval or addresses: %+v", v)
	}

	v2 := Settings{Interface: "eth0", VRID: 51, Version: 2, AdvertInterval: time.Second, VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.70/26")}}
	v := v2.Validator()
	if v.Version != packet.Version2 || v.Interval != time.Second || len(v.Addresses) != 1 || v.Family != packet.IPv4 {
		t.Errorf("validator %+v", v)
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

package transport

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPickSource(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		family  Family
		addrs   []ifaceAddr
		exclude []netip.Addr
		want    netip.Addr // zero: ErrNoSource
	}{
		{
			name:   "ipv4 first primary",
			family: IPv4,
			addrs:  []ifaceAddr{{ip: a("192.0.2.1")}, {ip: a("192.0.2.2")}},
			want:   a("192.0.2.1"),
		},
		{
			name:   "ipv4 primary beats earlier secondary",
			family: IPv4,
			addrs:  []ifaceAddr{{ip: a("192.0.2.1"), flags: unix.IFA_F_SECONDARY}, {ip: a("198.51.100.1")}},
			want:   a("198.51.100.1"),
		},
		{
			name:   "ipv4 secondary when nothing else",
			family: IPv4,
			addrs:  []ifaceAddr{{ip: a("192.0.2.1"), flags: unix.IFA_F_SECONDARY}},
			want:   a("192.0.2.1"),
		},
		{
			name:    "ipv4 excluded vip skipped",
			family:  IPv4,
			addrs:   []ifaceAddr{{ip: a("192.0.2.100")}, {ip: a("192.0.2.1"), flags: unix.IFA_F_SECONDARY}},
			exclude: []netip.Addr{a("192.0.2.100")},
			want:    a("192.0.2.1"),
		},
		{
			name:    "ipv4 exclude written 4in6",
			family:  IPv4,
			addrs:   []ifaceAddr{{ip: a("192.0.2.100")}, {ip: a("192.0.2.1")}},
			exclude: []netip.Addr{a("::ffff:192.0.2.100")},
			want:    a("192.0.2.1"),
		},
		{
			name:   "ipv4 ignores ipv6",
			family: IPv4,
			addrs:  []ifaceAddr{{ip: a("fe80::1")}, {ip: a("192.0.2.1")}},
			want:   a("192.0.2.1"),
		},
		{
			name:   "ipv4 none",
			family: IPv4,
			addrs:  []ifaceAddr{{ip: a("fe80::1")}},
		},
		{
			name:   "ipv6 link-local beats global",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("2001:db8::1")}, {ip: a("fe80::1")}},
			want:   a("fe80::1"),
		},
		{
			name:   "ipv6 settled link-local beats tentative",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("fe80::1"), flags: unix.IFA_F_TENTATIVE}, {ip: a("fe80::2")}},
			want:   a("fe80::2"),
		},
		{
			name:   "ipv6 tentative link-local beats global",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("2001:db8::1")}, {ip: a("fe80::1"), flags: unix.IFA_F_TENTATIVE}},
			want:   a("fe80::1"),
		},
		{
			name:   "ipv6 global when no link-local",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("2001:db8::1"), flags: unix.IFA_F_TENTATIVE}, {ip: a("2001:db8::2")}},
			want:   a("2001:db8::2"),
		},
		{
			name:   "ipv6 dad failed never chosen",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("fe80::1"), flags: unix.IFA_F_DADFAILED | unix.IFA_F_TENTATIVE}},
		},
		{
			name:    "ipv6 excluded",
			family:  IPv6,
			addrs:   []ifaceAddr{{ip: a("2001:db8::100")}},
			exclude: []netip.Addr{a("2001:db8::100")},
		},
		{
			name:   "loopback and multicast never chosen",
			family: IPv6,
			addrs:  []ifaceAddr{{ip: a("::1")}, {ip: a("ff02::1")}},
		},
		{
			name:   "empty",
			family: IPv6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickSource(tt.family, tt.addrs, tt.exclude)
			if !tt.want.IsValid() {
				if !errors.Is(err, ErrNoSource) {
					t.Fatalf("pickSource() = %v, %v; want ErrNoSource", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pickSource() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFamily(t *testing.T) {
	if g := IPv4.Group(); g != netip.MustParseAddr("224.0.0.18") {
		t.Errorf("IPv4.Group() = %v", g)
	}
	if g := IPv6.Group(); g != netip.MustParseAddr("ff02::12") {
		t.Errorf("IPv6.Group() = %v", g)
	}
	if g := Family(5).Group(); g.IsValid() {
		t.Errorf("Family(5).Group() = %v, want zero", g)
	}
	if IPv4.String() != "IPv4" || IPv6.String() != "IPv6" {
		t.Errorf("String() = %q, %q", IPv4.String(), IPv6.String())
	}
}

func TestListenValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no interface", Config{Family: IPv4}},
		{"no family", Config{Interface: "eth0"}},
		{"unknown family", Config{Interface: "eth0", Family: 5}},
		{"source of other family", Config{Interface: "eth0", Family: IPv4, Source: netip.MustParseAddr("2001:db8::1")}},
		{"ipv6 source given as 4in6", Config{Interface: "eth0", Family: IPv6, Source: netip.MustParseAddr("::ffff:192.0.2.1")}},
		{"no such interface", Config{Interface: "rvtest-nosuch", Family: IPv4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Listen(t.Context(), tt.cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("Listen() = nil error, want error")
			}
		})
	}
}

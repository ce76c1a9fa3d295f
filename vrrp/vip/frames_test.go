package vip

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestBuildGratuitousARP(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	ip := netip.MustParseAddr("192.0.2.100")
	b := buildGratuitousARP(mac, ip)

	fields := []struct {
		name       string
		start, end int
		want       []byte
	}{
		{"eth destination (broadcast)", 0, 6, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"eth source", 6, 12, mac},
		{"ethertype ARP", 12, 14, []byte{0x08, 0x06}},
		{"hardware type Ethernet", 14, 16, []byte{0x00, 0x01}},
		{"protocol type IPv4", 16, 18, []byte{0x08, 0x00}},
		{"hardware length", 18, 19, []byte{6}},
		{"protocol length", 19, 20, []byte{4}},
		{"opcode request", 20, 22, []byte{0x00, 0x01}},
		{"sender hardware address", 22, 28, mac},
		{"sender protocol address", 28, 32, []byte{192, 0, 2, 100}},
		{"target hardware address", 32, 38, make([]byte, 6)},
		{"target protocol address", 38, 42, []byte{192, 0, 2, 100}},
		{"padding", 42, 60, make([]byte, 18)},
	}
	if len(b) != 60 {
		t.Fatalf("frame length = %d, want 60", len(b))
	}
	covered := 0
	for _, f := range fields {
		if got := b[f.start:f.end]; !bytes.Equal(got, f.want) {
			t.Errorf("%s = % x, want % x", f.name, got, f.want)
		}
		covered += f.end - f.start
	}
	if covered != len(b) {
		t.Fatalf("test covers %d bytes of %d", covered, len(b))
	}
}

func TestBuildUnsolicitedNA(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	target := netip.MustParseAddr("2001:db8::100")
	b := buildUnsolicitedNA(mac, target)

	fields := []struct {
		name       string
		start, end int
		want       []byte
	}{
		{"type neighbour advertisement", 0, 1, []byte{136}},
		{"code", 1, 2, []byte{0}},
		{"checksum (kernel fills)", 2, 4, []byte{0, 0}},
		{"flags R=0 S=0 O=1", 4, 5, []byte{0x20}},
		{"reserved", 5, 8, []byte{0, 0, 0}},
		{"target address", 8, 24, target.AsSlice()},
		{"option type target link-layer address", 24, 25, []byte{2}},
		{"option length (8 octets)", 25, 26, []byte{1}},
		{"option link-layer address", 26, 32, mac},
	}
	if len(b) != 32 {
		t.Fatalf("message length = %d, want 32", len(b))
	}
	covered := 0
	for _, f := range fields {
		if got := b[f.start:f.end]; !bytes.Equal(got, f.want) {
			t.Errorf("%s = % x, want % x", f.name, got, f.want)
		}
		covered += f.end - f.start
	}
	if covered != len(b) {
		t.Fatalf("test covers %d bytes of %d", covered, len(b))
	}
}

func TestNewValidates(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name   string
		ifname string
		vips   []netip.Prefix
		ok     bool
	}{
		{"mixed families", "eth0", []netip.Prefix{p("192.0.2.10/24"), p("2001:db8::10/64")}, true},
		{"empty interface", "", []netip.Prefix{p("192.0.2.10/32")}, false},
		{"interface name too long", "abcdefghijklmnop", []netip.Prefix{p("192.0.2.10/32")}, false},
		{"no vips", "eth0", nil, false},
		{"invalid prefix", "eth0", []netip.Prefix{{}}, false},
		{"duplicate address", "eth0", []netip.Prefix{p("192.0.2.10/24"), p("192.0.2.10/32")}, false},
		{"multicast", "eth0", []netip.Prefix{p("224.0.0.18/32")}, false},
		{"unspecified", "eth0", []netip.Prefix{p("::/128")}, false},
		{"loopback", "eth0", []netip.Prefix{p("127.0.0.2/8")}, false},
		{"4in6", "eth0", []netip.Prefix{p("::ffff:192.0.2.10/128")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.ifname, tt.vips, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New() error = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && len(m.VIPs()) != len(tt.vips) {
				t.Fatalf("VIPs() = %v, want %v", m.VIPs(), tt.vips)
			}
		})
	}
}

func TestAnnounceCountBounds(t *testing.T) {
	m, err := New("eth0", []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, maxAnnounceCount + 1} {
		if err := m.Announce(t.Context(), n, 0); err == nil {
			t.Errorf("Announce(count=%d) = nil, want error", n)
		}
	}
	if err := m.Announce(t.Context(), 0, 0); err != nil {
		t.Errorf("Announce(count=0) = %v, want nil", err)
	}
}

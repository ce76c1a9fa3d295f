package packet_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/packet"
)

var (
	src4   = netip.MustParseAddr("192.0.2.1")
	peer4  = netip.MustParseAddr("192.0.2.2")
	group4 = netip.MustParseAddr("224.0.0.18")
	src6   = netip.MustParseAddr("fe80::ff:fe00:1")
	peer6  = netip.MustParseAddr("fe80::ff:fe00:2")
	group6 = netip.MustParseAddr("ff02::12")
)

// Adverts captured from keepalived 2.2.7 (see testdata/capture.sh), VRRP
// payload only, checksum included.
const (
	// v2, vrid 51, prio 150, 1 s, 192.0.2.100, 192.0.2.1 -> 224.0.0.18
	hexV2 = "21339601000186 65c0000264 0000000000000000"
	// v2, vrid 55, prio 90, 1 s, 192.0.2.105, auth PASS "secret12"
	hexV2Pass = "21375a01010153de c0000269 7365637265743132"
	// v3, vrid 53, prio 200, 50 cs, 192.0.2.110 and .111, 192.0.2.1 -> 224.0.0.18
	hexV3 = "3135c8020032df22 c000026e c000026f"
	// v3, vrid 56, prio 110, 100 cs, 192.0.2.120, 192.0.2.1 -> 192.0.2.2 (unicast)
	hexV3Unicast = "31386e0100641969 c0000278"
	// v3, vrid 54, prio 120, 100 cs, fe80::54 and 2001:db8::100,
	// fe80::ff:fe00:1 -> ff02::12
	hexV3IPv6 = "3136780200642ba6 fe800000000000000000000000000054 20010db8000000000000000000000100"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// refChecksum is an independent, deliberately plain implementation of the
// VRRP checksum: RFC 1071 over (VRRPv3: pseudo-header +) message with the
// checksum field zeroed.
func refChecksum(version int, src, dst netip.Addr, msg []byte) uint16 {
	var buf []byte
	if version == 3 {
		buf = append(buf, src.AsSlice()...)
		buf = append(buf, dst.AsSlice()...)
		if src.Is4() {
			buf = append(buf, 0, 112)
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(msg)))
		} else {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(msg)))
			buf = append(buf, 0, 0, 0, 112)
		}
	}
	m := bytes.Clone(msg)
	if len(m) >= 8 {
		m[6], m[7] = 0, 0
	}
	buf = append(buf, m...)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var sum uint32
	for i := 0; i < len(buf); i += 2 {
		sum += uint32(buf[i])<<8 | uint32(buf[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// withChecksum returns a copy of msg with its checksum recomputed as VRRP
// version `version` would (any version other than 3 sums the message alone).
func withChecksum(version int, src, dst netip.Addr, msg []byte) []byte {
	m := bytes.Clone(msg)
	if len(m) >= 8 {
		binary.BigEndian.PutUint16(m[6:], refChecksum(version, src, dst, m))
	}
	return m
}

// edit returns a copy of b changed by f, with the checksum recomputed for
// version `fix` (0: left as f made it).
func edit(b []byte, fix int, src, dst netip.Addr, f func([]byte) []byte) []byte {
	m := f(bytes.Clone(b))
	if fix != 0 {
		m = withChecksum(fix, src, dst, m)
	}
	return m
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestRefChecksumMatchesKeepalived(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hex      string
		version  int
		src, dst netip.Addr
	}{
		{"v2", hexV2, 2, src4, group4},
		{"v2-pass", hexV2Pass, 2, src4, group4},
		{"v3-ipv4", hexV3, 3, src4, group4},
		{"v3-ipv4-unicast", hexV3Unicast, 3, src4, peer4},
		{"v3-ipv6", hexV3IPv6, 3, src6, group6},
	} {
		b := mustHex(t, tc.hex)
		if got, want := refChecksum(tc.version, tc.src, tc.dst, b), binary.BigEndian.Uint16(b[6:]); got != want {
			t.Errorf("%s: reference checksum %#04x, keepalived sent %#04x", tc.name, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	many4 := make([]netip.Addr, 255)
	many6 := make([]netip.Addr, 255)
	for i := range many4 {
		many4[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		many6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	for _, tc := range []struct {
		name     string
		a        packet.Advert
		src, dst netip.Addr
		wantHex  string // when set, the exact bytes keepalived sends
	}{
		{
			name: "v2 keepalived", src: src4, dst: group4, wantHex: hexV2,
			a: packet.Advert{Version: packet.Version2, VRID: 51, Priority: 150, AdvertInterval: time.Second,
				Addresses: addrs("192.0.2.100")},
		},
		{
			name: "v2 three VIPs 2s", src: src4, dst: group4,
			a: packet.Advert{Version: packet.Version2, VRID: 52, Priority: 100, AdvertInterval: 2 * time.Second,
				Addresses: addrs("192.0.2.101", "192.0.2.102", "192.0.2.103")},
		},
		{
			name: "v2 limits", src: src4, dst: peer4,
			a: packet.Advert{Version: packet.Version2, VRID: 255, Priority: 255, AdvertInterval: 255 * time.Second,
				Addresses: many4, AuthData: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		},
		{
			name: "v2 resign, no addresses", src: src4, dst: group4,
			a: packet.Advert{Version: packet.Version2, VRID: 1, Priority: 0, AdvertInterval: time.Second,
				Addresses: []netip.Addr{}},
		},
		{
			name: "v3 ipv4 keepalived", src: src4, dst: group4, wantHex: hexV3,
			a: packet.Advert{Version: packet.Version3, VRID: 53, Priority: 200, AdvertInterval: 500 * time.Millisecond,
				Addresses: addrs("192.0.2.110", "192.0.2.111")},
		},
		{
			name: "v3 ipv4 unicast keepalived", src: src4, dst: peer4, wantHex: hexV3Unicast,
			a: packet.Advert{Version: packet.Version3, VRID: 56, Priority: 110, AdvertInterval: time.Second,
				Addresses: addrs("192.0.2.120")},
		},
		{
			name: "v3 ipv4 limits", src: src4, dst: group4,
			a: packet.Advert{Version: packet.Version3, VRID: 255, Priority: 255, AdvertInterval: 40950 * time.Millisecond,
				Addresses: many4},
		},
		{
			name: "v3 ipv4 10ms", src: src4, dst: group4,
			a: packet.Advert{Version: packet.Version3, VRID: 1, Priority: 1, AdvertInterval: 10 * time.Millisecond,
				Addresses: addrs("192.0.2.9")},
		},
		{
			name: "v3 ipv6 keepalived", src: src6, dst: group6, wantHex: hexV3IPv6,
			a: packet.Advert{Version: packet.Version3, VRID: 54, Priority: 120, AdvertInterval: time.Second,
				Addresses: addrs("fe80::54", "2001:db8::100")},
		},
		{
			name: "v3 ipv6 unicast limits", src: netip.MustParseAddr("2001:db8::1"), dst: netip.MustParseAddr("2001:db8::2"),
			a: packet.Advert{Version: packet.Version3, VRID: 7, Priority: 0, AdvertInterval: 40950 * time.Millisecond,
				Addresses: many6},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.a.Marshal(tc.src, tc.dst)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if tc.wantHex != "" && !bytes.Equal(b, mustHex(t, tc.wantHex)) {
				t.Errorf("Marshal = %x, keepalived sends %x", b, mustHex(t, tc.wantHex))
			}
			ver := int(tc.a.Version)
			if got, want := binary.BigEndian.Uint16(b[6:]), refChecksum(ver, tc.src, tc.dst, b); got != want {
				t.Errorf("checksum %#04x, reference says %#04x", got, want)
			}
			got, err := packet.Parse(b, tc.src, tc.dst)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v", err)
			}
			if !reflect.DeepEqual(*got, tc.a) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, tc.a)
			}
			v := packet.Validator{Version: tc.a.Version, VRID: tc.a.VRID, Addresses: tc.a.Addresses}
			if tc.src.Is6() {
				v.Family = packet.IPv6
			}
			if _, err := v.Validate(b, tc.src, tc.dst, packet.HopLimit); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseAcceptsOddButValid(t *testing.T) {
	v3 := mustHex(t, hexV3)
	for _, tc := range []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     packet.Advert
	}{
		{
			// RFC 5798 §5.2.6: reserved bits are ignored on reception.
			name: "v3 reserved bits set", src: src4, dst: group4,
			b: edit(v3, 3, src4, group4, func(b []byte) []byte { b[4] |= 0xf0; return b }),
			want: packet.Advert{Version: packet.Version3, VRID: 53, Priority: 200,
				AdvertInterval: 500 * time.Millisecond, Addresses: addrs("192.0.2.110", "192.0.2.111")},
		},
		{
			name: "IPv4-mapped src and dst", src: netip.MustParseAddr("::ffff:192.0.2.1"), dst: netip.MustParseAddr("::ffff:224.0.0.18"),
			b: v3,
			want: packet.Advert{Version: packet.Version3, VRID: 53, Priority: 200,
				AdvertInterval: 500 * time.Millisecond, Addresses: addrs("192.0.2.110", "192.0.2.111")},
		},
		{
			name: "v2 auth type AH reported", src: src4, dst: group4,
			b: edit(mustHex(t, hexV2), 2, src4, group4, func(b []byte) []byte { b[4] = 2; return b }),
			want: packet.Advert{Version: packet.Version2, VRID: 51, Priority: 150, AdvertInterval: time.Second,
				Addresses: addrs("192.0.2.100"), AuthType: packet.AuthAH},
		},
		{
			name: "v2 password reported", src: src4, dst: group4,
			b: mustHex(t, hexV2Pass),
			want: packet.Advert{Version: packet.Version2, VRID: 55, Priority: 90, AdvertInterval: time.Second,
				Addresses: addrs("192.0.2.105"), AuthType: packet.AuthSimple, AuthData: [8]byte([]byte("secret12"))},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := packet.Parse(tc.b, tc.src, tc.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestChecksumAllOnesZero: one's complement has two zeros; an advert whose
// checksum field is 0xffff where 0x0000 is computed must be accepted.
func TestChecksumAllOnesZero(t *testing.T) {
	// Search (bounded) for a last auth data word that makes the computed
	// checksum 0x0000, then send 0xffff instead.
	base := mustHex(t, hexV2)
	for w := range 1 << 16 {
		b := edit(base, 2, src4, group4, func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[len(b)-2:], uint16(w))
			return b
		})
		if binary.BigEndian.Uint16(b[6:]) != 0 {
			continue
		}
		binary.BigEndian.PutUint16(b[6:], 0xffff)
		a, err := packet.Parse(b, src4, group4)
		if err != nil {
			t.Fatalf("auth word %#04x with checksum 0xffff: %v", w, err)
		}
		if got := binary.BigEndian.Uint16(a.AuthData[6:]); got != uint16(w) {
			t.Fatalf("auth word %#04x, want %#04x", got, w)
		}
		return
	}
	t.Fatal("no auth data word gives checksum 0")
}

func TestParseRejects(t *testing.T) {
	v2 := mustHex(t, hexV2)
	v3 := mustHex(t, hexV3)
	v3u := mustHex(t, hexV3Unicast)
	v6 := mustHex(t, hexV3IPv6)
	fix2 := func(b []byte, f func([]byte) []byte) []byte { return edit(b, 2, src4, group4, f) }
	fix3 := func(b []byte, f func([]byte) []byte) []byte { return edit(b, 3, src4, group4, f) }
	raw := func(b []byte, f func([]byte) []byte) []byte { return edit(b, 0, src4, group4, f) }
	for _, tc := range []struct {
		name     string
		b        []byte
		src, dst netip.Addr // both zero: src4 -> group4
		want     packet.Reason
	}{
		{name: "nil", b: nil, want: packet.ReasonShort},
		{name: "empty", b: []byte{}, want: packet.ReasonShort},
		{name: "one byte", b: []byte{0x21}, want: packet.ReasonShort},
		{name: "7 bytes", b: v2[:7], want: packet.ReasonShort},
		{name: "v2 header only", b: fix2(v2[:8], func(b []byte) []byte { b[3] = 0; return b }), want: packet.ReasonShort},
		{name: "v2 without auth data", b: fix2(v2[:12], func(b []byte) []byte { return b }), want: packet.ReasonShort},
		{name: "v2 count 2, one address", b: fix2(v2, func(b []byte) []byte { b[3] = 2; return b }), want: packet.ReasonLength},
		{name: "v2 count 0, one address", b: fix2(v2, func(b []byte) []byte { b[3] = 0; return b }), want: packet.ReasonLength},
		{name: "v2 count 255", b: fix2(v2, func(b []byte) []byte { b[3] = 255; return b }), want: packet.ReasonLength},
		{name: "v2 trailing byte", b: fix2(v2, func(b []byte) []byte { return append(b, 0) }), want: packet.ReasonLength},
		{name: "v2 trailing address", b: fix2(v2, func(b []byte) []byte { return append(b, 192, 0, 2, 1) }), want: packet.ReasonLength},
		{name: "v3 count 3, two addresses", b: fix3(v3, func(b []byte) []byte { b[3] = 3; return b }), want: packet.ReasonLength},
		{name: "v3 half an address", b: fix3(v3, func(b []byte) []byte { return b[:len(b)-2] }), want: packet.ReasonLength},
		{name: "v3 ipv6 payload over ipv4", b: v6, want: packet.ReasonLength},
		{name: "v3 ipv4 payload over ipv6", b: v3, src: src6, dst: group6, want: packet.ReasonLength},
		{name: "v2 bad checksum", b: raw(v2, func(b []byte) []byte { b[11] ^= 1; return b }), want: packet.ReasonChecksum},
		{name: "v2 checksum zeroed", b: raw(v2, func(b []byte) []byte { b[6], b[7] = 0, 0; return b }), want: packet.ReasonChecksum},
		{name: "v2 auth data changed", b: raw(v2, func(b []byte) []byte { b[len(b)-1] = 1; return b }), want: packet.ReasonChecksum},
		{name: "v3 checksum without pseudo-header", b: fix2(v3, func(b []byte) []byte { return b }), want: packet.ReasonChecksum},
		{name: "v3 unicast checked against group", b: v3u, src: src4, dst: group4, want: packet.ReasonChecksum},
		{name: "v3 wrong source", b: v3, src: peer4, dst: group4, want: packet.ReasonChecksum},
		{name: "v3 ipv6 wrong source", b: v6, src: peer6, dst: group6, want: packet.ReasonChecksum},
		{name: "v3 ipv6 wrong destination", b: v6, src: src6, dst: netip.MustParseAddr("ff02::1"), want: packet.ReasonChecksum},
		{name: "version 0", b: fix2(v2, func(b []byte) []byte { b[0] = 0x01; return b }), want: packet.ReasonVersion},
		{name: "version 1", b: fix2(v2, func(b []byte) []byte { b[0] = 0x11; return b }), want: packet.ReasonVersion},
		{name: "version 4", b: fix3(v3, func(b []byte) []byte { b[0] = 0x41; return b }), want: packet.ReasonVersion},
		{name: "version 15", b: fix3(v3, func(b []byte) []byte { b[0] = 0xf1; return b }), want: packet.ReasonVersion},
		{name: "version 1 short", b: []byte{0x11, 1, 1, 1, 0, 1, 0, 0}, want: packet.ReasonVersion},
		{name: "v2 type 0", b: fix2(v2, func(b []byte) []byte { b[0] = 0x20; return b }), want: packet.ReasonType},
		{name: "v2 type 2", b: fix2(v2, func(b []byte) []byte { b[0] = 0x22; return b }), want: packet.ReasonType},
		{name: "v3 type 15", b: fix3(v3, func(b []byte) []byte { b[0] = 0x3f; return b }), want: packet.ReasonType},
		{name: "v2 over ipv6", b: v2, src: src6, dst: group6, want: packet.ReasonFamily},
		{name: "src ipv4 dst ipv6", b: v3, src: src4, dst: group6, want: packet.ReasonFamily},
		{name: "src ipv6 dst ipv4", b: v3, src: src6, dst: group4, want: packet.ReasonFamily},
		{name: "invalid src", b: v3, src: netip.Addr{}, dst: group4, want: packet.ReasonFamily},
		{name: "invalid dst", b: v3, src: src4, dst: netip.Addr{}, want: packet.ReasonFamily},
		{name: "v2 interval 0", b: fix2(v2, func(b []byte) []byte { b[5] = 0; return b }), want: packet.ReasonInterval},
		{name: "v3 interval 0", b: fix3(v3, func(b []byte) []byte { b[4], b[5] = 0, 0; return b }), want: packet.ReasonInterval},
		{name: "v3 interval 0, reserved set", b: fix3(v3, func(b []byte) []byte { b[4], b[5] = 0xf0, 0; return b }), want: packet.ReasonInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := tc.src, tc.dst
			if !src.IsValid() && !dst.IsValid() {
				src, dst = src4, group4
			}
			a, err := packet.Parse(tc.b, src, dst)
			checkReject(t, a, err, tc.want)
		})
	}
}

// checkReject asserts that err is a rejection for want, in every way a caller
// may look at it.
func checkReject(t *testing.T, a *packet.Advert, err error, want packet.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted %v, want rejection %s", a, want)
	}
	if a != nil {
		t.Errorf("returned advert %v together with error %v", a, err)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %q is not %s", err, want)
	}
	var re *packet.RejectError
	if !errors.As(err, &re) || re.Reason != want {
		t.Errorf("error %q: want *RejectError with reason %s", err, want)
	}
	if r, ok := packet.ReasonOf(fmt.Errorf("wrapped: %w", err)); !ok || r != want {
		t.Errorf("ReasonOf(wrapped) = %s, %v; want %s", r, ok, want)
	}
	if !strings.Contains(err.Error(), want.String()) {
		t.Errorf("error text %q does not name %s", err, want)
	}
	var c packet.Counters
	if !c.Record(err) || c.Snapshot()[want] != 1 {
		t.Errorf("Counters did not count %q as %s: %v", err, want, c.Snapshot())
	}
}

func TestMarshalRejects(t *testing.T) {
	ok := packet.Advert{Version: packet.Version3, VRID: 1, Priority: 100, AdvertInterval: time.Second,
		Addresses: addrs("192.0.2.10")}
	with := func(f func(*packet.Advert)) *packet.Advert {
		a := ok
		a.Addresses = slices.Clone(ok.Addresses)
		f(&a)
		return &a
	}
	v2 := func(a *packet.Advert) { a.Version = packet.Version2 }
	tooMany := make([]netip.Addr, 256)
	for i := range tooMany {
		tooMany[i] = src4
	}
	for _, tc := range []struct {
		name     string
		a        *packet.Advert
		src, dst netip.Addr
	}{
		{"nil advert", nil, src4, group4},
		{"version 0", with(func(a *packet.Advert) { a.Version = 0 }), src4, group4},
		{"version 4", with(func(a *packet.Advert) { a.Version = 4 }), src4, group4},
		{"invalid src", with(func(*packet.Advert) {}), netip.Addr{}, group4},
		{"invalid dst", with(func(*packet.Advert) {}), src4, netip.Addr{}},
		{"mixed src dst", with(func(*packet.Advert) {}), src4, group6},
		{"v2 over ipv6", with(func(a *packet.Advert) { v2(a); a.Addresses = addrs("2001:db8::1") }), src6, group6},
		{"ipv6 address in ipv4 advert", with(func(a *packet.Advert) { a.Addresses = addrs("2001:db8::1") }), src4, group4},
		{"ipv4 address in ipv6 advert", with(func(*packet.Advert) {}), src6, group6},
		{"ipv4-mapped address in ipv4 advert", with(func(a *packet.Advert) { a.Addresses = addrs("::ffff:192.0.2.1") }), src4, group4},
		{"invalid address", with(func(a *packet.Advert) { a.Addresses = []netip.Addr{{}} }), src4, group4},
		{"256 addresses", with(func(a *packet.Advert) { a.Addresses = tooMany }), src4, group4},
		{"v3 interval 0", with(func(a *packet.Advert) { a.AdvertInterval = 0 }), src4, group4},
		{"v3 interval negative", with(func(a *packet.Advert) { a.AdvertInterval = -time.Second }), src4, group4},
		{"v3 interval 15ms", with(func(a *packet.Advert) { a.AdvertInterval = 15 * time.Millisecond }), src4, group4},
		{"v3 interval 40.96s", with(func(a *packet.Advert) { a.AdvertInterval = 40960 * time.Millisecond }), src4, group4},
		{"v3 auth type", with(func(a *packet.Advert) { a.AuthType = packet.AuthSimple }), src4, group4},
		{"v3 auth data", with(func(a *packet.Advert) { a.AuthData[0] = 1 }), src4, group4},
		{"v2 interval 0", with(func(a *packet.Advert) { v2(a); a.AdvertInterval = 0 }), src4, group4},
		{"v2 interval 1.5s", with(func(a *packet.Advert) { v2(a); a.AdvertInterval = 1500 * time.Millisecond }), src4, group4},
		{"v2 interval 256s", with(func(a *packet.Advert) { v2(a); a.AdvertInterval = 256 * time.Second }), src4, group4},
		{"v2 auth simple", with(func(a *packet.Advert) { v2(a); a.AuthType = packet.AuthSimple }), src4, group4},
		{"v2 auth AH", with(func(a *packet.Advert) { v2(a); a.AuthType = packet.AuthAH }), src4, group4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.a.Marshal(tc.src, tc.dst)
			if err == nil {
				t.Fatalf("Marshal = %x, want error", b)
			}
			if !errors.Is(err, packet.ErrInvalidAdvert) {
				t.Errorf("error %q does not wrap ErrInvalidAdvert", err)
			}
			if _, ok := packet.ReasonOf(err); ok {
				t.Errorf("Marshal error %q carries a rejection reason", err)
			}
		})
	}
}

func TestMarshalDropsZone(t *testing.T) {
	a := packet.Advert{Version: packet.Version3, VRID: 54, Priority: 120, AdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("fe80::54%eth0"), netip.MustParseAddr("2001:db8::100")}}
	b, err := a.Marshal(src6.WithZone("eth0"), group6)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, hexV3IPv6); !bytes.Equal(b, want) {
		t.Errorf("Marshal = %x, want %x", b, want)
	}
}

func TestValidate(t *testing.T) {
	v2 := mustHex(t, hexV2)
	v2pass := mustHex(t, hexV2Pass)
	v3 := mustHex(t, hexV3)
	v3u := mustHex(t, hexV3Unicast)
	v6 := mustHex(t, hexV3IPv6)
	val2 := packet.Validator{Version: packet.Version2, VRID: 51}
	val3 := packet.Validator{Version: packet.Version3, VRID: 53}
	val6 := packet.Validator{Version: packet.Version3, VRID: 54, Family: packet.IPv6}
	with := func(v packet.Validator, f func(*packet.Validator)) packet.Validator { f(&v); return v }
	owner := edit(v2, 2, src4, group4, func(b []byte) []byte { b[2] = 255; return b })
	owner3 := edit(v3, 3, src4, group4, func(b []byte) []byte { b[2] = 255; return b })

	for _, tc := range []struct {
		name     string
		v        packet.Validator
		b        []byte
		src, dst netip.Addr
		ttl      int
		want     packet.Reason // ReasonUnknown: accepted
	}{
		{"v2 ok", val2, v2, src4, group4, 255, 0},
		{"v3 ok", val3, v3, src4, group4, 255, 0},
		{"v3 unicast ok", with(val3, func(v *packet.Validator) { v.VRID = 56 }), v3u, src4, peer4, 255, 0},
		{"v3 ipv6 ok", val6, v6, src6, group6, 255, 0},
		{"ttl 254", val2, v2, src4, group4, 254, packet.ReasonTTL},
		{"ttl 1", val3, v3, src4, group4, 1, packet.ReasonTTL},
		{"ttl 0", val3, v3, src4, group4, 0, packet.ReasonTTL},
		{"ttl 64", val3, v3, src4, group4, 64, packet.ReasonTTL},
		{"ttl unknown", val3, v3, src4, group4, -1, packet.ReasonTTL},
		{"ttl 256", val3, v3, src4, group4, 256, packet.ReasonTTL},
		{"hop limit 254", val6, v6, src6, group6, 254, packet.ReasonTTL},
		{"ttl checked before parse", val2, nil, src4, group4, 1, packet.ReasonTTL},
		{"short", val2, v2[:4], src4, group4, 255, packet.ReasonShort},
		{"bad checksum", val2, edit(v2, 0, src4, group4, func(b []byte) []byte { b[2]++; return b }), src4, group4, 255, packet.ReasonChecksum},
		{"v3 advert, v2 expected", with(val2, func(v *packet.Validator) { v.VRID = 53 }), v3, src4, group4, 255, packet.ReasonVersion},
		{"v2 advert, v3 expected", with(val3, func(v *packet.Validator) { v.VRID = 51 }), v2, src4, group4, 255, packet.ReasonVersion},
		{"wrong vrid v2", with(val2, func(v *packet.Validator) { v.VRID = 52 }), v2, src4, group4, 255, packet.ReasonVRID},
		{"wrong vrid v3", with(val3, func(v *packet.Validator) { v.VRID = 0 }), v3, src4, group4, 255, packet.ReasonVRID},
		{"wrong vrid v6", with(val6, func(v *packet.Validator) { v.VRID = 53 }), v6, src6, group6, 255, packet.ReasonVRID},
		{"ipv6 advert, ipv4 expected", with(val3, func(v *packet.Validator) { v.VRID = 54 }), v6, src6, group6, 255, packet.ReasonFamily},
		{"ipv4 advert, ipv6 expected", with(val6, func(v *packet.Validator) { v.VRID = 53 }), v3, src4, group4, 255, packet.ReasonFamily},
		{"mapped ipv4 advert, ipv4 expected", val3, v3, netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("::ffff:224.0.0.18"), 255, 0},
		{"password advert, no auth expected", with(val2, func(v *packet.Validator) { v.VRID = 55 }), v2pass, src4, group4, 255, packet.ReasonAuthType},
		{"password advert, password expected", with(val2, func(v *packet.Validator) { v.VRID = 55; v.AuthType = packet.AuthSimple }), v2pass, src4, group4, 255, 0},
		{"no-auth advert, password expected", with(val2, func(v *packet.Validator) { v.AuthType = packet.AuthSimple }), v2, src4, group4, 255, packet.ReasonAuthType},
		{"v2 interval matches", with(val2, func(v *packet.Validator) { v.Interval = time.Second }), v2, src4, group4, 255, 0},
		{"v2 interval differs", with(val2, func(v *packet.Validator) { v.Interval = 2 * time.Second }), v2, src4, group4, 255, packet.ReasonIntervalMismatch},
		{"v3 interval differs: learnt, not checked", with(val3, func(v *packet.Validator) { v.Interval = time.Second }), v3, src4, group4, 255, 0},
		{"addresses match", with(val3, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.110", "192.0.2.111") }), v3, src4, group4, 255, 0},
		{"addresses match, other order", with(val3, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.111", "192.0.2.110") }), v3, src4, group4, 255, 0},
		{"addresses match, zone", with(val6, func(v *packet.Validator) { v.Addresses = addrs("2001:db8::100", "fe80::54%eth0") }), v6, src6, group6, 255, 0},
		{"one address missing", with(val3, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.110") }), v3, src4, group4, 255, packet.ReasonAddresses},
		{"one address extra", with(val3, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.110", "192.0.2.111", "192.0.2.112") }), v3, src4, group4, 255, packet.ReasonAddresses},
		{"other address", with(val2, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.99") }), v2, src4, group4, 255, packet.ReasonAddresses},
		{"no addresses expected", with(val2, func(v *packet.Validator) { v.Addresses = []netip.Addr{} }), v2, src4, group4, 255, packet.ReasonAddresses},
		{"v2 owner may differ", with(val2, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.99") }), owner, src4, group4, 255, 0},
		{"v3 owner may not differ", with(val3, func(v *packet.Validator) { v.Addresses = addrs("192.0.2.99") }), owner3, src4, group4, 255, packet.ReasonAddresses},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.v.Validate(tc.b, tc.src, tc.dst, tc.ttl)
			if tc.want == packet.ReasonUnknown {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if a == nil {
					t.Fatal("Validate returned nil advert and nil error")
				}
				return
			}
			checkReject(t, a, err, tc.want)
		})
	}
}

func TestValidateChecksumCompat(t *testing.T) {
	a := packet.Advert{Version: packet.Version3, VRID: 56, Priority: 110, AdvertInterval: time.Second,
		Addresses: addrs("192.0.2.120")}
	// keepalived <= 1.3.6 unicast: pseudo-header with 224.0.0.18, sent to the peer.
	old, err := a.Marshal(src4, group4)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 9568 / v3_checksum_as_v2: no pseudo-header.
	asV2 := withChecksum(2, src4, peer4, old)
	// The same with IPv6 gets no exemption: the pseudo-header is mandatory there.
	a6 := packet.Advert{Version: packet.Version3, VRID: 54, Priority: 120, AdvertInterval: time.Second,
		Addresses: addrs("fe80::54")}
	b6, err := a6.Marshal(src6, group6)
	if err != nil {
		t.Fatal(err)
	}
	asV2v6 := withChecksum(2, src6, group6, b6)

	base := packet.Validator{Version: packet.Version3, VRID: 56}
	compat := base
	compat.AcceptOldUnicastChecksum = true
	compat.AcceptV3ChecksumAsV2 = true
	onlyOld := base
	onlyOld.AcceptOldUnicastChecksum = true
	onlyV2 := base
	onlyV2.AcceptV3ChecksumAsV2 = true
	v6 := packet.Validator{Version: packet.Version3, VRID: 54, Family: packet.IPv6, AcceptOldUnicastChecksum: true, AcceptV3ChecksumAsV2: true}

	for _, tc := range []struct {
		name string
		v    packet.Validator
		b    []byte
		dst  netip.Addr
		ok   bool
	}{
		{"old unicast, strict", base, old, peer4, false},
		{"old unicast, compat", compat, old, peer4, true},
		{"old unicast, only old", onlyOld, old, peer4, true},
		{"old unicast, only as-v2", onlyV2, old, peer4, false},
		{"as v2, strict", base, asV2, peer4, false},
		{"as v2, compat", compat, asV2, peer4, true},
		{"as v2, only as-v2", onlyV2, asV2, peer4, true},
		{"as v2, only old", onlyOld, asV2, peer4, false},
		{"ipv6 as v2, compat", v6, asV2v6, group6, false},
		{"compat still rejects garbage", compat, edit(old, 0, src4, peer4, func(b []byte) []byte { b[2]++; return b }), peer4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := src4
			if tc.dst.Is6() {
				src = src6
			}
			got, err := tc.v.Validate(tc.b, src, tc.dst, packet.HopLimit)
			if !tc.ok {
				checkReject(t, got, err, packet.ReasonChecksum)
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !reflect.DeepEqual(*got, a) {
				t.Errorf("got %+v, want %+v", *got, a)
			}
		})
	}
}

func TestValidatorMisconfigured(t *testing.T) {
	b := mustHex(t, hexV2)
	for _, v := range []packet.Validator{
		{},
		{Version: 1, VRID: 51},
		{Version: packet.Version2, VRID: 51, Family: packet.IPv6},
		{Version: packet.Version3, VRID: 51, Family: 5},
	} {
		_, err := v.Validate(b, src4, group4, packet.HopLimit)
		if !errors.Is(err, packet.ErrInvalidValidator) {
			t.Errorf("%+v: error %v, want ErrInvalidValidator", v, err)
		}
		if _, ok := packet.ReasonOf(err); ok {
			t.Errorf("%+v: configuration error %q carries a rejection reason", v, err)
		}
		var c packet.Counters
		if c.Record(err) {
			t.Errorf("%+v: configuration error counted as a rejection", v)
		}
	}
}

func TestSameAddresses(t *testing.T) {
	for _, tc := range []struct {
		x, y []netip.Addr
		want bool
	}{
		{nil, nil, true},
		{nil, []netip.Addr{}, true},
		{addrs("192.0.2.1"), addrs("192.0.2.1"), true},
		{addrs("192.0.2.1", "192.0.2.2"), addrs("192.0.2.2", "192.0.2.1"), true},
		{addrs("192.0.2.1", "192.0.2.1"), addrs("192.0.2.1"), true},
		{addrs("::ffff:192.0.2.1"), addrs("192.0.2.1"), true},
		{addrs("fe80::1%eth0"), addrs("fe80::1"), true},
		{addrs("192.0.2.1"), addrs("192.0.2.2"), false},
		{addrs("192.0.2.1"), nil, false},
		{addrs("192.0.2.1", "192.0.2.2"), addrs("192.0.2.1"), false},
	} {
		if got := packet.SameAddresses(tc.x, tc.y); got != tc.want {
			t.Errorf("SameAddresses(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestCounters(t *testing.T) {
	var c packet.Counters
	if s := c.Snapshot(); len(s) != 0 || s.String() != "none" || s.Total() != 0 {
		t.Fatalf("zero Counters snapshot = %v (%q)", s, s.String())
	}
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				switch {
				case w%2 == 0:
					c.Inc(packet.ReasonChecksum)
				case i%2 == 0:
					c.Record(fmt.Errorf("recv: %w", &packet.RejectError{Reason: packet.ReasonVRID}))
				default:
					c.Record(packet.ReasonTTL)
				}
				_ = c.Snapshot()
			}
		})
	}
	wg.Wait()
	if c.Record(nil) || c.Record(errors.New("socket closed")) {
		t.Error("Record counted an error that is not a rejection")
	}
	c.Inc(packet.Reason(200))
	s := c.Snapshot()
	want := packet.Snapshot{
		packet.ReasonChecksum: workers / 2 * each,
		packet.ReasonVRID:     workers / 2 * each / 2,
		packet.ReasonTTL:      workers / 2 * each / 2,
		packet.ReasonUnknown:  1,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Snapshot = %v, want %v", s, want)
	}
	if got := s.Total(); got != workers*each+1 {
		t.Errorf("Total = %d, want %d", got, workers*each+1)
	}
	if got, want := s.String(), "unknown=1 bad-checksum=2000 bad-ttl=1000 wrong-vrid=1000"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// A snapshot is a copy.
	s[packet.ReasonShort] = 7
	if c.Snapshot()[packet.ReasonShort] != 0 {
		t.Error("Snapshot shares memory with Counters")
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]packet.Reason{}
	for _, r := range packet.Reasons() {
		name := r.String()
		if name == "" || strings.HasPrefix(name, "reason(") || name == "unknown" {
			t.Errorf("reason %d has no proper name: %q", r, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("reasons %d and %d share the name %q", prev, r, name)
		}
		seen[name] = r
	}
	if len(seen) != 12 {
		t.Errorf("Reasons() lists %d reasons, want 12", len(seen))
	}
	if got := packet.Reason(200).String(); got != "reason(200)" {
		t.Errorf("Reason(200).String() = %q", got)
	}
	e := &packet.RejectError{Reason: packet.ReasonChecksum, Detail: "checksum 0x1, want 0x2"}
	if got, want := e.Error(), "VRRP advert rejected: bad-checksum: checksum 0x1, want 0x2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&packet.RejectError{Reason: packet.ReasonShort}).Error(), "VRRP advert rejected: short"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{packet.Version2.String(), "VRRPv2"},
		{packet.Version3.String(), "VRRPv3"},
		{packet.IPv4.String(), "IPv4"},
		{packet.IPv6.String(), "IPv6"},
		{packet.Family(9).String(), "family(9)"},
		{packet.AuthNone.String(), "none"},
		{packet.AuthSimple.String(), "simple"},
		{packet.AuthAH.String(), "ah"},
		{packet.AuthType(7).String(), "auth(7)"},
		{packet.MulticastGroup(packet.IPv4).String(), "224.0.0.18"},
		{packet.MulticastGroup(packet.IPv6).String(), "ff02::12"},
		{fmt.Sprint(packet.MulticastGroup(0).IsValid()), "false"},
		{(*packet.Advert)(nil).String(), "<nil advert>"},
		{(&packet.Advert{Version: packet.Version3, VRID: 53, Priority: 200, AdvertInterval: 500 * time.Millisecond,
			Addresses: addrs("192.0.2.110", "192.0.2.111")}).String(),
			"VRRPv3 vrid=53 prio=200 interval=500ms addrs=[192.0.2.110 192.0.2.111]"},
		{(&packet.Advert{Version: packet.Version2, VRID: 55, Priority: 90, AdvertInterval: time.Second,
			Addresses: addrs("192.0.2.105"), AuthType: packet.AuthSimple}).String(),
			"VRRPv2 vrid=55 prio=90 interval=1s addrs=[192.0.2.105] auth=simple"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

package packet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/packet"
)

// FuzzParse feeds arbitrary bytes and IP addresses to Parse. Nothing may
// panic; every error must be a rejection with a known reason; anything that
// parses (and carries no authentication) must marshal back to the same bytes,
// apart from the VRRPv3 reserved bits and the checksum's choice of zero, and
// parse again to the same value. Seeds: testdata/fuzz/FuzzParse (keepalived
// captures) and the f.Add calls below.
func FuzzParse(f *testing.F) {
	for _, s := range []struct {
		hex      string
		src, dst netip.Addr
	}{
		{hexV2, src4, group4},
		{hexV2Pass, src4, group4},
		{hexV3, src4, group4},
		{hexV3Unicast, src4, peer4},
		{hexV3IPv6, src6, group6},
	} {
		f.Add(mustHex(f, s.hex), s.src.AsSlice(), s.dst.AsSlice())
	}
	f.Add([]byte{}, src4.AsSlice(), group4.AsSlice())
	f.Add([]byte{0x31, 1, 1, 0, 0, 1, 0, 0}, src6.AsSlice(), group6.AsSlice())

	f.Fuzz(func(t *testing.T, b, srcB, dstB []byte) {
		src, _ := netip.AddrFromSlice(srcB) // invalid stays the zero Addr
		dst, _ := netip.AddrFromSlice(dstB)
		in := bytes.Clone(b)
		checkParse(t, b, src, dst)
		if !bytes.Equal(in, b) {
			t.Fatal("Parse modified its input")
		}
		// Random bytes almost never carry a valid checksum; try again with
		// one so that the fuzzer also explores what lies past the check.
		if len(b) >= 8 && len(b) <= 1<<13 {
			ver := int(b[0] >> 4)
			checkParse(t, withChecksum(ver, src.Unmap(), dst.Unmap(), b), src, dst)
		}
	})
}

func checkParse(t *testing.T, b []byte, src, dst netip.Addr) {
	t.Helper()
	a, err := packet.Parse(b, src, dst)
	if err != nil {
		if a != nil {
			t.Fatalf("Parse returned an advert with error %v", err)
		}
		var re *packet.RejectError
		if !errors.As(err, &re) || re.Reason == packet.ReasonUnknown || re.Reason.String() == "" {
			t.Fatalf("Parse error %v is not a rejection with a known reason", err)
		}
		return
	}
	if a.AuthType != packet.AuthNone {
		if _, err := a.Marshal(src, dst); !errors.Is(err, packet.ErrInvalidAdvert) {
			t.Fatalf("Marshal of an advert with auth %s: %v, want ErrInvalidAdvert", a.AuthType, err)
		}
		return
	}
	out, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatalf("Parse accepted %x as %v but Marshal fails: %v", b, a, err)
	}
	// The same bytes, once the reserved bits (v3) and the checksum are
	// normalised.
	norm := func(m []byte) []byte {
		m = bytes.Clone(m)
		if m[0]>>4 == 3 {
			m[4] &= 0x0f
		}
		m[6], m[7] = 0, 0
		return m
	}
	if !bytes.Equal(norm(out), norm(b)) {
		t.Fatalf("re-marshal differs:\n in  %x\n out %x", b, out)
	}
	a2, err := packet.Parse(out, src, dst)
	if err != nil {
		t.Fatalf("Parse(Marshal(%v)): %v", a, err)
	}
	if !reflect.DeepEqual(a, a2) {
		t.Fatalf("round trip changed the advert:\n %+v\n %+v", a, a2)
	}
}

// FuzzRoundTrip builds adverts from arbitrary field values. Marshal must
// fail (with ErrInvalidAdvert) exactly when the advert cannot be encoded;
// when it succeeds, Parse and a matching Validator must give the advert
// back. Seeds: testdata/fuzz/FuzzRoundTrip and the f.Add calls below.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(2), uint8(51), uint8(150), uint16(100), false, []byte{192, 0, 2, 100}, []byte{})
	f.Add(uint8(3), uint8(53), uint8(200), uint16(50), false, []byte{192, 0, 2, 110, 192, 0, 2, 111}, []byte{})
	f.Add(uint8(3), uint8(54), uint8(120), uint16(100), true,
		append(mustHex(f, "fe800000000000000000000000000054"), mustHex(f, "20010db8000000000000000000000100")...), []byte{})
	f.Add(uint8(2), uint8(1), uint8(255), uint16(25500), false, []byte{}, []byte("12345678"))
	f.Add(uint8(3), uint8(0), uint8(0), uint16(4095), true, []byte{}, []byte{})
	f.Add(uint8(3), uint8(9), uint8(9), uint16(4096), false, []byte{1, 2, 3, 4}, []byte{})
	f.Add(uint8(2), uint8(9), uint8(9), uint16(150), false, []byte{1, 2, 3, 4}, []byte{})
	f.Add(uint8(2), uint8(9), uint8(9), uint16(100), true, []byte{}, []byte{})

	f.Fuzz(func(t *testing.T, ver, vrid, prio uint8, centisecs uint16, v6 bool, addrBytes, auth []byte) {
		fam, src, dst := packet.IPv4, src4, group4
		alen := 4
		if v6 {
			fam, src, dst, alen = packet.IPv6, src6, group6, 16
		}
		var list []netip.Addr
		for i := 0; i+alen <= len(addrBytes) && len(list) < 300; i += alen {
			ad, _ := netip.AddrFromSlice(addrBytes[i : i+alen])
			list = append(list, ad)
		}
		if list == nil {
			list = []netip.Addr{}
		}
		a := packet.Advert{
			Version:        packet.Version(ver),
			VRID:           vrid,
			Priority:       prio,
			AdvertInterval: time.Duration(centisecs) * 10 * time.Millisecond,
			Addresses:      list,
		}
		copy(a.AuthData[:], auth)
		authSet := a.AuthData != [8]byte{}

		iv := a.AdvertInterval
		var valid bool
		switch a.Version {
		case packet.Version2:
			valid = !v6 && iv > 0 && iv%time.Second == 0 && iv <= 255*time.Second
		case packet.Version3:
			valid = iv > 0 && iv <= 40950*time.Millisecond && !authSet
		}
		valid = valid && len(list) <= 255

		b, err := a.Marshal(src, dst)
		if !valid {
			if err == nil {
				t.Fatalf("Marshal(%+v) = %x, want an error", a, b)
			}
			if !errors.Is(err, packet.ErrInvalidAdvert) {
				t.Fatalf("Marshal error %v does not wrap ErrInvalidAdvert", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", a, err)
		}
		if want := refChecksum(int(a.Version), src, dst, b); binary.BigEndian.Uint16(b[6:]) != want {
			t.Fatalf("checksum %#04x, reference %#04x", binary.BigEndian.Uint16(b[6:]), want)
		}
		got, err := packet.Parse(b, src, dst)
		if err != nil {
			t.Fatalf("Parse(Marshal(%+v)): %v", a, err)
		}
		if !reflect.DeepEqual(*got, a) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, a)
		}
		v := packet.Validator{Version: a.Version, VRID: vrid, Family: fam, Addresses: list}
		if _, err := v.Validate(b, src, dst, packet.HopLimit); err != nil {
			t.Fatalf("Validate(Marshal(%+v)): %v", a, err)
		}
	})
}

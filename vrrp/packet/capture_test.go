package packet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/packet"
)

// ipPacket is one IP datagram read from a capture: the fields of the IP
// header the codec needs, and the payload.
type ipPacket struct {
	ttl      int // IPv4 TTL or IPv6 hop limit
	proto    int // IPv4 protocol or IPv6 next header
	src, dst netip.Addr
	payload  []byte
}

// Link-layer header types (https://www.tcpdump.org/linktypes.html).
const (
	linkEthernet  = 1
	linkRaw       = 101
	linkLinuxSLL  = 113
	linkLinuxSLL2 = 276
)

// readPcap reads a classic libpcap file (not pcapng) with Ethernet, raw IP or
// Linux cooked (v1, v2) framing and returns its IPv4 and IPv6 datagrams.
func readPcap(data []byte) ([]ipPacket, error) {
	if len(data) < 24 {
		return nil, errors.New("pcap: no global header")
	}
	var bo binary.ByteOrder
	switch m := binary.LittleEndian.Uint32(data); m {
	case 0xa1b2c3d4, 0xa1b23c4d: // microsecond, nanosecond timestamps
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap: bad magic %#08x (pcapng is not supported)", m)
	}
	link := bo.Uint32(data[20:]) & 0x0fffffff // upper bits: FCS info
	var pkts []ipPacket
	rest := data[24:]
	for len(rest) > 0 {
		if len(rest) < 16 {
			return nil, errors.New("pcap: truncated record header")
		}
		incl := int(bo.Uint32(rest[8:]))
		orig := int(bo.Uint32(rest[12:]))
		if incl > len(rest)-16 {
			return nil, errors.New("pcap: truncated record")
		}
		if incl != orig {
			return nil, fmt.Errorf("pcap: record cut to %d of %d bytes (snaplen)", incl, orig)
		}
		frame := rest[16 : 16+incl]
		rest = rest[16+incl:]
		ip, etype, err := stripLink(link, frame)
		if err != nil {
			return nil, err
		}
		p, ok, err := parseIP(ip, etype)
		if err != nil {
			return nil, err
		}
		if ok {
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// stripLink removes the link-layer header and returns the network-layer
// bytes and their EtherType (0 when only the IP version nibble tells).
func stripLink(link uint32, f []byte) ([]byte, uint16, error) {
	switch link {
	case linkEthernet:
		if len(f) < 14 {
			return nil, 0, errors.New("pcap: short Ethernet frame")
		}
		et, off := binary.BigEndian.Uint16(f[12:]), 14
		for (et == 0x8100 || et == 0x88a8) && len(f) >= off+4 { // VLAN tags
			et, off = binary.BigEndian.Uint16(f[off+2:]), off+4
		}
		return f[off:], et, nil
	case linkLinuxSLL:
		if len(f) < 16 {
			return nil, 0, errors.New("pcap: short Linux cooked header")
		}
		return f[16:], binary.BigEndian.Uint16(f[14:]), nil
	case linkLinuxSLL2:
		if len(f) < 20 {
			return nil, 0, errors.New("pcap: short Linux cooked v2 header")
		}
		return f[20:], binary.BigEndian.Uint16(f[0:]), nil
	case linkRaw:
		return f, 0, nil
	}
	return nil, 0, fmt.Errorf("pcap: link type %d not supported", link)
}

// parseIP decodes an IPv4 or IPv6 header (no IPv6 extension headers). ok is
// false for other network protocols.
func parseIP(b []byte, etype uint16) (ipPacket, bool, error) {
	if len(b) == 0 {
		return ipPacket{}, false, nil
	}
	switch {
	case etype == 0x0800 || (etype == 0 && b[0]>>4 == 4):
		if len(b) < 20 || b[0]>>4 != 4 {
			return ipPacket{}, false, errors.New("ipv4: bad header")
		}
		ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || total > len(b) {
			return ipPacket{}, false, fmt.Errorf("ipv4: header length %d, total length %d, have %d", ihl, total, len(b))
		}
		return ipPacket{
			ttl: int(b[8]), proto: int(b[9]),
			src:     netip.AddrFrom4([4]byte(b[12:16])),
			dst:     netip.AddrFrom4([4]byte(b[16:20])),
			payload: b[ihl:total], // drops Ethernet padding
		}, true, nil
	case etype == 0x86dd || (etype == 0 && b[0]>>4 == 6):
		if len(b) < 40 || b[0]>>4 != 6 {
			return ipPacket{}, false, errors.New("ipv6: bad header")
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if 40+plen > len(b) {
			return ipPacket{}, false, fmt.Errorf("ipv6: payload length %d, have %d", plen, len(b)-40)
		}
		return ipPacket{
			ttl: int(b[7]), proto: int(b[6]),
			src:     netip.AddrFrom16([16]byte(b[8:24])),
			dst:     netip.AddrFrom16([16]byte(b[24:40])),
			payload: b[40 : 40+plen],
		}, true, nil
	}
	return ipPacket{}, false, nil
}

func readCapture(t *testing.T, name string) []ipPacket {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read capture (make it with testdata/capture.sh): %v", err)
	}
	pkts, err := readPcap(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(pkts) == 0 {
		t.Fatalf("%s: no IP packets", name)
	}
	return pkts
}

// captures describes the files testdata/capture.sh writes and the
// keepalived configuration that produced each.
var captures = []struct {
	file string
	dst  netip.Addr
	want packet.Advert
}{
	{
		file: "v2-ipv4.pcap", dst: group4,
		want: packet.Advert{Version: packet.Version2, VRID: 51, Priority: 150, AdvertInterval: time.Second,
			Addresses: addrs("192.0.2.100")},
	},
	{
		file: "v2-ipv4-multi.pcap", dst: group4,
		want: packet.Advert{Version: packet.Version2, VRID: 52, Priority: 100, AdvertInterval: 2 * time.Second,
			Addresses: addrs("192.0.2.101", "192.0.2.102", "192.0.2.103")},
	},
	{
		file: "v2-ipv4-pass.pcap", dst: group4,
		want: packet.Advert{Version: packet.Version2, VRID: 55, Priority: 90, AdvertInterval: time.Second,
			Addresses: addrs("192.0.2.105"), AuthType: packet.AuthSimple, AuthData: [8]byte([]byte("secret12"))},
	},
	{
		file: "v3-ipv4.pcap", dst: group4,
		want: packet.Advert{Version: packet.Version3, VRID: 53, Priority: 200, AdvertInterval: 500 * time.Millisecond,
			Addresses: addrs("192.0.2.110", "192.0.2.111")},
	},
	{
		file: "v3-ipv4-unicast.pcap", dst: peer4,
		want: packet.Advert{Version: packet.Version3, VRID: 56, Priority: 110, AdvertInterval: time.Second,
			Addresses: addrs("192.0.2.120")},
	},
	{
		file: "v3-ipv6.pcap", dst: group6,
		want: packet.Advert{Version: packet.Version3, VRID: 54, Priority: 120, AdvertInterval: time.Second,
			Addresses: addrs("fe80::54", "2001:db8::100")},
	},
}

func TestKeepalivedCaptures(t *testing.T) {
	for _, tc := range captures {
		t.Run(tc.file, func(t *testing.T) {
			pkts := readCapture(t, tc.file)
			if len(pkts) != 3 {
				t.Errorf("%d adverts in capture, capture.sh keeps 3", len(pkts))
			}
			fam, wantSrc := packet.IPv4, src4
			if tc.dst.Is6() {
				fam, wantSrc = packet.IPv6, src6
			}
			for i, p := range pkts {
				if p.proto != packet.Protocol || p.ttl != packet.HopLimit || p.src != wantSrc || p.dst != tc.dst {
					t.Fatalf("advert %d: proto %d ttl %d %v -> %v; want proto 112 ttl 255 %v -> %v",
						i, p.proto, p.ttl, p.src, p.dst, wantSrc, tc.dst)
				}
				a, err := packet.Parse(p.payload, p.src, p.dst)
				if err != nil {
					t.Fatalf("advert %d: Parse: %v", i, err)
				}
				if !reflect.DeepEqual(*a, tc.want) {
					t.Errorf("advert %d:\n got %+v\nwant %+v", i, *a, tc.want)
				}

				v := packet.Validator{
					Version: tc.want.Version, VRID: tc.want.VRID, Family: fam, AuthType: tc.want.AuthType,
					Interval: tc.want.AdvertInterval, Addresses: tc.want.Addresses,
				}
				if _, err := v.Validate(p.payload, p.src, p.dst, p.ttl); err != nil {
					t.Errorf("advert %d: Validate: %v", i, err)
				}

				out, err := a.Marshal(p.src, p.dst)
				if a.AuthType != packet.AuthNone {
					// Only auth type 0 is ever sent: re-encoding a password advert must fail.
					if !errors.Is(err, packet.ErrInvalidAdvert) {
						t.Errorf("advert %d: Marshal with auth %s: error %v, want ErrInvalidAdvert", i, a.AuthType, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("advert %d: Marshal: %v", i, err)
				}
				if !bytes.Equal(out, p.payload) {
					t.Errorf("advert %d: Marshal\n got %x\nwant %x (keepalived)", i, out, p.payload)
				}
			}
		})
	}
}

// TestKeepalivedUnicastPseudoHeader: keepalived 2.2.7 puts the real unicast
// destination in the VRRPv3 pseudo-header, so checking against 224.0.0.18
// (the pre-1.3.7 behaviour) fails, with or without the compat option.
func TestKeepalivedUnicastPseudoHeader(t *testing.T) {
	p := readCapture(t, "v3-ipv4-unicast.pcap")[0]
	if _, err := packet.Parse(p.payload, p.src, group4); !errors.Is(err, packet.ReasonChecksum) {
		t.Errorf("unicast advert checked with the group address: %v, want bad-checksum", err)
	}
	v := packet.Validator{Version: packet.Version3, VRID: 56, AcceptOldUnicastChecksum: true, AcceptV3ChecksumAsV2: true}
	if _, err := v.Validate(p.payload, p.src, p.dst, p.ttl); err != nil {
		t.Errorf("compat options reject a current keepalived advert: %v", err)
	}
}

func TestReadPcapFramings(t *testing.T) {
	pkts := readCapture(t, "v3-ipv4.pcap")
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(pkts[0].payload)))
	ip = append(ip, pkts[0].payload...)

	global := func(link uint32) []byte {
		h := make([]byte, 24)
		binary.BigEndian.PutUint32(h, 0xa1b2c3d4) // big-endian file
		binary.BigEndian.PutUint16(h[4:], 2)
		binary.BigEndian.PutUint16(h[6:], 4)
		binary.BigEndian.PutUint32(h[16:], 65535)
		binary.BigEndian.PutUint32(h[20:], link)
		return h
	}
	record := func(frame []byte) []byte {
		r := make([]byte, 16)
		binary.BigEndian.PutUint32(r[8:], uint32(len(frame)))
		binary.BigEndian.PutUint32(r[12:], uint32(len(frame)))
		return append(r, frame...)
	}
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, ip...)
	sll2 := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ip...)
	vlan := append([]byte{1, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 10, 0x08, 0x00}, ip...)
	vlan = append(vlan, 0, 0, 0, 0, 0, 0) // Ethernet padding
	for _, tc := range []struct {
		name  string
		link  uint32
		frame []byte
	}{
		{"raw", linkRaw, ip},
		{"linux cooked", linkLinuxSLL, sll},
		{"linux cooked v2", linkLinuxSLL2, sll2},
		{"ethernet vlan padded", linkEthernet, vlan},
	} {
		got, err := readPcap(append(global(tc.link), record(tc.frame)...))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != 1 || !bytes.Equal(got[0].payload, pkts[0].payload) || got[0].src != src4 || got[0].dst != group4 || got[0].ttl != 255 {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
}

package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Protocol is the IP protocol number (IPv4) and next header value (IPv6)
// assigned to VRRP.
const Protocol = 112

// HopLimit is the IPv4 TTL or IPv6 hop limit every VRRP advert is sent with
// and the only value a receiver accepts (RFC 3768 §5.2.3, RFC 5798 §5.1.1.3
// and §5.1.2.3).
const HopLimit = 255

// Field sizes and limits of the wire format.
const (
	headerLen       = 8 // version/type .. checksum
	authDataLen     = 8 // VRRPv2 Authentication Data
	checksumOff     = 6 // offset of the checksum field
	typeAdvert      = 1 // the only VRRP message type
	maxAddrs        = 255
	maxV3Centisecs  = 0x0fff
	v3IntervalMask  = 0x0fff
	v3IntervalUnit  = 10 * time.Millisecond
	v2IntervalUnit  = time.Second
	maxV2Seconds    = 255
	pseudoHeaderLen = 40 // the larger (IPv6) pseudo-header
)

// ErrInvalidAdvert is wrapped by every error Marshal returns: the Advert (or
// the src/dst pair given with it) cannot be put on the wire as it is.
var ErrInvalidAdvert = errors.New("invalid VRRP advert")

// Version is the VRRP protocol version, the high four bits of the first byte.
type Version uint8

// The two VRRP versions this package speaks.
const (
	// Version2 is VRRPv2, RFC 3768: IPv4 only, interval in seconds, no
	// pseudo-header in the checksum, 8 bytes of authentication data.
	Version2 Version = 2
	// Version3 is VRRPv3, RFC 5798: IPv4 and IPv6, interval in centiseconds,
	// checksum over an IP pseudo-header.
	Version3 Version = 3
)

// String returns "VRRPv2", "VRRPv3" or "VRRPv<n>".
func (v Version) String() string { return fmt.Sprintf("VRRPv%d", uint8(v)) }

// Family is the IP address family an advert travels in; VRRPv3 infers the
// family of the virtual addresses from it (RFC 5798 §5.2.9).
type Family uint8

// The two address families.
const (
	IPv4 Family = 4 // IPv4, protocol 112 to 224.0.0.18 or a unicast peer.
	IPv6 Family = 6 // IPv6, next header 112 to ff02::12 or a unicast peer.
)

// String returns "IPv4", "IPv6" or "family(<n>)".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// addrLen is the size of one address of family f on the wire.
func (f Family) addrLen() int {
	if f == IPv6 {
		return 16
	}
	return 4
}

// MulticastGroup returns the group VRRP adverts of family f are sent to:
// 224.0.0.18 for IPv4 (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2) and ff02::12 for
// IPv6 (RFC 5798 §5.1.2.2). It returns the zero Addr for any other family.
func MulticastGroup(f Family) netip.Addr {
	switch f {
	case IPv4:
		return netip.AddrFrom4([4]byte{224, 0, 0, 18})
	case IPv6:
		return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
	}
	return netip.Addr{}
}

// AuthType is the VRRPv2 Auth Type field (RFC 3768 §5.3.6; types 1 and 2 come
// from RFC 2338 and were removed by RFC 3768 but keepalived still sends them).
type AuthType uint8

// The VRRPv2 authentication types.
const (
	// AuthNone is "no authentication", the only type Marshal emits.
	AuthNone AuthType = 0
	// AuthSimple is the RFC 2338 plain-text password (keepalived auth_type PASS).
	AuthSimple AuthType = 1
	// AuthAH is the RFC 2338 IPsec Authentication Header type (keepalived
	// auth_type AH); such adverts normally arrive inside an AH header.
	AuthAH AuthType = 2
)

// String returns "none", "simple", "ah" or "auth(<n>)".
func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "none"
	case AuthSimple:
		return "simple"
	case AuthAH:
		return "ah"
	}
	return fmt.Sprintf("auth(%d)", uint8(t))
}

// Advert is one decoded VRRP advertisement, version 2 or 3. Its address
// family is not stored: it is the family of the IP header (the src and dst
// given to Parse and Marshal).
type Advert struct {
	// Version is Version2 or Version3.
	Version Version
	// VRID is the Virtual Router Identifier, 1..255 in practice.
	VRID uint8
	// Priority of the sender: 255 for the address owner, 0 when the master
	// resigns, 100 by default.
	Priority uint8
	// AdvertInterval is the Adver Int (VRRPv2, whole seconds, 1..255 s) or
	// the Max Adver Int (VRRPv3, whole centiseconds, 10 ms..40.95 s).
	AdvertInterval time.Duration
	// Addresses are the virtual addresses, all of the advert's family.
	// Parse never returns zones; Marshal drops them.
	Addresses []netip.Addr
	// AuthType is the VRRPv2 Auth Type; always AuthNone for VRRPv3.
	AuthType AuthType
	// AuthData is the VRRPv2 Authentication Data (for AuthSimple, the
	// password padded with zeros); always zero for VRRPv3. Marshal sends it
	// as it is.
	AuthData [8]byte
}

// String renders a one-line summary for logs.
func (a *Advert) String() string {
	if a == nil {
		return "<nil advert>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s vrid=%d prio=%d interval=%s addrs=[", a.Version, a.VRID, a.Priority, a.AdvertInterval)
	for i, ad := range a.Addresses {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ad.String())
	}
	b.WriteByte(']')
	if a.Version == Version2 && a.AuthType != AuthNone {
		fmt.Fprintf(&b, " auth=%s", a.AuthType)
	}
	return b.String()
}

// pairFamily returns the family shared by src and dst after unmapping
// IPv4-mapped IPv6 addresses, or an error text when they have none.
func pairFamily(src, dst netip.Addr) (netip.Addr, netip.Addr, Family, string) {
	src, dst = src.Unmap(), dst.Unmap()
	switch {
	case !src.IsValid() || !dst.IsValid():
		return src, dst, 0, fmt.Sprintf("source %v and destination %v must both be valid addresses", src, dst)
	case src.Is4() && dst.Is4():
		return src, dst, IPv4, ""
	case src.Is6() && dst.Is6():
		return src, dst, IPv6, ""
	}
	return src, dst, 0, fmt.Sprintf("source %v and destination %v are of different families", src, dst)
}

// msgLen is the VRRP message length for version v carrying n addresses of
// family f.
func msgLen(v Version, f Family, n int) int {
	l := headerLen + n*f.addrLen()
	if v == Version2 {
		l += authDataLen
	}
	return l
}

// Marshal encodes a as a VRRP message (the IP payload), checksum included.
// src and dst are the IP source and destination the message will be sent
// with: VRRPv3 covers them with its pseudo-header checksum (RFC 5798 §5.2.8);
// VRRPv2 needs them only to be IPv4. Errors wrap ErrInvalidAdvert.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("marshal: nil advert: %w", ErrInvalidAdvert)
	}
	src, dst, fam, msg := pairFamily(src, dst)
	if msg != "" {
		return nil, a.marshalErr("%s", msg)
	}
	var field5 byte // Auth Type (v2: AuthNone); rsvd + high bits of Max Adver Int (v3)
	var field6 byte // Adver Int (v2); low bits of Max Adver Int (v3)
	switch a.Version {
	case Version2:
		if fam != IPv4 {
			return nil, a.marshalErr("VRRPv2 is IPv4 only, got %s", fam)
		}
		if a.AuthType != AuthNone {
			return nil, a.marshalErr("auth type %s: only %s is sent", a.AuthType, AuthNone)
		}
		iv := a.AdvertInterval
		if iv <= 0 || iv%v2IntervalUnit != 0 || iv > maxV2Seconds*v2IntervalUnit {
			return nil, a.marshalErr("interval %s: VRRPv2 needs whole seconds from 1s to %ds", iv, maxV2Seconds)
		}
		field6 = byte(iv / v2IntervalUnit)
	case Version3:
		if a.AuthType != AuthNone || a.AuthData != [8]byte{} {
			return nil, a.marshalErr("VRRPv3 carries no authentication (auth type %s)", a.AuthType)
		}
		iv := a.AdvertInterval
		if iv <= 0 || iv%v3IntervalUnit != 0 || iv > maxV3Centisecs*v3IntervalUnit {
			return nil, a.marshalErr("interval %s: VRRPv3 needs whole centiseconds from 10ms to %s",
				iv, maxV3Centisecs*v3IntervalUnit)
		}
		cs := uint16(iv / v3IntervalUnit)
		field5, field6 = byte(cs>>8), byte(cs)
	default:
		return nil, a.marshalErr("unsupported version %d", uint8(a.Version))
	}
	if len(a.Addresses) > maxAddrs {
		return nil, a.marshalErr("%d addresses: at most %d fit", len(a.Addresses), maxAddrs)
	}
	for i, ad := range a.Addresses {
		if (fam == IPv4 && !ad.Is4()) || (fam == IPv6 && !ad.Is6()) {
			return nil, a.marshalErr("address %d (%v) is not %s like the IP header", i, ad, fam)
		}
	}

	b := make([]byte, msgLen(a.Version, fam, len(a.Addresses)))
	b[0] = byte(a.Version)<<4 | typeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addresses))
	b[4] = field5
	b[5] = field6
	off := headerLen
	for _, ad := range a.Addresses {
		if fam == IPv4 {
			v4 := ad.As4()
			off += copy(b[off:], v4[:])
		} else {
			v6 := ad.As16()
			off += copy(b[off:], v6[:])
		}
	}
	if a.Version == Version2 {
		copy(b[off:], a.AuthData[:])
	}
	binary.BigEndian.PutUint16(b[checksumOff:], ^foldSum(msgSum(a.Version, fam, src, dst, b)))
	return b, nil
}

func (a *Advert) marshalErr(format string, args ...any) error {
	return fmt.Errorf("marshal %s vrid %d: %s: %w", a.Version, a.VRID, fmt.Sprintf(format, args...), ErrInvalidAdvert)
}

// Parse decodes and checks one VRRP message b (the IP payload) that arrived
// from src to dst. It checks what the message alone can prove: length,
// version (2 or 3), type, that the address count matches the length, the
// checksum (with the pseudo-header for VRRPv3), that VRRPv2 travels over
// IPv4 and that the interval is not zero. It does not check the TTL or the
// local configuration: Validator.Validate does both.
//
// Every error is a *RejectError; its Reason says why. IPv4-mapped IPv6 src
// and dst are treated as IPv4. Parse does not retain b.
func Parse(b []byte, src, dst netip.Addr) (*Advert, error) {
	return parse(b, src, dst, checksumCompat{})
}

// checksumCompat lists the non-standard VRRPv3 IPv4 checksums parse also
// accepts.
type checksumCompat struct {
	// oldUnicast: 224.0.0.18 in place of dst, as keepalived up to 1.3.6
	// computed it for unicast peers.
	oldUnicast bool
	// asV2: no pseudo-header at all, as RFC 9568 and keepalived's
	// v3_checksum_as_v2 compute it.
	asV2 bool
}

func parse(b []byte, src, dst netip.Addr, compat checksumCompat) (*Advert, error) {
	src, dst, fam, msg := pairFamily(src, dst)
	if msg != "" {
		return nil, reject(ReasonFamily, "%s", msg)
	}
	if len(b) < headerLen {
		return nil, reject(ReasonShort, "%d bytes, a VRRP header needs %d", len(b), headerLen)
	}
	v := Version(b[0] >> 4)
	if v != Version2 && v != Version3 {
		return nil, reject(ReasonVersion, "version %d, want 2 or 3", uint8(v))
	}
	if t := b[0] & 0x0f; t != typeAdvert {
		return nil, reject(ReasonType, "type %d, want %d (advertisement)", t, typeAdvert)
	}
	if v == Version2 && fam != IPv4 {
		return nil, reject(ReasonFamily, "VRRPv2 over %s", fam)
	}
	if minLen := msgLen(v, fam, 0); len(b) < minLen {
		return nil, reject(ReasonShort, "%d bytes, %s over %s needs at least %d", len(b), v, fam, minLen)
	}
	n := int(b[3])
	if want := msgLen(v, fam, n); len(b) != want {
		return nil, reject(ReasonLength, "%d %s addresses need %d bytes, got %d", n, fam, want, len(b))
	}
	got := binary.BigEndian.Uint16(b[checksumOff:])
	if ok := checksumOK(v, fam, src, dst, b, got); !ok {
		if v == Version3 && fam == IPv4 {
			ok = (compat.oldUnicast && checksumOK(v, fam, src, MulticastGroup(IPv4), b, got)) ||
				(compat.asV2 && checksumOK(Version2, fam, src, dst, b, got))
		}
		if !ok {
			return nil, reject(ReasonChecksum, "checksum %#04x, want %#04x", got, ^foldSum(msgSum(v, fam, src, dst, b)))
		}
	}

	a := &Advert{
		Version:   v,
		VRID:      b[1],
		Priority:  b[2],
		Addresses: make([]netip.Addr, 0, n),
	}
	if v == Version2 {
		a.AuthType = AuthType(b[4])
		a.AdvertInterval = time.Duration(b[5]) * v2IntervalUnit
		copy(a.AuthData[:], b[len(b)-authDataLen:])
	} else {
		// The 4 reserved bits are ignored on reception (RFC 5798 §5.2.6).
		a.AdvertInterval = time.Duration(binary.BigEndian.Uint16(b[4:])&v3IntervalMask) * v3IntervalUnit
	}
	if a.AdvertInterval == 0 {
		return nil, reject(ReasonInterval, "%s vrid %d advertises interval 0", v, a.VRID)
	}
	off := headerLen
	for range n {
		if fam == IPv4 {
			a.Addresses = append(a.Addresses, netip.AddrFrom4([4]byte(b[off:off+4])))
			off += 4
		} else {
			a.Addresses = append(a.Addresses, netip.AddrFrom16([16]byte(b[off:off+16])))
			off += 16
		}
	}
	return a, nil
}

// checksumOK reports whether got is a valid checksum of b as version v
// computes it. Adding the field to the sum of the rest must give 0xffff,
// which also accepts 0xffff in place of 0x0000 (both are zero in one's
// complement).
func checksumOK(v Version, fam Family, src, dst netip.Addr, b []byte, got uint16) bool {
	return foldSum(msgSum(v, fam, src, dst, b)+uint64(got)) == 0xffff
}

// msgSum is the unfolded one's complement sum of the VRRP message b with its
// checksum field taken as zero, plus, for VRRPv3, the pseudo-header: for
// IPv4 src, dst, zero, protocol 112 and the VRRP length (as UDP does, RFC
// 768); for IPv6 src, dst, the 32-bit upper-layer length, three zero bytes
// and next header 112 (RFC 8200 §8.1, formerly RFC 2460). VRRPv2 sums the
// message alone (RFC 3768 §5.3.8). len(b) is at most a few KiB, so the
// uint64 cannot overflow.
func msgSum(v Version, fam Family, src, dst netip.Addr, b []byte) uint64 {
	sum := sum16(0, b[:checksumOff])
	sum = sum16(sum, b[checksumOff+2:])
	if v != Version3 {
		return sum
	}
	var ph [pseudoHeaderLen]byte
	var p []byte
	if fam == IPv4 {
		s, d := src.As4(), dst.As4()
		copy(ph[0:], s[:])
		copy(ph[4:], d[:])
		ph[9] = Protocol
		binary.BigEndian.PutUint16(ph[10:], uint16(len(b)))
		p = ph[:12]
	} else {
		s, d := src.As16(), dst.As16()
		copy(ph[0:], s[:])
		copy(ph[16:], d[:])
		binary.BigEndian.PutUint32(ph[32:], uint32(len(b)))
		ph[39] = Protocol
		p = ph[:40]
	}
	return sum16(sum, p)
}

// sum16 adds b to sum as big-endian 16-bit words. Every part of a VRRP
// message and of the pseudo-headers has an even length (the message length
// is checked before any sum), so there is never an odd byte left.
func sum16(sum uint64, b []byte) uint64 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint64(b[i])<<8 | uint64(b[i+1])
	}
	return sum
}

// foldSum folds carries back in to give the 16-bit one's complement sum.
func foldSum(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

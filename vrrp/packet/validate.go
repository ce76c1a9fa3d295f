package packet

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// ErrInvalidValidator is wrapped by the error Validate returns when the
// Validator itself is unusable (unknown version or family). Such an error is
// not a rejection and carries no Reason.
var ErrInvalidValidator = errors.New("invalid VRRP validator")

// Validator holds what the local virtual router expects of the adverts it
// receives and applies the receive checks of RFC 3768 §7.1 and RFC 5798
// §7.1. The zero value is not usable: set at least Version. A Validator is
// read-only during Validate, so one value may be shared by goroutines.
type Validator struct {
	// Version is the VRRP version the local router runs (Version2 or Version3).
	Version Version
	// VRID is the local virtual router's ID.
	VRID uint8
	// Family is the address family of the local instance; zero means IPv4.
	Family Family
	// AuthType is the VRRPv2 auth type the local router is configured with;
	// zero (AuthNone) rejects keepalived's auth_type PASS and AH adverts.
	// Ignored for VRRPv3. The password itself is not compared.
	AuthType AuthType
	// Interval, when non-zero, rejects VRRPv2 adverts with another Adver Int
	// (RFC 3768 §7.1 makes this a MUST). Ignored for VRRPv3, where a backup
	// learns the master's interval instead (RFC 5798 §6.4.2).
	Interval time.Duration
	// Addresses, when non-nil, rejects adverts whose virtual addresses differ
	// from these (compared as sets, zones ignored), except VRRPv2 adverts from
	// the address owner (priority 255), as RFC 3768 §7.1 says. RFC 5798 §7.1
	// only asks a VRRPv3 router to log the mismatch: leave Addresses nil and
	// call SameAddresses to do that.
	Addresses []netip.Addr
	// AcceptOldUnicastChecksum also accepts VRRPv3 IPv4 adverts whose
	// checksum was computed with 224.0.0.18 in the pseudo-header instead of
	// the real (unicast) destination, as keepalived 1.3.6 and older did
	// (keepalived's vrrp_instance option old_unicast_checksum).
	AcceptOldUnicastChecksum bool
	// AcceptV3ChecksumAsV2 also accepts VRRPv3 IPv4 adverts whose checksum
	// leaves out the pseudo-header, as RFC 9568 (which obsoletes RFC 5798)
	// specifies, as some vendors (e.g. Cisco) send, and as keepalived sends
	// with its v3_checksum_as_v2 option (not in keepalived 2.2.7).
	AcceptV3ChecksumAsV2 bool
}

// Validate decodes the VRRP message b that arrived from src to dst with the
// given IPv4 TTL or IPv6 hop limit, and checks it against v. It rejects, in
// this order: a hop limit other than 255, a src/dst family other than
// v.Family, everything Parse rejects, then a version, VRID, auth type
// (VRRPv2), interval (VRRPv2, when v.Interval is set) or address list (when
// v.Addresses is set) other than the expected one.
//
// A rejection is a *RejectError carrying a Reason, ready for
// Counters.Record. A misconfigured v gives an error wrapping
// ErrInvalidValidator instead.
func (v *Validator) Validate(b []byte, src, dst netip.Addr, hopLimit int) (*Advert, error) {
	fam := v.Family
	if fam == 0 {
		fam = IPv4
	}
	switch {
	case v.Version != Version2 && v.Version != Version3:
		return nil, fmt.Errorf("validate: version %d: %w", uint8(v.Version), ErrInvalidValidator)
	case fam != IPv4 && fam != IPv6:
		return nil, fmt.Errorf("validate: %s: %w", fam, ErrInvalidValidator)
	case v.Version == Version2 && fam != IPv4:
		return nil, fmt.Errorf("validate: VRRPv2 over %s: %w", fam, ErrInvalidValidator)
	}

	if hopLimit != HopLimit {
		return nil, reject(ReasonTTL, "TTL/hop limit %d from %v, want %d", hopLimit, src, HopLimit)
	}
	if s, d := src.Unmap(), dst.Unmap(); (fam == IPv4 && !(s.Is4() && d.Is4())) || (fam == IPv6 && !(s.Is6() && d.Is6())) {
		return nil, reject(ReasonFamily, "advert from %v to %v, want %s", src, dst, fam)
	}
	a, err := parse(b, src, dst, checksumCompat{oldUnicast: v.AcceptOldUnicastChecksum, asV2: v.AcceptV3ChecksumAsV2})
	if err != nil {
		return nil, err
	}
	if a.Version != v.Version {
		return nil, reject(ReasonVersion, "%s advert from %v, want %s", a.Version, src, v.Version)
	}
	if a.VRID != v.VRID {
		return nil, reject(ReasonVRID, "vrid %d from %v, want %d", a.VRID, src, v.VRID)
	}
	if a.Version == Version2 {
		if a.AuthType != v.AuthType {
			return nil, reject(ReasonAuthType, "vrid %d auth type %s from %v, want %s", a.VRID, a.AuthType, src, v.AuthType)
		}
		if v.Interval != 0 && a.AdvertInterval != v.Interval {
			return nil, reject(ReasonIntervalMismatch, "vrid %d interval %s from %v, want %s",
				a.VRID, a.AdvertInterval, src, v.Interval)
		}
	}
	if v.Addresses != nil && !SameAddresses(a.Addresses, v.Addresses) &&
		!(a.Version == Version2 && a.Priority == 255) {
		return nil, reject(ReasonAddresses, "vrid %d addresses %v from %v, want %v", a.VRID, a.Addresses, src, v.Addresses)
	}
	return a, nil
}

// SameAddresses reports whether x and y hold the same set of addresses,
// ignoring order, duplicates, zones and IPv4-in-IPv6 mapping.
func SameAddresses(x, y []netip.Addr) bool {
	return slices.Equal(addrSet(x), addrSet(y))
}

func addrSet(as []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		out = append(out, a.Unmap().WithZone(""))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

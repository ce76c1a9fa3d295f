// Package packet encodes and decodes VRRP advertisements, version 2 and 3,
// and decides whether a received one may be used. It is pure: no sockets, no
// clock, no state machine. The socket code hands it the IP payload together
// with the source, destination and TTL/hop limit of the IP header; the state
// machine gets back an *Advert or a typed rejection.
//
// # Wire formats
//
// VRRPv2 (RFC 3768 §5.1 and §5.3; keepalived's default) runs over IPv4 only:
//
//	version=2 | type=1 | VRID | priority | count | auth type | adver int (s) | checksum
//	count × IPv4 address | 8 bytes of authentication data
//
// Its checksum (§5.3.8) is the Internet checksum (RFC 1071) of the VRRP
// message alone. Auth types 1 (plain password) and 2 (IPsec AH) come from
// RFC 2338 and were removed by RFC 3768; keepalived still offers them as
// auth_type PASS and AH. Parse reports them, Marshal only sends type 0.
//
// VRRPv3 (RFC 5798 §5.1 and §5.2) runs over IPv4 and IPv6:
//
//	version=3 | type=1 | VRID | priority | count | 4 reserved bits + 12-bit max adver int (cs) | checksum
//	count × IPv4 or IPv6 address
//
// The address family is that of the IP header (§5.2.9). The checksum
// (§5.2.8) also covers a pseudo-header: for IPv4 source, destination, a zero
// byte, protocol 112 and the VRRP length, as for UDP; for IPv6 source,
// destination, the 32-bit VRRP length, three zero bytes and next header 112
// (RFC 8200 §8.1). That is why Marshal and Parse take src and dst.
//
// keepalived (2.2.7 included) computes the VRRPv3 checksum this way for both
// families, with the real destination also for unicast peers. Two variants
// exist for IPv4, and a Validator can be told to accept them on receive
// (Marshal always sends the RFC 5798 form):
//   - keepalived up to 1.3.6 put 224.0.0.18 in the pseudo-header even of
//     unicast adverts; current keepalived still accepts those and sends them
//     with the vrrp_instance option old_unicast_checksum
//     (Validator.AcceptOldUnicastChecksum).
//   - RFC 9568, which obsoleted RFC 5798 in 2024, uses the pseudo-header for
//     IPv6 only, as some vendors (e.g. Cisco) always did; keepalived releases
//     newer than 2.2.7 can do the same with v3_checksum_as_v2
//     (Validator.AcceptV3ChecksumAsV2).
//
// Both versions send with TTL/hop limit 255 (RFC 3768 §5.2.3, RFC 5798
// §5.1.1.3 and §5.1.2.3) to 224.0.0.18 or ff02::12 (MulticastGroup), or to a
// unicast peer.
//
// # Receiving
//
// Parse checks what the message alone can prove (length, version, type,
// address count against length, checksum, non-zero interval). A Validator
// adds the receive checks of RFC 3768 §7.1 and RFC 5798 §7.1 against the
// local configuration: TTL/hop limit 255, version, VRID, address family,
// VRRPv2 auth type and interval, and the address list. Every rejection is a
// *RejectError whose Reason (an enum that is also an errors.Is target) feeds
// Counters, so the daemon can report "rejected: bad-checksum=3".
//
// The codec is tested against adverts captured from keepalived 2.2.7
// (testdata/capture.sh makes them) and fuzzed (FuzzParse, FuzzRoundTrip).
package packet

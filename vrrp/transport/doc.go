// Package transport sends and receives VRRP datagrams (IP protocol 112) on
// one interface, for IPv4 or IPv6.
//
// A Conn wraps a raw IP socket bound to the interface (SO_BINDTODEVICE) that
// has joined the VRRP multicast group (224.0.0.18 or ff02::12) there, sends
// with TTL / hop limit 255 and does not loop its own multicast back. Send
// writes to the group or to a unicast peer through the same socket, from a
// fixed source address: the interface's primary IPv4 address, or its IPv6
// link-local address (RFC 5798 section 5.1.2.1), unless the caller names one,
// because VRRP breaks priority ties on the sender's address. Receive returns
// the VRRP bytes with the addresses, TTL / hop limit and interface index the
// kernel reported, so the caller can apply RFC 5798's checks.
//
// The package moves bytes only: it neither builds nor checks VRRP messages,
// checksums included. Sockets are opened in the network namespace of the
// calling OS thread. Opening a Conn needs CAP_NET_RAW.
package transport

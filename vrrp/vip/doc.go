// Package vip assigns virtual IP addresses (VIPs) to a network interface and
// announces them to the link.
//
// A Manager owns one interface and a fixed set of VIPs (IPv4 and IPv6 may be
// mixed). Add and Remove change the kernel's addresses through netlink and are
// idempotent; Present reports what the kernel holds; Reconcile puts the
// kernel back in line with what the caller says the state is, so a daemon can
// call it periodically to repair addresses changed behind its back.
//
// Announce tells the neighbours that the VIPs moved here: a gratuitous ARP
// (an RFC 5227 ARP announcement) for each IPv4 VIP, sent through an AF_PACKET
// socket, and an unsolicited Neighbour Advertisement with the Override flag
// (RFC 4861 section 7.2.6) for each IPv6 VIP, sent to ff02::1 with hop limit
// 255.
//
// WaitClaimed tells when another host holds the VIPs: it watches the
// interface's ARP for another host's gratuitous ARP of a VIP, and probes
// (RFC 5227 ARP probes, which change no neighbour's cache) for a host that
// already held one. A node handing the VIPs over keeps them until then.
//
// HoldOnLoopback keeps addresses as this host's own on lo, with a lifetime
// after which the kernel removes them by itself, so that connections to a
// VIP that keepalived takes off the interface are still answered and closed
// rather than left hanging.
//
// The package moves addresses and frames only; it knows nothing about VRRP.
// All operations act in the network namespace of the calling OS thread, which
// for a daemon is the namespace it was started in. Everything needs
// CAP_NET_ADMIN (addresses) and CAP_NET_RAW (announcements).
package vip

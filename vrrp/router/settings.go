package router

import (
	"net/netip"
	"slices"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// Settings are one instance's built-in VRRP settings: the `vrrp:` section of
// the instance in the configuration file, with defaults applied and checked
// by package config (whose VRRP converts to Settings).
type Settings struct {
	// Interface is the network interface that carries the adverts and the VIPs.
	Interface string
	// VRID is the virtual router ID, 1..255; both hosts use the same one.
	VRID uint8
	// Priority is the local priority, 1..255 (default 100); the higher wins.
	Priority uint8
	// AdvertInterval is how often a Master advertises (default 1s): a
	// multiple of 10ms up to 40.95s for version 3, whole seconds up to 255s
	// for version 2.
	AdvertInterval time.Duration
	// Version is the VRRP version, 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
	Version int
	// VIPs are the virtual addresses with their prefix length, all of one
	// address family.
	VIPs []netip.Prefix
	// UnicastPeers, when set, are where adverts go instead of the multicast
	// group; adverts from other sources are then ignored.
	UnicastPeers []netip.Addr
	// Source is the address adverts are sent from (default: the
	// interface's primary address of the VIPs' family).
	Source netip.Addr
	// NoPreempt keeps a Backup with a higher priority from taking over from
	// a live Master.
	NoPreempt bool
	// CheckInterval is the period of the in-process health check (default 1s).
	CheckInterval time.Duration
	// Rise is how many passing checks in a row make an unhealthy node
	// healthy again (default 2).
	Rise int
	// Fall is how many failing checks in a row make a healthy node
	// unhealthy (default 2).
	Fall int
	// GARPCount is how many rounds of gratuitous ARP / unsolicited
	// neighbour advertisements announce the VIPs on becoming Master
	// (default 5; 0 sends none).
	GARPCount int
	// GARPInterval is the gap between those rounds (default 100ms).
	GARPInterval time.Duration
	// GARPRefresh, when positive, repeats the announcements every
	// GARPRefresh while the VIPs are held (keepalived's
	// vrrp_garp_master_refresh; default 0: off).
	GARPRefresh time.Duration
	// GARPRefreshRepeat is how many rounds each refresh sends (default 1).
	GARPRefreshRepeat int
}

func familyOf(a netip.Addr) transport.Family {
	if a.Unmap().Is4() {
		return transport.IPv4
	}
	return transport.IPv6
}

// Family is the address family of the VIPs and of the adverts.
func (s Settings) Family() transport.Family {
	if len(s.VIPs) == 0 {
		return transport.IPv4
	}
	return familyOf(s.VIPs[0].Addr())
}

// Addresses returns the VIPs without their prefix lengths, as adverts
// carry them.
func (s Settings) Addresses() []netip.Addr {
	out := make([]netip.Addr, len(s.VIPs))
	for i, p := range s.VIPs {
		out[i] = p.Addr()
	}
	return out
}

// MasterDownInterval is the time a Backup of these settings waits without
// hearing a Master before it takes over (3 adverts plus the skew time).
func (s Settings) MasterDownInterval() time.Duration {
	return fsm.MasterDownInterval(s.Version, s.Priority, s.AdvertInterval)
}

// FSMConfig is the state machine's configuration; primary is the address
// the adverts are sent from.
func (s Settings) FSMConfig(primary netip.Addr) fsm.Config {
	return fsm.Config{
		VRID: s.VRID, Priority: s.Priority, AdvertInterval: s.AdvertInterval,
		Preempt: !s.NoPreempt, Version: s.Version, Primary: primary,
	}
}

// Validator is the receive check for adverts meant for this instance.
// VRRPv2 also requires the same interval and address list (RFC 3768 section
// 7.1); VRRPv3 only logs an address mismatch (RFC 5798 section 7.1).
func (s Settings) Validator() packet.Validator {
	v := packet.Validator{Version: packet.Version(s.Version), VRID: s.VRID, Family: packet.Family(s.Family())}
	if s.Version == 2 {
		v.Interval = s.AdvertInterval
		v.Addresses = s.Addresses()
	}
	return v
}

// Destinations are where adverts go: the unicast peers, or the group.
func (s Settings) Destinations() []netip.Addr {
	if len(s.UnicastPeers) > 0 {
		return slices.Clone(s.UnicastPeers)
	}
	return []netip.Addr{s.Family().Group()}
}

package transport

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds the retries of an address dump the kernel interrupted.
const dumpRetries = 3

// ifaceAddr is an interface address as the kernel reports it.
type ifaceAddr struct {
	ip    netip.Addr
	flags int // IFA_F_* flags
}

// primaryAddress returns the address pickSource prefers among those the
// interface with index ifindex holds.
func primaryAddress(ifindex int, f Family, exclude []netip.Addr) (netip.Addr, error) {
	link, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("look up interface %d: %w", ifindex, err)
	}
	fam := netlink.FAMILY_V4
	if f == IPv6 {
		fam = netlink.FAMILY_V6
	}
	var list []netlink.Addr
	for range dumpRetries {
		list, err = netlink.AddrList(link, fam)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list addresses: %w", err)
	}
	addrs := make([]ifaceAddr, 0, len(list))
	for _, a := range list {
		if a.IPNet == nil {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			addrs = append(addrs, ifaceAddr{ip: ip, flags: a.Flags})
		}
	}
	return pickSource(f, addrs, exclude)
}

// pickSource chooses the source address VRRP advertisements go out from,
// from addrs in the kernel's order. IPv4: the first primary (not secondary)
// address, else the first secondary. IPv6: the first link-local address,
// as RFC 5798 requires, else the first global one; in each group an address
// past duplicate address detection beats a tentative one. Addresses in
// exclude, failed DAD, and non-unicast addresses are never chosen.
func pickSource(f Family, addrs []ifaceAddr, exclude []netip.Addr) (netip.Addr, error) {
	var best netip.Addr
	bestRank := -1
	for _, a := range addrs {
		ip := a.ip
		if f == IPv4 {
			ip = ip.Unmap()
		}
		if !f.matches(ip) || slices.ContainsFunc(exclude, func(e netip.Addr) bool { return e.Unmap() == ip.Unmap() }) || a.flags&unix.IFA_F_DADFAILED != 0 {
			continue
		}
		if !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() {
			continue
		}
		r := 0
		switch f {
		case IPv4:
			if a.flags&unix.IFA_F_SECONDARY != 0 {
				r++
			}
		case IPv6:
			if !ip.IsLinkLocalUnicast() {
				r += 2
			}
			if a.flags&unix.IFA_F_TENTATIVE != 0 {
				r++
			}
		}
		if bestRank < 0 || r < bestRank {
			best, bestRank = ip, r
		}
	}
	if !best.IsValid() {
		return netip.Addr{}, ErrNoSource
	}
	return best, nil
}

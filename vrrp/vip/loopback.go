package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// loopbackLabel marks the addresses HoldOnLoopback adds (`ip addr` shows it).
const loopbackLabel = "lo:vip-hold"

// HoldOnLoopback puts addrs on the loopback interface (IPv4 /32, IPv6 /128
// without duplicate address detection), so that this host keeps the
// addresses as its own whatever happens to them on the other interfaces:
// when keepalived removes the VIP from this host, the replies, resets and
// FINs of connections to it still leave (the kernel sends nothing from an
// address it does not have), and what clients still send here is
// delivered. Each address gets a valid lifetime of lifetime, rounded up to
// whole seconds (at least one): the kernel removes it by itself when that
// runs out, even if this process dies first. An IPv4 address on lo is
// answered in ARP like any other (unless arp_ignore says otherwise); an
// IPv6 one is not, as Linux answers neighbour solicitations only for the
// receiving interface's addresses.
//
// It returns a function that removes the addresses it added; one already
// on lo is left alone then. On error nothing stays added.
func HoldOnLoopback(ctx context.Context, addrs []netip.Addr, lifetime time.Duration, log *zap.Logger) (func(context.Context) error, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(addrs) == 0 {
		return nil, errors.New("vip: no address to hold")
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("vip: look up lo: %w", err)
	}
	secs := int((lifetime + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	var added []*netlink.Addr
	release := func(ctx context.Context) error {
		var errs []error
		for _, a := range added {
			if err := ctx.Err(); err != nil {
				errs = append(errs, err)
				break
			}
			err := netlink.AddrDel(lo, a)
			switch {
			case errors.Is(err, unix.EADDRNOTAVAIL):
				// Its lifetime ran out first.
			case err != nil:
				errs = append(errs, fmt.Errorf("vip: remove %s from lo: %w", a.IP, err))
			default:
				log.Debug("address released from lo", zap.Stringer("addr", a.IP))
			}
		}
		added = nil
		return errors.Join(errs...)
	}
	for _, ip := range addrs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("vip: hold on lo: %w", err), release(context.WithoutCancel(ctx)))
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())},
			ValidLft: secs, PreferedLft: secs}
		if ip.Is4() {
			a.Label = loopbackLabel
		} else {
			a.Flags = unix.IFA_F_NODAD
		}
		err := netlink.AddrAdd(lo, a)
		switch {
		case errors.Is(err, unix.EEXIST):
			continue // someone else's: not ours to remove
		case err != nil:
			return nil, errors.Join(fmt.Errorf("vip: hold %s on lo: %w", ip, err), release(context.WithoutCancel(ctx)))
		}
		added = append(added, a)
		log.Debug("address held on lo", zap.Stringer("addr", ip), zap.Int("valid_lft_s", secs))
	}
	return release, nil
}

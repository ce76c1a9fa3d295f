package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// maxIfNameLen is the longest interface name the kernel accepts (IFNAMSIZ-1).
const maxIfNameLen = 15

// labelSuffix is appended to the interface name to label IPv4 VIPs, so that
// `ip addr` shows which addresses redis-vip manages.
const labelSuffix = ":vip"

// dumpRetries bounds the retries of an address dump the kernel interrupted.
const dumpRetries = 3

// Manager adds, removes and announces a fixed set of VIPs on one interface.
// It holds only fixed fields and each netlink call opens its own socket, so
// its methods are safe for concurrent use.
type Manager struct {
	ifname string
	vips   []netip.Prefix
	log    *zap.Logger
}

// New returns a Manager for the VIPs vips on the interface named ifname. The
// interface need not exist yet; it is looked up on every call. A nil log
// discards log output.
func New(ifname string, vips []netip.Prefix, log *zap.Logger) (*Manager, error) {
	if ifname == "" || len(ifname) > maxIfNameLen {
		return nil, fmt.Errorf("vip: invalid interface name %q", ifname)
	}
	if len(vips) == 0 {
		return nil, errors.New("vip: no virtual addresses")
	}
	seen := make(map[netip.Addr]bool, len(vips))
	own := make([]netip.Prefix, 0, len(vips))
	for _, p := range vips {
		if err := checkVIP(p); err != nil {
			return nil, fmt.Errorf("vip: %w", err)
		}
		if seen[p.Addr()] {
			return nil, fmt.Errorf("vip: address %s listed twice", p.Addr())
		}
		seen[p.Addr()] = true
		own = append(own, p)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{
		ifname: ifname,
		vips:   own,
		log:    log.With(zap.String("component", "vip"), zap.String("interface", ifname)),
	}, nil
}

func checkVIP(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return fmt.Errorf("invalid prefix %s", p)
	case a.Is4In6():
		return fmt.Errorf("%s: use the plain IPv4 form", p)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return fmt.Errorf("%s: not a unicast address", p)
	}
	return nil
}

// Interface returns the name of the managed interface.
func (m *Manager) Interface() string { return m.ifname }

// VIPs returns a copy of the managed addresses.
func (m *Manager) VIPs() []netip.Prefix { return append([]netip.Prefix(nil), m.vips...) }

// Add assigns every VIP to the interface. A VIP already present is left as it
// is. IPv6 VIPs are added without duplicate address detection so that they
// are usable at once. Add tries every VIP and reports all failures.
func (m *Manager) Add(ctx context.Context) error {
	_, missing, link, err := m.present()
	if err != nil {
		return err
	}
	_, err = m.add(ctx, link, missing)
	return err
}

// Remove takes every VIP off the interface. A VIP already absent is not an
// error. Remove tries every VIP and reports all failures.
func (m *Manager) Remove(ctx context.Context) error {
	held, _, link, err := m.present()
	if err != nil {
		return err
	}
	_, err = m.remove(ctx, link, held)
	return err
}

// Present reports which VIPs the interface holds and which it lacks, in the
// order they were given to New. A VIP counts as held when its address is on
// the interface, whatever the prefix length there.
func (m *Manager) Present() (held, missing []netip.Prefix, err error) {
	h, missing, _, err := m.present()
	if err != nil {
		return nil, nil, err
	}
	for _, k := range h {
		held = append(held, k.vip)
	}
	return held, missing, nil
}

// Reconcile makes the kernel match the state the caller is in: with wantHeld
// it adds the VIPs that are missing, without it removes the VIPs that are
// present. It reports whether it changed anything.
func (m *Manager) Reconcile(ctx context.Context, wantHeld bool) (changed bool, err error) {
	held, missing, link, err := m.present()
	if err != nil {
		return false, err
	}
	if wantHeld {
		n, err := m.add(ctx, link, missing)
		if n > 0 {
			m.log.Warn("restored missing virtual addresses", zap.Int("count", n))
		}
		return n > 0, err
	}
	n, err := m.remove(ctx, link, held)
	if n > 0 {
		m.log.Warn("removed virtual addresses that should not be held", zap.Int("count", n))
	}
	return n > 0, err
}

// heldAddr pairs a VIP with the kernel's record of it.
type heldAddr struct {
	vip    netip.Prefix
	kernel netlink.Addr
}

func (m *Manager) link() (netlink.Link, error) {
	link, err := netlink.LinkByName(m.ifname)
	if err != nil {
		return nil, fmt.Errorf("vip: look up interface %s: %w", m.ifname, err)
	}
	return link, nil
}

// present lists the interface's addresses and splits the VIPs into held and
// missing.
func (m *Manager) present() (held []heldAddr, missing []netip.Prefix, link netlink.Link, err error) {
	link, err = m.link()
	if err != nil {
		return nil, nil, nil, err
	}
	var addrs []netlink.Addr
	for range dumpRetries {
		addrs, err = netlink.AddrList(link, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vip: list addresses of %s: %w", m.ifname, err)
	}
	onLink := make(map[netip.Addr]netlink.Addr, len(addrs))
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		onLink[ip.Unmap()] = a
	}
	for _, p := range m.vips {
		if k, ok := onLink[p.Addr()]; ok {
			held = append(held, heldAddr{vip: p, kernel: k})
		} else {
			missing = append(missing, p)
		}
	}
	return held, missing, link, nil
}

// add assigns the prefixes and returns how many it added.
func (m *Manager) add(ctx context.Context, link netlink.Link, prefixes []netip.Prefix) (int, error) {
	var errs []error
	n := 0
	for _, p := range prefixes {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("vip: add: %w", err))
			break
		}
		a := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		} else if len(m.ifname)+len(labelSuffix) <= maxIfNameLen {
			a.Label = m.ifname + labelSuffix
		}
		err := netlink.AddrAdd(link, a)
		switch {
		case errors.Is(err, unix.EEXIST):
			// Added by someone else since we looked: the goal is met.
		case err != nil:
			errs = append(errs, fmt.Errorf("vip: add %s to %s: %w", p, m.ifname, err))
		default:
			n++
			m.log.Info("virtual address added", zap.Stringer("vip", p))
		}
	}
	return n, errors.Join(errs...)
}

// remove deletes the held addresses and returns how many it removed.
func (m *Manager) remove(ctx context.Context, link netlink.Link, held []heldAddr) (int, error) {
	var errs []error
	n := 0
	for _, h := range held {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("vip: remove: %w", err))
			break
		}
		// Delete the kernel's own record: its prefix length may differ from
		// the configured one and the kernel matches on it.
		a := &netlink.Addr{IPNet: h.kernel.IPNet, Label: h.kernel.Label}
		err := netlink.AddrDel(link, a)
		switch {
		case errors.Is(err, unix.EADDRNOTAVAIL):
			// Gone since we looked: the goal is met.
		case err != nil:
			errs = append(errs, fmt.Errorf("vip: remove %s from %s: %w", h.vip, m.ifname, err))
		default:
			n++
			m.log.Info("virtual address removed", zap.Stringer("vip", h.vip))
		}
	}
	return n, errors.Join(errs...)
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClaimsUnsupported is returned by WaitClaimed for a Manager with an
// IPv6 VIP: it watches ARP, so IPv4 only.
var ErrClaimsUnsupported = errors.New("vip: watching for another holder needs IPv4 VIPs (ARP)")

// arpOpReply is the ARP reply opcode.
const arpOpReply = 2

// WaitClaimed waits until another host claims one of the VIPs on the
// interface, and returns the VIP and that host's Ethernet address: a
// gratuitous ARP from it (it has just taken the VIP), or its answer to the
// ARP probes WaitClaimed sends at once and then every probe (it already
// held the VIP). A probe names no sender address (RFC 5227), so it changes
// no neighbour's cache: only a host holding the VIP answers it. Frames this
// host sends are not claims. It returns ctx's error when ctx ends first,
// and ErrClaimsUnsupported at once when a VIP is IPv6.
func (m *Manager) WaitClaimed(ctx context.Context, probe time.Duration) (netip.Addr, net.HardwareAddr, error) {
	vips := make([]netip.Addr, 0, len(m.vips))
	for _, p := range m.vips {
		if !p.Addr().Is4() {
			return netip.Addr{}, nil, ErrClaimsUnsupported
		}
		vips = append(vips, p.Addr())
	}
	if probe <= 0 {
		return netip.Addr{}, nil, fmt.Errorf("vip: probe interval %s must be positive", probe)
	}
	link, err := m.link()
	if err != nil {
		return netip.Addr{}, nil, err
	}
	attrs := link.Attrs()
	own := attrs.HardwareAddr
	if len(own) != 6 {
		return netip.Addr{}, nil, fmt.Errorf("vip: watch %s: interface has no Ethernet address", m.ifname)
	}
	w, err := openARPWatch(attrs.Index)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("vip: watch %s: %w", m.ifname, err)
	}
	// Closing a packet socket waits for an RCU grace period (about 10 ms):
	// not on the caller's time, which is the drain's.
	defer func() { go w.close() }()
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	probes := make([][]byte, len(vips))
	for i, ip := range vips {
		probes[i] = buildARPProbe(own, ip)
	}
	buf := make([]byte, 1500)
	for {
		for _, p := range probes {
			if err := w.send(p); err != nil {
				return netip.Addr{}, nil, fmt.Errorf("vip: probe on %s: %w", m.ifname, err)
			}
		}
		next := time.Now().Add(probe)
		for time.Now().Before(next) {
			if err := ctx.Err(); err != nil {
				return netip.Addr{}, nil, err
			}
			if err := w.f.SetReadDeadline(next); err != nil {
				return netip.Addr{}, nil, fmt.Errorf("vip: watch %s: %w", m.ifname, err)
			}
			if err := ctx.Err(); err != nil {
				// It ended before the deadline was set: the one set on
				// ending was overwritten.
				return netip.Addr{}, nil, err
			}
			n, outgoing, err := w.recv(buf)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				continue // the next probe, or ctx ended
			case err != nil:
				return netip.Addr{}, nil, fmt.Errorf("vip: watch %s: %w", m.ifname, err)
			case outgoing:
				continue
			}
			if ip, mac, ok := parseClaim(buf[:n], own, vips); ok {
				return ip, mac, nil
			}
		}
	}
}

// parseClaim reads an Ethernet frame and reports whether it is an ARP
// request or reply in which a host other than own says it holds one of
// vips (sender protocol address in vips, sender hardware address neither
// own nor zero), and which VIP and host.
func parseClaim(frame []byte, own net.HardwareAddr, vips []netip.Addr) (netip.Addr, net.HardwareAddr, bool) {
	if len(frame) < ethHeaderLen+arpLen || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return netip.Addr{}, nil, false
	}
	a := frame[ethHeaderLen : ethHeaderLen+arpLen]
	op := binary.BigEndian.Uint16(a[6:8])
	if binary.BigEndian.Uint16(a[0:2]) != arpHTypeEther || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 ||
		a[4] != 6 || a[5] != 4 || (op != arpOpRequest && op != arpOpReply) {
		return netip.Addr{}, nil, false
	}
	sha := net.HardwareAddr(slices.Clone(a[8:14]))
	if slices.Equal(sha, own) || slices.Equal(frame[6:12], own) || slices.Equal(sha, make(net.HardwareAddr, 6)) {
		return netip.Addr{}, nil, false
	}
	spa := netip.AddrFrom4([4]byte(a[14:18]))
	if !slices.Contains(vips, spa) {
		return netip.Addr{}, nil, false
	}
	return spa, sha, true
}

// buildARPProbe returns a broadcast Ethernet frame carrying an ARP probe
// (RFC 5227) for ip from mac: a request with a zero sender protocol
// address, so receivers learn nothing from it and only a holder of ip
// answers. The frame is padded to the Ethernet minimum.
func buildARPProbe(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := buildGratuitousARP(mac, ip)
	a := b[ethHeaderLen : ethHeaderLen+arpLen]
	clear(a[14:18]) // sender protocol address 0.0.0.0
	return b
}

// arpWatch is a packet socket that receives the ARP frames of one
// interface (through the runtime's poller, so reads honour deadlines) and
// sends frames to its broadcast address.
type arpWatch struct {
	f  *os.File
	sa unix.SockaddrLinklayer
}

func openARPWatch(ifindex int) (*arpWatch, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(etherTypeARP)))
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(etherTypeARP), Ifindex: ifindex}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket: %w", err)
	}
	w := &arpWatch{f: os.NewFile(uintptr(fd), "arp"), sa: unix.SockaddrLinklayer{
		Protocol: htons(etherTypeARP),
		Ifindex:  ifindex,
		Halen:    6,
	}}
	copy(w.sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return w, nil
}

// recv reads one frame into buf; outgoing says this host sent it.
func (w *arpWatch) recv(buf []byte) (n int, outgoing bool, err error) {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var from unix.Sockaddr
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return 0, false, err
	}
	if rerr != nil {
		return 0, false, rerr
	}
	if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
		outgoing = true
	}
	return n, outgoing, nil
}

func (w *arpWatch) send(frame []byte) error {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, &w.sa)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return serr
}

func (w *arpWatch) close() error { return w.f.Close() }

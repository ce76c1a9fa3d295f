package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Frame layout constants.
const (
	ethHeaderLen = 14
	arpLen       = 28
	// ethMinFrame is the shortest Ethernet frame without its FCS; shorter
	// frames are padded with zeros.
	ethMinFrame = 60

	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	arpHTypeEther = 1
	arpOpRequest  = 1

	icmpv6TypeNA         = 136
	naFlagOverride       = 0x20
	ndOptTargetLinkLayer = 2
	naLen                = 32 // 8 header + 16 target + 8 option

	// announceHopLimit is required by RFC 4861 for Neighbor Discovery.
	announceHopLimit = 255
)

// maxAnnounceCount bounds the number of announcement rounds in one call.
const maxAnnounceCount = 100

// Announce sends a gratuitous ARP for every IPv4 VIP and an unsolicited
// Neighbour Advertisement for every IPv6 VIP, count times (at most 100) with
// gap between rounds. It returns early with ctx's error when ctx ends, and
// with the send errors of a round in which any send failed.
func (m *Manager) Announce(ctx context.Context, count int, gap time.Duration) error {
	if count < 0 || count > maxAnnounceCount {
		return fmt.Errorf("vip: announce count %d out of range 0..%d", count, maxAnnounceCount)
	}
	if count == 0 {
		return nil
	}
	link, err := m.link()
	if err != nil {
		return err
	}
	attrs := link.Attrs()
	mac := attrs.HardwareAddr
	if len(mac) != 6 {
		return fmt.Errorf("vip: announce on %s: interface has no Ethernet address", m.ifname)
	}

	var frames []announcement
	var arp *arpSender
	var na *naSender
	for _, p := range m.vips {
		ip := p.Addr()
		if ip.Is4() {
			if arp == nil {
				if arp, err = openARPSender(attrs.Index); err != nil {
					return fmt.Errorf("vip: announce on %s: %w", m.ifname, err)
				}
				defer arp.close()
			}
			frames = append(frames, announcement{ip: ip, b: buildGratuitousARP(mac, ip), send: arp.send})
			continue
		}
		if na == nil {
			if na, err = openNASender(attrs.Index); err != nil {
				return fmt.Errorf("vip: announce on %s: %w", m.ifname, err)
			}
			defer na.close()
		}
		frames = append(frames, announcement{ip: ip, b: buildUnsolicitedNA(mac, ip), send: na.send})
	}

	var timer *time.Timer
	for round := range count {
		if round > 0 && gap > 0 {
			if timer == nil {
				timer = time.NewTimer(gap)
				defer timer.Stop()
			} else {
				timer.Reset(gap)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("vip: announce: %w", ctx.Err())
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("vip: announce: %w", err)
		}
		var errs []error
		for _, f := range frames {
			if err := f.send(f.b); err != nil {
				errs = append(errs, fmt.Errorf("vip: announce %s on %s: %w", f.ip, m.ifname, err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		m.log.Debug("announced virtual addresses", zap.Int("round", round+1), zap.Int("of", count))
	}
	return nil
}

// announcement is one prepared frame or message and the way to send it.
type announcement struct {
	ip   netip.Addr
	b    []byte
	send func([]byte) error
}

// buildGratuitousARP returns a broadcast Ethernet frame carrying an ARP
// announcement (RFC 5227): an ARP request from mac whose sender and target
// protocol addresses are both ip, with a zero target hardware address. The
// frame is padded to the Ethernet minimum. mac must be 6 bytes and ip IPv4.
func buildGratuitousARP(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, ethMinFrame)
	// Ethernet header.
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	// ARP payload.
	a := b[ethHeaderLen : ethHeaderLen+arpLen]
	binary.BigEndian.PutUint16(a[0:2], arpHTypeEther)
	binary.BigEndian.PutUint16(a[2:4], etherTypeIPv4)
	a[4] = 6 // hardware address length
	a[5] = 4 // protocol address length
	binary.BigEndian.PutUint16(a[6:8], arpOpRequest)
	ip4 := ip.As4()
	copy(a[8:14], mac)     // sender hardware address
	copy(a[14:18], ip4[:]) // sender protocol address
	// a[18:24]: target hardware address, zero.
	copy(a[24:28], ip4[:]) // target protocol address
	return b
}

// buildUnsolicitedNA returns an ICMPv6 Neighbour Advertisement for target
// with the Override flag set, Router and Solicited clear, and a target
// link-layer address option carrying mac. The checksum is left zero: the
// kernel fills it for ICMPv6 raw sockets. mac must be 6 bytes and target
// IPv6.
func buildUnsolicitedNA(mac net.HardwareAddr, target netip.Addr) []byte {
	b := make([]byte, naLen)
	b[0] = icmpv6TypeNA
	b[1] = 0 // code
	// b[2:4]: checksum, filled by the kernel.
	b[4] = naFlagOverride
	// b[5:8]: reserved, zero.
	t := target.As16()
	copy(b[8:24], t[:])
	b[24] = ndOptTargetLinkLayer
	b[25] = 1 // option length in units of 8 octets
	copy(b[26:32], mac)
	return b
}

// arpSender writes whole Ethernet frames to one interface.
type arpSender struct {
	fd int
	sa unix.SockaddrLinklayer
}

func openARPSender(ifindex int) (*arpSender, error) {
	// Protocol 0: the socket sends only and never queues received frames.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	s := &arpSender{fd: fd, sa: unix.SockaddrLinklayer{
		Protocol: htons(etherTypeARP),
		Ifindex:  ifindex,
		Halen:    6,
	}}
	copy(s.sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return s, nil
}

func (s *arpSender) send(frame []byte) error {
	if err := unix.Sendto(s.fd, frame, 0, &s.sa); err != nil {
		return fmt.Errorf("send gratuitous ARP: %w", err)
	}
	return nil
}

func (s *arpSender) close() error { return unix.Close(s.fd) }

// naSender writes ICMPv6 messages to ff02::1 on one interface.
type naSender struct {
	c       *icmp.PacketConn
	p       *ipv6.PacketConn
	ifindex int
	dst     *net.IPAddr
}

func openNASender(ifindex int) (*naSender, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket: %w", err)
	}
	p := c.IPv6PacketConn()
	var f ipv6.ICMPFilter
	f.SetAll(true) // send only: let nothing queue up on this socket
	setup := []error{
		p.SetICMPFilter(&f),
		p.SetMulticastHopLimit(announceHopLimit),
		p.SetHopLimit(announceHopLimit),
		p.SetMulticastLoopback(false),
	}
	if err := errors.Join(setup...); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("set up ICMPv6 socket: %w", err)
	}
	return &naSender{
		c:       c,
		p:       p,
		ifindex: ifindex,
		dst:     &net.IPAddr{IP: net.IPv6linklocalallnodes},
	}, nil
}

func (s *naSender) send(msg []byte) error {
	cm := &ipv6.ControlMessage{HopLimit: announceHopLimit, IfIndex: s.ifindex}
	if _, err := s.p.WriteTo(msg, cm, s.dst); err != nil {
		return fmt.Errorf("send neighbour advertisement: %w", err)
	}
	return nil
}

func (s *naSender) close() error { return s.c.Close() }

// htons converts a 16-bit value to network byte order as the kernel's
// sockaddr_ll and socket(2) protocol fields expect.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

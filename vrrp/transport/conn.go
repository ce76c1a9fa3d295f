package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Protocol is the IP protocol number assigned to VRRP.
const Protocol = 112

// hopLimit is the TTL / hop limit VRRP requires on every advertisement.
const hopLimit = 255

// maxDatagram is the receive buffer size: the largest IP payload.
const maxDatagram = 65535

// ErrClosed is returned by Send and Receive once the Conn is closed.
var ErrClosed = errors.New("transport: connection closed")

// ErrNoSource is returned by Listen when no source address was given and the
// interface has no usable address of the family.
var ErrNoSource = errors.New("transport: no source address on interface")

// Family selects IPv4 or IPv6.
type Family int

// The address families a Conn can use.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Group returns the VRRP multicast group of the family: 224.0.0.18 or
// ff02::12. It returns the zero Addr for an unknown family.
func (f Family) Group() netip.Addr {
	switch f {
	case IPv4:
		return netip.AddrFrom4([4]byte{224, 0, 0, 18})
	case IPv6:
		return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
	}
	return netip.Addr{}
}

func (f Family) matches(a netip.Addr) bool {
	return (f == IPv4 && a.Is4()) || (f == IPv6 && a.Is6() && !a.Is4In6())
}

// Config says where a Conn sends and receives.
type Config struct {
	// Interface is the name of the interface to bind to. Required.
	Interface string
	// Family is IPv4 or IPv6. Required.
	Family Family
	// Source, when set, is the source address of every datagram sent. It
	// must be an address of the family assigned to Interface.
	Source netip.Addr
	// Exclude lists addresses never chosen as the source when Source is
	// unset; pass the virtual addresses so a restart while holding them
	// cannot pick one.
	Exclude []netip.Addr
}

// Datagram is one received VRRP datagram.
type Datagram struct {
	// Payload is the IP payload: the VRRP message, without the IP header.
	Payload []byte
	// Src and Dst are the IP header's source and destination.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the datagram arrived with; 0
	// when the kernel did not report it.
	TTL int
	// IfIndex is the index of the interface it arrived on.
	IfIndex int
}

// Conn is a VRRP socket on one interface for one address family. Send and
// Receive may be called concurrently with each other and with Close.
type Conn struct {
	family  Family
	ifname  string
	ifindex int
	src     netip.Addr
	pc      packetConn

	rmu sync.Mutex // guards buf and read deadlines
	buf []byte
	wmu sync.Mutex // guards write deadlines

	closeOnce sync.Once
	closeErr  error
}

// packetConn hides the differences between the ipv4 and ipv6 packages.
type packetConn interface {
	readFrom(b []byte) (n int, d Datagram, err error)
	writeTo(b []byte, src netip.Addr, ifindex int, dst netip.Addr) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// Listen opens a VRRP socket as cfg says: bound to cfg.Interface, joined to
// the family's VRRP group there, sending with TTL / hop limit 255 and without
// multicast loopback. The socket lives in the network namespace of the
// calling thread.
func Listen(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Interface == "" {
		return nil, errors.New("transport: no interface")
	}
	if cfg.Family != IPv4 && cfg.Family != IPv6 {
		return nil, fmt.Errorf("transport: unknown address family %d", int(cfg.Family))
	}
	if cfg.Family == IPv4 {
		cfg.Source = cfg.Source.Unmap()
	}
	if cfg.Source.IsValid() && !cfg.Family.matches(cfg.Source) {
		return nil, fmt.Errorf("transport: source %s is not an %s address", cfg.Source, cfg.Family)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("transport: look up interface %s: %w", cfg.Interface, err)
	}
	src := cfg.Source
	if !src.IsValid() {
		if src, err = primaryAddress(ifi.Index, cfg.Family, cfg.Exclude); err != nil {
			return nil, fmt.Errorf("transport: %s source on %s: %w", cfg.Family, cfg.Interface, err)
		}
	}

	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return controlSocket(rc, cfg.Interface, cfg.Family)
	}}
	network, laddr := fmt.Sprintf("ip4:%d", Protocol), "0.0.0.0"
	if cfg.Family == IPv6 {
		network, laddr = fmt.Sprintf("ip6:%d", Protocol), "::"
	}
	raw, err := lc.ListenPacket(ctx, network, laddr)
	if err != nil {
		return nil, fmt.Errorf("transport: open %s socket on %s: %w", cfg.Family, cfg.Interface, err)
	}
	var pc packetConn
	if cfg.Family == IPv4 {
		pc, err = setupIPv4(raw, ifi)
	} else {
		pc, err = setupIPv6(raw, ifi)
	}
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("transport: set up %s socket on %s: %w", cfg.Family, cfg.Interface, err)
	}
	return &Conn{
		family:  cfg.Family,
		ifname:  cfg.Interface,
		ifindex: ifi.Index,
		src:     src,
		pc:      pc,
		buf:     make([]byte, maxDatagram),
	}, nil
}

// controlSocket binds the socket to the interface before it is used, and
// asks for only the groups this socket joined.
func controlSocket(rc syscall.RawConn, ifname string, f Family) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
			serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", ifname, err)
			return
		}
		if f == IPv4 {
			if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
				serr = fmt.Errorf("IP_MULTICAST_ALL: %w", err)
			}
			return
		}
		// IPV6_MULTICAST_ALL needs Linux 4.20; without it the bound device
		// still limits what arrives.
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
			serr = fmt.Errorf("IPV6_MULTICAST_ALL: %w", err)
		}
	})
	return errors.Join(err, serr)
}

// Source returns the source address of the datagrams this Conn sends.
func (c *Conn) Source() netip.Addr { return c.src }

// Group returns the VRRP multicast group this Conn joined.
func (c *Conn) Group() netip.Addr { return c.family.Group() }

// Family returns the Conn's address family.
func (c *Conn) Family() Family { return c.family }

// Send writes payload as one datagram to dst, the VRRP group or a unicast
// peer, from Source with TTL / hop limit 255. ctx's deadline bounds the
// write.
func (c *Conn) Send(ctx context.Context, payload []byte, dst netip.Addr) error {
	if c.family == IPv4 {
		dst = dst.Unmap()
	}
	if !c.family.matches(dst) {
		return fmt.Errorf("transport: send on %s: destination %s is not an %s address", c.ifname, dst, c.family)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("transport: send on %s: %w", c.ifname, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl, _ := ctx.Deadline()
	if err := c.pc.SetWriteDeadline(dl); err != nil {
		return c.wrapErr(ctx, "send", err)
	}
	if err := c.pc.writeTo(payload, c.src, c.ifindex, dst); err != nil {
		return c.wrapErr(ctx, "send to "+dst.String(), err)
	}
	return nil
}

// Receive waits for the next datagram and returns it. It returns ctx's error
// when ctx ends first, and an error wrapping ErrClosed once the Conn is
// closed.
func (c *Conn) Receive(ctx context.Context) (Datagram, error) {
	if err := ctx.Err(); err != nil {
		return Datagram{}, fmt.Errorf("transport: receive on %s: %w", c.ifname, err)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()

	dl, _ := ctx.Deadline()
	if err := c.pc.SetReadDeadline(dl); err != nil {
		return Datagram{}, c.wrapErr(ctx, "receive", err)
	}
	// Cancellation without a deadline: wake the read by moving its deadline
	// into the past. Wait for that to finish before returning, so it cannot
	// land on the next call's deadline.
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		_ = c.pc.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-woken
		}
	}()

	n, d, err := c.pc.readFrom(c.buf)
	if err != nil {
		return Datagram{}, c.wrapErr(ctx, "receive", err)
	}
	d.Payload = append([]byte(nil), c.buf[:n]...)
	return d, nil
}

// Close closes the socket. Blocked Send and Receive calls return ErrClosed.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if err := c.pc.Close(); err != nil {
			c.closeErr = fmt.Errorf("transport: close %s socket on %s: %w", c.family, c.ifname, err)
		}
	})
	return c.closeErr
}

// wrapErr turns socket errors into the package's: ErrClosed after Close,
// ctx's error when a deadline set from ctx expired.
func (c *Conn) wrapErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, net.ErrClosed):
		err = ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		} else if _, ok := ctx.Deadline(); ok {
			// The socket deadline came a moment before ctx's own timer.
			err = context.DeadlineExceeded
		}
	}
	return fmt.Errorf("transport: %s on %s: %w", op, c.ifname, err)
}

// ipv4Conn is the IPv4 packetConn.
type ipv4Conn struct{ *ipv4.PacketConn }

func setupIPv4(raw net.PacketConn, ifi *net.Interface) (packetConn, error) {
	p := ipv4.NewPacketConn(raw)
	group := &net.IPAddr{IP: IPv4.Group().AsSlice()}
	err := errors.Join(
		p.JoinGroup(ifi, group),
		p.SetMulticastInterface(ifi),
		p.SetMulticastTTL(hopLimit),
		p.SetTTL(hopLimit),
		p.SetMulticastLoopback(false),
		p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true),
	)
	if err != nil {
		return nil, err
	}
	return ipv4Conn{p}, nil
}

func (p ipv4Conn) readFrom(b []byte) (int, Datagram, error) {
	n, cm, src, err := p.ReadFrom(b)
	if err != nil {
		return 0, Datagram{}, err
	}
	var d Datagram
	d.Src = addrOf(src)
	if cm != nil {
		d.TTL = cm.TTL
		d.IfIndex = cm.IfIndex
		if a, ok := netip.AddrFromSlice(cm.Dst); ok {
			d.Dst = a.Unmap()
		}
	}
	return n, d, nil
}

func (p ipv4Conn) writeTo(b []byte, src netip.Addr, ifindex int, dst netip.Addr) error {
	cm := &ipv4.ControlMessage{Src: src.AsSlice(), IfIndex: ifindex}
	_, err := p.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// ipv6Conn is the IPv6 packetConn.
type ipv6Conn struct{ *ipv6.PacketConn }

func setupIPv6(raw net.PacketConn, ifi *net.Interface) (packetConn, error) {
	p := ipv6.NewPacketConn(raw)
	group := &net.IPAddr{IP: IPv6.Group().AsSlice()}
	err := errors.Join(
		p.JoinGroup(ifi, group),
		p.SetMulticastInterface(ifi),
		p.SetMulticastHopLimit(hopLimit),
		p.SetHopLimit(hopLimit),
		p.SetMulticastLoopback(false),
		p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true),
	)
	if err != nil {
		return nil, err
	}
	return ipv6Conn{p}, nil
}

func (p ipv6Conn) readFrom(b []byte) (int, Datagram, error) {
	n, cm, src, err := p.ReadFrom(b)
	if err != nil {
		return 0, Datagram{}, err
	}
	var d Datagram
	d.Src = addrOf(src)
	if cm != nil {
		d.TTL = cm.HopLimit
		d.IfIndex = cm.IfIndex
		if a, ok := netip.AddrFromSlice(cm.Dst); ok {
			d.Dst = a
		}
	}
	return n, d, nil
}

func (p ipv6Conn) writeTo(b []byte, src netip.Addr, ifindex int, dst netip.Addr) error {
	cm := &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: ifindex, HopLimit: hopLimit}
	_, err := p.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// addrOf returns the IP of a *net.IPAddr without its zone, or the zero Addr.
func addrOf(a net.Addr) netip.Addr {
	ia, ok := a.(*net.IPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, ok := netip.AddrFromSlice(ia.IP)
	if !ok {
		return netip.Addr{}
	}
	if ip.Is4In6() {
		return ip.Unmap()
	}
	return ip
}

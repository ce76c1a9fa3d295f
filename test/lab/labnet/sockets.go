package labnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Do runs f on an OS thread that is inside the network namespace ns (a name
// under /run/netns). The thread is restored afterwards; if it cannot be, it
// is thrown away rather than reused.
func Do(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it ends with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Dial opens a TCP connection to addr (host:port) from inside ns, within
// timeout. The connection stays in ns for its whole life.
func Dial(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := Do(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// Reach is what a probe found.
type Reach int

const (
	// Cut: no answer within the timeout (no SYN-ACK, no RST, or no route):
	// the packets were dropped somewhere.
	Cut Reach = iota
	// Reached: the target's kernel answered, with a SYN-ACK (a listener) or
	// an RST (no listener, "connection refused").
	Reached
)

func (r Reach) String() string {
	if r == Reached {
		return "reached"
	}
	return "cut"
}

// Probe tries a TCP connection from ns to addr (host:port) and says whether
// the target's kernel answered within timeout. A port nothing listens on is
// the usual target: a reachable host answers with an RST at once, so the
// probe proves the path both ways without a server. detail is the error (or
// "connected", "refused").
func Probe(ns, addr string, timeout time.Duration) (Reach, string) {
	c, err := Dial(ns, addr, timeout)
	switch {
	case err == nil:
		c.Close()
		return Reached, "connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		return Reached, "refused"
	}
	return Cut, err.Error()
}

// VRRPProto is the IP protocol number of VRRP adverts (v2 and v3).
const VRRPProto = 112

// VRRPGroup is the multicast group VRRP adverts go to.
var VRRPGroup = netip.MustParseAddr("224.0.0.18")

// Listener receives raw IPv4 packets of one protocol inside a namespace
// (the payloads of what its kernel accepts: unicast to its addresses, and
// multicast to the groups it joined).
type Listener struct {
	c *net.IPConn
}

// ListenProto opens a raw socket for IP protocol proto in ns; with join
// valid it also joins that multicast group on dev.
func ListenProto(ns string, proto int, dev string, join netip.Addr) (*Listener, error) {
	var c *net.IPConn
	err := Do(ns, func() error {
		pc, err := net.ListenPacket(fmt.Sprintf("ip4:%d", proto), "0.0.0.0")
		if err != nil {
			return err
		}
		c = pc.(*net.IPConn)
		if !join.IsValid() {
			return nil
		}
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			c.Close()
			return err
		}
		mreq := &syscall.IPMreqn{Multiaddr: join.As4(), Ifindex: int32(ifi.Index)}
		if err := setsockopt(c, func(fd int) error {
			return syscall.SetsockoptIPMreqn(fd, syscall.IPPROTO_IP, syscall.IP_ADD_MEMBERSHIP, mreq)
		}); err != nil {
			c.Close()
			return fmt.Errorf("join %s on %s: %w", join, dev, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listen ip proto %d in %s: %w", proto, ns, err)
	}
	return &Listener{c: c}, nil
}

// Close closes the socket.
func (l *Listener) Close() error { return l.c.Close() }

// Await waits up to timeout for a packet whose payload contains tag and
// returns where it came from.
func (l *Listener) Await(tag string, timeout time.Duration) (netip.Addr, bool) {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 2048)
	for {
		if err := l.c.SetReadDeadline(deadline); err != nil {
			return netip.Addr{}, false
		}
		n, from, err := l.c.ReadFrom(buf)
		if err != nil {
			return netip.Addr{}, false
		}
		if strings.Contains(string(buf[:n]), tag) {
			a, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP.To4())
			return a, true
		}
	}
}

// SendProto sends one raw IPv4 packet of protocol proto with payload from ns
// to dst, out of dev (which matters for multicast: the lab namespaces have
// no multicast route). TTL is 255, as VRRP requires.
func SendProto(ns string, proto int, dev string, dst netip.Addr, payload []byte) error {
	return Do(ns, func() error {
		pc, err := net.ListenPacket(fmt.Sprintf("ip4:%d", proto), "0.0.0.0")
		if err != nil {
			return err
		}
		c := pc.(*net.IPConn)
		defer c.Close()
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		if err := setsockopt(c, func(fd int) error {
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TTL, 255); err != nil {
				return err
			}
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 255); err != nil {
				return err
			}
			return syscall.SetsockoptIPMreqn(fd, syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, &syscall.IPMreqn{Ifindex: int32(ifi.Index)})
		}); err != nil {
			return err
		}
		if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			return err
		}
		_, err = c.WriteTo(payload, &net.IPAddr{IP: dst.AsSlice()})
		return err
	})
}

func setsockopt(c *net.IPConn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = f(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// ProtoReaches sends one raw packet of IP protocol proto from namespace from
// (out of its eth0) to dst, and says whether namespace to (listening on its
// eth0; joined to dst when dst is multicast) received it within timeout.
// With VRRPProto and dst the peer's address or VRRPGroup it shows whether
// VRRP adverts, unicast or multicast, pass between two hosts.
func ProtoReaches(from, to string, proto int, dst netip.Addr, timeout time.Duration) (bool, error) {
	var join netip.Addr
	if dst.IsMulticast() {
		join = dst
	}
	l, err := ListenProto(to, proto, "eth0", join)
	if err != nil {
		return false, err
	}
	defer l.Close()
	tag := fmt.Sprintf("labnet-probe-%s-%s-%d", from, to, time.Now().UnixNano())
	if err := SendProto(from, proto, "eth0", dst, []byte(tag)); err != nil {
		return false, fmt.Errorf("send ip proto %d from %s to %s: %w", proto, from, dst, err)
	}
	_, ok := l.Await(tag, timeout)
	return ok, nil
}

// Heard waits up to d for anything on an idle connection c (read through r,
// or c itself when r is nil) and says what came: "silence" when the deadline
// passed without a byte, a FIN or an RST; "data"; or the error ("EOF" for a
// FIN, "... connection reset by peer" for an RST).
func Heard(c net.Conn, r io.Reader, d time.Duration) string {
	if r == nil {
		r = c
	}
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err.Error()
	}
	_, err := r.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case err == nil:
		return "data"
	case errors.As(err, &ne) && ne.Timeout():
		return "silence"
	}
	return err.Error()
}

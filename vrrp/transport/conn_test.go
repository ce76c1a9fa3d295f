package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/redis-vip/redis-vip/internal/netnstest"
)

const (
	ifA = "vrrpa"
	ifB = "vrrpb"
)

var (
	addrA4  = netip.MustParseAddr("192.0.2.1")
	addrA4b = netip.MustParseAddr("192.0.2.3") // secondary on A
	addrB4  = netip.MustParseAddr("192.0.2.2")
	addrA6  = netip.MustParseAddr("2001:db8::1")
	addrB6  = netip.MustParseAddr("2001:db8::2")
)

// lab is two namespaces joined by a veth pair: ifA in a, ifB in b.
type lab struct {
	a, b       string
	llA, llB   netip.Addr // link-local addresses
	ifindexB   int
	ifindexA   int
	secondaryA netip.Addr
}

func newLab(t *testing.T) lab {
	t.Helper()
	netnstest.RequireRoot(t)
	l := lab{a: netnstest.New(t, "transport", "a"), b: netnstest.New(t, "transport", "b"), secondaryA: addrA4b}
	netnstest.Run(t, "ip", "link", "add", ifA, "netns", l.a, "type", "veth", "peer", "name", ifB, "netns", l.b)
	for _, s := range []struct {
		ns, ifname string
		v4, v6     netip.Addr
	}{{l.a, ifA, addrA4, addrA6}, {l.b, ifB, addrB4, addrB6}} {
		netnstest.Run(t, "ip", "netns", "exec", s.ns, "sysctl", "-q", "-w", "net.ipv6.conf."+s.ifname+".accept_dad=0")
		netnstest.Run(t, "ip", "-n", s.ns, "addr", "add", s.v4.String()+"/24", "dev", s.ifname)
		netnstest.Run(t, "ip", "-n", s.ns, "addr", "add", s.v6.String()+"/64", "dev", s.ifname, "nodad")
		netnstest.Run(t, "ip", "-n", s.ns, "link", "set", s.ifname, "up")
	}
	netnstest.Run(t, "ip", "-n", l.a, "addr", "add", addrA4b.String()+"/24", "dev", ifA)
	netnstest.In(t, l.a, func() { l.llA, l.ifindexA = waitLinkLocal(t, ifA) })
	netnstest.In(t, l.b, func() { l.llB, l.ifindexB = waitLinkLocal(t, ifB) })
	return l
}

// waitLinkLocal waits, bounded, until ifname has a usable link-local address
// (the kernel adds it once the link has carrier) and returns it with the
// interface index.
func waitLinkLocal(t *testing.T, ifname string) (netip.Addr, int) {
	t.Helper()
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("link %s: %v", ifname, err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		list, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			t.Fatalf("addr list %s: %v", ifname, err)
		}
		for _, a := range list {
			ip, _ := netip.AddrFromSlice(a.IP)
			if ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return ip, link.Attrs().Index
			}
		}
		<-tick.C
	}
	t.Fatalf("no usable link-local address on %s after 5s", ifname)
	return netip.Addr{}, 0
}

// listen opens a Conn that is closed when the test ends.
func listen(t *testing.T, cfg Config) *Conn {
	t.Helper()
	c, err := Listen(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func receive(t *testing.T, c *Conn) Datagram {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return d
}

func TestExchangeNetns(t *testing.T) {
	l := newLab(t)
	var a4, a6, a4src, a6src, b4, b6 *Conn
	netnstest.In(t, l.a, func() {
		a4 = listen(t, Config{Interface: ifA, Family: IPv4})
		a6 = listen(t, Config{Interface: ifA, Family: IPv6})
		a4src = listen(t, Config{Interface: ifA, Family: IPv4, Source: l.secondaryA})
		a6src = listen(t, Config{Interface: ifA, Family: IPv6, Source: addrA6})
	})
	netnstest.In(t, l.b, func() {
		b4 = listen(t, Config{Interface: ifB, Family: IPv4})
		b6 = listen(t, Config{Interface: ifB, Family: IPv6})
	})
	if a4.Source() != addrA4 {
		t.Errorf("IPv4 default source = %v, want the primary %v", a4.Source(), addrA4)
	}
	if a6.Source() != l.llA {
		t.Errorf("IPv6 default source = %v, want the link-local %v", a6.Source(), l.llA)
	}

	cases := []struct {
		name     string
		from, to *Conn
		dst      netip.Addr
		wantSrc  netip.Addr
	}{
		{"ipv4 multicast", a4, b4, IPv4.Group(), addrA4},
		{"ipv4 unicast", a4, b4, addrB4, addrA4},
		{"ipv4 explicit source", a4src, b4, IPv4.Group(), l.secondaryA},
		{"ipv6 multicast", a6, b6, IPv6.Group(), l.llA},
		{"ipv6 unicast global", a6, b6, addrB6, l.llA},
		{"ipv6 unicast link-local", a6, b6, l.llB, l.llA},
		{"ipv6 explicit source", a6src, b6, IPv6.Group(), addrA6},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(fmt.Sprintf("\x31\x07\xff\x01vrrp-%d", i))
			if err := tc.from.Send(t.Context(), payload, tc.dst); err != nil {
				t.Fatalf("Send: %v", err)
			}
			d := receive(t, tc.to)
			if !bytes.Equal(d.Payload, payload) {
				t.Errorf("payload = %q, want %q", d.Payload, payload)
			}
			if d.Src != tc.wantSrc {
				t.Errorf("source = %v, want %v", d.Src, tc.wantSrc)
			}
			if d.Dst != tc.dst {
				t.Errorf("destination = %v, want %v", d.Dst, tc.dst)
			}
			if d.TTL != 255 {
				t.Errorf("TTL / hop limit = %d, want 255", d.TTL)
			}
			if d.IfIndex != l.ifindexB {
				t.Errorf("interface index = %d, want %d", d.IfIndex, l.ifindexB)
			}
		})
	}

	t.Run("no multicast loopback", func(t *testing.T) {
		for _, c := range []struct{ from, local, peer *Conn }{{a4, a4src, b4}, {a6, a6src, b6}} {
			if err := c.from.Send(t.Context(), []byte("loop?"), c.from.Group()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			receive(t, c.peer) // it went out
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			d, err := c.local.Receive(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("sender's host received its own multicast: %+v, %v", d, err)
			}
		}
	})

	t.Run("wrong family destination", func(t *testing.T) {
		if err := a4.Send(t.Context(), []byte("x"), addrB6); err == nil {
			t.Error("IPv4 Send to an IPv6 address succeeded")
		}
		if err := a6.Send(t.Context(), []byte("x"), addrB4); err == nil {
			t.Error("IPv6 Send to an IPv4 address succeeded")
		}
		if err := a4.Send(t.Context(), []byte("x"), netip.Addr{}); err == nil {
			t.Error("Send to the zero address succeeded")
		}
	})
}

func TestReceiveContextAndClose(t *testing.T) {
	l := newLab(t)
	var a, b *Conn
	netnstest.In(t, l.a, func() { a = listen(t, Config{Interface: ifA, Family: IPv4}) })
	netnstest.In(t, l.b, func() { b = listen(t, Config{Interface: ifB, Family: IPv4}) })

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := b.Receive(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive = %v, want context.Canceled", err)
		}
		if err := a.Send(ctx, []byte("x"), IPv4.Group()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v, want context.Canceled", err)
		}
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		timer := time.AfterFunc(50*time.Millisecond, cancel)
		defer timer.Stop()
		start := time.Now()
		if _, err := b.Receive(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Receive returned %v after cancel", d)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := b.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("works after a cancelled receive", func(t *testing.T) {
		if err := a.Send(t.Context(), []byte("after"), IPv4.Group()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if d := receive(t, b); string(d.Payload) != "after" {
			t.Fatalf("payload = %q, want %q", d.Payload, "after")
		}
	})

	t.Run("close while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := b.Receive(ctx)
			done <- err
		}()
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Receive after Close = %v, want ErrClosed", err)
			}
		case <-ctx.Done():
			t.Fatal("Receive did not return after Close")
		}
		if _, err := b.Receive(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive on a closed Conn = %v, want ErrClosed", err)
		}
		if err := b.Send(t.Context(), []byte("x"), IPv4.Group()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Send on a closed Conn = %v, want ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
	})
}

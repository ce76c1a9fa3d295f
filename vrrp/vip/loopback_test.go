package vip

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"

	"github.com/redis-vip/redis-vip/internal/netnstest"
)

// loAddrs returns the addresses on lo in the current namespace.
func loAddrs(t *testing.T) map[netip.Addr]netlink.Addr {
	t.Helper()
	return kernelAddrs(t, "lo")
}

func TestHoldOnLoopbackAddsWithLifetimeAndReleases(t *testing.T) {
	local, _ := newLab(t)
	v4, v6, theirs := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("192.0.2.101")
	netnstest.Run(t, "ip", "-n", local, "addr", "add", "192.0.2.101/32", "dev", "lo")
	netnstest.In(t, local, func() {
		release, err := HoldOnLoopback(t.Context(), []netip.Addr{v4, v6, theirs}, 2500*time.Millisecond, zaptest.NewLogger(t))
		if err != nil {
			t.Fatalf("HoldOnLoopback: %v", err)
		}
		got := loAddrs(t)
		for _, ip := range []netip.Addr{v4, v6} {
			a, ok := got[ip]
			if !ok {
				t.Fatalf("%s not on lo: %v", ip, got)
			}
			if ones, bits := a.Mask.Size(); ones != bits {
				t.Errorf("%s on lo with /%d, want a host prefix", ip, ones)
			}
			if a.ValidLft <= 0 || a.ValidLft > 3 {
				t.Errorf("%s: valid lifetime %d s, want 3 (2.5 s rounded up)", ip, a.ValidLft)
			}
		}
		if a := got[v4]; a.Label != loopbackLabel {
			t.Errorf("label %q, want %q", a.Label, loopbackLabel)
		}
		if err := release(t.Context()); err != nil {
			t.Fatalf("release: %v", err)
		}
		got = loAddrs(t)
		for _, ip := range []netip.Addr{v4, v6} {
			if _, ok := got[ip]; ok {
				t.Errorf("%s still on lo after release", ip)
			}
		}
		if _, ok := got[theirs]; !ok {
			t.Errorf("%s was on lo before: release must leave it", theirs)
		}
		if err := release(t.Context()); err != nil {
			t.Errorf("second release: %v", err)
		}
	})
}

func TestHoldOnLoopbackRunsOut(t *testing.T) {
	local, _ := newLab(t)
	v4 := netip.MustParseAddr("192.0.2.100")
	netnstest.In(t, local, func() {
		if _, err := HoldOnLoopback(t.Context(), []netip.Addr{v4}, time.Second, nil); err != nil {
			t.Fatalf("HoldOnLoopback: %v", err)
		}
		// Never released: the kernel removes it when its lifetime ends.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, ok := loAddrs(t)[v4]; !ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still on lo 10 s after its 1 s lifetime", v4)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// The point of the hold: a connection to the VIP still gets its answer
// after the VIP left the interface, because the host still has the
// address.
func TestHoldOnLoopbackKeepsConnectionsAnswering(t *testing.T) {
	local, peer := newLab(t)
	netnstest.Run(t, "ip", "-n", local, "addr", "add", "192.0.2.1/24", "dev", testIf)
	netnstest.Run(t, "ip", "-n", local, "addr", "add", "192.0.2.100/24", "dev", testIf)
	netnstest.Run(t, "ip", "-n", peer, "addr", "add", "192.0.2.2/24", "dev", testPeer)
	var ln net.Listener
	netnstest.In(t, local, func() {
		var err error
		if ln, err = net.Listen("tcp", "192.0.2.100:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	var client net.Conn
	netnstest.In(t, peer, func() {
		var err error
		if client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	var release func(context.Context) error
	netnstest.In(t, local, func() {
		if release, err = HoldOnLoopback(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.100")}, 5*time.Second, nil); err != nil {
			t.Fatal(err)
		}
	})
	defer func() { _ = release(context.Background()) }()
	netnstest.Run(t, "ip", "-n", local, "addr", "del", "192.0.2.100/24", "dev", testIf)

	if _, err := server.Write([]byte("-READONLY\r\n")); err != nil {
		t.Fatalf("server write: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || line != "-READONLY\r\n" {
		t.Fatalf("client read %q, %v: want the reply sent after the VIP left the interface", line, err)
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after the server closed: %v, want EOF (the FIN left too)", err)
	}
}

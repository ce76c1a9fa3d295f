package vip

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/redis-vip/redis-vip/internal/netnstest"
)

const (
	testIf   = "vip0"
	testPeer = "peer0"
)

var testVIPs = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.100/24"),
	netip.MustParsePrefix("192.0.2.101/32"),
	netip.MustParsePrefix("2001:db8::100/64"),
}

// newLab creates two namespaces joined by a veth pair, testIf in the first
// and testPeer in the second, both up, IPv6 DAD off. It returns the names.
func newLab(t *testing.T) (local, peer string) {
	t.Helper()
	netnstest.RequireRoot(t)
	local = netnstest.New(t, "vip", "a")
	peer = netnstest.New(t, "vip", "b")
	netnstest.Run(t, "ip", "link", "add", testIf, "netns", local, "type", "veth", "peer", "name", testPeer, "netns", peer)
	for _, s := range []struct{ ns, ifname string }{{local, testIf}, {peer, testPeer}} {
		netnstest.Run(t, "ip", "netns", "exec", s.ns, "sysctl", "-q", "-w", "net.ipv6.conf."+s.ifname+".accept_dad=0")
		netnstest.Run(t, "ip", "-n", s.ns, "link", "set", s.ifname, "up")
	}
	// The kernel adds the IPv6 link-local address a moment after the link
	// comes up (later still on a loaded machine); until then an unsolicited
	// NA cannot be sent ("cannot assign requested address"). Wait for it,
	// bounded.
	for _, s := range []struct{ ns, ifname string }{{local, testIf}, {peer, testPeer}} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, _ := exec.Command("ip", "-n", s.ns, "-6", "-o", "addr", "show", "dev", s.ifname, "scope", "link").CombinedOutput()
			if strings.Contains(string(out), "fe80") && !strings.Contains(string(out), "tentative") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s: no usable IPv6 link-local address after 10 s: %s", s.ifname, s.ns, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return local, peer
}

// kernelAddrs returns the addresses on ifname in the current namespace, keyed
// by address.
func kernelAddrs(t *testing.T, ifname string) map[netip.Addr]netlink.Addr {
	t.Helper()
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("link %s: %v", ifname, err)
	}
	list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("addr list: %v", err)
	}
	out := make(map[netip.Addr]netlink.Addr, len(list))
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		out[ip.Unmap()] = a
	}
	return out
}

func assertPresent(t *testing.T, m *Manager, wantHeld, wantMissing []netip.Prefix) {
	t.Helper()
	held, missing, err := m.Present()
	if err != nil {
		t.Fatalf("Present: %v", err)
	}
	if !slices.Equal(held, wantHeld) || !slices.Equal(missing, wantMissing) {
		t.Fatalf("Present() = held %v missing %v, want held %v missing %v", held, missing, wantHeld, wantMissing)
	}
}

func TestManagerNetns(t *testing.T) {
	local, _ := newLab(t)
	netnstest.In(t, local, func() {
		ctx := t.Context()
		m, err := New(testIf, testVIPs, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		assertPresent(t, m, nil, testVIPs)

		// Add makes every address appear, IPv6 usable at once.
		if err := m.Add(ctx); err != nil {
			t.Fatalf("Add: %v", err)
		}
		got := kernelAddrs(t, testIf)
		for _, p := range testVIPs {
			a, ok := got[p.Addr()]
			if !ok {
				t.Fatalf("after Add, %s missing from kernel: %v", p, got)
			}
			if ones, _ := a.Mask.Size(); ones != p.Bits() {
				t.Errorf("%s has prefix length %d, want %d", p, ones, p.Bits())
			}
			if p.Addr().Is6() {
				if a.Flags&unix.IFA_F_TENTATIVE != 0 {
					t.Errorf("%s is tentative (flags %#x)", p, a.Flags)
				}
				if a.Flags&unix.IFA_F_NODAD == 0 {
					t.Errorf("%s lacks nodad (flags %#x)", p, a.Flags)
				}
			} else if a.Label != testIf+labelSuffix {
				t.Errorf("%s label = %q, want %q", p, a.Label, testIf+labelSuffix)
			}
		}
		assertPresent(t, m, testVIPs, nil)

		// Add again is fine.
		if err := m.Add(ctx); err != nil {
			t.Fatalf("second Add: %v", err)
		}
		assertPresent(t, m, testVIPs, nil)

		// Reconcile restores an address deleted behind our back.
		link, err := netlink.LinkByName(testIf)
		if err != nil {
			t.Fatal(err)
		}
		gone := testVIPs[2]
		if err := netlink.AddrDel(link, &netlink.Addr{IPNet: prefixToIPNet(gone)}); err != nil {
			t.Fatalf("delete %s behind the manager's back: %v", gone, err)
		}
		assertPresent(t, m, testVIPs[:2], []netip.Prefix{gone})
		changed, err := m.Reconcile(ctx, true)
		if err != nil || !changed {
			t.Fatalf("Reconcile(true) = %v, %v; want true, nil", changed, err)
		}
		assertPresent(t, m, testVIPs, nil)
		if changed, err := m.Reconcile(ctx, true); err != nil || changed {
			t.Fatalf("Reconcile(true) when all held = %v, %v; want false, nil", changed, err)
		}

		// Remove takes every address off, and again is fine.
		if err := m.Remove(ctx); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		got = kernelAddrs(t, testIf)
		for _, p := range testVIPs {
			if _, ok := got[p.Addr()]; ok {
				t.Errorf("after Remove, %s still on the interface", p)
			}
		}
		assertPresent(t, m, nil, testVIPs)
		if err := m.Remove(ctx); err != nil {
			t.Fatalf("second Remove: %v", err)
		}

		// Reconcile removes an address added while not wanted, even with a
		// different prefix length than configured.
		netnstest.Run(t, "ip", "addr", "add", "192.0.2.101/28", "dev", testIf)
		assertPresent(t, m, testVIPs[1:2], []netip.Prefix{testVIPs[0], testVIPs[2]})
		changed, err = m.Reconcile(ctx, false)
		if err != nil || !changed {
			t.Fatalf("Reconcile(false) = %v, %v; want true, nil", changed, err)
		}
		assertPresent(t, m, nil, testVIPs)
		if changed, err := m.Reconcile(ctx, false); err != nil || changed {
			t.Fatalf("Reconcile(false) when none held = %v, %v; want false, nil", changed, err)
		}

		// A missing interface is an error, not a panic.
		bad, err := New("nosuch0", testVIPs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := bad.Present(); err == nil {
			t.Fatal("Present on a missing interface returned nil error")
		}
	})
}

func TestManagerCancelledContext(t *testing.T) {
	local, _ := newLab(t)
	netnstest.In(t, local, func() {
		m, err := New(testIf, testVIPs, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := m.Add(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Add with cancelled ctx = %v, want context.Canceled", err)
		}
		assertPresent(t, m, nil, testVIPs)
	})
}

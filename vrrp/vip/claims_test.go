package vip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/redis-vip/redis-vip/internal/netnstest"
)

// A probe is the announcement (TestBuildGratuitousARP checks every field)
// with no sender protocol address.
func TestBuildARPProbe(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	ip := netip.MustParseAddr("192.0.2.100")
	want := buildGratuitousARP(mac, ip)
	clear(want[28:32])
	if got := buildARPProbe(mac, ip); !bytes.Equal(got, want) {
		t.Fatalf("probe\n% x\nwant\n% x", got, want)
	}
}

func TestParseClaim(t *testing.T) {
	own := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	vip := netip.MustParseAddr("192.0.2.100")
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.99"), vip}
	reply := func(from net.HardwareAddr, ip netip.Addr) []byte {
		b := buildGratuitousARP(from, ip)
		binary.BigEndian.PutUint16(b[20:22], arpOpReply)
		copy(b[0:6], own)
		copy(b[32:38], own)
		clear(b[38:42])
		return b
	}
	mod := func(b []byte, f func([]byte)) []byte { f(b); return b }
	for _, tc := range []struct {
		name  string
		frame []byte
		claim bool
	}{
		{"gratuitous ARP from another host", buildGratuitousARP(other, vip), true},
		{"its answer to a probe", reply(other, vip), true},
		{"our own gratuitous ARP", buildGratuitousARP(own, vip), false},
		{"a frame from us with another sender address", mod(buildGratuitousARP(other, vip), func(b []byte) { copy(b[6:12], own) }), false},
		{"another host's address, not a VIP", buildGratuitousARP(other, netip.MustParseAddr("192.0.2.12")), false},
		{"a probe (no sender address)", buildARPProbe(other, vip), false},
		{"zero sender hardware address", buildGratuitousARP(make(net.HardwareAddr, 6), vip), false},
		{"other opcode (RARP reply)", mod(buildGratuitousARP(other, vip), func(b []byte) { b[21] = 4 }), false},
		{"not ARP", mod(buildGratuitousARP(other, vip), func(b []byte) { b[13] = 0x00 }), false},
		{"truncated", buildGratuitousARP(other, vip)[:40], false},
		{"IPv6 over ARP", mod(buildGratuitousARP(other, vip), func(b []byte) { b[16], b[17] = 0x86, 0xdd }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip, mac, ok := parseClaim(tc.frame, own, vips)
			if ok != tc.claim {
				t.Fatalf("claim = %v, want %v", ok, tc.claim)
			}
			if ok && (ip != vip || !bytes.Equal(mac, other)) {
				t.Fatalf("claim of %s by %s, want %s by %s", ip, mac, vip, other)
			}
		})
	}
}

func TestWaitClaimedNeedsIPv4(t *testing.T) {
	m, err := New("eth0", testVIPs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.WaitClaimed(t.Context(), time.Second); !errors.Is(err, ErrClaimsUnsupported) {
		t.Fatalf("WaitClaimed with an IPv6 VIP = %v, want ErrClaimsUnsupported", err)
	}
}

var claimVIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}

// inNetnsAsync runs f on a new goroutine whose thread is switched into the
// named namespace and then discarded, and returns f's error on a channel.
func inNetnsAsync(name string, f func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := netns.GetFromName(name)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		if err == nil {
			err = f()
		}
		done <- err
	}()
	return done
}

// peerMAC returns testPeer's Ethernet address in namespace peer.
func peerMAC(t *testing.T, peer string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	netnstest.In(t, peer, func() {
		link, err := netlink.LinkByName(testPeer)
		if err != nil {
			t.Fatal(err)
		}
		mac = link.Attrs().HardwareAddr
	})
	return mac
}

// holdVIP puts the VIPs on testIf in namespace local.
func holdVIP(t *testing.T, local string) *Manager {
	t.Helper()
	var m *Manager
	netnstest.In(t, local, func() {
		var err error
		if m, err = New(testIf, claimVIPs, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	return m
}

// wantClaim waits (in namespace local, probing every 20 ms, bounded) for
// m's VIP to be claimed, and checks that mac claimed it.
func wantClaim(t *testing.T, local string, m *Manager, mac net.HardwareAddr) {
	t.Helper()
	netnstest.In(t, local, func() {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ip, from, err := m.WaitClaimed(ctx, 20*time.Millisecond)
		if err != nil {
			t.Fatalf("WaitClaimed: %v", err)
		}
		if ip != claimVIPs[0].Addr() || !bytes.Equal(from, mac) {
			t.Fatalf("claim of %s by %s, want %s by %s", ip, from, claimVIPs[0].Addr(), mac)
		}
	})
}

func TestWaitClaimedSeesTheNewHoldersAnnouncement(t *testing.T) {
	local, peer := newLab(t)
	m := holdVIP(t, local)
	mac := peerMAC(t, peer)
	// The peer answers no ARP request at all (arp_ignore 8), so only its
	// gratuitous ARP can end the wait.
	netnstest.Run(t, "ip", "netns", "exec", peer, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=8")
	announcing, stop := context.WithCancel(t.Context())
	defer stop()
	took := inNetnsAsync(peer, func() error {
		p, err := New(testPeer, claimVIPs, nil)
		if err != nil {
			return err
		}
		if err := p.Add(announcing); err != nil {
			return err
		}
		// Until the watcher has seen one, however late it starts.
		if err := p.Announce(announcing, maxAnnounceCount, 20*time.Millisecond); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("announce: %v", err)
		}
		return nil
	})
	wantClaim(t, local, m, mac)
	stop()
	if err := <-took; err != nil {
		t.Fatalf("peer: %v", err)
	}
}

func TestWaitClaimedProbesAHolderThatDoesNotAnnounce(t *testing.T) {
	local, peer := newLab(t)
	m := holdVIP(t, local)
	mac := peerMAC(t, peer)
	netnstest.Run(t, "ip", "-n", peer, "addr", "add", "192.0.2.100/24", "dev", testPeer)
	wantClaim(t, local, m, mac)
}

func TestWaitClaimedEndsWithItsContext(t *testing.T) {
	local, peer := newLab(t)
	m := holdVIP(t, local)
	// The peer holds another address: it answers nothing, and our own
	// probes are no claims.
	netnstest.Run(t, "ip", "-n", peer, "addr", "add", "192.0.2.12/24", "dev", testPeer)
	netnstest.In(t, local, func() {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if _, _, err := m.WaitClaimed(ctx, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitClaimed = %v, want context.DeadlineExceeded", err)
		}
	})
}

package vip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/redis-vip/redis-vip/internal/netnstest"
)

// frameListener captures every frame arriving on one interface.
type frameListener struct{ fd int }

// listenFrames opens an AF_PACKET capture on ifname in the current namespace.
func listenFrames(t *testing.T, ifname string) *frameListener {
	t.Helper()
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("link %s: %v", ifname, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Attrs().Index}); err != nil {
		t.Fatalf("bind packet socket: %v", err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatalf("SO_RCVTIMEO: %v", err)
	}
	return &frameListener{fd: fd}
}

// next returns the next frame, or nil when none arrived within the socket's
// receive timeout.
func (l *frameListener) next(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	n, _, err := unix.Recvfrom(l.fd, buf, 0)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return nil
	}
	if err != nil {
		t.Fatalf("recvfrom: %v", err)
	}
	return buf[:n]
}

// checkARP verifies a captured gratuitous ARP frame and returns the announced
// address, or false when the frame is not ARP.
func checkARP(t *testing.T, f []byte, mac net.HardwareAddr) (netip.Addr, bool) {
	t.Helper()
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != 0x0806 {
		return netip.Addr{}, false
	}
	check := func(name string, got, want []byte) {
		if !bytes.Equal(got, want) {
			t.Errorf("ARP %s = % x, want % x", name, got, want)
		}
	}
	check("eth dst", f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	check("eth src", f[6:12], mac)
	check("htype/ptype/hlen/plen", f[14:20], []byte{0, 1, 0x08, 0x00, 6, 4})
	check("op", f[20:22], []byte{0, 1})
	check("sender mac", f[22:28], mac)
	check("sender ip = target ip", f[28:32], f[38:42])
	ip, _ := netip.AddrFromSlice(f[28:32])
	return ip, true
}

// checkNA verifies a captured unsolicited Neighbour Advertisement and
// returns its target, or false when the frame is not an NA.
func checkNA(t *testing.T, f []byte, mac net.HardwareAddr) (netip.Addr, bool) {
	t.Helper()
	const ip6 = 14
	const icmp = ip6 + 40
	if len(f) < icmp+32 || binary.BigEndian.Uint16(f[12:14]) != 0x86dd || f[ip6+6] != 58 || f[icmp] != 136 {
		return netip.Addr{}, false
	}
	check := func(name string, got, want []byte) {
		if !bytes.Equal(got, want) {
			t.Errorf("NA %s = % x, want % x", name, got, want)
		}
	}
	allNodes := netip.MustParseAddr("ff02::1").AsSlice()
	check("eth dst", f[0:6], []byte{0x33, 0x33, 0, 0, 0, 1})
	check("eth src", f[6:12], mac)
	check("ip version", []byte{f[ip6] >> 4}, []byte{6})
	check("payload length", f[ip6+4:ip6+6], []byte{0, 32})
	check("hop limit", f[ip6+7:ip6+8], []byte{255})
	check("ip dst", f[ip6+24:ip6+40], allNodes)
	check("code", f[icmp+1:icmp+2], []byte{0})
	check("flags", f[icmp+4:icmp+8], []byte{0x20, 0, 0, 0})
	check("option", f[icmp+24:icmp+32], append([]byte{2, 1}, mac...))

	// The kernel filled the checksum: the sum over the pseudo-header and the
	// message must fold to all ones.
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	add(f[ip6+8 : ip6+40]) // source and destination
	sum += 32 + 58         // upper-layer length and next header
	add(f[icmp : icmp+32])
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Errorf("NA checksum does not verify (folded sum %#x)", sum)
	}
	target, _ := netip.AddrFromSlice(f[icmp+8 : icmp+24])
	return target, true
}

func TestAnnounceNetns(t *testing.T) {
	local, peer := newLab(t)
	var l *frameListener
	netnstest.In(t, peer, func() { l = listenFrames(t, testPeer) })

	const rounds = 2
	var mac net.HardwareAddr
	netnstest.In(t, local, func() {
		m, err := New(testIf, testVIPs, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Add(t.Context()); err != nil {
			t.Fatalf("Add: %v", err)
		}
		link, err := netlink.LinkByName(testIf)
		if err != nil {
			t.Fatal(err)
		}
		mac = link.Attrs().HardwareAddr
		if err := m.Announce(t.Context(), rounds, time.Millisecond); err != nil {
			t.Fatalf("Announce: %v", err)
		}
	})

	want := map[netip.Addr]int{}
	for _, p := range testVIPs {
		want[p.Addr()] = rounds
	}
	seen := map[netip.Addr]int{}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		f := l.next(t)
		if f == nil {
			if len(seen) == len(want) && !mapsLess(seen, want) {
				break
			}
			continue
		}
		if ip, ok := checkARP(t, f, mac); ok {
			seen[ip]++
		} else if ip, ok := checkNA(t, f, mac); ok {
			seen[ip]++
		}
	}
	for ip, n := range want {
		if seen[ip] != n {
			t.Errorf("saw %d announcements for %s, want %d (all seen: %v)", seen[ip], ip, n, seen)
		}
	}
	for ip := range seen {
		if _, ok := want[ip]; !ok {
			t.Errorf("unexpected announcement for %s", ip)
		}
	}
}

// mapsLess reports whether some count in got is below want's.
func mapsLess(got, want map[netip.Addr]int) bool {
	for k, n := range want {
		if got[k] < n {
			return true
		}
	}
	return false
}

func TestAnnounceHonoursContext(t *testing.T) {
	local, _ := newLab(t)
	netnstest.In(t, local, func() {
		m, err := New(testIf, testVIPs, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = m.Announce(ctx, maxAnnounceCount, time.Hour)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Announce = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Announce took %v after its context ended", d)
		}
	})
}

package transition

import (
	"net/netip"
	"testing"

	"github.com/redis-vip/redis-vip/node"
)

// yields on parsed addresses answers as it did on their host:port strings:
// IP bytes then port for IP literals, the strings otherwise.
func TestYieldsAsOnStrings(t *testing.T) {
	onStrings := func(l, p string) bool {
		la, errL := netip.ParseAddrPort(l)
		pa, errP := netip.ParseAddrPort(p)
		if errL != nil || errP != nil {
			return l < p
		}
		return la.Compare(pa) < 0
	}
	addrs := []node.Addr{{}, {Host: "192.0.2.1", Port: 6379}, {Host: "192.0.2.2", Port: 6379}, {Host: "192.0.2.10", Port: 6379},
		{Host: "192.0.2.1", Port: 6380}, {Host: "::1", Port: 6379}, {Host: "2001:db8::1", Port: 6379}, {Host: "::ffff:192.0.2.1", Port: 6379},
		{Host: "fe80::1%eth0", Port: 6379}, {Host: "redis-a.test", Port: 6379}, {Host: "redis-b.test", Port: 6379}, {Host: "192.0.2.1", Port: 0}}
	for _, l := range addrs {
		for _, p := range addrs {
			if got, want := yields(l, p), onStrings(l.String(), p.String()); got != want {
				t.Errorf("yields(%q, %q) = %v, want %v", l, p, got, want)
			}
		}
	}
	if !yields(node.Addr{Host: "192.0.2.2", Port: 6379}, node.Addr{Host: "192.0.2.10", Port: 6379}) {
		t.Error("192.0.2.2 compared as a string with 192.0.2.10")
	}
}

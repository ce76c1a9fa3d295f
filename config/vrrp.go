package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// VRRP is an instance's `vrrp:` section, the built-in VRRP mode's settings
// (redis-vip run), defaults applied and checked. Its fields are those of
// router.Settings, which it converts to.
type VRRP struct {
	// Interface carries the adverts and the VIPs.
	Interface string
	// VRID is the virtual router ID, 1..255; both hosts use the same one.
	VRID uint8
	// Priority is the local priority, 1..255; the higher wins.
	Priority uint8
	// AdvertInterval is how often a Master advertises.
	AdvertInterval time.Duration
	// Version is the VRRP version, 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
	Version int
	// VIPs are the virtual addresses with their prefix length, of one family.
	VIPs []netip.Prefix
	// UnicastPeers, when set, are where adverts go instead of the group.
	UnicastPeers []netip.Addr
	// Source is the address adverts are sent from (zero: the interface's).
	Source netip.Addr
	// NoPreempt keeps a Backup with a higher priority from taking over.
	NoPreempt bool
	// CheckInterval is the period of the in-process health check.
	CheckInterval time.Duration
	// Rise and Fall are the passing and failing checks in a row that
	// change the health.
	Rise, Fall int
	// GARPCount rounds of gratuitous ARP / unsolicited NA, GARPInterval
	// apart, announce the VIPs on becoming Master.
	GARPCount    int
	GARPInterval time.Duration
	// GARPRefresh, when positive, repeats GARPRefreshRepeat rounds that
	// often while the VIPs are held.
	GARPRefresh       time.Duration
	GARPRefreshRepeat int
}

// maxGARPCount is the most announcements one round of vip.Manager sends.
const maxGARPCount = 100

func (v VRRP) clone() VRRP {
	v.VIPs = slices.Clone(v.VIPs)
	v.UnicastPeers = slices.Clone(v.UnicastPeers)
	return v
}

// decodeVRRP reads a `vrrp:` section against the vrrp.* settings, defaults
// first, and checks every value; it returns every problem at once.
func decodeVRRP(section *yaml.Node) (VRRP, []string) {
	keys := keysOf("vrrp.", true)
	v := values{}
	for _, s := range Settings {
		if k, ok := strings.CutPrefix(s.Key, "vrrp."); ok && s.Default != "" {
			v[k] = scalarNode(s.Default)
		}
	}
	unknown := keys.walk(section, "", v)
	p := &parser{v: v, problems: unknown}
	var s VRRP
	if name, _, ok := p.scalar("interface"); !ok || name == "" {
		p.bad(nil, "interface: missing")
	} else if len(name) > 15 || strings.ContainsAny(name, "/ \t:") {
		p.bad(v["interface"], "interface %q: not a valid interface name", name)
	} else {
		s.Interface = name
	}
	var i int
	if isNull(v["vrid"]) {
		p.bad(nil, "vrid: missing (1-255, the same on both hosts)")
	} else if p.integer("vrid", 1, 255, &i) {
		s.VRID = uint8(i)
	}
	if p.integer("priority", 1, 255, &i) {
		s.Priority = uint8(i)
	}
	versionOK := p.integer("version", 2, 3, &s.Version)
	if p.duration("advert_interval", true, &s.AdvertInterval) && versionOK {
		switch {
		case s.Version == 2 && (s.AdvertInterval < fsm.V2IntervalUnit || s.AdvertInterval > fsm.V2MaxInterval || s.AdvertInterval%fsm.V2IntervalUnit != 0):
			p.bad(v["advert_interval"], "advert_interval %s: VRRP version 2 wants whole seconds from 1s to 255s", s.AdvertInterval)
		case s.Version == 3 && (s.AdvertInterval < fsm.V3IntervalUnit || s.AdvertInterval > fsm.V3MaxInterval || s.AdvertInterval%fsm.V3IntervalUnit != 0):
			p.bad(v["advert_interval"], "advert_interval %s: VRRP version 3 wants a multiple of 10ms from 10ms to 40.95s", s.AdvertInterval)
		}
	}
	if vips, ok := p.list("vips"); ok || isNull(v["vips"]) {
		s.VIPs = parseVIPs(vips, func(format string, args ...any) { p.bad(v["vips"], format, args...) })
	}
	fam := ""
	if len(s.VIPs) > 0 {
		fam = family(s.VIPs[0].Addr())
		for _, vip := range s.VIPs[1:] {
			if family(vip.Addr()) != fam {
				p.bad(v["vips"], "vips: mix IPv4 and IPv6; one VRRP instance carries one family (configure a second instance for the other)")
				break
			}
		}
		if s.Version == 2 && fam == "IPv6" {
			p.bad(v["vips"], "vips: VRRP version 2 carries IPv4 only; use version: 3 for IPv6")
		}
	}
	peers, _ := p.list("unicast_peers")
	for _, a := range peers {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			p.bad(v["unicast_peers"], "unicast_peers: %q is not an IP address", a)
			continue
		}
		ip = ip.Unmap()
		switch {
		case fam != "" && family(ip) != fam:
			p.bad(v["unicast_peers"], "unicast_peers: %s is not of the VIPs' family (%s)", ip, fam)
		case !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast():
			p.bad(v["unicast_peers"], "unicast_peers: %s is not a unicast address", ip)
		case isVIP(s.VIPs, ip):
			p.bad(v["unicast_peers"], "unicast_peers: %s is one of the vips", ip)
		case slices.Contains(s.UnicastPeers, ip):
			p.bad(v["unicast_peers"], "unicast_peers: %s listed twice", ip)
		default:
			s.UnicastPeers = append(s.UnicastPeers, ip)
		}
	}
	if src, n, ok := p.scalar("source"); ok {
		ip, err := netip.ParseAddr(src)
		switch {
		case err != nil || ip.Zone() != "":
			p.bad(n, "source: %q is not an IP address", src)
		case fam != "" && family(ip.Unmap()) != fam:
			p.bad(n, "source: %s is not of the VIPs' family (%s)", ip, fam)
		case isVIP(s.VIPs, ip.Unmap()):
			p.bad(n, "source: %s is one of the vips; adverts must come from the host's own address", ip)
		default:
			s.Source = ip.Unmap()
		}
	}
	p.boolean("nopreempt", &s.NoPreempt)
	if p.duration("check_interval", true, &s.CheckInterval) && s.CheckInterval < 10*time.Millisecond {
		p.bad(v["check_interval"], "check_interval %s: want at least 10ms", s.CheckInterval)
	}
	p.integer("rise", 1, 1000, &s.Rise)
	p.integer("fall", 1, 1000, &s.Fall)
	p.integer("garp_count", 0, maxGARPCount, &s.GARPCount)
	if p.duration("garp_interval", true, &s.GARPInterval) && (s.GARPInterval < 0 || s.GARPInterval > 10*time.Second) {
		p.bad(v["garp_interval"], "garp_interval %s: want 0-10s", s.GARPInterval)
	}
	if p.duration("garp_master_refresh", true, &s.GARPRefresh) && s.GARPRefresh != 0 && (s.GARPRefresh < time.Second || s.GARPRefresh > 24*time.Hour) {
		p.bad(v["garp_master_refresh"], "garp_master_refresh %s: want 0 (off) or 1s-24h", s.GARPRefresh)
	}
	p.integer("garp_master_refresh_repeat", 1, maxGARPCount, &s.GARPRefreshRepeat)
	return s, p.problems
}

func parseVIPs(list []string, bad func(string, ...any)) []netip.Prefix {
	if len(list) == 0 {
		bad("vips: missing (at least one address, e.g. 192.0.2.10/24)")
		return nil
	}
	var out []netip.Prefix
	for _, v := range list {
		var p netip.Prefix
		var err error
		if strings.Contains(v, "/") {
			p, err = netip.ParsePrefix(v)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(v); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || p.Addr().Zone() != "" {
			bad("vips: %q is not an address or CIDR", v)
			continue
		}
		a := p.Addr()
		switch {
		case a.Is4In6():
			bad("vips: %s: write IPv4 addresses in their plain form", v)
		case !a.IsGlobalUnicast():
			bad("vips: %s is not a global unicast address", v)
		case isVIP(out, a):
			bad("vips: %s listed twice", a)
		default:
			out = append(out, p)
		}
	}
	return out
}

func isVIP(vips []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(vips, func(p netip.Prefix) bool { return p.Addr() == a })
}

func family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// VRRPCollisions finds instances that would fight over one virtual router
// or one VIP on this host: the same vrid on one interface and family, or
// a VIP held by two. It looks at the instances `run` drives together,
// each with a valid `vrrp:` section.
func VRRPCollisions(insts []Instance) []string {
	var p []string
	for i, a := range insts {
		for _, b := range insts[i+1:] {
			if a.vrrp == nil || b.vrrp == nil {
				continue
			}
			av, bv := a.vrrp, b.vrrp
			if av.Interface == bv.Interface && av.VRID == bv.VRID && family(av.VIPs[0].Addr()) == family(bv.VIPs[0].Addr()) {
				p = append(p, fmt.Sprintf("instances %s and %s: both use vrid %d on %s; give each its own vrid", a.Name, b.Name, av.VRID, av.Interface))
			}
			for _, vip := range av.VIPs {
				if isVIP(bv.VIPs, vip.Addr()) {
					p = append(p, fmt.Sprintf("instances %s and %s: both hold VIP %s", a.Name, b.Name, vip.Addr()))
				}
			}
		}
	}
	return p
}

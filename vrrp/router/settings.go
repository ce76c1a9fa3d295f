package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// Defaults of the settings that have one.
const (
	DefaultPriority       = 100
	DefaultVersion        = 3
	DefaultAdvertInterval = time.Second
	DefaultCheckInterval  = time.Second
	DefaultRise           = 2
	DefaultFall           = 2
	DefaultGARPCount      = 5
	DefaultGARPInterval   = 100 * time.Millisecond
)

// maxGARPCount is the most announcements vip.Manager.Announce sends.
const maxGARPCount = 100

// Settings are one instance's built-in VRRP settings: the `vrrp:` section of
// the instance in the configuration file, with defaults applied.
type Settings struct {
	// Interface is the network interface that carries the adverts and the VIPs.
	Interface string
	// VRID is the virtual router ID, 1..255; both hosts use the same one.
	VRID uint8
	// Priority is the local priority, 1..255 (default 100); the higher wins.
	Priority uint8
	// AdvertInterval is how often a Master advertises (default 1s): a
	// multiple of 10ms up to 40.95s for version 3, whole seconds up to 255s
	// for version 2.
	AdvertInterval time.Duration
	// Version is the VRRP version, 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
	Version int
	// VIPs are the virtual addresses with their prefix length, all of one
	// address family.
	VIPs []netip.Prefix
	// UnicastPeers, when set, are where adverts go instead of the multicast
	// group; adverts from other sources are then ignored.
	UnicastPeers []netip.Addr
	// Source is the address adverts are sent from (default: the
	// interface's primary address of the VIPs' family).
	Source netip.Addr
	// NoPreempt keeps a Backup with a higher priority from taking over from
	// a live Master.
	NoPreempt bool
	// CheckInterval is the period of the in-process health check (default 1s).
	CheckInterval time.Duration
	// Rise is how many passing checks in a row make an unhealthy node
	// healthy again (default 2).
	Rise int
	// Fall is how many failing checks in a row make a healthy node
	// unhealthy (default 2).
	Fall int
	// GARPCount is how many rounds of gratuitous ARP / unsolicited
	// neighbour advertisements announce the VIPs on becoming Master
	// (default 5; 0 sends none).
	GARPCount int
	// GARPInterval is the gap between those rounds (default 100ms).
	GARPInterval time.Duration
	// GARPRefresh, when positive, repeats the announcements every
	// GARPRefresh while the VIPs are held (keepalived's
	// vrrp_garp_master_refresh; default 0: off).
	GARPRefresh time.Duration
	// GARPRefreshRepeat is how many rounds each refresh sends (default 1).
	GARPRefreshRepeat int
}

// Keys lists the keys of the `vrrp:` section with a one-line description
// each, in the order the README shows them.
var Keys = []struct{ Key, Default, Usage string }{
	{"interface", "", "network interface for the adverts and the VIPs (required)"},
	{"vrid", "", "virtual router ID, 1-255, the same on both hosts (required)"},
	{"priority", "100", "1-255; the live node with the higher priority is Master"},
	{"advert_interval", "1s", "how often the Master advertises: v3 10ms-40.95s in steps of 10ms, v2 whole seconds 1-255; a bare number is seconds"},
	{"version", "3", "VRRP version: 3 (RFC 5798) or 2 (RFC 3768, IPv4 only, keepalived's default)"},
	{"vips", "", "virtual addresses, CIDR (192.0.2.10/24) or bare (then /32 or /128), all of one family (required)"},
	{"unicast_peers", "", "send adverts to these addresses instead of multicast; adverts from other sources are ignored"},
	{"source", "", "address to send adverts from (default: the interface's primary address)"},
	{"nopreempt", "false", "do not take over from a live Master of lower priority"},
	{"check_interval", "1s", "period of the in-process health check (the same verdict as redis-vip check)"},
	{"rise", "2", "passing checks in a row before a faulty node may hold the VIP again"},
	{"fall", "2", "failing checks in a row before a node gives the VIP up (FAULT)"},
	{"garp_count", "5", "rounds of gratuitous ARP / unsolicited NA when the VIP is taken (0-100)"},
	{"garp_interval", "100ms", "gap between those rounds"},
	{"garp_master_refresh", "0 (off)", "while master, announce the VIPs again this often (keepalived's vrrp_garp_master_refresh), for switches that forget; at least 1s"},
	{"garp_master_refresh_repeat", "1", "rounds of each periodic announcement (1-100)"},
}

// rawSettings is the YAML shape. Scalars stay nodes until settings parses
// them, so every message names its key and one bad value does not hide
// the others.
type rawSettings struct {
	Interface      yaml.Node `yaml:"interface"`
	VRID           yaml.Node `yaml:"vrid"`
	Priority       yaml.Node `yaml:"priority"`
	AdvertInterval yaml.Node `yaml:"advert_interval"`
	Version        yaml.Node `yaml:"version"`
	VIPs           yaml.Node `yaml:"vips"`
	UnicastPeers   yaml.Node `yaml:"unicast_peers"`
	Source         yaml.Node `yaml:"source"`
	NoPreempt      yaml.Node `yaml:"nopreempt"`
	CheckInterval  yaml.Node `yaml:"check_interval"`
	Rise           yaml.Node `yaml:"rise"`
	Fall           yaml.Node `yaml:"fall"`
	GARPCount      yaml.Node `yaml:"garp_count"`
	GARPInterval   yaml.Node `yaml:"garp_interval"`
	GARPRefresh    yaml.Node `yaml:"garp_master_refresh"`
	GARPRepeat     yaml.Node `yaml:"garp_master_refresh_repeat"`
}

// Present reports whether an instance's `vrrp:` node holds a section.
func Present(n *yaml.Node) bool {
	return n != nil && !isNull(n)
}

// isNull reports whether a node is absent or an explicit null.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

var (
	yamlLine     = regexp.MustCompile(`^line \d+: `)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// DecodeSettings reads an instance's `vrrp:` section, rejecting unknown keys,
// applies the defaults and checks every value. All problems are reported at
// once, in one error that wraps config.ErrConfig.
func DecodeSettings(n *yaml.Node) (Settings, error) {
	if !Present(n) {
		return Settings{}, fmt.Errorf("%w: vrrp: section missing", config.ErrConfig)
	}
	if n.Kind != yaml.MappingNode {
		return Settings{}, fmt.Errorf("%w: vrrp: want a mapping of settings", config.ErrConfig)
	}
	var raw rawSettings
	var problems []string
	b, err := yaml.Marshal(n)
	if err != nil {
		return Settings{}, fmt.Errorf("%w: vrrp: %v", config.ErrConfig, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return Settings{}, fmt.Errorf("%w: vrrp: %v", config.ErrConfig, err)
		}
		// The node was re-encoded, so its line numbers mean nothing.
		for _, e := range te.Errors {
			e = yamlLine.ReplaceAllString(e, "")
			if m := unknownField.FindStringSubmatch(e); m != nil {
				e = fmt.Sprintf("unknown key %q (known: %s)", m[1], knownKeys())
			}
			problems = append(problems, e)
		}
	}
	s, more := raw.settings()
	problems = append(problems, more...)
	if len(problems) > 0 {
		return Settings{}, fmt.Errorf("%w: vrrp: %s", config.ErrConfig, strings.Join(problems, "; "))
	}
	return s, nil
}

func knownKeys() string {
	keys := make([]string, len(Keys))
	for i, k := range Keys {
		keys[i] = k.Key
	}
	return strings.Join(keys, ", ")
}

// parser reads scalar nodes and collects problems.
type parser struct{ problems []string }

func (p *parser) bad(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// scalar returns the node's text and whether it is set; a non-scalar is a
// problem.
func (p *parser) scalar(key string, n *yaml.Node) (string, bool) {
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.bad("%s: want a single value", key)
		return "", false
	}
	return n.Value, true
}

// integer reads a whole number in lo..hi into dst.
func (p *parser) integer(key string, n *yaml.Node, lo, hi int, dst *int) bool {
	v, ok := p.scalar(key, n)
	if !ok {
		return false
	}
	i, err := strconv.Atoi(v)
	if err != nil || n.Tag != "!!int" {
		p.bad("%s %q: want a whole number", key, v)
		return false
	}
	if i < lo || i > hi {
		p.bad("%s %d: want %d-%d", key, i, lo, hi)
		return false
	}
	*dst = i
	return true
}

// boolean reads true or false into dst.
func (p *parser) boolean(key string, n *yaml.Node, dst *bool) {
	v, ok := p.scalar(key, n)
	if !ok {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil || n.Tag != "!!bool" {
		p.bad("%s %q: want true or false", key, v)
		return
	}
	*dst = b
}

// list reads a list of scalars; a single scalar counts as a list of one.
// It reports false when the key is absent or malformed.
func (p *parser) list(key string, n *yaml.Node) ([]string, bool) {
	if isNull(n) {
		return nil, false
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		p.bad("%s: want a list of addresses", key)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			p.bad("%s: want a list of addresses", key)
			return nil, false
		}
		out = append(out, c.Value)
	}
	return out, true
}

// duration reads "100ms"-style durations, or a bare number of seconds (as
// keepalived's advert_int), into dst.
func (p *parser) duration(key string, n *yaml.Node, dst *time.Duration) bool {
	v, ok := p.scalar(key, n)
	if !ok {
		return false
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1e6 {
			p.bad("%s %q: want a duration like 100ms or a number of seconds", key, v)
			return false
		}
		// Round to the microsecond so 0.29 is 290ms, not 289.999999ms.
		*dst = time.Duration(math.Round(f*1e6)) * time.Microsecond
		return true
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.bad("%s %q: want a duration like 100ms or a number of seconds", key, v)
		return false
	}
	*dst = d
	return true
}

// settings applies defaults and checks every value, returning all problems.
func (r *rawSettings) settings() (Settings, []string) {
	var p parser
	s := Settings{
		Priority: DefaultPriority, Version: DefaultVersion, AdvertInterval: DefaultAdvertInterval,
		CheckInterval: DefaultCheckInterval, Rise: DefaultRise, Fall: DefaultFall,
		GARPCount: DefaultGARPCount, GARPInterval: DefaultGARPInterval, GARPRefreshRepeat: 1,
	}
	if name, ok := p.scalar("interface", &r.Interface); !ok || name == "" {
		p.bad("interface: missing")
	} else if len(name) > 15 || strings.ContainsAny(name, "/ \t:") {
		p.bad("interface %q: not a valid interface name", name)
	} else {
		s.Interface = name
	}
	var i int
	if isNull(&r.VRID) {
		p.bad("vrid: missing (1-255, the same on both hosts)")
	} else if p.integer("vrid", &r.VRID, 1, 255, &i) {
		s.VRID = uint8(i)
	}
	if p.integer("priority", &r.Priority, 1, 255, &i) {
		s.Priority = uint8(i)
	}
	versionOK := true
	if !isNull(&r.Version) {
		versionOK = p.integer("version", &r.Version, 2, 3, &s.Version)
	}
	intervalOK := true
	if !isNull(&r.AdvertInterval) {
		intervalOK = p.duration("advert_interval", &r.AdvertInterval, &s.AdvertInterval)
	}
	if intervalOK && versionOK {
		switch {
		case s.Version == 2 && (s.AdvertInterval < fsm.V2IntervalUnit || s.AdvertInterval > fsm.V2MaxInterval || s.AdvertInterval%fsm.V2IntervalUnit != 0):
			p.bad("advert_interval %s: VRRP version 2 wants whole seconds from 1s to 255s", s.AdvertInterval)
		case s.Version == 3 && (s.AdvertInterval < fsm.V3IntervalUnit || s.AdvertInterval > fsm.V3MaxInterval || s.AdvertInterval%fsm.V3IntervalUnit != 0):
			p.bad("advert_interval %s: VRRP version 3 wants a multiple of 10ms from 10ms to 40.95s", s.AdvertInterval)
		}
	}

	if vips, ok := p.list("vips", &r.VIPs); ok || isNull(&r.VIPs) {
		s.VIPs = parseVIPs(vips, p.bad)
	}
	var fam transport.Family
	if len(s.VIPs) > 0 {
		fam = familyOf(s.VIPs[0].Addr())
		for _, v := range s.VIPs[1:] {
			if familyOf(v.Addr()) != fam {
				p.bad("vips: mix IPv4 and IPv6; one VRRP instance carries one family (configure a second instance for the other)")
				break
			}
		}
		if s.Version == 2 && fam == transport.IPv6 {
			p.bad("vips: VRRP version 2 carries IPv4 only; use version: 3 for IPv6")
		}
	}
	peers, _ := p.list("unicast_peers", &r.UnicastPeers)
	for _, a := range peers {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			p.bad("unicast_peers: %q is not an IP address", a)
			continue
		}
		ip = ip.Unmap()
		switch {
		case fam != 0 && familyOf(ip) != fam:
			p.bad("unicast_peers: %s is not of the VIPs' family (%s)", ip, fam)
		case !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast():
			p.bad("unicast_peers: %s is not a unicast address", ip)
		case isVIP(s.VIPs, ip):
			p.bad("unicast_peers: %s is one of the vips", ip)
		case slices.Contains(s.UnicastPeers, ip):
			p.bad("unicast_peers: %s listed twice", ip)
		default:
			s.UnicastPeers = append(s.UnicastPeers, ip)
		}
	}
	if src, ok := p.scalar("source", &r.Source); ok {
		ip, err := netip.ParseAddr(src)
		switch {
		case err != nil || ip.Zone() != "":
			p.bad("source: %q is not an IP address", src)
		case fam != 0 && familyOf(ip.Unmap()) != fam:
			p.bad("source: %s is not of the VIPs' family (%s)", ip, fam)
		case isVIP(s.VIPs, ip.Unmap()):
			p.bad("source: %s is one of the vips; adverts must come from the host's own address", ip)
		default:
			s.Source = ip.Unmap()
		}
	}
	p.boolean("nopreempt", &r.NoPreempt, &s.NoPreempt)
	if p.duration("check_interval", &r.CheckInterval, &s.CheckInterval) && s.CheckInterval < 10*time.Millisecond {
		p.bad("check_interval %s: want at least 10ms", s.CheckInterval)
	}
	p.integer("rise", &r.Rise, 1, 1000, &s.Rise)
	p.integer("fall", &r.Fall, 1, 1000, &s.Fall)
	p.integer("garp_count", &r.GARPCount, 0, maxGARPCount, &s.GARPCount)
	if p.duration("garp_interval", &r.GARPInterval, &s.GARPInterval) && (s.GARPInterval < 0 || s.GARPInterval > 10*time.Second) {
		p.bad("garp_interval %s: want 0-10s", s.GARPInterval)
	}
	if p.duration("garp_master_refresh", &r.GARPRefresh, &s.GARPRefresh) && s.GARPRefresh != 0 && (s.GARPRefresh < time.Second || s.GARPRefresh > 24*time.Hour) {
		p.bad("garp_master_refresh %s: want 0 (off) or 1s-24h", s.GARPRefresh)
	}
	p.integer("garp_master_refresh_repeat", &r.GARPRepeat, 1, maxGARPCount, &s.GARPRefreshRepeat)
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

func familyOf(a netip.Addr) transport.Family {
	if a.Unmap().Is4() {
		return transport.IPv4
	}
	return transport.IPv6
}

// Family is the address family of the VIPs and of the adverts.
func (s Settings) Family() transport.Family {
	if len(s.VIPs) == 0 {
		return transport.IPv4
	}
	return familyOf(s.VIPs[0].Addr())
}

// Addresses returns the VIPs without their prefix lengths, as adverts
// carry them.
func (s Settings) Addresses() []netip.Addr {
	out := make([]netip.Addr, len(s.VIPs))
	for i, p := range s.VIPs {
		out[i] = p.Addr()
	}
	return out
}

// MasterDownInterval is the time a Backup of these settings waits without
// hearing a Master before it takes over (3 adverts plus the skew time).
func (s Settings) MasterDownInterval() time.Duration {
	return fsm.MasterDownInterval(s.Version, s.Priority, s.AdvertInterval)
}

// FSMConfig is the state machine's configuration; primary is the address
// the adverts are sent from.
func (s Settings) FSMConfig(primary netip.Addr) fsm.Config {
	return fsm.Config{
		VRID: s.VRID, Priority: s.Priority, AdvertInterval: s.AdvertInterval,
		Preempt: !s.NoPreempt, Version: s.Version, Primary: primary,
	}
}

// Validator is the receive check for adverts meant for this instance.
// VRRPv2 also requires the same interval and address list (RFC 3768 section
// 7.1); VRRPv3 only logs an address mismatch (RFC 5798 section 7.1).
func (s Settings) Validator() packet.Validator {
	v := packet.Validator{Version: packet.Version(s.Version), VRID: s.VRID, Family: packet.Family(s.Family())}
	if s.Version == 2 {
		v.Interval = s.AdvertInterval
		v.Addresses = s.Addresses()
	}
	return v
}

// Destinations are where adverts go: the unicast peers, or the group.
func (s Settings) Destinations() []netip.Addr {
	if len(s.UnicastPeers) > 0 {
		return slices.Clone(s.UnicastPeers)
	}
	return []netip.Addr{s.Family().Group()}
}

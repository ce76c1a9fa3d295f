package node

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Addr is a Redis server's address, host and port, parsed and checked once
// (ParseAddr); the zero Addr is "not set".
type Addr struct {
	Host string
	Port int
}

// ParseAddr parses host:port ([host]:port for IPv6): the host must not be
// empty and the port must be 1-65535.
func ParseAddr(s string) (Addr, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return Addr{}, err
	}
	if host == "" {
		return Addr{}, errors.New("empty host")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return Addr{}, fmt.Errorf("port %q: want 1-65535", portStr)
	}
	return Addr{Host: host, Port: port}, nil
}

// MustParseAddr is ParseAddr for addresses known to be good (tests,
// constants); it panics on a bad one.
func MustParseAddr(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(fmt.Sprintf("node.MustParseAddr(%q): %v", s, err))
	}
	return a
}

// String is host:port, or "" for the zero Addr.
func (a Addr) String() string { return joinHostPort(a.Host, a.Port) }

// IsZero reports whether a is unset.
func (a Addr) IsZero() bool { return a == Addr{} }

// Valid reports whether a is a usable host:port, as ParseAddr returns one:
// a host, and a port 1-65535.
func (a Addr) Valid() bool { return a.Host != "" && a.Port >= 1 && a.Port <= 65535 }

// IsLoopback reports whether the host is localhost or a loopback or
// unspecified IP: an address the peer cannot reach this server by.
func (a Addr) IsLoopback() bool {
	if a.Host == "localhost" {
		return true
	}
	ip := net.ParseIP(a.Host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// Same reports whether a and b name the same server: equal IPs in any
// spelling are the same, hostnames compare as written, the ports must
// match, and the zero Addr is the same as no address, not even itself. The
// rules are SameAddr's, on the parsed fields.
func (a Addr) Same(b Addr) bool {
	return a.Host != "" && b.Host != "" && a.Port == b.Port && sameHost(a.Host, b.Host)
}

// SameAddr compares two host:port strings, treating equal IPs as equal: for
// addresses that arrive as text and are not parsed (config compares its raw
// values with it); parsed addresses use Addr.Same.
func SameAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	return errA == nil && errB == nil && pa == pb && sameHost(ha, hb)
}

// sameHost: equal as written, or IPs equal in any spelling.
func sameHost(a, b string) bool {
	if a == b {
		return true
	}
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}

func joinHostPort(host string, port int) string {
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

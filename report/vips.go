package report

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// VIPAddr turns a VIP given as IP or IP:PORT into ip:port, the port
// defaulting to the port of defaultAddr (the instance's announce address).
func VIPAddr(vip, defaultAddr string) (string, error) {
	host, port := vip, ""
	if h, p, err := net.SplitHostPort(vip); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("vip %q: want an IP address, optionally with :port", vip)
	}
	if port == "" {
		_, p, err := net.SplitHostPort(defaultAddr)
		if err != nil {
			return "", fmt.Errorf("vip %q: no port given and none in %q", vip, defaultAddr)
		}
		port = p
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("vip %q: port %q: want 1-65535", vip, port)
	}
	return net.JoinHostPort(host, port), nil
}

// VIPSpec is one --vip of `redis-vip report`: an address, IP or IP:PORT,
// to look for on one instance, or on every one (Instance "").
type VIPSpec struct{ Instance, Addr string }

// ParseVIPSpecs reads --vip values, [INSTANCE=]IP[:PORT], each possibly a
// comma-separated list (as the environment variable gives them).
func ParseVIPSpecs(values []string) []VIPSpec {
	var out []VIPSpec
	for _, v := range values {
		for _, one := range strings.Split(v, ",") {
			one = strings.TrimSpace(one)
			if one == "" {
				continue
			}
			spec := VIPSpec{Addr: one}
			if name, addr, ok := strings.Cut(one, "="); ok {
				spec = VIPSpec{Instance: name, Addr: addr}
			}
			out = append(out, spec)
		}
	}
	return out
}

// VIPsFor are the specs that apply to an instance, as ip:port, the port
// defaulting to announce's.
func VIPsFor(specs []VIPSpec, instance, announce string) ([]string, error) {
	var out []string
	for _, v := range specs {
		if v.Instance != "" && v.Instance != instance {
			continue
		}
		addr, err := VIPAddr(v.Addr, announce)
		if err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	return out, nil
}

package report

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// guardSlack is added to the guard's own bound (peer wait + connect) for
// the time between guard finishing and redis-server starting.
const guardSlack = time.Minute

// ForInstance builds the Sources of a configured instance with real
// clients; call the returned function to close them.
func ForInstance(inst *config.Instance, vips []string) (Sources, func(), error) {
	local, peer, err := inst.Dial()
	if err != nil {
		return Sources{}, nil, err
	}
	src := Sources{
		Name: inst.Name, Local: local, Peer: peer,
		LocalAddr: inst.Local, LocalAnnounce: inst.Announce, PeerAddr: inst.Peer,
		State:        transition.StateDir{Dir: inst.StateDir, Instance: inst.Name},
		BackupDir:    inst.BackupDir,
		GuardInclude: inst.Guard.Include,
		GuardWindow:  inst.Timeouts.PeerWait + inst.Timeouts.Connect + guardSlack,
		MaxLinkDown:  inst.MaxLinkDown,
		VIPs:         vips,
		Probe: ClientProber{Options: func(addr string) (node.Options, error) {
			tlsCfg, err := inst.TLSConfig(addr)
			if err != nil {
				return node.Options{}, fmt.Errorf("vip %s: %w", addr, err)
			}
			return node.Options{Addr: addr, Username: inst.Username, Password: inst.Password, TLS: tlsCfg,
				DialTimeout: inst.Timeouts.Connect, CommandTimeout: inst.Timeouts.Command}, nil
		}},
		InterfaceAddrs: net.InterfaceAddrs,
		Now:            time.Now,
	}
	return src, func() { local.Close(); peer.Close() }, nil
}

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

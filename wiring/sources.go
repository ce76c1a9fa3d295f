package wiring

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/transition"
)

// guardSlack is added to the guard's own bound (peer wait + connect) for
// the time between guard finishing and redis-server starting.
const guardSlack = time.Minute

// CheckInput reads what the check verdict needs of the instance: both
// servers through local and peer, and its state dir (the error, if any,
// is the state dir's; the verdict is still good).
func CheckInput(ctx context.Context, in config.Instance, local, peer check.FactsReader, now time.Time) (check.Input, error) {
	input, err := check.Gather(ctx, local, peer, StateDir(in), in.Announce, in.Peer, now)
	input.MaxLinkDown = in.MaxLinkDown
	input.StaleMasterAfter = in.Timeouts.Transition
	input.Fence.On, input.Fence.Witness, input.Fence.FenceAfter = in.Fencing(), in.HasWitness(), in.FenceAfter
	input.Fence.PendingSlack, input.Fence.KeeperStale = in.Timeouts.Transition, keeperStale(in)
	return input, err
}

// verdict is the check verdict of the instance, a state dir problem among
// its warnings.
func verdict(ctx context.Context, in config.Instance, local, peer check.FactsReader, now time.Time) check.Result {
	input, err := CheckInput(ctx, in, local, peer, now)
	res := check.Verdict(input)
	if err != nil {
		res.Warnings = append(res.Warnings, "state dir: "+err.Error())
	}
	return res
}

// ReportSources builds what report.Gather reads of an instance, with real
// clients; vips are ip:port addresses to look for. Call the returned
// function to close the clients.
func ReportSources(in config.Instance, vips []string) (report.Sources, func(), error) {
	local, peer, err := Dial(in)
	if err != nil {
		return report.Sources{}, nil, err
	}
	src := report.Sources{
		Name: in.Name, Local: local, Peer: peer,
		LocalAddr: in.Local, LocalAnnounce: in.Announce, PeerAddr: in.Peer,
		State:        StateDir(in),
		BackupDir:    in.BackupDir,
		GuardInclude: in.Guard.Include,
		GuardWindow:  in.Timeouts.PeerWait + in.Timeouts.Connect + guardSlack,
		MaxLinkDown:  in.MaxLinkDown,
		Fence: report.FenceSettings{FenceAfter: in.FenceAfter, Witness: in.Witness.Address,
			PendingSlack: in.Timeouts.Transition, KeeperStale: keeperStale(in)},
		VIPs: vips,
		Probe: report.ClientProber{Options: func(addr node.Addr) (node.Options, error) {
			tlsCfg, err := TLSConfig(in, addr)
			if err != nil {
				return node.Options{}, fmt.Errorf("vip %s: %w", addr, err)
			}
			return node.Options{Addr: addr.String(), Username: in.Username, Password: in.Password, TLS: tlsCfg,
				DialTimeout: in.Timeouts.Connect, CommandTimeout: in.Timeouts.Command}, nil
		}},
		InterfaceAddrs: net.InterfaceAddrs,
		Now:            time.Now,
	}
	return src, func() { local.Close(); peer.Close() }, nil
}

// HealthSource reads an instance for the health endpoints (an
// httpapi.Source): the report's view (with its own clients) and the check
// verdict (with another pair), concurrently, each within the reading's
// deadline. Clients are kept between readings.
type HealthSource struct {
	in          config.Instance
	src         report.Sources
	closeReport func()
	local, peer *node.Client
	vrrp        func() *httpapi.VRRP
}

// NewHealthSource makes the clients of an instance. vips are ip:port
// addresses the report looks for (run: the VIPs with the announce port);
// vrrp, when not nil, returns the Router's state. Close it when done.
func NewHealthSource(in config.Instance, vips []string, vrrp func() *httpapi.VRRP) (*HealthSource, error) {
	src, closeReport, err := ReportSources(in, vips)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	local, peer, err := Dial(in)
	if err != nil {
		closeReport()
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	return &HealthSource{in: in, src: src, closeReport: closeReport, local: local, peer: peer, vrrp: vrrp}, nil
}

// Snapshot reads the pair within ctx.
func (s *HealthSource) Snapshot(ctx context.Context) httpapi.Snapshot {
	now := time.Now()
	snap := httpapi.Snapshot{Instance: s.in.Name, At: now}
	var wg sync.WaitGroup
	wg.Go(func() { snap.Report = report.Gather(ctx, s.src, report.DefaultThresholds()) })
	wg.Go(func() { snap.Check = verdict(ctx, s.in, s.local, s.peer, now) })
	wg.Wait()
	if s.vrrp != nil {
		snap.VRRP = s.vrrp() // read last: the freshest word on the VIP
	}
	return snap
}

// Close closes the clients.
func (s *HealthSource) Close() error {
	s.closeReport()
	s.local.Close()
	return s.peer.Close()
}

// keeperStale is how old the fence keeper's last decision may be before
// check and report say no keeper runs (it rewrites it every
// transition.KeeperHeartbeat at least).
func keeperStale(in config.Instance) time.Duration {
	return max(3*transition.KeeperHeartbeat, 10*in.FenceInterval)
}

package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/transition"
)

// InstanceSource reads a configured instance: the report's view (with its
// own clients) and the check verdict (with another pair), concurrently,
// each within the reading's deadline. Clients are kept between readings.
type InstanceSource struct {
	inst        *config.Instance
	src         report.Sources
	closeReport func()
	local, peer *node.Client
	// VRRP returns the built-in VRRP state (run); nil in keepalived mode.
	vrrp func() *VRRP
}

// NewInstanceSource makes the clients of a configured instance. vips are
// ip:port addresses the report looks for (run: the VIPs with the announce
// port); vrrp, when not nil, returns the Router's state. Close it when done.
func NewInstanceSource(inst *config.Instance, vips []string, vrrp func() *VRRP) (*InstanceSource, error) {
	src, closeReport, err := report.ForInstance(inst, vips)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.Name, err)
	}
	local, peer, err := inst.Dial()
	if err != nil {
		closeReport()
		return nil, fmt.Errorf("instance %s: %w", inst.Name, err)
	}
	return &InstanceSource{inst: inst, src: src, closeReport: closeReport, local: local, peer: peer, vrrp: vrrp}, nil
}

// Snapshot reads the pair within ctx.
func (s *InstanceSource) Snapshot(ctx context.Context) Snapshot {
	now := time.Now()
	snap := Snapshot{Instance: s.inst.Name, At: now}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		snap.Report = report.Gather(ctx, s.src, report.DefaultThresholds())
	}()
	go func() {
		defer wg.Done()
		sd := transition.StateDir{Dir: s.inst.StateDir, Instance: s.inst.Name}
		in, err := check.Gather(ctx, s.local, s.peer, sd, s.inst.Announce, s.inst.Peer, now)
		in.MaxLinkDown = s.inst.MaxLinkDown
		snap.Check = check.Verdict(in)
		if err != nil {
			snap.Check.Warnings = append(snap.Check.Warnings, "state dir: "+err.Error())
		}
	}()
	wg.Wait()
	if s.vrrp != nil {
		snap.VRRP = s.vrrp() // read last: the freshest word on the VIP
	}
	return snap
}

// Close closes the clients.
func (s *InstanceSource) Close() error {
	s.closeReport()
	s.local.Close()
	return s.peer.Close()
}

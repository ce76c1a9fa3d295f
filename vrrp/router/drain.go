package router

import (
	"context"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// Claims tells when another host announces that it holds the VIPs;
// *vip.Manager is one. A Router whose Addresses implement it drains the
// VIPs when it hands the master role over on purpose (see startDrain).
type Claims interface {
	// WaitClaimed returns the first VIP another host announces (a
	// gratuitous ARP, or its answer to the probes sent at once and then
	// every probe) and that host's hardware address, or ctx's error. It
	// fails at once when it cannot watch these VIPs.
	WaitClaimed(ctx context.Context, probe time.Duration) (netip.Addr, net.HardwareAddr, error)
}

// claim is what the drain's watcher saw: another host claimed vip, or err.
type claim struct {
	gen uint64
	vip netip.Addr
	mac net.HardwareAddr
	err error
}

// drain is the state of a drain: a node that left Master on purpose keeps
// the VIPs on the interface until the new master announces them.
type drain struct {
	on    bool
	gen   uint64
	since time.Time
	// until bounds the drain (the new master's promotion and take-over).
	until time.Time
	why   string
	stop  context.CancelFunc
}

// startDrain keeps the VIPs on the interface instead of releasing them,
// when this node held them and leaves Master on purpose: preempted by a
// higher priority (failback), or shut down (a planned move). The clients
// of the local Redis then keep being answered through the VIP while the
// new master runs its transition: until the handover pauses their writes,
// it is still the master; once the handover has made it a replica of the
// new master, its paused writes get -READONLY and its clients are shed
// (S7), all delivered because this host still holds the address. Released
// at once, the VIP would leave every request in flight without an answer
// or a reset (the kernel cannot send from an address it no longer has),
// and the client would wait out its own timeout.
//
// The drain ends when another host announces the VIPs (the new master's
// gratuitous ARP, or its answer to the probes sent every advert interval,
// which also ends it at once when a host already held them: two masters
// that meet after a partition), when this node becomes Master again or
// unhealthy, or at a bound: the new master's transition timeout plus the
// master down interval; on shutdown, the master down interval when no new
// master advertises. It never starts while unhealthy (Fault: the local
// Redis is gone or failing its check), in maintenance mode (the VIPs
// follow the VRRP state), after a higher address won (two masters), or for
// IPv6 VIPs (no watcher). A node shut down while draining drains on. It
// reports whether a drain runs; otherwise the caller releases the VIPs.
func (l *loop) startDrain() bool {
	r := l.r
	claims, ok := r.o.Addresses.(Claims)
	why := ""
	switch {
	case l.state == fsm.Backup && l.reason == fsm.ReasonHigherPriority:
		why = "a node with a higher priority took over"
	case l.state == fsm.Init && l.reason == fsm.ReasonShutdown && !l.stopFatal:
		why = "shutting down"
	}
	switch {
	case why == "" || l.paused || !l.healthy():
		return false
	case l.dr.on:
		return true // shut down while draining: the drain goes on
	case !ok || !l.holding || !allIPv4(r.vips):
		return false
	}
	l.stopAnnouncing()
	l.holding = false
	now := time.Now()
	l.dr.gen++
	l.dr = drain{on: true, gen: l.dr.gen, since: now, until: now.Add(r.o.TransitionTimeout + l.m.MasterDownInterval()), why: why}
	r.setStatus(func(s *Status) { s.HoldsVIP, s.Draining = false, true })
	ctx, cancel := context.WithCancel(l.bg)
	l.dr.stop = cancel
	gen, probe := l.dr.gen, r.o.Settings.AdvertInterval
	l.drainWG.Add(1)
	go func() {
		defer l.drainWG.Done()
		ip, mac, err := claims.WaitClaimed(ctx, probe)
		if ctx.Err() != nil {
			return
		}
		select {
		case l.claimed <- claim{gen: gen, vip: ip, mac: mac, err: err}:
		case <-ctx.Done():
		}
	}()
	r.log.Info("keeping the VIPs until the new master announces them", zap.String("why", why),
		zap.Stringers("vips", r.vips), zap.Duration("bound", l.dr.until.Sub(now)))
	return true
}

// endDrain stops the drain's watcher; the caller removes the VIPs or
// takes them.
func (l *loop) endDrain() {
	if !l.dr.on {
		return
	}
	l.dr.stop()
	l.dr.on = false
	l.r.setStatus(func(s *Status) { s.Draining = false })
}

// onClaim ends the drain when the claim is for the current one.
func (l *loop) onClaim(c claim) {
	r := l.r
	if !l.dr.on || c.gen != l.dr.gen {
		return
	}
	if c.err != nil {
		r.log.Warn("cannot watch for the new master's announcement: releasing the VIPs now", zap.Error(c.err))
	} else {
		r.log.Info("the new master announced the VIPs: releasing them", zap.Stringer("vip", c.vip),
			zap.Stringer("by", c.mac), zap.Duration("drained_for", time.Since(l.dr.since)))
	}
	l.release()
}

// drainBound releases the VIPs when the drain has lasted its bound.
func (l *loop) drainBound(now time.Time) {
	if l.dr.on && !now.Before(l.dr.until) {
		l.releaseAtBound(now)
	}
}

func (l *loop) releaseAtBound(now time.Time) {
	l.r.log.Warn("no new master announced the VIPs within the bound: releasing them", zap.String("why", l.dr.why),
		zap.Duration("drained_for", now.Sub(l.dr.since)))
	l.release()
}

// waitDrain runs a drain begun by shutdown to its end, in place of the
// event loop: a claim ends it, and so does the master down interval when
// no new master advertises (no peer to hand over to), or the drain's
// bound once one does.
func (l *loop) waitDrain() {
	quiet := time.NewTimer(l.m.MasterDownInterval())
	defer quiet.Stop()
	heard := false
	for l.dr.on {
		select {
		case c := <-l.claimed:
			l.onClaim(c)
		case adv := <-l.adverts:
			if adv.Priority > 0 && !heard {
				heard = true
				quiet.Reset(time.Until(l.dr.until))
			}
		case now := <-quiet.C:
			if heard {
				l.releaseAtBound(now)
				continue
			}
			l.r.log.Warn("no new master advertised within the master down interval: releasing the VIPs",
				zap.Duration("drained_for", now.Sub(l.dr.since)))
			l.release()
		}
	}
}

func (l *loop) waitDrainWatcher() {
	if l.dr.on {
		l.dr.stop()
	}
	l.drainWG.Wait()
}

func allIPv4(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !a.Is4() {
			return false
		}
	}
	return len(addrs) > 0
}

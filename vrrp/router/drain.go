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

// drainKind says why a node keeps the VIPs after leaving Master.
type drainKind uint8

const (
	// noDrain: the VIPs go at once.
	noDrain drainKind = iota
	// drainPlanned: it left Master on purpose (preempted, shut down).
	drainPlanned
	// drainDead: it went to Fault because its Redis is positively dead
	// (the liveness watcher's held connection closed and a new one was
	// refused).
	drainDead
)

func (k drainKind) String() string {
	switch k {
	case drainPlanned:
		return "planned"
	case drainDead:
		return "dead"
	}
	return "none"
}

// leaving is what decides whether a node that leaves Master keeps the
// VIPs (drainFor): the machine's new state and why, and the node's own.
type leaving struct {
	State  fsm.State
	Reason fsm.Reason
	// StopFatal: shutting down because the socket failed (the peer hears
	// nothing from this node, so nobody may take over).
	StopFatal bool
	// Paused: maintenance mode (the VIPs follow the VRRP state).
	Paused bool
	// Healthy is the health the machine runs on.
	Healthy bool
	// LocalDead: the node is going unhealthy right now because the
	// liveness watcher saw its Redis refuse connections after its held
	// connection closed, not because of a check.
	LocalDead bool
	// CannotHold: adding the VIPs failed (the node gave mastership up).
	CannotHold bool
	// Holding: the VIPs are on the interface, earned.
	Holding bool
	// Draining is the drain already running (noDrain when none).
	Draining drainKind
	// WatchClaims: the Addresses can tell when another host announces
	// the VIPs (Claims).
	WatchClaims bool
	// WatchLocal: a liveness watcher reports the local Redis accepting
	// connections again.
	WatchLocal bool
	// IPv4: every VIP is IPv4 (claims are watched through ARP).
	IPv4 bool
}

// drainFor decides whether a node leaving Master (or a state reached
// while draining) keeps the VIPs, which kind of drain that is, and why.
//
//   - Planned: preempted by a higher priority, or shut down (not because
//     the socket failed), healthy and not in maintenance.
//   - Dead: gone to Fault because the local Redis is positively dead
//     (LocalDead) and for no other reason: not a failed check, a hang, a
//     timeout, an interface that cannot hold the VIPs, maintenance mode;
//     and only with a liveness watcher to say when the Redis answers
//     again, since the VIPs must go the moment it does.
//   - A drain that runs goes on when the new state calls for the same
//     kind (a preempted node shut down while it drains); any other
//     state ends it (noDrain): a planned drain whose Redis dies, a dead
//     drain that leaves Fault.
//   - A new drain needs the VIPs held, IPv4 VIPs and a claims watcher.
func drainFor(in leaving) (drainKind, string) {
	kind, why := noDrain, ""
	switch {
	case in.Paused:
	case in.State == fsm.Backup && in.Reason == fsm.ReasonHigherPriority && in.Healthy:
		kind, why = drainPlanned, "a node with a higher priority took over"
	case in.State == fsm.Init && in.Reason == fsm.ReasonShutdown && !in.StopFatal && in.Healthy:
		kind, why = drainPlanned, "shutting down"
	case in.State == fsm.Fault && in.Reason == fsm.ReasonUnhealthy && in.LocalDead && !in.CannotHold && in.WatchLocal:
		kind, why = drainDead, "the local Redis is gone (connection closed, reconnect refused)"
	}
	switch {
	case kind == noDrain:
		return noDrain, ""
	case in.Draining != noDrain:
		if in.Draining != kind {
			return noDrain, ""
		}
		return kind, why
	case !in.Holding || !in.WatchClaims || !in.IPv4:
		return noDrain, ""
	}
	return kind, why
}

// drainNow is what, besides a claim (onClaim) and a return to Master
// (apply), ends a running drain.
type drainNow struct {
	Now   time.Time
	State fsm.State
	// Paused: maintenance mode.
	Paused bool
	// Answered: the local Redis accepted a connection since the drain
	// began (the liveness watcher's "up").
	Answered bool
}

// Why a drain ends (drain.over).
const (
	endBound     = "bound"
	endAnswered  = "the local Redis accepts connections again"
	endLeftFault = "the node left FAULT"
	endPaused    = "maintenance mode"
)

// drain is the state of a drain: a node that left Master keeps the VIPs
// on the interface until the new master announces them.
type drain struct {
	on    bool
	kind  drainKind
	gen   uint64
	since time.Time
	// until bounds the drain (the new master's promotion and take-over).
	until time.Time
	why   string
	stop  context.CancelFunc
	// answered: the local Redis accepted a connection during the drain.
	answered bool
}

// over says why the drain must end now, "" while it may go on. Any drain
// ends at its bound. A dead drain also ends the moment the local Redis
// accepts connections again (restarted, maybe as a master: the VIP must
// not point at it next to the new master), when the node leaves Fault, or
// in maintenance mode (the VIPs follow the VRRP state).
func (d drain) over(in drainNow) string {
	switch {
	case !d.on:
		return ""
	case !in.Now.Before(d.until):
		return endBound
	case d.kind != drainDead:
		return ""
	case in.Answered:
		return endAnswered
	case in.State != fsm.Fault:
		return endLeftFault
	case in.Paused:
		return endPaused
	}
	return ""
}

// startDrain keeps the VIPs on the interface instead of releasing them,
// when this node held them and leaves Master (drainFor decides):
//
// On purpose: preempted by a higher priority (failback), or shut down (a
// planned move). The clients of the local Redis then keep being answered
// through the VIP while the new master runs its transition: until the
// handover pauses their writes, it is still the master; once the handover
// has made it a replica of the new master, its paused writes get
// -READONLY and its clients are shed (S7), all delivered because this host
// still holds the address.
//
// Because its Redis is positively dead (kill -9, a crash, the OOM killer:
// the liveness watcher's connection closed and a new one was refused).
// Nothing listens on the port, so while the address stays a client's
// connect through the VIP is refused at once by this host's kernel and
// the client retries at once, reaching the new master right after its
// gratuitous ARP.
//
// Released at once, the VIP would leave every request in flight and every
// new connect without an answer or a reset (the kernel cannot send from an
// address it no longer has), and the client would wait out its own
// timeout.
//
// The drain ends when another host announces the VIPs (the new master's
// gratuitous ARP, or its answer to the probes sent every advert interval,
// which also ends it at once when a host already held them: two masters
// that meet after a partition), when this node becomes Master again, at a
// bound: the new master's transition timeout plus the master down
// interval; on shutdown, the master down interval when no new master
// advertises. A dead drain also ends the moment the local Redis accepts
// connections again (drain.over): restarted by systemd, it may answer as a
// master (guard starts it as one when the peer is unreachable), and the
// VIP must not point at it next to the new master. A node shut down while
// draining on purpose drains on. It reports whether a drain runs;
// otherwise the caller releases the VIPs.
func (l *loop) startDrain() bool {
	r := l.r
	claims, ok := r.o.Addresses.(Claims)
	cur := noDrain
	if l.dr.on {
		cur = l.dr.kind
	}
	kind, why := drainFor(leaving{
		State: l.state, Reason: l.reason, StopFatal: l.stopFatal, Paused: l.paused, Healthy: l.healthy(),
		LocalDead: l.localDead, CannotHold: l.cannotHold != "", Holding: l.holding, Draining: cur,
		WatchClaims: ok, WatchLocal: r.o.Liveness != nil, IPv4: allIPv4(r.vips),
	})
	switch {
	case kind == noDrain:
		return false
	case cur != noDrain:
		return true // shut down while draining: the drain goes on
	}
	l.stopAnnouncing()
	l.holding = false
	now := time.Now()
	l.dr.gen++
	l.dr = drain{on: true, kind: kind, gen: l.dr.gen, since: now, until: now.Add(r.o.TransitionTimeout + l.m.MasterDownInterval()), why: why}
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
	msg := "keeping the VIPs until the new master announces them"
	if kind == drainDead {
		msg = "keeping the VIPs (clients are refused at once) until the new master announces them or the local Redis answers again"
	}
	r.log.Info(msg, zap.String("why", why), zap.Stringers("vips", r.vips), zap.Duration("bound", l.dr.until.Sub(now)))
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

// checkDrain ends the drain when drain.over says so.
func (l *loop) checkDrain(now time.Time) {
	why := l.dr.over(drainNow{Now: now, State: l.state, Paused: l.paused, Answered: l.dr.answered})
	switch why {
	case "":
	case endBound:
		l.releaseAtBound(now)
	default:
		l.r.log.Warn("ending the drain: releasing the VIPs", zap.String("because", why), zap.String("drained", l.dr.why),
			zap.Duration("drained_for", now.Sub(l.dr.since)))
		l.release()
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

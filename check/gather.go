package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// FactsReader reads one server's Facts; *node.Client has it.
type FactsReader interface {
	Facts(ctx context.Context) (node.Facts, error)
}

// Gather reads both servers concurrently under ctx, and the instance's state
// dir, into a Verdict input. It returns when ctx ends even if a server is
// still not answering (a client library may wait on its own timeouts, e.g.
// during its connection handshake); such a server counts as unreachable.
func Gather(ctx context.Context, local, peer FactsReader, sd transition.StateDir, localAnnounce, peerAddr node.Addr, now time.Time) (Input, error) {
	in := Input{LocalAnnounce: localAnnounce, PeerAddr: peerAddr, Now: now}
	localCh, peerCh := readAsync(ctx, local), readAsync(ctx, peer)
	if t, err := sd.Newest(); err == nil {
		in.LastEvent, in.Newest = t.Event, t
	}
	in.TransitionRunning = sd.Busy()
	h, herr := sd.ReadHoldoff()
	in.Holdoff = h
	m, merr := sd.Maintenance()
	in.Maintenance = m
	fs, ferr := sd.ReadFence()
	in.Fence.State = fs
	in.Fence.Now, _ = fence.Now()
	in.Local, in.LocalErr = await(ctx, localCh)
	in.Peer, in.PeerErr = await(ctx, peerCh)
	if in.Local != nil && in.Peer != nil {
		in.LocalStream, in.PeerStream = forkStreams(ctx, local, peer, *in.Local, *in.Peer)
	}
	return in, errors.Join(herr, merr, ferr)
}

// forkStreams reads both streams since the fork when one node continued the
// other's history (S11); unknown when the readers cannot read streams.
func forkStreams(ctx context.Context, local, peer FactsReader, l, p node.Facts) (node.Writes, node.Writes) {
	ls, lok := local.(node.StreamSincer)
	ps, pok := peer.(node.StreamSincer)
	if !lok || !pok {
		return node.WritesUnknown, node.WritesUnknown
	}
	a, b := node.ForkStreams(ctx, ls, ps, l, p)
	return a.Class(), b.Class()
}

type factsResult struct {
	f   *node.Facts
	err error
}

func readAsync(ctx context.Context, r FactsReader) <-chan factsResult {
	ch := make(chan factsResult, 1)
	go func() {
		f, err := r.Facts(ctx)
		if err != nil {
			ch <- factsResult{err: err}
			return
		}
		ch <- factsResult{f: &f}
	}()
	return ch
}

func await(ctx context.Context, ch <-chan factsResult) (*node.Facts, error) {
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer within the check timeout: %w", node.ErrUnreachable)
	}
}

// HoldsAny reports whether one of vips is among addrs (this host's
// interface addresses, as net.InterfaceAddrs gives them).
func HoldsAny(vips []netip.Addr, addrs []net.Addr) bool {
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		got, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		for _, want := range vips {
			if got.Unmap() == want.Unmap() {
				return true
			}
		}
	}
	return false
}

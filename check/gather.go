package check

import (
	"context"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// FactsReader reads one server's Facts; *node.Client has it.
type FactsReader interface {
	Facts(ctx context.Context) (node.Facts, error)
}

// Gather reads both servers concurrently under ctx, and the instance's state
// dir, into a Verdict input. It never takes longer than ctx allows.
func Gather(ctx context.Context, local, peer FactsReader, sd transition.StateDir, localAnnounce, peerAddr string, now time.Time) (Input, error) {
	in := Input{LocalAnnounce: localAnnounce, PeerAddr: peerAddr, Now: now}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if f, err := local.Facts(ctx); err == nil {
			in.Local = &f
		} else {
			in.LocalErr = err
		}
	}()
	go func() {
		defer wg.Done()
		if f, err := peer.Facts(ctx); err == nil {
			in.Peer = &f
		} else {
			in.PeerErr = err
		}
	}()
	if t, err := sd.Newest(); err == nil {
		in.LastEvent = t.Event
	}
	in.TransitionRunning = sd.Busy()
	h, herr := sd.ReadHoldoff()
	in.Holdoff = h
	wg.Wait()
	return in, herr
}

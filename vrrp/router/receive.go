package router

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// receive reads adverts until ctx ends, checks them and hands the good ones
// to the event loop. Our own adverts are dropped silently; rejected ones
// are counted per reason, and the first of each reason is logged as a
// warning. A closed wire is fatal.
func (r *Router) receive(ctx context.Context, out chan<- fsm.Advert, fatal chan<- error) {
	own := r.o.Wire.Source()
	warned := map[packet.Reason]bool{}
	mismatchWarned := map[string]bool{}
	failing := false
	for {
		d, err := r.o.Wire.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, transport.ErrClosed) {
				fatal <- err
				return
			}
			if !failing {
				r.log.Error("receiving adverts fails; retrying", zap.Error(err))
				failing = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(receiveRetry):
			}
			continue
		}
		failing = false
		src := d.Src.Unmap()
		if src == own {
			continue
		}
		if len(r.o.Settings.UnicastPeers) > 0 && !slices.Contains(r.o.Settings.UnicastPeers, src) {
			if r.foreign.Add(1) == 1 {
				r.log.Warn("ignoring adverts from a source that is not a unicast peer", zap.Stringer("src", src))
			}
			continue
		}
		adv, err := r.validator.Validate(d.Payload, d.Src, d.Dst, d.TTL)
		if err != nil {
			if !r.counters.Record(err) {
				r.log.Error("advert check failed", zap.Error(err))
				continue
			}
			reason, _ := packet.ReasonOf(err)
			// Adverts of other virtual routers on the link are normal.
			if reason == packet.ReasonVRID {
				r.log.Debug("advert for another VRID", zap.Stringer("src", src), zap.Error(err))
				continue
			}
			if !warned[reason] {
				warned[reason] = true
				r.log.Warn("rejected advert (further ones of this kind are counted, not logged)", zap.Stringer("src", src), zap.Error(err))
			} else {
				r.log.Debug("rejected advert", zap.Stringer("src", src), zap.Error(err))
			}
			continue
		}
		if r.o.Settings.Version == 3 && !packet.SameAddresses(adv.Addresses, r.vips) && !mismatchWarned[src.String()] {
			mismatchWarned[src.String()] = true
			r.log.Warn("advert lists other virtual addresses than ours (RFC 5798 7.1: logged, still used); check vips on both hosts",
				zap.Stringer("src", src), zap.Stringers("theirs", adv.Addresses), zap.Stringers("ours", r.vips))
		}
		select {
		case out <- fsm.Advert{Priority: adv.Priority, MaxAdvertInterval: adv.AdvertInterval, Source: src}:
		case <-ctx.Done():
			return
		}
	}
}

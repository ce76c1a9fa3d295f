package router

import (
	"context"
	"time"

	"github.com/redis-vip/redis-vip/check"
)

// hysteresis turns single check results into a health state: fall failing
// checks in a row make a healthy node unhealthy, rise passing checks in a
// row make it healthy again (keepalived's vrrp_script rise/fall).
type hysteresis struct {
	rise, fall int
	healthy    bool
	streak     int // consecutive results that disagree with healthy
}

// observe records one result and reports whether the health changed.
func (h *hysteresis) observe(ok bool) bool {
	if ok == h.healthy {
		h.streak = 0
		return false
	}
	h.streak++
	need := h.fall
	if ok {
		need = h.rise
	}
	if h.streak < need {
		return false
	}
	h.healthy, h.streak = ok, 0
	return true
}

// checked is one health check result with when the check began.
type checked struct {
	res   check.Result
	began time.Time
}

// checkLoop runs the health check every CheckInterval (measured from the
// start of one check to the start of the next; a slow check is followed at
// once by the next), each bounded by CheckTimeout, until ctx ends.
func (r *Router) checkLoop(ctx context.Context, out chan<- checked) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		began := time.Now()
		cctx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout)
		res := r.o.Health.Check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- checked{res: res, began: began}:
		case <-ctx.Done():
			return
		}
		t.Reset(r.o.Settings.CheckInterval - time.Since(began))
	}
}

package transition

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/maintenance"
)

// ReconcileEvery runs a Reconcile pass every interval until ctx ends (S12),
// each bounded by bound. newRunner makes a Runner with fresh clients for
// one pass (a Redis restart breaks the connections of the last one) and a
// function that closes them. Passes that act or fail are logged; quiet ones
// are not. While maintenance mode is on, passes do nothing.
func ReconcileEvery(ctx context.Context, interval, bound time.Duration, newRunner func() (*Runner, func(), error), log *zap.Logger) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, release, err := newRunner()
		if err != nil {
			log.Error("reconcile: clients", zap.Error(err))
			continue
		}
		if maintenance.Active(r.State.Dir, r.State.Instance) {
			release() // maintenance mode: the reconciler does nothing
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, bound)
		rec, acted, err := r.Reconcile(pctx)
		cancel()
		release()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("reconcile", zap.String("event", string(rec.Event)), zap.String("outcome", rec.Outcome), zap.Error(err))
		case acted:
			decision := ""
			if rec.Plan != nil {
				decision = rec.Plan.Decision
			}
			log.Info("reconciled", zap.String("event", string(rec.Event)), zap.String("decision", decision), zap.String("outcome", rec.Outcome))
		}
	}
}

package keepalived

import (
	"context"
	"io"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/internal/newest"
	"github.com/redis-vip/redis-vip/transition"
)

// Target is one redis-vip instance as ServeFIFO drives it.
type Target interface {
	// Supersede records ev as the instance's newest event at once, so that
	// a transition still running for it stops at its next step (S4).
	Supersede(ev transition.Event) error
	// Run runs the transition for ev; ServeFIFO logs its error.
	Run(ctx context.Context, ev transition.Event) error
}

// Resolver finds the redis-vip instance a notification is for: its name
// and its Target. An error skips the notification (ServeFIFO logs it).
type Resolver func(Notify) (instance string, t Target, err error)

// fifoJob is one notification waiting for its turn.
type fifoJob struct {
	t  Target
	ev transition.Event
}

// ServeFIFO reads r's notifications (ReadFIFO) as they come and runs their
// transitions one at a time, under ctx. Each notification is marked as its
// instance's newest at once (Target.Supersede), so the transition running
// for that instance stops at its next step; notifications waiting behind it
// collapse to the newest per instance (package newest), and instances take
// their turns in the order of their newest notification. When r ends or
// ctx is done, what is still waiting runs, then ServeFIFO returns
// ReadFIFO's error.
func ServeFIFO(ctx context.Context, r io.Reader, resolve Resolver, log *zap.Logger) error {
	q := newest.New[string, fifoJob](nil)
	done := make(chan error, 1)
	go func() {
		defer q.Close()
		done <- ReadFIFO(ctx, r, func(n Notify) {
			if n.State.Informational() {
				log.Info("notify fifo: no transition for this state", zap.String("name", n.Name), zap.String("state", string(n.State)))
				return
			}
			name, t, err := resolve(n)
			if err != nil {
				log.Error("notify fifo", zap.Error(err))
				return
			}
			ev := n.State.Event()
			if err := t.Supersede(ev); err != nil {
				log.Error("notify fifo: mark newest", zap.Error(err))
			}
			q.Put(name, fifoJob{t: t, ev: ev})
		}, func(line string, err error) {
			log.Error("notify fifo: bad line", zap.String("line", line), zap.Error(err))
		})
	}()
	// Closing the queue ends the loop, never ctx: what was read is run.
	for {
		name, j, ok := q.Take(context.Background())
		if !ok {
			break
		}
		if err := j.t.Run(ctx, j.ev); err != nil {
			log.Error("notify fifo: transition", zap.String("instance", name), zap.Error(err))
		}
		q.Done(name)
	}
	return <-done
}

package torture

import (
	"context"
	"strings"
	"sync"
	"time"
)

// hookNotifier fires notify-master/backup/fault as separate processes
// without waiting, as keepalived does, with the schedule's hook faults.
type hookNotifier struct {
	c      *cluster
	faults hookFaults
	rnd    *lockedRand
	// bound kills a hook that runs longer (no hook may run unbounded).
	bound time.Duration

	wg  sync.WaitGroup
	mu  sync.Mutex
	log []hookRun
}

func (n *hookNotifier) notify(ctx context.Context, host int, to vrrpState) {
	fired := time.Now()
	if n.rnd.float() < n.faults.Drop {
		n.record(hookRun{Host: n.c.hosts[host].name, State: to, Fired: fired, Dropped: true})
		return
	}
	copies := 1
	if n.rnd.float() < n.faults.Dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		var delay, killAfter time.Duration
		if n.rnd.float() < n.faults.Delay {
			delay = n.rnd.dur(0, n.faults.MaxDelay)
		}
		if n.rnd.float() < n.faults.Kill {
			killAfter = n.rnd.dur(20*time.Millisecond, 1500*time.Millisecond)
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			h := n.c.hosts[host]
			r := hookRun{Host: h.name, State: to, Fired: fired, Started: time.Now()}
			r.Exit, r.Output, r.Killed = runBinary(ctx, n.c.bin, n.bound, killAfter, n.c.args(host, "notify-"+strings.ToLower(string(to)))...)
			r.Ended = time.Now()
			n.record(r)
		}()
	}
}

func (n *hookNotifier) record(r hookRun) {
	n.mu.Lock()
	n.log = append(n.log, r)
	n.mu.Unlock()
}

func (n *hookNotifier) wait() { n.wg.Wait() }

func (n *hookNotifier) runs() []hookRun {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]hookRun(nil), n.log...)
}

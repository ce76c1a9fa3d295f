package torture

import (
	"context"
	"strings"
	"sync"
	"time"
)

// notifier delivers a VRRP state change to a host the way keepalived does.
type notifier interface {
	notify(ctx context.Context, host int, to vrrpState)
	// wait returns when every hook it started has ended (bounded).
	wait()
	runs() []hookRun
}

// checkRun is one `redis-vip check`, for I4 and the evidence.
type checkRun struct {
	Host   int
	Start  time.Time
	End    time.Time
	OK     bool
	Output string
}

// keepalived models keepalived on both hosts: checks on an interval with
// fall/rise, the VRRP state machine, the notifier, and the VIP.
type keepalived struct {
	c        *cluster
	notifier notifier
	interval time.Duration
	tick     time.Duration

	mu       sync.Mutex
	model    *vrrpModel
	heard    [2]bool // heard[i]: router i's adverts reach the other router
	checks   []checkRun
	changes  []tlEntry
	holder   int
	onHolder func(int)
}

func newKeepalived(c *cluster, n notifier, t vrrpTiming, interval time.Duration, onHolder func(int)) *keepalived {
	return &keepalived{c: c, notifier: n, interval: interval, tick: 100 * time.Millisecond, model: newVRRP(t), heard: [2]bool{true, true}, holder: -1, onHolder: onHolder}
}

// setLinked cuts or heals the adverts between the routers, both ways.
func (k *keepalived) setLinked(v bool) { k.setHeard([2]bool{v, v}) }

// setHeard says, per router, whether its adverts reach the other one (a
// link blackholed one way drops them one way).
func (k *keepalived) setHeard(h [2]bool) {
	k.mu.Lock()
	k.heard = h
	k.mu.Unlock()
}

// run drives checks and the state machine until ctx ends.
func (k *keepalived) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range k.c.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.checkLoop(ctx, i)
		}()
	}
	t := time.NewTicker(k.tick)
	defer t.Stop()
	for {
		k.step(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
	}
}

func (k *keepalived) step(ctx context.Context) {
	k.mu.Lock()
	now := time.Now()
	changes := k.model.step(now, k.heard)
	h := k.model.holder()
	moved := h != k.holder
	k.holder = h
	for _, ch := range changes {
		k.changes = append(k.changes, tlEntry{at: now, s: "vrrp " + k.c.hosts[ch.Router].name + " " + string(ch.From) + "->" + string(ch.To)})
	}
	k.mu.Unlock()
	for _, ch := range changes {
		// keepalived adds the VIP on becoming MASTER, before its notify.
		k.c.hostVIP.set(ch.Router, ch.To == stMaster)
	}
	if moved && k.onHolder != nil {
		k.onHolder(h)
	}
	for _, ch := range changes {
		k.notifier.notify(ctx, ch.Router, ch.To)
	}
}

// checkLoop runs `redis-vip check` every interval, one at a time, killed
// after 2 s as keepalived's script timeout would.
func (k *keepalived) checkLoop(ctx context.Context, i int) {
	t := time.NewTicker(k.interval)
	defer t.Stop()
	for {
		if k.stopped(i) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			continue
		}
		start := time.Now()
		code, out, _ := runBinary(ctx, k.c.bin, 2*time.Second, 0, k.c.args(i, "check")...)
		if ctx.Err() != nil {
			return
		}
		end := time.Now()
		k.mu.Lock()
		k.model.checkResult(i, code == 0)
		k.checks = append(k.checks, checkRun{Host: i, Start: start, End: end, OK: code == 0, Output: strings.TrimSpace(out)})
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stopRouter stops keepalived on host i (notify-stop fires).
func (k *keepalived) stopRouter(ctx context.Context, i int) {
	k.mu.Lock()
	now := time.Now()
	changes := k.model.stop(i, now, k.heard)
	h := k.model.holder()
	moved := h != k.holder
	k.holder = h
	for _, ch := range changes {
		k.changes = append(k.changes, tlEntry{at: now, s: "vrrp " + k.c.hosts[ch.Router].name + " " + string(ch.From) + "->" + string(ch.To) + " (keepalived stopped)"})
	}
	k.mu.Unlock()
	for _, ch := range changes {
		k.c.hostVIP.set(ch.Router, ch.To == stMaster)
	}
	if moved && k.onHolder != nil {
		k.onHolder(h)
	}
	for _, ch := range changes {
		k.notifier.notify(ctx, ch.Router, ch.To)
	}
}

// startRouter starts keepalived on host i again.
func (k *keepalived) startRouter(i int) {
	k.mu.Lock()
	k.model.start(i)
	k.mu.Unlock()
}

func (k *keepalived) stopped(i int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.model.r[i].state == stStop
}

func (k *keepalived) states() [2]vrrpState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.model.states()
}

func (k *keepalived) vipHolder() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.holder
}

func (k *keepalived) checkRuns() []checkRun {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]checkRun(nil), k.checks...)
}

func (k *keepalived) stateChanges() []tlEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]tlEntry(nil), k.changes...)
}

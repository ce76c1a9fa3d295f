package wiring

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/sdnotify"
	"github.com/redis-vip/redis-vip/vrrp/router"
)

// minLoopAge is the least age at which an event loop counts as stuck: a
// loop may spend a few seconds in bounded netlink calls and sends.
const minLoopAge = 3 * time.Second

// watched is what the systemd notifier reads of a Router.
type watched interface {
	Status() router.Status
	LastLoop() time.Time
}

// loopsAlive reports whether every event loop went round within maxAge of
// now, and names the first that did not.
func loopsAlive(last []time.Time, names []string, now time.Time, maxAge time.Duration) (bool, string) {
	for i, t := range last {
		if t.IsZero() || now.Sub(t) > maxAge {
			return false, names[i]
		}
	}
	return true, ""
}

// statusLine is the STATUS= systemd shows for the routers.
func statusLine(names []string, sts []router.Status) string {
	parts := make([]string, len(sts))
	for i, st := range sts {
		p := names[i] + " " + st.State.String()
		switch {
		case st.HoldsVIP:
			p += " (VIP held)"
		case st.CannotHold != "":
			p += " (cannot hold the VIP)"
		}
		if st.Maintenance {
			p += " [maintenance]"
		}
		parts[i] = p
	}
	return strings.Join(parts, "; ")
}

// startSystemd tells systemd (Type=notify) that the routers run (READY=1),
// keeps STATUS= current, pings the watchdog (WATCHDOG=1) every quarter of
// its timeout (at most every second) while every router's event loop goes
// round, and says STOPPING=1
// when ctx ends. Without $NOTIFY_SOCKET it does nothing. The returned
// function stops it and waits.
func startSystemd(ctx context.Context, n *sdnotify.Notifier, getenv func(string) string, routers []watched, names []string, log *zap.Logger) func() {
	if n == nil {
		return func() {}
	}
	log = log.With(zap.String("component", "systemd"))
	wd, watchdog, err := sdnotify.WatchdogInterval(getenv, os.Getpid())
	if err != nil {
		log.Warn("watchdog setting ignored", zap.Error(err))
	}
	every := time.Second
	if watchdog {
		every = min(every, wd/4)
	}
	maxAge := max(wd/2, minLoopAge)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		send := func(a ...string) {
			if err := n.Notify(a...); err != nil {
				log.Warn("sd_notify", zap.Strings("message", a), zap.Error(err))
			}
		}
		status := func() string {
			sts := make([]router.Status, len(routers))
			for i, r := range routers {
				sts[i] = r.Status()
			}
			return statusLine(names, sts)
		}
		last := status()
		send("READY=1", "STATUS="+last)
		log.Debug("told systemd: ready", zap.Bool("watchdog", watchdog), zap.Duration("watchdog_timeout", wd))
		t := time.NewTicker(every)
		defer t.Stop()
		stuck := ""
		for {
			select {
			case <-ctx.Done():
				send("STOPPING=1", "STATUS=stopping: priority 0 sent, VIPs released, recording the stop")
				return
			case <-t.C:
			}
			if s := status(); s != last {
				last = s
				send("STATUS=" + s)
			}
			if !watchdog {
				continue
			}
			beats := make([]time.Time, len(routers))
			for i, r := range routers {
				beats[i] = r.LastLoop()
			}
			ok, who := loopsAlive(beats, names, time.Now(), maxAge)
			if !ok {
				if stuck != who {
					log.Error("event loop stuck: not pinging the watchdog (systemd restarts the service)", zap.String("instance", who))
					stuck = who
				}
				continue
			}
			stuck = ""
			send("WATCHDOG=1")
		}
	}()
	return func() { cancel(); wg.Wait() }
}

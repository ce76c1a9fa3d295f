package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// setup is one way of running the pair (a row of the table): it builds its
// lab, says when the pair is settled, and injects the faults.
type setup interface {
	// id is short (for namespace names and keys); name is the row label.
	id() string
	name() string
	// knobs are the settings that bound the figures, one line each.
	knobs() []string
	// up builds the lab and starts everything; close removes all of it
	// (also after a failed up) and may be called more than once.
	up(ctx context.Context) error
	close()
	// settled says whether the pair is in a steady state (one master, the
	// other replicating it, clients routed to the master, nothing in
	// flight), which host is master, and if not, why.
	settled(ctx context.Context) (master string, ok bool, why string)
	target() writerTarget
	// redis addresses a host's Redis for the driver's own checks (from
	// inside the host's namespace).
	redis(host string) (ns, addr string)
	// preferred is the host that takes the master role back when it
	// returns (preemption), "" when the setup does not fail back.
	preferred() string
	// noFailback says why failback does not apply ("" when it does).
	noFailback() string
	kill(host string) error
	hang(host string) error
	resume(host string) error
	// restart starts a killed Redis again, as its init system would.
	restart(ctx context.Context, host string) error
	// planned moves the role away from master on purpose; it returns the
	// host expected to be master afterwards ("" for either).
	planned(ctx context.Context, master string) (string, error)
	// afterPlanned undoes what planned stopped (a daemon), if anything.
	afterPlanned(ctx context.Context, master string) error
	// plannedHow names the planned move, for the footnotes.
	plannedHow() string
}

// repairer is a setup that an operator can put back together by hand
// when it does not converge by itself (the seed's scripts can leave two
// masters for good).
type repairer interface {
	repair(ctx context.Context) (string, error)
}

// stucker is a setup that can tell a state nothing in it will change (so
// the wait for a settled pair can end early).
type stucker interface {
	stuck() (bool, string)
}

// stuckFor is how long a setup must look stuck before the wait gives up.
const stuckFor = 10 * time.Second

// recoverBounder is a setup with its own bound on the wait after a fault.
type recoverBounder interface {
	recoverBound() time.Duration
}

// peerOf returns the other host.
func peerOf(h string) string {
	if h == "h1" {
		return "h2"
	}
	return "h1"
}

// hostRef is one Redis host as the driver reaches it.
type hostRef struct {
	name string // h1 or h2
	ns   string
	ip   string // the address the peer and the clients use
}

// node is one Redis as INFO replication shows it.
type node struct {
	up      bool
	role    string // master or slave
	master  string // h1/h2 (or the address) a replica follows
	linkUp  bool
	syncing bool
}

// readNodes reads both Redis servers concurrently (each bounded by 400 ms:
// a stopped or dead server counts as down).
func readNodes(hosts []hostRef) map[string]node {
	out := map[string]node{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := node{}
			m, err := infoMap(h.ns, "127.0.0.1:6379", 400*time.Millisecond, "replication")
			if err == nil && m["role"] != "" {
				n.up = true
				n.role = m["role"]
				if n.role == "slave" {
					n.master = m["master_host"]
					for _, o := range hosts {
						if o.ip == m["master_host"] {
							n.master = o.name
						}
					}
					n.linkUp = m["master_link_status"] == "up"
					n.syncing = m["master_sync_in_progress"] == "1"
				}
			}
			mu.Lock()
			out[h.name] = n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// pairSettled: exactly one master among the running servers, and every
// other running server its replica with the link up and no sync running.
func pairSettled(nodes map[string]node) (string, bool, string) {
	var masters []string
	for _, h := range []string{"h1", "h2"} {
		if n := nodes[h]; n.up && n.role == "master" {
			masters = append(masters, h)
		}
	}
	if len(masters) != 1 {
		return "", false, fmt.Sprintf("masters: %v", masters)
	}
	m := masters[0]
	p := peerOf(m)
	if n := nodes[p]; n.up && (n.role != "slave" || n.master != m || !n.linkUp || n.syncing) {
		return m, false, fmt.Sprintf("%s not an in-sync replica of %s (role %s of %s, link up %v, syncing %v)", p, m, n.role, n.master, n.linkUp, n.syncing)
	}
	return m, true, ""
}

// settleStable is how long a settled state must hold, with the same
// master, before the driver believes it: events that come a little later
// (a check's rise count, a sentinel's reconfiguration, a hook still
// running) would otherwise be taken for the end state.
const settleStable = 1500 * time.Millisecond

// waitSettled polls s every 250 ms for at most timeout until it has been
// settled for settleStable with a master want accepts (nil: any).
func waitSettled(ctx context.Context, s setup, timeout time.Duration, want func(string) bool) (string, error) {
	deadline := time.Now().Add(timeout)
	var since, stuckSince time.Time
	last, why := "", ""
	for {
		m, ok, w := s.settled(ctx)
		if st, isStucker := s.(stucker); isStucker && !ok {
			if yes, what := st.stuck(); !yes {
				stuckSince = time.Time{}
			} else if stuckSince.IsZero() {
				stuckSince = time.Now()
			} else if time.Since(stuckSince) >= stuckFor {
				return "", fmt.Errorf("stuck for %s: %s", stuckFor, what)
			}
		}
		switch {
		case ok && (want == nil || want(m)):
			if since.IsZero() || m != last {
				since = time.Now()
			}
			last = m
			if time.Since(since) >= settleStable {
				return m, nil
			}
		case ok:
			since, why = time.Time{}, fmt.Sprintf("settled with master %s, not the one expected", m)
		default:
			since, why = time.Time{}, w
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("not settled within %s: %s", timeout, why)
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

// keepalivedState reads keepalived's last VRRP state for VI_REDIS from its
// log: MASTER, BACKUP, FAULT, STOP (stopped after its last state) or "".
func keepalivedState(log string) string {
	i := strings.LastIndex(log, "(VI_REDIS) Entering ")
	stop := max(strings.LastIndex(log, "Stopped Keepalived"), strings.LastIndex(log, "Stopped - used"))
	start := strings.LastIndex(log, "Starting Keepalived")
	if i < 0 || start > i {
		if stop > start {
			return "STOP"
		}
		return ""
	}
	if stop > i {
		return "STOP"
	}
	rest := log[i+len("(VI_REDIS) Entering "):]
	word, _, _ := strings.Cut(rest, " ")
	return word
}

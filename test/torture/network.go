package torture

import (
	"strings"
	"sync"
)

// network is the state of the paths between the model's machines, shared
// by every pair of a schedule (a partition cuts machines, not instances):
// which directions of the link between hosts A and B drop their bytes,
// which host is isolated from everything (its peer, the VIP's clients, the
// witness: only the applications on the host itself still reach its
// Redis), and whose path to the witness is blackholed. Proxies ask it, per
// chunk of bytes, whether their path is blackholed (proxy.hole).
type network struct {
	mu       sync.Mutex
	link     [2]bool // host i's bytes towards host 1-i are dropped
	isolated [2]bool
	witness  [2]bool // host i's path to the witness is blackholed
	proxies  []*proxy
}

// register adds proxies to refresh when a path heals.
func (n *network) register(ps ...*proxy) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.proxies = append(n.proxies, ps...)
}

// drops says whether bytes from host from to host to are dropped (mu held).
func (n *network) drops(from, to int) bool {
	return n.link[from] || n.isolated[from] || n.isolated[to]
}

// linkHole is the path by which host from reaches host to's Redis: up is
// from's bytes, down to's answers.
func (n *network) linkHole(from, to int) func(string) blackhole {
	return func(string) blackhole {
		n.mu.Lock()
		defer n.mu.Unlock()
		return blackhole{up: n.drops(from, to), down: n.drops(to, from)}
	}
}

// witnessHole is host i's path to the witness.
func (n *network) witnessHole(i int) func(string) blackhole {
	return func(string) blackhole {
		n.mu.Lock()
		defer n.mu.Unlock()
		b := n.witness[i] || n.isolated[i]
		return blackhole{up: b, down: b}
	}
}

// vipHole is the clients' path to the host whose Redis is at to (host
// says which): silent both ways while that host is isolated.
func (n *network) vipHole(host func(addr string) int) func(string) blackhole {
	return func(to string) blackhole {
		h := host(to)
		n.mu.Lock()
		defer n.mu.Unlock()
		b := h >= 0 && n.isolated[h]
		return blackhole{up: b, down: b}
	}
}

func (n *network) isIsolated(i int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.isolated[i]
}

// set changes the state with f, then lets every proxy close what a healed
// path left broken.
func (n *network) set(f func(n *network)) {
	n.mu.Lock()
	f(n)
	ps := append([]*proxy(nil), n.proxies...)
	n.mu.Unlock()
	for _, p := range ps {
		p.refresh()
	}
}

// heal clears every blackhole.
func (n *network) heal() {
	n.set(func(n *network) {
		n.link, n.isolated, n.witness = [2]bool{}, [2]bool{}, [2]bool{}
	})
}

// String describes the blackholes in force ("" when none).
func (n *network) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s []string
	names := []string{"A", "B"}
	for i := range 2 {
		if n.link[i] {
			s = append(s, names[i]+"->"+names[1-i]+" dropped")
		}
		if n.isolated[i] {
			s = append(s, names[i]+" isolated")
		}
		if n.witness[i] {
			s = append(s, names[i]+"->witness dropped")
		}
	}
	return strings.Join(s, ", ")
}

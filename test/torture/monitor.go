package torture

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// monitor samples every server's INFO on a short period and keeps every
// sample, so invariants can ask "what did node X look like at time t".
type monitor struct {
	servers []*redisServer
	period  time.Duration

	mu      sync.Mutex
	samples map[string][]sample
}

func newMonitor(servers []*redisServer, period time.Duration) *monitor {
	return &monitor{servers: servers, period: period, samples: map[string][]sample{}}
}

// run samples until ctx ends.
func (m *monitor) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range m.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.loop(ctx, s)
		}()
	}
	wg.Wait()
}

func (m *monitor) loop(ctx context.Context, s *redisServer) {
	var c *writer.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	t := time.NewTicker(m.period)
	defer t.Stop()
	for {
		smp := m.read(s, &c)
		m.mu.Lock()
		m.samples[s.name] = append(m.samples[s.name], smp)
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *monitor) read(s *redisServer, c **writer.Conn) sample {
	now := time.Now()
	if !s.running() {
		return sample{At: now, Err: "down"}
	}
	if s.isStalled() {
		return sample{At: now, Err: "stalled"}
	}
	if *c == nil {
		conn, err := s.dial(300 * time.Millisecond)
		if err != nil {
			return sample{At: now, Err: err.Error()}
		}
		*c = conn
	}
	v, err := (*c).Do("INFO", "server", "replication", "persistence", "keyspace")
	if err != nil {
		(*c).Close()
		*c = nil
		return sample{At: now, Err: err.Error()}
	}
	text, _ := v.(string)
	return parseInfo(now, text)
}

// read returns the latest sample of name (zero sample when none).
func (m *monitor) latest(name string) sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.samples[name]
	if len(ss) == 0 {
		return sample{Err: "no sample yet"}
	}
	return ss[len(ss)-1]
}

// before returns name's last sample taken at or before t.
func (m *monitor) before(name string, t time.Time) (sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.samples[name]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].At.After(t) })
	if i == 0 {
		return sample{}, false
	}
	return ss[i-1], true
}

// after returns name's first sample taken at or after t.
func (m *monitor) after(name string, t time.Time) (sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.samples[name]
	i := sort.Search(len(ss), func(i int) bool { return !ss[i].At.Before(t) })
	if i == len(ss) {
		return sample{}, false
	}
	return ss[i], true
}

// between returns name's samples in [from, to].
func (m *monitor) between(name string, from, to time.Time) []sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sample
	for _, s := range m.samples[name] {
		if !s.At.Before(from) && !s.At.After(to) {
			out = append(out, s)
		}
	}
	return out
}

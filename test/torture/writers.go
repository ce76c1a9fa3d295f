package torture

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// ack is one write the client was told succeeded.
type ack struct {
	Key  string
	Node int    // host index of the server that acknowledged it
	Role string // that server's role in the same MULTI ("master" or "slave")
	At   time.Time
	// Sent is when its EXEC was sent: the server ran the write between Sent
	// and At.
	Sent time.Time
}

// writerStats counts what one writer did.
type writerStats struct {
	Name   string
	Sent   int64
	Acks   []ack
	Errors map[string]int
}

// numberedWriter sends SET prefix:N for N = 1, 2, ... each once, inside
// MULTI with ROLE so the acknowledging server's role is known exactly, and
// reconnects after any failure. dial returns a connection and the host it
// reaches (-1 when unknown).
type numberedWriter struct {
	name     string
	prefix   string
	interval time.Duration
	dial     func() (*writer.Conn, int, error)

	mu    sync.Mutex
	stats writerStats
	sent  atomic.Int64
}

func newNumberedWriter(name, prefix string, interval time.Duration, dial func() (*writer.Conn, int, error)) *numberedWriter {
	return &numberedWriter{name: name, prefix: prefix, interval: interval, dial: dial, stats: writerStats{Name: name, Errors: map[string]int{}}}
}

func (w *numberedWriter) run(ctx context.Context) {
	var conn *writer.Conn
	node := -1
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	fail := func(err error) {
		w.mu.Lock()
		w.stats.Errors[errClass(err)]++
		w.mu.Unlock()
		if conn != nil {
			conn.Close()
			conn = nil
		}
	}
	for n := int64(1); ctx.Err() == nil; {
		if conn == nil {
			c, h, err := w.dial()
			if err != nil {
				fail(err)
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			}
			conn, node = c, h
		}
		key := w.prefix + strconv.FormatInt(n, 10)
		n++
		w.sent.Add(1)
		role, sent, ok, err := setWithRole(conn, key)
		if err != nil {
			fail(err)
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		if ok {
			w.mu.Lock()
			w.stats.Acks = append(w.stats.Acks, ack{Key: key, Node: node, Role: role, At: time.Now(), Sent: sent})
			w.mu.Unlock()
		}
		sleepCtx(ctx, w.interval)
	}
}

// setWithRole runs MULTI; SET key 1; ROLE; EXEC. ok means the SET was
// acknowledged; sent is when EXEC was sent.
func setWithRole(c *writer.Conn, key string) (role string, sent time.Time, ok bool, err error) {
	if _, err := c.Do("MULTI"); err != nil {
		return "", sent, false, err
	}
	if _, err := c.Do("SET", key, "1"); err != nil {
		_, _ = c.Do("DISCARD")
		return "", sent, false, err
	}
	if _, err := c.Do("ROLE"); err != nil {
		_, _ = c.Do("DISCARD")
		return "", sent, false, err
	}
	sent = time.Now()
	v, err := c.Do("EXEC")
	if err != nil {
		return "", sent, false, err
	}
	res, _ := v.([]any)
	if len(res) != 2 || res[0] != "OK" {
		return "", sent, false, nil
	}
	if r, _ := res[1].([]any); len(r) > 0 {
		role, _ = r[0].(string)
	}
	return role, sent, true, nil
}

func (w *numberedWriter) result() writerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Sent = w.sent.Load()
	s.Acks = append([]ack(nil), w.stats.Acks...)
	return s
}

var errShort = errors.New("short reply")

// errClass folds an error into a short class for the counts.
func errClass(err error) string {
	s := err.Error()
	if i := strings.Index(s, "redis error reply: "); i >= 0 {
		f := strings.Fields(s[i+len("redis error reply: "):])
		if len(f) > 0 {
			return f[0]
		}
	}
	switch {
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "refused"):
		return "refused"
	case strings.Contains(s, "EOF"), strings.Contains(s, "reset"), strings.Contains(s, "closed"):
		return "closed"
	}
	return "other"
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// vipDial connects through the VIP and asks the server its port to know
// which host it reached (the VIP drops connections when it moves).
func vipDial(c *cluster) func() (*writer.Conn, int, error) {
	return func() (*writer.Conn, int, error) {
		conn, err := writer.Dial(c.vip.addr(), 500*time.Millisecond)
		if err != nil {
			return nil, -1, err
		}
		v, err := conn.Do("CONFIG", "GET", "port")
		if err != nil {
			conn.Close()
			return nil, -1, err
		}
		arr, _ := v.([]any)
		if len(arr) != 2 {
			conn.Close()
			return nil, -1, errShort
		}
		port, _ := arr[1].(string)
		return conn, c.byPort(port), nil
	}
}

// directDial connects straight to host i's Redis (an application on that host).
func directDial(c *cluster, i int) func() (*writer.Conn, int, error) {
	return func() (*writer.Conn, int, error) {
		conn, err := writer.Dial(c.hosts[i].redis.addr(), 500*time.Millisecond)
		if err != nil {
			return nil, -1, err
		}
		return conn, i, nil
	}
}

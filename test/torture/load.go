package torture

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// background is load the faults need: keys with short TTLs written through
// the VIP (expiry moves offsets on whichever node is master, S11), and,
// while evict is on, large values with TTLs that push a master with
// maxmemory into evicting (volatile-lru: only TTL keys are evicted, never an
// acknowledged write).
type background struct {
	c     *cluster
	rnd   *lockedRand
	evict atomic.Bool
	sent  atomic.Int64
}

func (b *background) run(ctx context.Context) {
	var conn *writer.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	big := strings.Repeat("x", 8192)
	for n := 0; ctx.Err() == nil; n++ {
		if conn == nil {
			c, err := writer.Dial(b.c.vip.addr(), 500*time.Millisecond)
			if err != nil {
				sleepCtx(ctx, 100*time.Millisecond)
				continue
			}
			conn = c
		}
		ttl := strconv.Itoa(int(b.rnd.dur(200*time.Millisecond, 3*time.Second) / time.Millisecond))
		val := "t"
		if b.evict.Load() {
			val = big
		}
		b.sent.Add(1)
		if _, err := conn.Do("SET", b.c.spec.Prefix+"ttl:"+strconv.Itoa(n), val, "PX", ttl); err != nil && !strings.Contains(err.Error(), "redis error reply") {
			conn.Close()
			conn = nil
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

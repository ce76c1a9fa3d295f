package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	redisnode "github.com/redis-vip/redis-vip/node"
)

// A hung Redis (SIGSTOP: the kernel still accepts connections, nothing
// answers) costs one connect and one command timeout, not two: go-redis
// opens a second connection when the first handshake times out, which made
// every read of a hung peer in a master transition twice as slow (issue 11,
// SIGSTOP in run mode). The bound is wide (the old cost is 2x the command
// timeout, the new one 1x plus the connect timeout), so a loaded machine does
// not fail it.
func TestHungServerCostsOneTimeout(t *testing.T) {
	t.Parallel() // twelve seconds of waiting on timeouts, no CPU
	s := redistest.Start(t, redistest.Options{})
	s.Freeze()

	const cmdTimeout = 4 * time.Second
	c := redisnode.Dial(redisnode.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, CommandTimeout: cmdTimeout})
	defer c.Close()
	for _, call := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Facts", func(ctx context.Context) error { _, err := c.Facts(ctx); return err }},
		{"ConfigGet", func(ctx context.Context) error { _, err := c.ConfigGet(ctx, "save"); return err }},
		{"Unpause", c.Unpause},
	} {
		start := time.Now()
		err := call.fn(context.Background())
		took := time.Since(start)
		if !errors.Is(err, redisnode.ErrUnreachable) {
			t.Errorf("%s on a hung server: %v; want ErrUnreachable", call.name, err)
		}
		if took >= 2*cmdTimeout-time.Second { // expected: 4.2 s; the old cost 8 s
			t.Errorf("%s on a hung server took %v; want about one command timeout (%v), not two", call.name, took, cmdTimeout)
		}
	}
}

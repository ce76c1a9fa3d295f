package node

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

func TestClassifyStream(t *testing.T) {
	cmd := func(args ...string) string { return respCommand(args...) }
	for _, c := range []struct {
		name   string
		stream string
		want   Writes
		n      int
		first  string
		bad    bool
	}{
		{name: "empty", stream: "", want: WritesNone},
		{name: "pings and selects", stream: cmd("SELECT", "0") + cmd("PING") + cmd("REPLCONF", "GETACK", "*"), want: WritesNone, n: 3},
		{name: "an empty transaction", stream: cmd("MULTI") + cmd("EXEC"), want: WritesNone, n: 2},
		{name: "expiry and eviction", stream: cmd("SELECT", "2") + cmd("DEL", "a") + cmd("unlink", "b", "c"), want: WritesDeletesOnly, n: 3},
		{name: "a write among deletes", stream: cmd("DEL", "a") + cmd("set", "k", "v") + cmd("HSET", "h", "f", "v"), want: WritesSome, n: 3, first: "SET"},
		{name: "inline ping", stream: "PING\r\n" + cmd("PING"), want: WritesNone, n: 2},
		{name: "inline write", stream: "INCR counter\r\n", want: WritesSome, n: 1, first: "INCR"},
		{name: "argument cut off", stream: cmd("PING") + "*3\r\n$3\r\nSET\r\n$1\r\n", bad: true},
		{name: "name cut off", stream: "*1\r\n$4\r\nPI", bad: true},
		{name: "line cut off", stream: cmd("PING") + "*1", bad: true},
		{name: "bad count", stream: "*x\r\n", bad: true},
		{name: "bulk expected", stream: "*1\r\n+PING\r\n", bad: true},
		{name: "negative bulk", stream: "*1\r\n$-1\r\n", bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, n, first, err := classifyStream(strings.NewReader(c.stream))
			if c.bad {
				if err == nil || w != WritesUnknown {
					t.Fatalf("classifyStream = %v, %v: want unknown and an error", w, err)
				}
				return
			}
			if err != nil || w != c.want || n != c.n || first != c.first {
				t.Fatalf("classifyStream = %v %d %q %v; want %v %d %q", w, n, first, err, c.want, c.n, c.first)
			}
		})
	}
}

func TestWritesText(t *testing.T) {
	for _, w := range []Writes{WritesUnknown, WritesNone, WritesDeletesOnly, WritesSome} {
		b, err := w.MarshalText()
		var back Writes
		if err != nil || back.UnmarshalText(b) != nil || back != w {
			t.Fatalf("%v: %q %v -> %v", w, b, err, back)
		}
		if w.Known() != (w != WritesUnknown) {
			t.Fatalf("%v.Known() = %v", w, w.Known())
		}
	}
	var w Writes
	if err := w.UnmarshalText([]byte("lots")); err == nil {
		t.Fatal("an unknown name was read")
	}
	var s *Stream
	if s.Class() != WritesUnknown {
		t.Fatal("a nil stream is not unknown")
	}
}

// StreamSince against a real master: what its replication stream holds
// since an offset, classified by the commands and not by the offsets (S11).
func TestStreamSince(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	m := startServer(t, "enable-debug-command yes")
	conn := fill(t, ctx, m.Addr(), 3, 0)
	// A key that expires after the point read from: its DEL moves the
	// offset like a write would. With active expiry off it goes only when
	// looked up, so the test decides when.
	lazyExpiry(t, ctx, conn)
	if err := conn.Set(ctx, "ttl", 1, 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	_, c, f0 := withBacklog(t, ctx, m, conn)
	from := f0.ReplOffset + 1

	s, err := c.StreamSince(ctx, from)
	if err != nil || s.Writes != WritesNone {
		t.Fatalf("nothing since: %+v %v", s, err)
	}

	deadline := time.Now().Add(waitLimit)
	for conn.Exists(ctx, "ttl").Val() != 0 { // the lookup expires it: DEL is propagated
		if time.Now().After(deadline) {
			t.Fatal("the key never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s, err = c.StreamSince(ctx, from)
	if err != nil || s.Writes != WritesDeletesOnly || s.From != from || s.To <= f0.ReplOffset {
		t.Fatalf("after an expiry: %+v %v, want deletes-only from %d", s, err, from)
	}

	if err := conn.Set(ctx, "new", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s, err = c.StreamSince(ctx, from)
	if err != nil || s.Writes != WritesSome || s.First != "SET" || s.Commands < 2 {
		t.Fatalf("after a write: %+v %v, want writes, first SET", s, err)
	}

	// Offsets outside the backlog are unknown, with the reason; never a
	// full resync, never an error.
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.StreamSince(ctx, f.BacklogFirstByte-1)
	if err != nil || s.Writes != WritesUnknown || !strings.Contains(s.Why, "not in the backlog") {
		t.Fatalf("before the backlog: %+v %v", s, err)
	}
	if s, err = c.StreamSince(ctx, f.ReplOffset+10); err != nil || s.Writes != WritesNone {
		t.Fatalf("past the end: %+v %v", s, err)
	}
}

// withBacklog attaches a replica to m (a master has a backlog once one
// did) and waits until it has every write made on conn; it returns the
// replica, a Client of m and m's facts then.
func withBacklog(t *testing.T, ctx context.Context, m *redistest.Server, conn *redis.Conn) (*redistest.Server, *Client, Facts) {
	t.Helper()
	r := startServer(t, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port))
	waitReplicas(t, ctx, conn, 1)
	c := dialTest(t, m.Addr(), "")
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r, c, f
}

// lazyExpiry switches a server's active expiry off: a key that expired
// is deleted (and its DEL replicated) only when a command looks it up.
func lazyExpiry(t *testing.T, ctx context.Context, conn *redis.Conn) {
	t.Helper()
	if err := conn.Do(ctx, "DEBUG", "SET-ACTIVE-EXPIRE", "0").Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamSinceWithoutBacklogOrServer(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	lone := startServer(t) // no replica ever attached: no backlog
	if err := rawClient(t, lone.Addr(), "", 0).Set(ctx, "k", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Its offset did not move (no backlog, no history): from 0 it cannot
	// be read.
	s, err := dialTest(t, lone.Addr(), "").StreamSince(ctx, 0)
	if err != nil || s.Writes != WritesUnknown || !strings.Contains(s.Why, "not in the backlog") {
		t.Fatalf("no backlog: %+v %v", s, err)
	}
	gone := dialTest(t, "127.0.0.1:"+strconv.Itoa(redistest.FreePort(t)), "")
	if _, err := gone.StreamSince(ctx, 1); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable: %v, want ErrUnreachable", err)
	}
}

// With requirepass the stream's own connection authenticates too.
func TestStreamSinceAuth(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	m := startServer(t, "requirepass s3cret")
	startServer(t, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port), "masterauth s3cret")
	conn := rawClient(t, m.Addr(), "s3cret", 0).Conn()
	t.Cleanup(func() { conn.Close() })
	if err := conn.Set(ctx, "a", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ctx, conn, 1)
	c := dialTest(t, m.Addr(), "s3cret")
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "b", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s, err := c.StreamSince(ctx, f.ReplOffset+1)
	if err != nil || s.Writes != WritesSome {
		t.Fatalf("with a password: %+v %v", s, err)
	}
}

// ForkStreams on a real fork: B promoted away from A, then only A takes a
// write. Offsets moved on both sides; the streams say which side wrote.
func TestForkStreamsAfterPromotion(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a := startServer(t, "enable-debug-command yes")
	conn := fill(t, ctx, a.Addr(), 3, 0)
	lazyExpiry(t, ctx, conn) // A never deletes the key before the fork
	if err := conn.Set(ctx, "ttl", 1, 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	b := startServer(t, "replicaof 127.0.0.1 "+strconv.Itoa(a.Port))
	waitReplicas(t, ctx, conn, 1)
	ac, bc := dialTest(t, a.Addr(), ""), dialTest(t, b.Addr(), "")

	// Before the fork there is no fork point: nothing is read.
	af, _ := ac.Facts(ctx)
	bf, _ := bc.Facts(ctx)
	if as, bs := ForkStreams(ctx, ac, bc, af, bf); as != nil || bs != nil {
		t.Fatalf("no fork yet, read %+v %+v", as, bs)
	}

	if err := bc.PromoteNoOne(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "only-on-a", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// B takes no write, but its offset moves: the key expires there too.
	bconn := rawClient(t, b.Addr(), "", 0)
	deadline := time.Now().Add(waitLimit)
	for bconn.Exists(ctx, "ttl").Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the key never expired on B")
		}
		time.Sleep(20 * time.Millisecond)
	}
	af, err := ac.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bf, err = bc.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from, ok := ForkPoint(af, bf)
	if !ok || from != bf.SecondReplOffset {
		t.Fatalf("ForkPoint = %d %v, want B's second_repl_offset %d", from, ok, bf.SecondReplOffset)
	}
	if bf.ReplOffset < from {
		t.Fatalf("B's offset %d did not move past the fork at %d", bf.ReplOffset, from)
	}
	as, bs := ForkStreams(ctx, ac, bc, af, bf)
	if as == nil || bs == nil || as.Writes != WritesSome || bs.Writes != WritesDeletesOnly {
		t.Fatalf("streams since the fork: A %+v, B %+v; want A writes, B deletes-only", as, bs)
	}
	// By offsets B, the promoted one, is A's successor; by what the streams
	// hold, A is ahead: an expiry is not a write (S11).
	if rel, raw := Judge(af, bf, MustParseAddr(a.Addr()), as.Writes, bs.Writes); raw != Predecessor || rel != Ahead {
		t.Fatalf("Judge(A, B) = %v (raw %v), want ahead (raw predecessor)", rel, raw)
	}
}

// hungSincer answers only when released (a server that stopped
// answering): ForkStreams still returns when ctx ends.
type hungSincer struct{ release chan struct{} }

func (h hungSincer) StreamSince(context.Context, int64) (Stream, error) {
	<-h.release
	return Stream{}, errors.New("released")
}

func TestForkStreamsBoundedByContext(t *testing.T) {
	a := Facts{ReplID: "bbbb", ReplOffset: 200, ReplID2: "aaaa", SecondReplOffset: 101}
	b := Facts{ReplID: "aaaa", ReplOffset: 150}
	h := hungSincer{release: make(chan struct{})}
	defer close(h.release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	as, bs := ForkStreams(ctx, h, h, a, b)
	if as == nil || bs == nil || as.Writes != WritesUnknown || as.From != 101 || !strings.Contains(bs.Why, "no answer in time") {
		t.Fatalf("hung streams: %+v %+v", as, bs)
	}
}

// A PSYNC that continues counts as a good replica for min-replicas-to-write
// until it disconnects: reading the stream of a master whose fence refuses
// writes must not let one through (issue 10's bound), armed (one replica
// short: the reader pauses writes) or closed (two short). A writer hammers
// the fenced master while its stream is read again and again: not one
// write may be acknowledged, and the stream is still read.
func TestStreamSinceKeepsAFenceShut(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"1", "2"} {
		t.Run("min-replicas-to-write "+level, func(t *testing.T) {
			t.Parallel()
			keepsFenceShut(t, level)
		})
	}
}

func keepsFenceShut(t *testing.T, level string) {
	ctx := testCtx(t)
	m := startServer(t)
	conn := fill(t, ctx, m.Addr(), 3, 0)
	r, c, f0 := withBacklog(t, ctx, m, conn)
	from := f0.ReplOffset + 1
	if err := rawClient(t, r.Addr(), "", 0).Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "after-the-fork", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"min-replicas-max-lag", "10"}, {"min-replicas-to-write", level}} {
		if err := conn.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(waitLimit)
	for { // the replica's departure is counted
		err := conn.Set(ctx, "probe", 1, 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "NOREPLICAS") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fence never refused a write: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if f, err := c.Facts(ctx); err != nil || !f.GoodReplicasCounted || f.GoodReplicas != 0 {
		t.Fatalf("fenced master's facts: good replicas %d counted %v (%v), want 0 counted", f.GoodReplicas, f.GoodReplicasCounted, err)
	}

	writer := rawClient(t, m.Addr(), "", 0)
	stop := make(chan struct{})
	acked := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; i < 1_000_000; i++ {
			select {
			case <-stop:
				acked <- n
				return
			default:
			}
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if writer.Set(wctx, "w", i, 0).Err() == nil {
				n++
			}
			cancel()
		}
		acked <- n
	}()
	for range 10 {
		s, err := c.StreamSince(ctx, from)
		if err != nil || s.Writes != WritesSome {
			t.Errorf("fenced master's stream: %+v %v, want writes", s, err)
		}
	}
	close(stop)
	if n := <-acked; n != 0 {
		t.Errorf("the fenced master acknowledged %d writes while its stream was read", n)
	}
}

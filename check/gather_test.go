package check_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// gatherPair is a master and its replica, real servers, with the clients
// check would use and an instance state dir.
type gatherPair struct {
	master, replica   *redistest.Server
	local, peer       *node.Client
	localAddr, peerAt node.Addr
	sd                transition.StateDir
}

func newGatherPair(t *testing.T) gatherPair {
	t.Helper()
	m := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{Args: []string{"replicaof 127.0.0.1 " + strconv.Itoa(m.Port)}})
	ctx := context.Background()
	if err := m.Client().Set(ctx, "k", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Client().Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	dial := func(s *redistest.Server) *node.Client {
		// A command timeout far longer than any check bound: Gather must
		// return on its ctx, not on the client's own timeouts.
		c := node.Dial(node.Options{Addr: s.Addr(), DialTimeout: 20 * time.Second, CommandTimeout: 20 * time.Second})
		t.Cleanup(func() { c.Close() })
		return c
	}
	return gatherPair{master: m, replica: r, local: dial(m), peer: dial(r),
		localAddr: node.MustParseAddr(m.Addr()), peerAt: node.MustParseAddr(r.Addr()),
		sd: transition.StateDir{Dir: t.TempDir(), Instance: "redis"}}
}

func (p gatherPair) gather(t *testing.T, bound time.Duration) (check.Input, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	in, err := check.Gather(ctx, p.local, p.peer, p.sd, p.localAddr, p.peerAt, start)
	return in, time.Since(start), err
}

func TestGatherReadsBothAndTheStateDir(t *testing.T) {
	t.Parallel()
	p := newGatherPair(t)
	if _, err := p.sd.Enqueue(transition.EventMaster, transition.SourceHook, time.Now()); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Minute).Round(time.Second)
	if err := p.sd.WriteHoldoff(transition.Holdoff{Until: until, Reason: "synced"}); err != nil {
		t.Fatal(err)
	}
	in, _, err := p.gather(t, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if in.Local == nil || in.Local.Role != node.RoleMaster || in.Peer == nil || in.Peer.Role != node.RoleReplica || in.LocalErr != nil || in.PeerErr != nil {
		t.Fatalf("facts: local %+v %v, peer %+v %v", in.Local, in.LocalErr, in.Peer, in.PeerErr)
	}
	if in.LastEvent != transition.EventMaster || in.Newest.Source != transition.SourceHook || !in.Holdoff.Until.Equal(until) || in.TransitionRunning {
		t.Fatalf("state dir: event %q %+v, holdoff %+v, running %v", in.LastEvent, in.Newest, in.Holdoff, in.TransitionRunning)
	}
	// One history, no fork: no stream is read.
	if in.LocalStream != node.WritesUnknown || in.PeerStream != node.WritesUnknown {
		t.Fatalf("streams without a fork: %v %v", in.LocalStream, in.PeerStream)
	}
	// What Gather read reaches the verdict: the hold-off makes it fail.
	if got := check.Verdict(in); got.OK || !strings.Contains(got.Reason, "holding off") {
		t.Fatalf("verdict during a hold-off: %+v", got)
	}
	if err := p.sd.ClearHoldoff(); err != nil {
		t.Fatal(err)
	}
	if in, _, err = p.gather(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := check.Verdict(in); !got.OK {
		t.Fatalf("a master with its replica in sync fails: %s", got.Reason)
	}
}

// A hung peer (SIGSTOP: connections are accepted, nothing answers) costs
// the check its bound, not the client's 20 s timeouts; it reads as
// unreachable, and the local facts are still there.
func TestGatherBoundedByAHungPeer(t *testing.T) {
	t.Parallel()
	p := newGatherPair(t)
	p.replica.Freeze()
	in, took, err := p.gather(t, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if took > 10*time.Second {
		t.Fatalf("Gather took %s with a 500ms bound", took)
	}
	if in.Peer != nil || !errors.Is(in.PeerErr, node.ErrUnreachable) {
		t.Fatalf("hung peer: %+v %v, want unreachable", in.Peer, in.PeerErr)
	}
	if in.Local == nil || in.LocalErr != nil {
		t.Fatalf("local lost with the peer: %v", in.LocalErr)
	}
}

// After a fork, Gather reads both streams: the promoted replica took no
// write, the old master took one (S11).
func TestGatherReadsTheStreamsSinceAFork(t *testing.T) {
	t.Parallel()
	p := newGatherPair(t)
	ctx := context.Background()
	if err := p.peer.PromoteNoOne(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.master.Client().Set(ctx, "after", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	in, _, err := p.gather(t, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if in.LocalStream != node.WritesSome || in.PeerStream != node.WritesNone {
		t.Fatalf("streams since the fork: local %v, peer %v; want writes, none", in.LocalStream, in.PeerStream)
	}
}

// A state dir check cannot read is reported, and the facts still come.
func TestGatherReportsAnUnreadableStateDir(t *testing.T) {
	t.Parallel()
	p := newGatherPair(t)
	if err := os.WriteFile(filepath.Join(p.sd.Dir, "redis.holdoff"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _, err := p.gather(t, 10*time.Second)
	if err == nil || in.Local == nil || in.Peer == nil {
		t.Fatalf("corrupt holdoff: err %v, local %v, peer %v", err, in.Local != nil, in.Peer != nil)
	}
}

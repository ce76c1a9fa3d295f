package wiring

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/witness"
)

// Fencing's settings reach the runner, the keeper and check; without a
// witness there is no client, with one the client is the instance's.
func TestFenceWiring(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "w.secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	off := load(t, "instances:\n  a: {local: \"192.0.2.1:6379\", peer: \"192.0.2.2:6379\", state_dir: "+t.TempDir()+"}\n")
	if w := Witness(off, zap.NewNop()); w != nil {
		t.Errorf("fencing off: witness %v", w)
	}
	local, peer, err := Dial(off)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	defer peer.Close()
	if r := Runner(off, local, peer, zap.NewNop(), false); r.Opts.FenceAfter != 0 || r.Witness != nil {
		t.Errorf("fencing off: runner fence %s witness %v", r.Opts.FenceAfter, r.Witness)
	}
	on := load(t, "instances:\n  a: {local: \"192.0.2.1:6379\", peer: \"192.0.2.2:6379\", state_dir: "+t.TempDir()+
		", fence_after: 5s, witness: {address: \"127.0.0.1:1\", secret_file: "+secret+"}}\n")
	r := Runner(on, local, peer, zap.NewNop(), false)
	if r.Opts.FenceAfter != 5*time.Second || r.Opts.LeaseDuration != fence.LeaseDuration(5*time.Second) {
		t.Errorf("runner options %+v", r.Opts)
	}
	if _, ok := r.Witness.(*witness.Client); !ok {
		t.Fatalf("runner witness %T, want *witness.Client", r.Witness)
	}
	// Nothing listens on port 1: the client says so, as unreachable.
	if _, err := r.Witness.Acquire(context.Background(), time.Second); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Acquire: %v", err)
	}
	k, release, err := FenceKeeper(on, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if k.FenceAfter != 5*time.Second || k.Interval != 250*time.Millisecond || k.Witness == nil || k.LocalAnnounce.String() != "192.0.2.1:6379" || k.ProbeTimeout <= 0 {
		t.Errorf("keeper %+v", k)
	}
	in, _ := CheckInput(context.Background(), on, local, peer, time.Now())
	if !in.Fence.On || !in.Fence.Witness || in.Fence.FenceAfter != 5*time.Second || in.Fence.KeeperStale <= 0 {
		t.Errorf("check input fence %+v", in.Fence)
	}
}

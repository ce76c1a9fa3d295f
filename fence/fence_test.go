package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
)

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &syscallErr{syscall.ECONNREFUSED}}
	for _, c := range []struct {
		name string
		err  error
		want Evidence
	}{
		{"answered", nil, Alive},
		{"busy", errors.New("BUSY Redis is busy running a script"), Alive},
		{"auth", fmt.Errorf("x: %w", node.ErrAuth), Alive},
		{"refused", fmt.Errorf("INFO: %w: %w", node.ErrUnreachable, refused), Dead},
		{"timeout", fmt.Errorf("INFO: %w: %w", node.ErrUnreachable, context.DeadlineExceeded), Unknown},
		{"no route", fmt.Errorf("INFO: %w: %w", node.ErrUnreachable, &net.OpError{Op: "dial", Err: &syscallErr{syscall.EHOSTUNREACH}}), Unknown},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %v, want %v", c.name, got, c.want)
		}
	}
}

type syscallErr struct{ errno syscall.Errno }

func (e *syscallErr) Error() string { return e.errno.Error() }
func (e *syscallErr) Unwrap() error { return e.errno }

// A real refused connection and a real timeout, through node.Client.
func TestClassifyRealErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: the kernel refuses
	c := node.Dial(node.Options{Addr: addr, DialTimeout: time.Second, CommandTimeout: time.Second})
	defer c.Close()
	_, err = c.Facts(context.Background())
	if got := Classify(err); got != Dead {
		t.Errorf("closed port: Classify(%v) = %v, want dead", err, got)
	}
	// A listener that never answers: the handshake times out.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	h := node.Dial(node.Options{Addr: hung.Addr().String(), DialTimeout: time.Second, CommandTimeout: 200 * time.Millisecond})
	defer h.Close()
	_, err = h.Facts(context.Background())
	if got := Classify(err); got != Unknown {
		t.Errorf("silent server: Classify(%v) = %v, want unknown", err, got)
	}
}

func TestDecide(t *testing.T) {
	fa := 5 * time.Second
	wait := fa + Margin(fa)
	for _, c := range []struct {
		name  string
		in    Input
		level Level
		want  string
	}{
		{"off", Input{Peer: Unknown}, Open, "fencing off"},
		{"peer dead", Input{FenceAfter: fa, Peer: Dead}, Open, "positively dead"},
		{"peer syncing", Input{FenceAfter: fa, Peer: Alive, PeerSyncing: true}, Open, "syncing"},
		{"in sync: armed", Input{FenceAfter: fa, Peer: Alive}, Armed, "armed"},
		{"peer unknown: closed", Input{FenceAfter: fa, Peer: Unknown}, Closed, "peer unknown"},
		{"lease", Input{FenceAfter: fa, Peer: Unknown, Witness: true, LeaseHeld: true}, Open, "witness lease"},
		{"lease, peer in sync: armed", Input{FenceAfter: fa, Peer: Alive, PeerInSync: true, Witness: true, LeaseHeld: true}, Armed, "armed"},
		{"lease, peer syncing", Input{FenceAfter: fa, Peer: Alive, PeerSyncing: true, Witness: true, LeaseHeld: true}, Open, "syncing"},
		{"lease, peer alive, no replica in sync", Input{FenceAfter: fa, Peer: Alive, Witness: true, LeaseHeld: true}, Open, "witness lease"},
		{"lease, peer dead", Input{FenceAfter: fa, Peer: Dead, Witness: true, LeaseHeld: true}, Open, "positively dead"},
		{"promoted with lease, waited, peer in sync: armed", Input{FenceAfter: fa, Peer: Alive, PeerInSync: true, Witness: true, LeaseHeld: true, PromotedOnUnknown: true, Since: wait}, Armed, "armed"},
		{"witness, no lease, peer unknown", Input{FenceAfter: fa, Peer: Unknown, Witness: true}, Closed, "no witness lease"},
		{"witness, no lease, peer in sync", Input{FenceAfter: fa, Peer: Alive, Witness: true}, Armed, "armed"},
		{"witness, promoted, lease lost", Input{FenceAfter: fa, Peer: Unknown, Witness: true, PromotedOnUnknown: true, Since: time.Hour}, Closed, "no witness lease"},
		{"witness, promoted with lease, waiting", Input{FenceAfter: fa, Peer: Unknown, Witness: true, LeaseHeld: true, PromotedOnUnknown: true, Since: time.Second}, Closed, "writes wait"},
		{"promoted, waiting", Input{FenceAfter: fa, Peer: Unknown, PromotedOnUnknown: true, Since: wait - time.Millisecond}, Closed, "writes wait"},
		{"promoted, waited", Input{FenceAfter: fa, Peer: Unknown, PromotedOnUnknown: true, Since: wait}, Open, "fence is up"},
		{"dead wins over waiting", Input{FenceAfter: fa, Peer: Dead, PromotedOnUnknown: true}, Open, "positively dead"},
		{"peer another master: closed, not armed (stale acknowledgements)", Input{FenceAfter: fa, Peer: Alive, PeerElsewhere: true}, Closed, "does not replicate"},
		{"peer another master, lease held: open", Input{FenceAfter: fa, Peer: Alive, PeerElsewhere: true, Witness: true, LeaseHeld: true}, Open, "witness lease"},
		{"peer another master, no lease: closed", Input{FenceAfter: fa, Peer: Alive, PeerElsewhere: true, Witness: true}, Closed, "does not replicate"},
		{"promoted, waited, the old master back as a master: open", Input{FenceAfter: fa, Peer: Alive, PeerElsewhere: true, PromotedOnUnknown: true, Since: wait}, Open, "fence is up"},
	} {
		d := Decide(c.in)
		if d.Level != c.level || !strings.Contains(d.Reason, c.want) {
			t.Errorf("%s: Decide = %+v, want %v with %q", c.name, d, c.level, c.want)
		}
	}
	if d := Decide(Input{FenceAfter: fa, Peer: Unknown, PromotedOnUnknown: true, Since: time.Second}); d.Recheck != wait-time.Second {
		t.Errorf("Recheck = %v, want %v", d.Recheck, wait-time.Second)
	}
	for l, want := range map[Level]int{Open: 0, Armed: 1, Closed: 2} {
		if l.MinReplicas() != want {
			t.Errorf("%v.MinReplicas() = %d, want %d", l, l.MinReplicas(), want)
		}
	}
}

// Two masters are never both open on unknown evidence about each other,
// whatever each knows: the exhaustive product of inputs for two sides.
func TestNeverTwoOpenOnUnknown(t *testing.T) {
	fa := 5 * time.Second
	wait := fa + Margin(fa)
	for _, witness := range []bool{false, true} {
		for mask := 0; mask < 1<<6; mask++ {
			// Side A is the old master, side B promoted on unknown
			// evidence; at most one holds the lease (the witness).
			aLease := mask&1 != 0 && witness
			bLease := mask&2 != 0 && witness && !aLease
			bSince := []time.Duration{0, wait - time.Millisecond, wait, time.Hour}[(mask>>2)&3]
			a := Decide(Input{FenceAfter: fa, Peer: Unknown, Witness: witness, LeaseHeld: aLease})
			b := Decide(Input{FenceAfter: fa, Peer: Unknown, Witness: witness, LeaseHeld: bLease, PromotedOnUnknown: true, Since: bSince})
			if a.Level == Open && b.Level == Open {
				t.Errorf("witness %v, mask %b: both open (%s / %s)", witness, mask, a.Reason, b.Reason)
			}
			if a.Level == Armed || b.Level == Armed {
				t.Errorf("witness %v, mask %b: armed on unknown evidence: a live redis-vip closes it (%s / %s)", witness, mask, a.Reason, b.Reason)
			}
		}
	}
}

// A lease holder whose replica is in sync is armed, never open: if its
// redis-vip stops renewing (dies, hangs) and the lease moves on, its Redis
// fences itself within fence_after, as without a witness. It is open on the
// lease only while no replica acknowledges, and that open says so (OnLease:
// a keeper that stops arms it).
func TestLeaseHolderInSyncIsArmed(t *testing.T) {
	fa := 5 * time.Second
	wait := fa + Margin(fa)
	for mask := 0; mask < 1<<5; mask++ {
		in := Input{FenceAfter: fa, Peer: Alive, PeerInSync: true, Witness: true, LeaseHeld: true,
			PromotedOnUnknown: mask&1 != 0, Since: []time.Duration{0, wait - time.Millisecond, wait, time.Hour}[(mask>>1)&3]}
		d := Decide(in)
		if d.Level == Open || d.OnLease {
			t.Errorf("%+v: %+v, want armed (or closed while a promotion waits)", in, d)
		}
	}
	for _, peer := range []Evidence{Unknown, Alive} {
		d := Decide(Input{FenceAfter: fa, Peer: peer, Witness: true, LeaseHeld: true})
		if d.Level != Open || !d.OnLease {
			t.Errorf("lease held, peer %v, no replica in sync: %+v, want open on the lease", peer, d)
		}
	}
	for _, in := range []Input{{FenceAfter: fa, Peer: Dead, Witness: true, LeaseHeld: true}, {FenceAfter: fa, Peer: Alive, PeerSyncing: true, Witness: true, LeaseHeld: true}, {Peer: Unknown}} {
		if d := Decide(in); d.OnLease {
			t.Errorf("%+v: %+v, want an open that does not rest on the lease", in, d)
		}
	}
}

// The timing argument, as arithmetic: the old master's Redis refuses writes
// at most MaxLag+2 s after the last acknowledgement it received, which was
// sent before the new master promoted; the new master opens FenceAfter +
// Margin after its promotion. The windows never overlap, for every setting.
func TestWindowsNeverOverlap(t *testing.T) {
	for fa := MinFenceAfter; fa <= 60*time.Second; fa += 250 * time.Millisecond {
		oldFencedBy := time.Duration(MaxLag(fa)+2) * time.Second // after the last ACK (<= promotion)
		newOpensAt := fa + Margin(fa)                            // after the promotion
		if oldFencedBy > fa {
			t.Errorf("fence_after %v: Redis fences only %v after the last ACK", fa, oldFencedBy)
		}
		if newOpensAt <= oldFencedBy {
			t.Errorf("fence_after %v: the new master opens at %v, the old one is fenced by %v", fa, newOpensAt, oldFencedBy)
		}
		// The lease was renewed up to RenewEvery before the partition
		// (and so before the last ACK the old master received).
		d := LeaseDuration(fa)
		if moves := d - RenewEvery(d); moves < oldFencedBy+Margin(fa) {
			t.Errorf("fence_after %v: a lease of %v renewed every %v can move %v after the partition, before the old master's fence (%v) plus the margin", fa, d, RenewEvery(d), moves, oldFencedBy)
		}
	}
	if err := Validate(2 * time.Second); err == nil {
		t.Error("Validate(2s) = nil, want an error")
	}
	if err := Validate(0); err != nil {
		t.Errorf("Validate(0) = %v", err)
	}
}

func TestMayPromoteOnUnknown(t *testing.T) {
	if ok, _ := MayPromoteOnUnknown(false, false); !ok {
		t.Error("no witness: want promotion allowed (writes wait)")
	}
	if ok, _ := MayPromoteOnUnknown(true, true); !ok {
		t.Error("lease held: want promotion allowed")
	}
	if ok, why := MayPromoteOnUnknown(true, false); ok || !strings.Contains(why, "lease") {
		t.Errorf("witness without lease = %v %q, want refused", ok, why)
	}
}

func TestStamp(t *testing.T) {
	a, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	b, _ := Now()
	if d, ok := a.Since(b); !ok || d <= 0 {
		t.Errorf("Since = %v, %v; want a positive duration", d, ok)
	}
	other := a
	other.BootID = "another-boot"
	if _, ok := other.Since(b); ok {
		t.Error("a stamp from another boot must not count")
	}
}

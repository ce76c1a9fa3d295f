package switchover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/node"
)

// script is a fake Server that returns its facts in order, repeating the
// last, and records when its clients were shed.
type script struct {
	facts []node.Facts
	calls int
	// events, when set, records "kill" on each KillNormalClients.
	events *[]string
}

func (s *script) KillNormalClients(context.Context) (int64, error) {
	if s.events != nil {
		*s.events = append(*s.events, "kill")
	}
	return 3, nil
}

func (s *script) Facts(context.Context) (node.Facts, error) {
	f := s.facts[min(s.calls, len(s.facts)-1)]
	s.calls++
	return f, nil
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func newRunner(t *testing.T, local, peer *script, waits int) (*Runner, string, *[]string) {
	t.Helper()
	track := filepath.Join(t.TempDir(), "redis6379.switchover")
	if err := os.WriteFile(track, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []string
	clock := &fixedClock{t: time.Unix(1000, 0)}
	n := 0
	r := &Runner{Log: zap.NewNop(), Local: local, Peer: peer, LocalAnnounce: localAddr, PeerAddr: peerAddr,
		TrackFile: track, MaxLag: 1 << 20, Now: clock.now,
		Wait: func(ctx context.Context) error {
			b, _ := os.ReadFile(track)
			seen = append(seen, strings.TrimSpace(string(b)))
			clock.t = clock.t.Add(100 * time.Millisecond)
			n++
			if n > waits {
				return context.DeadlineExceeded
			}
			return nil
		}}
	return r, track, &seen
}

func readTrack(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRunMovesTheRoleAndResetsTheFile(t *testing.T) {
	local := &script{facts: []node.Facts{master(100), master(100), master(100), replicaOf("192.0.2.12", 6379, 100)}}
	peer := &script{facts: []node.Facts{replicaOf("192.0.2.11", 6379, 100), replicaOf("192.0.2.11", 6379, 100), master(100)}}
	r, track, seen := newRunner(t, local, peer, 10)
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.To != peerAddr || res.Duration != 200*time.Millisecond {
		t.Fatalf("result %+v", res)
	}
	for _, v := range *seen {
		if v != "1" {
			t.Fatalf("track file was %q while waiting, want 1", v)
		}
	}
	if got := readTrack(t, track); got != "0" {
		t.Fatalf("track file after: %q, want 0", got)
	}
}

func TestRunRefusesWithoutTouchingTheFile(t *testing.T) {
	local := &script{facts: []node.Facts{master(100)}}
	lagging := replicaOf("192.0.2.11", 6379, 100)
	lagging.MasterLinkUp = false
	r, track, _ := newRunner(t, local, &script{facts: []node.Facts{lagging}}, 10)
	_, err := r.Run(context.Background())
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("want ErrRefused, got %v", err)
	}
	if got := readTrack(t, track); got != "0" {
		t.Fatalf("track file: %q, want 0", got)
	}
}

func TestRunTimesOutAndResetsTheFile(t *testing.T) {
	local := &script{facts: []node.Facts{master(100)}}
	peer := &script{facts: []node.Facts{replicaOf("192.0.2.11", 6379, 100)}}
	r, track, _ := newRunner(t, local, peer, 3)
	_, err := r.Run(context.Background())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if got := readTrack(t, track); got != "0" {
		t.Fatalf("track file: %q, want 0", got)
	}
}

func TestRunNeedsTheTrackFile(t *testing.T) {
	r := &Runner{Log: zap.NewNop(), TrackFile: filepath.Join(t.TempDir(), "missing"), Now: time.Now}
	if _, err := r.Run(context.Background()); !errors.Is(err, ErrNoTrackFile) {
		t.Fatalf("want ErrNoTrackFile, got %v", err)
	}
}

// holdRecorder is a Hold that records, in order with the kills, when it
// was taken and released and what the track file said then.
type holdRecorder struct {
	t      *testing.T
	track  string
	events []string
	err    error
}

func (h *holdRecorder) hold(context.Context) (func(context.Context) error, error) {
	h.events = append(h.events, "hold track="+readTrack(h.t, h.track))
	if h.err != nil {
		return nil, h.err
	}
	return func(context.Context) error {
		h.events = append(h.events, "release track="+readTrack(h.t, h.track))
		return nil
	}, nil
}

// movingRunner is a Runner whose pair has swapped roles at the second
// look, with a holdRecorder as its Hold (failing with holdErr).
func movingRunner(t *testing.T, holdErr error) (*Runner, *holdRecorder) {
	local := &script{facts: []node.Facts{master(100), master(100), replicaOf("192.0.2.12", 6379, 100)}}
	peer := &script{facts: []node.Facts{replicaOf("192.0.2.11", 6379, 100), master(100)}}
	r, track, _ := newRunner(t, local, peer, 10)
	h := &holdRecorder{t: t, track: track, err: holdErr}
	local.events = &h.events
	r.Hold = h.hold
	return r, h
}

func TestRunHoldsTheVIPUntilTheClientsAreShed(t *testing.T) {
	r, h := movingRunner(t, nil)
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Held before keepalived is told (the file still 0), the clients shed
	// while held, released before the file is reset.
	want := []string{"hold track=0", "kill", "release track=1"}
	if strings.Join(h.events, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %v, want %v", h.events, want)
	}
	if got := readTrack(t, h.track); got != "0" {
		t.Fatalf("track file after: %q, want 0", got)
	}
}

func TestRunReleasesTheHoldOnTimeout(t *testing.T) {
	local := &script{facts: []node.Facts{master(100)}}
	peer := &script{facts: []node.Facts{replicaOf("192.0.2.11", 6379, 100)}}
	r, track, _ := newRunner(t, local, peer, 3)
	h := &holdRecorder{t: t, track: track}
	local.events = &h.events
	r.Hold = h.hold
	if _, err := r.Run(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	// No kill: the local Redis is still the master its clients need.
	want := []string{"hold track=0", "release track=0"}
	if strings.Join(h.events, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %v, want %v", h.events, want)
	}
}

func TestRunGoesOnWithoutTheHold(t *testing.T) {
	r, h := movingRunner(t, errors.New("operation not permitted"))
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatalf("a failed hold must not stop the switchover: %v", err)
	}
	if want := []string{"hold track=0", "kill"}; strings.Join(h.events, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %v, want %v", h.events, want)
	}
	if got := readTrack(t, h.track); got != "0" {
		t.Fatalf("track file after: %q, want 0", got)
	}
}

func TestRunRefusalTakesNoHold(t *testing.T) {
	local := &script{facts: []node.Facts{replicaOf("192.0.2.12", 6379, 100)}}
	peer := &script{facts: []node.Facts{master(100)}}
	r, track, _ := newRunner(t, local, peer, 10)
	h := &holdRecorder{t: t, track: track}
	r.Hold = h.hold
	if _, err := r.Run(context.Background()); !errors.Is(err, ErrRefused) {
		t.Fatalf("want ErrRefused, got %v", err)
	}
	if len(h.events) != 0 {
		t.Fatalf("events %v, want none", h.events)
	}
}

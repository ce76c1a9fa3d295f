package netlab

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Sampler records who holds the VIP every interval (netlink address dumps
// in both host namespaces, as `ip addr` shows them).
type Sampler struct {
	l     *Lab
	every time.Duration
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	samples int
	dual    time.Time // start of the current period with two holders
	dualN   int       // samples in it
	worst   time.Duration
	periods []Period
	last    string
	changes []string
}

// Period is a stretch of time during which both hosts held the VIP: from
// the first sample that saw both to the first that did not, and how many
// samples in a row saw both.
type Period struct {
	From    time.Time
	Len     time.Duration
	Samples int
}

// Sample starts sampling every interval until Stop.
func (l *Lab) Sample(every time.Duration) *Sampler {
	s := &Sampler{l: l, every: every, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *Sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.take()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) take() {
	hs := s.l.Holders()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	cur := strings.Join(hs, "+")
	if cur == "" {
		cur = "none"
	}
	if cur != s.last {
		s.changes = append(s.changes, fmt.Sprintf("%s %s", now.Format("15:04:05.000"), cur))
		s.last = cur
	}
	switch {
	case len(hs) > 1:
		if s.dual.IsZero() {
			s.dual = now
		}
		s.dualN++
	case !s.dual.IsZero():
		s.closeDual(now)
	}
}

func (s *Sampler) closeDual(now time.Time) {
	d := now.Sub(s.dual)
	s.periods = append(s.periods, Period{From: s.dual, Len: d, Samples: s.dualN})
	s.worst = max(s.worst, d)
	s.dual, s.dualN = time.Time{}, 0
}

// Stop ends sampling.
func (s *Sampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dual.IsZero() {
		s.closeDual(time.Now())
	}
}

// Worst returns the longest period with both hosts holding the VIP so far
// (to the resolution of the sampling interval), the periods, and the
// number of samples.
func (s *Sampler) Worst() (time.Duration, []Period, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.worst
	if !s.dual.IsZero() {
		w = max(w, time.Since(s.dual))
	}
	return w, append([]Period(nil), s.periods...), s.samples
}

// MostDualSamples is the most samples in a row that saw both hosts hold
// the VIP. One is what a handover that ends between the sampler's reads of
// the two hosts can show; two in a row is two holders. Unlike a period's
// length, it does not grow when a loaded host delays a sample.
func (s *Sampler) MostDualSamples() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.dualN
	for _, p := range s.periods {
		n = max(n, p.Samples)
	}
	return n
}

// Changes returns the timeline of holders ("15:04:05.000 h1").
func (s *Sampler) Changes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.changes...)
}

// DualSince returns the longest period with two holders that began at or
// after t0.
func (s *Sampler) DualSince(t0 time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w time.Duration
	for _, p := range s.periods {
		if !p.From.Before(t0) {
			w = max(w, p.Len)
		}
	}
	if !s.dual.IsZero() && !s.dual.Before(t0) {
		w = max(w, time.Since(s.dual))
	}
	return w
}

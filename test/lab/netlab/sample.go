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
	worst   time.Duration
	periods []Period
	last    string
	changes []string
}

// Period is a stretch of time during which both hosts held the VIP.
type Period struct {
	From time.Time
	Len  time.Duration
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
	case len(hs) > 1 && s.dual.IsZero():
		s.dual = now
	case len(hs) <= 1 && !s.dual.IsZero():
		s.closeDual(now)
	}
}

func (s *Sampler) closeDual(now time.Time) {
	d := now.Sub(s.dual)
	s.periods = append(s.periods, Period{From: s.dual, Len: d})
	s.worst = max(s.worst, d)
	s.dual = time.Time{}
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

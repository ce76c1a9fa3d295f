package transition

import (
	"fmt"
	"time"

	"github.com/redis-vip/redis-vip/maintenance"
)

// OutcomeMaintenance: maintenance mode was on; the event was recorded as
// the newest and nothing was changed.
const OutcomeMaintenance = "maintenance"

// Maintenance returns the instance's maintenance mode (see package
// maintenance); a file that exists but cannot be read counts as on.
func (s StateDir) Maintenance() (maintenance.State, error) {
	return maintenance.Read(s.Dir, s.Instance)
}

// RecordPaused is what a transition does while maintenance mode is on: it
// records ev as the newest event, so a transition still running stops at
// its next step and the reconcile pass that ends maintenance decides from
// the newest event, and appends one journal line with the outcome
// "maintenance". It changes nothing else. before is what the caller knows
// of the nodes (may be empty).
func (s StateDir) RecordPaused(ev Event, source string, m maintenance.State, before Snapshot, now time.Time) (Record, error) {
	rec := Record{Time: now.UTC(), Instance: s.Instance, Event: ev, Source: source, Before: before, Outcome: OutcomeMaintenance,
		Plan: &Plan{Decision: "maintenance", Reason: fmt.Sprintf("maintenance mode is %s: event recorded, nothing changed", m)}}
	t, err := s.Enqueue(ev, source, now)
	if err != nil {
		return rec, fmt.Errorf("transition %s: %w", ev, err)
	}
	rec.Seq = t.Seq
	rec.DurationMS = time.Since(now).Milliseconds()
	if err := s.Append(rec); err != nil {
		return rec, err
	}
	return rec, nil
}

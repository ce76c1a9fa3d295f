package transition

import "time"

// Holdoff makes `check` fail until Until: written when sync-before-promote
// timed out, so the VIP goes back to the node that holds the data (S2).
type Holdoff struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// Active reports whether the hold-off still applies at now.
func (h Holdoff) Active(now time.Time) bool { return now.Before(h.Until) }

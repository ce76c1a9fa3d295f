package writer

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Ack is one acknowledged write: its number, when the reply came (since the
// start of the run) and which server answered (its replica-announce-ip, no port).
type Ack struct {
	N  int64         `json:"n"`
	At time.Duration `json:"at_ns"`
	By string        `json:"by,omitempty"`
}

// Log is what the write phase recorded.
type Log struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	// Sent is the highest number sent (every number 1..Sent was sent once).
	Sent int64 `json:"sent"`
	Acks []Ack `json:"acks"`
	// Errors counts failed commands and dials by kind (timeout, refused, READONLY, ...).
	Errors   map[string]int `json:"errors"`
	Duration time.Duration  `json:"duration_ns"`
}

// Gap is the longest time between two consecutive acknowledged writes.
type Gap struct {
	// Length of the gap; zero with fewer than two acks.
	Length time.Duration
	// After is when the last ack before the gap came (since the start).
	After time.Duration
}

// LongestGap finds the longest pause between consecutive acks (acks are in
// the order they were received).
func LongestGap(acks []Ack) Gap {
	var g Gap
	for i := 1; i < len(acks); i++ {
		if d := acks[i].At - acks[i-1].At; d > g.Length {
			g = Gap{Length: d, After: acks[i-1].At}
		}
	}
	return g
}

// Report is the verdict on one run: what was acknowledged, what survived on
// the final master, and where the VIP ended up.
type Report struct {
	Key        string  `json:"key"`
	Sent       int64   `json:"sent"`
	Acked      int     `json:"acked"`
	Lost       int     `json:"lost"`
	LostSample []int64 `json:"lost_sample,omitempty"`
	// LostRanges lists every lost number as runs [first, last] of
	// consecutive acknowledged numbers.
	LostRanges [][2]int64     `json:"lost_ranges,omitempty"`
	LostBy     map[string]int `json:"lost_by,omitempty"`
	// UnackedPresent counts writes that failed on the client side but were
	// applied anyway (the reply was lost): harmless, shown for completeness.
	UnackedPresent int   `json:"unacked_present"`
	Duplicates     int   `json:"duplicates"`
	MaxGapMS       int64 `json:"max_gap_ms"`
	// MaxGapAfterMS is when the longest gap began, in ms since the start.
	MaxGapAfterMS int64          `json:"max_gap_after_ms"`
	AckedBy       map[string]int `json:"acked_by"`
	Errors        map[string]int `json:"errors,omitempty"`
	DurationMS    int64          `json:"duration_ms"`
	// Masters lists every server that reported role master at the end.
	Masters []string `json:"masters"`
	// FinalMaster is the master read back from ("" when none could be chosen).
	FinalMaster string `json:"final_master"`
	// VIPHost is the server the VIP reached at the end ("" if it did not answer).
	VIPHost     string `json:"vip_host"`
	VIPOnMaster bool   `json:"vip_on_master"`
	// Present is how many entries the final master's list holds.
	Present     int    `json:"present"`
	VerifyError string `json:"verify_error,omitempty"`
}

// Analyze compares the acknowledged writes with the numbers found on the
// final master. It is pure: the same inputs give the same report.
func Analyze(l Log, present []int64) Report {
	r := Report{Key: l.Key, Sent: l.Sent, Acked: len(l.Acks), AckedBy: map[string]int{}, Errors: l.Errors,
		DurationMS: l.Duration.Milliseconds(), Present: len(present)}
	seen := make(map[int64]int, len(present))
	for _, n := range present {
		seen[n]++
		if seen[n] == 2 {
			r.Duplicates++
		}
	}
	acked := make(map[int64]bool, len(l.Acks))
	for _, a := range l.Acks {
		acked[a.N] = true
		r.AckedBy[a.By]++
		if seen[a.N] == 0 {
			r.Lost++
			if len(r.LostSample) < 20 {
				r.LostSample = append(r.LostSample, a.N)
			}
			if k := len(r.LostRanges); k > 0 && r.LostRanges[k-1][1] == a.N-1 {
				r.LostRanges[k-1][1] = a.N
			} else {
				r.LostRanges = append(r.LostRanges, [2]int64{a.N, a.N})
			}
			if r.LostBy == nil {
				r.LostBy = map[string]int{}
			}
			r.LostBy[a.By]++
		}
	}
	for n := range seen {
		if !acked[n] {
			r.UnackedPresent++
		}
	}
	g := LongestGap(l.Acks)
	r.MaxGapMS, r.MaxGapAfterMS = g.Length.Milliseconds(), g.After.Milliseconds()
	return r
}

// Summary is the one-line human reading of the report.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "writer: %d sent, %d acknowledged, %d acknowledged writes lost", r.Sent, r.Acked, r.Lost)
	if r.Lost > 0 {
		fmt.Fprintf(&b, " (e.g. %v, by server %v)", r.LostSample[:min(5, len(r.LostSample))], mapString(r.LostBy))
	}
	fmt.Fprintf(&b, "; longest gap between acknowledged writes %d ms (from t=%.1fs)", r.MaxGapMS, float64(r.MaxGapAfterMS)/1000)
	switch {
	case r.FinalMaster == "":
		fmt.Fprintf(&b, "; no final master (masters: %v)", r.Masters)
	default:
		yes := "yes"
		if !r.VIPOnMaster {
			yes = "NO (VIP reaches " + orNone(r.VIPHost) + ")"
		}
		fmt.Fprintf(&b, "; final master %s holds the VIP: %s", r.FinalMaster, yes)
	}
	if r.VerifyError != "" {
		fmt.Fprintf(&b, "; verify: %s", r.VerifyError)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func mapString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

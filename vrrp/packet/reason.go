package packet

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// Reason says why a received advert was rejected. Like syscall.Errno it is
// also an error, so errors.Is(err, ReasonChecksum) tells whether err is a
// rejection for that reason.
type Reason uint8

// The rejection reasons. ReasonUnknown is the zero value and never returned
// by this package.
const (
	ReasonUnknown          Reason = iota // not a known reason
	ReasonShort                          // shorter than the smallest valid message
	ReasonLength                         // length does not match the address count
	ReasonChecksum                       // checksum wrong (VRRPv3: pseudo-header included)
	ReasonTTL                            // IPv4 TTL / IPv6 hop limit is not 255
	ReasonVersion                        // version not 2 or 3, or not the expected one
	ReasonType                           // type is not 1 (advertisement)
	ReasonVRID                           // VRID is not the expected one
	ReasonFamily                         // address family unexpected or inconsistent
	ReasonInterval                       // advertisement interval is zero
	ReasonIntervalMismatch               // VRRPv2 interval differs from the configured one
	ReasonAuthType                       // VRRPv2 auth type differs from the configured one
	ReasonAddresses                      // virtual addresses differ from the configured ones
	numReasons
)

// Reasons returns every reason this package reports, in a stable order, for
// callers that export all counters (including the zero ones).
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := ReasonUnknown + 1; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// String returns the reason's short kebab-case name, e.g. "bad-checksum".
func (r Reason) String() string {
	switch r {
	case ReasonUnknown:
		return "unknown"
	case ReasonShort:
		return "short"
	case ReasonLength:
		return "length-mismatch"
	case ReasonChecksum:
		return "bad-checksum"
	case ReasonTTL:
		return "bad-ttl"
	case ReasonVersion:
		return "bad-version"
	case ReasonType:
		return "bad-type"
	case ReasonVRID:
		return "wrong-vrid"
	case ReasonFamily:
		return "family-mismatch"
	case ReasonInterval:
		return "zero-interval"
	case ReasonIntervalMismatch:
		return "interval-mismatch"
	case ReasonAuthType:
		return "auth-mismatch"
	case ReasonAddresses:
		return "address-mismatch"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Error returns the same text as String (fmt prefers Error, so both must
// agree); it makes a Reason usable as an errors.Is target.
func (r Reason) Error() string { return r.String() }

// RejectError is the error Parse and Validator.Validate return for an advert
// they reject.
type RejectError struct {
	// Reason is the class of the problem, for counters.
	Reason Reason
	// Detail says what exactly was wrong, for logs.
	Detail string
}

// Error returns "VRRP advert rejected: <reason>: <detail>".
func (e *RejectError) Error() string {
	if e.Detail == "" {
		return "VRRP advert rejected: " + e.Reason.String()
	}
	return "VRRP advert rejected: " + e.Reason.String() + ": " + e.Detail
}

// Unwrap returns the Reason, so that errors.Is(err, ReasonX) works.
func (e *RejectError) Unwrap() error { return e.Reason }

// ReasonOf returns the Reason carried by err (or anything it wraps) and
// whether there was one.
func ReasonOf(err error) (Reason, bool) {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason, true
	}
	var r Reason
	if errors.As(err, &r) {
		return r, true
	}
	return ReasonUnknown, false
}

func reject(r Reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Counters counts rejected adverts per Reason. The zero value is ready to
// use and safe for concurrent use; do not copy it after first use.
type Counters struct {
	n [numReasons]atomic.Uint64
}

// Inc counts one rejection for r; unknown reasons count as ReasonUnknown.
func (c *Counters) Inc(r Reason) {
	if r >= numReasons {
		r = ReasonUnknown
	}
	c.n[r].Add(1)
}

// Record counts err if it carries a Reason and reports whether it did; nil
// and other errors are not counted.
func (c *Counters) Record(err error) bool {
	r, ok := ReasonOf(err)
	if ok {
		c.Inc(r)
	}
	return ok
}

// Snapshot copies the current counts. Each count is read atomically; the
// set as a whole is not a single instant when other goroutines are counting.
func (c *Counters) Snapshot() Snapshot {
	s := make(Snapshot)
	for r := range c.n {
		if v := c.n[r].Load(); v != 0 {
			s[Reason(r)] = v
		}
	}
	return s
}

// Snapshot is a copy of Counters: rejections per reason, zero counts left
// out.
type Snapshot map[Reason]uint64

// Total returns the number of rejections over all reasons.
func (s Snapshot) Total() uint64 {
	var t uint64
	for _, v := range s {
		t += v
	}
	return t
}

// String renders the non-zero counts in Reasons order, e.g.
// "bad-checksum=3 wrong-vrid=1", or "none".
func (s Snapshot) String() string {
	var b strings.Builder
	for r := ReasonUnknown; r < numReasons; r++ {
		if v := s[r]; v != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%d", r, v)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

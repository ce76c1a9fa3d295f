package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrInvalidConfig is wrapped by every error that Config.Validate and New
// return; check it with errors.Is.
var ErrInvalidConfig = errors.New("invalid vrrp state machine config")

// OwnerPriority is the priority of the address owner (RFC 5798 section 5.2.4).
const OwnerPriority = 255

// Advertisement interval limits. VRRPv3 carries the interval in a 12-bit
// field of centiseconds (RFC 5798 section 5.2.7); VRRPv2 carries it in an
// 8-bit field of whole seconds (RFC 3768 section 5.3.7).
const (
	// V3IntervalUnit is the granularity of a VRRPv3 advertisement interval.
	V3IntervalUnit = 10 * time.Millisecond
	// V3MaxInterval is the largest VRRPv3 advertisement interval, 4095 cs.
	V3MaxInterval = 4095 * V3IntervalUnit
	// V2IntervalUnit is the granularity of a VRRPv2 advertisement interval.
	V2IntervalUnit = time.Second
	// V2MaxInterval is the largest VRRPv2 advertisement interval, 255 s.
	V2MaxInterval = 255 * V2IntervalUnit
)

// Config is the static configuration of one virtual router instance
// (RFC 5798 section 6.1, "Parameters Per Virtual Router").
type Config struct {
	// VRID is the virtual router identifier, 1..255.
	VRID uint8
	// Priority is the local priority, 1..255; 255 marks the address owner.
	Priority uint8
	// AdvertInterval is the Advertisement_Interval the node uses as Master:
	// a multiple of 10 ms up to 40.95 s for version 3, whole seconds from 1
	// to 255 for version 2.
	AdvertInterval time.Duration
	// Preempt is Preempt_Mode: a Backup with a higher priority than the
	// Master takes over. keepalived's "nopreempt" is Preempt == false. The
	// address owner (priority 255) always preempts, as RFC 5798 section 6.1
	// requires.
	Preempt bool
	// AcceptMode is Accept_Mode. It does not change any transition; it is
	// carried for the driver, see Config.Accepts.
	AcceptMode bool
	// Version is the VRRP version, 2 (RFC 3768) or 3 (RFC 5798).
	Version int
	// Primary is the local primary address, the source of our adverts. It
	// breaks ties between equal priorities: the higher address wins.
	Primary netip.Addr
	// OwnerStartsMaster makes an address owner (priority 255) go straight to
	// Master on Start, as RFC 5798 section 6.4.1 says. It is false by
	// default: redis-vip never takes a VIP it has not earned, so even an
	// owner starts as Backup and becomes Master only when its
	// Master_Down_Timer fires without a better Master being heard.
	OwnerStartsMaster bool
}

// Validate reports whether c is usable. The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	if c.VRID == 0 {
		return fmt.Errorf("%w: vrid 0 is outside 1..255", ErrInvalidConfig)
	}
	if c.Priority == 0 {
		return fmt.Errorf("%w: priority 0 is outside 1..255 (0 is reserved for a master that stops)", ErrInvalidConfig)
	}
	if !c.Primary.IsValid() {
		return fmt.Errorf("%w: primary address is not set", ErrInvalidConfig)
	}
	switch c.Version {
	case 2:
		if c.AdvertInterval < V2IntervalUnit || c.AdvertInterval > V2MaxInterval || c.AdvertInterval%V2IntervalUnit != 0 {
			return fmt.Errorf("%w: vrrp v2 advert interval %v is not a whole number of seconds in 1s..255s", ErrInvalidConfig, c.AdvertInterval)
		}
	case 3:
		if c.AdvertInterval < V3IntervalUnit || c.AdvertInterval > V3MaxInterval || c.AdvertInterval%V3IntervalUnit != 0 {
			return fmt.Errorf("%w: vrrp v3 advert interval %v is not a multiple of 10ms in 10ms..40.95s", ErrInvalidConfig, c.AdvertInterval)
		}
	default:
		return fmt.Errorf("%w: version %d is neither 2 nor 3", ErrInvalidConfig, c.Version)
	}
	return nil
}

// IsOwner reports whether the node is the address owner (priority 255).
func (c Config) IsOwner() bool { return c.Priority == OwnerPriority }

// Accepts reports whether a Master should accept packets addressed to the
// virtual addresses: the owner always does, others only with AcceptMode
// (RFC 5798 section 6.4.3).
func (c Config) Accepts() bool { return c.AcceptMode || c.IsOwner() }

// preempts reports the effective Preempt_Mode: the owner always preempts.
func (c Config) preempts() bool { return c.Preempt || c.IsOwner() }

// SkewTime returns Skew_Time for a node of the given version and priority
// that currently believes the Master advertises every masterAdverInterval.
//
// Version 3 (RFC 5798 section 6.1): ((256 - Priority) * Master_Adver_Interval) / 256.
// Version 2 (RFC 3768 section 6.1): (256 - Priority) / 256 seconds, whatever
// the advertisement interval; keepalived computes the same. The result is
// exact to the nanosecond (keepalived rounds to the microsecond); the RFC's
// integer centiseconds would lose up to 10 ms, which changes nothing but the
// tie between two backups of nearly equal priority.
func SkewTime(version int, priority uint8, masterAdverInterval time.Duration) time.Duration {
	w := time.Duration(256 - int(priority))
	if version == 2 {
		return w * time.Second / 256
	}
	// Split the product so that a large interval cannot overflow.
	return (masterAdverInterval/256)*w + (masterAdverInterval%256)*w/256
}

// MasterDownInterval returns Master_Down_Interval = 3 * Master_Adver_Interval
// + Skew_Time (RFC 5798 section 6.1; RFC 3768 section 6.1 with
// Advertisement_Interval in place of Master_Adver_Interval).
func MasterDownInterval(version int, priority uint8, masterAdverInterval time.Duration) time.Duration {
	return 3*masterAdverInterval + SkewTime(version, priority, masterAdverInterval)
}

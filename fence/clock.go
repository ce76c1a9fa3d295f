package fence

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stamp is a point on this host's boot clock (CLOCK_BOOTTIME: monotonic,
// counts suspend, the same in every process), tied to the boot it was read
// in. A stamp from another boot says nothing about elapsed time.
type Stamp struct {
	BootID string        `json:"boot_id"`
	At     time.Duration `json:"at_ns"`
}

// Now reads the boot clock.
func Now() (Stamp, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return Stamp{}, fmt.Errorf("boot clock: %w", err)
	}
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return Stamp{}, fmt.Errorf("boot id: %w", err)
	}
	return Stamp{BootID: strings.TrimSpace(string(id)), At: time.Duration(ts.Nano())}, nil
}

// Since is the time from s to now, and false when s is from another boot
// (the caller must then count from now, to stay on the safe side).
func (s Stamp) Since(now Stamp) (time.Duration, bool) {
	if s.BootID == "" || s.BootID != now.BootID || now.At < s.At {
		return 0, false
	}
	return now.At - s.At, true
}

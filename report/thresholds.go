package report

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThresholdFlag is one threshold `redis-vip report` takes on its command
// line (and from REDIS_VIP_REPORT_<NAME>), with its default: the one place
// both the flags and DefaultThresholds come from.
type ThresholdFlag struct {
	Name, Usage, Default string
	set                  func(th *Thresholds, v string) error
}

func bytesInto(dst func(*Thresholds) *int64) func(*Thresholds, string) error {
	return func(th *Thresholds, v string) error {
		n, err := ParseBytes(v)
		*dst(th) = n
		return err
	}
}

func secondsInto(dst func(*Thresholds) *time.Duration) func(*Thresholds, string) error {
	return func(th *Thresholds, v string) error {
		d, err := ParseSeconds(v)
		*dst(th) = d
		return err
	}
}

func percentInto(dst func(*Thresholds) *float64) func(*Thresholds, string) error {
	return func(th *Thresholds, v string) error {
		p, err := ParsePercent(v)
		*dst(th) = p
		return err
	}
}

var thresholdFlags = []ThresholdFlag{
	{"lag-bytes-warn", "replication lag in bytes (KiB, MiB, GiB), for WARNING (0 off)", "1MiB", bytesInto(func(t *Thresholds) *int64 { return &t.LagBytesWarn })},
	{"lag-bytes-crit", "replication lag in bytes (KiB, MiB, GiB), for CRITICAL (0 off)", "16MiB", bytesInto(func(t *Thresholds) *int64 { return &t.LagBytesCrit })},
	{"lag-seconds-warn", "seconds since the replica heard from its master, for WARNING (0 off)", "30s", secondsInto(func(t *Thresholds) *time.Duration { return &t.LagSecondsWarn })},
	{"lag-seconds-crit", "seconds since the replica heard from its master, for CRITICAL (0 off)", "2m", secondsInto(func(t *Thresholds) *time.Duration { return &t.LagSecondsCrit })},
	{"save-age-warn", "age of the last RDB save with unsaved changes (RDB-only nodes), for WARNING (0 off)", "2h", secondsInto(func(t *Thresholds) *time.Duration { return &t.SaveAgeWarn })},
	{"save-age-crit", "age of the last RDB save with unsaved changes (RDB-only nodes), for CRITICAL (0 off)", "24h", secondsInto(func(t *Thresholds) *time.Duration { return &t.SaveAgeCrit })},
	{"memory-warn", "used memory in percent of maxmemory, for WARNING (0 off)", "90%", percentInto(func(t *Thresholds) *float64 { return &t.MemoryWarn })},
	{"memory-crit", "used memory in percent of maxmemory, for CRITICAL (0 off)", "98%", percentInto(func(t *Thresholds) *float64 { return &t.MemoryCrit })},
	{"journal-window", "failed, refused or timed-out transitions this recent are a WARNING (0: any in the journal)", "24h", secondsInto(func(t *Thresholds) *time.Duration { return &t.JournalWindow })},
	{"journal-entries", "how many of the newest transitions to show", "5", func(th *Thresholds, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("count %q: want a number >= 0", v)
		}
		th.JournalEntries = n
		return nil
	}},
}

// ThresholdFlags lists the thresholds in the order --help shows them.
func ThresholdFlags() []ThresholdFlag { return append([]ThresholdFlag(nil), thresholdFlags...) }

// ParseThresholds reads every threshold from value (a flag's text by its
// name), reporting every bad one in one error ("--NAME: why; ...").
func ParseThresholds(value func(name string) string) (Thresholds, error) {
	var th Thresholds
	var errs []string
	for _, f := range thresholdFlags {
		if err := f.set(&th, value(f.Name)); err != nil {
			errs = append(errs, "--"+f.Name+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return th, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return th, nil
}

var defaultThresholds = sync.OnceValue(func() Thresholds {
	th, err := ParseThresholds(func(name string) string {
		for _, f := range thresholdFlags {
			if f.Name == name {
				return f.Default
			}
		}
		return ""
	})
	if err != nil {
		panic("report: a threshold's default does not parse: " + err.Error())
	}
	return th
})

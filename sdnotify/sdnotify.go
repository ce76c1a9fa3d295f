// Package sdnotify speaks systemd's notification protocol (sd_notify(3))
// with the standard library: datagrams to the unix socket named by
// $NOTIFY_SOCKET, for a Type=notify service's readiness (READY=1), its
// watchdog (WATCHDOG=1), its status line (STATUS=...) and its shutdown
// (STOPPING=1).
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Notifier sends messages to the service manager. A nil *Notifier (the
// process was not started by systemd with NotifyAccess) sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns the Notifier for $NOTIFY_SOCKET, or nil when it is unset.
// An abstract socket ("@name") works as is: Go maps the leading @ to a NUL.
func FromEnv(getenv func(string) string) *Notifier {
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// Notify sends the assignments (e.g. "READY=1", "STATUS=...") in one
// datagram. On a nil Notifier it does nothing.
func (n *Notifier) Notify(assignments ...string) error {
	if n == nil || len(assignments) == 0 {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") {
			return fmt.Errorf("sd_notify: %q is not VARIABLE=value", a)
		}
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval returns the watchdog timeout ($WATCHDOG_USEC) when the
// watchdog is on for this process (pid; $WATCHDOG_PID unset or equal).
// Ping with WATCHDOG=1 at half of it.
func WatchdogInterval(getenv func(string) string, pid int) (time.Duration, bool, error) {
	v := getenv("WATCHDOG_USEC")
	if v == "" {
		return 0, false, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, false, fmt.Errorf("WATCHDOG_PID %q: %w", p, err)
		}
		if n != pid {
			return 0, false, nil
		}
	}
	usec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("WATCHDOG_USEC %q: %w", v, err)
	}
	if usec <= 0 {
		return 0, false, errors.New("WATCHDOG_USEC must be positive")
	}
	return time.Duration(usec) * time.Microsecond, true, nil
}

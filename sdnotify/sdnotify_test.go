package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifyPathAndAbstractSockets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	abstract := "@redis-vip-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	for _, name := range []string{path, abstract} {
		c := listen(t, name)
		n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": name}))
		if err := n.Notify("READY=1", "STATUS=r6379 MASTER"); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "READY=1\nSTATUS=r6379 MASTER" {
			t.Errorf("%s: got %q", name, got)
		}
		if err := n.Notify("WATCHDOG=1"); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "WATCHDOG=1" {
			t.Errorf("%s: got %q", name, got)
		}
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	n := FromEnv(env(nil))
	if n != nil {
		t.Fatal("a notifier without NOTIFY_SOCKET")
	}
	if err := n.Notify("READY=1"); err != nil {
		t.Errorf("nil notifier: %v", err)
	}
	gone := FromEnv(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none")}))
	if err := gone.Notify("READY=1"); err == nil {
		t.Error("no error for a socket that does not exist")
	}
	if err := (&Notifier{addr: &net.UnixAddr{Name: "x", Net: "unixgram"}}).Notify("READY"); err == nil {
		t.Error("no error for an assignment without =")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		d    time.Duration
		on   bool
		fail bool
	}{
		{nil, 0, false, false},
		{map[string]string{"WATCHDOG_USEC": "10000000"}, 10 * time.Second, true, false},
		{map[string]string{"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42"}, 10 * time.Second, true, false},
		{map[string]string{"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "43"}, 0, false, false},
		{map[string]string{"WATCHDOG_USEC": "soon"}, 0, false, true},
		{map[string]string{"WATCHDOG_USEC": "0"}, 0, false, true},
		{map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "x"}, 0, false, true},
	} {
		d, on, err := WatchdogInterval(env(tc.env), 42)
		if d != tc.d || on != tc.on || (err != nil) != tc.fail {
			t.Errorf("%v: %s %v %v", tc.env, d, on, err)
		}
	}
}

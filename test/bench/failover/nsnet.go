package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/test/writer"
)

// The driver watches the labs from its own process: a TCP connection opened
// inside a namespace, a netlink handle per namespace, a log file read. It
// forks nothing while it polls, so polling costs the machine (2 shared
// cores) almost nothing next to the processes under test.

// rootNS is the driver's own network namespace, taken at start-up.
var rootNS = func() netns.NsHandle {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := netns.Get()
	if err != nil {
		panic(fmt.Sprintf("current netns: %v", err))
	}
	return h
}()

// dialIn opens a TCP connection to addr from inside the network namespace
// ns. A socket belongs to the namespace it was created in, so the calling
// goroutine is locked to its thread, enters ns, dials and goes back to the
// driver's namespace before the thread returns to the runtime. (The thread
// must survive: the labs start their processes with Pdeathsig, which fires
// when the forking thread exits, so a thread thrown away could kill one.)
func dialIn(ns, addr string, timeout time.Duration) (net.Conn, error) {
	runtime.LockOSThread()
	h, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("netns %s: %w", ns, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter netns %s: %w", ns, err)
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if rerr := netns.Set(rootNS); rerr != nil {
		// Nothing sound is left to do on this thread (the wrapper script
		// removes the namespaces).
		panic(fmt.Sprintf("back to the driver's netns: %v", rerr))
	}
	runtime.UnlockOSThread()
	return c, err
}

// redisDo runs one command against addr from inside ns on a fresh
// connection, bounded by timeout, and returns the reply (string, int64,
// nil, []any), through test/writer's RESP client.
func redisDo(ns, addr string, timeout time.Duration, args ...string) (any, error) {
	c, err := dialIn(ns, addr, timeout)
	if err != nil {
		return nil, err
	}
	conn := writer.NewConn(c, timeout)
	defer conn.Close()
	return conn.Do(args...)
}

// redisString runs a command whose reply is a string.
func redisString(ns, addr string, timeout time.Duration, args ...string) (string, error) {
	v, err := redisDo(ns, addr, timeout, args...)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", fmt.Errorf("%s: unexpected reply %T", args[0], v)
}

// infoMap runs INFO sections and parses key:value lines.
func infoMap(ns, addr string, timeout time.Duration, sections ...string) (map[string]string, error) {
	s, err := redisString(ns, addr, timeout, append([]string{"INFO"}, sections...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// vipWatch tells which namespaces carry an address, through one netlink
// handle per namespace.
type vipWatch struct {
	vip     netip.Addr
	mu      sync.Mutex
	handles map[string]*netlink.Handle
}

func newVIPWatch(vip netip.Addr, nss ...string) (*vipWatch, error) {
	w := &vipWatch{vip: vip, handles: map[string]*netlink.Handle{}}
	for _, ns := range nss {
		h, err := handleIn(ns)
		if err != nil {
			w.close()
			return nil, err
		}
		w.handles[ns] = h
	}
	return w, nil
}

func handleIn(ns string) (*netlink.Handle, error) {
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	return h, nil
}

// holds reports whether ns's eth0 carries the VIP.
func (w *vipWatch) holds(ns string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.handles[ns]
	if h == nil {
		return false
	}
	link, err := h.LinkByName("eth0")
	if err != nil {
		return false
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(w.vip.AsSlice()) })
}

func (w *vipWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.handles {
		h.Close()
	}
	w.handles = map[string]*netlink.Handle{}
}

// namespacesWithPrefix lists the namespaces whose name starts with prefix.
func namespacesWithPrefix(prefix string) []string {
	var out []string
	for _, ns := range netlab.Namespaces() {
		if strings.HasPrefix(ns, prefix) {
			out = append(out, ns)
		}
	}
	return out
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

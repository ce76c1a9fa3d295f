// Package netnstest gives tests their own network namespaces: created
// under a name unique to the test binary's run, deleted when the test
// ends whatever its outcome, and entered from one goroutine's OS thread.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// RequireRoot skips tests that create network namespaces unless run as
// root with the ip command available.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
}

// Run runs a command and fails the test with its output if it fails.
func Run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// New creates the network namespace rvtest-SCOPE-PID-SUFFIX, deleted when
// the test ends. scope names the package, so that two packages' tests
// running at once never share a name.
func New(t testing.TB, scope, suffix string) string {
	t.Helper()
	name := fmt.Sprintf("rvtest-%s-%d-%s", scope, os.Getpid(), suffix)
	// A namespace left over by a crashed run with the same pid is stale.
	_ = exec.Command("ip", "netns", "del", name).Run()
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	return name
}

// In runs f on the current goroutine's OS thread switched into the named
// namespace, and switches back afterwards. Sockets opened inside f stay in
// that namespace after it returns. If switching back fails the thread
// stays locked, so the runtime discards it rather than reuse it.
func In(t testing.TB, name string, f func()) {
	t.Helper()
	target, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	defer target.Close()

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("get current netns: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter netns %s: %v", name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("leave netns %s: %v", name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	f()
}

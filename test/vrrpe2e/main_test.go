package vrrpe2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

var (
	binDir         string
	bin, writerBin string
	buildErr       error
	labSeq         atomic.Int32
)

// TestMain builds the binaries before any test (and any deadline) starts:
// redis-vip and the writer for the end-to-end tier, only redis-vip (for the
// command-line tests that need no lab) otherwise.
func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if !testtier.EndToEnd() {
			defer redistest.RemoveBinary()
			bin, buildErr = redistest.Build()
			return m.Run()
		}
		var err error
		if binDir, err = os.MkdirTemp("", "rvt-bin-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(binDir)
		bin, writerBin, buildErr = netlab.Build(binDir)
		return m.Run()
	}()
	os.Exit(code)
}

// newLab builds a lab for the test and removes it when the test ends,
// printing the logs first when it failed. It skips when not root or when
// a tool is missing.
func newLab(t *testing.T) *netlab.Lab {
	t.Helper()
	testtier.RequireEndToEnd(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	for _, tool := range []string{"ip", "redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	dir := t.TempDir()
	l, err := netlab.New(netlab.Options{
		Prefix: fmt.Sprintf("rvt-%d-%d", os.Getpid(), labSeq.Add(1)),
		Dir:    dir, Bin: bin, Writer: writerBin, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("RVT_LOGS") != "" {
			for _, h := range l.Hosts {
				t.Logf("---- %s redis-vip log (tail)\n%s", h.Name, h.RunLog(logLines))
				t.Logf("---- %s keepalived (tail)\n%s", h.Name, h.KeepalivedLog(30))
				b, _ := os.ReadFile(filepath.Join(h.Dir, "redis-server.log"))
				t.Logf("---- %s redis-server.log (%d bytes, tail)\n%s", h.Name, len(b), tail(string(b), 15))
			}
		}
		l.Close()
	})
	return l
}

// runVRRP is the `vrrp:` section of a redis-vip run host.
func runVRRP(prio int, extra netlab.VRRP) netlab.VRRP { return netlab.RunVRRP(prio, extra) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// logLines is how much of each redis-vip log a failed test prints (RVT_LOGS
// set: printed for passing tests too, in full).
var logLines = func() int {
	if os.Getenv("RVT_LOGS") != "" {
		return 100000
	}
	return 60
}()

// startPair starts the pair most tests here use (runVRRP priority 150 on
// h1, 100 on h2, preempt), with a VIP sampler every sampleEvery (none when
// 0) started before the routers, and waits up to wait until h1 holds the
// VIP.
func startPair(t *testing.T, l *netlab.Lab, sampleEvery, wait time.Duration) (h1, h2 *netlab.Host, samp *netlab.Sampler) {
	t.Helper()
	h1, h2 = l.Hosts[0], l.Hosts[1]
	must(t, l.Pair(runVRRP(150, nil), runVRRP(100, nil)))
	if sampleEvery > 0 {
		samp = l.Sample(sampleEvery)
		t.Cleanup(samp.Stop)
	}
	must(t, h1.StartRun())
	must(t, h2.StartRun())
	must(t, netlab.WaitFor(wait, "h1 holding the VIP", func() bool { return l.Holder() == "h1" }))
	return h1, h2, samp
}

// checkCrashWindow reads w's list on final and fails the test for every
// acknowledged write lost beyond the crash window of old, the master
// killed at killAt (W1; netlab.Writer.SplitLost draws the window). It
// logs both counts.
func checkCrashWindow(t *testing.T, w *netlab.Writer, final, old *netlab.Host, killAt time.Time) {
	t.Helper()
	inWindow, beyond, err := w.SplitLost(final, old, killAt)
	must(t, err)
	t.Logf("lost acknowledged writes: %d in the crash window (acknowledged by %s from %s before the kill until %s answered, W1), %d beyond it",
		len(inWindow), old.Name, netlab.CrashWindow, final.Name, len(beyond))
	if len(beyond) > 0 {
		t.Errorf("acknowledged writes lost beyond the crash window: %+v", beyond[:min(10, len(beyond))])
	}
}

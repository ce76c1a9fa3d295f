package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
	"github.com/redis-vip/redis-vip/test/writer"
)

// env is what TestMain prepared for every scenario.
var env struct {
	skip   string // why the scenarios cannot run ("" when they can)
	repo   string
	bin    string // redis-vip
	writer string // rv-writer
}

var labSeq atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	flag.Parse()
	env.skip = testtier.SkipReason()
	switch {
	case env.skip != "":
	case os.Geteuid() != 0:
		env.skip = "end-to-end scenarios need root (network namespaces, keepalived)"
	case !haveAll("keepalived", "redis-server", "redis-cli", "ip"):
		env.skip = "keepalived, redis-server, redis-cli or ip missing (make deps installs them)"
	}
	if env.skip != "" {
		return m.Run()
	}
	reapStale()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.repo = repo
	// Binaries live in a root-owned 0755 dir: the keepalived script user must
	// be able to run them (the lab copies redis-vip into the lab dir anyway).
	dir, err := os.MkdirTemp("", "rvtest-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.bin = os.Getenv("E2E_REDIS_VIP")
	if env.bin == "" {
		env.bin = filepath.Join(dir, "redis-vip")
		if err := goBuild(repo, env.bin, "./cmd/redis-vip"); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	env.writer = filepath.Join(dir, "rv-writer")
	if err := goBuild(repo, env.writer, "./test/writer/cmd/rv-writer"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// staleNS are the namespaces of a lab (netlab's names; client was
// the shell lab's name for c, before the lab was built in Go).
var staleNS = regexp.MustCompile(`^rvtest-e2e-(\d+)-\d+-(h1|h2|w|c|client|br)$`)

// reapStale removes the namespaces (and their processes) of earlier test runs
// that were killed before their cleanup could run.
func reapStale() {
	for _, ns := range netlab.Namespaces() {
		m := staleNS.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = netlab.RemoveNamespace(ns)
		fmt.Fprintf(os.Stderr, "e2e: removed stale namespace %s\n", ns)
	}
}

func haveAll(names ...string) bool {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return false
		}
	}
	return true
}

func goBuild(repo, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, b)
	}
	return nil
}

// labOptions are the per-scenario variations of the lab.
type labOptions struct {
	notify, profile, include string
	preempt                  bool
}

// newLab builds a fresh lab for one scenario and always tears it down (with
// the hosts' logs in the test log when the scenario failed).
// labPlace skips the test when the end-to-end tier does not run, and gives
// a lab its context (ended after timeout or with the test), its name
// (rvtest-e2e-PID-SEQ: the prefix reapStale knows, so a killed run's
// namespaces are removed by the next one) and its directory (0755: the lab's
// unprivileged users read under it).
func labPlace(t *testing.T, timeout time.Duration) (context.Context, string, string) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	name := fmt.Sprintf("rvtest-e2e-%d-%d", os.Getpid(), labSeq.Add(1))
	dir := filepath.Join(os.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return ctx, name, dir
}

func newLab(t *testing.T, o labOptions) (*lab.Lab, context.Context) {
	t.Helper()
	ctx, name, dir := labPlace(t, 4*time.Minute)
	l := lab.New(lab.Options{
		Repo: env.repo, Dir: dir, Prefix: name,
		Bin: env.bin, Writer: env.writer, Notify: o.notify, Profile: o.profile, Preempt: o.preempt, Include: o.include,
		Logf: t.Logf,
	})
	t.Cleanup(func() {
		for _, h := range lab.Hosts {
			t.Logf("%s transitions and guard decisions:\n%s", h, lab.Indent(l.Transitions(h)))
		}
		if t.Failed() {
			for _, h := range lab.Hosts {
				t.Logf("%s keepalived.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/keepalived.log", 40)))
				t.Logf("%s redis.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/redis.log", 25)))
				t.Logf("%s redis-vip.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/redis-vip.log", 15)))
			}
		}
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		if err := l.Down(dctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	if err := l.Up(ctx); err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l, ctx
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startRedis starts host's Redis (guard first, unless lab.NoGuard) and
// fails the test on error; it returns guard's output.
func startRedis(t *testing.T, ctx context.Context, l *lab.Lab, host string, flags ...lab.RedisFlag) string {
	t.Helper()
	out, err := l.StartRedis(ctx, host, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// settled waits for the pair to settle and fails the test if it does not.
func settled(t *testing.T, ctx context.Context, l *lab.Lab, timeout time.Duration, ok func(master string, s lab.State) bool) (string, lab.State) {
	t.Helper()
	s, err := l.WaitSettled(ctx, timeout, ok)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Settled()
	t.Logf("settled: %s", s)
	return m, s
}

// startWriter starts the main client writer through the VIP and waits for
// it to get going.
func startWriter(t *testing.T, ctx context.Context, l *lab.Lab, name string, args ...string) *lab.WriterRun {
	t.Helper()
	w, err := l.StartWriter(ctx, name, "client", append([]string{"--key", "e2e:" + name, "--settle", "20s"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = w.Stop(40 * time.Second) })
	if err := w.WaitAcked(ctx, 50, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	return w
}

// stopWriter stops a writer and returns its report.
func stopWriter(t *testing.T, w *lab.WriterRun) writer.Report {
	t.Helper()
	r, err := w.Stop(45 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", w.Name, r.Summary())
	t.Logf("%s: acked by server %v, client-side errors %v", w.Name, r.AckedBy, r.Errors)
	return r
}

// checkEnd asserts what every scenario asserts: lost acknowledged writes at
// most maxLost, exactly one master, the VIP on it.
func checkEnd(t *testing.T, ctx context.Context, l *lab.Lab, r writer.Report, maxLost int) {
	t.Helper()
	if r.Lost > maxLost {
		t.Errorf("%d acknowledged writes lost (allowed %d): e.g. %v", r.Lost, maxLost, r.LostSample)
	}
	if r.VerifyError != "" {
		t.Errorf("writer could not verify: %s", r.VerifyError)
	}
	if !r.VIPOnMaster {
		t.Errorf("the VIP reaches %q, the master is %q (masters %v)", r.VIPHost, r.FinalMaster, r.Masters)
	}
	s := l.State(ctx)
	if m := s.Masters(); len(m) != 1 || s.VIP != m[0] {
		t.Errorf("at the end: masters %v, VIP on %s, want exactly one master holding the VIP (%s)", m, s.VIP, s)
	}
}

package torture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// lockedRand is a seeded source shared by goroutines. Runs replay the same
// draws, though goroutine timing may interleave them differently.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, 0x7047757265))}
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

// dur returns a duration in [lo, hi].
func (l *lockedRand) dur(lo, hi time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)))
}

func (l *lockedRand) intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// hookFaults are the probabilities with which one hook firing is delayed,
// doubled, dropped, or killed mid-step (SIGKILL at a random moment).
type hookFaults struct {
	Delay, Dup, Drop, Kill float64
	MaxDelay               time.Duration
}

func (f hookFaults) String() string {
	if f == (hookFaults{}) {
		return "clean"
	}
	return fmt.Sprintf("delay=%.2f(<=%s) dup=%.2f drop=%.2f kill=%.2f", f.Delay, f.MaxDelay.Round(100*time.Millisecond), f.Dup, f.Drop, f.Kill)
}

// hookRun is one hook process, for the evidence.
type hookRun struct {
	Host    string
	vrrp    string // FIFO mode: the vrrp_instance of the line
	State   vrrpState
	Fired   time.Time
	Started time.Time
	Ended   time.Time
	Dropped bool
	Killed  bool
	Exit    int
	Output  string
}

func (h hookRun) String() string {
	name := "notify-" + strings.ToLower(string(h.State))
	switch {
	case h.Dropped:
		return fmt.Sprintf("%s %s: dropped", h.Host, name)
	case h.Killed && h.Output == "notify-fifo":
		return fmt.Sprintf("%s notify-fifo SIGKILLed %s after the %s line, down for %s", h.Host, h.Started.Sub(h.Fired).Round(time.Millisecond), h.State, h.Ended.Sub(h.Started).Round(time.Millisecond))
	case h.Killed:
		return fmt.Sprintf("%s %s (fired %s before): SIGKILL after %s", h.Host, name, h.Started.Sub(h.Fired).Round(time.Millisecond), h.Ended.Sub(h.Started).Round(time.Millisecond))
	}
	return fmt.Sprintf("%s %s (fired %s before): exit %d in %s: %s", h.Host, name,
		h.Started.Sub(h.Fired).Round(time.Millisecond), h.Exit, h.Ended.Sub(h.Started).Round(time.Millisecond), oneLine(h.Output))
}

// runBinary runs the redis-vip binary with a bound; killAfter > 0 sends
// SIGKILL at that moment (redis-vip killed mid-step).
func runBinary(ctx context.Context, bin string, bound, killAfter time.Duration, args ...string) (exit int, out string, killed bool) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = dieWithUs()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return -1, err.Error(), false
	}
	var timer *time.Timer
	var mu sync.Mutex
	if killAfter > 0 {
		timer = time.AfterFunc(killAfter, func() {
			mu.Lock()
			killed = true
			mu.Unlock()
			_ = cmd.Process.Kill()
		})
	}
	err := cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, buf.String(), killed
	case errors.As(err, &ee):
		return ee.ExitCode(), buf.String(), killed
	}
	return -1, buf.String() + err.Error(), killed
}

// oneLine folds output into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")), " ")
}

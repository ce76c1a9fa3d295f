package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// writerTarget is where a setup's clients write: the namespace the client
// runs in, the address it writes to (the VIP, or HAProxy), and the Redis
// servers' own addresses (to find the final master at the end).
type writerTarget struct {
	ns    string
	addr  string
	hosts []string
}

// writerFlags: a write every millisecond (about 1000 a second on this
// machine, so a gap is measured to a few ms), timeout (150 ms by default,
// a client library's usual short timeout) on each dial and command, 10 ms
// between a failure and the next attempt.
func writerFlags(timeout time.Duration) []string {
	return []string{"--interval", "1ms", "--timeout", timeout.String(), "--retry", "10ms"}
}

// writerRun is one rv-writer process in the client namespace.
type writerRun struct {
	cmd     *exec.Cmd
	stdout  bytes.Buffer
	logPath string
	done    chan struct{}
	scanned chan struct{}

	mu    sync.Mutex
	acked int
	tail  []string
}

var progressRE = regexp.MustCompile(`acked=(\d+)`)

// startWriter runs rv-writer inside t.ns writing key. It is bounded by its
// own --duration (maxRun) and dies with the driver (Pdeathsig).
func startWriter(bin, dir string, t writerTarget, key string, maxRun, timeout time.Duration) (*writerRun, error) {
	w := &writerRun{logPath: filepath.Join(dir, strings.ReplaceAll(key, ":", "-")+".json"),
		done: make(chan struct{}), scanned: make(chan struct{})}
	args := []string{"netns", "exec", t.ns, bin, "--json", "--save-log", w.logPath, "--key", key,
		"--addr", t.addr, "--hosts", strings.Join(t.hosts, ","),
		"--duration", maxRun.String(), "--settle", "15s", "--progress", "100ms"}
	args = append(args, writerFlags(timeout)...)
	w.cmd = exec.Command("ip", args...)
	w.cmd.Stdout = &w.stdout
	pr, pw := io.Pipe()
	w.cmd.Stderr = pw
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rv-writer: %w", err)
	}
	go func() {
		defer close(w.scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			if m := progressRE.FindStringSubmatch(line); m != nil {
				w.acked, _ = strconv.Atoi(m[1])
			} else {
				w.tail = append(w.tail, line)
				if len(w.tail) > 5 {
					w.tail = w.tail[1:]
				}
			}
			w.mu.Unlock()
		}
	}()
	go func() {
		_ = w.cmd.Wait()
		pw.Close()
		close(w.done)
	}()
	return w, nil
}

// ackCount is the number of acknowledged writes the last progress line showed.
func (w *writerRun) ackCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// writerResult is what one writer saw.
type writerResult struct {
	report writer.Report
	log    writer.Log
}

// stop interrupts the writer (it stops writing, then verifies against the
// final master, bounded by its --settle) and reads its report and log.
func (w *writerRun) stop() (writerResult, error) {
	var r writerResult
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.done:
	case <-time.After(40 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
		return r, fmt.Errorf("rv-writer did not finish within 40 s of SIGINT")
	}
	<-w.scanned
	line := strings.TrimSpace(w.stdout.String())
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &r.report); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return r, fmt.Errorf("rv-writer report %q: %v (stderr: %s)", line, err, strings.Join(w.tail, " | "))
	}
	b, err := os.ReadFile(w.logPath)
	if err == nil {
		err = json.Unmarshal(b, &r.log)
	}
	if err != nil {
		return r, fmt.Errorf("rv-writer log: %w", err)
	}
	return r, nil
}

// kill ends the writer without a report (clean-up after a failure).
func (w *writerRun) kill() {
	select {
	case <-w.done:
	default:
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// longestGapFrom returns the longest time the client went without an
// acknowledged write, counting only stretches that end after from (a
// stretch that began before from and ended after it counts whole), and
// the stretch from the last acknowledgement to the end of writing (writes
// that never resumed). It also returns when that stretch began.
func longestGapFrom(l writer.Log, from time.Time) (time.Duration, time.Time) {
	var worst time.Duration
	var began time.Time
	var prev time.Duration = -1
	for _, a := range l.Acks {
		if prev >= 0 && l.Start.Add(a.At).After(from) {
			if d := a.At - prev; d > worst {
				worst, began = d, l.Start.Add(prev)
			}
		}
		prev = a.At
	}
	end := l.Duration
	if prev < 0 {
		// Not one write acknowledged: the whole run was a gap.
		return end, l.Start
	}
	if d := end - prev; d > worst && l.Start.Add(l.Duration).After(from) {
		worst, began = d, l.Start.Add(prev)
	}
	return worst, began
}

// ackedNumbers lists the acknowledged numbers of a run.
func ackedNumbers(l writer.Log) []int64 {
	out := make([]int64, len(l.Acks))
	for i, a := range l.Acks {
		out[i] = a.N
	}
	return out
}

package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// WriterRun is one rv-writer process running inside a lab namespace.
type WriterRun struct {
	Name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	done   chan struct{}
	// scanned closes when all of stderr has been read.
	scanned chan struct{}
	// saveLog is where a local writer saves its acknowledged writes.
	saveLog string

	mu      sync.Mutex
	acked   int
	sent    int64
	last    string
	stderr  []string
	waitErr error
}

var progressRE = regexp.MustCompile(`sent=(\d+) acked=(\d+)`)

// StartWriter runs rv-writer in host's namespace (usually "client") with
// the given extra flags; --json and --progress are added. It is bounded by
// its own --duration (default here 120 s) and stopped by Stop.
func (l *Lab) StartWriter(ctx context.Context, name, host string, args ...string) (*WriterRun, error) {
	full := []string{"netns", "exec", l.NS(host), l.o.Writer, "--json", "--progress", "200ms", "--duration", "120s"}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	w := &WriterRun{Name: name, cmd: cmd, done: make(chan struct{}), scanned: make(chan struct{})}
	cmd.Stdout = &w.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start writer %s: %w", name, err)
	}
	go func() {
		defer close(w.scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			if m := progressRE.FindStringSubmatch(line); m != nil {
				w.sent, _ = strconv.ParseInt(m[1], 10, 64)
				w.acked, _ = strconv.Atoi(m[2])
				w.last = strings.TrimPrefix(line, "rv-writer: ")
			} else {
				w.stderr = append(w.stderr, line)
			}
			w.mu.Unlock()
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		w.mu.Lock()
		w.waitErr = err
		w.mu.Unlock()
		close(w.done)
	}()
	l.o.Logf("writer %s started in %s: %s", name, host, strings.Join(args, " "))
	return w, nil
}

// Acked is the number of acknowledged writes the last progress line showed.
func (w *WriterRun) Acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// Progress is the writer's last progress line ("t=  3.0s sent=300
// acked=300 last ack 5 ms ago (server ...)"; "" before the first).
func (w *WriterRun) Progress() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// WaitAcked waits until at least n writes were acknowledged.
func (w *WriterRun) WaitAcked(ctx context.Context, n int, timeout time.Duration) error {
	return WaitFor(ctx, timeout, fmt.Sprintf("writer %s to reach %d acks (at %d)", w.Name, n, w.Acked()), func() bool { return w.Acked() >= n })
}

// WaitMoreAcks waits until n more writes than now were acknowledged.
func (w *WriterRun) WaitMoreAcks(ctx context.Context, n int, timeout time.Duration) error {
	return w.WaitAcked(ctx, w.Acked()+n, timeout)
}

// Stop interrupts the writer (SIGINT: it stops writing and verifies) and
// returns its report; bounded by the writer's --settle plus a margin.
func (w *WriterRun) Stop(timeout time.Duration) (writer.Report, error) {
	if w.cmd.Process != nil {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
	}
	return w.Wait(timeout)
}

// Wait waits for the writer to end by itself and returns its report.
func (w *WriterRun) Wait(timeout time.Duration) (writer.Report, error) {
	select {
	case <-w.done:
	case <-time.After(timeout):
		_ = w.cmd.Process.Kill()
		<-w.done
		return writer.Report{}, fmt.Errorf("writer %s did not finish within %s", w.Name, timeout)
	}
	<-w.scanned
	var r writer.Report
	line := strings.TrimSpace(w.stdout.String())
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return r, fmt.Errorf("writer %s: no report (%v): stdout %q stderr %q", w.Name, w.waitErr, w.stdout.String(), strings.Join(w.stderr, "\n"))
	}
	return r, nil
}

// Summary is the writer's human summary line (from its stderr).
func (w *WriterRun) Summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.stderr) - 1; i >= 0; i-- {
		if strings.HasPrefix(w.stderr[i], "writer: ") {
			return w.stderr[i]
		}
	}
	return strings.Join(w.stderr, "\n")
}

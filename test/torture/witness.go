package torture

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/witness"
)

// witnessProc is a schedule's witness: the real `redis-vip witness` on a
// port of its own, serving every pair. Each host reaches it through a proxy
// of its own (cluster.go), so a partition can blackhole one host's path to
// it; those proxies refuse while it is down, as its host's kernel would.
// Its --max-lease is the lease the nodes ask for, rounded up to a second
// (fence.LeaseDuration): also its restart grace.
type witnessProc struct {
	bin, secretFile string
	port            int
	maxLease        time.Duration
	secret          []byte

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	proxies []*proxy
	log     []tlEntry
}

// witnessMaxLease is the --max-lease for a fence_after: at least the lease
// the nodes ask for.
func witnessMaxLease(fenceAfter time.Duration) time.Duration {
	return fence.LeaseDuration(fenceAfter).Truncate(time.Second) + time.Second
}

func newWitnessProc(bin, dir string, fenceAfter time.Duration) (*witnessProc, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("witness secret: %w", err)
	}
	secret := []byte(base64.StdEncoding.EncodeToString(raw))
	path := filepath.Join(dir, "witness.secret")
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("witness secret: %w", err)
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	return &witnessProc{bin: bin, secretFile: path, port: ports[0], maxLease: witnessMaxLease(fenceAfter), secret: secret}, nil
}

func (w *witnessProc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(w.port)) }

// attach makes p refuse while the witness is down.
func (w *witnessProc) attach(p *proxy) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.proxies = append(w.proxies, p)
	if w.cmd == nil {
		_ = p.setRefusing(true)
	}
}

func (w *witnessProc) setRefusing(v bool) {
	w.mu.Lock()
	ps := append([]*proxy(nil), w.proxies...)
	w.mu.Unlock()
	for _, p := range ps {
		_ = p.setRefusing(v)
	}
}

// start runs the witness and waits (bounded) until it listens; its restart
// grace runs from then.
func (w *witnessProc) start() error {
	w.mu.Lock()
	if w.cmd != nil {
		w.mu.Unlock()
		return nil
	}
	cmd := exec.Command(w.bin, "witness", "--listen", w.addr(), "--secret-file", w.secretFile,
		"--max-lease", w.maxLease.String(), "--log-format", "json", "--log-level", "info")
	cmd.SysProcAttr = dieWithUs()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		w.mu.Unlock()
		return fmt.Errorf("witness: %w", err)
	}
	if err := cmd.Start(); err != nil {
		w.mu.Unlock()
		return fmt.Errorf("witness: start: %w", err)
	}
	exited := make(chan struct{})
	w.cmd, w.exited = cmd, exited
	w.mu.Unlock()
	copied := make(chan struct{})
	go func() { w.readLog(stderr); close(copied) }()
	go func() {
		<-copied
		_ = cmd.Wait()
		w.setRefusing(true)
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			w.forget(cmd)
			return fmt.Errorf("witness exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", w.addr(), 100*time.Millisecond); err == nil {
			c.Close()
			w.setRefusing(false)
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("witness did not listen within 10s")
}

func (w *witnessProc) forget(cmd *exec.Cmd) {
	w.mu.Lock()
	if w.cmd == cmd {
		w.cmd = nil
	}
	w.mu.Unlock()
}

// stop ends the witness with sig (SIGKILL: it dies granting nothing more;
// SIGTERM: it stops granting and exits) and waits (bounded).
func (w *witnessProc) stop(sig syscall.Signal) {
	w.mu.Lock()
	cmd, exited := w.cmd, w.exited
	w.cmd = nil
	w.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// readLog keeps the witness's lease lines (granted, moved, released) and
// its start and grace lines for the timeline.
func (w *witnessProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		at := time.Now()
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			w.note(at, "witness said: "+trunc(sc.Text(), 200))
			continue
		}
		msg, _ := m["msg"].(string)
		s := "witness: " + msg
		for _, k := range []string{"pair", "node", "from", "lease", "error"} {
			if v, ok := m[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		w.note(at, s)
	}
}

func (w *witnessProc) note(at time.Time, s string) {
	w.mu.Lock()
	w.log = append(w.log, tlEntry{at: at, s: s})
	w.mu.Unlock()
}

// timeline is the witness's lines, with pair's (or with none).
func (w *witnessProc) timeline(pair string) []tlEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []tlEntry
	for _, e := range w.log {
		if !strings.Contains(e.s, " pair=") || strings.Contains(e.s, " pair="+pair+" ") || strings.HasSuffix(e.s, " pair="+pair) {
			out = append(out, e)
		}
	}
	return out
}

// status asks the witness directly (no proxy) who holds pair's lease and
// for how long: the suite's own look, under a node name no pair uses.
func (w *witnessProc) status(pair string) (string, time.Duration, error) {
	c, err := witness.NewClient(w.addr(), pair, "torture-observer", w.secret, 300*time.Millisecond)
	if err != nil {
		return "", 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	return c.Status(ctx)
}

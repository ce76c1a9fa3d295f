package torture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fifoNotifier writes keepalived's notify FIFO lines (TYPE "NAME" STATE
// PRIORITY) into one FIFO per host, read by a long-running
// `redis-vip notify-fifo` per host. keepalived holds the FIFO open, so lines
// wait in the pipe while the reader is down; a supervisor restarts a reader
// that died (the kill-notify-fifo fault).
type fifoNotifier struct {
	bin    string
	faults hookFaults
	rnd    *lockedRand
	wg     sync.WaitGroup

	mu      sync.Mutex
	readers []*fifoReader
	log     []hookRun
}

type fifoReader struct {
	host  *hostFiles
	path  string
	w     *os.File
	mu    sync.Mutex
	cmd   *exec.Cmd
	out   syncBuffer
	done  chan struct{}
	stop  bool
	kills int
}

func newFIFONotifier(bin string, files [2]*hostFiles, faults hookFaults, rnd *lockedRand) (*fifoNotifier, error) {
	n := &fifoNotifier{bin: bin, faults: faults, rnd: rnd}
	for _, h := range files {
		path := filepath.Join(h.dir, "notify.fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			n.close()
			return nil, fmt.Errorf("mkfifo %s: %w", path, err)
		}
		// O_RDWR: never blocks and never sees "no reader", like keepalived's own fd.
		w, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("open fifo %s: %w", path, err)
		}
		r := &fifoReader{host: h, path: path, w: w}
		n.readers = append(n.readers, r)
		if err := r.start(bin); err != nil {
			n.close()
			return nil, err
		}
	}
	return n, nil
}

func (r *fifoReader) start(bin string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop {
		return nil
	}
	cmd := exec.Command(bin, "notify-fifo", "--config", r.host.config, r.path)
	cmd.SysProcAttr = dieWithUs()
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start notify-fifo: %w", r.host.name, err)
	}
	done := make(chan struct{})
	r.cmd, r.done = cmd, done
	go func() { _ = cmd.Wait(); close(done) }()
	return nil
}

// kill SIGKILLs the reader mid-step and restarts it after down.
func (r *fifoReader) kill(bin string, down time.Duration) error {
	return r.restartAfter(bin, down, syscall.SIGKILL)
}

// restartAfter stops the reader with sig (SIGKILL after 3 s), waits down,
// and starts it again.
func (r *fifoReader) restartAfter(bin string, down time.Duration, sig syscall.Signal) error {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.kills++
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	time.Sleep(down)
	return r.start(bin)
}

// pairFIFO is one pair's view of the shared FIFOs: its lines carry its
// vrrp_instance name, which notify-fifo maps to the redis-vip instance.
type pairFIFO struct {
	f    *fifoNotifier
	vrrp string
}

func (p pairFIFO) notify(ctx context.Context, host int, to vrrpState) { p.f.notify(host, p.vrrp, to) }
func (p pairFIFO) wait()                                              { p.f.wait() }
func (p pairFIFO) runs() []hookRun {
	var out []hookRun
	for _, r := range p.f.runs() {
		if r.vrrp == p.vrrp {
			out = append(out, r)
		}
	}
	return out
}

func (n *fifoNotifier) notify(host int, vrrp string, to vrrpState) {
	r := n.readers[host]
	line := fmt.Sprintf("INSTANCE \"%s\" %s 100\n", vrrp, to)
	now := time.Now()
	_, err := r.w.WriteString(line)
	run := hookRun{Host: r.host.name, vrrp: vrrp, State: to, Fired: now, Started: now, Ended: now, Output: "fifo line " + strings.TrimSpace(line)}
	if err != nil {
		run.Output, run.Exit = err.Error(), -1
	}
	n.mu.Lock()
	n.log = append(n.log, run)
	n.mu.Unlock()
	// redis-vip killed mid-step: the reader dies a moment after the line,
	// and its supervisor starts it again.
	if n.rnd.float() < n.faults.Kill {
		after, down := n.rnd.dur(20*time.Millisecond, 1500*time.Millisecond), n.rnd.dur(300*time.Millisecond, 1500*time.Millisecond)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			time.Sleep(after)
			k := hookRun{Host: r.host.name, vrrp: vrrp, State: to, Fired: now, Started: time.Now(), Killed: true, Output: "notify-fifo"}
			if err := r.kill(n.bin, down); err != nil {
				k.Output = err.Error()
			}
			k.Ended = time.Now()
			n.mu.Lock()
			n.log = append(n.log, k)
			n.mu.Unlock()
		}()
	}
}

func (n *fifoNotifier) wait() { n.wg.Wait() }

func (n *fifoNotifier) runs() []hookRun {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]hookRun(nil), n.log...)
}

// close stops the readers (SIGTERM, then SIGKILL) and removes the FIFOs.
func (n *fifoNotifier) close() {
	n.wg.Wait()
	for _, r := range n.readers {
		r.mu.Lock()
		r.stop = true
		cmd, done := r.cmd, r.done
		r.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		r.w.Close()
		os.Remove(r.path)
	}
}

// output is what the reader printed (one line per transition).
func (r *fifoReader) output() string {
	return r.out.String()
}

// syncBuffer is a bytes.Buffer safe for the process's copier and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package netlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// WriterFlags are the rv-writer settings the lab uses unless told
// otherwise: a write every millisecond, 100 ms bounds on each dial and
// command, 10 ms between retries.
var WriterFlags = []string{"--interval", "1ms", "--timeout", "100ms", "--retry", "10ms"}

// Writer is rv-writer running in a lab namespace: the client's, writing
// through the VIP, or a host's, writing to its own Redis (StartLocalWriter).
type Writer struct {
	l    *Lab
	p    *Proc
	out  *bytes.Buffer
	save string
	// Key is the writer's list key when the lab chose it (StartLocalWriter).
	Key    string
	Report writer.Report
	Log    writer.Log
}

// StartWriter starts rv-writer in the client namespace (bounded by
// maxDuration) with WriterFlags and extra flags, writing through the VIP.
func (l *Lab) StartWriter(maxDuration time.Duration, extra ...string) (*Writer, error) {
	return l.StartWriterAt(fmt.Sprintf("%s:%d", l.a.VIP.Addr(), RedisPort), maxDuration, extra...)
}

// StartWriterAt is StartWriter writing through addr (e.g. a load balancer
// in the client namespace).
func (l *Lab) StartWriterAt(addr string, maxDuration time.Duration, extra ...string) (*Writer, error) {
	return l.startWriterIn(l.ClientNS, "writer", addr, maxDuration, extra...)
}

// StartLocalWriter runs rv-writer inside host h (h1 or h2) against that
// host's own Redis (127.0.0.1:6379, never the VIP): the client on the
// master's own host that split-brain writes come from. Its list key is
// local:<host>:<time> unless extra gives --key, so it never mixes with the
// writer behind the VIP. Count its lost writes as for that one: Stop, then
// LostAcks against the final master's List. A PowerOff of h kills it before
// it saves its acknowledged writes: Stop then returns ErrNoAckLog.
func (l *Lab) StartLocalWriter(h *Host, maxDuration time.Duration, extra ...string) (*Writer, error) {
	key := fmt.Sprintf("local:%s:%d", h.Name, time.Now().UnixNano())
	// In the host itself the VIP check of the writer's own verification
	// means nothing: it only waits --settle for one master.
	args := append([]string{"--key", key, "--settle", "1s"}, extra...)
	w, err := l.startWriterIn(h.NS, "writer-local-"+h.Name, fmt.Sprintf("127.0.0.1:%d", RedisPort), maxDuration, args...)
	if err != nil {
		return nil, err
	}
	w.Key = key
	return w, nil
}

// ErrNoAckLog: the writer ended without saving its acknowledged writes
// (killed, e.g. by a PowerOff of its host), so they cannot be counted.
var ErrNoAckLog = errors.New("the writer saved no record of its acknowledged writes")

func (l *Lab) startWriterIn(ns, name, addr string, maxDuration time.Duration, extra ...string) (*Writer, error) {
	w := &Writer{l: l, out: &bytes.Buffer{}, save: filepath.Join(l.o.Dir, fmt.Sprintf("%s-%d.json", name, time.Now().UnixNano()))}
	args := []string{"netns", "exec", ns, l.o.Writer, "--json", "--save-log", w.save,
		"--addr", addr,
		"--hosts", fmt.Sprintf("%s,%s", l.Hosts[0].Announce(), l.Hosts[1].Announce()),
		"--duration", maxDuration.String(), "--settle", "15s"}
	args = append(args, WriterFlags...)
	args = append(args, extra...)
	cmd := exec.Command("ip", args...)
	logPath := filepath.Join(l.o.Dir, name+".log")
	stderr, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = w.out, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rv-writer: %w", err)
	}
	p := &Proc{Name: name, Log: logPath, ns: ns, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	w.p = p
	return w, nil
}

// Stop interrupts the writer (it stops writing and verifies against the
// final master) and reads its report and log.
func (w *Writer) Stop() error {
	w.p.Signal(syscall.SIGINT)
	if _, ok := w.p.Wait(60 * time.Second); !ok {
		w.p.Kill()
		return fmt.Errorf("rv-writer did not finish within 60s: %s", w.p.Tail(5))
	}
	if _, err := os.Stat(w.save); err != nil {
		return fmt.Errorf("%s: %w (it ended with %v)", w.p.Name, ErrNoAckLog, w.p.err)
	}
	line := strings.TrimSpace(w.out.String())
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &w.Report); err != nil {
		return fmt.Errorf("rv-writer report %q: %w (log: %s)", line, err, w.p.Tail(5))
	}
	b, err := os.ReadFile(w.save)
	if err != nil {
		return fmt.Errorf("rv-writer log: %w", err)
	}
	if err := json.Unmarshal(b, &w.Log); err != nil {
		return fmt.Errorf("rv-writer log: %w", err)
	}
	sort.Slice(w.Log.Acks, func(i, j int) bool { return w.Log.Acks[i].At < w.Log.Acks[j].At })
	return nil
}

// AckedSince returns how many writes were acknowledged after t (while the
// writer runs it reads nothing: call after Stop).
func (w *Writer) AckedSince(t time.Time) int {
	n := 0
	for _, a := range w.Log.Acks {
		if w.Log.Start.Add(a.At).After(t) {
			n++
		}
	}
	return n
}

// FirstAckAfter returns when the first write after t was acknowledged by
// the server at ip ("" for any server), and by which one. A reply the
// killed master sent just before a kill -9 can reach the client after
// the kill was signalled: ask for the new master's first acknowledgement,
// not for anybody's.
func (w *Writer) FirstAckAfter(t time.Time, ip string) (time.Time, string, bool) {
	for _, a := range w.Log.Acks {
		if at := w.Log.Start.Add(a.At); at.After(t) && (ip == "" || a.By == ip) {
			return at, a.By, true
		}
	}
	return time.Time{}, "", false
}

// CrashWindow is how long before a kill -9 an acknowledged write may
// still be lost: the master acknowledged it but had not yet sent it to
// the replica (asynchronous replication, W1 in DESIGN.md).
const CrashWindow = time.Second

// SplitLost reads the writer's list on final and splits the acknowledged
// writes missing from it: those inside the crash window of old's Redis,
// killed at killAt, and the rest, which are failures. The window holds
// old's acknowledgements from CrashWindow before the kill until final's
// first acknowledgement after it: a reply old wrote before it died may
// reach the client after the kill was signalled, and nothing old
// acknowledges once final answers belongs to the crash.
func (w *Writer) SplitLost(final, old *Host, killAt time.Time) (inWindow, beyond []LostAck, err error) {
	present, err := w.List(final)
	if err != nil {
		return nil, nil, err
	}
	inWindow, beyond = w.splitLost(present, final.IP.String(), old.IP.String(), killAt)
	return inWindow, beyond, nil
}

// splitLost is SplitLost on a list already read; final and old are the
// servers' IPs as the writer names them.
func (w *Writer) splitLost(present []int64, final, old string, killAt time.Time) (inWindow, beyond []LostAck) {
	end, _, ok := w.FirstAckAfter(killAt, final)
	if !ok {
		end = killAt
	}
	for _, a := range w.LostAcks(present) {
		if a.By == old && !a.At.Before(killAt.Add(-CrashWindow)) && !a.At.After(end) {
			inWindow = append(inWindow, a)
		} else {
			beyond = append(beyond, a)
		}
	}
	return inWindow, beyond
}

// LostAcks returns the acknowledged writes missing from present (the
// final master's list), with their acknowledgement times.
func (w *Writer) LostAcks(present []int64) []LostAck {
	have := make(map[int64]bool, len(present))
	for _, n := range present {
		have[n] = true
	}
	var out []LostAck
	for _, a := range w.Log.Acks {
		if !have[a.N] {
			out = append(out, LostAck{N: a.N, At: w.Log.Start.Add(a.At), By: a.By})
		}
	}
	return out
}

// LostAck is one acknowledged write that is missing at the end.
type LostAck struct {
	N  int64
	At time.Time
	By string
}

// List reads the writer's list from host's Redis.
func (w *Writer) List(h *Host) ([]int64, error) {
	out, err := h.Redis("--raw", "LRANGE", w.Log.Key, "0", "-1")
	if err != nil {
		return nil, err
	}
	ns, err := writer.ParseList(out)
	if err != nil {
		return nil, fmt.Errorf("list %s on %s: %w", w.Log.Key, h.Name, err)
	}
	return ns, nil
}

// LongestGap returns the longest time without an acknowledged write within
// [from, to] (the edges count as acknowledgements), and when it began.
func (w *Writer) LongestGap(from, to time.Time) (time.Duration, time.Time) {
	prev := from
	var worst time.Duration
	var began time.Time
	for _, a := range w.Log.Acks {
		at := w.Log.Start.Add(a.At)
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		if d := at.Sub(prev); d > worst {
			worst, began = d, prev
		}
		prev = at
	}
	if d := to.Sub(prev); d > worst {
		worst, began = d, prev
	}
	return worst, began
}

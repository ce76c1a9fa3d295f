package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// Hosts are the two Redis hosts of the lab.
var Hosts = []string{"h1", "h2"}

// Addr is each host's address on the lab link (w: the witness host); VIP
// is the virtual IP.
var Addr = map[string]string{"h1": "192.0.2.11", "h2": "192.0.2.12", "w": "192.0.2.13", "client": "192.0.2.100"}

// VIP is the address keepalived moves.
const VIP = "192.0.2.10"

// Instance is the redis-vip instance name the lab configures.
const Instance = "redis6379"

// Options choose how the lab is built; the zero value of every field but
// Dir, Prefix, Bin and Writer means the default named.
type Options struct {
	// Repo is the repository root (packaging/ lives there); "" finds it
	// from this package's source.
	Repo string
	// Dir is the lab's state directory; the keepalived
	// script user must reach it (0755 up to the root).
	Dir string
	// Prefix starts every namespace name.
	Prefix string
	// Bin is the redis-vip binary (copied into Dir/bin); Writer the
	// rv-writer binary.
	Bin, Writer string
	// Notify is hooks (default) or fifo; Profile shipped (default) or
	// tuned (fall 1, rise 1).
	Notify, Profile string
	// Preempt drops nopreempt and gives h1 10 more priority points.
	Preempt bool
	// Include is cmdline (default: guard's include also on redis-server's
	// command line, as the systemd drop-in does) or conf (only as the last
	// line of redis.conf).
	Include string
	// ScriptUser is keepalived's script_user (default redis-vip, created
	// when missing; root allowed).
	ScriptUser string
	// LogLevel is redis-vip's log level (default info).
	LogLevel string
	// Logf receives what the lab does (t.Logf).
	Logf func(format string, args ...any)
}

// Lab is the keepalived-mode lab: namespaces and partitions from package
// netlab, the shipped configurations and the processes from this package.
type Lab struct {
	o   Options
	net *netlab.Lab // nil until UpNet

	mu        sync.Mutex
	redis, ka map[string]*netlab.Proc
}

// New returns a Lab; nothing is built until Up or UpNet.
func New(o Options) *Lab {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Repo == "" {
		_, here, _, _ := runtime.Caller(0)
		o.Repo = filepath.Join(filepath.Dir(here), "..", "..")
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Notify, "hooks")
	def(&o.Profile, "shipped")
	def(&o.Include, "cmdline")
	def(&o.ScriptUser, "redis-vip")
	def(&o.LogLevel, "info")
	return &Lab{o: o, redis: map[string]*netlab.Proc{}, ka: map[string]*netlab.Proc{}}
}

// Dir is the lab's state directory.
func (l *Lab) Dir() string { return l.o.Dir }

// HostDir is one host's directory under the lab dir.
func (l *Lab) HostDir(host string) string { return filepath.Join(l.o.Dir, host) }

// NS is the namespace name of host (h1, h2, w, client, br).
func (l *Lab) NS(host string) string {
	switch {
	case host == "client" && l.net != nil:
		return l.net.ClientNS
	case host == "br" && l.net != nil:
		return l.net.BridgeNS
	}
	return l.o.Prefix + "-" + host
}

// Peer returns the other Redis host.
func Peer(host string) string {
	if host == "h1" {
		return "h2"
	}
	return "h1"
}

// Exec runs a command inside host's namespace and returns its output.
func (l *Lab) Exec(ctx context.Context, host string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NS(host)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w: %s", host, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Cli runs redis-cli against host's Redis from inside the host.
func (l *Lab) Cli(ctx context.Context, host string, args ...string) (string, error) {
	out, err := l.Exec(ctx, host, append([]string{"redis-cli", "-h", "127.0.0.1", "-p", "6379", "--no-auth-warning"}, args...)...)
	return strings.TrimSpace(out), err
}

// Node is one Redis as the lab sees it.
type Node struct {
	Host    string
	Up      bool
	Role    string // master or slave
	Master  string // host the replica follows (h1, h2 or an address)
	LinkUp  bool
	Syncing bool
	Keys    int64
	ReplID  string
	Offset  int64
	// KA is keepalived's last state from its log (MASTER, BACKUP, FAULT, STOP, "" unknown).
	KA string
	// KARunning says whether the lab's keepalived process is alive.
	KARunning bool
}

// State is both nodes and the VIP at one moment.
type State struct {
	Nodes map[string]Node
	// VIP is h1, h2, none or h1+h2.
	VIP string
}

// String is a one-line description for test logs.
func (s State) String() string {
	var parts []string
	for _, h := range Hosts {
		n := s.Nodes[h]
		if !n.Up {
			parts = append(parts, fmt.Sprintf("%s: redis down, keepalived %s", h, kaWord(n)))
			continue
		}
		role := n.Role
		if role == "slave" {
			link := "down"
			if n.LinkUp {
				link = "up"
			}
			role = fmt.Sprintf("replica of %s (link %s)", n.Master, link)
		}
		parts = append(parts, fmt.Sprintf("%s: %s keys=%d offset=%d, keepalived %s", h, role, n.Keys, n.Offset, kaWord(n)))
	}
	return strings.Join(parts, "; ") + "; VIP on " + s.VIP
}

func kaWord(n Node) string {
	if !n.KARunning {
		return "stopped"
	}
	if n.KA == "" {
		return "?"
	}
	return n.KA
}

// Masters lists the hosts whose Redis is up and master.
func (s State) Masters() []string {
	var out []string
	for _, h := range Hosts {
		if n := s.Nodes[h]; n.Up && n.Role == "master" {
			out = append(out, h)
		}
	}
	return out
}

// Settled reports whether exactly one Redis is master, the VIP is on it,
// every other running Redis replicates it with the link up, and every
// running keepalived agrees (MASTER on the master, BACKUP elsewhere).
func (s State) Settled() (string, bool) {
	m := s.Masters()
	if len(m) != 1 || s.VIP != m[0] {
		return "", false
	}
	master := m[0]
	for _, h := range Hosts {
		n := s.Nodes[h]
		if n.KARunning && ((h == master && n.KA != "MASTER") || (h != master && n.Up && n.KA != "BACKUP")) {
			return "", false
		}
		if h == master || !n.Up {
			continue
		}
		if n.Role != "slave" || n.Master != master || !n.LinkUp || n.Syncing {
			return "", false
		}
	}
	return master, true
}

var kaStateRE = regexp.MustCompile(`\(VI_REDIS\) Entering (\w+) STATE`)

// KeepalivedState reads host's keepalived log for the last state it entered.
func (l *Lab) KeepalivedState(host string) string {
	b, err := os.ReadFile(filepath.Join(l.HostDir(host), "log", "keepalived.log"))
	if err != nil {
		return ""
	}
	all := kaStateRE.FindAllSubmatch(b, -1)
	if len(all) == 0 {
		return ""
	}
	last := string(all[len(all)-1][1])
	// A stopped keepalived writes "Stopped" after the last state.
	if i := bytes.LastIndex(b, []byte("Stopped Keepalived")); i > bytes.LastIndex(b, all[len(all)-1][0]) {
		return "STOP"
	}
	return last
}

// Info parses INFO from host's Redis (all sections asked for).
func (l *Lab) Info(ctx context.Context, host string, sections ...string) (map[string]string, error) {
	out, err := l.Cli(ctx, host, append([]string{"INFO"}, sections...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	if m["role"] == "" {
		return nil, fmt.Errorf("%s: INFO: no role in %q", host, out)
	}
	return m, nil
}

var keysRE = regexp.MustCompile(`keys=(\d+)`)

// Node reads one host's Redis and keepalived.
func (l *Lab) Node(ctx context.Context, host string) Node {
	n := Node{Host: host, KA: l.KeepalivedState(host), KARunning: l.KeepalivedRunning(host)}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := l.Info(cctx, host, "replication", "keyspace")
	if err != nil {
		return n
	}
	n.Up = true
	n.Role = m["role"]
	n.ReplID = m["master_replid"]
	n.Offset, _ = strconv.ParseInt(m["master_repl_offset"], 10, 64)
	for _, mm := range keysRE.FindAllStringSubmatch(m["db0"], -1) {
		k, _ := strconv.ParseInt(mm[1], 10, 64)
		n.Keys += k
	}
	if n.Role == "slave" {
		n.Master = m["master_host"]
		for h, a := range Addr {
			if a == m["master_host"] {
				n.Master = h
			}
		}
		n.LinkUp = m["master_link_status"] == "up"
		n.Syncing = m["master_sync_in_progress"] == "1"
	}
	return n
}

// VIPHolder says which host has the VIP (h1, h2, none, h1+h2).
func (l *Lab) VIPHolder(ctx context.Context) string {
	if l.net == nil {
		return "none"
	}
	on := l.net.Holders()
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, "+")
}

// State reads both nodes and the VIP.
func (l *Lab) State(ctx context.Context) State {
	s := State{Nodes: map[string]Node{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := l.Node(ctx, h)
			mu.Lock()
			s.Nodes[h] = n
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.VIP = l.VIPHolder(ctx)
	return s
}

// ErrNotSettled: the pair did not settle in time.
var ErrNotSettled = errors.New("lab did not settle")

// WaitSettled polls (every 200 ms, at most timeout) until State.Settled and
// the condition ok (nil: any master) holds; it returns the last state seen.
func (l *Lab) WaitSettled(ctx context.Context, timeout time.Duration, ok func(master string, s State) bool) (State, error) {
	deadline := time.Now().Add(timeout)
	var s State
	for {
		s = l.State(ctx)
		if m, settled := s.Settled(); settled && (ok == nil || ok(m, s)) {
			return s, nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return s, fmt.Errorf("%w after %s: %s", ErrNotSettled, timeout, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitFor polls cond every 100 ms for at most timeout.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Backups lists the files in host's backup dir.
func (l *Lab) Backups(host string) []string {
	files, _ := filepath.Glob(filepath.Join(l.HostDir(host), "backups", "*"))
	sort.Strings(files)
	return files
}

// Tail returns the last n lines of a file under the lab dir (for failure logs).
func (l *Lab) Tail(rel string, n int) string { return TailFile(filepath.Join(l.o.Dir, rel), n) }

// TailFile returns the last n lines of the file at path (the error's text
// when it cannot be read), for failure logs of either lab.
func TailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Transitions summarizes host's redis-vip log: one line per finished
// transition and per guard decision, for test logs.
func (l *Lab) Transitions(host string) string {
	b, err := os.ReadFile(filepath.Join(l.HostDir(host), "log", "redis-vip.log"))
	if err != nil {
		return err.Error()
	}
	var out []string
	fieldRE := regexp.MustCompile(`"(time|msg|event|outcome|decision|reason|action|error|duration_ms)":("[^"]*"|\d+)`)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"msg":"transition ended"`) && !strings.Contains(line, `"msg":"guard decided"`) {
			continue
		}
		var parts []string
		for _, m := range fieldRE.FindAllStringSubmatch(line, -1) {
			v := strings.Trim(m[2], `"`)
			if m[1] == "time" && len(v) > 23 {
				v = v[11:23]
			}
			if m[1] == "msg" {
				continue
			}
			parts = append(parts, m[1]+"="+v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, "\n")
}

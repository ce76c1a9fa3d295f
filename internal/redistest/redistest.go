// Package redistest starts real redis-server processes on loopback ports for
// tests, and builds the redis-vip binary once per test process. Every server
// is stopped by t.Cleanup, also when the test fails. Under -short, Require
// (and so Start) skips the test: -short runs no servers.
//
// A package that runs the binary calls Main from its TestMain, so that the
// build (a minute on a busy two-core machine when the cache is cold) is done
// before any test, and so before any test's deadline, starts.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/internal/pollwait"
	"github.com/redis-vip/redis-vip/internal/testtier"
)

// Bounds on waiting for a server. They catch a server that will never
// get there, not a slow machine: generous, and no test asserts on them.
const (
	startBound = 30 * time.Second
	logBound   = 30 * time.Second
	exitBound  = 10 * time.Second
)

// Server is one redis-server process. Its log (stdout) is kept, so that a
// test waits for an event in it (WaitLog) instead of sleeping.
type Server struct {
	Port int
	Dir  string
	// ConfigFile is the redis.conf the server was started from.
	ConfigFile string
	args       []string
	fixedPort  bool
	t          testing.TB
	log        logLines

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
}

// Options tune Start.
type Options struct {
	// Args are extra redis.conf lines, e.g. "requirepass secret".
	Args []string
	// Dir reuses a data directory (a restart); "" makes a new one.
	Dir string
	// Port reuses a port; 0 picks a free one.
	Port int
}

// Require skips the test when redis-server is not installed, and under
// -short.
func Require(t testing.TB) {
	t.Helper()
	testtier.RequireServers(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (make test installs it)")
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs redis-server from a redis.conf in its own directory (so
// CONFIG REWRITE works) and returns once its log says it accepts
// connections. A port another process took meanwhile is retried with
// another (when Options.Port is 0). t.Cleanup kills it.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Require(t)
	s := &Server{Port: o.Port, Dir: o.Dir, args: o.Args, fixedPort: o.Port != 0, t: t}
	s.log.grew = make(chan struct{})
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	s.ConfigFile = filepath.Join(s.Dir, "redis.conf")
	t.Cleanup(s.Kill)
	s.start()
	return s
}

func (s *Server) start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		if !s.fixedPort {
			s.Port = FreePort(s.t)
		}
		mark := s.LogMark()
		s.launch()
		i, ok := s.waitLog(mark, startBound, "Ready to accept connections", "Address already in use")
		if ok && strings.Contains(s.log.line(i), "Ready to accept") {
			s.fixedPort = true // a restart keeps the port
			return
		}
		s.Kill()
		if !ok || s.fixedPort || attempt == 3 {
			s.t.Fatalf("redis-server on %d did not start; log:\n%s", s.Port, s.log.tail(15))
		}
	}
}

// launch writes redis.conf and starts the process, its output into the log.
func (s *Server) launch() {
	s.t.Helper()
	conf := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.Port),
		"dir " + s.Dir,
		"dbfilename dump.rdb",
		"save \"\"",
		"appendonly no",
		"logfile \"\"",
		"daemonize no",
		"protected-mode no",
		"repl-diskless-sync no",
		"repl-ping-replica-period 1",
	}
	conf = append(conf, s.args...)
	if err := os.WriteFile(s.ConfigFile, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command("redis-server", s.ConfigFile)
	cmd.Dir = s.Dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a BGSAVE child dies with it
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.log.add(sc.Text())
		}
		_ = cmd.Wait()
		close(exited)
	}()
}

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Client returns a go-redis client for the server (closed by t.Cleanup).
func (s *Server) Client(password ...string) *redis.Client {
	o := &redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, Protocol: 2, DisableIdentity: true}
	if len(password) > 0 {
		o.Password = password[0]
	}
	c := redis.NewClient(o)
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Kill stops the server and its children with SIGKILL (no save) and waits
// until it has exited, so its port is free. It does nothing when the
// server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(exitBound):
		s.t.Errorf("redis-server on %d did not exit within %s of SIGKILL", s.Port, exitBound)
	}
}

// Freeze stops the server and its children with SIGSTOP: the kernel still
// accepts connections, nothing answers (a hung Redis, or a peer behind a
// partition that drops packets). The returned func resumes it; t.Cleanup
// resumes it too, so a failed test never leaves a stopped process behind.
func (s *Server) Freeze() (thaw func()) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		s.t.Fatalf("freeze: redis-server on %d is not running", s.Port)
	}
	pgid := cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGSTOP); err != nil {
		s.t.Fatalf("freeze redis-server on %d: %v", s.Port, err)
	}
	var once sync.Once
	thaw = func() { once.Do(func() { _ = syscall.Kill(-pgid, syscall.SIGCONT) }) }
	s.t.Cleanup(thaw)
	return thaw
}

// busyBound bounds the wait for a server running Busy's script to answer
// -BUSY (it does after busy-reply-threshold, 100 ms).
const busyBound = 5 * time.Second

// Busy runs an endless Lua script on the server until the test ends and
// returns once the server answers -BUSY: alive, yet every command but
// SCRIPT KILL is refused (S9's peer that answers with an error). t.Cleanup
// kills the script, so the server can be stopped and read again.
func (s *Server) Busy() {
	s.t.Helper()
	ctx := context.Background()
	c := s.Client()
	if err := c.ConfigSet(ctx, "busy-reply-threshold", "100").Err(); err != nil {
		s.t.Fatalf("busy: redis-server on %d: %v", s.Port, err)
	}
	script := s.Client()
	done := make(chan error, 1)
	go func() { done <- script.Eval(ctx, "local i = 0 while true do i = i + 1 end", nil).Err() }()
	s.t.Cleanup(func() {
		_ = c.ScriptKill(ctx).Err()
		select {
		case <-done:
		case <-time.After(exitBound):
		}
	})
	deadline := time.Now().Add(busyBound)
	for {
		err := c.Ping(ctx).Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %d never answered -BUSY within %s: %v", s.Port, busyBound, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// infoBound bounds WaitInfo: a full sync or an AOF rewrite of a test's few
// keys takes milliseconds, seconds on a loaded host.
const infoBound = 15 * time.Second

// WaitInfo waits until INFO section holds every one of want (lines such as
// "master_link_status:up"); the test fails when it does not within
// infoBound.
func (s *Server) WaitInfo(t testing.TB, section string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), infoBound)
	defer cancel()
	var last error
	err := pollwait.Until(ctx, 20*time.Millisecond, func() (bool, error) {
		info, err := s.Client().Info(ctx, section).Result()
		last = err
		ok := err == nil
		for _, w := range want {
			ok = ok && strings.Contains(info, w)
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("redis-server on %d: INFO %s never showed %v within %s (last error %v)", s.Port, section, want, infoBound, last)
	}
}

// RewriteAOF rewrites the server's AOF and waits until the rewrite has
// finished well. A rewrite Redis started by itself (a replica does after
// each full sync when AOF is on, Redis 7) is waited out first: asked during
// one, BGREWRITEAOF answers "already in progress".
func (s *Server) RewriteAOF(t testing.TB) {
	t.Helper()
	const tries = 5
	for try := 1; ; try++ {
		s.WaitInfo(t, "persistence", "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0")
		err := s.Client().Do(context.Background(), "BGREWRITEAOF").Err()
		if err == nil {
			break
		}
		if try == tries || !strings.Contains(err.Error(), "already in progress") {
			t.Fatalf("redis-server on %d: BGREWRITEAOF: %v", s.Port, err)
		}
	}
	s.WaitInfo(t, "persistence", "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0", "aof_last_bgrewrite_status:ok")
}

// LogMark is the position after the server's last log line so far: what
// WaitLog looks after.
func (s *Server) LogMark() int { return s.log.mark() }

// WaitLog waits until a log line after from contains one of subs and
// returns its index; the test fails when none comes within a generous
// bound or the server exits first.
func (s *Server) WaitLog(t testing.TB, from int, subs ...string) int {
	t.Helper()
	i, ok := s.waitLog(from, logBound, subs...)
	if !ok {
		t.Fatalf("redis-server on %d: no %q in its log; last lines:\n%s", s.Port, subs, s.log.tail(15))
	}
	return i
}

func (s *Server) waitLog(from int, bound time.Duration, subs ...string) (int, bool) {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		i, grew := s.log.find(from, subs)
		if i >= 0 {
			return i, true
		}
		select {
		case <-grew:
		case <-exited:
			if i, _ := s.log.find(from, subs); i >= 0 {
				return i, true
			}
			return 0, false
		case <-timer.C:
			return 0, false
		}
	}
}

// Log is the server's log so far.
func (s *Server) Log() string { return s.log.tail(-1) }

// logLines keeps a server's log lines and wakes waiters on each new one.
type logLines struct {
	mu    sync.Mutex
	lines []string
	grew  chan struct{} // closed and replaced when a line arrives
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	close(l.grew)
	l.grew = make(chan struct{})
}

func (l *logLines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *logLines) line(i int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[i]
}

// find returns the first line at or after from holding one of subs (-1:
// none yet) and the channel closed when the next line arrives.
func (l *logLines) find(from int, subs []string) (int, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := max(from, 0); i < len(l.lines); i++ {
		for _, sub := range subs {
			if strings.Contains(l.lines[i], sub) {
				return i, l.grew
			}
		}
	}
	return -1, l.grew
}

// tail is the last n lines (every line for n < 0).
func (l *logLines) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if n >= 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Restart starts the server again from the same directory and config file,
// with extra lines appended (a restart after Kill).
func (s *Server) Restart(extra ...string) {
	s.t.Helper()
	s.args = append(s.args, extra...)
	s.start()
}

// Role returns INFO replication's role line value.
func (s *Server) Role(ctx context.Context) string {
	info, err := s.Client().Info(ctx, "replication").Result()
	if err != nil {
		return "unreachable"
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			return v
		}
	}
	return ""
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Main is a TestMain for packages that run the binary: it builds it, runs
// the tests and removes it. A failed build fails the run before any test
// starts.
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
func Main(m *testing.M) int {
	defer RemoveBinary()
	if _, err := Build(); err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	return m.Run()
}

// Build builds cmd/redis-vip once per test process, as `make build` does,
// and returns its path; for a TestMain. It has no deadline of its own: go
// test's -timeout bounds the whole process.
func Build() (string, error) {
	buildOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(here), "..", "..")
		dir, err := os.MkdirTemp("", "redis-vip-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "redis-vip")
		// Built as `make build` builds it, so measured costs are the shipped ones.
		cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags", "-s -w", "-o", buildPath, "./cmd/redis-vip")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	return buildPath, buildErr
}

// Binary returns the path of the redis-vip binary built once per test
// process (by Main, or here on first use).
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// RemoveBinary deletes the binary Binary built; Main calls it.
func RemoveBinary() {
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
}

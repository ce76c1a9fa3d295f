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
	"bytes"
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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/internal/testtier"
)

// Server is one redis-server process.
type Server struct {
	Port int
	Dir  string
	// ConfigFile is the redis.conf the server was started from.
	ConfigFile string
	args       []string
	cmd        *exec.Cmd
	t          testing.TB
	mu         sync.Mutex
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
// CONFIG REWRITE works) and waits until it answers PING.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Require(t)
	s := &Server{Port: o.Port, Dir: o.Dir, args: o.Args, t: t}
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	if s.Port == 0 {
		s.Port = FreePort(t)
	}
	s.ConfigFile = filepath.Join(s.Dir, "redis.conf")
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	conf := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.Port),
		"dir " + s.Dir,
		"dbfilename dump.rdb",
		"save \"\"",
		"appendonly no",
		"logfile " + filepath.Join(s.Dir, "redis.log"),
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
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	go func() { _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	s.t.Fatalf("redis-server on %d did not start: %s", s.Port, lastLines(log, 10))
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

// Kill stops the server with SIGKILL (no save) and waits for its port to close.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr(), 50*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
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

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
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

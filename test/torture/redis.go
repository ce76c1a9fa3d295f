package torture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// Persistence is how a schedule's servers keep their data.
type Persistence string

// The persistence modes a schedule can draw.
const (
	PersistNone Persistence = "none"
	PersistRDB  Persistence = "rdb"
	PersistAOF  Persistence = "aof"
)

// redisServer is one redis-server process of the suite, started from its own
// redis.conf with the guard include on the command line, as the systemd
// drop-in in packaging/systemd does.
type redisServer struct {
	name    string
	port    int
	dir     string
	conf    string
	include string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	stalled  bool
	password string
	// down, when set, is told when the process has exited (true) and when
	// it listens again (false): the link proxy refuses meanwhile, so the
	// peer sees a refused connection, as from a host whose Redis is dead.
	down func(bool)
}

// redisConf is the server's redis.conf: loopback, its own dir, the
// persistence the schedule drew, and replica-announce-* set to the proxy the
// peer uses, so the master lists this replica under the address the peer's
// redis-vip config calls it.
func redisConf(port int, dir string, p Persistence, announcePort int) string {
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"dir " + dir,
		"dbfilename dump.rdb",
		"logfile " + filepath.Join(dir, "redis.log"),
		"daemonize no",
		"protected-mode no",
		"repl-diskless-sync no",
		"repl-ping-replica-period 1",
		"repl-timeout 5",
		"replica-announce-ip 127.0.0.1",
		"replica-announce-port " + strconv.Itoa(announcePort),
		"maxclients 96",
		"appendfsync everysec",
	}
	switch p {
	case PersistRDB:
		lines = append(lines, `save "1 1"`, "appendonly no")
	case PersistAOF:
		lines = append(lines, `save ""`, "appendonly yes")
	default:
		lines = append(lines, `save ""`, "appendonly no")
	}
	return strings.Join(lines, "\n") + "\n"
}

func newRedisServer(name string, port int, dir string, p Persistence, announcePort int) (*redisServer, error) {
	s := &redisServer{name: name, port: port, dir: dir, conf: filepath.Join(dir, "redis.conf"), include: filepath.Join(dir, "redis-vip-guard.conf")}
	if err := os.WriteFile(s.conf, []byte(redisConf(port, dir, p, announcePort)), 0o644); err != nil {
		return nil, fmt.Errorf("%s: write redis.conf: %w", name, err)
	}
	// The first start is an installed pair's: guard has not run yet.
	if err := os.WriteFile(s.include, []byte("# empty until guard runs\n"), 0o644); err != nil {
		return nil, fmt.Errorf("%s: write guard include: %w", name, err)
	}
	return s, nil
}

func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start runs redis-server and waits (bounded) until it accepts connections.
func (s *redisServer) start() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return nil
	}
	cmd := exec.Command("redis-server", s.conf, "--include", s.include)
	cmd.SysProcAttr = dieWithUs()
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s: start redis-server: %w", s.name, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.stalled, s.password = cmd, exited, false, ""
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		if s.down != nil {
			s.down(true)
		}
		close(exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			s.forget(cmd)
			return fmt.Errorf("%s: redis-server exited at start: %s", s.name, s.logTail(5))
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond); err == nil {
			c.Close()
			if s.down != nil {
				s.down(false)
			}
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s: redis-server did not listen within 15s", s.name)
}

func (s *redisServer) forget(cmd *exec.Cmd) {
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
	}
	s.mu.Unlock()
}

// running reports whether the process is alive (stalled counts as alive).
func (s *redisServer) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the running process; false when none runs.
func (s *redisServer) signal(sig syscall.Signal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return false
	}
	switch sig {
	case syscall.SIGSTOP:
		s.stalled = true
	case syscall.SIGCONT:
		s.stalled = false
	}
	return s.cmd.Process.Signal(sig) == nil
}

func (s *redisServer) isStalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

// kill sends SIGKILL and waits (bounded) for the process to be gone.
func (s *redisServer) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.stalled = false
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// shutdown stops the server cleanly (SHUTDOWN saves when persistence is on).
func (s *redisServer) shutdown() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_, err := s.do(3*time.Second, "SHUTDOWN")
	select {
	case <-exited:
	case <-time.After(12 * time.Second):
		s.kill()
		return fmt.Errorf("%s: SHUTDOWN did not stop the server (%v); killed", s.name, err)
	}
	s.forget(cmd)
	return nil
}

func (s *redisServer) setPassword(p string) {
	s.mu.Lock()
	s.password = p
	s.mu.Unlock()
}

// dial opens a RESP connection, authenticated when a password is set.
func (s *redisServer) dial(timeout time.Duration) (*writer.Conn, error) {
	s.mu.Lock()
	pw := s.password
	s.mu.Unlock()
	c, err := writer.Dial(s.addr(), timeout)
	if err != nil {
		return nil, err
	}
	if pw != "" {
		if _, err := c.Do("AUTH", pw); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: auth: %w", s.name, err)
		}
	}
	return c, nil
}

// do runs one command on a fresh connection.
func (s *redisServer) do(timeout time.Duration, args ...string) (any, error) {
	c, err := s.dial(timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(args...)
}

// logTail returns the last n lines of the server's log.
func (s *redisServer) logTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "overcommit") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	return tailLines(strings.Join(keep, "\n"), n)
}

// removeDataFiles deletes the RDB and the AOF directory (files lost).
func (s *redisServer) removeDataFiles() error {
	errs := []error{}
	for _, p := range []string{filepath.Join(s.dir, "dump.rdb"), filepath.Join(s.dir, "appendonlydir")} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dieWithUs makes a child process get SIGKILL when the test process dies,
// so a test killed by its -timeout leaves no server or hook behind.
func dieWithUs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

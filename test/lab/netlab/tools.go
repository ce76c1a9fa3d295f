package netlab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Curl fetches url from the client namespace (bounded by 5 s) and returns
// the HTTP status and body; code 0 means no answer.
func (l *Lab) Curl(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	c := &Host{lab: l, Name: "client", NS: l.ClientNS}
	out, err := c.Exec(ctx, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", url)
	i := strings.LastIndex(out, "\n")
	if i < 0 {
		return 0, out, err
	}
	code, _ := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	return code, out[:i], err
}

// ClientRedis runs redis-cli against host:port from the client namespace.
func (l *Lab) ClientRedis(ctx context.Context, host, port string, args ...string) (string, error) {
	c := &Host{lab: l, Name: "client", NS: l.ClientNS}
	return c.Exec(ctx, append([]string{"redis-cli", "-h", host, "-p", port}, args...)...)
}

// Capture is a tcpdump running in a namespace, writing to a file.
type Capture struct {
	p *Proc
}

// StartCapture runs tcpdump on ns's eth0 with filter (-n -l -tt -v) and
// returns once it listens.
func (l *Lab) StartCapture(name, ns, filter string) (*Capture, error) {
	p, err := l.Start(name, ns, l.o.Dir, "tcpdump", "-i", "eth0", "-n", "-l", "-tt", "-v", filter)
	if err != nil {
		return nil, err
	}
	c := &Capture{p: p}
	err = WaitFor(5*time.Second, "tcpdump listening", func() bool {
		b, _ := os.ReadFile(p.Log)
		return strings.Contains(string(b), "listening on")
	})
	if err != nil {
		p.Kill()
		return nil, err
	}
	return c, nil
}

// Stop stops tcpdump (SIGINT, so it flushes) and returns its output lines.
func (c *Capture) Stop() []string {
	c.p.Signal(syscall.SIGINT)
	if _, ok := c.p.Wait(5 * time.Second); !ok {
		c.p.Kill()
	}
	b, _ := os.ReadFile(c.p.Log)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// HAProxyFrontend is where the lab's HAProxy listens, in the client
// namespace.
const HAProxyFrontend = "127.0.0.1:6390"

// StartHAProxy runs Debian's haproxy in the client namespace with the
// shipped example configuration (packaging/haproxy/haproxy.cfg), its
// addresses rewritten to the lab's: the hosts' Redis, their health port,
// HAProxyFrontend. It returns once HAProxy listens.
func (l *Lab) StartHAProxy(healthPort int) (*Proc, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "packaging", "haproxy", "haproxy.cfg"))
	if err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer(
		"192.0.2.11:6379", l.Hosts[0].Announce(),
		"192.0.2.12:6379", l.Hosts[1].Announce(),
		"port 8008", fmt.Sprintf("port %d", healthPort),
		"bind :6379", "bind "+HAProxyFrontend,
		"bind :6380", "bind 127.0.0.1:6391",
		"log /dev/log local0", "log stderr local0",
	).Replace(string(b))
	path := filepath.Join(l.o.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	p, err := l.Start("haproxy", l.ClientNS, l.o.Dir, "haproxy", "-db", "-f", path)
	if err != nil {
		return nil, err
	}
	c := &Host{lab: l, Name: "client", NS: l.ClientNS}
	err = WaitFor(5*time.Second, "haproxy listening", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Exec(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+strings.Replace(HAProxyFrontend, ":", "/", 1))
		return err == nil || !p.Running()
	})
	if err == nil && !p.Running() {
		err = fmt.Errorf("haproxy exited: %s", p.Tail(10))
	}
	return p, err
}

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..")
}

package torture

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// instanceName and vrrpName are the redis-vip instance and keepalived
// vrrp_instance every schedule uses.
const (
	instanceName = "redis"
	vrrpName     = "VI_REDIS"
)

// host is one machine of the pair: its Redis, the proxy through which the
// other host reaches that Redis, and its redis-vip files.
type host struct {
	name      string
	redis     *redisServer
	reach     *proxy
	dir       string
	config    string
	stateDir  string
	backupDir string
	logFile   string
	snapshot  string
}

func (h *host) journal() string { return filepath.Join(h.stateDir, instanceName+".journal") }

// cluster is the two hosts, the VIP, and the binary under test.
type cluster struct {
	bin   string
	root  string
	hosts [2]*host
	vip   *proxy
}

// newCluster creates the proxies, the servers' files and the redis-vip
// configs; nothing is started. vipTarget says where the VIP forwards.
func newCluster(bin, root string, p Persistence, vipTarget func() string) (*cluster, error) {
	c := &cluster{bin: bin, root: root}
	for i, name := range []string{"A", "B"} {
		dir := filepath.Join(root, name)
		h := &host{name: name, dir: dir, stateDir: filepath.Join(dir, "state"), backupDir: filepath.Join(dir, "backups"),
			logFile: filepath.Join(dir, "redis-vip.log"), snapshot: filepath.Join(dir, "snapshot")}
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			return nil, fmt.Errorf("host %s: %w", name, err)
		}
		c.hosts[i] = h
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	for i, h := range c.hosts {
		port := ports[i]
		h.reach, err = newProxy(func() string { return "127.0.0.1:" + strconv.Itoa(port) })
		if err != nil {
			c.closeProxies()
			return nil, err
		}
		h.redis, err = newRedisServer(h.name, port, filepath.Join(h.dir, "data"), p, h.reach.port())
		if err != nil {
			c.closeProxies()
			return nil, err
		}
	}
	if c.vip, err = newProxy(vipTarget); err != nil {
		c.closeProxies()
		return nil, err
	}
	for i, h := range c.hosts {
		if err := c.writeConfig(h, c.hosts[1-i]); err != nil {
			c.closeProxies()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) closeProxies() {
	for _, h := range c.hosts {
		if h != nil && h.reach != nil {
			h.reach.close()
		}
	}
	if c.vip != nil {
		c.vip.close()
	}
}

// writeConfig writes h's redis-vip.yml: local is its own Redis, announce the
// proxy the peer reaches it through, peer the proxy to the peer's Redis.
// Timeouts are scaled down from the defaults so a schedule fits in seconds.
func (c *cluster) writeConfig(h, peer *host) error {
	inst := map[string]any{
		"vrrp_instance": vrrpName,
		"local":         h.redis.addr(),
		"announce":      h.reach.addr(),
		"peer":          peer.reach.addr(),
		"state_dir":     h.stateDir,
		"backup_dir":    h.backupDir,
		"timeouts": map[string]any{
			"connect": "300ms", "command": "1s", "check": "1s", "sync": "5s",
			"transition": "15s", "peer_wait": "4s", "holdoff": "5s",
		},
		"guard": map[string]any{"include": h.redis.include, "redis_conf": h.redis.conf},
	}
	doc := map[string]any{
		"log":       map[string]any{"format": "json", "level": "debug", "stderr": false, "file": h.logFile},
		"instances": map[string]any{instanceName: inst},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("config %s: %w", h.name, err)
	}
	h.config = filepath.Join(h.dir, "redis-vip.yml")
	if err := os.WriteFile(h.config, b, 0o644); err != nil {
		return fmt.Errorf("config %s: %w", h.name, err)
	}
	return nil
}

// bootstrap starts both servers as an installed, healthy pair: A master
// with seed keys, B its replica in sync (through the link proxy), B's role
// persisted with CONFIG REWRITE.
func (c *cluster) bootstrap(seedKeys int) error {
	a, b := c.hosts[0], c.hosts[1]
	for _, h := range c.hosts {
		if err := h.redis.start(); err != nil {
			return err
		}
	}
	conn, err := a.redis.dial(2 * time.Second)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	defer conn.Close()
	for i := 0; i < seedKeys; i++ {
		if _, err := conn.Do("SET", "seed:"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
			return fmt.Errorf("bootstrap seed: %w", err)
		}
	}
	if _, err := b.redis.do(2*time.Second, "REPLICAOF", "127.0.0.1", strconv.Itoa(a.reach.port())); err != nil {
		return fmt.Errorf("bootstrap replicaof: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := b.redis.do(time.Second, "INFO", "replication")
		s, _ := v.(string)
		if err == nil && strings.Contains(s, "master_link_status:up") && strings.Contains(s, "master_sync_in_progress:0") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bootstrap: B not in sync with A within 20s: %s", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := b.redis.do(2*time.Second, "CONFIG", "REWRITE"); err != nil {
		return fmt.Errorf("bootstrap config rewrite: %w", err)
	}
	return nil
}

// byPort names the host whose Redis listens on port (-1: none).
func (c *cluster) byPort(port string) int {
	for i, h := range c.hosts {
		if port == strconv.Itoa(h.redis.port) {
			return i
		}
	}
	return -1
}

// stopAll kills every server and closes every proxy.
func (c *cluster) stopAll() {
	for _, h := range c.hosts {
		h.redis.kill()
	}
	c.closeProxies()
}

package torture

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// pairSpec names one guarded pair: the redis-vip instance, keepalived's
// vrrp_instance, and the prefix of its keys.
type pairSpec struct {
	Inst, VRRP, Prefix string
}

// singlePair is the usual one-instance set-up; multiPairs are two
// instances in one config file whose names share a prefix ("cache" is a
// prefix of "cache-eu") and which share the state and backup dirs.
var (
	singlePair = []pairSpec{{Inst: "redis", VRRP: "VI_REDIS"}}
	multiPairs = []pairSpec{{Inst: "cache", VRRP: "VI_CACHE", Prefix: "c:"}, {Inst: "cache-eu", VRRP: "VI_CACHE_EU", Prefix: "eu:"}}
)

// hostFiles are one machine's redis-vip files, shared by every instance on it.
type hostFiles struct {
	name      string
	dir       string
	config    string
	stateDir  string
	backupDir string
	logFile   string
	// heldDir keeps the suite's links to every backup seen (retention.go).
	heldDir string
}

func newHostFiles(root, name string) (*hostFiles, error) {
	dir := filepath.Join(root, name)
	f := &hostFiles{name: name, dir: dir, config: filepath.Join(dir, "redis-vip.yml"), stateDir: filepath.Join(dir, "state"),
		backupDir: filepath.Join(dir, "backups"), logFile: filepath.Join(dir, "redis-vip.log"), heldDir: filepath.Join(root, "held-"+name)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	return f, nil
}

// host is one machine as one pair sees it: that pair's Redis on it, the
// proxy through which the other host reaches that Redis, the proxy through
// which this host reaches the witness (nil without one), and the machine's
// redis-vip files.
type host struct {
	*hostFiles
	inst     string
	redis    *redisServer
	reach    *proxy
	witness  *proxy
	snapshot string
}

func (h *host) journal() string { return filepath.Join(h.stateDir, h.inst+".journal") }

// cluster is one guarded pair: its two hosts, its VIP, the binary under
// test, the network its paths go through (shared with the schedule's other
// pairs), and the schedule's fencing.
type cluster struct {
	bin   string
	root  string
	spec  pairSpec
	hosts [2]*host
	vip   *proxy
	net   *network
	fence fencing
	wit   *witnessProc
	// hostVIP puts "the VIP" on the MASTER host's own loopback address, for
	// check's vips rule (nil without root).
	hostVIP *hostVIP
}

// newCluster creates the pair's proxies and servers' files; nothing is
// started. vipTarget says where the VIP forwards; w is the witness (nil
// without one).
func newCluster(bin, root string, files [2]*hostFiles, spec pairSpec, p Persistence, fc fencing, nw *network, w *witnessProc, vipTarget func() string) (*cluster, error) {
	c := &cluster{bin: bin, root: filepath.Join(root, spec.Inst), spec: spec, hostVIP: newHostVIP(), net: nw, fence: fc, wit: w}
	for i, f := range files {
		dir := filepath.Join(c.root, f.name)
		h := &host{hostFiles: f, inst: spec.Inst, snapshot: filepath.Join(dir, "snapshot")}
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			return nil, fmt.Errorf("host %s: %w", f.name, err)
		}
		c.hosts[i] = h
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	for i, h := range c.hosts {
		port := ports[i]
		// The peer (host 1-i) reaches this host's Redis.
		h.reach, err = newProxy(func() string { return "127.0.0.1:" + strconv.Itoa(port) }, nw.linkHole(1-i, i))
		if err != nil {
			c.closeProxies()
			return nil, err
		}
		nw.register(h.reach)
		_ = h.reach.setRefusing(true)
		h.redis, err = newRedisServer(h.name, port, filepath.Join(c.root, h.name, "data"), p, h.reach.port())
		if err != nil {
			c.closeProxies()
			return nil, err
		}
		reach := h.reach
		h.redis.down = func(down bool) { _ = reach.setRefusing(down) }
		if w != nil {
			if h.witness, err = newProxy(w.addr, nw.witnessHole(i)); err != nil {
				c.closeProxies()
				return nil, err
			}
			nw.register(h.witness)
			w.attach(h.witness)
		}
	}
	if c.vip, err = newProxy(vipTarget, nw.vipHole(func(addr string) int {
		_, port, _ := net.SplitHostPort(addr)
		return c.byPort(port)
	})); err != nil {
		c.closeProxies()
		return nil, err
	}
	nw.register(c.vip)
	return c, nil
}

func (c *cluster) closeProxies() {
	for _, h := range c.hosts {
		if h != nil && h.reach != nil {
			h.reach.close()
		}
		if h != nil && h.witness != nil {
			h.witness.close()
		}
	}
	if c.vip != nil {
		c.vip.close()
	}
	if c.hostVIP != nil {
		c.hostVIP.close()
	}
}

// instanceConfig is host i's redis-vip instance for the pair: local is its
// own Redis, announce the proxy the peer reaches it through, peer the proxy
// to the peer's Redis. Timeouts are scaled down from the defaults so a
// schedule fits in seconds; backups_keep is low so retention runs.
func (c *cluster) instanceConfig(i int) map[string]any {
	h, peer := c.hosts[i], c.hosts[1-i]
	m := map[string]any{
		"vrrp_instance": c.spec.VRRP,
		"local":         h.redis.addr(),
		"announce":      h.reach.addr(),
		"peer":          peer.reach.addr(),
		"state_dir":     h.stateDir,
		"backup_dir":    h.backupDir,
		"backups_keep":  backupsKeep,
		"timeouts": map[string]any{
			"connect": "300ms", "command": "1s", "check": "1s", "sync": "5s",
			"transition": "15s", "peer_wait": "4s", "holdoff": "5s",
		},
		"guard": map[string]any{"include": h.redis.include, "redis_conf": h.redis.conf},
	}
	if a := c.hostVIP.addr(i); a != "" {
		m["vips"] = a
	}
	if c.fence.After > 0 {
		m["fence_after"] = c.fence.After.String()
	}
	if c.fence.Witness && h.witness != nil {
		m["witness"] = map[string]any{"address": h.witness.addr(), "secret_file": c.wit.secretFile}
	}
	return m
}

// writeConfigs writes each host's redis-vip.yml with every pair's instance.
func writeConfigs(files [2]*hostFiles, pairs []*cluster) error {
	for i, f := range files {
		insts := map[string]any{}
		for _, c := range pairs {
			insts[c.spec.Inst] = c.instanceConfig(i)
		}
		doc := map[string]any{
			"log":       map[string]any{"format": "json", "level": "debug", "stderr": false, "file": f.logFile},
			"instances": insts,
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("config %s: %w", f.name, err)
		}
		if err := os.WriteFile(f.config, b, 0o644); err != nil {
			return fmt.Errorf("config %s: %w", f.name, err)
		}
	}
	return nil
}

// args is the command line for a redis-vip subcommand on host i.
func (c *cluster) args(i int, sub string) []string {
	return []string{sub, "--config", c.hosts[i].config, "--instance", c.spec.Inst}
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
		if _, err := conn.Do("SET", c.spec.Prefix+"seed:"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
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

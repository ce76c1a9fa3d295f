package netlab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// RedisConf is the host's redis.conf; GuardInclude the file `redis-vip
// guard` writes, given to redis-server on the command line (as the
// systemd drop-in does) so it wins over what CONFIG REWRITE appends.
func (h *Host) RedisConf() string    { return filepath.Join(h.Dir, "redis.conf") }
func (h *Host) GuardInclude() string { return filepath.Join(h.Dir, "guard.conf") }

// Config is the host's redis-vip configuration file.
func (h *Host) Config() string { return filepath.Join(h.Dir, "redis-vip.yml") }

// StateDir is the host's redis-vip state dir (journal, lock).
func (h *Host) StateDir() string { return filepath.Join(h.Dir, "state") }

// Instance is the name of the redis-vip instance in the lab.
const Instance = "r6379"

// WriteRedisConf writes redis.conf, and the guard include with replicaOf
// ("" for none), for a fresh host.
func (h *Host) WriteRedisConf(replicaOf *Host) error {
	conf := []string{
		"bind 0.0.0.0",
		fmt.Sprintf("port %d", RedisPort),
		"dir " + filepath.Join(h.Dir, "data"),
		"dbfilename dump.rdb",
		`save ""`,
		"appendonly no",
		"daemonize no",
		"protected-mode no",
		"logfile " + filepath.Join(h.Dir, "redis-server.log"),
		"repl-diskless-sync no",
		"repl-diskless-sync-delay 0",
		"repl-ping-replica-period 1",
		"replica-announce-ip " + h.IP.String(),
	}
	if err := os.WriteFile(h.RedisConf(), []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	inc := ""
	if replicaOf != nil {
		inc = fmt.Sprintf("replicaof %s %d\n", replicaOf.IP, RedisPort)
	}
	return os.WriteFile(h.GuardInclude(), []byte(inc), 0o644)
}

// StartRedis starts redis-server and waits until it answers PING.
func (h *Host) StartRedis() error {
	p, err := h.lab.Start("redis-server-stdout", h.NS, h.Dir, "redis-server", h.RedisConf(), "--include", h.GuardInclude())
	if err != nil {
		return err
	}
	h.redis = p
	return WaitFor(10*time.Second, h.Name+" redis answering PING", func() bool {
		out, err := h.Redis("PING")
		return err == nil && strings.TrimSpace(out) == "PONG"
	})
}

// KillRedis kills redis-server with SIGKILL and returns when it was sent.
func (h *Host) KillRedis() time.Time {
	if h.redis == nil {
		return time.Now()
	}
	at := h.redis.Signal(syscall.SIGKILL)
	h.redis.Wait(5 * time.Second)
	h.redis = nil
	return at
}

// FreezeRedis stops redis-server with SIGSTOP (a hung server: its
// connections stay open and nothing answers) and returns when the signal
// was sent; ThawRedis resumes it with SIGCONT.
func (h *Host) FreezeRedis() time.Time { return h.signalRedis(syscall.SIGSTOP) }

// ThawRedis resumes a frozen redis-server.
func (h *Host) ThawRedis() time.Time { return h.signalRedis(syscall.SIGCONT) }

func (h *Host) signalRedis(sig syscall.Signal) time.Time {
	if h.redis == nil {
		return time.Now()
	}
	return h.redis.Signal(sig)
}

// Redis runs redis-cli against the host's Redis from inside its namespace.
func (h *Host) Redis(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return h.Exec(ctx, append([]string{"redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(RedisPort)}, args...)...)
}

// Replication returns INFO replication as key/value pairs (nil when the
// server does not answer).
func (h *Host) Replication() map[string]string {
	out, err := h.Redis("INFO", "replication")
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// Role returns "master", "slave" or "" when unreachable.
func (h *Host) Role() string { return h.Replication()["role"] }

// InSync reports whether the host's Redis replicates the peer with the link up.
func (h *Host) InSync() bool {
	r := h.Replication()
	return r["role"] == "slave" && r["master_host"] == h.Peer().IP.String() && r["master_link_status"] == "up"
}

// Guard runs `redis-vip guard` for the host (before a redis-server start).
func (h *Host) Guard() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.Exec(ctx, h.lab.o.Bin, "guard", "--config", h.Config(), "--instance", Instance)
}

// VRRP are the lab's `vrrp:` settings for a host, as YAML values.
type VRRP map[string]any

// WriteConfig writes the host's redis-vip configuration with vrrp as its
// `vrrp:` section (nil for none: keepalived mode).
func (h *Host) WriteConfig(vrrp VRRP) error {
	inst := map[string]any{
		"local":      fmt.Sprintf("127.0.0.1:%d", RedisPort),
		"announce":   h.Announce(),
		"peer":       h.Peer().Announce(),
		"state_dir":  h.StateDir(),
		"backup_dir": filepath.Join(h.Dir, "backups"),
		"timeouts": map[string]any{
			"connect": "200ms", "command": "1s", "check": "500ms",
			"sync": "10s", "transition": "20s", "peer_wait": "5s", "holdoff": "10s",
		},
		"guard": map[string]any{"include": h.GuardInclude(), "redis_conf": h.RedisConf(), "data_dir": filepath.Join(h.Dir, "data")},
	}
	if vrrp != nil {
		inst["vrrp"] = map[string]any(vrrp)
	}
	for k, v := range h.Extra {
		inst[k] = v
	}
	doc := map[string]any{
		"log":       map[string]any{"format": "json", "level": "debug", "stderr": false, "file": filepath.Join(h.Dir, "redis-vip.log")},
		"instances": map[string]any{Instance: inst},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(h.Config(), b, 0o644)
}

// StartRun starts `redis-vip run` on the host; wrap (e.g. setpriv and its
// options) goes before the binary.
func (h *Host) StartRun(wrap ...string) error {
	argv := append(append([]string(nil), wrap...), h.lab.o.Bin, "run", "--config", h.Config())
	p, err := h.lab.Start("redis-vip-run-stderr", h.NS, h.Dir, argv...)
	if err != nil {
		return err
	}
	h.run = p
	return nil
}

// StopRun sends sig to `redis-vip run` and returns when it was sent; with
// SIGTERM it waits (up to 30 s) for the exit and returns its error.
func (h *Host) StopRun(sig syscall.Signal) (time.Time, error) {
	if h.run == nil {
		return time.Now(), nil
	}
	p := h.run
	h.run = nil
	at := p.Signal(sig)
	err, ok := p.Wait(30 * time.Second)
	if !ok {
		p.Kill()
		return at, fmt.Errorf("%s: redis-vip run did not exit within 30s of %s", h.Name, sig)
	}
	if sig == syscall.SIGKILL {
		return at, nil
	}
	return at, err
}

// RunLog returns the tail of redis-vip's log file.
func (h *Host) RunLog(n int) string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "redis-vip.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Running reports whether `redis-vip run` is running on the host.
func (h *Host) Running() bool { return h.run != nil && h.run.Running() }

// RunVRRP is the `vrrp:` section the lab gives a `redis-vip run` host:
// VRRPv3, VRID 51, 100 ms adverts and checks, rise/fall 2, with extra
// keys added or replaced.
func RunVRRP(prio int, extra VRRP) VRRP {
	v := VRRP{
		"interface": "eth0", "vrid": 51, "priority": prio, "version": 3, "advert_interval": "100ms",
		"vips": []string{VIP.String()}, "check_interval": "100ms", "rise": 2, "fall": 2,
		"garp_count": 3, "garp_interval": "50ms",
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// LLen returns the length of list key on the host's Redis (-1 when it does
// not answer).
func (h *Host) LLen(key string) int {
	out, err := h.Redis("LLEN", key)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return -1
	}
	return n
}

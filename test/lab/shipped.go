package lab

// The files of the keepalived lab: the dirs, redis.conf, redis-vip.yml, the
// shipped keepalived configuration rewritten into the lab dir, the script
// user, the binary and the witness secret.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// addrs are the addresses of the shipped keepalived configurations
// (packaging/keepalived: host A 192.0.2.11, host B 192.0.2.12, the VIP
// 192.0.2.10/24), which the lab keeps, and those of w and the client.
func addrs() *netlab.Addrs {
	p := func(h string) netip.Prefix { return netip.MustParsePrefix(Addr[h] + "/24") }
	return &netlab.Addrs{VIP: netip.MustParsePrefix(VIP + "/24"), Client: p("client"), Witness: p("w"),
		Hosts: [2]netip.Prefix{p("h1"), p("h2")}}
}

// template is each host's shipped configuration (host A, host B).
var template = map[string]string{"h1": "host-a", "h2": "host-b"}

// bin is the copy of Options.Bin the lab runs: root-owned, in 0755 dirs,
// as keepalived's script security wants.
func (l *Lab) bin() string { return filepath.Join(l.o.Dir, "bin", "redis-vip") }

// ensureScriptUser creates the keepalived script user when missing.
func (l *Lab) ensureScriptUser() error {
	if l.o.ScriptUser == "root" {
		return nil
	}
	if _, err := user.Lookup(l.o.ScriptUser); err == nil {
		return nil
	}
	l.o.Logf("creating system user %s (keepalived script_user)", l.o.ScriptUser)
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", l.o.ScriptUser).CombinedOutput()
	if err != nil {
		return fmt.Errorf("useradd %s: %w: %s", l.o.ScriptUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// chownScriptUser gives paths to the script user (nothing when it is root).
func (l *Lab) chownScriptUser(paths ...string) error {
	if l.o.ScriptUser == "root" {
		return nil
	}
	u, err := user.Lookup(l.o.ScriptUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// installBinary copies Options.Bin to bin(), root:root 0755.
func (l *Lab) installBinary() error {
	if err := os.MkdirAll(filepath.Dir(l.bin()), 0o755); err != nil {
		return err
	}
	for _, d := range []string{l.o.Dir, filepath.Dir(l.bin())} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(l.o.Bin)
	if err != nil {
		return fmt.Errorf("the redis-vip binary: %w", err)
	}
	if err := os.WriteFile(l.bin()+".new", b, 0o755); err != nil {
		return err
	}
	if err := os.Chown(l.bin()+".new", 0, 0); err != nil {
		return err
	}
	return os.Rename(l.bin()+".new", l.bin())
}

// makeDirs makes host's dirs; the script user owns what the hooks write:
// state, backups and the log.
func (l *Lab) makeDirs(h string) error {
	d := l.HostDir(h)
	for _, sub := range []string{"etc", "data", "run", "log", "state", "backups"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	for _, p := range []string{d, d + "/etc", d + "/data", d + "/run", d + "/log"} {
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	logf := filepath.Join(d, "log", "redis-vip.log")
	f, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	f.Close()
	if err := l.chownScriptUser(d+"/state", d+"/backups", logf); err != nil {
		return err
	}
	return errors.Join(os.Chmod(d+"/state", 0o750), os.Chmod(d+"/backups", 0o750), os.Chmod(logf, 0o640))
}

// guardInclude is the file `redis-vip guard` writes for host.
func (l *Lab) guardInclude(h string) string {
	return filepath.Join(l.HostDir(h), "etc", "redis-vip-guard.conf")
}

// writeRedisConf writes host's redis.conf once (CONFIG REWRITE edits it
// afterwards, as on a real host), and the shipped guard include.
func (l *Lab) writeRedisConf(h string) error {
	d := l.HostDir(h)
	if _, err := os.Stat(l.guardInclude(h)); err != nil {
		b, err := os.ReadFile(filepath.Join(l.o.Repo, "packaging", "redis", "redis-vip-guard.conf"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(l.guardInclude(h), b, 0o644); err != nil {
			return err
		}
	}
	conf := filepath.Join(d, "etc", "redis.conf")
	if _, err := os.Stat(conf); err == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# redis.conf for lab host %[1]s, written by test/lab.
# Loopback for redis-vip, the host address for the peer and clients, and the
# VIP (bound before it is assigned: net.ipv4.ip_nonlocal_bind=1 in this namespace).
bind 127.0.0.1 %[2]s %[3]s
port 6379
protected-mode no
# Not daemonized: the lab holds the process (and kills it when it ends).
daemonize no
pidfile %[4]s/run/redis.pid
logfile %[4]s/log/redis.log
dir %[4]s/data
dbfilename dump.rdb
# Persistence: RDB snapshots. An RDB records the replication id and offset it
# was taken at, which is what lets guard prove whether local data is newer or
# older than the peer's (an AOF does not record them).
save 5 1 60 100
appendonly no
# Tell the peer the address to reach this replica at (FAILOVER TO uses it).
replica-announce-ip %[2]s
# Start a full sync at once rather than waiting 5 s for more replicas.
repl-diskless-sync-delay 0
`, h, Addr[h], VIP, d)
	if h == "h2" {
		fmt.Fprintf(&b, `# Host B is installed as host A's replica; from then on redis-vip moves the
# role (and CONFIG REWRITE keeps this line up to date) and guard checks it.
replicaof %s 6379
`, Addr["h1"])
	}
	if l.o.Include == "cmdline" {
		b.WriteString(`# Last line, as the README's set-up says; StartRedis also passes it as
# --include on the command line, which wins over what CONFIG REWRITE appends.
`)
	}
	fmt.Fprintf(&b, "include %s\n", l.guardInclude(h))
	return os.WriteFile(conf, []byte(b.String()), 0o644)
}

// config is host's redis-vip.yml.
func (l *Lab) config(h string) string { return filepath.Join(l.HostDir(h), "etc", "redis-vip.yml") }

// writeRedisVIPConf writes host's redis-vip.yml.
func (l *Lab) writeRedisVIPConf(h string) error {
	d := l.HostDir(h)
	conf := fmt.Sprintf(`# redis-vip configuration for lab host %[1]s, written by test/lab.
log:
  level: %[2]s
  format: json
  file: %[3]s/log/redis-vip.log
  stderr: false
instances:
  %[4]s:
    vrrp_instance: VI_REDIS
    local: 127.0.0.1:6379
    announce: %[5]s:6379
    peer: %[6]s:6379
    state_dir: %[3]s/state
    backup_dir: %[3]s/backups
    guard:
      include: %[7]s
      redis_conf: %[3]s/etc/redis.conf
`, h, l.o.LogLevel, d, Instance, Addr[h], Addr[Peer(h)], l.guardInclude(h))
	if err := os.WriteFile(l.config(h), []byte(conf), 0o644); err != nil {
		return err
	}
	return os.Chmod(l.config(h), 0o644)
}

// AddInstanceYAML appends lines (indented for instances.redis6379) to
// every host's redis-vip.yml: instance settings Options has nothing for
// (the partition table's fencing and witness). Call it between UpNet and
// StartPair: running daemons do not reread the file.
func (l *Lab) AddInstanceYAML(lines string) error {
	for _, h := range Hosts {
		f, err := os.OpenFile(l.config(h), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(lines)
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
	return nil
}

// KeepalivedConf is host's keepalived.conf.
func (l *Lab) KeepalivedConf(h string) string {
	return filepath.Join(l.HostDir(h), "etc", "keepalived.conf")
}

var (
	scriptUserRE = regexp.MustCompile(`(?m)^([ \t]*script_user) redis-vip`)
	fallRE       = regexp.MustCompile(`(?m)^([ \t]*)fall 2`)
	riseRE       = regexp.MustCompile(`(?m)^([ \t]*)rise 2`)
	nopreemptRE  = regexp.MustCompile(`(?m)^[ \t]*nopreempt[ \t]*\n`)
	priorityRE   = regexp.MustCompile(`(?m)^([ \t]*priority) 250`)
)

// writeKeepalivedConf writes host's keepalived.conf: the shipped file of
// its Notify variant with the paths rewritten into the lab dir, the script
// user's name, and the Profile and Preempt changes.
func (l *Lab) writeKeepalivedConf(h string) error {
	var name string
	switch l.o.Notify {
	case "hooks":
		name = "keepalived-" + template[h] + ".conf"
	case "fifo":
		name = "keepalived-fifo-" + template[h] + ".conf"
	default:
		return fmt.Errorf("lab: Notify must be hooks or fifo, not %q", l.o.Notify)
	}
	b, err := os.ReadFile(filepath.Join(l.o.Repo, "packaging", "keepalived", name))
	if err != nil {
		return err
	}
	d := l.HostDir(h)
	s := strings.NewReplacer(
		"/usr/bin/redis-vip", l.bin(),
		"/etc/redis-vip/redis-vip.yml", l.config(h),
		"/var/lib/redis-vip/"+Instance+".switchover", d+"/state/"+Instance+".switchover",
		"/var/lib/redis-vip/"+Instance+".down", d+"/state/"+Instance+".down",
		"/run/keepalived-redis-vip.fifo redis-vip", d+"/run/notify.fifo "+l.o.ScriptUser,
	).Replace(string(b))
	s = scriptUserRE.ReplaceAllString(s, "${1} "+l.o.ScriptUser)
	switch l.o.Profile {
	case "shipped":
	case "tuned":
		s = fallRE.ReplaceAllString(s, "${1}fall 1")
		s = riseRE.ReplaceAllString(s, "${1}rise 1")
	default:
		return fmt.Errorf("lab: Profile must be shipped or tuned, not %q", l.o.Profile)
	}
	prio, preempt := 250, 0
	if l.o.Preempt {
		preempt = 1
		if h == "h2" {
			prio -= 10
		}
		s = nopreemptRE.ReplaceAllString(s, "")
	}
	s = priorityRE.ReplaceAllString(s, fmt.Sprintf("${1} %d", prio))
	head := fmt.Sprintf("# Generated by test/lab from packaging/keepalived/%s (profile %s, preempt %d).\n",
		name, l.o.Profile, preempt)
	if err := os.WriteFile(l.KeepalivedConf(h), []byte(head+s), 0o644); err != nil {
		return err
	}
	return os.Chmod(l.KeepalivedConf(h), 0o644)
}

// ensureWitnessSecret writes the shared secret of the witness and the
// nodes (32 random bytes in hex), 0600, owned by the script user that runs
// the hooks.
func (l *Lab) ensureWitnessSecret() error {
	f := l.WitnessSecret()
	if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(f+".new", fmt.Appendf(nil, "%x\n", b), 0o600); err != nil {
			return err
		}
		if err := os.Rename(f+".new", f); err != nil {
			return err
		}
	}
	if err := os.Chmod(f, 0o600); err != nil {
		return err
	}
	return l.chownScriptUser(f)
}

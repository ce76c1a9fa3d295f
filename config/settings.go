package config

import (
	"strings"
	"unicode"
)

// Setting is one per-instance setting: its YAML key, flag and env var.
type Setting struct {
	// Key is the dotted YAML path inside an instance, e.g. "timeouts.sync".
	Key string
	// Usage is a one-line description for --help and the README.
	Usage string
	// Default is the value used when nothing sets it ("" when none).
	Default string
	// Bool marks a setting that takes no value on the command line.
	Bool bool
	// EnvOnly marks a secret that must never be a flag (ps shows flags).
	EnvOnly bool
	// Alias is a shorter flag name ("" for none).
	Alias string
	// FileOnly marks a setting of the file alone, with no flag and no
	// environment variable: the keys of the built-in VRRP mode's `vrrp:`
	// section (Key "vrrp.interface" is `interface:` under `vrrp:`).
	FileOnly bool
}

// Flag is the command-line flag name: the key with dots and underscores as dashes.
func (s Setting) Flag() string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' {
			return '-'
		}
		return r
	}, s.Key)
}

// Env is the environment variable: REDIS_VIP_ and the key in upper case.
func (s Setting) Env() string {
	return "REDIS_VIP_" + strings.Map(func(r rune) rune {
		if r == '.' || r == '-' {
			return '_'
		}
		return unicode.ToUpper(r)
	}, s.Key)
}

// Settings lists every per-instance setting, in the order the README shows
// them: it drives the file's keys and their defaults, the flags, the
// environment variables and the README's reference tables.
var Settings = []Setting{
	{Key: "local", Usage: "address redis-vip uses to reach the local Redis (host:port)"},
	{Key: "announce", Usage: "address the peer uses to reach the local Redis; defaults to local unless local is loopback"},
	{Key: "peer", Usage: "address of the peer's Redis (host:port)"},
	{Key: "vrrp_instance", Usage: "keepalived vrrp_instance name mapped to this instance (default: the instance name)"},
	{Key: "username", Usage: "Redis ACL username"},
	{Key: "password_file", Usage: "file holding the Redis password (first line)"},
	{Key: "password_env", Usage: "name of an environment variable holding the Redis password"},
	{Key: "password", Usage: "the Redis password itself (environment only, never a flag)", EnvOnly: true},
	{Key: "tls.enabled", Usage: "talk TLS to both Redis servers", Bool: true, Default: "false"},
	{Key: "tls.ca_file", Usage: "CA bundle to verify the servers"},
	{Key: "tls.cert_file", Usage: "client certificate"},
	{Key: "tls.key_file", Usage: "client key"},
	{Key: "tls.server_name", Usage: "server name to verify (default: the host of the address)"},
	{Key: "tls.insecure_skip_verify", Usage: "do not verify the server certificate (testing only)", Bool: true, Default: "false"},
	{Key: "timeouts.connect", Usage: "dial timeout per Redis", Default: "300ms"},
	{Key: "timeouts.command", Usage: "timeout of one Redis command", Default: "500ms"},
	{Key: "timeouts.check", Alias: "timeout", Usage: "bound on the whole check or report (keep below keepalived's script timeout)", Default: "1s"},
	{Key: "timeouts.sync", Usage: "bound on sync-before-promote; on expiry the node is not promoted", Default: "30s"},
	{Key: "timeouts.transition", Usage: "bound on one whole transition, including waiting for the lock", Default: "60s"},
	{Key: "timeouts.peer_wait", Usage: "how long notify-backup waits for the peer to be reachable and master (cover the peer's sync-before-promote)", Default: "40s"},
	{Key: "timeouts.holdoff", Usage: "how long check fails after a sync-before-promote timed out", Default: "30s"},
	{Key: "max_link_down", Usage: "a replica whose link to its master has been down longer than this is not promoted alone; 0 turns the bound off", Default: "10s"},
	{Key: "reconcile_interval", Usage: "how often the long-running process (notify-fifo, run) re-checks the pair and repairs it; 0 turns it off", Default: "2s"},
	{Key: "vips", Usage: "the VIP keepalived moves for this instance (IP addresses, comma-separated; optional): check fails a replica whose host holds it without a master event, a master event older than timeouts.transition is stale only while the host does not hold it, and switchover holds it on lo while keepalived moves it, so the old master's clients are answered"},
	{Key: "fence_after", Usage: "partition safety (docs/partitions.md): a master that loses its peer on unknown evidence stops acknowledging writes within this, and a node that promotes itself on unknown evidence waits this plus a margin before it accepts writes; 0 turns fencing off, otherwise at least 3s", Default: "0"},
	{Key: "fence_interval", Usage: "how often the long-running process (notify-fifo, reconcile --loop, run) probes the peer, keeps the witness lease and sets the master's fence", Default: "250ms"},
	{Key: "witness.address", Usage: "the witness (redis-vip witness on a third host), host:port; empty: no witness. Needs fence_after"},
	{Key: "witness.secret_file", Usage: "file holding the secret shared with the witness (mode 0600 or 0400, at least 16 bytes; read once at start)", Default: "/etc/redis-vip/witness.secret"},
	{Key: "witness.pair", Usage: "the pair's name at the witness, the same on both nodes (default: the instance name)"},
	{Key: "witness.timeout", Usage: "bound on one call to the witness", Default: "300ms"},
	{Key: "health_listen", Usage: "address (host:port) where run and notify-fifo serve GET /primary, /replica, /health and /metrics; empty: off"},
	{Key: "state_dir", Usage: "directory for the lock, the journal and the last state", Default: "/var/lib/redis-vip"},
	{Key: "backup_dir", Usage: "directory for RDB copies taken before a dataset is discarded", Default: "/var/lib/redis-vip/backups"},
	{Key: "backups_keep", Usage: "how many backups to keep per instance", Default: "5"},
	{Key: "on_diverged", Usage: "notify-backup on diverged histories: backup-and-follow or refuse", Default: "backup-and-follow"},
	{Key: "handover", Usage: "how a live master hands over: auto (the pause handover: writes paused until the offsets match, tens of ms), pause (the same), failover (FAILOVER TO on 6.2+: waits for the replica's once-a-second ACK; the pause handover when the master lists the replica under no usable name)", Default: "auto"},
	{Key: "guard.include", Usage: "file redis.conf includes (last line) that guard writes", Default: "/etc/redis/redis-vip-guard.conf"},
	{Key: "guard.redis_conf", Usage: "redis.conf guard reads dir, dbfilename and appendonly from", Default: "/etc/redis/redis.conf"},
	{Key: "guard.data_dir", Usage: "Redis data directory (overrides redis.conf)"},
	{Key: "guard.dbfilename", Usage: "RDB file name (overrides redis.conf)"},

	// The built-in VRRP mode's section (redis-vip run), from the file only.
	// An instance's vrrp: replaces a vrrp: in defaults as a whole.
	{Key: "vrrp.interface", FileOnly: true, Usage: "network interface for the adverts and the VIPs (required)"},
	{Key: "vrrp.vrid", FileOnly: true, Usage: "virtual router ID, 1-255, the same on both hosts (required)"},
	{Key: "vrrp.priority", FileOnly: true, Default: "100", Usage: "1-255; the live node with the higher priority is Master"},
	{Key: "vrrp.advert_interval", FileOnly: true, Default: "1s", Usage: "how often the Master advertises: v3 10ms-40.95s in steps of 10ms, v2 whole seconds 1-255; a bare number is seconds"},
	{Key: "vrrp.version", FileOnly: true, Default: "3", Usage: "VRRP version: 3 (RFC 5798) or 2 (RFC 3768, IPv4 only, keepalived's default)"},
	{Key: "vrrp.vips", FileOnly: true, Usage: "virtual addresses, CIDR (192.0.2.10/24) or bare (then /32 or /128), all of one family (required)"},
	{Key: "vrrp.unicast_peers", FileOnly: true, Usage: "send adverts to these addresses instead of multicast; adverts from other sources are ignored"},
	{Key: "vrrp.source", FileOnly: true, Usage: "address to send adverts from (default: the interface's primary address)"},
	{Key: "vrrp.nopreempt", FileOnly: true, Bool: true, Default: "false", Usage: "do not take over from a live Master of lower priority"},
	{Key: "vrrp.check_interval", FileOnly: true, Default: "1s", Usage: "period of the in-process health check (the same verdict as redis-vip check)"},
	{Key: "vrrp.rise", FileOnly: true, Default: "2", Usage: "passing checks in a row before a faulty node may hold the VIP again"},
	{Key: "vrrp.fall", FileOnly: true, Default: "2", Usage: "failing checks in a row before a node gives the VIP up (FAULT)"},
	{Key: "vrrp.garp_count", FileOnly: true, Default: "5", Usage: "rounds of gratuitous ARP / unsolicited NA when the VIP is taken (0-100)"},
	{Key: "vrrp.garp_interval", FileOnly: true, Default: "100ms", Usage: "gap between those rounds"},
	{Key: "vrrp.garp_master_refresh", FileOnly: true, Default: "0", Usage: "while master, announce the VIPs again this often (keepalived's vrrp_garp_master_refresh), for switches that forget; at least 1s; 0 turns it off"},
	{Key: "vrrp.garp_master_refresh_repeat", FileOnly: true, Default: "1", Usage: "rounds of each periodic announcement (1-100)"},
}

// GlobalSetting is a setting that is not per instance.
type GlobalSetting struct {
	Flag, Env, Usage, Default string
	Bool                      bool
}

// Global settings: where the file is, which instance, and logging.
var (
	SettingConfig   = GlobalSetting{Flag: "config", Env: "REDIS_VIP_CONFIG", Usage: "configuration file", Default: DefaultPath}
	SettingInstance = GlobalSetting{Flag: "instance", Env: "REDIS_VIP_INSTANCE", Usage: "instance to act on (may be omitted when the file has one)"}
	SettingLogLevel = GlobalSetting{Flag: "log-level", Env: "REDIS_VIP_LOG_LEVEL", Usage: "debug, info, warn or error"}
	SettingLogFmt   = GlobalSetting{Flag: "log-format", Env: "REDIS_VIP_LOG_FORMAT", Usage: "json or console"}
	SettingLogFile  = GlobalSetting{Flag: "log-file", Env: "REDIS_VIP_LOG_FILE", Usage: "log to this file (keepalived discards hook output)"}
	SettingLogErr   = GlobalSetting{Flag: "log-stderr", Env: "REDIS_VIP_LOG_STDERR", Usage: "also log to stderr", Bool: true}
	SettingForce    = GlobalSetting{Flag: "force", Env: "REDIS_VIP_FORCE", Usage: "follow an empty, older or diverged peer anyway (backs up first)", Bool: true}
)

// DefaultPath is where the configuration file lives unless told otherwise.
const DefaultPath = "/etc/redis-vip/redis-vip.yml"

package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
)

// Instance is one guarded Redis (one port, one VIP), with the defaults, the
// file and the flags and env vars applied, validated, its password read.
// Config.Instance returns a copy: changing it changes no one else's.
type Instance struct {
	Name string
	// VRRPInstance is the keepalived vrrp_instance whose events it takes
	// (default: Name).
	VRRPInstance string
	// Local is where redis-vip reaches the local Redis; Announce where the
	// peer reaches it (default: Local, unless that is loopback); Peer the
	// other host's Redis.
	Local, Announce, Peer node.Addr
	Username              string
	PasswordFile          string
	PasswordEnv           string
	// Password is resolved: password_file's first line, else password_env's
	// variable, else password itself.
	Password  string
	TLS       TLS
	Timeouts  Timeouts
	StateDir  string
	BackupDir string
	// BackupsKeep is how many backups of this instance are kept.
	BackupsKeep int
	// MaxLinkDown bounds a replica's link-down time for promoting it alone (S10).
	MaxLinkDown time.Duration
	// ReconcileInterval is how often a long-running process repairs the pair (S12).
	ReconcileInterval time.Duration
	OnDiverged        string
	Handover          string
	Guard             Guard
	// HealthListen is where the long-running process (run, notify-fifo)
	// serves the health endpoints ("" off).
	HealthListen string
	// VIPs are the addresses keepalived moves for this instance (vips:,
	// optional): check fails a replica whose host holds one without a
	// master event, so a lost notify_master cannot leave the VIP on a replica.
	VIPs []netip.Addr
	// FenceAfter bounds the writes a split pair can lose (package fence,
	// docs/partitions.md); 0 turns fencing off. FenceInterval is how often
	// the long-running process sets the master's fence.
	FenceAfter    time.Duration
	FenceInterval time.Duration
	// Witness is the optional third vote (witness.address "" for none).
	Witness Witness

	// vrrp is the `vrrp:` section (nil: none); vrrpErr its problems, which
	// only `run` reports.
	vrrp    *VRRP
	vrrpErr error
}

// TLS is how to talk TLS to both Redis servers.
type TLS struct {
	Enabled            bool
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Timeouts bound every wait redis-vip makes.
type Timeouts struct {
	Connect    time.Duration
	Command    time.Duration
	Check      time.Duration
	Sync       time.Duration
	Transition time.Duration
	PeerWait   time.Duration
	Holdoff    time.Duration
}

// Witness is where the pair's lease is kept (package witness).
type Witness struct {
	// Address is host:port ("" when there is no witness).
	Address    string
	SecretFile string
	// Pair names the pair at the witness (default: the instance name).
	Pair    string
	Timeout time.Duration
	// Secret is SecretFile's content, read once at load when Address is set.
	Secret Secret
}

// Secret is a shared secret; it prints as "(redacted)".
type Secret []byte

// String keeps the secret out of logs and messages.
func (Secret) String() string { return "(redacted)" }

// Fencing reports whether fencing is on (fence_after > 0).
func (in Instance) Fencing() bool { return in.FenceAfter > 0 }

// HasWitness reports whether a witness is configured.
func (in Instance) HasWitness() bool { return in.Witness.Address != "" }

// LeaseDuration is the witness lease this instance asks for (0 with
// fencing off).
func (in Instance) LeaseDuration() time.Duration {
	if !in.Fencing() {
		return 0
	}
	return fence.LeaseDuration(in.FenceAfter)
}

// Guard says where the local Redis keeps its data and its guard include.
type Guard struct {
	Include    string
	RedisConf  string
	DataDir    string
	DBFilename string
}

// The values on_diverged and handover accept.
const (
	DivergedBackupAndFollow = "backup-and-follow"
	DivergedRefuse          = "refuse"
	HandoverAuto            = "auto"
	HandoverFailover        = "failover"
	HandoverPause           = "pause"
)

// VRRP returns the instance's `vrrp:` section (the built-in VRRP mode),
// or why it cannot be used: missing, or every problem in it.
func (in Instance) VRRP() (VRRP, error) {
	if in.vrrpErr != nil {
		return VRRP{}, in.vrrpErr
	}
	if in.vrrp == nil {
		return VRRP{}, fmt.Errorf("%w: instance %s: no vrrp: section", ErrConfig, in.Name)
	}
	return in.vrrp.clone(), nil
}

// HasVRRP reports whether the instance has a `vrrp:` section, valid or not.
func (in Instance) HasVRRP() bool { return in.vrrp != nil || in.vrrpErr != nil }

// WithCheckBound returns the instance with its connect and command
// timeouts cut to timeouts.check: no single step of a check or report may
// outlast the whole.
func (in Instance) WithCheckBound() Instance {
	in.Timeouts.Command = min(in.Timeouts.Command, in.Timeouts.Check)
	in.Timeouts.Connect = min(in.Timeouts.Connect, in.Timeouts.Check)
	return in.clone()
}

// clone copies what a copy of the struct would share.
func (in Instance) clone() Instance {
	in.VIPs = slices.Clone(in.VIPs)
	in.Witness.Secret = slices.Clone(in.Witness.Secret)
	if in.vrrp != nil {
		v := in.vrrp.clone()
		in.vrrp = &v
	}
	return in
}

// decodeInstance reads an instance's leaves (the per-instance settings
// but vrrp) into an Instance; announce defaults to local. Problems of values that do not parse come
// back in bad; addresses that do not parse in invalid, with what validate
// finds (a broken address in an instance not used stops no command).
func decodeInstance(name string, v values) (in Instance, bad, invalid []string) {
	p := &parser{v: v}
	in.Name = name
	p.str("vrrp_instance", &in.VRRPInstance)
	p.str("username", &in.Username)
	p.str("password_file", &in.PasswordFile)
	p.str("password_env", &in.PasswordEnv)
	p.str("password", &in.Password)
	p.boolean("tls.enabled", &in.TLS.Enabled)
	p.str("tls.ca_file", &in.TLS.CAFile)
	p.str("tls.cert_file", &in.TLS.CertFile)
	p.str("tls.key_file", &in.TLS.KeyFile)
	p.str("tls.server_name", &in.TLS.ServerName)
	p.boolean("tls.insecure_skip_verify", &in.TLS.InsecureSkipVerify)
	p.duration("timeouts.connect", false, &in.Timeouts.Connect)
	p.duration("timeouts.command", false, &in.Timeouts.Command)
	p.duration("timeouts.check", false, &in.Timeouts.Check)
	p.duration("timeouts.sync", false, &in.Timeouts.Sync)
	p.duration("timeouts.transition", false, &in.Timeouts.Transition)
	p.duration("timeouts.peer_wait", false, &in.Timeouts.PeerWait)
	p.duration("timeouts.holdoff", false, &in.Timeouts.Holdoff)
	p.duration("max_link_down", false, &in.MaxLinkDown)
	p.duration("reconcile_interval", false, &in.ReconcileInterval)
	p.str("state_dir", &in.StateDir)
	p.str("backup_dir", &in.BackupDir)
	p.integer("backups_keep", -1<<31, 1<<31-1, &in.BackupsKeep)
	p.str("on_diverged", &in.OnDiverged)
	p.str("handover", &in.Handover)
	p.str("guard.include", &in.Guard.Include)
	p.str("guard.redis_conf", &in.Guard.RedisConf)
	p.str("guard.data_dir", &in.Guard.DataDir)
	p.str("guard.dbfilename", &in.Guard.DBFilename)
	p.str("health_listen", &in.HealthListen)
	p.duration("fence_after", false, &in.FenceAfter)
	p.duration("fence_interval", false, &in.FenceInterval)
	p.str("witness.address", &in.Witness.Address)
	p.str("witness.secret_file", &in.Witness.SecretFile)
	p.str("witness.pair", &in.Witness.Pair)
	p.duration("witness.timeout", false, &in.Witness.Timeout)
	bad, p.problems = p.problems, nil

	addr := func(key string, dst *node.Addr, required bool) (set bool) {
		s, n, ok := p.scalar(key)
		if !ok || s == "" {
			if required {
				p.bad(nil, "%s: missing (host:port)", key)
			}
			return false
		}
		a, err := node.ParseAddr(s)
		if err != nil {
			p.bad(n, "%s %q: %v", key, s, err)
		}
		*dst = a
		return true
	}
	addr("local", &in.Local, true)
	addr("peer", &in.Peer, true)
	if !addr("announce", &in.Announce, false) && !in.Local.IsZero() {
		if in.Local.IsLoopback() {
			p.bad(nil, "announce: missing, and local %s is a loopback address the peer cannot reach", in.Local)
		} else {
			in.Announce = in.Local
		}
	}
	if s, n, ok := p.scalar("vips"); ok {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			a, err := netip.ParseAddr(f)
			if err != nil {
				p.bad(n, "vips %q: want IP addresses, comma-separated: %v", s, err)
				in.VIPs = nil
				break
			}
			in.VIPs = append(in.VIPs, a)
		}
	}
	return in, bad, p.problems
}

// validate checks the decoded instance, fills in vrrp_instance's default
// and reads its password; it returns
// every problem found, sorted, and the warnings.
func (in *Instance) validate(invalid []string, getenv func(string) string) (problems, warnings []string) {
	p := invalid
	addProblem := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !in.Peer.IsZero() && (in.Peer.Same(in.Local) || in.Peer.Same(in.Announce)) {
		addProblem("peer %s is this host's own Redis (same as local/announce)", in.Peer)
	}
	switch {
	case in.PasswordFile != "":
		b, err := os.ReadFile(in.PasswordFile)
		if err != nil {
			addProblem("password_file: %v", err)
		} else {
			in.Password = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
			if w := readablePasswordFile(in.PasswordFile); w != "" {
				warnings = append(warnings, w)
			}
		}
	case in.PasswordEnv != "":
		in.Password = getenv(in.PasswordEnv)
		if in.Password == "" {
			addProblem("password_env: environment variable %s is empty or unset", in.PasswordEnv)
		}
	}
	if in.TLS.Enabled {
		if (in.TLS.CertFile == "") != (in.TLS.KeyFile == "") {
			addProblem("tls: cert_file and key_file go together")
		}
		for key, f := range map[string]string{"tls.ca_file": in.TLS.CAFile, "tls.cert_file": in.TLS.CertFile, "tls.key_file": in.TLS.KeyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				addProblem("%s: %v", key, err)
			}
		}
	}
	for key, d := range map[string]time.Duration{
		"timeouts.connect": in.Timeouts.Connect, "timeouts.command": in.Timeouts.Command,
		"timeouts.check": in.Timeouts.Check, "timeouts.sync": in.Timeouts.Sync,
		"timeouts.transition": in.Timeouts.Transition, "timeouts.peer_wait": in.Timeouts.PeerWait,
		"timeouts.holdoff": in.Timeouts.Holdoff, "max_link_down": in.MaxLinkDown, "reconcile_interval": in.ReconcileInterval,
		"fence_interval": in.FenceInterval, "witness.timeout": in.Witness.Timeout,
	} {
		if d < 0 || (d == 0 && key != "timeouts.peer_wait" && key != "timeouts.holdoff" && key != "max_link_down" && key != "reconcile_interval") {
			addProblem("%s: must be positive, got %s", key, d)
		}
	}
	if in.Timeouts.PeerWait >= in.Timeouts.Transition && in.Timeouts.Transition > 0 {
		addProblem("timeouts.peer_wait (%s) must be shorter than timeouts.transition (%s)", in.Timeouts.PeerWait, in.Timeouts.Transition)
	}
	if in.Timeouts.Sync >= in.Timeouts.Transition && in.Timeouts.Transition > 0 {
		addProblem("timeouts.sync (%s) must be shorter than timeouts.transition (%s)", in.Timeouts.Sync, in.Timeouts.Transition)
	}
	for key, dir := range map[string]string{"state_dir": in.StateDir, "backup_dir": in.BackupDir} {
		if !filepath.IsAbs(dir) {
			addProblem("%s %q: must be an absolute path", key, dir)
		}
	}
	if in.BackupsKeep < 1 {
		addProblem("backups_keep: must be at least 1, got %d", in.BackupsKeep)
	}
	if in.OnDiverged != DivergedBackupAndFollow && in.OnDiverged != DivergedRefuse {
		addProblem("on_diverged %q: want %s or %s", in.OnDiverged, DivergedBackupAndFollow, DivergedRefuse)
	}
	switch in.Handover {
	case HandoverAuto, HandoverFailover, HandoverPause:
	default:
		addProblem("handover %q: want auto, failover or pause", in.Handover)
	}
	if in.VRRPInstance == "" {
		in.VRRPInstance = in.Name
	}
	p = append(p, in.validateFence()...)
	sort.Strings(p)
	return p, warnings
}

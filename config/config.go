package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/node"
)

// ErrConfig marks every configuration problem, so main can exit with the
// "bad input" code.
var ErrConfig = errors.New("configuration")

// Config is the whole file after defaults and overrides.
type Config struct {
	// Path is the file read ("" when none was).
	Path      string
	Log       Log
	Instances map[string]*Instance
}

// Log says where and how to log.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	// File is an extra destination ("" for none); keepalived discards hook output.
	File   string `yaml:"file"`
	Stderr *bool  `yaml:"stderr"`
}

// TLS is how to talk TLS to both Redis servers.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Timeouts bound every wait redis-vip makes.
type Timeouts struct {
	Connect    time.Duration `yaml:"connect"`
	Command    time.Duration `yaml:"command"`
	Check      time.Duration `yaml:"check"`
	Sync       time.Duration `yaml:"sync"`
	Transition time.Duration `yaml:"transition"`
	PeerWait   time.Duration `yaml:"peer_wait"`
	Holdoff    time.Duration `yaml:"holdoff"`
}

// Guard says where the local Redis keeps its data and its guard include.
type Guard struct {
	Include    string `yaml:"include"`
	RedisConf  string `yaml:"redis_conf"`
	DataDir    string `yaml:"data_dir"`
	DBFilename string `yaml:"dbfilename"`
}

// Instance is one guarded Redis (one port, one VIP).
type Instance struct {
	Name         string   `yaml:"-"`
	VRRPInstance string   `yaml:"vrrp_instance"`
	Local        string   `yaml:"local"`
	Announce     string   `yaml:"announce"`
	Peer         string   `yaml:"peer"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	PasswordEnv  string   `yaml:"password_env"`
	Password     string   `yaml:"password"`
	TLS          TLS      `yaml:"tls"`
	Timeouts     Timeouts `yaml:"timeouts"`
	StateDir     string   `yaml:"state_dir"`
	BackupDir    string   `yaml:"backup_dir"`
	BackupsKeep  int      `yaml:"backups_keep"`
	// MaxLinkDown bounds a replica's link-down time for promoting it alone (S10).
	MaxLinkDown time.Duration `yaml:"max_link_down"`
	// ReconcileInterval is how often a long-running process repairs the pair (S12).
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	OnDiverged        string        `yaml:"on_diverged"`
	Handover          string        `yaml:"handover"`
	Guard             Guard         `yaml:"guard"`
	// VRRP holds the built-in VRRP mode's settings (used by `run` only).
	VRRP yaml.Node `yaml:"vrrp"`

	// HealthListen is where the long-running process (run, notify-fifo)
	// serves the health endpoints ("" off).
	HealthListen string `yaml:"health_listen"`
	// VIP is the virtual IP keepalived moves for this instance (one address
	// or several, comma-separated; optional): check fails a replica whose
	// host holds it without a master event, so a lost notify_master cannot
	// leave the VIP on a replica.
	VIP string `yaml:"vips"`
}

// The values on_diverged and handover accept.
const (
	DivergedBackupAndFollow = "backup-and-follow"
	DivergedRefuse          = "refuse"
	HandoverAuto            = "auto"
	HandoverFailover        = "failover"
	HandoverPause           = "pause"
)

type fileShape struct {
	Log       Log                  `yaml:"log"`
	Defaults  yaml.Node            `yaml:"defaults"`
	Instances map[string]yaml.Node `yaml:"instances"`
}

// Source says where the configuration comes from.
type Source struct {
	// Path of the file; Explicit is true when the operator named it, so a
	// missing file is an error rather than "no file".
	Path     string
	Explicit bool
	// Overrides are per-instance settings from flags and env vars, keyed by
	// Setting.Key; they apply to the selected instance.
	Overrides map[string]string
	// Log overrides from flags and env vars ("" keeps the file's value).
	LogLevel, LogFormat, LogFile string
	// LogStderr, when set, overrides log.stderr.
	LogStderr *bool
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string
	// Warn receives warnings that do not stop the command (a password in
	// the file, a password file every user may read); nil drops them.
	Warn func(string)
}

// Load reads the file, applies defaults, and returns the configuration. The
// selected instance gets the overrides and is validated by Select.
func Load(src Source) (*Config, error) {
	cfg := &Config{Instances: map[string]*Instance{}}
	var shape fileShape
	raw, err := os.ReadFile(src.Path)
	switch {
	case err == nil:
		cfg.Path = src.Path
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, oneLine(err))
		}
		if err := knownKeys(&doc, reflect.TypeOf(shape)); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, err)
		}
		if err := doc.Decode(&shape); err != nil && doc.Kind != 0 {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, oneLine(err))
		}
	case errors.Is(err, fs.ErrNotExist) && !src.Explicit:
		// No file and none asked for: flags and env vars must say it all.
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, oneLine(err))
	}
	cfg.Log = shape.Log
	applyLogOverrides(&cfg.Log, src)
	for name, node := range shape.Instances {
		inst, err := decodeInstance(name, &shape.Defaults, &node)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: instance %s: %v", ErrConfig, src.Path, name, oneLine(err))
		}
		cfg.Instances[name] = inst
	}
	if cfg.Path != "" {
		warnPasswordInFile(src, cfg.Path, &shape.Defaults, shape.Instances)
	}
	if len(cfg.Instances) == 0 && src.Overrides["local"] != "" {
		inst, err := decodeInstance("default", &shape.Defaults, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: defaults: %v", ErrConfig, oneLine(err))
		}
		cfg.Instances["default"] = inst
	}
	if problems := validateLog(cfg.Log); len(problems) > 0 {
		return nil, fmt.Errorf("%w: log: %s", ErrConfig, strings.Join(problems, "; "))
	}
	if problems := crossInstance(cfg); len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, src.Path, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// crossInstance finds instances that would share what must be their own:
// a name that is no safe file name (state files and backups are named after
// it), the Redis they guard, guard's include file or data directory, or the
// keepalived vrrp_instance whose events they take.
func crossInstance(cfg *Config) []string {
	var p []string
	names := cfg.Names()
	for _, n := range names {
		if n == "." || n == ".." || strings.ContainsAny(n, "/\x00") || strings.HasPrefix(n, "-") {
			p = append(p, fmt.Sprintf("instance name %q: not usable as a file name (no /, not . or .., no leading -)", n))
		}
	}
	for i, an := range names {
		a := cfg.Instances[an]
		for _, bn := range names[i+1:] {
			b := cfg.Instances[bn]
			same := func(what, x, y string) {
				if x != "" && x == y {
					p = append(p, fmt.Sprintf("instances %s and %s: both use %s %s; each needs its own", an, bn, what, x))
				}
			}
			if a.Local != "" && (a.Local == b.Local || node.SameAddr(a.Local, b.Local)) {
				p = append(p, fmt.Sprintf("instances %s and %s: both guard local %s; each needs its own", an, bn, a.Local))
			}
			same("guard.data_dir", a.Guard.DataDir, b.Guard.DataDir)
			same("health_listen", a.HealthListen, b.HealthListen)
			same("vrrp_instance", vrrpName(an, a), vrrpName(bn, b))
		}
	}
	return p
}

// GuardIncludeSharedWith returns another instance whose guard writes the
// same include file as the named one ("" when none): guard refuses to run
// then, as each start would overwrite the other's decision. (Only guard
// uses the file, so hosts without guard may leave the default everywhere.)
func (c *Config) GuardIncludeSharedWith(name string) string {
	in, ok := c.Instances[name]
	if !ok {
		return ""
	}
	for _, n := range c.Names() {
		if n != name && c.Instances[n].Guard.Include == in.Guard.Include {
			return n
		}
	}
	return ""
}

// VIPAddrs parses vips: addresses without ports, comma-separated.
func (in *Instance) VIPAddrs() ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(in.VIP, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("want IP addresses, comma-separated: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// vrrpName is the keepalived vrrp_instance an instance takes events for.
func vrrpName(name string, in *Instance) string {
	if in.VRRPInstance != "" {
		return in.VRRPInstance
	}
	return name
}

func applyLogOverrides(l *Log, src Source) {
	if src.LogLevel != "" {
		l.Level = src.LogLevel
	}
	if src.LogFormat != "" {
		l.Format = src.LogFormat
	}
	if src.LogFile != "" {
		l.File = src.LogFile
	}
	if l.Level == "" {
		l.Level = "info"
	}
	if l.Format == "" {
		l.Format = "json"
	}
	if src.LogStderr != nil {
		l.Stderr = src.LogStderr
	}
	if l.Stderr == nil {
		// Off by default: hook output is discarded by keepalived anyway,
		// and on a terminal the command's own one line is what a person reads.
		f := false
		l.Stderr = &f
	}
}

func validateLog(l Log) []string {
	var p []string
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("level %q: want debug, info, warn or error", l.Level))
	}
	if l.Format != "json" && l.Format != "console" {
		p = append(p, fmt.Sprintf("format %q: want json or console", l.Format))
	}
	return p
}

// decodeInstance layers built-in defaults, the file's defaults and the
// instance's own keys, in that order.
func decodeInstance(name string, defaults, own *yaml.Node) (*Instance, error) {
	inst := &Instance{}
	if err := defaultsNode().Decode(inst); err != nil {
		return nil, fmt.Errorf("built-in defaults: %w", err)
	}
	if defaults.Kind != 0 {
		if err := decodeStrict(defaults, inst); err != nil {
			return nil, fmt.Errorf("defaults: %w", err)
		}
	}
	if own != nil && own.Kind != 0 {
		if err := decodeStrict(own, inst); err != nil {
			return nil, err
		}
	}
	inst.Name = name
	return inst, nil
}

// decodeStrict decodes a node, rejecting unknown keys. The node keeps the
// file's line numbers, so errors point at the operator's line.
func decodeStrict(n *yaml.Node, out *Instance) error {
	if err := knownKeys(n, reflect.TypeOf(*out)); err != nil {
		return err
	}
	if bad := badDurations(n, reflect.TypeOf(*out), ""); len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return n.Decode(out)
}

// knownKeys walks a mapping node against a struct's yaml tags and reports
// the first key the struct does not have.
func knownKeys(n *yaml.Node, t reflect.Type) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct || t == reflect.TypeOf(yaml.Node{}) {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("line %d: unknown key %q (known: %s)", k.Line, k.Value, strings.Join(sortedKeys(fields), ", "))
		}
		if err := knownKeys(n.Content[i+1], ft); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nodeFromKeys builds a YAML mapping from dotted keys; values stay plain
// scalars so YAML resolves them as it would in the file.
func nodeFromKeys(kv map[string]string) *yaml.Node {
	root := &yaml.Node{Kind: yaml.MappingNode}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parent := root
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			parent = childMapping(parent, p)
		}
		parent.Content = append(parent.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: parts[len(parts)-1]},
			&yaml.Node{Kind: yaml.ScalarNode, Value: kv[k], Style: scalarStyle(kv[k])})
	}
	return root
}

// scalarStyle leaves integers and booleans plain, so YAML reads them as
// such, and quotes everything else: it is a string (or a duration, which
// YAML reads from a string), never null, and needs no type guessing.
func scalarStyle(v string) yaml.Style {
	if _, err := strconv.Atoi(v); err == nil {
		return 0
	}
	if v == "true" || v == "false" {
		return 0
	}
	return yaml.DoubleQuotedStyle
}

func childMapping(parent *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			return parent.Content[i+1]
		}
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	parent.Content = append(parent.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, child)
	return child
}

func defaultsNode() *yaml.Node {
	kv := map[string]string{}
	for _, s := range Settings {
		if s.Default != "" {
			kv[s.Key] = s.Default
		}
	}
	return nodeFromKeys(kv)
}

// Names lists the instance names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Instances))
	for n := range c.Instances {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ByVRRPInstance finds the instance keepalived calls vrrpName.
func (c *Config) ByVRRPInstance(vrrpName string) (string, bool) {
	for _, n := range c.Names() {
		inst := c.Instances[n]
		if inst.VRRPInstance == vrrpName || (inst.VRRPInstance == "" && n == vrrpName) {
			return n, true
		}
	}
	return "", false
}

// Select returns the named instance with overrides applied, validated and
// its password resolved. An empty name is allowed when there is one instance.
func (c *Config) Select(name string, src Source) (*Instance, error) {
	if name == "" {
		switch len(c.Instances) {
		case 0:
			where := c.Path
			if where == "" {
				where = src.Path + " (not found)"
			}
			return nil, fmt.Errorf("%w: %s: no instances configured (set instances: in the file, or --local and --peer)", ErrConfig, where)
		case 1:
			name = c.Names()[0]
		default:
			return nil, fmt.Errorf("%w: %s has instances %s: choose one with --instance", ErrConfig, c.Path, strings.Join(c.Names(), ", "))
		}
	}
	inst, ok := c.Instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown instance %q (configured: %s)", ErrConfig, name, strings.Join(c.Names(), ", "))
	}
	if len(src.Overrides) > 0 {
		if err := decodeStrict(nodeFromKeys(src.Overrides), inst); err != nil {
			return nil, fmt.Errorf("%w: instance %s: flags/env: %v", ErrConfig, name, oneLine(err))
		}
	}
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if problems := inst.validate(getenv, src.warn); len(problems) > 0 {
		return nil, fmt.Errorf("%w: instance %s: %s", ErrConfig, name, strings.Join(problems, "; "))
	}
	if inst.VRRPInstance == "" {
		inst.VRRPInstance = name
	}
	return inst, nil
}

// validate checks the instance and resolves its password; it returns every
// problem found.
func (in *Instance) validate(getenv func(string) string, warn func(string, ...any)) []string {
	var p []string
	addProblem := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if _, err := in.VIPAddrs(); err != nil {
		addProblem("vips %q: %v", in.VIP, err)
	}
	checkAddr := func(key, v string, required bool) {
		if v == "" {
			if required {
				addProblem("%s: missing (host:port)", key)
			}
			return
		}
		if _, _, err := SplitAddr(v); err != nil {
			addProblem("%s %q: %v", key, v, err)
		}
	}
	checkAddr("local", in.Local, true)
	checkAddr("peer", in.Peer, true)
	checkAddr("announce", in.Announce, false)
	if in.Announce == "" && in.Local != "" {
		if host, _, err := SplitAddr(in.Local); err == nil {
			if isLoopbackHost(host) {
				addProblem("announce: missing, and local %s is a loopback address the peer cannot reach", in.Local)
			} else {
				in.Announce = in.Local
			}
		}
	}
	if in.Peer != "" && (node.SameAddr(in.Peer, in.Local) || node.SameAddr(in.Peer, in.Announce)) {
		addProblem("peer %s is this host's own Redis (same as local/announce)", in.Peer)
	}
	switch {
	case in.PasswordFile != "":
		b, err := os.ReadFile(in.PasswordFile)
		if err != nil {
			addProblem("password_file: %v", err)
		} else {
			in.Password = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
			warnReadablePasswordFile(warn, in.PasswordFile)
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
	sort.Strings(p)
	return p
}

// TLSConfig builds the client TLS configuration (nil when TLS is off).
func (in *Instance) TLSConfig(addr string) (*tls.Config, error) {
	if !in.TLS.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: in.TLS.InsecureSkipVerify, ServerName: in.TLS.ServerName}
	if c.ServerName == "" {
		if host, _, err := SplitAddr(addr); err == nil {
			c.ServerName = host
		}
	}
	if in.TLS.CAFile != "" {
		pem, err := os.ReadFile(in.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no certificate found", in.TLS.CAFile)
		}
		c.RootCAs = pool
	}
	if in.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(in.TLS.CertFile, in.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// SplitAddr splits host:port and checks the port.
func SplitAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 1-65535", portStr)
	}
	return host, port, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// oneLine folds a multi-line error message into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

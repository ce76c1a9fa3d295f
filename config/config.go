package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/redis-vip/redis-vip/node"
)

// ErrConfig marks every configuration problem, so main can exit with the
// "bad input" code.
var ErrConfig = errors.New("configuration")

// Config is the whole file after defaults and overrides, every instance
// decoded and validated once, by Load. It never changes after Load:
// Instance hands out copies.
type Config struct {
	path  string
	where string // the file for messages, "(not found)" when there was none
	log   Log
	names []string
	insts map[string]*entry
	warn  func(string)
}

// entry is one instance as Load left it.
type entry struct {
	inst Instance
	// err holds the instance's problems, reported when it is chosen: one
	// broken instance does not stop a command about another.
	err      error
	warnings []string
	// file holds the settings the cross-instance rules and the lookup by
	// keepalived name read: the file's values, before flags and env vars.
	file struct{ vrrpName, local, dataDir, healthListen, guardInclude string }
}

// Log says where and how to log.
type Log struct {
	Level  string
	Format string
	// File is an extra destination ("" for none); keepalived discards hook output.
	File string
	// Stderr also logs to stderr.
	Stderr bool
}

// Source says where the configuration comes from.
type Source struct {
	// Path of the file; Explicit is true when the operator named it, so a
	// missing file is an error rather than "no file".
	Path     string
	Explicit bool
	// Overrides are per-instance settings from flags and env vars, keyed by
	// Setting.Key; they apply to every instance a command chooses.
	Overrides map[string]string
	// Log overrides from flags and env vars ("" keeps the file's value).
	LogLevel, LogFormat, LogFile string
	// LogStderr, when set, overrides log.stderr.
	LogStderr *bool
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Warn receives warnings that do not stop the command (a password in
	// the file, a password file every user may read); nil drops them.
	Warn func(string)
}

// Load reads the file, applies the defaults and the overrides to every
// instance and validates them and the rules between them. A problem in
// the file's shape or a value that does not parse fails Load; an
// instance's other problems are reported when it is chosen (Instance).
func Load(src Source) (*Config, error) {
	c := &Config{path: src.Path, where: src.Path, insts: map[string]*entry{}, warn: src.Warn}
	top := values{}
	raw, err := os.ReadFile(src.Path)
	switch {
	case err == nil:
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, oneLine(err))
		}
		fileKeys := keySet{"log.level": true, "log.format": true, "log.file": true, "log.stderr": true, "defaults": true, "instances": true}
		if problems := fileKeys.walk(&doc, "", top); len(problems) > 0 {
			return nil, fmt.Errorf("%w: %s: %s", ErrConfig, src.Path, strings.Join(problems, "; "))
		}
	case errors.Is(err, fs.ErrNotExist) && !src.Explicit:
		// No file and none asked for: flags and env vars must say it all.
		c.path, c.where = "", src.Path+" (not found)"
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, oneLine(err))
	}
	if c.log, err = loadLog(top, src); err != nil {
		return nil, err
	}
	defaults := values{}
	for _, s := range Settings {
		if s.Default != "" && !s.FileOnly {
			defaults[s.Key] = scalarNode(s.Default)
		}
	}
	instKeys := keysOf("", false, "vrrp")
	if problems := instKeys.walk(top["defaults"], "", defaults); len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: defaults: %s", ErrConfig, src.Path, strings.Join(problems, "; "))
	}
	own := map[string]*yaml.Node{}
	if n := deref(top["instances"]); !isNull(n) {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: %s: line %d: instances: want a mapping of names to settings", ErrConfig, src.Path, n.Line)
		}
		var problems []string
		for _, kv := range pairs(n, &problems) {
			own[kv.key.Value] = kv.value
		}
		if len(problems) > 0 {
			return nil, fmt.Errorf("%w: %s: %s", ErrConfig, src.Path, strings.Join(problems, "; "))
		}
		c.names = slices.Sorted(maps.Keys(own))
	}
	if len(c.names) == 0 && src.Overrides["local"] != "" {
		c.names = []string{"default"}
	}
	if c.path != "" {
		warnPasswordInFile(src, c.path, top["defaults"], own)
	}
	overrides := values{}
	var overrideProblems []string
	for k, v := range src.Overrides {
		if !instKeys[k] || k == "vrrp" {
			overrideProblems = append(overrideProblems, fmt.Sprintf("unknown key %q (known: %s)", k, strings.Join(instKeys.under(""), ", ")))
			continue
		}
		overrides[k] = scalarNode(v)
	}
	slices.Sort(overrideProblems)
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, name := range c.names {
		file := maps.Clone(defaults)
		if problems := instKeys.walk(own[name], "", file); len(problems) > 0 {
			return nil, fmt.Errorf("%w: %s: instance %s: %s", ErrConfig, src.Path, name, strings.Join(problems, "; "))
		}
		e, bad := newEntry(name, file, overrides, overrideProblems, getenv)
		if len(bad) > 0 {
			return nil, fmt.Errorf("%w: %s: instance %s: %s", ErrConfig, src.Path, name, strings.Join(bad, "; "))
		}
		c.insts[name] = e
	}
	if problems := c.crossInstance(); len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, src.Path, strings.Join(problems, "; "))
	}
	return c, nil
}

// newEntry decodes and validates one instance: file holds its leaves from
// the defaults and the file, overrides those from flags and env vars. bad
// are the file's values that do not parse.
func newEntry(name string, file, overrides values, overrideProblems []string, getenv func(string) string) (*entry, []string) {
	e := &entry{}
	str := func(key string) string {
		if n := file[key]; !isNull(n) && n.Kind == yaml.ScalarNode {
			return n.Value
		}
		return ""
	}
	e.file.vrrpName, e.file.local, e.file.dataDir = str("vrrp_instance"), str("local"), str("guard.data_dir")
	e.file.healthListen, e.file.guardInclude = str("health_listen"), str("guard.include")
	if e.file.vrrpName == "" {
		e.file.vrrpName = name
	}
	if _, bad, _ := decodeInstance(name, file); len(bad) > 0 {
		return nil, bad
	}
	merged := maps.Clone(file)
	maps.Copy(merged, overrides)
	in, bad, invalid := decodeInstance(name, merged)
	if bad = append(slices.Clone(overrideProblems), bad...); len(bad) > 0 {
		e.err = fmt.Errorf("%w: instance %s: flags/env: %s", ErrConfig, name, strings.Join(bad, "; "))
		return e, nil
	}
	problems, warnings := in.validate(invalid, getenv)
	if len(problems) > 0 {
		e.err = fmt.Errorf("%w: instance %s: %s", ErrConfig, name, strings.Join(problems, "; "))
	}
	e.warnings = warnings
	if section := merged["vrrp"]; !isNull(section) {
		v, problems := decodeVRRP(section)
		if len(problems) > 0 {
			in.vrrpErr = fmt.Errorf("%w: instance %s: vrrp: %s", ErrConfig, name, strings.Join(problems, "; "))
		} else {
			in.vrrp = &v
		}
	}
	e.inst = in
	return e, nil
}

func loadLog(top values, src Source) (Log, error) {
	p := &parser{v: top}
	l := Log{Level: "info", Format: "json"}
	p.str("log.level", &l.Level)
	p.str("log.format", &l.Format)
	p.str("log.file", &l.File)
	// Off by default: hook output is discarded by keepalived anyway, and on
	// a terminal the command's own one line is what a person reads.
	p.boolean("log.stderr", &l.Stderr)
	if len(p.problems) > 0 {
		return l, fmt.Errorf("%w: %s: log: %s", ErrConfig, src.Path, strings.Join(p.problems, "; "))
	}
	for dst, v := range map[*string]string{&l.Level: src.LogLevel, &l.Format: src.LogFormat, &l.File: src.LogFile} {
		if v != "" {
			*dst = v
		}
	}
	if src.LogStderr != nil {
		l.Stderr = *src.LogStderr
	}
	var problems []string
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("level %q: want debug, info, warn or error", l.Level))
	}
	if l.Format != "json" && l.Format != "console" {
		problems = append(problems, fmt.Sprintf("format %q: want json or console", l.Format))
	}
	if len(problems) > 0 {
		return l, fmt.Errorf("%w: log: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return l, nil
}

// crossInstance finds instances that would share what must be their own:
// a name that is no safe file name (state files and backups are named after
// it), the Redis they guard, the data directory guard reads, the health
// endpoints' address, or the keepalived vrrp_instance whose events they take.
func (c *Config) crossInstance() []string {
	var p []string
	for _, n := range c.names {
		if n == "." || n == ".." || strings.ContainsAny(n, "/\x00") || strings.HasPrefix(n, "-") {
			p = append(p, fmt.Sprintf("instance name %q: not usable as a file name (no /, not . or .., no leading -)", n))
		}
	}
	for i, an := range c.names {
		a := c.insts[an].file
		for _, bn := range c.names[i+1:] {
			b := c.insts[bn].file
			same := func(what, x, y string) {
				if x != "" && x == y {
					p = append(p, fmt.Sprintf("instances %s and %s: both use %s %s; each needs its own", an, bn, what, x))
				}
			}
			if a.local != "" && (a.local == b.local || node.SameAddr(a.local, b.local)) {
				p = append(p, fmt.Sprintf("instances %s and %s: both guard local %s; each needs its own", an, bn, a.local))
			}
			same("guard.data_dir", a.dataDir, b.dataDir)
			same("health_listen", a.healthListen, b.healthListen)
			same("vrrp_instance", a.vrrpName, b.vrrpName)
		}
	}
	return p
}

// Path is the file read ("" when none was).
func (c *Config) Path() string { return c.path }

// Log is where and how to log.
func (c *Config) Log() Log { return c.log }

// Names lists the instance names, sorted.
func (c *Config) Names() []string { return slices.Clone(c.names) }

// ByVRRPInstance finds the instance keepalived calls vrrpName (its
// vrrp_instance in the file, or its name).
func (c *Config) ByVRRPInstance(vrrpName string) (string, bool) {
	for _, n := range c.names {
		if c.insts[n].file.vrrpName == vrrpName {
			return n, true
		}
	}
	return "", false
}

// Instance returns the named instance, or its problems. An empty name is
// allowed when there is one instance. Its warnings go to Source.Warn.
func (c *Config) Instance(name string) (Instance, error) {
	if name == "" {
		switch len(c.names) {
		case 0:
			return Instance{}, fmt.Errorf("%w: %s: no instances configured (set instances: in the file, or --local and --peer)", ErrConfig, c.where)
		case 1:
			name = c.names[0]
		default:
			return Instance{}, fmt.Errorf("%w: %s has instances %s: choose one with --instance", ErrConfig, c.path, strings.Join(c.names, ", "))
		}
	}
	e, ok := c.insts[name]
	if !ok {
		return Instance{}, fmt.Errorf("%w: unknown instance %q (configured: %s)", ErrConfig, name, strings.Join(c.names, ", "))
	}
	if e.err != nil {
		return Instance{}, e.err
	}
	if c.warn != nil {
		for _, w := range e.warnings {
			c.warn(w)
		}
	}
	return e.inst.clone(), nil
}

// VRRPNames lists the instances with a `vrrp:` section (valid or not),
// sorted: those `run` drives when it is not told which. None is an error.
func (c *Config) VRRPNames() ([]string, error) {
	var out []string
	for _, n := range c.names {
		if c.insts[n].inst.HasVRRP() {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no instance has a vrrp: section; redis-vip run needs one (interface, vrid, vips)", ErrConfig, c.where)
	}
	return out, nil
}

// GuardIncludeShared fails when another instance's guard writes the same
// include file as the named one: guard refuses to run then, as each start
// would overwrite the other's decision. (Only guard uses the file, so hosts
// without guard may leave the default everywhere.)
func (c *Config) GuardIncludeShared(name string) error {
	e, ok := c.insts[name]
	if !ok {
		return nil
	}
	for _, n := range c.names {
		if n != name && c.insts[n].file.guardInclude == e.inst.Guard.Include {
			return fmt.Errorf("%w: instances %s and %s: both write guard.include %s; give each its own", ErrConfig, name, n, e.inst.Guard.Include)
		}
	}
	return nil
}

// Package config reads redis-vip's configuration: one YAML file with named
// instances (one per Redis port / VIP), defaults shared by all of them, and
// per-setting overrides from flags and environment variables. Every setting
// is described once, in Settings, so the file's keys and their defaults,
// the flags, the env vars and the README's reference cannot drift apart;
// one key walker reads the instances and their `vrrp:` sections alike, and
// its messages name the file's line.
//
// Load decodes, applies the overrides to and validates every instance once,
// with the rules between instances (a name usable as a file name; no shared
// local Redis, data directory, health address or keepalived
// vrrp_instance), and returns a Config that never changes: Instance hands
// out copies, addresses parsed (node.Addr). A per-command change, such as
// check's bound on its timeouts, makes a new value (WithCheckBound).
// Validation reports every problem at once, in one line. Only package
// wiring and main import config; the domain packages take plain values.
package config

// Package config reads redis-vip's configuration: one YAML file with named
// instances (one per Redis port / VIP), defaults shared by all of them, and
// per-setting overrides from flags and environment variables. Every setting is
// described once, in Settings, so the flags, the env vars, the YAML keys and
// the README's reference cannot drift apart. Validation reports every problem
// at once, in one message.
package config

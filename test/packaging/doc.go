// Package packaging tests how redis-vip gets onto a host: the Debian
// package scripts/build-deb.sh builds (installed with dpkg into this
// machine, upgraded over itself, removed and purged), scripts/install.sh,
// the man page and the bash and zsh completions `redis-vip gen-docs`
// generates, the systemd units (systemd-analyze verify) and the keepalived
// examples (keepalived --config-test, and a short real run in a network
// namespace of its own).
//
// The tests that install anything need root and skip otherwise. They change
// this machine, which CI throws away, and undo what they did in t.Cleanup,
// also when they fail; they refuse to run when a redis-vip package is
// already installed.
package packaging

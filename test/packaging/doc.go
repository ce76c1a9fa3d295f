// Package packaging tests how redis-vip gets onto a host: the Debian
// package scripts/build-deb.sh builds (installed with dpkg into this
// machine, upgraded over itself, removed and purged), scripts/install.sh,
// the man page a gendocs build writes (and that the shipped binary carries
// no generator), the bash and zsh completions in packaging/completion
// against the binary that answers them, the systemd units (systemd-analyze
// verify) and the keepalived examples (keepalived --config-test, and a
// short real run in a network namespace of its own).
//
// The tests that install anything are of the end-to-end tier: they run with
// RV_E2E=1 as root (make test) and skip otherwise. They change
// this machine, which CI throws away, and undo what they did in t.Cleanup,
// also when they fail; they refuse to run when a redis-vip package is
// already installed.
package packaging

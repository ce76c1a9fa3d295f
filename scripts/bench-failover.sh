#!/usr/bin/env bash
# bench-failover.sh (make bench-failover): one command, one table. Builds each
# way of running the pair in network namespaces on this machine, one after the
# other, and injects the same faults into each while a client writes through
# the VIP (through HAProxy for Sentinel):
#
#   rows     Sentinel + HAProxy (baseline: 3 sentinels, down-after 3000 ms,
#            quorum 2; HAProxy tcp-check role:master every 3 s),
#            keepalived + the seed's shell scripts,
#            redis-vip + keepalived with the shipped config (hooks, FIFO),
#            redis-vip run (built-in VRRP, 100 ms adverts)
#   columns  kill -9 of the master's Redis, SIGSTOP of it for 8 s, a planned
#            move, failback; for each the median and worst longest write gap,
#            the acknowledged writes lost, and the median's ratio to
#            Sentinel + HAProxy's in the same run
#
# The binaries are built before any timing starts; the driver
# (test/bench/failover) waits for the lab to settle before each fault, asserts
# nothing, bounds every wait and the whole run, and removes every namespace and
# process it made, also after a failure or Ctrl-C. Progress goes to stderr, the
# table to stdout.
#
# Usage: scripts/bench-failover.sh [-n RUNS] [DRIVER FLAGS...]   (default -n 5)
#   e.g. -setups sentinel,run   -faults kill   -hang 8s   -ka-preempt   -v   (see the driver's -h)
#   scripts/bench-failover.sh -n 5 -setups run -faults kill: only `run`'s kill -9 column
# RUNS=5 takes about 25 minutes on a 2-core machine, RUNS=1 about 6.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=5
if [[ ${1:-} == -n ]]; then
    RUNS=${2:?-n needs a number}
    shift 2
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || {
    echo "bench-failover: RUNS must be a positive number, got '$RUNS'" >&2
    exit 2
}
[[ $(id -u) -eq 0 ]] || {
    echo "bench-failover: run as root (network namespaces)" >&2
    exit 1
}
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin

BIN=$(mktemp -d /tmp/rvbf-bin.XXXXXX)
chmod 0755 "$BIN" # the keepalived script user runs redis-vip from here
DRIVER_PID=
cleanup() {
    local rc=$?
    if [[ -n $DRIVER_PID ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
        # It stops early, removes its labs and prints what it measured.
        kill -TERM "$DRIVER_PID" 2>/dev/null || true
        for _ in $(seq 1 900); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DRIVER_PID" 2>/dev/null || true
    fi
    # The driver removes its namespaces itself; should it have died first,
    # its namespaces (prefix rvbf<pid>-) and what runs in them go here.
    if [[ -n $DRIVER_PID ]]; then
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^rvbf$DRIVER_PID-" || true); do
            # shellcheck disable=SC2046
            kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        done
    fi
    rm -rf "$BIN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "bench-failover: building redis-vip, rv-writer and the driver" >&2
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$BIN/redis-vip" ./cmd/redis-vip &&
    CGO_ENABLED=0 go build -o "$BIN/rv-writer" ./test/writer/cmd/rv-writer &&
    CGO_ENABLED=0 go build -o "$BIN/bench-failover" ./test/bench/failover)

"$BIN/bench-failover" -n "$RUNS" -repo "$REPO" -bin "$BIN/redis-vip" -writer "$BIN/rv-writer" \
    -command "${BENCH_COMMAND:-scripts/bench-failover.sh -n $RUNS${*:+ $*}}" "$@" &
DRIVER_PID=$!
wait "$DRIVER_PID"

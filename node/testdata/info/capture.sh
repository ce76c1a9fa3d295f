#!/usr/bin/env bash
# capture.sh regenerates the redis-<version>-*.txt INFO captures in this
# directory from the local redis-server, in the replication states the node
# tests need. Each file is INFO server, replication, persistence and keyspace,
# each reply followed by "\n", exactly as node.Client.Facts concatenates them
# (replies keep Redis's CRLF line endings).
#
# usage: capture.sh [outdir]
# Needs redis-server and redis-cli on PATH. Servers listen on free 127.0.0.1
# ports (never 6379) in a temp dir and are killed on exit. Every wait is bounded.
# Run ids, replids and ports change on every run: update the rows of
# fixtureCases in ../../info_test.go (and fresh_test.go's captured pairs) after.
set -euo pipefail

out=${1:-$(cd "$(dirname "$0")" && pwd)}
server=$(command -v redis-server)
ver=$("$server" --version | sed -n 's/.* v=\([0-9][0-9.]*\) .*/\1/p')
[ -n "$ver" ] || { echo "cannot read redis-server version" >&2; exit 1; }
work=$(mktemp -d /tmp/rv-capture.XXXXXX)
declare -A port pid

cleanup() {
	local n
	for n in "${!pid[@]}"; do
		kill -CONT "${pid[$n]}" 2>/dev/null || true
		kill -9 "${pid[$n]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

log() { echo "capture: [${SECONDS}s] $*" >&2; }
die() { echo "capture: $*" >&2; exit 1; }

# freeport prints a TCP port on 127.0.0.1 that nothing listens on.
freeport() {
	local i p
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

cli() { local p=$1; shift; redis-cli -h 127.0.0.1 -p "$p" "$@"; }

# run PORT ARGS... sends one command and stops the script on an error reply.
run() {
	local r
	r=$(cli "$@")
	case $r in
	ERR*|WRONG*|NOAUTH*|LOADING*|NOPERM*) die "redis-cli -p $*: $r" ;;
	esac
}

# start NAME [redis-server args...] starts a server in $work/NAME; a second
# start of the same NAME reuses its port and dir (a restart).
start() {
	local n=$1 i
	shift
	if [ -z "${port[$n]:-}" ]; then
		port[$n]=$(freeport) || die "no free port"
	fi
	mkdir -p "$work/$n"
	(cd "$work/$n" && exec "$server" --port "${port[$n]}" --bind 127.0.0.1 \
		--dir "$work/$n" --save "" --appendonly no --protected-mode no --enable-debug-command local \
		--logfile "$work/$n/redis.log" "$@") &
	pid[$n]=$!
	disown "${pid[$n]}"
	for i in $(seq 1 200); do
		if cli "${port[$n]}" PING 2>/dev/null | grep -E 'PONG|LOADING' >/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	die "$n did not start (see $work/$n/redis.log)"
}

stop() {
	local n=$1 i
	kill -9 "${pid[$n]}" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "${pid[$n]}" 2>/dev/null || break
		sleep 0.05
	done
	unset "pid[$n]"
}

# facts PORT prints what node.Client.Facts reads.
facts() {
	local s
	for s in server replication persistence keyspace; do
		cli "$1" INFO "$s"
		echo
	done
}

# capture NAME FILE-SUFFIX writes redis-<ver>-SUFFIX.txt.
capture() {
	facts "${port[$1]}" >"$out/redis-$ver-$2.txt"
	log "wrote redis-$ver-$2.txt"
}

# waitfor NAME SECTION REGEX [tries] polls INFO SECTION of NAME for REGEX.
waitfor() {
	local n=$1 sec=$2 re=$3 tries=${4:-400} i
	for i in $(seq 1 "$tries"); do
		if cli "${port[$n]}" INFO "$sec" | tr -d '\r' | grep -E "$re" >/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	die "$n: INFO $sec never matched $re"
}

# synced REPLICA MASTER waits until the replica's offset equals the master's.
synced() {
	local i a b
	for i in $(seq 1 400); do
		a=$(cli "${port[$1]}" INFO replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')
		b=$(cli "${port[$2]}" INFO replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')
		if [ -n "$a" ] && [ "$a" = "$b" ] &&
			cli "${port[$1]}" INFO replication | tr -d '\r' | grep '^master_link_status:up' >/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	die "$1 never caught up with $2"
}

# acked MASTER waits until every replica line of MASTER shows its offset.
acked() {
	local i info off
	for i in $(seq 1 400); do
		info=$(cli "${port[$1]}" INFO replication | tr -d "\r")
		off=$(sed -n "s/^master_repl_offset://p" <<<"$info")
		if [ -n "$off" ] && ! grep "^slave[0-9]*:" <<<"$info" | grep -v "offset=$off," >/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	die "replicas of $1 never acknowledged its offset"
}

# fill NAME writes a small mixed dataset into db0 and db3, some keys with a TTL.
fill() {
	local p=${port[$1]}
	run "$p" DEBUG POPULATE 1000 key 16
	run "$p" SET session:1 alice EX 3600
	run "$p" SET session:2 bob EX 3600
	run "$p" -n 3 HSET user:1 name alice
	run "$p" -n 3 RPUSH queue a b c
}

# ---- empty fresh master, and an AOF master with keys ----
start empty
capture empty master-empty
stop empty

start aof --appendonly yes --appendfsync everysec
fill aof
capture aof master-aof
stop aof

# ---- master with one replica, the replica in sync, then two replicas ----
start m1
fill m1
start r1 --replicaof 127.0.0.1 "${port[m1]}"
waitfor m1 replication '^slave0:.*state=online'
run "${port[m1]}" SET after-sync 1
synced r1 m1
acked m1
capture m1 master-with-replica
capture r1 replica-in-sync

start r1b --replicaof 127.0.0.1 "${port[m1]}"
waitfor m1 replication '^slave1:.*state=online'
synced r1b m1
synced r1 m1
acked m1
capture m1 master-with-two-replicas
stop r1b
waitfor m1 replication '^connected_slaves:1'

# ---- FAILOVER: the target replica is stopped (SIGSTOP) and misses one write,
# so the master stays in waiting-for-sync until the timeout, then (FORCE) in
# failover-in-progress until the target answers.
kill -STOP "${pid[r1]}"
run "${port[m1]}" SET unacked 1
run "${port[m1]}" FAILOVER TO 127.0.0.1 "${port[r1]}" FORCE TIMEOUT 2000
waitfor m1 replication '^master_failover_state:waiting-for-sync' 20
capture m1 master-failover-waiting-for-sync
waitfor m1 replication '^master_failover_state:failover-in-progress' 100
capture m1 master-failover-in-progress
kill -CONT "${pid[r1]}"
waitfor r1 replication '^role:master'
waitfor m1 replication '^master_link_status:up'
waitfor r1 replication '^slave0:.*state=online'
run "${port[r1]}" SET after-failover 1
synced m1 r1
acked r1
capture r1 replica-promoted-by-failover
capture m1 master-demoted-by-failover
stop r1
stop m1

# ---- replica whose master died, then promoted with REPLICAOF NO ONE ----
start m2
fill m2
start r2 --replicaof 127.0.0.1 "${port[m2]}"
waitfor m2 replication '^slave0:.*state=online'
run "${port[m2]}" SET before-kill 1
synced r2 m2
stop m2
waitfor r2 replication '^master_link_status:down'
capture r2 replica-link-down
run "${port[r2]}" REPLICAOF NO ONE
run "${port[r2]}" SET after-promotion 1
capture r2 replica-promoted
stop r2

# ---- loading: a replica loading a full sync, a master loading its RDB ----
start big
run "${port[big]}" DEBUG POPULATE 1500000 key 32
start bigr --replicaof 127.0.0.1 "${port[big]}" --repl-diskless-load disabled
waitfor bigr persistence '^loading:1' 1200
capture bigr replica-loading
grep -q '^loading:1' <(tr -d '\r' <"$out/redis-$ver-replica-loading.txt") ||
	log "WARNING: replica-loading captured after loading ended; run again"
stop bigr

run "${port[big]}" SAVE
stop big
start big
waitfor big persistence '^loading:1' 200
capture big master-loading
grep -q '^loading:1' <(tr -d '\r' <"$out/redis-$ver-master-loading.txt") ||
	log "WARNING: master-loading captured after loading ended; run again"
stop big
log "done"

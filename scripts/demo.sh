#!/usr/bin/env bash
# demo.sh (make demo): redis-vip in one minute, on this machine.
#
# Builds two Redis hosts with keepalived and redis-vip in network namespaces
# (scripts/lab.sh), has a client write numbered entries through the virtual
# IP, kills the master's Redis with kill -9, and shows that the VIP moved to
# the other host and that no acknowledged write was lost. Tears everything
# down at the end, even on failure. Needs root (namespaces) and Go; installs
# redis-server and keepalived from Debian packages if they are missing.
#
# Environment: LAB_DIR (default /tmp/redis-vip-demo), LAB_PREFIX (default
# rvdemo: its own namespaces, so a lab you built with lab.sh is left alone).
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAB_DIR=${LAB_DIR:-/tmp/redis-vip-demo}
export LAB_PREFIX=${LAB_PREFIX:-rvdemo}
LAB=$REPO/scripts/lab.sh
VIP=192.0.2.10

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }
failures=0
check() { # check OK|FAIL TEXT
    if [[ $1 == OK ]]; then printf '  \033[32mPASS\033[0m  %s\n' "$2"; else
        printf '  \033[31mFAIL\033[0m  %s\n' "$2"
        failures=$((failures + 1))
    fi
}
json_field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | cut -d: -f2- | tr -d '"'; }

[[ $(id -u) -eq 0 ]] || {
    echo "demo: run as root (it creates network namespaces): sudo make demo" >&2
    exit 1
}
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin

BIN=$(mktemp -d /tmp/redis-vip-demo-bin.XXXXXX)
chmod 0755 "$BIN"
WRITER_PID=
cleanup() {
    local rc=$?
    [[ -n $WRITER_PID ]] && kill "$WRITER_PID" 2>/dev/null || true
    bold "Tearing the lab down"
    "$LAB" down --purge >/dev/null 2>&1 || true
    rm -rf "$BIN"
    say "namespaces $LAB_PREFIX-* and every process the demo started are gone"
    exit "$rc"
}
trap cleanup EXIT

bold "1/6  Building redis-vip and the test client"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN/redis-vip" ./cmd/redis-vip &&
    CGO_ENABLED=0 go build -o "$BIN/rv-writer" ./test/writer/cmd/rv-writer)
say "built $BIN/redis-vip and $BIN/rv-writer"

bold "2/6  Building the lab: two Redis hosts and a client, each in its own network namespace"
say "h1 = 192.0.2.11, h2 = 192.0.2.12, client = 192.0.2.100; the VIP $VIP belongs to whichever host is master."
say "Each host runs redis-server (guarded by 'redis-vip guard'), and keepalived with"
say "packaging/keepalived/keepalived-host-{a,b}.conf: 'redis-vip check' every second, 'redis-vip notify-*' on changes."
"$LAB" down --purge >/dev/null 2>&1 || true
LAB_BIN=$BIN/redis-vip "$LAB" up 2>&1 | sed -n '/^HOST/,$p' | sed 's/^/  /'
before=$("$LAB" vip)
say "The VIP is on $before; its Redis is the master, the other host replicates it."

bold "3/6  A client writes numbered entries (RPUSH 1, 2, 3, ...) through the VIP, 100 per second"
OUT=$LAB_DIR/writer.json
ERR=$LAB_DIR/writer.log
ip netns exec "$LAB_PREFIX-client" "$BIN/rv-writer" --addr "$VIP:6379" --duration 60s --progress 1s \
    --settle 20s --json >"$OUT" 2>"$ERR" &
WRITER_PID=$!
sleep 3
tail -n 2 "$ERR" | sed 's/^rv-writer: /  client: /'

bold "4/6  Killing the master's Redis on $before with kill -9 (a crash: no goodbye, no warning)"
"$LAB" stop-redis "$before" --kill 2>/dev/null
say "keepalived on $before sees 'redis-vip check' fail twice (about 2 s) and gives up the VIP;"
say "keepalived on the other host takes it and runs 'redis-vip notify-master', which promotes its Redis."
for _ in 1 2 3 4 5; do
    sleep 1
    tail -n 1 "$ERR" | sed 's/^rv-writer: /  client: /'
done
after=$("$LAB" wait-settled 30 2>/dev/null || true)

bold "5/6  Where is the VIP now?"
"$LAB" status 2>/dev/null | sed 's/^/  /'
if [[ -n $after ]]; then
    say "What redis-vip did on $after (from $LAB_DIR/$after/log/redis-vip.log):"
    grep '"msg":"transition ended"' "$LAB_DIR/$after/log/redis-vip.log" | tail -n 1 |
        sed -E 's/.*"event":"([a-z]+)".*"decision":"([^"]*)","reason":"([^"]*)".*/    notify-\1: \2 (\3)/'
fi
sleep 2

bold "6/6  Stopping the client; it reads the list back from the new master and checks every acknowledged write"
kill -INT "$WRITER_PID"
wait "$WRITER_PID" || true
WRITER_PID=
report=$(tail -n 1 "$OUT")
tail -n 1 "$ERR" | sed 's/^/  /'
acked=$(json_field acked "$report")
lost=$(json_field lost "$report")
gap=$(json_field max_gap_ms "$report")
final=$(json_field final_master "$report")
vipok=$(json_field vip_on_master "$report")

bold "Result"
[[ -n $after && $after != "$before" ]] && check OK "the VIP moved from $before to $after" ||
    check FAIL "the VIP should have moved away from $before (it is on: $("$LAB" vip))"
[[ $vipok == true ]] && check OK "the VIP reaches the only master, $final" ||
    check FAIL "the VIP does not reach the master (master: ${final:-none})"
[[ ${lost:-x} == 0 && ${acked:-0} -gt 0 ]] && check OK "0 of $acked acknowledged writes lost" ||
    check FAIL "${lost:-?} of ${acked:-?} acknowledged writes lost"
say "the client waited at most ${gap:-?} ms for a write to be acknowledged during the failover"
say "(bounded by: check interval x fall + keepalived's skew time + promotion; see make bench-failover)"
if ((failures == 0)); then
    bold "demo: PASS"
else
    bold "demo: FAIL ($failures check(s) failed; logs were in $LAB_DIR)"
    exit 1
fi

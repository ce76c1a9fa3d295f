#!/usr/bin/env bash
# bench-failover.sh (make bench-failover): how long clients wait when the
# master's Redis crashes (scenario 1: kill -9), measured, not asserted.
#
# For each keepalived profile it builds the lab once, then N times: start the
# writer (100 writes/s through the VIP, 300 ms timeouts), kill -9 the
# master's redis-server, wait until the other host is master with the VIP,
# stop the writer and record the longest gap between acknowledged writes and
# the acknowledged writes lost; then restart the killed Redis (guard makes it
# the new master's replica) and wait until the pair is whole again.
#
# Profiles:
#   shipped  packaging/keepalived as shipped: advert_int 1, check interval 1,
#            fall 2, rise 2, priority 100 (skew time ~0.61 s)
#   tuned    same but fall 1, rise 1, priority 250 (skew time ~0.02 s)
#
# Usage: scripts/bench-failover.sh [-n RUNS] [PROFILE...]   (default: -n 5 shipped tuned)
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAB_DIR=${LAB_DIR:-/tmp/redis-vip-bench}
export LAB_PREFIX=${LAB_PREFIX:-rvbench}
LAB=$REPO/scripts/lab.sh
RUNS=5
while getopts n: opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    *)
        echo "usage: $0 [-n RUNS] [shipped|tuned ...]" >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
PROFILES=("$@")
((${#PROFILES[@]})) || PROFILES=(shipped tuned)

[[ $(id -u) -eq 0 ]] || {
    echo "bench-failover: run as root (network namespaces)" >&2
    exit 1
}
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin

BIN=$(mktemp -d /tmp/redis-vip-bench-bin.XXXXXX)
chmod 0755 "$BIN"
WRITER_PID=
cleanup() {
    local rc=$?
    [[ -n $WRITER_PID ]] && kill "$WRITER_PID" 2>/dev/null || true
    "$LAB" down --purge >/dev/null 2>&1 || true
    rm -rf "$BIN"
    exit "$rc"
}
trap cleanup EXIT

json_field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | cut -d: -f2- | tr -d '"'; }
log() { printf 'bench: %s\n' "$*" >&2; }

(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN/redis-vip" ./cmd/redis-vip &&
    CGO_ENABLED=0 go build -o "$BIN/rv-writer" ./test/writer/cmd/rv-writer)

# median and max of numbers on stdin
stats() { sort -n | awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2); print m, a[NR]}'; }

declare -A RESULT
for profile in "${PROFILES[@]}"; do
    log "profile $profile: building the lab"
    "$LAB" down --purge >/dev/null 2>&1 || true
    LAB_BIN=$BIN/redis-vip LAB_PROFILE=$profile "$LAB" up >/dev/null 2>&1 || {
        log "lab up failed for $profile"
        exit 1
    }
    gaps=()
    lost_total=0
    for i in $(seq 1 "$RUNS"); do
        master=$("$LAB" wait-settled 60 2>/dev/null) || {
            log "run $i: the pair did not settle"
            exit 1
        }
        out=$LAB_DIR/run-$profile-$i.json
        ip netns exec "$LAB_PREFIX-client" "$BIN/rv-writer" --duration 60s --settle 20s --json \
            --key "bench:$profile:$i" >"$out" 2>/dev/null &
        WRITER_PID=$!
        sleep 2
        "$LAB" stop-redis "$master" --kill >/dev/null 2>&1
        "$LAB" wait-settled 30 >/dev/null 2>&1 || log "run $i: no new master within 30 s"
        sleep 1
        kill -INT "$WRITER_PID"
        wait "$WRITER_PID" || true
        WRITER_PID=
        report=$(tail -n 1 "$out")
        gap=$(json_field max_gap_ms "$report")
        lost=$(json_field lost "$report")
        log "$profile run $i: killed $master's Redis: longest gap ${gap:-?} ms, ${lost:-?} acknowledged writes lost"
        gaps+=("${gap:-0}")
        lost_total=$((lost_total + ${lost:-0}))
        "$LAB" start-redis "$master" >/dev/null 2>&1
    done
    read -r median worst < <(printf '%s\n' "${gaps[@]}" | stats)
    RESULT[$profile]="$RUNS $median $worst $lost_total"
done

printf '\nFailover after kill -9 of the master'"'"'s redis-server (writer: 100 writes/s, 300 ms timeouts)\n\n'
printf '%-8s %5s %15s %14s %12s\n' profile runs "median gap ms" "worst gap ms" "lost writes"
for profile in "${PROFILES[@]}"; do
    read -r n med worst lost <<<"${RESULT[$profile]}"
    printf '%-8s %5s %15s %14s %12s\n' "$profile" "$n" "$med" "$worst" "$lost"
done
cat <<'EOF'

What bounds the gap: detection (check interval x fall: the Redis dies at a random
point of an interval, so (fall-1) to fall intervals), plus keepalived's skew time
before the backup takes over after the master's priority-0 advert
((256-priority)/256 x advert_int), plus notify-master promoting the replica and the
client's reconnect (tens of ms). Lost writes: only writes the old master
acknowledged but had not replicated when it died.
EOF

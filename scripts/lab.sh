#!/usr/bin/env bash
# lab.sh: a two-host redis-vip lab on this machine, in network namespaces.
# This is the operator-facing lab (scripts/demo.sh, make lab-up); the tests
# build the same lab in Go (package test/lab): keep the two in step.
#
#   rv-h1      192.0.2.11/24  redis-server + keepalived + redis-vip (host A)
#   rv-h2      192.0.2.12/24  redis-server + keepalived + redis-vip (host B)
#   rv-w       192.0.2.13/24  the witness host (a third vote: `redis-vip witness`)
#   rv-client  192.0.2.100/24 where clients (the writer) run
#   rv-br      the bridge joining them (in its own namespace: nothing in this
#              lab touches the host's own network); its ports are named after
#              the hosts (h1, h2, w, client)
#   VIP        192.0.2.10/24, moved by keepalived (unicast VRRP, VRID 51)
#
# keepalived runs the shipped configs in packaging/keepalived/ (paths rewritten
# into the lab dir); Redis persists with RDB save rules; `redis-vip guard` runs
# before every redis-server start (start_redis), as the systemd drop-in does.
#
# Usage: scripts/lab.sh COMMAND [ARGS]
#   up [--net-only]         build the lab (idempotent: starts what is missing);
#                           --net-only: namespaces, bridge, dirs and configs, no process
#   down [--purge]          stop everything it started, delete the namespaces
#                           (works after a failed up); --purge also deletes LAB_DIR
#   status                  namespaces, processes, Redis roles, where the VIP is
#   start-redis HOST [--no-guard] [--no-persist]   (guard first, unless --no-guard)
#   stop-redis HOST [--kill|--term|--stop|--cont]   default --term (graceful)
#   start-keepalived HOST | stop-keepalived HOST
#   link HOST down|up       take HOST's bridge port down (no carrier) / up
#                           (HOST also w; `link up` also ends an `isolate`)
#   vip                     print the host holding the VIP (h1, h2, none, h1+h2)
#   wait-settled [SECONDS]  wait (default 30 s) until one master holds the VIP,
#                           keepalived agrees and the other replicates it; print the master
#   cli HOST ARGS...        redis-cli against HOST's Redis (from inside HOST)
#   exec HOST CMD...        run CMD inside HOST's namespace (HOST: h1 h2 w client br);
#                           e.g. a writer on the master's own host, against its
#                           local Redis: exec h1 rv-writer --addr 127.0.0.1:6379 --key KEY
# HOST is h1 or h2 unless said otherwise.
#
# The witness host (w):
#   start-witness [-- CMD...]  run `$LAB_BIN witness --listen 192.0.2.13:$LAB_WITNESS_PORT
#                           --secret-file $LAB_DIR/witness.secret` in w (or CMD instead),
#                           log in $LAB_DIR/w/log/witness.log; without CMD it waits
#                           (5 s) until the port accepts connections
#   stop-witness [--kill]   SIGTERM (then SIGKILL after 5 s), or at once SIGKILL
#                           (the witness dead); the host w stays up
#   $LAB_DIR/witness.secret is made at `up`: 32 random bytes in hex, mode 0600,
#   owned by LAB_SCRIPT_USER (the hooks and the witness read the same file).
#
# Partitions (HOST: h1 h2 w). Each shape is independent of the others, so they
# combine (split + isolate w, say); each heal undoes exactly its own shape and
# is idempotent. None touches the hosts' own interfaces: they keep carrier and
# addresses, their processes keep running, only the bridge stops carrying.
#   isolate HOST            HOST reaches nothing and nothing reaches it (client,
#                           peer, witness): its bridge port is set to STP state
#                           disabled (it forwards nothing and takes nothing in)
#   heal HOST               undo isolate HOST (port state forwarding)
#   cut HOST | heal HOST    the old names: cut is isolate
#   split                   h1 and h2 no longer reach each other (VRRP adverts,
#                           unicast or multicast, and replication included) while
#                           the client and w still reach both: bridge port
#                           isolation ("isolated on") on the h1 and h2 ports:
#                           isolated ports never forward to each other, only to
#                           the others
#   heal-split              undo split
#   poweroff HOST           a power loss: every process in HOST's namespace is
#                           frozen (SIGSTOP, so none reacts to the others' deaths
#                           or to the link), its cable pulled (the veth pair
#                           deleted), then all SIGKILLed and the namespace
#                           deleted: the sockets die without a FIN or RST on the
#                           wire, and the host's kernel state (the VIP, ARP
#                           cache, conntrack, sockets) is gone as after a reboot;
#                           its pid files are removed (/run is a tmpfs). Files
#                           under LAB_DIR stay (see "Limits" below)
#   poweron HOST            the host boots: a fresh namespace, address, port
#                           (with the isolate/split flags it had); no process is
#                           started: call start-redis, start-keepalived,
#                           start-witness as a real host's boot would
#   heal-all                poweron every host that is off, heal every isolated
#                           one (and `link up` it), heal-split (no process is started)
#   partition               print the current shape, read from the bridge:
#                           isolated=h1,w split=on off=h2 ("-" for none)
# Limits (what differs from a real partition or power loss): a partition drops
# frames in the bridge, so both ends see silence (no ICMP, no RST), as with a
# failed switch; a poweroff keeps the page cache, so data Redis wrote but never
# fsynced survives (a real power loss can lose it), and the clock does not jump.
#
# Environment (read by `up`, remembered in $LAB_DIR/lab.env for later commands):
#   LAB_DIR=/tmp/redis-vip-lab   state: configs, data, logs, pid files, binaries
#   LAB_PREFIX=rv                namespace names are $LAB_PREFIX-h1 and so on
#   LAB_BIN=                     redis-vip binary to use (default: go build ./cmd/redis-vip)
#   LAB_NOTIFY=hooks|fifo        keepalived-host-*.conf or keepalived-fifo-host-*.conf
#   LAB_PROFILE=shipped|tuned    tuned: fall 1, rise 1
#   LAB_PREEMPT=0|1              1: drop nopreempt and give h2 priority -10 (h1 preferred)
#   LAB_SCRIPT_USER=redis-vip    keepalived script_user (created if missing; root allowed)
#   LAB_INCLUDE=cmdline|conf     guard include on the command line (as the drop-in
#                                does) or only as the last line of redis.conf
#   LAB_LOG_LEVEL=info           redis-vip log level
#   LAB_WITNESS_PORT=7379        the witness's TCP port on 192.0.2.13
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_DIR=${LAB_DIR:-/tmp/redis-vip-lab}
if [[ -f $LAB_DIR/lab.env ]]; then
    # Settings chosen at `up` time, unless overridden in the environment.
    while IFS='=' read -r k v; do
        [[ -n $k && -z ${!k:-} ]] && printf -v "$k" '%s' "$v"
    done <"$LAB_DIR/lab.env"
fi
LAB_PREFIX=${LAB_PREFIX:-rv}
LAB_BIN=${LAB_BIN:-}
LAB_NOTIFY=${LAB_NOTIFY:-hooks}
LAB_PROFILE=${LAB_PROFILE:-shipped}
LAB_PREEMPT=${LAB_PREEMPT:-0}
LAB_SCRIPT_USER=${LAB_SCRIPT_USER:-redis-vip}
LAB_INCLUDE=${LAB_INCLUDE:-cmdline}
LAB_LOG_LEVEL=${LAB_LOG_LEVEL:-info}
LAB_WITNESS_PORT=${LAB_WITNESS_PORT:-7379}

VIP=192.0.2.10
declare -A ADDR=([h1]=192.0.2.11 [h2]=192.0.2.12 [w]=192.0.2.13 [client]=192.0.2.100)
declare -A PEER=([h1]=h2 [h2]=h1)
declare -A TEMPLATE=([h1]=host-a [h2]=host-b)
PORT=6379
INSTANCE=redis6379
MARKER=.redis-vip-lab

ns() { echo "$LAB_PREFIX-$1"; }
hdir() { echo "$LAB_DIR/$1"; }
log() { printf 'lab: %s\n' "$*" >&2; }
die() {
    printf 'lab: error: %s\n' "$*" >&2
    exit 1
}

need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, keepalived)"; }

check_host() {
    case $1 in h1 | h2) ;; *) die "host must be h1 or h2, got '$1'" ;; esac
}

# check_node HOST: a host a partition or a power loss can hit (h1, h2, w).
check_node() {
    case $1 in h1 | h2 | w) ;; *) die "host must be h1, h2 or w, got '$1'" ;; esac
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local tries=$((secs * 10))
    while ((tries-- > 0)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    log "timed out after ${secs}s waiting for $what"
    return 1
}

pid_alive() {
    local f=$1 pid
    [[ -f $f ]] || return 1
    pid=$(<"$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pidfile FILE SIGNAL GRACE: signal the process, wait GRACE seconds, then SIGKILL.
stop_pidfile() {
    local f=$1 sig=$2 grace=$3 pid
    [[ -f $f ]] || return 0
    pid=$(<"$f")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        local tries=$((grace * 10))
        while ((tries-- > 0)) && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

nsexec() {
    local host=$1
    shift
    ip netns exec "$(ns "$host")" "$@"
}

rcli() {
    local host=$1
    shift
    nsexec "$host" redis-cli -h 127.0.0.1 -p "$PORT" --no-auth-warning "$@"
}

# ---------------------------------------------------------------- packages

ensure_packages() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v keepalived >/dev/null || missing+=(keepalived)
    command -v ip >/dev/null || missing+=(iproute2)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (Debian packages)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
    fi
}

ensure_script_user() {
    [[ $LAB_SCRIPT_USER == root ]] && return 0
    if ! id -u "$LAB_SCRIPT_USER" >/dev/null 2>&1; then
        log "creating system user $LAB_SCRIPT_USER (keepalived script_user)"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$LAB_SCRIPT_USER"
    fi
}

ensure_binary() {
    mkdir -p "$LAB_DIR/bin"
    chmod 0755 "$LAB_DIR" "$LAB_DIR/bin"
    touch "$LAB_DIR/$MARKER"
    local bin=$LAB_DIR/bin/redis-vip
    if [[ -n $LAB_BIN ]]; then
        [[ -x $LAB_BIN ]] || die "LAB_BIN=$LAB_BIN is not an executable"
        if ! cmp -s "$LAB_BIN" "$bin"; then
            install -m 0755 -o root -g root "$LAB_BIN" "$bin.new"
            mv -f "$bin.new" "$bin"
        fi
    elif [[ ! -x $bin ]]; then
        command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
        log "building redis-vip into $bin"
        (cd "$REPO" && CGO_ENABLED=0 go build -o "$bin.new" ./cmd/redis-vip)
        chown root:root "$bin.new"
        chmod 0755 "$bin.new"
        mv -f "$bin.new" "$bin"
    fi
}

# ---------------------------------------------------------------- configs

write_env() {
    {
        echo "LAB_PREFIX=$LAB_PREFIX"
        echo "LAB_BIN=$LAB_BIN"
        echo "LAB_NOTIFY=$LAB_NOTIFY"
        echo "LAB_PROFILE=$LAB_PROFILE"
        echo "LAB_PREEMPT=$LAB_PREEMPT"
        echo "LAB_SCRIPT_USER=$LAB_SCRIPT_USER"
        echo "LAB_INCLUDE=$LAB_INCLUDE"
        echo "LAB_LOG_LEVEL=$LAB_LOG_LEVEL"
        echo "LAB_WITNESS_PORT=$LAB_WITNESS_PORT"
    } >"$LAB_DIR/lab.env"
}

make_dirs() {
    local h=$1 d
    d=$(hdir "$h")
    mkdir -p "$d"/{etc,data,run,log,state,backups}
    chmod 0755 "$d" "$d/etc" "$d/data" "$d/run" "$d/log"
    # The script user owns what the hooks write: state, backups and the log.
    touch "$d/log/redis-vip.log"
    if [[ $LAB_SCRIPT_USER != root ]]; then
        chown "$LAB_SCRIPT_USER:" "$d/state" "$d/backups" "$d/log/redis-vip.log"
    fi
    chmod 0750 "$d/state" "$d/backups"
    chmod 0640 "$d/log/redis-vip.log"
}

write_redis_conf() {
    local h=$1 d
    d=$(hdir "$h")
    [[ -f $d/etc/redis-vip-guard.conf ]] || install -m 0644 "$REPO/packaging/redis/redis-vip-guard.conf" "$d/etc/redis-vip-guard.conf"
    # Written once: CONFIG REWRITE edits it afterwards, as on a real host.
    [[ -f $d/etc/redis.conf ]] && return 0
    cat >"$d/etc/redis.conf" <<EOF
# redis.conf for lab host $h, written by scripts/lab.sh.
# Loopback for redis-vip, the host address for the peer and clients, and the
# VIP (bound before it is assigned: net.ipv4.ip_nonlocal_bind=1 in this namespace).
bind 127.0.0.1 ${ADDR[$h]} $VIP
port $PORT
protected-mode no
daemonize yes
pidfile $d/run/redis.pid
logfile $d/log/redis.log
dir $d/data
dbfilename dump.rdb
# Persistence: RDB snapshots. An RDB records the replication id and offset it
# was taken at, which is what lets guard prove whether local data is newer or
# older than the peer's (an AOF does not record them).
save 5 1 60 100
appendonly no
# Tell the peer the address to reach this replica at (FAILOVER TO uses it).
replica-announce-ip ${ADDR[$h]}
# Start a full sync at once rather than waiting 5 s for more replicas.
repl-diskless-sync-delay 0
EOF
    if [[ $h == h2 ]]; then
        cat >>"$d/etc/redis.conf" <<EOF
# Host B is installed as host A's replica; from then on redis-vip moves the
# role (and CONFIG REWRITE keeps this line up to date) and guard checks it.
replicaof ${ADDR[h1]} $PORT
EOF
    fi
    if [[ $LAB_INCLUDE == conf ]]; then
        echo "include $d/etc/redis-vip-guard.conf" >>"$d/etc/redis.conf"
    else
        cat >>"$d/etc/redis.conf" <<EOF
# Last line, as the README's set-up says; start_redis also passes it as
# --include on the command line, which wins over what CONFIG REWRITE appends.
include $d/etc/redis-vip-guard.conf
EOF
    fi
}

write_redis_vip_conf() {
    local h=$1 d p
    d=$(hdir "$h")
    p=${PEER[$h]}
    cat >"$d/etc/redis-vip.yml" <<EOF
# redis-vip configuration for lab host $h, written by scripts/lab.sh.
log:
  level: $LAB_LOG_LEVEL
  format: json
  file: $d/log/redis-vip.log
  stderr: false
instances:
  $INSTANCE:
    vrrp_instance: VI_REDIS
    local: 127.0.0.1:$PORT
    announce: ${ADDR[$h]}:$PORT
    peer: ${ADDR[$p]}:$PORT
    state_dir: $d/state
    backup_dir: $d/backups
    guard:
      include: $d/etc/redis-vip-guard.conf
      redis_conf: $d/etc/redis.conf
EOF
    chmod 0644 "$d/etc/redis-vip.yml"
}

write_keepalived_conf() {
    local h=$1 d tpl prio
    d=$(hdir "$h")
    case $LAB_NOTIFY in
    hooks) tpl=$REPO/packaging/keepalived/keepalived-${TEMPLATE[$h]}.conf ;;
    fifo) tpl=$REPO/packaging/keepalived/keepalived-fifo-${TEMPLATE[$h]}.conf ;;
    *) die "LAB_NOTIFY must be hooks or fifo" ;;
    esac
    [[ -f $tpl ]] || die "missing $tpl"
    # The shipped priority (both hosts).
    prio=250
    local sedx=(
        -e "s#/usr/bin/redis-vip#$LAB_DIR/bin/redis-vip#g"
        -e "s#/etc/redis-vip/redis-vip.yml#$d/etc/redis-vip.yml#g"
        -e "s#/var/lib/redis-vip/$INSTANCE.switchover#$d/state/$INSTANCE.switchover#"
        -e "s#/var/lib/redis-vip/$INSTANCE.down#$d/state/$INSTANCE.down#"
        -e "s#/run/keepalived-redis-vip.fifo redis-vip#$d/run/notify.fifo $LAB_SCRIPT_USER#"
        -e "s#^\([[:space:]]*script_user\) redis-vip#\1 $LAB_SCRIPT_USER#"
    )
    case $LAB_PROFILE in
    shipped) ;;
    tuned)
        sedx+=(-e 's#^\([[:space:]]*\)fall 2#\1fall 1#' -e 's#^\([[:space:]]*\)rise 2#\1rise 1#')
        ;;
    *) die "LAB_PROFILE must be shipped or tuned" ;;
    esac
    if [[ $LAB_PREEMPT == 1 ]]; then
        [[ $h == h2 ]] && prio=$((prio - 10))
        sedx+=(-e '/^[[:space:]]*nopreempt[[:space:]]*$/d')
    fi
    sedx+=(-e "s#^\([[:space:]]*priority\) 250#\1 $prio#")
    {
        echo "# Generated by scripts/lab.sh from ${tpl#"$REPO"/} (profile $LAB_PROFILE, preempt $LAB_PREEMPT)."
        sed "${sedx[@]}" "$tpl"
    } >"$d/etc/keepalived.conf"
    chmod 0644 "$d/etc/keepalived.conf"
}

# ---------------------------------------------------------------- network

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$(ns "$1")"; }

ensure_network() {
    local br h
    br=$(ns br)
    if ! ns_exists br; then
        ip netns add "$br"
        ip -n "$br" link set lo up
        ip -n "$br" link add br0 type bridge stp_state 0 forward_delay 0
        ip -n "$br" link set br0 up
    fi
    for h in h1 h2 w client; do
        ensure_host_net "$h"
    done
}

# ensure_host_net HOST: HOST's namespace, its veth pair (eth0 inside, a
# bridge port named HOST outside) and its address; a host that was powered
# off gets back the isolate/split flags its port had.
ensure_host_net() {
    local h=$1 br saved
    br=$(ns br)
    saved=$(hdir "$h")/poweroff.port
    if ! ns_exists "$h"; then
        ip netns add "$(ns "$h")"
        ip -n "$(ns "$h")" link set lo up
    fi
    if ! ip -n "$br" link show dev "$h" >/dev/null 2>&1; then
        ip -n "$br" link add name "$h" type veth peer name eth0 netns "$(ns "$h")"
        # A host that comes back keeps its NIC's MAC address, so that the
        # others' ARP caches stay right, as with a real reboot.
        if [[ -f $saved && -n $(saved_flag "$saved" mac) ]]; then
            ip -n "$(ns "$h")" link set dev eth0 address "$(saved_flag "$saved" mac)"
        fi
        ip -n "$br" link set dev "$h" master br0 up
        ip -n "$(ns "$h")" addr add "${ADDR[$h]}/24" dev eth0
        ip -n "$(ns "$h")" link set dev eth0 up
    fi
    if [[ -f $saved ]]; then
        local state isolated
        state=$(saved_flag "$saved" state)
        isolated=$(saved_flag "$saved" isolated)
        rm -f "$saved"
        if [[ $state == disabled ]]; then port_set "$h" state disabled; fi
        if [[ $isolated == on ]]; then port_set "$h" isolated on; fi
    fi
    case $h in
    # Redis binds the VIP before keepalived assigns it.
    h1 | h2) nsexec "$h" sysctl -q -w net.ipv4.ip_nonlocal_bind=1 ;;
    esac
}

# ---------------------------------------------------------------- partitions

# A host's bridge port has two flags the partitions use: its STP state
# (forwarding, or disabled: isolate) and bridge port isolation (on for h1 and
# h2: split). A powered-off host has no port; poweroff keeps its flags in
# $LAB_DIR/HOST/poweroff.port (state=..., isolated=...) until poweron.

saved_flag() { sed -n "s/^$2=//p" "$1"; }

# port_flag HOST state|isolated: the flag as the bridge has it (or as the
# powered-off host left it).
port_flag() {
    local h=$1 k=$2 saved
    saved=$(hdir "$h")/poweroff.port
    if [[ -f $saved ]]; then
        saved_flag "$saved" "$k"
        return 0
    fi
    bridge -n "$(ns br)" -d link show dev "$h" 2>/dev/null | tr ' ' '\n' |
        awk -v k="$k" 'prev == k {print; exit} {prev = $0}'
}

# port_set HOST state forwarding|disabled, or HOST isolated on|off. On a
# powered-off host it changes what poweron will restore.
port_set() {
    local h=$1 k=$2 v=$3 saved
    saved=$(hdir "$h")/poweroff.port
    if [[ -f $saved ]]; then
        sed -i "s/^$k=.*/$k=$v/" "$saved"
        return 0
    fi
    case $k/$v in
    state/forwarding) bridge -n "$(ns br)" link set dev "$h" state 3 ;;
    state/disabled) bridge -n "$(ns br)" link set dev "$h" state 0 ;;
    isolated/on | isolated/off) bridge -n "$(ns br)" link set dev "$h" isolated "$v" ;;
    *) die "port_set: $k=$v" ;;
    esac
}

is_off() { [[ -f $(hdir "$1")/poweroff.port ]]; }

cmd_isolate() {
    need_root
    check_node "${1:-}"
    port_set "$1" state disabled
    log "$1: isolated (its bridge port forwards nothing; its link stays up)"
}

cmd_heal() {
    need_root
    check_node "${1:-}"
    port_set "$1" state forwarding
    log "$1: back on the bridge"
}

cmd_split() {
    need_root
    port_set h1 isolated on
    port_set h2 isolated on
    log "split: h1 and h2 no longer reach each other; the client and w reach both"
}

cmd_heal_split() {
    need_root
    port_set h1 isolated off
    port_set h2 isolated off
    log "split healed: h1 and h2 reach each other"
}

# signal_ns NS SIG: send SIG to every process in NS, again to any that
# appears meanwhile (a fork), until a pass finds no new one (bounded).
signal_ns() {
    local nsn=$1 sig=$2 seen=' ' p new i
    for ((i = 0; i < 50; i++)); do
        new=0
        for p in $(ip netns pids "$nsn" 2>/dev/null); do
            [[ $seen == *" $p "* ]] && continue
            kill "-$sig" "$p" 2>/dev/null || true
            seen+="$p "
            new=1
        done
        ((new)) || return 0
    done
    log "$nsn: processes kept appearing while sending SIG$sig"
    return 1
}

cmd_poweroff() {
    need_root
    local h=${1:-} nsn d saved n tries
    check_node "$h"
    d=$(hdir "$h")
    saved=$d/poweroff.port
    if is_off "$h" || ! ns_exists "$h"; then
        log "$h: already off"
        return 0
    fi
    nsn=$(ns "$h")
    n=$(ip netns pids "$nsn" 2>/dev/null | wc -l)
    # 1. Freeze everything, so no process sees the others die or the link go.
    signal_ns "$nsn" STOP
    # 2. Pull the cable: with the veth pair gone nothing the host's kernel
    #    sends (the FINs and RSTs of the sockets about to close) leaves it.
    mkdir -p "$d"
    printf 'state=%s\nisolated=%s\nmac=%s\n' "$(port_flag "$h" state)" "$(port_flag "$h" isolated)" \
        "$(ip -n "$nsn" -o link show dev eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)" >"$saved.new"
    mv -f "$saved.new" "$saved"
    ip -n "$(ns br)" link del dev "$h"
    # 3. Kill them all, then drop the namespace (the kernel state of the host).
    signal_ns "$nsn" KILL
    tries=50
    while ((tries-- > 0)) && [[ -n $(ip netns pids "$nsn" 2>/dev/null) ]]; do
        signal_ns "$nsn" KILL
        sleep 0.1
    done
    [[ -z $(ip netns pids "$nsn" 2>/dev/null) ]] || die "$h: processes survived SIGKILL: $(ip netns pids "$nsn" | tr '\n' ' ')"
    ip netns del "$nsn"
    rm -f "$d"/run/*.pid
    log "$h: powered off ($n processes killed at once, cable pulled first)"
}

cmd_poweron() {
    need_root
    local h=${1:-}
    check_node "$h"
    if ! is_off "$h" && ns_exists "$h"; then
        log "$h: already on"
        return 0
    fi
    ns_exists br || die "the lab is not up"
    ensure_host_net "$h"
    log "$h: powered on (network only: start its processes)"
}

cmd_heal_all() {
    need_root
    local h
    for h in h1 h2 w; do
        if is_off "$h" || ! ns_exists "$h"; then cmd_poweron "$h"; fi
    done
    for h in h1 h2 w; do
        ip -n "$(ns br)" link set dev "$h" up
        port_set "$h" state forwarding
    done
    port_set h1 isolated off
    port_set h2 isolated off
    log "healed: every host on, its link up, on the bridge, no split"
}

# partition_shape: one line, e.g. "isolated=h1,w split=on off=h2".
partition_shape() {
    local h iso=() off=() split
    for h in h1 h2 w; do
        [[ $(port_flag "$h" state) == disabled ]] && iso+=("$h")
        if is_off "$h" || ! ns_exists "$h"; then off+=("$h"); fi
    done
    case "$(port_flag h1 isolated)/$(port_flag h2 isolated)" in
    on/on) split=on ;;
    on/* | */on) split=partial ;;
    *) split=off ;;
    esac
    local IFS=,
    echo "isolated=${iso[*]:--} split=$split off=${off[*]:--}"
}

# ---------------------------------------------------------------- processes

# start_redis HOST [--no-guard] [--no-persist]: guard, then redis-server, as
# the systemd drop-in does (ExecStartPre=+redis-vip guard; --include).
start_redis() {
    local h=$1
    shift
    check_host "$h"
    local guard=1 persist=1 d
    while (($#)); do
        case $1 in
        --no-guard) guard=0 ;;
        --no-persist) persist=0 ;;
        *) die "start-redis: unknown option $1" ;;
        esac
        shift
    done
    d=$(hdir "$h")
    if pid_alive "$d/run/redis.pid"; then
        log "$h: redis-server already running (pid $(<"$d/run/redis.pid"))"
        return 0
    fi
    if ((guard)); then
        local out
        if ! out=$(nsexec "$h" "$LAB_DIR/bin/redis-vip" guard --config "$d/etc/redis-vip.yml" --instance "$INSTANCE" 2>&1); then
            log "$h: guard failed, redis-server not started: $out"
            return 1
        fi
        log "$h: $out"
    else
        # As on a host without the drop-in: nothing decides before the start,
        # so the include says nothing and redis.conf alone decides.
        log "$h: starting redis-server WITHOUT guard"
        printf '# guard disabled for this start (lab.sh start-redis --no-guard)\n' >"$d/etc/redis-vip-guard.conf"
    fi
    local args=("$d/etc/redis.conf")
    [[ $LAB_INCLUDE == cmdline ]] && args+=(--include "$d/etc/redis-vip-guard.conf")
    ((persist)) || args+=(--save "" --appendonly no)
    nsexec "$h" redis-server "${args[@]}" </dev/null >>"$d/log/redis.log" 2>&1 ||
        { log "$h: redis-server failed to start; see $d/log/redis.log"; return 1; }
    wait_for 10 "$h redis ping" rcli "$h" ping || return 1
    log "$h: redis-server started (pid $(<"$d/run/redis.pid"))"
}

stop_redis() {
    local h=$1 mode=${2:---term} d
    check_host "$h"
    d=$(hdir "$h")
    case $mode in
    --term) stop_pidfile "$d/run/redis.pid" TERM 15 ;;
    --kill) stop_pidfile "$d/run/redis.pid" KILL 5 ;;
    --stop | --cont)
        pid_alive "$d/run/redis.pid" || die "$h: redis-server not running"
        if [[ $mode == --stop ]]; then kill -STOP "$(<"$d/run/redis.pid")"; else kill -CONT "$(<"$d/run/redis.pid")"; fi
        log "$h: redis-server SIG${mode#--}"
        return 0
        ;;
    *) die "stop-redis: want --term, --kill, --stop or --cont" ;;
    esac
    log "$h: redis-server stopped ($mode)"
}

start_keepalived() {
    local h=$1 d
    check_host "$h"
    d=$(hdir "$h")
    if pid_alive "$d/run/keepalived-lab.pid"; then
        log "$h: keepalived already running"
        return 0
    fi
    rm -f "$d/run/keepalived.pid" "$d/run/vrrp.pid" "$d/run/keepalived-lab.pid"
    # -n: stay in the foreground (we keep its pid), -l -D: detailed log to the
    # console (our log file), -G: no syslog, -P: VRRP only. The pid files are
    # ours, so a system keepalived is never touched.
    # (ip netns exec execs keepalived, so $! is keepalived's pid; a shell
    # function here would put a subshell in between.)
    ip netns exec "$(ns "$h")" keepalived -n -l -D -G -P -f "$d/etc/keepalived.conf" \
        -p "$d/run/keepalived.pid" -r "$d/run/vrrp.pid" </dev/null >>"$d/log/keepalived.log" 2>&1 &
    # keepalived writes keepalived.pid itself (and refuses to start if that
    # file names a live process), so our own record of its pid is separate.
    echo $! >"$d/run/keepalived-lab.pid"
    wait_for 5 "$h keepalived vrrp child" test -s "$d/run/vrrp.pid" ||
        { log "$h: keepalived did not start; see $d/log/keepalived.log"; return 1; }
    log "$h: keepalived started (pid $(<"$d/run/keepalived-lab.pid"), $LAB_NOTIFY, $LAB_PROFILE)"
}

stop_keepalived() {
    local h=$1 d
    check_host "$h"
    d=$(hdir "$h")
    # SIGTERM: keepalived sends a priority-0 advert, drops the VIP and runs notify_stop.
    stop_pidfile "$d/run/keepalived-lab.pid" TERM 10
    rm -f "$d/run/vrrp.pid" "$d/run/keepalived.pid"
    log "$h: keepalived stopped"
}

# ---------------------------------------------------------------- witness

witness_secret() { echo "$LAB_DIR/witness.secret"; }

# ensure_witness_secret: the shared secret of the witness and the nodes,
# 0600, readable by the script user that runs the hooks (and root).
ensure_witness_secret() {
    local f
    f=$(witness_secret)
    if [[ ! -s $f ]]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$f.new" && echo >>"$f.new")
        mv -f "$f.new" "$f"
    fi
    chmod 0600 "$f"
    if [[ $LAB_SCRIPT_USER != root ]]; then chown "$LAB_SCRIPT_USER:" "$f"; fi
}

# witness_listening: the witness's port accepts a connection from inside w.
witness_listening() {
    nsexec w timeout 1 bash -c "exec 3<>/dev/tcp/${ADDR[w]}/$LAB_WITNESS_PORT" 2>/dev/null
}

# start_witness [CMD...]: the witness (or CMD) in the namespace of host w.
start_witness() {
    local d pidf
    d=$(hdir w)
    pidf=$d/run/witness.pid
    if is_off w || ! ns_exists w; then die "w is powered off (poweron w first)"; fi
    if pid_alive "$pidf"; then
        log "w: witness already running (pid $(<"$pidf"))"
        return 0
    fi
    mkdir -p "$d/run" "$d/log"
    local argv=("$@") wait_port=0
    if ((${#argv[@]} == 0)); then
        ensure_witness_secret
        argv=("$LAB_DIR/bin/redis-vip" witness --listen "${ADDR[w]}:$LAB_WITNESS_PORT" --secret-file "$(witness_secret)")
        wait_port=1
    fi
    echo "--- $(date '+%F %T') start: ${argv[*]}" >>"$d/log/witness.log"
    # ip netns exec execs the command: $! is its pid.
    ip netns exec "$(ns w)" "${argv[@]}" </dev/null >>"$d/log/witness.log" 2>&1 &
    echo $! >"$pidf"
    if ((wait_port)); then
        local tries=50
        while ((tries-- > 0)); do
            pid_alive "$pidf" || break
            witness_listening && break
            sleep 0.1
        done
        if ! pid_alive "$pidf" || ! witness_listening; then
            log "w: the witness did not start listening on ${ADDR[w]}:$LAB_WITNESS_PORT; $d/log/witness.log says:"
            tail -n 5 "$d/log/witness.log" >&2
            stop_pidfile "$pidf" KILL 2
            return 1
        fi
    fi
    log "w: started (pid $(<"$pidf")): ${argv[*]}"
}

# stop_witness [--kill]: SIGTERM (SIGKILL after 5 s), or SIGKILL at once.
stop_witness() {
    local mode=${1:---term} pidf
    pidf=$(hdir w)/run/witness.pid
    case $mode in
    --term) stop_pidfile "$pidf" TERM 5 ;;
    --kill) stop_pidfile "$pidf" KILL 5 ;;
    *) die "stop-witness: want --term or --kill" ;;
    esac
    log "w: witness stopped ($mode)"
}

vip_holder() {
    local h out=()
    for h in h1 h2; do
        ns_exists "$h" || continue
        if ip -n "$(ns "$h")" -4 addr show dev eth0 2>/dev/null | grep -q "inet $VIP/"; then out+=("$h"); fi
    done
    if ((${#out[@]} == 0)); then echo none; else (
        IFS=+
        echo "${out[*]}"
    ); fi
}

# ka_state HOST: keepalived's VRRP state from its log (MASTER, BACKUP,
# FAULT), "starting" before the first one, "down" when it is not running.
ka_state() {
    local d
    d=$(hdir "$1")
    pid_alive "$d/run/keepalived-lab.pid" || { echo down; return 0; }
    local s
    s=$(sed -n '/Starting Keepalived/h; /Starting Keepalived/!H; ${x;p}' "$d/log/keepalived.log" 2>/dev/null |
        grep -o 'Entering [A-Z]* STATE' | tail -1 | awk '{print $2}')
    echo "${s:-starting}"
}

# settled: exactly one VIP holder, its Redis master and its keepalived
# MASTER; the other Redis, if running, its replica with the link up, and
# the other keepalived BACKUP (ready to take over) unless it is not running.
settled() {
    local m p
    m=$(vip_holder)
    [[ $m == h1 || $m == h2 ]] || return 1
    p=${PEER[$m]}
    [[ $(role_of "$m") == master ]] || return 1
    [[ $(ka_state "$m") == MASTER ]] || return 1
    # The other Redis down (crashed, stopped): nothing more to wait for.
    pid_alive "$(hdir "$p")/run/redis.pid" || return 0
    replica_in_sync "$p" || return 1
    rcli "$p" info replication | tr -d '\r' | grep -qx "master_host:${ADDR[$m]}" || return 1
    local k
    k=$(ka_state "$p")
    [[ $k == BACKUP || $k == down ]]
}

vip_is() { [[ $(vip_holder) == "$1" ]]; }

role_of() { rcli "$1" info replication 2>/dev/null | tr -d '\r' | awk -F: '$1=="role"{print $2}'; }

replica_in_sync() {
    local info
    info=$(rcli "$1" info replication 2>/dev/null | tr -d '\r') || return 1
    grep -qx 'role:slave' <<<"$info" && grep -qx 'master_link_status:up' <<<"$info" &&
        grep -qx 'master_sync_in_progress:0' <<<"$info"
}

# ---------------------------------------------------------------- commands

cmd_up() {
    need_root
    local net_only=0
    case ${1:-} in
    --net-only) net_only=1 ;;
    '') ;;
    *) die "up: unknown option $1" ;;
    esac
    ensure_packages
    ensure_script_user
    mkdir -p "$LAB_DIR"
    ensure_binary
    write_env
    local h fresh=1
    for h in h1 h2; do
        pid_alive "$(hdir "$h")/run/keepalived-lab.pid" && fresh=0
        pid_alive "$(hdir "$h")/run/redis.pid" && fresh=0
    done
    if ((fresh)); then
        # A failed build leaves nothing behind but the logs.
        trap 'rc=$?; log "up failed (line $LINENO, exit $rc): tearing down; logs stay in $LAB_DIR"; cmd_down >/dev/null 2>&1 || true; exit $rc' ERR
    fi
    for h in h1 h2; do
        make_dirs "$h"
        write_redis_conf "$h"
        write_redis_vip_conf "$h"
        write_keepalived_conf "$h"
    done
    mkdir -p "$(hdir w)/run" "$(hdir w)/log"
    ensure_witness_secret
    ensure_network
    if ((net_only)); then
        trap - ERR
        log "up --net-only: namespaces and configs ready, no process started"
        return 0
    fi
    if ((fresh)); then
        # h1 first, so that it is the master; h2 joins as its replica.
        start_redis h1
        start_keepalived h1
        wait_for 20 "VIP on h1" vip_is h1
        # Let h1's notify-master finish before h2 appears, so that the start
        # is the same every time (h1 master, h2 its replica).
        wait_for 20 "h1's notify-master to finish" grep -q '"event":"master"' "$(hdir h1)/state/$INSTANCE.journal"
    else
        log "lab already up: starting only what is missing (configs were rewritten; running daemons keep theirs)"
    fi
    for h in h1 h2; do
        start_redis "$h"
        start_keepalived "$h"
    done
    wait_for 40 "one master holding the VIP and its peer replicating it" settled
    trap - ERR
    local master
    master=$(vip_holder)
    log "up: master $master holds VIP $VIP; ${PEER[$master]} replicates it"
    cmd_status
}

cmd_down() {
    need_root
    local purge=0
    [[ ${1:-} == --purge ]] && purge=1
    local h d
    for h in h1 h2; do
        d=$(hdir "$h")
        stop_pidfile "$d/run/keepalived-lab.pid" TERM 5 2>/dev/null || true
        stop_pidfile "$d/run/redis.pid" KILL 2 2>/dev/null || true
        rm -f "$d/run/vrrp.pid" "$d/run/keepalived.pid"
    done
    stop_pidfile "$(hdir w)/run/witness.pid" KILL 2 2>/dev/null || true
    rm -f "$(hdir h1)/poweroff.port" "$(hdir h2)/poweroff.port" "$(hdir w)/poweroff.port"
    for h in h1 h2 w client br; do
        if ns_exists "$h"; then
            local pids
            pids=$(ip netns pids "$(ns "$h")" 2>/dev/null || true)
            if [[ -n $pids ]]; then
                # shellcheck disable=SC2086
                kill -KILL $pids 2>/dev/null || true
            fi
            ip netns del "$(ns "$h")" 2>/dev/null || true
        fi
    done
    if ((purge)); then
        if [[ -f $LAB_DIR/$MARKER ]]; then
            rm -rf -- "$LAB_DIR"
        elif [[ -d $LAB_DIR ]]; then
            log "not deleting $LAB_DIR: no $MARKER in it"
        fi
    fi
    log "down: namespaces and processes of prefix '$LAB_PREFIX' removed"
}

cmd_status() {
    local h d
    printf '%-7s %-9s %-22s %-30s %-10s\n' HOST NETNS REDIS ROLE KEEPALIVED
    for h in h1 h2; do
        d=$(hdir "$h")
        local nss=missing redis=down role=- ka
        ns_exists "$h" && nss=up
        is_off "$h" && nss=off
        if pid_alive "$d/run/redis.pid"; then redis="up (pid $(<"$d/run/redis.pid"))"; fi
        if [[ $nss == up ]]; then
            local info
            if info=$(rcli "$h" info replication 2>/dev/null | tr -d '\r'); then
                local r keys
                r=$(awk -F: '$1=="role"{print $2}' <<<"$info")
                keys=$(rcli "$h" dbsize 2>/dev/null || echo '?')
                if [[ $r == slave ]]; then
                    r="replica link=$(awk -F: '$1=="master_link_status"{print $2}' <<<"$info")"
                fi
                role="$r keys=$keys"
            fi
        fi
        ka=$(ka_state "$h")
        printf '%-7s %-9s %-22s %-30s %-10s\n' "$h" "$nss" "$redis" "$role" "$ka"
    done
    local wst=stopped
    if pid_alive "$(hdir w)/run/witness.pid"; then wst="running (pid $(<"$(hdir w)/run/witness.pid"))"; fi
    local wns=missing
    ns_exists w && wns=up
    is_off w && wns=off
    printf 'w       %-9s witness %s\n' "$wns" "$wst"
    printf 'client  %s\n' "$(ns_exists client && echo up || echo missing)"
    echo "VIP $VIP on: $(vip_holder)"
    if ns_exists br; then echo "partition: $(partition_shape)"; fi
}

main() {
    local cmd=${1:-}
    [[ -n $cmd ]] || {
        sed -n '2,/^set -/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 2
    }
    shift
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    start-redis)
        need_root
        start_redis "$@"
        ;;
    stop-redis)
        need_root
        stop_redis "$@"
        ;;
    start-keepalived)
        need_root
        start_keepalived "$@"
        ;;
    stop-keepalived)
        need_root
        stop_keepalived "$@"
        ;;
    cut | isolate) cmd_isolate "$@" ;;
    heal) cmd_heal "$@" ;;
    split) cmd_split ;;
    heal-split) cmd_heal_split ;;
    poweroff) cmd_poweroff "$@" ;;
    poweron) cmd_poweron "$@" ;;
    heal-all) cmd_heal_all ;;
    partition) partition_shape ;;
    start-witness)
        need_root
        [[ ${1:-} == -- ]] && shift
        start_witness "$@"
        ;;
    stop-witness)
        need_root
        stop_witness "$@"
        ;;
    link)
        check_node "${1:-}"
        case ${2:-} in up | down) ;; *) die "link HOST up|down" ;; esac
        ip -n "$(ns br)" link set dev "$1" "$2"
        log "$1: link $2"
        ;;
    vip) vip_holder ;;
    wait-settled)
        local secs=${1:-30} m
        wait_for "$secs" "the pair to settle" settled || { cmd_status >&2; exit 1; }
        m=$(vip_holder)
        echo "$m"
        ;;
    cli)
        local h=${1:-}
        check_host "$h"
        shift
        rcli "$h" "$@"
        ;;
    exec)
        local h=${1:-}
        case $h in h1 | h2 | w | client | br) ;; *) die "exec HOST CMD: HOST is h1, h2, w, client or br" ;; esac
        shift
        nsexec "$h" "$@"
        ;;
    -h | --help | help) main ;;
    *) die "unknown command '$cmd' (see scripts/lab.sh --help)" ;;
    esac
}

main "$@"

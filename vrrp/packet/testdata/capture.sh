#!/usr/bin/env bash
# capture.sh: record real VRRP adverts sent by keepalived, for the codec tests.
#
# Run as root from anywhere:   sudo ./capture.sh [outdir]
# (outdir defaults to the directory holding this script; VERBOSE=1 also prints the whole
# capture and the keepalived log).
#
# It builds two network namespaces joined by a veth pair:
#
#   rvtest-packet-<pid>-a  veth rvpa<pid>  192.0.2.1/24  2001:db8::1/64   keepalived runs here
#   rvtest-packet-<pid>-b  veth rvpb<pid>  192.0.2.2/24  2001:db8::2/64   tcpdump listens here
#
# keepalived is started with its own config, pid files and no syslog, so it never touches
# a system keepalived. It runs six MASTER instances (see the config below). tcpdump records
# what arrives at the peer end, with Ethernet framing, so the IP header (TTL/hop limit,
# source, destination) is kept. The capture is then split into one small .pcap per case:
#
#   v2-ipv4.pcap           VRRPv2, VRID 51, prio 150, 1 s,  one VIP
#   v2-ipv4-multi.pcap     VRRPv2, VRID 52, prio 100, 2 s,  three VIPs
#   v2-ipv4-pass.pcap      VRRPv2, VRID 55, prio 90,  1 s,  auth_type PASS "secret12"
#   v3-ipv4.pcap           VRRPv3, VRID 53, prio 200, 0.5 s, two VIPs, multicast 224.0.0.18
#   v3-ipv4-unicast.pcap   VRRPv3, VRID 56, prio 110, 1 s,  one VIP, unicast to 192.0.2.2
#   v3-ipv6.pcap           VRRPv3, VRID 54, prio 120, 1 s,  fe80::54 and 2001:db8::100, ff02::12
#
# Everything (processes, namespaces, temp dir) is removed on exit, even on error.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "capture.sh: must run as root" >&2
	exit 1
fi

KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
TCPDUMP=${TCPDUMP:-tcpdump}
OUT=${1:-$(cd "$(dirname "$0")" && pwd)}

NSA="rvtest-packet-$$-a"
NSB="rvtest-packet-$$-b"
VA="rvpa$$"
VB="rvpb$$"
TMP=$(mktemp -d /tmp/rvtest-packet-capture.XXXXXX)
KA_PID=""
TD_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n $TD_PID ]]; then kill -INT "$TD_PID" 2>/dev/null; wait "$TD_PID" 2>/dev/null; fi
	if [[ -n $KA_PID ]]; then
		kill -TERM "$KA_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$KA_PID" 2>/dev/null
		wait "$KA_PID" 2>/dev/null
	fi
	if [[ $rc -ne 0 && -f $TMP/keepalived.log ]]; then
		echo "--- keepalived log ---" >&2
		cat "$TMP/keepalived.log" >&2
	fi
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT INT TERM

ip netns add "$NSA"
ip netns add "$NSB"
for ns in "$NSA" "$NSB"; do
	# No duplicate address detection: addresses (link-local too) are usable at once.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" link set lo up
done
ip link add "$VA" netns "$NSA" address 02:00:00:00:00:01 type veth \
	peer name "$VB" netns "$NSB" address 02:00:00:00:00:02
ip -n "$NSA" addr add 192.0.2.1/24 dev "$VA"
ip -n "$NSB" addr add 192.0.2.2/24 dev "$VB"
ip -n "$NSA" -6 addr add 2001:db8::1/64 dev "$VA" nodad
ip -n "$NSB" -6 addr add 2001:db8::2/64 dev "$VB" nodad
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

# Wait (bounded) for the link-local address keepalived needs as IPv6 source.
for _ in $(seq 1 50); do
	if ip -n "$NSA" -6 addr show dev "$VA" scope link | grep -q 'inet6 fe80'; then break; fi
	sleep 0.1
done

cat >"$TMP/keepalived.conf" <<CONF
global_defs {
    router_id rvtest_packet
}
vrrp_instance V2_ONE {
    state MASTER
    interface $VA
    version 2
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance V2_MULTI {
    state MASTER
    interface $VA
    version 2
    virtual_router_id 52
    priority 100
    advert_int 2
    virtual_ipaddress {
        192.0.2.101/24
        192.0.2.102/24
        192.0.2.103/24
    }
}
vrrp_instance V2_PASS {
    state MASTER
    interface $VA
    version 2
    virtual_router_id 55
    priority 90
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.105/24
    }
}
vrrp_instance V3_ONE {
    state MASTER
    interface $VA
    version 3
    virtual_router_id 53
    priority 200
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.110/24
        192.0.2.111/24
    }
}
vrrp_instance V3_UNICAST {
    state MASTER
    interface $VA
    version 3
    virtual_router_id 56
    priority 110
    advert_int 1
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
    }
    virtual_ipaddress {
        192.0.2.120/24
    }
}
vrrp_instance V3_IPV6 {
    state MASTER
    interface $VA
    native_ipv6
    version 3
    virtual_router_id 54
    priority 120
    advert_int 1
    virtual_ipaddress {
        fe80::54/64
        2001:db8::100/64
    }
}
CONF

# v4 VRID: BPF filter for IPv4 VRRP with that VRID (second byte of the VRRP header; the
# IPv4 header length comes from IHL).
v4() { echo "ip proto 112 and ip[((ip[0]&0xf)<<2)+1] = $1"; }

ip netns exec "$NSB" "$TCPDUMP" -Z root -i "$VB" -n -U -s 0 -w "$TMP/all.pcap" \
	'ip proto 112 or ip6 proto 112' 2>"$TMP/tcpdump.log" &
TD_PID=$!
# Bounded wait until tcpdump is listening.
for _ in $(seq 1 50); do
	grep -q 'listening on' "$TMP/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done

ip netns exec "$NSA" "$KEEPALIVED" -n -l -D -G -P -f "$TMP/keepalived.conf" \
	-p "$TMP/keepalived.pid" -r "$TMP/vrrp.pid" -c "$TMP/checkers.pid" -b "$TMP/bfd.pid" \
	>"$TMP/keepalived.log" 2>&1 &
KA_PID=$!

# Every instance starts in BACKUP and becomes MASTER after 3 * advert_int + skew; V2_MULTI
# (2 s) is the slowest. Wait (bounded, 25 s) until it has sent three adverts.
for _ in $(seq 1 50); do
	n=$("$TCPDUMP" -r "$TMP/all.pcap" -n "$(v4 52)" 2>/dev/null | wc -l || true)
	[[ $n -ge 3 ]] && break
	sleep 0.5
done
kill -INT "$TD_PID"
wait "$TD_PID" || true
TD_PID=""

# keep NAME FILTER: write the first three adverts matching FILTER to TMP/out/NAME.
mkdir "$TMP/out"
keep() {
	local name=$1 filter=$2 n
	"$TCPDUMP" -Z root -r "$TMP/all.pcap" -c 3 -w "$TMP/out/$name" "$filter" 2>/dev/null
	n=$("$TCPDUMP" -r "$TMP/out/$name" -n 2>/dev/null | wc -l)
	if [[ $n -lt 1 ]]; then
		echo "capture.sh: no adverts for $name" >&2
		return 1
	fi
	echo "$name: $n adverts"
}
keep v2-ipv4.pcap "$(v4 51)"
keep v2-ipv4-multi.pcap "$(v4 52)"
keep v2-ipv4-pass.pcap "$(v4 55)"
keep v3-ipv4.pcap "$(v4 53)"
keep v3-ipv4-unicast.pcap "$(v4 56)"
keep v3-ipv6.pcap "ip6 proto 112 and ip6[41] = 54"
# Only a complete set replaces the files in OUT.
for f in "$TMP"/out/*.pcap; do
	cp "$f" "$OUT/"
	chown --reference="$OUT" "$OUT/$(basename "$f")"
done

if [[ -n ${VERBOSE:-} ]]; then "$TCPDUMP" -r "$TMP/all.pcap" -n -v 2>/dev/null; cat "$TMP/keepalived.log"; fi

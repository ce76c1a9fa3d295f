#!/usr/bin/env bash
# Installs what the tests and the lab need, from Debian's packages, when missing.
# Idempotent; needs root for apt-get (skipped with a note otherwise).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
for t in redis-sentinel haproxy; do command -v $t >/dev/null 2>&1 || need+=($t); done # make bench-failover's baseline
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${need[*]}; run as root to install them (tests needing them will skip)" >&2
  exit 0
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's package starts a system redis-server and keepalived; the tests
# start their own and need neither.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now redis-server keepalived >/dev/null 2>&1 || true
else
  service redis-server stop >/dev/null 2>&1 || true
  service keepalived stop >/dev/null 2>&1 || true
fi

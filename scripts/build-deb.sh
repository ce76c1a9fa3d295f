#!/usr/bin/env bash
# Builds the redis-vip Debian package: dist/redis-vip_<version>_<arch>.deb.
#
#   scripts/build-deb.sh [--version V] [--out DIR] [--arch amd64|arm64] [--config-example FILE]
#   scripts/build-deb.sh [--version V] --print-version    (the Debian version, nothing built)
#
# The binary is static (CGO_ENABLED=0, -trimpath), stamped with the version
# as `make build` does, without urfave/cli's documentation code. The man
# page is urfave/cli's own, from a build with the gendocs tag that only
# this script runs (`go run -tags gendocs ./cmd/redis-vip gen-docs man`);
# the bash and zsh completions are packaging/completion, which ask the
# installed binary; the third-party notices come from the binary's module
# list (internal/tools/notices). The
# package is made by nfpm (packaging/nfpm.yaml), fetched through the Go
# module proxy at a pinned version and not added to go.mod; set NFPM to an
# nfpm binary to use that instead (offline builds).
#
# Version: --version, else $VERSION, else `git describe --tags --always
# --dirty`. The Debian version is derived from it: v1.2.0 -> 1.2.0,
# v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234, v1.2.0-rc1 -> 1.2.0~rc1, and with no
# tag at all, abc1234 -> 0~git<commits>.gabc1234 (sorts below any release).
# /etc/redis-vip/redis-vip.yml (a conffile) and examples/redis-vip.yml are a
# copy of packaging/redis-vip.yml (host A, the instance the keepalived
# examples name); examples/redis-vip-two-instances.yml is
# config/testdata/full.yml. --config-example ships another file instead.
# SOURCE_DATE_EPOCH (default: the last commit's time) dates the changelog
# and sets every file's mtime, so two builds of one commit give the same
# package.
set -euo pipefail

NFPM_MODULE=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0

die() { echo "build-deb: $*" >&2; exit 1; }
say() { echo "build-deb: $*"; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

version=${VERSION:-}
out=dist
arch=${GOARCH:-amd64}
example=packaging/redis-vip.yml
print_version=0
while (($#)); do
    case $1 in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --config-example) example=${2:?--config-example needs a file}; shift 2 ;;
    --print-version) print_version=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
case $arch in
amd64 | arm64 | 386 | armhf | ppc64el | s390x | riscv64) ;;
*) die "--arch $arch: not a Debian architecture this script knows" ;;
esac
goarch=$arch
case $arch in armhf) goarch=arm ;; ppc64el) goarch=ppc64le ;; 386) goarch=386 ;; esac

if [[ -z $version ]]; then
    version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi

# deb_version turns a git describe string into a Debian version.
deb_version() {
    local v=${1#v} base n hash dirty=
    if [[ $v == *-dirty ]]; then
        dirty=.dirty
        v=${v%-dirty}
    fi
    if [[ $v =~ ^([0-9].*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
        base=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} hash=${BASH_REMATCH[3]}
        echo "${base//-/\~}+$n.g$hash$dirty"
    elif [[ $v =~ ^[0-9] ]]; then
        echo "${v//-/\~}${dirty:++dirty}"
    elif [[ $v =~ ^[0-9a-f]{4,}$ ]]; then
        n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
        echo "0~git$n.g$v$dirty"
    else
        echo "0~${v//[^A-Za-z0-9.+~]/.}$dirty"
    fi
}
debv=$(deb_version "$version")
[[ $debv =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "cannot make a Debian version of $version (got $debv)"
if ((print_version)); then
    echo "$debv"
    exit 0
fi

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

stage=$(mktemp -d "${TMPDIR:-/tmp}/redis-vip-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

say "building redis-vip $version (Debian $debv, $arch)"
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch go build -tags urfave_cli_no_docs -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "$stage/redis-vip" ./cmd/redis-vip

# The man page: generated on this machine (go run builds for the host),
# by a build that carries the generator; the package's binary does not.
CGO_ENABLED=0 go run -tags gendocs -trimpath -ldflags "-X main.version=$version" ./cmd/redis-vip gen-docs man >"$stage/redis-vip.1"
gzip -9n "$stage/redis-vip.1"
cp packaging/completion/redis-vip.bash "$stage/redis-vip.bash"
cp packaging/completion/_redis-vip "$stage/_redis-vip"

[[ -f $example ]] || die "no configuration example $example"
cp "$example" "$stage/redis-vip.yml"
cp config/testdata/full.yml "$stage/redis-vip-two-instances.yml"

mkdir "$stage/doc"
for f in README.md docs/*.md; do
    [[ -f $f ]] || continue
    gzip -9nc "$f" >"$stage/doc/$(basename "$f").gz"
done
# The notices of what the binary links statically: the Go standard library
# and every module in its build information, with their license files.
go run ./internal/tools/notices -version "$version" -o "$stage/doc/THIRD-PARTY-NOTICES" "$stage/redis-vip"
gzip -9n "$stage/doc/THIRD-PARTY-NOTICES"

maintainer=${DEB_MAINTAINER:-redis-vip maintainers <maintainers@redis-vip.invalid>}
{
    echo "redis-vip ($debv) unstable; urgency=medium"
    echo
    echo "  * Build of redis-vip $version$(git rev-parse --short HEAD >/dev/null 2>&1 && echo " (commit $(git rev-parse --short HEAD))")."
    echo "    See the project's git history for the changes."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} >"$stage/changelog"
gzip -9n "$stage/changelog"

touch -d "@$SOURCE_DATE_EPOCH" "$stage"/* "$stage"/doc/*

mkdir -p "$out"
deb=$out/redis-vip_${debv}_$arch.deb
rm -f "$deb"
nfpm=(env GOFLAGS= go run "$NFPM_MODULE")
if [[ -n ${NFPM:-} ]]; then
    nfpm=("$NFPM")
fi
RV_STAGE=$stage RV_DEB_VERSION=$debv RV_ARCH=$arch RV_MAINTAINER=$maintainer \
    "${nfpm[@]}" package --config packaging/nfpm.yaml --packager deb --target "$deb" >/dev/null
[[ -f $deb ]] || die "nfpm did not write $deb"
say "wrote $deb"

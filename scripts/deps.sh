#!/bin/sh
# Installs the Debian 12 packages Concord builds, tests and benchmarks with.
# Idempotent: asks apt only for what dpkg says is missing, so a warm machine pays nothing.
set -eu

pkgs="build-essential pkg-config clang llvm libclang-rt-14-dev
libsodium-dev libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev libcmocka-dev
libknot-dev libssl-dev libcurl4-openssl-dev
python3 python3-pytest python3-dnspython python3-requests python3-cryptography
curl valgrind
nsd knot knot-dnsutils unbound bind9 bind9-dnsutils bind9-utils ldnsutils dnsperf iproute2"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || $SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
	$SUDO apt-get install -y --no-install-recommends $missing

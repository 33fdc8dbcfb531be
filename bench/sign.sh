#!/usr/bin/env bash
# make bench-sign: building and signing the whole root zone, next to ldns-signzone on the
# same records and algorithm (Ed25519, NSEC, ZONEMD SHA-384), and the time one delegation
# change takes to reach a signed zone (by parts: only what it touches is signed again; ten
# times as many runs, they are short). A benchmark, not a test: it prints figures and ratios
# and never fails on a goal (goals: at most 1/4 of ldns-signzone; a change under 5 ms).
#
# Knobs: BENCH_RUNS (5), CONCORD_BUILD (build).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
RUNS=${BENCH_RUNS:-5}
ZONE=data/root/root-2025082000.zone
PKGS=(libsodium libcrypto libknot libzscanner)
for f in "$B/libconcord.a" "$B/libdns.a" "$ZONE"; do
	[ -e "$f" ] || { echo "bench-sign: $f missing (make build)" >&2; exit 1; }
done
command -v ldns-signzone >/dev/null && command -v ldns-keygen >/dev/null ||
	{ echo "bench-sign: ldns-signzone and ldns-keygen are needed (ldnsutils)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/concord-bench-sign.XXXXXX")
trap 'rm -rf "$W"' EXIT
# shellcheck disable=SC2046
cc -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc \
	$(pkg-config --cflags "${PKGS[@]}") -o "$W/sign_bench" bench/sign_bench.c "$B/libdns.a" \
	"$B/libconcord.a" $(pkg-config --libs "${PKGS[@]}") -lpthread

printf '== concord: the zone from the ledger, signed (%s runs)\n' "$RUNS" >&2
RES=$("$W/sign_bench" "$ZONE" "$W/unsigned.zone" "$RUNS")
kv() { for w in $1; do [ "${w%%=*}" = "$2" ] && { printf '%s\n' "${w#*=}"; return; }; done; }
printf '%s\n' "$RES" >&2

printf '== ldns-signzone on the same records (%s runs)\n' "$RUNS" >&2
(cd "$W" && ldns-keygen -a ED25519 -k -r /dev/urandom . >/dev/null &&
	ldns-keygen -a ED25519 -r /dev/urandom . >/dev/null)
KEYS=$(cd "$W" && ls K.+015+*.private | sed 's/\.private$//' | tr '\n' ' ')
times=()
for _ in $(seq "$RUNS"); do
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	(cd "$W" && ldns-signzone -z 1:1 -o . -f signed.zone unsigned.zone $KEYS)
	t1=$(date +%s.%N)
	times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
done
LDNS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
printf 'ldns-signzone: %s ms (runs: %s); %s records in, %s out\n' "$LDNS" "${times[*]}" \
	"$(grep -c . "$W/unsigned.zone")" "$(grep -vc '^;' "$W/signed.zone")" >&2
ldns-verify-zone -Z "$W/signed.zone" >/dev/null && echo "ldns-verify-zone accepts ldns's zone" >&2

BUILD=$(kv "$RES" build_ms_median)
CHANGE=$(kv "$RES" change_ms_median)
{
	printf '\n== bench-sign: %s, %s cores\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)"
	printf 'whole root zone (%s records, %s RRSIGs): concord %s ms, ldns-signzone %s ms: ratio %s (goal <= 0.25)\n' \
		"$(kv "$RES" records)" "$(kv "$RES" signatures)" "$BUILD" "$LDNS" \
		"$(awk -v a="$BUILD" -v b="$LDNS" 'BEGIN { printf "%.2f", a / b }')"
	printf '    concord: records from the ledger, NSEC chain, every RRSIG, ZONEMD, in memory;\n'
	printf '    ldns-signzone: reads the unsigned master file, signs, writes the signed one\n'
	printf 'one delegation change (a DS added to cn.), by parts: %s ms median, %s ms max (goal < 5 ms)\n' \
		"$CHANGE" "$(kv "$RES" change_ms_max)"
	printf '    changes collected, %s RRSIGs made again, NSEC kept, SOA, ZONEMD over the whole zone,\n' \
		"$(kv "$RES" resigned)"
	printf '    the IXFR delta; the entry itself applied to the ledger in %s ms more\n' \
		"$(kv "$RES" apply_ms_median)"
} | tee "$B/bench-sign-last.txt"

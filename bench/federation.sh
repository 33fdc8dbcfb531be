#!/usr/bin/env bash
# make bench-federation: a network of five members' nodes on one machine, measured end to end.
#
# One run, one machine, the same data: the states of the first five two-letter TLDs of the
# real root zone, each running a concordd on 127.0.0.1 (free ports, HTTP and DNS), genesis
# over the real root zone, the first state's node the sequencer, witness quorum 2/3 (4 of 5);
#   1. latency: BENCH_CHANGES changes (each state changes its own ccTLD, accepted at once by
#      policy), posted to the sequencer, BENCH_INFLIGHT at a time; for each, from the moment
#      it was sent: the 201 from the sequencer (given once final), served by the DNS of every
#      node (SOA serial = log size + day), final on every node (GET /v1/final); median and
#      99th percentile, overall and per node. The issue's goal: served everywhere < 1 s;
#   2. catch-up: one follower stopped, BENCH_BEHIND 1-signature proposals appended in
#      batches (bench/ledger_load.c batch; the other four still make every checkpoint final),
#      the follower started again and timed until its log is the sequencer's; entries/s x
#      signatures per entry against the machine's Ed25519 verification rate (ledger_load rate,
#      2 threads), measured just before and just after. The issue's goal: 0.8 of it.
# A benchmark, not a test: it prints figures and ratios and never fails on a goal; it fails
# only when it cannot do its job (a node that does not start, a phase that refuses its load).
# See bench/README.md.
#
# Knobs (environment): BENCH_CHANGES (1000), BENCH_INFLIGHT (changes in flight, one per state
# at most, 1), BENCH_POLL_MS (SOA poll period per node, 1), BENCH_BEHIND (entries the stopped
# follower misses, 100000), BENCH_BATCH (proposals per batch, 4096), BENCH_CATCHUP_MAX (s to
# wait for the catch-up, 600), BENCH_RATE_SECONDS (2), BENCH_KEEP (1 keeps the work directory),
# BENCH_PERF (a file: perf record -a -g of the catch-up, for perf report), CONCORD_BUILD (build).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
C="$B/concord"
CD="$B/concordd"
ZONE=data/root/root-2025082000.zone
CHANGES=${BENCH_CHANGES:-1000}
INFLIGHT=${BENCH_INFLIGHT:-1}
POLL_MS=${BENCH_POLL_MS:-1}
BEHIND=${BENCH_BEHIND:-100000}
BATCH=${BENCH_BATCH:-4096}
CATCHUP_MAX=${BENCH_CATCHUP_MAX:-600}
RATE_SECONDS=${BENCH_RATE_SECONDS:-2}
NNODES=5
OUT="$B/bench"
PKGS=(libsodium libcrypto sqlite3 libmicrohttpd jansson libknot libzscanner libcurl) # as the Makefile
ORIGIN=bench.concord.example/federation
PY=/usr/bin/python3

say() { printf '%s\n' "$*" >&2; }
step() { printf '\n== %s\n' "$*" >&2; }
die() { say "bench-federation: $*"; exit 1; }

for f in "$C" "$CD" "$B/libconcord.a" "$ZONE"; do [ -e "$f" ] || die "$f missing (make build)"; done
command -v curl >/dev/null || die "curl is needed"
"$PY" -c 'import cryptography' 2>/dev/null || die "$PY with python3-cryptography is needed"

# ---- work directory and processes, all cleaned up on exit ----
W=$(mktemp -d "${TMPDIR:-/tmp}/concord-bench-fed.XXXXXX")
declare -A PID=()
stop_pid() { # pid: TERM, wait up to 10 s, then KILL
	local p=$1
	[ -n "$p" ] || return 0
	kill -0 "$p" 2>/dev/null || return 0
	kill -CONT "$p" 2>/dev/null || true # paused by rate()
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
	local rc=$? m
	for m in "${!PID[@]}"; do stop_pid "${PID[$m]}"; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "bench-federation: kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of the binaries: the build directory may be rebuilt while the bench runs.
mkdir -p "$W/bin" "$OUT"
cp "$C" "$CD" "$B/libconcord.a" "$W/bin/"
C="$W/bin/concord"
CD="$W/bin/concordd"
L="$W/bin/ledger_load"
# shellcheck disable=SC2046
cc -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc \
	$(pkg-config --cflags "${PKGS[@]}") -o "$L" bench/ledger_load.c "$W/bin/libconcord.a" \
	$(pkg-config --libs "${PKGS[@]}") -lpthread

# ---- the network: five states, five nodes ----
step "setup: keys, genesis over the real root zone, $NNODES nodes (work dir $W)"
awk '$4 == "NS" {print tolower($1)}' "$ZONE" | grep -E '^[a-z]{2}\.$' | tr -d . | sort -u |
	head -n "$NNODES" >"$W/states"
mapfile -t NODES <"$W/states"
[ "${#NODES[@]}" -eq "$NNODES" ] || die "fewer than $NNODES two-letter TLDs in $ZONE"
SEQ=${NODES[0]}                # orders the log
LATE=${NODES[$((NNODES - 1))]} # stopped during the catch-up phase's load
mapfile -t PORTS < <("$PY" bench/federation_load.py ports $((2 * NNODES)))
declare -A HPORT=() DPORT=()
args=()
i=0
mkdir -p "$W/keys"
for m in "${NODES[@]}"; do
	HPORT[$m]=${PORTS[$((2 * i))]}
	DPORT[$m]=${PORTS[$((2 * i + 1))]}
	"$C" keygen "$m" --dir "$W/keys" >/dev/null
	"$C" node keys "$W/$m" --member "$m" --url "http://127.0.0.1:${HPORT[$m]}" >/dev/null
	args+=(--member "$m:government:$W/keys/$m.pub" --node "$W/$m/node.pub"
		--dns "$m=ns.$m.root.concord.example.,192.0.2.$((i + 1))")
	i=$((i + 1))
done
"$C" genesis new --origin "$ORIGIN" "${args[@]}" --root-zone "$ZONE" --consultation 0 \
	--sequencer "$SEQ" -o "$W/genesis" >/dev/null
for m in "${NODES[@]}"; do "$C" genesis sign "$W/genesis" --key "$W/keys/$m.key" >/dev/null 2>&1; done
for m in "${NODES[@]}"; do
	"$C" node init "$W/$m" --genesis "$W/genesis" --key "$W/keys/$m.key" >/dev/null
done

url() { printf 'http://127.0.0.1:%s' "${HPORT[$1]}"; }
start_node() { # ID: starts its concordd, waits until it listens (60 s)
	local m=$1
	"$CD" "$W/$m" --http "127.0.0.1:${HPORT[$m]}" --dns "127.0.0.1:${DPORT[$m]}" \
		2>>"$W/$m.log" &
	PID[$m]=$!
	for _ in $(seq 600); do
		curl -sf "$(url "$m")/log/checkpoint" >/dev/null 2>&1 && return 0
		kill -0 "${PID[$m]}" 2>/dev/null || { tail -n 20 "$W/$m.log" >&2; die "concordd $m exited"; }
		sleep 0.1
	done
	die "concordd $m does not answer on $(url "$m")"
}
for m in "${NODES[@]}"; do start_node "$m"; done
say "nodes: $(for m in "${NODES[@]}"; do printf '%s (pid %s, http %s, dns %s) ' "$m" "${PID[$m]}" "${HPORT[$m]}" "${DPORT[$m]}"; done)"
say "sequencer $SEQ; $(curl -sf "$(url "$SEQ")/v1/network" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print("witness quorum %s (%d of %d nodes), log size %d" % (j["witness_quorum"], j["witness_need"], len(j["nodes"]), j["tree_size"]))')"

# ---- helpers ----
size_of() { curl -sf "$(url "$1")/log/checkpoint" | sed -n 2p; }
TICK=$(getconf CLK_TCK)
cpu_of() { awk -v t="$TICK" '{sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t}' "/proc/$1/stat"; }
kv() { # LINE KEY: the value of KEY=value in LINE
	local w
	for w in $1; do
		if [ "${w%%=*}" = "$2" ]; then
			printf '%s\n' "${w#*=}"
			return
		fi
	done
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
gt() { awk "BEGIN { exit !(($1) > ($2)) }"; } # A B: A > B (awk reads a bare > as a redirection)
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
nodes_cpu() { # CPU seconds of every running node
	local m s=0
	for m in "${!PID[@]}"; do
		kill -0 "${PID[$m]}" 2>/dev/null && s=$(calc "%.3f" "$s + $(cpu_of "${PID[$m]}")")
	done
	printf '%s\n' "$s"
}
wait_all() { # SIZE: until every running node's log holds SIZE entries (120 s)
	local m
	for m in "${NODES[@]}"; do
		kill -0 "${PID[$m]:-}" 2>/dev/null || continue
		for _ in $(seq 1200); do
			[ "$(size_of "$m")" -ge "$1" ] && continue 2
			sleep 0.1
		done
		die "node $m stays at $(size_of "$m") < $1"
	done
}
RATES2=()
RATES1=()
PERCPU=()
RATE_OTHERS=()
rate() { # LABEL: the bound, with every node of the bench paused (SIGSTOP) meanwhile
	local out b0 b1 t0 t1 m
	# ledger_load reads the records it signs over from the sequencer, then signs for 0.5 s
	# before it verifies: the nodes are paused once it has used 50 ms of CPU (it is signing).
	"$L" rate --node "127.0.0.1:${HPORT[$SEQ]}" --keys "$W/keys" --states "$W/states" \
		--seconds "$RATE_SECONDS" --ops 1 >"$W/rate.out" &
	local rp=$!
	for _ in $(seq 1000); do
		gt "$(cpu_of "$rp" 2>/dev/null || echo 1)" 0.05 && break
		sleep 0.01
	done
	for m in "${!PID[@]}"; do kill -STOP "${PID[$m]}" 2>/dev/null || true; done
	b0=$(busy_ticks)
	t0=$(date +%s.%N)
	wait "$rp" || { for m in "${!PID[@]}"; do kill -CONT "${PID[$m]}" 2>/dev/null || true; done; die "ledger_load rate failed"; }
	t1=$(date +%s.%N)
	b1=$(busy_ticks)
	for m in "${!PID[@]}"; do kill -CONT "${PID[$m]}" 2>/dev/null || true; done
	out=$(cat "$W/rate.out")
	say "ed25519 ($1): $out"
	RATES1+=("$(kv "$out" threads1)")
	RATES2+=("$(kv "$out" threads2)")
	PERCPU+=("$(calc "%.0f" "($(kv "$out" per_cpu1) + $(kv "$out" per_cpu2)) / 2")")
	MSG_BYTES=$(kv "$out" avg_bytes)
	# Cores the rest of the machine took meanwhile (the bench's nodes are paused).
	RATE_OTHERS+=("$(calc "%.2f" "(($b1 - $b0) / $TICK - $(kv "$out" cpu)) / ($t1 - $t0)")")
	say "ed25519 ($1): other processes used ${RATE_OTHERS[-1]} cores meanwhile"
}

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 0. idle: what the nodes use when nobody asks them anything ----
step "idle: the nodes' CPU over 3 s with nothing to do"
declare -A IC0=()
for m in "${NODES[@]}"; do IC0[$m]=$(cpu_of "${PID[$m]}"); done
B0=$(busy_ticks)
T0=$(date +%s.%N)
sleep 3
T1=$(date +%s.%N)
B1=$(busy_ticks)
IDLE="idle (3 s, nothing asked):"
ITOT=0
for m in "${NODES[@]}"; do
	c=$(calc "%.2f" "($(cpu_of "${PID[$m]}") - ${IC0[$m]}) / ($T1 - $T0)")
	IDLE="$IDLE $m $c,"
	ITOT=$(calc "%.2f" "$ITOT + $c")
done
IDLE=$(calc "%s cores in all; the machine was busy %.2f of $(nproc) cores" "\"${IDLE%,}: $ITOT\", ($B1 - $B0) / $TICK / ($T1 - $T0)")
say "$IDLE"

# ---- 1. latency ----
step "latency: $CHANGES changes of the states' own ccTLDs, posted to $SEQ, $INFLIGHT in flight"
NODESPEC=$(for m in "${NODES[@]}"; do printf '%s=%s:%s,' "$m" "${HPORT[$m]}" "${DPORT[$m]}"; done)
S0=$(size_of "$SEQ")
N0=$(nodes_cpu)
B0=$(busy_ticks)
T0=$(date +%s.%N)
"$PY" bench/federation_load.py changes --nodes "${NODESPEC%,}" --sequencer "$SEQ" \
	--keys "$W/keys" --count "$CHANGES" --inflight "$INFLIGHT" --poll-ms "$POLL_MS" \
	--out "$W/changes.tsv" >"$W/changes.out"
T1=$(date +%s.%N)
B1=$(busy_ticks)
N1=$(nodes_cpu)
S1=$(size_of "$SEQ")
LAT=$(grep '^RESULT' "$W/changes.out")
grep -v '^RESULT' "$W/changes.out" >"$W/changes.txt"
cat "$W/changes.txt" >&2
LWALL=$(calc "%.2f" "$T1 - $T0")
LAT_MACHINE=$(calc "machine busy %.2f of $(nproc) cores over %.1f s: the 5 nodes %.2f (idle: $ITOT), the client %.2f, others %.2f" \
	"($B1 - $B0) / $TICK / $LWALL, $LWALL, ($N1 - $N0) / $LWALL, $(kv "$LAT" client_cpu) / $LWALL, (($B1 - $B0) / $TICK - ($N1 - $N0) - $(kv "$LAT" client_cpu)) / $LWALL")
say "$LAT_MACHINE"
LAT_GROWTH="log grew from $S0 to $S1: $((S1 - S0)) entries = $(kv "$LAT" acked) acknowledged"
[ "$((S1 - S0))" -eq "$(kv "$LAT" acked)" ] || LAT_GROWTH="MISMATCH: $LAT_GROWTH"
say "$LAT_GROWTH"
cp "$W/changes.tsv" "$OUT/federation-changes.tsv"

# ---- 2. catch-up ----
step "catch-up: $LATE stopped, $BEHIND proposals appended in batches of $BATCH"
wait_all "$S1"
stop_pid "${PID[$LATE]}"
unset "PID[$LATE]"
FROM=$(size_of "$SEQ")
FILL_T0=$(date +%s.%N)
FILL=$("$L" batch --node "127.0.0.1:${HPORT[$SEQ]}" --keys "$W/keys" --states "$W/states" \
	--sigs 1 --count "$BEHIND" --seconds 100000 --batch "$BATCH" --label fill \
	--node-pid "${PID[$SEQ]}")
FILL_T1=$(date +%s.%N)
say "$FILL"
TO=$(size_of "$SEQ")
BEHIND_N=$((TO - FROM))
[ "$BEHIND_N" -eq "$(kv "$FILL" acked)" ] ||
	say "fill: MISMATCH: log grew from $FROM to $TO but $(kv "$FILL" acked) were acknowledged"
[ "$(kv "$FILL" errors)" = 0 ] || die "the fill was refused in part: $FILL"
say "fill: $BEHIND_N entries ($FROM -> $TO) in $(calc "%.1f" "$FILL_T1 - $FILL_T0") s, with 4 of 5 nodes witnessing"
wait_all "$TO"

step "ed25519 verification rate (before the catch-up)"
rate before

step "catch-up: $LATE started again, $BEHIND_N entries behind ($FROM -> $TO)"
PERF_PID=
if [ -n "${BENCH_PERF:-}" ]; then # the whole machine's profile over the catch-up
	perf record -a -g -o "$BENCH_PERF" 2>"$W/perf.log" &
	PERF_PID=$!
	sleep 1
fi
B0=$(busy_ticks)
NO0=$(nodes_cpu)
T0=$(date +%s.%N)
start_node "$LATE"
LPID=${PID[$LATE]}
T_LISTEN=$(date +%s.%N)
CU_OK=1
# one Python process on a kept-alive connection watches it, not a loop of curl processes
WS=$("$PY" bench/federation_load.py wait-size "${HPORT[$LATE]}" "$TO" "$CATCHUP_MAX") || {
	say "catch-up: STALLED: $LATE at $(size_of "$LATE") of $TO after $CATCHUP_MAX s ($WS; see $W/$LATE.log)"
	tail -n 20 "$W/$LATE.log" >&2
	CU_OK=0
}
T1=$(date +%s.%N)
CU_CPU=$(cpu_of "$LPID")
B1=$(busy_ticks)
NO1=$(nodes_cpu)
if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" && wait "$PERF_PID" || true; fi
CU_SECS=$(calc "%.3f" "$T1 - $T0")
CU_LISTEN=$(calc "%.3f" "$T_LISTEN - $T0")
CU_OTHERS_NODES=$(calc "%.2f" "($NO1 - $NO0 - $CU_CPU) / $CU_SECS")
CU_BUSY=$(calc "%.2f" "($B1 - $B0) / $TICK / $CU_SECS")
say "catch-up: $LATE holds $(size_of "$LATE") entries after $CU_SECS s (listening after $CU_LISTEN s), CPU $CU_CPU s"
step "ed25519 verification rate (after the catch-up)"
rate after
# The catching-up node must end with the sequencer's checkpoint.
HEAD_OK=1
[ "$(curl -sf "$(url "$LATE")/log/checkpoint" | sed -n 1,3p)" = "$(curl -sf "$(url "$SEQ")/log/checkpoint" | sed -n 1,3p)" ] || HEAD_OK=0

# ---- the table ----
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
B2=$(calc "%.0f" "(${RATES2[0]} + ${RATES2[1]}) / 2")
B1T=$(calc "%.0f" "(${RATES1[0]} + ${RATES1[1]}) / 2")
VCPU=$(calc "%.0f" "(${PERCPU[0]} + ${PERCPU[1]}) / 2")
MAX2=$(printf '%s\n' "${RATES2[@]}" | sort -n | tail -n 1)
SPE=1 # every entry the follower missed is a 1-signature proposal
CU_RATE=$(calc "%.1f" "$BEHIND_N / $CU_SECS")
CU_RATE2=$(calc "%.1f" "$BEHIND_N / ($CU_SECS - $CU_LISTEN)")
row() { calc "%.3f" "$1"; }
{
	printf '\n== bench-federation: %s, %s cores, %s nodes on loopback (sequencer %s), genesis over the real root zone\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$NNODES" "$SEQ"
	printf '%s\n' "$IDLE"
	cat "$W/changes.txt"
	printf '    %s\n' "$LAT_MACHINE"
	printf '    %s\n' "$LAT_GROWTH"
	printf 'ed25519 verify: 2 threads %s/s, 1 thread %s/s (means of before and after the catch-up: %s %s; %s %s)\n' \
		"$B2" "$B1T" "${RATES2[0]}" "${RATES2[1]}" "${RATES1[0]}" "${RATES1[1]}"
	printf '    crypto_sign_verify_detached on the proposal bodies (%s bytes), %s s each; other processes meanwhile (cores; the five nodes paused): %s %s; per CPU-second %s (%s us each)\n' \
		"$MSG_BYTES" "$RATE_SECONDS" "${RATE_OTHERS[0]}" "${RATE_OTHERS[1]}" "$VCPU" "$(calc "%.1f" "1e6 / $VCPU")"
	printf 'catch-up (%s entries behind): %s entries/s, %s sig/entry   ratio %s*%s/%s = %s   (vs 1 thread %s: %s; vs best: %s)%s\n' \
		"$BEHIND_N" "$CU_RATE" "$SPE" "$CU_RATE" "$SPE" "$B2" "$(row "$CU_RATE * $SPE / $B2")" \
		"$B1T" "$(row "$CU_RATE * $SPE / $B1T")" "$(row "$CU_RATE * $SPE / $MAX2")" \
		"$([ "$CU_OK" = 1 ] && [ "$HEAD_OK" = 1 ] && echo "" || echo "   DID NOT CATCH UP (see above)")"
	printf '    %s s from its start to the sequencer'"'"'s size (listening after %s s; from then: %s entries/s, ratio %s)\n' \
		"$CU_SECS" "$CU_LISTEN" "$CU_RATE2" "$(row "$CU_RATE2 * $SPE / $B2")"
	printf '    node CPU %s s (%s cores) = %s us/entry, of which %s would be signature checks: CPU-time ratio %s\n' \
		"$CU_CPU" "$(calc "%.2f" "$CU_CPU / $CU_SECS")" "$(calc "%.0f" "$CU_CPU * 1e6 / $BEHIND_N")" \
		"$(calc "%.0f" "$SPE * 1e6 / $VCPU")" "$(row "$SPE * $BEHIND_N / $VCPU / $CU_CPU")"
	printf '    machine busy %s of %s cores: the four other nodes %s (serving it, and their idle use), others %s\n' \
		"$CU_BUSY" "$(nproc)" "$CU_OTHERS_NODES" \
		"$(calc "%.2f" "$CU_BUSY - $CU_CPU / $CU_SECS - $CU_OTHERS_NODES")"
	printf '    the log it missed: %s 1-signature proposals in batches of %s, %s/s with 4 of 5 nodes witnessing (sequencer CPU %s s)\n' \
		"$(kv "$FILL" acked)" "$BATCH" "$(kv "$FILL" rate)" "$(kv "$FILL" node_cpu)"
	printf 'goal: served everywhere < 1 s (p99 %s ms: %s); catch-up >= 0.80 of the 2-thread bound (%s)\n' \
		"$(kv "$LAT" dns_p99_ms)" \
		"$(gt 1000 "$(kv "$LAT" dns_p99_ms)" && echo met || echo "not met")" \
		"$(row "$CU_RATE * $SPE / $B2")"
} | tee "$OUT/federation-last.txt"

#!/usr/bin/env bash
# make bench-ledger: how close the ledger comes to the machine's Ed25519 verification rate.
#
# One run, one machine, the same data: a bench network of the states of every two-letter TLD
# of the real root zone, one concordd on 127.0.0.1 (free port), and
#   1. the raw Ed25519 rate (crypto_sign_verify_detached over real proposal bodies, 1 and 2
#      threads), measured five times across the run, around each measured phase;
#   2. durable accepted proposals per second with 1 signature (each state changes its own
#      ccTLD) and with 3 (one proposal puts three states' ccTLDs), over HTTP, 201 only;
#   3. a profile of the node during more 1-signature load (perf, when it works here): on-CPU
#      call tree, then where its threads block;
#   4. the replay rate of `concord verify URL` over a log of at least 100,000 entries.
# Ratios: proposals/s x signatures per proposal / verifications per second. A benchmark, not
# a test: it prints figures and ratios and never fails on a goal. See bench/README.md.
#
# Knobs (environment): BENCH_COUNT (proposals per timed phase, 20000), BENCH_SECONDS (cap
# per timed phase, 20), BENCH_REPLAY_ENTRIES (100000), BENCH_CONNS (256), BENCH_RATE_SECONDS
# (2), BENCH_PROFILE (1; 0 skips perf), BENCH_KEEP (1 keeps the work directory),
# CONCORD_BUILD (build).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
C="$B/concord"
CD="$B/concordd"
ZONE=data/root/root-2025082000.zone
COUNT=${BENCH_COUNT:-20000}
MAXSEC=${BENCH_SECONDS:-20}
REPLAY=${BENCH_REPLAY_ENTRIES:-100000}
CONNS=${BENCH_CONNS:-256}
BATCH=${BENCH_BATCH:-1000}
REQ_COUNT=${BENCH_REQ_COUNT:-10000}
RATE_SECONDS=${BENCH_RATE_SECONDS:-2}
PROFILE=${BENCH_PROFILE:-1}
FOUNDERS=48 # founding states; the others join through one member/ proposal
OUT="$B/bench"
PKGS=(libsodium libcrypto sqlite3 libmicrohttpd jansson libknot libzscanner libcurl) # as the Makefile
ORIGIN=bench.concord.example/ledger

say() { printf '%s\n' "$*" >&2; }
step() { printf '\n== %s\n' "$*" >&2; }
die() { say "bench-ledger: $*"; exit 1; }

for f in "$C" "$CD" "$B/libconcord.a" "$ZONE"; do [ -e "$f" ] || die "$f missing (make build)"; done
command -v curl >/dev/null || die "curl is needed"

# ---- work directory and processes, all cleaned up on exit ----
W=$(mktemp -d "${TMPDIR:-/tmp}/concord-bench.XXXXXX")
NODE_PID=
PERF_PID=
stop_pid() { # pid: TERM, wait up to 10 s, then KILL
	local p=$1
	[ -n "$p" ] || return 0
	kill -0 "$p" 2>/dev/null || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
	local rc=$? c
	if [ -n "$PERF_PID" ]; then
		for c in $(pgrep -P "$PERF_PID" 2>/dev/null); do stop_pid "$c"; done
	fi
	stop_pid "$PERF_PID"
	stop_pid "$NODE_PID"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "bench-ledger: kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of the binaries: the build directory may be rebuilt while the bench runs, and the
# profile needs the very binary that ran.
mkdir -p "$W/bin" "$OUT"
cp "$C" "$CD" "$B/libconcord.a" "$W/bin/"
C="$W/bin/concord"
CD="$W/bin/concordd"
L="$W/bin/ledger_load"
# shellcheck disable=SC2046
cc -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc \
	$(pkg-config --cflags "${PKGS[@]}") -o "$L" bench/ledger_load.c "$W/bin/libconcord.a" \
	$(pkg-config --libs "${PKGS[@]}") -lpthread

# ---- the bench network ----
step "setup: keys, genesis over the real root zone, one node (work dir $W)"
awk '$4 == "NS" {print tolower($1)}' "$ZONE" | grep -E '^[a-z]{2}\.$' | tr -d . | sort -u >"$W/states"
NSTATES=$(wc -l <"$W/states")
[ "$NSTATES" -ge 100 ] || die "only $NSTATES two-letter TLDs in $ZONE"
mkdir -p "$W/keys" "$W/members"
while read -r s; do "$C" keygen "$s" --dir "$W/keys" >/dev/null; done <"$W/states"
head -n "$FOUNDERS" "$W/states" >"$W/founders"
args=()
while read -r s; do args+=(--member "$s:government:$W/keys/$s.pub"); done <"$W/founders"
"$C" genesis new --origin "$ORIGIN" "${args[@]}" --root-zone "$ZONE" --consultation 0 \
	-o "$W/genesis" >&2
while read -r s; do "$C" genesis sign "$W/genesis" --key "$W/keys/$s.key" >/dev/null; done <"$W/founders"
FIRST=$(head -n 1 "$W/founders")
"$C" node init "$W/node" --genesis "$W/genesis" --key "$W/keys/$FIRST.key" >&2

: >"$W/node.log"
"$CD" "$W/node" --http 127.0.0.1:0 --dns 127.0.0.1:0 2>>"$W/node.log" &
NODE_PID=$!
PORT=
for _ in $(seq 200); do
	PORT=$(sed -n 's|.* at http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p;T;q' "$W/node.log")
	[ -n "$PORT" ] && break
	kill -0 "$NODE_PID" 2>/dev/null || { cat "$W/node.log" >&2; die "concordd did not start"; }
	sleep 0.1
done
[ -n "$PORT" ] || die "concordd did not say where it listens"
URL="http://127.0.0.1:$PORT"
export CONCORD_NODE=$URL
say "concordd pid $NODE_PID at $URL"

# The other states join in one proposal (policy/member: 2/3 of the founders sign it).
ops=()
tail -n +"$((FOUNDERS + 1))" "$W/states" >"$W/joiners"
while read -r s; do
	{ echo "chamber government"; echo "key $(head -n 1 "$W/keys/$s.pub")"; sed -n 2p "$W/keys/$s.pub"; } >"$W/members/$s"
	ops+=(put "member/$s" "$W/members/$s")
done <"$W/joiners"
"$C" propose --key "$W/keys/$FIRST.key" "${ops[@]}" >"$W/join.out"
JOIN_ID=$(head -n 1 "$W/join.out")
APPROVALS=1
while ! grep -q '^accepted' "$W/join.out"; do
	APPROVALS=$((APPROVALS + 1))
	[ "$APPROVALS" -le "$FOUNDERS" ] || die "the joining proposal was never accepted"
	"$C" approve --key "$W/keys/$(sed -n "${APPROVALS}p" "$W/founders").key" "$JOIN_ID" >"$W/join.out"
done
say "$NSTATES states are members ($FOUNDERS founders, $((NSTATES - FOUNDERS)) joined with $APPROVALS signatures)"

# ---- helpers ----
log_size() { curl -sf "$URL/log/checkpoint" | sed -n 2p; }
TICK=$(getconf CLK_TCK)
node_cpu() { awk -v t="$TICK" '{printf "%.3f", ($14 + $15) / t}' "/proc/$NODE_PID/stat"; }
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
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
RATES2=()
RATES1=()
PERCPU=()
RATE_OTHERS=()
rate() { # LABEL OPS
	local out line b0 b1 t0 t1 n0 n1 cpu=0
	b0=$(busy_ticks)
	n0=$(node_cpu)
	t0=$(date +%s.%N)
	out=$("$L" rate --node "127.0.0.1:$PORT" --keys "$W/keys" --states "$W/states" \
		--seconds "$RATE_SECONDS" --ops "$2")
	t1=$(date +%s.%N)
	n1=$(node_cpu)
	b1=$(busy_ticks)
	while read -r line; do
		say "ed25519 ($1): $line"
		cpu=$(kv "$line" cpu)
		if [ "$(kv "$line" ops)" = 1 ]; then
			RATES1+=("$(kv "$line" threads1)")
			RATES2+=("$(kv "$line" threads2)")
			PERCPU+=("$(calc "%.0f" "($(kv "$line" per_cpu1) + $(kv "$line" per_cpu2)) / 2")")
			SIGN_US=$(kv "$line" build_sign_us)
			MSG_BYTES=$(kv "$line" avg_bytes)
		else
			RATE3_LINE=$line
		fi
	done <<<"$out"
	# Cores the rest of the machine took meanwhile (the measurement wants all of them).
	RATE_OTHERS+=("$(calc "%.2f" "(($b1 - $b0) / $TICK - $cpu - ($n1 - $n0)) / ($t1 - $t0)")")
	say "ed25519 ($1): others used ${RATE_OTHERS[-1]} cores meanwhile"
}
GROWTH_OK=1
phase() { # LABEL SIGS COUNT SECONDS PROGRESS MODE -> RES (the RESULT line), NODE_CPU (s)
	local s0 s1 c0 c1 b0 b1 t0 t1 acked wall busy
	s0=$(log_size)
	c0=$(node_cpu)
	b0=$(busy_ticks)
	t0=$(date +%s.%N)
	if [ "$6" = batch ]; then
		# Signed before its clock starts; it measures the node's CPU and the machine's
		# over its timed part itself (node_cpu=, busy=, in its RESULT line).
		RES=$("$L" batch --node "127.0.0.1:$PORT" --keys "$W/keys" --states "$W/states" \
			--sigs "$2" --count "$3" --seconds "$4" --batch "$BATCH" --label "$1" \
			--node-pid "$NODE_PID")
	else
		RES=$("$L" run --node "127.0.0.1:$PORT" --keys "$W/keys" --states "$W/states" \
			--sigs "$2" --count "$3" --seconds "$4" --conns "$CONNS" --label "$1" \
			--progress "$5")
	fi
	t1=$(date +%s.%N)
	b1=$(busy_ticks)
	c1=$(node_cpu)
	s1=$(log_size)
	NODE_CPU=$(calc "%.2f" "$c1 - $c0")
	wall=$(calc "%.3f" "$t1 - $t0")
	busy=$(calc "%.2f" "($b1 - $b0) / $TICK")
	if [ "$6" = batch ]; then
		NODE_CPU=$(kv "$RES" node_cpu)
		wall=$(kv "$RES" seconds)
		busy=$(kv "$RES" busy)
	fi
	acked=$(kv "$RES" acked)
	say "$RES node_cpu=$NODE_CPU"
	# Who used the two cores meanwhile: others' load on a shared machine shows here.
	MACHINE=$(calc "machine busy %.2f of $(nproc) cores over %.2f s: node %.2f, load generator %.2f, others %.2f" \
		"$busy / $wall, $wall, $NODE_CPU / $wall, $(kv "$RES" client_cpu) / $wall, ($busy - $NODE_CPU - $(kv "$RES" client_cpu)) / $wall")
	say "$1: $MACHINE"
	if [ "$((s1 - s0))" -eq "$acked" ]; then
		say "$1: log grew from $s0 to $s1: $((s1 - s0)) entries = $acked acknowledged"
	else
		say "$1: MISMATCH: log grew from $s0 to $s1 ($((s1 - s0))) but $acked were acknowledged"
		GROWTH_OK=0
	fi
}

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. and 2.: the bound, then the two kinds of proposals ----
step "ed25519 verification rate (before the proposals)"
rate before 13
step "proposals with 1 signature, in batches of $BATCH: $COUNT, or ${MAXSEC} s"
phase sig1 1 "$COUNT" "$MAXSEC" 5 batch
P1=$RES
P1_CPU=$NODE_CPU
P1_MACHINE=$MACHINE
step "proposals with 1 signature, one request each: $REQ_COUNT, or ${MAXSEC} s"
phase sig1req 1 "$REQ_COUNT" "$MAXSEC" 5 run
Q1=$RES
Q1_CPU=$NODE_CPU
Q1_MACHINE=$MACHINE
step "ed25519 verification rate (between)"
rate between 1
step "proposals with 3 signatures, in batches of $BATCH: $COUNT, or ${MAXSEC} s"
phase sig3 3 "$COUNT" "$MAXSEC" 5 batch
P3=$RES
P3_CPU=$NODE_CPU
P3_MACHINE=$MACHINE
step "proposals with 3 signatures, one request each: $REQ_COUNT, or ${MAXSEC} s"
phase sig3req 3 "$REQ_COUNT" "$MAXSEC" 5 run
Q3=$RES
Q3_CPU=$NODE_CPU
Q3_MACHINE=$MACHINE
step "ed25519 verification rate (after the proposals)"
rate after 1

# ---- 3.: profile of the node under 1-signature load ----
PROF=
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null &&
	perf record -q -e cpu-clock -o "$W/perf.probe" -- true >/dev/null 2>&1; then
	step "profile: perf record on concordd during 1-signature load (cpu-clock, then context switches)"
	OFFCPU=0
	perf record -q -e sched:sched_switch -o "$W/perf.probe" -- true >/dev/null 2>&1 && OFFCPU=1
	# On CPU from 2 s to 8 s, then where the threads block (sched_switch) from 9 s to 12 s.
	(
		sleep 2
		# 64 KB of stack per sample: libzscanner's state lives on the stack, and with less the
		# unwinder loses the callers of the zone parser.
		perf record -q -e cpu-clock -F 499 --call-graph dwarf,65528 -p "$NODE_PID" \
			-o "$W/perf.data" -- sleep 6
		sleep 1
		if [ "$OFFCPU" = 1 ]; then
			exec perf record -q -e sched:sched_switch --call-graph dwarf,16384 -p "$NODE_PID" \
				-o "$W/offcpu.data" -- sleep 3
		fi
	) >"$W/perf.log" 2>&1 &
	PERF_PID=$!
	phase profile 1 80000 14 0 batch
	PPROF=$RES
	PPROF_CPU=$NODE_CPU
	wait "$PERF_PID" || true
	PERF_PID=
	[ -s "$W/perf.data" ] && PROF=1
else
	say "profile: skipped (BENCH_PROFILE=0 or perf cannot record here)"
fi

# ---- 4.: fill the log, then replay it from outside ----
SIZE=$(log_size)
FILL_ACKED=0
if [ "$SIZE" -lt "$REPLAY" ]; then
	step "fill: $((REPLAY - SIZE)) more 1-signature proposals to reach $REPLAY entries"
	phase fill 1 "$((REPLAY - SIZE))" 1200 10 batch
	FILL_ACKED=$(kv "$RES" acked)
fi
step "ed25519 verification rate (before the replay)"
rate before-replay 1

step "replay: $C verify $URL"
SIZE=$(log_size)
VERIFY_OK=1
TIMEFORMAT='%R %U %S'
{ time "$C" verify "$URL" >"$W/verify.out" 2>&1 || VERIFY_OK=0; } 2>"$W/verify.time"
cat "$W/verify.out" >&2
step "ed25519 verification rate (after the replay)"
rate after-replay 1
read -r VWALL VUSER VSYS <"$W/verify.time"
VCPUTIME=$(calc "%.2f" "$VUSER + $VSYS")
VLINE=$(grep '^replayed' "$W/verify.out" || true)
VENTRIES=$(printf '%s\n' "$VLINE" | sed -n 's/^replayed \([0-9]*\) entries.*/\1/p')
VRATE=$(printf '%s\n' "$VLINE" | sed -n 's/.*: \([0-9.]*\) entries\/s.*/\1/p')
[ -n "$VENTRIES" ] || VENTRIES=$SIZE
[ -n "$VRATE" ] || VRATE=0

# Signatures in the log: genesis (every founder), the joining proposal, and every acknowledged
# proposal (every proposal entry carries exactly its counted signatures).
A1=$(kv "$P1" acked)
A3=$(kv "$P3" acked)
AQ1=$(kv "$Q1" acked)
AQ3=$(kv "$Q3" acked)
AP=0
if [ -n "${PPROF:-}" ]; then AP=$(kv "$PPROF" acked); fi
SIGS=$((FOUNDERS + APPROVALS + A1 + AQ1 + 3 * (A3 + AQ3) + AP + FILL_ACKED))
GENESIS_ENTRIES=$("$C" genesis show "$W/genesis" | sed -n 's/^entries \([0-9]*\).*/\1/p')
EXPECT=$((GENESIS_ENTRIES + 1 + A1 + AQ1 + A3 + AQ3 + AP + FILL_ACKED))
[ "$EXPECT" -eq "$SIZE" ] || say "note: log size $SIZE, expected $EXPECT from the counts"
SPE=$(calc "%.4f" "$SIGS / $VENTRIES")

# ---- the bound ----
# Measurements 0 (before sig1), 1 (between), 2 (after sig3), 3 (before the replay), 4 (after).
# Other processes on a shared machine change the rate from one minute to the next, so each
# phase is compared with the mean of the two measurements around it; the medians of all of
# them describe the machine.
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
M2=$(median "${RATES2[@]}")
MAX2=$(printf '%s\n' "${RATES2[@]}" | sort -n | tail -n 1)
M1=$(median "${RATES1[@]}")
VCPU=$(median "${PERCPU[@]}")
around() { # ARRAY-NAME I J: mean of two measurements
	local -n a=$1
	calc "%.0f" "(${a[$2]} + ${a[$3]}) / 2"
}
B2_1=$(around RATES2 0 1); B1_1=$(around RATES1 0 1); C_1=$(around PERCPU 0 1)
B2_3=$(around RATES2 1 2); B1_3=$(around RATES1 1 2); C_3=$(around PERCPU 1 2)
B2_R=$(around RATES2 3 4); B1_R=$(around RATES1 3 4); C_R=$(around PERCPU 3 4)

# ---- the profile ----
if [ -n "$PROF" ]; then
	step "profile of concordd during 1-signature load ($(kv "$PPROF" rate) proposals/s under perf, node CPU $(calc "%.0f" "$PPROF_CPU * 1e6 / $(kv "$PPROF" acked)") us/proposal; reports in $OUT/)"
	perf report -i "$W/perf.data" --stdio --no-children --sort comm -g none 2>/dev/null |
		grep -E '^ +[0-9]' >"$OUT/profile-threads.txt" || true
	perf report -i "$W/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
		grep -E '^ +[0-9]' >"$OUT/profile-dso.txt" || true
	perf report -i "$W/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null \
		>"$OUT/profile-self.txt" || true
	perf report -i "$W/perf.data" --stdio --children --sort sym -g none 2>/dev/null \
		>"$OUT/profile-inclusive.txt" || true
	perf report -i "$W/perf.data" --stdio --children --sort sym -g graph,0.5,caller,function,percent \
		--percent-limit 3 2>/dev/null >"$OUT/profile-callgraph.txt" || true
	perf report -i "$W/perf.data" --stdio --no-children --sort sym -g folded,0,caller,function,percent \
		2>/dev/null >"$OUT/profile-folded.txt" || true
	/usr/bin/python3 bench/perf_tree.py 1.0 12 <"$OUT/profile-folded.txt" >"$OUT/profile-tree.txt" || true
	printf 'node CPU by thread (samples):\n' >&2
	sed 's/^/  /' "$OUT/profile-threads.txt" >&2
	printf 'node CPU by library (self samples):\n' >&2
	awk '$1 + 0 >= 0.5 {print "  " $0}' "$OUT/profile-dso.txt" >&2 || true
	printf 'where the node spends its CPU: inclusive call tree, >= 1%% of samples (MHD-worker:\n' >&2
	printf '  api_route and below; committer: node_committer; names only, stripped frames dropped):\n' >&2
	awk 'n++ < 90' "$OUT/profile-tree.txt" >&2 || true
	if [ -s "$W/offcpu.data" ]; then
		perf report -i "$W/offcpu.data" --stdio --no-children --sort sym \
			-g folded,0,caller,function,percent 2>/dev/null >"$OUT/offcpu-folded.txt" || true
		/usr/bin/python3 bench/perf_tree.py 2.0 14 <"$OUT/offcpu-folded.txt" |
			grep -v '\[kernel\]$' >"$OUT/offcpu-tree.txt" || true
		printf 'where the node threads block: context switches (sched_switch) by call path, >= 2%%:\n' >&2
		awk 'n++ < 60' "$OUT/offcpu-tree.txt" >&2 || true
	fi
	printf 'inclusive (children) cost, named functions of the node and core, >= 1.5%% of samples:\n' >&2
	grep -E '^ +[0-9.]+% +[0-9.]+% +\[.\] [a-zA-Z_]' "$OUT/profile-inclusive.txt" |
		grep -vE '\] (clone3|start_thread|entry_SYSCALL|do_syscall_64|x64_sys_call)' |
		awk '$1 + 0 >= 1.5 && n++ < 45 {print "  " $0}' >&2 || true
	printf 'self cost, top 25:\n' >&2
	grep -E '^ +[0-9.]+%' "$OUT/profile-self.txt" | awk 'n++ < 25 {print "  " $0}' >&2 || true
fi

# ---- the table ----
R1_1=$(kv "$P1" rate)
R3_1=$(kv "$P3" rate)
RQ1=$(kv "$Q1" rate)
RQ3=$(kv "$Q3" rate)
row() { calc "%.3f" "$1"; }
dso_share() { # the profile's self samples in libraries matching $1, in %
	awk -v p="$1" '$2 ~ p {s += $1} END {printf "%.1f", s + 0}' "$OUT/profile-dso.txt"
}
detail() { # RESULT NODE_CPU SIGS MACHINE PER-CPU-RATE
	local a us
	a=$(kv "$1" acked)
	us=$(calc "%.0f" "$2 * 1e6 / $a")
	if [ -n "$(kv "$1" batch)" ]; then
		printf '    %s sent in batches of %s (signed beforehand), %s accepted in %s s, %s refused; batch latency p50 %s ms, p99 %s ms\n' \
			"$(kv "$1" sent)" "$(kv "$1" batch)" "$a" "$(kv "$1" seconds)" "$(kv "$1" errors)" \
			"$(kv "$1" p50_ms)" "$(kv "$1" p99_ms)"
	else
		printf '    %s sent, %s acked (201) in %s s, %s other answers; latency p50 %s ms, p99 %s ms; %s connections\n' \
			"$(kv "$1" sent)" "$a" "$(kv "$1" seconds)" "$(kv "$1" errors)" "$(kv "$1" p50_ms)" \
			"$(kv "$1" p99_ms)" "$(kv "$1" conns)"
	fi
	printf '    %s\n' "$4"
	printf '    node CPU %s us/proposal, of which %s would be its signature checks: CPU-time ratio %s\n' \
		"$us" "$(calc "%.0f" "$3 * 1e6 / $5")" "$(row "$3 * 1e6 / $5 / $us")"
}
{
	printf '\n== bench-ledger: %s, %s cores, %s states, concordd over HTTP on loopback\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$NSTATES"
	printf 'ed25519 verify: 1 thread %s/s, 2 threads %s/s (medians of 5; the bound is the 2-thread rate)\n' \
		"$M1" "$M2"
	printf '    crypto_sign_verify_detached on the proposal bodies sent (%s bytes), %s s each;\n' \
		"$MSG_BYTES" "$RATE_SECONDS"
	printf '    2 threads: %s; 1 thread: %s (before sig1, between, after sig3, before and after the replay)\n' \
		"${RATES2[*]}" "${RATES1[*]}"
	printf '    each ratio below divides by the mean of the 2 measurements around its phase; best 2-thread: %s\n' \
		"$MAX2"
	printf '    others meanwhile (cores): %s; per CPU-second %s (%s us each)\n' "${RATE_OTHERS[*]}" \
		"$VCPU" "$(calc "%.1f" "1e6 / $VCPU")"
	printf '    3-put bodies (%s bytes): 1 thread %s/s, 2 threads %s/s; load generator signs in %s us\n' \
		"$(kv "$RATE3_LINE" avg_bytes)" "$(kv "$RATE3_LINE" threads1)" "$(kv "$RATE3_LINE" threads2)" \
		"$SIGN_US"
	printf 'proposals, 1 sig:  %7.1f/s   ratio %s*1/%s = %s   (vs 1 thread %s: %s; vs best: %s)\n' \
		"$R1_1" "$R1_1" "$B2_1" "$(row "$R1_1 / $B2_1")" "$B1_1" "$(row "$R1_1 / $B1_1")" \
		"$(row "$R1_1 / $MAX2")"
	detail "$P1" "$P1_CPU" 1 "$P1_MACHINE" "$C_1"
	if [ -n "$PROF" ] && [ -s "$OUT/profile-dso.txt" ]; then
		printf '    under perf (the profile, the same load): %s %% of the node CPU in libsodium (its signature checks), %s %% SQLite, %s %% kernel\n' \
			"$(dso_share libsodium)" "$(dso_share libsqlite3)" "$(dso_share kernel)"
	fi
	printf '  one request per proposal: %7.1f/s   ratio %s\n' "$RQ1" "$(row "$RQ1 / $B2_1")"
	detail "$Q1" "$Q1_CPU" 1 "$Q1_MACHINE" "$C_1"
	printf 'proposals, 3 sigs: %7.1f/s   ratio %s*3/%s = %s   (vs 1 thread %s: %s; vs best: %s)\n' \
		"$R3_1" "$R3_1" "$B2_3" "$(row "$R3_1 * 3 / $B2_3")" "$B1_3" "$(row "$R3_1 * 3 / $B1_3")" \
		"$(row "$R3_1 * 3 / $MAX2")"
	detail "$P3" "$P3_CPU" 3 "$P3_MACHINE" "$C_3"
	printf '  one request per proposal: %7.1f/s   ratio %s\n' "$RQ3" "$(row "$RQ3 * 3 / $B2_3")"
	detail "$Q3" "$Q3_CPU" 3 "$Q3_MACHINE" "$C_3"
	printf 'verify replay (%s entries): %s entries/s, %s sigs/entry   ratio %s*%s/%s = %s   (vs 1 thread %s: %s; vs best: %s)\n' \
		"$VENTRIES" "$VRATE" "$SPE" "$VRATE" "$SPE" "$B2_R" "$(row "$VRATE * $SPE / $B2_R")" \
		"$B1_R" "$(row "$VRATE * $SPE / $B1_R")" "$(row "$VRATE * $SPE / $MAX2")"
	printf '    end to end %s s = %s entries/s, ratio %s%s\n' "$VWALL" \
		"$(calc "%.0f" "$VENTRIES / $VWALL")" "$(row "$VENTRIES / $VWALL * $SPE / $B2_R")" \
		"$([ "$VERIFY_OK" = 1 ] && echo "" || echo "   VERIFY FAILED (see above)")"
	printf '    CPU %s s (%s cores) = %s us/entry, of which %s would be signature checks: CPU-time ratio %s\n' \
		"$VCPUTIME" "$(calc "%.2f" "$VCPUTIME / $VWALL")" "$(calc "%.0f" "$VCPUTIME * 1e6 / $VENTRIES")" \
		"$(calc "%.0f" "$SPE * 1e6 / $C_R")" "$(row "$SPE * $VENTRIES / $C_R / $VCPUTIME")"
	printf 'goal: ratios >= 0.80 against the 2-thread bound%s\n' \
		"$([ "$GROWTH_OK" = 1 ] && echo "; log growth = acknowledged in every phase" || echo "; LOG GROWTH MISMATCH (see above)")"
} | tee "$OUT/ledger-last.txt"

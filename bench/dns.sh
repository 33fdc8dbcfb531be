#!/usr/bin/env bash
# make bench-dns: concordd's authoritative DNS server next to NSD and Knot, on the same signed
# root zone, the same machine, the same query mix.
#
# One node over the real root zone (data/root/root-2025082000.zone; the five members and two
# name servers of tests/integration/test_dns.py) serves its signed zone with one UDP worker;
# NSD (server-count 1) and Knot (one UDP, one TCP, one background worker) load exactly that
# zone, as the master file `concord root zone` prints. Every server is pinned to core 1
# (BENCH_SERVER_CPU), dnsperf to core 0 (BENCH_CLIENT_CPU); everything listens on 127.0.0.1
# only, on free ports. The query mix is test_dns.py's (bench/dns_queries.py draws it with the
# same seed): TLD names, names below delegations, non-existent TLDs, the apex, ten types, half
# of them with EDNS0 and the DO bit, over UDP.
#
# Why dnsperf -B and not -D: -D sets the DO bit on every query, and a dnsperf text data file
# has no per-line DO flag, so one dnsperf process cannot send a mix with and without DO from
# a text file (two processes, one with -D, would split the client over two schedulers and
# two sockets). -B reads queries in wire form, which carry their own EDNS0 OPT record with DO
# (or no EDNS at all), exactly as the test builds them; dnsperf only rewrites the ID. (-B
# excludes -D and -e, which would add a second OPT record anyway.)
#
# Printed for each server: CPU microseconds per answered query at a fixed offered rate (50,000
# queries/s, BENCH_ROUNDS runs, median), CPU being utime+stime of *all* the server's
# processes (concordd: one process, all its threads; NSD: xfrd, main and the server child;
# knotd: one process) from /proc/PID/stat before and after the run; the highest offered rate
# answered in full with no loss at all (dnsperf's "Queries lost" exactly 0 and 99 % of the
# rate answered, at most 100 queries in flight; steps up, then bisects); a diagnostic run
# with bursts of up to 1,000 queries against the servers' socket buffers; resident memory
# after the load (VmRSS summed over the processes, and PSS, which
# counts pages NSD's processes share once); Concord's ratios to the better peer. Goals (the
# issue): CPU per query at most 0.8 of the better peer's, memory no higher than NSD's. A
# benchmark, not a test: it never fails on a goal, only when it cannot do its job.
#
# Knobs (environment): BENCH_RATE (fixed offered rate, 50000), BENCH_SECONDS (each fixed-rate
# run, 6), BENCH_ROUNDS (5), BENCH_STEP_SECONDS (each run of the rate search, 3), BENCH_STEPS
# ("25000 50000 75000 100000 150000 200000"), BENCH_BISECT (3), BENCH_INFLIGHT (dnsperf -q, 100),
# BENCH_BURST_INFLIGHT (1000; 0 skips that run), BENCH_QUERIES (10000),
# BENCH_CHECK (queries whose answers are compared across the servers, 2000; 0 for none),
# BENCH_CHANGES (changes timed from the node's acknowledgement to DNS, 20; 0 for none),
# BENCH_PROFILE (1; 0 skips perf), BENCH_NSD_RCVBUF (NSD's receive-buffer-size; unset: NSD's
# own default, 1 MB), BENCH_SERVER_CPU (1), BENCH_CLIENT_CPU (0), BENCH_KEEP (1 keeps the work
# directory), CONCORD_BUILD (build). The summary also goes to build/bench-dns-last.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
C="$B/concord"
CD="$B/concordd"
ZONE=data/root/root-2025082000.zone
RATE=${BENCH_RATE:-50000}
RUN_SECONDS=${BENCH_SECONDS:-6}
ROUNDS=${BENCH_ROUNDS:-5}
STEP_SECONDS=${BENCH_STEP_SECONDS:-3}
STEPS=${BENCH_STEPS:-"25000 50000 75000 100000 150000 200000"}
BISECT=${BENCH_BISECT:-3}
NQUERIES=${BENCH_QUERIES:-10000}
CHECK=${BENCH_CHECK:-2000}
CHANGES=${BENCH_CHANGES:-20} # changes timed from acknowledgement to DNS (0: none)
# dnsperf -q, queries in flight at most: dnsperf's default. dnsperf catches up on a late
# start in bursts of up to that many queries; with more (1,000), a server on the kernel's
# default UDP receive buffer (208 KB, about 270 queries) drops queries at half a core while
# NSD (which asks for 1 MB) does not: that measures socket buffers and dnsperf's bursts, not
# the servers. BURST_INFLIGHT shows it in one run per server.
INFLIGHT=${BENCH_INFLIGHT:-100}
BURST_INFLIGHT=${BENCH_BURST_INFLIGHT:-1000}
PROFILE=${BENCH_PROFILE:-1}
SCPU=${BENCH_SERVER_CPU:-1}
CCPU=${BENCH_CLIENT_CPU:-0}
PY=/usr/bin/python3 # as the Makefile: python3-dnspython is a Debian package
H=bench/dns_queries.py
OUT="$B/bench"
ORIGIN=bench.concord.example/dns
MEMBERS=(cn:government br:government za:government de:government isoc:technical)
NAMESERVERS=("cn=ns.cn.root.concord.example.,192.0.2.53,2001:db8::53"
	"isoc=ns.isoc.root-servers.net.,198.51.100.7")

say() { printf '%s\n' "$*" >&2; }
step() { printf '\n== %s\n' "$*" >&2; }
die() { say "bench-dns: $*"; exit 1; }

for f in "$C" "$CD" "$ZONE"; do [ -e "$f" ] || die "$f missing (make build)"; done
for t in dnsperf nsd knotd taskset; do
	command -v "$t" >/dev/null || die "$t is needed (dnsperf, nsd, knot-dnsd, util-linux)"
done
"$PY" -c 'import dns.message' 2>/dev/null || die "$PY with dnspython is needed (python3-dnspython)"
[ "$(nproc)" -ge 2 ] || die "two cores are needed: one for the servers, one for dnsperf"
[ "$SCPU" != "$CCPU" ] || die "BENCH_SERVER_CPU and BENCH_CLIENT_CPU must differ"

# ---- work directory and processes, all cleaned up on exit ----
W=$(mktemp -d "${TMPDIR:-/tmp}/concord-bench-dns.XXXXXX")
SERVERS=() # pids of the servers started (each the root of its process tree)
DP_PID=    # dnsperf running
PERF_PID=
ptree() { # PID: it and all its descendants, one a line
	local c
	[ -d "/proc/$1" ] || return 0
	printf '%s\n' "$1"
	# shellcheck disable=SC2013
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do ptree "$c"; done
}
stop_tree() { # PID: TERM the process, wait up to 10 s for it and its descendants, then KILL
	local p=$1 all q alive
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
	all=$(ptree "$p")
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 100); do
		alive=
		for q in $all; do kill -0 "$q" 2>/dev/null && alive=1; done
		[ -n "$alive" ] || return 0
		sleep 0.1
	done
	for q in $all; do kill -KILL "$q" 2>/dev/null || true; done
}
cleanup() {
	local rc=$? p
	[ -z "$DP_PID" ] || stop_tree "$DP_PID"
	[ -z "$PERF_PID" ] || stop_tree "$PERF_PID"
	for p in "${SERVERS[@]}"; do stop_tree "$p"; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "bench-dns: kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of the binaries: the build directory may be rebuilt while the bench runs, and the
# profile needs the very binary that ran.
mkdir -p "$W/bin" "$OUT"
cp "$C" "$CD" "$W/bin/"
C="$W/bin/concord"
CD="$W/bin/concordd"

# ---- the node ----
step "setup: keys, genesis over the real root zone, one node (work dir $W)"
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$W/keys"
args=()
for m in "${MEMBERS[@]}"; do
	"$C" keygen "${m%%:*}" --dir "$W/keys" >/dev/null
	args+=(--member "${m%%:*}:${m#*:}:$W/keys/${m%%:*}.pub")
done
for d in "${NAMESERVERS[@]}"; do args+=(--dns "$d"); done
"$C" genesis new --origin "$ORIGIN" "${args[@]}" --root-zone "$ZONE" --consultation 0 \
	-o "$W/genesis" >&2
for m in "${MEMBERS[@]}"; do "$C" genesis sign "$W/genesis" --key "$W/keys/${m%%:*}.key" >/dev/null; done
"$C" node init "$W/node" --genesis "$W/genesis" --key "$W/keys/cn.key" >&2
# The same node once more, for one figure: its DNS server without the answer cache.
cp -a "$W/node" "$W/node-nc"

# start_node DIR [ARGS]: a concordd on DIR, serving DNS on core SCPU with one UDP worker;
# sets NODE_PID URL CPORT SERIAL once it serves its zone.
start_node() {
	local dir=$1 log=$1.log
	shift
	: >"$log"
	taskset -c "$SCPU" "$CD" "$dir" --http 127.0.0.1:0 --dns 127.0.0.1:0 --dns-workers 1 "$@" \
		2>>"$log" &
	NODE_PID=$!
	SERVERS+=("$NODE_PID")
	CPORT= URL= SERIAL=
	for _ in $(seq 600); do # 60 s at most
		URL=$(sed -n 's|.* at \(http://127\.0\.0\.1:[0-9][0-9]*\)/.*|\1|p' "$log" | head -n 1)
		CPORT=$(sed -n 's|^concordd: DNS on .* port \([0-9][0-9]*\) .*|\1|p' "$log" | head -n 1)
		SERIAL=$(sed -n 's|.*serving zone serial \([0-9][0-9]*\) over DNS.*|\1|p' "$log" | tail -n 1)
		[ -n "$URL" ] && [ -n "$CPORT" ] && [ -n "$SERIAL" ] && break
		kill -0 "$NODE_PID" 2>/dev/null || { cat "$log" >&2; die "concordd did not start"; }
		sleep 0.1
	done
	[ -n "$SERIAL" ] || { cat "$log" >&2; die "concordd did not publish its zone"; }
	say "concordd $* pid $NODE_PID: HTTP $URL, DNS 127.0.0.1 port $CPORT, zone serial $SERIAL"
}
start_node "$W/node-nc" --dns-cache 0
NC_PID=$NODE_PID NC_PORT=$CPORT NC_SERIAL=$SERIAL
start_node "$W/node"
[ "$NC_SERIAL" = "$SERIAL" ] || die "the copy of the node serves serial $NC_SERIAL, not $SERIAL"

# ---- the zone it serves, to the peers ----
"$C" root zone --node "$URL" >"$W/root.zone"
RECORDS=$(grep -c . "$W/root.zone")
[ "$RECORDS" -gt 1000 ] || die "the node's zone has only $RECORDS records"
awk '$1 == "." && $4 == "SOA" {print $7}' "$W/root.zone" | grep -qx "$SERIAL" ||
	die "the zone fetched is not serial $SERIAL"
say "zone: $RECORDS records, serial $SERIAL ($(awk '{print $4}' "$W/root.zone" | sort | uniq -c |
	awk '{printf "%s%s %s", n++ ? ", " : "", $2, $1}'))"
"$PY" "$H" build "$W/root.zone" "$NQUERIES" "$W/queries.bin" >"$W/mix.txt"
MIX=$(cat "$W/mix.txt")
say "query mix: $MIX"

wait_serial() { # LABEL PORT PID LOG: until the server answers the node's serial (60 s)
	for _ in $(seq 300); do
		[ "$("$PY" "$H" soa "$2")" = "$SERIAL" ] && return 0
		kill -0 "$3" 2>/dev/null || { cat "$4" >&2 || true; die "$1 exited"; }
		sleep 0.2
	done
	cat "$4" >&2 || true
	die "$1 does not serve serial $SERIAL on port $2"
}

NPORT=$("$PY" "$H" port)
mkdir -p "$W/nsd"
cp "$W/root.zone" "$W/nsd/root.zone"
NSD_BUF=
[ -z "${BENCH_NSD_RCVBUF:-}" ] || NSD_BUF="receive-buffer-size: $BENCH_NSD_RCVBUF"
# As test_dns.py configures it, with one server process.
cat >"$W/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $NPORT
    username: ""
    chroot: ""
    zonesdir: "$W/nsd"
    zonelistfile: "$W/nsd/zone.list"
    xfrdfile: "$W/nsd/xfrd.state"
    xfrdir: "$W/nsd"
    pidfile: "$W/nsd/nsd.pid"
    database: ""
    logfile: "$W/nsd/nsd.log"
    server-count: 1
    rrl-ratelimit: 0
    minimal-responses: yes
    refuse-any: no
    $NSD_BUF
remote-control:
    control-enable: no
zone:
    name: "."
    zonefile: "root.zone"
EOF
taskset -c "$SCPU" nsd -d -c "$W/nsd/nsd.conf" >"$W/nsd/out.log" 2>&1 &
NSD_PID=$!
SERVERS+=("$NSD_PID")
wait_serial nsd "$NPORT" "$NSD_PID" "$W/nsd/nsd.log"

KPORT=$("$PY" "$H" port)
mkdir -p "$W/knot/db"
cp "$W/root.zone" "$W/knot/root.zone"
# The zone as it is: no signing (dnssec-signing off), its ZONEMD checked once at load, no
# journal, never written back.
cat >"$W/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$KPORT
    rundir: $W/knot
    user: $(id -un):$(id -gn)
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $W/knot/db
log:
  - target: $W/knot/knot.log
    any: info
zone:
  - domain: .
    file: $W/knot/root.zone
    dnssec-signing: off
    zonemd-verify: on
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
EOF
taskset -c "$SCPU" knotd -c "$W/knot/knot.conf" >"$W/knot/out.log" 2>&1 &
KNOT_PID=$!
SERVERS+=("$KNOT_PID")
wait_serial knotd "$KPORT" "$KNOT_PID" "$W/knot/knot.log"
grep -q 'ZONEMD, verification successful' "$W/knot/knot.log" &&
	say "knotd checked the zone's ZONEMD: verification successful"

NAMES=(concordd nsd knotd)
# concordd-nc (no answer cache) takes its turn in the CPU-per-answer rounds only.
NAMES_CPU=(concordd concordd-nc nsd knotd)
declare -A PID=([concordd]=$NODE_PID [concordd-nc]=$NC_PID [nsd]=$NSD_PID [knotd]=$KNOT_PID)
declare -A PORT=([concordd]=$CPORT [concordd-nc]=$NC_PORT [nsd]=$NPORT [knotd]=$KPORT)
pinfo() { # NAME: its processes, their names and CPU affinity
	local p out=
	for p in $(ptree "${PID[$1]}"); do
		out+="$(cat "/proc/$p/comm") ($p, cpus $(taskset -cp "$p" | sed 's/.*: //')); "
	done
	printf '%s\n' "${out%; }"
}
rcvbuf() { # PORT: the receive buffer of the UDP socket(s) on that port, in KB
	command -v ss >/dev/null || { echo "?"; return; }
	ss -Hulnm "sport = :$1" 2>/dev/null | grep -o 'rb[0-9]*' | sed 's/rb//' |
		awk '{printf "%s%d", n++ ? "+" : "", $1 / 1024} END {if (!n) printf "?"}'
}
for s in "${NAMES[@]}"; do
	say "$s on 127.0.0.1 port ${PORT[$s]}, UDP receive buffer $(rcvbuf "${PORT[$s]}") KB: $(pinfo "$s")"
done

# ---- the same answers? ----
CHECK_LINES=
if [ "$CHECK" -gt 0 ]; then
	step "answers: the first $CHECK queries of the mix to each server, compared with NSD's"
	CHECK_LINES=$("$PY" "$H" check "$W/queries.bin" "$CHECK" "nsd=$NPORT" "concordd=$CPORT" \
		"knotd=$KPORT")
	say "$CHECK_LINES"
fi

# ---- measuring ----
TICK=$(getconf CLK_TCK)
proc_ticks() { # PID: utime + stime (all its threads)
	local s
	read -r s <"/proc/$1/stat" 2>/dev/null || { echo 0; return; }
	s=${s##*) } # the command name may hold spaces ("nsd: server 1")
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}
server_ticks() { # NAME: summed over its processes
	local p t=0
	for p in $(ptree "${PID[$1]}"); do t=$((t + $(proc_ticks "$p"))); done
	echo "$t"
}
child_ticks() { # CPU of this shell's waited-for children (dnsperf) so far: cutime + cstime
	local s
	read -r s <"/proc/$$/stat"
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${14} + ${15}))
}
busy_ticks() { # CORE: its busy ticks (user, nice, system, irq, softirq, steal)
	awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
sock_drops() { # PORT: datagrams the kernel dropped on the server's UDP socket(s)
	awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" {d += $NF} END {print d + 0}' /proc/net/udp
}
rcvbuf_errors() { # UDP receive-buffer drops on the whole machine
	awk '/^Udp:/ {if (!h) {for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1}
		else {print $c + 0; exit}}' /proc/net/snmp
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
field() { sed -n "s/^ *$1: *\([0-9.]*\).*/\1/p" "$2" | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# run NAME RATE SECONDS [IN-FLIGHT]: one dnsperf run. Sets R_SENT R_DONE R_LOST R_QPS R_CODES
# R_LAT R_US (server CPU us per answered query) R_CORES (server) R_CLIENT (dnsperf, cores)
# R_OTHERS R_OTHERS_C (others' share of the server's core, of dnsperf's) R_DROPS (server
# socket) R_ELSE (other UDP receive-buffer drops on the machine: dnsperf's, or others')
# R_FULL (answered at the offered rate, 99 %) R_CLIENT_BUSY (dnsperf's core was full, the
# server's not) R_LINE
run() {
	local s=$1 rate=$2 secs=$3 q=${4:-$INFLIGHT} out="$W/dnsperf.out"
	local s0 s1 c0 c1 b0 b1 a0 a1 d0 d1 e0 e1 t0 t1 wall
	s0=$(server_ticks "$s")
	c0=$(child_ticks)
	b0=$(busy_ticks "$SCPU")
	a0=$(busy_ticks "$CCPU")
	d0=$(sock_drops "${PORT[$s]}")
	e0=$(rcvbuf_errors)
	t0=$(date +%s.%N)
	# -q: queries in flight at most (see INFLIGHT); -t 1: a query unanswered after 1 s is
	# lost; -b: a 2 MB receive buffer for dnsperf itself.
	taskset -c "$CCPU" dnsperf -B -d "$W/queries.bin" -s 127.0.0.1 -p "${PORT[$s]}" \
		-l "$secs" -Q "$rate" -t 1 -q "$q" -b 2048 -O suppress=timeouts,unexpected \
		>"$out" 2>&1 &
	DP_PID=$!
	wait "$DP_PID" || { DP_PID=; cat "$out" >&2; die "dnsperf failed against $s"; }
	DP_PID=
	t1=$(date +%s.%N)
	e1=$(rcvbuf_errors)
	d1=$(sock_drops "${PORT[$s]}")
	b1=$(busy_ticks "$SCPU")
	a1=$(busy_ticks "$CCPU")
	c1=$(child_ticks)
	s1=$(server_ticks "$s")
	kill -0 "${PID[$s]}" 2>/dev/null || die "$s died under load"
	R_SENT=$(field "Queries sent" "$out")
	R_DONE=$(field "Queries completed" "$out")
	R_LOST=$(field "Queries lost" "$out")
	R_QPS=$(field "Queries per second" "$out")
	R_LAT=$(calc "%.0f" "$(field "Average Latency (s)" "$out") * 1e6")
	[ -n "$R_SENT" ] && [ -n "$R_DONE" ] && [ -n "$R_LOST" ] && [ -n "$R_QPS" ] ||
		{ cat "$out" >&2; die "dnsperf printed no statistics"; }
	R_CODES=$(sed -n 's/^ *Response codes: *//p' "$out" | sed 's/ ([0-9.]*%)//g')
	wall=$(calc "%.3f" "$t1 - $t0")
	R_US=$(calc "%.2f" "($s1 - $s0) / $TICK * 1e6 / ($R_DONE > 0 ? $R_DONE : 1)")
	R_CORES=$(calc "%.2f" "($s1 - $s0) / $TICK / $secs")
	R_CLIENT=$(calc "%.2f" "($c1 - $c0) / $TICK / $secs")
	# Others on each core: the core's busy time less the server's (or dnsperf's). Process and
	# core counters are sampled apart: small negative values mean 0.
	R_OTHERS=$(calc "%.2f" "(($b1 - $b0) - ($s1 - $s0)) / $TICK / $wall")
	R_OTHERS=$(calc "%.2f" "($R_OTHERS > 0 ? $R_OTHERS : 0)")
	R_OTHERS_C=$(calc "%.2f" "(($a1 - $a0) - ($c1 - $c0)) / $TICK / $wall")
	R_OTHERS_C=$(calc "%.2f" "($R_OTHERS_C > 0 ? $R_OTHERS_C : 0)")
	R_DROPS=$((d1 - d0))
	R_ELSE=$((e1 - e0 - R_DROPS))
	[ "$R_ELSE" -ge 0 ] || R_ELSE=0
	R_FULL=$(calc "%d" "($R_QPS >= 0.99 * $rate)")
	# The client is the limit when dnsperf's core was full (dnsperf and others on it) and the
	# server's was not.
	R_CLIENT_BUSY=$(calc "%d" "($R_CLIENT + $R_OTHERS_C >= 0.9 && $R_CORES + $R_OTHERS < 0.9)")
	R_LINE=$(printf '%s @ %d/s for %s s, -q %s: sent %s, lost %s (%s%%), %s answered/s, latency %s us; %s us CPU/answer (%s cores); dnsperf %s cores; others on core %s %s, on core %s %s; socket drops %s (elsewhere %s); %s' \
		"$s" "$rate" "$secs" "$q" "$R_SENT" "$R_LOST" "$(calc "%.3f" "100 * $R_LOST / ($R_SENT > 0 ? $R_SENT : 1)")" \
		"$(calc "%.0f" "$R_QPS")" "$R_LAT" "$R_US" "$R_CORES" "$R_CLIENT" "$SCPU" "$R_OTHERS" "$CCPU" "$R_OTHERS_C" \
		"$R_DROPS" "$R_ELSE" "$R_CODES")
	[ "$R_FULL" = 1 ] || R_LINE+="; NOT ALL ANSWERED AT THE RATE"
	[ "$R_CLIENT_BUSY" = 0 ] || R_LINE+=" (dnsperf's core was full)"
	say "  $R_LINE"
}

# ---- 1. CPU per answered query at the fixed rate ----
step "CPU per answered query at $RATE queries/s: $ROUNDS rounds of $RUN_SECONDS s per server"
declare -A US LOSTS OTHERS CODES LAT
FULLNOTE=
for r in $(seq "$ROUNDS"); do
	for s in "${NAMES_CPU[@]}"; do
		run "$s" "$RATE" "$RUN_SECONDS"
		US[$s]+="$R_US "
		LOSTS[$s]+="$(calc "%.3f" "100 * $R_LOST / $R_SENT") "
		OTHERS[$s]+="$R_OTHERS "
		LAT[$s]+="$R_LAT "
		CODES[$s]=$R_CODES
		[ "$R_FULL" = 1 ] || FULLNOTE+="$s answered only $(calc "%.0f" "$R_QPS")/s in round $r; "
	done
done

# ---- 1b. dnsperf's bursts against the servers' socket buffers (a diagnostic) ----
declare -A BURST
if [ "$BURST_INFLIGHT" -gt 0 ]; then
	step "bursts: $RATE queries/s for $STEP_SECONDS s with up to $BURST_INFLIGHT queries in flight"
	for s in "${NAMES[@]}"; do
		run "$s" "$RATE" "$STEP_SECONDS" "$BURST_INFLIGHT"
		BURST[$s]="$R_LOST lost ($R_DROPS socket drops)"
	done
fi

# ---- 2. the highest rate with no loss ----
# A rate passes when dnsperf loses no query at all (exactly 0) and every query is answered at
# that rate (dnsperf's answered queries per second >= 99 % of the offered rate): with at most
# INFLIGHT queries in flight, a server that cannot keep up falls behind (its latency grows,
# the rate answered drops) before its socket buffer overflows. A rate fails after two failed
# runs (a burst from another process can cost a run). A run where dnsperf's core was full
# (dnsperf and others on it) and the server's was not does not count; after four runs the
# limit is the client's and the search stops there. It steps up the list until a rate fails, then bisects between the last pass and that
# failure. The servers take turns at each rate, so that a noisy minute on a shared machine
# falls on all three rather than on one.
# (A server's CPU per answer falls as the rate grows: recvmmsg returns more queries per call.)
declare -A MAXOK MAXNOTE STEPLOG FAIL
attempt() { # NAME RATE -> 0 pass, 1 fail (twice), 2 the client could not offer the rate
	local fails=0
	# At most 4 runs: a run where dnsperf's core was full (often others on it for a while)
	# says nothing about the server, so it does not count as a failure.
	for _ in 1 2 3 4; do
		run "$1" "$2" "$STEP_SECONDS"
		STEPLOG[$1]+="$2:$R_LOST/$(calc "%.0f" "$R_QPS") "
		[ "$R_LOST" -eq 0 ] && [ "$R_FULL" = 1 ] && return 0
		if [ "$R_LOST" -eq 0 ] && [ "$R_CLIENT_BUSY" = 1 ]; then
			sleep 1
			continue
		fi
		fails=$((fails + 1))
		[ "$fails" -lt 2 ] || return 1
	done
	[ "$R_LOST" -eq 0 ] && [ "$R_CLIENT_BUSY" = 1 ] && return 2
	return 1
}
try() { # NAME RATE: one attempt, the outcome into MAXOK, FAIL, MAXNOTE
	local rc=0
	attempt "$1" "$2" || rc=$?
	case $rc in
	0) MAXOK[$1]=$2 ;;
	1) FAIL[$1]=$2 MAXNOTE[$1]="at $2/s: lost $R_LOST, answered $(calc "%.0f" "$R_QPS")/s, server $R_CORES cores, others $R_OTHERS on its core" ;;
	*) FAIL[$1]=client MAXNOTE[$1]="at $2/s dnsperf's core was full: dnsperf $R_CLIENT, others $R_OTHERS_C" ;;
	esac
}
step "the highest offered rate answered in full with no query lost ($STEP_SECONDS s runs, -q $INFLIGHT; steps $STEPS, then $BISECT bisections)"
for s in "${NAMES[@]}"; do MAXOK[$s]=0 FAIL[$s]="" MAXNOTE[$s]="every step passed"; done
for r in $STEPS; do
	for s in "${NAMES[@]}"; do [ -n "${FAIL[$s]}" ] || try "$s" "$r"; done
done
for _ in $(seq "$BISECT"); do
	for s in "${NAMES[@]}"; do
		case ${FAIL[$s]} in "" | client) continue ;; esac
		mid=$(((MAXOK[$s] + FAIL[$s]) / 2000 * 1000))
		[ "$mid" -gt "${MAXOK[$s]}" ] && [ "$mid" -lt "${FAIL[$s]}" ] || continue
		try "$s" "$mid"
	done
done
for s in "${NAMES[@]}"; do say "$s: ${MAXOK[$s]}/s (${MAXNOTE[$s]})"; done

# ---- what concordd says it did (GET /v1/dns) ----
DNSSTATS=$("$PY" -c '
import json, sys, urllib.request
j = json.load(urllib.request.urlopen(sys.argv[1] + "/v1/dns", timeout=10))
u = j["udp"]
print("%d UDP queries, %d answered, %d of them (%.1f %%) from its cache of %d MB, %d truncated"
      % (u["queries"], u["answers"], u["from_cache"], 100.0 * u["from_cache"] / max(u["answers"], 1),
         u["cache_bytes"] >> 20, u["truncated"]))' "$URL" 2>/dev/null) || DNSSTATS="(GET /v1/dns failed)"
say "concordd (GET /v1/dns): $DNSSTATS"

# ---- 3. memory after the load ----
declare -A RSS PSS NPROC
for s in "${NAMES_CPU[@]}"; do
	RSS[$s]=0
	PSS[$s]=0
	NPROC[$s]=0
	for p in $(ptree "${PID[$s]}"); do
		RSS[$s]=$((RSS[$s] + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
		PSS[$s]=$((PSS[$s] + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
		NPROC[$s]=$((NPROC[$s] + 1))
	done
done

# ---- 4. profile (not counted above) ----
PROF_LINES=
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null &&
	perf record -q -e cpu-clock -o "$W/perf.probe" -- true >/dev/null 2>&1; then
	step "profile: perf record on each server during $RATE queries/s (6 s runs, sampled from 1 s to 5 s; files in $OUT/dns-profile-*)"
	for s in "${NAMES[@]}"; do
		pids=$(ptree "${PID[$s]}" | paste -sd, -)
		cg=()
		[ "$s" = concordd ] && cg=(--call-graph "dwarf,16384")
		(
			sleep 1
			exec taskset -c "$CCPU" perf record -q -e cpu-clock -F 999 "${cg[@]}" -p "$pids" \
				-o "$W/perf-$s.data" -- sleep 4
		) >"$W/perf-$s.log" 2>&1 &
		PERF_PID=$!
		run "$s" "$RATE" 6
		wait "$PERF_PID" || true
		PERF_PID=
		[ -s "$W/perf-$s.data" ] || { say "  perf recorded nothing for $s"; continue; }
		perf report -i "$W/perf-$s.data" --stdio --no-children --sort dso -g none 2>/dev/null |
			grep -E '^ +[0-9]' >"$OUT/dns-profile-$s-dso.txt" || true
		perf report -i "$W/perf-$s.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
			grep -E '^ +[0-9]' >"$OUT/dns-profile-$s-self.txt" || true
		line=$(awk '$1 + 0 >= 1 {printf "%s%s %s", n++ ? ", " : "", $2, $1}' "$OUT/dns-profile-$s-dso.txt")
		PROF_LINES+="    $s: $line"$'\n'
		say "$s CPU by binary: $line"
		say "$s self cost, top 15:"
		awk 'n++ < 15 {print "  " $0}' "$OUT/dns-profile-$s-self.txt" >&2
		if [ "$s" = concordd ]; then
			perf report -i "$W/perf-$s.data" --stdio --children --sort sym -g none 2>/dev/null \
				>"$OUT/dns-profile-concordd-inclusive.txt" || true
			perf report -i "$W/perf-$s.data" --stdio --no-children --sort sym \
				-g folded,0,caller,function,percent 2>/dev/null >"$OUT/dns-profile-concordd-folded.txt" || true
			"$PY" bench/perf_tree.py 1.0 10 <"$OUT/dns-profile-concordd-folded.txt" \
				>"$OUT/dns-profile-concordd-tree.txt" || true
			say "concordd inclusive call tree, >= 1% of samples (the kernel below a system call is one frame):"
			awk 'n++ < 70' "$OUT/dns-profile-concordd-tree.txt" >&2 || true
		fi
	done
else
	say "profile: skipped (BENCH_PROFILE=0 or perf cannot record here)"
fi

# ---- a change, from the node's acknowledgement to DNS ----
SERVED=""
if [ "$CHANGES" -gt 0 ]; then
	step "changes: $CHANGES DS changes of cn., each from the node's 201 to its new serial over DNS"
	SERVED=$("$PY" "$H" served "$C" "$URL" "$CPORT" "$W/keys/cn.key" "$CHANGES") ||
		SERVED="(could not measure)"
fi

# ---- the summary ----
declare -A MED
for s in "${NAMES_CPU[@]}"; do
	# shellcheck disable=SC2086
	MED[$s]=$(median ${US[$s]})
done
BEST=nsd
[ "$(calc "%d" "(${MED[knotd]} < ${MED[nsd]})")" = 1 ] && BEST=knotd
BESTMAX=nsd
[ "${MAXOK[knotd]}" -gt "${MAXOK[nsd]}" ] && BESTMAX=knotd
maxtxt() { # NAME: the highest rate passed; ">=" when the search ended without a failure
	if [ "${MAXOK[$1]}" -eq 0 ]; then
		printf 'below %d/s' "$(echo "${STEPLOG[$1]}" | tr ' :' '\n ' | awk 'NF {print $1}' | sort -n | head -n 1)"
	elif [ "${FAIL[$1]}" = client ]; then
		printf '>= %d/s (dnsperf)' "${MAXOK[$1]}"
	elif [ -z "${FAIL[$1]}" ]; then
		printf '>= %d/s' "${MAXOK[$1]}"
	else
		printf '%d/s' "${MAXOK[$1]}"
	fi
}
{
	printf '\n== bench-dns: %s, %s cores, load average %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'zone: the node'"'"'s signed root zone, serial %s, %s records, loaded by all three\n' "$SERIAL" "$RECORDS"
	printf 'queries: %s\n' "$MIX"
	printf 'servers on core %s (one UDP worker each), dnsperf -B -q %s on core %s, UDP on 127.0.0.1;\n' "$SCPU" "$INFLIGHT" "$CCPU"
	printf '    CPU = utime+stime of all of a server'"'"'s processes (nsd: %s: xfrd, main, server)\n' "${NPROC[nsd]}"
	printf '%-9s %15s %26s %20s %9s %9s %15s\n' server "CPU/answer" "(runs, us)" "max rate, no loss" "RSS sum" "PSS sum" "rcvbuf, KB"
	for s in "${NAMES[@]}"; do
		printf '%-9s %12s us %26s %20s %6d MB %6d MB %15s\n' "$s" "${MED[$s]}" "(${US[$s]% })" \
			"$(maxtxt "$s")" "$((RSS[$s] / 1024))" "$((PSS[$s] / 1024))" "$(rcvbuf "${PORT[$s]}")"
	done
	printf 'at %d/s: lost %% per run: ' "$RATE"
	for s in "${NAMES[@]}"; do printf '%s %s; ' "$s" "${LOSTS[$s]% }"; done
	printf '\n    latency us per run: '
	for s in "${NAMES[@]}"; do printf '%s %s; ' "$s" "${LAT[$s]% }"; done
	printf '\n    others (share of core %s taken by other processes) per run: ' "$SCPU"
	for s in "${NAMES[@]}"; do printf '%s %s; ' "$s" "${OTHERS[$s]% }"; done
	printf '\n    answers: '
	for s in "${NAMES[@]}"; do printf '%s %s; ' "$s" "${CODES[$s]}"; done
	printf '\n'
	printf 'rate search (offered:lost/answered per s): '
	for s in "${NAMES[@]}"; do printf '%s %s(%s); ' "$s" "${STEPLOG[$s]% }" "${MAXNOTE[$s]}"; done
	printf '\n'
	[ -z "$FULLNOTE" ] || printf '    NOT ANSWERED AT THE RATE: %s\n' "$FULLNOTE"
	if [ "$BURST_INFLIGHT" -gt 0 ]; then
		printf 'at %d/s with up to %d queries in flight (dnsperf -q; bursts): ' "$RATE" "$BURST_INFLIGHT"
		for s in "${NAMES[@]}"; do printf '%s %s; ' "$s" "${BURST[$s]}"; done
		printf '\n'
	fi
	if [ -n "$CHECK_LINES" ]; then
		printf 'answers to the first %s queries, compared with nsd'"'"'s:\n' "$CHECK"
		printf '%s\n' "$CHECK_LINES" | sed 's/^/    /'
	fi
	if [ -n "$PROF_LINES" ]; then
		printf 'CPU by binary under perf at %d/s (%% of samples):\n%s' "$RATE" "$PROF_LINES"
	fi
	for s in "${NAMES[@]}"; do
		# shellcheck disable=SC2086
		busy=$(median ${OTHERS[$s]})
		[ "$(calc "%d" "($busy > 0.15)")" = 0 ] ||
			printf 'NOTE: other processes took a median %s of core %s during the %s runs at %d/s: its figure is noisy\n' \
				"$busy" "$SCPU" "$s" "$RATE"
	done
	printf 'concord / %s (the better peer): CPU per answered query %s (goal <= 0.80)\n' "$BEST" \
		"$(calc "%.2f" "${MED[concordd]} / ${MED[$BEST]}")"
	# The servers take turns within a round: a slower or faster minute of the machine
	# falls on all of them, so the ratio within each round drifts less than the medians.
	# shellcheck disable=SC2086
	set -- $(paste -d/ <(tr ' ' '\n' <<<"${US[concordd]% }") <(tr ' ' '\n' <<<"${US[$BEST]% }") |
		awk -F/ '{printf "%.4f\n", $1 / $2}')
	printf '    round by round: %s; median %s\n' "$(printf '%.2f ' "$@" | sed 's/ $//')" \
		"$(calc "%.2f" "$(median "$@")")"
	printf '    without its answer cache (concordd --dns-cache 0): %s us (runs %s), %s of %s; lost %% %s, others %s, RSS %d MB\n' \
		"${MED[concordd-nc]}" "${US[concordd-nc]% }" "$(calc "%.2f" "${MED[concordd-nc]} / ${MED[$BEST]}")" \
		"$BEST" "${LOSTS[concordd-nc]% }" "${OTHERS[concordd-nc]% }" "$((RSS[concordd-nc] / 1024))"
	printf '    concordd since it started (GET /v1/dns): %s\n' "$DNSSTATS"
	printf 'concord / %s: highest rate with no loss %s\n' "$BESTMAX" \
		"$(calc "%.2f" "${MAXOK[concordd]} / (${MAXOK[$BESTMAX]} > 0 ? ${MAXOK[$BESTMAX]} : 1)")"
	[ -z "$SERVED" ] || printf 'a change served over DNS: %s (goal: within 100 ms of its append)\n' "$SERVED"
	printf 'concord / nsd: memory %s by RSS sum, %s by PSS sum (goal <= 1.00)\n' \
		"$(calc "%.2f" "${RSS[concordd]} / ${RSS[nsd]}")" "$(calc "%.2f" "${PSS[concordd]} / ${PSS[nsd]}")"
} | tee "$B/bench-dns-last.txt"

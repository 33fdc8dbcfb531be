#!/usr/bin/env bash
# make demo: five founding members over the real root zone, each running its own node on
# loopback: cn's node orders the log (the sequencer), the four others follow it, check every
# entry, cosign its checkpoints and serve the same log, records and signed zone. Plays a short
# governance scenario through different nodes, leaves the nodes running and says where each
# serves.
#   scripts/demo.sh          (re)start the demo: stops a previous one first
#   scripts/demo.sh stop     stop its nodes
# Environment: CONCORD_DEMO_DIR (demo), CONCORD_DEMO_HTTP_PORT (8053) and
# CONCORD_DEMO_DNS_PORT (5353): node i (cn br za de isoc) serves on base + i; CONCORD_BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
C="$B/concord"
D=${CONCORD_DEMO_DIR:-demo}
HTTP_PORT=${CONCORD_DEMO_HTTP_PORT:-8053}
DNS_PORT=${CONCORD_DEMO_DNS_PORT:-5353}
HOST=127.0.0.1
ZONE=data/root/root-2025082000.zone
ORIGIN=demo.concord.example/root
PY=/usr/bin/python3
MEMBERS=(cn br za de isoc)
SEQ=cn
declare -A CHAMBER=([cn]=government [br]=government [za]=government [de]=government
	[isoc]=technical)
declare -A URL=() DNSP=()
i=0
for m in "${MEMBERS[@]}"; do
	URL[$m]="http://$HOST:$((HTTP_PORT + i))"
	DNSP[$m]=$((DNS_PORT + i))
	i=$((i + 1))
done
export CONCORD_NODE=${URL[$SEQ]}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
runq() { printf '$ %s\n' "$*"; "$@" >/dev/null; } # run, its output left out
STARTED=
die() {
	printf 'demo: %s\n' "$*" >&2
	[ -z "$STARTED" ] || printf 'demo: the nodes are left running to be looked at; %s stop stops them\n' "$0" >&2
	exit 1
}
json() { # URL EXPR: EXPR (Python, over j) of the JSON at URL
	curl -fsS --max-time 5 "$1" | "$PY" -c \
		'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}
logtail() { # ID: the last lines of its node's log, on standard error
	printf -- '--- %s (last lines)\n' "$D/$1.log" >&2
	tail -n 15 "$D/$1.log" >&2 || true
}

# A concordd this demo started: its pid file's process runs concordd on a directory of $D.
ours() {
	local p=$1 argv
	[[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null || return 1
	mapfile -d '' -t argv <"/proc/$p/cmdline" 2>/dev/null || return 1
	[ "${#argv[@]}" -ge 2 ] && [[ ${argv[0]} == *concordd && ${argv[1]} == "$D"/* ]]
}

stop_demo() { # every node of a previous demo (one pid file each): TERM, 10 s, then KILL
	local f p pids=()
	for f in "$D"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		if ours "$p"; then
			kill "$p" 2>/dev/null || true
			pids+=("$p")
		fi
		rm -f "$f"
	done
	[ "${#pids[@]}" -gt 0 ] || return 0
	echo "demo: stopping the demo's nodes (pids ${pids[*]})"
	for _ in $(seq 100); do
		for i in "${!pids[@]}"; do kill -0 "${pids[$i]}" 2>/dev/null || unset "pids[$i]"; done
		[ "${#pids[@]}" -gt 0 ] || return 0
		sleep 0.1
	done
	echo "demo: pids ${pids[*]} still run after 10 s: killing them"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for _ in $(seq 20); do
		for i in "${!pids[@]}"; do kill -0 "${pids[$i]}" 2>/dev/null || unset "pids[$i]"; done
		[ "${#pids[@]}" -gt 0 ] || return 0
		sleep 0.1
	done
	die "pids ${pids[*]} do not exit"
}

case "${1:-}" in
stop) stop_demo; exit 0 ;;
"") ;;
*) die "usage: $0 [stop]" ;;
esac

T0=$SECONDS
stop_demo
rm -rf "$D"
mkdir -p "$D/keys"

step "Five founding members make their keys: four states and the technical community"
for m in "${MEMBERS[@]}"; do runq "$C" keygen "$m" --dir "$D/keys"; done

step "Each member makes its node's keys (node key, zone-signing key) and says where it serves"
for m in "${MEMBERS[@]}"; do
	runq "$C" node keys "$D/$m" --member "$m" --url "${URL[$m]}"
done
run cat "$D/$SEQ/node.pub"

step "One key-signing key for the network's zone, handed to every node"
run "$C" root ksk "$D/ksk.key"

step "A genesis: the real root zone of 2025-08-20 ($(grep -c . "$ZONE") lines), the five nodes, $SEQ sequences"
args=()
for m in "${MEMBERS[@]}"; do
	args+=(--member "$m:${CHAMBER[$m]}:$D/keys/$m.pub" --node "$D/$m/node.pub"
		--dns "$m=ns.$m.root.demo.concord.example.,$HOST")
done
run "$C" genesis new --origin "$ORIGIN" "${args[@]}" --sequencer "$SEQ" \
	--root-zone "$ZONE" --consultation 0 -o "$D/genesis"
for m in "${MEMBERS[@]}"; do run "$C" genesis sign "$D/genesis" --key "$D/keys/$m.key"; done
run "$C" genesis show "$D/genesis"

step "Every member initialises its node from the genesis, with the network's KSK"
for m in "${MEMBERS[@]}"; do
	run "$C" node init "$D/$m" --genesis "$D/genesis" --key "$D/keys/$m.key" --ksk "$D/ksk.key"
done

step "Five nodes start on loopback, one per member"
STARTED=1
for m in "${MEMBERS[@]}"; do
	printf '$ %s\n' "$B/concordd $D/$m --http ${URL[$m]#http://} --dns $HOST:${DNSP[$m]} &"
	nohup "$B/concordd" "$D/$m" --http "${URL[$m]#http://}" --dns "$HOST:${DNSP[$m]}" \
		>"$D/$m.log" 2>&1 &
	echo $! >"$D/$m.pid"
done
# Each node up (60 s for all), answering as itself on its own port.
deadline=$((SECONDS + 60))
for m in "${MEMBERS[@]}"; do
	until [ "$(json "${URL[$m]}/v1/network" 'j["node"]' 2>/dev/null)" = "$m" ]; do
		if ! kill -0 "$(cat "$D/$m.pid")" 2>/dev/null; then
			logtail "$m"
			die "$m's node exited (is ${URL[$m]} or $HOST:${DNSP[$m]} taken? set CONCORD_DEMO_HTTP_PORT / CONCORD_DEMO_DNS_PORT)"
		fi
		[ $SECONDS -lt $deadline ] || { logtail "$m"; die "$m's node does not answer at ${URL[$m]}"; }
		sleep 0.1
	done
done
# Each node serving the signed zone over DNS (60 s for all).
deadline=$((SECONDS + 60))
for m in "${MEMBERS[@]}"; do
	until dig +short +norec +time=1 +tries=1 -p "${DNSP[$m]}" @"$HOST" . SOA 2>/dev/null | grep -q .; do
		[ $SECONDS -lt $deadline ] || { logtail "$m"; die "$m's node does not answer DNS on $HOST:${DNSP[$m]}"; }
		sleep 0.2
	done
done
for m in "${MEMBERS[@]}"; do
	printf '  %-5s %-22s DNS %s:%-5s %s\n' "$m" "${URL[$m]}" "$HOST" "${DNSP[$m]}" \
		"$(json "${URL[$m]}/v1/network" \
			'("sequencer" if j["sequencer"] == j["node"] else "follows " + j["sequencer"]) + ", log size %d" % j["tree_size"]')"
done

# After a change: NAME's delegation (type NS) holds WANT on every node's DNS (30 s each).
served_everywhere() {
	local name=$1 want=$2 m line deadline
	printf '$ dig +norec -p PORT @%s %s NS   # on every node, PORT %s..%s\n' "$HOST" "$name" \
		"${DNSP[${MEMBERS[0]}]}" "${DNSP[${MEMBERS[-1]}]}"
	for m in "${MEMBERS[@]}"; do
		deadline=$((SECONDS + 30))
		until line=$(dig +norec +noall +authority +answer +time=1 +tries=1 -p "${DNSP[$m]}" \
			@"$HOST" "$name" NS 2>/dev/null | grep -F -- "$want" | head -n 1) && [ -n "$line" ]; do
			if [ $SECONDS -ge $deadline ]; then
				logtail "$m"
				die "$m's node ($HOST:${DNSP[$m]}) does not serve $want for $name"
			fi
			sleep 0.1
		done
		printf '  %-5s %s:%-5s serial %-10s %s\n' "$m" "$HOST" "${DNSP[$m]}" \
			"$(dig +short +norec -p "${DNSP[$m]}" @"$HOST" . SOA | awk '{print $3}')" \
			"$(echo "$line" | awk '{print $1, $4, $5}')"
	done
}

# After a change: PATH is final on every node (a witness quorum cosigned it; 30 s each).
final_everywhere() {
	local path=$1 m deadline out
	printf '$ curl -s URL/v1/records/%s   # on every node: version, final\n' "$path"
	for m in "${MEMBERS[@]}"; do
		deadline=$((SECONDS + 30))
		until out=$(json "${URL[$m]}/v1/records/$path" \
			'"version %d, final %s" % (j["version"], str(j.get("final")).lower())' 2>/dev/null) &&
			[[ $out == *"final true" ]]; do
			if [ $SECONDS -ge $deadline ]; then
				logtail "$m"
				die "$m's node never says $path is final (${out:-no answer})"
			fi
			sleep 0.1
		done
		printf '  %-5s %-22s %s\n' "$m" "${URL[$m]}" "$out"
	done
}

step "1. China changes its own ccTLD, through Brazil's node: accepted at once (the state alone)"
"$C" show --node "${URL[br]}" tld/cn >"$D/cn.zone"
printf 'cn. NS ns.concord-demo.cn.\nns.concord-demo.cn. A 192.0.2.53\n' >>"$D/cn.zone"
run "$C" propose --node "${URL[br]}" --key "$D/keys/cn.key" put tld/cn "$D/cn.zone"
served_everywhere cn. ns.concord-demo.cn.
final_everywhere tld/cn

step "2. Brazil proposes a gTLD change at South Africa's node: it waits for 2/3 of governments and 1/2 of technical"
"$C" show --node "${URL[za]}" tld/org >"$D/org.zone"
printf 'org. NS ns.concord-demo.org.\nns.concord-demo.org. AAAA 2001:db8::53\n' >>"$D/org.zone"
out=$(run "$C" propose --node "${URL[za]}" --key "$D/keys/br.key" put tld/org "$D/org.zone")
echo "$out"
id=$(printf '%s\n' "$out" | sed -n 2p)
run "$C" approve --node "${URL[de]}" --key "$D/keys/za.key" "$id"
run "$C" approve --node "${URL[isoc]}" --key "$D/keys/de.key" "$id"
run "$C" approve --node "${URL[cn]}" --key "$D/keys/isoc.key" "$id"
served_everywhere org. ns.concord-demo.org.
final_everywhere tld/org

step "3. A proposal that never reaches quorum expires"
printf 'concord. NS ns1.concord-demo.net.\nns1.concord-demo.net. A 192.0.2.99\n' >"$D/new.zone"
run "$C" propose --node "${URL[de]}" --key "$D/keys/za.key" --expires 3s put tld/concord "$D/new.zone"
sleep 5
run "$C" proposals --node "${URL[isoc]}" --status expired

step "4. Germany, at its own node, tries to change China's ccTLD: refused"
if run "$C" propose --node "${URL[de]}" --key "$D/keys/de.key" put tld/cn "$D/cn.zone"; then
	die "the network accepted a change it must refuse"
fi

step "5. Anyone can audit any node from outside: every signature, every decision"
run "$C" verify "${URL[za]}"
run "$C" verify "${URL[isoc]}"

step "6. Every node derives the signed root zone from the log: DNSSEC, NSEC, ZONEMD"
"$C" root zone --node "${URL[de]}" >"$D/root.zone"
printf '  %s records, serial %s, at %s; one trust anchor for every node (each signs with its own ZSK):\n' \
	"$(wc -l <"$D/root.zone")" "$(awk 'NR == 1 {print $7}' "$D/root.zone")" "${URL[de]}"
run "$C" root trust-anchor --node "${URL[za]}"
run dig +dnssec +norec -p "${DNSP[de]}" @"$HOST" cn. NS

step "Five nodes keep running ($((SECONDS - T0)) s to set up and play; logs $D/<id>.log, pids $D/<id>.pid)"
printf '  %-6s %-23s %-16s %s\n' member HTTP DNS role
for m in "${MEMBERS[@]}"; do
	printf '  %-6s %-23s %-16s %s\n' "$m" "${URL[$m]}" "$HOST:${DNSP[$m]}" \
		"$(json "${URL[$m]}/v1/network" \
			'"sequencer" if j["sequencer"] == j["node"] else "follower of " + j["sequencer"]')"
done
cat <<MSG

  trust anchor  $C root trust-anchor --node ${URL[br]}
  signed root   dig +dnssec +norec -p ${DNSP[za]} @$HOST cn. NS      (any node: -p ${DNSP[cn]}..${DNSP[isoc]})

Try next (member keys in $D/keys; --node is any of the five, default ${URL[$SEQ]}):
  curl -s ${URL[cn]}/log/checkpoint; curl -s ${URL[isoc]}/log/checkpoint   # one checkpoint, cosigned by the nodes
  $C network --node ${URL[br]}   # the log, how much of it is final, the sequencer, the nodes
  $C show --node ${URL[za]} tld/cn; $C proposals --node ${URL[de]}
  $C propose --node ${URL[isoc]} --key $D/keys/cn.key put tld/cn $D/cn.zone
  $C verify ${URL[br]}
  Failover (not run): stop the sequencer (kill \$(cat $D/$SEQ.pid)), then 2/3 of the members
  name another node and any node takes the note (docs/operations.md, "A network of nodes"):
  $C failover new br --key $D/keys/br.key --node ${URL[za]} -o $D/failover.note
  for m in za de isoc; do $C failover sign $D/failover.note --key $D/keys/\$m.key; done
  $C failover submit $D/failover.note --node ${URL[za]}

Stop the demo: scripts/demo.sh stop   (or: kill \$(cat $D/*.pid))
MSG

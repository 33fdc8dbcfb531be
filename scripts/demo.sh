#!/usr/bin/env bash
# make demo: a five-member network over the real root zone, one node, and a short governance
# scenario. Leaves the node running and says how to go on.
set -euo pipefail
cd "$(dirname "$0")/.."

B=${CONCORD_BUILD:-build}
C="$B/concord"
D=${CONCORD_DEMO_DIR:-demo}
ADDR=${CONCORD_DEMO_HTTP:-127.0.0.1:8053}
DNS=${CONCORD_DEMO_DNS:-127.0.0.1:5353}
DNSHOST=${DNS%:*}
DNSPORT=${DNS##*:}
URL="http://$ADDR"
ZONE=data/root/root-2025082000.zone
export CONCORD_NODE=$URL

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ -f "$D/concordd.pid" ] && kill -0 "$(cat "$D/concordd.pid")" 2>/dev/null; then
	echo "demo: stopping the previous demo node (pid $(cat "$D/concordd.pid"))"
	kill "$(cat "$D/concordd.pid")"
	for _ in $(seq 50); do kill -0 "$(cat "$D/concordd.pid")" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$D"
mkdir -p "$D/keys"

step "Five founding members make their keys: four states and the technical community"
for m in cn br za de isoc; do run "$C" keygen "$m" --dir "$D/keys" >/dev/null; done
ls "$D/keys"

step "A genesis: the real root zone of 2025-08-20 ($(grep -c . $ZONE) lines), default policies"
run "$C" genesis new --origin demo.concord.example/root \
	--member cn:government:"$D/keys/cn.pub" --member br:government:"$D/keys/br.pub" \
	--member za:government:"$D/keys/za.pub" --member de:government:"$D/keys/de.pub" \
	--member isoc:technical:"$D/keys/isoc.pub" \
	--dns cn=ns.cn.root.demo.concord.example.,127.0.0.1 \
	--root-zone "$ZONE" --consultation 0 -o "$D/genesis"
for m in cn br za de isoc; do run "$C" genesis sign "$D/genesis" --key "$D/keys/$m.key"; done
run "$C" genesis show "$D/genesis"

step "cn runs a node"
run "$C" node init "$D/node" --genesis "$D/genesis" --key "$D/keys/cn.key"
nohup "$B/concordd" "$D/node" --http "$ADDR" --dns "$DNS" >"$D/concordd.log" 2>&1 &
echo $! >"$D/concordd.pid"
for _ in $(seq 100); do
	sleep 0.1
	kill -0 "$(cat "$D/concordd.pid")" 2>/dev/null || { cat "$D/concordd.log"; exit 1; }
	curl -fsS "$URL/log/checkpoint" >/dev/null 2>&1 && break
done
if ! curl -fsS "$URL/log/checkpoint" | head -n 1 | grep -qx 'demo.concord.example/root'; then
	echo "demo: something else answers at $URL; set CONCORD_DEMO_HTTP=ADDR:PORT" >&2
	kill "$(cat "$D/concordd.pid")" 2>/dev/null || true
	exit 1
fi
run curl -sS "$URL/log/checkpoint"

step "1. China changes its own ccTLD: accepted at once (policy/cctld: the state alone)"
"$C" show tld/cn >"$D/cn.zone"
printf 'cn. NS ns.concord-demo.cn.\nns.concord-demo.cn. A 192.0.2.53\n' >>"$D/cn.zone"
run "$C" propose --key "$D/keys/cn.key" put tld/cn "$D/cn.zone"
run "$C" show tld/cn

step "2. Brazil proposes a gTLD change: it waits for 2/3 of governments and 1/2 of technical"
"$C" show tld/org >"$D/org.zone"
printf 'org. NS ns.concord-demo.org.\nns.concord-demo.org. AAAA 2001:db8::53\n' >>"$D/org.zone"
out=$(run "$C" propose --key "$D/keys/br.key" put tld/org "$D/org.zone"); echo "$out"
id=$(printf '%s\n' "$out" | sed -n 2p)
run "$C" approve --key "$D/keys/za.key" "$id"
run "$C" approve --key "$D/keys/de.key" "$id"
run "$C" approve --key "$D/keys/isoc.key" "$id"

step "3. A proposal that never reaches quorum expires"
printf 'concord. NS ns1.concord-demo.net.\nns1.concord-demo.net. A 192.0.2.99\n' >"$D/new.zone"
out=$(run "$C" propose --key "$D/keys/za.key" --expires 3s put tld/concord "$D/new.zone"); echo "$out"
id=$(printf '%s\n' "$out" | sed -n 2p)
sleep 5
run "$C" proposals --status expired

step "4. Germany tries to change China's ccTLD: refused"
if run "$C" propose --key "$D/keys/de.key" put tld/cn "$D/cn.zone"; then
	echo "demo: the node accepted a change it must refuse" >&2
	exit 1
fi

step "5. Anyone can audit the node from outside: every signature, every decision"
run "$C" verify "$URL"

step "6. The node derives the signed root zone from the log: DNSSEC, NSEC, ZONEMD"
"$C" root zone >"$D/root.zone"
printf '  %s records, serial %s; the trust anchor resolvers take:\n' "$(wc -l <"$D/root.zone")" \
	"$(awk 'NR == 1 {print $7}' "$D/root.zone")"
run "$C" root trust-anchor
# The node serves it over DNS too, once the publisher has built it.
for _ in $(seq 100); do grep -q 'serving zone serial' "$D/concordd.log" && break; sleep 0.1; done
if command -v dig >/dev/null; then
	run dig +dnssec +norec -p "$DNSPORT" @"$DNSHOST" cn. NS
fi

step "The node keeps running (pid $(cat "$D/concordd.pid"), log $D/concordd.log)"
cat <<MSG
  API        $URL/v1/network
  log        $URL/log/checkpoint   (c2sp.org/tlog-tiles under $URL/log/)
  records    $URL/v1/records/tld/cn
  DNS        $DNS (UDP and TCP): dig +dnssec +norec -p $DNSPORT @$DNSHOST cn. NS

Try next (keys are in $D/keys):
  $C show tld/cn
  $C proposals
  $C export-root | head
  $C root zone | head; $C root trust-anchor
  $C propose --key $D/keys/cn.key put tld/cn $D/cn.zone
  $C verify $URL
Stop it with: kill \$(cat $D/concordd.pid)
MSG

"""Five members' nodes, each in a network namespace of its own with an address of its own
(netns.py), all listed in the genesis: a change given to any node is accepted, logged once and
served by DNS everywhere; checkpoints become final; a node cut off catches up; the sequencer,
killed, is replaced by a quorum's note without losing an accepted change; a sequencer cut off
with a follower through a failover rejoins the network's log with it; every node verifies;
a node fed a tampered entry refuses it; a sequencer made to equivocate (the test-only build)
is caught, with the proof served, and every node stops following it.

The tests share one network and run in order; each leaves it running."""
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

import base64

import netns
from concord import Proxy, cli, cosigners, entry_note, fetch_entries, note, tamper_last_entry
from test_split_view import EQUIVOCATE_BUILD, signed_by
from conftest import MEMBERS, ORIGIN, STATES, NodeNetwork
from netns import NsNode, nets_factory  # noqa: F401 (a fixture)

NODES = [m for m, _ in MEMBERS]  # cn, br, za, de, isoc: every founding member runs a node
SEQUENCER = "cn"
NEXT = "br"  # the sequencer the failover names
CUT = "de"  # the follower the partition cuts off
WAIT = 90  # seconds any one bounded wait may take (the sanitizer build on 2 busy cores)


def shared_ksk_supported():
    r = cli("help", "root", check=False)
    return re.search(r"\bksk\b", r.stdout + r.stderr) is not None


class Federation(NodeNetwork):
    """The five founding members of conftest.Network, each running a node at its namespace's
    address, listed in the genesis with its key, URL and name server address."""

    def __init__(self, base, nets):
        self.nets = nets
        # one KSK for every node, when this build can make one (`concord root ksk`)
        super().__init__(base, NODES, lambda m: f"http://{nets.addr(m)}:8053", nets.addr,
                         sequencer=SEQUENCER, ksk=shared_ksk_supported())
        self.nodes = {m: NsNode(nets, m, self.dirs[m]) for m in NODES}

    def start(self, m):
        return self.nodes[m].start()

    def wait(self, what, cond, timeout=WAIT, every=0.1):
        """Until cond() is true; AssertionError naming what when the deadline passes."""
        deadline = time.time() + timeout
        while not cond():
            assert time.time() < deadline, f"after {timeout} s: {what()}"
            time.sleep(every)

    def wait_all(self, size, nodes=None):
        """Until every node of nodes serves a checkpoint of at least size."""
        for m in nodes or NODES:
            n = self.nodes[m]
            self.wait(lambda: f"{m} stays at {n.tree_size()} < {size}\n{tail(n)}",
                      lambda: n.tree_size() >= size)

    def head(self, m):
        """(origin, size, root hash) of m's checkpoint."""
        return tuple(self.nodes[m].checkpoint().split("\n")[:3])

    def network(self, m):
        st, _, j = self.nodes[m].http.get("/v1/network")
        assert st == 200, (m, st, j)
        return j


def tail(node, n=30):
    return "".join(node.log_text().splitlines(keepends=True)[-n:])


@pytest.fixture(scope="module")
def fed(nets_factory, tmp_path_factory):  # noqa: F811
    nets = nets_factory(NODES)
    f = Federation(str(tmp_path_factory.mktemp("fednetns")), nets)
    try:
        for m in NODES:
            f.start(m)
        yield f
    finally:
        bad = []
        for m in NODES:
            try:
                f.nodes[m].stop()
            except AssertionError as e:
                bad.append(f"{m}: {e}")
        nets.close()
        assert not bad, "\n".join(bad)


def ds_ops(http, tld, tag):
    """tld/<tld> as served, plus one DS whose digest carries tag."""
    content = http.record(f"tld/{tld}")["content"]
    ds = f"{tld}. 86400 IN DS 57724 8 2 {tag:064X}"
    return [("put", f"tld/{tld}", content + ds + "\n")]


def change(fed, via, tld, tag):
    """State tld changes its own ccTLD through node via: (status, answer JSON, body)."""
    h = fed.nodes[via].http
    return fed.propose(h, [tld], ds_ops(h, tld, tag))


def dns_ds(addr, port, name):
    q = dns.message.make_query(name, dns.rdatatype.DS)
    try:
        r = dns.query.udp(q, addr, port=port, timeout=2)
    except dns.exception.Timeout:
        return []
    return sorted(str(rr) for rrset in r.answer for rr in rrset
                  if rrset.rdtype == dns.rdatatype.DS)


def dns_ksks(addr, port):
    q = dns.message.make_query(".", dns.rdatatype.DNSKEY, want_dnssec=True)
    r = dns.query.tcp(q, addr, port=port, timeout=5)
    return sorted(str(rr) for rrset in r.answer for rr in rrset
                  if rrset.rdtype == dns.rdatatype.DNSKEY and rr.flags == 257)


def wait_dns(fed, nodes, tld, tags):
    """Until every node of nodes serves, over DNS at its own address, a DS of tld for each
    tag."""
    for m in nodes:
        n = fed.nodes[m]
        want = [f"57724 8 2 {t:064x}" for t in tags]  # digests as dnspython writes them
        fed.wait(lambda: f"{m} ({n.addr}:{n.dns_port}) does not serve the DS {tags} of "
                         f"{tld}.: {dns_ds(n.addr, n.dns_port, tld + '.')}\n{tail(n)}",
                 lambda: all(any(w in ds.lower() for ds in dns_ds(n.addr, n.dns_port, tld + "."))
                             for w in want), every=0.2)


def logged(fed, m):
    """Proposal id -> how many entries of m's log carry it."""
    n = fed.nodes[m]
    count = collections.Counter()
    for entry in fetch_entries(n.http, n.tree_size()):
        if not entry.startswith(b"concord proposal "):
            continue
        body = entry_note(entry).rpartition("\n\n")[0] + "\n"
        count[hashlib.sha256(body.encode()).hexdigest()] += 1
    return count


def assert_logged_once(fed, nodes, ids):
    for m in nodes:
        count = logged(fed, m)
        for pid in ids:
            assert count[pid] == 1, f"{m} logs proposal {pid} {count[pid]} times"


def test_every_node_names_the_same_network(fed):
    keys = set()
    for m in NODES:
        j = fed.network(m)
        assert j["sequencer"] == SEQUENCER and j["node"] == m, (m, j)
        assert j["following"] == (m != SEQUENCER), (m, j["following"])
        assert [x["id"] for x in j["nodes"]] == sorted(NODES), (m, j["nodes"])
        assert j["alarm"] is None, (m, j["alarm"])
        keys.add(j["log_key"])
    assert len(keys) == 1, keys
    nodes = {repr(sorted(fed.network(m)["nodes"], key=lambda x: x["id"])) for m in NODES}
    assert len(nodes) == 1, nodes


def test_change_through_each_node_is_logged_once_and_served_by_dns(fed):
    ids = []
    for i, via in enumerate(NODES):
        size = fed.nodes[SEQUENCER].tree_size()
        fed.wait_all(size)
        st, j, body = change(fed, via, "cn", 100 + i)
        assert st == 201 and j["status"] == "accepted", (via, st, j)
        assert j["index"] == size, f"through {via}: index {j['index']}, log size was {size}"
        ids.append(hashlib.sha256(body.encode()).hexdigest())
        fed.wait_all(size + 1)
        heads = {m: fed.head(m) for m in NODES}
        assert len(set(heads.values())) == 1, f"through {via}: {heads}"
        assert int(heads[via][1]) == size + 1, f"through {via}: logged more than once: {heads}"
    assert_logged_once(fed, NODES, ids)
    records = {m: fed.nodes[m].http.record("tld/cn")["content"] for m in NODES}
    assert len(set(records.values())) == 1, records
    wait_dns(fed, NODES, "cn", [100 + i for i in range(len(NODES))])
    if fed.ksk:
        ksks = {m: tuple(dns_ksks(fed.nodes[m].addr, fed.nodes[m].dns_port)) for m in NODES}
        assert len(set(ksks.values())) == 1, f"one KSK for all nodes, yet: {ksks}"


def test_records_become_final_with_a_quorum_of_cosignatures(fed):
    net = fed.network(SEQUENCER)
    assert net["witness_quorum"] == "2/3" and net["witness_need"] == 4, \
        (net["witness_quorum"], net["witness_need"])
    for m in NODES:
        n = fed.nodes[m]
        fed.wait(lambda: f"{m} never says tld/cn is final: {n.http.record('tld/cn')}",
                 lambda: n.http.record("tld/cn").get("final"))
        st, _, final = n.http.request("GET", "/v1/final")
        assert st == 200, (m, st, final)
        got = cosigners(final.decode(), net["nodes"], ORIGIN)
        assert len(got) >= net["witness_need"], f"{m}'s /v1/final cosigned by {got} only"


def test_partitioned_follower_catches_up_and_verifies(fed):
    cut = fed.nodes[CUT]
    before = cut.tree_size()
    fed.nets.partition(CUT)
    try:
        assert not fed.nets.reachable(CUT, cut.http_port), f"{CUT} still reachable"
        for i, via in enumerate(["cn", "br", "isoc"]):
            # four nodes of five still make a quorum: each change is answered, final
            st, j, _ = change(fed, via, "za", 200 + i)
            assert st == 201 and j["status"] == "accepted", (via, st, j)
        size = fed.nodes[SEQUENCER].tree_size()
        assert size == before + 3, (before, size)
        others = [m for m in NODES if m != CUT]
        fed.wait_all(size, others)
        for m in others:
            fed.wait(lambda: f"{m}: tld/za not final",
                     lambda: fed.nodes[m].http.record("tld/za").get("final"))
    finally:
        fed.nets.heal(CUT)
    fed.wait(lambda: f"{CUT} at {fed.head(CUT)}, {SEQUENCER} at {fed.head(SEQUENCER)}\n"
                     f"{tail(cut)}",
             lambda: fed.head(CUT) == fed.head(SEQUENCER))
    assert int(fed.head(CUT)[1]) == before + 3
    fed.wait(lambda: f"{CUT}: tld/za not final: {cut.http.record('tld/za')}",
             lambda: cut.http.record("tld/za").get("final"))
    wait_dns(fed, [CUT], "za", [200, 201, 202])
    r = cli("verify", cut.url, check=False)
    assert r.returncode == 0, (CUT, r.stdout, r.stderr)


def test_failover_by_quorum_loses_no_accepted_change(fed):
    """Four changes answered 201 at once through four nodes; the sequencer is killed right
    after the last answer; a note naming br, signed by 2/3 of the members, is given to one
    node; every other node switches; every change answered before is in every node's log
    once; a change after the failover reaches all four; the old sequencer, restarted,
    learns of the failover, follows br and catches up."""
    seq, nxt = fed.nodes[SEQUENCER], fed.nodes[NEXT]
    survivors = [m for m in NODES if m != SEQUENCER]
    fed.wait_all(seq.tree_size())
    via = dict(zip(STATES, ["br", "za", "de", "isoc"]))  # each through a follower
    answers = {}

    def run(s):
        answers[s] = change(fed, via[s], s, 300)
    threads = [threading.Thread(target=run, args=(s,)) for s in STATES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT)
    seq.kill()
    try:
        assert not any(t.is_alive() for t in threads), "a change was never answered"
        for s, (st, j, _) in answers.items():
            assert st == 201 and j["status"] == "accepted", (s, via[s], st, j)
        acked = {s: hashlib.sha256(b.encode()).hexdigest() for s, (_, _, b) in answers.items()}
        last = max(j["index"] for _, j, _ in answers.values())

        body = fed.body(nxt.http, NEXT, [("put", "network/sequencer", f"sequencer {NEXT}\n")])
        fail = note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"]))  # 4 of 5 = 2/3
        st, _, j = fed.nodes["za"].http.post("/v1/failover", fail)
        assert st == 202 and j == {"status": "taken", "sequencer": NEXT}, (st, j)
        for m in survivors:
            n = fed.nodes[m]
            fed.wait(lambda: f"{m} did not switch: {fed.network(m)['sequencer']}\n{tail(n)}",
                     lambda: fed.network(m)["sequencer"] == NEXT)
        # nothing lost, the note appended once, the same log everywhere
        fed.wait_all(last + 2, survivors)
        heads = {m: fed.head(m) for m in survivors}
        assert len(set(heads.values())) == 1, heads
        assert int(heads[NEXT][1]) == last + 2, (last, heads)
        assert_logged_once(fed, survivors, acked.values())
        for m in survivors:
            for s in STATES:
                content = fed.nodes[m].http.record(f"tld/{s}")["content"]
                assert f"{300:064X}" in content, f"{m} lost {s}'s change answered 201"

        st, after, after_body = change(fed, "isoc", "de", 301)
        assert st == 201 and after["status"] == "accepted", (st, after)
        fed.wait_all(after["index"] + 1, survivors)
        for m in survivors:
            assert f"{301:064X}" in fed.nodes[m].http.record("tld/de")["content"], m
        wait_dns(fed, survivors, "de", [300, 301])
    finally:
        fed.start(SEQUENCER)
    fed.wait(lambda: f"{SEQUENCER} does not follow {NEXT}: {fed.network(SEQUENCER)}\n"
                     f"{tail(seq)}",
             lambda: (fed.network(SEQUENCER)["sequencer"], fed.network(SEQUENCER)["following"])
             == (NEXT, True))
    fed.wait(lambda: f"{SEQUENCER} at {fed.head(SEQUENCER)}, {NEXT} at {fed.head(NEXT)}\n"
                     f"{tail(seq)}",
             lambda: fed.head(SEQUENCER) == fed.head(NEXT))
    assert fed.network(SEQUENCER)["alarm"] is None, fed.network(SEQUENCER)["alarm"]
    assert "failover: learnt from" in seq.log_text()
    assert_logged_once(fed, [SEQUENCER], list(acked.values()) + [
        hashlib.sha256(after_body.encode()).hexdigest()])
    wait_dns(fed, [SEQUENCER], "de", [300, 301])


def inside(fed, m, method, path, body=b""):
    """(status, JSON answer) of a request made from inside m's namespace (split off from the
    host, m is reached from there)."""
    code = ("import sys, urllib.error, urllib.request\n"
            "q = urllib.request.Request(sys.argv[1], sys.stdin.buffer.read() or None,\n"
            "                           method=sys.argv[2])\n"
            "try:\n"
            "    r = urllib.request.urlopen(q, timeout=80)\n"
            "    st, b = r.status, r.read()\n"
            "except urllib.error.HTTPError as e:\n"
            "    st, b = e.code, e.read()\n"
            "sys.stdout.buffer.write(b'%d\\n' % st + b)\n")
    p = fed.nets.popen(m, [sys.executable, "-c", code, fed.nodes[m].url + path, method],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = p.communicate(body, timeout=WAIT)
    st, _, rest = out.partition(b"\n")
    return int(st), json.loads(rest) if rest else None


def test_a_sequencer_cut_off_through_a_failover_rejoins_the_network_log(fed):
    """The sequencer and one follower are cut off together. The other three fail over to one
    of them with a note that expires while the two are away; the cut-off sequencer meanwhile
    accepts a change of its own state (durable, never final: one follower is no quorum), and
    its follower takes it. Healed, the deposed sequencer cannot take the expired note, and
    the new log is not final either (three cosigners of the four needed). What it goes by:
    the log of the node that note chose, which three of the five nodes follow (as many as a
    takeover needs) and which holds the note, valid when appended. It follows that log and
    cosigns it; the log becomes final, and the follower, finding that log too, follows it. The change accepted alone is dropped by both and
    handed to the new sequencer, which accepts it: one log and one zone on all five, no
    alarm. (Before, the deposed sequencer went on deciding a log of its own for good.)"""
    old = fed.network("isoc")["sequencer"]
    assert old in STATES, old  # it changes its own ccTLD alone
    alone = next(m for m in NODES if m not in (old, SEQUENCER))
    rest = [m for m in NODES if m not in (old, alone)]
    new = rest[0]
    fed.wait_all(fed.nodes[old].tree_size())
    size = fed.nodes[old].tree_size()
    for m in NODES:  # what every node holds is final, and each knows it
        fed.wait(lambda: f"{m}'s log not final: {fed.network(m)}",
                 lambda: fed.network(m)["final_size"] >= size)
    h = fed.nodes[old].http
    own = note(fed.body(h, old, ds_ops(h, old, 410)), fed.keys[old])
    fed.nets.split([old, alone])
    try:
        st, j = inside(fed, old, "POST", "/v1/proposals", own.encode())
        assert st == 201 and j["status"] == "accepted" and j["index"] == size, (st, j)
        expires = int(time.time()) + 20  # time enough to take over, even on a slow machine
        body = fed.body(fed.nodes[new].http, new,
                        [("put", "network/sequencer", f"sequencer {new}\n")], expires=expires)
        fail = note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"]))
        st, _, j = fed.nodes[rest[1]].http.post("/v1/failover", fail)
        assert st == 202 and j == {"status": "taken", "sequencer": new}, (st, j)
        for m in rest:
            fed.wait(lambda: f"{m} does not name {new}: {fed.network(m)}",
                     lambda: fed.network(m)["sequencer"] == new)
        st, after, _ = change(fed, rest[2], next(s for s in STATES if s != old), 411)
        assert st == 201 and after["status"] == "accepted", (st, after)
        assert after["index"] == size + 1, after
        deadline = time.time() + WAIT
        while True:  # the follower cut off with it took the change
            st, j = inside(fed, alone, "GET", "/v1/network")
            assert st == 200 and j["sequencer"] == old, j
            if j["tree_size"] == size + 1:
                break
            assert time.time() < deadline and j["tree_size"] == size, j
            time.sleep(0.2)
        while time.time() < expires + 2:  # the note expired, on the nodes' clocks too
            time.sleep(0.2)
    finally:
        fed.nets.join([old, alone])
    fed.wait_all(size + 3)  # the note, the change after it, the one accepted alone again
    fed.wait(lambda: "heads differ: " + repr({m: fed.head(m) for m in NODES}) +
             f"\n{tail(fed.nodes[old])}\n{tail(fed.nodes[alone])}",
             lambda: len({fed.head(m) for m in NODES}) == 1)
    assert int(fed.head(old)[1]) == size + 3, fed.head(old)
    for m in NODES:
        n = fed.network(m)
        assert n["sequencer"] == new and n["alarm"] is None, (m, n)
        assert (m == new) != n["following"], (m, n)
        fed.wait(lambda: f"{m}: tld/{old} not final: {fed.nodes[m].http.record(f'tld/{old}')}",
                 lambda: fed.nodes[m].http.record(f"tld/{old}").get("final"))
        assert f"{410:064X}" in fed.nodes[m].http.record(f"tld/{old}")["content"], m
    # The new log was final only once the deposed sequencer cosigned it: that one learnt
    # from the note in the log that most nodes follow; the follower from that too, or from
    # the final log if it looked after the cosignature.
    assert f"{fed.nodes[new].url} appended a note naming it" in \
        fed.nodes[old].log_text(), tail(fed.nodes[old])
    text = fed.nodes[alone].log_text()
    assert f"serves a final log of {new}" in text or \
        f"{fed.nodes[new].url} appended a note naming it" in text, tail(fed.nodes[alone])
    for m in (old, alone):
        assert "dropped 1 entries beyond the last final checkpoint" in \
            fed.nodes[m].log_text(), (m, tail(fed.nodes[m]))
    wait_dns(fed, NODES, old, [410])


def test_verify_every_node(fed):
    for m in NODES:
        r = cli("verify", fed.nodes[m].url, check=False)
        assert r.returncode == 0, (m, r.stdout, r.stderr)


def test_a_tampered_entry_is_refused(fed):
    """A follower reading the log from a mirror (--mirror, a proxy on the host's address)
    that alters one entry refuses it, says so, takes the log from the sequencer instead, and
    raises no alarm: the mirror is at fault, not the sequencer."""
    victim = fed.nodes["isoc"]
    seq = fed.network("isoc")["sequencer"]
    mirror = Proxy(fed.nodes[seq].url, tamper_last_entry, host=fed.nets.host_addr)
    victim.stop()
    try:
        for tag in (400, 401):
            st, j, _ = change(fed, seq, "za", tag)
            assert st == 201, j
        victim.start("--mirror", mirror.url)
        fed.wait_all(fed.nodes[seq].tree_size(), ["isoc"])
        assert "is not the entry the checkpoint holds (altered on the way?): refused" in \
            victim.log_text()
        assert fed.head("isoc") == fed.head(seq)
        assert fed.network("isoc")["alarm"] is None
    finally:
        victim.stop()
        mirror.close()
        fed.start("isoc")


def test_an_equivocating_sequencer_is_caught_and_proved(fed):
    """Last: the sequencer, restarted from the test-only build, shows isoc a checkpoint of
    another tree. isoc keeps the two checkpoints as proof (checked here with nothing but the
    sequencer's key), serves it, and every node, checking that proof itself, stops following."""
    if not os.path.exists(os.path.join(EQUIVOCATE_BUILD, "concordd")):
        pytest.fail("build-equivocate/concordd is missing: make equivocate")
    now = fed.network("isoc")["sequencer"]
    seq = fed.nodes[now]
    seq.stop()
    saved = netns.CONCORDD
    netns.CONCORDD = os.path.join(EQUIVOCATE_BUILD, "concordd")
    os.environ["CONCORD_EQUIVOCATE"] = "isoc"
    try:
        seq.start()
    finally:
        netns.CONCORDD = saved
        del os.environ["CONCORD_EQUIVOCATE"]
    net = fed.network(now)
    # isoc may be shown the other tree at once (the checkpoint the sequencer asks it to
    # cosign when it starts, and the sequencer then takes isoc's proof against itself) or
    # with this change
    st, j, _ = change(fed, now, "za", 500)
    assert st == 201 or (st == 503 and fed.network(now)["alarm"] is not None), j
    fed.wait(lambda: f"isoc raised no alarm\n{tail(fed.nodes['isoc'])}",
             lambda: fed.network("isoc")["alarm"] is not None)
    st, _, alarm = fed.nodes["isoc"].http.get("/v1/alarm")
    assert st == 200 and alarm["kind"] == "equivocation", alarm
    pub = base64.b64decode(next(x for x in net["nodes"] if x["id"] == now)["key"])
    a = signed_by(alarm["evidence"]["a"], ORIGIN, pub).split("\n")
    b = signed_by(alarm["evidence"]["b"], ORIGIN, pub).split("\n")
    ev = alarm["evidence"]
    # a: the tree shown to isoc; b: the one it holds; root_at: b's tree at a's size
    assert int(a[1]) <= int(b[1]) and ev["root_at"] != a[2], (a, b, ev)
    if a[1] == b[1]:
        assert ev["consistency"] == [] and ev["root_at"] == b[2]
    for m in NODES:
        if m == now:
            continue
        fed.wait(lambda: f"{m} did not take the alarm\n{tail(fed.nodes[m])}",
                 lambda: fed.network(m)["alarm"] is not None)
        assert fed.network(m)["following"] is False

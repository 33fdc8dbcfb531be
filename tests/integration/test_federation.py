"""Several members' nodes of one network: one sequencer orders the log, the others follow it,
check every entry themselves and serve the same log, records and zone; a change given to any
node reaches the sequencer and comes back to every node."""
import json
import re
import signal
import threading
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from concord import Node, Proxy, cli, cosigners, note, objection, proposal_id, tamper_last_entry
from conftest import ORIGIN, NodeNetwork
from dns_mix import free_port
from test_batch import frame, post_batch
from test_policy import new_ds

NODES = ["br", "cn", "isoc"]  # cn orders the log
SEQUENCER = "cn"


class Federation(NodeNetwork):
    """The founding members of conftest.Network, three of which run a node each, listed in
    the genesis with their keys and URLs."""

    def __init__(self, base):
        self.ports = {m: free_port() for m in NODES}
        super().__init__(base, NODES, lambda m: f"http://127.0.0.1:{self.ports[m]}",
                         lambda m: f"192.0.2.{NODES.index(m) + 1}", sequencer=SEQUENCER)
        self.nodes = {m: Node(self.dirs[m]) for m in NODES}

    def start(self, m, *extra):
        return self.nodes[m].start("--http", f"127.0.0.1:{self.ports[m]}", *extra)

    def wait_all(self, size, nodes=None, timeout=60):
        """Until every node (running, of nodes) serves a checkpoint of at least size."""
        deadline = time.time() + timeout
        for m in nodes or NODES:
            n = self.nodes[m]
            while n.tree_size() < size:
                assert time.time() < deadline, f"{m} stays at {n.tree_size()} < {size}"
                time.sleep(0.05)


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    with Federation(str(tmp_path_factory.mktemp("fed"))).running() as f:
        yield f


def wait_sequencer(node, want, timeout=60):
    """Until node's log names want as its sequencer."""
    deadline = time.time() + timeout
    while node.http.get("/v1/network")[2]["sequencer"] != want:
        assert time.time() < deadline, f"{node.dir} does not name {want}"
        time.sleep(0.1)


def cn_ds_ops(http, tag):
    """tld/cn as served, plus one DS whose digest carries tag."""
    content = http.record("tld/cn")["content"]
    ds = f"cn. 86400 IN DS 57724 8 2 {tag:064X}"
    return [("put", "tld/cn", content + ds + "\n")]


def dns_ds(port, name):
    q = dns.message.make_query(name, dns.rdatatype.DS)
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
    return sorted(str(rr) for rrset in r.answer for rr in rrset
                  if rrset.rdtype == dns.rdatatype.DS)


def test_a_new_network_is_final(fed):
    """Before any change (this test comes first): the genesis log becomes final on every
    node, the witnesses cosigning the checkpoint the sequencer started with."""
    size = fed.nodes[NODES[0]].tree_size()
    deadline = time.time() + 60
    for m in NODES:
        while fed.nodes[m].http.get("/v1/network")[2]["final_size"] < size:
            assert time.time() < deadline, f"{m}: the genesis never became final"
            time.sleep(0.1)
        assert fed.nodes[m].tree_size() == size


def test_network_names_the_sequencer(fed):
    for m in NODES:
        st, _, j = fed.nodes[m].http.json("GET", "/v1/network")
        assert st == 200
        assert j["sequencer"] == SEQUENCER and j["node"] == m
        assert j["following"] == (m != SEQUENCER)
        assert [x["id"] for x in j["nodes"]] == sorted(NODES)
        assert j["alarm"] is None
    keys = {fed.nodes[m].http.json("GET", "/v1/network")[2]["log_key"] for m in NODES}
    assert len(keys) == 1


def test_change_given_to_a_follower_reaches_every_node(fed):
    br = fed.nodes["br"]
    size = fed.nodes[SEQUENCER].tree_size()
    st, j, _ = fed.propose(br.http, ["cn"], cn_ds_ops(br.http, 1))
    assert st == 201, j
    assert j["status"] == "accepted"
    # answered by br once br holds it: read back from br at once
    assert br.http.record("tld/cn")["version"] == j["index"]
    fed.wait_all(size + 1)
    # the very note the sequencer signed (with the cosignatures each node has seen so far)
    heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:5]) for m in NODES}
    assert len(heads) == 1, heads
    assert int(heads.pop()[1]) == size + 1  # logged once
    records = {fed.nodes[m].http.record("tld/cn")["content"] for m in NODES}
    assert len(records) == 1


def test_every_node_serves_the_change_by_dns(fed):
    isoc = fed.nodes["isoc"]
    st, j, _ = fed.propose(isoc.http, ["cn"], cn_ds_ops(isoc.http, 2))
    assert st == 201, j
    fed.wait_all(j["index"] + 1)
    want = f"57724 8 2 {2:064X}"
    for m in NODES:
        deadline = time.time() + 30
        while not any(want in ds for ds in dns_ds(fed.nodes[m].dns_port, "cn.")):
            assert time.time() < deadline, f"{m} does not serve the new DS"
            time.sleep(0.1)


def test_quorum_gathered_through_followers(fed):
    """A gTLD change proposed at one follower and approved at the other."""
    br, isoc = fed.nodes["br"], fed.nodes["isoc"]
    content = br.http.record("tld/org")["content"]
    ops = [("put", "tld/org", content + f"org. 86400 IN DS 26974 8 2 {3:064X}\n")]
    body = fed.body(br.http, "br", ops)
    st, _, j = br.http.post("/v1/proposals", note(body, fed.keys["br"]))
    assert st == 202 and j["status"] == "pending", j
    pid = j["id"]
    for m in ["cn", "za", "isoc"]:
        st, _, j = isoc.http.post(f"/v1/proposals/{pid}/signatures",
                                  note(body, fed.keys[m]))
    assert st == 201 and j["status"] == "accepted", j
    fed.wait_all(j["index"] + 1)
    st, _, got = br.http.get(f"/v1/proposals/{pid}")
    assert st == 200 and got["status"] == "accepted"


def test_listing_pages_through_a_follower(fed):
    """A follower carries a listing's query (status, limit, before) to the sequencer whole:
    paged through it, the listing is the sequencer's."""
    br, seq = fed.nodes["br"], fed.nodes[SEQUENCER]
    for tag in (21, 22):
        st, j, _ = fed.propose(br.http, ["cn"], cn_ds_ops(br.http, tag))
        assert st == 201, j
    fed.wait_all(j["index"] + 1)
    whole = cli("proposals", "--node", seq.http.url).stdout.splitlines()
    assert len(whole) >= 2, whole
    assert cli("proposals", "--node", br.http.url).stdout.splitlines() == whole
    assert cli("proposals", "--node", br.http.url, "--limit", "1", "--all").stdout \
        .splitlines() == whole
    st, _, page = br.http.get("/v1/proposals?status=accepted&limit=1")
    assert st == 200 and len(page["proposals"]) == 1 and page["next"], page
    st, _, more = br.http.get(f"/v1/proposals?status=accepted&limit=1&before={page['next']}")
    assert st == 200 and more == seq.http.get(
        f"/v1/proposals?status=accepted&limit=1&before={page['next']}")[2]
    assert more["proposals"][0]["id"] != page["proposals"][0]["id"]
    st, _, j = br.http.get("/v1/proposals?limit=x")
    assert st == 400, j


def test_sequencer_down_requests_wait_and_are_sent_again(fed):
    seq, br = fed.nodes[SEQUENCER], fed.nodes["br"]
    size = seq.tree_size()
    seq.stop()
    try:
        body = fed.body(br.http, "cn", cn_ds_ops(br.http, 4))
        st, _, j = br.http.post("/v1/proposals", note(body, fed.keys["cn"]))
        assert st == 202 and j["status"] == "queued", j
    finally:
        fed.start(SEQUENCER)
    fed.wait_all(size + 1)
    assert "kept, sent again later" in br.log_text()
    # the sequencer answers once the change is final, which may be after every node holds it
    deadline = time.time() + 60
    while "queued /v1/proposals handed to the sequencer: HTTP 201" not in br.log_text():
        assert time.time() < deadline, br.log_text()[-2000:]
        time.sleep(0.1)
    for m in NODES:
        assert f"{4:064X}" in fed.nodes[m].http.record("tld/cn")["content"]


def test_approve_through_a_follower_while_the_sequencer_is_down(fed):
    """concord approve against a follower, with the sequencer stopped: the follower shows
    the waiting proposal from its copy, the CLI signs it, the follower keeps the approval
    (202) and hands it over once the sequencer is back."""
    seqid = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    fol = [m for m in NODES if m != seqid][0]
    seq, f = fed.nodes[seqid], fed.nodes[fol]
    st, done, _ = fed.propose(seq.http, ["cn"], cn_ds_ops(seq.http, 50))
    assert st == 201, done
    body = fed.body(seq.http, "za", ds_ops(seq.http, "org", 51))
    st, _, j = seq.http.post("/v1/proposals", note(body, fed.keys["za"]))
    assert st == 202 and j["status"] == "pending", j
    pid = j["id"]
    posted = int(time.time())
    deadline = time.time() + 30
    while f.http.get("/v1/network")[2]["pending_copied_at"] <= posted:  # a copy taken since
        assert time.time() < deadline, f"{fol} keeps no copy of the pending proposals"
        time.sleep(0.1)
    fed.wait_all(done["index"] + 1, [fol])
    seq.stop()
    try:
        st, _, p = f.http.get(f"/v1/proposals/{done['id']}")  # decided: from its own log
        assert st == 200 and p["status"] == "accepted" and "copy" not in p, (st, p)
        st, _, p = f.http.get(f"/v1/proposals/{pid}")  # waiting: from its copy, said so
        assert st == 200 and p["status"] == "pending" and p["signers"] == ["za"], (st, p)
        assert p["copy"]["from"] == seq.url.rstrip("/") and p["copy"]["taken"] >= posted, p
        assert f.http.get(f"/v1/proposals/{'0' * 64}")[0] == 502  # only the sequencer knows
        r = cli("approve", "--key", fed.key_file("br"), "--node", f.url, pid)
        assert r.stdout.splitlines()[:2] == [pid, "queued"], r.stdout
    finally:
        fed.start(seqid)
    deadline = time.time() + 60
    while True:
        st, _, p = seq.http.get(f"/v1/proposals/{pid}")
        if st == 200 and p["signers"] == ["br", "za"]:
            break
        assert time.time() < deadline, (st, p, f.log_text()[-2000:])
        time.sleep(0.1)
    assert p["status"] == "pending", p  # de or cn, and isoc, still to approve
    for m in ["cn", "de"]:  # decided, so that it waits at no later sequencer
        st, _, j = seq.http.post(f"/v1/proposals/{pid}/objections",
                                 objection(ORIGIN, pid, fed.keys[m]))
    assert st == 200 and j["status"] == "rejected", j


def test_follower_restarts_and_catches_up(fed):
    isoc = fed.nodes["isoc"]
    isoc.stop()
    try:
        for tag in (5, 6, 7):
            st, j, _ = fed.propose(fed.nodes["br"].http, ["cn"],
                                   cn_ds_ops(fed.nodes["br"].http, tag))
            assert st == 201, j
    finally:
        fed.start("isoc")
    fed.wait_all(fed.nodes[SEQUENCER].tree_size())
    assert isoc.checkpoint().split("\n")[:5] == \
        fed.nodes[SEQUENCER].checkpoint().split("\n")[:5]


def test_a_tampered_entry_is_refused(fed):
    """A node reading the log from a mirror (--mirror) that alters one entry of a bundle
    refuses it, says so, and takes the log from the sequencer instead: it ends up with the
    very log the others hold, and no alarm (the mirror is at fault, not the sequencer)."""
    isoc = fed.nodes["isoc"]

    mirror = Proxy(fed.nodes[SEQUENCER].url, tamper_last_entry)
    isoc.stop()
    try:
        for tag in (11, 12):
            st, j, _ = fed.propose(fed.nodes["br"].http, ["cn"],
                                   cn_ds_ops(fed.nodes["br"].http, tag))
            assert st == 201, j
        fed.start("isoc", "--mirror", mirror.url)
        fed.wait_all(fed.nodes[SEQUENCER].tree_size())
        assert "is not the entry the checkpoint holds (altered on the way?): refused" in \
            isoc.log_text()
        assert isoc.checkpoint().split("\n")[:5] == \
            fed.nodes[SEQUENCER].checkpoint().split("\n")[:5]
        assert isoc.http.get("/v1/network")[2]["alarm"] is None
    finally:
        isoc.stop()
        mirror.close()
        fed.start("isoc")


def test_checkpoints_are_cosigned_and_records_become_final(fed):
    """Every node cosigns the sequencer's checkpoints once it holds the log; with a quorum
    (2/3 of 3 nodes: 2) the checkpoint is final, and every node says so of a record."""
    br = fed.nodes["br"]
    st, j, _ = fed.propose(br.http, ["cn"], cn_ds_ops(br.http, 8))
    assert st == 201, j
    _, _, net = fed.nodes[SEQUENCER].http.get("/v1/network")
    assert net["witness_quorum"] == "2/3" and net["witness_need"] == 2
    deadline = time.time() + 30
    while True:
        ck = fed.nodes[SEQUENCER].checkpoint()
        if int(ck.split("\n")[1]) > j["index"] and cosigners(ck, net["nodes"], ORIGIN) == set(NODES):
            break
        assert time.time() < deadline, ck
        time.sleep(0.1)
    for m in NODES:
        deadline = time.time() + 30
        while not fed.nodes[m].http.record("tld/cn").get("final"):
            assert time.time() < deadline, f"{m} never says tld/cn is final"
            time.sleep(0.1)
        final = fed.nodes[m].http.request("GET", "/v1/final")
        assert final[0] == 200
        assert len(cosigners(final[2].decode(), net["nodes"], ORIGIN)) >= 2


def test_the_cli_says_how_final_a_record_is(fed):
    """concord show says on stderr whether the record is final; concord network says how much
    of the log is, who sequences it and which nodes there are."""
    br = fed.nodes["br"]
    st, j, _ = fed.propose(br.http, ["cn"], cn_ds_ops(br.http, 40))
    assert st == 201, j
    deadline = time.time() + 30
    while True:
        r = cli("show", "--node", br.url, "tld/cn")
        if r.stderr == f"tld/cn: version {j['index']}, final\n":
            break
        assert r.stderr == f"tld/cn: version {j['index']}, not final yet (no witness quorum " \
            "has cosigned it)\n", r.stderr
        assert time.time() < deadline, r.stderr
        time.sleep(0.1)
    assert f"{40:064X}" in r.stdout
    out = cli("network", "--node", br.url).stdout.splitlines()
    net = br.http.get("/v1/network")[2]
    assert f"origin     {ORIGIN}" in out
    assert f"log        {net['tree_size']} entries, final up to {net['final_size']} (2/3 of " \
        "the nodes cosign: 2)" in out, out
    assert f"sequencer  {SEQUENCER}" in out
    assert "this node  br, following the sequencer" in out
    assert [ln.split()[1] for ln in out if ln.startswith("node ")] == sorted(NODES)
    assert "alarm      none" in out
    assert cli("network", "--node", br.url, "--json").stdout.startswith("{")
    r = cli("network", "extra", check=False)
    assert r.returncode == 2 and "no argument expected" in r.stderr


def test_witness_protocol_answers(fed):
    """add-checkpoint as c2sp.org/tlog-witness says: 409 with the size held for a wrong old
    size, 403 for a checkpoint the sequencer did not sign, 400 for a malformed body."""
    isoc = fed.nodes["isoc"]
    ck = fed.nodes[SEQUENCER].checkpoint()
    size = int(ck.split("\n")[1])
    fed.wait_all(size)
    st, h, body = isoc.http.request("POST", "/witness/add-checkpoint", f"old 1\n\n{ck}")
    assert st == 409 and h["Content-Type"] == "text/x.tlog.size"
    assert body.decode() == f"{isoc.tree_size()}\n"
    st, _, body = isoc.http.request("POST", "/witness/add-checkpoint", f"old {size}\n\n{ck}")
    assert st == 200 and body.decode().startswith(f"\u2014 {ORIGIN}/isoc ")
    forged = note(ck.split("\n\n")[0] + "\n", fed.keys["br"])
    st, _, _ = isoc.http.request("POST", "/witness/add-checkpoint", f"old {size}\n\n{forged}")
    assert st == 403
    st, _, body = isoc.http.request("POST", "/witness/add-checkpoint", "old 01\n\n" + ck)
    assert st == 400 and b"no leading zeros" in body
    bad_proof = "A" * 43 + "\n"  # 43 characters: no hash
    st, _, body = isoc.http.request(
        "POST", "/witness/add-checkpoint", f"old {size}\n{bad_proof}\n{ck}")
    assert st == 400 and b"proof line 1" in body


def test_failover_by_quorum_loses_no_accepted_change(fed):
    """The sequencer dies; a note naming br, signed by 2/3 of the members, given to one node,
    reaches every node; br takes the longest log the others hold, appends the note and
    sequences; every change answered before is still there; the old sequencer, back, learns
    of it from the others and follows."""
    br, isoc, cn = fed.nodes["br"], fed.nodes["isoc"], fed.nodes[SEQUENCER]
    st, before, _ = fed.propose(isoc.http, ["cn"], cn_ds_ops(isoc.http, 9))
    assert st == 201, before
    assert cn.http.record("tld/cn")["final"]  # answered once final
    cn.kill()
    try:
        body = fed.body(br.http, "br", [("put", "network/sequencer", "sequencer br\n")])
        fail = note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"]))
        weak = note(body, fed.keys["br"], fed.keys["cn"])
        st, _, j = isoc.http.post("/v1/failover", weak)
        assert st == 403, j  # 2 of 5 members: not valid on its own
        st, _, j = isoc.http.post("/v1/failover", fail)
        assert st == 202 and j == {"status": "taken", "sequencer": "br"}, j
        for m in ["br", "isoc"]:
            wait_sequencer(fed.nodes[m], "br")
        size = br.tree_size()
        assert size == before["index"] + 2  # nothing lost, the note appended once
        st, after, _ = fed.propose(isoc.http, ["cn"], cn_ds_ops(isoc.http, 10))
        assert st == 201, after
        fed.wait_all(after["index"] + 1, ["br", "isoc"])
        for m in ["br", "isoc"]:
            content = fed.nodes[m].http.record("tld/cn")["content"]
            assert f"{9:064X}" in content and f"{10:064X}" in content
    finally:
        fed.start(SEQUENCER)
    fed.wait_all(br.tree_size())
    _, _, net = cn.http.get("/v1/network")
    assert net["sequencer"] == "br" and net["following"] and net["alarm"] is None
    assert "failover: learnt from" in cn.log_text()


def ds_ops(http, tld, tag):
    """tld/<tld> as served, plus one DS whose digest carries tag."""
    content = http.record(f"tld/{tld}")["content"]
    return [("put", f"tld/{tld}", content + f"{tld}. 86400 IN DS 57724 8 2 {tag:064X}\n")]


def fail_over(fed, to, via):
    """A failover note naming to, signed by 4 of the 5 members, given to node via."""
    body = fed.body(fed.nodes[to].http, "br",
                    [("put", "network/sequencer", f"sequencer {to}\n")])
    st, _, j = fed.nodes[via].http.post(
        "/v1/failover", note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"])))
    assert st == 202 and j["sequencer"] == to, j


def settled(fed, seq):
    """Until every node holds the sequencer seq's log and seq knows it final: its size."""
    fed.wait_all(seq.tree_size())
    size = seq.tree_size()
    deadline = time.time() + 30
    while seq.http.get("/v1/network")[2]["final_size"] < size:
        assert time.time() < deadline, "the sequencer's log never became final"
        time.sleep(0.1)
    return size


def assert_rejoined(fed, new, seq, left, size, tags):
    """Every node names new, raised no alarm and serves each (tld, tag) change; left, the
    proposal the deposed sequencer seq dropped, came back through new at index size + 2."""
    for m in NODES:
        _, _, n = fed.nodes[m].http.get("/v1/network")
        assert n["sequencer"] == new and n["alarm"] is None, (m, n)
        for tld, tag in tags:
            assert f"{tag:064X}" in fed.nodes[m].http.record(f"tld/{tld}")["content"], (m, tld)
    st, _, p = seq.http.get(f"/v1/proposals/{left['id']}")
    assert st == 200 and p["status"] == "accepted" and p["index"] == size + 2, p


def test_deposed_sequencer_drops_what_never_became_final(fed):
    """The sequencer checkpoints a change no witness saw (the others are frozen), and dies. The
    others fail over and go on without it. Back, the deposed sequencer finds its checkpointed
    entry left behind: it drops it (never final: nobody had promised it), keeps everything
    final, follows the new sequencer, and hands the dropped proposal to it again, which
    accepts it; the proposal that waited for approvals there goes to the new sequencer too.
    No alarm: a failover is not a split view."""
    net = fed.nodes["isoc"].http.get("/v1/network")[2]
    old = net["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    seq = fed.nodes[old]
    # accepted by the old sequencer: the new one answers for it from its log
    st, early, _ = fed.propose(seq.http, ["cn"], cn_ds_ops(seq.http, 29))
    assert st == 201, early
    size = settled(fed, seq)
    # a gTLD change waiting for approvals: only the sequencer holds it
    org = fed.body(seq.http, "br", ds_ops(seq.http, "org", 32))
    st, _, waiting = seq.http.post("/v1/proposals", note(org, fed.keys["br"]))
    assert st == 202 and waiting["status"] == "pending", waiting
    frozen = [fed.nodes[new].proc, fed.nodes[third].proc]
    for p in frozen:
        p.send_signal(signal.SIGSTOP)
    try:
        st, left, _ = fed.propose(seq.http, ["cn"], cn_ds_ops(seq.http, 30))
        assert st == 201, left  # answered after a while, not final
        assert seq.tree_size() == size + 1
        assert not seq.http.record("tld/cn")["final"]
        seq.kill()
    finally:
        for p in frozen:
            p.send_signal(signal.SIGCONT)
    try:
        fail_over(fed, new, third)
        for m in [new, third]:
            wait_sequencer(fed.nodes[m], new)
        assert fed.nodes[new].tree_size() == size + 1  # the note, where the change was
        st, after, _ = fed.propose(fed.nodes[third].http, ["br"],
                                   ds_ops(fed.nodes[third].http, "br", 31))
        assert st == 201, after
    finally:
        fed.start(old)
    # the dropped change comes back through the new sequencer: size + 3 in all
    fed.wait_all(size + 3)
    heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:3]) for m in NODES}
    assert len(heads) == 1, heads
    log = seq.log_text()
    assert "dropped 1 entries beyond the last final checkpoint" in log, log[-3000:]
    assert "1 proposals of theirs handed to the sequencer again" in log
    # Its DNS serials never went back, nor came again with other content: the zone it
    # served before the cut showed the dropped entry (docs/format.md, SOA serial).
    pattern = r"serving zone serial (\d+) over DNS \(log size (\d+)\)"
    served = [(int(a), int(b)) for a, b in re.findall(pattern, log)]
    before = log[:log.index("dropped 1 entries beyond the last final checkpoint")]
    assert any(int(b) == size + 1 for _, b in re.findall(pattern, before)), served
    for (s0, b0), (s1, b1) in zip(served, served[1:]):
        assert s1 > s0 or (s1 == s0 and b1 == b0), served
    assert len(set(served)) == len({s for s, _ in served}), served  # one size a serial
    assert_rejoined(fed, new, seq, left, size, [("cn", 30), ("br", 31)])
    st, _, p = fed.nodes[new].http.get(f"/v1/proposals/{early['id']}")
    assert st == 200 and p["status"] == "accepted" and p["index"] == early["index"], p
    assert p["signers"] == ["cn"]
    # the pending proposal went to the new sequencer, which gathers its approvals
    assert "1 pending proposals handed to the sequencer" in log
    pid = waiting["id"]
    deadline = time.time() + 30
    while fed.nodes[new].http.get(f"/v1/proposals/{pid}")[0] != 200:
        assert time.time() < deadline, "the pending proposal never reached the new sequencer"
        time.sleep(0.1)
    for m in ["cn", "za", "isoc"]:
        st, _, j = fed.nodes[third].http.post(f"/v1/proposals/{pid}/signatures",
                                              note(org, fed.keys[m]))
    assert st == 201 and j["status"] == "accepted", j
    fed.wait_all(j["index"] + 1)
    for m in NODES:
        assert f"{32:064X}" in fed.nodes[m].http.record("tld/org")["content"]


def test_a_deposed_sequencer_that_missed_the_failover_learns_it_from_the_final_log(fed):
    """As above, but the failover note has expired when the deposed sequencer comes back, so
    it cannot take it. The final log the others serve tells it instead: signed by the node
    the note named, cosigned by a witness quorum, not the log it holds. It follows that
    node, drops what never became final and hands it on. (Before, it refused the expired note
    and went on deciding a log of its own, its DNS serving changes no other node had.)"""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    seq = fed.nodes[old]
    size = settled(fed, seq)
    frozen = [fed.nodes[new].proc, fed.nodes[third].proc]
    for p in frozen:
        p.send_signal(signal.SIGSTOP)
    try:
        st, left, _ = fed.propose(seq.http, ["cn"], cn_ds_ops(seq.http, 42))
        assert st == 201, left  # not final: nobody else saw it
        seq.kill()
    finally:
        for p in frozen:
            p.send_signal(signal.SIGCONT)
    try:
        expires = int(time.time()) + 20  # time enough to take over, even on a slow machine
        body = fed.body(fed.nodes[new].http, "br",
                        [("put", "network/sequencer", f"sequencer {new}\n")], expires=expires)
        st, _, j = fed.nodes[third].http.post(
            "/v1/failover", note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"])))
        assert st == 202 and j["sequencer"] == new, j
        for m in [new, third]:
            wait_sequencer(fed.nodes[m], new)
        st, after, _ = fed.propose(fed.nodes[third].http, ["br"],
                                   ds_ops(fed.nodes[third].http, "br", 41))
        assert st == 201, after
        # expired on the nodes' clocks too (a node's second may lag the test's)
        while time.time() < expires + 2:
            time.sleep(0.2)
    finally:
        fed.start(old)
    fed.wait_all(size + 3)  # the note, the change after it, the dropped change again
    heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:3]) for m in NODES}
    assert len(heads) == 1, (heads, seq.log_text()[-3000:])
    log = seq.log_text()
    assert f"serves a final log of {new} that this node does not hold" in log, log[-3000:]
    assert "dropped 1 entries beyond the last final checkpoint" in log, log[-3000:]
    assert_rejoined(fed, new, seq, left, size, [("cn", 42), ("br", 41)])


def test_failover_keeps_proposals_waiting_for_approvals(fed):
    """A gTLD change waits at the sequencer for approvals, with an objection. Every follower
    keeps a copy of what waits there; the sequencer dies for good; the node the failover
    names takes the change over, objection included, and gathers the rest of its approvals."""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    seq = fed.nodes[old]
    org = fed.body(seq.http, "za", ds_ops(seq.http, "org", 33))
    st, _, waiting = fed.nodes[third].http.post("/v1/proposals", note(org, fed.keys["za"]))
    assert st == 202 and waiting["status"] == "pending", waiting
    pid = waiting["id"]
    objection = f"concord objection v1\norigin {ORIGIN}\nproposal {pid}\n"
    st, _, j = fed.nodes[third].http.post(f"/v1/proposals/{pid}/objections",
                                          note(objection, fed.keys["de"]))
    assert st == 200 and j["objectors"] == ["de"], j
    objected = int(time.time())
    deadline = time.time() + 30
    while True:  # a copy asked for after the objection was taken
        copy = fed.nodes[new].http.get("/v1/network")[2]
        if copy["pending_copied_at"] > objected:
            break
        assert time.time() < deadline, f"{new} keeps no copy of the pending proposals"
        time.sleep(0.1)
    assert copy["pending_copied"] == 1, copy
    seq.kill()
    try:
        fail_over(fed, new, third)
        taken = "1 of the 1 proposals that waited at the deposed sequencer taken over"
        deadline = time.time() + 60
        while taken not in fed.nodes[new].log_text():  # with its objection, then
            assert time.time() < deadline, "the new sequencer never took the proposal over"
            time.sleep(0.1)
        st, _, p = fed.nodes[third].http.get(f"/v1/proposals/{pid}")
        assert st == 200 and p["status"] == "pending" and p["objectors"] == ["de"], p
        for m in ["cn", "br", "isoc"]:
            st, _, j = fed.nodes[third].http.post(f"/v1/proposals/{pid}/signatures",
                                                  note(org, fed.keys[m]))
        assert st == 201 and j["status"] == "accepted", j
        fed.wait_all(j["index"] + 1, [new, third])
    finally:
        fed.start(old)
    fed.wait_all(fed.nodes[new].tree_size())
    for m in NODES:
        assert f"{33:064X}" in fed.nodes[m].http.record("tld/org")["content"]


def test_failover_waits_for_a_witness_of_every_final_entry(fed):
    """A change becomes final with the cosignature of one follower alone (the other is
    frozen); the sequencer dies and that witness freezes. The failover names the node that
    never saw the change: it must not append the note on its own log, which lacks a final
    entry (2 of the 3 nodes must give their log, it alone answers). Once the witness is back,
    the named node finishes the failover by itself, on the log that holds the change."""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    seq, named, witness = fed.nodes[old], fed.nodes[new], fed.nodes[third]
    fed.wait_all(seq.tree_size())
    before = named.tree_size()
    named.proc.send_signal(signal.SIGSTOP)
    try:
        st, done, _ = fed.propose(seq.http, ["cn"], cn_ds_ops(seq.http, 34))
        assert st == 201, done
        assert seq.http.record("tld/cn")["final"]  # the sequencer and the witness cosigned
        fed.wait_all(done["index"] + 1, [third])
        seq.kill()
        witness.proc.send_signal(signal.SIGSTOP)
    finally:
        named.proc.send_signal(signal.SIGCONT)
    try:
        assert named.tree_size() == before == done["index"]
        body = fed.body(named.http, "br", [("put", "network/sequencer", f"sequencer {new}\n")])
        st, _, j = named.http.post(
            "/v1/failover", note(body, *(fed.keys[m] for m in ["br", "cn", "de", "za"])))
        assert st == 503 and j["title"] == "failover incomplete", j
        assert "1 of the 3 nodes gave their log" in j["detail"], j
        assert "2 must" in j["detail"] and third in j["detail"], j
        assert named.tree_size() == before  # nothing appended
    finally:
        witness.proc.send_signal(signal.SIGCONT)
    try:
        for m in [new, third]:
            wait_sequencer(fed.nodes[m], new)
        # the note after the final change, not in its place
        assert named.tree_size() == done["index"] + 2
        assert f"{34:064X}" in named.http.record("tld/cn")["content"]
        said = f"the note is entry {done['index'] + 1}, this node sequences the log"
        deadline = time.time() + 30
        while said not in named.log_text():  # logged after the append
            assert time.time() < deadline, named.log_text()[-3000:]
            time.sleep(0.1)
        assert "1 of the 3 nodes gave their log" in named.log_text()
        for m in [new, third]:
            assert fed.nodes[m].http.get("/v1/network")[2]["alarm"] is None
    finally:
        fed.start(old)
    fed.wait_all(named.tree_size())
    heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:3]) for m in NODES}
    assert len(heads) == 1, heads
    for m in NODES:
        assert fed.nodes[m].http.get("/v1/network")[2]["alarm"] is None, m


def test_a_failover_note_that_expires_before_it_can_be_appended_gives_way(fed):
    """The named node cannot hear from enough nodes while its note is valid: once the note
    has expired it stops trying and stands by (it does not fall back to the dead sequencer,
    which the others no longer follow); a new note for it replaces the old one and the
    failover completes."""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    named, other = fed.nodes[new], fed.nodes[third]
    fed.wait_all(fed.nodes[old].tree_size())
    size = named.tree_size()
    signers = [fed.keys[m] for m in ["br", "cn", "de", "za"]]
    fed.nodes[old].kill()
    other.proc.send_signal(signal.SIGSTOP)
    try:
        short = fed.body(named.http, "br", [("put", "network/sequencer", f"sequencer {new}\n")],
                         expires=int(time.time()) + 5)
        st, _, j = named.http.post("/v1/failover", note(short, *signers))
        assert st == 503 and j["title"] == "failover incomplete", j
        deadline = time.time() + 60
        while "the note naming this node no longer holds" not in named.log_text():
            assert time.time() < deadline, named.log_text()[-3000:]
            time.sleep(0.2)
        mark = len(named.log_text())
    finally:
        other.proc.send_signal(signal.SIGCONT)
    try:
        time.sleep(3)  # the witness is back: an expired note is still not appended
        assert "this node sequences the log" not in named.log_text()[mark:]
        st, _, j = named.http.post("/v1/proposals", note(
            fed.body(named.http, "cn", cn_ds_ops(named.http, 35)), fed.keys["cn"]))
        assert st == 503, j  # standing by: nobody decides
        fresh = fed.body(named.http, "br", [("put", "network/sequencer", f"sequencer {new}\n")])
        st, _, j = named.http.post("/v1/failover", note(fresh, *signers))
        assert st == 202 and j["status"] == "taken", j
        for m in [new, third]:
            wait_sequencer(fed.nodes[m], new)
        assert named.tree_size() > size
    finally:
        fed.start(old)
    fed.wait_all(named.tree_size())
    for m in NODES:
        assert fed.nodes[m].http.get("/v1/network")[2]["alarm"] is None, m


def test_two_failover_notes_at_once_never_split_the_log(fed):
    """Members signed two notes naming two nodes, and each is given to the node it names at
    the same moment. A node backs one note at a time and a takeover needs more than half the
    nodes, so at most one of them is appended. In a stalemate (each node backs its own) the
    network stands by until the notes expire; then each named node may let its own go (it
    alone could have appended it), and a new note wins. Every node ends with one log."""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    a, b = [m for m in NODES if m != old][:2]
    fed.wait_all(fed.nodes[old].tree_size())
    size = fed.nodes[a].tree_size()
    signers = [fed.keys[m] for m in ["br", "cn", "de", "za"]]
    notes = {m: note(fed.body(fed.nodes[m].http, "cn",
                              [("put", "network/sequencer", f"sequencer {m}\n")],
                              expires=int(time.time()) + 4), *signers) for m in (a, b)}
    fed.nodes[old].kill()
    answers = {}

    def give(m):
        answers[m] = fed.nodes[m].http.post("/v1/failover", notes[m])

    try:
        threads = [threading.Thread(target=give, args=(m,)) for m in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(answers) == sorted([a, b]), answers
        won = [m for m in (a, b) if answers[m][0] == 202]
        assert len(won) <= 1, answers
        for m in (a, b):
            assert answers[m][0] in (202, 409, 503), answers
        if not won:
            time.sleep(6)  # past both expiries, on the nodes' clock too
            fresh = note(fed.body(fed.nodes[a].http, "cn",
                                  [("put", "network/sequencer", f"sequencer {a}\n")]), *signers)
            st, _, j = fed.nodes[a].http.post("/v1/failover", fresh)
            assert st == 202, j
            won = [a]
        for m in (a, b):
            wait_sequencer(fed.nodes[m], won[0])
        fed.wait_all(size + 1, [a, b])
        heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:3]) for m in (a, b)}
        assert len(heads) == 1, heads
    finally:
        fed.start(old)
    fed.wait_all(fed.nodes[won[0]].tree_size())
    heads = {tuple(fed.nodes[m].checkpoint().split("\n")[:3]) for m in NODES}
    assert len(heads) == 1, heads
    for m in NODES:
        net = fed.nodes[m].http.get("/v1/network")[2]
        assert net["sequencer"] == won[0] and net["alarm"] is None, (m, net)


def test_a_change_kept_for_the_old_sequencer_is_decided_by_the_node_that_takes_over(fed):
    """A follower keeps a change while the sequencer is away (202 queued); a failover then
    names that very follower: the change it kept is decided there, not left in its outbox."""
    old = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    new, third = [m for m in NODES if m != old][:2]
    named = fed.nodes[new]
    fed.wait_all(fed.nodes[old].tree_size())
    fed.nodes[old].kill()
    try:
        body = fed.body(named.http, "cn", cn_ds_ops(named.http, 36))
        st, _, j = named.http.post("/v1/proposals", note(body, fed.keys["cn"]))
        assert st == 202 and j["status"] == "queued", j
        fail_over(fed, new, third)
        for m in [new, third]:
            wait_sequencer(fed.nodes[m], new)
        deadline = time.time() + 60
        while f"{36:064X}" not in named.http.record("tld/cn")["content"]:
            assert time.time() < deadline, named.log_text()[-3000:]
            time.sleep(0.1)
        assert "decided here, this node sequencing now: HTTP 201" in named.log_text()
        fed.wait_all(named.tree_size(), [new, third])
        assert f"{36:064X}" in fed.nodes[third].http.record("tld/cn")["content"]
    finally:
        fed.start(old)
    fed.wait_all(named.tree_size())


def fill_share(fed, m):
    """1,000 gTLD changes by m in one batch to the sequencer, enough to fill m's share of
    pending proposals there: (sequencer id, its node, a follower, tld/org's content, the
    batch's results)."""
    seqid = fed.nodes["isoc"].http.get("/v1/network")[2]["sequencer"]
    fol = [n for n in NODES if n != seqid][0]
    seq, f = fed.nodes[seqid], fed.nodes[fol]
    content = seq.http.record("tld/org")["content"]
    full = [note(fed.body(seq.http, m, [("put", "tld/org", new_ds(content, f"{m}full{i}"))]),
                 fed.keys[m]) for i in range(1000)]
    st, _, data = post_batch(seq, frame(*full))
    assert st == 200, data
    return seqid, seq, f, content, json.loads(data)["results"]


def test_approvals_wait_behind_a_proposal_the_sequencer_deferred(fed):
    """A follower keeps a proposal while the sequencer is away; back, the sequencer defers it
    (429: its proposer's share is full there). Approvals given to the follower meanwhile and
    after wait behind it, instead of being lost to the sequencer's 404, and reach the
    sequencer with it once its proposer has room again."""
    seqid, seq, f, content, results = fill_share(fed, "br")
    assert {r.get("status") for r in results} == {"pending"}
    body = fed.body(f.http, "br", [("put", "tld/org", new_ds(content, "kept"))])
    pid = proposal_id(body)
    seq.kill()
    try:
        st, _, j = f.http.post("/v1/proposals", note(body, fed.keys["br"]))
        assert st == 202 and j["status"] == "queued", j
        st, _, j = f.http.post(f"/v1/proposals/{pid}/signatures", note(body, fed.keys["cn"]))
        assert st == 202 and j["status"] == "queued", j
    finally:
        fed.start(seqid)
    deadline = time.time() + 60
    while "queued /v1/proposals kept, sent again later" not in f.log_text():
        assert time.time() < deadline, f.log_text()[-3000:]
        time.sleep(0.1)
    assert seq.http.get(f"/v1/proposals/{pid}")[0] == 404  # deferred: not there yet
    st, _, j = f.http.post(f"/v1/proposals/{pid}/signatures", note(body, fed.keys["de"]))
    assert st == 202 and j["status"] == "queued", j
    # behind the first approval, or (once that one was deferred) behind the proposal alone
    assert ("its proposal waits on this node" in j["detail"]
            or "earlier requests wait on this node" in j["detail"]), j
    # room for one more of br's: two governments reject one of the thousand
    first = results[0]["id"]
    for m in ["cn", "de"]:
        st, _, j = seq.http.post(f"/v1/proposals/{first}/objections",
                                 objection(ORIGIN, first, fed.keys[m]))
    assert st == 200 and j["status"] == "rejected", j
    deadline = time.time() + 60
    while True:
        st, _, p = seq.http.get(f"/v1/proposals/{pid}")
        if st == 200 and p["signers"] == ["br", "cn", "de"]:
            break
        assert time.time() < deadline, (st, p)
        time.sleep(0.1)
    assert p["status"] == "pending", p  # the technical chamber has not approved yet


def test_a_kept_batch_keeps_what_the_sequencer_deferred(fed):
    """A batch kept on a follower while the sequencer is away; back, the sequencer answers
    it with 429 for its two proposals (their proposer's share is full there). The follower
    keeps those two and sends them again until there is room, rather than dropping them
    with the batch's answer."""
    seqid, seq, f, content, results = fill_share(fed, "za")
    waiting = [r["id"] for r in results if r.get("status") == "pending"]
    assert len(waiting) >= 2, results[:3]
    assert all(r.get("status") == "pending" or r["error"]["status"] == 429 for r in results)
    kept = [fed.body(f.http, "za", [("put", "tld/org", new_ds(content, f"zkept{i}"))])
            for i in range(2)]
    seq.kill()
    try:
        st, _, data = post_batch(f, frame(*(note(b, fed.keys["za"]) for b in kept)))
        assert st == 202 and json.loads(data)["status"] == "queued", data
    finally:
        fed.start(seqid)
    said = "queued /v1/proposals/batch: 2 of its proposals deferred (429), kept, sent again later"
    deadline = time.time() + 60
    while said not in f.log_text():
        assert time.time() < deadline, f.log_text()[-3000:]
        time.sleep(0.1)
    for pid in map(proposal_id, kept):
        assert seq.http.get(f"/v1/proposals/{pid}")[0] == 404  # deferred: not there yet
    for pid in waiting[:2]:  # room for two: two governments reject two of the thousand
        for m in ["cn", "de"]:
            st, _, j = seq.http.post(f"/v1/proposals/{pid}/objections",
                                     objection(ORIGIN, pid, fed.keys[m]))
        assert st == 200 and j["status"] == "rejected", j
    deadline = time.time() + 60
    for pid in map(proposal_id, kept):
        while True:
            st, _, p = seq.http.get(f"/v1/proposals/{pid}")
            if st == 200:
                break
            assert time.time() < deadline, (pid, f.log_text()[-3000:])
            time.sleep(0.2)
        assert p["status"] == "pending" and p["signers"] == ["za"], p


def test_verify_every_node(fed):
    for m in NODES:
        r = cli("verify", fed.nodes[m].url, check=False)
        assert r.returncode == 0, (m, r.stdout, r.stderr)

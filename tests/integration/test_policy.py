"""Who must sign what (docs/format.md, Policies), over HTTP and through the CLI."""
import collections
import hashlib
import json
import time

from concord import (Key, cli, entry_note, fetch_entries, note, objection, proposal_body,
                     proposal_id)
from conftest import ROOT_ZONE, Network


def new_ds(content, seed):
    """content with the digest of its first DS record replaced (a DS roll)."""
    lines = content.splitlines(keepends=True)
    for i, line in enumerate(lines):
        f = line.split()
        if f[3] == "DS":
            digest = hashlib.sha256(seed.encode()).hexdigest().upper()
            lines[i] = " ".join(f[:7] + [digest]) + "\n"
            return "".join(lines)
    raise AssertionError("no DS record")


def logged_note(node, index):
    return entry_note(fetch_entries(node.http, node.tree_size())[index])


def assert_pending(j, unmet):
    """j is pending and exactly the (policy, what) of `unmet` are unmet."""
    assert j["status"] == "pending" and j["index"] is None, j
    got = {(n["policy"], n["what"]) for n in j["needs"] if not n["met"]}
    assert got == set(unmet), j["needs"]
    for n in j["needs"]:
        assert n["met"] == (n["have"] >= n["need"]), n


def test_state_changes_its_cctld_at_once(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/cn")
    assert old["policy"] == "policy/cctld"
    content = new_ds(old["content"], "cn-1")
    st, j, body = network.propose(h, ["cn"], [("put", "tld/cn", content)])
    assert st == 201, j
    assert j["status"] == "accepted" and j["index"] == size and j["signers"] == ["cn"]
    assert j["id"] == proposal_id(body) and j["needs"] == []
    rec = h.record("tld/cn")
    assert rec["version"] == size and rec["content"] == content
    assert node.tree_size() == size + 1
    # the log holds the note with cn's signature, byte for byte
    assert logged_note(node, size) == note(body, network.keys["cn"])
    # a record as served, put back unchanged, is accepted and served identically
    st, j, _ = network.propose(h, ["cn"], [("put", "tld/cn", rec["content"])])
    assert st == 201 and j["index"] == size + 1
    again = h.record("tld/cn")
    assert again["content"] == rec["content"] and again["version"] == size + 1


def test_cli_show_propose_round_trip(network, node, tmp_path):
    url = node.url
    shown = cli("show", "--node", url, "tld/br").stdout
    f = tmp_path / "br.txt"
    f.write_text(new_ds(shown, "br-1"))
    size = node.tree_size()
    out = cli("propose", "--key", network.key_file("br"), "--node", url, "put", "tld/br", f)
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and len(lines[0]) == 64, out.stdout
    assert lines[1] == f"accepted at index {size}"
    assert cli("show", "--node", url, "tld/br").stdout == f.read_text()
    j = json.loads(cli("show", "--node", url, "--json", "tld/br").stdout)
    assert j["version"] == size and j["content"] == f.read_text()
    # unchanged round trip: show > f; propose put f; show gives f back byte for byte
    f.write_text(cli("show", "--node", url, "tld/br").stdout)
    out = cli("propose", "--key", network.key_file("br"), "--node", url, "put", "tld/br", f)
    assert out.stdout.splitlines()[1] == f"accepted at index {size + 1}"
    assert cli("show", "--node", url, "tld/br").stdout.encode() == f.read_bytes()


def test_gtld_needs_two_thirds_of_governments_and_half_of_technical(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/org")
    assert old["policy"] == "policy/tld"
    content = new_ds(old["content"], "org-1")
    st, j, body = network.propose(h, ["br"], [("put", "tld/org", content)])
    assert st == 202, j
    gov, tech = ("policy/tld", "2/3 of government"), ("policy/tld", "1/2 of technical")
    assert_pending(j, [gov, tech])
    needs = {n["what"]: n for n in j["needs"]}
    assert needs["2/3 of government"]["have"] == 1 and needs["2/3 of government"]["need"] == 3
    assert needs["2/3 of government"]["candidates"] == ["cn", "de", "za"]
    assert needs["2/3 of government"]["path"] == "tld/org"
    assert needs["1/2 of technical"]["have"] == 0 and needs["1/2 of technical"]["need"] == 1
    assert needs["1/2 of technical"]["candidates"] == ["isoc"]
    pid = j["id"]
    assert h.get(f"/v1/proposals/{pid}")[2]["status"] == "pending"

    st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys["za"].sig_line(body))
    assert st == 200
    assert_pending(j, [gov, tech])
    # three governments out of four: the government chamber is satisfied, not the technical
    st, _, j = h.post("/v1/proposals", note(body, network.keys["de"]))
    assert st == 200
    assert_pending(j, [tech])
    assert node.tree_size() == size and h.record("tld/org") == old

    st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys["isoc"].sig_line(body))
    assert st == 201, j
    assert j["status"] == "accepted" and j["index"] == size
    assert j["signers"] == ["br", "de", "isoc", "za"]
    rec = h.record("tld/org")
    assert rec["version"] == size and rec["content"] == content
    # the log holds exactly the approvals, in ascending order of member id
    k = network.keys
    assert logged_note(node, size) == note(body, k["br"], k["de"], k["isoc"], k["za"])


def test_gtld_quorum_through_the_cli(network, node, tmp_path):
    url = node.url
    f = tmp_path / "net.txt"
    f.write_text(new_ds(cli("show", "--node", url, "tld/net").stdout, "net-1"))
    size = node.tree_size()
    out = cli("propose", "--key", network.key_file("br"), "--node", url, "put", "tld/net", f)
    pid, status = out.stdout.splitlines()
    assert status == ("pending: policy/tld 2/3 of government 1/3 [cn de za]; "
                      "policy/tld 1/2 of technical 0/1 [isoc]")
    listed = cli("proposals", "--node", url, "--status", "pending").stdout.splitlines()
    assert f"{pid} pending br tld/net {status[len('pending: '):]}" in listed
    for m, want in [("za", "pending: policy/tld 2/3 of government 2/3 [cn de]; "
                           "policy/tld 1/2 of technical 0/1 [isoc]"),
                    ("isoc", "pending: policy/tld 2/3 of government 2/3 [cn de]"),
                    ("cn", f"accepted at index {size}")]:
        out = cli("approve", "--key", network.key_file(m), "--node", url, pid)
        assert out.stdout.splitlines() == [pid, want]
    assert cli("show", "--node", url, "tld/net").stdout == f.read_text()
    listed = cli("proposals", "--node", url, "--status", "accepted").stdout.splitlines()
    assert f"{pid} accepted br tld/net -" in listed


def test_cctld_of_a_non_member_needs_the_gtld_quorum(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/fr")
    assert old["policy"] == "policy/tld"
    content = new_ds(old["content"], "fr-1")
    st, j, body = network.propose(h, ["de"], [("put", "tld/fr", content)])
    assert st == 202
    assert_pending(j, [("policy/tld", "2/3 of government"), ("policy/tld", "1/2 of technical")])
    for m in ["br", "za"]:
        st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures", network.keys[m].sig_line(body))
        assert st == 200
    assert_pending(j, [("policy/tld", "1/2 of technical")])
    assert node.tree_size() == size
    st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures", network.keys["isoc"].sig_line(body))
    assert st == 201 and j["index"] == size
    assert h.record("tld/fr")["version"] == size


def shared_host():
    """(host, ccTLD of a member state, [gTLDs]) of a name server of the real root zone used by
    both a member state's ccTLD and by gTLDs."""
    users = collections.defaultdict(set)
    for line in open(ROOT_ZONE):
        f = line.split()
        if len(f) >= 5 and f[3] == "NS" and f[0] != ".":
            users[f[4].lower()].add(f[0].lower().rstrip("."))
    for host in sorted(users):
        cc = [t for t in users[host] if t in ("cn", "br", "za", "de")]
        gtlds = sorted(t for t in users[host] if len(t) > 2)
        if cc and gtlds:
            return host, cc[0], gtlds
    raise AssertionError("no shared name server in the root zone")


def test_shared_name_server_needs_both_policies(network, node):
    h = node.http
    host, cc, gtlds = shared_host()
    size = node.tree_size()
    old = h.record(f"tld/{cc}")
    old_host = h.record(f"host/{host}")
    assert old_host["content"] in old["content"]
    lines = old_host["content"].splitlines()
    a = [l for l in lines if l.split()[3] == "A"][0]
    f = a.split()
    moved = " ".join(f[:4] + [f[4].rsplit(".", 1)[0] + ".253"])
    content = old["content"].replace(a, moved)
    assert content != old["content"]

    # a government other than the state proposes: it counts for the gTLDs only
    st, j, body = network.propose(h, ["za"], [("put", f"tld/{cc}", content)])
    assert st == 202, j
    state = ("policy/cctld", f"state {cc}")
    assert_pending(j, [state, ("policy/tld", "2/3 of government"),
                       ("policy/tld", "1/2 of technical")])
    assert {n["path"] for n in j["needs"] if n["policy"] == "policy/tld"} <= \
        {f"tld/{g}" for g in gtlds}
    pid = j["id"]
    for m in ["cn", "de", "isoc"]:
        if m == cc:
            continue
        st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys[m].sig_line(body))
        assert st == 200, j
    # the gTLD quorum is there; the state of the ccTLD is not
    assert_pending(j, [state])
    assert node.tree_size() == size and h.record(f"host/{host}") == old_host

    st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys[cc].sig_line(body))
    assert st == 201, j
    assert j["index"] == size
    assert moved in h.record(f"host/{host}")["content"]
    # every TLD that uses the host moved to the new entry
    for t in [cc] + gtlds:
        rec = h.record(f"tld/{t}")
        assert rec["version"] == size and moved in rec["content"], t


def test_objections_reject_a_proposal(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/info")
    st, j, body = network.propose(h, ["br"], [("put", "tld/info", new_ds(old["content"], "i"))])
    assert st == 202
    pid = j["id"]
    st, _, j = h.post(f"/v1/proposals/{pid}/objections", objection(network.origin, pid,
                                                                   network.keys["cn"]))
    assert st == 200 and j["status"] == "pending" and j["objectors"] == ["cn"]
    # with two of four governments objecting, 2/3 of governments cannot be reached
    st, _, j = h.post(f"/v1/proposals/{pid}/objections", objection(network.origin, pid,
                                                                   network.keys["de"]))
    assert st == 200 and j["status"] == "rejected" and j["reason"], j
    assert h.get(f"/v1/proposals/{pid}")[2]["status"] == "rejected"
    # approving a rejected proposal changes nothing
    st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys["za"].sig_line(body))
    assert st == 409, j
    assert node.tree_size() == size and h.record("tld/info") == old
    listed = cli("proposals", "--node", node.url, "--status", "rejected").stdout
    assert f"{pid} rejected br tld/info -" in listed.splitlines()


def test_one_objection_note_signed_by_several_members(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/app")
    st, j, _ = network.propose(h, ["br"], [("put", "tld/app", new_ds(old["content"], "a"))])
    assert st == 202
    text = f"concord objection v1\norigin {network.origin}\nproposal {j['id']}\n"
    st, _, j = h.post(f"/v1/proposals/{j['id']}/objections",
                      note(text, network.keys["cn"], network.keys["de"]))
    assert st == 200 and j["status"] == "rejected" and j["objectors"] == ["cn", "de"], j
    assert node.tree_size() == size and h.record("tld/app") == old


def test_objection_through_the_cli(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/xyz")
    st, j, _ = network.propose(h, ["br"], [("put", "tld/xyz", new_ds(old["content"], "x"))])
    assert st == 202
    # the only technical member objects: half of the technical chamber is out of reach
    out = cli("object", "--key", network.key_file("isoc"), "--node", node.url, j["id"])
    pid, status = out.stdout.splitlines()
    assert pid == j["id"] and status.startswith("rejected: "), out.stdout
    assert node.tree_size() == size and h.record("tld/xyz") == old


def member_content(pub_file):
    vkey, box = open(pub_file).read().splitlines()
    return f"chamber government\nkey {vkey}\n{box}\n"


def test_member_change_needs_two_thirds_of_all_members(network, node, tmp_path):
    h = node.http
    cli("keygen", "fr", "--dir", tmp_path)
    fr = Key.load(tmp_path / "fr.key")
    size = node.tree_size()
    body = proposal_body(network.origin, "cn",
                         [("put", "member/fr", "new", member_content(tmp_path / "fr.pub"))])
    k = network.keys
    st, _, j = h.post("/v1/proposals", note(body, k["cn"], k["br"], k["isoc"]))
    assert st == 202, j
    assert_pending(j, [("policy/member", "2/3 of all members")])
    need = [n for n in j["needs"] if not n["met"]][0]
    assert (need["have"], need["need"]) == (3, 4) and need["candidates"] == ["de", "za"]
    assert node.tree_size() == size
    st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures", k["za"].sig_line(body))
    assert st == 201 and j["index"] == size, j
    members = {m["id"]: m for m in h.get("/v1/network")[2]["members"]}
    assert members["fr"]["key"] == fr.vkey() and members["fr"]["version"] == size
    # France is a member now: its ccTLD is its own
    old = h.record("tld/fr")
    assert old["policy"] == "policy/cctld"
    fr_body = proposal_body(network.origin, "fr",
                            [("put", "tld/fr", old["version"], new_ds(old["content"], "fr"))])
    st, _, j = h.post("/v1/proposals", note(fr_body, fr))
    assert st == 201 and j["index"] == size + 1, j


def test_policy_change_needs_two_thirds_of_all_members(network, node):
    h = node.http
    size = node.tree_size()
    lenient = "applies tld/*\nrequire chamber government 1/2\nrequire chamber * 1/2\n"
    st, j, body = network.propose(h, ["cn", "br", "za"], [("put", "policy/tld", lenient)])
    assert st == 202, j
    assert_pending(j, [("policy/policy", "2/3 of all members")])
    assert h.record("policy/tld")["content"] != lenient
    st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures", network.keys["de"].sig_line(body))
    assert st == 201 and j["index"] == size, j
    rec = h.record("policy/tld")
    assert rec["content"] == lenient and rec["version"] == size
    # the new rule applies at once: two governments and the technical member suffice
    old = h.record("tld/com")
    st, j, _ = network.propose(h, ["br", "cn", "isoc"],
                               [("put", "tld/com", new_ds(old["content"], "com"))])
    assert st == 201 and j["index"] == size + 1, j


def test_proposal_expires(network, node):
    h = node.http
    size = node.tree_size()
    old = h.record("tld/dev")
    now = int(time.time())
    st, j, body = network.propose(h, ["br"], [("put", "tld/dev", new_ds(old["content"], "d"))],
                                  created=now - 1, expires=now + 2)
    assert st == 202, j
    pid = j["id"]
    for _ in range(240):  # bounded: at most about a minute
        j = h.get(f"/v1/proposals/{pid}")[2]
        if j["status"] != "pending":
            break
        time.sleep(0.25)
    assert j["status"] == "expired", j
    assert "expired" in j["reason"], j
    assert pid in [p["id"] for p in h.get("/v1/proposals?status=expired")[2]["proposals"]]
    # approving it now is refused
    st, hd, doc = h.post(f"/v1/proposals/{pid}/signatures", network.keys["za"].sig_line(body))
    assert st == 410 and doc["type"] == "urn:concord:problem:expired", doc
    assert node.tree_size() == size and h.record("tld/dev") == old


def test_pending_proposal_goes_stale(network, node):
    """A pending change whose record changes under it cannot pass any more: rejected."""
    h = node.http
    old = h.record("tld/shop")
    st, j, body = network.propose(h, ["br"], [("put", "tld/shop", new_ds(old["content"], "a"))])
    assert st == 202
    st, j2, _ = network.propose(h, ["cn", "de", "za", "isoc"],
                                [("put", "tld/shop", new_ds(old["content"], "b"))])
    assert st == 201, j2
    for _ in range(240):  # the node notices at its next look at pending proposals
        p = h.get(f"/v1/proposals/{j['id']}")[2]
        if p["status"] != "pending":
            break
        time.sleep(0.25)
    assert p["status"] == "rejected" and "stale" in p["reason"], p
    st, _, doc = h.post(f"/v1/proposals/{j['id']}/signatures", network.keys["za"].sig_line(body))
    assert st == 409, doc
    assert h.record("tld/shop")["version"] == j2["index"]


def test_consultation_period(tmp_path_factory):
    """With `--consultation`, a gTLD change with its quorum waits until created + delay."""
    net = Network(str(tmp_path_factory.mktemp("consult")), root_zone=False, consultation="2s")
    node = net.node(str(tmp_path_factory.mktemp("consult-node") / "node"))
    try:
        h = node.start().http
        assert "delay 2\n" in h.record("policy/tld")["content"]
        content = "example. NS ns1.example.\nns1.example. A 192.0.2.1\n"
        st, j, _ = net.propose(h, ["br", "cn", "za", "isoc"], [("put", "tld/example", content)])
        assert st == 202 and j["status"] == "pending", j
        assert all(n["met"] for n in j["needs"]) and j["needs"]
        created = time.mktime(time.strptime(j["created"], "%Y-%m-%dT%H:%M:%SZ"))
        not_before = time.mktime(time.strptime(j["not_before"], "%Y-%m-%dT%H:%M:%SZ"))
        assert not_before - created == 2
        listed = cli("proposals", "--node", node.url, "--status", "pending").stdout
        assert f"{j['id']} pending br tld/example consultation until {j['not_before']}" in listed
        for _ in range(240):  # bounded: at most about a minute
            p = h.get(f"/v1/proposals/{j['id']}")[2]
            if p["status"] != "pending":
                break
            time.sleep(0.25)
        assert p["status"] == "accepted", p
        rec = h.record("tld/example")
        assert rec["version"] == p["index"]
        entry = fetch_entries(h, node.tree_size())[p["index"]].decode()
        logged = entry.split("\n", 1)[0].split()[2]
        assert logged >= j["not_before"]  # RFC 3339 UTC text sorts as time
    finally:
        node.stop()

"""Accepted proposals are read from the log (docs/api.md, Proposals): what the API shows of
them, across a restart, and what the node's store keeps besides the log."""
import json
import os
import sqlite3

from concord import assert_problem, cli, note, objection, proposal_id
from test_batch import frame, post_batch
from test_policy import new_ds


def rows(node, pid):
    """The node's own row of proposal pid, as (status, index), or None: accepted proposals
    that the log holds whole have none."""
    db = sqlite3.connect(f"file:{os.path.join(node.dir, 'concord.db')}?mode=ro", uri=True)
    try:
        r = db.execute("SELECT status, idx FROM proposals WHERE id = ?", (pid,)).fetchone()
    finally:
        db.close()
    return r


def listed(node, status=None):
    st, _, j = node.http.get("/v1/proposals" + (f"?status={status}" if status else ""))
    assert st == 200, j
    return [p["id"] for p in j["proposals"]]


def pending_gtld(network, node, tld, seed):
    """A DS change of gTLD tld proposed by br, pending: (its id, its body)."""
    content = new_ds(node.http.record(f"tld/{tld}")["content"], seed)
    st, j, body = network.propose(node.http, ["br"], [("put", f"tld/{tld}", content)])
    assert st == 202, j
    return j["id"], body


def restart(node):
    """Stopped and started again: the new address's client."""
    node.stop()
    return node.start().http


def test_accepted_at_once_is_read_from_the_log(network, node):
    h = node.http
    content = new_ds(h.record("tld/cn")["content"], "read-1")
    st, j, body = network.propose(h, ["cn"], [("put", "tld/cn", content)])
    assert st == 201 and j["status"] == "accepted", j
    pid, index = j["id"], j["index"]
    st, _, got = h.get(f"/v1/proposals/{pid}")
    assert st == 200, got
    assert got["status"] == "accepted" and got["index"] == index
    assert got["signers"] == ["cn"] and got["objectors"] == [] and got["objections"] == []
    assert got["body"] == body and got["note"] == note(body, network.keys["cn"])
    assert got["ops"] == j["ops"] and got["reason"] is None
    # nothing stored twice: the log entry is its only copy
    assert rows(node, pid) is None
    assert listed(node, "accepted")[0] == pid and pid in listed(node)
    assert pid not in listed(node, "pending")
    h = restart(node)
    assert h.get(f"/v1/proposals/{pid}")[2] == got
    assert listed(node, "accepted")[0] == pid
    # the same proposal again is told apart from a new one, from the log alone
    st, _, j = h.post("/v1/proposals", note(body, network.keys["cn"]))
    assert st == 409 and f"accepted at log index {index}" in j["detail"], j


def test_pending_then_accepted_leaves_its_row(network, node):
    pid, body = pending_gtld(network, node, "org", "read-2")
    assert rows(node, pid) == ("pending", None)
    h = restart(node)  # the pending row is what a restart reloads
    for m in ["de", "za"]:
        st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys[m].sig_line(body))
        assert st == 200 and j["status"] == "pending", j
    st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys["isoc"].sig_line(body))
    assert st == 201 and j["status"] == "accepted", j
    # every signature counted: the entry holds them all, the row goes
    assert rows(node, pid) is None
    st, _, got = h.get(f"/v1/proposals/{pid}")
    assert st == 200 and got["signers"] == ["br", "de", "isoc", "za"], got
    k = network.keys
    assert got["note"] == note(body, k["br"], k["de"], k["isoc"], k["za"])
    assert listed(node).count(pid) == 1 and listed(node, "accepted").count(pid) == 1
    h = restart(node)
    assert h.get(f"/v1/proposals/{pid}")[2] == got


def test_accepted_over_an_objection_keeps_its_row(network, node):
    """The entry holds the counted signatures only: an objection is kept in the row."""
    h = node.http
    pid, body = pending_gtld(network, node, "net", "read-3")
    st, _, j = h.post(f"/v1/proposals/{pid}/objections",
                      objection(network.origin, pid, network.keys["cn"]))
    assert st == 200 and j["objectors"] == ["cn"], j
    for m in ["de", "za", "isoc"]:
        st, _, j = h.post(f"/v1/proposals/{pid}/signatures", network.keys[m].sig_line(body))
    assert st == 201 and j["status"] == "accepted", j
    assert rows(node, pid) == ("accepted", j["index"])
    st, _, got = h.get(f"/v1/proposals/{pid}")
    assert got["objectors"] == ["cn"] and len(got["objections"]) == 1, got
    assert listed(node).count(pid) == 1 and listed(node, "accepted").count(pid) == 1
    h = restart(node)
    assert h.get(f"/v1/proposals/{pid}")[2] == got


def test_listing_merges_the_log_and_the_rows(network, node):
    """Newest first: the accepted ones from the log by index, the others by arrival."""
    h = node.http
    ids = []
    for i in range(3):
        content = new_ds(h.record("tld/de")["content"], f"list-{i}")
        st, j, _ = network.propose(h, ["de"], [("put", "tld/de", content)])
        assert st == 201, j
        ids.append(j["id"])
    content = new_ds(h.record("tld/com")["content"], "list-p")
    st, j, _ = network.propose(h, ["za"], [("put", "tld/com", content)])
    assert st == 202, j
    accepted = listed(node, "accepted")
    assert accepted[:3] == ids[::-1]
    assert listed(node, "pending") == [j["id"]]
    everything = listed(node)
    assert set(everything) == set(accepted) | {j["id"]}
    assert [p for p in everything if p != j["id"]] == accepted


def pages(node, status=None, limit=2, before=None):
    """Every page of a listing, limit at a time: (the ids in order, the number of pages)."""
    ids, n = [], 0
    while True:
        q = [f"limit={limit}"] + ([f"status={status}"] if status else []) + \
            ([f"before={before}"] if before else [])
        st, _, j = node.http.get("/v1/proposals?" + "&".join(q))
        assert st == 200, j
        assert len(j["proposals"]) <= limit
        ids += [p["id"] for p in j["proposals"]]
        n += 1
        if j["next"] is None:
            return ids, n
        assert len(j["proposals"]) == limit
        before = j["next"]


def test_listing_pages(network, node):
    """docs/api.md: a listing comes a page at a time; "next" says where the next one starts,
    and stays true while new proposals arrive (they come before it)."""
    h = node.http
    for i in range(3):
        content = new_ds(h.record("tld/za")["content"], f"page-{i}")
        st, j, _ = network.propose(h, ["za"], [("put", "tld/za", content)])
        assert st == 201, j
    for tld in ("net", "info"):
        pending_gtld(network, node, tld, "page")
    for status in (None, "accepted", "pending"):
        whole = listed(node, status)
        got, n = pages(node, status)
        assert got == whole and n >= len(whole) // 2, status
        assert pages(node, status, limit=1000) == (whole, 1)
    # a proposal made between two pages is not in the later ones, and nothing is left out
    st, _, first = h.get("/v1/proposals?limit=3")
    assert st == 200 and first["next"], first
    new = pending_gtld(network, node, "org", "page-new")[0]
    rest, _ = pages(node, before=first["next"], limit=3)
    assert [p["id"] for p in first["proposals"]] + rest == [p for p in listed(node) if p != new]
    # the command line, page by page or all at once
    url = node.url
    lines = cli("proposals", "--node", url).stdout.splitlines()
    assert cli("proposals", "--node", url, "--limit", "2", "--all").stdout.splitlines() == lines
    r = cli("proposals", "--node", url, "--limit", "2")
    assert r.stdout.splitlines() == lines[:2] and "more: --before " in r.stderr
    cursor = r.stderr.split("more: --before ")[1].split()[0]
    r = cli("proposals", "--node", url, "--limit", "2", "--before", cursor)
    assert r.stdout.splitlines() == lines[2:4]
    for q in ("limit=0", "limit=1001", "limit=01", "limit=x", "before=1.2", "before=1.2.3.4",
              "before=-1.0.0", "before=01.2.3", "before=1.2.9223372036854775808"):
        assert_problem(h.get(f"/v1/proposals?{q}"), 400, "invalid")


def test_what_one_member_keeps_pending_is_bounded(network, node):
    """docs/api.md: a member keeps at most 1,000 proposals waiting for approvals; the next
    one is 429 `quota`, kept nowhere, while its changes accepted at once and the other
    members' proposals go on."""
    h = node.http
    org = h.record("tld/org")
    notes = []
    for i in range(1000):
        body = network.body(h, "br", [("put", "tld/org", new_ds(org["content"], f"q{i}"))])
        notes.append(note(body, network.keys["br"]))
    st, _, data = post_batch(node, frame(*notes))
    assert st == 200, data
    assert {r.get("status") for r in json.loads(data)["results"]} == {"pending"}
    size = node.tree_size()

    def over(http):
        body = network.body(http, "br", [("put", "tld/org", new_ds(org["content"], "q-over"))])
        doc = assert_problem(http.request("POST", "/v1/proposals",
                                          note(body, network.keys["br"])), 429, "quota")
        assert "br has 1000 proposals waiting" in doc["detail"], doc
        assert http.get(f"/v1/proposals/{proposal_id(body)}")[0] == 404
        assert rows(node, proposal_id(body)) is None

    over(h)
    # a change accepted at once takes no share; another member's proposal has its own
    content = new_ds(h.record("tld/br")["content"], "q-br")
    st, j, _ = network.propose(h, ["br"], [("put", "tld/br", content)])
    assert st == 201, j
    st, j, _ = network.propose(h, ["de"], [("put", "tld/org", new_ds(org["content"], "q-de"))])
    assert st == 202, j
    assert node.tree_size() == size + 1
    # the share is counted again from the store at start
    h = restart(node)
    over(h)
    # one of br's decided (rejected by two governments' objections): room for one more
    pid = json.loads(data)["results"][0]["id"]
    for m in ["cn", "de"]:
        st, _, j = h.post(f"/v1/proposals/{pid}/objections", objection(network.origin, pid,
                                                                       network.keys[m]))
    assert st == 200 and j["status"] == "rejected", j
    body = network.body(h, "br", [("put", "tld/org", new_ds(org["content"], "q-after"))])
    st, _, j = h.post("/v1/proposals", note(body, network.keys["br"]))
    assert st == 202 and j["status"] == "pending", j
    over(h)


def test_pending_listings_carry_an_etag(network, node):
    """docs/api.md: a listing of pending proposals has an ETag that moves whenever a page of
    it could (a proposal waits, an approval merges, an entry is appended, a restart); a client
    holding the current one gets 304 and no body. Other listings have none."""
    h = node.http
    path = "/v1/proposals?status=pending&limit=5"

    def tag():
        st, headers, _ = h.request("GET", path)
        assert st == 200 and headers["Cache-Control"] == "no-cache"
        return headers["ETag"]

    def unchanged(t, value=None):
        st, headers, data = h.request("GET", path, headers={"If-None-Match": value or t})
        return st == 304 and data == b"" and headers["ETag"] == t

    t0 = tag()
    assert t0.startswith('"') and t0.endswith('"')
    assert unchanged(t0) and unchanged(t0, "*") and unchanged(t0, f'"x", W/{t0}')
    assert not unchanged(t0, '"x"')
    st, headers, _ = h.request("GET", "/v1/proposals?status=accepted")
    assert st == 200 and "ETag" not in headers
    st, headers, _ = h.request("GET", "/v1/proposals", headers={"If-None-Match": "*"})
    assert st == 200 and "ETag" not in headers
    # a new pending proposal, then an approval of it, each move the tag
    org = h.record("tld/org")
    body = network.body(h, "br", [("put", "tld/org", new_ds(org["content"], "etag"))])
    st, _, j = h.post("/v1/proposals", note(body, network.keys["br"]))
    assert st == 202, j
    t1 = tag()
    assert t1 != t0 and not unchanged(t0) and unchanged(t1)
    st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures", note(body, network.keys["cn"]))
    assert st == 200 and j["signers"] == ["br", "cn"], j
    t2 = tag()
    assert t2 != t1 and unchanged(t2)
    # an entry appended (a ccTLD change, pending set unchanged) moves it too: "needs" follow
    st, j, _ = network.propose(h, ["br"], [("put", "tld/br",
                                            new_ds(h.record("tld/br")["content"], "etag"))])
    assert st == 201, j
    t3 = tag()
    assert t3 != t2 and unchanged(t3)
    h = restart(node)
    assert tag() != t3

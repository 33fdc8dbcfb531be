"""POST /v1/proposals/batch: many notes in one request, each decided on its own and in order
(a later one may name the version an earlier one creates), answered once every accepted one
is durable; a batch whose framing is wrong is refused whole, with nothing logged."""
import base64
import http.client
import json

from concord import EMDASH, assert_problem, b64, note, proposal_body, proposal_id


def frame(*notes):
    out = b""
    for n in notes:
        data = n.encode() if isinstance(n, str) else n
        out += str(len(data)).encode() + b"\n" + data
    return out


def post_batch(node, data):
    return node.http.request("POST", "/v1/proposals/batch", data,
                             ctype="application/vnd.concord.note-batch")


def chain(network, node, state, count):
    """count proposals by state changing its own ccTLD, each naming the version the previous
    one will create if the batch is appended at the current end of the log."""
    rec = node.http.record(f"tld/{state}")
    size = node.tree_size()
    notes, version = [], rec["version"]
    for i in range(count):
        # A comment-free variation of the content: the same records, re-ordered.
        lines = rec["content"].splitlines()
        lines = lines[i % len(lines):] + lines[:i % len(lines)]
        body = proposal_body(network.origin, state, [("put", f"tld/{state}", version,
                                                       "\n".join(lines))])
        notes.append(note(body, network.keys[state]))
        version = size + i
    return notes


def test_batch_in_order(network, node):
    notes = chain(network, node, "cn", 5)
    size = node.tree_size()
    st, headers, data = post_batch(node, frame(*notes))
    assert st == 200, data
    res = json.loads(data)["results"]
    assert [r["status"] for r in res] == ["accepted"] * 5
    assert [r["index"] for r in res] == list(range(size, size + 5))
    assert [r["id"] for r in res] == [proposal_id(n.split("\n\n")[0] + "\n") for n in notes]
    # durable and served once answered
    assert node.tree_size() == size + 5
    assert node.http.record("tld/cn")["version"] == size + 4
    for r in res:
        st, _, j = node.http.get(f"/v1/proposals/{r['id']}")
        assert st == 200 and j["status"] == "accepted" and j["index"] == r["index"]


def test_batch_mixed_outcomes(network, node):
    good = chain(network, node, "br", 1)[0]
    stale = chain(network, node, "za", 2)[1].replace("put tld/za", "put tld/za", 1)
    # stale: names a version za's first change would create, but that change is not sent
    body = network.body(node.http, "cn", [("put", "tld/de",
                                             node.http.record("tld/de")["content"])])
    wrong_state = note(body, network.keys["cn"])
    forged = bytearray(base64.b64decode(good.split(f"{EMDASH} br ")[1].strip()))
    forged[40] ^= 1
    forged_note = good.split(f"{EMDASH} br ")[0] + f"{EMDASH} br {b64(bytes(forged))}\n"
    gtld = network.body(node.http, "br", [("put", "tld/org",
                                             node.http.record("tld/org")["content"])])
    pending = note(gtld, network.keys["br"])
    size = node.tree_size()
    st, _, data = post_batch(node, frame(forged_note, good, "not a note\n", stale,
                                         wrong_state, pending, good))
    assert st == 200, data
    res = json.loads(data)["results"]
    assert len(res) == 7, res
    assert res[0]["error"]["status"] == 403 and res[0]["error"]["type"].endswith("bad-signature")
    assert res[1] == {"id": proposal_id(good.split("\n\n")[0] + "\n"), "status": "accepted",
                      "index": size}
    assert res[2]["error"]["status"] == 400 and "id" not in res[2]
    assert res[3]["error"]["status"] == 409
    assert res[4]["error"]["status"] == 403 and "cctld" in res[4]["error"]["detail"]
    assert res[5]["status"] == "pending"
    assert res[6]["error"]["status"] == 409  # the same proposal again: already accepted
    for r in res:
        if "error" in r:
            e = r["error"]
            assert {"type", "title", "status", "detail"} <= set(e) and e["detail"]
    assert node.tree_size() == size + 1


def test_batch_refused_whole(network, node):
    good = chain(network, node, "de", 1)[0]
    size = node.tree_size()
    framed = frame(good)
    cases = [
        (b"", 400),                                   # no note
        (b"12x" + framed, 400),                       # not a length
        (b"0" + framed, 400),                         # leading zero
        (framed + b"5\nabc", 400),                    # runs past the end
        (framed + b"0\n", 400),                       # empty note
        (framed[:-1], 400),                           # truncated
        (b"70000\n" + b"x" * 70000, 413),             # a note over the limit
    ]
    for data, status in cases:
        assert_problem(post_batch(node, data), status)
    assert node.tree_size() == size
    assert_problem(node.http.request("GET", "/v1/proposals/batch"), 405)
    # A declared length over 16 MiB is refused before any of the body is read.
    host, port = node.http.url.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.putrequest("POST", "/v1/proposals/batch")
    c.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
    c.endheaders()
    r = c.getresponse()
    assert_problem((r.status, r.headers, r.read()), 413)
    c.close()
    assert node.tree_size() == size
    st, _, data = post_batch(node, framed)
    assert st == 200 and b'"accepted"' in data

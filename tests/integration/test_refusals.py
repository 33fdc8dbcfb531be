"""Refusals: the right status, an RFC 9457 problem document, and nothing logged or kept."""
import base64
import time

import pytest

from concord import EMDASH, Key, assert_problem, b64, note, proposal_id


class Snapshot:
    """What must not change when a request is refused: the log, some records, and whether a
    proposal of a given id exists."""

    def __init__(self, node, paths=("tld/cn",), pid=None):
        self.node, self.paths, self.pid = node, paths, pid
        self.state = self.take()

    def take(self):
        h = self.node.http
        out = [h.bytes("/log/checkpoint")] + [h.record(p) for p in self.paths]
        if self.pid:
            out.append(h.get(f"/v1/proposals/{self.pid}")[:3:2])
        return out

    def unchanged(self):
        assert self.take() == self.state


def refused(node, path, data, status, kind, paths=("tld/cn",), pid=None):
    snap = Snapshot(node, paths, pid)
    doc = assert_problem(node.http.request("POST", path, data), status, kind)
    snap.unchanged()
    return doc


def cn_body(network, node, **kw):
    return network.body(node.http, "cn", [("put", "tld/cn", node.http.record("tld/cn")["content"])],
                        **kw)


def test_forged_signature(network, mnode):
    body = cn_body(network, mnode)
    good = network.keys["cn"].sig_line(body)
    raw = bytearray(base64.b64decode(good.split(" ")[2]))
    raw[40] ^= 0x20  # inside the signature; name and key ID stay right
    forged = body + "\n" + f"{EMDASH} cn {b64(bytes(raw))}\n"
    doc = refused(mnode, "/v1/proposals", forged, 403, "bad-signature")
    assert "cn" in doc["detail"]
    assert mnode.http.get(f"/v1/proposals/{proposal_id(body)}")[0] == 404


def test_forged_approval_of_a_pending_proposal(network, mnode):
    h = mnode.http
    st, j, body = network.propose(h, ["br"], [("put", "tld/museum",
                                               h.record("tld/museum")["content"])])
    assert st == 202
    good = network.keys["za"].sig_line(body)
    raw = bytearray(base64.b64decode(good.split(" ")[2]))
    raw[-1] ^= 1
    forged = f"{EMDASH} za {b64(bytes(raw))}\n"
    refused(mnode, f"/v1/proposals/{j['id']}/signatures", forged, 403, "bad-signature",
            paths=("tld/museum",), pid=j["id"])
    assert h.get(f"/v1/proposals/{j['id']}")[2]["signers"] == ["br"]


@pytest.mark.parametrize("name", ["fr", "cn"])
def test_key_that_is_not_a_member(network, mnode, name):
    """A stranger's key, named like no member (fr) or like one (cn, but not cn's key)."""
    stranger = Key(name, bytes(range(32)))
    body = cn_body(network, mnode)
    refused(mnode, "/v1/proposals", note(body, stranger), 403, "forbidden")
    if name != "cn":
        refused(mnode, "/v1/proposals", note(body, network.keys["cn"], stranger), 403,
                "forbidden")
        body = network.body(mnode.http, name, [("put", "tld/cn",
                                                mnode.http.record("tld/cn")["content"])])
        refused(mnode, "/v1/proposals", note(body, stranger), 403, "forbidden")


def test_state_signing_for_another_states_cctld(network, mnode):
    body = network.body(mnode.http, "de", [("put", "tld/cn",
                                            mnode.http.record("tld/cn")["content"])])
    doc = refused(mnode, "/v1/proposals", note(body, network.keys["de"]), 403, "forbidden")
    assert "de" in doc["detail"]
    assert mnode.http.get(f"/v1/proposals/{proposal_id(body)}")[0] == 404
    # nor may it add its signature to cn's own change
    body = cn_body(network, mnode)
    refused(mnode, "/v1/proposals", note(body, network.keys["cn"], network.keys["de"]), 403,
            "forbidden")


def test_replayed_proposal(network, mnode):
    h = mnode.http
    body = network.body(h, "za", [("put", "tld/za", h.record("tld/za")["content"])])
    signed = note(body, network.keys["za"])
    st, _, j = h.post("/v1/proposals", signed)
    assert st == 201
    refused(mnode, "/v1/proposals", signed, 409, "exists", paths=("tld/za",))
    assert h.get(f"/v1/proposals/{j['id']}")[2]["index"] == j["index"]


def test_expired_proposal(network, mnode):
    now = int(time.time())
    body = cn_body(network, mnode, created=now - 7200, expires=now - 60)
    refused(mnode, "/v1/proposals", note(body, network.keys["cn"]), 410, "expired")


def test_proposal_from_the_future(network, mnode):
    now = int(time.time())
    body = cn_body(network, mnode, created=now + 7200, expires=now + 9000)
    refused(mnode, "/v1/proposals", note(body, network.keys["cn"]), 422, "bad-time")


def test_stale_version(network, mnode):
    h = mnode.http
    rec = h.record("tld/cn")
    st, _, _ = network.propose(h, ["cn"], [("put", "tld/cn", rec["content"])])
    assert st == 201
    # the same change again, made later, naming the version it replaced
    body = network.body(h, "cn", [("put", "tld/cn", rec["version"], rec["content"])],
                        expires=int(time.time()) + 600)
    doc = refused(mnode, "/v1/proposals", note(body, network.keys["cn"]), 409, "stale")
    assert f"expected version {rec['version']}" in doc["detail"]


def malformed(network, node):
    body = cn_body(network, node)
    k = network.keys["cn"]
    signed = note(body, k)
    return {
        "cr": signed.replace("proposer cn\n", "proposer cn\r\n"),
        "crlf-signed": note(body.replace("\n", "\r\n"), k),
        "tab": note(body.replace(" IN NS ", "\tIN NS ", 1), k),
        "x01": note(body.replace("proposer cn", "proposer cn\x01"), k),
        "nul": note(body.replace("proposer cn", "proposer cn\x00"), k),
        "no-blank-line": body + k.sig_line(body),
        "no-signature": body + "\n",
        "no-final-newline": signed[:-1],
        "invalid-utf8": signed.encode().replace(b"proposer cn", b"proposer \xffcn"),
        "overlong-utf8": signed.encode().replace(b"proposer cn", b"proposer \xc0\xafcn"),
        "empty": b"",
        "garbage": bytes(range(256)) * 4,
        "text-garbage": "hello world\n",
        "bad-dash": signed.replace(EMDASH, "--"),
        "short-signature": signed[:-10] + "\n",
    }


@pytest.mark.parametrize("case", ["cr", "crlf-signed", "tab", "x01", "nul", "no-blank-line",
                                  "no-signature", "no-final-newline", "invalid-utf8",
                                  "overlong-utf8", "empty", "garbage", "text-garbage",
                                  "bad-dash", "short-signature"])
def test_malformed_note(network, mnode, case):
    refused(mnode, "/v1/proposals", malformed(network, mnode)[case], 400, "invalid")


def test_duplicated_signature_lines(network, mnode):
    body = cn_body(network, mnode)
    k = network.keys["cn"]
    refused(mnode, "/v1/proposals", note(body, k, k), 409, "exists")
    # the same line twice in an approval of a pending proposal
    h = mnode.http
    st, j, body = network.propose(h, ["br"], [("put", "tld/aero", h.record("tld/aero")["content"])])
    assert st == 202
    line = network.keys["za"].sig_line(body)
    refused(mnode, f"/v1/proposals/{j['id']}/signatures", line + line, 409, "exists",
            paths=("tld/aero",), pid=j["id"])


@pytest.mark.parametrize("size", [65537, 200000])
def test_oversized_body(network, mnode, size):
    body = cn_body(network, mnode)
    signed = note(body, network.keys["cn"])
    padded = signed.replace("proposer cn\n", "proposer cn\n" + "x" * (size - len(signed)) + "\n")
    assert len(padded.encode()) > 65536
    refused(mnode, "/v1/proposals", padded, 413, "too-large")


def test_malformed_objection_and_approval(network, mnode):
    h = mnode.http
    st, j, body = network.propose(h, ["br"], [("put", "tld/coop", h.record("tld/coop")["content"])])
    assert st == 202
    pid = j["id"]
    for path in (f"/v1/proposals/{pid}/signatures", f"/v1/proposals/{pid}/objections"):
        for data in (b"", b"\xff\xfe", "garbage\r\n"):
            refused(mnode, path, data, 400, "invalid", paths=("tld/coop",), pid=pid)
    # an objection about another proposal than the one in the path
    other = note(f"concord objection v1\norigin {network.origin}\nproposal {'0' * 64}\n",
                 network.keys["cn"])
    assert_problem(h.request("POST", f"/v1/proposals/{pid}/objections", other), 400, "invalid")
    # the proposer cannot object to its own proposal
    own = note(f"concord objection v1\norigin {network.origin}\nproposal {pid}\n",
               network.keys["br"])
    refused(mnode, f"/v1/proposals/{pid}/objections", own, 403, "forbidden",
            paths=("tld/coop",), pid=pid)


def test_unknown_proposal(network, mnode):
    h = mnode.http
    assert_problem(h.get("/v1/proposals/" + "0" * 64), 404, "not-found")
    line = network.keys["cn"].sig_line("x\n")
    refused(mnode, "/v1/proposals/" + "0" * 64 + "/signatures", line, 404, "not-found")


@pytest.mark.parametrize("path", ["/v1/nope", "/v2/network", "/", "/log/nope",
                                  "/v1/records/tld/nosuchtld", "/log/tile/0/1",
                                  "/log/tile/entries/x000/000", "/log/tile/0/999"])
def test_unknown_path(mnode, path):
    assert_problem(mnode.http.request("GET", path), 404, "not-found")


@pytest.mark.parametrize("method,path", [("DELETE", "/v1/proposals"), ("PUT", "/v1/records/tld/cn"),
                                         ("POST", "/log/checkpoint"), ("POST", "/v1/network"),
                                         ("PATCH", "/v1/root"), ("GET", "/v1/proposals/" + "0" * 64
                                                                 + "/signatures")])
def test_wrong_method(mnode, method, path):
    snap = Snapshot(mnode)
    resp = mnode.http.request(method, path, b"x" if method != "GET" else None)
    assert_problem(resp, 405, "method-not-allowed")
    assert method not in resp[1]["Allow"] and resp[1]["Allow"]
    snap.unchanged()


def test_whole_note_posted_as_approval_of_another_proposal(network, mnode):
    h = mnode.http
    st, j, body = network.propose(h, ["br"], [("put", "tld/travel",
                                                h.record("tld/travel")["content"])])
    assert st == 202
    other = network.body(h, "br", [("put", "tld/jobs", h.record("tld/jobs")["content"])])
    refused(mnode, f"/v1/proposals/{j['id']}/signatures", note(other, network.keys["br"]), 400,
            "invalid", paths=("tld/travel", "tld/jobs"), pid=j["id"])
    assert h.get(f"/v1/proposals/{proposal_id(other)}")[0] == 404


@pytest.mark.parametrize("path", ["/log/checkpoint", "/v1/network", "/v1/records/tld/cn",
                                  "/log/tile/0/000.p/20", "/v1/proposals"])
def test_head(mnode, path):
    st, headers, body = mnode.http.request("HEAD", path)
    assert st == 200 and body == b""
    assert headers["Content-Type"] == mnode.http.request("GET", path)[1]["Content-Type"]

"""`concord verify URL`: an outside audit passes on a healthy node and fails on any node whose
served data disagrees with its log or whose log is not signed by the expected key."""
import json

import pytest

from concord import Key, Proxy, cli
from conftest import STATES, Burst


@pytest.fixture(scope="module")
def busy(network, mnode):
    """The module's node with a few accepted changes beyond its genesis."""
    for m in STATES:
        st, j, _ = network.propose(mnode.http, [m], [("put", f"tld/{m}",
                                                     mnode.http.record(f"tld/{m}")["content"])])
        assert st == 201, j
    return mnode


def refuses(why, url, *args):
    r = cli("verify", url, *args, check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr and all(l.startswith("concord: ") for l in r.stderr.splitlines()), r.stderr
    assert why in r.stderr, r.stderr
    return r


def test_healthy_node(busy):
    r = cli("verify", busy.url)
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"verified {busy.tree_size()} entries, ")
    assert lines[1].startswith("replayed ")
    assert cli("verify", busy.url, "--serial").stdout.splitlines()[0] == lines[0]
    log_key = busy.http.get("/v1/network")[2]["log_key"]
    assert cli("verify", busy.url, "--log-key", log_key).stdout.splitlines()[0] == lines[0]


def test_another_log_key(network, busy, nodes):
    # a key with the network's name that did not sign this log
    other = Key(network.origin, bytes(range(1, 33)))
    refuses("no signature of the log key", busy.url, "--log-key", other.vkey())
    # the log key of another node of the same network
    second = nodes("second")
    second_key = second.http.get("/v1/network")[2]["log_key"]
    refuses("no signature of the log key", busy.url, "--log-key", second_key)
    # a key under another name
    refuses("log key", busy.url, "--log-key", Key("cn", bytes(range(1, 33))).vkey())


def drop_last_line(path, body):
    return body[:body.rstrip(b"\n").rfind(b"\n") + 1] if path == "/v1/root" else body


def change_record(path, body):
    """GET /v1/records with another version for one record."""
    if not path.startswith("/v1/records"):
        return body
    j = json.loads(body)
    j["records"][5]["version"] += 1
    return json.dumps(j).encode()


def flip_entry(path, body):
    if path.startswith("/log/tile/entries/"):
        i = body.rfind(b"tld/")
        return body[:i] + b"x" + body[i + 1:]
    return body


def flip_hash(path, body):
    if path.startswith("/log/tile/0/"):
        return body[:-1] + bytes([body[-1] ^ 1])
    return body


@pytest.mark.parametrize("tamper,why", [(drop_last_line, "/v1/root differs"),
                                        (change_record, "record "),
                                        (flip_entry, "does not replay"),
                                        (flip_hash, "hash tile")])
def test_node_serving_data_that_disagrees(busy, tamper, why):
    faithful, proxy = Proxy(busy.url, lambda p, b: b), Proxy(busy.url, tamper)
    try:
        cli("verify", faithful.url)
        refuses(why, proxy.url)
    finally:
        faithful.close()
        proxy.close()


def test_unreachable_node(busy):
    proxy = Proxy(busy.url, lambda p, b: b)
    url = proxy.url
    proxy.close()
    refuses("connect", url)


def test_verify_follows_a_node_that_appends(network, nodes):
    """docs/cli.md: a node that appends while it is audited is followed (up to ten
    checkpoints). A healthy node that keeps growing may make the audit give up; it must never
    make it report differences."""
    node = nodes("growing")
    burst = Burst(network, node)
    try:
        audits = [cli("verify", node.url, check=False) for _ in range(3)]
    finally:
        burst.stop()
    assert not burst.errors and not burst.cut, (burst.errors, burst.cut)
    for r in audits:
        assert r.returncode == 0 or "kept growing" in r.stderr, r.stderr
    # once quiet, it verifies
    cli("verify", node.url)

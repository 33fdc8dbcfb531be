"""The log from outside: C2SP checkpoint, tlog-tiles, RFC 6962 tree and inclusion proofs, all
recomputed here in Python."""
import base64
import os

import pytest

from concord import (assert_problem, entry_note, fetch_entries, leaf_hash, node_hash,
                     parse_checkpoint, read_bundle, tile_path, tree_hash, verify_inclusion,
                     verify_note)
from conftest import Burst


@pytest.fixture(scope="module")
def big(network, tmp_path_factory):
    """A node whose log is over one full tile (256 entries) long."""
    n = network.node(os.path.join(str(tmp_path_factory.mktemp("log")), "node"))
    try:
        burst = Burst(network, n.start(), count=70).join()
        assert not burst.errors and not burst.cut, (burst.errors, burst.cut)
        assert n.tree_size() > 256 + 20
        yield n
    finally:
        n.stop()


def test_tile_paths_as_the_spec_writes_them():
    """The tile paths used here, against the examples of c2sp.org/tlog-tiles."""
    assert tile_path(0, 5) == "tile/0/005"
    assert tile_path(1, 1000) == "tile/1/x001/000"
    assert tile_path(0, 1234067, 7) == "tile/0/x001/x234/067.p/7"
    assert tile_path("entries", 2 ** 64 - 1) == "tile/entries/x018/x446/x744/x073/x709/x551/615"


def log_key(node):
    return node.http.get("/v1/network")[2]["log_key"]


def test_checkpoint_is_signed_by_the_log_key(network, big):
    st, headers, data = big.http.request("GET", "/log/checkpoint")
    assert st == 200 and headers["Content-Type"].startswith("text/plain")
    net = big.http.get("/v1/network")[2]
    origin, size, root = parse_checkpoint(data.decode(), net["log_key"])
    assert origin == network.origin == net["origin"]
    assert size == net["tree_size"] and net["checkpoint"] == data.decode()
    # the verifier here is not fooled by a changed checkpoint
    text = data.decode()
    forged = text.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    with pytest.raises(AssertionError):
        parse_checkpoint(forged, net["log_key"])


def test_tiles_give_the_checkpoint_root(big):
    h = big.http
    origin, size, root = parse_checkpoint(big.checkpoint(), log_key(big))
    entries = fetch_entries(h, size)
    assert len(entries) == size
    assert entries[0].startswith(b"concord genesis ")
    kinds = [e.split(b" ", 2)[1] for e in entries]
    k = kinds.index(b"proposal")
    assert set(kinds[1:k]) == {b"chunk"} and set(kinds[k:]) == {b"proposal"}
    leaves = [leaf_hash(e) for e in entries]
    assert tree_hash(leaves) == root

    # level 0: the leaf hashes; one full tile, then the partial rightmost one
    st, headers, full = h.request("GET", "/log/" + tile_path(0, 0))
    assert st == 200 and headers["Content-Type"] == "application/octet-stream"
    assert "immutable" in headers["Cache-Control"]
    assert full == b"".join(leaves[:256])
    w = size - 256
    part = h.bytes("/log/" + tile_path(0, 1, w))
    assert part == b"".join(leaves[256:])
    # level 1: the root of each full level-0 tile
    assert h.bytes("/log/" + tile_path(1, 0, 1)) == tree_hash(leaves[:256])
    # the root again, from the hash tiles alone
    from_tiles = [full[i:i + 32] for i in range(0, len(full), 32)] + \
                 [part[i:i + 32] for i in range(0, len(part), 32)]
    assert tree_hash(from_tiles) == root
    # a full bundle holds 256 entries
    assert len(read_bundle(h.bytes("/log/" + tile_path("entries", 0)))) == 256
    # a narrower partial tile, as a client with an older checkpoint asks for it, is the
    # beginning of the wider one; nothing beyond the tree is served
    st, headers, narrow = h.request("GET", "/log/" + tile_path(0, 1, w - 1))
    assert st == 200 and narrow == part[:-32]
    assert "immutable" not in headers.get("Cache-Control", "")
    assert read_bundle(h.bytes("/log/" + tile_path("entries", 1, w - 1))) == entries[256:-1]
    for bad in (tile_path(0, 1, w + 1), tile_path("entries", 1, w + 1), tile_path(0, 1),
                tile_path("entries", 1), tile_path(1, 0), tile_path(1, 0, 2), tile_path(2, 0, 1),
                tile_path(0, 2, 1)):
        assert_problem(h.request("GET", "/log/" + bad), 404, "not-found")


def test_tiles_after_an_append(network, big):
    h = big.http
    size = big.tree_size()
    w = size - 256
    full = h.bytes("/log/" + tile_path(0, 0))
    old_part = h.bytes("/log/" + tile_path(0, 1, w))
    st, j, _ = network.propose(h, ["cn"], [("put", "tld/cn", h.record("tld/cn")["content"])])
    assert st == 201 and j["index"] == size
    _, new_size, root = parse_checkpoint(big.checkpoint(), log_key(big))
    assert new_size == size + 1
    # tiles never change: the full one, and the old partial one for older checkpoints
    assert h.bytes("/log/" + tile_path(0, 0)) == full
    assert h.bytes("/log/" + tile_path(0, 1, w)) == old_part
    part = h.bytes("/log/" + tile_path(0, 1, w + 1))
    assert part[:-32] == old_part
    entries = fetch_entries(h, new_size)
    assert part[-32:] == leaf_hash(entries[-1])
    assert tree_hash([leaf_hash(e) for e in entries]) == root


def record_entry_holds(entry, path, content):
    """The log entry that last wrote `path` carries its content."""
    if entry.startswith(b"concord chunk "):
        lines = content.count("\n")
        return f"record {path} {lines}\n{content}".encode() in entry
    text = entry_note(entry).rpartition("\n\n")[0] + "\n"
    return f"\nput {path} " in text and content in text


@pytest.mark.parametrize("path", ["tld/cn", "tld/com", "policy/tld", "member/isoc",
                                  "host/a.dns.br."])
def test_record_inclusion_proof(big, path):
    h = big.http
    rec = h.record(path)
    key = log_key(big)
    _, size, root = parse_checkpoint(rec["checkpoint"], key)
    proof = rec["proof"]
    assert proof["leaf_index"] == rec["version"] and proof["tree_size"] == size
    hashes = [base64.b64decode(p, validate=True) for p in proof["hashes"]]
    entries = fetch_entries(h, size)
    entry = entries[rec["version"]]
    assert verify_inclusion(rec["version"], size, leaf_hash(entry), hashes, root)
    if not path.startswith(("member/", "host/")):
        assert record_entry_holds(entry, path, rec["content"])
    # and the check is real: another leaf or a changed hash do not verify
    other = leaf_hash(entries[rec["version"] - 1])
    assert not verify_inclusion(rec["version"], size, other, hashes, root)
    if hashes:
        bad = hashes[:-1] + [node_hash(hashes[-1], hashes[-1])]
        assert not verify_inclusion(rec["version"], size, leaf_hash(entry), bad, root)


def test_proposal_entries_verify(network, big):
    """Every logged proposal carries valid signatures of the members who approved it."""
    size = big.tree_size()
    keys = {m["id"]: m["key"] for m in big.http.get("/v1/network")[2]["members"]}
    for entry in fetch_entries(big.http, size):
        if entry.startswith(b"concord proposal "):
            text = entry_note(entry)
            proposer = [l for l in text.split("\n") if l.startswith("proposer ")][0].split()[1]
            verify_note(text, keys[proposer])


def test_records_listing_is_the_state_at_its_tree_size(network, node):
    """GET /v1/records names a tree size; while the log grows, every record it lists must have
    been written by an entry of that tree (version < tree_size), so that the listing can be
    checked against the log it names (docs/api.md: tree_size covers durable entries only)."""
    burst = Burst(network, node)
    ahead = []
    try:
        for _ in range(40):
            j = node.http.get("/v1/records?prefix=tld/")[2]
            newest = max(r["version"] for r in j["records"])
            if newest >= j["tree_size"]:
                ahead.append((j["tree_size"], newest))
    finally:
        burst.stop()
    assert not burst.errors and not burst.cut, (burst.errors, burst.cut)
    assert not ahead, f"{len(ahead)} of 40 listings hold records newer than their tree " \
                      f"size (tree_size, newest version): {ahead[:5]}"

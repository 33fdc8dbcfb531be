"""Eleven months of real root zone changes replayed as governed proposals, checked against the
same changes applied here in Python to the same base zone."""
import ipaddress
import os
import re

import pytest

from concord import cli
from conftest import ROOT_CHANGES, ROOT_ZONE


def rr(owner, ttl, rtype, rdata):
    """One record, normalised: lower-case names, DS digest in upper case without spaces,
    addresses as Python writes them (RFC 5952 for AAAA)."""
    if rtype == "NS":
        rdata = rdata.lower()
    elif rtype == "DS":
        f = rdata.split()
        rdata = " ".join(f[:3] + ["".join(f[3:]).upper()])
    else:
        rdata = str(ipaddress.ip_address(rdata))
    return owner.lower(), int(ttl), rtype, rdata


def parse_line(line):
    f = line.split()
    assert f[2] == "IN" and f[3] in ("NS", "DS", "A", "AAAA"), line
    return rr(f[0], f[1], f[3], " ".join(f[4:]))


def base_zone():
    """NS, DS, A and AAAA below the apex, without the root servers' own addresses."""
    out = set()
    for line in open(ROOT_ZONE):
        f = line.split()
        if len(f) < 5 or f[3] not in ("NS", "DS", "A", "AAAA") or f[0] == ".":
            continue
        if f[0].lower().endswith(".root-servers.net."):
            continue
        out.add(parse_line(line))
    return out


def replayed_zone():
    zone, blocks = base_zone(), 0
    for line in open(ROOT_CHANGES):
        if line.startswith("$CHANGE "):
            blocks += 1
        elif line.startswith("- "):
            record = parse_line(line[2:])
            assert record in zone, line
            zone.remove(record)
        elif line.startswith("+ "):
            zone.add(parse_line(line[2:]))
        else:
            assert line.startswith(";") or not line.strip(), line
    return zone, blocks


@pytest.fixture(scope="module")
def replayed(network, tmp_path_factory):
    node = network.node(os.path.join(str(tmp_path_factory.mktemp("replay")), "node"))
    try:
        out = cli("replay-root-changes", ROOT_CHANGES, "--keys", network.keys_dir,
                  "--node", node.start().url, check=False)
        yield node, out
    finally:
        node.stop()


def test_replay_runs_to_the_end(replayed):
    node, out = replayed
    assert out.returncode == 0, out.stderr
    _, blocks = replayed_zone()
    m = re.search(r"^replayed (\d+) blocks, (\d+) proposals accepted", out.stdout, re.M)
    assert m, out.stdout
    assert int(m.group(1)) == blocks == 835
    accepted = int(m.group(2))
    assert accepted > 0
    # every accepted proposal is one log entry after the genesis
    statuses = node.http.get("/v1/proposals?status=accepted")[2]["proposals"]
    assert len(statuses) == accepted
    assert node.tree_size() == min(p["index"] for p in statuses) + accepted
    assert node.http.get("/v1/proposals?status=pending")[2]["proposals"] == []


def test_replay_gives_the_real_zone(replayed):
    node, out = replayed
    assert out.returncode == 0, out.stderr
    exported = cli("export-root", "--node", node.url).stdout
    assert node.http.bytes("/v1/root").decode() == exported
    lines = exported.splitlines()
    got = {parse_line(l) for l in lines}
    assert len(got) == len(lines)
    want, _ = replayed_zone()
    assert not want - got, sorted(want - got)[:20]
    assert not got - want, sorted(got - want)[:20]
    # one record per TLD that has NS records
    tlds = {o for o, _, t, _ in want if t == "NS"}
    records = node.http.get("/v1/records?prefix=tld/")[2]["records"]
    assert {r["path"] for r in records} == {"tld/" + t.rstrip(".") for t in tlds}


def test_verify_after_replay(replayed):
    node, out = replayed
    assert out.returncode == 0, out.stderr
    r = cli("verify", node.url)
    assert r.stdout.startswith(f"verified {node.tree_size()} entries, "), r.stdout


def test_replay_stops_at_a_missing_line(network, node):
    """The first change removes d.nic.tv.'s addresses; on a node where tv moved away from that
    server the block cannot apply: exit 1, the block's header and the line on stderr."""
    h = node.http
    tv = h.record("tld/tv")["content"]
    moved = "".join(l + "\n" for l in tv.splitlines() if "d.nic.tv." not in l)
    assert moved != tv
    st, j, _ = network.propose(h, ["cn", "br", "za", "isoc"], [("put", "tld/tv", moved)])
    assert st == 201, j
    size = node.tree_size()
    r = cli("replay-root-changes", ROOT_CHANGES, "--keys", network.keys_dir, "--node", node.url,
            "--limit", "10", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    first = r.stderr.splitlines()[0]
    assert first.startswith("concord: block 2025082101 -> 2025082102 ") and "d.nic.tv." in first
    assert "$CHANGE 2025082101 2025082102" in r.stderr
    assert node.tree_size() == size

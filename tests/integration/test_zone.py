"""The signed root zone a node derives from its ledger (GET /v1/zone, concord root): checked by
the real tools, anchored by `concord root trust-anchor`, following accepted changes."""
import os
import re
import shutil
import subprocess

import pytest

from concord import assert_problem, cli
from conftest import Network

DNS = ["cn=ns.cn.root.concord.example.,192.0.2.53,2001:db8::53",
       "isoc=ns.isoc.root.concord.example.,198.51.100.7"]


@pytest.fixture(scope="module")
def znet(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("znet")), dns=DNS)


@pytest.fixture(scope="module")
def znode(znet, tmp_path_factory):
    n = znet.node(os.path.join(str(tmp_path_factory.mktemp("znode")), "node"))
    try:
        yield n.start()
    finally:
        n.stop()


def zone_text(node):
    return cli("root", "zone", "--node", node.url).stdout


def serial(text):
    return int(re.match(r"\. 86400 IN SOA \S+ \S+ (\d+) ", text).group(1))


def run(args):
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} is not installed")
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def check_with_tools(path, anchor=None):
    r = run(["ldns-verify-zone", "-Z"] + (["-k", anchor] if anchor else []) + [path])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["dnssec-verify", "-q", "-o", ".", "-x", path])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["named-checkzone", "-q", "-n", "ignore", "-i", "local", ".", path])
    assert r.returncode == 0, r.stdout + r.stderr


def test_zone_verifies(znode, tmp_path):
    text = zone_text(znode)
    assert text.startswith(". 86400 IN SOA ns.cn.root.concord.example. hostmaster.invalid. ")
    assert ". 518400 IN NS ns.isoc.root.concord.example.\n" in text
    assert text.count(" IN NSEC ") == 1440 + 3  # apex, TLDs, two in-zone server names
    path = tmp_path / "root.zone"
    path.write_text(text)
    check_with_tools(str(path))


def test_trust_anchor(znode, tmp_path):
    out = cli("root", "trust-anchor", "--node", znode.url).stdout
    ds = re.search(r"^\. IN DS (\d+) 15 2 ([0-9A-F]{64})$", out, re.M)
    key = re.search(r"^\. IN DNSKEY 257 3 15 (\S+)$", out, re.M)
    assert ds and key, out
    text = zone_text(znode)
    assert f". 172800 IN DNSKEY 257 3 15 {key.group(1)}\n" in text
    # The DS names the KSK's tag, and anchors a validation of the whole zone.
    assert re.search(rf"\. 172800 IN RRSIG DNSKEY 15 0 172800 \d+ \d+ {ds.group(1)} \. ", text)
    anchor = tmp_path / "anchor"
    anchor.write_text(out.splitlines()[1] + "\n")
    zone = tmp_path / "root.zone"
    zone.write_text(text)
    check_with_tools(str(zone), str(anchor))


def test_zone_follows_changes(znet, znode):
    before = zone_text(znode)
    content = znode.http.record("tld/cn")["content"]
    ds = "cn. 86400 IN DS 4242 15 2 " + "AB" * 32
    st, j, _ = znet.propose(znode.http, ["cn"], [("put", "tld/cn", content + ds + "\n")])
    assert st == 201, j
    after = zone_text(znode)
    assert serial(after) == serial(before) + 1
    assert ds + "\n" in after and ds not in before
    assert "\ncn. 86400 IN RRSIG DS 15 1 86400 " in after


def test_no_name_server_no_zone(node):
    # The shared test network has no dns lines: nothing to serve, said clearly.
    doc = assert_problem(node.http.request("GET", "/v1/zone"), 404, "not-found")
    assert "no member runs a name server" in doc["detail"]
    assert_problem(node.http.request("POST", "/v1/zone", "x"), 405)
    r = cli("root", "zone", "--node", node.url, check=False)
    assert r.returncode != 0 and "name server" in r.stderr

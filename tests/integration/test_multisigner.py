"""RFC 8901's multi-signer model under one trust anchor: three founding members' nodes, listed
in the genesis, share the network's KSK (`concord root ksk`, given to `node init --ksk`).
Each node signs the zone with its own ZSK; the DNSKEY RRset (the KSK and every node's ZSK)
and the KSK's signature over it are the same on every node, so one DS validates them all."""
import base64
import os
import re
import shutil
import subprocess

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
import pytest

from concord import Node, cli
from conftest import NodeNetwork
from dns_mix import free_port
from test_dns import resolve, serving, unbound_conf, wait_published

NODES = ["br", "cn", "isoc"]


class MultiSigner(NodeNetwork):
    """The founding members of conftest.Network, three of which run a node each, listed in
    the genesis, all initialised with the one KSK of ksk.key."""

    def __init__(self, base):
        self.ports = {m: free_port() for m in NODES}
        super().__init__(base, NODES, lambda m: f"http://127.0.0.1:{self.ports[m]}",
                         lambda m: f"192.0.2.{NODES.index(m) + 1}", ksk=True)
        self.nodes = {m: Node(self.dirs[m]) for m in NODES}

    def start(self, m):
        return self.nodes[m].start("--http", f"127.0.0.1:{self.ports[m]}")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with MultiSigner(str(tmp_path_factory.mktemp("multisigner"))).running() as f:
        for m in NODES:
            wait_published(f.nodes[m])
        yield f


def axfr(port):
    """The zone a node transfers, one record a line (dig's), SOA not repeated at the end."""
    r = subprocess.run(["dig", "+nocmd", "+nostats", "+noall", "+answer", "-p", str(port),
                        "@127.0.0.1", ".", "AXFR"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith(";")]
    assert lines[0].split()[3] == "SOA" and lines[-1] == lines[0]
    return lines[:-1]


def apex(lines, rdtype, covered=None):
    """The apex RRset of rdtype (RRSIGs: over covered) among lines, as a dnspython rdataset."""
    want = [ln for ln in lines if ln.split()[0] == "." and ln.split()[3] == rdtype and
            (covered is None or ln.split()[4] == covered)]
    return dns.rrset.from_text_list(".", int(want[0].split()[1]), "IN", rdtype,
                                    [ln.split(None, 4)[4] for ln in want])


def b64(key):
    return base64.b64encode(key.key).decode()


def test_init_keeps_the_ksk_and_refuses_other_keys(net, tmp_path):
    for m in NODES:
        path = os.path.join(net.dirs[m], "ksk.key")
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as a, open(net.ksk) as b:
            assert a.read() == b.read()
    # Not a KSK (a member key, a zone-signing key, nothing): refused, nothing left behind,
    # and the key files that were there stay.
    d = str(tmp_path / "other")
    cli("node", "keys", d, "--member", "za", "--url", "http://127.0.0.1:1")
    before = sorted(os.listdir(d))
    for bad in [net.key_file("za"), os.path.join(d, "zsk.key"), str(tmp_path / "none")]:
        r = cli("node", "init", d, "--genesis", net.genesis, "--key", net.key_file("za"),
                "--ksk", bad, check=False)
        assert r.returncode == 1, r
        assert sorted(os.listdir(d)) == before
    empty = str(tmp_path / "empty")
    r = cli("node", "init", empty, "--genesis", net.genesis, "--key", net.key_file("za"),
            "--ksk", net.key_file("za"), check=False)
    assert r.returncode == 1 and "dnssec-ksk" in r.stderr, r
    assert not os.path.exists(empty)
    # root ksk never overwrites.
    r = cli("root", "ksk", net.ksk, check=False)
    assert r.returncode == 1, r


def test_one_dnskey_rrset_everywhere(net):
    if shutil.which("dig") is None:
        pytest.skip("dig is not installed")
    keysets, sigs, zsk_tags = set(), set(), {}
    for m in NODES:
        lines = axfr(net.nodes[m].dns_port)
        keys = apex(lines, "DNSKEY")
        assert keys.ttl == 172800
        assert sorted(k.flags for k in keys) == [256, 256, 256, 257]
        zsks = {dns.dnssec.key_id(k): k for k in keys if k.flags == 256}
        assert sorted(b64(k) for k in zsks.values()) == sorted(net.zsk.values())
        keysets.add(keys.to_text())
        rrsigs = apex(lines, "RRSIG", "DNSKEY")
        assert len(rrsigs) == 1
        sigs.add(rrsigs.to_text())
        # Everything else is signed by the node's own ZSK, the one its record lists.
        soa_sig = apex(lines, "RRSIG", "SOA")[0]
        assert b64(zsks[soa_sig.key_tag]) == net.zsk[m]
        zsk_tags[m] = soa_sig.key_tag
    assert len(keysets) == 1 and len(sigs) == 1
    assert len(set(zsk_tags.values())) == len(NODES)


def test_one_trust_anchor(net):
    ds = {re.search(r"^\. IN DS .*$", cli("root", "trust-anchor", "--node",
                                          net.nodes[m].url).stdout, re.M).group(0)
          for m in NODES}
    assert len(ds) == 1
    assert ds.pop() in net.anchor.splitlines()


def test_unbound_validates_every_node_with_one_anchor(net, tmp_path):
    if shutil.which("unbound") is None:
        pytest.skip("unbound is not installed")
    for m in NODES:
        d = tmp_path / m
        d.mkdir()
        port = free_port()
        with serving(unbound_conf(d, port, net.anchor, net.nodes[m].dns_port), port):
            r = resolve(port, "cn.", "DS")
            assert r.answer and r.flags & dns.flags.AD, (m, r)
            r = resolve(port, ".", "DNSKEY")
            assert r.flags & dns.flags.AD and len(r.answer[0]) == 1 + len(NODES), (m, r)


def test_ldns_verify_zone_accepts_every_node(net, tmp_path):
    if shutil.which("ldns-verify-zone") is None or shutil.which("dig") is None:
        pytest.skip("ldns-verify-zone or dig is not installed")
    for m in NODES:
        lines = axfr(net.nodes[m].dns_port)
        path = tmp_path / f"{m}.zone"
        path.write_text("\n".join(lines) + "\n")
        v = subprocess.run(["ldns-verify-zone", "-Z", str(path)], capture_output=True,
                           text=True, timeout=300)
        assert v.returncode == 0, (m, v.stdout, v.stderr)

"""The zone by parts: eleven months of real root zone changes replayed against a node that
serves DNS, which re-signs only what each change touches. What it serves must be the zone a
whole build gives (a restart builds it whole), and its IXFR history must lead from any
earlier version to the current one, record for record."""
import os
import re
import shutil
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
import pytest

from concord import cli
from conftest import ROOT_CHANGES, Network
from test_dns import DNS, ask, wait_published


@pytest.fixture(scope="module")
def inet(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("ixfrnet")), dns=DNS)


def axfr(port):
    """The zone by AXFR, as a set of (owner, ttl, type, rdata) and its serial."""
    records = []
    for m in dns.query.xfr("127.0.0.1", ".", port=port, relativize=False, lifetime=120):
        records += [(str(rrs.name), rrs.ttl, rrs.rdtype, r.to_text()) for rrs in m.answer
                    for r in rrs]
    assert records[0][2] == dns.rdatatype.SOA and records[-1] == records[0]
    return set(records), int(records[0][3].split()[2])


def ixfr(port, serial):
    """An IXFR from serial: every record in the order sent."""
    records = []
    for m in dns.query.xfr("127.0.0.1", ".", rdtype=dns.rdatatype.IXFR, serial=serial,
                           port=port, relativize=False, lifetime=120):
        records += [(str(rrs.name), rrs.ttl, rrs.rdtype, r.to_text()) for rrs in m.answer
                    for r in rrs]
    return records


def apply_ixfr(zone, records):
    """zone (a set) with the versions of an IXFR answer applied, as a secondary does."""
    zone = set(zone)
    cur = records[0]
    assert records[-1] == cur
    i, versions = 1, 0
    while i < len(records) - 1:
        old = records[i]
        assert old[2] == dns.rdatatype.SOA and old in zone, old
        zone.remove(old)
        i += 1
        while records[i][2] != dns.rdatatype.SOA:
            assert records[i] in zone, records[i]
            zone.remove(records[i])
            i += 1
        zone.add(records[i])
        i += 1
        while i < len(records) - 1 and records[i][2] != dns.rdatatype.SOA:
            zone.add(records[i])
            i += 1
        versions += 1
    return zone, versions


def wait_log_size(node, size, offset=0):
    """Until the node serves the zone of a log of size entries: its serial (60 s at most)."""
    for _ in range(600):
        for serial, n in re.findall(r"serving zone serial (\d+) over DNS \(log size (\d+)\)",
                                    node.log_text(offset)):
            if int(n) == size:
                return int(serial)
        time.sleep(0.1)
    raise AssertionError("the node never served that log:\n" + node.log_text()[-2000:])


def log_size(node):
    return int(node.http.bytes("/log/checkpoint").decode().split("\n")[1])


@pytest.fixture(scope="module")
def replayed(inet, tmp_path_factory):
    node = inet.node(os.path.join(str(tmp_path_factory.mktemp("ixfr")), "node"))
    try:
        node.start()
        wait_published(node)
        first, s0 = axfr(node.dns_port)
        out = cli("replay-root-changes", ROOT_CHANGES, "--keys", inet.keys_dir,
                  "--node", node.url, check=False)
        assert out.returncode == 0, out.stderr
        size = log_size(node)
        serial = wait_log_size(node, size)
        last, s = axfr(node.dns_port)
        assert s == serial
        yield node, first, s0, last, serial, size
    finally:
        node.stop()


def test_ixfr_leads_from_any_version(replayed):
    node, first, s0, last, serial, _ = replayed
    assert serial > s0
    records = ixfr(node.dns_port, s0)
    assert records[0][2] == dns.rdatatype.SOA and int(records[0][3].split()[2]) == serial
    zone, versions = apply_ixfr(first, records)
    assert versions >= 1
    assert zone == last
    # The node's log says which transfers were by parts.
    assert re.search(rf"IXFR to 127\.0\.0\.1: {versions} versions? up to serial {serial}",
                     node.log_text())


def test_ixfr_when_up_to_date_or_over_udp(replayed):
    node, _, s0, _, serial, _ = replayed
    # Up to date (or ahead): the SOA alone.
    for s in (serial, serial + 5):
        records = ixfr(node.dns_port, s)
        assert len(records) == 1 and int(records[0][3].split()[2]) == serial
    # Over UDP: the SOA alone, which tells a client behind to ask over TCP.
    q = dns.message.make_query(".", "IXFR")
    q.authority = [dns.rrset.from_text(".", 0, "IN", "SOA",
                                       f". . {s0} 1800 900 604800 86400")]
    r = ask(q, node.dns_port, False)
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA
    assert r.answer[0][0].serial == serial


def test_ixfr_from_unknown_serial_is_whole_zone(replayed):
    node, _, _, last, serial, _ = replayed
    records = ixfr(node.dns_port, 1)
    assert records[0] == records[-1] and set(records) == last


def test_by_parts_equals_whole(replayed, tmp_path):
    """A restart builds the zone whole: on the same day it is the same zone, byte for byte
    in every record; the real tools accept it."""
    node, _, _, last, serial, _ = replayed
    text = "\n".join(" ".join([o, str(t), "IN", dns.rdatatype.to_text(ty), d])
                     for o, t, ty, d in sorted(last, key=lambda r: r[2] != 6))
    path = tmp_path / "parts.zone"
    path.write_text(text + "\n")
    for args in (["ldns-verify-zone", "-Z", str(path)],
                 ["dnssec-verify", "-q", "-o", ".", "-x", str(path)]):
        if shutil.which(args[0]):
            v = subprocess.run(args, capture_output=True, text=True, timeout=300)
            assert v.returncode == 0, (args[0], v.stdout[-2000:], v.stderr[-2000:])
    node.stop()
    offset = len(node.log_text())
    node.start()
    again = wait_log_size(node, log_size(node), offset)
    whole, s = axfr(node.dns_port)
    if s != serial:
        pytest.skip("a new day began between the two builds: a new signing epoch")
    assert again == serial
    assert whole == last

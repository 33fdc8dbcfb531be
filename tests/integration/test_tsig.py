"""Zone transfers under control: TSIG (HMAC-SHA256) on queries, transfers and their
answers, and transfer rules by address and key. Checked with dnspython (which verifies the
TSIG of every message it is given) and Knot's kdig as real peers."""
import os
import re
import shutil
import socket
import subprocess

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from conftest import Network
from test_dns import DNS, wait_published

K1 = ("k1.concord.example.", "/KXKsmKtcIFK3sVMhmnP/78wIpCXJlsRINewzndycXE=")
K2 = ("k2.concord.example.", "c2VjcmV0IG9mIGsyLCBqdXN0IGZvciB0aGlzIHRlc3Q=")


@pytest.fixture(scope="module")
def tnet(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("tsignet")), dns=DNS)


@pytest.fixture(scope="module")
def tnode(tnet, tmp_path_factory):
    """A node that knows K1 (tsig-keygen's form) and K2 (one line), and lets only K1's
    holders on loopback transfer the zone."""
    d = tmp_path_factory.mktemp("tsig")
    keys = d / "tsig.keys"
    keys.write_text(f'# made by tsig-keygen\nkey "{K1[0]}" {{\n\talgorithm hmac-sha256;\n'
                    f'\tsecret "{K1[1]}";\n}};\nhmac-sha256:{K2[0]}:{K2[1]}\n')
    n = tnet.node(str(d / "node"))
    try:
        n.start("--tsig-keys", str(keys), "--xfr-allow", f"127.0.0.0/8,{K1[0]}")
        wait_published(n)
        yield n
    finally:
        n.stop()


def keyring(*keys):
    return dns.tsigkeyring.from_text({k: s for k, s in keys})


def axfr(port, key=None, keyname=None):
    q = dns.message.make_query(".", "AXFR")
    if key:
        q.use_tsig(keyring(key), keyname=keyname or key[0], algorithm=dns.tsig.HMAC_SHA256)
    return list(dns.query.xfr("127.0.0.1", ".", port=port, keyring=q.keyring,
                              keyname=q.keyname, keyalgorithm=dns.tsig.HMAC_SHA256,
                              relativize=False, lifetime=60)) if key else \
        list(dns.query.xfr("127.0.0.1", ".", port=port, relativize=False, lifetime=60))


def test_signed_transfer(tnode):
    msgs = axfr(tnode.dns_port, K1)
    records = sum(len(rrs) for m in msgs for rrs in m.answer)
    assert len(msgs) > 1 and records > 20000
    # dnspython checked every message's MAC, chained (RFC 8945 §5.3.1)
    assert all(m.had_tsig for m in msgs)


def test_unsigned_or_other_key_is_refused(tnode):
    with pytest.raises(dns.query.TransferError) as e:
        axfr(tnode.dns_port)
    assert e.value.rcode == dns.rcode.REFUSED
    # K2 is known (answers are signed) but may not transfer.
    q = dns.message.make_query(".", "AXFR")
    q.use_tsig(keyring(K2), keyname=K2[0], algorithm=dns.tsig.HMAC_SHA256)
    r = dns.query.tcp(q, "127.0.0.1", port=tnode.dns_port, timeout=10)
    assert r.rcode() == dns.rcode.REFUSED and r.had_tsig
    assert re.search(r"AXFR to 127\.0\.0\.1 refused", tnode.log_text())


def test_bad_keys_get_notauth(tnode):
    # An unknown key: BADKEY, unsigned (dnspython raises on the TSIG error).
    q = dns.message.make_query(".", "SOA")
    q.use_tsig(keyring(("k3.concord.example.", K2[1])), keyname="k3.concord.example.",
               algorithm=dns.tsig.HMAC_SHA256)
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.query.udp(q, "127.0.0.1", port=tnode.dns_port, timeout=5)
    # A wrong secret: BADSIG.
    q = dns.message.make_query(".", "SOA")
    q.use_tsig(keyring((K1[0], K2[1])), keyname=K1[0], algorithm=dns.tsig.HMAC_SHA256)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.tcp(q, "127.0.0.1", port=tnode.dns_port, timeout=5)


def test_signed_queries_get_signed_answers(tnode):
    for tcp in (False, True):
        q = dns.message.make_query("cn.", "NS", want_dnssec=True)
        q.use_tsig(keyring(K2), keyname=K2[0], algorithm=dns.tsig.HMAC_SHA256)
        f = dns.query.tcp if tcp else dns.query.udp
        r = f(q, "127.0.0.1", port=tnode.dns_port, timeout=5)
        assert r.had_tsig and r.rcode() == dns.rcode.NOERROR and r.authority
    # An IXFR over UDP gets the SOA alone, signed too.
    q = dns.message.make_query(".", "IXFR")
    q.authority = [dns.rrset.from_text(".", 0, "IN", "SOA", ". . 1 1800 900 604800 86400")]
    q.use_tsig(keyring(K2), keyname=K2[0], algorithm=dns.tsig.HMAC_SHA256)
    r = dns.query.udp(q, "127.0.0.1", port=tnode.dns_port, timeout=5)
    assert r.had_tsig and len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA
    # Without EDNS a signed answer, its TSIG included, still fits in 512 bytes (TC if not).
    q = dns.message.make_query("com.", "NS")
    q.flags &= ~dns.flags.RD
    q.use_tsig(keyring(K2), keyname=K2[0], algorithm=dns.tsig.HMAC_SHA256)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(q.to_wire(), ("127.0.0.1", tnode.dns_port))
        wire = sock.recv(65535)
    assert len(wire) <= 512
    r = dns.message.from_wire(wire, keyring=q.keyring, request_mac=q.mac)
    assert r.had_tsig and (r.flags & dns.flags.TC or r.authority)
    # Unsigned queries are answered as ever.
    r = dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=tnode.dns_port,
                      timeout=5)
    assert r.answer and not r.had_tsig


def test_kdig_transfers_with_the_key(tnode):
    if shutil.which("kdig") is None:
        pytest.skip("kdig is not installed")
    r = subprocess.run(["kdig", "-p", str(tnode.dns_port), "@127.0.0.1", "-y",
                        f"hmac-sha256:{K1[0]}:{K1[1]}", ".", "AXFR"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "TSIG" in r.stdout and "NOERROR" in r.stdout and "SOA" in r.stdout, r.stdout[-1500:]
    assert not re.search(r"(BADSIG|BADKEY|failed)", r.stdout + r.stderr)


def test_rules_by_address(tnet, tmp_path):
    """Rules without keys go by address: loopback is outside 10.0.0.0/8 and refused, then
    allowed by 127.0.0.1/32; a bad rule or key file stops the node at start."""
    n = tnet.node(str(tmp_path / "node"))
    n.start("--xfr-allow", "10.0.0.0/8", "--xfr-allow", "2001:db8::/32")
    try:
        wait_published(n)
        with pytest.raises(dns.query.TransferError) as e:
            axfr(n.dns_port)
        assert e.value.rcode == dns.rcode.REFUSED
    finally:
        n.stop()
    offset = len(n.log_text())
    n.start("--xfr-allow", "10.0.0.0/8", "--xfr-allow", "127.0.0.1")
    try:
        wait_published(n, offset=offset)
        assert len(axfr(n.dns_port)) > 1
    finally:
        n.stop()
    bad = tmp_path / "bad.keys"
    bad.write_text('key "x." { algorithm hmac-md5; secret "AAAA"; };\n')
    for args, what in ((["--xfr-allow", "300.0.0.0/8"], "not an address"),
                       (["--xfr-allow", "10.0.0.0/33"], "prefix length"),
                       (["--xfr-allow", "127.0.0.1,nokey."], "no TSIG key"),
                       (["--tsig-keys", str(bad)], "hmac-sha256")):
        with pytest.raises(AssertionError) as e:
            n.start(*args)
        assert what in str(e.value), (args, str(e.value)[-500:])
    assert os.path.isdir(tmp_path / "node")

"""concordd as an authoritative DNS server for the root zone (UDP and TCP), checked against
NSD serving the very same signed zone: 10,000 questions from the real TLD list (TLD names,
names below delegations, non-existent TLDs, apex types; with and without DO; over UDP and
TCP) must get the same answers once both are normalised (record order). And the zone follows
accepted changes, and malformed packets never stop it."""
import contextlib
import grp
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from concord import CONCORDD, cli
from conftest import Network
from dns_mix import free_port, questions

DNS = ["cn=ns.cn.root.concord.example.,192.0.2.53,2001:db8::53",
       "isoc=ns.isoc.root-servers.net.,198.51.100.7"]


@pytest.fixture(scope="module")
def dnet(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("dnsnet")), dns=DNS)


def wait_published(node, serial=None, offset=0):
    """Until the node's log (from offset on) says it serves a zone (with that serial), 60 s
    at most."""
    for _ in range(600):
        found = re.findall(r"serving zone serial (\d+) over DNS", node.log_text(offset))
        if found and (serial is None or int(found[-1]) >= serial):
            return int(found[-1])
        time.sleep(0.1)
    raise AssertionError("the node never published its zone:\n" + node.log_text()[-2000:])


@pytest.fixture(scope="module")
def dnode(dnet, tmp_path_factory):
    n = dnet.node(os.path.join(str(tmp_path_factory.mktemp("dnode")), "node"))
    try:
        n.start()
        wait_published(n)
        yield n
    finally:
        n.stop()


@contextlib.contextmanager
def serving(args, port):
    """A DNS server process (args) until the block ends; entered once it answers on port
    (30 s at most)."""
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=port,
                              timeout=0.5)
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise AssertionError(f"{args[0]} did not start")
        yield p
    finally:
        p.terminate()
        p.wait(timeout=30)


@pytest.fixture(scope="module")
def nsd(dnode, tmp_path_factory):
    """NSD serving the zone the node serves, from a master file, on its own port."""
    if shutil.which("nsd") is None:
        pytest.skip("nsd is not installed")
    d = tmp_path_factory.mktemp("nsd")
    (d / "root.zone").write_text(cli("root", "zone", "--node", dnode.url).stdout)
    port = free_port()
    nsd_conf(d, port, 'zonefile: "root.zone"')
    with serving(["nsd", "-d", "-c", str(d / "nsd.conf")], port):
        yield port


def ask(q, port, tcp):
    f = dns.query.tcp if tcp else dns.query.udp
    return f(q, "127.0.0.1", port=port, timeout=5)


def normalise(r):
    sections = [sorted((str(rr.name).lower(), rr.rdtype, rr.ttl, x.to_text()) for rr in s
                       for x in rr) for s in (r.answer, r.authority, r.additional)]
    return (r.rcode(), r.flags & (dns.flags.AA | dns.flags.TC), sections, r.edns,
            r.ednsflags & dns.flags.DO if r.edns >= 0 else None)


def test_same_answers_as_nsd(dnode, nsd):
    zone = cli("root", "zone", "--node", dnode.url).stdout
    differ, glue_tc = [], 0
    for name, qtype, do, tcp in questions(zone, 10000):
        q = dns.message.make_query(name, qtype, want_dnssec=do, use_edns=0 if do else None)
        q.flags &= ~dns.flags.RD
        a, b = ask(q, dnode.dns_port, tcp), ask(q, nsd, tcp)
        if normalise(a) == normalise(b):
            continue
        # RFC 9471: a referral whose in-domain glue does not fit is truncated; NSD 4.6 drops
        # the glue that does not fit instead. Over TCP both must then agree.
        if a.flags & dns.flags.TC and not b.flags & dns.flags.TC and not tcp and b.authority:
            glue_tc += 1
            if normalise(ask(q, dnode.dns_port, True)) == normalise(ask(q, nsd, True)):
                continue
        differ.append((name, qtype, do, tcp))
    assert differ == [], differ[:10]
    print(f"{glue_tc} referrals truncated for their in-domain glue (RFC 9471), same over TCP")


def udp_raw(sock, wire, port):
    """The answer to wire over sock (answers to other ids are skipped)."""
    sock.sendto(wire, ("127.0.0.1", port))
    while True:
        data, _ = sock.recvfrom(65535)
        if data[:2] == wire[:2]:
            return data


def core(r):
    """An answer's RCODE, AA and TC, answer and authority sections, normalised."""
    n = normalise(r)
    return n[:2] + tuple(n[2][:2])


def test_asked_again_the_answer_is_the_same(dnode):
    """The UDP workers keep their answers (dns/pcache.h) and answer a question asked again
    with a copy and the new id: the copy must be the answer, byte for byte, and the answer
    over TCP (never cached) must say the same, unless UDP truncated it. Names in random case
    (as resolvers using 0x20 send them: the answer echoes the case), so that the first answer
    is computed rather than cached, but for names without letters asked earlier."""
    zone = cli("root", "zone", "--node", dnode.url).stdout
    rnd = random.Random(20261122)
    st, _, before = dnode.http.get("/v1/dns")
    assert st == 200, before
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for i, (name, qtype, do, _) in enumerate(questions(zone, 3000)):
            name = "".join(c.upper() if rnd.random() < 0.5 else c for c in name)
            q = dns.message.make_query(name, qtype, want_dnssec=do, use_edns=0 if do else None)
            q.flags &= ~dns.flags.RD
            q.id = 2 * i
            first = udp_raw(s, q.to_wire(), dnode.dns_port)
            q.id = 2 * i + 1
            again = udp_raw(s, q.to_wire(), dnode.dns_port)
            assert again[2:] == first[2:], (name, qtype, do)
            r = dns.message.from_wire(again)
            assert str(r.question[0].name) == name, (name, r.question[0].name)
            if i % 2 == 0 and not r.flags & dns.flags.TC:
                # UDP may leave out glue that does not fit without TC (RFC 9471): the
                # additional section is not compared.
                t = ask(q, dnode.dns_port, True)
                assert core(r) == core(t), (name, qtype, do)
    # The node counts what it did (GET /v1/dns; a batch is counted before its answers are
    # sent): every one of the 6,000 was answered, the second asking of each from the cache,
    # unless a new day's zone came meanwhile.
    st, _, after = dnode.http.get("/v1/dns")
    assert st == 200, after
    assert after["serial"] == soa_serial(dnode.dns_port)
    assert after["udp"]["cache_bytes"] > 0 and after["udp"]["workers"] >= 1
    for k in ("queries", "answers"):
        assert after["udp"][k] - before["udp"][k] >= 6000, (k, before, after)
    assert after["tcp"]["answers"] - before["tcp"]["answers"] >= 1, (before, after)
    if after["serial"] == before["serial"]:
        assert after["udp"]["from_cache"] - before["udp"]["from_cache"] >= 3000, (before, after)
    answered = sum(after["rcodes"].values()) - sum(before["rcodes"].values())
    assert answered >= 6000 and after["rcodes"]["NXDOMAIN"] > before["rcodes"]["NXDOMAIN"]


def test_without_the_cache(dnet, tmp_path):
    """--dns-cache 0: every answer computed; a size out of range is refused at start."""
    bad = subprocess.run([CONCORDD, str(tmp_path / "none"), "--dns-cache", "-1"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--dns-cache takes 0 to" in bad.stderr, bad
    n = dnet.node(str(tmp_path / "node"))
    try:
        n.start("--dns-cache", "0")
        wait_published(n)
        q = dns.message.make_query("cn.", "NS", want_dnssec=True)
        a, b = ask(q, n.dns_port, False), ask(q, n.dns_port, False)
        assert a.answer == b.answer and a.authority == b.authority and a.authority
        st, _, j = n.http.get("/v1/dns")
        assert st == 200, j
        assert j["udp"]["cache_bytes"] == 0 and j["udp"]["from_cache"] == 0, j
        assert j["udp"]["answers"] >= 2 and j["rcodes"]["NOERROR"] >= 2, j
    finally:
        n.stop()


def test_changes_are_served(dnet, dnode):
    serial = wait_published(dnode)
    content = dnode.http.record("tld/cn")["content"]
    # Asked before the change, from the socket asking after it (the same worker), so that
    # the answer is kept: the new zone must replace it.
    q = dns.message.make_query("cn.", "DS", want_dnssec=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    before = dns.message.from_wire(udp_raw(sock, q.to_wire(), dnode.dns_port))
    assert not any("4243 15 2" in x.to_text() for rr in before.answer for x in rr), before
    assert dns.message.from_wire(udp_raw(sock, q.to_wire(), dnode.dns_port)) == before
    ds = "cn. 86400 IN DS 4243 15 2 " + "CD" * 32
    st, j, _ = dnet.propose(dnode.http, ["cn"], [("put", "tld/cn", content + ds + "\n")])
    assert st == 201, j
    wait_published(dnode, serial + 1)
    with sock:
        r = dns.message.from_wire(udp_raw(sock, q.to_wire(), dnode.dns_port))
    assert any("4243 15 2" in x.to_text() for rr in r.answer for x in rr), r
    soa = ask(dns.message.make_query(".", "SOA"), dnode.dns_port, False)
    assert soa.answer[0][0].serial >= serial + 1


def test_garbage_never_stops_it(dnode):
    rnd = random.Random(7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(300):
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 600)))
            if len(junk) >= 3:
                junk = junk[:2] + bytes([junk[2] & 0x7F]) + junk[3:]  # a query, not an answer
            s.sendto(junk, ("127.0.0.1", dnode.dns_port))
            s.settimeout(0.01)
            try:
                while True:  # drain what came back, so that no later answer is lost
                    s.recvfrom(65535)
            except socket.timeout:
                pass
        s.settimeout(5)
        # a question with two names: FORMERR
        q = dns.message.make_query("cn.", "A").to_wire()
        bad = q[:4] + b"\x00\x02" + q[6:]
        s.sendto(bad, ("127.0.0.1", dnode.dns_port))
        for _ in range(400):
            data, _ = s.recvfrom(65535)
            if data[:2] == bad[:2] and len(data) >= 12 and data[3] & 15 == dns.rcode.FORMERR:
                break
        else:
            raise AssertionError("no FORMERR")
    # still answering, over UDP and TCP
    for tcp in (False, True):
        r = ask(dns.message.make_query(".", "SOA"), dnode.dns_port, tcp)
        assert r.rcode() == 0 and r.answer
    # a TCP client that says nothing, and one that sends half a query, cost nothing lasting
    idle = socket.create_connection(("127.0.0.1", dnode.dns_port))
    half = socket.create_connection(("127.0.0.1", dnode.dns_port))
    half.sendall(b"\x00\x40abc")
    r = ask(dns.message.make_query(".", "SOA"), dnode.dns_port, True)
    assert r.rcode() == 0
    idle.close()
    half.close()


def unbound_conf(d, port, anchor, dns_port):
    """unbound as a validating resolver on loopback port, anchored on anchor (its text), with
    the node at dns_port as stub for the root: its command line."""
    (d / "anchor").write_text(anchor)
    (d / "unbound.conf").write_text(f"""server:
    interface: 127.0.0.1
    port: {port}
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: "{d}/unbound.log"
    do-not-query-localhost: no
    trust-anchor-file: "{d}/anchor"
    module-config: "validator iterator"
    qname-minimisation: no
    harden-referral-path: no
    num-threads: 1
    val-log-level: 2
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@{dns_port}
remote-control:
    control-enable: no
""")
    return ["unbound", "-d", "-c", str(d / "unbound.conf")]


@pytest.fixture(scope="module")
def unbound(dnode, tmp_path_factory):
    """unbound as a validating resolver: the node as stub for the root, anchored on
    `concord root trust-anchor`."""
    if shutil.which("unbound") is None:
        pytest.skip("unbound is not installed")
    d = tmp_path_factory.mktemp("unbound")
    port = free_port()
    anchor = cli("root", "trust-anchor", "--node", dnode.url).stdout
    with serving(unbound_conf(d, port, anchor, dnode.dns_port), port):
        yield port


def resolve(port, name, qtype):
    q = dns.message.make_query(name, qtype, want_dnssec=True)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=10)


def test_unbound_validates(unbound):
    # A TLD's DS, from the root side: authenticated.
    r = resolve(unbound, "cn.", "DS")
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    assert r.flags & dns.flags.AD, r
    # A TLD that does not exist: NXDOMAIN, proven by NSEC, authenticated.
    r = resolve(unbound, "no-such-tld-here.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN, r
    assert r.flags & dns.flags.AD, r
    # The root's own keys and zone digest.
    r = resolve(unbound, ".", "DNSKEY")
    assert r.flags & dns.flags.AD and len(r.answer[0]) == 2, r
    r = resolve(unbound, ".", "ZONEMD")
    assert r.flags & dns.flags.AD, r


def test_axfr_read_back_verifies(dnode, tmp_path):
    if shutil.which("dig") is None:
        pytest.skip("dig is not installed")
    r = subprocess.run(["dig", "+nocmd", "+nostats", "+noall", "+answer", "-p",
                        str(dnode.dns_port), "@127.0.0.1", ".", "AXFR"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith(";")]
    # SOA first and last; in between, exactly the zone the node publishes over HTTP.
    assert lines[0].split()[3] == "SOA" and lines[-1] == lines[0]
    served = cli("root", "zone", "--node", dnode.url).stdout.splitlines()

    def key(ln):
        f = ln.split(None, 4)
        return (f[0].lower(), f[1], f[3], "".join(f[4].split()).upper())  # dig splits base64
    assert sorted(map(key, lines[:-1])) == sorted(map(key, served))
    path = tmp_path / "axfr.zone"
    path.write_text("\n".join(lines[:-1]) + "\n")
    check = [["ldns-verify-zone", "-Z", str(path)],
             ["dnssec-verify", "-q", "-o", ".", "-x", str(path)],
             ["named-checkzone", "-q", "-n", "ignore", "-i", "local", ".", str(path)]]
    for args in check:
        if shutil.which(args[0]):
            v = subprocess.run(args, capture_output=True, text=True, timeout=300)
            assert v.returncode == 0, (args[0], v.stdout, v.stderr)
    # IXFR is answered with the whole zone; a transfer of another zone, or over UDP, refused
    q = dns.message.make_query(".", "AXFR")
    assert ask(q, dnode.dns_port, False).rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("cn.", "AXFR")
    assert ask(q, dnode.dns_port, True).rcode() == dns.rcode.REFUSED


def soa_serial(port):
    try:
        r = dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=port,
                          timeout=0.5)
        return r.answer[0][0].serial if r.answer else None
    except Exception:
        return None


def nsd_conf(d, port, zone):
    """An NSD on loopback port serving the root zone as zone says, everything in d."""
    (d / "nsd.conf").write_text(f"""server:
    ip-address: 127.0.0.1
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    database: ""
    logfile: "{d}/secondary.log"
    server-count: 1
    rrl-ratelimit: 0
    minimal-responses: yes
    refuse-any: no
remote-control:
    control-enable: no
zone:
    name: "."
    {zone}
""")
    return ["nsd", "-d", "-c", str(d / "nsd.conf")]


def nsd_secondary(d, port, primary, key=None):
    name = key[0] if key else "NOKEY"
    conf = nsd_conf(d, port, f"""zonefile: "secondary.zone"
    request-xfr: 127.0.0.1@{primary} {name}
    allow-notify: 127.0.0.1 {name}""")
    if key:
        with open(d / "nsd.conf", "a") as f:
            f.write(f'key:\n    name: "{key[0]}"\n    algorithm: hmac-sha256\n'
                    f'    secret: "{key[1]}"\n')
    return conf


def knot_secondary(d, port, primary, key=None):
    keys = (f"key:\n  - id: {key[0]}\n    algorithm: hmac-sha256\n    secret: {key[1]}\n"
            if key else "")
    use = f"\n    key: {key[0]}" if key else ""
    (d / "knot.conf").write_text(keys + f"""server:
    listen: 127.0.0.1@{port}
    rundir: {d}
    user: {pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}
database:
    storage: {d}/db
log:
  - target: {d}/secondary.log
    any: info
remote:
  - id: primary
    address: 127.0.0.1@{primary}{use}
acl:
  - id: notify_from_primary
    address: 127.0.0.1{use}
    action: notify
zone:
  - domain: .
    master: primary
    acl: notify_from_primary
    file: {d}/secondary.zone
    zonefile-load: none
    semantic-checks: off
""")
    return ["knotd", "-c", str(d / "knot.conf")]


def bind_secondary(d, port, primary, key=None):
    keys = f'key "{key[0]}" {{ algorithm hmac-sha256; secret "{key[1]}"; }};\n' if key else ""
    use = f' key "{key[0]}"' if key else ""
    notify = f'key "{key[0]}";' if key else "127.0.0.1;"
    (d / "named.conf").write_text(keys + f"""options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ {notify} }};
}};
controls {{ }};
logging {{
    channel f {{ file "{d}/secondary.log"; severity info; print-time yes; }};
    category default {{ f; }};
}};
zone "." {{
    type secondary;
    primaries port {primary} {{ 127.0.0.1{use}; }};
    file "{d}/secondary.zone";
}};
""")
    return ["named", "-f", "-n", "1", "-c", str(d / "named.conf")]


def wait_serial(port, serial, proc, log):
    """Until the secondary on port serves serial: 60 s at most, less if it dies."""
    for _ in range(600):
        if soa_serial(port) == serial or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert soa_serial(port) == serial, log.read_text() if log.exists() else "no log"


TSIG_KEY = ("xfr.concord.example.", "yBTnq1aVXHsDk2VnNd6pgQtXwQSKaiw8xJqzdnL6Sw8=")


@pytest.mark.parametrize("tsig", [False, True], ids=["open", "tsig"])
@pytest.mark.parametrize("server,make", [("nsd", nsd_secondary), ("knotd", knot_secondary),
                                         ("named", bind_secondary)])
def test_secondary_follows(dnet, tmp_path, server, make, tsig):
    """NSD, Knot and BIND as secondaries of the node: each transfers the zone, and every
    accepted change reaches it through NOTIFY and an IXFR; open, or with TSIG on every
    message (NOTIFY, SOA queries, transfers) and transfers allowed only with that key."""
    if shutil.which(server) is None:
        pytest.skip(f"{server} is not installed")
    port = free_port()
    node = dnet.node(str(tmp_path / "primary"))
    if tsig:
        keys = tmp_path / "tsig.keys"
        keys.write_text(f'key "{TSIG_KEY[0]}" {{\n\talgorithm hmac-sha256;\n'
                        f'\tsecret "{TSIG_KEY[1]}";\n}};\n')
        node.start("--tsig-keys", str(keys), "--xfr-allow", f"127.0.0.1,{TSIG_KEY[0]}",
                   "--notify", f"127.0.0.1:{port},{TSIG_KEY[0]}")
    else:
        node.start("--notify", f"127.0.0.1:{port}")
    d = tmp_path / server
    d.mkdir()
    p = subprocess.Popen(make(d, port, node.dns_port, TSIG_KEY if tsig else None),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = d / "secondary.log"
    try:
        serial = wait_published(node)
        wait_serial(port, serial, p, log)
        for k in range(2):
            content = node.http.record("tld/br")["content"]
            ds = f"br. 86400 IN DS {5000 + k} 15 2 " + "EF" * 32
            st, j, _ = dnet.propose(node.http, ["br"], [("put", "tld/br", content + ds + "\n")])
            assert st == 201, j
            serial = wait_published(node, serial + 1)
            wait_serial(port, serial, p, log)
            r = dns.query.udp(dns.message.make_query("br.", "DS"), "127.0.0.1", port=port,
                              timeout=2)
            assert any(f"{5000 + k} 15 2" in x.to_text() for rr in r.answer for x in rr), r
        # The first transfer is the whole zone; each change after it an IXFR of the
        # versions from the node's history.
        text = node.log_text()
        assert re.search(r"(AXFR|IXFR) to 127\.0\.0\.1: the whole zone", text), text[-3000:]
        assert "refused" not in text, text[-3000:]
        assert len(re.findall(r"IXFR to 127\.0\.0\.1: 1 version up to serial", text)) >= 2, \
            text[-3000:]
    finally:
        p.terminate()
        p.wait(timeout=30)
        node.stop()

"""Members' name servers (the `dns` line of member records): set in the genesis, changed by
the membership policy, and kept apart from the TLDs' name servers (docs/format.md)."""
import os
import time

import pytest

from concord import cli
from conftest import Network

DNS = ["cn=ns.cn.root.concord.example.,2001:db8::53,192.0.2.53,192.0.2.1",
       "isoc=ns.isoc.root.concord.example.,198.51.100.7"]


@pytest.fixture(scope="module")
def dnet(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("dnsnet")), dns=DNS)


@pytest.fixture(scope="module")
def dnode(dnet, tmp_path_factory):
    n = dnet.node(os.path.join(str(tmp_path_factory.mktemp("dnode")), "node"))
    try:
        yield n.start()
    finally:
        n.stop()


def member(node, m):
    return node.http.record(f"member/{m}")


def test_genesis_dns_canonical(dnode):
    cn = member(dnode, "cn")["content"].splitlines()
    assert cn[3] == "dns ns.cn.root.concord.example. 192.0.2.1 192.0.2.53 2001:db8::53"
    assert member(dnode, "isoc")["content"].splitlines()[3] == \
        "dns ns.isoc.root.concord.example. 198.51.100.7"
    assert len(member(dnode, "br")["content"].splitlines()) == 3


def change_dns(dnet, dnode, m, line, signers):
    rec = member(dnode, m)
    lines = rec["content"].splitlines()[:3] + ([line] if line else [])
    return dnet.propose(dnode.http, signers, [("put", f"member/{m}", "\n".join(lines))])


def test_dns_change_needs_member_policy(dnet, dnode):
    four = ["br", "cn", "de", "za"]  # 4 of 5 >= 2/3
    st, j, _ = change_dns(dnet, dnode, "br", "dns NS.BR.root.concord.example. ::1 127.0.0.1",
                          ["br"])
    assert st == 202 and j["status"] == "pending"
    st, j, _ = change_dns(dnet, dnode, "br", "dns NS.BR.root.concord.example. ::1 127.0.0.1",
                          four)
    assert st == 201, j
    assert member(dnode, "br")["content"].splitlines()[3] == \
        "dns ns.br.root.concord.example. 127.0.0.1 ::1"


@pytest.mark.parametrize("line,why", [
    ("dns ns.cn.root.concord.example. 192.0.2.9", "already the name server of member cn"),
    ("dns a.dns.cn. 192.0.2.9", "name server of TLDs"),
    ("dns . 192.0.2.9", "other than the root"),
    ("dns ns.x.example. 192.0.2.9 192.0.2.9", "twice"),
    ("dns ns.x.example. 300.1.1.1", "line 1"),
    ("dns ns.x.example.", "NAME ADDRESS"),
    ("dns ns.x.example. " + " ".join(f"192.0.2.{i}" for i in range(1, 10)), "1 to 8"),
])
def test_dns_refused(dnet, dnode, line, why):
    size = dnode.tree_size()
    st, j, _ = change_dns(dnet, dnode, "de", line, ["br", "cn", "de", "za"])
    assert st == 400, j
    assert why in j["detail"], j
    assert dnode.tree_size() == size


@pytest.mark.parametrize("server", [
    "ns.isoc.root.concord.example.",  # from the genesis
    "ns.br.root.concord.example.",    # from test_dns_change_needs_member_policy's change
])
def test_tld_cannot_use_a_root_server_as_glue(dnet, dnode, server):
    if server.startswith("ns.br.") and server not in member(dnode, "br")["content"]:
        # run alone: make the change test_dns_change_needs_member_policy makes
        st, j, _ = change_dns(dnet, dnode, "br", f"dns {server} 127.0.0.1 ::1",
                              ["br", "cn", "de", "za"])
        assert st == 201, j
    content = dnode.http.record("tld/cn")["content"]
    content += f"cn. 172800 IN NS {server}\n"
    content += f"{server} 172800 IN A 198.51.100.7\n"
    st, j, _ = dnet.propose(dnode.http, ["cn"], [("put", "tld/cn", content)])
    assert st == 400 and "root server" in j["detail"], j


def test_genesis_dns_refused(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    cli("keygen", "cn", "--dir", keys)
    base = ["genesis", "new", "--origin", "x.example/root", "--member",
            f"cn:government:{keys}/cn.pub", "-o", tmp_path / "g"]
    for bad in ["cn=ns.x.example.", "de=ns.x.example.,192.0.2.1", "cn",
                "cn=ns.x.example.,not-an-address"]:
        r = cli(*base, "--dns", bad, check=False)
        assert r.returncode != 0 and "--dns" in r.stderr, (bad, r.stderr)
        assert not (tmp_path / "g").exists()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_no_name_servers_no_zone_and_idle(node):
    """Without a member's name server there is no zone: the node says so once and then waits
    for the log to change, rather than rebuilding a zone it cannot have in a loop (it once
    kept a core busy doing that)."""
    for _ in range(200):
        if "no zone to serve over DNS" in node.log_text():
            break
        time.sleep(0.05)
    assert node.log_text().count("no zone to serve over DNS") == 1
    before = cpu_seconds(node.proc.pid)
    time.sleep(3)
    # An idle node sleeps; a loop would have taken about 3 s of CPU here.
    assert cpu_seconds(node.proc.pid) - before < 1.0

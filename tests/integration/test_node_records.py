"""Members' nodes and the network's sequencer as governed records: `concord node keys`, a
genesis naming nodes, node directories initialised with those keys (and refused with others),
node/ and network/ records read back and changed under their policies."""
import base64
import os
import stat

import pytest

from concord import Key, Node, b64, cli, key_id, parse_checkpoint
from conftest import MEMBERS, ORIGIN

NODES = {"cn": "http://127.0.0.1:18301", "br": "HTTP://Node.BR.Example:8053",
         "za": "https://[2001:DB8:0:0::53]"}
SEQUENCER = "cn"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def node_pub(d):
    return open(os.path.join(d, "node.pub")).read()


def snapshot(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))}


class Net:
    """Five founding members, three of them with a node made by `concord node keys`."""

    def __init__(self, base):
        self.base = base
        self.keys_dir = os.path.join(base, "keys")
        os.makedirs(self.keys_dir)
        self.dirs = {m: os.path.join(base, "node-" + m) for m in NODES}
        self.pubs = {}
        args = ["genesis", "new", "--origin", ORIGIN, "--consultation", "0",
                "--sequencer", SEQUENCER]
        for m, chamber in MEMBERS:
            cli("keygen", m, "--dir", self.keys_dir)
            args += ["--member", f"{m}:{chamber}:{self.keys_dir}/{m}.pub"]
        for m, url in NODES.items():
            self.pubs[m] = cli("node", "keys", self.dirs[m], "--member", m, "--url",
                               url).stdout
            args += ["--node", os.path.join(self.dirs[m], "node.pub")]
        self.genesis = os.path.join(base, "genesis")
        self.new_out = cli(*args, "-o", self.genesis).stdout
        for m, _ in MEMBERS:
            cli("genesis", "sign", self.genesis, "--key", self.key_file(m))
        self.keys = {m: Key.load(self.key_file(m)) for m, _ in MEMBERS}

    def key_file(self, m):
        return os.path.join(self.keys_dir, f"{m}.key")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return Net(str(tmp_path_factory.mktemp("noderec")))


@pytest.fixture(scope="module")
def seq(net):
    """The sequencer's node, initialised in the directory `node keys` made, running."""
    d = net.dirs[SEQUENCER]
    before = snapshot(d)
    out = cli("node", "init", d, "--genesis", net.genesis, "--key", net.key_file(SEQUENCER))
    assert out.stdout == f"{d}: node initialised\n"
    after = snapshot(d)
    assert {f: after[f] for f in before} == before  # the keys are kept as they were
    assert sorted(after) == ["concord.db", "node.conf", "node.key", "node.pub", "zsk.key"]
    n = Node(d)
    try:
        yield n.start()
    finally:
        n.stop()


def test_node_keys_files(net, tmp_path):
    d = str(tmp_path / "keys-de")
    out = cli("node", "keys", d, "--member", "de", "--url", "HTTP://Node.DE.Example:8053")
    assert out.stdout == node_pub(d)
    lines = out.stdout.splitlines()
    assert [l.split(" ")[0] for l in lines] == ["member", "url", "key", "zsk"]
    assert lines[0] == "member de" and lines[1] == "url http://node.de.example:8053"
    key, zsk = (base64.b64decode(l.split(" ")[1], validate=True) for l in lines[2:])
    assert len(key) == 32 and len(zsk) == 32 and key != zsk
    assert mode(d) == 0o700
    assert mode(os.path.join(d, "node.key")) == 0o600
    assert mode(os.path.join(d, "zsk.key")) == 0o600
    assert mode(os.path.join(d, "node.pub")) == 0o644
    nk, zk = Key.load(os.path.join(d, "node.key")), Key.load(os.path.join(d, "zsk.key"))
    assert (nk.name, nk.pub) == ("concord-node", key)
    assert (zk.name, zk.pub) == ("dnssec-zsk", zsk)
    for f in ("node.key", "zsk.key"):
        assert len(open(os.path.join(d, f)).read().splitlines()) == 1
    # never over what exists; nothing made on a refusal
    before = snapshot(d)
    r = cli("node", "keys", d, "--member", "de", "--url", "http://x.example", check=False)
    assert r.returncode == 1 and "not empty" in r.stderr
    assert snapshot(d) == before
    for member, url, why in [("de", "http://x.example/", "no path"),
                             ("de", "ftp://x.example", "http:// or https://"),
                             ("de", "http://u@x.example", "user information"),
                             ("de", "http://x.example:080", "port"),
                             ("DE", "http://x.example", "member id")]:
        e = str(tmp_path / "refused")
        r = cli("node", "keys", e, "--member", member, "--url", url, check=False)
        assert r.returncode == 1 and why in r.stderr, (url, r.stderr)
        assert not os.path.exists(e)
    r = cli("node", "keys", d + "x", "--member", "de", check=False)
    assert r.returncode == 2


def test_genesis_names_nodes(net):
    assert net.new_out.endswith(": 5 members, 3 nodes, 0 delegation records, unsigned\n")
    show = cli("genesis", "show", net.genesis).stdout
    assert "NOT SIGNED" not in show


def test_genesis_refuses_a_stranger_node(net, tmp_path):
    d = str(tmp_path / "keys-xx")
    cli("node", "keys", d, "--member", "xx", "--url", "http://xx.example")
    m, chamber = MEMBERS[0]
    r = cli("genesis", "new", "--origin", ORIGIN, "--member",
            f"{m}:{chamber}:{net.keys_dir}/{m}.pub", "--node", os.path.join(d, "node.pub"),
            "-o", str(tmp_path / "g"), check=False)
    assert r.returncode == 2 and "'xx', who is not a --member" in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "g")
    # a sequencer that runs no node
    r = cli("genesis", "new", "--origin", ORIGIN, "--member",
            f"{m}:{chamber}:{net.keys_dir}/{m}.pub", "--node",
            os.path.join(net.dirs["cn"], "node.pub"), "--sequencer", "br",
            "-o", str(tmp_path / "g"), check=False)
    assert r.returncode == 1 and "sequencer br" in r.stderr, r.stderr
    r = cli("genesis", "new", "--origin", ORIGIN, "--member",
            f"{m}:{chamber}:{net.keys_dir}/{m}.pub", "--node",
            os.path.join(net.dirs["cn"], "node.pub"), "--witness-quorum", "4/3",
            "-o", str(tmp_path / "g"), check=False)
    assert r.returncode == 1 and "witness quorum" in r.stderr, r.stderr


def test_records_round_trip(net, seq):
    env = dict(os.environ, CONCORD_NODE=seq.url)
    for m in NODES:
        shown = cli("show", f"node/{m}", env=env).stdout
        assert shown == net.pubs[m].split("\n", 1)[1]  # node.pub less its member line
        assert seq.http.record(f"node/{m}")["version"] == 1  # written by chunk 1
    assert cli("show", "node/za", env=env).stdout.startswith("url https://[2001:db8::53]\n")
    assert cli("show", "network/sequencer", env=env).stdout == "sequencer cn\n"
    assert cli("show", "network/witness", env=env).stdout == "quorum 2/3\n"
    assert cli("show", "policy/node", env=env).stdout == "applies node/*\nrequire all 2/3\n"
    assert cli("show", "policy/network", env=env).stdout == \
        "applies network/*\nrequire all 2/3\n"
    assert seq.http.record("network/sequencer")["policy"] == "policy/network"
    r = cli("show", "node/isoc", env=env, check=False)
    assert r.returncode == 1


def test_log_key_is_the_node_key(net, seq):
    """The sequencer's checkpoint is signed by its node key, under the network's name."""
    pub = base64.b64decode(net.pubs[SEQUENCER].splitlines()[2].split(" ")[1])
    vkey = f"{ORIGIN}+{key_id(ORIGIN, pub).hex()}+" + b64(b"\x01" + pub)
    origin, size, _ = parse_checkpoint(seq.checkpoint(), vkey)
    assert origin == ORIGIN and size >= 2


def test_init_refuses_other_keys(net, tmp_path):
    g, cn_key = net.genesis, net.key_file("cn")
    # keys the genesis does not list for cn's node
    d = str(tmp_path / "other-cn")
    cli("node", "keys", d, "--member", "cn", "--url", NODES["cn"])
    before = snapshot(d)
    r = cli("node", "init", d, "--genesis", g, "--key", cn_key, check=False)
    assert r.returncode == 1 and "other keys for node/cn" in r.stderr, r.stderr
    assert snapshot(d) == before
    # another member's node keys
    r = cli("node", "init", net.dirs["br"], "--genesis", g, "--key", cn_key, check=False)
    assert r.returncode == 1 and "member br's node, not member cn's" in r.stderr, r.stderr
    assert sorted(os.listdir(net.dirs["br"])) == ["node.key", "node.pub", "zsk.key"]
    # cn's node is listed: a fresh log key cannot serve it
    e = str(tmp_path / "empty")
    r = cli("node", "init", e, "--genesis", g, "--key", cn_key, check=False)
    assert r.returncode == 1 and "lists node/cn" in r.stderr, r.stderr
    assert not os.path.exists(e)
    # anything beside the keys: not a directory node keys made
    with open(os.path.join(d, "extra"), "w") as f:
        f.write("x")
    r = cli("node", "init", d, "--genesis", g, "--key", cn_key, check=False)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr


def test_init_without_a_node_record(net, tmp_path):
    """A member with no node record yet may still prepare its keys, or take a fresh one."""
    d = str(tmp_path / "isoc")
    cli("node", "keys", d, "--member", "isoc", "--url", "http://isoc.example")
    cli("node", "init", d, "--genesis", net.genesis, "--key", net.key_file("isoc"))
    assert "concord.db" in os.listdir(d)
    e = str(tmp_path / "isoc2")
    cli("node", "init", e, "--genesis", net.genesis, "--key", net.key_file("isoc"))
    assert Key.load(os.path.join(e, "node.key")).name == ORIGIN


def test_node_change_needs_two_thirds(net, seq, tmp_path):
    env = dict(os.environ, CONCORD_NODE=seq.url)
    d = str(tmp_path / "keys-br")
    cli("node", "keys", d, "--member", "br", "--url", "http://br2.example:8053")
    content = node_pub(d).split("\n", 1)[1]
    f = tmp_path / "br.txt"
    f.write_text(content)
    before = seq.http.record("node/br")["version"]
    out = cli("propose", "--key", net.key_file("br"), "put", "node/br", str(f),
              env=env).stdout.splitlines()
    pid = out[0]
    assert out[1].startswith("pending: policy/node 2/3 of all members 1/4 "), out[1]
    for m, want in [("za", "pending"), ("isoc", "pending"), ("de", "accepted")]:
        status = cli("approve", "--key", net.key_file(m), pid, env=env).stdout.splitlines()
        assert status[1].startswith(want), status
    rec = seq.http.record("node/br")
    assert rec["content"] == content and rec["version"] > before
    assert cli("show", "node/br", env=env).stdout == content
    # a sequencer without a node, a node for a stranger: refused at once
    f.write_text("sequencer isoc\n")
    r = cli("propose", "--key", net.key_file("cn"), "put", "network/sequencer", str(f),
            env=env, check=False)
    assert r.returncode == 1 and "isoc has no node record" in r.stderr, r.stderr
    r = cli("propose", "--key", net.key_file("cn"), "delete", "network/witness", env=env,
            check=False)
    assert r.returncode == 1 and "cannot be deleted" in r.stderr, r.stderr

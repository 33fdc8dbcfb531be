import contextlib
import os
import re
import threading
import time

import pytest

from concord import DATA, Key, Node, cli, note, proposal_body

MEMBERS = [("cn", "government"), ("br", "government"), ("za", "government"),
           ("de", "government"), ("isoc", "technical")]
STATES = ["cn", "br", "za", "de"]
ORIGIN = "test.concord.example/root"
ROOT_ZONE = os.path.join(DATA, "root-2025082000.zone")
ROOT_CHANGES = os.path.join(DATA, "root-changes-2025082000-2026072100.txt")


class Network:
    """Keys of the five founding members, a signed genesis, node directories."""

    def __init__(self, base, root_zone=True, consultation="0", dns=()):
        args = self._members(base, consultation)
        if root_zone:
            args += ["--root-zone", ROOT_ZONE]
        for d in dns:
            args += ["--dns", d]
        self._genesis(args)

    def _members(self, base, consultation):
        """Every founding member's keys; the start of `genesis new`'s arguments."""
        self.base = base
        self.origin = ORIGIN
        self.keys_dir = os.path.join(base, "keys")
        os.makedirs(self.keys_dir)
        args = ["genesis", "new", "--origin", ORIGIN, "--consultation", consultation]
        for m, chamber in MEMBERS:
            cli("keygen", m, "--dir", self.keys_dir)
            args += ["--member", f"{m}:{chamber}:{self.keys_dir}/{m}.pub"]
        return args

    def _genesis(self, args):
        """The genesis made with args, signed by every founding member."""
        self.genesis = os.path.join(self.base, "genesis")
        cli(*args, "-o", self.genesis)
        for m, _ in MEMBERS:
            cli("genesis", "sign", self.genesis, "--key", self.key_file(m))
        self.keys = {m: Key.load(self.key_file(m)) for m, _ in MEMBERS}

    def key_file(self, m):
        return os.path.join(self.keys_dir, f"{m}.key")

    def node(self, d):
        """A node initialised in directory d (not started)."""
        cli("node", "init", d, "--genesis", self.genesis, "--key", self.key_file("cn"))
        return Node(d)

    def body(self, http, proposer, ops, **kw):
        """A proposal body; ops ("put", path, content) or ("delete", path) take the current
        version from the node unless they give one."""
        full = []
        for op in ops:
            if len(op) == (3 if op[0] == "put" else 2):
                st, _, j = http.get("/v1/records/" + op[1])
                version = j["version"] if st == 200 else "new"
                op = (op[0], op[1], version) + tuple(op[2:])
            full.append(op)
        return proposal_body(self.origin, proposer, full, **kw)

    def propose(self, http, signers, ops, **kw):
        """Post a proposal signed by signers (the first is the proposer):
        (status, json, body)."""
        body = self.body(http, signers[0], ops, **kw)
        st, _, j = http.post("/v1/proposals", note(body, *(self.keys[m] for m in signers)))
        return st, j, body


class NodeNetwork(Network):
    """The founding members of Network, those of nodes running a node each: listed in the
    genesis (over the real root zone) with node key, URL (url(m)) and name server address
    (addr(m)), every node initialised in base/<m>, with one shared KSK when ksk (its DS
    in self.anchor). Subclasses make self.nodes."""

    def __init__(self, base, nodes, url, addr, sequencer=None, ksk=False):
        args = self._members(base, "0") + ["--root-zone", ROOT_ZONE]
        if sequencer:
            args += ["--sequencer", sequencer]
        self.dirs = {m: os.path.join(base, m) for m in nodes}
        self.zsk = {}
        for m in nodes:
            pub = cli("node", "keys", self.dirs[m], "--member", m, "--url", url(m)).stdout
            self.zsk[m] = re.search(r"^zsk (\S+)$", pub, re.M).group(1)
            args += ["--node", os.path.join(self.dirs[m], "node.pub"),
                     "--dns", f"{m}=ns.{m}.root.concord.example.,{addr(m)}"]
        self._genesis(args)
        self.ksk = self.anchor = None
        extra = []
        if ksk:
            self.ksk = os.path.join(base, "ksk.key")
            self.anchor = cli("root", "ksk", self.ksk).stdout
            extra = ["--ksk", self.ksk]
        for m in nodes:
            cli("node", "init", self.dirs[m], "--genesis", self.genesis,
                "--key", self.key_file(m), *extra)

    @contextlib.contextmanager
    def running(self):
        """Every node started (self.start), every one stopped at the end."""
        try:
            for m in self.nodes:
                self.start(m)
            yield self
        finally:
            for n in self.nodes.values():
                n.stop()


@pytest.fixture(scope="session")
def network(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("net")))


@pytest.fixture
def nodes(network, tmp_path):
    """A factory of fresh running nodes of the shared network; all stopped at the end."""
    made = []

    def make(name="node"):
        n = network.node(os.path.join(str(tmp_path), name))
        made.append(n)
        return n.start()
    yield make
    for n in made:
        n.stop()


@pytest.fixture
def node(nodes):
    """A fresh running node of the shared network, with its own directory."""
    return nodes()


@pytest.fixture(scope="module")
def mnode(network, tmp_path_factory):
    """One running node for a whole module, for tests that leave no trace in its state or only
    touch records of their own."""
    n = network.node(os.path.join(str(tmp_path_factory.mktemp("mnode")), "node"))
    try:
        yield n.start()
    finally:
        n.stop()


class Burst:
    """Appends from one thread per member state, each changing its own ccTLD in a loop and
    naming the current version, until stop() (or `count` changes each). Answers 201 go to
    `acked` as (state, proposal JSON), other answers to `errors` as (state, status, JSON); an
    exception (a connection cut by a killed daemon) ends a thread and goes to `cut`."""

    def __init__(self, network, node, count=None):
        self.network, self.node, self.count = network, node, count
        self.acked, self.errors, self.cut = [], [], []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(m,)) for m in STATES]
        for t in self.threads:
            t.start()

    def run(self, m):
        done = 0
        while not self.stopping.is_set() and (self.count is None or done < self.count):
            try:
                h = self.node.http
                content = h.record(f"tld/{m}")["content"]
                st, j, _ = self.network.propose(h, [m], [("put", f"tld/{m}", content)])
            except Exception as e:
                self.cut.append((m, e))
                return
            if st != 201:
                self.errors.append((m, st, j))
                return
            self.acked.append((m, j))
            done += 1

    def wait_for(self, n):
        """Until n more appends are acknowledged (bounded: 60 s), or the threads are done."""
        target = len(self.acked) + n
        for _ in range(6000):
            if len(self.acked) >= target or not any(t.is_alive() for t in self.threads):
                return
            time.sleep(0.01)

    def join(self):
        for t in self.threads:
            t.join(timeout=120)
            assert not t.is_alive()
        return self

    def stop(self):
        self.stopping.set()
        return self.join()

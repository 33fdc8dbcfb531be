import os
import shutil

import pytest

from concord import CONCORD, DATA, Key, Node, cli

MEMBERS = [("cn", "government"), ("br", "government"), ("za", "government"),
           ("de", "government"), ("isoc", "technical")]
ORIGIN = "test.concord.example/root"


class Network:
    """Keys of the five founding members, a signed genesis, a node directory."""

    def __init__(self, base, root_zone=True, consultation="0"):
        self.base = base
        self.keys_dir = os.path.join(base, "keys")
        os.makedirs(self.keys_dir)
        args = ["genesis", "new", "--origin", ORIGIN, "--consultation", consultation]
        for m, chamber in MEMBERS:
            cli("keygen", m, "--dir", self.keys_dir)
            args += ["--member", f"{m}:{chamber}:{self.keys_dir}/{m}.pub"]
        if root_zone:
            args += ["--root-zone", os.path.join(DATA, "root-2025082000.zone")]
        self.genesis = os.path.join(base, "genesis")
        cli(*args, "-o", self.genesis)
        for m, _ in MEMBERS:
            cli("genesis", "sign", self.genesis, "--key", self.key_file(m))
        self.keys = {m: Key.load(self.key_file(m)) for m, _ in MEMBERS}

    def key_file(self, m):
        return os.path.join(self.keys_dir, f"{m}.key")

    def node(self, name="node"):
        d = os.path.join(self.base, name)
        if not os.path.exists(d):
            cli("node", "init", d, "--genesis", self.genesis, "--key", self.key_file("cn"))
        return Node(d)


@pytest.fixture(scope="session")
def network(tmp_path_factory):
    return Network(str(tmp_path_factory.mktemp("net")))


@pytest.fixture
def node(network, tmp_path):
    """A fresh node of the shared network, with its own directory."""
    d = os.path.join(str(tmp_path), "node")
    cli("node", "init", d, "--genesis", network.genesis, "--key", network.key_file("cn"))
    from concord import Node
    n = Node(d).start()
    yield n
    n.stop()

"""A sequencer that shows one node another tree than the others (a split view) is caught: the
node keeps two checkpoints the sequencer signed that cannot both be its log, serves them as
proof, stops following, and the other nodes, checking that proof themselves, stop too.

The equivocating sequencer is a test-only build (make EQUIVOCATE=1, build-equivocate/): the
default build refuses to be told to equivocate."""
import base64
import hashlib
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import concord
from concord import CONCORDD, EMDASH, Node
from test_federation import SEQUENCER, Federation, cn_ds_ops

EQUIVOCATE_BUILD = os.environ.get(
    "CONCORD_EQUIVOCATE_BUILD", os.path.join(os.path.dirname(__file__), "../../build-equivocate"))
VICTIM = "isoc"


class EquivocatingNode(Node):
    """The sequencer, from the test-only build, told to show VICTIM a split view."""

    def start(self, *extra):
        saved, env = concord.CONCORDD, os.environ.copy()
        concord.CONCORDD = os.path.join(EQUIVOCATE_BUILD, "concordd")
        os.environ["CONCORD_EQUIVOCATE"] = VICTIM
        try:
            return super().start(*extra)
        finally:
            concord.CONCORDD = saved
            os.environ.clear()
            os.environ.update(env)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    if not os.path.exists(os.path.join(EQUIVOCATE_BUILD, "concordd")):
        pytest.fail("build-equivocate/concordd is missing: make equivocate")
    f = Federation(str(tmp_path_factory.mktemp("split")))
    f.nodes[SEQUENCER] = EquivocatingNode(f.dirs[SEQUENCER])
    with f.running():
        yield f


def signed_by(note_text, name, pub):
    """The checkpoint text of note_text if it carries name's Ed25519 signature by pub."""
    text, _, sigs = note_text.rpartition("\n\n")
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    for line in sigs.splitlines():
        dash, n, blob = line.split(" ")
        raw = base64.b64decode(blob)
        if dash == EMDASH and n == name and raw[:4] == kid and len(raw) == 68:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], (text + "\n").encode())
            return text + "\n"
    raise AssertionError(f"not signed by {name}")


def wait_alarm(node, timeout=60):
    deadline = time.time() + timeout
    while True:
        st, _, j = node.http.get("/v1/alarm")
        if st == 200:
            return j
        assert st == 404, (st, j)
        assert time.time() < deadline, "no alarm raised"
        time.sleep(0.1)


def test_the_default_build_refuses_to_equivocate(tmp_path):
    env = dict(os.environ, CONCORD_EQUIVOCATE="isoc")
    r = subprocess.run([CONCORDD, str(tmp_path)], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "test-only build" in r.stderr


def test_split_view_caught_proved_and_followed_by_every_node(split):
    br = split.nodes["br"]
    _, _, net = split.nodes[SEQUENCER].http.get("/v1/network")
    st, j, _ = split.propose(br.http, ["cn"], cn_ds_ops(br.http, 1))
    assert st == 201, j

    alarm = wait_alarm(split.nodes[VICTIM])
    assert alarm["kind"] == "equivocation", alarm
    ev = alarm["evidence"]
    # The proof, checked here with nothing but the sequencer's key: two checkpoints it
    # signed, of one size, with different roots.
    seq = next(x for x in net["nodes"] if x["id"] == SEQUENCER)
    pub = base64.b64decode(seq["key"])
    a = signed_by(ev["a"], net["origin"], pub).split("\n")
    b = signed_by(ev["b"], net["origin"], pub).split("\n")
    assert a[0] == b[0] == net["origin"]
    assert a[1] == b[1] and a[2] != b[2], (a, b)
    assert ev["consistency"] == [] and ev["root_at"] == b[2]

    # The other follower checks that proof itself and stops following too.
    other = wait_alarm(br)
    assert other["kind"] == "equivocation" and "found and proved" in other["detail"]
    for m in ["br", VICTIM]:
        _, _, n = split.nodes[m].http.get("/v1/network")
        assert n["following"] is False and n["alarm"]["kind"] == "equivocation"
    # Kept across a restart.
    br.stop()
    split.start("br")
    assert br.http.get("/v1/network")[2]["alarm"]["kind"] == "equivocation"

"""concord failover new|sign|submit (docs/cli.md): a failover made with the CLI alone, the
signatures gathered offline member by member while the sequencer is down, and the refusals
that leave every file as it was."""
import calendar
import os
import re
import stat
import time

import pytest

from concord import Key, cli, note, proposal_body, proposal_id, split_note
from test_federation import SEQUENCER, Federation, cn_ds_ops, wait_sequencer


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    with Federation(str(tmp_path_factory.mktemp("fedcli"))).running() as f:
        yield f


def refused(*args):
    """The CLI fails with exit 1 and one `concord: ...` line."""
    r = cli(*args, check=False)
    assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
    assert re.fullmatch(r"concord: [^\n]+\n", r.stderr), r.stderr
    assert r.stdout == ""
    return r


def test_failover_with_the_cli_alone(fed, tmp_path):
    br, isoc, cn = fed.nodes["br"], fed.nodes["isoc"], fed.nodes[SEQUENCER]
    st, before, _ = fed.propose(isoc.http, ["cn"], cn_ds_ops(isoc.http, 21))
    assert st == 201, before
    version = br.http.record("network/sequencer")["version"]
    cn.kill()
    try:
        path = tmp_path / "note"
        # only a node may sequence, and not the one being replaced; nothing is written
        assert "runs no node" in refused("failover", "new", "za", "--key", fed.key_file("br"),
                                         "--node", br.url, "-o", path).stderr
        assert "already" in refused("failover", "new", SEQUENCER, "--key",
                                    fed.key_file("br"), "--node", br.url, "-o", path).stderr
        assert not path.exists()

        out = cli("failover", "new", "br", "--key", fed.key_file("br"), "--node", br.url,
                  "-o", path).stdout
        assert re.fullmatch(r"[0-9a-f]{64}\n", out), out
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        text, sigs = split_note(path.read_text())
        assert [s[0] for s in sigs] == ["br"]
        # the very body propose would build: created now, expires a day later
        created = re.search(r"^created (\S+)$", text, re.M).group(1)
        t = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
        assert abs(t - time.time()) < 60
        assert text == proposal_body(fed.origin, "br",
                                     [("put", "network/sequencer", version, "sequencer br\n")],
                                     created=t, expires=t + 86400)
        assert out == proposal_id(text) + "\n"

        # 1 of 5 members: not valid on its own; nothing changes anywhere
        held = path.read_bytes()
        r = refused("failover", "submit", path, "--node", isoc.url)
        assert "policy" in r.stderr and f"concord failover sign {path} --key" in r.stderr
        assert path.read_bytes() == held
        assert isoc.http.get("/v1/network")[2]["sequencer"] == SEQUENCER
        assert isoc.http.request("GET", "/v1/failover")[0] == 404

        # gathered offline, member by member, in any order: lines sorted by key name
        for m in ["za", "cn", "de"]:
            out = cli("failover", "sign", path, "--key", fed.key_file(m)).stdout
            assert out.startswith(f"{path}: signed by {m}; signatures: "), out
        text2, sigs = split_note(path.read_text())
        assert text2 == text
        assert [s[0] for s in sigs] == ["br", "cn", "de", "za"]
        assert path.read_text() == note(text, *(fed.keys[m] for m in ["br", "cn", "de", "za"]))
        # the same signature again changes nothing
        held = path.read_bytes()
        out = cli("failover", "sign", path, "--key", fed.key_file("za")).stdout
        assert out == f"{path}: already signed by za, nothing changed\n"
        assert path.read_bytes() == held
        assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]

        out = cli("failover", "submit", path, "--node", isoc.url).stdout
        assert out == "taken: br sequences the log\n"
        for m in ["br", "isoc"]:
            wait_sequencer(fed.nodes[m], "br")
        assert br.tree_size() == before["index"] + 2  # nothing lost, the note appended
        st, after, _ = fed.propose(isoc.http, ["cn"], cn_ds_ops(isoc.http, 22))
        assert st == 201, after
        fed.wait_all(after["index"] + 1, ["br", "isoc"])
        for m in ["br", "isoc"]:
            content = fed.nodes[m].http.record("tld/cn")["content"]
            assert f"{21:064X}" in content and f"{22:064X}" in content

        out = cli("failover", "submit", path, "--node", isoc.url).stdout
        assert out == "known already: br sequences the log\n"
    finally:
        fed.start(SEQUENCER)
    wait_sequencer(cn, "br")


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    for m in ["aa", "bb"]:
        cli("keygen", m, "--dir", d)
    return d


def test_sign_refuses_what_is_not_a_failover_note(keys, tmp_path):
    genesis = tmp_path / "genesis"
    cli("genesis", "new", "--origin", "cli.example/root",
        "--member", f"aa:government:{keys}/aa.pub", "--member", f"bb:government:{keys}/bb.pub",
        "-o", genesis)
    text = tmp_path / "text"
    text.write_text("sequencer aa\n")
    aa = Key.load(keys / "aa.key")
    other = tmp_path / "other"  # a signed proposal, but of another record
    other.write_text(note(proposal_body("cli.example/root", "aa",
                                        [("put", "tld/cn", 3, "cn. 172800 IN NS a.cn.\n")]), aa))
    two = tmp_path / "two"  # network/sequencer and something else
    two.write_text(note(proposal_body("cli.example/root", "aa",
                                      [("put", "network/sequencer", 3, "sequencer aa\n"),
                                       ("put", "tld/cn", 3, "cn. 172800 IN NS a.cn.\n")]), aa))
    lines = tmp_path / "lines"  # two lines of content
    lines.write_text(note(proposal_body("cli.example/root", "aa",
                                        [("put", "network/sequencer", 3,
                                          "sequencer aa\nsequencer bb\n")]), aa))
    for f in [genesis, text, other, two, lines]:
        held = f.read_bytes()
        r = refused("failover", "sign", f, "--key", keys / "bb.key")
        assert "not a failover note" in r.stderr, r.stderr
        assert f.read_bytes() == held
        # nor sent anywhere: refused before any node is asked
        r = refused("failover", "submit", f, "--node", "http://127.0.0.1:1")
        assert "not a failover note" in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["keys", "genesis", "text", "other", "two",
                                                   "lines"])


def test_sign_refuses_an_expired_note(keys, tmp_path):
    aa = Key.load(keys / "aa.key")
    f = tmp_path / "note"
    t = int(time.time()) - 7200
    f.write_text(note(proposal_body("cli.example/root", "aa",
                                    [("put", "network/sequencer", 3, "sequencer aa\n")],
                                    created=t, expires=t + 3600), aa))
    held = f.read_bytes()
    assert "expired" in refused("failover", "sign", f, "--key", keys / "bb.key").stderr
    assert f.read_bytes() == held


def test_new_refuses_an_existing_file(keys, tmp_path):
    f = tmp_path / "note"
    f.write_text("mine\n")
    r = refused("failover", "new", "aa", "--key", keys / "aa.key",
                "--node", "http://127.0.0.1:1", "-o", f)
    assert "exists" in r.stderr
    assert f.read_text() == "mine\n"


def test_usage():
    for args in [["failover"], ["failover", "nope"], ["failover", "new", "br"],
                 ["failover", "new", "BR", "--key", "k", "-o", "x"], ["failover", "sign", "f"],
                 ["failover", "submit"]]:
        r = cli(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
    r = cli("help", "failover")
    assert "concord failover new ID" in r.stdout and "--node URL" in r.stdout
    assert cli("failover", "--help").stdout == r.stdout

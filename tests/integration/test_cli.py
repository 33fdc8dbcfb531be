"""The command-line contract of docs/cli.md: files, exit statuses, output lines."""
import json
import os
import re
import socket
import stat

import pytest

from concord import Key, Proxy, cli, read_bundle
from conftest import ROOT_ZONE


def usage_error(*args):
    r = cli(*args, check=False)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("concord: ") or r.stderr.startswith("usage: "), r.stderr
    return r


def failure(*args, **kw):
    r = cli(*args, check=False, **kw)
    assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
    assert re.fullmatch(r"concord: [^\n]+\n", r.stderr), r.stderr
    return r


def test_keygen(tmp_path, monkeypatch):
    out = cli("keygen", "cn", "--dir", tmp_path).stdout
    key, pub = tmp_path / "cn.key", tmp_path / "cn.pub"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    vkey, box = pub.read_text().splitlines()
    assert out == vkey + "\n" and box.startswith("box ")
    assert pub.read_text().endswith("\n") and len(pub.read_text().splitlines()) == 2
    k = Key.load(key)
    assert k.name == "cn" and k.vkey() == vkey
    # never overwrites, not even half of a pair
    before = key.read_bytes(), pub.read_bytes()
    failure("keygen", "cn", "--dir", tmp_path)
    assert (key.read_bytes(), pub.read_bytes()) == before
    (tmp_path / "br.pub").write_text("mine\n")
    failure("keygen", "br", "--dir", tmp_path)
    assert not (tmp_path / "br.key").exists() and (tmp_path / "br.pub").read_text() == "mine\n"
    (tmp_path / "za.key").write_text("mine\n")
    failure("keygen", "za", "--dir", tmp_path)
    assert not (tmp_path / "za.pub").exists()
    # --dir=DIR is --dir DIR; the current directory by default; ids of 32 characters are fine
    long_id = "a" * 31 + "9"
    r = cli("keygen", long_id, "--dir=" + str(tmp_path))
    assert Key.load(tmp_path / f"{long_id}.key").vkey() + "\n" == r.stdout
    monkeypatch.chdir(tmp_path)
    cli("keygen", "x-1")
    for bad in ["CN", "-cn", "a" * 33, "c_n", "c.n", ""]:
        usage_error("keygen", bad, "--dir", tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(["cn.key", "cn.pub", "br.pub", "za.key",
                                                    f"{long_id}.key", f"{long_id}.pub",
                                                    "x-1.key", "x-1.pub"])


@pytest.fixture
def founders(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    for m in ["aa", "bb", "cc"]:
        cli("keygen", m, "--dir", keys)
    return keys


def genesis_new(founders, out, *extra):
    return cli("genesis", "new", "--origin", "cli.example/root",
               "--member", f"aa:government:{founders}/aa.pub",
               "--member", f"bb:government:{founders}/bb.pub",
               "--member", f"cc:academic:{founders}/cc.pub",
               "--time", "2026-01-02T03:04:05Z", *extra, "-o", out)


def test_genesis_new_sign_show(founders, tmp_path):
    g = tmp_path / "genesis"
    r = genesis_new(founders, g)
    assert r.stdout == f"{g}: 3 members, 0 delegation records, unsigned\n"
    entries = read_bundle(g.read_bytes())
    assert entries[0].startswith(b"concord genesis 2026-01-02T03:04:05Z\nconcord genesis v1\n")
    assert all(e.startswith(b"concord chunk ") for e in entries[1:])
    # never overwritten
    before = g.read_bytes()
    failure("genesis", "new", "--origin", "x.example/root", "--member",
            f"aa:government:{founders}/aa.pub", "-o", g)
    assert g.read_bytes() == before
    show = cli("genesis", "show", g).stdout.splitlines()
    assert show[0] == "origin cli.example/root" and show[1] == "time 2026-01-02T03:04:05Z"
    assert [l.split() for l in show[2:5]] == [["member", "aa", "government", "NOT", "SIGNED"],
                                              ["member", "bb", "government", "NOT", "SIGNED"],
                                              ["member", "cc", "academic", "NOT", "SIGNED"]]
    assert show[5].startswith(f"entries {len(entries)} ")
    assert cli("genesis", "sign", g, "--key", founders / "bb.key").stdout == \
        f"{g}: signed by bb\n"
    assert cli("genesis", "sign", g, "--key", founders / "bb.key").stdout == \
        f"{g}: signed by bb\n"
    show = cli("genesis", "show", g).stdout.splitlines()
    assert [l.split()[-1] for l in show[2:5]] == ["SIGNED", "signed", "SIGNED"]
    # signing changes entry 0 only
    assert read_bundle(g.read_bytes())[1:] == entries[1:]
    # a key that is not a founder's
    cli("keygen", "dd", "--dir", founders)
    failure("genesis", "sign", g, "--key", founders / "dd.key")
    # a member whose .pub names another member; an unknown chamber; a member twice
    failure("genesis", "new", "--origin", "x.example/root", "--member",
            f"xx:government:{founders}/aa.pub", "-o", tmp_path / "g2")
    usage_error("genesis", "new", "--origin", "x.example/root", "--member",
                f"aa:king:{founders}/aa.pub", "-o", tmp_path / "g2")
    usage_error("genesis", "new", "--origin", "x.example/root", "--member",
                f"aa:government:{founders}/aa.pub", "--member",
                f"aa:technical:{founders}/aa.pub", "-o", tmp_path / "g2")
    assert not (tmp_path / "g2").exists()
    failure("genesis", "show", tmp_path / "nonexistent")
    (tmp_path / "junk").write_text("junk\n")
    failure("genesis", "show", tmp_path / "junk")


def test_node_init_needs_a_fully_signed_genesis(founders, tmp_path):
    g = tmp_path / "genesis"
    genesis_new(founders, g)
    d = tmp_path / "node"
    failure("node", "init", d, "--genesis", g, "--key", founders / "aa.key")
    assert not d.exists()
    for m in ["aa", "cc"]:
        cli("genesis", "sign", g, "--key", founders / f"{m}.key")
        failure("node", "init", d, "--genesis", g, "--key", founders / "aa.key")
        assert not d.exists()
    cli("genesis", "sign", g, "--key", founders / "bb.key")
    # a signed genesis altered afterwards
    data = bytearray(g.read_bytes())
    i = data.index(b"government")
    bad = tmp_path / "altered"
    bad.write_bytes(bytes(data[:i]) + b"technical\x00" + bytes(data[i + 10:]))
    failure("node", "init", d, "--genesis", bad, "--key", founders / "aa.key")
    assert not d.exists()
    # the key of someone who is not a founder
    cli("keygen", "dd", "--dir", founders)
    failure("node", "init", d, "--genesis", g, "--key", founders / "dd.key")
    assert not d.exists()
    # then it works, once; an empty directory is fine too
    assert cli("node", "init", d, "--genesis", g, "--key", founders / "aa.key").stdout == \
        f"{d}: node initialised\n"
    failure("node", "init", d, "--genesis", g, "--key", founders / "aa.key")
    (tmp_path / "empty").mkdir()
    cli("node", "init", tmp_path / "empty", "--genesis", g, "--key", founders / "bb.key")


def verbs():
    out = cli("help").stdout
    section = out.split("verbs:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines()]


def test_help_for_every_verb():
    vs = verbs()
    assert set(vs) >= {"keygen", "genesis", "node", "propose", "approve", "object", "show",
                       "proposals", "export-root", "replay-root-changes", "verify", "help"}
    for v in vs:
        a = cli("help", v)
        assert a.stdout.startswith(f"usage: concord {v}"), a.stdout
        if v != "help":
            assert cli(v, "--help").stdout == a.stdout
    usage_error("help", "nosuchverb")


USAGE_ERRORS = [
    [], ["nosuchverb"], ["keygen"], ["keygen", "a", "b"], ["keygen", "--bogus", "x"],
    ["genesis"], ["genesis", "bogus"], ["genesis", "new", "-o", "x"], ["genesis", "sign", "g"],
    ["node"], ["node", "bogus"], ["node", "init"], ["propose"], ["propose", "--key", "k"],
    ["propose", "--key", "k", "put", "tld/cn"], ["propose", "--key", "k", "frob", "tld/cn"],
    ["approve"], ["approve", "--key", "k"], ["object"], ["show"], ["show", "a", "b"],
    ["show", "--node"], ["proposals", "--status", "maybe"], ["proposals", "extra"],
    ["proposals", "--limit", "-1"], ["proposals", "--limit", "0"], ["proposals", "--limit", "1001"],
    ["proposals", "--limit", "07"], ["proposals", "--before", "a&b"],
    ["export-root", "extra"], ["replay-root-changes"], ["replay-root-changes", "f"],
    ["verify"], ["verify", "a", "b"], ["verify", "--bogus", "u"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_usage_errors_exit_2(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere
    usage_error(*args)
    assert os.listdir(tmp_path) == []


def test_options_and_node_selection(network, mnode):
    url = mnode.url
    shown = cli("show", "--node", url, "tld/cn").stdout
    assert cli("show", f"--node={url}", "tld/cn").stdout == shown
    assert cli("show", "tld/cn", "--node", url).stdout == shown
    assert cli("show", "--node", url, "--", "tld/cn").stdout == shown
    env = dict(os.environ, CONCORD_NODE=url)
    assert cli("show", "tld/cn", env=env).stdout == shown
    failure("show", "--node", url, "tld/nosuchtld")


def test_refusal_by_the_node_is_exit_1(network, mnode, tmp_path):
    url = mnode.url
    f = tmp_path / "cn.txt"
    f.write_text(cli("show", "--node", url, "tld/cn").stdout)
    size = mnode.tree_size()
    r = failure("propose", "--key", network.key_file("de"), "--node", url, "put", "tld/cn", f)
    assert r.stderr.startswith("concord: forbidden: ") and r.stdout == ""
    failure("approve", "--key", network.key_file("de"), "--node", url, "0" * 64)
    assert mnode.tree_size() == size
    # standard input as FILE, content without TTLs, input made canonical
    text = "".join(" ".join(w[:1] + w[2:]) + "\n"
                   for w in (line.split() for line in f.read_text().splitlines()))
    r = cli("propose", "--key", network.key_file("cn"), "--node", url, "put", "tld/cn", "-",
            input=text)
    assert r.stdout.splitlines()[1] == f"accepted at index {size}"
    assert cli("show", "--node", url, "tld/cn").stdout == f.read_text()


def test_unreachable_node_is_exit_1(network, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        failure("show", "--node", f"http://127.0.0.1:{port}", "tld/cn")
        failure("export-root", "--node", f"http://127.0.0.1:{port}")
        failure("proposals", "--node", f"http://127.0.0.1:{port}")


def test_proposals_stops_on_a_listing_that_goes_round(tmp_path):
    """A node whose pages never end (the same cursor again, or one that goes back): --all
    fails with exit 1 instead of asking for ever."""
    import http.server
    import threading

    pages = {"next": "9.9.9"}

    class Loop(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"proposals": [{"id": "a" * 64, "status": "accepted",
                                              "proposer": "cn", "ops": []}],
                               "next": pages["next"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Loop)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        r = failure("proposals", "--node", url, "--all")
        assert "does not go on" in r.stderr and r.stdout.count("\n") == 2
        pages["next"] = "not a cursor"
        failure("proposals", "--node", url)
    finally:
        srv.shutdown()
        srv.server_close()


def test_genesis_with_the_real_root_zone(network, tmp_path):
    want = 0
    for line in open(ROOT_ZONE):
        f = line.split()
        want += len(f) >= 5 and f[0] != "." and f[3] in ("NS", "DS", "A", "AAAA")
    g = tmp_path / "genesis"
    r = cli("genesis", "new", "--origin", "z.example/root", "--member",
            f"cn:government:{network.keys_dir}/cn.pub", "--root-zone", ROOT_ZONE, "-o", g)
    assert r.stdout == f"{g}: 1 members, {want} delegation records, unsigned\n"
    n = len(read_bundle(g.read_bytes()))
    show = cli("genesis", "show", g).stdout
    assert f"entries {n} (1 genesis note, {n - 1} record chunks)" in show


def test_approve_refuses_a_body_that_is_not_the_proposal(network, node):
    """The node cannot make a member sign another text than the proposal id names."""
    h = node.http
    st, j, _ = network.propose(h, ["br"], [("put", "tld/org", h.record("tld/org")["content"])])
    assert st == 202

    def swap(path, body):
        if path.startswith("/v1/proposals/"):
            p = json.loads(body)
            p["body"] = p["body"].replace("proposer br", "proposer za")
            return json.dumps(p).encode()
        return body
    proxy = Proxy(node.url, swap)
    try:
        failure("approve", "--key", network.key_file("za"), "--node", proxy.url, j["id"])
    finally:
        proxy.close()
    assert h.get(f"/v1/proposals/{j['id']}")[2]["signers"] == ["br"]

"""Helpers for integration tests: keys, signed notes, a running concordd, the CLI, the log.

Notes, checkpoints, Merkle proofs and tiles are built and checked here independently of the C
code (with python3-cryptography and hashlib), so the tests check the node against the formats
in docs/format.md, not against itself."""
import base64
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

BUILD = os.environ.get("CONCORD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DATA = os.environ.get("CONCORD_DATA", os.path.join(ROOT, "data/root"))
CONCORD = os.path.join(BUILD, "concord")
CONCORDD = os.path.join(BUILD, "concordd")
EMDASH = "\u2014"
# What a sanitizer prints when it finds something (the ASan+UBSan build runs these tests too).
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


def b64(b):
    return base64.b64encode(b).decode()


def key_id(name, pub):
    return hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]


class Key:
    """A member's Ed25519 key, read from the files `concord keygen` writes."""

    def __init__(self, name, seed):
        self.name = name
        self.sk = Ed25519PrivateKey.from_private_bytes(seed)
        self.pub = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.id = key_id(name, self.pub)

    @classmethod
    def load(cls, path):
        line = open(path).read().splitlines()[0]
        # PRIVATE+KEY+<name>+<hex id>+<base64>: names hold no '+', base64 may
        private, key, name, hexid, data = line.split("+", 4)
        assert (private, key) == ("PRIVATE", "KEY")
        raw = base64.b64decode(data)
        assert raw[0] == 1 and len(raw) == 33
        k = cls(name, raw[1:])
        assert k.id.hex() == hexid
        return k

    def vkey(self):
        return f"{self.name}+{self.id.hex()}+" + b64(b"\x01" + self.pub)

    def sig_line(self, text):
        sig = self.sk.sign(text.encode())
        return f"{EMDASH} {self.name} {b64(self.id + sig)}\n"


def note(text, *keys):
    return text + "\n" + "".join(k.sig_line(text) for k in keys)


def split_note(data):
    """(text, [(name, key id, signature)]) of a signed note, as docs/format.md reads it."""
    text, sep, sigs = data.rpartition("\n\n")
    assert sep, "no blank line"
    out = []
    for line in sigs.splitlines():
        dash, name, blob = line.split(" ")
        assert dash == EMDASH
        raw = base64.b64decode(blob, validate=True)
        assert len(raw) in (68, 76)  # a signature, or a timestamped cosignature
        out.append((name, raw[:4], raw[4:]))
    return text + "\n", out


def cosigners(data, nodes, origin):
    """Ids of the nodes (dicts of /v1/network's "nodes") whose cosignature (c2sp.org/
    tlog-cosignature: key id type 0x04, time, Ed25519 over "cosignature/v1\ntime T\n" and
    the text) of the checkpoint `data` verifies."""
    text, sigs = split_note(data)
    ok = set()
    for nd in nodes:
        name = f"{origin}/{nd['id']}"
        pub = base64.b64decode(nd["key"])
        kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
        for n, i, blob in sigs:
            if (n, i) != (name, kid) or len(blob) != 72:
                continue
            t = int.from_bytes(blob[:8], "big")
            msg = f"cosignature/v1\ntime {t}\n{text}".encode()
            try:
                Ed25519PublicKey.from_public_bytes(pub).verify(blob[8:], msg)
                ok.add(nd["id"])
            except InvalidSignature:
                pass
    return ok


def parse_vkey(vkey):
    """(name, key id, Ed25519 public key) of a verifier key `name+hex+base64`."""
    name, hexid, data = vkey.split("+", 2)
    raw = base64.b64decode(data, validate=True)
    assert raw[0] == 1 and len(raw) == 33
    assert key_id(name, raw[1:]).hex() == hexid
    return name, bytes.fromhex(hexid), raw[1:]


def verify_note(data, vkey):
    """The text of `data` if it carries a valid signature by `vkey`, else AssertionError."""
    name, kid, pub = parse_vkey(vkey)
    text, sigs = split_note(data)
    for n, i, sig in sigs:
        if (n, i) == (name, kid):
            try:
                Ed25519PublicKey.from_public_bytes(pub).verify(sig, text.encode())
                return text
            except InvalidSignature:
                raise AssertionError(f"signature of {name} does not verify")
    raise AssertionError(f"no signature by {name}")


def tfmt(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def proposal_body(origin, proposer, ops, created=None, expires=None):
    """ops: list of ("put", path, version|"new", content) or ("delete", path, version)."""
    # one second back: the node's time(2) may still be in the previous second, and a proposal
    # is not valid before it was created (docs/format.md, Log entries)
    created = int(time.time()) - 1 if created is None else created
    expires = created + 3600 if expires is None else expires
    out = (f"concord proposal v1\norigin {origin}\nproposer {proposer}\n"
           f"created {tfmt(created)}\nexpires {tfmt(expires)}\n")
    for op in ops:
        if op[0] == "put":
            lines = [l for l in op[3].splitlines() if l.strip()]
            out += f"put {op[1]} {op[2]} {len(lines)}\n" + "".join(l + "\n" for l in lines)
        else:
            out += f"delete {op[1]} {op[2]}\n"
    return out


def proposal_id(body):
    return hashlib.sha256(body.encode()).hexdigest()


def objection(origin, pid, key):
    return note(f"concord objection v1\norigin {origin}\nproposal {pid}\n", key)


def cli(*args, check=True, input=None, env=None):
    r = subprocess.run([CONCORD, *map(str, args)], capture_output=True, text=True, input=input,
                       timeout=600, env=env)
    assert not SANITIZER.search(r.stderr), f"concord {' '.join(map(str, args))}:\n{r.stderr}"
    if check and r.returncode != 0:
        raise AssertionError(f"concord {' '.join(map(str, args))} -> {r.returncode}\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


class Http:
    def __init__(self, url):
        self.url = url

    def request(self, method, path, body=None, ctype="text/plain", headers=None):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, method, path, body=None):
        status, headers, data = self.request(method, path, body)
        return status, headers, json.loads(data) if data else None

    def get(self, path):
        return self.json("GET", path)

    def post(self, path, body):
        return self.json("POST", path, body)

    def bytes(self, path):
        status, _, data = self.request("GET", path)
        assert status == 200, f"GET {path}: {status} {data[:200]!r}"
        return data

    def record(self, path):
        status, _, j = self.get("/v1/records/" + path)
        assert status == 200, (path, status, j)
        return j


def assert_problem(resp, status, kind=None):
    """resp (status, headers, body bytes or parsed JSON) is an RFC 9457 problem document."""
    st, headers, body = resp
    assert st == status, f"expected {status}, got {st}: {body!r}"
    assert headers.get("Content-Type", "").split(";")[0] == "application/problem+json"
    doc = json.loads(body) if isinstance(body, (bytes, str)) else body
    assert {"type", "title", "status", "detail"} <= set(doc), doc
    assert doc["status"] == status and doc["title"] and doc["detail"], doc
    if kind:
        assert doc["type"] == "urn:concord:problem:" + kind, doc
    return doc


class Node:
    """A concordd on a loopback port it picks itself; stopped by the fixture that starts it."""

    def __init__(self, dir):
        self.dir = dir
        self.proc = None
        self.url = self.http = None
        self.logfile = dir.rstrip("/") + ".log"

    def start(self, *extra):
        with open(self.logfile, "ab") as log:
            offset = log.tell()
            self.proc = subprocess.Popen([CONCORDD, self.dir, "--http", "127.0.0.1:0",
                                          "--dns", "127.0.0.1:0", *extra],
                                         stdout=log, stderr=log)
        for _ in range(1200):  # 60 s at most, for the sanitizer build on a busy machine
            if self.proc.poll() is not None:
                raise AssertionError(f"concordd exited with {self.proc.returncode}:\n"
                                     + self.log_text(offset))
            m = re.search(r"serving \S+ at (http://127\.0\.0\.1:\d+)/", self.log_text(offset))
            d = re.search(r"DNS on \S+ port (\d+) ", self.log_text(offset))
            if m and d:
                self.url = m.group(1)
                self.http = Http(self.url)
                self.dns_port = int(d.group(1))
                return self
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        raise AssertionError("concordd did not start:\n" + self.log_text(offset))

    def log_text(self, offset=0):
        with open(self.logfile, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def kill(self):
        """SIGKILL: no chance to finish anything."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        """SIGTERM, which must end the daemon cleanly (exit 0, no sanitizer report)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc, self.proc = self.proc.returncode, None
        log = self.log_text()
        assert rc == 0 and not SANITIZER.search(log), f"concordd exited with {rc}:\n{log[-4000:]}"

    def checkpoint(self):
        return self.http.bytes("/log/checkpoint").decode()

    def tree_size(self):
        return int(self.checkpoint().split("\n")[1])


# ---- the log: RFC 6962 tree, c2sp.org/tlog-checkpoint, c2sp.org/tlog-tiles ----

def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(leaves):
    """RFC 6962 MTH of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def parse_checkpoint(data, log_key):
    """(origin, size, root) of a checkpoint whose signature by log_key verifies."""
    text = verify_note(data, log_key)
    lines = text.split("\n")
    assert len(lines) == 4 and lines[3] == "", text
    origin, size, root = lines[0], lines[1], base64.b64decode(lines[2], validate=True)
    assert origin == parse_vkey(log_key)[0], "checkpoint origin is not the log key's name"
    assert re.fullmatch(r"0|[1-9][0-9]*", size) and len(root) == 32, text
    return origin, int(size), root


def tile_index(n):
    """N in x001/x234/067 form."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    return "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])


def tile_path(level, n, width=256):
    """`tile/<L>/<N>[.p/<W>]` or, for level "entries", the entry bundle's path."""
    return f"tile/{level}/{tile_index(n)}" + ("" if width == 256 else f".p/{width}")


def read_bundle(data):
    out, i = [], 0
    while i < len(data):
        assert i + 2 <= len(data), "bundle ends inside a length"
        n = int.from_bytes(data[i:i + 2], "big")
        assert i + 2 + n <= len(data), "bundle ends inside an entry"
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def fetch_entries(http, size):
    """Every entry of the tree of `size`, from its entry bundles (the last one partial)."""
    entries = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        bundle = read_bundle(http.bytes("/log/" + tile_path("entries", n, width)))
        assert len(bundle) == width, f"bundle {n} holds {len(bundle)} entries, not {width}"
        entries += bundle
    return entries


def entry_note(entry):
    """The proposal note logged in a `concord proposal <time>` entry."""
    head, _, rest = entry.decode().partition("\n")
    assert head.startswith("concord proposal "), head
    return rest


def tamper_last_entry(path, body):
    """A Proxy's change to an entry bundle: one byte of its last proposal entry, the same
    length and another hash; anything else passes as it is."""
    if "/tile/entries/" not in path or b"concord proposal" not in body:
        return body
    i = body.rindex(b"concord proposal") + len("concord proposal ")
    return body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]


class Proxy:
    """A loopback HTTP server that forwards GETs to a node and lets `tamper(path, body)` change
    what it answers: a node whose served data disagrees with its log."""

    def __init__(self, upstream, tamper, host="127.0.0.1"):
        up = Http(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                st, headers, body = up.request("GET", self.path)
                body = tamper(self.path, body) if st == 200 else body
                self.send_response(st)
                self.send_header("Content-Type", headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)

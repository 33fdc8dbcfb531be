"""Helpers for integration tests: keys, signed notes, a running concordd, the CLI.

Notes are built and signed here independently of the C code (with python3-cryptography),
so the tests check the node against the formats in docs/format.md, not against itself."""
import base64
import hashlib
import os
import socket
import subprocess
import time
import urllib.request
import urllib.error
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

BUILD = os.environ.get("CONCORD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DATA = os.environ.get("CONCORD_DATA", os.path.join(ROOT, "data/root"))
CONCORD = os.path.join(BUILD, "concord")
CONCORDD = os.path.join(BUILD, "concordd")
EMDASH = "\u2014"


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
        parts = line.split("+")
        assert parts[0] == "PRIVATE" and parts[1] == "KEY"
        name = "+".join(parts[2:-2])
        seed = base64.b64decode(parts[-1])[1:]
        return cls(name, seed)

    def sig_line(self, text):
        sig = self.sk.sign(text.encode())
        return f"{EMDASH} {self.name} {b64(self.id + sig)}\n"


def note(text, *keys):
    return text + "\n" + "".join(k.sig_line(text) for k in keys)


def tfmt(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def proposal_body(origin, proposer, ops, created=None, expires=None):
    """ops: list of ("put", path, version|"new", content) or ("delete", path, version)."""
    created = int(time.time()) if created is None else created
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args, check=True, input=None, env=None):
    r = subprocess.run([CONCORD, *map(str, args)], capture_output=True, text=True, input=input,
                       timeout=600, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"concord {' '.join(map(str, args))} -> {r.returncode}\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


class Http:
    def __init__(self, url):
        self.url = url

    def request(self, method, path, body=None, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
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


class Node:
    """A concordd on a free loopback port; stopped by the fixture that starts it."""

    def __init__(self, dir, port=None):
        self.dir = dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.http = Http(self.url)

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.dir), f"concordd-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([CONCORDD, self.dir, "--http", f"127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=self.log)
        for _ in range(300):
            if self.proc.poll() is not None:
                raise AssertionError(f"concordd exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + "/log/checkpoint", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("concordd did not start")

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(timeout=30)
        self.proc = None

    def tree_size(self):
        return int(self.http.request("GET", "/log/checkpoint")[2].decode().split("\n")[1])

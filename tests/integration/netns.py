"""Nodes each in a network namespace of its own, with an address of its own, made by the test.

Layout of one run (pid P, subnet 10.77.K.0/24, K picked from P and free on this host):

    root namespace                  hub namespace cc<P>-hub        node namespace cc<P>-<name>
    cc<P>-h 10.77.K.254/24 <veth> host -- br0 -- p<i>-<name> <veth> eth0 10.77.K.<i+1>/24, lo up

The host end lets the test talk to every node from the root namespace (HTTP, DNS, the CLI)
without entering a namespace. Nothing else is ever a target: the addresses are the ones made
here, on links made here. Every namespace and link goes at the end of the run (the context
manager, an atexit hook, SIGTERM and SIGHUP), and namespaces left by runs whose process is gone
are deleted first. A process started in a namespace (`ip netns exec`, which execs, so its pid is
the daemon's) is killed before its namespace is deleted.

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for `ip netns`); `available()` says why not."""
import atexit
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from concord import CONCORDD, Http, Node

PREFIX = "cc"
SUBNET = "10.77"  # 10.77.K.0/24, K from the pid
HOST_ID = 254
STALE = re.compile(rf"^{PREFIX}(\d+)-")


def ip(*args, check=True):
    r = subprocess.run(["ip", *map(str, args)], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(map(str, args))} -> {r.returncode}: {r.stderr.strip()}")
    return r


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces():
    r = ip("netns", "list", check=False)
    return [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]


def _kill_in(ns):
    """SIGKILL every process left in namespace ns, and wait (bounded) for them to go."""
    pids = [int(p) for p in ip("netns", "pids", ns, check=False).stdout.split()]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for _ in range(100):
        if not any(_alive(p) for p in pids):
            return
        time.sleep(0.05)


def _delete(ns):
    _kill_in(ns)
    ip("netns", "del", ns, check=False)


def clean_stale():
    """Deletes namespaces (and host links) of this prefix whose creating process is gone."""
    for ns in _namespaces():
        m = STALE.match(ns)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            _delete(ns)
    for ln in ip("-o", "link", "show", check=False).stdout.splitlines():
        m = re.match(rf"^\d+: ({PREFIX}(\d+)-h)[@:]", ln)
        if m and int(m.group(2)) != os.getpid() and not _alive(int(m.group(2))):
            ip("link", "del", m.group(1), check=False)


def available():
    """None when namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        r = ip("netns", "add", probe, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        return f"cannot run ip(8): {e}"
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    try:
        r = ip("-n", probe, "link", "add", "probe0", "type", "bridge", check=False)
        if r.returncode != 0:
            return f"cannot create a bridge in a namespace: {r.stderr.strip()}"
        r = ip("-n", probe, "link", "add", "probe1", "type", "veth", "peer", "name", "probe2",
               check=False)
        if r.returncode != 0:
            return f"cannot create a veth pair in a namespace: {r.stderr.strip()}"
    finally:
        ip("netns", "del", probe, check=False)
    return None


def _used_subnets():
    """Third octets of 10.77.X.0/24 networks some address or route of this host is in."""
    used = set()
    out = ip("-4", "-o", "addr", "show", check=False).stdout + \
        ip("-4", "route", "show", "table", "all", check=False).stdout
    for m in re.finditer(r"\b10\.77\.(\d+)\.\d+", out):
        used.add(int(m.group(1)))
    return used


class Nets:
    """A hub bridge, the host's link into it, and one namespace per node name. Use as a
    context manager (or call close()); addr(name) is the node's address."""

    def __init__(self, names):
        self.pid = os.getpid()
        self.names = list(names)
        self.hub = f"{PREFIX}{self.pid}-hub"
        self.host_if = f"{PREFIX}{self.pid}-h"
        self.ns = {n: f"{PREFIX}{self.pid}-{n}" for n in self.names}
        self.procs = []
        self.closed = False
        assert len(self.host_if) <= 15, self.host_if
        clean_stale()
        used = _used_subnets()
        start = self.pid % 200 + 20
        self.k = next((k % 250) + 1 for k in range(start, start + 250)
                      if (k % 250) + 1 not in used)
        self.host_addr = f"{SUBNET}.{self.k}.{HOST_ID}"
        self.addrs = {n: f"{SUBNET}.{self.k}.{i + 1}" for i, n in enumerate(self.names)}
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _sigterm)
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self):
        ip("netns", "add", self.hub)
        ip("-n", self.hub, "link", "set", "lo", "up")
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        # the host's end: this namespace keeps host_if, the hub gets "host" on the bridge
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", "host", "netns", self.hub)
        ip("-n", self.hub, "link", "set", "host", "master", "br0", "up")
        ip("addr", "add", f"{self.host_addr}/24", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        for n in self.names:
            ns = self.ns[n]
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", self.hub, "link", "add", self.port(n), "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", self.hub, "link", "set", self.port(n), "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{self.addrs[n]}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
        for n in self.names:
            self.wait_reachable(n)

    def port(self, name):
        """The hub's end of name's link (interface names are at most 15 bytes)."""
        return f"p{self.names.index(name)}-{name}"[:15]

    def addr(self, name):
        return self.addrs[name]

    def popen(self, name, argv, **kw):
        """argv run inside name's namespace; the Popen's pid is argv's own (ip netns exec
        execs). Killed at close() if still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[name], *argv], **kw)
        self.procs.append(p)
        return p

    def reachable(self, name, port=9, timeout=1.0):
        """Whether the host reaches name's address: a TCP connect to port answered, by an
        accept or a refusal (nothing listens on port 9), within timeout."""
        try:
            with socket.create_connection((self.addrs[name], port), timeout=timeout):
                return True
        except ConnectionRefusedError:
            return True
        except OSError:
            return False

    def wait_reachable(self, name, timeout=30):
        deadline = time.time() + timeout
        while not self.reachable(name):
            if time.time() > deadline:
                raise RuntimeError(f"{name} ({self.addrs[name]}) not reachable from the host")
            time.sleep(0.1)

    def partition(self, name):
        """Cuts name off: both ends of its link down, so it neither reaches nor is reached
        (packets to it are dropped, not refused)."""
        ip("-n", self.hub, "link", "set", self.port(name), "down")
        ip("-n", self.ns[name], "link", "set", "eth0", "down")

    def split(self, names):
        """Cuts names off together: their links move to a bridge of their own in the hub, so
        they reach each other and nothing else (neither the other nodes nor the host)."""
        if "br1" not in ip("-n", self.hub, "-o", "link", "show").stdout:
            ip("-n", self.hub, "link", "add", "br1", "type", "bridge")
            ip("-n", self.hub, "link", "set", "br1", "up")
        for n in names:
            ip("-n", self.hub, "link", "set", self.port(n), "master", "br1")

    def join(self, names):
        """Undoes split(names), and waits until the host reaches each again."""
        for n in names:
            ip("-n", self.hub, "link", "set", self.port(n), "master", "br0")
        for n in names:
            self.wait_reachable(n)

    def heal(self, name):
        """Brings name's link back, with its address and route, and waits until the host
        reaches it again."""
        ip("-n", self.hub, "link", "set", self.port(name), "up")
        ip("-n", self.ns[name], "link", "set", "eth0", "up")
        have = ip("-n", self.ns[name], "-4", "-o", "addr", "show", "dev", "eth0").stdout
        if f" {self.addrs[name]}/24 " not in have:
            ip("-n", self.ns[name], "addr", "add", f"{self.addrs[name]}/24", "dev", "eth0")
        net = ipaddress.ip_network(f"{self.addrs[name]}/24", strict=False)
        routes = ip("-n", self.ns[name], "-4", "route", "show").stdout
        if str(net) not in routes:
            ip("-n", self.ns[name], "route", "add", str(net), "dev", "eth0",
               check=False)
        self.wait_reachable(name)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
        for n in self.names:
            _delete(self.ns[n])
        _delete(self.hub)
        ip("link", "del", self.host_if, check=False)  # gone with the hub already, normally

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _sigterm(signum, frame):
    # turn SIGTERM (or SIGHUP) into an exception so that fixtures' finally blocks and atexit run
    raise SystemExit(128 + signum)


class NsNode(Node):
    """A concordd inside its namespace, listening on the namespace's address: HTTP on
    http_port, DNS (UDP and TCP) on dns_port."""

    def __init__(self, nets, name, dir, http_port=8053, dns_port=5353):
        super().__init__(dir)
        self.nets, self.name = nets, name
        self.addr = nets.addr(name)
        self.http_port, self.dns_port = http_port, dns_port
        self.url = f"http://{self.addr}:{http_port}"

    def start(self, *extra):
        with open(self.logfile, "ab") as log:
            offset = log.tell()
            self.proc = self.nets.popen(self.name, [
                CONCORDD, self.dir, "--http", f"{self.addr}:{self.http_port}",
                "--dns", f"{self.addr}:{self.dns_port}", *extra], stdout=log, stderr=log)
        want = f"serving \\S+ at http://{re.escape(self.addr)}:{self.http_port}/"
        for _ in range(1200):  # 60 s at most, for the sanitizer build on a busy machine
            if self.proc.poll() is not None:
                raise AssertionError(f"concordd ({self.name}) exited with "
                                     f"{self.proc.returncode}:\n" + self.log_text(offset))
            text = self.log_text(offset)
            if re.search(want, text) and "DNS on " in text:
                self.http = Http(self.url)
                return self
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        raise AssertionError(f"concordd ({self.name}) did not start:\n" + self.log_text(offset))


@pytest.fixture(scope="module")
def nets_factory():
    """Skips the module when namespaces cannot be made; else a function names -> Nets, all
    closed at the end of the module (even on failure)."""
    why = available()
    if why:
        pytest.skip(why)
    made = []

    def make(names):
        n = Nets(names)
        made.append(n)
        return n
    try:
        yield make
    finally:
        for n in made:
            n.close()

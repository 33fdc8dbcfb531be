#!/usr/bin/python3
"""Helper of bench/federation.sh (make bench-federation).

  federation_load.py ports N
      prints N distinct ports free for both UDP and TCP on 127.0.0.1 right now, one a line
  federation_load.py changes --nodes ID=HTTP:DNS,... --sequencer ID --keys DIR
                             --count N [--inflight K] [--poll-ms MS] [--out FILE]
      N changes, each state of --nodes changing its own ccTLD (tld/<id>: the record as served
      plus one extra DS record, algorithm 15, digest starting BE4C4B00 as bench/ledger_load.c
      writes it, different every time), posted to the sequencer over HTTP/1.1 (kept alive), K
      in flight (one per state at most: a state's changes form a chain, each naming the index
      of its previous one). Meanwhile one thread asks every node's DNS server for the SOA
      (UDP, every MS milliseconds, 1 by default) and one thread per node its GET /v1/final
      (10 ms after each answer); each keeps the time every new value was first seen. A
      change at log index i is served by a node's DNS once its SOA serial >= i + 1 + epoch
      (docs/format.md, "The zone": serial = log size + day number + an offset, 0 on the
      bench's fresh nodes; the epoch is read from each node at the start), and final on a node once its final checkpoint's size > i (what GET
      /v1/records/... says as "final"). Prints the summary lines of the table and one line
        RESULT sent=.. acked=.. errors=.. dns_p50_ms=.. dns_p99_ms=.. final_p50_ms=.. ...
      Times are from the moment the proposal was sent (the append itself is not observable
      from outside; the sequencer appends it within the answer time).
      --out FILE: one line per change (state, index, and every time in ms after sending).
      At the end it checks through GET /v1/records/tld/<id> on every node that each state's
      last change is there and "final".

Signing uses python3-cryptography; keys are the files `concord keygen` writes."""
import argparse
import base64
import bisect
import hashlib
import http.client
import json
import os
import select
import socket
import struct
import sys
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

EMDASH = "\u2014"
DS_MARK = "BE4C4B00"


def free_ports(n):
    ports, held = [], []
    while len(ports) < n:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
        except OSError:
            t.close()
            u.close()
            continue
        held += [t, u]
        ports.append(p)
    for s in held:
        s.close()
    return ports


class Key:
    """A member's Ed25519 key (PRIVATE+KEY+name+hexid+base64(0x01 || seed))."""

    def __init__(self, path):
        line = open(path).read().splitlines()[0]
        _, _, self.name, hexid, data = line.split("+", 4)
        raw = base64.b64decode(data)
        self.sk = Ed25519PrivateKey.from_private_bytes(raw[1:])
        pub = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        self.id = hashlib.sha256(self.name.encode() + b"\n\x01" + pub).digest()[:4]
        assert self.id.hex() == hexid, path

    def sign(self, text):
        sig = base64.b64encode(self.id + self.sk.sign(text.encode())).decode()
        return text + "\n" + f"{EMDASH} {self.name} {sig}\n"


def tfmt(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Http:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                hdr = {"Content-Type": "text/plain"} if body is not None else {}
                self.c.request(method, path, body=body.encode() if body else None, headers=hdr)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def soa_query(qid):
    # header: id, flags 0 (RD clear), 1 question; question: root, SOA (6), IN (1)
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + b"\x00" + struct.pack("!HH", 6, 1)


def skip_name(m, off):
    while True:
        n = m[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def soa_serial(m):
    """The serial of the first SOA in the answer section, or None."""
    if len(m) < 12:
        return None
    qd, an = struct.unpack("!HH", m[4:8])
    off = 12
    for _ in range(qd):
        off = skip_name(m, off) + 4
    for _ in range(an):
        off = skip_name(m, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", m[off:off + 10])
        off += 10
        if rtype == 6:
            p = skip_name(m, skip_name(m, off))
            return struct.unpack("!I", m[p:p + 4])[0]
        off += rdlen
    return None


class Watch:
    """Every node's SOA serial (DNS) and final size (HTTP), with the time each value was
    first seen."""

    def __init__(self, nodes, poll):
        self.nodes = nodes  # [(id, http port, dns port)]
        self.poll = poll
        self.stop = threading.Event()
        self.serials = {m: [] for m, _, _ in nodes}  # [(time, serial)], increasing
        self.finals = {m: [] for m, _, _ in nodes}  # [(time, final size)]
        self.dns_queries = 0
        self.dns_lost = 0
        self.final_polls = 0

    def dns_loop(self):
        socks = {}
        for m, _, dport in self.nodes:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", dport))
            s.setblocking(False)
            socks[s.fileno()] = (m, s)
        qid = 0
        while not self.stop.is_set():
            qid = (qid + 1) & 0xFFFF
            q = soa_query(qid)
            for _, s in socks.values():
                s.send(q)
            self.dns_queries += len(socks)
            waiting = set(socks)
            deadline = time.monotonic() + 0.2
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.dns_lost += len(waiting)
                    break
                r, _, _ = select.select(list(waiting), [], [], left)
                t = time.monotonic()
                for fd in r:
                    m, s = socks[fd]
                    try:
                        data = s.recv(4096)
                    except OSError:
                        continue
                    if len(data) < 2 or struct.unpack("!H", data[:2])[0] != qid:
                        continue  # a late answer to an earlier query
                    waiting.discard(fd)
                    serial = soa_serial(data)
                    lst = self.serials[m]
                    if serial is not None and (not lst or serial > lst[-1][1]):
                        lst.append((t, serial))
            time.sleep(self.poll)
        for _, s in socks.values():
            s.close()

    def final_loop(self, m, hport):
        """GET /v1/final of one node, again 10 ms after each answer."""
        conn = Http(hport)
        polls = self.polls[m]
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                st, body = conn.request("GET", "/v1/final")
            except OSError:
                continue
            t = time.monotonic()
            self.final_polls += 1
            if st != 200:
                continue
            size = int(body.decode().split("\n")[1])
            polls.append((t0, size))
            lst = self.finals[m]
            if not lst or size > lst[-1][1]:
                lst.append((t, size))
            time.sleep(0.01)

    def start(self):
        self.polls = {m: [] for m, _, _ in self.nodes}  # [(time sent, final size)]
        self.threads = [threading.Thread(target=self.dns_loop, daemon=True)]
        self.threads += [threading.Thread(target=self.final_loop, args=(m, h), daemon=True)
                         for m, h, _ in self.nodes]
        for t in self.threads:
            t.start()

    def end(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def first_at(lst, value):
    """Time of the first (time, v) with v >= value, or None."""
    for t, v in lst:
        if v >= value:
            return t
    return None


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def cpu_self():
    t = os.times()
    return t.user + t.system


def cmd_changes(a):
    sys.setswitchinterval(0.0005)  # the watchers' timestamps should not wait on the GIL
    nodes = []
    for item in a.nodes.split(","):
        m, ports = item.split("=")
        h, d = ports.split(":")
        nodes.append((m, int(h), int(d)))
    ports = {m: h for m, h, _ in nodes}
    seq = Http(ports[a.sequencer])
    st, body = seq.request("GET", "/v1/network")
    origin = json.loads(body)["origin"]
    states = [m for m, _, _ in nodes]
    keys = {m: Key(os.path.join(a.keys, m + ".key")) for m in states}
    rec = {}
    for m in states:
        st, body = seq.request("GET", f"/v1/records/tld/{m}")
        j = json.loads(body)
        lines = [l for l in j["content"].splitlines() if l.strip() and f" 15 2 {DS_MARK}" not in l]
        rec[m] = {"lines": lines, "version": j["version"], "seq": 0}
    # each node's epoch: SOA serial - log size, at rest
    epochs = {}
    for m, h, d in nodes:
        hc = Http(h)
        for _ in range(200):
            _, ck = hc.request("GET", "/log/checkpoint")
            size = int(ck.decode().split("\n")[1])
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(soa_query(7), ("127.0.0.1", d))
            serial = soa_serial(s.recv(4096))
            s.close()
            _, ck2 = hc.request("GET", "/log/checkpoint")
            if serial is not None and ck2 == ck and serial - size == int(time.time() // 86400):
                epochs[m] = serial - size
                break
            time.sleep(0.05)
        else:
            sys.exit(f"federation_load: node {m}: SOA serial {serial} - log size {size} "
                     f"is not the day number {int(time.time() // 86400)}")
    day0 = int(time.time() // 86400)

    watch = Watch(nodes, a.poll_ms / 1000)
    watch.start()
    time.sleep(0.3)  # the watchers have seen every node once
    lock = threading.Lock()
    done = []  # (state, index, t_send, t_answer)
    errors = []
    counter = [0]

    def sender(mine):
        h = Http(ports[a.sequencer])
        k = 0
        while True:
            with lock:
                if counter[0] >= a.count:
                    return
                counter[0] += 1
            m = mine[k % len(mine)]
            k += 1
            r = rec[m]
            r["seq"] += 1
            digest = hashlib.sha256(f"{m} fed {r['seq']}".encode()).hexdigest().upper()
            ds = f"{m}. 86400 IN DS {r['seq'] % 65535 + 1} 15 2 {DS_MARK}{digest[8:]}"
            lines = r["lines"] + [ds]
            created = int(time.time()) - 1
            body = (f"concord proposal v1\norigin {origin}\nproposer {m}\n"
                    f"created {tfmt(created)}\nexpires {tfmt(created + 3600)}\n"
                    f"put tld/{m} {r['version']} {len(lines)}\n" + "".join(l + "\n" for l in lines))
            note = keys[m].sign(body)
            t0 = time.monotonic()
            st, ans = h.request("POST", "/v1/proposals", note)
            t1 = time.monotonic()
            if st != 201:
                with lock:
                    errors.append((m, st, ans[:300]))
                st2, b2 = h.request("GET", f"/v1/records/tld/{m}")
                r["version"] = json.loads(b2)["version"]
                continue
            idx = json.loads(ans)["index"]
            r["version"] = idx
            with lock:
                done.append((m, idx, t0, t1))

    k = max(1, min(a.inflight, len(states)))
    owned = [states[i::k] for i in range(k)]
    c0 = cpu_self()
    w0 = time.monotonic()
    threads = [threading.Thread(target=sender, args=(o,)) for o in owned]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w1 = time.monotonic()
    # until every node serves and calls final the last change (30 s at most)
    top = max((d[1] for d in done), default=-1) + 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(watch.serials[m] and watch.serials[m][-1][1] - epochs[m] >= top
               and watch.finals[m] and watch.finals[m][-1][1] >= top for m in states):
            break
        time.sleep(0.05)
    watch.end()
    client_cpu = cpu_self() - c0
    # what every node says of each state's ccTLD now: its last version, final
    last = {}
    for m, idx, _, _ in done:
        last[m] = max(last.get(m, -1), idx)
    rec_bad = []
    for n, h, _ in nodes:
        hc = Http(h)
        for m, idx in sorted(last.items()):
            st, body = hc.request("GET", f"/v1/records/tld/{m}")
            j = json.loads(body) if st == 200 else {}
            if j.get("version") != idx or j.get("final") is not True:
                rec_bad.append(f"{n}: tld/{m} version {j.get('version')} final {j.get('final')}"
                               f" (want {idx}, true)")
    wall = time.monotonic() - w0

    rows = []
    missing_dns = {m: 0 for m in states}
    missing_final = {m: 0 for m in states}
    early = 0  # answered before the sequencer's final checkpoint covered it
    seq_polls = watch.polls[a.sequencer]
    seq_sent = [ts for ts, _ in seq_polls]
    for m, idx, t0, t1 in done:
        row = {"state": m, "index": idx, "answer": (t1 - t0) * 1e3, "dns": {}, "final": {}}
        for n in states:
            td = first_at(watch.serials[n], idx + 1 + epochs[n])
            tf = first_at(watch.finals[n], idx + 1)
            row["dns"][n] = None if td is None else max(0.0, td - t0) * 1e3
            row["final"][n] = None if tf is None else max(0.0, tf - t0) * 1e3
            missing_dns[n] += td is None
            missing_final[n] += tf is None
        # answered before final: a /v1/final of the sequencer asked after the answer came
        # still did not cover it
        j = bisect.bisect_right(seq_sent, t1)
        if j < len(seq_sent) and seq_polls[j][1] <= idx:
            early += 1
        vals = list(row["dns"].values())
        row["dns_all"] = None if None in vals else max(vals)
        vals = list(row["final"].values())
        row["final_all"] = None if None in vals else max(vals)
        rows.append(row)
    if a.out:
        with open(a.out, "w") as f:
            f.write("state\tindex\tanswer_ms\tdns_all_ms\tfinal_all_ms\t"
                    + "\t".join(f"dns_{n}\tfinal_{n}" for n in states) + "\n")
            for r in rows:
                f.write(f"{r['state']}\t{r['index']}\t{r['answer']:.2f}\t{r['dns_all']}\t"
                        f"{r['final_all']}\t"
                        + "\t".join(f"{r['dns'][n]}\t{r['final'][n]}" for n in states) + "\n")

    def stats(xs):
        xs = [x for x in xs if x is not None]
        return pct(xs, 0.5), pct(xs, 0.99), (max(xs) if xs else float("nan"))

    ans = stats(r["answer"] for r in rows)
    dall = stats(r["dns_all"] for r in rows)
    fall = stats(r["final_all"] for r in rows)
    n_acked = len(rows)
    dns_missing = sum(r["dns_all"] is None for r in rows)
    fin_missing = sum(r["final_all"] is None for r in rows)
    under = sum(1 for r in rows if r["dns_all"] is not None and r["dns_all"] < 1000)
    out = []
    out.append(f"changes: {n_acked} accepted (201) of {counter[0]} sent to the sequencer "
               f"({a.sequencer}), {k} in flight, {len(errors)} other answers, in {w1 - w0:.1f} s "
               f"({n_acked / (w1 - w0):.1f}/s)")
    out.append(f"send -> served by DNS on all {len(states)} nodes: p50 {dall[0]:7.1f} ms   "
               f"p99 {dall[1]:7.1f} ms   max {dall[2]:7.1f} ms   ({under} of {n_acked} under "
               f"1 s{'; never seen: %d' % dns_missing if dns_missing else ''})")
    out.append(f"send -> 201 from the sequencer (final): p50 {ans[0]:7.1f} ms   "
               f"p99 {ans[1]:7.1f} ms   max {ans[2]:7.1f} ms"
               + (f"   ({early} answered before the sequencer's /v1/final covered them)" if early else ""))
    out.append(f"send -> final on all {len(states)} nodes (/v1/final): p50 {fall[0]:7.1f} ms   "
               f"p99 {fall[1]:7.1f} ms   max {fall[2]:7.1f} ms"
               + (f"   (never seen: {fin_missing})" if fin_missing else ""))
    out.append("    per node (ms, p50 / p99):     served by DNS       final")
    for n in states:
        d = stats(r["dns"][n] for r in rows)
        f = stats(r["final"][n] for r in rows)
        role = "sequencer" if n == a.sequencer else "follower"
        extra = ""
        if missing_dns[n] or missing_final[n]:
            extra = f"   (never seen: dns {missing_dns[n]}, final {missing_final[n]})"
        out.append(f"    {n} ({role:9s})           {d[0]:6.1f} / {d[1]:6.1f}     "
                   f"{f[0]:6.1f} / {f[1]:6.1f}{extra}")
    out.append(f"    watchers: SOA of every node every {a.poll_ms:g} ms ({watch.dns_queries} "
               f"queries, {watch.dns_lost} unanswered in 200 ms), /v1/final 10 ms after each answer "
               f"({watch.final_polls} requests); this client used {client_cpu:.1f} s of CPU "
               f"over {wall:.1f} s ({client_cpu / wall:.2f} cores)")
    if rec_bad:
        out.append("    RECORDS NOT FINAL at the end: " + "; ".join(rec_bad[:5]))
    else:
        out.append("    at the end every node serves the last version of each state's ccTLD "
                   "with \"final\": true (GET /v1/records/tld/..)")
    if int(time.time() // 86400) != day0:
        out.append("    NOTE: the day changed during the run: serials jumped by one")
    for m, st, ans_body in errors[:5]:
        out.append(f"    answer {st} for {m}: {ans_body!r}")
    print("\n".join(out))
    print(f"RESULT sent={counter[0]} acked={n_acked} errors={len(errors)} "
          f"dns_p50_ms={dall[0]:.1f} dns_p99_ms={dall[1]:.1f} final_p50_ms={fall[0]:.1f} "
          f"final_p99_ms={fall[1]:.1f} answer_p50_ms={ans[0]:.1f} answer_p99_ms={ans[1]:.1f} "
          f"dns_missing={dns_missing} final_missing={fin_missing} client_cpu={client_cpu:.2f}")


def cmd_wait_size(port, size, limit):
    """Polls a node's checkpoint over one kept-alive connection (every 20 ms) until its log
    holds size entries: a bash loop of curl processes would take a fifth of a core from the
    node it measures. Prints the elapsed time; exit status 1 when limit seconds pass."""
    h = Http(port)
    t0 = time.monotonic()
    next_say = t0 + 5
    have = 0
    while True:
        try:
            st, body = h.request("GET", "/log/checkpoint")
            if st == 200:
                have = int(body.split(b"\n")[1])
        except (OSError, http.client.HTTPException, ValueError, IndexError):
            pass
        t = time.monotonic()
        if have >= size:
            print(f"elapsed={t - t0:.3f} size={have}")
            return 0
        if t - t0 > limit:
            print(f"elapsed={t - t0:.3f} size={have} stalled=1")
            return 1
        if t >= next_say:
            print(f"catch-up: at {have} of {size} after {t - t0:.1f} s", file=sys.stderr)
            next_say = t + 5
        time.sleep(0.02)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "ports":
        print("\n".join(map(str, free_ports(int(sys.argv[2])))))
        return
    if len(sys.argv) == 5 and sys.argv[1] == "wait-size":
        sys.exit(cmd_wait_size(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    p = argparse.ArgumentParser(prog="federation_load.py changes")
    p.add_argument("cmd", choices=["changes"])
    p.add_argument("--nodes", required=True)
    p.add_argument("--sequencer", required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--inflight", type=int, default=1)
    p.add_argument("--poll-ms", type=float, default=1.0)
    p.add_argument("--out")
    cmd_changes(p.parse_args())


if __name__ == "__main__":
    main()

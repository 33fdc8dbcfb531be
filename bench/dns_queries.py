#!/usr/bin/python3
"""Helper of bench/dns.sh (make bench-dns).

  dns_queries.py port
      prints a port free for both UDP and TCP on 127.0.0.1 right now
  dns_queries.py soa PORT
      prints the SOA serial 127.0.0.1:PORT answers over UDP, or nothing (0.5 s at most)
  dns_queries.py build ZONEFILE COUNT OUT
      writes the query mix of tests/integration/test_dns.py (questions(): TLD names, names
      below delegations, non-existent TLDs, apex and other types, half of them with EDNS0 and
      the DO bit, RD clear) as a dnsperf -B file: each query in wire form with its 2-byte
      length in front. Prints a one-line summary.
  dns_queries.py served CONCORD URL PORT KEYFILE COUNT
      COUNT changes of cn.'s DS set proposed with the CLI; prints how long after the node
      acknowledged each its DNS server on PORT answered with the new serial
  dns_queries.py check OUT COUNT NAME=PORT ...
      asks every server the first COUNT queries of OUT over UDP and prints, per server, the
      rcodes and TC answers seen, and how many answers differ from the first server's once
      normalised as test_dns.py does (record order), and how many of those differ in TC.

The mix is the test's, drawn with the same seed, so the bench and the test ask the same
questions; the test's TCP share is asked over UDP here (dnsperf runs one transport)."""
import os
import struct
import sys
from collections import Counter

import dns.flags
import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from dns_mix import free_port, questions, tld_names  # noqa: E402  (the test's own draw)


def soa(port):
    try:
        r = dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=port,
                          timeout=0.5)
        if r.answer:
            print(r.answer[0][0].serial)
    except Exception:  # noqa: BLE001 - not answering (yet): print nothing
        pass


def make(name, qtype, do):
    # As the test: EDNS0 (dnspython's 1232-byte payload) with DO, or no EDNS at all.
    q = dns.message.make_query(name, qtype, want_dnssec=do, use_edns=0 if do else None)
    q.flags &= ~dns.flags.RD
    return q


def build(zonefile, count, out):
    text = open(zonefile).read()
    qs, tlds = questions(text, count), tld_names(text)
    kinds = Counter()
    with open(out, "wb") as f:
        for name, qtype, do, _tcp in qs:
            w = make(name, qtype, do).to_wire()
            f.write(struct.pack("!H", len(w)) + w)
            labels = name.rstrip(".").count(".") + 1 if name != "." else 0
            kind = ("apex" if name == "." else "no-such-tld" if name.startswith("no-such-tld-")
                    else "tld" if labels == 1 else "below")
            kinds[kind] += 1
            kinds["do"] += do
    print(f"{count} queries from {len(tlds)} TLDs: {kinds['tld']} TLD names, "
          f"{kinds['below']} names below them, {kinds['no-such-tld']} non-existent TLDs, "
          f"{kinds['apex']} apex; {kinds['do']} with DO (EDNS0), {count - kinds['do']} "
          f"without EDNS; RD clear; 10 types")


def read_queries(path, count):
    data, out, i = open(path, "rb").read(), [], 0
    while i + 2 <= len(data) and len(out) < count:
        n = struct.unpack("!H", data[i:i + 2])[0]
        out.append(dns.message.from_wire(data[i + 2:i + 2 + n]))
        i += 2 + n
    return out


def normalise(r):
    sections = [sorted((str(rr.name).lower(), rr.rdtype, rr.ttl, x.to_text()) for rr in s
                       for x in rr) for s in (r.answer, r.authority, r.additional)]
    return (r.rcode(), r.flags & (dns.flags.AA | dns.flags.TC), sections, r.edns,
            r.ednsflags & dns.flags.DO if r.edns >= 0 else None)


def check(path, count, servers):
    qs = read_queries(path, count)
    answers = {}
    for label, port in servers:
        got = []
        for q in qs:
            try:
                got.append(dns.query.udp(q, "127.0.0.1", port=port, timeout=2))
            except Exception:  # noqa: BLE001 - a timeout or a bad answer: counted as none
                got.append(None)
        answers[label] = got
    first = servers[0][0]
    for label, _ in servers:
        got = answers[label]
        rc = Counter(dns.rcode.to_text(a.rcode()) if a else "NONE" for a in got)
        tc = sum(1 for a in got if a and a.flags & dns.flags.TC)
        line = f"{label}: " + " ".join(f"{k} {v}" for k, v in sorted(rc.items()))
        line += f", TC {tc}"
        if label != first:
            full = tc_only = 0
            for x, y in zip(got, answers[first]):
                if x is None or y is None or normalise(x) != normalise(y):
                    full += 1
                    # RFC 9471: a referral whose in-domain glue does not fit is truncated;
                    # NSD 4.6 drops that glue instead (test_dns.py allows this difference)
                    if x is not None and y is not None and \
                            (x.flags ^ y.flags) & dns.flags.TC:
                        tc_only += 1
            line += (f"; differ from {first}: {full} ({tc_only} of them TC where {first} is "
                     f"not, {full - tc_only} other)")
        print(line)


def serial_of(port):
    r = dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=port, timeout=1)
    return r.answer[0][0].serial


def served(concord, url, port, key, count):
    """count changes of cn.'s DS set through the CLI, each timed from the moment the node
    acknowledged it (201: the entry is durable) to the moment its DNS server answers with the
    new serial, polling the SOA every half millisecond."""
    import subprocess
    import tempfile
    import time
    after, whole = [], []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cn.zone")
        for i in range(count):
            text = subprocess.run([concord, "show", "--node", url, "tld/cn"], check=True,
                                  capture_output=True, text=True).stdout
            lines = [ln for ln in text.splitlines() if " DS 6" not in ln]
            lines.append(f"cn. 86400 IN DS {60000 + i} 15 2 " + f"{i:02X}" * 32)
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            before = serial_of(port)
            t0 = time.monotonic()
            subprocess.run([concord, "propose", "--key", key, "--node", url, "put", "tld/cn",
                            path], check=True, capture_output=True)
            t1 = time.monotonic()
            while serial_of(port) == before and time.monotonic() - t1 < 5:
                time.sleep(0.0005)
            t2 = time.monotonic()
            after.append(max(0.0, (t2 - t1) * 1000))
            whole.append((t2 - t0) * 1000)
    after.sort()
    whole.sort()
    pick = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    print(f"{count} changes: served {pick(after, 0.5):.1f} ms (median), {pick(after, 0.9):.1f} "
          f"(90th), {after[-1]:.1f} (max) after the node acknowledged them; "
          f"{pick(whole, 0.5):.1f} ms median from the CLI's start")


def main(argv):
    if len(argv) >= 2 and argv[1] == "port":
        print(free_port())
    elif len(argv) == 3 and argv[1] == "soa":
        soa(int(argv[2]))
    elif len(argv) == 5 and argv[1] == "build":
        build(argv[2], int(argv[3]), argv[4])
    elif len(argv) == 7 and argv[1] == "served":
        served(argv[2], argv[3], int(argv[4]), argv[5], int(argv[6]))
    elif len(argv) >= 5 and argv[1] == "check":
        check(argv[2], int(argv[3]), [(s.split("=")[0], int(s.split("=")[1])) for s in argv[4:]])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

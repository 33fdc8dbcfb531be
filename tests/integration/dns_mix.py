"""The DNS questions the differential test and `make bench-dns` ask (one draw, one seed, so
both ask the same), and a free loopback port. No pytest here: bench/dns_queries.py imports
it too."""
import random
import socket


def tld_names(zone_text):
    """The delegated TLDs of a zone as master-file text, sorted."""
    return sorted({ln.split()[0] for ln in zone_text.splitlines()
                   if " IN NS " in ln and ln.split()[0].count(".") == 1 and ln[0] != "."})


def questions(zone_text, count):
    """count questions (name, type, DO, TCP) from the zone's TLD list: TLD names, names below
    delegations, non-existent TLDs, the apex and root server names, ten types."""
    rnd = random.Random(2026)
    tlds = tld_names(zone_text)
    names = [t for t in tlds] + ["www." + t for t in tlds] + ["a.b." + rnd.choice(tlds)
                                                              for _ in range(300)]
    names += [f"no-such-tld-{i}." for i in range(200)] + [
        ".", "ns.cn.root.concord.example.", "root.concord.example.",
        "x.root.concord.example.", "0.", "zzzz.", "CN.", "Www.Org.", "ns.isoc.root-servers.net."]
    types = ["A", "NS", "DS", "SOA", "AAAA", "DNSKEY", "NSEC", "MX", "TXT", "ZONEMD"]
    out = []
    while len(out) < count:
        out.append((rnd.choice(names), rnd.choice(types), rnd.random() < 0.5,
                    rnd.random() < 0.2))
    return out


def free_port():
    """A port free for both UDP and TCP on loopback right now, below the kernel's ephemeral
    range: a port from that range can be taken at any moment as the source port of an
    outgoing connection (nodes that retry connecting to a peer not yet listening make many),
    and then the server meant to listen there cannot."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port")

"""Crash safety: what the daemon acknowledged survives kill -9."""
from concord import cli, entry_note, fetch_entries, note
from conftest import STATES, Burst


def check_acknowledged(node, acked):
    """Every append acknowledged with 201 is in the log, at its index, byte for byte."""
    h = node.http
    size = node.tree_size()
    entries = fetch_entries(h, size)
    last = {}
    for m, j in acked:
        p = h.get(f"/v1/proposals/{j['id']}")[2]
        assert p["status"] == "accepted" and p["index"] == j["index"], (m, j["index"], p)
        assert j["index"] < size
        assert entry_note(entries[j["index"]]) == j["note"]
        last[m] = max(last.get(m, -1), j["index"])
    for m, index in last.items():
        # a later change may have become durable without its answer getting out
        assert h.record(f"tld/{m}")["version"] >= index


def test_acknowledged_appends_survive_kill_9(network, nodes):
    node = nodes()
    acked = []
    # kill at once, then after a few, then after more acknowledged appends
    for target in (0, 1, 10, 40, 120):
        burst = Burst(network, node)
        burst.wait_for(target)
        node.kill()
        burst.stop()
        assert not burst.errors, burst.errors
        assert len(burst.acked) >= target
        acked += burst.acked
        node.start()
        check_acknowledged(node, acked)
    assert len(acked) >= 171

    out = cli("verify", node.url)
    assert out.stdout.startswith(f"verified {node.tree_size()} entries"), out.stdout
    # the log goes on
    for m in STATES:
        size = node.tree_size()
        st, j, _ = network.propose(node.http, [m], [("put", f"tld/{m}",
                                                    node.http.record(f"tld/{m}")["content"])])
        assert st == 201 and j["index"] == size, j
    cli("verify", node.url)


def test_pending_proposals_survive_kill_9(network, nodes):
    """A proposal acknowledged as pending (202) and approvals acknowledged with 200 are kept."""
    node = nodes()
    h = node.http
    kept = []
    for t in ["org", "net", "info", "xyz"]:
        st, j, body = network.propose(h, ["br"], [("put", f"tld/{t}",
                                                   h.record(f"tld/{t}")["content"])])
        assert st == 202, j
        st, _, j = h.post(f"/v1/proposals/{j['id']}/signatures",
                          network.keys["za"].sig_line(body))
        assert st == 200 and j["signers"] == ["br", "za"], j
        kept.append((j["id"], body))
    node.kill()
    node.start()
    h = node.http
    for pid, body in kept:
        j = h.get(f"/v1/proposals/{pid}")[2]
        assert j["status"] == "pending" and j["signers"] == ["br", "za"], j
    # and they can still pass
    size = node.tree_size()
    pid, body = kept[0]
    st, _, j = h.post("/v1/proposals", note(body, network.keys["de"], network.keys["isoc"]))
    assert st == 201 and j["index"] == size and j["signers"] == ["br", "de", "isoc", "za"], j


def test_sigterm_during_a_burst(network, nodes):
    """SIGTERM: the daemon finishes what it acknowledged, refuses the rest with 503, exits 0."""
    node = nodes()
    burst = Burst(network, node)
    burst.wait_for(20)
    node.stop()  # asserts exit status 0 and no sanitizer report
    burst.stop()
    for m, st, j in burst.errors:
        assert st == 503 and j["type"] == "urn:concord:problem:unavailable", (m, st, j)
    node.start()
    check_acknowledged(node, burst.acked)

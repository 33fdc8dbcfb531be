#!/usr/bin/python3
"""Regenerates the tlog vectors from a deliberately naive implementation (recursive RFC 9162
definitions over a list of leaves), independent of src/core. Run from this directory:
    /usr/bin/python3 gen.py
The unit tests check Concord against the files it writes; the 8-leaf roots and proofs are
also checked against the published Certificate Transparency reference values below."""

import base64
import hashlib

LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f"]

# Published with the Certificate Transparency reference implementation (and
# transparency-dev/merkle): MTH of the first n leaves, n = 1..8.
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def h(b):
    return hashlib.sha256(b).digest()


def leaf_hash(e):
    return h(b"\x00" + e)


def node_hash(l, r):
    return h(b"\x01" + l + r)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(lh):
    if not lh:
        return h(b"")
    if len(lh) == 1:
        return lh[0]
    k = split(len(lh))
    return node_hash(mth(lh[:k]), mth(lh[k:]))


def path(m, lh):
    if len(lh) <= 1:
        return []
    k = split(len(lh))
    if m < k:
        return path(m, lh[:k]) + [mth(lh[k:])]
    return path(m - k, lh[k:]) + [mth(lh[:k])]


def subproof(m, lh, b):
    if m == len(lh):
        return [] if b else [mth(lh)]
    k = split(len(lh))
    if m <= k:
        return subproof(m, lh[:k], b) + [mth(lh[k:])]
    return subproof(m - k, lh[k:], False) + [mth(lh[:k])]


def proof(m, lh):
    return [] if m == 0 else subproof(m, lh, True)


def hexlist(hs):
    return ",".join(x.hex() for x in hs) if hs else "-"


def tile_index(n):
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x%03d" % g for g in groups[:-1]] + ["%03d" % groups[-1]])


def tile_path(level, n, w):
    p = "tile/%s/%s" % ("entries" if level is None else level, tile_index(n))
    return p if w == 256 else p + ".p/%d" % w


def bundle(entries):
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


def write_tree():
    entries = [bytes.fromhex(x) for x in LEAVES]
    lh = [leaf_hash(e) for e in entries]
    for n in range(1, 9):
        assert mth(lh[:n]).hex() == REFERENCE_ROOTS[n - 1]
    out = ["# RFC 6962 test tree: the eight leaves of the Certificate Transparency reference tests.",
           "# One record a line, fields separated by one space. \"-\" is an empty byte string or an",
           "# empty proof; proof hashes are separated by \",\", deepest first (RFC 9162 order).",
           "#   leaf <index> <entry hex>        leafhash <index> <hash hex>",
           "#   root <size> <hash hex>          (size 0: SHA-256 of the empty string)",
           "#   inclusion <index> <size> <proof>      RFC 9162 2.1.3",
           "#   consistency <old> <size> <proof>      RFC 9162 2.1.4 (empty when old is 0 or size)"]
    for i, e in enumerate(LEAVES):
        out.append("leaf %d %s" % (i, e or "-"))
    for i, x in enumerate(lh):
        out.append("leafhash %d %s" % (i, x.hex()))
    for n in range(0, 9):
        out.append("root %d %s" % (n, mth(lh[:n]).hex()))
    for n in range(1, 9):
        for i in range(n):
            out.append("inclusion %d %d %s" % (i, n, hexlist(path(i, lh[:n]))))
    for n in range(0, 9):
        for m in range(0, n + 1):
            out.append("consistency %d %d %s" % (m, n, hexlist(proof(m, lh[:n]))))
    open("tree.txt", "w").write("\n".join(out) + "\n")
    open("bundle.hex", "w").write(bundle(entries).hex() + "\n")
    root = base64.b64encode(mth(lh)).decode()
    open("checkpoint.txt", "w").write("example.org/concord/test\n8\n%s\n" % root)
    open("checkpoint-ext.txt", "w").write(
        "example.org/concord/test\n8\n%s\nan extension line\n" % root)


def write_tiles():
    size = 70000
    entries = [str(i).encode() for i in range(size)]
    lh = [leaf_hash(e) for e in entries]
    # Level-l tile hashes are MTH of 256**l consecutive leaves.
    levels = [lh]
    for _ in range(2):
        below = levels[-1]
        levels.append([mth(below[i:i + 256]) for i in range(0, len(below) - 255, 256)])
    out = ["# A generated tree: entry i (i = 0, 1, ...) is the ASCII decimal form of i, no newline.",
           "#   root <size> <hash hex>",
           "#   tile <level> <index> <width> <SHA-256 of the tile's bytes, hex>",
           "#   bundle <index> <width> <SHA-256 of the entry bundle's bytes, hex>",
           "# Every tile listed exists in the tree of 70000 entries (c2sp.org/tlog-tiles example);",
           "#   notile <level> <index> <width>  does not."]
    for n in (1, 255, 256, 257, 65535, 65536, 65537, 70000):
        out.append("root %d %s" % (n, mth(lh[:n]).hex()))
    tiles = [(0, 0, 256), (0, 0, 1), (0, 1, 256), (0, 272, 256), (0, 273, 112), (0, 273, 1),
             (1, 0, 256), (1, 0, 5), (1, 1, 17), (2, 0, 1)]
    for lvl, n, w in tiles:
        data = b"".join(levels[lvl][n * 256:n * 256 + w])
        assert len(data) == 32 * w
        out.append("tile %d %d %d %s" % (lvl, n, w, h(data).hex()))
    for n, w in ((0, 256), (0, 7), (273, 112)):
        out.append("bundle %d %d %s" % (n, w, h(bundle(entries[n * 256:n * 256 + w])).hex()))
    for lvl, n, w in ((0, 273, 113), (0, 274, 1), (1, 1, 18), (1, 2, 1), (2, 0, 2), (3, 0, 1)):
        out.append("notile %d %d %d" % (lvl, n, w))
    open("tiles.txt", "w").write("\n".join(out) + "\n")


def write_paths():
    cases = [(0, 0, 256), (0, 5, 256), (0, 999, 256), (0, 1000, 256), (0, 1234067, 256),
             (0, 1234067, 8), (1, 0, 1), (2, 1000000, 255), (63, 7, 256), (10, 999999, 1),
             (0, 2**64 - 1, 256), (None, 0, 256), (None, 5, 1), (None, 1001, 128),
             (None, 1234067, 256)]
    out = ["# <level> <index> <width> -> <path>; level \"entries\" is an entry bundle.",
           "# Width 256 is a full tile, written with no .p/ suffix."]
    for lvl, n, w in cases:
        out.append("%s %d %d -> %s" % ("entries" if lvl is None else lvl, n, w,
                                       tile_path(lvl, n, w)))
    open("tile-paths.txt", "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    write_tree()
    write_tiles()
    write_paths()

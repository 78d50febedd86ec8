#!/usr/bin/env python3
"""Independent computation of docs/format.md's page-proof test vectors.

Builds the proofs from the format's definitions alone, with Debian's b3sum
(BLAKE3) and hashlib (SHA-256), and prints the SHA-256 of each encoded proof.
Used once to produce the vectors checked by src/store/page_proof_test.cc; run
it again after a format change: `python3 tests/vectors/page_proof_vectors.py`.
"""
import functools
import hashlib
import struct
import subprocess

PAGE = 4096
DEPTH = 20


def b3(context, data):
    out = subprocess.run(["b3sum", "--derive-key", context, "--no-names", "--raw"],
                         input=data, capture_output=True, check=True).stdout
    return out[:32]


def leaf(page):
    return b3("crust 2026-11-24 page leaf", page)


def node(l, r):
    return b3("crust 2026-11-24 page node", l + r)


@functools.lru_cache(None)
def zero(level):
    return leaf(bytes(PAGE)) if level == 0 else node(zero(level - 1), zero(level - 1))


def tree(mem):
    """levels[k] = the nodes of level k over the memory's pages (widths as stored)."""
    n = len(mem) // PAGE
    levels = [[leaf(mem[i * PAGE:(i + 1) * PAGE]) for i in range(n)]]
    for k in range(1, DEPTH + 1):
        below = levels[-1]
        width = (n + (1 << k) - 1) >> k
        row = []
        for i in range(width):
            l = below[2 * i] if 2 * i < len(below) else zero(k - 1)
            r = below[2 * i + 1] if 2 * i + 1 < len(below) else zero(k - 1)
            row.append(node(l, r))
        levels.append(row)
    return levels


def node_at(levels, k, i):
    return levels[k][i] if i < len(levels[k]) else zero(k)


def memory_hash(length, root):
    return b3("crust 2026-11-24 memory hash", struct.pack("<Q", length) + root)


def sha(x):
    return hashlib.sha256(x).digest()


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def audit_path(leaves, m):
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return audit_path(leaves[:k], m) + [mth(leaves[k:])]
    return audit_path(leaves[k:], m - k) + [mth(leaves[:k])]


def spec_memory():
    return bytes(0 if x // PAGE == 3 else (31 * x + 7) % 256 for x in range(65536))


def module_memory(f):
    mem = bytearray(spec_memory())
    mem[0] = f
    for p in range(1, 16):
        if p != 3:
            mem[p * PAGE + 1] = p
    return bytes(mem) + bytes(65536)  # a second wasm page of zeros


BYTECODE = b"\x00asm\x01\x00\x00\x00"


def proof(modules, module_id, page):
    """modules: list of (id, memory, metadata), sorted by id."""
    state_leaves, trees = [], {}
    for mid, mem, meta in modules:
        levels = tree(mem)
        trees[mid] = (mem, meta, levels)
        mh = memory_hash(len(mem), levels[DEPTH][0])
        state_leaves.append(sha(b"\x00" + mid + sha(BYTECODE) + mh + sha(meta)))
    root = mth(state_leaves)
    index = [m[0] for m in modules].index(module_id)
    mem, meta, levels = trees[module_id]
    out = b"crustprf" + struct.pack("<I", 1) + root + module_id + sha(BYTECODE) + sha(meta)
    out += struct.pack("<QI", len(mem), page) + mem[page * PAGE:(page + 1) * PAGE]
    for k in range(DEPTH):
        out += node_at(levels, k, (page >> k) ^ 1)
    path = audit_path(state_leaves, index)
    out += struct.pack("<III", index, len(state_leaves), len(path)) + b"".join(path)
    return root, out


def main():
    one = bytes([1]) * 32
    root, p = proof([(one, spec_memory(), b"")], one, 3)
    print("one-module root", root.hex(), "proof of page 3:", len(p), "bytes, sha256", sha(p).hex())
    mods = [(bytes([f]) * 32, module_memory(f), bytes([f])) for f in (1, 2, 3)]
    root, p = proof(mods, bytes([3]) * 32, 0)
    print("three-module root", root.hex(), "proof of page 0 of 03..:", len(p), "bytes, sha256", sha(p).hex())


if __name__ == "__main__":
    main()

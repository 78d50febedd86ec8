#!/usr/bin/env python3
# Writes the seed corpora fuzz/corpus/<target>/ (small, checked in; rerun
# after a format change). Each seed is a minimal valid input in the form the
# target expects (see each target's header comment): e.g. a mode byte 0 and
# an index without its trailing CRC, which the target appends.
import os
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def write(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def leb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def section(i, payload):
    return bytes([i]) + leb(len(payload)) + payload


def vec(items):
    return leb(len(items)) + b"".join(items)


WASM = b"\0asm\1\0\0\0"

# --- index (format.h: magic, version 2, count, created, entries) ---
def index(entries):
    b = b"crustidx" + struct.pack("<IIQ", 2, len(entries), 1700000000000000000)
    for i, meta in enumerate(entries):
        b += bytes([i + 1]) * 32 + bytes([0xAA]) * 32 + bytes([0xBB]) * 32
        b += struct.pack("<QII", 65536 * (i + 1), i, len(meta)) + meta
    return b


write("index_fuzz", "empty", b"\0" + index([]))  # mode byte 0: the target appends the CRC
write("index_fuzz", "two", b"\0" + index([b"", b"owner"]))

# --- delta layer (delta.h): header, page indices, nodes, zstd frame ---
def delta(pages, nodes, frame):
    b = b"crustdlt" + struct.pack("<IIIIQ", 2, len(pages), len(nodes), 0, len(frame))
    for p in pages:
        b += struct.pack("<I", p)
    for key, h in nodes:
        b += struct.pack("<I", key) + h
    return b + frame


# An empty zstd frame of 0 bytes and one of a zero page (raw block).
zstd_empty = bytes.fromhex("28b52ffd2000010000")
zstd_page = bytes.fromhex("28b52ffd") + bytes([0x60, 0x00, 0x10]) + bytes([0x13, 0x00, 0x02]) + b"\0"  # RLE block
write("delta_fuzz", "empty", b"\0" + delta([], [], zstd_empty))
write("delta_fuzz", "one_page", b"\0" + delta([3], [(3, b"\x11" * 32), ((20 << 24) | 0, b"\x22" * 32)], zstd_page))

# --- memory image (memory_image.h): memory, nodes, footer ---
def image(pages):
    length = pages * 4096
    assert length % 65536 == 0
    nodes = b""
    for k in range(21):
        width = (pages + (1 << k) - 1) >> k
        nodes += bytes([k]) * 32 * width
    footer = b"crustmem" + struct.pack("<IIQQI", 2, crc32c(nodes), length, len(nodes) // 32, 0)
    footer += struct.pack("<I", crc32c(footer))
    mem = bytearray(length)
    if length:
        mem[0:4] = b"\x01\x02\x03\x04"
    return bytes(mem) + nodes + footer


write("memory_image_fuzz", "empty", b"\0" + image(0))
write("memory_image_fuzz", "one_wasm_page", b"\0" + image(16))

# --- prepared entry body (prepared_format.h), behind a leading 0 byte ---
def s(b):
    return struct.pack("<I", len(b)) + b


wasm_min = WASM
body = struct.pack("<Q", len(wasm_min)) + wasm_min
body += b"\1" + struct.pack("<IBI", 2, 1, 4) + struct.pack("<I", 1) + struct.pack("<IQ", 8, 4) + b"seed"
body += b"\0" + struct.pack("<I", 65536)
body += struct.pack("<I", 2) + s(b"f") + s(b"g")
body += b"\1"
body += struct.pack("<I", 1) + struct.pack("<IBQB", 3, 1, 42, 1) + s(b"__crust_g3")
body += struct.pack("<I", 1) + s(b"limit")
write("prepared_entry_fuzz", "body", b"\0" + body)
write("prepared_entry_fuzz", "no_memory", b"\0" + struct.pack("<Q", 8) + WASM + b"\0\0" + struct.pack("<IIBII", 0, 0, 0, 0, 0))

# --- run scripts ---
write("run_script_fuzz", "script", b"# a script\ndeploy counter.wasm --owner 01 --init 00\n"
      b"call $1 increment --gas 100000\ncall $1 read_value 0102 --gas=5\ncommit\n")
write("run_script_fuzz", "ids", b"call " + b"ab" * 32 + b" f\ndeploy x.wasm --id " + b"0" * 64 + b" --nonce 7\n")

# --- differential: any bytes drive the generator ---
for i, seed in enumerate([b"", bytes(range(64)), bytes([0xFF]) * 64, bytes([7, 3, 1, 0] * 40)]):
    write("differential_fuzz", "gen%d" % i, seed)

# --- deploy: small modules ---
def func_module(body_code, locals_=b"\0"):
    body = locals_ + body_code + b"\x0b"
    return (WASM + section(1, vec([b"\x60\x00\x00"])) + section(3, vec([b"\0"])) +
            section(10, vec([leb(len(body)) + body])))


write("deploy_fuzz", "empty", WASM)
write("deploy_fuzz", "nested", func_module(b"\x02\x40" * 8 + b"\x0b" * 8))
write("deploy_fuzz", "locals", func_module(b"\x01", b"\x02\x05\x7f\x03\x7e"))
# A minimal contract: memory exported, A, one (i32)->i32 export.
contract = (WASM + section(1, vec([b"\x60\x01\x7f\x01\x7f"])) + section(3, vec([b"\0"])) +
            section(5, vec([b"\x00\x02"])) + section(6, vec([b"\x7f\x00\x41\x80\x80\x04\x0b"])) +
            section(7, vec([b"\x06memory\x02\x00", b"\x01A\x03\x00", b"\x01f\x00\x00"])) +
            section(10, vec([b"\x07\x00\x20\x00\x41\x01\x6a\x0b"])) +
            section(11, vec([b"\x00\x41\x08\x0b\x04seed"])))
write("deploy_fuzz", "contract", contract)
for name in ["counter.wasm", "box.wasm"]:
    p = os.path.join("/work/shared/piecrust-contracts", name)
    if os.path.exists(p) and os.path.getsize(p) < 32768:
        write("deploy_fuzz", name[:-5], open(p, "rb").read())
print("seeds written under", os.path.join(ROOT, "corpus"))

"""Copies a GGUF file with one more string key-value pair.

Usage: gguf-add-key.py IN.gguf OUT.gguf KEY VALUE

The tensor data keep their offsets (relative to the data section, which
starts on the next general.alignment boundary, 32 by default).
"""
import struct
import sys

src, dst, key, value = sys.argv[1:5]
b = open(src, "rb").read()
assert b[:4] == b"GGUF"
version, n_tensors, n_kv = struct.unpack_from("<IQQ", b, 4)
pos = 24
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_string(p):
    (n,) = struct.unpack_from("<Q", b, p)
    return p + 8 + n


def skip_value(p, t):
    if t == 8:
        return skip_string(p)
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, p)
        p += 12
        for _ in range(n):
            p = skip_value(p, et)
        return p
    return p + SIZES[t]


alignment = 32
for _ in range(n_kv):
    kstart = pos
    pos = skip_string(pos)
    name = b[kstart + 8:pos].decode()
    (t,) = struct.unpack_from("<I", b, pos)
    if name == "general.alignment":
        (alignment,) = struct.unpack_from("<I", b, pos + 4)
    pos = skip_value(pos + 4, t)
kv_end = pos
for _ in range(n_tensors):
    pos = skip_string(pos)
    (dims,) = struct.unpack_from("<I", b, pos)
    pos += 4 + 8 * dims + 4 + 8
info_end = pos
data_start = (info_end + alignment - 1) // alignment * alignment


def string(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


extra = string(key) + struct.pack("<I", 8) + string(value)
head = b[:4] + struct.pack("<IQQ", version, n_tensors, n_kv + 1) + b[24:kv_end] + extra + b[kv_end:info_end]
pad = (-len(head)) % alignment
open(dst, "wb").write(head + b"\0" * pad + b[data_start:])

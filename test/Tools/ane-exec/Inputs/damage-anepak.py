"""damage-anepak.py IN OUT KIND INDEX: copies a .anepak and flips one byte in
the middle of the section of that kind and index (see lib/Runtime/Anepak.h)."""
import struct
import sys

src, dst, kind, index = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = bytearray(open(src, "rb").read())
count, = struct.unpack_from("<I", data, 12)
table, = struct.unpack_from("<Q", data, 16)
for i in range(count):
    k, _, idx, off, size = struct.unpack_from("<IIqQQ", data, table + 48 * i)
    if k == kind and idx == index:
        data[off + size // 2] ^= 0x5A
        open(dst, "wb").write(data)
        sys.exit(0)
sys.exit(f"no section of kind {kind} index {index}")

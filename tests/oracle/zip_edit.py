"""Rewrites a zip for tamper and hostile-input tests. Argument: JSON
{"in": PATH or null, "out": PATH, "ops": [...]}, ops applied in order:
  {"op": "replace", "name": N, "text": T}     new content for member N
  {"op": "zeros", "name": N, "size": S}       new content for N: S zero bytes
  {"op": "add", "name": N, "text": T}         a new member (written as given: may be unsafe
                                              or a duplicate)
  {"op": "remove", "name": N}
  {"op": "declare", "name": N, "size": S}     patch N's declared uncompressed size to S
                                              (a zip bomb: it inflates past what it declares)
"""
import json
import struct
import sys
import zipfile

arg = json.loads(sys.argv[1])
members = []
if arg["in"]:
    with zipfile.ZipFile(arg["in"]) as z:
        members = [(i.filename, z.read(i.filename), i.compress_type) for i in z.infolist()]
declare = []
for op in arg["ops"]:
    if op["op"] == "replace":
        members = [(n, op["text"].encode() if n == op["name"] else d, c) for n, d, c in members]
    elif op["op"] == "zeros":
        members = [(n, bytes(op["size"]) if n == op["name"] else d, c) for n, d, c in members]
    elif op["op"] == "add":
        members.append((op["name"], op["text"].encode(), zipfile.ZIP_DEFLATED))
    elif op["op"] == "remove":
        members = [m for m in members if m[0] != op["name"]]
    elif op["op"] == "declare":
        declare.append((op["name"], op["size"]))
with zipfile.ZipFile(arg["out"], "w") as z:
    for n, d, c in members:
        info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = c
        z.writestr(info, d)
data = bytearray(open(arg["out"], "rb").read())
for name, size in declare:
    raw = name.encode()
    # Local header: size at offset 22; central directory: size at offset 24.
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = 0
        while (i := data.find(sig, i)) >= 0:
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(raw)] == raw:
                data[i + at:i + at + 4] = struct.pack("<I", size)
            i += 4
open(arg["out"], "wb").write(data)
print("{}")

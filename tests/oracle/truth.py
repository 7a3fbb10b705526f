"""The truth for a lake: pyarrow reads every data file of every table whole (any name but
_ and . side names; _k=v directories included), with Hive partition values as columns,
(side files by name: .crc, Athena's -manifest.csv) and counts rows whose identifier column (matched ignoring case) is one of the IDs.

Argument: JSON {"lake": DIR, "ids": [...], "id_columns": [...]}.
Prints {table: {"rows": N, "residual_rows": M}}.
"""
import json
import os
import sys

import pyarrow.parquet as pq

arg = json.loads(sys.argv[1])
ids = set(arg["ids"])
want = [c.lower() for c in arg["id_columns"]]
out = {}
for table in sorted(os.listdir(arg["lake"])):
    root = os.path.join(arg["lake"], table)
    if table.startswith(".") or not os.path.isdir(root):
        continue
    rows = residual = 0
    for d, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [x for x in dirs if not x.startswith(".") and (not x.startswith("_") or "=" in x)]
        for name in files:
            if name.startswith((".", "_")) or name.endswith((".crc", "-manifest.csv")):
                continue
            path = os.path.join(d, name)
            t = pq.read_table(path)
            parts = {}
            for seg in os.path.relpath(d, root).split(os.sep):
                if "=" in seg:
                    k, v = seg.split("=", 1)
                    parts[k.lower()] = v
            cols = {c.lower(): t.column(c).to_pylist() for c in t.column_names}
            for i in range(t.num_rows):
                rows += 1
                hit = any(
                    (c in cols and str(cols[c][i]) in ids) or parts.get(c) in ids for c in want
                )
                residual += hit
    out[table] = {"rows": rows, "residual_rows": residual}
print(json.dumps(out))

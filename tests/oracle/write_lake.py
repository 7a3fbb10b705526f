"""Writes Parquet files with pyarrow, the way real writers lay out lakes.

Argument: JSON {"files": [{"path": P, "columns": {NAME: [values]}, "types": {NAME: T},
"options": {...}}]} where T is one of string, int64, int32, uuid (from the text form), null,
decimal, list, struct, map (default: string for text values, int64 for integers) and options are passed to
pyarrow.parquet.write_table (use_dictionary, write_statistics, row_group_size,
write_page_checksum, compression, data_page_version). Prints {"ok": true}.
"""
import decimal
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def column(values, kind):
    if kind == "null":
        return pa.array(values, pa.null())
    if kind == "decimal":
        return pa.array([decimal.Decimal(str(v)) for v in values], pa.decimal128(10, 0))
    if kind == "list":
        return pa.array([[v] for v in values], pa.list_(pa.string()))
    if kind == "struct":
        return pa.array([{"id": v} for v in values], pa.struct([("id", pa.string())]))
    if kind == "map":
        return pa.array([[(v, v)] for v in values], pa.map_(pa.string(), pa.string()))
    if kind == "int32":
        return pa.array(values, pa.int32())
    if kind == "uuid":
        import uuid
        return pa.array([uuid.UUID(v).bytes for v in values], pa.uuid())
    if kind == "int64" or (values and isinstance(values[0], int)):
        return pa.array(values, pa.int64())
    return pa.array(values, pa.string())


arg = json.loads(sys.argv[1])
for f in arg["files"]:
    types = f.get("types", {})
    table = pa.table({n: column(v, types.get(n)) for n, v in f["columns"].items()})
    os.makedirs(os.path.dirname(f["path"]), exist_ok=True)
    pq.write_table(table, f["path"], **f.get("options", {}))
print(json.dumps({"ok": True}))

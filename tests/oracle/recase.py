"""Rewrites Parquet files with their column names upper-cased (as a writer that keeps the
case of `USER_ID` would). Argument: JSON {"files": [PATH, ...]}. Prints {}."""
import json
import sys

import duckdb
import pyarrow.parquet as pq

for path in json.loads(sys.argv[1])["files"]:
    # Read by DuckDB: pyarrow cannot decode every encoding the generator writes.
    t = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").arrow()
    if not hasattr(t, "rename_columns"):
        t = t.read_all()
    pq.write_table(t.rename_columns([c.upper() for c in t.column_names]), path)
print("{}")

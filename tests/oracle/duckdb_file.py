"""For one Parquet file and column: a few of the column's values and DuckDB's counts.

Argument: JSON {"file": PATH, "column": NAME}. Prints JSON {"ok": true, "rows": N,
"ids": [...], "residual_rows": M} or {"ok": false, "error": "..."} when DuckDB cannot read it.
"""
import json
import sys

import duckdb

arg = json.loads(sys.argv[1])
src = f"read_parquet('{arg['file']}')"
col = '"' + arg["column"].replace(".", '"."') + '"'
try:
    con = duckdb.connect()
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    # (Not `WHERE col IS NOT NULL`: DuckDB 2.0 answers no rows for it on some files.)
    values = con.execute(f"SELECT CAST({col} AS VARCHAR) FROM {src} LIMIT 200").fetchall()
    ids = [v for (v,) in values if v is not None][:3]
    ids = sorted(set(ids)) + ["vouch-no-such-subject"]
    con.execute("CREATE TABLE ids(id VARCHAR)")
    con.executemany("INSERT INTO ids VALUES (?)", [[i] for i in ids])
    residual = con.execute(f"SELECT count(*) FROM {src} WHERE CAST({col} AS VARCHAR) IN (SELECT id FROM ids)").fetchone()[0]
    print(json.dumps({"ok": True, "rows": rows, "ids": ids, "residual_rows": residual}))
except Exception as e:  # DuckDB could not read the file: vouch must not call it clean blindly
    print(json.dumps({"ok": False, "error": str(e).splitlines()[0][:200]}))

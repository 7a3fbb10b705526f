"""Independent oracle: per-table row counts and residual counts computed by DuckDB.

Argument: JSON {"lake": DIR, "ids": [...], "tables": [{"name", "id_sql": [predicate, ...]}],
"pattern": GLOB (default "**/*.parquet"), "hive": BOOL (default false)} where each
predicate may use the one-column table ids(id VARCHAR). Columns are matched by name
across files (union_by_name), ignoring case as DuckDB does.
Prints JSON {table: {"rows": N, "residual_rows": M}}.
"""
import json
import sys

import duckdb

arg = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("CREATE TABLE ids(id VARCHAR)")
con.executemany("INSERT INTO ids VALUES (?)", [[i] for i in arg["ids"]])
out = {}
for t in arg["tables"]:
    pattern = arg.get("pattern", "**/*.parquet")
    hive = "true" if arg.get("hive") else "false"
    src = f"read_parquet('{arg['lake']}/{t['name']}/{pattern}', hive_partitioning={hive}, union_by_name=true)"
    cond = " OR ".join(f"({e})" for e in t["id_sql"])
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    residual = con.execute(f"SELECT count(*) FROM {src} WHERE {cond}").fetchone()[0]
    out[t["name"]] = {"rows": rows, "residual_rows": residual}
print(json.dumps(out))

"""delta-rs (the `deltalake` package) as the oracle of Delta tables. Argument: JSON
{"op": ...}:
- {"op": "files", "tables": [DIR, ...]}: per table its newest version and live files
  (paths below the table, as the log names them decoded), or the error delta-rs gives.
- {"op": "counts", "table": DIR, "column": C, "ids": [...]}: live rows per id as delta-rs
  reads the table (column mapping applied), or {"error": ...} when it cannot.
- {"op": "file_counts", "table": DIR, "column": C, "ids": [...]}: the same counted by
  DuckDB over delta-rs's live files, under the log's physical column name.
- {"op": "write", "table": DIR, "rows": [[id, n], ...], "partition_by": [...]}: appends.
- {"op": "delete", "table": DIR, "predicate": SQL}
- {"op": "vacuum", "table": DIR}: VACUUM with retention 0 (tests only).
Prints JSON. delta-rs can abort at interpreter exit, so this leaves with os._exit."""
import json
import os
import sys
import urllib.parse


def main(arg):
    from deltalake import DeltaTable, write_deltalake
    import pyarrow as pa
    import pyarrow.compute as pc

    op = arg["op"]
    if op == "files":
        out = {}
        for t in arg["tables"]:
            try:
                dt = DeltaTable(t)
                root = os.path.realpath(t)
                files = []
                for u in dt.file_uris():
                    p = u[len("file://"):] if u.startswith("file://") else u
                    p = os.path.realpath(p)
                    files.append(os.path.relpath(p, root))
                out[t] = {"version": dt.version(), "files": sorted(files)}
            except Exception as e:  # noqa: BLE001 - the oracle reports what delta-rs says
                out[t] = {"error": str(e).splitlines()[0][:300]}
        return out
    if op == "counts":
        try:
            t = DeltaTable(arg["table"]).to_pyarrow_table(columns=[arg["column"]])
        except Exception as e:  # noqa: BLE001
            return {"error": str(e).splitlines()[0][:300]}
        col = t.column(arg["column"])
        counts = {}
        for i in arg["ids"]:
            v = pa.scalar(i, type=col.type) if not isinstance(i, str) or pa.types.is_string(col.type) else pa.scalar(int(i), type=col.type)
            counts[str(i)] = pc.sum(pc.equal(col, v)).as_py() or 0
        return {"counts": counts}
    if op == "file_counts":
        # Live rows per id over the files delta-rs says are live, read by DuckDB under the
        # physical column name the log's schema gives (delta-rs's own reader returns
        # nulls for some column-mapped tables).
        import duckdb
        table = arg["table"]
        dt = DeltaTable(table)
        schema = json.loads(dt.schema().to_json())
        physical = arg["column"]
        for f in schema["fields"]:
            if f["name"] == arg["column"]:
                physical = f.get("metadata", {}).get("delta.columnMapping.physicalName", physical)
        files = [u[len("file://"):] if u.startswith("file://") else u for u in dt.file_uris()]
        con = duckdb.connect()
        counts = {}
        for i in arg["ids"]:
            n = 0
            for f in files:
                n += con.execute(
                    f'SELECT count(*) FROM read_parquet(?) WHERE "{physical}" = ?', [f, i]
                ).fetchone()[0]
            counts[str(i)] = n
        return {"counts": counts, "physical": physical}
    if op == "write":
        rows = arg["rows"]
        ids = []
        vals = []
        for user, n in rows:
            ids += [user] * n
            vals += list(range(n))
        data = {"user_id": pa.array(ids, pa.string()), "v": pa.array(vals, pa.int64())}
        extra = arg.get("columns", {})
        for k, v in extra.items():
            data[k] = pa.array(v)
        write_deltalake(arg["table"], pa.table(data), mode="append",
                        partition_by=arg.get("partition_by") or None,
                        schema_mode=arg.get("schema_mode"))
        return {"version": DeltaTable(arg["table"]).version()}
    if op == "delete":
        dt = DeltaTable(arg["table"])
        m = dt.delete(arg["predicate"])
        return {"version": DeltaTable(arg["table"]).version(), "metrics": m}
    if op == "vacuum":
        dt = DeltaTable(arg["table"])
        removed = dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        return {"removed": sorted(urllib.parse.unquote(r) for r in removed)}
    raise SystemExit(f"unknown op {op}")


result = main(json.loads(sys.argv[1]))
sys.stdout.write(json.dumps(result))
sys.stdout.flush()
os._exit(0)

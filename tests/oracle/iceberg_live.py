"""An independent oracle of an Iceberg table's live rows, for tables with equality deletes
(which pyiceberg does not read): pyiceberg lists the current snapshot's files with their
sequence numbers, partitions and equality field ids; DuckDB reads the data and delete
files and applies the spec's rules itself: a position delete removes (file, position) of
a data file no newer than it; an equality delete removes the rows of older data files in
its partition (any partition for an unpartitioned spec) whose equality columns all equal
(NULL equal to NULL) one of its rows.

Argument: JSON {"metadata": FILE, "from": PREFIX, "to": DIR, "column": C, "ids": [...]}:
paths in the metadata starting with PREFIX are read below DIR. Prints {"live": {id: rows},
"equality_deletes": N} or {"error": ...}; leaves with os._exit."""
import json
import os
import sys


def main(arg):
    import duckdb
    from pyiceberg.table import StaticTable

    def local(p):
        for pre in ("file://", "file:"):
            if p.startswith(pre):
                p = p[len(pre):]
        if p.startswith(arg["from"]):
            p = os.path.join(arg["to"], p[len(arg["from"]):].lstrip("/"))
        return p

    table = StaticTable.from_metadata(local(arg["metadata"]))
    io = table.io
    new_input = io.new_input
    io.new_input = lambda location: new_input(local(location))
    snap = table.current_snapshot()
    schema = table.schema()
    data, pos, eq = [], [], []
    for m in snap.manifests(io):
        for e in m.fetch_manifest_entry(io, discard_deleted=True):
            f = e.data_file
            item = {"path": f.file_path, "local": local(f.file_path), "seq": e.sequence_number,
                    "spec": f.spec_id, "partition": repr(f.partition)}
            if f.content == 0:
                data.append(item)
            elif f.content == 1:
                if f.file_format.name != "PARQUET":
                    return {"error": "deletion vectors are not read by this oracle"}
                pos.append(item)
            else:
                item["columns"] = [schema.find_field(i).name for i in f.equality_ids]
                eq.append(item)
    spec_unpartitioned = {s.spec_id: s.is_unpartitioned() for s in table.metadata.partition_specs}
    con = duckdb.connect()
    col = arg["column"]
    live = {i: 0 for i in arg["ids"]}
    q = lambda s: "'" + s.replace("'", "''") + "'"
    for d in data:
        where = [f"CAST({col} AS VARCHAR) IN ({', '.join(q(i) for i in arg['ids'])})"]
        for p in pos:
            if p["seq"] >= d["seq"]:
                where.append(f"file_row_number NOT IN (SELECT pos FROM read_parquet({q(p['local'])}) "
                             f"WHERE file_path = {q(d['path'])})")
        for e in eq:
            same = spec_unpartitioned.get(e["spec"], False) or (
                e["spec"] == d["spec"] and e["partition"] == d["partition"])
            if e["seq"] > d["seq"] and same:
                cond = " AND ".join(f"d.{c} IS NOT DISTINCT FROM e.{c}" for c in e["columns"])
                where.append(f"NOT EXISTS (SELECT 1 FROM read_parquet({q(e['local'])}) e WHERE {cond})")
        sql = (f"SELECT CAST({col} AS VARCHAR), count(*) FROM read_parquet({q(d['local'])}, "
               f"file_row_number = true) d WHERE {' AND '.join(where)} GROUP BY 1")
        for k, n in con.execute(sql).fetchall():
            live[k] += n
    return {"live": live, "equality_deletes": len(eq)}


try:
    result = main(json.loads(sys.argv[1]))
except Exception as e:  # noqa: BLE001 - the oracle reports what failed
    result = {"error": str(e).splitlines()[0][:300]}
sys.stdout.write(json.dumps(result))
sys.stdout.flush()
os._exit(0)

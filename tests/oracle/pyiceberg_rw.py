"""pyiceberg (SQL catalog on SQLite) as the writer and oracle of Iceberg tables the tests
make. Argument: JSON {"op": ..., "catalog": DIR, ...}; the warehouse is DIR/wh:
- {"op": "append", "table": "ns.t", "rows": [[id, n], ...]}
- {"op": "delete", "table": "ns.t", "predicate": "user_id == 'u2'"}
- {"op": "expire", "table": "ns.t"}: expires every snapshot but the current
- {"op": "add_column", "table": "ns.t", "name": C}: adds a string column
- {"op": "rename", "table": "ns.t", "from": C, "to": D}: renames a column
- {"op": "counts", "table": "ns.t", "ids": [...], "column": C}: live rows per id
- {"op": "snapshots", "table": "ns.t"}: [[id, timestamp_ms], ...] and the location
"partition_by_user": true makes the table identity-partitioned by user_id; "properties"
sets table properties when the table is created.
Prints JSON; leaves with os._exit."""
import json
import os
import sys


def main(arg):
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.catalog.sql import SqlCatalog

    d = arg["catalog"]
    os.makedirs(os.path.join(d, "wh"), exist_ok=True)
    cat = SqlCatalog("t", uri=f"sqlite:///{d}/catalog.db", warehouse=f"file://{d}/wh")
    cat.create_namespace_if_not_exists("ns")
    schema = pa.schema([("user_id", pa.string()), ("v", pa.int64())])
    if arg.get("partition_by_user"):
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.schema import Schema
        from pyiceberg.transforms import IdentityTransform
        from pyiceberg.types import LongType, NestedField, StringType
        ischema = Schema(NestedField(1, "user_id", StringType(), required=False),
                         NestedField(2, "v", LongType(), required=False))
        spec = PartitionSpec(PartitionField(source_id=1, field_id=1000,
                                            transform=IdentityTransform(), name="user_id"))
        # No column metrics: the partition values are the only copies of the ID.
        t = cat.create_table_if_not_exists(arg["table"], schema=ischema, partition_spec=spec,
                                           properties={"write.metadata.metrics.default": "none"})
    else:
        t = cat.create_table_if_not_exists(arg["table"], schema=schema,
                                           properties=arg.get("properties", {}))
    op = arg["op"]
    if op == "append":
        ids, vals = [], []
        for user, n in arg["rows"]:
            ids += [user] * n
            vals += list(range(n))
        t.append(pa.table({"user_id": pa.array(ids, pa.string()), "v": pa.array(vals, pa.int64())}))
        return {"snapshot": t.current_snapshot().snapshot_id}
    if op == "delete":
        t.delete(arg["predicate"])
        return {"snapshot": cat.load_table(arg["table"]).current_snapshot().snapshot_id}
    if op == "expire":
        t = cat.load_table(arg["table"])
        current = t.current_snapshot().snapshot_id
        old = [s.snapshot_id for s in t.snapshots() if s.snapshot_id != current]
        t.maintenance.expire_snapshots().by_ids(old).commit()
        return {"expired": old}
    if op == "add_column":
        from pyiceberg.types import StringType
        with t.update_schema() as u:
            u.add_column(arg["name"], StringType())
        return {"added": True}
    if op == "rename":
        with t.update_schema() as u:
            u.rename_column(arg["from"], arg["to"])
        return {"renamed": True}
    if op == "counts":
        col = cat.load_table(arg["table"]).scan().to_arrow().column(arg.get("column", "user_id"))
        return {i: pc.sum(pc.equal(col, i)).as_py() or 0 for i in arg["ids"]}
    if op == "snapshots":
        t = cat.load_table(arg["table"])
        return {"location": t.location(),
                "snapshots": [[s.snapshot_id, s.timestamp_ms] for s in t.snapshots()],
                "current": t.current_snapshot().snapshot_id}
    raise SystemExit(f"unknown op {op}")


result = main(json.loads(sys.argv[1]))
sys.stdout.write(json.dumps(result))
sys.stdout.flush()
os._exit(0)

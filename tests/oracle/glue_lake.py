"""Builds a Glue-catalogued lake in a moto server with the real writers: boto3 for S3 and
the Glue catalog (create_database, create_table, batch_create_partition), pyarrow for
Hive tables' Parquet files, pyiceberg for an Iceberg table, registered in Glue by
table_type = ICEBERG and metadata_location, deltalake for a Delta table registered by
Spark's provider parameter.

Argument: JSON {"endpoint": URL, "dir": scratch directory}. Prints the expected answers
the files themselves give (pyarrow over what was uploaded, pyiceberg's own scan):
{"events": {subject: rows}, "users": {...}, "orders_live": {...},
 "orders_in_storage": {...}, "profiles_live": {...}}."""
import json
import os
import sys

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

arg = json.loads(sys.argv[1])
url, scratch = arg["endpoint"], arg["dir"]
kw = dict(endpoint_url=url, region_name="us-east-1",
          aws_access_key_id="test", aws_secret_access_key="test")
s3 = boto3.client("s3", **kw)
glue = boto3.client("glue", **kw)
for b in ["lake", "archive"]:
    s3.create_bucket(Bucket=b)

SUBJECTS = ["u1", "u2", "u3"]


def put_parquet(bucket, key, ids):
    path = os.path.join(scratch, bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table({"user_id": ids, "amount": list(range(len(ids)))}), path)
    s3.upload_file(path, bucket, key)
    return {s: ids.count(s) for s in SUBJECTS}


def add(total, counts):
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


PARQUET_SD = {
    "Columns": [{"Name": "user_id", "Type": "string"}, {"Name": "amount", "Type": "bigint"}],
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary":
                  "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}

glue.create_database(DatabaseInput={"Name": "silver_private"})

# A Hive table partitioned by dt. Partition 01 lies where Hive puts it, 02 in another
# bucket, 03 below the table but not under dt=...; a stray file below the table is in no
# registered partition (a crawler or MSCK REPAIR would add it back).
events = {}
add(events, put_parquet("lake", "silver_private/events/dt=2026-01-01/part-0.parquet",
                        ["u1", "a", "b"]))
add(events, put_parquet("archive", "old/events-0102/000000_0", ["u1", "c"]))
add(events, put_parquet("lake", "silver_private/events/2026/01/03/part-0.parquet",
                        ["u2", "u2", "d"]))
add(events, put_parquet("lake", "silver_private/events/stray/part-0.parquet", ["u3"]))
glue.create_table(DatabaseName="silver_private", TableInput={
    "Name": "events", "TableType": "EXTERNAL_TABLE",
    "StorageDescriptor": dict(PARQUET_SD, Location="s3://lake/silver_private/events/"),
    "PartitionKeys": [{"Name": "dt", "Type": "string"}],
    "Parameters": {"classification": "parquet"},
})
glue.batch_create_partition(DatabaseName="silver_private", TableName="events",
                            PartitionInputList=[
    {"Values": ["2026-01-01"], "StorageDescriptor": dict(
        PARQUET_SD, Location="s3://lake/silver_private/events/dt=2026-01-01/")},
    {"Values": ["2026-01-02"], "StorageDescriptor": dict(
        PARQUET_SD, Location="s3a://archive/old/events-0102")},
    {"Values": ["2026-01-03"], "StorageDescriptor": dict(
        PARQUET_SD, Location="s3://lake/silver_private/events/2026/01/03/")},
])

# An unpartitioned Hive table.
users = put_parquet("lake", "silver_private/users/part-0.parquet", ["u2", "e"])
glue.create_table(DatabaseName="silver_private", TableInput={
    "Name": "users", "TableType": "EXTERNAL_TABLE",
    "StorageDescriptor": dict(PARQUET_SD, Location="s3://lake/silver_private/users"),
})

# A view: no rows of its own.
glue.create_table(DatabaseName="silver_private", TableInput={
    "Name": "v_events", "TableType": "VIRTUAL_VIEW",
    "ViewOriginalText": "SELECT * FROM events",
    "StorageDescriptor": {"Columns": PARQUET_SD["Columns"]},
})

# An Iceberg table written by pyiceberg (SQL catalog on SQLite; pyarrow's S3 multipart
# uploads do not complete against moto), uploaded to S3 and registered in Glue as Athena
# registers one: table_type = ICEBERG and metadata_location. Append, then delete u1: the
# row is gone for every reader and its bytes stay in storage for time travel. The
# metadata holds the local paths it was written under; vouch places them by the
# metadata's own location, as for tables written on another machine.
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo

wh = os.path.join(scratch, "warehouse")
os.makedirs(wh, exist_ok=True)
cat = SqlCatalog("local", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}")
cat.create_namespace("silver_private")
rows = pa.table({"user_id": ["u1", "u1", "u3", "f"], "amount": [1, 2, 3, 4]})
table_dir = os.path.join(wh, "orders")
orders = cat.create_table("silver_private.orders", schema=rows.schema,
                          location=f"file://{table_dir}")
orders.append(rows)
orders.delete(EqualTo("user_id", "u1"))
orders = cat.load_table("silver_private.orders")
live = orders.scan().to_arrow()["user_id"].to_pylist()
in_storage = {s: 0 for s in SUBJECTS}
for root, _, files in os.walk(os.path.join(table_dir, "data")):
    for f in files:
        ids = pq.read_table(os.path.join(root, f))["user_id"].to_pylist()
        for s in SUBJECTS:
            in_storage[s] += ids.count(s)
for root, _, files in os.walk(table_dir):
    for f in files:
        path = os.path.join(root, f)
        s3.upload_file(path, "lake", "warehouse/orders/" + os.path.relpath(path, table_dir))
current = os.path.basename(orders.metadata_location)
glue.create_table(DatabaseName="silver_private", TableInput={
    "Name": "orders", "TableType": "EXTERNAL_TABLE",
    "Parameters": {"table_type": "ICEBERG",
                   "metadata_location": f"s3://lake/warehouse/orders/metadata/{current}"},
    "StorageDescriptor": {"Location": "s3://lake/warehouse/orders",
                          "Columns": PARQUET_SD["Columns"]},
})

# A Delta table written by deltalake (write, then delete u2: a remove action, the file
# stays for time travel), registered as Spark registers one: the provider, and the path
# in the SerDe's parameters with a placeholder location.
import deltalake

delta_dir = os.path.join(scratch, "profiles")
deltalake.write_deltalake(delta_dir, pa.table({"user_id": ["u2", "u3", "g"], "amount": [1, 2, 3]}))
deltalake.DeltaTable(delta_dir).delete("user_id = 'u2'")
profiles_live = deltalake.DeltaTable(delta_dir).to_pyarrow_table()["user_id"].to_pylist()
for root, _, files in os.walk(delta_dir):
    for f in files:
        path = os.path.join(root, f)
        s3.upload_file(path, "lake", "delta/profiles/" + os.path.relpath(path, delta_dir))
glue.create_table(DatabaseName="silver_private", TableInput={
    "Name": "profiles", "TableType": "EXTERNAL_TABLE",
    "Parameters": {"spark.sql.sources.provider": "delta"},
    "StorageDescriptor": {"Location": "s3://lake/silver_private/profiles-__PLACEHOLDER__",
                          "SerdeInfo": {"Parameters": {"path": "s3a://lake/delta/profiles"}}},
})

# A second database of tables vouch must refuse, each by name.
glue.create_database(DatabaseInput={"Name": "messy"})
glue.create_table(DatabaseName="messy", TableInput={
    "Name": "csv_logs", "TableType": "EXTERNAL_TABLE",
    "StorageDescriptor": {"Location": "s3://lake/messy/csv_logs/",
                          "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                          "SerdeInfo": {"SerializationLibrary":
                                        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"}},
})
glue.create_table(DatabaseName="messy", TableInput={
    "Name": "lost_iceberg", "TableType": "EXTERNAL_TABLE",
    "Parameters": {"table_type": "ICEBERG",
                   "metadata_location": "s3://lake/messy/lost/metadata/00009-x.metadata.json"},
    "StorageDescriptor": {"Location": "s3://lake/messy/lost"},
})
put_parquet("lake", "messy/fine/part-0.parquet", ["u1"])
glue.create_table(DatabaseName="messy", TableInput={
    "Name": "fine", "TableType": "EXTERNAL_TABLE",
    "StorageDescriptor": dict(PARQUET_SD, Location="s3://lake/messy/fine/"),
})

print(json.dumps({
    "events": events,
    "users": users,
    "orders_live": {s: live.count(s) for s in SUBJECTS},
    "orders_in_storage": in_storage,
    "profiles_live": {s: profiles_live.count(s) for s in SUBJECTS},
}))

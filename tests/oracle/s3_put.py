"""Sets up buckets on the test S3 server with boto3. Argument: JSON
{"endpoint": URL, "bucket": B, "lock": bool, "versioning": bool, "upload": [[DIR, PREFIX], ...], "objects": [...], "delete": [KEY, ...], "existing": bool}.
Creates the bucket (with Object Lock / versioning when asked), uploads every file
under each DIR to PREFIX/<relative path>, puts the single objects, then deletes the keys
of "delete" (on a versioned bucket: a delete marker on top). Prints {"objects": N}."""
import json
import os
import sys

import boto3

arg = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=arg["endpoint"], region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
kw = {"ObjectLockEnabledForBucket": True} if arg.get("lock") else {}
if not arg.get("existing"):
    s3.create_bucket(Bucket=arg["bucket"], **kw)
if arg.get("versioning"):
    s3.put_bucket_versioning(Bucket=arg["bucket"], VersioningConfiguration={"Status": "Enabled"})
n = 0
for directory, prefix in arg.get("upload", []):
    for root, _, files in os.walk(directory):
        for f in files:
            path = os.path.join(root, f)
            rel = os.path.relpath(path, directory)
            s3.upload_file(path, arg["bucket"], f"{prefix.strip('/')}/{rel}".lstrip("/"))
            n += 1
# Single objects, optionally locked for DAYS from now, and optionally deleted afterwards
# (a delete marker on top): {"key", "text", "mode": "COMPLIANCE"|"GOVERNANCE", "days", "delete"}.
import datetime
for o in arg.get("objects", []):
    kw = {}
    if o.get("mode"):
        kw = {"ObjectLockMode": o["mode"],
              "ObjectLockRetainUntilDate": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=o["days"])}
    s3.put_object(Bucket=arg["bucket"], Key=o["key"], Body=o["text"].encode(), **kw)
    if o.get("delete"):
        s3.delete_object(Bucket=arg["bucket"], Key=o["key"])
    n += 1
for key in arg.get("delete", []):
    s3.delete_object(Bucket=arg["bucket"], Key=key)
print(json.dumps({"objects": n}))

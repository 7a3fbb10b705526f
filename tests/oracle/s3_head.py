"""Reads an object's lock, legal hold, version and bytes back with boto3, independently of
vouch. Argument: JSON {"endpoint", "bucket", "key"}. Prints JSON."""
import hashlib
import json
import sys

import boto3

arg = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=arg["endpoint"], region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
h = s3.head_object(Bucket=arg["bucket"], Key=arg["key"])
body = s3.get_object(Bucket=arg["bucket"], Key=arg["key"])["Body"].read()
print(json.dumps({
    "mode": h.get("ObjectLockMode"),
    "retain_until": h["ObjectLockRetainUntilDate"].strftime("%Y-%m-%dT%H:%M:%SZ") if h.get("ObjectLockRetainUntilDate") else None,
    "legal_hold": h.get("ObjectLockLegalHoldStatus"),
    "version_id": h.get("VersionId"),
    "sha256": hashlib.sha256(body).hexdigest(),
}))

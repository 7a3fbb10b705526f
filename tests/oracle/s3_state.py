"""What a bucket holds, read with boto3: every object version's key and the multipart uploads
still open. Argument: JSON {"endpoint", "bucket"}. Prints {"keys": [...], "multipart_uploads": N}."""
import json
import sys

import boto3

arg = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=arg["endpoint"], region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
keys = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=arg["bucket"]):
    keys += [v["Key"] for v in page.get("Versions", [])]
uploads = s3.list_multipart_uploads(Bucket=arg["bucket"]).get("Uploads", [])
print(json.dumps({"keys": sorted(keys), "multipart_uploads": len(uploads)}))

"""Reads the Kubernetes manifests and AWS Batch job definitions in contrib/ and prints,
per platform, each step's shell script, its plain environment values, how many copies run
and which variable carries a copy's index: what tests/shard.rs runs as local processes."""
import glob
import json
import os
import sys

import yaml

root = json.loads(sys.argv[1])["root"]
out = {"kubernetes": [], "aws-batch": []}
for path in sorted(glob.glob(os.path.join(root, "contrib/kubernetes/*.yaml"))):
    doc = yaml.safe_load(open(path))
    if doc["kind"] != "Job":
        continue
    spec = doc["spec"]
    c = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
    indexed = spec.get("completionMode") == "Indexed"
    out["kubernetes"].append({
        "job": doc["metadata"]["name"],
        "script": c["command"][2] if c["command"][:2] == ["/bin/sh", "-c"] else None,
        "env": env,
        "count": spec.get("completions", 1),
        "index_var": "JOB_COMPLETION_INDEX" if indexed else None,
    })
for name in ["vouch-plan", "vouch-scan", "vouch-merge"]:
    d = json.load(open(os.path.join(root, "contrib/aws-batch", name + ".json")))
    c = d["containerProperties"]
    env = {e["name"]: e["value"] for e in c["environment"]}
    array = name == "vouch-scan"
    out["aws-batch"].append({
        "job": d["jobDefinitionName"],
        "script": c["command"][2] if c["command"][:2] == ["/bin/sh", "-c"] else None,
        "env": env,
        "count": int(env["SHARDS"]) if array else 1,
        "index_var": "AWS_BATCH_JOB_ARRAY_INDEX" if array else None,
    })
print(json.dumps(out))

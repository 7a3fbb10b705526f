"""Validates vouch's JSON outputs against docs/schemas/ with the PyPI `jsonschema`
validator (draft 2020-12; `$ref`s between the schema files resolved locally). Argument:
{"schemas": DIR, "items": [{"schema": NAME, "file": PATH, "lines": bool}]}; prints
{"errors": ["PATH[:LINE]: NAME: message", ...], "checked": N}."""
import glob
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource

arg = json.loads(sys.argv[1])
resources = []
schemas = {}
for p in glob.glob(os.path.join(arg["schemas"], "*.schema.json")):
    s = json.load(open(p))
    jsonschema.Draft202012Validator.check_schema(s)
    name = os.path.basename(p)[: -len(".schema.json")]
    schemas[name] = s
    resources.append((os.path.basename(p), Resource.from_contents(s)))
    resources.append((s["$id"], Resource.from_contents(s)))
registry = Registry().with_resources(resources)
errors, checked = [], 0
for item in arg["items"]:
    v = jsonschema.Draft202012Validator(schemas[item["schema"]], registry=registry)
    text = open(item["file"]).read()
    docs = ([(i + 1, l) for i, l in enumerate(text.splitlines()) if l.strip()]
            if item.get("lines") else [(None, text)])
    for line, doc in docs:
        checked += 1
        where = item["file"] + (f":{line}" if line else "")
        try:
            value = json.loads(doc)
        except ValueError as e:
            errors.append(f"{where}: not JSON: {e}")
            continue
        for e in v.iter_errors(value):
            path = "/".join(str(x) for x in e.absolute_path)
            errors.append(f"{where}: {item['schema']}: {path}: {e.message[:200]}")
print(json.dumps({"errors": errors, "checked": checked}))

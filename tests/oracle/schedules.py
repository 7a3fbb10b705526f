"""Reads the scheduling examples in contrib/scheduling/ (the Kubernetes CronJob, the
GitHub Actions workflow, the Airflow DAG, parsed without Airflow: its module's AST) and
prints what tests/scheduling.rs checks and runs: each one's nightly command line (with
Airflow's `{{ data_interval_end | ds }}` and `| ts }}` rendered as the given night and time), plain environment
values, and the settings that decide how exit codes and secrets are handled."""
import ast
import json
import os
import sys

import yaml

args = json.loads(sys.argv[1])
root, night, as_of = args["root"], args["night"], args["as_of"]
d = os.path.join(root, "contrib/scheduling")
out = {}

cron = yaml.safe_load(open(os.path.join(d, "kubernetes-cronjob.yaml")))
job = cron["spec"]["jobTemplate"]["spec"]
pod = job["template"]["spec"]
c = pod["containers"][0]
secret = next(v["secret"] for v in pod["volumes"] if "secret" in v)
out["kubernetes"] = {
    "kind": cron["kind"],
    "script": c["command"][2] if c["command"][:2] == ["/bin/sh", "-c"] else None,
    "env": {e["name"]: e["value"] for e in c.get("env", []) if "value" in e},
    "rules": [
        {"action": r["action"], "codes": r["onExitCodes"]["values"],
         "container": r["onExitCodes"]["containerName"]}
        for r in job["podFailurePolicy"]["rules"]
    ],
    "container": c["name"],
    "restart_policy": pod["restartPolicy"],
    "secret_mode": secret.get("defaultMode"),
    "fs_group": pod["securityContext"].get("fsGroup"),
    "run_as_user": pod["securityContext"].get("runAsUser"),
    "concurrency": cron["spec"].get("concurrencyPolicy"),
}

wf = yaml.safe_load(open(os.path.join(d, "github-actions.yml")))
gjob = wf["jobs"]["nightly"]
steps = [s for s in gjob["steps"] if "run" in s]
out["github"] = {
    "schedule": wf[True]["schedule"][0]["cron"] if True in wf else wf["on"]["schedule"][0]["cron"],
    "env": gjob.get("env", {}),
    "steps": [{"name": s["name"], "run": s["run"],
               "env": {k: v for k, v in s.get("env", {}).items() if "${{" not in str(v)},
               "secret_env": sorted(k for k, v in s.get("env", {}).items() if "secrets." in str(v))}
              for s in steps],
    "upload_always": any(s.get("if") == "always()" and "upload-artifact" in s.get("uses", "")
                         for s in gjob["steps"]),
}

tree = ast.parse(open(os.path.join(d, "airflow_dag.py")).read())
consts = {}
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        try:
            consts[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            pass
op = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
          and getattr(n.func, "id", None) == "BashOperator")
kw = {k.arg: k.value for k in op.keywords}
def value(v):
    return consts[v.id] if isinstance(v, ast.Name) else ast.literal_eval(v)
out["airflow"] = {
    "script": value(kw["bash_command"])
    .replace("{{ data_interval_end | ds }}", night)
    .replace("{{ data_interval_end | ts }}", as_of),
    "env": value(kw["env"]),
    "append_env": value(kw["append_env"]),
    "retries": value(kw["retries"]),
}
print(json.dumps(out))

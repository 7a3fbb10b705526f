"""Runs vouch's metric definitions (queries/*.sql) in DuckDB, as an independent engine.
Argument: JSON {"metric": "incidents"|"dsar"|"changes"|"jobs"|"costs", "input": CSV, "as_of":
TIMESTAMP, "holidays": [YYYY-MM-DD, ...], "by_month": bool, "cycles": {dataset: seconds}}. The CSV's times carry no zone (UTC).
Prints the figures in the shape of `vouch metrics --format json`: overall at the top level,
by_severity / by_type / by_impact, by_month."""
import datetime
import json
import os
import sys

import duckdb

arg = json.loads(sys.argv[1])
queries = os.path.join(os.path.dirname(__file__), "..", "..", "queries")
metric = arg["metric"]
table, by, facts_name, id_col, by_key, lists = {
    "incidents": ("data_incident", "severity", "incident_facts", "incident_id", "by_severity",
                  {"unacknowledged": "tta_seconds IS NULL", "missing_postmortem": "postmortem = 'missing'"}),
    "dsar": ("dsar_request", "request_type", "dsar_facts", "request_id", "by_type",
             {"overdue": "overdue", "at_risk": "at_risk", "receipt_late": "receipt_late"}),
    "changes": ("governance_change_log", "impact", "change_facts", "change_id", "by_impact",
                {"late": "late", "pending": "pending", "escalations": "escalate"}),
    "jobs": ("analytics_job_run", "job", "job_facts", "run_id", "by_job",
             {"unrecovered": "unrecovered"}),
    "costs": ("cost_anomaly", "service", "cost_facts", "anomaly_id", "by_service",
              {"over_budget_80": "over_budget_80", "unlogged": "unlogged",
               "open_anomalies": "open"}),
}[metric]
# The column each grouping takes its value from (the grouping's name unless said here).
by_column = {"job": "job_name"}.get(by, by)
times = {"detected_at", "mitigated_at", "start_at", "acknowledged_at", "end_at", "postmortem_at", "received_at", "completed_at",
         "submitted_at", "reviewed_at", "scheduled_at", "started_at", "ended_at"}
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
raw = con.sql(f"SELECT * FROM read_csv('{arg['input']}', all_varchar = true, header = true)")
cols = []
for c in raw.columns:
    if c in times:
        cols.append(f"CAST(NULLIF({c}, '') AS TIMESTAMP) AS {c}")
    elif c in ("cost_usd", "expected_usd", "budget_used_pct"):
        cols.append(f"CAST(NULLIF({c}, '') AS DOUBLE) AS {c}")
    elif c == "extended":
        cols.append(f"CAST(NULLIF({c}, '') AS BOOLEAN) AS {c}")
    else:
        cols.append(f"NULLIF({c}, '') AS {c}")
if metric == "dsar":
    # Newer columns a table may lack.
    if "jurisdiction" not in raw.columns:
        cols.append("CAST(NULL AS VARCHAR) AS jurisdiction")
    if "acknowledged_at" not in raw.columns:
        cols.append("CAST(NULL AS TIMESTAMP) AS acknowledged_at")
con.execute(f"CREATE TABLE {table} AS SELECT {', '.join(cols)} FROM raw")
con.execute(f"CREATE TABLE params AS SELECT CAST('{arg['as_of']}' AS TIMESTAMP) AS as_of, "
            "FALSE AS incidents_checked")
if metric == "costs":
    con.execute("CREATE TABLE data_incident (incident_id VARCHAR)")
if metric == "jobs":
    con.execute("CREATE TABLE dataset_cycles (dataset VARCHAR, cycle_seconds DOUBLE)")
    for k, v in arg.get("cycles", {}).items():
        con.execute("INSERT INTO dataset_cycles VALUES (?, ?)", [k, v])
if metric == "dsar":
    rules = arg.get("dsar_rules") or {
        "gdpr": [1, 0, 2, 0, None], "ccpa": [0, 45, 0, 45, 10], "lgpd": [0, 15, 0, 0, None]}
    con.execute("CREATE TABLE dsar_rules (jurisdiction VARCHAR, months BIGINT, days BIGINT, "
                "extension_months BIGINT, extension_days BIGINT, receipt_business_days BIGINT)")
    for k, v in rules.items():
        con.execute("INSERT INTO dsar_rules VALUES (?, ?, ?, ?, ?, ?)", [k] + v)
if metric in ("changes", "dsar"):
    # The business calendar, independently of vouch: every day from the first submission
    # (receipt) until well after the last, numbered by business days so far.
    at, source = {"changes": ("submitted_at", "governance_change_log"),
                  "dsar": ("received_at", "dsar_request")}[metric]
    first, last = con.execute(
        f"SELECT MIN(CAST({at} AS DATE)), MAX(CAST({at} AS DATE)) FROM {source}").fetchone()
    holidays = {datetime.date.fromisoformat(h) for h in arg.get("holidays", [])}
    rows, n = [], 0
    if first is not None:
        day = first
        while day <= last + datetime.timedelta(days=30):
            business = day.weekday() < 5 and day not in holidays
            n += business
            rows.append((day, n, business))
            day += datetime.timedelta(days=1)
    con.execute("CREATE TABLE business_calendar (day DATE, business_days BIGINT, is_business_day BOOLEAN)")
    if rows:
        con.executemany("INSERT INTO business_calendar VALUES (?, ?, ?)", rows)


def sql(name):
    with open(os.path.join(queries, name)) as f:
        return f.read()


con.execute(f"CREATE TABLE facts AS {sql(metric + '.sql')}")
parts = ["SELECT *, 'all' AS grp_kind, 'all' AS grp FROM facts",
         f"SELECT *, '{by}' AS grp_kind, CAST({by_column} AS VARCHAR) AS grp FROM facts"]
if metric == "dsar":
    parts.append("SELECT *, 'jurisdiction' AS grp_kind, jurisdiction AS grp FROM facts")
if arg.get("by_month"):
    parts.append("SELECT *, 'month' AS grp_kind, month AS grp FROM facts")
con.execute(f"CREATE TABLE {facts_name} AS " + " UNION ALL ".join(parts))
summary = con.sql(sql(metric + "_summary.sql"))
names = summary.columns
groups = {}
for row in summary.fetchall():
    r = dict(zip(names, row))
    key = (r.pop("grp_kind"), r.pop("grp") if r["grp"] is not None else "(none)")
    r.pop("grp", None)
    for k in ("overdue_count", "at_risk_count", "late_count", "pending_count", "escalation_count",
              "receipt_late_count"):
        r.pop(k, None)
    for name in lists:
        r[name] = []
    groups[key] = r
for name, cond in lists.items():
    for kind, grp, ident in con.execute(
            f"SELECT grp_kind, grp, {id_col} FROM {facts_name} WHERE {cond} ORDER BY {id_col}").fetchall():
        groups[(kind, grp if grp is not None else "(none)")][name].append(ident)
out = dict(groups.get(("all", "all"), {}))
out[by_key] = {g: f for (k, g), f in groups.items() if k == by}
if arg.get("by_month"):
    out["by_month"] = {g: f for (k, g), f in groups.items() if k == "month"}
if metric == "dsar":
    out["by_jurisdiction"] = {g: f for (k, g), f in groups.items() if k == "jurisdiction"}
if metric == "jobs":
    stale, notify, unknown = [], [], []
    for dataset, last, cycle, missed in con.execute(
            "SELECT dataset, strftime(last_success, '%Y-%m-%dT%H:%M:%SZ'), cycle_seconds, missed_cycles "
            "FROM (" + sql("jobs_datasets.sql") + ")").fetchall():
        if cycle is None or missed is None:
            unknown.append(dataset)
        elif missed >= 1:
            stale.append({"dataset": dataset, "last_success": last, "cycle_seconds": float(cycle),
                          "missed_cycles": missed})
            if missed > 1:
                notify.append(dataset)
    out.update(stale_datasets=stale, notify_required=notify, cycle_unknown=unknown)
print(json.dumps(out, default=float))

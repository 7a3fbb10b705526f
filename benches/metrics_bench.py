#!/usr/bin/env python3
"""Metrics benchmark: `vouch metrics incidents|dsar|changes|jobs|costs` on generated tables of a
million rows each, against DuckDB running the same queries/ on the same CSV, in the same
run; both timed as whole commands (start-up, reading the CSV, the SQL, the output).

  python3 benches/metrics_bench.py                  # 1,000,000 rows per table
  python3 benches/metrics_bench.py --scale smoke    # CI: 20,000 rows, 1 run

Target: each vouch command under 2 s at 1,000,000 rows. The figures of both engines must
agree (tests/oracle/duckdb_metrics.py runs DuckDB).
"""
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = {"smoke": (20_000, 1), "default": (1_000_000, 3)}
AS_OF = "2026-11-27 00:00:00"


def ts(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def generate(metric, rows, path):
    rng = random.Random(7)
    base = 1_672_531_200  # 2023-01-01
    with open(path, "w") as f:
        if metric == "incidents":
            f.write("incident_id,severity,start_at,acknowledged_at,end_at,postmortem_at\n")
            for i in range(rows):
                s = base + rng.randrange(4 * 365 * 86400)
                a = ts(s + rng.randrange(900)) if rng.random() < 0.9 else ""
                e = s + rng.randrange(86400) if rng.random() < 0.9 else None
                p = ts(e + rng.randrange(4 * 86400)) if e is not None and rng.random() < 0.7 else ""
                f.write(f"i{i:07d},sev{rng.randrange(1, 4)},{ts(s)},{a},{ts(e) if e is not None else ''},{p}\n")
        elif metric == "dsar":
            f.write("request_id,subject_id,request_type,received_at,extended,completed_at,status\n")
            for i in range(rows):
                r = base + rng.randrange(4 * 365 * 86400)
                c = ts(r + rng.randrange(40 * 86400)) if rng.random() < 0.8 else ""
                f.write(f"r{i:07d},s{i},{rng.choice(['access', 'delete'])},{ts(r)},"
                        f"{rng.choice(['true', 'false'])},{c},x\n")
        elif metric == "costs":
            f.write("anomaly_id,detected_at,service,resource,cost_usd,expected_usd,budget_used_pct,"
                    "mitigated_at,mitigation,incident_id\n")
            for i in range(rows):
                d = base + rng.randrange(4 * 365 * 86400)
                m = ts(d + rng.randrange(86400)) if rng.random() < 0.8 else ""
                inc = rng.choice(["INC-1", "", "INC-2"])
                f.write(f"a{i:07d},{ts(d)},{rng.choice(['athena', 's3', 'quicksight'])},r{i % 97},"
                        f"{rng.randrange(100000) / 100},{rng.randrange(100000) / 100},"
                        f"{rng.choice(['0.5', '0.8', '0.81', '0.95'])},{m},fix,{inc}\n")
        elif metric == "jobs":
            f.write("run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at\n")
            for i in range(rows):
                job = rng.randrange(200)
                sch = base + rng.randrange(4 * 365 * 86400)
                status = rng.choice(["success"] * 6 + ["failed", "running", "cancelled"])
                kind = rng.choice(["transform", "refresh", "backfill", "purge"])
                start = sch + rng.randrange(600) if status != "cancelled" else None
                end = start + rng.randrange(7200) if status in ("success", "failed") else None
                o = lambda t: ts(t) if t is not None else ""
                f.write(f"j{i:07d},job{job},ds{job % 40},{kind},{status},{ts(sch)},{o(start)},{o(end)}\n")
        else:
            f.write("change_id,impact,submitted_at,reviewed_at\n")
            for i in range(rows):
                s = base + rng.randrange(4 * 365 * 86400)
                r = ts(s + rng.randrange(5 * 86400)) if rng.random() < 0.9 else ""
                f.write(f"c{i:07d},{rng.choice(['low', 'medium', 'high', 'regulatory'])},{ts(s)},{r}\n")


def timed(cmd):
    """Runs cmd; returns (wall seconds, its JSON output, its peak RSS in MB)."""
    out, err, code, wall, rss = scan_bench.run_child(cmd)
    if code != 0:
        sys.exit(f"{cmd[0]} failed: {err.decode()[:300]}")
    return wall, json.loads(out), rss


def main():
    args = scan_bench.bench_args(__doc__, SCALES)
    rows, runs = SCALES[args.scale]
    data = os.path.join(args.dir, f"metrics-{args.scale}")
    os.makedirs(data, exist_ok=True)
    oracle = os.path.join(ROOT, "tests/oracle/duckdb_metrics.py")
    print(f"scale {args.scale}: {rows:,} rows per table, median of {runs} run(s)")
    print(f"  {'metric':<10} {'vouch s':>8} {'DuckDB s':>9} {'DuckDB/vouch':>13} {'vouch MB':>9}")
    for metric in ["incidents", "dsar", "changes", "jobs", "costs"]:
        path = os.path.join(data, f"{metric}.csv")
        if not os.path.exists(path):
            generate(metric, rows, path + ".tmp")
            os.replace(path + ".tmp", path)
        v_times, d_times = [], []
        for _ in range(runs):
            t, got, rss = timed([args.vouch, "metrics", metric, "--input", path, "--as-of", AS_OF,
                            "--by", "month", "--format", "json"])
            v_times.append(t)
            t, want, _ = timed([sys.executable, oracle, json.dumps(
                {"metric": metric, "input": path, "as_of": AS_OF, "by_month": True})])
            d_times.append(t)
        for k, w in want.items():
            g = got.get(k)
            if isinstance(w, float) and isinstance(g, float):
                if abs(g - w) > 1e-9 * max(abs(g), abs(w), 1.0):
                    sys.exit(f"FAILED: {metric}.{k}: vouch {g}, DuckDB {w}")
            elif isinstance(w, (int, list)) and g != w:
                sys.exit(f"FAILED: {metric}.{k}: vouch and DuckDB disagree")
        v, d = statistics.median(v_times), statistics.median(d_times)
        print(f"  {metric:<10} {v:>8.3f} {d:>9.3f} {d / v:>12.2f}x {rss:>9.0f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Sharded scan benchmark: plan + N shards + merge against one `vouch scan`, and the
PySpark driver (contrib/spark) in local mode, on the benchmark lake without bloom filters
(the lakes of benches/scan_bench.py, generated if missing).

- single: `vouch scan` with one thread per core;
- sharded: `vouch scan plan`, then N `vouch scan --files-from plan --shard I/N` processes,
  as many at a time as there are cores (one thread each), then `vouch scan merge`; the
  overhead is the whole sequence's wall time against the single scan (target at N=2:
  under 10%);
- Spark: `contrib/spark/vouch_spark.py --master local[2]` (JVM start included).

  python3 benches/shard_bench.py                  # default scale: 41.5M rows
  python3 benches/shard_bench.py --scale small    # 4M rows
  python3 benches/shard_bench.py --scale smoke    # CI: 200k rows, 1 run

Every merged report must be byte-identical to the single scan's JSON report, and its
per-table residual counts equal DuckDB's (exit 1 otherwise).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "shard-benchmark-subject-key"


def timed(cmd, ok=(0, 1)):
    out, err, code, wall, rss = scan_bench.run_child(cmd)
    if code not in ok:
        sys.exit(f"{' '.join(cmd[:3])} failed ({code}): {err.decode()}")
    return wall, out


def sharded(vouch, lake, ids, work, n, cores):
    """plan + n shards (cores at a time) + merge: (seconds per step, merged JSON)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    plan = os.path.join(work, "plan.jsonl")
    t0 = time.perf_counter()
    plan_t, _ = timed([vouch, "scan", "plan", "--lake", lake, "--out", plan, "--force"], ok=(0,))
    t1 = time.perf_counter()
    parts = [os.path.join(work, f"part-{i}.json") for i in range(n)]
    running = []
    for i in range(n):
        if len(running) == cores:
            p = running.pop(0)
            if p.wait() not in (0, 1):
                sys.exit(f"shard failed: {p.stderr.read().decode()}")
        running.append(subprocess.Popen(
            [vouch, "scan", "--lake", lake, "--ids", ids, "--files-from", plan,
             "--shard", f"{i}/{n}", "--threads", "1", "--out", parts[i], "--force", "-q"],
            stderr=subprocess.PIPE))
    for p in running:
        if p.wait() not in (0, 1):
            sys.exit(f"shard failed: {p.stderr.read().decode()}")
    t2 = time.perf_counter()
    merge_t, merged = timed([vouch, "scan", "merge", *parts, "--plan", plan, "--format", "json"])
    t3 = time.perf_counter()
    return (plan_t, t2 - t1, merge_t, t3 - t0), merged


def main():
    args = scan_bench.bench_args(__doc__, scan_bench.SCALES)
    rows, runs = scan_bench.SCALES[args.scale]
    data = scan_bench.ensure_lake(args.vouch, args.dir, args.scale)
    os.environ["VOUCH_SUBJECT_KEY"] = KEY
    ids = os.path.join(data, "ids.txt")
    lake = os.path.join(data, "lake-plain")
    files = [os.path.join(d, f) for d, _, fs in os.walk(lake) for f in fs if f.endswith(".parquet")]
    size = sum(os.path.getsize(f) for f in files)
    cores = os.cpu_count() or 2
    work = tempfile.mkdtemp(prefix="vouch-shard-bench-")
    failed = False
    try:
        print(f"scale {args.scale}: {rows:,} rows, {len(files)} files, {size / 1e6:,.1f} MB, "
              f"{cores} cores, median of {runs} warm run(s)")
        single_cmd = [args.vouch, "scan", "--lake", lake, "--ids", ids, "--format", "json", "-q"]
        timed(single_cmd)
        singles = [timed(single_cmd) for _ in range(runs)]
        single_t = statistics.median(s[0] for s in singles)
        single = singles[-1][1]
        print(f"  single scan                        {single_t:8.3f} s  "
              f"{size / 1e6 / single_t:,.0f} MB/s, {rows / single_t / 1e6:,.1f}M rows/s")
        # What a scan fetches (the S3 bytes and GETs a shard costs), per lake variant.
        for variant, rep in [("plain", json.loads(single)),
                             ("bloom", json.loads(timed(single_cmd[:3] + [
                                 os.path.join(data, "lake-bloom")] + single_cmd[4:])[1]))]:
            vsize = sum(os.path.getsize(os.path.join(d, f))
                        for d, _, fs in os.walk(os.path.join(data, f"lake-{variant}")) for f in fs)
            rate = f", {rep['bytes_read'] / single_t / 1e9:.2f} GB/s fetched" if variant == "plain" else ""
            print(f"  {variant} lake: fetched {rep['bytes_read'] / 1e6:,.1f} MB = "
                  f"{100 * rep['bytes_read'] / vsize:.1f}% of {vsize / 1e6:,.0f} MB, "
                  f"{rep['read_requests']} read requests (S3 GETs){rate}")
        for n in (2, 8):
            d = os.path.join(work, f"n{n}")
            sharded(args.vouch, lake, ids, d, n, cores)
            results = [sharded(args.vouch, lake, ids, d, n, cores) for _ in range(runs)]
            steps = [statistics.median(r[0][k] for r in results) for k in range(4)]
            merged = results[-1][1]
            same = merged == single
            failed |= not same
            print(f"  N={n}: plan {steps[0]:.3f} s + {n} shards ({cores} at a time) {steps[1]:.3f} s "
                  f"+ merge {steps[2]:.3f} s = {steps[3]:.3f} s = {steps[3] / single_t:.3f}x single "
                  f"(overhead {100 * (steps[3] / single_t - 1):+.1f}%)  "
                  f"{'same report' if same else 'REPORT DIFFERS'}")
        # DuckDB as the independent oracle of the counts.
        _, _, duck = scan_bench.peer_run("duckdb-literals", lake, ids)
        mine = {t["table"]: t["residual_rows"] for t in json.loads(single)["tables"] if t["residual_rows"]}
        agree = mine == duck
        failed |= not agree
        print(f"  residual rows per table: vouch {mine}, DuckDB {duck}: {'agree' if agree else 'DISAGREE'}")
        # Spark local mode through the contrib driver.
        try:
            import pyspark  # noqa: F401
        except ImportError:
            sys.exit("pyspark is missing (scripts/test.sh installs it from PyPI)")
        d = os.path.join(work, "spark")
        os.makedirs(d)
        plan = os.path.join(d, "plan.jsonl")
        timed([args.vouch, "scan", "plan", "--lake", lake, "--out", plan, "--force"], ok=(0,))
        out = os.path.join(d, "report.json")
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, os.path.join(ROOT, "contrib/spark/vouch_spark.py"),
                            "--master", f"local[{cores}]", "--partitions", str(cores),
                            "--plan", plan, "--ids", ids, "--lake", lake, "--vouch", args.vouch,
                            "--parts-dir", os.path.join(d, "parts"), "--out", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        spark_t = time.perf_counter() - t0
        if r.returncode not in (0, 1) or not os.path.exists(out):
            print(r.stderr.decode()[-3000:], file=sys.stderr)
            sys.exit(f"the Spark driver failed ({r.returncode})")
        with open(out, "rb") as f:
            spark_report = f.read()
        # --out is pretty JSON without the trailing newline stdout has.
        same = json.loads(spark_report) == json.loads(single)
        failed |= not same
        split = [l for l in r.stderr.decode().splitlines() if l.startswith("vouch_spark:")]
        print(f"  Spark local[{cores}], {cores} partitions: {spark_t:.1f} s = {spark_t / single_t:.0f}x single "
              f"(JVM start and job included)  {'same report' if same else 'REPORT DIFFERS'}")
        if split:
            print(f"    {split[-1].split('; ', 1)[-1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED: a merged report differs from the single scan, or DuckDB disagrees")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

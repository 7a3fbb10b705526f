#!/usr/bin/env python3
"""Run a vouch deletion scan on Spark (EMR, Glue, Databricks, or local mode).

vouch stays the scanner; Spark only distributes the work:

1. the driver reads a plan made by `vouch scan plan` (one JSON line per file),
2. spreads its file lines over N partitions, balanced by bytes,
3. each task pipes its lines into `vouch scan --files-from -`, which prints a partial
   report (subjects only as keyed hashes),
4. the driver collects the parts, writes them to --parts-dir and runs
   `vouch scan merge`, which refuses unless every file of the plan is covered exactly
   once, and gives the same report one `vouch scan` would.

The exit code is merge's: 0 clean, 1 residual rows, 2 incomplete or refused.

    vouch scan plan --config vouch.toml --out plan.jsonl
    spark-submit contrib/spark/vouch_spark.py --plan plan.jsonl --ids ids.txt \\
        --config vouch.toml --parts-dir parts --out report.json

Executors need: the `vouch` binary at --vouch (install it in the image, or use
--ship-vouch to send the driver's copy), read access to the lake (a shared path or S3
credentials), the config at the same path, and the subject key (VOUCH_SUBJECT_KEY in
their environment or a key file the config names). The ID file is sent with
SparkContext.addFile; it is never logged.
"""

import argparse
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time


def balanced(lines, n):
    """Spreads plan file lines over n partitions by bytes (largest first to the lightest).

    Each line goes with its place in the plan: a task gives vouch its lines in the plan's
    order, so that the merge can stream the parts."""
    sized = sorted(((json.loads(line)["size"], i, line) for i, line in enumerate(lines)),
                   key=lambda s: (-s[0], s[1]))
    loads = [(0, k) for k in range(n)]  # a heap of (bytes, partition)
    out = []
    for size, i, line in sized:
        load, k = heapq.heappop(loads)
        heapq.heappush(loads, (load + max(size, 1), k))
        out.append((k, (i, line)))
    return out


def scan_partition(vouch, args, ids_name, ship_name):
    """The task: pipe this partition's lines through `vouch scan --files-from -`."""

    def run(index, rows):
        from pyspark import SparkFiles

        lines = [line for _, (_, line) in sorted(rows, key=lambda r: r[1][0])]
        binary = vouch
        if ship_name:
            binary = SparkFiles.get(ship_name)
            os.chmod(binary, 0o755)
        cmd = [binary, "scan", "--files-from", "-", "--ids", SparkFiles.get(ids_name), "-q"]
        cmd += args
        proc = subprocess.run(
            cmd,
            input="".join(line + "\n" for line in lines).encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # 0 and 1 are parts; 2 is a part too when one was printed (files that could not
        # be read are in it and make the merged report incomplete).
        part = proc.stdout.decode()
        if proc.returncode not in (0, 1, 2) or not part.strip().startswith("{"):
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(
                "vouch failed on partition %d (exit %d): %s"
                % (index, proc.returncode, err[-1] if err else "no output")
            )
        yield (index, len(lines), part)

    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", required=True, help="plan.jsonl from `vouch scan plan`")
    p.add_argument("--ids", required=True, help="subject ID file (sent to executors)")
    p.add_argument("--parts-dir", required=True, help="where the partial reports are written")
    p.add_argument("--out", help="the merged JSON report (default: stdout)")
    p.add_argument("--vouch", default="vouch", help="the vouch binary on the executors")
    p.add_argument("--ship-vouch", action="store_true",
                   help="send the driver's --vouch binary to the executors (SparkContext.addFile)")
    p.add_argument("--partitions", type=int, help="tasks (default: Spark's default parallelism)")
    p.add_argument("--threads", type=int, default=1,
                   help="vouch worker threads per task (default 1: Spark runs one task per core)")
    p.add_argument("--config", help="vouch.toml, at the same path on every executor")
    p.add_argument("--lake", help="the lake location (default: the config's)")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint")
    p.add_argument("--retention-policy", help="data_retention_policy table (legal holds)")
    p.add_argument("--master", help="Spark master when not run by spark-submit (e.g. local[2])")
    a = p.parse_args(argv)

    from pyspark.sql import SparkSession

    with open(a.plan, encoding="utf-8") as f:
        plan_lines = [l.rstrip("\n") for l in f if l.strip()]
    if not plan_lines or '"vouch_plan"' not in plan_lines[0]:
        print("vouch_spark: %s: not a plan from `vouch scan plan`" % a.plan, file=sys.stderr)
        return 2
    file_lines = plan_lines[1:]

    started = time.perf_counter()
    builder = SparkSession.builder.appName("vouch-scan")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    try:
        n = a.partitions or sc.defaultParallelism
        n = max(1, min(n, len(file_lines) or 1))
        sc.addFile(os.path.abspath(a.ids))
        ids_name = os.path.basename(a.ids)
        ship_name = None
        if a.ship_vouch:
            sc.addFile(os.path.abspath(a.vouch))
            ship_name = os.path.basename(a.vouch)
        args = ["--threads", str(a.threads)]
        for flag, value in [("--config", a.config), ("--lake", a.lake),
                            ("--endpoint-url", a.endpoint_url),
                            ("--retention-policy", a.retention_policy)]:
            if value:
                args += [flag, os.path.abspath(value) if flag in ("--config", "--retention-policy") else value]
        session = time.perf_counter() - started
        rdd = sc.parallelize(balanced(file_lines, n), n).partitionBy(n, lambda k: k)
        job_started = time.perf_counter()
        parts = rdd.mapPartitionsWithIndex(scan_partition(a.vouch, args, ids_name, ship_name)).collect()
        job = time.perf_counter() - job_started
    finally:
        spark.stop()

    os.makedirs(a.parts_dir, exist_ok=True)
    paths = []
    for index, count, text in sorted(parts):
        path = os.path.join(a.parts_dir, "part-%05d.json" % index)
        fd, tmp = tempfile.mkstemp(dir=a.parts_dir, prefix=".part-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        paths.append(path)
    print("vouch_spark: %d file(s) in %d part(s) -> %s; Spark session %.1f s, scan job %.2f s"
          % (len(file_lines), len(paths), a.parts_dir, session, job), file=sys.stderr)
    # The merge checks each part's authentication with the subject key (env or config).
    cmd = [a.vouch, "scan", "merge", *paths, "--plan", a.plan, "--format", "json"]
    if a.config:
        cmd += ["--config", os.path.abspath(a.config)]
    if a.out:
        cmd += ["--out", a.out, "--force"]
        merged = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    else:
        merged = subprocess.run(cmd)
    return merged.returncode


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A night of deletion verification on a growing lake, with the subject index against a
raw scan (issue 21: target under 5% of the raw scan, the same answer).

The lake is the scan benchmark's lake without bloom filters (benches/scan_bench.py,
generated if missing), hard-linked into a work directory. Last night's index is built
on it; then the lake grows by 1% of its files (files of the bloom-filter lake, the same
rows written again, under new names in the same partitions) and the night runs:

- the index brought up to date (`vouch index build`: it reads only the new files);
- the scan of the 1,000 subjects deleted on past nights (5 of them still in the lake) and
  5 new deletions (users whose rows are in the new files only) through the index.

Against it: one raw `vouch scan` of the grown lake for the same 1,005 subjects. Both
must give the same residual rows per table (exit 1 otherwise).

  python3 benches/nightly_bench.py [--scale smoke|small|default]
"""
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

KEY = "nightly-benchmark-subject-key"


def parquet_files(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".parquet"))


def main():
    args = scan_bench.bench_args(__doc__, scan_bench.SCALES)
    rows, runs = scan_bench.SCALES[args.scale]
    data = scan_bench.ensure_lake(args.vouch, args.dir, args.scale)
    os.environ["VOUCH_SUBJECT_KEY"] = KEY
    work = tempfile.mkdtemp(prefix="vouch-nightly-bench-")
    try:
        lake = os.path.join(work, "lake")
        plain = os.path.join(data, "lake-plain")
        for src in parquet_files(plain):
            dst = os.path.join(lake, os.path.relpath(src, plain))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(src, dst)
        base = os.path.join(work, "index-last-night")

        def vouch(*a, ok=(0,)):
            out, err, code, wall, rss = scan_bench.run_child([args.vouch, *a])
            if code not in ok:
                sys.exit(f"vouch {' '.join(a[:2])} failed ({code}): {err.decode()}")
            return out, wall, rss

        _, build_t, _ = vouch("index", "build", "--lake", lake, "--index", base, "--format", "json")
        # The lake grows by 1% of its files: rows of an existing file written again by
        # DuckDB, for new users (`new-` before each ID), under a new name.
        import duckdb
        con = duckdb.connect()
        files = parquet_files(lake)
        grow = max(1, math.ceil(len(files) / 100))
        new = []
        for i, src in enumerate(files[:grow]):
            dst = os.path.join(os.path.dirname(src), f"part-new-{i}.parquet")
            con.execute(f"COPY (SELECT * REPLACE ('new-' || user_id AS user_id) FROM "
                        f"read_parquet('{src}', hive_partitioning = false)) TO '{dst}' "
                        f"(FORMAT parquet, COMPRESSION zstd)")
            new.append(dst)
        # 5 new deletions: users whose rows are in the new files only.
        listed = ", ".join(f"'{p}'" for p in new)
        fresh = [r[0] for r in con.execute(
            f"SELECT DISTINCT user_id FROM read_parquet([{listed}], hive_partitioning = false) "
            f"ORDER BY user_id LIMIT 5").fetchall()]
        ids = os.path.join(work, "night.txt")
        with open(os.path.join(data, "ids.txt")) as past, open(ids, "w") as f:
            f.write(past.read())
            f.write("".join(f"{u}\n" for u in fresh))

        def raw():
            out, wall, rss = vouch("scan", "--lake", lake, "--ids", ids, "--format", "json", "-q", ok=(0, 1))
            return wall, json.loads(out)

        index = os.path.join(work, "index")

        def night():
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(base, index)
            out, upkeep, _ = vouch("index", "build", "--lake", lake, "--index", index, "--format", "json")
            summary = json.loads(out)
            out, scan, _ = vouch("scan", "--lake", lake, "--ids", ids, "--index", index,
                                 "--format", "json", "-q", ok=(0, 1))
            return upkeep + scan, (upkeep, scan, summary, json.loads(out))

        def median(fn):
            fn()
            done = [fn() for _ in range(runs)]
            return statistics.median(d[0] for d in done), done[-1][1]

        raw_t, raw_rep = median(raw)
        night_t, (upkeep_t, scan_t, summary, rep) = median(night)
        counts = lambda r: {t["table"]: t["residual_rows"] for t in r["tables"] if t["residual_rows"]}
        if counts(rep) != counts(raw_rep) or rep["errors"] or raw_rep["errors"]:
            sys.exit(f"FAILED: through the index {counts(rep)}, raw {counts(raw_rep)}")
        if summary["indexed"] != len(new):
            sys.exit(f"FAILED: the upkeep indexed {summary['indexed']} files, {len(new)} are new")
        rg = rep["row_groups"]
        print(f"scale {args.scale}: {rows:,} rows in {len(files)} files, grown by {len(new)} file(s); "
              f"1,005 IDs (1,000 past, 5 new); median of {runs}")
        print(f"  raw scan of the grown lake     {raw_t:8.3f} s   {sum(counts(raw_rep).values())} residual rows")
        print(f"  night through the index        {night_t:8.3f} s   {100 * night_t / raw_t:5.1f}% of the raw scan (target < 5%)")
        print(f"    index upkeep ({summary['indexed']} new file(s))  {upkeep_t:8.3f} s   "
              f"(last night's build from scratch: {build_t:.3f} s)")
        read = rg["total"] - rg["skipped_by_index"]
        print(f"    scan with the index          {scan_t:8.3f} s   {rg['skipped_by_index']} of {rg['total']} "
              f"row groups ruled out by the index; {read} read ({100 * read / rg['total']:.1f}%), "
              f"{len(new)} new file(s) and those holding rows of a subject")
        print("  the same residual rows per table as the raw scan")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

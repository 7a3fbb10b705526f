#!/usr/bin/env python3
"""Subject index benchmark, on the benchmark lake without bloom filters (the lakes of
benches/scan_bench.py, generated if missing), same run as DuckDB and Polars:

- index build from scratch against one raw `vouch scan` (target: at most 1.3x);
- index size against the lake (target: under 3%);
- verification of the 1,000 IDs with the index against the fastest peer (target: at
  least 20x faster) and against vouch's scan of the bloom-filter lake (target: within 2x);
- false-positive row groups (decoded without a match) against the design rate: each
  subject present in the lake passes a row group's 8-bit filter with probability 1/256.

  python3 benches/index_bench.py --scale small    # 4M rows
  python3 benches/index_bench.py                  # default scale: 41.5M rows
  python3 benches/index_bench.py --scale smoke    # CI: 200k rows, 1 run

Every engine must give the same per-table residual counts (exit 1 otherwise). vouch is
timed as a whole process, the peers around their query (imports excluded).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "index-benchmark-subject-key"


def median_run(fn, runs):
    fn()
    results = [fn() for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=scan_bench.SCALES, default="default")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--vouch", default=os.path.join(ROOT, "target/release/vouch"))
    args = ap.parse_args()
    rows, runs = scan_bench.SCALES[args.scale]
    data = scan_bench.ensure_lake(args.vouch, args.dir, args.scale)
    os.environ["VOUCH_SUBJECT_KEY"] = KEY
    ids = os.path.join(data, "ids.txt")
    plain = os.path.join(data, "lake-plain")
    bloom = os.path.join(data, "lake-bloom")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(plain) for f in fs)
    work = tempfile.mkdtemp(prefix="vouch-index-bench-")
    index = os.path.join(work, "index")
    try:
        def build():
            shutil.rmtree(index, ignore_errors=True)
            out, err, code, wall, rss = scan_bench.run_child(
                [args.vouch, "index", "build", "--lake", plain, "--index", index, "--format", "json"])
            if code != 0:
                sys.exit(f"index build failed: {err.decode()}")
            return wall, rss
        absent = os.path.join(work, "absent.txt")
        with open(absent, "w") as f:
            f.write("".join(f"absent-subject-{i:04d}\n" for i in range(1000)))

        def scan_with_index(id_file=ids):
            out, err, code, wall, rss = scan_bench.run_child(
                [args.vouch, "scan", "--lake", plain, "--ids", id_file, "--index", index, "--format", "json", "-q"])
            if code not in (0, 1):
                sys.exit(f"indexed scan failed: {err.decode()}")
            import json
            rep = json.loads(out)
            return wall, rep
        raw_t, raw = median_run(lambda: scan_bench.vouch_run(args.vouch, plain, ids), runs)
        build_t, (_, build_rss) = median_run(build, runs)
        index_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(index) for f in fs)
        ix_t, (_, rep) = median_run(scan_with_index, runs)
        ix_absent_t, (_, rep_absent) = median_run(lambda: scan_with_index(absent), runs)
        if rep_absent["residual_rows"] != 0 or rep_absent["row_groups"]["skipped_by_index"] != rep_absent["row_groups"]["total"]:
            sys.exit(f"FAILED: 1,000 absent IDs: {rep_absent['row_groups']}")
        bloom_t, bloom_r = median_run(lambda: scan_bench.vouch_run(args.vouch, bloom, ids), runs)
        want = raw[2]
        got = {t["table"]: t["residual_rows"] for t in rep["tables"] if t["residual_rows"]}
        if got != want or bloom_r[2] != want:
            sys.exit(f"FAILED: with the index {got}, without {want}, bloom lake {bloom_r[2]}")
        peers = {}
        for engine in ["duckdb-subquery", "duckdb-literals", "polars"]:
            t, r = median_run(lambda: scan_bench.peer_run(engine, plain, ids), runs)
            if r[2] != want:
                sys.exit(f"FAILED: {engine} counts {r[2]}, vouch {want}")
            peers[engine] = t
        fastest = min(peers, key=peers.get)
        rg = rep["row_groups"]
        decoded = rg["decoded"] + rg["skipped_by_dictionary"]
        with_rows = len({(r["table"], r["file"]) for r in rep["residuals"]})
        present = len({r["subject"] for r in rep["residuals"]})
        expected_fp = rg["total"] * (1 - (1 - 1 / 256) ** present)
        print(f"scale {args.scale}: {rows:,} rows, lake {size / 1e6:.1f} MB, {rg['total']} row groups, "
              f"1,000 IDs ({present} present), median of {runs}")
        print(f"  raw scan (no bloom filters)   {raw_t:8.3f} s")
        print(f"  index build from scratch      {build_t:8.3f} s   {build_t / raw_t:5.2f}x the raw scan (target <= 1.3x), "
              f"peak RSS {build_rss:.0f} MB")
        print(f"  index size                    {index_bytes / 1e6:8.2f} MB  {100 * index_bytes / size:5.2f}% of the lake (target < 3%)")
        print(f"  scan with the index           {ix_t:8.3f} s   {peers[fastest] / ix_t:5.1f}x faster than {fastest} "
              f"({peers[fastest]:.3f} s; target >= 20x)")
        print(f"  scan of the bloom-filter lake {bloom_t:8.3f} s   index/bloom {ix_t / bloom_t:4.2f}x (target <= 2x)")
        print(f"  scan with the index, 1,000 IDs none present {ix_absent_t:6.3f} s   (every row group ruled out)")
        for e, t in peers.items():
            print(f"    {e:<16} {t:8.3f} s")
        print(f"  row groups: {rg['skipped_by_index']} ruled out by the index, {decoded} read; "
              f"{with_rows} hold rows of a subject, so {max(decoded - with_rows, 0)} false positives "
              f"(design: {expected_fp:.1f} expected for {present} present subjects at 1/256)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

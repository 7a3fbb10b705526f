#!/usr/bin/env python3
"""Merge at scale: `vouch scan merge` of synthetic parts covering many files (issue 21).

  python3 benches/merge_bench.py                  # 1,000,000 files in 16 parts
  python3 benches/merge_bench.py --scale large    # 10,000,000 files in 100 parts
  python3 benches/merge_bench.py --scale smoke    # CI: 20,000 files in 8 parts

`vouch-fixtures parts` writes a plan of one Hive-partitioned table and the parts a sharded
scan of it would write (authenticated under the bench's subject key; every 997th file
holds 3 rows of one subject). vouch merges them with `--custody` (the per-file records
stream to the custody file; the report keeps totals and the complete residual list),
with peak RSS from GNU time. DuckDB reads the same parts (`read_json`, files unnested) and
counts files and matching rows: its counts must equal the merge's, and both the
generator's; the custody file must hold one record per file and match the digest the
report gives. Exit 1 otherwise. Targets at large scale: under 256 MB and 60 s. Last, the
time and peak RSS of one shard (`vouch scan --files-from plan.jsonl --shard 0/PARTS`)
cutting its files from the same plan, read twice as a stream.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

SCALES = {"smoke": (20_000, 8), "default": (1_000_000, 16), "large": (10_000_000, 100)}
KEY = "merge-benchmark-subject-key"

DUCKDB = r"""
import duckdb, json, sys
size, parts = int(sys.argv[1]), sys.argv[2:]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
    SELECT count(*), coalesce(sum(f.result.matching_rows), 0),
           count(*) FILTER (WHERE f.result.matching_rows > 0)
    FROM (SELECT unnest(files) AS f
          FROM read_json(?, maximum_object_size=%d, records=true,
                         columns={'files': 'STRUCT(file VARCHAR, result STRUCT(matching_rows UBIGINT))[]'}))
''' % size, [parts]).fetchone()
print(json.dumps({"files": rows[0], "residual_rows": int(rows[1]), "residual_files": rows[2]}))
"""


def sha256_lines(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            h.update(line)
            n += 1
    return h.hexdigest(), n


def main():
    args = scan_bench.bench_args(__doc__, SCALES)
    files, parts = SCALES[args.scale]
    work = os.path.join(args.dir, f"merge-{args.scale}")
    os.environ["VOUCH_SUBJECT_KEY"] = KEY
    made = os.path.join(work, "made.json")
    if not os.path.exists(made):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        print(f"writing {files:,} files in {parts} parts to {work} ...", file=sys.stderr)
        tool = scan_bench.fixtures_tool(os.path.dirname(args.vouch))
        out = subprocess.run([tool, "parts", work, str(files), str(parts)], check=True,
                             stdout=subprocess.PIPE).stdout
        with open(made + ".tmp", "wb") as f:
            f.write(out)
        os.replace(made + ".tmp", made)
    with open(made) as f:
        want = json.load(f)
    part_paths = [os.path.join(work, f"part-{k}.json") for k in range(parts)]
    report = os.path.join(work, "report.json")
    custody = os.path.join(work, "custody.jsonl")
    cmd = [args.vouch, "scan", "merge", *part_paths, "--plan", os.path.join(work, "plan.jsonl"),
           "--custody", custody, "--out", report, "--force", "--format", "json", "-q"]
    _, err, code, wall, rss = scan_bench.run_child(cmd)
    if code != 1:
        sys.exit(f"merge failed ({code}), expected 1 (residual rows): {err.decode()[-2000:]}")
    with open(report) as f:
        rep = json.load(f)
    digest, records = sha256_lines(custody)
    problems = []
    if rep["files_scanned"] != want["files"] or records != want["files"]:
        problems.append(f"files: report {rep['files_scanned']}, custody {records}, made {want['files']}")
    if rep["residual_rows"] != want["residual_rows"]:
        problems.append(f"residual rows: report {rep['residual_rows']}, made {want['residual_rows']}")
    if len(rep["residuals"]) != want["residual_files"]:
        problems.append(f"residual list: {len(rep['residuals'])} entries, made {want['residual_files']} files")
    if rep["custody"]["sha256"] != digest or rep["custody"]["records"] != records:
        problems.append("the custody file does not match the report's digest")
    out, err, dcode, dwall, drss = scan_bench.run_child(
        [sys.executable, "-c", DUCKDB, str(max(map(os.path.getsize, part_paths)) + 1024), *part_paths])
    if dcode != 0:
        problems.append(f"duckdb failed: {err.decode()[-500:]}")
    else:
        duck = json.loads(out)
        if (duck["files"], duck["residual_rows"], duck["residual_files"]) != (
                want["files"], want["residual_rows"], want["residual_files"]):
            problems.append(f"duckdb counts {duck} differ from the made lake's {want}")
    # One shard cut from the same plan file (read twice as a stream): the lake is empty, so
    # every file of the shard is an error (exit 2), which is not what is measured.
    empty = os.path.join(work, "empty-lake")
    os.makedirs(empty, exist_ok=True)
    ids = os.path.join(work, "ids.txt")
    with open(ids, "w") as f:
        f.write("subject-0\n")
    shard_part = os.path.join(work, "shard-0.json")
    _, err, scode, swall, srss = scan_bench.run_child(
        [args.vouch, "scan", "--lake", empty, "--ids", ids, "--files-from",
         os.path.join(work, "plan.jsonl"), "--shard", f"0/{parts}", "--out", shard_part,
         "--force", "-q"])
    if scode not in (0, 1, 2) or not os.path.exists(shard_part):
        problems.append(f"the shard failed ({scode}): {err.decode()[-500:]}")
        shard_files = 0
    else:
        with open(shard_part) as f:
            shard_files = len(json.load(f)["files"])
        if not 0 < shard_files < files:
            problems.append(f"shard 0/{parts} holds {shard_files} of {files} files")
    mb = (want["plan_bytes"] + want["part_bytes"]) / 1e6
    print(f"merge of {files:,} files in {parts} parts ({mb:,.0f} MB of plan and parts):")
    print(f"  vouch scan merge --custody  {wall:7.2f} s  {rss:7.0f} MB peak RSS  "
          f"{files / wall / 1e3:,.0f}k files/s  {mb / wall:,.0f} MB/s")
    print(f"  duckdb read_json (counts)   {dwall:7.2f} s  {drss:7.0f} MB peak RSS  "
          f"vouch/duckdb {wall / dwall:.2f}x")
    print(f"  vouch scan --shard 0/{parts}      {swall:7.2f} s  {srss:7.0f} MB peak RSS  "
          f"(cutting its {shard_files:,} files from the plan)")
    if problems:
        for p in problems:
            print(f"DISAGREE: {p}")
        sys.exit(1)
    print("  merge, custody and DuckDB agree")


if __name__ == "__main__":
    main()

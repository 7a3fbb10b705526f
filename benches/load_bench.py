#!/usr/bin/env python3
"""Load: a lake of many small files and a long ID list (issue 9, item 7).

  python3 benches/load_bench.py                  # 100,000 files, 1,000,000 IDs
  python3 benches/load_bench.py --scale large    # 1,000,000 files, 1,000,000 IDs
  python3 benches/load_bench.py --scale smoke    # CI: 5,000 files, 50,000 IDs
  python3 benches/load_bench.py --ids 10000000   # 10M IDs against the scan benchmark's lake

Ten small source files (50 rows each, written by pyarrow) are copied into a Hive-
partitioned table, 1,000 files a partition; one source holds 3 rows of listed subjects, so
the residual rows are known exactly. vouch scans it with the file-descriptor limit at 256
and reports wall time and peak RSS (wait4), then again with 1,000 IDs (what the file count
alone costs), and once more with `--custody FILE` (the per-file records in a JSON Lines
file instead of the report: what the report alone costs in memory). Exit 1 when the
counts are wrong, the custody file does not match its digest, or a scan fails. Last, the
1,000-ID scan with --custody, and the long ID list against one file of the lake (what the
ID list alone costs). Then the subject index on the same lake: built from scratch, last
night's 1,000-ID scan through it (`--update-index`), and a night with nothing new, which
must give the raw 1,000-ID scan's residual rows. On files this small the index does not
pay: a subject present anywhere has every file of the index generations holding it open
its entry, which costs about what reading the file does.
"""
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

SCALES = {"default": (100_000, 1_000_000), "large": (1_000_000, 1_000_000), "smoke": (5_000, 50_000)}
FD_LIMIT = 256


def make(data, files, ids):
    rng = random.Random(9)
    listed = [f"{rng.getrandbits(128):032x}" for _ in range(ids)]
    sources = []
    for k in range(10):
        users = [f"{rng.getrandbits(128):032x}" for _ in range(50)]
        if k == 3:
            users[7], users[20], users[41] = listed[5], listed[5], listed[ids // 2]
        path = os.path.join(data, f"source-{k}.parquet")
        pq.write_table(pa.table({"user_id": users, "v": list(range(50))}), path)
        with open(path, "rb") as f:
            sources.append(f.read())
    table = os.path.join(data, "lake", "events")
    for i in range(files):
        part = os.path.join(table, f"dt={i // 1000:04d}")
        if i % 1000 == 0:
            os.makedirs(part, exist_ok=True)
        with open(os.path.join(part, f"part-{i % 1000:04d}.parquet"), "wb") as f:
            f.write(sources[i % 10])
    with open(os.path.join(data, "ids.txt"), "w") as f:
        f.write("\n".join(listed) + "\n")
    with open(os.path.join(data, "ids-1k.txt"), "w") as f:
        f.write("\n".join(listed[:1000]) + "\n")
    expected = 3 * len(range(3, files, 10))
    with open(os.path.join(data, "expected.json"), "w") as f:
        json.dump({"files": files, "ids": ids, "residual_rows": expected}, f)


def limited(cmd):
    """`cmd` under the file-descriptor limit, set by a shell that then execs it. (Not
    preexec_fn: that makes Python fork() itself, and the child's peak RSS would then count
    this interpreter's pages, pyarrow and the last report parsed among them, as the
    figures before December 2026 did.)"""
    return ["sh", "-c", f'ulimit -n {FD_LIMIT} && exec "$@"', "sh", *cmd]


def scan(vouch, data, ids, extra=(), lake="lake"):
    out, err, code, wall, rss = scan_bench.run_child(
        limited([vouch, "scan", "--lake", lake, "--ids", ids, "--format", "json", "-q", *extra]),
        cwd=data)
    if code not in (0, 1):
        sys.exit(f"vouch scan failed ({code}): {err.decode()[-2000:]}")
    return wall, rss, json.loads(out)


def main():
    args = scan_bench.bench_args(__doc__, SCALES)
    files, ids = SCALES[args.scale]
    data = os.path.join(args.dir, f"load-{args.scale}")
    if not os.path.exists(os.path.join(data, "expected.json")):
        os.makedirs(data, exist_ok=True)
        make(data, files, ids)
    with open(os.path.join(data, "expected.json")) as f:
        want = json.load(f)
    wall, rss, rep = scan(args.vouch, data, "ids.txt")
    if (rep["files_scanned"], rep["residual_rows"], rep["errors"]) != (files, want["residual_rows"], []):
        sys.exit(f"FAILED: {rep['files_scanned']} files, {rep['residual_rows']} residual rows, "
                 f"{len(rep['errors'])} errors; want {files} files, {want['residual_rows']} rows")
    wall_1k, rss_1k, rep_1k = scan(args.vouch, data, "ids-1k.txt")
    if rep_1k["files_scanned"] != files or rep_1k["errors"]:
        sys.exit("FAILED: the 1,000-ID scan")
    custody = os.path.join(data, "custody.jsonl")
    wall_c1k, rss_c1k, rep_c1k = scan(args.vouch, data, "ids-1k.txt", ("--custody", custody, "--force"))
    if rep_c1k["residual_rows"] != rep_1k["residual_rows"] or rep_c1k["custody"]["records"] != files:
        sys.exit("FAILED: the 1,000-ID scan with --custody")
    # What the ID list alone costs: the same IDs against one file of the lake (the source
    # holding the planted rows).
    one = os.path.join(data, "lake-one", "events")
    if not os.path.exists(os.path.join(one, "part-0003.parquet")):
        os.makedirs(one, exist_ok=True)
        shutil.copy(os.path.join(data, "lake", "events", "dt=0000", "part-0003.parquet"), one)
    wall_one, rss_one, rep_one = scan(args.vouch, data, "ids.txt", lake="lake-one")
    if (rep_one["files_scanned"], rep_one["residual_rows"]) != (1, 3):
        sys.exit("FAILED: the one-file scan")
    wall_c, rss_c, rep_c = scan(args.vouch, data, "ids.txt", ("--custody", custody, "--force"))
    with open(custody, "rb") as f:
        digest, lines = hashlib.sha256(), 0
        for line in f:
            digest.update(line)
            lines += 1
    if (rep_c["residual_rows"], rep_c["objects"], rep_c["custody"]["records"], lines,
            rep_c["custody"]["sha256"]) != (want["residual_rows"], [], files, files,
                                            digest.hexdigest()):
        sys.exit("FAILED: the scan with --custody (counts, or the file against its digest)")
    print(f"scale {args.scale}: {files:,} files of 50 rows, file descriptors limited to {FD_LIMIT}")
    print(f"  {ids:>9,} IDs  {wall:7.2f} s  peak RSS {rss:7.1f} MB  "
          f"{rep['residual_rows']:,} residual rows (as planted), 0 errors")
    print(f"  {1000:>9,} IDs  {wall_1k:7.2f} s  peak RSS {rss_1k:7.1f} MB")
    print(f"  {ids:>9,} IDs  {wall_c:7.2f} s  peak RSS {rss_c:7.1f} MB  with --custody "
          f"({lines:,} lines, {os.path.getsize(custody) / 1e6:.1f} MB, digest checked)")
    print(f"  {1000:>9,} IDs  {wall_c1k:7.2f} s  peak RSS {rss_c1k:7.1f} MB  with --custody")
    print(f"  {ids:>9,} IDs  {wall_one:7.2f} s  peak RSS {rss_one:7.1f} MB  against one file of the lake")
    index_nights(args.vouch, data, wall_1k, rep_1k)


def index_nights(vouch, data, raw_wall, raw):
    """The subject index on the many-files lake: built, last night's scan through it, then
    a night with nothing new, against the raw 1,000-ID scan (same residual rows)."""
    os.environ.setdefault("VOUCH_SUBJECT_KEY", "load-benchmark-subject-key")
    base, index = os.path.join(data, "index-last-night"), os.path.join(data, "index")
    shutil.rmtree(base, ignore_errors=True)
    out, err, code, build, build_rss = scan_bench.run_child(
        limited([vouch, "index", "build", "--lake", "lake", "--index", base, "--format", "json"]), cwd=data)
    if code != 0:
        sys.exit(f"vouch index build failed ({code}): {err.decode()[-2000:]}")
    scan(vouch, data, "ids-1k.txt", ("--index", base, "--update-index"))
    last_night = time.time()
    # Tonight is a later second than last night (outcomes serve later nights only).
    time.sleep(max(0.0, math.floor(last_night) + 1.05 - time.time()))
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(base, index)
    night, night_rss, rep = scan(vouch, data, "ids-1k.txt", ("--index", index, "--update-index"))
    if rep["residual_rows"] != raw["residual_rows"] or rep["errors"] or rep["index"]["files_without_index"]:
        sys.exit(f"FAILED: the night through the index: {rep['residual_rows']} residual rows, "
                 f"{len(rep['errors'])} errors; the raw scan {raw['residual_rows']}")
    rg = rep["row_groups"]
    lake_bytes = sum(os.path.getsize(os.path.join(d, f))
                     for d, _, fs in os.walk(os.path.join(data, "lake")) for f in fs)
    entries = os.path.join(base, "files")
    entry_bytes = sum(os.path.getsize(os.path.join(entries, f)) for f in os.listdir(entries))
    print(f"  subject index: built from scratch {build:.2f} s (peak RSS {build_rss:.1f} MB); a night with "
          f"nothing new, 1,000 IDs {night:.2f} s = {night / raw_wall:.2f}x the raw scan "
          f"({rg.get('skipped_by_index', 0):,} row groups ruled out, {rg.get('recalled_by_index', 0):,} recalled)")
    print(f"  the index {json.loads(out)['index_bytes'] / 1e6:.1f} MB = "
          f"{100 * json.loads(out)['index_bytes'] / lake_bytes:.0f}% of the lake's {lake_bytes / 1e6:.1f} MB "
          f"(lake.vix {os.path.getsize(os.path.join(base, 'lake.vix')) / 1e6:.1f} MB, "
          f"{len(os.listdir(entries)):,} entries {entry_bytes / 1e6:.1f} MB)")
    for d in (base, index):
        shutil.rmtree(d, ignore_errors=True)


def many_ids(args):
    """`--ids 10000000`: ten million UUID IDs (the scan benchmark's 1,000 among them)
    against the scan benchmark's lake without bloom filters (issue 21: target 512 MB).
    The residual rows must equal those of the 1,000 IDs alone."""
    lake_dir = scan_bench.ensure_lake(args.vouch, args.dir, "default")
    ids = os.path.join(args.dir, "ids-10m.txt")
    if not os.path.exists(ids):
        rng = random.Random(7)
        with open(ids + ".tmp", "w") as f:
            for _ in range(args.ids - 1000):
                h = f"{rng.getrandbits(128):032x}"
                f.write(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}\n")
            with open(os.path.join(lake_dir, "ids.txt")) as known:
                f.write(known.read())
        os.replace(ids + ".tmp", ids)
    lake = os.path.join(lake_dir, "lake-plain")
    wall_1k, rss_1k, rep_1k = scan(args.vouch, lake_dir, os.path.join(lake_dir, "ids.txt"), lake=lake)
    wall, rss, rep = scan(args.vouch, lake_dir, ids, lake=lake)
    if rep["residual_rows"] != rep_1k["residual_rows"] or rep["errors"]:
        sys.exit(f"FAILED: {rep['residual_rows']} residual rows with {args.ids:,} IDs, "
                 f"{rep_1k['residual_rows']} with the 1,000 among them")
    print(f"the scan benchmark's lake ({rep['files_scanned']} files, {rep['rows_scanned']:,} rows):")
    print(f"  {args.ids:>10,} IDs  {wall:7.2f} s  peak RSS {rss:7.1f} MB  "
          f"{rep['residual_rows']} residual rows, as with the 1,000 alone")
    print(f"  {1000:>10,} IDs  {wall_1k:7.2f} s  peak RSS {rss_1k:7.1f} MB")


if __name__ == "__main__":
    if "--ids" in sys.argv:
        at = sys.argv.index("--ids")
        n = int(sys.argv[at + 1])
        del sys.argv[at:at + 2]
        a = scan_bench.bench_args(__doc__, SCALES)
        a.ids = n
        many_ids(a)
    else:
        main()

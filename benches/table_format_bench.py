#!/usr/bin/env python3
"""Table-format benchmark: vouch on a Delta and an Iceberg table against vouch on the same
data files as plain Parquet and against the formats' own readers, same data, same run.

Writes (seeded) one dataset twice, as a Delta table with delta-rs (`deltalake`) and as an
Iceberg table with pyiceberg (SQL catalog on SQLite): user_id text with rows/40 distinct
users, then deletes 1% of the users with each engine's own DELETE (copy-on-write: the
removed files stay until VACUUM / snapshot expiry). The subjects checked are those 1% plus
5 users never deleted. Engines, each run on a warm cache:

  vouch-delta / vouch-iceberg   `vouch scan` of the table: live rows and physical copies
  vouch-plain                   `vouch scan` of the same data files (live and removed) as
                                a plain Parquet table: the cost of reading the files
  delta-rs / pyiceberg          the format's own reader: the table to Arrow, filtered by
                                `is_in` (the live rows only: what the verdict counts)
  polars-delta / polars-iceberg Polars `scan_delta` / `scan_iceberg` `.filter(is_in)`

Two times per engine: wall (the whole command, as a user or a scheduler runs it: process
start, imports, listing, reading) and engine (the peers' time after their imports; vouch's
own "scanned in" time, from configuration to report).

Checks that every engine finds the same live rows per subject set (exit 1 otherwise),
that vouch's physical copies hold exactly the deleted rows, and prints median wall
time, peak RSS and ratios: vouch on the table against vouch-plain (target: within 1.2x)
and against the fastest peer.

  python3 benches/table_format_bench.py                  # 8M rows
  python3 benches/table_format_bench.py --scale smoke    # 100k rows, 1 run (CI)
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = {"smoke": (100_000, 1), "small": (1_000_000, 3), "default": (8_000_000, 3)}

PEER = r"""
import json, os, sys, time
engine, table, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
ids = [l.strip() for l in open(ids_file) if l.strip()]
import pyarrow as pa, pyarrow.compute as pc
t0 = time.perf_counter()
if engine == "delta-rs":
    from deltalake import DeltaTable
    t0 = time.perf_counter()
    col = DeltaTable(table).to_pyarrow_table(columns=["user_id"]).column("user_id")
    n = pc.sum(pc.is_in(col, value_set=pa.array(ids))).as_py() or 0
elif engine == "polars-delta":
    import polars as pl
    t0 = time.perf_counter()
    n = pl.scan_delta(table).filter(pl.col("user_id").is_in(ids)).select(pl.len()).collect().item()
elif engine == "polars-iceberg":
    import polars as pl
    from pyiceberg.catalog.sql import SqlCatalog
    cat_dir = os.path.dirname(table)
    cat = SqlCatalog("b", uri=f"sqlite:///{cat_dir}/catalog.db", warehouse=f"file://{cat_dir}/wh")
    t0 = time.perf_counter()
    n = pl.scan_iceberg(cat.load_table("ns.events")).filter(pl.col("user_id").is_in(ids)).select(pl.len()).collect().item()
else:
    from pyiceberg.catalog.sql import SqlCatalog
    cat_dir = os.path.dirname(table)
    cat = SqlCatalog("b", uri=f"sqlite:///{cat_dir}/catalog.db", warehouse=f"file://{cat_dir}/wh")
    t0 = time.perf_counter()
    from pyiceberg.expressions import In
    arrow = cat.load_table("ns.events").scan(row_filter=In("user_id", set(ids)), selected_fields=("user_id",)).to_arrow()
    n = arrow.num_rows
print(json.dumps({"seconds": time.perf_counter() - t0, "live": n}))
sys.stdout.flush()
os._exit(0)
"""

WRITE = r"""
import json, os, sys
import pyarrow as pa
spec = json.loads(sys.argv[1])
rows, seed, out = spec["rows"], spec["seed"], spec["dir"]
import random
rng = random.Random(seed)
users = [f"{rng.getrandbits(64):016x}-{i:06d}" for i in range(max(1, rows // 40))]
ids = [users[rng.randrange(len(users))] for _ in range(rows)]
t = pa.table({"user_id": pa.array(ids, pa.string()), "v": pa.array(range(rows), pa.int64())})
deleted = sorted(set(users[: max(1, len(users) // 100)]))
kept = sorted(set(users[-5:]))
chunk = max(1, rows // 8)
from deltalake import write_deltalake, DeltaTable
lake_delta = os.path.join(out, "delta")
for i in range(0, rows, chunk):
    write_deltalake(os.path.join(lake_delta, "events"), t.slice(i, chunk), mode="append")
pred = "user_id IN (" + ", ".join("'" + d + "'" for d in deleted) + ")"
DeltaTable(os.path.join(lake_delta, "events")).delete(pred)
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import In
cat_dir = os.path.join(out, "iceberg-catalog")
os.makedirs(os.path.join(cat_dir, "wh"), exist_ok=True)
cat = SqlCatalog("b", uri=f"sqlite:///{cat_dir}/catalog.db", warehouse=f"file://{cat_dir}/wh")
cat.create_namespace_if_not_exists("ns")
it = cat.create_table("ns.events", schema=t.schema)
for i in range(0, rows, chunk):
    it.append(t.slice(i, chunk))
it = cat.load_table("ns.events")
it.delete(In("user_id", set(deleted)))
with open(os.path.join(out, "ids.txt"), "w") as f:
    f.write("".join(i + "\n" for i in deleted + kept))
deleted_rows = sum(1 for x in ids if x in set(deleted))
live_rows = sum(1 for x in ids if x in set(kept))
json.dump({"deleted_rows": deleted_rows, "live_rows": live_rows, "rows": rows, "deleted": deleted}, open(os.path.join(out, "truth.json"), "w"))
sys.stdout.flush()
os._exit(0)
"""


def run_child(cmd, **popen):
    """(stdout, stderr, exit code, wall seconds, peak RSS in MB) of one child."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    return out, err, os.waitstatus_to_exitcode(status), time.perf_counter() - t0, ru.ru_maxrss / 1024


def vouch_run(vouch, config, ids, deleted):
    out, err, code, wall, rss = run_child(
        [vouch, "scan", "--config", config, "--ids", ids, "--format", "json"])
    if code > 1:
        sys.exit(f"vouch failed ({code}): {err.decode()[:2000]}")
    rep = json.loads(out)
    copied = sum(c["rows"] for c in rep.get("physical_copies", [])
                 if c["kind"] not in ("log_stats", "manifest_bounds") and c["subject"] in deleted)
    said = [l for l in err.decode().splitlines() if l.startswith("vouch: scanned in ")]
    engine = float(said[-1].split()[3]) if said else wall
    return wall, engine, rss, rep["residual_rows"], copied


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="default")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--vouch", default=os.path.join(ROOT, "target/release/vouch"))
    args = ap.parse_args()
    vouch = os.path.abspath(args.vouch)
    rows, runs = SCALES[args.scale]
    d = os.path.join(os.path.abspath(args.dir), f"table-formats-{args.scale}")
    if not os.path.exists(os.path.join(d, "truth.json")):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        r = subprocess.run([sys.executable, "-c", WRITE, json.dumps({"rows": rows, "seed": 7, "dir": d})],
                           capture_output=True)
        if r.returncode != 0:
            sys.exit("writing the tables failed: " + r.stderr.decode()[-2000:])
    truth = json.load(open(os.path.join(d, "truth.json")))
    ids = os.path.join(d, "ids.txt")
    # The live data files of each table, as a plain Parquet lake (hard links).
    iceberg_lake = os.path.join(d, "iceberg-catalog", "wh", "ns")
    plains = {}
    for fmt, lake in (("delta", os.path.join(d, "delta")), ("iceberg", iceberg_lake)):
        cfg = os.path.join(d, f"{fmt}.toml")
        open(cfg, "w").write(f'[lake]\nlocation = "{lake}"\nid_columns = ["user_id"]\n')
        out, err, code, _, _ = run_child([vouch, "scan", "--config", cfg, "--ids", ids, "--format", "json", "-q"])
        rep = json.loads(out)
        read = [o["file"] for o in rep["objects"]]
        plain = os.path.join(d, f"plain-{fmt}", "events")
        shutil.rmtree(os.path.dirname(plain), ignore_errors=True)
        os.makedirs(plain)
        for i, f in enumerate(read):
            os.link(os.path.join(lake, f), os.path.join(plain, f"part-{i:05d}.parquet"))
        pcfg = os.path.join(d, f"plain-{fmt}.toml")
        open(pcfg, "w").write(f'[lake]\nlocation = "{os.path.dirname(plain)}"\nid_columns = ["user_id"]\n')
        plains[fmt] = (cfg, pcfg)
    deleted = set(json.load(open(os.path.join(d, "truth.json")))["deleted"])
    engines = {
        "vouch-delta": lambda: vouch_run(vouch, plains["delta"][0], ids, deleted),
        "vouch-plain-delta": lambda: vouch_run(vouch, plains["delta"][1], ids, deleted),
        "vouch-iceberg": lambda: vouch_run(vouch, plains["iceberg"][0], ids, deleted),
        "vouch-plain-iceberg": lambda: vouch_run(vouch, plains["iceberg"][1], ids, deleted),
    }

    def peer(engine, table):
        def f():
            out, err, code, wall, rss = run_child([sys.executable, "-c", PEER, engine, table, ids])
            if code != 0:
                return None
            r = json.loads(out)
            return wall, r["seconds"], rss, r["live"], None
        return f

    engines["delta-rs"] = peer("delta-rs", os.path.join(d, "delta", "events"))
    engines["polars-delta"] = peer("polars-delta", os.path.join(d, "delta", "events"))
    engines["pyiceberg"] = peer("pyiceberg", os.path.join(d, "iceberg-catalog", "x"))
    engines["polars-iceberg"] = peer("polars-iceberg", os.path.join(d, "iceberg-catalog", "x"))
    results = {}
    for name, f in engines.items():
        f()  # warm the cache
        got = [f() for _ in range(runs)]
        if any(g is None for g in got):
            print(f"  {name}: not available here")
            continue
        results[name] = (statistics.median(g[0] for g in got), statistics.median(g[1] for g in got),
                         max(g[2] for g in got), got[0][3], got[0][4])
    print(f"table formats, {args.scale}: {rows:,} rows, {truth['deleted_rows']:,} rows of 1% of users "
          f"deleted, {truth['live_rows']} rows of 5 kept users; median of {runs} warm run(s)")
    print(f"  {'engine':<22}{'wall s':>9}{'engine s':>10}{'RSS MB':>9}{'live':>8}{'copies':>9}")
    for name, (wall, sec, rss, live, copied) in results.items():
        print(f"  {name:<22}{wall:>9.3f}{sec:>10.3f}{rss:>9.0f}{live:>8}{'' if copied is None else copied:>9}")
    # The plain scans read the removed files too: their "live" rows are every copy.
    bad = [n for n, r in results.items() if r[3] != truth["live_rows"] and "plain" not in n]
    for fmt in ("delta", "iceberg"):
        copied = results[f"vouch-{fmt}"][4]
        if copied != truth["deleted_rows"]:
            bad.append(f"vouch-{fmt} copies {copied} != {truth['deleted_rows']}")
    for fmt, peers in (("delta", ("delta-rs", "polars-delta")),
                       ("iceberg", ("pyiceberg", "polars-iceberg"))):
        v = results[f"vouch-{fmt}"]
        ratio = v[0] / results[f"vouch-plain-{fmt}"][0]
        line = f"  {fmt}: vouch on the table / on the same files as plain Parquet = {ratio:.2f}x (wall)"
        for i, what in ((0, "wall"), (1, "engine")):
            fastest = min((results[p][i], p) for p in peers if p in results)
            line += f"; fastest peer by {what}: {fastest[1]} / vouch = {fastest[0] / v[i]:.2f}x"
        print(line)
    if bad:
        sys.exit(f"engines disagree: {bad}")
    print("  every engine agrees on the live rows; vouch's copies hold exactly the deleted rows")


if __name__ == "__main__":
    main()

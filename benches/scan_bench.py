#!/usr/bin/env python3
"""Deletion-verification benchmark: vouch against DuckDB and Polars, same files, same run.

Generates (once, seeded) the benchmark lake of `vouch-fixtures bench`: three tables
partitioned by day, a UUID-text user_id with rows/40 distinct users in random order, zstd,
written without and with bloom filters (fpp 1e-5), and 1,000 deleted subjects' IDs of which
5 still have 1-3 rows each. Then, for each lake variant, runs each engine several times on a warm cache, checks
that every engine returns the same per-table residual counts, and prints median wall
time, peak RSS and the ratios to vouch. Exit 1 if engines disagree.

  python3 benches/scan_bench.py                  # default scale: 41.5M rows, about 2 GB
  python3 benches/scan_bench.py --scale small    # 4M rows
  python3 benches/scan_bench.py --scale smoke    # 200k rows, 1 run (CI)
  python3 benches/scan_bench.py --against OLD/vouch --runs 9   # two vouch builds in turn

With `--against BIN`, no peers: that vouch binary and `--vouch` run in turn, run after
run, on the same lakes and IDs (the machine's drift falls on both), and it prints each
one's median wall time and CPU time (user + system) and the ratio; exit 1 if they
disagree.

Engines: vouch (`vouch scan`), DuckDB with `user_id IN (SELECT id FROM ids)` and with an
`IN` list of literals (its fastest plan, the only one that uses bloom filters), Polars
`scan_parquet(...).filter(pl.col("user_id").is_in(ids))`. Each run is a fresh process;
the peer's time is measured around its query inside the process (imports excluded),
vouch's is the whole process. Peak RSS is the process's (for the peers, including the
Python interpreter).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = {"smoke": (200_000, 1), "small": (4_000_000, 3), "default": (41_500_000, 5)}

PEER = r"""
import json, sys, time, resource
engine, lake, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
ids = [l.strip() for l in open(ids_file) if l.strip()]
glob = lake + "/*/*/*.parquet"
t0 = time.perf_counter()
if engine.startswith("duckdb"):
    import duckdb
    con = duckdb.connect()
    # No progress bar: past two seconds DuckDB may draw one on stdout, which is the answer.
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    src = f"read_parquet('{glob}', filename = true, hive_partitioning = false)"
    if engine == "duckdb-subquery":
        con.execute("CREATE TABLE ids(id VARCHAR)")
        con.executemany("INSERT INTO ids VALUES (?)", [[i] for i in ids])
        q = f"SELECT filename, count(*) FROM {src} WHERE user_id IN (SELECT id FROM ids) GROUP BY 1"
    else:
        lits = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
        q = f"SELECT filename, count(*) FROM {src} WHERE user_id IN ({lits}) GROUP BY 1"
    rows = con.execute(q).fetchall()
else:
    import polars as pl
    t0 = time.perf_counter()
    df = (pl.scan_parquet(glob, include_file_paths="filename", hive_partitioning=False)
          .filter(pl.col("user_id").is_in(ids)).group_by("filename").len().collect())
    rows = df.rows()
elapsed = time.perf_counter() - t0
counts = {}
for f, n in rows:
    table = f[len(lake):].strip("/").split("/")[0]
    counts[table] = counts.get(table, 0) + n
print(json.dumps({"seconds": elapsed, "counts": counts}))
"""


def bench_args(doc, scales):
    """The arguments every benchmark takes: --scale, --dir (lakes), --vouch (binary)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--scale", choices=scales, default="default")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--vouch", default=os.path.join(ROOT, "target/release/vouch"))
    args = ap.parse_args()
    args.vouch = os.path.abspath(args.vouch)
    return args


def ensure_lake(vouch, root, scale):
    """The benchmark lake of `scale` under `root` (generated once by vouch-fixtures beside
    the `vouch` binary): its directory, holding ids.txt, lake-plain and lake-bloom."""
    data = os.path.join(root, f"scan-{scale}")
    if not os.path.exists(os.path.join(data, "ids.txt")):
        rows = SCALES[scale][0]
        print(f"generating the {scale} lake ({rows:,} rows) in {data} ...", file=sys.stderr)
        subprocess.run([fixtures_tool(os.path.dirname(vouch)), "bench", data, str(rows)],
                       check=True, stdout=subprocess.DEVNULL)
    return data


def fixtures_tool(bin_dir):
    """`vouch-fixtures` in `bin_dir`, or exit naming the build that makes it (it is a
    developer tool behind the `dev-tools` feature, so `cargo install` leaves it out)."""
    path = os.path.join(bin_dir, "vouch-fixtures")
    if not os.path.exists(path):
        sys.exit(f"{path}: missing; build it with `cargo build --release --features dev-tools`")
    return path


GNU_TIME = "/usr/bin/time"


def run_child(cmd, **popen):
    """Runs cmd, returns (stdout, stderr, exit code, wall seconds, peak RSS in MB) of that
    child alone. `popen` goes to subprocess.Popen (cwd).

    The peak RSS is GNU time's `%M` when /usr/bin/time is there: a process Python starts
    (vfork, posix_spawn or fork) inherits this interpreter's high-water mark at exec, so
    the wait4 figure of a direct child is never below this process's own RSS (pyarrow
    imported, a large report parsed). Without GNU time, wait4's figure is given, an upper
    bound."""
    t0 = time.perf_counter()
    measured = os.path.exists(GNU_TIME)
    if measured:
        fd, rss_file = tempfile.mkstemp(prefix="vouch-bench-rss-")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_file, *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    # stderr is read beside stdout: a child that fills the stderr pipe (one line per file
    # that could not be read) while this reads stdout would otherwise wait forever.
    errs = []
    reader = threading.Thread(target=lambda: errs.append(p.stderr.read()))
    reader.start()
    out = p.stdout.read()
    reader.join()
    err = errs[0]
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if not measured:
        return out, err, code, wall, ru.ru_maxrss / 1024
    with open(rss_file) as f:
        words = f.read().split()
    os.unlink(rss_file)
    # GNU time writes "Command exited with non-zero status N" before the figure.
    return out, err, code, wall, int(words[-1]) / 1024


def cpu_seconds(pid=None):
    """User + system CPU seconds: of process `pid` (from /proc), or of this script's
    children that have ended (a measured child's own children included)."""
    if pid is None:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vouch_run(vouch, lake, ids):
    out, err, code, wall, rss = run_child([vouch, "scan", "--lake", lake, "--ids", ids, "--format", "json", "-q"])
    if code not in (0, 1):
        sys.exit(f"vouch failed ({code}): {err.decode()}")
    rep = json.loads(out)
    counts = {t["table"]: t["residual_rows"] for t in rep["tables"] if t["residual_rows"]}
    return wall, rss, counts, rep


def peer_run(engine, lake, ids):
    out, err, code, wall, rss = run_child([sys.executable, "-c", PEER, engine, lake, ids])
    if code != 0:
        sys.exit(f"{engine} failed ({code}): {err.decode()}")
    r = json.loads(out)
    return r["seconds"], rss, {k: v for k, v in r["counts"].items() if v}


def compare(before, after, data, ids, runs):
    """Two vouch binaries in turn on both lakes: median wall and CPU seconds of each.
    Returns the exit code (1 if they disagree)."""
    failed = False
    print(f"{before} (before) against {after} (after), in turn, median of {runs}")
    for variant in ["plain", "bloom"]:
        lake = os.path.join(data, f"lake-{variant}")
        walls, cpus, counts = {before: [], after: []}, {before: [], after: []}, {}
        for b in (before, after):
            vouch_run(b, lake, ids)  # warm
        for _ in range(runs):
            for b in (before, after):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall, _, c, _ = vouch_run(b, lake, ids)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                walls[b].append(wall)
                cpus[b].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
                counts[b] = c
        agree = counts[before] == counts[after]
        failed |= not agree
        w = {b: statistics.median(v) for b, v in walls.items()}
        u = {b: statistics.median(v) for b, v in cpus.items()}
        print(f"  lake-{variant}: wall {w[before]:.3f} -> {w[after]:.3f} s ({w[after] / w[before]:.3f}x), "
              f"CPU {u[before]:.3f} -> {u[after]:.3f} s ({u[after] / u[before]:.3f}x)  "
              f"{'agree' if agree else 'DISAGREE'}")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="default")
    ap.add_argument("--runs", type=int, help="runs per engine (median is reported)")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"), help="where the lakes are generated")
    ap.add_argument("--vouch", default=os.path.join(ROOT, "target/release/vouch"))
    ap.add_argument("--against", metavar="BIN", help="another vouch binary, run in turn with --vouch (no peers)")
    args = ap.parse_args()
    rows, runs = SCALES[args.scale]
    runs = args.runs or runs
    data = ensure_lake(args.vouch, args.dir, args.scale)
    ids = os.path.join(data, "ids.txt")
    if args.against:
        sys.exit(compare(os.path.abspath(args.against), args.vouch, data, ids, runs))
    failed = False
    print(f"scale {args.scale}: {rows:,} rows, 1,000 IDs, {os.cpu_count()} cores, median of {runs} warm run(s)")
    for variant in ["plain", "bloom"]:
        lake = os.path.join(data, f"lake-{variant}")
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(lake) for f in fs)
        engines = {
            "vouch": lambda: vouch_run(args.vouch, lake, ids)[:3],
            "duckdb-subquery": lambda: peer_run("duckdb-subquery", lake, ids),
            "duckdb-literals": lambda: peer_run("duckdb-literals", lake, ids),
            "polars": lambda: peer_run("polars", lake, ids),
        }
        results = {}
        for name, fn in engines.items():
            fn()  # warm the page cache and the engine's first-run costs
            times, rss, counts = [], [], None
            for _ in range(runs):
                t, m, c = fn()
                times.append(t)
                rss.append(m)
                if counts is not None and c != counts:
                    failed = True
                    print(f"  {name} is not deterministic: {c} vs {counts}")
                counts = c
            results[name] = (statistics.median(times), max(rss), counts)
        want = results["vouch"][2]
        title = "without bloom filters" if variant == "plain" else "with bloom filters (fpp 1e-5)"
        print(f"\n{title}: {size / 1e9:.2f} GB, residual rows {sum(want.values())} in {len(want)} table(s)")
        print(f"  {'engine':<17} {'median s':>9} {'peak RSS MB':>12} {'time / vouch':>13}  agrees")
        fastest_peer = min(v[0] for k, v in results.items() if k != "vouch")
        for name, (t, m, c) in results.items():
            agree = c == want
            failed |= not agree
            print(f"  {name:<17} {t:>9.3f} {m:>12.0f} {t / results['vouch'][0]:>12.2f}x  {'yes' if agree else 'NO: ' + json.dumps(c)}")
        print(f"  vouch is {fastest_peer / results['vouch'][0]:.2f}x faster than the fastest peer")
    if failed:
        print("\nFAILED: the engines disagree", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

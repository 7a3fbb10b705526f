#!/usr/bin/env python3
"""S3 against a fast server: the benchmark lake served by a native Rust S3-compatible
server on 127.0.0.1; vouch's S3 scan against its local scan of the same files and
against Polars `scan_parquet` on the same `s3://` URLs (object_store), same run.

  python3 benches/s3_fast_bench.py --scale small     # 4M rows
  python3 benches/s3_fast_bench.py                   # default: 41.5M rows, about 2 GB
  python3 benches/s3_fast_bench.py --scale smoke --latency 50   # round trips of 50 ms

moto (benches/s3_bench.py) answers a few hundred requests a second in Python, so what it
measures is moto. The server here is `benches/s3-server`: s3s-fs 0.14.1 (the `s3s`
project's file-system S3 server, from crates.io) called unchanged for every operation,
with GetObject's body read in 1 MiB pieces and TCP_NODELAY on. s3s-fs itself
(`--server s3s-fs`) reads a body 4 KiB at a time and leaves Nagle's algorithm on: it served
200-225 MB/s here and bounded every figure. The script builds the server with cargo when
it is missing (`DIR/s3-server-target`; a few minutes, so not part of CI's smoke run), or
installs s3s-fs with `cargo install` for `--server s3s-fs`.

The lakes are uploaded once (PutObject, multipart past 8 MB, with boto3) into
`DIR/s3s-root-SCALE`: s3s-fs keeps the ETag of what it was sent, lists it, and answers a
ranged GET from it. Served as files put in its directory by hand (`--serve-files`), s3s-fs
hashes the whole object on every GET and lists no ETag.

Prints, per lake variant: time (median); for each S3 client the requests it made (every S3
operation, listing included) and the body bytes it fetched, as the server counted them
(benches/s3-server's `--stats-port`; with `--server s3s-fs`, vouch's own count of its
ranged reads), for the local scan its reads; each client's CPU time and the server's; and
the ratios. Server
and clients share the machine's cores, so the server's CPU is time the clients could not
have: S3 spends none of the client machine's. So each lake also gets the bound the CPU
sets: vouch's S3 CPU and the server's spread over every core (no scheduling beats it), and
vouch's alone. Exit 1 when the engines disagree or a scan fails.

Targets (issue 21): the S3 scan within 1.5x of the local one, at least 1.5x faster than
Polars on the same URLs; with bloom filters, within 2x of local.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = {"smoke": (200_000, 1), "small": (4_000_000, 3), "default": (41_500_000, 3)}
S3S_VERSION = "0.14.1"  # the newest that builds with Rust 1.95
KEY, SECRET = "vouchbench", "vouchbench-secret"

POLARS = r"""
import json, sys, time
lake, ids_file, endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
ids = [l.strip() for l in open(ids_file) if l.strip()]
import polars as pl
opts = {"aws_endpoint_url": endpoint, "aws_access_key_id": "%s", "aws_secret_access_key": "%s",
        "aws_region": "us-east-1", "aws_allow_http": "true", "aws_virtual_hosted_style_request": "false"}
t0 = time.perf_counter()
df = (pl.scan_parquet(lake + "/*/*/*.parquet", include_file_paths="filename", hive_partitioning=False,
                      storage_options=opts)
      .filter(pl.col("user_id").is_in(ids)).group_by("filename").len().collect())
elapsed = time.perf_counter() - t0
counts = {}
for f, n in df.rows():
    table = f[len(lake):].strip("/").split("/")[0]
    counts[table] = counts.get(table, 0) + n
print(json.dumps({"seconds": elapsed, "counts": counts}))
""" % (KEY, SECRET)


def fast_server(given, data_dir):
    """benches/s3-server's binary: --s3s, else built (cargo, release) under DIR."""
    if given:
        return given
    target = os.path.join(data_dir, "s3-server-target")
    binary = os.path.join(target, "release", "vouch-bench-s3-server")
    print("building benches/s3-server (cargo build --release; minutes the first time) ...", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    os.path.join(ROOT, "benches", "s3-server", "Cargo.toml")],
                   check=True, env=dict(os.environ, CARGO_TARGET_DIR=target))
    return binary


def s3s_binary(given):
    """The s3s-fs binary: --s3s, the PATH, ~/.cargo/bin, else `cargo install` it."""
    for c in [given, shutil.which("s3s-fs"), os.path.expanduser("~/.cargo/bin/s3s-fs")]:
        if c and os.path.exists(c):
            return c
    print(f"installing s3s-fs {S3S_VERSION} from crates.io (cargo install; minutes) ...", file=sys.stderr)
    subprocess.run(["cargo", "install", "s3s-fs", "--version", S3S_VERSION, "--features", "binary"], check=True)
    return os.path.expanduser("~/.cargo/bin/s3s-fs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nodelay_shim(work):
    """benches/nodelay.c built as a shared library (cc), or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    out = os.path.join(work, "nodelay.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", out, os.path.join(ROOT, "benches", "nodelay.c"), "-ldl"],
                   check=True)
    return out


def start_server(binary, root, shim=None, stats_port=None):
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=shim) if shim else None
    stats = ["--stats-port", str(stats_port)] if stats_port else []
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port), "--access-key", KEY,
                             "--secret-key", SECRET, *stats, root], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"the S3 server exited ({proc.returncode})")
            time.sleep(0.05)
    proc.kill()
    sys.exit("the S3 server did not start")


def upload(endpoint, data, root, bucket):
    """The lakes of `data` put into a bucket of a fresh s3s-fs root, once (a marker file
    says the upload finished)."""
    done = os.path.join(root, ".uploaded")
    if os.path.exists(done):
        return
    import boto3
    from boto3.s3.transfer import TransferConfig
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    config = TransferConfig(max_concurrency=4)
    n = 0
    for variant in ["lake-plain", "lake-bloom"]:
        base = os.path.join(data, variant)
        for d, _, files in os.walk(base):
            for f in sorted(files):
                path = os.path.join(d, f)
                key = f"{variant}/{os.path.relpath(path, base)}"
                s3.upload_file(path, bucket, key, Config=config)
                n += 1
    print(f"uploaded {n} objects to the S3 server", file=sys.stderr)
    open(done, "w").close()


def served(stats_port):
    """(requests, GetObjects, body bytes) the fast server has answered so far, or None."""
    if not stats_port:
        return None
    with socket.create_connection(("127.0.0.1", stats_port)) as c:
        words = c.makefile().readline().split()
    return tuple(int(words[i]) for i in (1, 3, 5))


def vouch(binary, lake, ids, env=None):
    out, err, code, wall, rss = scan_bench.run_child(
        [binary, "scan", "--lake", lake, "--ids", ids, "--format", "json", "-q"], env=env)
    if code not in (0, 1):
        sys.exit(f"vouch scan of {lake} failed ({code}): {err.decode()[-2000:]}")
    rep = json.loads(out)
    counts = {t["table"]: t["residual_rows"] for t in rep["tables"] if t["residual_rows"]}
    return wall, counts, rep["read_requests"], rep["bytes_read"], rep["files_scanned"]


def polars(lake, ids, endpoint):
    out, err, code, wall, rss = scan_bench.run_child([sys.executable, "-c", POLARS, lake, ids, endpoint])
    if code != 0:
        sys.exit(f"polars failed ({code}): {err.decode()[-2000:]}")
    r = json.loads(out)
    return r["seconds"], {k: v for k, v in r["counts"].items() if v}


def with_latency(binary, data, bucket, endpoint, env, runs, ms, stats_port):
    """vouch's S3 scan, `scan plan` and a night through the index with `ms` added to
    every request by the tests' proxy (tests/oracle/faulty_proxy.py's DELAY, on 127.0.0.1): a network's round trip in
    front of the server, where request counts, not bytes, set the time. Python forwards
    every body, so this is for the smoke and small lakes. Returns False when a scan's
    answer differs from the local scan's."""
    port = free_port()
    proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "oracle", "faulty_proxy.py"),
                              str(port), endpoint, "0", "1", "0", "", "", str(ms / 1000)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = True
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        slow = dict(env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
        ids = os.path.join(data, "ids.txt")
        print(f"\nwith {ms:g} ms added to every request (the tests' proxy), median of {runs}:")
        for variant in ["plain", "bloom"]:
            want = vouch(binary, os.path.join(data, f"lake-{variant}"), ids)[1]
            walls, plans, agree = [], [], True
            for _ in range(runs):
                w0 = served(stats_port)
                wall, counts, _, _, _ = vouch(binary, f"s3://{bucket}/lake-{variant}", ids, slow)
                w1 = served(stats_port)
                agree &= counts == want
                walls.append(wall)
                out, err, code, wall, rss = scan_bench.run_child(
                    [binary, "scan", "plan", "--lake", f"s3://{bucket}/lake-{variant}"], env=slow)
                if code != 0:
                    sys.exit(f"scan plan through the proxy failed ({code}): {err.decode()[-500:]}")
                plans.append(wall)
            wire = w1 and f"{w1[0] - w0[0]} requests, {(w1[2] - w0[2]) / 1e6:.1f} MB"
            # A night with nothing new: the index kept up to date, then the scan through
            # it (`scan --index DIR --update-index`, as nightly runs it), after a first
            # night that built the index.
            index = tempfile.mkdtemp(prefix="vouch-s3-night-")
            keyed = dict(slow, VOUCH_SUBJECT_KEY="s3-benchmark-subject-key")
            nights = []
            try:
                for n in range(runs + 1):
                    n0 = served(stats_port)
                    out, err, code, wall, rss = scan_bench.run_child(
                        [binary, "scan", "--lake", f"s3://{bucket}/lake-{variant}", "--ids", ids, "--index",
                         index, "--update-index", "--format", "json", "-q"], env=keyed)
                    n1 = served(stats_port)
                    if code not in (0, 1):
                        sys.exit(f"a night through the proxy failed ({code}): {err.decode()[-500:]}")
                    rep = json.loads(out)
                    agree &= {t["table"]: t["residual_rows"] for t in rep["tables"] if t["residual_rows"]} == want
                    if n:
                        nights.append(wall)
            finally:
                shutil.rmtree(index, ignore_errors=True)
            night_wire = n1 and f"{n1[0] - n0[0]} requests"
            print(f"  lake-{variant}: scan {statistics.median(walls):.3f} s ({wire or 'requests not counted'}), "
                  f"scan plan {statistics.median(plans):.3f} s, a night with nothing new "
                  f"{statistics.median(nights):.3f} s ({night_wire or 'requests not counted'})  "
                  f"{'agrees' if agree else 'DISAGREES'}")
            ok &= agree
    finally:
        proxy.kill()
        proxy.wait()
    return ok


def server_figures(binary, root, bucket, endpoint, env, runs):
    """What bounds the figures above: the server's time for one small ranged GET (boto3,
    one at a time), and `vouch scan plan` of a table of 20,000 empty objects in 100
    partitions (listed in ranges of partitions past one page)."""
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    objs = s3.list_objects_v2(Bucket=bucket, Prefix="lake-plain/")["Contents"][:20]
    took = []
    for o in objs:
        t0 = time.perf_counter()
        s3.get_object(Bucket=bucket, Key=o["Key"], Range="bytes=0-1023")["Body"].read()
        took.append((time.perf_counter() - t0) * 1000)
    size = statistics.median(o["Size"] for o in objs)
    print(f"\nthe server: a 1 KB ranged GET of a {size / 1e6:.1f} MB object takes "
          f"{min(took):.1f} to {max(took):.1f} ms (median {statistics.median(took):.1f}), one at a time")
    root = os.path.join(root, "listing-bench", "lake", "events")
    if not os.path.exists(os.path.join(root, "dt=0099", "part-0199.parquet")):
        for p in range(100):
            os.makedirs(os.path.join(root, f"dt={p:04d}"), exist_ok=True)
            for f in range(200):
                open(os.path.join(root, f"dt={p:04d}", f"part-{f:04d}.parquet"), "wb").close()
    times = []
    for _ in range(runs):
        out, err, code, wall, rss = scan_bench.run_child(
            [binary, "scan", "plan", "--lake", "s3://listing-bench/lake"], env=env)
        lines = out.count(b"\n") - 1
        if code != 0 or lines != 20_000:
            sys.exit(f"FAILED: scan plan listed {lines} files (exit {code}): {err.decode()[-500:]}")
        times.append(wall)
    print(f"listing: `vouch scan plan` of 20,000 objects in 100 partitions: {statistics.median(times):.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="default")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release"))
    ap.add_argument("--server", choices=["fast", "s3s-fs"], default="fast",
                    help="benches/s3-server (default), or s3s-fs as crates.io ships it")
    ap.add_argument("--s3s", help="the server's binary (default: built under DIR, or for s3s-fs the PATH, "
                                  "~/.cargo/bin, else installed)")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--latency", type=float, metavar="MS",
                    help="also time vouch's S3 scan and scan plan with MS added to every request "
                         "(the tests' proxy; for the smoke and small lakes)")
    ap.add_argument("--nagle", action="store_true",
                    help="leave s3s-fs's sockets as it makes them (Nagle's algorithm on: up to 40 ms a GET)")
    ap.add_argument("--serve-files", action="store_true",
                    help="serve the lake's files as they are (s3s-fs then hashes each object on every GET)")
    args = ap.parse_args()
    rows, runs = SCALES[args.scale]
    runs = args.runs or runs
    binary = os.path.abspath(os.path.join(args.bin, "vouch"))
    data = scan_bench.ensure_lake(binary, os.path.abspath(args.dir), args.scale)
    ids = os.path.join(data, "ids.txt")
    bucket = os.path.basename(data)  # s3s-fs serves each directory of its root as a bucket
    if args.serve_files:
        root = os.path.dirname(data)
    else:
        root = os.path.join(os.path.abspath(args.dir), f"s3s-root-{args.scale}")
        os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vouch-s3-fast-")
    if args.server == "fast":
        # It sets TCP_NODELAY itself, and counts what it serves.
        shim, server_binary = None, fast_server(args.s3s, os.path.abspath(args.dir))
        stats_port = free_port()
    else:
        shim, server_binary = (None if args.nagle else nodelay_shim(work)), s3s_binary(args.s3s)
        stats_port = None
    server, endpoint = start_server(server_binary, root, shim, stats_port)
    if not args.serve_files:
        upload(endpoint, data, root, bucket)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    failed = False
    try:
        how = "files served as they are" if args.serve_files else "objects uploaded with their ETags"
        if args.server == "fast":
            name = f"benches/s3-server (s3s-fs {S3S_VERSION}, 1 MiB reads, TCP_NODELAY)"
        else:
            name = f"s3s-fs {S3S_VERSION}"
            how += ", TCP_NODELAY" if shim else ", Nagle's algorithm on"
        print(f"scale {args.scale}: {rows:,} rows, {name} on 127.0.0.1 ({how}), median of {runs}")
        for variant in ["plain", "bloom"]:
            local_lake = os.path.join(data, f"lake-{variant}")
            s3_lake = f"s3://{bucket}/lake-{variant}"
            engines = {
                "vouch local": lambda: vouch(binary, local_lake, ids),
                "vouch S3": lambda: vouch(binary, s3_lake, ids, env),
                "polars S3": lambda: polars(s3_lake, ids, endpoint),
            }
            results, cpu, wire = {}, {}, {}
            for name, fn in engines.items():
                fn()  # warm
                got, client, server_cpu = [], [], []
                for _ in range(runs):
                    c0, s0, w0 = scan_bench.cpu_seconds(), scan_bench.cpu_seconds(server.pid), served(stats_port)
                    got.append(fn())
                    client.append(scan_bench.cpu_seconds() - c0)
                    server_cpu.append(scan_bench.cpu_seconds(server.pid) - s0)
                    w1 = served(stats_port)
                    wire[name] = w1 and tuple(b - a for a, b in zip(w0, w1))
                results[name] = (statistics.median(g[0] for g in got), got[-1])
                cpu[name] = (statistics.median(client), statistics.median(server_cpu))
            want = results["vouch local"][1][1]
            print(f"\nlake-{variant}: residual rows {sum(want.values())}")
            for name, (t, last) in results.items():
                agrees = last[1] == want
                failed |= not agrees
                if wire[name] and wire[name][0]:
                    # What the server answered: S3 requests (listing included), body bytes.
                    extra = f"{wire[name][0]:>6} requests {wire[name][2] / 1e6:8.1f} MB"
                elif len(last) > 2:
                    extra = f"{last[2]:>6} reads    {last[3] / 1e6:8.1f} MB"
                else:
                    extra = f"{'':>6}          {'':>8}   "
                print(f"  {name:<12} {t:8.3f} s  {extra}  {t / results['vouch local'][0]:5.2f}x local  "
                      f"CPU {cpu[name][0]:6.2f} s + server {cpu[name][1]:5.2f} s  "
                      f"{'agrees' if agrees else 'DISAGREES: ' + json.dumps(last[1])}")
            s3 = results["vouch S3"][0]
            local = results["vouch local"][0]
            print(f"  vouch S3 / vouch local {s3 / local:.2f}x; "
                  f"polars S3 / vouch S3 {results['polars S3'][0] / s3:.2f}x")
            # What the cores allow: the server's CPU is taken from the clients' cores here,
            # where S3 takes none of the client machine's.
            cores = os.cpu_count() or 1
            shared = (cpu["vouch S3"][0] + cpu["vouch S3"][1]) / cores
            alone_ = cpu["vouch S3"][0] / cores
            print(f"  bound by CPU on {cores} cores: vouch S3 with the server {shared:.3f} s "
                  f"({shared / local:.2f}x local), without it {alone_:.3f} s ({alone_ / local:.2f}x); "
                  f"Polars / vouch by CPU without the server {cpu['polars S3'][0] / cpu['vouch S3'][0]:.2f}x")
        server_figures(binary, root, bucket, endpoint, env, runs)
        if args.latency:
            failed |= not with_latency(binary, data, bucket, endpoint, env, runs, args.latency, stats_port)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit("FAILED: the engines disagree")


if __name__ == "__main__":
    main()

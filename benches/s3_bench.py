#!/usr/bin/env python3
"""S3 scan benchmark: `vouch scan` of the benchmark lake in a local S3-compatible server
(moto_server on 127.0.0.1) against the same scan of the local files, in the same run.

  python3 benches/s3_bench.py --scale small     # 4M rows
  python3 benches/s3_bench.py --scale smoke     # CI: 200k rows, 1 run

Uses the lakes of benches/scan_bench.py (generated if missing), uploads them with boto3,
checks that the S3 and local scans agree, and prints time, bytes fetched and their share
of the lake. Target: with bloom filters, the S3 scan within 2x of the local one.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="small")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release"))
    args = ap.parse_args()
    rows, runs = SCALES[args.scale]
    vouch = os.path.join(args.bin, "vouch")
    data = os.path.join(args.dir, f"scan-{args.scale}")
    if not os.path.exists(os.path.join(data, "ids.txt")):
        subprocess.run([scan_bench.fixtures_tool(args.bin), "bench", data, str(rows)], check=True, stdout=subprocess.DEVNULL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        import boto3
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="bench")
        env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
        ids = os.path.join(data, "ids.txt")
        print(f"scale {args.scale}: {rows:,} rows, median of {runs} warm run(s), moto_server on loopback")
        print(f"  {'lake':<7} {'local s':>8} {'S3 s':>7} {'S3/local':>9} {'lake MB':>8} {'fetched MB':>11} {'fetched %':>10} {'files':>6} {'GETs':>6}")
        for variant in ["plain", "bloom"]:
            lake = os.path.join(data, f"lake-{variant}")
            size = 0
            for d, _, files in os.walk(lake):
                for f in files:
                    p = os.path.join(d, f)
                    size += os.path.getsize(p)
                    s3.upload_file(p, "bench", f"{variant}/{os.path.relpath(p, lake)}")
            results = {}
            for name, loc in [("local", lake), ("s3", f"s3://bench/{variant}")]:
                times, rep = [], None
                for _ in range(runs + 1):
                    t0 = time.perf_counter()
                    p = subprocess.run([vouch, "scan", "--lake", loc, "--ids", ids, "--format", "json", "-q"], env=env, capture_output=True)
                    times.append(time.perf_counter() - t0)
                    if p.returncode not in (0, 1):
                        sys.exit(f"{name} scan failed: {p.stderr.decode()[:300]}")
                    rep = json.loads(p.stdout)
                results[name] = (statistics.median(times[1:]), rep)
            (lt, lrep), (st, srep) = results["local"], results["s3"]
            if [t["residual_rows"] for t in lrep["tables"]] != [t["residual_rows"] for t in srep["tables"]]:
                sys.exit("FAILED: the S3 and local scans disagree")
            fetched = srep["bytes_read"]
            print(f"  {variant:<7} {lt:>8.3f} {st:>7.3f} {st / lt:>8.2f}x {size / 1e6:>8.1f} {fetched / 1e6:>11.1f} {100 * fetched / size:>9.1f}%"
                  f" {srep['files_scanned']:>6} {srep['read_requests']:>6}")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""DSAR export benchmark: export of one subject against a scan for it, and the
hash+encrypt throughput against the standard tools, in the same run.

  python3 benches/export_bench.py                 # default scale lake, 1 GiB payload
  python3 benches/export_bench.py --scale smoke   # CI: small lake, 64 MiB payload

Uses the lakes of benches/scan_bench.py (generated if missing). Part 1 times `vouch scan`
and `vouch export` of the same subject (one that still has rows) on the lake without and
with bloom filters; target: export within 1.5x of the scan. Part 2 encrypts an
incompressible payload through vouch's sealing writer (age v1 + SHA-256 of the ciphertext,
hashed on a second core) and compares with `age -r R | sha256sum`, `age` alone,
`sha256sum` and `openssl dgst -sha256`; target: at least 0.8 GB/s.
"""
import argparse
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
SCALES = {"smoke": (200_000, 64 << 20, 1), "small": (4_000_000, 256 << 20, 3), "default": (41_500_000, 1 << 30, 5)}


def timed(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    return time.perf_counter() - t0, p


def median_time(cmd, runs, ok=(0,), **kw):
    times = []
    out = None
    for _ in range(runs + 1):  # the first run warms the cache
        t, p = timed(cmd, **kw)
        if p.returncode not in ok:
            sys.exit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.decode()[:500]}")
        times.append(t)
        out = p.stdout
    return statistics.median(times[1:]), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="default")
    ap.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release"))
    args = ap.parse_args()
    rows, payload_size, runs = SCALES[args.scale]
    vouch = os.path.join(args.bin, "vouch")
    fixtures = scan_bench.fixtures_tool(args.bin)
    data = os.path.join(args.dir, f"scan-{args.scale}")
    if not os.path.exists(os.path.join(data, "ids.txt")):
        subprocess.run([fixtures, "bench", data, str(rows)], check=True, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="vouch-export-bench-")
    try:
        key = os.path.join(work, "key.txt")
        subprocess.run(["age-keygen", "-o", key], check=True, stderr=subprocess.DEVNULL)
        recipient = next(l.split(": ")[1].strip() for l in open(key) if l.startswith("# public key"))
        subject = open(os.path.join(data, "ids.txt")).readline().strip()
        print(f"scale {args.scale}: {rows:,} rows, median of {runs} warm run(s), {os.cpu_count()} cores")
        print("\nexport of one subject against a scan for the same subject")
        print(f"  {'lake':<10} {'scan s':>8} {'export s':>9} {'export/scan':>12} {'rows':>5}")
        worst = 0.0
        for variant in ["plain", "bloom"]:
            lake = os.path.join(data, f"lake-{variant}")
            scan_t, scan_out = median_time([vouch, "scan", "--lake", lake, "--id", subject, "--format", "json", "-q"], runs, ok=(0, 1))
            out = os.path.join(work, "b.age")
            exp_t, exp_out = median_time([vouch, "export", "--lake", lake, "--id", subject, "--recipient", recipient,
                                          "--out", out, "--force", "--format", "json", "-q"], runs)
            scanned = json.loads(scan_out)["residual_rows"]
            exported = json.loads(exp_out)["rows"]
            if scanned != exported:
                sys.exit(f"FAILED: scan found {scanned} rows, export wrote {exported}")
            ratio = exp_t / scan_t
            worst = max(worst, ratio)
            print(f"  {variant:<10} {scan_t:>8.3f} {exp_t:>9.3f} {ratio:>11.2f}x {exported:>5}")
        payload = os.path.join(work, "payload.bin")
        with open(payload, "wb") as f:
            left = payload_size
            while left:
                n = min(left, 16 << 20)
                f.write(os.urandom(n))
                left -= n
        gb = payload_size / 1e9
        print(f"\nhash + encrypt of {payload_size >> 20} MiB of incompressible data (GB/s, higher is better)")
        rows_out = []
        t, out = median_time([fixtures, "seal", recipient, payload, "/dev/null"], runs)
        rows_out.append(("vouch seal (age + SHA-256), to /dev/null", gb / json.loads(out)["seconds"]))
        t, out = median_time([fixtures, "seal", recipient, payload, os.path.join(work, "p.age")], runs)
        rows_out.append(("vouch seal (age + SHA-256), to a file", gb / json.loads(out)["seconds"]))
        t, _ = median_time(["sh", "-c", f"age -r {recipient} {payload} | sha256sum"], runs)
        rows_out.append(("age -r R | sha256sum", gb / t))
        t, _ = median_time(["sh", "-c", f"age -r {recipient} -o /dev/null {payload}"], runs)
        rows_out.append(("age -r R (no hash), to /dev/null", gb / t))
        t, _ = median_time(["sha256sum", payload], runs)
        rows_out.append(("sha256sum (no encryption)", gb / t))
        if shutil.which("openssl"):
            t, _ = median_time(["openssl", "dgst", "-sha256", payload], runs)
            rows_out.append(("openssl dgst -sha256 (no encryption)", gb / t))
        for name, rate in rows_out:
            print(f"  {name:<42} {rate:>6.2f}")
        print(f"\nexport/scan worst {worst:.2f}x (target <= 1.5x); seal {rows_out[0][1]:.2f} GB/s (target >= 0.8)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

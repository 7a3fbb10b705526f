#!/usr/bin/env python3
"""Evidence bundle benchmark: `vouch evidence build` and `verify` against `sha256sum`
followed by `zip -r -1` over the same files, in the same run.

  python3 benches/evidence_bench.py                 # 10,000 small files; one 2 GiB file
  python3 benches/evidence_bench.py --scale smoke   # CI: 1,000 files; 64 MiB

Small files are 1-64 KiB (seeded; half text-like, half incompressible). The large file
is incompressible. Targets: the large bundle at >= 0.5 GB/s, small files at >= 2,000
files/s, verify at least as fast as build.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = {"smoke": (1_000, 64 << 20, 1), "default": (10_000, 2 << 30, 3)}


def timed(cmd, runs, cwd=None):
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"{cmd[:3]} failed ({p.returncode}): {p.stderr.decode()[:300]}")
    return statistics.median(times[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=SCALES, default="default")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release"))
    args = ap.parse_args()
    nfiles, big, runs = SCALES[args.scale]
    vouch = os.path.join(args.bin, "vouch")
    work = tempfile.mkdtemp(prefix="vouch-evidence-bench-")
    try:
        subprocess.run([vouch, "keygen", "--out", os.path.join(work, "k")], check=True, stdout=subprocess.DEVNULL)
        rng = random.Random(42)
        small = os.path.join(work, "small")
        total = 0
        for i in range(nfiles):
            d = os.path.join(small, f"d{i % 100:02d}")
            os.makedirs(d, exist_ok=True)
            n = rng.randint(1 << 10, 64 << 10)
            if i % 2:
                data = os.urandom(n)
            else:
                data = (f"ts={i} user=hmac-sha256:{rng.getrandbits(64):016x} action=read table=events\n" * (n // 64 + 1)).encode()[:n]
            open(os.path.join(d, f"f{i:05d}.log"), "wb").write(data)
            total += n
        large = os.path.join(work, "large")
        os.makedirs(large)
        with open(os.path.join(large, "blob.bin"), "wb") as f:
            left = big
            while left:
                n = min(left, 16 << 20)
                f.write(os.urandom(n))
                left -= n
        print(f"scale {args.scale}: {nfiles:,} small files ({total / 1e6:.0f} MB), one {big >> 20} MiB file; median of {runs} warm run(s)")
        print(f"  {'case':<12} {'vouch build':>12} {'vouch verify':>13} {'sha256sum + zip -1':>19}")
        for name, src, unit in [("small files", small, "files/s"), ("large file", large, "GB/s")]:
            out = os.path.join(work, f"{name.split()[0]}.zip")
            build = timed([vouch, "evidence", "build", "--source", src, "--signing-key", os.path.join(work, "k"),
                           "--as-of", "2026-11-27", "--out", out, "--force"], runs)
            verify = timed([vouch, "evidence", "verify", out, "--public-key", os.path.join(work, "k.pub")], runs)
            peer_zip = os.path.join(work, "peer.zip")
            peer = timed(["sh", "-c", f"find . -type f -print0 | xargs -0 sha256sum > /dev/null && rm -f {peer_zip} && zip -q -r -1 {peer_zip} ."], runs, cwd=src)
            size = nfiles if unit == "files/s" else big / 1e9
            rate = lambda t: f"{size / t:,.0f} {unit}" if unit == "files/s" else f"{size / t:.2f} {unit}"
            print(f"  {name:<12} {rate(build):>12} {rate(verify):>13} {rate(peer):>19}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

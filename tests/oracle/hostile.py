#!/usr/bin/env python3
"""Seeded mutations of Parquet files with known residual rows, each scanned by `vouch`.

  hostile.py VOUCH WORKDIR COUNT SEED [SCAN FLAG ...]

Writes source files with pyarrow (a subject planted in known rows; page checksums on and
off, dictionary and PLAIN, compressed and not), derives COUNT mutants (bit flips,
truncations, length fields set to huge values, wrong page types, footer lengths), scans
each in its own process (10 s limit, 2 GiB address space, two at a time) and prints one
JSON summary: outcome counts, peak RSS, slowest run, and every run that broke a rule.
"""
import json
import os
import random
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

SUBJECT = "hostile-subject-0001"
LIMIT_S = 10
ADDRESS_SPACE = 2 << 30


def sources(work):
    rng = random.Random(7)
    n = 3000
    users = [f"user-{rng.randrange(400):05d}" for _ in range(n)]
    planted = sorted(rng.sample(range(n), 7))
    for i in planted:
        users[i] = SUBJECT
    table = pa.table({
        "user_id": users,
        "amount": [rng.randrange(10_000) for _ in range(n)],
        "note": [f"n{rng.randrange(50)}" for _ in range(n)],
    })
    variants = {
        "zstd-dict-crc": dict(compression="zstd", use_dictionary=True, write_page_checksum=True),
        "none-plain-crc": dict(compression="none", use_dictionary=False, write_page_checksum=True),
        "snappy-dict": dict(compression="snappy", use_dictionary=True),
        "none-plain": dict(compression="none", use_dictionary=False),
        "gzip-v2-dict": dict(compression="gzip", use_dictionary=True, data_page_version="2.0"),
        # Read through the parquet crate's generic decoder (where parquet 60.1 panics on a
        # bad slice index and allocates 1 GiB from a 4 KB brotli file).
        "brotli-delta-crc": dict(compression="brotli", use_dictionary=False,
                                 column_encoding={"user_id": "DELTA_BYTE_ARRAY"},
                                 write_page_checksum=True),
        "lz4-delta-length": dict(compression="lz4", use_dictionary=False,
                                 column_encoding={"user_id": "DELTA_LENGTH_BYTE_ARRAY"}),
    }
    out = {}
    for name, opts in variants.items():
        path = os.path.join(work, f"{name}.parquet")
        pq.write_table(table, path, row_group_size=1000, data_page_size=2048, **opts)
        meta = pq.ParquetFile(path).metadata
        pages = []
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                col = meta.row_group(g).column(c)
                pages.append(col.data_page_offset)
                if col.dictionary_page_offset is not None:
                    pages.append(col.dictionary_page_offset)
        with open(path, "rb") as f:
            data = f.read()
        out[name] = {"data": data, "pages": pages, "checksums": "crc" in name}
    return out, len(planted)


def varint(v):
    b = bytearray()
    while True:
        if v < 0x80:
            b.append(v)
            return bytes(b)
        b.append((v & 0x7F) | 0x80)
        v >>= 7


def mutate(rng, src):
    data = bytearray(src["data"])
    kind = rng.choice(["flip", "flip", "truncate", "huge", "page-type", "footer-length", "zero-run"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "huge":
        # A length or count field set to a huge value: a zigzag varint or a u32.
        i = rng.randrange(len(data) - 8)
        blob = rng.choice([varint(0xFFFFFFFE), varint(2**40), b"\xff\xff\xff\x7f"])
        data[i:i + len(blob)] = blob
    elif kind == "page-type":
        # Field 1 of a page header (0x15, then the zigzag varint of the type).
        at = rng.choice(src["pages"])
        if data[at] == 0x15:
            data[at + 1] = rng.choice([0, 2, 4, 6, 8, 0x7E])
        else:
            data[at] ^= 0xFF
    elif kind == "footer-length":
        n = len(data)
        v = rng.choice([0, 1, n - 8, n, n + 1, 2**31 - 1, 2**32 - 1])
        data[n - 8:n - 4] = (v & 0xFFFFFFFF).to_bytes(4, "little")
    else:
        i = rng.randrange(len(data))
        data[i:i + rng.randint(1, 64)] = bytes(rng.randint(1, 64))
    return kind, bytes(data)


def limit():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def scan(vouch, d, flags):
    t0 = time.monotonic()
    p = subprocess.Popen(
        [vouch, "scan", "--config", "vouch.toml", "--ids", "ids.txt", "--format", "json", "-q"]
        + flags,
        cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit)
    try:
        out, err = p.communicate(timeout=LIMIT_S)
        hung = False
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        hung = True
    wall = time.monotonic() - t0
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), wall, hung


def main():
    vouch, work, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    flags = sys.argv[5:]
    keep = os.environ.get("HOSTILE_KEEP")  # a mutant number: keep its file for a look
    srcs, residual = sources(work)
    names = sorted(srcs)
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        name = names[i % len(names)]
        kind, data = mutate(rng, srcs[name])
        jobs.append((i, name, kind, data))
    # The unmutated files first: each must report exactly the planted rows.
    jobs = [(-1 - k, n, "original", srcs[n]["data"]) for k, n in enumerate(names)] + jobs

    def run(job):
        i, name, kind, data = job
        d = os.path.join(work, f"m{i}")
        os.makedirs(os.path.join(d, "lake", "t"), exist_ok=True)
        with open(os.path.join(d, "lake", "t", "f.parquet"), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "vouch.toml"), "w") as f:
            f.write('[lake]\nlocation = "lake"\nid_columns = ["user_id"]\n')
        with open(os.path.join(d, "ids.txt"), "w") as f:
            f.write(f"{SUBJECT}\n")
        code, out, err, wall, hung = scan(vouch, d, flags)
        if str(i) != keep:
            for p in [os.path.join(d, "lake", "t", "f.parquet"), os.path.join(d, "vouch.toml"),
                      os.path.join(d, "ids.txt")]:
                os.remove(p)
        return i, name, kind, code, out, err, wall, hung

    summary = {"mutants": count, "residual_rows_planted": residual, "outcomes": {},
               "by_kind": {}, "violations": [], "undercounts": {}, "max_wall_s": 0.0}
    rss_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, jobs))
    summary["peak_rss_kb"] = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rss_before)
    for i, name, kind, code, out, err, wall, hung in results:
        summary["max_wall_s"] = max(summary["max_wall_s"], round(wall, 3))
        lines = [l for l in err.splitlines() if l.strip()]
        bad = None
        if hung:
            outcome = "hang"
            bad = "ran over 10 s"
        elif code is None or code < 0 or code not in (0, 1, 2):
            outcome = "crash"
            bad = f"exit {code}"
        elif "panicked" in err or "internal error" in err:
            outcome = "panic"
            bad = "panic message"
        elif code == 2:
            outcome = "error"
            if not lines or not all(l.startswith("vouch: lake/t/f.parquet: ") for l in lines):
                bad = "error lines do not all name the file"
        else:
            rep = json.loads(out)
            got = rep["residual_rows"]
            if got >= residual:
                outcome = "read"
            elif got == 0 and rep["verdict"] == "clean":
                outcome = "false-clean"
            else:
                outcome = "undercount"
            if kind == "original" and got != residual:
                bad = f"the unmutated file reads {got} rows, not {residual}"
        summary["outcomes"][outcome] = summary["outcomes"].get(outcome, 0) + 1
        k = summary["by_kind"].setdefault(kind, {})
        k[outcome] = k.get(outcome, 0) + 1
        if outcome in ("false-clean", "undercount"):
            u = summary["undercounts"].setdefault(name, {})
            u[outcome] = u.get(outcome, 0) + 1
            summary.setdefault("misreads", []).append(
                {"mutant": i, "source": name, "kind": kind, "outcome": outcome,
                 "residual_rows": json.loads(out)["residual_rows"]})
        if bad:
            summary["violations"].append({"mutant": i, "source": name, "kind": kind, "problem": bad,
                                          "exit": code, "stderr": err[-400:]})
    print(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs every vouch test on a fresh machine: installs what the tests need when it is
# missing (Debian age, unzip, zip, ssh-keygen for interop, chromium for the report page; PyPI duckdb + pyarrow for the
# independent oracle, polars for the benchmark's peers, bagit for the BagIt validator,
# jsonschema to validate outputs against docs/schemas, moto[server] for the S3-compatible test server the S3 tests start on 127.0.0.1, pyspark
# for the Spark driver in local mode, pyyaml to read the Kubernetes manifests), then the Rust test suite, then
# the benchmarks at smoke scale (they fail if the engines disagree). No test is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: age (decrypts export bundles in the interop tests), unzip.
# chromium renders report.html headless in the nightly tests; strace kills processes at
# chosen syscalls in the crash tests; java runs pyspark's local mode in the shard benchmark;
# zstd unpacks the corpus's .tar.zst Delta tables.
missing=()
for tool in age age-keygen unzip zip ssh-keygen sha256sum chromium strace java zstd; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing age, unzip, openssh-client, chromium, strace, a JRE, zstd from Debian (missing: ${missing[*]})" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        age unzip zip openssh-client coreutils chromium strace default-jre-headless zstd >/dev/null
fi

PYTHON=${VOUCH_PYTHON:-python3}
export VOUCH_PYTHON=$PYTHON
if ! "$PYTHON" -c 'import duckdb, pyarrow, polars, bagit, boto3, flask_cors, pyspark, yaml, deltalake, pyiceberg, jsonschema' 2>/dev/null \
    || ! command -v bagit.py >/dev/null || ! command -v moto_server >/dev/null; then
    echo "test.sh: installing duckdb, pyarrow, polars, bagit, jsonschema, moto[server], pyspark, pyyaml, deltalake, pyiceberg from PyPI" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check duckdb pyarrow polars bagit jsonschema \
        'moto[server]' pyspark pyyaml deltalake 'pyiceberg[sql-sqlite,pyarrow]'
fi

# The public test corpus is read in place (tests/common::corpus). Without it the corpus
# test does not run, and says so here (cargo test shows a passing test's output only with
# --nocapture); under CI=true the test fails instead.
corpus=${VOUCH_CORPUS:-../shared/corpus}
if [ ! -d "$corpus/parquet-testing" ]; then
    echo "test.sh: NOT RUN: tests/corpus.rs (no $corpus/parquet-testing; set VOUCH_CORPUS)" >&2
fi

echo "== cargo test" >&2
cargo test --all-targets --features dev-tools

# The smoke benchmarks check that every engine agrees; they use the test build (its
# dependencies are optimised) rather than spend CI minutes on a release build. Speed
# figures come from release builds: see docs/benchmarks.md.
echo "== benchmark smoke test (all engines must agree)" >&2
bench_dir=$(mktemp -d)
trap 'rm -rf "$bench_dir"' EXIT
"$PYTHON" benches/scan_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/export_bench.py --scale smoke --dir "$bench_dir" --bin target/debug
"$PYTHON" benches/evidence_bench.py --scale smoke --bin target/debug
"$PYTHON" benches/s3_bench.py --scale smoke --dir "$bench_dir" --bin target/debug
"$PYTHON" benches/metrics_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/index_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/nightly_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/load_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/shard_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/merge_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch
"$PYTHON" benches/table_format_bench.py --scale smoke --dir "$bench_dir" --vouch target/debug/vouch

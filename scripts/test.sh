#!/usr/bin/env bash
# Runs every vouch test on a fresh machine: installs what the tests need when it is
# missing (Debian age, unzip, zip, ssh-keygen for interop; PyPI duckdb + pyarrow for the
# independent oracle, polars for the benchmark's peers, bagit for the BagIt validator), then the Rust test suite, then
# the benchmarks at smoke scale (they fail if the engines disagree). No test is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: age (decrypts export bundles in the interop tests), unzip.
missing=()
for tool in age age-keygen unzip zip ssh-keygen sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing age, unzip, openssh-client from Debian (missing: ${missing[*]})" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age unzip zip openssh-client coreutils >/dev/null
fi

PYTHON=${VOUCH_PYTHON:-python3}
export VOUCH_PYTHON=$PYTHON
if ! "$PYTHON" -c 'import duckdb, pyarrow, polars, bagit' 2>/dev/null || ! command -v bagit.py >/dev/null; then
    echo "test.sh: installing duckdb, pyarrow, polars, bagit from PyPI" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check duckdb pyarrow polars bagit
fi

echo "== cargo test" >&2
cargo test --all-targets

echo "== benchmark smoke test (all engines must agree)" >&2
cargo build --release --bins
bench_dir=$(mktemp -d)
trap 'rm -rf "$bench_dir"' EXIT
"$PYTHON" benches/scan_bench.py --scale smoke --dir "$bench_dir"
"$PYTHON" benches/export_bench.py --scale smoke --dir "$bench_dir"
"$PYTHON" benches/evidence_bench.py --scale smoke

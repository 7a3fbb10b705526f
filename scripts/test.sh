#!/usr/bin/env bash
# Runs every vouch test on a fresh machine: installs what the tests need when it is
# missing (PyPI duckdb + pyarrow for the independent oracle, polars for the benchmark's
# peers), then the Rust test suite, then the benchmark at smoke scale (it fails if the
# engines disagree). No test is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${VOUCH_PYTHON:-python3}
export VOUCH_PYTHON=$PYTHON
if ! "$PYTHON" -c 'import duckdb, pyarrow, polars' 2>/dev/null; then
    echo "test.sh: installing duckdb, pyarrow, polars from PyPI" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check duckdb pyarrow polars
fi

echo "== cargo test" >&2
cargo test --all-targets

echo "== benchmark smoke test (all engines must agree)" >&2
cargo build --release --bins
bench_dir=$(mktemp -d)
trap 'rm -rf "$bench_dir"' EXIT
"$PYTHON" benches/scan_bench.py --scale smoke --dir "$bench_dir"

//! Hostile Parquet (issue 9, item 1): seeded mutations of files with known residual rows
//! (`tests/oracle/hostile.py` writes them with pyarrow and runs `vouch scan` on each in its
//! own process, 10 s and 2 GiB address space at most). The figures are in RELIABILITY.md.
//!
//! `VOUCH_HOSTILE_MUTANTS` sets the count (default 3,000 per mode).

use crate::common::*;

fn mutate_and_scan(flags: &[&str]) -> serde_json::Value {
    let count: u32 = std::env::var("VOUCH_HOSTILE_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(python())
        .arg(repo().join("tests/oracle/hostile.py"))
        .arg(env!("CARGO_BIN_EXE_vouch"))
        .arg(work.path())
        .arg(count.to_string())
        .arg("20261128")
        .args(flags)
        .output()
        .expect("run python3 (the test script installs pyarrow)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{flags:?}: {s}");
    assert!(s["mutants"].as_u64().unwrap() >= u64::from(count));
    // No panic, abort, crash or hang; every error names the file; the unmutated files
    // read exactly their planted rows.
    assert_eq!(s["violations"], serde_json::json!([]), "{s:#}");
    for bad in ["panic", "crash", "hang"] {
        assert!(s["outcomes"].get(bad).is_none(), "{s:#}");
    }
    assert!(s["max_wall_s"].as_f64().unwrap() < 10.0);
    // Memory stays bounded whatever a length field claims.
    assert!(s["peak_rss_kb"].as_u64().unwrap() < 512 * 1024, "{s:#}");
    s
}

#[test]
fn mutated_files_never_panic_hang_or_misreport_quietly_when_checksummed() {
    // Every pruning on (statistics, dictionaries): footer statistics carry no checksum.
    let default = mutate_and_scan(&[]);
    // Pruning on unchecked metadata off: what remains unseen is a changed value in pages
    // without checksums, which every reader reads the same way.
    let strict = mutate_and_scan(&["--no-statistics", "--no-bloom-filters"]);
    for source in ["zstd-dict-crc", "none-plain-crc", "brotli-delta-crc"] {
        assert!(
            strict["undercounts"].get(source).is_none(),
            "a checksummed file read short: {strict:#}"
        );
    }
    let misreads = |s: &serde_json::Value| {
        s["outcomes"]["undercount"].as_u64().unwrap_or(0)
            + s["outcomes"]["false-clean"].as_u64().unwrap_or(0)
    };
    // Rare, and measured (RELIABILITY.md); a jump means a regression.
    assert!(misreads(&default) <= 15, "{default:#}");
    assert!(misreads(&strict) <= 10, "{strict:#}");
}

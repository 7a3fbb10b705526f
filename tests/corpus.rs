//! The public parquet-testing corpus (`$VOUCH_CORPUS/parquet-testing`, by default
//! `../shared/corpus/parquet-testing`, read in place; see `common::corpus`):
//! every file gives either the scan DuckDB agrees with, or a clean one-line error — never a
//! panic, never a crash.

use std::path::{Path, PathBuf};

use crate::common::*;
use parquet::basic::LogicalType;

/// The first flat text or integer column vouch can match on, read with the parquet crate
/// (contained: some corpus footers make it panic).
fn pick_column(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).ok()?;
    std::panic::catch_unwind(|| {
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes::Bytes::from(bytes))
            .ok()?;
        let schema = meta.file_metadata().schema_descr();
        schema
            .columns()
            .iter()
            .find(|c| {
                let textual = c.physical_type() == parquet::basic::Type::BYTE_ARRAY
                    && matches!(c.logical_type_ref(), Some(LogicalType::String));
                let integer = matches!(
                    c.physical_type(),
                    parquet::basic::Type::INT32 | parquet::basic::Type::INT64
                ) && c
                    .logical_type_ref()
                    .is_none_or(|l| matches!(l, LogicalType::Integer(_)))
                    && c.converted_type() == parquet::basic::ConvertedType::NONE;
                vouch::domain::scan::id_kind(c).is_ok() && (textual || integer)
            })
            .map(|c| c.path().string())
    })
    .ok()
    .flatten()
}

#[test]
fn every_corpus_file_scans_correctly_or_fails_cleanly() {
    let Some(corpus) = corpus("parquet-testing") else {
        return;
    };
    let mut files: Vec<PathBuf> = ["data", "bad_data"]
        .iter()
        .flat_map(|d| std::fs::read_dir(corpus.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    assert!(
        files.len() > 60,
        "corpus looks incomplete: {} files",
        files.len()
    );
    // Files whose damage vouch must catch, and what it says.
    let must_fail = [
        (
            "datapage_v1-corrupt-checksum.parquet",
            "fails its CRC checksum",
        ),
        (
            "rle-dict-uncompressed-corrupt-checksum.parquet",
            "fails its CRC checksum",
        ),
        (
            "repeated_no_annotation.parquet",
            "corrupt footer: row groups hold 6 rows, the file says 0",
        ),
        ("ARROW-RS-GH-6229-DICTHEADER.parquet", "page header"),
        ("PARQUET-1481.parquet", "corrupt footer"),
    ];
    let (mut agreed, mut errors, mut unchecked) = (0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let column = pick_column(file).unwrap_or_else(|| "user_id".into());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lake/t")).unwrap();
        std::os::unix::fs::symlink(file, dir.path().join("lake/t/f.parquet")).unwrap();
        std::fs::write(
            dir.path().join("vouch.toml"),
            format!("[lake]\nlocation = \"lake\"\nid_columns = [{column:?}]\n"),
        )
        .unwrap();
        let want = oracle(
            "duckdb_file.py",
            &serde_json::json!({"file": file, "column": column}),
        );
        let ids: Vec<String> = match want["ids"].as_array() {
            Some(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            None => vec!["1".into(), "vouch-no-such-subject".into()],
        };
        std::fs::write(dir.path().join("ids.txt"), ids.join("\n")).unwrap();
        let r = run(vouch().current_dir(dir.path()).args([
            "scan",
            "--config",
            "vouch.toml",
            "--ids",
            "ids.txt",
            "--format",
            "json",
            "-q",
        ]));
        assert!([0, 1, 2].contains(&r.code), "{name}: {r:?}");
        assert!(
            !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
            "{name}: {r:?}"
        );
        let got = r.json();
        if let Some((_, what)) = must_fail.iter().find(|(n, _)| *n == name) {
            assert_eq!(r.code, 2, "{name} must not pass: {r:?}");
            assert!(r.stderr.contains(what), "{name}: {r:?}");
        }
        if r.code == 2 {
            // A clean error: one line per problem, naming the file.
            let lines: Vec<&str> = r.stderr.lines().collect();
            assert!(
                !lines.is_empty()
                    && lines
                        .iter()
                        .all(|l| l.starts_with("vouch: lake/t/f.parquet: ")),
                "{name}: {r:?}"
            );
            errors += 1;
            eprintln!("{name}: error: {}", lines[0]);
        } else if want["ok"] == true {
            assert_eq!(got["rows_scanned"], want["rows"], "{name} ({column}): rows");
            assert_eq!(
                got["residual_rows"], want["residual_rows"],
                "{name} ({column}): residual rows"
            );
            agreed += 1;
        } else {
            unchecked += 1;
            eprintln!(
                "{name}: vouch read it ({}), DuckDB could not: {}",
                got["verdict"], want["error"]
            );
        }
    }
    eprintln!(
        "corpus: {} files, {agreed} agree with DuckDB, {errors} clean errors, {unchecked} read by vouch only",
        files.len()
    );
}

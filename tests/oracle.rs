//! vouch's counts checked against DuckDB, an independent engine, on generated lakes.

use crate::common::*;

/// Writes the random lake's config and ID list into `dir`; DuckDB's counts for it, with
/// `how` merged into the oracle's argument (`pattern`, `hive`).
fn prepare_and_count(
    dir: &std::path::Path,
    lake_dir: &std::path::Path,
    lake: &vouch::dev::fixtures::RandomLake,
    how: serde_json::Value,
) -> serde_json::Value {
    std::fs::write(dir.join("vouch.toml"), config_for(lake)).unwrap();
    std::fs::write(dir.join("ids.txt"), lake.ids.join("\n")).unwrap();
    let tables: Vec<serde_json::Value> = lake
        .tables
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "id_sql": t.id_sql}))
        .collect();
    let mut arg = serde_json::json!({"lake": lake_dir, "ids": lake.ids, "tables": tables});
    for (k, v) in how.as_object().unwrap() {
        arg[k] = v.clone();
    }
    oracle("duckdb_counts.py", &arg)
}

/// `vouch scan` of the lake prepared in `dir` with `flags`: no errors, and every table's
/// rows and residual rows as DuckDB counted them (`want`).
fn scan_agrees(
    dir: &std::path::Path,
    lake_dir: &std::path::Path,
    want: &serde_json::Value,
    flags: &[&str],
    what: &str,
) -> Run {
    let r = run(vouch()
        .args(["scan", "--format", "json", "-q", "--lake"])
        .arg(lake_dir)
        .arg("--config")
        .arg(dir.join("vouch.toml"))
        .arg("--ids")
        .arg(dir.join("ids.txt"))
        .args(flags));
    let got = r.json();
    assert!(
        got["errors"].as_array().unwrap().is_empty(),
        "{what}: {r:?}"
    );
    for t in got["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap();
        assert_eq!(
            t["rows_scanned"], want[name]["rows"],
            "{what} table {name} rows"
        );
        assert_eq!(
            t["residual_rows"], want[name]["residual_rows"],
            "{what} table {name} residual rows\n{r:?}"
        );
    }
    r
}

#[test]
fn residual_counts_match_duckdb_on_random_lakes() {
    for seed in 1..=16u64 {
        let dir = tempfile::tempdir().unwrap();
        let lake_dir = dir.path().join("lake");
        let lake = vouch::dev::fixtures::random_lake(&lake_dir, seed).unwrap();
        let want = prepare_and_count(dir.path(), &lake_dir, &lake, serde_json::json!({}));
        // Every decision path: pruning and the fast decoder, then the generic decoder alone.
        for flags in [
            &[][..],
            &["--no-statistics", "--no-bloom-filters", "--no-dictionaries"][..],
        ] {
            let what = format!("seed {seed} {flags:?}");
            let r = scan_agrees(dir.path(), &lake_dir, &want, flags, &what);
            let total: u64 = lake
                .tables
                .iter()
                .map(|t| want[&t.name]["residual_rows"].as_u64().unwrap())
                .sum();
            let expect_code = if total > 0 { 1 } else { 0 };
            assert_eq!(r.code, expect_code, "seed {seed}: {r:?}");
        }
    }
}

/// The random lakes laid out the way other writers lay them out: every file in a Spark
/// `_part=N/` partition directory, every other file without an extension (Athena, Trino,
/// Hive names), and on even seeds one file per table with upper-case column names. DuckDB
/// reads every file (`**/*`, Hive partitioning, columns by name ignoring case).
#[test]
fn residual_counts_match_duckdb_on_messy_layouts() {
    let mut upper_case_files = 0;
    for seed in 1..=8u64 {
        let dir = tempfile::tempdir().unwrap();
        let lake_dir = dir.path().join("lake");
        let lake = vouch::dev::fixtures::random_lake(&lake_dir, seed).unwrap();
        let mut recased = Vec::new();
        for t in &lake.tables {
            let root = lake_dir.join(&t.name);
            let mut files: Vec<_> = files_below(&root);
            files.sort();
            for (i, f) in files.iter().enumerate() {
                let part = root.join(format!("_part={i}"));
                std::fs::create_dir_all(&part).unwrap();
                let name = if i % 2 == 0 {
                    format!("20260101_101010_{i:05}_x8k2q_{seed}")
                } else {
                    f.file_name().unwrap().to_string_lossy().into_owned()
                };
                std::fs::rename(f, part.join(&name)).unwrap();
                // (Not UUID columns: rewritten, they would come back as text.)
                let uuid = t.id_sql.iter().any(|e| e.contains("UUID"));
                if i == 0 && seed % 2 == 0 && !uuid {
                    recased.push(part.join(&name));
                }
            }
        }
        if !recased.is_empty() {
            oracle("recase.py", &serde_json::json!({ "files": recased }));
            upper_case_files += recased.len();
        }
        let want = prepare_and_count(
            dir.path(),
            &lake_dir,
            &lake,
            serde_json::json!({"pattern": "**/*", "hive": true}),
        );
        scan_agrees(dir.path(), &lake_dir, &want, &[], &format!("seed {seed}"));
    }
    assert!(
        upper_case_files > 2,
        "the layouts include upper-case column names"
    );
}

/// Fills the parameters of `queries/residual_rows.sql`.
fn render(table: &str, column: &str, ids: &str) -> String {
    let q = std::fs::read_to_string(repo().join("queries/residual_rows.sql")).unwrap();
    q.replace("{{table}}", table)
        .replace("{{id_column}}", column)
        .replace("{{id_list}}", ids)
}

#[test]
fn the_portable_sql_agrees_with_vouch_on_the_fixture_lake() {
    let lake = repo().join("fixtures/lake");
    let src = |t: &str| {
        format!(
            "read_parquet('{}/{t}/**/*.parquet', hive_partitioning = false)",
            lake.display()
        )
    };
    let ids =
        vouch::domain::subjects::read_id_file(&repo().join("fixtures/deleted_ids.txt")).unwrap();
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let numeric: Vec<&str> = (ids.iter().map(String::as_str))
        .filter(|i| i.parse::<i64>().is_ok())
        .collect();
    let text = ids
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let uuids = ids
        .iter()
        .filter(|i| i.contains('-'))
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let statements = vec![
        render(&src("events"), "user_id", &text),
        render(&src("profiles"), "user_id", &numeric.join(", ")),
        render(&src("payments"), "user_id", &text),
        render(&src("payments"), "buyer_id", &numeric.join(", ")),
        render(&src("devices"), "owner_uuid", &uuids),
        render(&src("support_tickets"), "user_id", &text),
    ];
    let got = oracle(
        "duckdb_sql.py",
        &serde_json::json!({ "statements": statements }),
    );
    let r = run(vouch()
        .current_dir(repo().join("fixtures"))
        .args(FIXTURE_SCAN));
    let report = r.json();
    let vouch_rows = |t: &str, subject: &str| -> u64 {
        report["residuals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["table"] == t && x["subject"] == subject)
            .map(|x| x["rows"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(got[0], serde_json::json!([["5002", "2"]]));
    assert_eq!(vouch_rows("events", "5002"), 2);
    assert_eq!(got[1], serde_json::json!([]));
    assert_eq!(
        got[2],
        serde_json::json!([["5007", "1"]]),
        "payments.user_id alone"
    );
    assert_eq!(
        got[3],
        serde_json::json!([["5007", "2"]]),
        "payments.buyer_id alone"
    );
    assert_eq!(
        vouch_rows("payments", "5007"),
        2,
        "the union of both columns: the shared row counts once"
    );
    assert_eq!(got[4], serde_json::json!([]));
    assert_eq!(got[5], serde_json::json!([["5005", "3"]]));
    assert_eq!(vouch_rows("support_tickets", "5005"), 3);
}

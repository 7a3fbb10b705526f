//! Delta Lake tables: the log replayed as delta-rs replays it (the delta-kernel-rs corpus,
//! written by Spark and Databricks), and scans that split a subject's rows into what every
//! reader sees (`live`, the verdict) and what storage still holds (`physical_copies`):
//! rows a deletion vector masks, removed files kept for time travel, change data files,
//! files no version references. Tables the tests write go through delta-rs (`deltalake`
//! from PyPI), the independent writer and oracle.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;

/// Every Delta table of the corpus, unpacked into `into`: the directories as they are,
/// the `.tar.zst` archives extracted (with `tar --zstd`).
fn corpus_tables(corpus: &Path, into: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(corpus).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            copy_dir(&p, &into.join(&name));
        } else if name.ends_with(".tar.zst") {
            let ok = std::process::Command::new("tar")
                .args(["--zstd", "-xf"])
                .arg(&p)
                .arg("-C")
                .arg(into)
                .status()
                .expect("run tar (scripts/test.sh installs zstd)");
            assert!(ok.success(), "tar --zstd -xf {}", p.display());
        }
    }
    // Tables are the directories with a log, at any depth (partition_cm/name, ...).
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if d.join("_delta_log").is_dir() {
            out.push(d.to_path_buf());
            return;
        }
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    walk(into, &mut out);
    out.sort();
    out
}

#[test]
fn every_corpus_table_replays_to_the_files_delta_rs_reads_or_is_refused_by_both() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tables = corpus_tables(&corpus, dir.path());
    assert!(
        tables.len() >= 50,
        "corpus looks incomplete: {} tables",
        tables.len()
    );
    let names: Vec<String> = tables.iter().map(|t| t.display().to_string()).collect();
    let oracle = oracle("delta_rs.py", &json!({"op": "files", "tables": names}));
    let store = vouch::io::local::LocalStore::open(dir.path()).unwrap();
    let (mut agreed, mut refused, mut stats_values) = (0, 0, 0);
    let mut problems = Vec::new();
    for (t, name) in tables.iter().zip(&names) {
        let rel = t
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let ours = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vouch::domain::delta::snapshot(&store, &rel)
        }))
        .unwrap_or_else(|_| panic!("{rel}: the log replay panicked"));
        let theirs = &oracle[name.as_str()];
        match (ours, theirs.get("error")) {
            (Ok(s), None) => {
                // The log's statistics read too (commits, checkpoints, sidecars, .crc).
                let mut values = 0usize;
                let columns: Vec<String> = s.physical_names.values().cloned().collect();
                let columns = if columns.is_empty() {
                    vec!["id".to_string(), "value".to_string(), "name".to_string()]
                } else {
                    columns
                };
                vouch::domain::delta::visit_stats(&store, &rel, &columns, &mut |_, _| values += 1)
                    .unwrap_or_else(|e| panic!("{rel}: statistics: {e}"));
                stats_values += values;
                let files: Vec<&str> = s.live.keys().map(String::as_str).collect();
                let want: Vec<&str> = theirs["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect();
                if files != want || theirs["version"] != json!(s.version) {
                    problems.push(format!(
                        "{rel}: version {} with {} live file(s); delta-rs: version {} with {}",
                        s.version,
                        files.len(),
                        theirs["version"],
                        want.len()
                    ));
                } else {
                    agreed += 1;
                }
            }
            (Err(e), Some(_)) => {
                // Refused by both: vouch's error names the log.
                assert!(e.to_string().contains(&rel), "{e}");
                refused += 1;
            }
            (Ok(_), Some(err)) => {
                problems.push(format!("{rel}: read by vouch, delta-rs says {err}"))
            }
            (Err(e), None) => {
                problems.push(format!("{rel}: refused by vouch ({e}), read by delta-rs"))
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        agreed >= 50 && refused <= 3,
        "{agreed} agreed, {refused} refused"
    );
    assert!(
        stats_values > 1000,
        "statistics values read: {stats_values}"
    );
    eprintln!(
        "delta corpus: {agreed} tables replay like delta-rs, {refused} refused by both; \
         {stats_values} statistics values read"
    );
}

/// A lake holding the corpus table with a deletion vector (`table-with-dv-small`: ten rows,
/// `value` 0 to 9; a DELETE of 0 and 9 wrote the vector).
fn dv_lake(corpus: &Path) -> tempfile::TempDir {
    let lake = tempfile::tempdir().unwrap();
    copy_dir(
        &corpus.join("table-with-dv-small"),
        &lake.path().join("lake/dv"),
    );
    std::fs::write(
        lake.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"value\"]\n",
    )
    .unwrap();
    lake
}

#[test]
fn rows_a_deletion_vector_masks_are_physical_copies_not_residual() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let lake = dv_lake(&corpus);
    let (code, j) = scan_json(lake.path(), &["0", "9"]);
    assert_eq!(code, 0, "masked rows are gone for every reader: {j}");
    assert_eq!(j["verdict"], "clean");
    assert_eq!(j["physical_verdict"], "pending");
    assert_eq!(j["residual_rows"], 0);
    let all = j["physical_copies"].as_array().unwrap();
    let copies: Vec<&Value> = all.iter().filter(|c| c["kind"] == "masked_rows").collect();
    assert_eq!(copies.len(), 2, "{j}");
    for (c, id) in copies.iter().zip(["0", "9"]) {
        assert_eq!(c["subject"], id);
        assert_eq!(c["rows"], 1);
        assert_eq!(c["layer"], "deleted_retained");
        assert_eq!(c["kind"], "masked_rows");
        assert_eq!(c["removable_after"], Value::Null, "a purge comes first");
        assert!(
            c["way_out"]
                .as_str()
                .unwrap()
                .starts_with("REORG TABLE delta.`")
                && c["way_out"].as_str().unwrap().contains("APPLY (PURGE)"),
            "{c}"
        );
    }
    // 0 and 9 are also the file's minValues / maxValues in both commits of the log: copies
    // of the IDs that outlive the rows, until log cleanup (30 days after each commit file).
    let stats: Vec<&Value> = all.iter().filter(|c| c["kind"] == "log_stats").collect();
    assert_eq!(stats.len(), 4, "{j}");
    let log = lake
        .path()
        .join("lake/dv/_delta_log/00000000000000000000.json");
    let mtime = std::fs::metadata(&log)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let want = vouch::domain::report::rfc3339(mtime + 30 * 86_400);
    let first = stats
        .iter()
        .find(|c| c["file"] == "dv/_delta_log/00000000000000000000.json" && c["subject"] == "0")
        .unwrap();
    assert_eq!(first["removable_after"], want.as_str(), "{first}");
    assert_eq!(first["layer"], "deleted_retained");
    let t = &j["tables"][0];
    assert_eq!(
        (t["format"].clone(), t["table_version"].clone()),
        (json!("delta"), json!(1))
    );
    assert_eq!(
        t["deleted_retained_rows"], 2,
        "statistics values are not rows"
    );
    // 0 and 9 are the data file's own min / max statistics too: its footer names them
    // until the purge rewrites the file, the way out of the masked rows.
    let footer: Vec<(&str, &str, u64)> = all
        .iter()
        .filter(|c| c["kind"] == "footer_stats")
        .map(|c| {
            assert_eq!(c["way_out"], copies[0]["way_out"], "{c}");
            assert_eq!(c["removable_after"], Value::Null);
            (
                c["subject"].as_str().unwrap(),
                c["file"].as_str().unwrap(),
                c["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let data = copies[0]["file"].as_str().unwrap();
    assert_eq!(footer, [("0", data, 1), ("9", data, 1)], "{j}");
    // A row the vector does not mask is live: residual, as the runbook's COUNT(*) says.
    let (code, j) = scan_json(lake.path(), &["5", "0"]);
    assert_eq!(code, 1);
    assert_eq!(j["residual_rows"], 1);
    assert_eq!(j["residuals"][0]["subject"], "5");
    let kinds: Vec<&str> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["masked_rows", "footer_stats", "log_stats", "log_stats"],
        "{j}"
    );
    // An ID in no row: erased in every layer.
    let (code, j) = scan_json(lake.path(), &["42"]);
    assert_eq!((code, j["physical_verdict"].clone()), (0, json!("erased")));
}

#[test]
fn a_damaged_deletion_vector_or_log_makes_the_scan_incomplete_naming_the_file() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let commit = "lake/dv/_delta_log/00000000000000000001.json";
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "a flipped bit in the vector",
            Box::new(|p: &Path| {
                let f = std::fs::read_dir(p.join("lake/dv"))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .find(|f| f.to_string_lossy().contains("deletion_vector_"))
                    .unwrap();
                let mut b = std::fs::read(&f).unwrap();
                b[12] ^= 1;
                std::fs::write(f, b).unwrap();
            }),
            "checksum mismatch",
        ),
        (
            "the vector file gone",
            Box::new(|p: &Path| {
                for e in std::fs::read_dir(p.join("lake/dv")).unwrap() {
                    let f = e.unwrap().path();
                    if f.to_string_lossy().contains("deletion_vector_") {
                        std::fs::remove_file(f).unwrap();
                    }
                }
            }),
            "is not in storage",
        ),
        (
            "a vector offset past its file",
            Box::new(move |p: &Path| {
                let t = std::fs::read_to_string(p.join(commit)).unwrap();
                std::fs::write(p.join(commit), t.replace("\"offset\":1", "\"offset\":4000"))
                    .unwrap();
            }),
            "past the end",
        ),
        (
            "a cardinality the vector does not hold",
            Box::new(move |p: &Path| {
                let t = std::fs::read_to_string(p.join(commit)).unwrap();
                std::fs::write(
                    p.join(commit),
                    t.replace("\"cardinality\":2", "\"cardinality\":3"),
                )
                .unwrap();
            }),
            "holds 2 rows, its descriptor says 3",
        ),
        (
            "a truncated commit",
            Box::new(move |p: &Path| {
                let t = std::fs::read_to_string(p.join(commit)).unwrap();
                std::fs::write(p.join(commit), &t[..t.len() / 2]).unwrap();
            }),
            "line 2: not a Delta action",
        ),
        (
            "a gap in the log",
            Box::new(|p: &Path| {
                std::fs::copy(
                    p.join("lake/dv/_delta_log/00000000000000000001.json"),
                    p.join("lake/dv/_delta_log/00000000000000000003.json"),
                )
                .unwrap();
            }),
            "version 2 is missing from the log",
        ),
        (
            "a live file missing from storage",
            Box::new(|p: &Path| {
                for e in std::fs::read_dir(p.join("lake/dv")).unwrap() {
                    let f = e.unwrap().path();
                    if f.extension().is_some_and(|x| x == "parquet") {
                        std::fs::remove_file(f).unwrap();
                    }
                }
            }),
            "storage does not hold it",
        ),
        (
            "an unknown reader feature",
            Box::new(|p: &Path| {
                let f = p.join("lake/dv/_delta_log/00000000000000000000.json");
                let t = std::fs::read_to_string(&f).unwrap();
                std::fs::write(
                    &f,
                    t.replace(
                        "\"readerFeatures\":[\"deletionVectors\"]",
                        "\"readerFeatures\":[\"deletionVectors\",\"futureMasking\"]",
                    ),
                )
                .unwrap();
            }),
            "reader feature \"futureMasking\" is not supported",
        ),
    ];
    for (what, damage, says) in cases {
        let lake = dv_lake(&corpus);
        damage(lake.path());
        let (code, j) = scan_json(lake.path(), &["0", "9", "5"]);
        assert_eq!(code, 2, "{what}: {j}");
        assert_eq!(j["verdict"], "incomplete", "{what}");
        assert_eq!(j["physical_verdict"], "unknown", "{what}");
        let errors = error_lines(&j);
        assert!(
            errors
                .iter()
                .any(|e| e.contains(says) && e.starts_with("dv")),
            "{what}: {errors:?}"
        );
    }
}

/// A temp dir with `vouch.toml` for a lake in `lake/` with `user_id` as identifier.
fn users_lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"user_id\"]\n",
    )
    .unwrap();
    dir
}

fn delta_rs(arg: Value) -> Value {
    oracle("delta_rs.py", &arg)
}

fn newest_tombstone_ms(table: &Path) -> i64 {
    let mut newest = 0;
    for e in std::fs::read_dir(table.join("_delta_log")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                if let Some(t) = v["remove"]["deletionTimestamp"].as_i64() {
                    newest = newest.max(t);
                }
            }
        }
    }
    newest
}

#[test]
fn a_delete_by_delta_rs_leaves_a_removed_file_until_vacuum_and_then_it_is_erased() {
    let lake = users_lake();
    let p = lake.path();
    let t = p.join("lake/users");
    let table = t.display().to_string();
    // a0 and z9 bound the first file's statistics, a1 and z8 the second's: u2 and u3 are
    // never a minValue or maxValue.
    delta_rs(json!({"op": "write", "table": table,
        "rows": [["a0", 1], ["u1", 3], ["u2", 2], ["u3", 4], ["z9", 1]]}));
    delta_rs(json!({"op": "write", "table": table,
        "rows": [["a1", 1], ["u2", 1], ["u4", 5], ["z8", 1]]}));
    let (code, j) = scan_json(p, &["u2", "u3"]);
    assert_eq!((code, j["residual_rows"].clone()), (1, json!(7)), "{j}");
    delta_rs(
        json!({"op": "delete", "table": table, "predicate": "user_id = 'u2' OR user_id = 'u3'"}),
    );
    // The engine's own count after the delete: zero live rows; vouch agrees.
    let counts = delta_rs(
        json!({"op": "counts", "table": table, "column": "user_id", "ids": ["u1", "u2", "u3", "u4"]}),
    );
    assert_eq!(
        counts["counts"],
        json!({"u1": 3, "u2": 0, "u3": 0, "u4": 5})
    );
    let (code, j) = scan_json(p, &["u1", "u2", "u3", "u4"]);
    assert_eq!(code, 1);
    let live: std::collections::BTreeMap<String, u64> = j["residuals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["subject"].as_str().unwrap().to_string(),
                r["rows"].as_u64().unwrap(),
            )
        })
        .fold(Default::default(), |mut m, (s, n)| {
            *m.entry(s).or_default() += n;
            m
        });
    assert_eq!(live, [("u1".to_string(), 3), ("u4".to_string(), 5)].into());
    assert!(
        j["physical_copies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] == "removed_file"),
        "{j}"
    );
    // The deleted rows are in the removed files, until VACUUM after the 7-day retention.
    let (code, j) = scan_json(p, &["u2", "u3"]);
    assert_eq!(
        (code, j["verdict"].clone(), j["physical_verdict"].clone()),
        (0, json!("clean"), json!("pending"))
    );
    let copies = j["physical_copies"].as_array().unwrap();
    let rows: u64 = copies.iter().map(|c| c["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 7, "{j}");
    let removed = newest_tombstone_ms(&t) + 7 * 86_400_000;
    let want = vouch::domain::report::rfc3339(removed.div_euclid(1000));
    for c in copies {
        assert_eq!(c["kind"], "removed_file");
        assert_eq!(c["layer"], "deleted_retained");
        assert_eq!(
            c["removable_after"],
            want.as_str(),
            "deletionTimestamp + 7 days"
        );
        assert_eq!(
            c["way_out"],
            format!("VACUUM delta.`lake/users` on or after {want}")
        );
    }
    // A stray copy of a removed file left beside the table: in no version.
    let removed_file = t.join(
        copies[0]["file"]
            .as_str()
            .unwrap()
            .trim_start_matches("users/"),
    );
    std::fs::copy(&removed_file, t.join("stray-copy.parquet")).unwrap();
    let (_, j) = scan_json(p, &["u2", "u3"]);
    let stray: Vec<&Value> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["file"] == "users/stray-copy.parquet")
        .collect();
    assert!(!stray.is_empty(), "{j}");
    assert!(
        stray
            .iter()
            .all(|c| c["layer"] == "unreferenced" && c["kind"] == "unreferenced_file")
    );
    std::fs::remove_file(t.join("stray-copy.parquet")).unwrap();
    // After VACUUM the bytes are gone: erased.
    let v = delta_rs(json!({"op": "vacuum", "table": table}));
    assert!(!v["removed"].as_array().unwrap().is_empty(), "{v}");
    let (code, j) = scan_json(p, &["u2", "u3"]);
    assert_eq!(
        (code, j["physical_verdict"].clone()),
        (0, json!("erased")),
        "{j}"
    );
    assert!(j.get("physical_copies").is_none(), "{j}");
    // a0 is deleted too, and VACUUM does not touch the log: its ID is still the first
    // commit's minValue.
    delta_rs(json!({"op": "delete", "table": table, "predicate": "user_id = 'a0'"}));
    delta_rs(json!({"op": "vacuum", "table": table}));
    let (code, j) = scan_json(p, &["a0"]);
    assert_eq!(
        (code, j["physical_verdict"].clone()),
        (0, json!("pending")),
        "{j}"
    );
    let kinds = copy_kinds(&j);
    assert_eq!(kinds, ["log_stats".to_string()].into(), "{j}");
}

#[test]
fn column_mapping_and_change_data_are_read_as_the_table_says() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("tar")
        .args(["--zstd", "-xf"])
        .arg(corpus.join("cdf-column-mapping-name-mode.tar.zst"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let lake = dir.path();
    std::fs::write(
        lake.join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"name\"]\n",
    )
    .unwrap();
    std::fs::create_dir(lake.join("lake")).unwrap();
    std::fs::rename(
        lake.join("cdf-column-mapping-name-mode"),
        lake.join("lake/cdf-column-mapping-name-mode"),
    )
    .unwrap();
    let table = lake
        .join("lake/cdf-column-mapping-name-mode")
        .display()
        .to_string();
    let ids = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Nobody"];
    let counts =
        delta_rs(json!({"op": "file_counts", "table": table, "column": "name", "ids": ids}));
    let want = &counts["counts"];
    assert!(
        counts["physical"].as_str().unwrap().starts_with("col-"),
        "a column-mapped table: {counts}"
    );
    let (_, j) = scan_json(lake, &ids);
    assert_ne!(j["verdict"], "incomplete", "{j}");
    // Live rows per subject: what DuckDB counts in delta-rs's live files.
    let mut live = serde_json::Map::new();
    for id in ids {
        live.insert(id.into(), json!(0));
    }
    for r in j["residuals"].as_array().unwrap() {
        let s = r["subject"].as_str().unwrap();
        let n = live[s].as_u64().unwrap() + r["rows"].as_u64().unwrap();
        live.insert(s.into(), json!(n));
    }
    assert_eq!(&Value::Object(live), want, "{j}");
    // Rows a change wrote live on in _change_data until VACUUM.
    let kinds: std::collections::BTreeSet<&str> = j["physical_copies"]
        .as_array()
        .map(|a| a.iter().map(|c| c["kind"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert!(kinds.contains("change_data"), "{j}");
}

/// The demo's nightly with a Delta table added and only the demo's clean delete requests:
/// a subject deleted from the Delta table leaves a removed file until VACUUM. Without a
/// deadline that is `pending` and the check passes; with `[nightly]
/// physical_erasure_days` it is `overdue` once the file's removal date is past the
/// deadline, and the deletion check is a violation; the certificate says so.
#[test]
fn nightly_fails_on_a_physical_copy_that_misses_the_erasure_deadline() {
    let t = tempfile::tempdir().unwrap();
    let r = run(vouch()
        .current_dir(t.path())
        .args(["demo", "--dir", "demo", "-q"]));
    assert_eq!(r.code, 0, "{r:?}");
    let d = t.path().join("demo");
    // Only requests whose subjects the demo lake holds no row of: D-1000 and D-1009.
    let dsar = std::fs::read_to_string(d.join("tables/dsar_request.csv")).unwrap();
    let kept: String = dsar
        .lines()
        .filter(|l| {
            l.starts_with("request_id") || l.starts_with("D-1000,") || l.starts_with("D-1009,")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("tables/dsar_request.csv"), kept).unwrap();
    // 1000 and 9999 bound the file's statistics: 5009 is in no log statistic.
    let table = d.join("lake/accounts").display().to_string();
    delta_rs(json!({"op": "write", "table": table,
        "rows": [["1000", 1], ["5009", 2], ["9999", 1]]}));
    delta_rs(json!({"op": "delete", "table": table, "predicate": "user_id = '5009'"}));
    let nightly = |days: Option<u32>, out: &str| {
        let cfg = std::fs::read_to_string(d.join("vouch.toml")).unwrap();
        let cfg = match days {
            Some(n) => cfg.replace(
                "[nightly]\n",
                &format!("[nightly]\nphysical_erasure_days = {n}\n"),
            ),
            None => cfg,
        };
        std::fs::write(d.join("deadline.toml"), cfg).unwrap();
        let r = run(vouch().current_dir(&d).args([
            "nightly",
            "--config",
            "deadline.toml",
            "--out",
            out,
            "--as-of",
            "2026-11-27T06:00:00Z",
        ]));
        let report: Value =
            serde_json::from_slice(&std::fs::read(d.join(out).join("report.json")).unwrap())
                .unwrap_or_else(|_| panic!("{r:?}"));
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "deletion_verification")
            .unwrap()
            .clone();
        (r, check)
    };
    let (_, check) = nightly(None, "plain");
    assert_eq!(check["status"], "ok", "{check}");
    let requests = check["details"]["requests"].as_array().unwrap();
    let d1009 = requests
        .iter()
        .find(|r| r["request_id"] == "D-1009")
        .unwrap();
    assert_eq!(
        (d1009["verdict"].clone(), d1009["physical_verdict"].clone()),
        (json!("clean"), json!("pending"))
    );
    assert_eq!(d1009["physical_copies"], 1);
    let d1000 = requests
        .iter()
        .find(|r| r["request_id"] == "D-1000")
        .unwrap();
    assert_eq!(d1000["physical_verdict"], "erased");
    // 30 days after 2026-11-24: the removed file may go on the 7th day after its delete.
    let (_, check) = nightly(Some(30), "month");
    assert_eq!(check["status"], "ok", "{check}");
    // One day after completion is long past: overdue.
    let (r, check) = nightly(Some(1), "day");
    assert_eq!(check["status"], "violation", "{check}");
    assert_eq!(r.code, 1, "{r:?}");
    let d1009 = check["details"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == "D-1009")
        .unwrap()
        .clone();
    assert_eq!(d1009["physical_verdict"], "overdue");
    assert_eq!(d1009["physical_deadline"], "2026-11-25T10:00:00Z");
    let cert: Value = serde_json::from_slice(
        &std::fs::read(d.join("day").join(d1009["certificate"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(cert["physical_verdict"], "overdue");
    assert_eq!(cert["physical_copies"][0]["kind"], "removed_file");
    assert_eq!(cert["physical_copies"][0]["overdue"], true);
    // The signature holds, and the certificate reads as what it is: no reader sees the
    // rows, yet the deletion is not confirmed while a copy is past its deadline (exit 1).
    let v = run(vouch().current_dir(&d).args([
        "certificate",
        "verify",
        &format!("day/{}", d1009["certificate"].as_str().unwrap()),
        "--public-key",
        "keys/vouch-demo.pub",
    ]));
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stdout.starts_with("DELETION NOT CONFIRMED: ")
            && v.stdout
                .contains("storage kept a copy past its erasure deadline"),
        "{v:?}"
    );
    assert!(
        v.stdout
            .contains("physically overdue: 1 cop(ies) in storage, deadline 2026-11-25T10:00:00Z"),
        "{v:?}"
    );
}

/// A Delta table partitioned by its identifier column keeps the IDs in the log's
/// partition values, not in the files: a subject's rows are found there even when the
/// directories do not name them (as with column mapping's random prefixes).
#[test]
fn identifier_partition_values_come_from_the_log() {
    let dir = users_lake();
    let p = dir.path();
    let t = p.join("lake/users");
    let table = t.display().to_string();
    delta_rs(
        json!({"op": "write", "table": table, "rows": [["u1", 2], ["u2", 3]],
        "partition_by": ["user_id"]}),
    );
    // Directories renamed so that no path names an ID; the log follows.
    let log = t.join("_delta_log/00000000000000000000.json");
    let mut text = std::fs::read_to_string(&log).unwrap();
    for (i, u) in ["u1", "u2"].iter().enumerate() {
        std::fs::rename(t.join(format!("user_id={u}")), t.join(format!("p{i}"))).unwrap();
        text = text
            .replace(&format!("user_id={u}/"), &format!("p{i}/"))
            .replace(&format!("user_id%3D{u}/"), &format!("p{i}/"));
    }
    std::fs::write(&log, text).unwrap();
    let (code, j) = scan_json(p, &["u2"]);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["residual_rows"], 3, "{j}");
    assert_eq!(
        j["tables"][0]["partition_id_columns"],
        json!(["user_id"]),
        "{j}"
    );
    let (code, j) = scan_json(p, &["u3"]);
    assert_eq!(
        (code, j["physical_verdict"].clone()),
        (0, json!("erased")),
        "{j}"
    );
    // u2 deleted: its removed file keeps its rows; no path names them, the remove's
    // partition values do.
    delta_rs(json!({"op": "delete", "table": table, "predicate": "user_id = 'u2'"}));
    let (code, j) = scan_json(p, &["u2"]);
    assert_eq!((code, j["verdict"].clone()), (0, json!("clean")), "{j}");
    let removed: Vec<&Value> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "removed_file")
        .collect();
    assert_eq!(removed.len(), 1, "{j}");
    assert_eq!(removed[0]["rows"], 3, "{j}");
    // The log's partition values name u2 too: copies until log cleanup.
    assert!(copy_kinds(&j).contains("log_stats"), "{j}");
    // A remove without partition values (no extendedFileMetadata): never "no IDs", the
    // file is an error.
    let log = t.join("_delta_log/00000000000000000001.json");
    let text = std::fs::read_to_string(&log).unwrap();
    let stripped: String = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(r) = v.get_mut("remove").and_then(|r| r.as_object_mut()) {
                r.remove("partitionValues");
            }
            format!("{v}\n")
        })
        .collect();
    std::fs::write(&log, stripped).unwrap();
    let (code, j) = scan_json(p, &["u2"]);
    assert_eq!(
        (code, j["verdict"].clone()),
        (2, json!("incomplete")),
        "{j}"
    );
    assert_eq!(j["physical_verdict"], "unknown");
}

/// A column added after files were written (schema evolution): the older files hold
/// nulls there and no subject's ID, decided by the table's schema; the newer ones are
/// read.
#[test]
fn files_older_than_the_identifier_column_hold_no_ids() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"email\"]\n",
    )
    .unwrap();
    let table = p.join("lake/users").display().to_string();
    delta_rs(json!({"op": "write", "table": table, "rows": [["u1", 2]]}));
    delta_rs(json!({"op": "write", "table": table, "rows": [["u2", 2]],
        "columns": {"email": ["u2@example.com", "u2@example.com"]}, "schema_mode": "merge"}));
    let (code, j) = scan_json(p, &["u2@example.com"]);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["residual_rows"], 2, "{j}");
    assert_eq!(j["row_groups"]["decided_by_schema"], 1, "{j}");
}

/// `format` in `[[lake.tables]]` says what a table is: `parquet` reads a Delta table's
/// files as they are (every row live), `delta` on a directory without a log is an error,
/// and an unknown format is refused with the config.
#[test]
fn the_configured_format_overrides_what_the_directory_looks_like() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let lake = dv_lake(&corpus);
    let p = lake.path();
    copy_dir(
        &repo().join("fixtures/lake/profiles"),
        &p.join("lake/profiles"),
    );
    let cfg = |extra: &str| {
        std::fs::write(
            p.join("vouch.toml"),
            format!("[lake]\nlocation = \"lake\"\nid_columns = [\"value\"]\n{extra}"),
        )
        .unwrap();
    };
    cfg("\n[[lake.tables]]\nname = \"dv\"\nformat = \"parquet\"\n");
    let (code, j) = scan_json(p, &["0", "9"]);
    // As plain files the masked rows are live; profiles has no `value` column: an error.
    assert_eq!(j["tables"][0]["residual_rows"], 2, "{j}");
    assert!(j["tables"][0].get("format").is_none(), "{j}");
    assert_eq!(code, 2);
    cfg("\n[[lake.tables]]\nname = \"profiles\"\nformat = \"delta\"\nid_columns = [\"user_id\"]\n");
    let (code, j) = scan_json(p, &["0"]);
    assert_eq!(code, 2, "{j}");
    assert!(
        j["errors"]
            .to_string()
            .contains("configured as a Delta table"),
        "{j}"
    );
    cfg("\n[[lake.tables]]\nname = \"dv\"\nformat = \"hudi\"\n");
    let r = run(vouch()
        .current_dir(p)
        .args(["scan", "--config", "vouch.toml", "--id", "0"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("format = \"hudi\": expected"), "{r:?}");
}

/// A Parquet file in `_change_data/` named like a checksum is read, as below the table.
#[test]
fn a_parquet_file_named_like_a_checksum_in_change_data_is_read() {
    let dir = users_lake();
    let p = dir.path();
    let t = p.join("lake/users");
    delta_rs(json!({"op": "write", "table": t.display().to_string(), "rows": [["u2", 2]]}));
    let data = std::fs::read_dir(&t)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::create_dir_all(t.join("_change_data")).unwrap();
    std::fs::copy(
        &data,
        t.join("_change_data/cdc-00000.c000.snappy.parquet.crc"),
    )
    .unwrap();
    let (_, j) = scan_json(p, &["u2"]);
    let kinds = copy_kinds(&j);
    assert!(kinds.contains("change_data"), "{j}");
}

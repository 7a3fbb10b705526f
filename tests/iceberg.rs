//! Apache Iceberg tables: the metadata read as pyiceberg reads it (the duckdb-iceberg
//! corpus: v1 to v3 tables written by Spark, pyiceberg and others, with equality and
//! position deletes, deletion vectors, schema evolution and partitions).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::*;

/// The corpus copied to `root/data/persistent` (its metadata names files by paths relative
/// to where it was written), and its tables: directories with `metadata/*.metadata.json`,
/// below `root`.
fn corpus_tables(corpus: &Path, root: &Path) -> Vec<String> {
    copy_dir(corpus, &root.join("data/persistent"));
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let m = d.join("metadata");
        if m.is_dir()
            && std::fs::read_dir(&m).unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".metadata.json")
            })
        {
            out.push(d.to_path_buf());
            return;
        }
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("data/persistent"), &mut out);
    let mut tables: Vec<String> = out
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().to_string())
        .collect();
    tables.sort();
    tables
}

/// One pyiceberg operation on the table `ns.users` of the SQL catalog in `cat`.
fn pyiceberg(cat: &Path, mut arg: serde_json::Value) -> serde_json::Value {
    arg["catalog"] = json!(cat);
    arg["table"] = json!("ns.users");
    oracle("pyiceberg_rw.py", &arg)
}

fn walk_files(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_corpus_table_reads_to_the_files_pyiceberg_lists_or_is_refused_naming_a_file() {
    let Some(corpus) = corpus("duckdb-iceberg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tables = corpus_tables(&corpus, dir.path());
    assert!(
        tables.len() >= 35,
        "corpus looks incomplete: {} tables",
        tables.len()
    );
    let store = vouch::io::local::LocalStore::open(dir.path()).unwrap();
    let mut read = Vec::new();
    let mut refused = Vec::new();
    for t in &tables {
        let ours = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vouch::domain::iceberg::open(&store, t, None)
        }))
        .unwrap_or_else(|_| panic!("{t}: reading the metadata panicked"));
        match ours {
            None => panic!("{t}: not seen as an Iceberg table"),
            Some(Ok(table)) => read.push((t.clone(), table)),
            Some(Err(e)) => {
                assert!(
                    e.file.starts_with(t.as_str()),
                    "{t}: the error names {}",
                    e.file
                );
                refused.push(format!("{t}: {}", e.problem));
            }
        }
    }
    let arg = json!({
        "root": dir.path(),
        "tables": read.iter().map(|(t, x)| json!({"table": t, "metadata": x.metadata_file})).collect::<Vec<_>>(),
    });
    let oracle = oracle("pyiceberg_files.py", &arg);
    let mut problems = Vec::new();
    for (t, x) in &read {
        let theirs = &oracle[t.as_str()];
        if let Some(err) = theirs.get("error") {
            // pyiceberg does not read v1 snapshots that list their manifests inline (no
            // manifest list); such a table of one append holds every data file on disk.
            if err.as_str().is_some_and(|e| e.contains("validation error")) && x.format_version == 1
            {
                let on_disk: Vec<String> = walk_files(&dir.path().join(t).join("data"))
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                    .map(|p| {
                        p.strip_prefix(dir.path().join(t))
                            .unwrap()
                            .to_string_lossy()
                            .to_string()
                    })
                    .collect();
                let ours: Vec<String> = x.current.keys().cloned().collect();
                assert_eq!(ours, on_disk, "{t}");
                continue;
            }
            problems.push(format!("{t}: read by vouch, pyiceberg says {err}"));
            continue;
        }
        use vouch::domain::iceberg::Content;
        let ours: Vec<(String, i64)> = x
            .current
            .values()
            .map(|f| {
                let c = match f.content {
                    Content::Data => 0,
                    Content::PositionDeletes => 1,
                    Content::EqualityDeletes => 2,
                };
                (f.path.clone(), c)
            })
            .collect();
        let want: Vec<(String, i64)> = theirs["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_i64().unwrap()))
            .collect();
        if ours != want {
            problems.push(format!("{t}: vouch {ours:?}\n  pyiceberg {want:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        read.len() >= 30,
        "{} read, refused: {refused:#?}",
        read.len()
    );
    eprintln!(
        "iceberg corpus: {} tables read like pyiceberg, {} refused: {refused:#?}",
        read.len(),
        refused.len()
    );
}

/// The corpus's v3 table with a deletion vector (`legacy_bare_deletion_vector`: ids 1 to
/// 3, the vector masks one row) and the partitioned table with equality deletes on
/// (`name`) and on (`id`, `name`): the vector is applied, deletes vouch does not apply are
/// named and their rows stay live (never hidden), the delete file holding an ID is a copy.
#[test]
fn corpus_deletes_are_applied_or_named_never_hidden() {
    let Some(corpus) = corpus("duckdb-iceberg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(
        &corpus.join("legacy_bare_deletion_vector/warehouse/default/legacy_bare_deletion_vector"),
        &lake.join("dv"),
    );
    copy_dir(
        &corpus.join("equality_deletes/warehouse/mydb/mytable_partitioned"),
        &lake.join("eq"),
    );
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"id\"]\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["1", "2", "3", "4", "5", "6"]);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["errors"], json!([]), "{j}");
    let masked: Vec<(&str, &str)> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["table"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert!(masked.contains(&("dv", "masked_rows")), "{j}");
    assert!(
        masked.contains(&("eq", "equality_delete")),
        "the delete on (id, name) holds id 3: {j}"
    );
    let dv_live: u64 = j["residuals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["table"] == "dv")
        .map(|r| r["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(dv_live, 2, "three rows, one masked: {j}");
    let eq = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "eq")
        .unwrap();
    assert_eq!(eq["format"], "iceberg");
    assert_eq!(
        eq["unapplied_deletes"],
        serde_json::Value::Null,
        "every delete applied: {eq}"
    );
}

/// Equality deletes on a non-identifier column (`name`) and on several columns (`id`,
/// `name`), partitioned and not: vouch's live rows per subject equal an independent
/// oracle's (pyiceberg lists the files and sequence numbers, DuckDB applies the deletes by
/// the spec's rules; pyiceberg itself does not read equality deletes), and the rows they
/// delete are masked copies, not residual.
#[test]
fn equality_deletes_on_any_columns_mask_what_the_oracle_deletes() {
    let Some(corpus) = corpus("duckdb-iceberg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let ids: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    for (name, table) in [
        ("p", "equality_deletes/warehouse/mydb/mytable_partitioned"),
        ("u", "equality_deletes/warehouse/mydb/mytable"),
    ] {
        copy_dir(&corpus.join(table), &lake.join(name));
    }
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"id\"]\n",
    )
    .unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (code, j) = scan_json(dir.path(), &refs);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["errors"], json!([]), "{j}");
    for (name, table) in [
        ("p", "equality_deletes/warehouse/mydb/mytable_partitioned"),
        ("u", "equality_deletes/warehouse/mydb/mytable"),
    ] {
        let meta = walk_files(&corpus.join(table).join("metadata"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".metadata.json"))
            .max_by_key(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.trim_start_matches('v')
                    .trim_end_matches(".metadata.json")
                    .parse::<u32>()
                    .unwrap_or(0)
            })
            .unwrap();
        let want = oracle(
            "iceberg_live.py",
            &json!({"metadata": meta, "from": "data/persistent/",
                    "to": format!("{}/", corpus.display()), "column": "id", "ids": ids}),
        );
        assert!(want["equality_deletes"].as_u64().unwrap() > 0, "{want}");
        let mut ours: BTreeMap<String, u64> = ids.iter().map(|i| (i.clone(), 0)).collect();
        for r in j["residuals"].as_array().unwrap() {
            if r["table"] == name {
                *ours.get_mut(r["subject"].as_str().unwrap()).unwrap() +=
                    r["rows"].as_u64().unwrap();
            }
        }
        let theirs: BTreeMap<String, u64> = want["live"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(ours, theirs, "{table}");
    }
    assert!(copy_kinds(&j).contains("masked_rows"), "{j}");
}

/// A table pyiceberg writes, deletes from (copy-on-write) and expires: the deleted rows
/// are live nowhere (pyiceberg's own count), retained by the older snapshot until it may
/// expire (its timestamp + 5 days), then unreferenced once expired (until
/// remove_orphan_files), then erased when the file is gone.
#[test]
fn a_pyiceberg_delete_is_retained_then_unreferenced_then_erased() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |arg: serde_json::Value| pyiceberg(&cat, arg);
    ice(json!({"op": "append", "rows": [["a0", 1], ["u1", 3], ["u2", 2], ["z9", 1]]}));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"user_id\"]\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!((code, j["residual_rows"].clone()), (1, json!(2)), "{j}");
    let before = ice(json!({"op": "snapshots"}));
    ice(json!({"op": "delete", "predicate": "user_id == 'u2'"}));
    let counts = ice(json!({"op": "counts", "ids": ["u1", "u2"]}));
    assert_eq!(counts, json!({"u1": 3, "u2": 0}));
    let (code, j) = scan_json(dir.path(), &["u1", "u2"]);
    assert_eq!(code, 1);
    assert_eq!(j["residual_rows"], 3, "u1 only: {j}");
    let copies = j["physical_copies"].as_array().unwrap();
    let u2: Vec<&serde_json::Value> = copies.iter().filter(|c| c["subject"] == "u2").collect();
    assert_eq!(u2.len(), 1, "{j}");
    assert_eq!(u2[0]["kind"], "retained_snapshot");
    let first_ts = before["snapshots"][0][1].as_i64().unwrap();
    let want = vouch::domain::report::rfc3339((first_ts + 5 * 86_400_000).div_euclid(1000));
    assert_eq!(
        u2[0]["removable_after"],
        want.as_str(),
        "snapshot time + 5 days"
    );
    assert!(
        u2[0]["way_out"]
            .as_str()
            .unwrap()
            .contains("expire_snapshots")
    );
    ice(json!({"op": "expire"}));
    let (_, j) = scan_json(dir.path(), &["u2"]);
    let u2 = &j["physical_copies"][0];
    assert_eq!(
        (u2["kind"].clone(), u2["layer"].clone()),
        (json!("unreferenced_file"), json!("unreferenced")),
        "{j}"
    );
    assert!(
        u2["way_out"]
            .as_str()
            .unwrap()
            .contains("remove_orphan_files")
    );
    // The orphan removed, as remove_orphan_files would: erased.
    let old = dir
        .path()
        .join("cat/wh/ns")
        .join(u2["file"].as_str().unwrap());
    std::fs::remove_file(old).unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(
        (code, j["physical_verdict"].clone()),
        (0, json!("erased")),
        "{j}"
    );
    // a0 bounds the file's user_id statistics: deleted, its ID stays in the manifests.
    ice(json!({"op": "delete", "predicate": "user_id == 'a0'"}));
    assert_eq!(
        ice(json!({"op": "counts", "ids": ["a0"]})),
        json!({"a0": 0})
    );
    let (code, j) = scan_json(dir.path(), &["a0"]);
    assert_eq!(
        (code, j["physical_verdict"].clone()),
        (0, json!("pending")),
        "{j}"
    );
    let kinds = copy_kinds(&j);
    assert!(kinds.contains("manifest_bounds"), "{j}");
}

/// A column renamed after files were written: Iceberg finds it by field id, and so does
/// vouch (by name, the old files would have no identifier column).
#[test]
fn a_renamed_identifier_column_is_found_by_field_id() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |arg: serde_json::Value| pyiceberg(&cat, arg);
    ice(json!({"op": "append", "rows": [["u1", 3], ["u2", 2]]}));
    ice(json!({"op": "rename", "from": "user_id", "to": "uid"}));
    let counts = ice(json!({"op": "counts", "ids": ["u2"], "column": "uid"}));
    assert_eq!(counts, json!({"u2": 2}));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"uid\"]\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!((code, j["residual_rows"].clone()), (1, json!(2)), "{j}");
}

/// Damaged metadata: each is an error naming the file, and the scan is incomplete.
#[test]
fn damaged_iceberg_metadata_makes_the_scan_incomplete_naming_the_file() {
    let Some(corpus) = corpus("duckdb-iceberg") else {
        return;
    };
    type Damage = Box<dyn Fn(&Path)>;
    let newest = |p: &Path, pattern: &str| -> PathBuf {
        let mut v: Vec<PathBuf> = walk_files(&p.join("lake/t/metadata"))
            .into_iter()
            .filter(|f| {
                f.to_string_lossy().contains(pattern) && !f.to_string_lossy().ends_with(".crc")
            })
            .collect();
        v.sort();
        v.pop().unwrap()
    };
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "a truncated metadata file",
            Box::new(move |p: &Path| {
                let f = newest(p, "v4.metadata.json");
                let t = std::fs::read(&f).unwrap();
                std::fs::write(&f, &t[..t.len() / 2]).unwrap();
            }),
            "not Iceberg table metadata",
        ),
        (
            "a corrupt manifest",
            Box::new(move |p: &Path| {
                for f in walk_files(&p.join("lake/t/metadata")) {
                    if f.to_string_lossy().ends_with("-m0.avro") {
                        let mut b = std::fs::read(&f).unwrap();
                        let n = b.len();
                        for x in &mut b[n / 2..] {
                            *x ^= 0x5a;
                        }
                        std::fs::write(&f, b).unwrap();
                    }
                }
            }),
            ".avro",
        ),
        (
            "a data file the current snapshot lists, gone",
            Box::new(|p: &Path| {
                let f = walk_files(&p.join("lake/t/data"))
                    .into_iter()
                    .find(|f| {
                        f.extension().is_some_and(|e| e == "parquet")
                            && !f.to_string_lossy().contains("delete-")
                    })
                    .unwrap();
                std::fs::remove_file(f).unwrap();
            }),
            "storage does not hold it",
        ),
        (
            "a version hint naming no file",
            Box::new(|p: &Path| {
                std::fs::write(p.join("lake/t/metadata/version-hint.text"), "99").unwrap();
            }),
            "which is not in the metadata directory",
        ),
        (
            "a format version from the future",
            Box::new(move |p: &Path| {
                let f = newest(p, "v4.metadata.json");
                let t = std::fs::read_to_string(&f).unwrap();
                std::fs::write(
                    &f,
                    t.replacen("\"format-version\" : 2", "\"format-version\" : 9", 1)
                        .replacen("\"format-version\":2", "\"format-version\":9", 1),
                )
                .unwrap();
            }),
            "format version 9 is not supported",
        ),
    ];
    for (what, damage, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &corpus.join("equality_deletes/warehouse/mydb/mytable_partitioned"),
            &dir.path().join("lake/t"),
        );
        std::fs::write(
            dir.path().join("vouch.toml"),
            "[lake]\nlocation = \"lake\"\nid_columns = [\"id\"]\n",
        )
        .unwrap();
        let hint = dir.path().join("lake/t/metadata/version-hint.text");
        if !hint.exists() || what != "a version hint naming no file" {
            std::fs::write(&hint, "4").unwrap();
        }
        damage(dir.path());
        let (code, j) = scan_json(dir.path(), &["1", "2", "3"]);
        assert_eq!(code, 2, "{what}: {j}");
        assert_eq!(j["physical_verdict"], "unknown", "{what}");
        let errors = error_lines(&j);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("t/") && e.contains(says)),
            "{what}: {errors:?}"
        );
    }
}

/// A column added after files were written: those files hold nulls there (the spec), so
/// they hold no subject's ID and are no error; their row groups are `decided_by_schema`.
/// A column the table does not have at all stays an error.
#[test]
fn files_older_than_the_identifier_column_hold_no_ids() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |arg: serde_json::Value| pyiceberg(&cat, arg);
    ice(json!({"op": "append", "rows": [["u1", 3], ["u2", 2]]}));
    // `email` is added after the only data file was written.
    ice(json!({"op": "add_column", "name": "email"}));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"email\"]\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2@example.com"]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["row_groups"]["decided_by_schema"], 1, "{j}");
    assert_eq!(j["physical_verdict"], "erased", "{j}");
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"no_such_column\"]\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 2, "{j}");
}

/// Names are no proof: a Parquet file named like a deletion vector (`.puffin`) that the
/// metadata does not name is read, and its rows are an unreferenced copy.
#[test]
fn a_parquet_file_named_like_a_puffin_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    pyiceberg(
        &cat,
        json!({"op": "append", "rows": [["u1", 1], ["u2", 2]]}),
    );
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"user_id\"]\n",
    )
    .unwrap();
    let data = dir.path().join("cat/wh/ns/users/data");
    let f = walk_files(&data).into_iter().next().unwrap();
    std::fs::copy(&f, data.join("orphan.puffin")).unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 1, "{j}");
    let c: Vec<&serde_json::Value> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["file"] == "users/data/orphan.puffin")
        .collect();
    assert_eq!(c.len(), 1, "{j}");
    assert_eq!(c[0]["kind"], "unreferenced_file");
}

/// A table partitioned by the identifier column, written without column metrics: its
/// manifests hold the ID as a partition value (no bounds) after the rows are gone; never
/// `erased` while they do.
#[test]
fn identity_partition_values_in_manifests_are_copies() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |mut arg: serde_json::Value| {
        arg["partition_by_user"] = json!(true);
        pyiceberg(&cat, arg)
    };
    ice(json!({"op": "append", "rows": [["u1", 1], ["u2", 3]]}));
    ice(json!({"op": "delete", "predicate": "user_id == 'u2'"}));
    ice(json!({"op": "expire"}));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\nid_columns = [\"user_id\"]\n",
    )
    .unwrap();
    // The data file of u2, orphaned by the expiry, removed as remove_orphan_files would.
    for f in walk_files(&dir.path().join("cat/wh/ns/users/data")) {
        if f.to_string_lossy().contains("user_id=u2") {
            std::fs::remove_file(f).unwrap();
        }
    }
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["physical_verdict"], "pending", "{j}");
    assert!(copy_kinds(&j).contains("manifest_bounds"), "{j}");
    // The manifest lists' partition summaries bound the partition too.
    assert!(
        j["physical_copies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["file"].as_str().unwrap().contains("/metadata/snap-")),
        "{j}"
    );
}

/// `metadata_location` (what a catalog points at) is the table's current metadata, read
/// instead of the newest file: pinned to the metadata before a delete, the deleted rows are
/// live again, as every reader of that pointer sees them. A pointer to a file the table
/// lacks, and `format = "iceberg"` on a directory without metadata, are errors naming it.
#[test]
fn a_configured_metadata_location_is_the_current_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |arg: serde_json::Value| pyiceberg(&cat, arg);
    ice(json!({"op": "append", "rows": [["u1", 3], ["u2", 2]]}));
    let meta_dir = cat.join("wh/ns/users/metadata");
    let metadata = || -> Vec<String> {
        let mut m: Vec<String> = std::fs::read_dir(&meta_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".metadata.json"))
            .collect();
        m.sort();
        m
    };
    let before = metadata().pop().unwrap();
    ice(json!({"op": "delete", "predicate": "user_id == 'u2'"}));
    assert!(metadata().len() > 1 && metadata().pop().unwrap() != before);
    let config = |pin: &str| {
        std::fs::write(
            dir.path().join("vouch.toml"),
            format!("[lake]\nlocation = \"cat/wh/ns\"\n\n[[lake.tables]]\nname = \"users\"\n{pin}"),
        )
        .unwrap()
    };
    config("");
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!((code, j["residual_rows"].clone()), (0, json!(0)), "{j}");
    config(&format!("metadata_location = \"metadata/{before}\"\n"));
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!((code, j["residual_rows"].clone()), (1, json!(2)), "{j}");
    config("metadata_location = \"metadata/00099-gone.metadata.json\"\n");
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 2, "{j}");
    assert_eq!(
        error_lines(&j),
        [
            "users/metadata/00099-gone.metadata.json: the table's current metadata file \
          (metadata_location) is not in its metadata/ directory"
        ]
    );
    std::fs::create_dir_all(cat.join("wh/ns/plain")).unwrap();
    std::fs::copy(
        walk_files(&cat.join("wh/ns/users/data"))[0].clone(),
        cat.join("wh/ns/plain/part-0.parquet"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\n\n[[lake.tables]]\nname = \"plain\"\nformat = \"iceberg\"\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 2, "{j}");
    assert!(
        error_lines(&j)
            .iter()
            .any(|e| e.starts_with("plain: configured as an Iceberg table")),
        "{j}"
    );
}

/// `history.expire.min-snapshots-to-keep`: expiry keeps the main branch's newest snapshots
/// whatever their age, so a file only they read has no removal date until newer snapshots
/// are committed; with the default (1) it is the snapshot's time + 5 days.
#[test]
fn snapshots_kept_by_count_give_a_retained_file_no_removal_date() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("cat");
    let ice = |mut arg: serde_json::Value| {
        arg["properties"] = json!({"history.expire.min-snapshots-to-keep": "3"});
        pyiceberg(&cat, arg)
    };
    ice(json!({"op": "append", "rows": [["u1", 3], ["u2", 2]]}));
    ice(json!({"op": "append", "rows": [["z9", 1]]}));
    ice(json!({"op": "delete", "predicate": "user_id == 'u2'"}));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"cat/wh/ns\"\n",
    )
    .unwrap();
    let (code, j) = scan_json(dir.path(), &["u2"]);
    assert_eq!(code, 0, "{j}");
    let retained: Vec<&serde_json::Value> = j["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "retained_snapshot")
        .collect();
    assert_eq!(retained.len(), 1, "{j}");
    assert_eq!(
        retained[0]["removable_after"],
        serde_json::Value::Null,
        "{j}"
    );
    let way = retained[0]["way_out"].as_str().unwrap();
    assert!(
        way.contains("among the 3 newest") && way.contains("min-snapshots-to-keep"),
        "{way}"
    );
}

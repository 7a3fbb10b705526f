//! Lakes that still hold a subject's rows must never scan clean (issue 16). Each test
//! builds a lake the way a real writer does (pyarrow; Athena/Trino and Hive file names,
//! Spark's `_k=v` directories) or the way an attacker edits one, and checks vouch against
//! the truth: pyarrow reading every file whole (`tests/oracle/truth.py`).

use std::path::Path;

use crate::common::*;
use serde_json::{Value, json};

/// Writes files with pyarrow (`tests/oracle/write_lake.py`).
fn write_lake(files: Value) {
    oracle("write_lake.py", &json!({ "files": files }));
}

fn scan(dir: &Path, args: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .args(["scan", "--format", "json", "-q"])
        .args(args))
}

fn truth(lake: &Path, ids: &[&str], id_columns: &[&str]) -> Value {
    oracle(
        "truth.py",
        &json!({"lake": lake, "ids": ids, "id_columns": id_columns}),
    )
}

fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

#[test]
fn data_files_are_found_by_content_whatever_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let names = [
        // Athena CTAS / UNLOAD and Trino: no extension.
        "events/dt=2026-01-01/20260101_101010_00007_x8k2q_5b9e0c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
        // Hive.
        "events/dt=2026-01-02/000000_0",
        "events/dt=2026-01-03/part-0.parq",
        "events/dt=2026-01-04/PART-0.PARQUET",
        "events/dt=2026-01-05/part-0.parquet.snappy",
        "events/dt=2026-01-06/part-0.parquet",
    ];
    let files: Vec<Value> = names
        .iter()
        .map(|n| json!({"path": lake.join(n), "columns": {"user_id": ["u1", "u2", "u3"]}}))
        .collect();
    write_lake(Value::Array(files));
    // Side files the engines skip, known by name.
    std::fs::write(lake.join("events/_SUCCESS"), b"").unwrap();
    std::fs::write(lake.join("events/.part-0.parquet.crc"), b"crc").unwrap();
    std::fs::write(lake.join("events/dt=2026-01-06/part-0.parquet.crc"), b"crc").unwrap();
    std::fs::write(
        lake.join("events/20260101_101010_00007_x8k2q-manifest.csv"),
        b"s3://x\n",
    )
    .unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    let want = truth(&lake, &["u2"], &["user_id"]);
    assert_eq!(j["files_scanned"], 6, "{r:?}");
    assert_eq!(j["rows_scanned"], want["events"]["rows"]);
    assert_eq!(j["residual_rows"], want["events"]["residual_rows"]);
    assert_eq!(j["residual_rows"], 6);

    // A file that is not Parquet is an error naming it, never skipped.
    std::fs::write(
        lake.join("events/dt=2026-01-06/notes.txt"),
        b"hello, not parquet",
    )
    .unwrap();
    std::fs::write(lake.join("events/dt=2026-01-06/empty"), b"").unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!(r.code, 2, "{r:?}");
    let errors = errors_of(&r);
    assert_eq!(errors.len(), 2, "{r:?}");
    assert_eq!(errors[0].0, "events/dt=2026-01-06/empty");
    assert!(errors[0].1.contains("not a Parquet file"), "{r:?}");
    assert_eq!(errors[1].0, "events/dt=2026-01-06/notes.txt");
    assert!(errors[1].1.contains("not a Parquet file"), "{r:?}");
    assert!(
        r.stderr
            .contains("vouch: lake/events/dt=2026-01-06/notes.txt: ")
    );

    // [lake] side_files names more files that hold no rows.
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nside_files = [\"*.txt\", \"empty\"]\n",
    )
    .unwrap();
    let r = scan(dir.path(), &["--config", "vouch.toml", "--id", "u2"]);
    assert_eq!(r.code, 1, "{r:?}");
    let before = r.json()["residual_rows"].as_u64().unwrap();

    // A side file's name is no proof: Parquet files named like side files are data to the
    // engines, so they are counted (an attacker renaming a file must not hide its rows).
    let disguised = [
        "events/dt=2026-01-07/part-0.parquet.crc",
        "events/dt=2026-01-07/20260107-manifest.csv",
        "events/deletion_vector_0b1c.bin",
        "events/metadata/v9.metadata.json",
        "events/dt=2026-01-07/notes.txt",
    ];
    let files: Vec<Value> = disguised
        .iter()
        .map(|n| json!({"path": lake.join(n), "columns": {"user_id": ["u2"]}}))
        .collect();
    write_lake(Value::Array(files));
    let r = scan(dir.path(), &["--config", "vouch.toml", "--id", "u2"]);
    // `metadata/*.metadata.json` makes `events` look like an Iceberg table, and that
    // "metadata" is Parquet: the table is incomplete, naming it, and every data file is
    // still read and counted (nothing the name hides).
    assert_eq!(r.code, 2, "{r:?}");
    let errors = errors_of(&r);
    assert_eq!(errors.len(), 1, "{r:?}");
    assert_eq!(errors[0].0, "events/metadata/v9.metadata.json", "{r:?}");
    assert!(errors[0].1.contains("not Iceberg table metadata"), "{r:?}");
    assert_eq!(
        r.json()["residual_rows"].as_u64().unwrap(),
        before + disguised.len() as u64,
        "{r:?}"
    );
}

#[test]
fn underscore_partitions_and_tables_are_read_and_nothing_vanishes_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        // Spark reads `_k=v` partition directories.
        {"path": lake.join("events/_dt=2026-01-01/part-0.parquet"), "columns": {"user_id": ["u1", "u2"]}},
        {"path": lake.join("events/dt=2026-01-02/part-0.parquet"), "columns": {"user_id": ["u3"]}},
        // A table whose directory starts with `_`.
        {"path": lake.join("_users_backup_2026/part-0.parquet"), "columns": {"user_id": ["u2"]}},
        // Skipped by every engine: a `_temporary` directory of an unfinished job.
        {"path": lake.join("events/_temporary/0/part-9.parquet"), "columns": {"user_id": ["u2"]}},
    ]));
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    let want = truth(&lake, &["u2"], &["user_id"]);
    assert_eq!(
        table(&j, "events")["residual_rows"],
        want["events"]["residual_rows"]
    );
    assert_eq!(table(&j, "events")["residual_rows"], 1);
    assert_eq!(
        table(&j, "events")["partitions_with_residuals"],
        json!(["_dt=2026-01-01"])
    );
    assert_eq!(table(&j, "_users_backup_2026")["residual_rows"], 1);

    // What lies at the root and belongs to no table is an error, each naming itself.
    write_lake(json!([
        {"path": lake.join("stray.parquet"), "columns": {"user_id": ["u2"]}},
    ]));
    let elsewhere = dir.path().join("elsewhere.parquet");
    std::fs::copy(lake.join("stray.parquet"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, lake.join("linked.parquet")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/vouch-disk", lake.join("archive")).unwrap();
    std::fs::write(lake.join("_SUCCESS"), b"").unwrap();
    std::fs::write(lake.join(".DS_Store"), b"").unwrap();
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
        std::fs::create_dir(lake.join(name)).unwrap();
        std::fs::copy(&elsewhere, lake.join(name).join("part-0.parquet")).unwrap();
    }
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!(r.code, 2, "{r:?}");
    let errors = errors_of(&r);
    let files: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert!(files.contains(&"stray.parquet"), "{r:?}");
    assert!(files.contains(&"linked.parquet"), "{r:?}");
    assert!(files.contains(&"archive"), "{r:?}");
    assert!(
        errors.iter().any(|(_, e)| e.contains("not valid UTF-8")),
        "{r:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(f, e)| f == "archive" && e.contains("dangling symbolic link")),
        "{r:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(f, e)| f == "stray.parquet" && e.contains("belongs to no table")),
        "{r:?}"
    );
    assert_eq!(errors.len(), 4, "{r:?}");
    assert_eq!(r.json()["verdict"], "incomplete");
}

#[test]
fn an_identifier_in_the_path_is_the_value_of_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("payments/user_id=u2/part-0.parquet"), "columns": {"buyer_id": ["b1", "b2", "b3"]}},
        {"path": lake.join("payments/user_id=u3/part-0.parquet"), "columns": {"buyer_id": ["b4"]}},
        {"path": lake.join("visits/user_id=u2/dt=2026-01-01/part-0.parquet"), "columns": {"page": ["a", "b"]}},
        {"path": lake.join("visits/user_id=u9/dt=2026-01-01/part-0.parquet"), "columns": {"page": ["c"]}},
    ]));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\n\n[[lake.tables]]\nname = \"payments\"\nid_columns = [\"user_id\", \"buyer_id\"]\n",
    )
    .unwrap();
    let r = scan(
        dir.path(),
        &["--config", "vouch.toml", "--id", "u2", "--id", "b4"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    let want = truth(&lake, &["u2", "b4"], &["user_id", "buyer_id"]);
    for t in ["payments", "visits"] {
        assert_eq!(
            table(&j, t)["residual_rows"],
            want[t]["residual_rows"],
            "{t}: {r:?}"
        );
        assert_eq!(table(&j, t)["partition_id_columns"], json!(["user_id"]));
    }
    assert_eq!(table(&j, "payments")["residual_rows"], 4);
    assert_eq!(table(&j, "visits")["residual_rows"], 2);
    assert_eq!(
        table(&j, "visits")["partitions_with_residuals"],
        json!(["user_id=u2/dt=2026-01-01"])
    );
    // With a subject key, kept evidence names no raw identifier, paths included.
    let keyed = run(vouch()
        .current_dir(dir.path())
        .env("VOUCH_SUBJECT_KEY", "path-ids-test-subject-key-0123456")
        .args(["scan", "--format", "json", "-q", "--config", "vouch.toml"])
        .args(["--id", "u2", "--id", "b4"]));
    assert_eq!(keyed.code, 1, "{keyed:?}");
    assert_eq!(keyed.json()["residual_rows"], j["residual_rows"]);
    for raw in ["=u2", "=u3", "=u9", "\"u2\"", "\"b4\""] {
        assert!(!keyed.stdout.contains(raw), "{raw} in {}", keyed.stdout);
    }
    assert!(keyed.stdout.contains("user_id=hmac-sha256:"), "{keyed:?}");
    // Numeric IDs in the path match numerically, as engines infer the partition's type.
    write_lake(json!([
        {"path": lake.join("orders/user_id=0042/part-0.parquet"), "columns": {"sku": ["x"]}},
    ]));
    let r = scan(dir.path(), &["--config", "vouch.toml", "--id", "42"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(table(&r.json(), "orders")["residual_rows"], 1);
}

#[test]
fn identifier_columns_match_ignoring_case_and_case_twins_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("payments/part-0.parquet"), "columns": {"USER_ID": ["u2", "u5"], "buyer_id": ["b1", "b2"]}},
    ]));
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"user_id\", \"buyer_id\"]\n",
    )
    .unwrap();
    let r = scan(dir.path(), &["--config", "vouch.toml", "--id", "u2"]);
    assert_eq!(r.code, 1, "{r:?}");
    let want = truth(&lake, &["u2"], &["user_id", "buyer_id"]);
    assert_eq!(r.json()["residual_rows"], want["payments"]["residual_rows"]);
    assert_eq!(r.json()["residual_rows"], 1);
    // Exact matching, when asked for, does not see USER_ID.
    std::fs::write(
        dir.path().join("exact.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"user_id\", \"buyer_id\"]\nexact_column_names = true\n",
    )
    .unwrap();
    let r = scan(dir.path(), &["--config", "exact.toml", "--id", "u2"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Two columns that differ only in case: which is the identifier is ambiguous.
    write_lake(json!([
        {"path": lake.join("payments/part-1.parquet"), "columns": {"user_id": ["u1"], "User_Id": ["u2"]}},
    ]));
    let r = scan(dir.path(), &["--config", "vouch.toml", "--id", "u2"]);
    assert_eq!(r.code, 2, "{r:?}");
    let errors = errors_of(&r);
    assert_eq!(errors[0].0, "payments/part-1.parquet");
    assert!(errors[0].1.contains("differ only in case"), "{r:?}");
}

#[test]
fn id_lists_with_byte_order_marks_carriage_returns_and_dashes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("events/part-0.parquet"), "columns": {"user_id": ["u1", "u2", "u3", "-1"]}},
    ]));
    let count = |r: &Run| r.json()["residual_rows"].as_u64().unwrap();
    // A UTF-8 byte order mark is not part of the first ID.
    std::fs::write(dir.path().join("bom.txt"), "\u{feff}u1\nu9\n").unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--ids", "bom.txt"]);
    assert_eq!((r.code, count(&r)), (1, 1), "{r:?}");
    // A file holding only a mark holds no subject.
    std::fs::write(dir.path().join("only-bom.txt"), "\u{feff}").unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--ids", "only-bom.txt"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("holds no subject IDs"), "{r:?}");
    // Classic Mac line ends.
    std::fs::write(dir.path().join("cr.txt"), "u9\ru2\ru3").unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--ids", "cr.txt"]);
    assert_eq!((r.code, count(&r)), (1, 2), "{r:?}");
    assert_eq!(r.json()["subjects"], 3);
    // --ids - reads stdin.
    let r = run_with_stdin(
        vouch().current_dir(dir.path()).args([
            "scan", "--format", "json", "-q", "--lake", "lake", "--ids", "-",
        ]),
        b"u3\r\nu1\r\n",
    );
    assert_eq!((r.code, count(&r)), (1, 2), "{r:?}");
    // An ID that starts with a dash.
    let r = scan(dir.path(), &["--lake", "lake", "--id", "-1"]);
    assert_eq!((r.code, count(&r)), (1, 1), "{r:?}");
}

#[test]
fn empty_files_from_pyarrow_are_empty_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("events/dt=2026-01-01/part-0.parquet"), "columns": {"user_id": []}, "types": {"user_id": "string"}},
        {"path": lake.join("events/dt=2026-01-02/part-0.parquet"), "columns": {"user_id": ["u1", "u2"]}},
    ]));
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u9"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["files_scanned"], 2);
    assert_eq!(r.json()["rows_scanned"], 2);
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!((r.code, r.json()["residual_rows"].as_u64()), (1, Some(1)));
}

#[test]
fn links_are_followed_once_and_loops_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("events/part-0.parquet"), "columns": {"user_id": ["u2"]}},
        {"path": lake.join("orders/part-0.parquet"), "columns": {"user_id": ["u2", "u2"]}},
    ]));
    std::os::unix::fs::symlink(".", lake.join("events/loop")).unwrap();
    std::fs::create_dir_all(lake.join("users")).unwrap();
    std::os::unix::fs::symlink("../orders", lake.join("users/shared")).unwrap();
    std::os::unix::fs::symlink("part-0.parquet", lake.join("orders/again.parquet")).unwrap();
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u2"]);
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    let errors = errors_of(&r);
    assert_eq!(errors.len(), 1, "{r:?}");
    assert_eq!(errors[0].0, "events/loop");
    assert!(errors[0].1.contains("symbolic link loop"), "{r:?}");
    // Each file counted once: 1 row in events, 2 in orders, none twice.
    assert_eq!(j["residual_rows"], 3, "{r:?}");
    assert_eq!(table(&j, "events")["residual_rows"], 1);
    assert_eq!(table(&j, "orders")["residual_rows"], 2);
    assert_eq!(table(&j, "users")["residual_rows"], 0);
    assert_eq!(
        table(&j, "orders")["aliases"],
        json!([{"file": "orders/again.parquet", "same_as": "orders/part-0.parquet"}])
    );
    assert_eq!(
        table(&j, "users")["aliases"],
        json!([
            {"file": "users/shared/again.parquet", "same_as": "orders/part-0.parquet", "same_as_table": "orders"},
            {"file": "users/shared/part-0.parquet", "same_as": "orders/part-0.parquet", "same_as_table": "orders"}
        ])
    );
    // The table that only links to another is not "empty", and says where its rows are.
    let text = run(vouch()
        .current_dir(dir.path())
        .args(["scan", "-q", "--lake", "lake", "--id", "u2"]));
    assert!(
        text.stdout
            .contains("users/shared/part-0.parquet is orders/part-0.parquet"),
        "{text:?}"
    );
}

#[test]
fn nested_decimal_and_null_identifier_columns_are_named_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("a/part-0.parquet"), "columns": {"user_id": ["u1"]}, "types": {"user_id": "list"}},
        {"path": lake.join("b/part-0.parquet"), "columns": {"user_id": ["u1"]}, "types": {"user_id": "struct"}},
        {"path": lake.join("c/part-0.parquet"), "columns": {"user_id": ["u1"]}, "types": {"user_id": "map"}},
        {"path": lake.join("d/part-0.parquet"), "columns": {"user_id": [12]}, "types": {"user_id": "decimal"}},
        {"path": lake.join("e/part-0.parquet"), "columns": {"user_id": [null]}, "types": {"user_id": "null"}},
    ]));
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u1"]);
    assert_eq!(r.code, 2, "{r:?}");
    let errors = errors_of(&r);
    let want = [
        ("a/part-0.parquet", "identifier column user_id is a list"),
        ("b/part-0.parquet", "identifier column user_id is a struct"),
        ("c/part-0.parquet", "identifier column user_id is a map"),
        ("d/part-0.parquet", "has unsupported type DECIMAL(10, 0)"),
        ("e/part-0.parquet", "has unsupported type NULL"),
    ];
    assert_eq!(errors.len(), want.len(), "{r:?}");
    for ((file, error), (wf, we)) in errors.iter().zip(want) {
        assert_eq!(file, wf);
        assert!(error.contains(we), "{file}: {error}");
        assert!(!error.contains('{'), "Rust Debug in {error}");
    }
}

#[test]
fn outputs_never_replace_what_is_not_a_regular_file_and_threads_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_lake(json!([
        {"path": lake.join("events/part-0.parquet"), "columns": {"user_id": ["u1"]}},
    ]));
    use std::os::unix::fs::FileTypeExt;
    // A device of the test's own, like /dev/full (writes fail with ENOSPC), so that a
    // binary that replaces devices damages nothing outside the temp dir. mknod needs
    // root, which the tests run as; elsewhere /dev/full itself.
    let own = dir.path().join("full");
    let made = std::process::Command::new("mknod")
        .arg(&own)
        .args(["c", "1", "7"])
        .status()
        .is_ok_and(|s| s.success());
    let full = if made { own } else { "/dev/full".into() };
    assert!(
        std::fs::metadata(&full)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let shown = full.display().to_string();
    let r = scan(
        dir.path(),
        &["--lake", "lake", "--id", "u9", "--out", &shown],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&shown), "{r:?}");
    let t = std::fs::metadata(&full).unwrap().file_type();
    assert!(t.is_char_device(), "{shown} must stay a device");
    let r = scan(
        dir.path(),
        &["--lake", "lake", "--id", "u9", "--out", "/dev/null"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    std::fs::create_dir(dir.path().join("out.json")).unwrap();
    let r = scan(
        dir.path(),
        &["--lake", "lake", "--id", "u9", "--out", "out.json"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("is a directory"), "{r:?}");
    // Threads: capped with a clear error, at once.
    let started = std::time::Instant::now();
    let r = scan(
        dir.path(),
        &["--lake", "lake", "--id", "u9", "--threads", "100000"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--threads"), "{r:?}");
    assert!(started.elapsed().as_secs() < 10);
    // A closed stdout (`| head`) ends the program quietly, with the verdict's code.
    let mut child = vouch()
        .current_dir(dir.path())
        .args(["scan", "--lake", "lake", "--id", "u1", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("pipe"),
        "{stderr}"
    );
}

/// Footer bytes of a Parquet file (its last `len + 8` bytes).
fn footer(path: &Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    let n = b.len();
    let len = u32::from_le_bytes(b[n - 8..n - 4].try_into().unwrap()) as usize;
    b[n - 8 - len..].to_vec()
}

#[test]
fn the_index_notices_a_rewrite_that_keeps_size_footer_and_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = lake.join("events/part-0.parquet");
    // Fixed-width PLAIN IDs without statistics: the footer only holds sizes and offsets.
    let plain = json!({"use_dictionary": false, "write_statistics": false, "compression": "none"});
    write_lake(json!([
        {"path": file, "columns": {"user_id": [1, 2, 3]}, "types": {"user_id": "int64"}, "options": plain},
    ]));
    let key = "index-rewrite-test-subject-key-0123";
    let v = || {
        let mut c = vouch();
        c.current_dir(dir.path()).env("VOUCH_SUBJECT_KEY", key);
        c
    };
    let r = run(v().args(["index", "build", "--lake", "lake", "--index", "ix"]));
    assert_eq!(r.code, 0, "{r:?}");
    let before = footer(&file);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    // The same file rewritten with subject 99 in it, the mtime set back.
    write_lake(json!([
        {"path": file, "columns": {"user_id": [1, 2, 99]}, "types": {"user_id": "int64"}, "options": plain},
    ]));
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(
        footer(&file),
        before,
        "the rewrite keeps the footer byte for byte"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
    let r = run(v().args([
        "scan", "--lake", "lake", "--id", "99", "--index", "ix", "--format", "json", "-q",
    ]));
    assert_eq!(
        r.code, 1,
        "the index must not speak for a rewritten file: {r:?}"
    );
    let j = r.json();
    assert_eq!(j["residual_rows"], 1);
    assert_eq!(j["index"]["files_without_index"], 1);
    // Bytes patched in place (no new inode), the mtime set back: the same.
    let r = run(v().args(["index", "build", "--lake", "lake", "--index", "ix"]));
    assert_eq!(r.code, 0, "{r:?}");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == 99i64.to_le_bytes())
        .unwrap();
    bytes[at..at + 8].copy_from_slice(&7i64.to_le_bytes());
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.write_all_at(&bytes[at..at + 8], at as u64).unwrap();
        f.set_modified(std::fs::metadata(&file).unwrap().modified().unwrap())
            .unwrap();
    }
    let r = run(v().args([
        "scan", "--lake", "lake", "--id", "7", "--index", "ix", "--format", "json", "-q",
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["residual_rows"], 1);
}

/// Changes `num_values` of the first column's dictionary page header from `from` to `to`
/// (both one-byte zigzag varints in Thrift's compact protocol).
fn patch_dictionary_count(path: &Path, from: u8, to: u8) {
    let mut b = std::fs::read(path).unwrap();
    // The dictionary page header starts at byte 4 (after PAR1). Its DictionaryPageHeader
    // (field 7, a struct) begins with num_values (field 1, i32: 0x15 then the varint).
    let at = (4..200)
        .find(|&i| b[i] == 0x15 && b[i + 1] == from * 2 && b[i - 1] & 0x0f == 0x0c)
        .expect("the dictionary page header's num_values");
    b[at + 1] = to * 2;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_dictionary_rules_values_out_only_when_it_is_consumed_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = lake.join("events/part-0.parquet");
    write_lake(json!([
        {"path": file, "columns": {"user_id": ["u1", "u2", "u3", "u1"]},
         "options": {"write_statistics": false, "compression": "none", "write_page_checksum": true}},
    ]));
    let r = scan(dir.path(), &["--lake", "lake", "--id", "u3"]);
    assert_eq!(
        (r.code, r.json()["residual_rows"].as_u64()),
        (1, Some(1)),
        "{r:?}"
    );
    // Three entries declared as two: the CRC covers the page body, not its header.
    patch_dictionary_count(&file, 3, 2);
    let pyarrow = std::process::Command::new(python())
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; pq.read_table(sys.argv[1])",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !pyarrow.status.success(),
        "pyarrow refuses the patched file"
    );
    for strict in [false, true] {
        let mut args = vec!["--lake", "lake", "--id", "u3"];
        if strict {
            args.extend(["--no-statistics", "--no-bloom-filters"]);
        }
        let r = scan(dir.path(), &args);
        assert_eq!(r.code, 2, "strict={strict}: must not be clean: {r:?}");
        let errors = errors_of(&r);
        assert!(errors[0].1.contains("dictionary page"), "{r:?}");
    }
    // The subject index reads the same dictionary: it refuses the file too.
    let r = run(vouch()
        .current_dir(dir.path())
        .env("VOUCH_SUBJECT_KEY", "dictionary-test-subject-key-0123")
        .args(["index", "build", "--lake", "lake", "--index", "ix"]));
    assert_eq!(r.code, 2, "{r:?}");
}

/// Subjects whose IDs are one value of a column ("7" and "007" in an integer column, a
/// UUID in lower and upper case in a UUID column) each get that value's rows: one is never
/// certified clean while the other is residual, whichever way the column is read.
#[test]
fn subjects_whose_ids_are_one_value_each_get_its_rows() {
    let t = tempfile::tempdir().unwrap();
    let lake = t.path().join("lake");
    let (lower, upper) = (
        "01165b69-a81b-44c7-9803-ac583c39ed54",
        "01165B69-A81B-44C7-9803-AC583C39ED54",
    );
    write_lake(json!([
        {"path": lake.join("ints/part-0.parquet"), "columns": {"user_id": [7, 8, 7]}},
        {"path": lake.join("uuids/part-0.parquet"),
         "columns": {"user_id": [lower, "11165b69-a81b-44c7-9803-ac583c39ed54"]},
         "types": {"user_id": "uuid"}},
    ]));
    for extra in [&[][..], &["--no-dictionaries"], &["--no-statistics"]] {
        let mut args = vec!["--lake", "lake"];
        for id in ["7", "007", "+7", lower, upper] {
            args.extend(["--id", id]);
        }
        args.extend(extra);
        let r = scan(t.path(), &args);
        assert_eq!(r.code, 1, "{r:?}");
        let j = r.json();
        let rows = |subject: &str| -> u64 {
            j["residuals"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["subject"] == subject)
                .map(|x| x["rows"].as_u64().unwrap())
                .sum()
        };
        for (subject, want) in [("7", 2), ("007", 2), ("+7", 2), (lower, 1), (upper, 1)] {
            assert_eq!(rows(subject), want, "{subject} {extra:?}: {j}");
        }
        assert_eq!(j["residual_rows"], 3, "rows, not rows per subject: {j}");
    }
}

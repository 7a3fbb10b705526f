//! `vouch scan` end to end: the real binary, its stdout, stderr and exit code.

use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, StructArray,
};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use parquet::file::properties::WriterProperties;

/// `vouch scan` of a fixture copy with its config and deleted IDs.
fn fixture_cmd(dir: &Path) -> std::process::Command {
    let mut c = vouch();
    c.current_dir(dir)
        .args(["scan", "--config", "vouch.toml", "--ids", "deleted_ids.txt"]);
    c
}

/// [`fixture_cmd`] with `-q` and `extra` args, run.
fn scan_fixture(dir: &Path, extra: &[&str]) -> Run {
    run(fixture_cmd(dir).arg("-q").args(extra))
}

fn write(path: &Path, cols: Vec<(Field, ArrayRef)>) {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    vouch::dev::fixtures::write_parquet(path, &[b], WriterProperties::builder().build()).unwrap();
}

#[test]
fn fixture_lake_reports_residual_rows_partitions_and_holds() {
    let dir = fixture_copy();
    let r = scan_fixture(dir.path(), &["--format", "json", "--out", "report.json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["verdict"], "residual");
    assert_eq!(j["subjects"], 11);
    assert_eq!(j["files_scanned"], 7, "_SUCCESS and .crc files are ignored");
    assert_eq!(j["rows_scanned"], 11_200);
    assert_eq!(j["residual_rows"], 4);
    assert_eq!(j["held_rows"], 3);
    let table = |name: &str| {
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(table("events")["residual_rows"], 2);
    assert_eq!(
        table("events")["partitions_with_residuals"],
        serde_json::json!(["dt=2026-01-03"])
    );
    assert_eq!(
        table("payments")["residual_rows"],
        2,
        "a row matching in two id columns counts once"
    );
    assert_eq!(table("support_tickets")["held_rows"], 3);
    assert_eq!(table("support_tickets")["residual_rows"], 0);
    assert_eq!(table("support_tickets")["legal_hold"], true);
    assert_eq!(
        table("devices")["id_columns"],
        serde_json::json!(["owner_uuid"])
    );
    assert_eq!(
        j["residuals"],
        serde_json::json!([
            {"table": "events", "file": "events/dt=2026-01-03/part-0.parquet", "partition": "dt=2026-01-03", "subject": "5002", "rows": 2, "held": false, "version_id": null},
            {"table": "payments", "file": "payments/part-0.parquet", "partition": null, "subject": "5007", "rows": 2, "held": false, "version_id": null},
            {"table": "support_tickets", "file": "support_tickets/part-0.parquet", "partition": null, "subject": "5005", "rows": 3, "held": true, "version_id": null},
        ])
    );
    assert_eq!(j["errors"], serde_json::json!([]));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(written, j, "--out holds the same report");
    // Reruns give the same bytes.
    let again = scan_fixture(dir.path(), &["--format", "json"]);
    assert_eq!(again.stdout, r.stdout);
}

#[test]
fn text_report_is_pinned() {
    let dir = fixture_copy();
    let r = scan_fixture(dir.path(), &[]);
    assert_eq!(r.code, 1);
    let want = std::fs::read_to_string(repo().join("tests/snapshots/fixture_scan.txt")).unwrap();
    assert_eq!(
        r.stdout, want,
        "stdout differs from tests/snapshots/fixture_scan.txt"
    );
    assert_eq!(r.stderr, "", "-q keeps stderr quiet when nothing is wrong");
}

#[test]
fn a_subject_key_replaces_raw_ids_everywhere() {
    let dir = fixture_copy();
    for format in ["json", "text"] {
        let r = run(fixture_cmd(dir.path())
            .env("VOUCH_SUBJECT_KEY", "an-example-key-of-32-bytes------")
            .args(["--out", "r.json", "--force", "--format", format]));
        assert_eq!(r.code, 1);
        let kept = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
        for id in ["5002", "5005", "5007"] {
            for (what, text) in [
                ("stdout", &r.stdout),
                ("stderr", &r.stderr),
                ("report", &kept),
            ] {
                assert!(
                    !text.contains(&format!("\"{id}\"")) && !text.contains(&format!(" {id} ")),
                    "{id} in {what}"
                );
            }
        }
        if format == "json" {
            let j = r.json();
            assert_eq!(j["subject_labels"], "keyed-hash");
            let want = format!(
                "hmac-sha256:{}",
                vouch::domain::subjects::keyed_hash_hex(
                    b"an-example-key-of-32-bytes------",
                    b"5002"
                )
            );
            assert_eq!(j["residuals"][0]["subject"], want.as_str());
        }
    }
    // A key too short to be one: tests/cases/subject_key_required.case.
}

#[test]
fn legal_holds_come_from_a_parquet_retention_table_too() {
    let dir = fixture_copy();
    write(
        &dir.path().join("policy.parquet"),
        vec![
            (
                Field::new("dataset", DataType::Utf8, false),
                Arc::new(StringArray::from(vec!["payments", "events"])) as ArrayRef,
            ),
            (
                Field::new("retention_days", DataType::Int64, false),
                Arc::new(Int64Array::from(vec![3650, 400])),
            ),
            (
                Field::new("legal_hold_flag", DataType::Boolean, false),
                Arc::new(BooleanArray::from(vec![true, false])),
            ),
        ],
    );
    let r = scan_fixture(
        dir.path(),
        &["--retention-policy", "policy.parquet", "--format", "json"],
    );
    let j = r.json();
    assert_eq!(r.code, 1);
    assert_eq!(
        j["residual_rows"], 5,
        "support_tickets is no longer held; payments is"
    );
    assert_eq!(j["held_rows"], 2);
    // Holds alone do not make a verdict residual.
    let r = run(vouch().current_dir(dir.path()).args([
        "scan",
        "--config",
        "vouch.toml",
        "--id",
        "5007",
        "--retention-policy",
        "policy.parquet",
        "-q",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("CLEAN: no rows of the 1 subject(s) remain in 5 table(s) (2 row(s) kept under legal hold)"), "{r:?}");
}

#[test]
fn damaged_files_make_the_scan_incomplete_and_the_rest_is_still_scanned() {
    let dir = fixture_copy();
    let lake = dir.path().join("lake");
    // Truncated to half its size.
    let f = lake.join("events/dt=2026-01-02/part-0.parquet");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    // Not Parquet at all.
    std::fs::write(
        lake.join("events/dt=2026-01-01/notes.parquet"),
        "these are meeting notes, not a table\n".repeat(4),
    )
    .unwrap();
    // Footer length pointing before the start of the file.
    let g = lake.join("profiles/part-0.parquet");
    let mut bytes = std::fs::read(&g).unwrap();
    let n = bytes.len();
    bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&g, &bytes).unwrap();
    let r = scan_fixture(dir.path(), &["--format", "json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    assert_eq!(j["verdict"], "incomplete");
    let errors = errors_of(&r);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, "events/dt=2026-01-01/notes.parquet");
    assert_eq!(
        errors[0].1,
        "not a Parquet file: the PAR1 magic bytes are missing"
    );
    assert_eq!(errors[1].0, "events/dt=2026-01-02/part-0.parquet");
    assert_eq!(errors[2].0, "profiles/part-0.parquet");
    assert!(
        errors[2]
            .1
            .starts_with("corrupt footer: declares 4294967295 bytes"),
        "{errors:?}"
    );
    // Residual rows elsewhere are still reported.
    assert_eq!(j["residual_rows"], 4);
    // One line per problem on stderr, naming the file.
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{r:?}");
    assert!(
        lines[1].starts_with("vouch: lake/events/dt=2026-01-02/part-0.parquet: "),
        "{r:?}"
    );
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn tables_without_a_usable_identifier_column_are_errors() {
    let dir = fixture_copy();
    let lake = dir.path().join("lake");
    write(
        &lake.join("audit/part-0.parquet"),
        vec![(
            Field::new("actor", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
        )],
    );
    write(
        &lake.join("scores/part-0.parquet"),
        vec![(
            Field::new("user_id", DataType::Float64, false),
            Arc::new(Float64Array::from(vec![5002.0])) as ArrayRef,
        )],
    );
    std::fs::create_dir_all(lake.join("empty")).unwrap();
    let r = scan_fixture(dir.path(), &["--format", "json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    let errors = j["errors"].as_array().unwrap();
    assert_eq!(errors[0]["file"], "audit/part-0.parquet");
    assert_eq!(
        errors[0]["error"],
        "has none of the identifier columns user_id"
    );
    assert_eq!(errors[1]["file"], "empty");
    assert_eq!(
        errors[1]["error"],
        "table has no data files: nothing was checked"
    );
    assert_eq!(errors[2]["file"], "scores/part-0.parquet");
    assert_eq!(
        errors[2]["error"],
        "identifier column user_id has unsupported type DOUBLE"
    );
}

#[test]
fn unreadable_directories_and_missing_tables_are_errors() {
    let dir = fixture_copy();
    let lake = dir.path().join("lake");
    // A partition directory that cannot be read (a dangling link: root reads anything else).
    std::os::unix::fs::symlink("/nonexistent/vouch-test", lake.join("events/dt=2026-01-04"))
        .unwrap();
    let mut cfg = std::fs::read_to_string(dir.path().join("vouch.toml")).unwrap();
    cfg = cfg.replace(
        "[tables]",
        "[[lake.tables]]\nname = \"ledger\"\npath = \"finance/ledger\"\n\n[tables]",
    );
    std::fs::write(dir.path().join("vouch.toml"), cfg).unwrap();
    let r = scan_fixture(dir.path(), &["--format", "json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    let errors = j["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{r:?}");
    assert_eq!(errors[0]["file"], "events/dt=2026-01-04");
    assert_eq!(
        errors[0]["error"],
        "a dangling symbolic link (to /nonexistent/vouch-test): what it points to is not there"
    );
    assert_eq!(errors[1]["file"], "finance/ledger");
    assert_eq!(errors[1]["error"], "cannot list directory: not found");
}

#[test]
fn nested_struct_fields_can_be_identifier_columns() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Fields::from(vec![Field::new("user_id", DataType::Int64, true)]);
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(7), Some(7)]));
    let s = StructArray::new(inner.clone(), vec![ids], None);
    write(
        &dir.path().join("lake/orders/part-0.parquet"),
        vec![(
            Field::new("buyer", DataType::Struct(inner), false),
            Arc::new(s) as ArrayRef,
        )],
    );
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nlocation = \"lake\"\nid_columns = [\"buyer.user_id\"]\n",
    )
    .unwrap();
    let r = run(vouch().current_dir(dir.path()).args([
        "scan",
        "--config",
        "vouch.toml",
        "--id",
        "7",
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["residual_rows"], 2);
}

/// The JSON a scan prints is the report it writes to `--out`. (That `--out` keeps an
/// existing file unless `--force` is in `tests/cases/out_overwrite.case`.)
#[test]
fn json_on_stdout_is_the_out_file() {
    let dir = fixture_copy();
    let d = dir.path();
    let r = scan_fixture(d, &["--out", "r.json", "--format", "json"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.json(),
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(d.join("r.json")).unwrap()
        )
        .unwrap()
    );
}

/// The officer's view (issue 20): with a subject key, `--show-ids` puts each typed ID beside
/// its keyed hash in the text report on stdout, and nowhere else: not in `--out`, not on
/// stderr; with `--format json` it is refused.
#[test]
fn show_ids_names_typed_ids_on_the_terminal_only() {
    let dir = fixture_copy();
    let key = "officer-test-subject-key-0123456789";
    let scan = |extra: &[&str]| {
        run(vouch()
            .current_dir(dir.path())
            .env("VOUCH_SUBJECT_KEY", key)
            .args([
                "scan",
                "--config",
                "vouch.toml",
                "--ids",
                "deleted_ids.txt",
                "-q",
            ])
            .args(extra))
    };
    let r = scan(&["--show-ids", "--out", "r.json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let residual: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("hmac-sha256:"))
        .collect();
    assert!(!residual.is_empty(), "{r:?}");
    assert!(
        residual.iter().all(|l| l.contains(" (ID 50")),
        "every keyed hash is shown with its ID: {residual:?}"
    );
    let kept = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(
        !kept.contains("(ID") && !kept.contains("\"5007\""),
        "{kept}"
    );
    assert!(!r.stderr.contains("50"), "{}", r.stderr);
    let plain = scan(&[]);
    assert!(
        !plain.stdout.contains("(ID"),
        "without the flag, hashes only"
    );
    let json = scan(&["--show-ids", "--format", "json"]);
    assert_eq!(json.code, 2);
    assert!(
        json.stderr.contains("--show-ids is for the text report"),
        "{json:?}"
    );
}

/// `vouch COMMAND --help` of every command, pinned in docs/help/ (rewrite them
/// with VOUCH_BLESS=1 after a deliberate change, and read the diff).
#[test]
fn help_of_every_command_is_pinned() {
    let commands: &[&[&str]] = &[
        &[],
        &["scan"],
        &["scan", "plan"],
        &["scan", "merge"],
        &["export"],
        &["evidence", "build"],
        &["evidence", "verify"],
        &["keygen"],
        &["retention", "check"],
        &["metrics"],
        &["nightly"],
        &["certificate", "verify"],
        &["demo"],
        &["index", "build"],
        &["completions"],
        &["man"],
    ];
    let dir = repo().join("docs/help");
    let bless = std::env::var("VOUCH_BLESS").is_ok_and(|v| v == "1");
    let mut differ = Vec::new();
    for words in commands {
        let name = if words.is_empty() {
            "vouch".to_string()
        } else {
            format!("vouch-{}", words.join("-"))
        };
        let r = run(vouch().env("COLUMNS", "100").args(*words).arg("--help"));
        assert_eq!(r.code, 0, "{name}: {r:?}");
        assert_eq!(r.stderr, "", "{name}");
        assert!(
            r.stdout.contains("Examples:") || words == &["completions"] || words.is_empty(),
            "{name}: no examples in the long help"
        );
        let file = dir.join(format!("{name}.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &r.stdout).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(r.stdout.as_str()) {
            differ.push(name);
        }
    }
    assert!(
        differ.is_empty(),
        "--help differs from docs/help/ for {differ:?} (VOUCH_BLESS=1 rewrites)"
    );
    // Short help (-h) names every option too, and a typo gets a suggestion.
    let r = run(vouch().args(["scan", "--lakes", "x"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("tip: a similar argument exists: '--lake'"),
        "{}",
        r.stderr
    );
    let r = run(vouch().args(["evidnce"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("similar subcommand exists: 'evidence'"),
        "{}",
        r.stderr
    );
}

/// Completions for each shell and man pages come from the same definitions.
#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = run(vouch().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {r:?}");
        assert!(r.stdout.contains("retention"), "{shell}: no subcommands");
    }
    let bash = run(vouch().args(["completions", "bash"]));
    let check = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bash.stdout.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(check.success(), "bash -n rejects the completion script");
    let dir = tempfile::tempdir().unwrap();
    let r = run(vouch().args(["man", "--out"]).arg(dir.path()));
    assert_eq!(r.code, 0, "{r:?}");
    for page in [
        "vouch.1",
        "vouch-scan.1",
        "vouch-scan-merge.1",
        "vouch-evidence-verify.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.starts_with(".ie") && text.contains(".TH"), "{page}");
    }
    let scan = std::fs::read_to_string(dir.path().join("vouch-scan.1")).unwrap();
    assert!(
        scan.contains("\\-\\-show\\-ids") || scan.contains("show\\-ids"),
        "{scan}"
    );
    let stdout = run(vouch().arg("man"));
    assert_eq!(
        stdout.stdout,
        std::fs::read_to_string(dir.path().join("vouch.1")).unwrap()
    );
}

//! Helpers shared by the integration tests: run the real binary, temp dirs, oracles.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn vouch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    // The developer's own settings never reach a test (config discovery, log filters,
    // the terminal width clap wraps help to).
    for var in [
        "VOUCH_SUBJECT_KEY",
        "VOUCH_CONFIG",
        "VOUCH_LOG",
        "RUST_LOG",
        "AWS_PROFILE",
        "COLUMNS",
    ] {
        c.env_remove(var);
    }
    c
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run vouch");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs a command with `input` on its stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vouch");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether `text` holds the subject ID `id`: as a whole token when the ID is alphanumeric
/// (so that "5002" inside an inode or a nanosecond time is not it), else anywhere.
pub fn holds_token(text: &str, id: &str) -> bool {
    if id.chars().all(|c| c.is_ascii_alphanumeric()) {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| t == id)
    } else {
        text.contains(id)
    }
}

/// A JSON scan report's errors as (file, error) pairs.
pub fn errors_of(r: &Run) -> Vec<(String, String)> {
    r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The public test corpus (`parquet-testing/`, `delta-kernel-rs/`, `duckdb-iceberg/`),
/// read in place: `VOUCH_CORPUS`, or `../shared/corpus` beside the checkout when it is
/// unset or empty (as `scripts/test.sh` reads it). None when it is absent outside CI (the
/// caller says it did not run and why); under `CI=true` its absence fails the test, so CI
/// never passes without it.
pub fn corpus(part: &str) -> Option<PathBuf> {
    let root = std::env::var_os("VOUCH_CORPUS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus"));
    let p = root.join(part);
    if p.is_dir() {
        return Some(p);
    }
    let why = format!(
        "the public test corpus is not at {} (set VOUCH_CORPUS to the folder holding {part}/)",
        p.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}: under CI=true the corpus tests must run");
    }
    eprintln!("NOT RUN: {why}");
    None
}

/// The Python interpreter with the oracle's packages (duckdb, pyarrow).
pub fn python() -> String {
    std::env::var("VOUCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs a Python oracle script with a JSON argument and parses its JSON answer.
pub fn oracle(script: &str, arg: &serde_json::Value) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/oracle").join(script))
        .arg(arg.to_string())
        .output()
        .expect("run python3 (the test script installs duckdb and pyarrow)");
    assert!(
        out.status.success(),
        "oracle {script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

/// Copies the committed fixture set into a fresh temp dir (tests may damage their copy).
pub fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("fixtures"), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

pub fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs age and unzip)"))
}

pub fn ok(cmd: &mut Command) -> Vec<u8> {
    let out = sh(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An X25519 identity made by `age-keygen`: (identity file, recipient).
pub fn age_identity(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("key.txt");
    ok(Command::new("age-keygen").arg("-o").arg(&key));
    let text = std::fs::read_to_string(&key).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (key, recipient)
}

/// Decrypts with `age -d -i KEY` and returns the zip's bytes.
pub fn decrypt(key: &Path, file: &Path) -> Vec<u8> {
    ok(Command::new("age").arg("-d").arg("-i").arg(key).arg(file))
}

/// The members of a zip, by `unzip -p`, after `unzip -t` checked every CRC.
pub fn unzip(dir: &Path, zip: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let path = dir.join("plain.zip");
    std::fs::write(&path, zip).unwrap();
    ok(Command::new("unzip").arg("-tq").arg(&path));
    let list = String::from_utf8(ok(Command::new("unzip").arg("-Z1").arg(&path))).unwrap();
    let members = list
        .lines()
        .map(|m| {
            (
                m.to_string(),
                ok(Command::new("unzip").arg("-p").arg(&path).arg(m)),
            )
        })
        .collect();
    std::fs::remove_file(&path).unwrap();
    members
}

/// The vouch.toml of a random lake (its tables and identifier columns).
pub fn config_for(lake: &vouch::dev::fixtures::RandomLake) -> String {
    let mut s = String::from("[lake]\nid_columns = [\"user_id\"]\n");
    for t in &lake.tables {
        let cols: Vec<String> = t.id_columns.iter().map(|c| format!("{c:?}")).collect();
        s.push_str(&format!(
            "\n[[lake.tables]]\nname = {:?}\nid_columns = [{}]\n",
            t.name,
            cols.join(", ")
        ));
    }
    s
}

/// `vouch scan` of `fixtures/deleted_ids.txt` in a copy of the fixtures at `dir`, as JSON,
/// with the subject key `key` and `extra` arguments.
pub fn fixture_scan(dir: &Path, key: &str, extra: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .env("VOUCH_SUBJECT_KEY", key)
        .args(FIXTURE_SCAN)
        .args(extra))
}

/// `vouch scan` of the fixture IDs with the fixture config, as JSON (run in a fixtures dir).
pub const FIXTURE_SCAN: [&str; 8] = [
    "scan",
    "--config",
    "vouch.toml",
    "--ids",
    "deleted_ids.txt",
    "--format",
    "json",
    "-q",
];

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Writes a Parquet file of text columns (the writer's defaults).
pub fn text_table(path: &Path, columns: Vec<(&str, Vec<String>)>) {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|(_, v)| std::sync::Arc::new(StringArray::from(v)) as ArrayRef)
        .collect();
    let batch = arrow::record_batch::RecordBatch::try_new(schema, arrays).unwrap();
    vouch::dev::fixtures::write_parquet(
        path,
        &[batch],
        parquet::file::properties::WriterProperties::builder().build(),
    )
    .unwrap();
}

/// Writes a secret file as a user would keep one: readable by its owner only.
pub fn secret_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `vouch scan --config vouch.toml --format json -q --id ...` in `dir`: its exit code and
/// report (the exit code is one of the three a scan has).
pub fn scan_json(dir: &Path, ids: &[&str]) -> (i32, serde_json::Value) {
    let mut c = vouch();
    c.current_dir(dir)
        .args(["scan", "--config", "vouch.toml", "--format", "json", "-q"]);
    for id in ids {
        c.args(["--id", id]);
    }
    let r = run(&mut c);
    assert!(r.code <= 2, "{r:?}");
    (r.code, r.json())
}

/// A report's errors as `file: error` lines.
pub fn error_lines(report: &serde_json::Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}: {}",
                e["file"].as_str().unwrap_or_default(),
                e["error"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// The kinds of a report's `physical_copies`.
pub fn copy_kinds(report: &serde_json::Value) -> std::collections::BTreeSet<String> {
    report["physical_copies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

//! `vouch export` with the real tools: Debian `age`, `unzip`, `sha256sum`, `ssh-keygen`,
//! and DuckDB as the oracle for row counts.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn export(dir: &Path, extra: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .args([
            "export",
            "--config",
            &repo().join("fixtures/vouch.toml").display().to_string(),
            "-q",
        ])
        .args(["--as-of", "2026-11-27T12:00:00Z"])
        .args(extra))
}

/// DuckDB's per-table count of the fixture lake's rows for `ids`.
fn duckdb_counts(ids: &[&str]) -> serde_json::Value {
    let t = |name: &str, preds: &[&str]| serde_json::json!({"name": name, "id_sql": preds});
    oracle(
        "duckdb_counts.py",
        &serde_json::json!({
            "lake": repo().join("fixtures/lake"),
            "ids": ids,
            "tables": [
                t("devices", &["owner_uuid IN (SELECT TRY_CAST(id AS UUID) FROM ids)"]),
                t("events", &["user_id IN (SELECT id FROM ids)"]),
                t("payments", &["user_id IN (SELECT id FROM ids)", "buyer_id IN (SELECT TRY_CAST(id AS HUGEINT) FROM ids)"]),
                t("profiles", &["user_id IN (SELECT TRY_CAST(id AS HUGEINT) FROM ids)"]),
                t("support_tickets", &["user_id IN (SELECT id FROM ids)"]),
            ],
        }),
    )
}

#[test]
fn an_x25519_bundle_opens_with_age_and_unzip_and_holds_what_duckdb_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    let r = export(
        dir.path(),
        &[
            "--id",
            "5007",
            "--id",
            "1042",
            "--request-id",
            "DSAR-7",
            "--recipient",
            &recipient,
            "--out",
            "b.age",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let summary = r.json();
    let bundle = dir.path().join("b.age");
    let cipher = std::fs::read(&bundle).unwrap();
    assert_eq!(summary["bytes"], cipher.len());
    assert_eq!(summary["request_id"], "DSAR-7");
    // sha256sum -c accepts the .sha256 file, and it names the bundle's hash.
    ok(Command::new("sha256sum")
        .current_dir(dir.path())
        .args(["-c", "b.age.sha256"]));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.age.sha256")).unwrap(),
        format!("{}  b.age\n", summary["sha256"].as_str().unwrap())
    );
    let members = unzip(dir.path(), &decrypt(&key, &bundle));
    let want = duckdb_counts(&["5007", "1042"]);
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    assert_eq!(manifest["request_id"], "DSAR-7");
    assert_eq!(manifest["generated_at"], "2026-11-27T12:00:00Z");
    let mut total = 0;
    for t in manifest["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap();
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&members[&format!("tables/{name}.json")]).unwrap();
        assert_eq!(
            rows.len() as u64,
            want[name]["residual_rows"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(t["rows"], rows.len(), "{name}");
        if name == "events" {
            // The Hive partition is part of every row (issue 16, item 15).
            assert!(!rows.is_empty());
            for row in &rows {
                assert!(
                    row["dt"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("2026-01-0")),
                    "{row}"
                );
            }
        }
        total += rows.len();
        let summary_rows = summary["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == name)
            .unwrap()["rows"]
            .clone();
        assert_eq!(summary_rows, rows.len(), "{name}");
    }
    assert_eq!(summary["rows"], total);
    assert!(total >= 10, "the fixture has rows of 1042 and 5007");
    // Every member's hash in the manifest is right.
    for m in manifest["members"].as_array().unwrap() {
        let data = &members[m["name"].as_str().unwrap()];
        assert_eq!(
            m["sha256"].as_str().unwrap(),
            vouch::domain::subjects::hex(&<sha2::Sha256 as sha2::Digest>::digest(data))
        );
    }
    assert!(String::from_utf8_lossy(&members["README.txt"]).contains("Request: DSAR-7"));
    // Rows keep their types: numbers stay numbers, times are ISO 8601.
    let payments: Vec<serde_json::Value> =
        serde_json::from_slice(&members["tables/payments.json"]).unwrap();
    assert!(payments.iter().all(|p| p["amount_cents"].is_i64()));
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&members["tables/events.json"]).unwrap();
    assert!(events[0]["ts"].as_str().unwrap().starts_with("2026-01-0"));
    // Only the bundle and its hash are left in the directory: no plaintext, no temp file.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b.age", "b.age.sha256", "key.txt"]);
    assert!(
        !cipher.windows(12).any(|w| w == b"amount_cents"),
        "ciphertext holds plaintext"
    );
}

#[test]
fn ssh_ed25519_recipients_and_recipient_files_work() {
    let dir = tempfile::tempdir().unwrap();
    ok(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "privacy@example.org",
            "-f",
        ])
        .arg(dir.path().join("id")));
    let public = std::fs::read_to_string(dir.path().join("id.pub")).unwrap();
    std::fs::write(
        dir.path().join("recipients.txt"),
        format!("# the requester\n\n{public}"),
    )
    .unwrap();
    for args in [
        vec!["--recipient", public.trim()],
        vec!["--recipients-file", "recipients.txt"],
    ] {
        let r = export(
            dir.path(),
            &[&["--id", "5007", "--out", "b.age", "--force"][..], &args].concat(),
        );
        assert_eq!(r.code, 0, "{r:?}");
        let members = unzip(
            dir.path(),
            &decrypt(&dir.path().join("id"), &dir.path().join("b.age")),
        );
        let payments: Vec<serde_json::Value> =
            serde_json::from_slice(&members["tables/payments.json"]).unwrap();
        assert_eq!(payments.len(), 2);
    }
}

#[test]
fn passphrase_bundles_open_with_age_at_its_prompt() {
    let dir = tempfile::tempdir().unwrap();
    secret_file(&dir.path().join("pass"), "correct horse battery staple\n");
    let started = std::time::Instant::now();
    let r = export(
        dir.path(),
        &[
            "--id",
            "5007",
            "--passphrase-file",
            "pass",
            "--out",
            "b.age",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        started.elapsed().as_secs() < 20,
        "scrypt work factor is pinned"
    );
    let out = Command::new(python())
        .arg(repo().join("tests/oracle/age_pty.py"))
        .arg(dir.path().join("b.age"))
        .arg(dir.path().join("plain.zip"))
        .arg("correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = std::fs::read(dir.path().join("plain.zip")).unwrap();
    assert!(unzip(dir.path(), &zip).contains_key("manifest.json"));
    // A wrong passphrase does not open it.
    let out = Command::new(python())
        .arg(repo().join("tests/oracle/age_pty.py"))
        .arg(dir.path().join("b.age"))
        .arg(dir.path().join("wrong.zip"))
        .arg("incorrect horse")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_flipped_ciphertext_byte_fails_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    let r = export(
        dir.path(),
        &["--id", "1042", "--recipient", &recipient, "--out", "b.age"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let mut bytes = std::fs::read(dir.path().join("b.age")).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    std::fs::write(dir.path().join("bad.age"), &bytes).unwrap();
    let out = sh(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(dir.path().join("bad.age")));
    assert!(!out.status.success(), "age must refuse a tampered bundle");
    let out = sh(Command::new("sha256sum")
        .current_dir(dir.path())
        .arg("-c")
        .arg("b.age.sha256"));
    assert!(out.status.success());
    std::fs::copy(dir.path().join("bad.age"), dir.path().join("b.age")).unwrap();
    let out = sh(Command::new("sha256sum")
        .current_dir(dir.path())
        .arg("-c")
        .arg("b.age.sha256"));
    assert!(!out.status.success(), "the recorded hash catches it too");
}

#[test]
fn csv_and_parquet_members_hold_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    for format in ["csv", "parquet"] {
        let r = export(
            dir.path(),
            &[
                "--id",
                "1042",
                "--recipient",
                &recipient,
                "--out",
                "b.age",
                "--force",
                "--data-format",
                format,
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        let members = unzip(dir.path(), &decrypt(&key, &dir.path().join("b.age")));
        let events = dir.path().join(format!("events.{format}"));
        std::fs::write(&events, &members[&format!("tables/events.{format}")]).unwrap();
        let reader = if format == "csv" {
            "read_csv"
        } else {
            "read_parquet"
        };
        let got = oracle(
            "duckdb_sql.py",
            &serde_json::json!({"statements": [format!("SELECT count(*), count(DISTINCT user_id) FROM {reader}('{}')", events.display())]}),
        );
        let want = duckdb_counts(&["1042"])["events"]["residual_rows"]
            .as_u64()
            .unwrap();
        assert_eq!(
            got[0][0],
            serde_json::json!([want.to_string(), "1"]),
            "{format}"
        );
        if format == "parquet" {
            let manifest: serde_json::Value =
                serde_json::from_slice(&members["manifest.json"]).unwrap();
            let devices = manifest["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["table"] == "devices")
                .unwrap()
                .clone();
            assert_eq!(
                devices["member"],
                serde_json::Value::Null,
                "no empty Parquet member"
            );
        }
    }
}

#[test]
fn a_subject_with_no_rows_gets_a_bundle_that_says_so_and_output_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    let mut plain = Vec::new();
    for out in ["a.age", "b.age"] {
        let r = export(
            dir.path(),
            &[
                "--id",
                "no-such-person",
                "--recipient",
                &recipient,
                "--out",
                out,
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains("(") && r.stdout.contains("0 row(s))"),
            "{r:?}"
        );
        plain.push(decrypt(&key, &dir.path().join(out)));
    }
    assert_eq!(
        plain[0], plain[1],
        "same input, same zip bytes (only age's keys differ)"
    );
    let members = unzip(dir.path(), &plain[0]);
    assert!(String::from_utf8_lossy(&members["README.txt"]).contains("hold no rows about you"));
    assert_eq!(members["tables/events.json"], b"[]\n");
}

#[test]
fn bad_input_exits_2_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (_, recipient) = age_identity(p);
    secret_file(&p.join("empty-pass"), "\n");
    std::fs::write(p.join("loose-pass"), "a passphrase others can read\n").unwrap();
    std::fs::write(p.join("exists.age"), "keep me").unwrap();
    copy_dir(&repo().join("fixtures/lake"), &p.join("lake"));
    std::fs::copy(repo().join("fixtures/vouch.toml"), p.join("vouch.toml")).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--recipient", "age1notakey"],
            "vouch: error: --recipient 1: \"age1notakey\"… is not an age recipient (age1…) or an SSH public key\n",
        ),
        (
            vec!["--recipient", "ssh-dss AAAAB3NzaC1kc3M="],
            "vouch: error: --recipient 1: unsupported or malformed SSH public key (ssh-ed25519 and ssh-rsa work)\n",
        ),
        (
            vec!["--passphrase-file", "missing"],
            "vouch: error: missing: not found\n",
        ),
        (
            vec!["--passphrase-file", "empty-pass"],
            "vouch: error: empty-pass: the passphrase is empty\n",
        ),
        (
            vec!["--passphrase-file", "loose-pass"],
            "vouch: error: loose-pass: secret file is readable by others (chmod 600 it, or 440 for a group of this process's)\n",
        ),
        (
            vec!["--recipient", &recipient, "--out", "nowhere/b.age"],
            "vouch: error: nowhere: the output directory does not exist\n",
        ),
        (
            vec!["--recipient", &recipient, "--out", "exists.age"],
            "vouch: error: exists.age: already exists (use --force to overwrite)\n",
        ),
        (
            vec!["--recipient", &recipient, "--corrupt"],
            "vouch: lake/profiles/part-0.parquet: not a Parquet file: the PAR1 magic bytes are missing\nvouch: error: the lake could not be read completely; no bundle was written\n",
        ),
    ];
    for (mut args, want) in cases {
        if args.last() == Some(&"--corrupt") {
            args.pop();
            std::fs::write(p.join("lake/profiles/part-0.parquet"), b"PAR1 not really").unwrap();
        }
        let mut cmd = vouch();
        cmd.current_dir(p)
            .args(["export", "--id", "5007", "-q", "--config", "vouch.toml"]);
        if !args.contains(&"--out") {
            cmd.args(["--out", "b.age"]);
        }
        let r = run(cmd.args(&args));
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert_eq!(r.stderr, want, "{args:?}");
        let mut names: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "empty-pass",
                "exists.age",
                "key.txt",
                "lake",
                "loose-pass",
                "vouch.toml"
            ],
            "{args:?} left something behind"
        );
        assert_eq!(std::fs::read(p.join("exists.age")).unwrap(), b"keep me");
    }
    let r = run(vouch().current_dir(p).args([
        "export",
        "--id",
        "5007",
        "--out",
        "b.age",
        "--config",
        "vouch.toml",
    ]));
    assert_eq!(r.code, 2, "a recipient or passphrase is required: {r:?}");
}

/// A sink that fails like a full disk after `left` bytes.
struct FullDisk {
    left: usize,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_disk_is_an_error_not_a_short_bundle() {
    let store = vouch::io::local::LocalStore::open(&repo().join("fixtures/lake")).unwrap();
    let cfg = vouch::domain::config::Config::load(&repo().join("fixtures/vouch.toml")).unwrap();
    let subjects = vouch::domain::subjects::SubjectList::of(["1042"]).unwrap();
    let tables = vouch::domain::lake::discover_tables(&store, &cfg.lake)
        .unwrap()
        .tables;
    let scan = vouch::domain::scan::ScanRequest {
        store: &store,
        lake: "lake".into(),
        tables: tables.clone(),
        subjects: &subjects,
        holds: Default::default(),
        labeler: vouch::domain::subjects::SubjectLabeler::plain(),
        options: Default::default(),
        prior_errors: vec![],
        collect_rows: true,
        include_versions: false,
        index: None,
        recall: None,
        prescan: None,
    };
    let (_, located) =
        vouch::domain::scan::scan_locating(&scan, &vouch::domain::scan::NoProgress, None);
    let identity = age::x25519::Identity::generate();
    let req = vouch::domain::export::ExportRequest {
        scan,
        request_id: None,
        format: vouch::domain::export::DataFormat::Json,
        encryption: vouch::domain::export::Encryption::Recipients(vec![Box::new(
            identity.to_public(),
        )]),
        generated_at: "2026-11-27T00:00:00Z".into(),
        out: "b.age".into(),
        force: false,
    };
    let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    for left in [0, 100, 1000, 2000] {
        let e = vouch::domain::export::write_bundle_to(
            &req,
            &names,
            &located,
            FullDisk { left },
            Path::new("b.age"),
        );
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("b.age: "), "{left}: {msg}");
    }
    assert!(
        vouch::domain::export::write_bundle_to(
            &req,
            &names,
            &located,
            FullDisk { left: 1 << 20 },
            Path::new("b.age")
        )
        .is_ok()
    );
}

#[test]
fn encryption_round_trips_across_the_64k_chunk_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    for size in [0usize, 65535, 65536, 65537, 5 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 65536) as u8).collect();
        let enc = vouch::domain::export::Encryption::Recipients(vec![
            vouch::domain::export::parse_recipient(&recipient).unwrap(),
        ]);
        let mut sealer = vouch::domain::export::Sealer::new(&enc, Vec::new()).unwrap();
        sealer.write_all(&data).unwrap();
        let (sha, bytes, cipher) = sealer.finish().unwrap();
        assert_eq!(bytes as usize, cipher.len());
        assert_eq!(
            sha,
            vouch::domain::subjects::hex(&<sha2::Sha256 as sha2::Digest>::digest(&cipher))
        );
        let path = dir.path().join("c.age");
        std::fs::write(&path, &cipher).unwrap();
        assert_eq!(decrypt(&key, &path), data, "size {size}");
    }
}

/// A subject whose rows sit only in files other writers named (Athena's extensionless
/// names, a Spark `_k=v` partition) gets them in the bundle, never "no rows about you"
/// (issue 16, item 1).
#[test]
fn rows_in_extensionless_files_and_underscore_partitions_are_exported() {
    let fx = fixture_copy();
    let d = fx.path();
    let lake = d.join("lake");
    for day in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        let from = lake.join(format!("events/dt={day}"));
        let to = lake.join(format!("events/_dt={day}"));
        std::fs::rename(&from, &to).unwrap();
        std::fs::rename(
            to.join("part-0.parquet"),
            to.join(format!("20260101_101010_00007_x8k2q_{day}")),
        )
        .unwrap();
    }
    let (key, recipient) = age_identity(d);
    let r = run(vouch().current_dir(d).args([
        "export",
        "--config",
        "vouch.toml",
        "-q",
        "--as-of",
        "2026-11-27T12:00:00Z",
        "--id",
        "5002",
        "--recipient",
        &recipient,
        "--out",
        "b.age",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let members = unzip(d, &decrypt(&key, &d.join("b.age")));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&members["tables/events.json"]).unwrap();
    let want = duckdb_counts(&["5002"]);
    assert_eq!(
        rows.len() as u64,
        want["events"]["residual_rows"].as_u64().unwrap()
    );
    assert!(!rows.is_empty(), "5002 has events rows");
    for row in &rows {
        assert!(
            row["_dt"]
                .as_str()
                .is_some_and(|v| v.starts_with("2026-01-0")),
            "{row}"
        );
    }
}

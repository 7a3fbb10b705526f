//! PII canary (issue 9, item 5): a canary subject ID is put through every command that
//! sees subject IDs — scan (text, JSON, `--out`, with the index, over a damaged file),
//! index build, export (done and failed), metrics over a register that holds it in
//! `subject_id` — with a subject key configured. Every stdout and stderr line and every
//! file the commands wrote is searched for it: 0 occurrences outside the encrypted export.
//! (Nightly, its certificates and the demo are searched for every subject ID they used by
//! `tests/nightly.rs`.)

use std::path::Path;

use crate::common::*;

const CANARY: &str = "canary-7c1e4b9d-subject";
const KEY: &str = "pii-canary-subject-key-0123";

fn table(path: &Path, ids: Vec<String>) {
    let amounts = (0..ids.len()).map(|i| i.to_string()).collect();
    text_table(path, vec![("user_id", ids), ("amount", amounts)]);
}

fn has_canary(bytes: &[u8]) -> bool {
    bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
}

#[test]
fn a_canary_subject_id_appears_nowhere_but_in_the_encrypted_export() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let with = |i: usize| {
        (0..500)
            .map(|k| {
                if k % 97 == i {
                    CANARY.to_string()
                } else {
                    format!("user-{k}")
                }
            })
            .collect::<Vec<_>>()
    };
    table(&p.join("lake/events/dt=2026-11-01/part-0.parquet"), with(3));
    table(&p.join("lake/orders/part-0.parquet"), with(5));
    std::fs::write(p.join("ids.txt"), format!("# deleted\n{CANARY}\nuser-1\n")).unwrap();
    std::fs::write(
        p.join("dsar.csv"),
        format!(
            "request_id,subject_id,request_type,received_at,extended,completed_at\n\
             DSAR-1,{CANARY},delete,2026-11-01T10:00:00Z,false,2026-11-03T10:00:00Z\n"
        ),
    )
    .unwrap();
    let (_, recipient) = age_identity(p);
    let cmd = |args: &[&str]| {
        run(vouch()
            .current_dir(p)
            .env("VOUCH_SUBJECT_KEY", KEY)
            .args(args))
    };
    let export = |to: &str, out: &str| {
        cmd(&[
            "export",
            "--lake",
            "lake",
            "--id",
            CANARY,
            "--request-id",
            "DSAR-1",
            "--recipient",
            to,
            "--out",
            out,
            "--format",
            "json",
        ])
    };
    let mut runs = vec![
        cmd(&["scan", "--lake", "lake", "--ids", "ids.txt", "-q"]),
        cmd(&["scan", "--lake", "lake", "--id", CANARY, "--format", "json"]),
        cmd(&[
            "scan",
            "--lake",
            "lake",
            "--ids",
            "ids.txt",
            "--out",
            "scan.json",
        ]),
        cmd(&["index", "build", "--lake", "lake", "--index", "ix"]),
        cmd(&[
            "scan", "--lake", "lake", "--ids", "ids.txt", "--index", "ix",
        ]),
        export(&recipient, "bundle.age"),
        // Failures: a bad recipient, an existing output.
        export("age1nope", "b2.age"),
        export(&recipient, "bundle.age"),
        cmd(&[
            "metrics",
            "dsar",
            "--input",
            "dsar.csv",
            "--as-of",
            "2026-11-27",
        ]),
        cmd(&[
            "metrics",
            "dsar",
            "--input",
            "dsar.csv",
            "--format",
            "json",
            "--as-of",
            "2026-11-27",
        ]),
    ];
    assert_eq!(runs[0].code, 1, "{:?}", runs[0]);
    assert_eq!(runs[1].code, 1, "{:?}", runs[1]);
    assert_eq!(runs[5].code, 0, "{:?}", runs[5]);
    assert_eq!(runs[6].code, 2, "{:?}", runs[6]);
    assert_eq!(runs[7].code, 2, "{:?}", runs[7]);
    assert_eq!(runs[8].code, 0, "{:?}", runs[8]);
    // A damaged lake file: the error names the file, not the subject.
    std::fs::write(p.join("lake/orders/part-0.parquet"), b"PAR1 not parquet").unwrap();
    runs.push(cmd(&["scan", "--lake", "lake", "--ids", "ids.txt"]));
    assert_eq!(runs.last().unwrap().code, 2);
    let mut searched = 0;
    for r in &runs {
        assert!(!r.stdout.contains(CANARY), "stdout: {r:?}");
        assert!(!r.stderr.contains(CANARY), "stderr: {r:?}");
        searched += 2;
    }
    // Every file written, the index included; the lake, the ID list and the register are
    // the user's own inputs. The bundle is ciphertext.
    for f in files_below(p) {
        let rel = f.strip_prefix(p).unwrap().to_string_lossy().to_string();
        if rel.starts_with("lake/") || ["ids.txt", "dsar.csv"].contains(&rel.as_str()) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(!has_canary(&bytes), "{rel} holds the canary");
        searched += 1;
    }
    // The control: without a key the officer's own scan shows the ID they typed, so the
    // search above would have seen it.
    let control = run(vouch()
        .current_dir(p)
        .args(["scan", "--lake", "lake", "--id", CANARY]));
    assert!(control.stdout.contains(CANARY), "{control:?}");
    eprintln!("searched {searched} outputs and files: 0 occurrences of the canary");
    assert!(searched > 25, "{searched}");
}

//! Every JSON output validates against its schema in `docs/schemas/` (the PyPI
//! `jsonschema` validator, `tests/oracle/validate_json.py`): the outputs of real runs on
//! the demo (scan, plan, part, merge, index build, export, evidence build and verify,
//! certificates and their verification, metrics, nightly's report, JSON log lines), and
//! outputs edited to break their schema are refused, so the check is not vacuous.

use std::path::{Path, PathBuf};

use crate::common::*;

const KEY: &str = "vouch-demo-subject-key-not-for-production";

fn validate(items: &[(&str, PathBuf, bool)]) -> (Vec<String>, u64) {
    let items: Vec<_> = items
        .iter()
        .map(|(s, f, lines)| serde_json::json!({"schema": s, "file": f, "lines": lines}))
        .collect();
    let r = oracle(
        "validate_json.py",
        &serde_json::json!({"schemas": repo().join("docs/schemas"), "items": items}),
    );
    let errors = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    (errors, r["checked"].as_u64().unwrap())
}

/// `vouch ARGS` in `dir` with the demo's key; stdout to `out` (if given), stderr kept.
fn at(dir: &Path, args: &[&str], out: Option<&Path>) -> Run {
    let r = run(vouch()
        .current_dir(dir)
        .env("VOUCH_SUBJECT_KEY", KEY)
        .args(args));
    assert!(
        r.code <= 2 && !r.stderr.contains("panicked"),
        "{args:?}: {r:?}"
    );
    if let Some(p) = out {
        std::fs::write(p, &r.stdout).unwrap();
    }
    r
}

#[test]
fn every_json_output_validates_against_its_schema() {
    let t = tempfile::tempdir().unwrap();
    let o = t.path();
    let demo = vouch::ops::demo::write(&o.join("demo")).unwrap();
    let d = demo.config.parent().unwrap().to_path_buf();
    let as_of = vouch::domain::report::rfc3339(demo.as_of);
    let p = |n: &str| o.join(n);
    let mut logs = String::new();
    let mut log = |r: Run| {
        logs.push_str(&r.stderr);
        r
    };
    let j = ["--format", "json"];
    let scan = ["scan", "--config", "vouch.toml", "--ids", "deleted_ids.txt"];
    log(at(
        &d,
        &[&scan[..], &j, &["--log-format", "json"]].concat(),
        Some(&p("scan.json")),
    ));
    // The same scan with its chain of custody in a file of its own.
    at(
        &d,
        &[
            &scan[..],
            &j,
            &["--custody", p("custody.jsonl").to_str().unwrap()],
        ]
        .concat(),
        Some(&p("scan-custody.json")),
    );
    // A scan that cannot read a file: the incomplete report's errors have their shape.
    let broken = o.join("broken");
    std::fs::create_dir_all(broken.join("t")).unwrap();
    std::fs::write(broken.join("t/part-0.parquet"), b"PAR1 not parquet").unwrap();
    let r = at(
        &d,
        &[
            "scan",
            "--lake",
            broken.to_str().unwrap(),
            "--id",
            "5",
            "--format",
            "json",
        ],
        Some(&p("incomplete.json")),
    );
    assert_eq!(r.code, 2);
    log(at(
        &d,
        &[
            "scan",
            "plan",
            "--config",
            "vouch.toml",
            "--out",
            p("plan.jsonl").to_str().unwrap(),
            "--log-format",
            "json",
        ],
        None,
    ));
    log(at(
        &d,
        &[
            &scan[..],
            &[
                "--files-from",
                p("plan.jsonl").to_str().unwrap(),
                "--out",
                p("part.json").to_str().unwrap(),
                "-q",
            ],
        ]
        .concat(),
        None,
    ));
    log(at(
        &d,
        &[
            "scan",
            "merge",
            "--plan",
            p("plan.jsonl").to_str().unwrap(),
            p("part.json").to_str().unwrap(),
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        Some(&p("merged.json")),
    ));
    log(at(
        &d,
        &[
            "index",
            "build",
            "--config",
            "vouch.toml",
            "--index",
            p("idx").to_str().unwrap(),
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        Some(&p("index.json")),
    ));
    std::fs::write(p("pass"), "a passphrase for the schema test\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p("pass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    log(at(
        &d,
        &[
            "export",
            "--config",
            "vouch.toml",
            "--id",
            "5002",
            "--request-id",
            "A-1",
            "--passphrase-file",
            p("pass").to_str().unwrap(),
            "--out",
            p("a.age").to_str().unwrap(),
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        Some(&p("export.json")),
    ));
    log(at(
        &d,
        &[
            "evidence",
            "build",
            "--source",
            "logs",
            "--signing-key",
            "keys/vouch-demo",
            "--as-of",
            &as_of,
            "--out",
            p("e.zip").to_str().unwrap(),
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        Some(&p("ebuild.json")),
    ));
    log(at(
        &d,
        &[
            "evidence",
            "verify",
            p("e.zip").to_str().unwrap(),
            "--public-key",
            "keys/vouch-demo.pub",
            "--format",
            "json",
            "--log-format",
            "json",
        ],
        Some(&p("everify.json")),
    ));
    let mut bad = std::fs::read(p("e.zip")).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 1;
    std::fs::write(p("bad.zip"), bad).unwrap();
    std::fs::copy(p("e.zip.sig"), p("bad.zip.sig")).ok();
    let r = at(
        &d,
        &[
            "evidence",
            "verify",
            p("bad.zip").to_str().unwrap(),
            "--public-key",
            "keys/vouch-demo.pub",
            "--format",
            "json",
        ],
        Some(&p("everify-bad.json")),
    );
    assert_eq!(r.code, 1, "{r:?}");
    log(at(
        &d,
        &[
            "nightly",
            "--config",
            "vouch.toml",
            "--as-of",
            &as_of,
            "--out",
            p("night").to_str().unwrap(),
            "--log-format",
            "json",
        ],
        None,
    ));
    let mut items: Vec<(&str, PathBuf, bool)> = vec![
        ("scan-report", p("scan.json"), false),
        ("scan-report", p("incomplete.json"), false),
        ("scan-report", p("merged.json"), false),
        ("scan-report", p("scan-custody.json"), false),
        ("custody-record", p("custody.jsonl"), true),
        (
            "custody-record",
            p("night/certificates/custody.jsonl"),
            true,
        ),
        ("scan-plan-line", p("plan.jsonl"), true),
        ("scan-part", p("part.json"), false),
        ("index-build", p("index.json"), false),
        ("export-summary", p("export.json"), false),
        ("evidence-build", p("ebuild.json"), false),
        ("evidence-verify", p("everify.json"), false),
        ("evidence-verify", p("everify-bad.json"), false),
        ("nightly-report", p("night/report.json"), false),
    ];
    let certs = p("night/certificates");
    let mut verdicts = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(&certs).unwrap() {
        let c = e.unwrap().path();
        if c.extension().is_some_and(|x| x == "json") {
            let name = c.file_stem().unwrap().to_string_lossy().to_string();
            let out = p(&format!("verify-{name}.json"));
            let r = at(
                &d,
                &[
                    "certificate",
                    "verify",
                    c.to_str().unwrap(),
                    "--public-key",
                    "keys/vouch-demo.pub",
                    "--format",
                    "json",
                ],
                Some(&out),
            );
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            verdicts.insert(v["verdict"].as_str().unwrap().to_string());
            items.push(("certificate", c, false));
            items.push(("certificate-verify", out, false));
        }
    }
    // A certificate another key did not sign: not_verified.
    assert_eq!(at(o, &["keygen", "--out", "other"], None).code, 0);
    let any = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|c| c.extension().is_some_and(|x| x == "json"))
        .unwrap();
    at(
        &d,
        &[
            "certificate",
            "verify",
            any.to_str().unwrap(),
            "--public-key",
            p("other.pub").to_str().unwrap(),
            "--format",
            "json",
        ],
        Some(&p("verify-other.json")),
    );
    items.push(("certificate-verify", p("verify-other.json"), false));
    verdicts.insert("not_verified".into());
    assert!(
        verdicts.contains("verified") && verdicts.contains("deletion_not_confirmed"),
        "{verdicts:?}"
    );
    // Metrics, each on the demo's runbook tables.
    for (metric, table) in [
        ("incidents", "data_incident"),
        ("dsar", "dsar_request"),
        ("changes", "governance_change_log"),
        ("jobs", "analytics_job_run"),
        ("costs", "cost_anomaly"),
    ] {
        let input = std::fs::read_dir(d.join("tables"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|f| f.file_stem().is_some_and(|s| s == table));
        let Some(input) = input else {
            panic!("the demo has no {table} table");
        };
        let out = p(&format!("metrics-{metric}.json"));
        log(at(
            &d,
            &[
                "metrics",
                metric,
                "--config",
                "vouch.toml",
                "--input",
                input.to_str().unwrap(),
                "--as-of",
                &as_of,
                "--format",
                "json",
                "--log-format",
                "json",
            ],
            Some(&out),
        ));
        items.push(("metrics", out, false));
    }
    std::fs::write(p("logs.jsonl"), &logs).unwrap();
    items.push(("log-line", p("logs.jsonl"), true));
    let (errors, checked) = validate(&items);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(checked as usize >= items.len() + 20, "{checked} documents");

    // Not vacuous: outputs edited off their schema are refused.
    let edit = |from: &str, to: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p(from)).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(p(to), v.to_string()).unwrap();
        p(to)
    };
    let bad = [
        (
            "scan-report",
            edit("scan.json", "x1.json", &|v| v["verdict"] = "CLEAN".into()),
        ),
        (
            "evidence-verify",
            edit("everify.json", "x2.json", &|v| {
                v["legal_hold"] = "false".into()
            }),
        ),
        (
            "evidence-build",
            edit("ebuild.json", "x3.json", &|v| {
                v["retention_mode"] = "COMPLIANCE".into()
            }),
        ),
        (
            "index-build",
            edit("index.json", "x4.json", &|v| {
                v.as_object_mut().unwrap().remove("schema_version");
            }),
        ),
        (
            "metrics",
            edit("metrics-incidents.json", "x5.json", &|v| {
                v["breaches"] = serde_json::json!(["a sentence"])
            }),
        ),
        (
            "evidence-verify",
            edit("everify.json", "x6.json", &|v| {
                v["problems"] = serde_json::json!(["x"])
            }),
        ),
        (
            "scan-report",
            edit("scan-custody.json", "x7.json", &|v| {
                v["custody"]["sha256"] = "not a hash".into()
            }),
        ),
    ];
    // A custody line that was read (footer hash) and failed (error) at once is refused.
    let line = std::fs::read_to_string(p("custody.jsonl")).unwrap();
    let mut first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert!(first["footer_sha256"].is_string(), "{first}");
    first["error"] = "unreadable".into();
    std::fs::write(p("x8.jsonl"), format!("{first}\n")).unwrap();
    let (errors, _) = validate(&[("custody-record", p("x8.jsonl"), true)]);
    assert!(
        !errors.is_empty(),
        "custody-record accepted a read file with an error"
    );
    for (schema, file) in bad {
        let (errors, _) = validate(&[(schema, file.clone(), false)]);
        assert!(!errors.is_empty(), "{schema} accepted {}", file.display());
    }
}

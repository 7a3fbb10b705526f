//! `vouch demo` and `vouch nightly` end to end: the report's checks and figures, signed
//! certificates checked with `ssh-keygen -Y verify`, identical reruns, no subject ID in
//! any output or log line, and report.html rendered by headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The subject IDs the demo's tables use.
const SUBJECTS: [&str; 16] = [
    "5000", "5001", "5002", "5003", "5004", "5005", "5006", "5007", "5008", "5009", "4990", "1777",
    "1042", "1311", "1450", "1502",
];

fn demo(dir: &Path) -> Run {
    run(vouch().current_dir(dir).args(["demo", "--dir", "demo"]))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn report_of(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[test]
fn the_demo_finds_what_was_planted_and_its_evidence_verifies() {
    let t = tempfile::tempdir().unwrap();
    let r = demo(t.path());
    assert_eq!(r.code, 0, "{r:?}");
    let d = t.path().join("demo");
    let out = d.join("report");
    assert!(
        r.stdout.contains("report: demo/report/report.html"),
        "{r:?}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["as_of"], "2026-11-27T06:00:00Z");
    assert_eq!(report["status"], "violation");
    assert_eq!(report["exit_code"], 1);

    let del = check(&report, "deletion_verification");
    assert_eq!(del["status"], "violation");
    let dd = &del["details"];
    assert_eq!(dd["residual_rows"], 4);
    assert_eq!(dd["held_rows"], 3);
    assert_eq!(
        dd["subjects"], 10,
        "one scan for the ten requests in the window"
    );
    assert_eq!(dd["residual_rows_by_table"]["events"], 2);
    assert_eq!(dd["residual_rows_by_table"]["payments"], 2);
    // The demo keeps a subject index; the scan relied on it for every file.
    assert_eq!(dd["index"]["files_without_index"], 0, "{dd}");
    let index_fingerprint = dd["index"]["fingerprint"].as_str().unwrap().to_string();
    let reqs = dd["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 10, "D-0990 is outside the 30-day window");
    let verdict = |id: &str| {
        reqs.iter()
            .find(|q| q["request_id"] == id)
            .map(|q| q["verdict"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(verdict("D-1002"), "residual");
    assert_eq!(verdict("D-1007"), "residual");
    assert_eq!(verdict("D-1005"), "clean", "held rows are not residual");
    assert_eq!(verdict("D-1000"), "clean");
    assert!(
        reqs.iter()
            .all(|q| q["subject"].as_str().unwrap().starts_with("hmac-sha256:"))
    );

    let audit = check(&report, "audit_log_coverage");
    assert_eq!(audit["status"], "violation");
    assert_eq!(
        audit["details"]["missing"],
        serde_json::json!([{"request_id": "D-1004", "tables": ["payments"]}])
    );
    let export = check(&report, "export_integrity");
    assert_eq!(export["status"], "ok");
    assert_eq!(export["details"]["matched"], serde_json::json!(["A-2001"]));

    let m = &check(&report, "metrics")["details"];
    assert_eq!(check(&report, "metrics")["status"], "violation");
    assert_eq!(
        m["incidents"]["unacknowledged"],
        serde_json::json!(["INC-304"])
    );
    assert_eq!(m["incidents"]["count"], 8);
    assert_eq!(m["dsar"]["overdue"], serde_json::json!(["D-1010"]));
    assert_eq!(m["dsar"]["at_risk"], serde_json::json!(["A-2003"]));
    assert_eq!(m["changes"]["late"], serde_json::json!(["CHG-505"]));
    assert_eq!(m["changes"]["pending"], serde_json::json!(["CHG-506"]));
    // The runbook's other promises, one violation each: a failed run nothing recovered,
    // an anomaly past 80% whose mitigation is not in the incident log, a purge under a hold.
    assert_eq!(m["jobs"]["unrecovered"], serde_json::json!(["J-006"]));
    assert_eq!(
        m["jobs"]["by_job"]["build_events"]["unrecovered"],
        serde_json::json!([])
    );
    assert_eq!(m["costs"]["unlogged"], serde_json::json!(["CA-02"]));
    assert_eq!(m["costs"]["over_budget_80"], serde_json::json!(["CA-02"]));
    let holds = check(&report, "legal_holds");
    assert_eq!(holds["status"], "violation");
    assert_eq!(holds["details"]["purges_under_hold"][0]["run_id"], "J-007");
    assert_eq!(
        holds["details"]["undocumented_holds"],
        serde_json::json!([])
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("J-007") && html.contains("CA-02"),
        "the report shows them"
    );
    assert_eq!(check(&report, "evidence_bundle")["status"], "ok");
    assert_eq!(check(&report, "evidence_bundle")["details"]["files"], 3);
    assert_eq!(check(&report, "retention_check")["status"], "skipped");

    // Every certificate verifies with ssh-keygen and with vouch, and says what the report
    // says; a changed byte or another key does not verify.
    let keys = d.join("keys");
    let certs = out.join("certificates");
    for q in reqs {
        let cert = out.join(q["certificate"].as_str().unwrap());
        let v = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(keys.join("vouch-demo.allowed_signers"))
            .args(["-I", "vouch", "-n", "vouch-deletion", "-s"])
            .arg(format!("{}.sig", cert.display()))
            .stdin(std::fs::File::open(&cert).unwrap())
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&cert).unwrap()).unwrap();
        assert_eq!(c["verdict"], q["verdict"]);
        assert_eq!(c["index"], index_fingerprint.as_str());
        assert_eq!(c["subject"], q["subject"]);
        // The objects checked are the lines of the custody file beside the certificates,
        // which the certificate names by SHA-256 and line count.
        assert_eq!(c["files"].as_array().unwrap().len(), 0, "{c}");
        assert_eq!(c["custody"]["file"], "custody.jsonl");
        assert_eq!(
            c["custody"]["records"], 8,
            "support_tickets grew a file before tonight"
        );
        let custody = std::fs::read(certs.join("custody.jsonl")).unwrap();
        assert_eq!(c["custody"]["sha256"], sha256_hex(&custody));
        let lines: Vec<serde_json::Value> = custody
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 8);
        assert!(
            lines
                .iter()
                .all(|l| l["footer_sha256"].as_str().unwrap().len() == 64)
        );
    }
    let cert = certs.join("D-1002.json");
    let ok = run(vouch()
        .args(["certificate", "verify"])
        .arg(&cert)
        .arg("--public-key")
        .arg(keys.join("vouch-demo.pub")));
    // D-1002's rows remain: its certificate is genuine, and reads as a failed deletion
    // (exit 1), never as VERIFIED.
    assert_eq!(ok.code, 1, "{ok:?}");
    assert!(
        ok.stdout
            .starts_with("DELETION NOT CONFIRMED: request D-1002")
            && ok.stdout.contains("records a residual scan")
            && !ok.stdout.contains("VERIFIED:"),
        "{ok:?}"
    );
    let j = run(vouch()
        .args(["certificate", "verify", "--format", "json"])
        .arg(&cert)
        .arg("--public-key")
        .arg(keys.join("vouch-demo.pub")));
    let j: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(j["verdict"], "deletion_not_confirmed", "{j}");
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["deletion_verdict"], "residual");
    // A clean request's certificate verifies: exit 0.
    for q in reqs.iter().filter(|q| q["verdict"] == "clean") {
        let r = run(vouch()
            .args(["certificate", "verify"])
            .arg(out.join(q["certificate"].as_str().unwrap()))
            .arg("--public-key")
            .arg(keys.join("vouch-demo.pub")));
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.starts_with("VERIFIED: request "), "{r:?}");
        assert!(r.stdout.contains(": deletion clean as of "), "{r:?}");
    }
    assert!(
        reqs.iter().any(|q| q["verdict"] == "clean"),
        "the demo has a clean request: {reqs:?}"
    );
    let forged = t.path().join("forged.json");
    let text = std::fs::read_to_string(&cert)
        .unwrap()
        .replace("\"residual\"", "\"clean\"");
    std::fs::write(&forged, text).unwrap();
    std::fs::copy(
        format!("{}.sig", cert.display()),
        t.path().join("forged.json.sig"),
    )
    .unwrap();
    let bad = run(vouch()
        .args(["certificate", "verify"])
        .arg(&forged)
        .arg("--public-key")
        .arg(keys.join("vouch-demo.pub")));
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stdout.starts_with("NOT VERIFIED"), "{bad:?}");
    assert_eq!(
        run(vouch()
            .current_dir(t.path())
            .args(["keygen", "--out", "other"]))
        .code,
        0
    );
    let other = run(vouch()
        .args(["certificate", "verify"])
        .arg(&cert)
        .arg("--public-key")
        .arg(t.path().join("other.pub")));
    assert_eq!(other.code, 1, "{other:?}");
    let missing = run(vouch()
        .args(["certificate", "verify", "nope.json", "--public-key"])
        .arg(keys.join("vouch-demo.pub")));
    assert_eq!(missing.code, 2, "{missing:?}");

    // The evidence bundle verifies too.
    let ev = run(vouch()
        .args(["evidence", "verify"])
        .arg(out.join("evidence-2026-11-27.zip"))
        .arg("--public-key")
        .arg(keys.join("vouch-demo.pub")));
    assert_eq!(ev.code, 0, "{ev:?}");

    // The page: self-contained, with its charts.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 4,
        "residuals, DSAR histogram, MTTA, MTTR"
    );
    for want in [
        "Residual rows by table",
        "DSAR days to complete",
        "MTTA by month",
        "id=\"summary\"",
    ] {
        assert!(html.contains(want), "{want}");
    }
    // The only URLs are the SVG namespace declarations.
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "nothing fetched"
    );

    // No subject ID in anything kept: outputs, the evidence bundle's members, stdout/stderr.
    let mut texts: Vec<(String, String)> = files_under(&out)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "zip"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let members = Command::new("unzip")
        .arg("-p")
        .arg(out.join("evidence-2026-11-27.zip"))
        .output()
        .unwrap();
    texts.push((
        "evidence members".into(),
        String::from_utf8_lossy(&members.stdout).to_string(),
    ));
    texts.push(("stdout".into(), r.stdout.clone()));
    texts.push(("stderr".into(), r.stderr.clone()));
    for (name, text) in &texts {
        for id in SUBJECTS {
            assert!(!holds_token(text, id), "subject {id} in {name}");
        }
    }
}

#[test]
fn nightly_reruns_rewrite_the_same_bytes_and_log_one_line_per_check() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(demo(t.path()).code, 0);
    let d = t.path().join("demo");
    let nightly = |out: &str, extra: &[&str]| {
        run(vouch()
            .current_dir(&d)
            .args([
                "nightly",
                "--config",
                "vouch.toml",
                "--out",
                out,
                "--as-of",
                "2026-11-27T06:00:00Z",
            ])
            .args(extra))
    };
    let a = nightly("run", &[]);
    assert_eq!(a.code, 1, "the worst check is a violation: {a:?}");
    assert_eq!(a.stderr.lines().count(), 8, "one line per check: {a:?}");
    assert!(
        a.stderr.lines().all(|l| l.starts_with("vouch: check ")),
        "{a:?}"
    );
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files_under(dir)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    let first = snapshot(&d.join("run"));
    assert!(
        first.len() >= 23,
        "report.json, report.html, the bundle, 10 certificates and signatures"
    );
    let b = nightly("run", &["--log-format", "json"]);
    assert_eq!(b.code, 1, "{b:?}");
    assert_eq!(
        snapshot(&d.join("run")),
        first,
        "a rerun rewrites the same bytes"
    );
    // JSON logs: one object a line, a line per check, then the exit line.
    let lines: Vec<serde_json::Value> = b
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, checks) = lines.split_last().unwrap();
    assert!(checks.len() >= 8, "{}", b.stderr);
    for j in checks {
        assert_eq!(j["event"], "check", "{j}");
        assert_eq!(j["command"], "nightly", "{j}");
        assert!(j["check"].is_string() && j["status"].is_string(), "{j}");
        assert!(j["timestamp"].as_str().unwrap().ends_with('Z'), "{j}");
        assert!(j["level"] == "info" || j["level"] == "warn", "{j}");
        assert!(j["duration_ms"].is_u64(), "{j}");
    }
    assert_eq!(last["event"], "exit", "{last}");
    assert_eq!(last["exit_code"], 1, "{last}");
    // The same run elsewhere gives the same report (nothing depends on the directory).
    assert_eq!(nightly("run2", &[]).code, 1);
    assert_eq!(
        std::fs::read(d.join("run2/report.json")).unwrap(),
        std::fs::read(d.join("run/report.json")).unwrap()
    );
    // A bundle that changed after its hash was recorded is a violation; a missing one is
    // listed, not failed.
    let bundle = d.join("exports/A-2001.age");
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes.push(0);
    std::fs::write(&bundle, &bytes).unwrap();
    let r = nightly("tampered", &[]);
    let rep = report_of(&d.join("tampered"));
    let ex = check(&rep, "export_integrity").clone();
    assert_eq!(ex["status"], "violation", "{r:?}");
    assert_eq!(ex["details"]["mismatched"], serde_json::json!(["A-2001"]));
    std::fs::remove_file(&bundle).unwrap();
    assert_eq!(nightly("missing", &[]).code, 1);
    let rep = report_of(&d.join("missing"));
    let ex = check(&rep, "export_integrity").clone();
    assert_eq!(ex["status"], "ok");
    assert_eq!(ex["details"]["unreachable"], serde_json::json!(["A-2001"]));
    // Without a subject key nightly refuses: it must never name a subject.
    let cfg = std::fs::read_to_string(d.join("vouch.toml")).unwrap();
    std::fs::write(
        d.join("nokey.toml"),
        cfg.replace(
            "subject_key = \"vouch-demo-subject-key-not-for-production\"",
            "",
        ),
    )
    .unwrap();
    let r = run(vouch()
        .current_dir(&d)
        .args(["nightly", "--config", "nokey.toml", "--out", "x"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("nightly needs a subject key"), "{r:?}");
    // A missing table is an error of its check, not of the run.
    std::fs::write(
        d.join("broken.toml"),
        cfg.replace("tables/dsar_audit_log.csv", "tables/nope.csv"),
    )
    .unwrap();
    let r = run(vouch().current_dir(&d).args([
        "nightly",
        "--config",
        "broken.toml",
        "--out",
        "y",
        "--as-of",
        "2026-11-27T06:00:00Z",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("audit_log_coverage: error: ") && r.stderr.contains("nope.csv"),
        "{r:?}"
    );
}

/// Counts pixels of an RGB colour in a PNG screenshot (tests/oracle/png_pixels.py).
fn pixels(png: &Path, rgb: [u8; 3]) -> u64 {
    oracle(
        "png_pixels.py",
        &serde_json::json!({"png": png, "rgb": rgb}),
    )["count"]
        .as_u64()
        .unwrap()
}

/// Headless Chromium with nothing of its own reaching the network.
fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    c
}

#[test]
fn chromium_renders_the_report_with_its_summary_in_view() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(demo(t.path()).code, 0);
    let html = t.path().join("demo/report/report.html");
    let shot = t.path().join("shot.png");
    let profile = t.path().join("profile");
    let out = chromium()
        .args(["--hide-scrollbars", "--window-size=1200,800"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (scripts/test.sh installs it from Debian)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The summary box (violation colours) is in the first screen, and the red badges of
    // the failing checks are drawn.
    assert!(
        pixels(&shot, [0xfd, 0xec, 0xec]) > 10_000,
        "summary box not visible"
    );
    assert!(
        pixels(&shot, [0xdc, 0x26, 0x26]) > 500,
        "violation badges not visible"
    );
    // Readable on a phone as on a desktop: at 420 and 1280 px the page is no wider than
    // the window (a copy of the page says its scroll and client widths in its title).
    let page = std::fs::read_to_string(&html).unwrap();
    let probe = t.path().join("demo/report/probe.html");
    std::fs::write(
        &probe,
        page.replace(
            "</body>",
            "<script>document.title = 'W' + document.documentElement.scrollWidth + ',' + \
             document.documentElement.clientWidth;</script></body>",
        ),
    )
    .unwrap();
    for width in [420, 1280] {
        let out = chromium()
            .args(["--virtual-time-budget=2000", "--dump-dom"])
            .arg(format!("--window-size={width},800"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("file://{}", probe.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let at = dom.find("<title>W").expect("the probe ran") + 8;
        let (scroll, client) = dom[at..dom[at..].find('<').unwrap() + at]
            .split_once(',')
            .unwrap();
        let (scroll, client): (u32, u32) = (scroll.parse().unwrap(), client.parse().unwrap());
        assert!(
            scroll <= client,
            "{width} px: the page scrolls sideways ({scroll} > {client})"
        );
    }
}

/// Certificates say when the verdict relied on Parquet statistics or bloom filters (no
/// checksum covers them); `[nightly] strict = true` reads every chunk instead (issue 16,
/// item 9).
#[test]
fn certificates_say_what_unauthenticated_metadata_the_verdict_relied_on() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(demo(t.path()).code, 0);
    let d = t.path().join("demo");
    let certificates = |out: &str| -> Vec<serde_json::Value> {
        let mut v: Vec<_> = std::fs::read_dir(d.join(out).join("certificates"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
            .collect();
        v.sort_by_key(|c: &serde_json::Value| c["request_id"].to_string());
        v
    };
    let nightly = |config: &str, out: &str| {
        run(vouch().current_dir(&d).args([
            "nightly",
            "--config",
            config,
            "--out",
            out,
            "--as-of",
            "2026-11-27T06:00:00Z",
        ]))
    };
    // The demo's subject index rules row groups out itself; without it, statistics do.
    let cfg = std::fs::read_to_string(d.join("vouch.toml")).unwrap();
    let no_index: String = cfg
        .lines()
        .filter(|l| !l.starts_with("index = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("plain.toml"), &no_index).unwrap();
    std::fs::write(
        d.join("strict.toml"),
        no_index.replace("[nightly]\n", "[nightly]\nstrict = true\n"),
    )
    .unwrap();
    let a = nightly("plain.toml", "plain");
    assert_eq!(a.code, 1, "{a:?}");
    let b = nightly("strict.toml", "strict");
    assert_eq!(b.code, 1, "{b:?}");
    let (plain, strict) = (certificates("plain"), certificates("strict"));
    assert_eq!(plain.len(), strict.len());
    let relied: u64 = plain
        .iter()
        .map(|c| {
            c["relied_on_metadata"]["row_groups_ruled_out_by_statistics"]
                .as_u64()
                .unwrap_or(0)
                + c["relied_on_metadata"]["row_groups_ruled_out_by_bloom_filters"]
                    .as_u64()
                    .unwrap_or(0)
        })
        .sum();
    assert!(relied > 0, "the demo lake's statistics rule row groups out");
    for (p, s) in plain.iter().zip(&strict) {
        assert!(s.get("relied_on_metadata").is_none(), "{s}");
        // The same findings either way.
        assert_eq!(p["verdict"], s["verdict"]);
        assert_eq!(p["residual_rows"], s["residual_rows"]);
        assert_eq!(p["held_rows"], s["held_rows"]);
    }
    let check = |out: &str| check(&report_of(&d.join(out)), "deletion_verification").clone();
    assert!(
        check("plain")["summary"]
            .as_str()
            .unwrap()
            .contains("relies on Parquet metadata no checksum covers"),
        "{}",
        check("plain")
    );
    assert_eq!(check("strict")["details"]["strict"], true);
    assert!(check("strict")["details"]["relied_on_metadata"].is_null());
}

/// Schema changes go through change control (runbook §1): before its last night the demo
/// adds a file to `support_tickets` with a new `contact_email` column, which that night
/// names as unreviewed; rerun with a reviewed low-impact change naming the dataset, the
/// column still needs a high or regulatory one (it looks like personal data); with a
/// high-impact change, nothing is left.
#[test]
fn schema_changes_need_a_reviewed_change() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(demo(t.path()).code, 0);
    let d = t.path().join("demo");
    let log = d.join("tables/governance_change_log.csv");
    let base: String = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l},{}\n", if i == 0 { "datasets" } else { "" }))
        .collect();
    let night = |out: &str, change: Option<&str>| -> serde_json::Value {
        let mut text = base.clone();
        if let Some(impact) = change {
            text.push_str(&format!(
                "CHG-600,data-eng,{impact},verified,2026-11-26T20:00:00Z,2026-11-26T22:00:00Z,,\"support_tickets, other\"\n"
            ));
        }
        std::fs::write(&log, text).unwrap();
        let r = run(vouch().current_dir(&d).args([
            "nightly",
            "--config",
            "vouch.toml",
            "--out",
            out,
            "--as-of",
            "2026-11-27T06:00:00Z",
        ]));
        assert!(r.code <= 1, "{r:?}");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(out).join("report.json")).unwrap())
                .unwrap();
        check(&report, "schema_changes").clone()
    };
    let named = |c: &serde_json::Value| -> Vec<(String, String, String)> {
        c["details"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["change"].as_str().unwrap().to_string(),
                    v["column"].as_str().unwrap_or("-").to_string(),
                    v["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let c = night("n1", None);
    assert_eq!(c["status"], "violation", "{c}");
    assert_eq!(c["details"]["since"], "2026-11-26T06:00:00Z");
    let v = named(&c);
    assert_eq!(v.len(), 1, "{c}");
    assert_eq!(
        (v[0].0.as_str(), v[0].1.as_str()),
        ("column_added", "contact_email")
    );
    assert!(v[0].2.starts_with("no reviewed change"), "{c}");
    let v = named(&night("n2", Some("low")));
    assert_eq!(v.len(), 1);
    assert!(v[0].2.contains("personal data"), "{v:?}");
    let c = night("n3", Some("high"));
    assert_eq!(
        (c["status"].clone(), named(&c).len()),
        (serde_json::json!("ok"), 0),
        "{c}"
    );
}

/// A later night recalls the row groups an earlier one decoded (the files unchanged), and
/// its deletion check says what the same night says with nothing to recall.
#[test]
fn a_later_night_recalls_what_an_earlier_one_decoded_and_answers_the_same() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(demo(t.path()).code, 0);
    let d = t.path().join("demo");
    let nightly = |out: &str, as_of: &str| {
        let args = format!("nightly --config vouch.toml --out {out} --as-of {as_of}");
        run(vouch().current_dir(&d).args(args.split(' ')))
    };
    let recalled = |out: &str| -> u64 {
        std::fs::read_to_string(d.join(out).join("certificates/custody.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let j: serde_json::Value = serde_json::from_str(l).unwrap();
                j["row_groups"]["recalled_by_index"].as_u64().unwrap_or(0)
            })
            .sum()
    };
    assert_eq!(nightly("first", "2026-11-27T06:00:00Z").code, 1);
    // Exit 2 that night: no log file falls in its evidence window (not what is tested).
    let later = nightly("later", "2026-11-28T06:00:00Z");
    assert_eq!(later.code, 2, "{later:?}");
    assert!(recalled("later") > 0, "nothing recalled on the later night");
    // The same later night with nothing kept to recall.
    std::fs::remove_file(d.join("index/recall.vix")).unwrap();
    assert_eq!(nightly("fresh", "2026-11-28T06:00:00Z").code, 2);
    assert_eq!(recalled("fresh"), 0);
    let (a, b) = (report_of(&d.join("later")), report_of(&d.join("fresh")));
    let (a, b) = (
        &check(&a, "deletion_verification")["details"],
        &check(&b, "deletion_verification")["details"],
    );
    for field in [
        "residual_rows",
        "held_rows",
        "residual_rows_by_table",
        "requests",
        "errors",
        "physical_verdict",
        "index",
    ] {
        assert_eq!(a[field], b[field], "{field}");
    }
}

//! `vouch metrics`: golden tests on small hand-built tables whose answers are worked out
//! by hand below, input errors, and a differential test that runs the same queries/ in
//! DuckDB on generated tables.

use std::path::Path;

use crate::common::*;

const AS_OF: &str = "2026-11-27T00:00:00Z";

fn metrics(dir: &Path, args: &[&str]) -> Run {
    run(vouch()
        .current_dir(dir)
        .args(["metrics"])
        .args(args)
        .args(["--as-of", AS_OF]))
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let r = metrics(dir, &[args, &["--format", "json"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    r.json()
}

fn close(got: &serde_json::Value, want: f64) {
    let g = got
        .as_f64()
        .unwrap_or_else(|| panic!("{got} is not a number"));
    assert!((g - want).abs() < 1e-6, "got {g}, want {want}");
}

/// i1: acknowledged exactly 5 minutes after the start, postmortem exactly 48 h after the
///     end: both on time.
/// i2: acknowledged 5 minutes + 1 s after, postmortem 48 h + 1 s after: both missed.
/// i3: never acknowledged, resolved, no postmortem long after its window: missing. Its
///     times carry +02:00: it started 2026-01-31 22:00 UTC, a January incident.
/// i4: open (no end), acknowledged after 60 s.
/// i5: resolved a day before --as-of with no postmortem yet: pending, not counted.
const INCIDENTS: &str = "\
incident_id,severity,start_at,acknowledged_at,end_at,impact,rca,follow_up_actions,postmortem_at
i1,sev1,2026-01-05T10:00:00Z,2026-01-05T10:05:00Z,2026-01-05T12:00:00Z,orders delayed,bad deploy,rollback,2026-01-07T12:00:00Z
i2,sev1,2026-01-06T10:00:00Z,2026-01-06T10:05:01Z,2026-01-06T11:00:00Z,,,,2026-01-08T11:00:01Z
i3,sev2,2026-02-01T00:00:00+02:00,,2026-02-01T01:00:00+02:00,,,,
i4,sev2,2026-02-10 00:00:00,2026-02-10 00:01:00,,,,,
i5,sev3,2026-11-26T00:00:00Z,2026-11-26T00:02:00Z,2026-11-26T01:00:00Z,,,,
";

#[test]
fn incident_slas_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("incidents.csv"), INCIDENTS).unwrap();
    let j = json(
        p,
        &["incidents", "--input", "incidents.csv", "--by", "month"],
    );
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["as_of"], AS_OF);
    assert_eq!(j["count"], 5);
    assert_eq!(j["open"], 1);
    // Acknowledged: 300, 301, 60, 120 s.
    close(&j["mtta_mean_seconds"], 781.0 / 4.0);
    close(&j["mtta_p50_seconds"], 210.0); // sorted 60 120 300 301: rank 1.5
    close(&j["mtta_p90_seconds"], 300.7); // rank 2.7
    // Resolved: 7200, 3600, 3600, 3600 s.
    close(&j["mttr_mean_seconds"], 4500.0);
    close(&j["mttr_p50_seconds"], 3600.0);
    close(&j["mttr_p90_seconds"], 3600.0 + 0.7 * 3600.0);
    close(&j["ack_within_5m_rate"], 3.0 / 5.0); // i1 (exactly 5 min), i4, i5
    close(&j["postmortem_within_48h_rate"], 1.0 / 3.0); // i1 of i1, i2, i3; i5 pending
    assert_eq!(j["unacknowledged"], serde_json::json!(["i3"]));
    assert_eq!(j["missing_postmortem"], serde_json::json!(["i3"]));
    let s = &j["by_severity"];
    assert_eq!(s["sev1"]["count"], 2);
    close(&s["sev1"]["mtta_mean_seconds"], 300.5);
    close(&s["sev1"]["ack_within_5m_rate"], 0.5);
    close(&s["sev1"]["postmortem_within_48h_rate"], 0.5);
    assert_eq!(s["sev2"]["open"], 1);
    assert_eq!(s["sev2"]["unacknowledged"], serde_json::json!(["i3"]));
    close(&s["sev2"]["postmortem_within_48h_rate"], 0.0);
    assert_eq!(
        s["sev3"]["postmortem_within_48h_rate"],
        serde_json::Value::Null
    );
    let m = &j["by_month"];
    assert_eq!(m["2026-01"]["count"], 3, "i3 started in January, UTC: {m}");
    assert_eq!(m["2026-02"]["count"], 1);
    assert_eq!(m["2026-11"]["count"], 1);
    assert_eq!(j["breaches"].as_array().unwrap().len(), 2, "{j}");
    // Breaches are structured: the figure, its value and the target it missed.
    let b = &j["breaches"][0];
    assert_eq!(b["metric"], "ack_within_5m_rate", "{b}");
    assert_eq!(b["comparison"], "at_least");
    assert_eq!(b["target"], 1.0);
    close(&b["value"], j["ack_within_5m_rate"].as_f64().unwrap());
    assert!(b["message"].as_str().unwrap().contains("below its target"));

    // --fail-on-breach: the rates are under the default targets (1.0) ...
    let r = metrics(
        p,
        &["incidents", "--input", "incidents.csv", "--fail-on-breach"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("BREACH: ack_within_5m_rate 0.6000"),
        "{r:?}"
    );
    assert!(r.stdout.contains("unacknowledged (1): i3"), "{r:?}");
    // ... and above targets set in vouch.toml.
    std::fs::write(
        p.join("vouch.toml"),
        "[targets]\nack_within_5m_rate = 0.6\npostmortem_within_48h_rate = 0.3\n",
    )
    .unwrap();
    let r = metrics(
        p,
        &[
            "incidents",
            "--input",
            "incidents.csv",
            "--config",
            "vouch.toml",
            "--fail-on-breach",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("within targets"), "{r:?}");
}

/// d1: received Jan 31 in a leap year: due Feb 29 at the same time; completed then.
/// d2: received Jan 31, 2023: due Feb 28; completed 1 s late.
/// d3: extended: received Dec 31, due three months later, Mar 31; completed then.
/// d7: received Dec 31: due Jan 31; completed then.
/// d4: open, due Nov 20, before --as-of: overdue.
/// d5: open, due Nov 30 12:00, within 5 days of --as-of: at risk.
/// d6: open, due Dec 20: neither.
const DSAR: &str = "\
request_id,subject_id,request_type,received_at,extended,completed_at,status,export_sha256
d1,alice@example.com,access,2024-01-31T10:00:00Z,false,2024-02-29T10:00:00Z,complete,
d2,bob@example.com,delete,2023-01-31T10:00:00Z,false,2023-02-28T10:00:01Z,complete,
d3,carol@example.com,delete,2025-12-31T09:00:00Z,true,2026-03-31T09:00:00Z,complete,
d4,dave@example.com,access,2026-10-20T00:00:00Z,false,,open,
d5,erin@example.com,delete,2026-10-30T12:00:00Z,,,in_progress,
d6,frank@example.com,access,2026-11-20T00:00:00Z,false,,open,
d7,grace@example.com,access,2025-12-31T23:00:00Z,false,2026-01-31T23:00:00Z,complete,
";

#[test]
fn dsar_deadlines_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("dsar.csv"), DSAR).unwrap();
    let r = metrics(p, &["dsar", "--input", "dsar.csv", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    for subject in ["alice", "bob", "carol", "dave", "erin", "frank", "grace"] {
        assert!(
            !r.stdout.contains(subject),
            "a subject id in the output: {r:?}"
        );
    }
    let j = r.json();
    assert_eq!(j["requests"], 7);
    assert_eq!(j["completed"], 4);
    assert_eq!(j["open"], 3);
    close(&j["on_time_rate"], 0.75); // d1, d3, d7 of d1, d2, d3, d7
    assert_eq!(j["overdue"], serde_json::json!(["d4"]));
    assert_eq!(j["at_risk"], serde_json::json!(["d5"]));
    // Days to complete: d2 28 days + 1 s, d1 29, d7 31, d3 90.
    close(&j["days_to_complete_p50"], 30.0);
    close(&j["days_to_complete_p90"], 31.0 + 0.7 * 59.0);
    let access = &j["by_type"]["access"];
    assert_eq!(access["requests"], 4);
    close(&access["on_time_rate"], 1.0);
    assert_eq!(access["overdue"], serde_json::json!(["d4"]));
    let delete = &j["by_type"]["delete"];
    close(&delete["on_time_rate"], 0.5);
    assert_eq!(delete["at_risk"], serde_json::json!(["d5"]));
    let r = metrics(p, &["dsar", "--input", "dsar.csv", "--fail-on-breach"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("1 open request(s) overdue"), "{r:?}");
}

/// Thursday 2026-11-26 is a holiday (--holidays).
/// c1: Friday 18:30: due Tuesday 18:30; reviewed then: on time.
/// c2: Saturday 10:00: due Tuesday 10:00; reviewed 1 s late; regulatory: escalated.
/// c3: Tuesday 09:00: Wednesday, (holiday), Friday 09:00, after --as-of: pending.
/// c4: Thursday 12:00+02:00 = 10:00 UTC: due Monday 10:00; never reviewed: late.
/// c5: Wednesday 08:00: (holiday), Friday, due Monday 08:00; reviewed Friday 08:00:01:
///     on time, though late without the holiday; regulatory.
const CHANGES: &str = "\
change_id,submitted_by,impact,status,submitted_at,reviewed_at,verified_at
c1,ann,low,verified,2026-11-20T18:30:00Z,2026-11-24T18:30:00Z,
c2,ben,regulatory,reviewed,2026-11-21T10:00:00Z,2026-11-24T10:00:01Z,
c3,cat,high,submitted,2026-11-24T09:00:00Z,,
c4,dan,medium,submitted,2026-11-19T12:00:00+02:00,,
c5,eve,regulatory,reviewed,2026-11-25T08:00:00Z,2026-11-27T08:00:01Z,
";

#[test]
fn change_reviews_in_business_days_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("changes.csv"), CHANGES).unwrap();
    std::fs::write(p.join("holidays.txt"), "# US\n2026-11-26\n\n").unwrap();
    let j = json(
        p,
        &[
            "changes",
            "--input",
            "changes.csv",
            "--holidays",
            "holidays.txt",
        ],
    );
    assert_eq!(j["changes"], 5);
    close(&j["reviewed_within_2bd_rate"], 0.5); // c1, c5 of c1, c2, c4, c5
    assert_eq!(j["late"], serde_json::json!(["c2", "c4"]));
    assert_eq!(j["pending"], serde_json::json!(["c3"]));
    assert_eq!(j["escalations"], serde_json::json!(["c2", "c5"]));
    assert_eq!(j["by_impact"]["regulatory"]["changes"], 2);
    // Without the holiday c3 was due Thursday and c5 Friday 08:00.
    let j = json(p, &["changes", "--input", "changes.csv"]);
    close(&j["reviewed_within_2bd_rate"], 0.2);
    assert_eq!(j["late"], serde_json::json!(["c2", "c3", "c4", "c5"]));
    assert_eq!(j["pending"], serde_json::json!([]));
}

#[test]
fn parquet_tables_give_the_csv_answers() {
    use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("incidents.csv"), INCIDENTS).unwrap();
    // The same incidents with typed timestamps (milliseconds, UTC zone).
    let t = |s: &str| vouch::domain::metrics::input::parse_time(s).map(|us| us / 1000);
    let rows: Vec<Vec<&str>> = INCIDENTS
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let text = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter().map(|r| Some(r[i])).collect::<Vec<_>>(),
        ))
    };
    let time = |i: usize| -> ArrayRef {
        Arc::new(
            TimestampMillisecondArray::from(rows.iter().map(|r| t(r[i])).collect::<Vec<_>>())
                .with_timezone("UTC"),
        )
    };
    let batch = RecordBatch::try_from_iter([
        ("incident_id", text(0)),
        ("severity", text(1)),
        ("start_at", time(2)),
        ("acknowledged_at", time(3)),
        ("end_at", time(4)),
        ("postmortem_at", time(8)),
    ])
    .unwrap();
    vouch::dev::fixtures::write_parquet(
        &p.join("incidents.parquet"),
        &[batch],
        parquet::file::properties::WriterProperties::builder().build(),
    )
    .unwrap();
    let mut a = json(p, &["incidents", "--input", "incidents.csv"]);
    let mut b = json(p, &["incidents", "--input", "incidents.parquet"]);
    a["input"] = serde_json::Value::Null;
    b["input"] = serde_json::Value::Null;
    assert_eq!(a, b);
}

// Bad tables (a missing column, a bad time, a duplicate, a bad holiday): see
// tests/cases/metrics_bad_input.case.

#[test]
fn every_query_file_is_embedded_and_runs_on_empty_tables() {
    let dir = repo().join("queries");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        // A template for other engines, with {{parameters}}; tests/oracle.rs runs it.
        .filter(|n| n != "residual_rows.sql")
        .collect();
    files.sort();
    let mut embedded: Vec<String> = vouch::domain::metrics::QUERIES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    embedded.sort();
    assert_eq!(files, embedded);
    for (f, text) in vouch::domain::metrics::QUERIES {
        assert_eq!(std::fs::read_to_string(dir.join(f)).unwrap(), *text, "{f}");
    }
    // Header-only tables: every query runs; nothing to measure is no breach.
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    for (metric, header) in [
        ("incidents", INCIDENTS.lines().next().unwrap()),
        ("dsar", DSAR.lines().next().unwrap()),
        ("changes", CHANGES.lines().next().unwrap()),
    ] {
        let f = format!("{metric}.csv");
        std::fs::write(p.join(&f), format!("{header}\n")).unwrap();
        let r = metrics(
            p,
            &[
                metric,
                "--input",
                &f,
                "--fail-on-breach",
                "--by",
                "month",
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.json()["breaches"], serde_json::json!([]));
    }
}

/// A seeded generator of the three tables, with the edge cases made common: acknowledged
/// exactly 5 minutes after, postmortems exactly 48 h after, month-end receipts, weekend
/// and holiday submissions, open items, missing severities.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A time in 2023–2026, often at a month end.
    fn time(&mut self) -> i64 {
        let base = 1_672_531_200; // 2023-01-01
        if self.below(4) == 0 {
            let month_ends = [1_675_123_200, 1_706_659_200, 1_709_164_800, 1_767_139_200];
            month_ends[self.below(4) as usize] + self.below(86_400) as i64
        } else {
            base + self.below(4 * 365 * 86_400) as i64
        }
    }
    /// A delay: exact SLA boundaries a quarter of the time.
    fn after(&mut self, boundary: i64) -> i64 {
        match self.below(8) {
            0 => boundary,
            1 => boundary + 1,
            2 => boundary - 1,
            _ => self.below(3 * boundary as u64) as i64,
        }
    }
}

fn ts(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn generated(metric: &str, seed: u64, rows: usize) -> String {
    let mut g = Gen(seed);
    let mut out = String::new();
    match metric {
        "incidents" => {
            out.push_str("incident_id,severity,start_at,acknowledged_at,end_at,postmortem_at\n");
            for i in 0..rows {
                let start = g.time();
                let ack = (g.below(6) > 0).then(|| start + g.after(300));
                let end = (g.below(5) > 0).then(|| start + g.after(7_200));
                let pm = end.filter(|_| g.below(3) > 0).map(|e| e + g.after(172_800));
                let sev = g.pick(&["sev1", "sev2", "sev3", ""]);
                let o = |t: Option<i64>| t.map(ts).unwrap_or_default();
                out.push_str(&format!(
                    "i{i:05},{sev},{},{},{},{}\n",
                    ts(start),
                    o(ack),
                    o(end),
                    o(pm)
                ));
            }
        }
        "dsar" => {
            out.push_str(
                "request_id,subject_id,request_type,received_at,extended,completed_at,status,jurisdiction,acknowledged_at\n",
            );
            for i in 0..rows {
                let received = g.time();
                let extended = g.pick(&["true", "false", ""]);
                let done = (g.below(4) > 0).then(|| received + g.after(30 * 86_400));
                let ack = (g.below(3) > 0).then(|| received + g.after(12 * 86_400));
                let o = |t: Option<i64>| t.map(ts).unwrap_or_default();
                let kind = g.pick(&["access", "delete"]);
                let j = g.pick(&["", "gdpr", "ccpa", "CCPA", "lgpd"]);
                out.push_str(&format!(
                    "r{i:05},subject-{i},{kind},{},{extended},{},x,{j},{}\n",
                    ts(received),
                    o(done),
                    o(ack)
                ));
            }
        }
        "costs" => {
            out.push_str("anomaly_id,detected_at,service,resource,cost_usd,expected_usd,budget_used_pct,mitigated_at,mitigation,incident_id\n");
            for i in 0..rows {
                let detected = g.time();
                let mitigated = (g.below(5) > 0).then(|| detected + g.after(6 * 3_600));
                let service = g.pick(&["athena", "s3", "quicksight", ""]);
                let cost = g.below(100_000) as f64 / 100.0;
                let expected = g.below(100_000) as f64 / 100.0;
                let pct = g.pick(&["0.8", "0.81", "0.5", "0.95", ""]);
                let incident = g.pick(&["INC-1", "", "INC-2"]);
                let o = |t: Option<i64>| t.map(ts).unwrap_or_default();
                out.push_str(&format!(
                    "a{i:05},{},{service},r{},{cost},{expected},{pct},{},fix,{incident}\n",
                    ts(detected),
                    i % 7,
                    o(mitigated)
                ));
            }
        }
        "jobs" => {
            out.push_str(
                "run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at\n",
            );
            for i in 0..rows {
                let job = g.below(12);
                let scheduled = g.time() - g.time() % 3_600;
                let status = g.pick(&[
                    "success",
                    "success",
                    "success",
                    "failed",
                    "running",
                    "cancelled",
                ]);
                let kind = g.pick(&["transform", "refresh", "backfill", "purge"]);
                let start = (status != "cancelled").then(|| scheduled + g.below(600) as i64);
                let end = match status {
                    "success" | "failed" => start.map(|s| s + g.after(3_600)),
                    _ => None,
                };
                let o = |t: Option<i64>| t.map(ts).unwrap_or_default();
                out.push_str(&format!(
                    "j{i:05},job{job},ds{},{kind},{status},{},{},{}\n",
                    job % 5,
                    ts(scheduled),
                    o(start),
                    o(end)
                ));
            }
        }
        _ => {
            out.push_str("change_id,impact,submitted_at,reviewed_at\n");
            for i in 0..rows {
                let submitted = g.time();
                let reviewed = (g.below(5) > 0).then(|| submitted + g.after(3 * 86_400));
                let impact = g.pick(&["low", "medium", "high", "regulatory"]);
                let o = |t: Option<i64>| t.map(ts).unwrap_or_default();
                out.push_str(&format!(
                    "c{i:05},{impact},{},{}\n",
                    ts(submitted),
                    o(reviewed)
                ));
            }
        }
    }
    out
}

/// Equal, numbers within 1e-9 relative (the engines sum in different orders).
fn same(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                "{at}: {x} != {y}"
            );
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in y {
                same(&x[k], v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                same(v, w, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn duckdb_runs_the_same_definitions_to_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let holidays = [
        "2023-12-25",
        "2024-12-25",
        "2025-12-25",
        "2026-01-01",
        "2026-11-26",
    ];
    std::fs::write(p.join("holidays.txt"), holidays.join("\n")).unwrap();
    std::fs::write(
        p.join("vouch.toml"),
        "[jobs.cycles]\nds0 = \"12h\"\nds3 = \"2d\"\n",
    )
    .unwrap();
    for (seed, metric) in [
        (1, "incidents"),
        (2, "dsar"),
        (3, "changes"),
        (4, "incidents"),
        (5, "changes"),
        (6, "jobs"),
        (7, "jobs"),
        (8, "costs"),
    ] {
        let f = format!("{metric}-{seed}.csv");
        std::fs::write(p.join(&f), generated(metric, seed, 3_000)).unwrap();
        let got = json(
            p,
            &[
                metric,
                "--input",
                &f,
                "--by",
                "month",
                "--holidays",
                "holidays.txt",
                "--config",
                "vouch.toml",
            ],
        );
        let want = oracle(
            "duckdb_metrics.py",
            &serde_json::json!({
                "metric": metric, "input": p.join(&f), "as_of": "2026-11-27 00:00:00",
                "holidays": holidays, "by_month": true,
                "cycles": {"ds0": 43_200.0, "ds3": 172_800.0},
            }),
        );
        same(&got, &want, metric);
    }
}

const JOB_RUNS: &str = "\
run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at
r01,load_orders,orders,transform,success,2026-03-01T00:00:00Z,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z
r02,load_orders,orders,transform,failed,2026-03-02T00:00:00Z,2026-03-02T00:00:00Z,2026-03-02T00:30:00Z
r03,load_orders,orders,backfill,success,2026-03-02T06:00:00Z,2026-03-02T06:00:00Z,2026-03-02T07:00:00Z
r04,load_orders,orders,transform,success,2026-03-03T00:00:00Z,2026-03-03T00:00:00Z,2026-03-03T01:00:00Z
r05,load_orders,orders,transform,failed,2026-03-04T00:00:00Z,2026-03-04T00:00:00Z,2026-03-04T00:20:00Z
r06,load_orders,orders,transform,success,2026-03-05T00:00:00Z,2026-03-05T00:00:00Z,2026-03-05T02:00:00Z
r07,refresh_kpis,kpis,refresh,success,2026-03-08T00:00:00Z,2026-03-08T00:00:00Z,2026-03-08T12:00:00Z
r08,refresh_kpis,kpis,refresh,running,2026-03-09T00:00:00Z,2026-03-09T00:00:00Z,
r09,purge_users,users,purge,success,2026-03-09T00:00:00Z,2026-03-09T00:00:00Z,2026-03-09T01:00:00Z
r10,export_x,lonely,transform,failed,2026-03-09T10:00:00Z,2026-03-09T10:00:00Z,2026-03-09T10:05:00Z
r11,load_orders,orders,transform,cancelled,2026-03-06T00:00:00Z,,
";

/// Run history by hand (as of 2026-03-10): a failure recovered by a backfill run (6.5 h),
/// one recovered by the next run (25 h 40 min), one never recovered; running and
/// cancelled runs out of the failure rate; orders (a 24 h median gap) 4 cycles behind, kpis
/// (24 h configured) exactly one cycle behind, so stale but no notification; a purge does
/// not refresh; a dataset with one scheduled time and no configured cycle is named.
#[test]
fn job_runs_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("runs.csv"), JOB_RUNS).unwrap();
    std::fs::write(p.join("vouch.toml"), "[jobs.cycles]\nkpis = \"24h\"\n").unwrap();
    let args = [
        "jobs",
        "--input",
        "runs.csv",
        "--as-of",
        "2026-03-10T00:00:00Z",
        "--config",
        "vouch.toml",
    ];
    let at = |extra: &[&str]| run(vouch().current_dir(p).arg("metrics").args(args).args(extra));
    let r = at(&["--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(
        (j["runs"].clone(), j["failed"].clone()),
        (serde_json::json!(11), serde_json::json!(3))
    );
    close(&j["failure_rate"], 3.0 / 9.0);
    close(&j["recovery_mean_seconds"], 57_900.0);
    close(&j["recovery_p50_seconds"], 57_900.0);
    close(
        &j["recovery_p90_seconds"],
        23_400.0 + 0.9 * (92_400.0 - 23_400.0),
    );
    assert_eq!(j["unrecovered"], serde_json::json!(["r10"]));
    let orders = &j["by_job"]["load_orders"];
    assert_eq!(
        (orders["runs"].clone(), orders["failed"].clone()),
        (serde_json::json!(7), serde_json::json!(2))
    );
    close(&orders["failure_rate"], 2.0 / 6.0);
    close(&j["by_job"]["refresh_kpis"]["failure_rate"], 0.0);
    assert_eq!(
        j["by_job"]["export_x"]["unrecovered"],
        serde_json::json!(["r10"])
    );
    assert_eq!(
        j["stale_datasets"],
        serde_json::json!([
            {"dataset": "kpis", "last_success": "2026-03-08T12:00:00Z",
             "cycle_seconds": 86400.0, "missed_cycles": 1},
            {"dataset": "orders", "last_success": "2026-03-05T02:00:00Z",
             "cycle_seconds": 86400.0, "missed_cycles": 4},
        ])
    );
    assert_eq!(j["notify_required"], serde_json::json!(["orders"]));
    assert_eq!(j["cycle_unknown"], serde_json::json!(["lonely"]));
    let r = at(&["--fail-on-breach"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("behind: orders missed 4 cycle(s)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("BREACH: 1 failed run(s) not recovered"),
        "{}",
        r.stdout
    );
}

/// An unknown status or job type, a finished run without its end, a bad cycle: exit 2,
/// one line naming the file, column and row (or the setting).
#[test]
fn bad_job_runs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let header = "run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at\n";
    for (rows, says) in [
        (
            "r1,j,d,transform,done,2026-03-01,2026-03-01,2026-03-01T01:00:00\n",
            "column status, row 1: \"done\" is not one of success, failed, running, cancelled",
        ),
        (
            "r1,j,d,transform,success,2026-03-01,2026-03-01,2026-03-01T01:00:00\nr2,j,d,vacuum,success,2026-03-01,2026-03-01,2026-03-01T01:00:00\n",
            "column job_type, row 2: \"vacuum\" is not one of transform, refresh, purge, backfill",
        ),
        (
            "r1,j,d,transform,failed,2026-03-01,2026-03-01,\n",
            "column ended_at, row 1: is empty; a failed row needs it",
        ),
    ] {
        std::fs::write(p.join("runs.csv"), format!("{header}{rows}")).unwrap();
        let r = metrics(p, &["jobs", "--input", "runs.csv"]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains(says), "{says}: {}", r.stderr);
        assert!(r.stderr.contains("runs.csv"), "{}", r.stderr);
    }
    std::fs::write(p.join("runs.csv"), JOB_RUNS).unwrap();
    std::fs::write(p.join("vouch.toml"), "[jobs.cycles]\nkpis = \"daily\"\n").unwrap();
    let r = metrics(
        p,
        &["jobs", "--input", "runs.csv", "--config", "vouch.toml"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("[jobs.cycles] kpis = \"daily\""),
        "{}",
        r.stderr
    );
}

const HOLD_POLICY: &str = "\
dataset,retention_days,legal_hold_flag,hold_reason,hold_reviewer,hold_set_at
orders,365,true,litigation 2026-014,counsel@example.com,2026-03-05T00:00:00Z
users,30,true,,,
kpis,90,false,,,
events,30,true,regulator inquiry,dpo@example.com,2026-03-09T12:00:00Z
";

const HOLD_RUNS: &str = "\
run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at
p1,purge_orders,orders,purge,success,2026-03-04T23:00:00Z,2026-03-04T23:59:59Z,2026-03-05T00:10:00Z
p2,purge_orders,orders,purge,success,2026-03-05T00:00:00Z,2026-03-05T00:00:00Z,2026-03-05T00:10:00Z
p3,purge_users,users,purge,failed,2026-03-01T00:00:00Z,2026-03-01T00:00:00Z,2026-03-01T00:01:00Z
p4,purge_kpis,kpis,purge,success,2026-03-06T00:00:00Z,2026-03-06T00:00:00Z,2026-03-06T00:01:00Z
p5,purge_events,events,purge,cancelled,2026-03-09T13:00:00Z,,
p6,purge_events,events,purge,success,2026-03-09T11:00:00Z,2026-03-09T11:59:59Z,2026-03-09T12:30:00Z
t1,load_orders,orders,transform,success,2026-03-06T00:00:00Z,2026-03-06T00:00:00Z,2026-03-06T01:00:00Z
";

/// Legal holds by hand (runbook §3.5): a purge one second before the hold is kept, one at
/// the very second it was set is not; a hold without hold_set_at holds every purge run; a
/// hold without reason and reviewer is undocumented; a purge that never started and a
/// transform are no purges; an unheld dataset may be purged. DuckDB runs the same
/// queries/holds_purges.sql to the same runs.
#[test]
fn legal_holds_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("policy.csv"), HOLD_POLICY).unwrap();
    std::fs::write(p.join("runs.csv"), HOLD_RUNS).unwrap();
    let args = ["holds", "--input", "policy.csv", "--job-runs", "runs.csv"];
    let j = json(p, &args);
    assert_eq!(
        j["held_datasets"],
        serde_json::json!(["events", "orders", "users"])
    );
    assert_eq!(j["undocumented_holds"], serde_json::json!(["users"]));
    assert_eq!(j["holds_without_set_at"], serde_json::json!(["users"]));
    let purged: Vec<&str> = j["purges_under_hold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(purged, ["p2", "p3"]);
    assert_eq!(
        j["purges_under_hold"][0]["hold_set_at"],
        "2026-03-05T00:00:00Z"
    );
    assert_eq!(
        j["purges_under_hold"][1]["hold_set_at"],
        serde_json::Value::Null
    );
    let r = metrics(p, &[&args[..], &["--fail-on-breach"]].concat());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("purge under hold: run p2 of purge_orders on orders"),
        "{}",
        r.stdout
    );
    // The same definition in DuckDB.
    let sql = std::fs::read_to_string(repo().join("queries/holds_purges.sql")).unwrap();
    let load = |t: &str, f: &str| {
        format!(
            "CREATE TABLE {t} AS SELECT * FROM read_csv('{}', header = true, \
             timestampformat = '%Y-%m-%dT%H:%M:%SZ')",
            p.join(f).display()
        )
    };
    let rows = oracle(
        "duckdb_sql.py",
        &serde_json::json!({"statements": [
            load("data_retention_policy", "policy.csv"),
            load("analytics_job_run", "runs.csv"),
            format!("SELECT run_id FROM ({sql})"),
        ]}),
    );
    assert_eq!(rows[2], serde_json::json!([["p2"], ["p3"]]));
    // A policy table from before hold_set_at: every hold holds every purge run.
    let old: String = HOLD_POLICY
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(p.join("old.csv"), old).unwrap();
    let j = json(
        p,
        &["holds", "--input", "old.csv", "--job-runs", "runs.csv"],
    );
    assert_eq!(
        j["holds_without_set_at"],
        serde_json::json!(["events", "orders", "users"])
    );
    assert_eq!(j["purges_under_hold"].as_array().unwrap().len(), 4, "{j}");
    // Without the runs: a usage error.
    let r = metrics(p, &["holds", "--input", "policy.csv"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("holds needs --job-runs FILE"),
        "{}",
        r.stderr
    );
}

const COST_ANOMALIES: &str = "\
anomaly_id,detected_at,service,resource,cost_usd,expected_usd,budget_used_pct,mitigated_at,mitigation,incident_id
a1,2026-02-01T00:00:00Z,athena,wg-primary,500,100,0.85,2026-02-01T02:00:00Z,scan limit,INC-1
a2,2026-02-10T00:00:00Z,s3,bucket-x,50,80,0.80,2026-02-10T06:00:00Z,lifecycle rule,
a3,2026-03-01T00:00:00Z,athena,wg-adhoc,300,200,0.5,2026-03-01T00:30:00Z,killed query,INC-9
a4,2026-03-05T00:00:00Z,quicksight,spice,90,60,0.95,,,
";

/// Cost anomalies by hand (runbook §4): mitigation times (mean, p50, p90), excess cost
/// (never negative), exactly 80% of the budget is not over it, an open anomaly is not
/// unlogged, a mitigated one without an incident id is, and with --incidents one whose
/// incident the log lacks is too; by service and by month (the FinOps review).
#[test]
fn cost_anomalies_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("costs.csv"), COST_ANOMALIES).unwrap();
    std::fs::write(
        p.join("incidents.csv"),
        "incident_id,severity,start_at\nINC-1,sev2,2026-02-01T00:00:00Z\n",
    )
    .unwrap();
    let j = json(p, &["costs", "--input", "costs.csv", "--by", "month"]);
    assert_eq!(
        (j["anomalies"].clone(), j["open"].clone()),
        (serde_json::json!(4), serde_json::json!(1))
    );
    close(&j["mitigate_mean_seconds"], 10_200.0);
    close(&j["mitigate_p50_seconds"], 7_200.0);
    close(&j["mitigate_p90_seconds"], 18_720.0);
    close(&j["excess_cost_usd"], 530.0);
    assert_eq!(j["over_budget_80"], serde_json::json!(["a1", "a4"]));
    assert_eq!(
        j["unlogged"],
        serde_json::json!(["a2"]),
        "without --incidents: no id only"
    );
    close(&j["by_service"]["athena"]["mitigate_mean_seconds"], 4_500.0);
    close(&j["by_service"]["athena"]["excess_cost_usd"], 500.0);
    assert_eq!(j["by_month"]["2026-02"]["anomalies"], 2);
    let j = json(
        p,
        &[
            "costs",
            "--input",
            "costs.csv",
            "--incidents",
            "incidents.csv",
        ],
    );
    assert_eq!(j["unlogged"], serde_json::json!(["a2", "a3"]));
    for (row, says) in [
        (
            "b1,2026-02-01,athena,x,lots,1,0.1,,,\n",
            "column cost_usd, row 1: \"lots\" is not a number",
        ),
        (
            "b1,2026-02-01T10:00:00Z,athena,x,1,1,0.1,2026-02-01T09:00:00Z,,\n",
            "column mitigated_at, row 1: is before detected_at",
        ),
    ] {
        std::fs::write(
            p.join("bad.csv"),
            format!(
                "{}{row}",
                COST_ANOMALIES.lines().next().unwrap().to_string() + "\n"
            ),
        )
        .unwrap();
        let r = metrics(p, &["costs", "--input", "bad.csv"]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains(says), "{says}: {}", r.stderr);
    }
}

const JURISDICTION_REQUESTS: &str = "\
request_id,subject_id,request_type,received_at,extended,completed_at,status,jurisdiction,acknowledged_at
c1,s1,access,2026-01-02T10:00:00Z,false,2026-02-16T10:00:00Z,complete,ccpa,2026-01-19T10:00:00Z
c2,s2,access,2026-01-02T10:00:00Z,false,2026-02-16T10:00:01Z,complete,CCPA,2026-01-19T10:00:01Z
c3,s3,delete,2026-01-02T10:00:00Z,true,,open,ccpa,
l1,s4,access,2026-02-01T00:00:00Z,false,,open,lgpd,
g1,s5,access,2026-01-31T00:00:00Z,false,2026-02-28T00:00:00Z,complete,,
";

/// DSAR deadlines by jurisdiction, by hand (as of 2026-03-01): CCPA's 45 days to the second
/// (day 45 on time, a second later not), 90 when extended; receipt within 10 business days
/// across a holiday (Jan 12) to the second, or never confirmed once passed; LGPD's 15 days;
/// an empty jurisdiction is GDPR (Jan 31 + 1 month is Feb 28) with no receipt rule. An
/// unknown jurisdiction names its row until vouch.toml gives it a rule; a rule past 12
/// months is refused.
#[test]
fn dsar_deadlines_follow_each_jurisdiction() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("requests.csv"), JURISDICTION_REQUESTS).unwrap();
    std::fs::write(p.join("holidays.txt"), "2026-01-12\n").unwrap();
    let at = |file: &str, extra: &[&str]| {
        run(vouch()
            .current_dir(p)
            .args([
                "metrics",
                "dsar",
                "--input",
                file,
                "--as-of",
                "2026-03-01T00:00:00Z",
            ])
            .args(["--holidays", "holidays.txt"])
            .args(extra))
    };
    let r = at("requests.csv", &["--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    close(&j["on_time_rate"], 2.0 / 3.0);
    assert_eq!(j["receipt_late"], serde_json::json!(["c2", "c3"]));
    assert_eq!(j["overdue"], serde_json::json!(["l1"]));
    assert_eq!(
        j["at_risk"],
        serde_json::json!([]),
        "c3 is due 2026-04-02: {j}"
    );
    let by = &j["by_jurisdiction"];
    close(&by["ccpa"]["on_time_rate"], 0.5);
    assert_eq!(by["ccpa"]["requests"], 3);
    close(&by["gdpr"]["on_time_rate"], 1.0);
    assert_eq!(by["lgpd"]["overdue"], serde_json::json!(["l1"]));
    let r = at("requests.csv", &["--fail-on-breach"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("2 request(s) whose receipt was not confirmed in time"),
        "{}",
        r.stdout
    );
    // Without the holiday the receipt deadline is Jan 16: c1's confirmation is late too.
    std::fs::write(p.join("holidays.txt"), "").unwrap();
    let j = at("requests.csv", &["--format", "json"]).json();
    assert_eq!(j["receipt_late"], serde_json::json!(["c1", "c2", "c3"]));
    // A jurisdiction without a rule, then with one.
    let more =
        format!("{JURISDICTION_REQUESTS}p1,s6,access,2026-02-20T00:00:00Z,false,,open,pipeda,\n");
    std::fs::write(p.join("more.csv"), more).unwrap();
    let r = at("more.csv", &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("more.csv: column jurisdiction, row 6: \"pipeda\" has no deadline rule"),
        "{}",
        r.stderr
    );
    std::fs::write(
        p.join("vouch.toml"),
        "[dsar.jurisdictions.pipeda]\ndays = 30\n",
    )
    .unwrap();
    let r = at("more.csv", &["--config", "vouch.toml", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.json()["by_jurisdiction"]["pipeda"]["at_risk"],
        serde_json::json!([])
    );
    std::fs::write(
        p.join("vouch.toml"),
        "[dsar.jurisdictions.gdpr]\nmonths = 11\nextension_months = 2\n",
    )
    .unwrap();
    let r = at("requests.csv", &["--config", "vouch.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("[dsar.jurisdictions.gdpr]: more than 12 months"),
        "{}",
        r.stderr
    );
    // `extended` says whether the one extension was taken: a second is not expressible,
    // and a count in its place is refused naming the row.
    std::fs::remove_file(p.join("vouch.toml")).unwrap();
    let twice = JURISDICTION_REQUESTS.replace(
        "c3,s3,delete,2026-01-02T10:00:00Z,true,",
        "c3,s3,delete,2026-01-02T10:00:00Z,2,",
    );
    std::fs::write(p.join("twice.csv"), twice).unwrap();
    let r = at("twice.csv", &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("twice.csv: column extended, row 3: \"2\" is not a boolean"),
        "{}",
        r.stderr
    );
}

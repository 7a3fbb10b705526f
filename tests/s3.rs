//! vouch against a real S3-compatible server (`moto_server` from PyPI) on 127.0.0.1,
//! started for each test at a free port and stopped after. No mocks.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A moto server on a free loopback port; killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (scripts/test.sh installs moto[server] from PyPI)");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }

    /// A server whose bucket `analytics` holds the fixture lake under `silver_private/`.
    fn with_fixture_lake() -> Moto {
        let moto = Moto::start();
        moto.setup(
            "analytics",
            serde_json::json!({"upload": [[repo().join("fixtures/lake"), "silver_private"]]}),
        );
        moto
    }

    fn setup(&self, bucket: &str, opts: serde_json::Value) {
        let mut arg = serde_json::json!({"endpoint": self.url, "bucket": bucket});
        for (k, v) in opts.as_object().unwrap() {
            arg[k] = v.clone();
        }
        oracle("s3_put.py", &arg);
    }

    /// `vouch` with the S3 settings of this server (and no real AWS anywhere).
    fn vouch(&self) -> Command {
        let mut c = vouch();
        c.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        c
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vouch scan` of the fixture IDs in the S3 copy of the fixture lake, as JSON.
fn s3_scan() -> Vec<&'static str> {
    [
        &FIXTURE_SCAN[..],
        &["--lake", "s3://analytics/silver_private"],
    ]
    .concat()
}

/// The tests' fault-injecting proxy (tests/oracle/faulty_proxy.py) in front of moto;
/// killed on drop.
struct Proxy {
    child: Child,
    url: String,
}

impl Proxy {
    fn start(moto: &Moto, args: &[&str]) -> Proxy {
        Proxy::start_logging(moto, args, None)
    }

    /// As [`Proxy::start`]; with `log`, each request's method and path go to that file.
    fn start_logging(moto: &Moto, args: &[&str], log: Option<&std::path::Path>) -> Proxy {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = Command::new(python());
        c.arg(repo().join("tests/oracle/faulty_proxy.py"))
            .args([port.to_string(), moto.url.clone()])
            .args(args);
        if let Some(log) = log {
            c.env("PROXY_LOG", log);
        }
        let child = c.spawn().unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the proxy did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The report without what legitimately differs between a local and an S3 scan.
fn comparable(mut j: serde_json::Value) -> serde_json::Value {
    j["lake"] = serde_json::Value::Null;
    j["bytes_read"] = serde_json::Value::Null;
    j["read_requests"] = serde_json::Value::Null;
    // The plan fingerprint covers ETags and modification times.
    j["plan_fingerprint"] = serde_json::Value::Null;
    for o in j["objects"].as_array_mut().unwrap() {
        o["etag"] = serde_json::Value::Null;
    }
    j
}

#[test]
fn a_lake_in_s3_scans_exactly_like_the_local_copy() {
    let moto = Moto::with_fixture_lake();
    let fixtures = repo().join("fixtures");
    let local = run(vouch().current_dir(&fixtures).args(FIXTURE_SCAN));
    assert_eq!(local.code, 1, "{local:?}");
    let remote = run(moto.vouch().current_dir(&fixtures).args(s3_scan()));
    assert_eq!(remote.code, 1, "{remote:?}");
    assert_eq!(comparable(remote.json()), comparable(local.json()));
    assert_eq!(remote.json()["lake"], "s3://analytics/silver_private");
    // Chain of custody: every object read, with its ETag.
    let objects = remote.json()["objects"].as_array().unwrap().clone();
    assert_eq!(objects.len(), 7);
    assert!(
        objects
            .iter()
            .all(|o| o["etag"].as_str().is_some_and(|e| e.len() > 8)),
        "{objects:?}"
    );
    // Ranged reads only: fewer bytes than the lake holds, even for these small files.
    let lake_bytes: u64 = walk(&repo().join("fixtures/lake"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let read = remote.json()["bytes_read"].as_u64().unwrap();
    assert!(read < lake_bytes, "read {read} of {lake_bytes} bytes");
}

#[test]
fn missing_buckets_and_a_dead_server_are_errors_not_clean() {
    let moto = Moto::start();
    let fixtures = repo().join("fixtures");
    let r = run(moto.vouch().current_dir(&fixtures).args([
        "scan",
        "--config",
        "vouch.toml",
        "--id",
        "5002",
        "-q",
        "--lake",
        "s3://no-such-bucket/x",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("NoSuchBucket"), "{r:?}");
    let url = moto.url.clone();
    drop(moto);
    let r = run(vouch()
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(&fixtures)
        .args([
            "scan",
            "--config",
            "vouch.toml",
            "--id",
            "5002",
            "-q",
            "--lake",
            "s3://analytics/x",
        ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("vouch: error: s3://analytics/x: S3 ListObjectsV2 failed"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("test"),
        "no credentials in errors: {r:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn exports_and_evidence_come_from_s3_too_past_one_listing_page() {
    let moto = Moto::with_fixture_lake();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // Export: the same rows as from the local lake.
    let (_, recipient) = age_identity(p);
    let cfg = repo().join("fixtures/vouch.toml").display().to_string();
    let args = |lake: &str, out: &str| -> Vec<String> {
        [
            "export",
            "--config",
            &cfg,
            "--id",
            "5007",
            "--id",
            "1042",
            "--recipient",
            &recipient,
            "--format",
            "json",
            "-q",
            "--lake",
            lake,
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let local = run(vouch().current_dir(p).args(args(
        &repo().join("fixtures/lake").display().to_string(),
        "local.age",
    )));
    let remote = run(moto
        .vouch()
        .current_dir(p)
        .args(args("s3://analytics/silver_private", "remote.age")));
    assert_eq!(local.code, 0, "{local:?}");
    assert_eq!(remote.code, 0, "{remote:?}");
    assert_eq!(local.json()["tables"], remote.json()["tables"]);
    assert!(remote.json()["rows"].as_u64().unwrap() >= 10);
    // Evidence: 1,050 objects (more than one ListObjectsV2 page), keys kept as paths.
    let logs = p.join("logs");
    for i in 0..1050 {
        let d = logs.join(format!("h{:02}", i % 10));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{i:04}.log")), format!("event {i}\n")).unwrap();
    }
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"upload": [[logs, "data-quality"]]}),
    );
    assert_eq!(
        run(vouch().current_dir(p).args(["keygen", "--out", "k"])).code,
        0
    );
    let r = run(moto.vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "s3://compliance-artifacts/data-quality",
        "--signing-key",
        "k",
        "--as-of",
        "2026-11-27",
        "--out",
        "e.zip",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["files"], 1050);
    let r = run(vouch().current_dir(p).args([
        "evidence",
        "verify",
        "e.zip",
        "--public-key",
        "k.pub",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["files"], 1050);
    let out = Command::new("unzip")
        .current_dir(p)
        .args(["-p", "e.zip", "e/bag-info.txt"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        info.contains("Source-Location: s3://compliance-artifacts/data-quality\n"),
        "{info}"
    );
    let out = Command::new("unzip")
        .current_dir(p)
        .args(["-p", "e.zip", "e/data/h07/0007.log"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"event 7\n");
}

#[test]
fn evidence_is_uploaded_under_object_lock_and_read_back() {
    let moto = Moto::start();
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"lock": true, "versioning": true}),
    );
    moto.setup("plain-bucket", serde_json::json!({}));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("logs")).unwrap();
    std::fs::write(p.join("logs/audit.log"), "a=1\n").unwrap();
    assert_eq!(
        run(vouch().current_dir(p).args(["keygen", "--out", "k"])).code,
        0
    );
    let r = run(build_and_upload(
        &moto,
        p,
        "2024-02-29",
        "ev.zip",
        "s3://compliance-artifacts/data-quality",
    )
    .arg("--legal-hold"));
    assert_eq!(r.code, 0, "{r:?}");
    let s = r.json();
    assert_eq!(
        s["upload"]["uri"],
        "s3://compliance-artifacts/data-quality/ev.zip"
    );
    assert_eq!(s["upload"]["retention_mode"], "compliance");
    assert_eq!(s["upload"]["retain_until"], "2031-02-28T00:00:00Z");
    let got = oracle(
        "s3_head.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts", "key": "data-quality/ev.zip"}),
    );
    assert_eq!(got["mode"], "COMPLIANCE");
    assert_eq!(got["retain_until"], "2031-02-28T00:00:00Z");
    assert_eq!(got["legal_hold"], "ON");
    assert_eq!(got["version_id"], s["upload"]["version_id"]);
    assert_eq!(
        got["sha256"], s["sha256"],
        "the bytes in the bucket are the bundle"
    );
    // A bucket without Object Lock cannot take a locked upload: exit 2, named.
    let r = run(&mut build_and_upload(
        &moto,
        p,
        "2026-11-27",
        "ev2.zip",
        "s3://plain-bucket/x",
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("vouch: error: s3://plain-bucket/x/ev2.zip: S3 PutObject failed"),
        "{r:?}"
    );
}

#[test]
fn throttling_and_resets_are_retried_and_nothing_is_missed() {
    let moto = Moto::with_fixture_lake();
    let proxy = Proxy::start(&moto, &["0.2", "7"]);
    let fixtures = repo().join("fixtures");
    let local = run(vouch().current_dir(&fixtures).args(FIXTURE_SCAN));
    for _ in 0..3 {
        let r = run(moto
            .vouch()
            .env("AWS_ENDPOINT_URL", proxy.url.clone())
            .current_dir(&fixtures)
            .args(s3_scan()));
        assert_eq!(r.code, 1, "{r:?}");
        assert_eq!(comparable(r.json()), comparable(local.json()));
    }
}

#[test]
fn retention_check_finds_short_missing_governance_and_hidden_versions() {
    let moto = Moto::start();
    let o = |key: &str, mode: Option<&str>, days: u32, delete: bool| serde_json::json!({"key": key, "text": key, "mode": mode, "days": days, "delete": delete});
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"lock": true, "versioning": true, "objects": [
            o("data-quality/good.zip", Some("COMPLIANCE"), 8 * 366, false),
            o("data-quality/short.zip", Some("COMPLIANCE"), 365, false),
            o("data-quality/none.log", None, 0, false),
            o("data-quality/gov.zip", Some("GOVERNANCE"), 8 * 366, false),
            o("data-quality/gone.zip", Some("COMPLIANCE"), 8 * 366, true),
            o("elsewhere/ignored.log", None, 0, false),
            o("kept/good.zip", Some("COMPLIANCE"), 8 * 366, false),
        ]}),
    );
    let r = run(moto.vouch().args([
        "retention",
        "check",
        "s3://compliance-artifacts/data-quality",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["versions_checked"], 5);
    let problems: Vec<(String, String)> = j["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_string(),
                v["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert_eq!(
        problems[0],
        (
            "data-quality/gone.zip".into(),
            "hidden behind a delete marker".into()
        )
    );
    assert_eq!(
        problems[1],
        (
            "data-quality/gov.zip".into(),
            "governance mode (compliance is required)".into()
        )
    );
    assert_eq!(
        problems[2],
        (
            "data-quality/none.log".into(),
            "no Object Lock retention".into()
        )
    );
    assert_eq!(problems[3].0, "data-quality/short.zip");
    assert!(problems[3].1.starts_with("retained until "), "{problems:?}");
    // Governance allowed and a one-year minimum: only the missing and hidden ones remain.
    let r = run(moto.vouch().args([
        "retention",
        "check",
        "s3://compliance-artifacts/data-quality",
        "--min-years",
        "1",
        "--allow-governance",
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.starts_with("VIOLATIONS: 2 of 5 version(s)"),
        "{r:?}"
    );
    let r = run(moto.vouch().args([
        "retention",
        "check",
        "s3://compliance-artifacts/kept",
        "--min-years",
        "7",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("OK: 1 version(s) under s3://compliance-artifacts/kept"),
        "{r:?}"
    );
    let r = run(moto.vouch().args([
        "retention",
        "check",
        "s3://compliance-artifacts/nothing-here",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "vouch: error: s3://compliance-artifacts/nothing-here: no objects to check\n"
    );
}

/// The pipeline rewrites the fixture lake's `events/dt=2026-01-03` in the `analytics`
/// bucket without subject 5002 (with another day's rows): a new ETag and version.
fn rewrite_partition_without_5002(moto: &Moto) {
    overwrite_with(moto, "events/dt=2026-01-02/part-0.parquet");
}

/// Puts the fixture lake's file `from` at events/dt=2026-01-03/part-0.parquet in S3.
fn overwrite_with(moto: &Moto, from: &str) {
    let over = tempfile::tempdir().unwrap();
    let part = over.path().join("events/dt=2026-01-03/part-0.parquet");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("fixtures/lake").join(from), &part).unwrap();
    let arg = serde_json::json!({"endpoint": moto.url, "bucket": "analytics", "upload": [[over.path(), "silver_private"]], "existing": true});
    oracle("s3_put.py", &arg);
}

#[test]
fn noncurrent_versions_still_holding_rows_are_residual() {
    let moto = Moto::start();
    moto.setup("analytics", serde_json::json!({"versioning": true, "upload": [[repo().join("fixtures/lake"), "silver_private"]]}));
    // The pipeline rewrote the partition without subject 5002: the current object is clean,
    // the old version still holds the two rows.
    rewrite_partition_without_5002(&moto);
    let fixtures = repo().join("fixtures");
    let scan = |extra: &[&str]| {
        run(moto
            .vouch()
            .current_dir(&fixtures)
            .args([
                "scan",
                "--config",
                "vouch.toml",
                "--id",
                "5002",
                "--format",
                "json",
                "-q",
                "--lake",
                "s3://analytics/silver_private",
            ])
            .args(extra))
    };
    let current = scan(&[]);
    assert_eq!(
        current.code, 0,
        "the current objects are clean: {current:?}"
    );
    let all = scan(&["--include-versions"]);
    assert_eq!(all.code, 1, "{all:?}");
    let j = all.json();
    assert_eq!(j["residual_rows"], 2);
    let r = &j["residuals"][0];
    assert_eq!(r["file"], "events/dt=2026-01-03/part-0.parquet");
    assert!(
        r["version_id"].as_str().is_some_and(|v| !v.is_empty()),
        "{r}"
    );
    assert_eq!(
        j["files_scanned"],
        current.json()["files_scanned"].as_u64().unwrap() + 1
    );
    let old = j["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["version_id"] == r["version_id"])
        .unwrap();
    assert_eq!(old["noncurrent"], true, "{old}");

    // The export with versions carries the old version's rows apart from the current ones.
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(dir.path());
    let export = |extra: &[&str], out: &str| {
        run(moto
            .vouch()
            .current_dir(&fixtures)
            .args([
                "export",
                "--config",
                "vouch.toml",
                "--id",
                "5002",
                "--recipient",
                &recipient,
                "--format",
                "json",
                "-q",
                "--lake",
                "s3://analytics/silver_private",
                "--out",
            ])
            .arg(dir.path().join(out))
            .args(extra))
    };
    let e = export(&[], "current.age");
    assert_eq!(e.code, 0, "{e:?}");
    assert_eq!(e.json()["rows"], 0, "{e:?}");
    let e = export(&["--include-versions"], "all.age");
    assert_eq!(e.code, 0, "{e:?}");
    let s = e.json();
    assert_eq!(s["rows"], 2, "{e:?}");
    let events = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "events")
        .unwrap();
    assert_eq!(events["rows"], 0);
    assert_eq!(events["noncurrent_rows"], 2);
    let zip = unzip(dir.path(), &decrypt(&key, &dir.path().join("all.age")));
    let rows: serde_json::Value = serde_json::from_slice(&zip["noncurrent/events.json"]).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["user_id"] == "5002")
    );
    let current: serde_json::Value = serde_json::from_slice(&zip["tables/events.json"]).unwrap();
    assert_eq!(current, serde_json::json!([]));
    let manifest: serde_json::Value = serde_json::from_slice(&zip["manifest.json"]).unwrap();
    let m = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "events")
        .unwrap();
    assert_eq!(m["noncurrent"]["rows"], 2);
    assert_eq!(m["noncurrent"]["member"], "noncurrent/events.json");
    assert_eq!(
        m["noncurrent"]["source_versions"][0]["version_id"],
        r["version_id"]
    );
    let readme = String::from_utf8(zip["README.txt"].clone()).unwrap();
    assert!(readme.contains("2 in older versions"), "{readme}");
}

/// A generated benchmark lake of `rows` rows in a new temporary directory, its subjects'
/// IDs in `ids.txt` there (as [`bench_scan`] reads them).
fn bench_lake_with_ids(
    rows: u64,
    seed: u64,
) -> (tempfile::TempDir, vouch::dev::fixtures::BenchLake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = vouch::dev::fixtures::bench_lake(dir.path(), rows, seed).unwrap();
    std::fs::write(dir.path().join("ids.txt"), lake.ids.join("\n")).unwrap();
    (dir, lake)
}

/// The JSON report of `vouch scan` of the lake `at` for the subjects of `dir/ids.txt`
/// (some of them found) on `threads` workers.
fn bench_scan(moto: &Moto, dir: &std::path::Path, at: &str, threads: &str) -> serde_json::Value {
    let r = run(moto.vouch().current_dir(dir).args([
        "scan",
        "--lake",
        at,
        "--ids",
        "ids.txt",
        "--threads",
        threads,
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    r.json()
}

#[test]
fn a_bloom_pruned_s3_scan_fetches_a_small_fraction_of_the_lake() {
    let moto = Moto::start();
    // Every file past the size read whole in one request (1M rows: 287 KB and more).
    let (dir, lake) = bench_lake_with_ids(1_000_000, 42);
    moto.setup(
        "bench",
        serde_json::json!({"upload": [[lake.bloom, "lake"]]}),
    );
    let scan = |threads: &str| bench_scan(&moto, dir.path(), "s3://bench/lake", threads);
    let j = scan("1");
    assert_eq!(j["residual_rows"], lake.residual_rows);
    let size: u64 = walk(&lake.bloom)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let read = j["bytes_read"].as_u64().unwrap();
    assert!(
        j["row_groups"]["skipped_by_bloom_filter"].as_u64().unwrap() > 80,
        "{j}"
    );
    assert!(read * 5 < size, "fetched {read} of {size} bytes");
    // Requests: one per column chunk decoded, and per file one for the footer and the
    // bloom filters before it (a table's first file, and a file whose filters take a
    // larger share of it than any before in its table, need a second).
    let requests = |j: &serde_json::Value| {
        let decoded = j["row_groups"]["decoded"].as_u64().unwrap()
            + j["row_groups"]["skipped_by_dictionary"].as_u64().unwrap();
        j["read_requests"].as_u64().unwrap() - decoded
    };
    let files = j["files_scanned"].as_u64().unwrap();
    assert!(
        (files + 3..=files + files / 10).contains(&requests(&j)),
        "{} requests for {files} files: {j}",
        requests(&j)
    );
    // Side by side, each worker's first file of each of the three tables may be read
    // before any of the table's has been learnt from.
    let j = scan("16");
    assert_eq!(j["residual_rows"], lake.residual_rows);
    assert!(
        requests(&j) <= (files + 3 * 16 + files / 10).min(2 * files - 1),
        "{j}"
    );
}

#[test]
fn small_s3_files_are_read_in_one_request_each() {
    // Files under 256 KiB come whole in their first read: footer, bloom filters and
    // column chunks from it, with or without bloom filters, and the local scan's answer.
    let moto = Moto::start();
    let (dir, lake) = bench_lake_with_ids(40_000, 3);
    moto.setup(
        "bench",
        serde_json::json!({"upload": [[lake.plain, "plain"], [lake.bloom, "bloom"]]}),
    );
    for (local, remote) in [
        (&lake.plain, "s3://bench/plain"),
        (&lake.bloom, "s3://bench/bloom"),
    ] {
        assert!(
            walk(local)
                .iter()
                .all(|p| std::fs::metadata(p).unwrap().len() < 256 << 10)
        );
        let here = bench_scan(&moto, dir.path(), local.to_str().unwrap(), "4");
        let there = bench_scan(&moto, dir.path(), remote, "4");
        assert_eq!(there["residual_rows"], lake.residual_rows);
        assert_eq!(
            there["read_requests"], there["files_scanned"],
            "one request a file: {there}"
        );
        assert_eq!(comparable(there), comparable(here));
    }
}

#[test]
fn files_unlike_the_tables_others_are_read_whole_on_s3() {
    // The tail read learnt from a table's files (footer and bloom filters in one read)
    // meets a file smaller than its guess and one whose filters follow each row group:
    // every subject row is still found, as by the local scan.
    let moto = Moto::start();
    // Files past the size read whole in one request (1M rows), so that the tail reads learn.
    let (dir, lake) = bench_lake_with_ids(1_000_000, 7);
    let events = lake.bloom.join("events");
    let last = walk(&events).into_iter().max().unwrap();
    let part = last.parent().unwrap();
    text_table(
        &part.join("zz-tiny.parquet"),
        vec![("user_id", vec![lake.ids[900].clone(), "someone".into()])],
    );
    {
        use arrow::array::{ArrayRef, StringArray};
        use parquet::file::properties::{BloomFilterPosition, WriterProperties};
        let ids: Vec<String> = (0..300_000)
            .map(|i| match i {
                5 => lake.ids[901].clone(),
                _ => format!("other-{i}"),
            })
            .collect();
        let batch = arrow::record_batch::RecordBatch::try_from_iter([(
            "user_id",
            std::sync::Arc::new(StringArray::from(ids)) as ArrayRef,
        )])
        .unwrap();
        let props = WriterProperties::builder()
            .set_bloom_filter_enabled(true)
            .set_bloom_filter_position(BloomFilterPosition::AfterRowGroup)
            .set_max_row_group_row_count(Some(100_000))
            .build();
        let interleaved = part.join("zz-interleaved.parquet");
        vouch::dev::fixtures::write_parquet(&interleaved, &[batch], props).unwrap();
        assert!(std::fs::metadata(&interleaved).unwrap().len() > 256 << 10);
    }
    moto.setup(
        "bench",
        serde_json::json!({"upload": [[lake.bloom, "lake"]]}),
    );
    let scan = |at: &str, threads: &str| bench_scan(&moto, dir.path(), at, threads);
    let local = scan(lake.bloom.to_str().unwrap(), "1");
    assert_eq!(local["residual_rows"], lake.residual_rows + 2, "{local}");
    for threads in ["1", "4"] {
        let remote = scan("s3://bench/lake", threads);
        assert_eq!(comparable(remote), comparable(local.clone()));
    }
}

#[test]
fn a_thirty_second_stall_is_waited_out() {
    let moto = Moto::with_fixture_lake();
    let proxy = Proxy::start(&moto, &["0", "1", "30"]);
    let fixtures = repo().join("fixtures");
    let local = run(vouch().current_dir(&fixtures).args(FIXTURE_SCAN));
    let started = Instant::now();
    let r = run(moto
        .vouch()
        .env("AWS_ENDPOINT_URL", proxy.url.clone())
        .current_dir(&fixtures)
        .args(s3_scan()));
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "the stall happened"
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(comparable(r.json()), comparable(local.json()));
}

/// `vouch evidence build` of `logs/` under `p` as of `as_of`, signed with `p/k`, uploaded
/// to `target`.
fn build_and_upload(
    moto: &Moto,
    p: &std::path::Path,
    as_of: &str,
    out: &str,
    target: &str,
) -> Command {
    let mut c = moto.vouch();
    c.current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--signing-key",
        "k",
        "--as-of",
        as_of,
        "--out",
        out,
        "--upload",
        target,
        "--format",
        "json",
    ]);
    c
}

/// `n` bytes that deflate cannot shrink (xorshift).
fn incompressible(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn evidence_from_s3_goes_up_in_parts_through_throttling_resets_and_a_stall() {
    let moto = Moto::start();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("app")).unwrap();
    std::fs::write(src.path().join("app/capture.bin"), incompressible(11 << 20)).unwrap();
    for i in 0..40 {
        let line = format!("2026-11-27T10:00:{:02}Z request {i} ok\n", i % 60);
        std::fs::write(src.path().join(format!("app/{i:02}.log")), line.repeat(50)).unwrap();
    }
    moto.setup(
        "log-archive",
        serde_json::json!({"upload": [[src.path(), "logs"]]}),
    );
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"lock": true, "versioning": true}),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(
        run(vouch().current_dir(p).args(["keygen", "--out", "k"])).code,
        0
    );
    let build = |out: &str| {
        let mut c = moto.vouch();
        c.current_dir(p)
            .args(["evidence", "build", "--source", "s3://log-archive/logs"])
            .args([
                "--signing-key",
                "k",
                "--as-of",
                "2026-11-27",
                "--format",
                "json",
            ])
            .args(["--out", out])
            .env("VOUCH_S3_PART_MIB", "5");
        c
    };
    // Without faults and without upload: the bundle to expect (builds are reproducible).
    let clean = run(&mut build("clean.zip"));
    assert_eq!(clean.code, 0, "{clean:?}");
    // A fifth of the requests answered 503 SlowDown, some connections reset, and the
    // second part held for 30 s.
    let proxy = Proxy::start(&moto, &["0.2", "11", "30", "", "partNumber=2"]);
    let started = Instant::now();
    let r = run(build("ev.zip")
        .args(["--upload", "s3://compliance-artifacts/dq"])
        .env("AWS_ENDPOINT_URL", proxy.url.clone()));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "the stall happened"
    );
    let s = r.json();
    // Every source object, with the same bytes, as without faults (the bag-info differs:
    // it names the upload and its lock).
    let payload = |zip: &str| {
        let f = std::fs::File::open(p.join(zip)).unwrap();
        let mut z = zip::ZipArchive::new(f).unwrap();
        let name = format!("{}/manifest-sha256.txt", zip.trim_end_matches(".zip"));
        let mut m = String::new();
        std::io::Read::read_to_string(&mut z.by_name(&name).unwrap(), &mut m).unwrap();
        m
    };
    assert_eq!(
        payload("ev.zip"),
        payload("clean.zip").replace("clean/", "ev/")
    );
    assert_eq!(payload("ev.zip").lines().count(), 41);
    assert_eq!(s["upload"]["parts"], 3);
    let got = oracle(
        "s3_head.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts", "key": "dq/ev.zip"}),
    );
    assert_eq!(got["sha256"], s["sha256"], "the parts add up to the bundle");
    assert_eq!(got["mode"], "COMPLIANCE");
    // Nothing missing, nothing twice, no upload left open.
    let state = oracle(
        "s3_state.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts"}),
    );
    assert_eq!(state["keys"], serde_json::json!(["dq/ev.zip"]));
    assert_eq!(state["multipart_uploads"], 0);
    let v =
        run(vouch()
            .current_dir(p)
            .args(["evidence", "verify", "ev.zip", "--public-key", "k.pub"]));
    assert_eq!(v.code, 0, "{v:?}");
}

#[test]
fn large_bundles_go_up_in_parts_and_a_failed_part_leaves_no_upload() {
    let moto = Moto::start();
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"lock": true, "versioning": true}),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("logs")).unwrap();
    // 11 MiB that deflate cannot shrink: with 5 MiB parts the bundle takes three.
    std::fs::write(p.join("logs/capture.bin"), incompressible(11 << 20)).unwrap();
    assert_eq!(
        run(vouch().current_dir(p).args(["keygen", "--out", "k"])).code,
        0
    );
    let state = || {
        oracle(
            "s3_state.py",
            &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts"}),
        )
    };
    let r = run(build_and_upload(
        &moto,
        p,
        "2026-11-27",
        "ev.zip",
        "s3://compliance-artifacts/dq",
    )
    .arg("--legal-hold")
    .env("VOUCH_S3_PART_MIB", "5"));
    assert_eq!(r.code, 0, "{r:?}");
    let s = r.json();
    assert_eq!(s["upload"]["parts"], 3);
    let got = oracle(
        "s3_head.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts", "key": "dq/ev.zip"}),
    );
    assert_eq!(
        got["mode"], "COMPLIANCE",
        "the lock is on the completed object"
    );
    assert_eq!(got["retain_until"], "2033-11-27T00:00:00Z");
    assert_eq!(got["legal_hold"], "ON");
    assert_eq!(got["version_id"], s["upload"]["version_id"]);
    assert_eq!(got["sha256"], s["sha256"], "the parts add up to the bundle");
    assert_eq!(state()["multipart_uploads"], 0);

    // The second part is refused: exit 2 naming the object and the part, the upload is
    // aborted, and nothing new is in the bucket.
    let proxy = Proxy::start(&moto, &["0", "1", "0", "partNumber=2"]);
    let r = run(build_and_upload(
        &moto,
        p,
        "2026-11-27",
        "ev2.zip",
        "s3://compliance-artifacts/dq",
    )
    .env("VOUCH_S3_PART_MIB", "5")
    .env("AWS_ENDPOINT_URL", proxy.url.clone()));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.starts_with(
            "vouch: error: s3://compliance-artifacts/dq/ev2.zip: S3 UploadPart 2 failed: AccessDenied"
        ),
        "{r:?}"
    );
    let after = state();
    assert_eq!(
        after["multipart_uploads"], 0,
        "the failed upload was aborted"
    );
    assert_eq!(after["keys"], serde_json::json!(["dq/ev.zip"]));
    // A part size out of range is refused before anything is sent.
    let r = run(build_and_upload(
        &moto,
        p,
        "2026-11-27",
        "ev3.zip",
        "s3://compliance-artifacts/dq",
    )
    .env("VOUCH_S3_PART_MIB", "4"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("VOUCH_S3_PART_MIB=\"4\""), "{r:?}");
    assert_eq!(state()["keys"], serde_json::json!(["dq/ev.zip"]));
}

#[test]
fn nightly_runs_on_a_lake_tables_and_evidence_in_s3() {
    let moto = Moto::start();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("demo");
    let r = run(vouch()
        .current_dir(t.path())
        .args(["demo", "--dir", "demo"]));
    assert_eq!(r.code, 0, "{r:?}");
    for (bucket, dir, prefix) in [
        ("analytics", "lake", "silver_private"),
        ("governance", "tables", "tables"),
        ("audit-logs", "logs", "logs"),
        ("dsar-exports", "exports", "bundles"),
    ] {
        moto.setup(
            bucket,
            serde_json::json!({"upload": [[d.join(dir), prefix]]}),
        );
    }
    moto.setup(
        "compliance-artifacts",
        serde_json::json!({"lock": true, "versioning": true}),
    );
    let local = std::fs::read_to_string(d.join("vouch.toml")).unwrap();
    let s3 = local
        .replace(
            "location = \"lake\"",
            "location = \"s3://analytics/silver_private\"",
        )
        .replace(
            "\"tables/data_retention_policy.csv\"",
            "\"s3://governance/tables/data_retention_policy.csv\"",
        )
        .replace(
            "\"tables/dsar_request.csv\"",
            "\"s3://governance/tables/dsar_request.csv\"",
        )
        .replace(
            "\"tables/dsar_audit_log.csv\"",
            "\"s3://governance/tables/dsar_audit_log.csv\"",
        )
        .replace(
            "\"tables/data_incident.csv\"",
            "\"s3://governance/tables/data_incident.csv\"",
        )
        .replace(
            "\"tables/governance_change_log.csv\"",
            "\"s3://governance/tables/governance_change_log.csv\"",
        )
        .replace("window_days = 30", "window_days = 36500")
        .replace(
            "exports = \"exports\"",
            "exports = \"s3://dsar-exports/bundles\"",
        )
        .replace(
            "sources = [\"logs\"]",
            "sources = [\"s3://audit-logs/logs\"]",
        )
        .replace(
            "# upload = \"s3://compliance-artifacts/data-quality\"",
            "upload = \"s3://compliance-artifacts/data-quality\"",
        )
        .replace(
            "# location = \"s3://compliance-artifacts/data-quality\"",
            "location = \"s3://compliance-artifacts/data-quality\"",
        );
    assert!(
        !s3.contains("\"tables/d") && s3.contains("upload = \"s3://"),
        "{s3}"
    );
    std::fs::write(d.join("s3.toml"), s3).unwrap();
    // The objects were just put: the day before "now" holds them.
    let as_of = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let nightly = |out: &str| {
        run(moto.vouch().current_dir(&d).args([
            "nightly", "--config", "s3.toml", "--out", out, "--as-of", &as_of,
        ]))
    };
    let r = nightly("s3-report");
    assert_eq!(r.code, 1, "{r:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("s3-report/report.json")).unwrap()).unwrap();
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap()
            .clone()
    };
    let del = check("deletion_verification");
    assert_eq!(del["status"], "violation", "{del}");
    assert_eq!(del["details"]["residual_rows"], 4);
    assert_eq!(del["details"]["held_rows"], 3);
    assert_eq!(del["details"]["requests"].as_array().unwrap().len(), 11);
    assert_eq!(
        check("audit_log_coverage")["details"]["missing"][0]["request_id"],
        "D-1004"
    );
    assert_eq!(
        check("export_integrity")["details"]["matched"],
        serde_json::json!(["A-2001"])
    );
    let ev = check("evidence_bundle");
    assert_eq!(ev["status"], "ok", "{ev}");
    assert_eq!(ev["details"]["files"], 3);
    assert_eq!(ev["details"]["upload"]["retention_mode"], "compliance");
    let ret = check("retention_check");
    assert_eq!(ret["status"], "ok", "{ret}");
    assert_eq!(ret["details"]["versions_checked"], 1);
    // The certificates name S3 objects with their ETags.
    let cert: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.join("s3-report/certificates/D-1002.json")).unwrap(),
    )
    .unwrap();
    let custody = std::fs::read_to_string(d.join("s3-report/certificates/custody.jsonl")).unwrap();
    assert_eq!(
        cert["custody"]["sha256"],
        sha256_hex(custody.as_bytes()),
        "{cert}"
    );
    let first: serde_json::Value = serde_json::from_str(custody.lines().next().unwrap()).unwrap();
    assert!(first["etag"].is_string(), "{first}");
    assert_eq!(cert["verdict"], "residual");
    // A rerun does not upload the same bundle again.
    let r = nightly("s3-report");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("already uploaded"), "{r:?}");
    let state = oracle(
        "s3_state.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "compliance-artifacts"}),
    );
    assert_eq!(state["keys"].as_array().unwrap().len(), 1, "{state}");
    // The night's index upkeep and its scan share one listing of the lake: nightly lists
    // the lake's bucket as often as one scan of it does.
    let log = t.path().join("requests.log");
    let proxy = Proxy::start_logging(&moto, &["0", "1"], Some(&log));
    let lake_listings = |c: &mut Command| {
        std::fs::write(&log, "").unwrap();
        let r = run(c.env("AWS_ENDPOINT_URL", proxy.url.clone()));
        let lines = std::fs::read_to_string(&log).unwrap();
        let n = lines
            .lines()
            .filter(|l| l.starts_with("GET /analytics/?") && l.contains("list-type=2"))
            .count();
        (r, n)
    };
    let (r, night) = lake_listings(moto.vouch().current_dir(&d).args([
        "nightly",
        "--config",
        "s3.toml",
        "--out",
        "s3-listed",
        "--as-of",
        &as_of,
    ]));
    assert_eq!(r.code, 1, "{r:?}");
    let (r, scan) = lake_listings(moto.vouch().current_dir(&d).args([
        "scan", "--config", "s3.toml", "--id", "nobody", "--format", "json", "-q",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(scan >= 2, "the root and a table at least: {scan}");
    assert_eq!(night, scan);
    // That scan read the config's retention policy from S3, as nightly does (it was
    // opened as a local path, "not found"): the same tables held as with the local copy.
    let held = |j: serde_json::Value| -> Vec<String> {
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["legal_hold"] == true)
            .map(|t| t["table"].as_str().unwrap().to_string())
            .collect()
    };
    let here = run(vouch().current_dir(&d).args([
        "scan",
        "--config",
        "vouch.toml",
        "--id",
        "nobody",
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(here.code, 0, "{here:?}");
    assert!(!held(here.json()).is_empty(), "{here:?}");
    assert_eq!(held(r.json()), held(here.json()));
}

#[test]
fn the_subject_index_covers_an_s3_lake_and_notices_a_rewritten_object() {
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({"versioning": true, "upload": [[repo().join("fixtures/lake"), "silver_private"]]}),
    );
    let fixtures = repo().join("fixtures");
    let t = tempfile::tempdir().unwrap();
    let ix = t.path().join("ix");
    let key = "s3-index-test-key-0123";
    let build = || {
        run(moto
            .vouch()
            .env("VOUCH_SUBJECT_KEY", key)
            .current_dir(&fixtures)
            .args([
                "index",
                "build",
                "--config",
                "vouch.toml",
                "--lake",
                "s3://analytics/silver_private",
                "--format",
                "json",
                "--index",
            ])
            .arg(&ix))
    };
    let scan = |with_index: bool| {
        let mut c = moto.vouch();
        c.env("VOUCH_SUBJECT_KEY", key)
            .current_dir(&fixtures)
            .args(s3_scan());
        if with_index {
            c.arg("--index").arg(&ix);
        }
        run(&mut c)
    };
    let b = build();
    assert_eq!(b.code, 0, "{b:?}");
    assert_eq!(b.json()["indexed"], 7);
    let (with, without) = (scan(true), scan(false));
    assert_eq!(with.code, 1, "{with:?}");
    let (w, wo) = (with.json(), without.json());
    assert_eq!(w["residuals"], wo["residuals"]);
    assert!(
        w["row_groups"]["skipped_by_index"].as_u64().unwrap() > 0,
        "{w}"
    );
    assert_eq!(w["index"]["files_without_index"], 0);
    // The pipeline rewrites a partition: a new ETag and version. The index no longer
    // speaks for it (read in full), the answer is unchanged, and a rebuild redoes one file.
    rewrite_partition_without_5002(&moto);
    let (with, without) = (scan(true), scan(false));
    assert_eq!(with.json()["residuals"], without.json()["residuals"]);
    assert_eq!(with.json()["index"]["files_without_index"], 1);
    let b = build();
    assert_eq!(b.json()["indexed"], 1, "{b:?}");
    assert_eq!(b.json()["reused"], 6);
    // The night in one run: another rewrite, indexed and probed in one read of the new
    // version, and the same answer as a scan without the index.
    rewrite_partition_without_5002(&moto);
    let night = run(moto
        .vouch()
        .env("VOUCH_SUBJECT_KEY", key)
        .current_dir(&fixtures)
        .args(s3_scan())
        .arg("--index")
        .arg(&ix)
        .arg("--update-index"));
    assert_eq!(night.code, 1, "{night:?}");
    assert_eq!(night.json()["residuals"], scan(false).json()["residuals"]);
    assert_eq!(night.json()["index"]["files_without_index"], 0);
    assert!(ix.join("recall.vix").is_file());
}

#[test]
fn a_night_on_s3_lists_the_lake_once() {
    // `scan --update-index` brings the index up to date and scans on one listing: it
    // makes the listing requests of a scan without the index, not those of two scans,
    // and its index covers the files it scans.
    let moto = Moto::with_fixture_lake();
    let fixtures = repo().join("fixtures");
    let t = tempfile::tempdir().unwrap();
    let ix = t.path().join("ix");
    let log = t.path().join("requests.log");
    let proxy = Proxy::start_logging(&moto, &["0", "1"], Some(&log));
    let requests = |args: &[&str]| {
        std::fs::write(&log, "").unwrap();
        let r = run(moto
            .vouch()
            .env("AWS_ENDPOINT_URL", proxy.url.clone())
            .env("VOUCH_SUBJECT_KEY", "s3-night-listing-key-0123")
            .current_dir(&fixtures)
            .args(s3_scan())
            .args(args));
        assert_eq!(r.code, 1, "{r:?}");
        let lines = std::fs::read_to_string(&log).unwrap();
        let listings = lines
            .lines()
            .filter(|l| l.starts_with("GET ") && l.contains("list-type=2"))
            .count();
        (r.json(), listings)
    };
    let (plain, plain_listings) = requests(&[]);
    assert!(plain_listings >= 5, "a listing per table at least");
    let ix_arg = ix.to_str().unwrap();
    // Without a subject key the index cannot be used: refused before anything is listed.
    std::fs::write(&log, "").unwrap();
    let refused = run(moto
        .vouch()
        .env("AWS_ENDPOINT_URL", proxy.url.clone())
        .env_remove("VOUCH_SUBJECT_KEY")
        .current_dir(&fixtures)
        .args(s3_scan())
        .args(["--index", ix_arg, "--update-index"]));
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("subject key"), "{refused:?}");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(!lines.contains("list-type=2"), "{lines}");
    for night in 0..2 {
        let (r, listings) = requests(&["--index", ix_arg, "--update-index"]);
        assert_eq!(listings, plain_listings, "night {night}");
        assert_eq!(r["residuals"], plain["residuals"]);
        assert_eq!(r["index"]["files_without_index"], 0, "{r}");
        assert_eq!(r["plan_fingerprint"], plain["plan_fingerprint"]);
    }
}

#[test]
fn side_files_on_s3_are_told_from_data_by_their_tails_side_by_side() {
    // Files named like side files are known by their last bytes, read side by side on
    // S3: among 40 that are not Parquet, the one that is stays data, and the row it
    // holds is found, as by the local scan.
    let moto = Moto::start();
    let t = tempfile::tempdir().unwrap();
    let lake = t.path().join("lake");
    let part = lake.join("events").join("dt=2026-01-01");
    std::fs::create_dir_all(&part).unwrap();
    text_table(
        &part.join("part-0.parquet"),
        vec![("user_id", vec!["u1".into(), "other".into()])],
    );
    for i in 0..40 {
        std::fs::write(part.join(format!("part-{i}.crc")), format!("crc {i}\n")).unwrap();
    }
    text_table(
        &part.join("part-20-b.crc"),
        vec![("user_id", vec!["u2".into(), "u2".into()])],
    );
    moto.setup("side", serde_json::json!({"upload": [[lake, "lake"]]}));
    let scan = |at: &str| {
        run(moto.vouch().args([
            "scan", "--lake", at, "--id", "u1", "--id", "u2", "--format", "json", "-q",
        ]))
    };
    let (here, there) = (scan(lake.to_str().unwrap()), scan("s3://side/lake"));
    assert_eq!(there.code, 1, "{there:?}");
    assert_eq!(there.json()["residual_rows"], 3, "{there:?}");
    assert_eq!(there.json()["files_scanned"], 2);
    assert_eq!(comparable(there.json()), comparable(here.json()));
}

#[test]
fn a_sharded_scan_of_s3_pins_etags_and_versions_and_merges_like_one_scan() {
    let moto = Moto::start();
    moto.setup("analytics", serde_json::json!({"versioning": true, "upload": [[repo().join("fixtures/lake"), "silver_private"]]}));
    rewrite_partition_without_5002(&moto);
    let dir = fixture_copy();
    let d = dir.path();
    let key = "s3-shard-test-subject-key-0123456789";
    let lake = "s3://analytics/silver_private";
    let v = |args: &[&str]| {
        run(moto
            .vouch()
            .current_dir(d)
            .env("VOUCH_SUBJECT_KEY", key)
            .args(args))
    };
    let scan = [
        "scan",
        "--config",
        "vouch.toml",
        "--ids",
        "deleted_ids.txt",
        "--lake",
        lake,
    ];
    let plan_args = [
        "scan",
        "plan",
        "--config",
        "vouch.toml",
        "--lake",
        lake,
        "--out",
        "plan.jsonl",
        "--force",
    ];
    for versions in [false, true] {
        let extra: &[&str] = if versions {
            &["--include-versions"]
        } else {
            &[]
        };
        let single = v(&[&scan[..], &["--format", "json", "-q"], extra].concat());
        assert_eq!(single.code, 1, "{single:?}");
        let plan = v(&[&plan_args[..], extra].concat());
        assert_eq!(plan.code, 0, "{plan:?}");
        let text = std::fs::read_to_string(d.join("plan.jsonl")).unwrap();
        // Every file line pins the object: its ETag, and with versions its version id.
        for l in text.lines().skip(1) {
            let f: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(f["etag"].as_str().is_some_and(|e| e.len() > 8), "{l}");
            assert_eq!(f["version_id"].is_string(), versions, "{l}");
        }
        for i in 0..2 {
            let part = v(&[
                &scan[..],
                &[
                    "--files-from",
                    "plan.jsonl",
                    "--shard",
                    &format!("{i}/2"),
                    "--out",
                    &format!("p{i}.json"),
                    "--force",
                ],
            ]
            .concat());
            assert!(part.code <= 1, "{part:?}");
        }
        let merged = v(&[
            "scan",
            "merge",
            "p0.json",
            "p1.json",
            "--plan",
            "plan.jsonl",
            "--format",
            "json",
        ]);
        assert_eq!(merged.code, 1, "{merged:?}");
        assert_eq!(merged.stdout, single.stdout, "versions: {versions}");
    }
    // An object overwritten after the plan: its planned ETag no longer matches, so the
    // part names it and the merge is incomplete, never clean.
    let plan = v(&plan_args);
    assert_eq!(plan.code, 0);
    overwrite_with(&moto, "events/dt=2026-01-01/part-0.parquet");
    let part = v(&[
        &scan[..],
        &["--files-from", "plan.jsonl", "--out", "all.json"],
    ]
    .concat());
    assert_eq!(part.code, 2, "{part:?}");
    assert!(
        part.stderr.contains("events/dt=2026-01-03/part-0.parquet"),
        "{part:?}"
    );
    let merged = v(&[
        "scan",
        "merge",
        "all.json",
        "--plan",
        "plan.jsonl",
        "--format",
        "json",
    ]);
    assert_eq!(merged.code, 2);
    assert_eq!(merged.json()["verdict"], "incomplete");
}

/// Other writers' layouts in S3 scan as they do locally: extensionless data files, a
/// Spark `_k=v` partition, a table whose name starts with `_`, a file lying at the lake's
/// root (an error), side files by name, `_temporary/` skipped (issue 16, items 1 and 2).
#[test]
fn messy_layouts_in_s3_scan_like_the_local_copy() {
    let fx = fixture_copy();
    let lake = fx.path().join("lake");
    let mv = |from: &str, to: &str| {
        let to = lake.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(lake.join(from), to).unwrap();
    };
    let cp = |from: &str, to: &str| {
        let to = lake.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lake.join(from), to).unwrap();
    };
    mv(
        "events/dt=2026-01-03/part-0.parquet",
        "events/_dt=2026-01-03/000000_0",
    );
    std::fs::remove_dir(lake.join("events/dt=2026-01-03")).unwrap();
    mv(
        "profiles/part-0.parquet",
        "profiles/20260101_101010_00007_x8k2q_5b9e0c1d",
    );
    cp("payments/part-0.parquet", "_payments_backup/part-0.parquet");
    cp(
        "devices/part-0.parquet",
        "events/_temporary/0/part-0.parquet",
    );
    cp("support_tickets/part-0.parquet", "stray.parquet");
    std::fs::write(lake.join("events/q-manifest.csv"), "s3://x\n").unwrap();
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({"upload": [[lake, "silver_private"]]}),
    );
    let local = run(vouch().current_dir(fx.path()).args(FIXTURE_SCAN));
    let remote = run(moto.vouch().current_dir(fx.path()).args(s3_scan()));
    assert_eq!(local.code, 2, "the stray root file: {local:?}");
    assert_eq!(remote.code, 2, "{remote:?}");
    assert_eq!(comparable(remote.json()), comparable(local.json()));
    let j = local.json();
    let tables: Vec<&str> = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(tables.contains(&"_payments_backup"), "{tables:?}");
    assert_eq!(j["errors"][0]["file"], "stray.parquet", "{local:?}");
    assert_eq!(j["errors"].as_array().unwrap().len(), 1, "{local:?}");
    let files: Vec<&str> = j["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"events/_dt=2026-01-03/000000_0"),
        "{files:?}"
    );
    assert!(files.contains(&"profiles/20260101_101010_00007_x8k2q_5b9e0c1d"));
    assert!(
        !files
            .iter()
            .any(|f| f.contains("_temporary") || f.ends_with(".csv"))
    );
}

/// A table of many partitions is listed a directory at a time, sixteen at once: the same
/// files as the local copy, whatever lies at the table's top, two levels down, behind a
/// directory marker or in a hidden directory, and a partition of more than one listing
/// page is listed whole.
/// A copy of the fixture's `events/dt=2026-01-01/part-0.parquet` at `to` in `lake`.
fn copy_events_file(lake: &std::path::Path, to: &str) {
    let to = lake.join(to);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(lake.join("events/dt=2026-01-01/part-0.parquet"), to).unwrap();
}

/// 40 partitions `events/dt=2026-02-DD/`, each with `parquet` copies of that file and 26
/// side files: past a listing page of keys.
fn forty_partitions(lake: &std::path::Path, parquet: usize) {
    for d in 0..40 {
        for p in 0..parquet {
            copy_events_file(lake, &format!("events/dt=2026-02-{d:02}/part-{p}.parquet"));
        }
        for i in 0..26 {
            let side = lake.join(format!("events/dt=2026-02-{d:02}/part-{i}.crc"));
            std::fs::write(side, b"side file").unwrap();
        }
    }
}

#[test]
fn partitioned_tables_are_listed_by_directory_and_nothing_is_missed() {
    let fx = fixture_copy();
    let lake = fx.path().join("lake");
    let cp = |to: &str| copy_events_file(&lake, to);
    // Past a listing page of keys (side files count): listed in ranges of directories.
    forty_partitions(&lake, 2);
    cp("events/part-at-the-top.parquet");
    cp("events/dt=2026-03-01/hour=01/part-0.parquet");
    cp("events/_temporary/0/part-0.parquet");
    // One partition past a listing page: nothing to split by.
    let big = lake.join("profiles/region=eu");
    std::fs::create_dir_all(&big).unwrap();
    for i in 0..1005 {
        std::fs::write(big.join(format!("x-{i:04}.crc")), b"side file").unwrap();
    }
    cp("profiles/region=eu/part-late.parquet");
    // One file past the size a remote read takes whole, so that its reads are ranges.
    let values: Vec<String> = (0..40_000u64)
        .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    let big_file = lake.join("events/dt=2026-03-02/part-big.parquet");
    std::fs::create_dir_all(big_file.parent().unwrap()).unwrap();
    text_table(&big_file, vec![("user_id", values)]);
    assert!(std::fs::metadata(&big_file).unwrap().len() > 256 << 10);
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({
            "upload": [[lake, "silver_private"]],
            "objects": [{"key": "silver_private/events/dt=2026-02-05/", "text": ""}],
        }),
    );
    let local = run(vouch().current_dir(fx.path()).args(FIXTURE_SCAN));
    let remote = run(moto.vouch().current_dir(fx.path()).args(s3_scan()));
    assert_eq!(local.code, 1, "{local:?}");
    assert_eq!(remote.code, 1, "{remote:?}");
    assert_eq!(comparable(remote.json()), comparable(local.json()));
    let files: Vec<String> = remote.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files.len(), 7 + 80 + 2 + 1 + 1, "{files:?}");
    for f in [
        "events/part-at-the-top.parquet",
        "events/dt=2026-03-01/hour=01/part-0.parquet",
        "events/dt=2026-02-39/part-1.parquet",
        "profiles/region=eu/part-late.parquet",
    ] {
        assert!(files.iter().any(|x| x == f), "{f}: {files:?}");
    }
    assert!(
        !files
            .iter()
            .any(|f| f.contains("_temporary") || f.ends_with('/'))
    );
    // A server that ignores ranges and sends whole objects: each read stops at the range
    // it asked for and the file is an error, never clean (the large file: a small one is
    // asked for whole).
    let whole = Proxy::start(&moto, &["0", "1", "0", "", "", "0", "1"]);
    let ignored = run(moto
        .vouch()
        .current_dir(fx.path())
        .env("AWS_ENDPOINT_URL", &whole.url)
        .args(s3_scan()));
    assert_eq!(ignored.code, 2, "{ignored:?}");
    let errors = ignored.json()["errors"].as_array().unwrap().clone();
    assert!(
        errors.iter().any(|e| e["error"]
            .as_str()
            .unwrap()
            .contains("S3 returned more than")),
        "{errors:?}"
    );
    assert_eq!(ignored.json()["verdict"], "incomplete");
    // A range of directories whose listing is refused is an error naming where it
    // starts, and the scan is incomplete, never clean.
    let proxy = Proxy::start(&moto, &["0", "1", "0", "start-after"]);
    let denied = run(moto
        .vouch()
        .current_dir(fx.path())
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args(s3_scan()));
    assert_eq!(denied.code, 2, "{denied:?}");
    assert!(
        denied
            .stderr
            .contains("s3://analytics/silver_private/events/dt=")
            && denied.stderr.contains("AccessDenied"),
        "{denied:?}"
    );
}

/// A versioned table past a listing page is listed by directory (each partition its own
/// prefix, groups of them side by side), and every version is found: the current ones, an
/// overwritten file's old version, a partition whose only file was deleted (a noncurrent
/// version under a delete marker), and a file at the table's top.
#[test]
fn versions_of_a_partitioned_table_are_listed_by_directory_and_nothing_is_missed() {
    let fx = fixture_copy();
    let lake = fx.path().join("lake");
    let cp = |to: &str| copy_events_file(&lake, to);
    forty_partitions(&lake, 1);
    cp("events/part-at-the-top.parquet");
    cp("events/dt=2026-05-01/part-0.parquet");
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({
            "versioning": true,
            "upload": [[lake, "silver_private"]],
            "delete": ["silver_private/events/dt=2026-05-01/part-0.parquet"],
        }),
    );
    rewrite_partition_without_5002(&moto);
    let scan = run(moto
        .vouch()
        .current_dir(fx.path())
        .args(s3_scan())
        .arg("--include-versions"));
    assert_eq!(scan.code, 1, "{scan:?}");
    let mut listed: Vec<String> = scan.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let state = oracle(
        "s3_state.py",
        &serde_json::json!({"endpoint": moto.url, "bucket": "analytics"}),
    );
    let want: Vec<String> = state["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str()?.strip_prefix("silver_private/"))
        .filter(|k| k.ends_with(".parquet"))
        .map(str::to_string)
        .collect();
    assert_eq!(listed, want, "every version, once");
    for (f, n) in [
        ("events/dt=2026-01-03/part-0.parquet", 2),
        ("events/dt=2026-05-01/part-0.parquet", 1),
        ("events/part-at-the-top.parquet", 1),
        ("events/dt=2026-02-39/part-0.parquet", 1),
    ] {
        assert_eq!(listed.iter().filter(|x| *x == f).count(), n, "{f}");
    }
}

/// Delta tables in S3 read as the local copy does: the log listed and replayed through
/// the same seam, deletion vectors fetched by ranged reads, removed files and stray copies
/// in their layers.
#[test]
fn delta_tables_in_s3_scan_like_the_local_copy() {
    let Some(corpus) = corpus("delta-kernel-rs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&corpus.join("table-with-dv-small"), &lake.join("dv"));
    let users = lake.join("users");
    let table = users.display().to_string();
    oracle(
        "delta_rs.py",
        &serde_json::json!({"op": "write", "table": table,
            "rows": [["a0", 1], ["u3", 4], ["z9", 1]]}),
    );
    oracle(
        "delta_rs.py",
        &serde_json::json!({"op": "delete", "table": table, "predicate": "user_id = 'u3'"}),
    );
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\nid_columns = [\"user_id\"]\n\n[[lake.tables]]\nname = \"dv\"\nid_columns = [\"value\"]\n",
    )
    .unwrap();
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({"upload": [[lake, "silver_private"]]}),
    );
    let args = |at: &str| {
        vec![
            "scan".to_string(),
            "--config".into(),
            "vouch.toml".into(),
            "--lake".into(),
            at.into(),
            "--format".into(),
            "json".into(),
            "-q".into(),
            "--id".into(),
            "0".into(),
            "--id".into(),
            "5".into(),
            "--id".into(),
            "u3".into(),
        ]
    };
    let local = run(vouch().current_dir(dir.path()).args(args("lake")));
    let remote = run(moto
        .vouch()
        .current_dir(dir.path())
        .args(args("s3://analytics/silver_private")));
    assert_eq!(local.code, 1, "{local:?}");
    assert_eq!(remote.code, 1, "{remote:?}");
    // Removal dates from file times (log files) and the way out (naming the location)
    // differ; the copies themselves, and everything else, do not.
    let strip = |j: serde_json::Value| {
        let mut j = comparable(j);
        for c in j["physical_copies"].as_array_mut().unwrap() {
            if c["kind"] == "log_stats" {
                c["removable_after"] = serde_json::Value::Null;
            }
            c["way_out"] = serde_json::Value::Null;
        }
        j
    };
    let (l, r) = (local.json(), remote.json());
    assert_eq!(strip(r.clone()), strip(l.clone()));
    assert_eq!(r["residual_rows"], 1, "row 5 is live: {r}");
    let kinds: Vec<&str> = r["physical_copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"masked_rows") && kinds.contains(&"removed_file"),
        "{r}"
    );
    assert!(
        r["physical_copies"][0]["way_out"]
            .as_str()
            .unwrap()
            .contains("delta.`s3://analytics/silver_private/dv`"),
        "{r}"
    );
}

/// Rows of `table` per subject in a report's residuals, or in its physical copies of
/// `layer`.
fn rows_by_subject(
    j: &serde_json::Value,
    table: &str,
    layer: Option<&str>,
) -> std::collections::BTreeMap<String, u64> {
    let (list, kinds) = match layer {
        None => ("residuals", None),
        Some(l) => ("physical_copies", Some(l)),
    };
    let mut out = std::collections::BTreeMap::new();
    for r in j[list].as_array().unwrap() {
        if r["table"] == table
            && kinds.is_none_or(|l| r["layer"] == l)
            && (layer.is_none() || r["kind"] != "manifest_bounds")
        {
            *out.entry(r["subject"].as_str().unwrap().to_string())
                .or_insert(0) += r["rows"].as_u64().unwrap();
        }
    }
    out
}

/// What the files say, as `rows_by_subject` gives it (subjects with no rows left out).
fn expected(j: &serde_json::Value) -> std::collections::BTreeMap<String, u64> {
    j.as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_u64().unwrap() > 0)
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// A Glue database over S3 in the same moto server (tests/oracle/glue_lake.py): a Hive
/// table whose partitions lie where Hive puts them, in another bucket and below the table
/// under another path, with a stray file in no partition; an unpartitioned Hive table; a
/// view; an Iceberg table registered by metadata_location after a delete; a Delta table
/// registered by Spark's provider parameter after a delete. vouch finds
/// every row the files hold (pyarrow's and pyiceberg's counts), under the catalog's
/// partition values, and answers for the Iceberg, the Delta and the unpartitioned table
/// exactly as a scan of their locations does.
#[test]
fn glue_catalog_tables_scan_like_their_files() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let want = oracle(
        "glue_lake.py",
        &serde_json::json!({"endpoint": moto.url, "dir": dir.path()}),
    );
    let ids = [
        "--id", "u1", "--id", "u2", "--id", "u3", "--format", "json", "-q",
    ];
    let glue = run(moto
        .vouch()
        .args(["scan", "--catalog", "glue", "--database", "silver_private"])
        .args(ids));
    assert_eq!(glue.code, 1, "{glue:?}");
    let j = glue.json();
    assert_eq!(j["lake"], "glue://silver_private");
    let tables: Vec<&str> = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        ["events", "orders", "profiles", "users"],
        "the view is no table"
    );
    assert_eq!(
        rows_by_subject(&j, "profiles", None),
        expected(&want["profiles_live"])
    );
    assert_eq!(j["tables"][2]["format"], "delta");
    for (table, name) in [
        ("profiles", "VACUUM silver_private.profiles"),
        ("orders", "(table => 'silver_private.orders'"),
    ] {
        let way = j["physical_copies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["table"] == table)
            .map(|c| c["way_out"].as_str().unwrap().to_string())
            .unwrap();
        assert!(
            way.contains(name),
            "the way out names the catalog's table: {way}"
        );
    }
    assert_eq!(
        rows_by_subject(&j, "events", None),
        expected(&want["events"])
    );
    assert_eq!(rows_by_subject(&j, "users", None), expected(&want["users"]));
    assert_eq!(
        rows_by_subject(&j, "orders", None),
        expected(&want["orders_live"])
    );
    let mut retained = expected(&want["orders_in_storage"]);
    for (s, n) in expected(&want["orders_live"]) {
        *retained.get_mut(&s).unwrap() -= n;
    }
    retained.retain(|_, n| *n > 0);
    assert_eq!(
        rows_by_subject(&j, "orders", Some("deleted_retained")),
        retained
    );
    let files: Vec<&str> = j["residuals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["table"] == "events")
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "events/dt=2026-01-01/part-0.parquet",
            "events/dt=2026-01-02/000000_0",
            "events/dt=2026-01-03/part-0.parquet",
            "events/stray/part-0.parquet"
        ],
        "each partition under the catalog's values, wherever it lies; the stray file too"
    );
    let events = &j["tables"][0];
    assert_eq!(
        events["partitions_with_residuals"],
        serde_json::json!(["dt=2026-01-01", "dt=2026-01-02", "dt=2026-01-03"])
    );
    assert_eq!(events["files"], 4, "no file read twice: {events}");
    assert_eq!(
        events["locations"],
        serde_json::json!({
            "events": "s3://lake/silver_private/events",
            "events/dt=2026-01-01": "s3://lake/silver_private/events/dt=2026-01-01",
            "events/dt=2026-01-02": "s3://archive/old/events-0102",
            "events/dt=2026-01-03": "s3://lake/silver_private/events/2026/01/03",
        }),
        "where each directory of the report really is"
    );
    // The Iceberg and the unpartitioned table, scanned at their own locations.
    for (lake, table) in [
        ("s3://lake/warehouse", "orders"),
        ("s3://lake/delta", "profiles"),
        ("s3://lake/silver_private", "users"),
    ] {
        let direct = run(moto.vouch().args(["scan", "--lake", lake]).args(ids));
        let d = direct.json();
        let of = |j: &serde_json::Value, list: &str| -> Vec<serde_json::Value> {
            let none = Vec::new();
            let all = j[list].as_array().unwrap_or(&none);
            all.iter()
                .filter(|t| t["table"] == table)
                .cloned()
                .collect()
        };
        for list in ["tables", "residuals", "physical_copies"] {
            // The way out names a catalog's table by its catalog name, a Delta table
            // scanned at its location by that location; a catalog's table says where it
            // is; nothing else differs.
            let ways = |j: &serde_json::Value| -> Vec<serde_json::Value> {
                of(j, list)
                    .into_iter()
                    .map(|mut c| {
                        // Only a catalog's table says where its directory really is.
                        c.as_object_mut().unwrap().remove("locations");
                        if let Some(w) = c.get_mut("way_out") {
                            *w = w
                                .as_str()
                                .unwrap()
                                .replace("delta.`s3://lake/delta/profiles`", "T")
                                .replace(&format!("'{table}'"), "T")
                                .replace(&format!("silver_private.{table}"), "T")
                                .replace("'T'", "T")
                                .into();
                        }
                        c
                    })
                    .collect()
            };
            assert_eq!(ways(&j), ways(&d), "{table} {list}");
        }
    }
}

/// What the catalog lists and vouch cannot read is an error naming the table, never a
/// silent pass: a table stored as text, an Iceberg table whose metadata is not there, a
/// configured table the database lacks, a database that does not exist.
#[test]
fn glue_tables_vouch_cannot_read_are_errors_naming_them() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    oracle(
        "glue_lake.py",
        &serde_json::json!({"endpoint": moto.url, "dir": dir.path()}),
    );
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[lake]\ncatalog = \"glue\"\ndatabase = \"messy\"\n\n[[lake.tables]]\nname = \"ghost\"\n",
    )
    .unwrap();
    let out = run(moto.vouch().current_dir(dir.path()).args([
        "scan",
        "--config",
        "vouch.toml",
        "--id",
        "u1",
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(out.code, 2, "{out:?}");
    let j = out.json();
    assert_eq!(j["verdict"], "incomplete");
    let errors = error_lines(&j);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("csv_logs: Glue table messy.csv_logs: stored as org.apache.hadoop.mapred.TextInputFormat"), "{errors:?}");
    assert!(
        errors[1].starts_with(
            "ghost: configured in [[lake.tables]], and the Glue database messy has no such table"
        ),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("lost_iceberg/metadata/00009-x.metadata.json: "),
        "{errors:?}"
    );
    assert_eq!(rows_by_subject(&j, "fine", None).get("u1"), Some(&1));
    let missing = run(moto.vouch().args([
        "scan",
        "--catalog",
        "glue",
        "--database",
        "nope",
        "--id",
        "u1",
    ]));
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("glue://nope: Glue GetTables failed: EntityNotFoundException"),
        "{missing:?}"
    );
    let both = run(moto.vouch().args([
        "scan",
        "--lake",
        "s3://lake/x",
        "--catalog",
        "glue",
        "--database",
        "messy",
        "--id",
        "u1",
    ]));
    assert_eq!(both.code, 2, "{both:?}");
}

/// Missing credentials and profiles are one line saying what was tried and what to set;
/// `--profile` takes that profile's keys (not the environment's), `--region` is taken.
#[test]
fn credential_errors_say_what_was_tried_and_profiles_are_honoured() {
    let moto = Moto::with_fixture_lake();
    let fixtures = repo().join("fixtures");
    let home = tempfile::tempdir().unwrap();
    // No keys anywhere: not in the environment, no profile files, no instance role.
    let bare = || {
        let mut c = moto.vouch();
        c.current_dir(&fixtures)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("HOME", home.path())
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .args(s3_scan());
        c
    };
    let r = run(&mut bare());
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {r:?}");
    assert!(
        lines[0].starts_with(
            "vouch: error: s3://analytics/silver_private: no AWS credentials found (tried: \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the default profile in ~/.aws/config"
        ) && lines[0]
            .contains("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("Error {"), "no Debug dump: {r:?}");
    // A profile that is not defined, named by flag or by AWS_PROFILE.
    let r = run(bare().args(["--profile", "audit"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "vouch: error: s3://analytics/silver_private: the AWS profile `audit` (from --profile) \
         is not defined in ~/.aws/config or ~/.aws/credentials: add it (`aws configure \
         --profile audit`) or name another with --profile or AWS_PROFILE\n"
    );
    let r = run(bare().env("AWS_PROFILE", "audit"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("`audit` (from AWS_PROFILE)"), "{r:?}");
    // Defined in a credentials file: the scan runs on its keys alone.
    let creds = home.path().join("credentials");
    std::fs::write(
        &creds,
        "[audit]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let r = run(bare().env("AWS_SHARED_CREDENTIALS_FILE", &creds).args([
        "--profile",
        "audit",
        "--region",
        "eu-west-1",
    ]));
    assert_eq!(r.code, 1, "the fixture's residual rows: {r:?}");
    assert_eq!(r.json()["lake"], "s3://analytics/silver_private");
    // --profile means the profile's keys even when the environment has others.
    let r = run(bare()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .args(["--profile", "audit"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("is not defined in ~/.aws/config or"),
        "{r:?}"
    );
}

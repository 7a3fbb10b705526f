//! vouch against a real S3-compatible server (`moto_server` from PyPI) on 127.0.0.1,
//! started for each test at a free port and stopped after. No mocks.

mod common;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

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

/// The report without what legitimately differs between a local and an S3 scan.
fn comparable(mut j: serde_json::Value) -> serde_json::Value {
    j["lake"] = serde_json::Value::Null;
    j["bytes_read"] = serde_json::Value::Null;
    j
}

#[test]
fn a_lake_in_s3_scans_exactly_like_the_local_copy() {
    let moto = Moto::start();
    moto.setup(
        "analytics",
        serde_json::json!({"upload": [[repo().join("fixtures/lake"), "silver_private"]]}),
    );
    let fixtures = repo().join("fixtures");
    let local = run(vouch().current_dir(&fixtures).args([
        "scan",
        "--config",
        "vouch.toml",
        "--ids",
        "deleted_ids.txt",
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(local.code, 1, "{local:?}");
    let remote = run(moto.vouch().current_dir(&fixtures).args([
        "scan",
        "--config",
        "vouch.toml",
        "--ids",
        "deleted_ids.txt",
        "--format",
        "json",
        "-q",
        "--lake",
        "s3://analytics/silver_private",
    ]));
    assert_eq!(remote.code, 1, "{remote:?}");
    assert_eq!(comparable(remote.json()), comparable(local.json()));
    assert_eq!(remote.json()["lake"], "s3://analytics/silver_private");
    // Ranged reads only: far fewer bytes than the lake holds.
    let lake_bytes: u64 = walk(&repo().join("fixtures/lake"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let read = remote.json()["bytes_read"].as_u64().unwrap();
    assert!(read * 2 < lake_bytes, "read {read} of {lake_bytes} bytes");
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

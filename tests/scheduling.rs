//! The scheduling examples in `contrib/scheduling/` (a Kubernetes CronJob, a GitHub
//! Actions workflow, an Airflow DAG) and the `Dockerfile` they name: each parsed
//! (`tests/oracle/schedules.py`: PyYAML, and the DAG's AST without Airflow), its settings
//! checked against what vouch does with exit codes and secret files, and its command
//! lines run as local processes against the demo, next to the same `vouch nightly` run
//! directly. No container engine runs on the test machines, so the image is not built
//! here; its Dockerfile is checked against Cargo.toml and the manifests.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;

const DEMO_KEY: &str = "vouch-demo-subject-key-not-for-production";

/// `script` under /bin/sh in `cwd`, vouch first on the PATH, with `env`.
fn sh(script: &str, cwd: &Path, env: &[(&str, String)]) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_vouch")).parent().unwrap();
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(script).current_dir(cwd).env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    for var in ["VOUCH_SUBJECT_KEY", "VOUCH_CONFIG", "VOUCH_LOG", "RUST_LOG"] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

/// The statuses of a nightly report's checks, by name (but schema_changes, which holds
/// the night against the previous one in the history the runs share).
fn statuses(dir: &Path) -> Vec<(String, String)> {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] != "schema_changes")
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every stderr line of `--log-format json` is a JSON object; the last is the exit line.
fn json_log_ends_with_exit(stderr: &str, code: i32) {
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let last = lines.last().expect("a log line");
    assert_eq!(last["event"], "exit", "{stderr}");
    assert_eq!(last["exit_code"], code, "{stderr}");
}

#[test]
fn scheduling_examples_run_as_local_processes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let demo = vouch::ops::demo::write(&d.join("demo")).unwrap();
    let cfg = demo.config.display().to_string();
    let as_of = vouch::domain::report::rfc3339(demo.as_of);
    let night = as_of[..10].to_string();
    let s = oracle(
        "schedules.py",
        &serde_json::json!({"root": repo().display().to_string(), "night": night, "as_of": as_of}),
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();

    // The reference: the same nightly, run directly, for tonight and for the demo's night.
    let direct = |args: &[&str], out: &str| {
        sh(
            &format!(
                "vouch nightly --config '{cfg}' --out '{out}' {}",
                args.join(" ")
            ),
            d,
            &[],
        )
    };
    let tonight = direct(&[], "ref-tonight");
    assert!(tonight.code <= 2, "{tonight:?}");
    let demo_night = direct(&["--as-of", &as_of], "ref-night");
    assert_eq!(
        demo_night.code, 1,
        "the demo has planted violations: {demo_night:?}"
    );

    // Kubernetes: exit 1 fails the Job at once, exit 2 is retried; Never restarts in place.
    let k = &s["kubernetes"];
    assert_eq!(k["kind"], "CronJob");
    assert_eq!(k["restart_policy"], "Never", "podFailurePolicy needs it");
    assert_eq!(k["concurrency"], "Forbid");
    let action = |code: i64| {
        k["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["codes"].as_array().unwrap().contains(&code.into()))
            .map(|r| {
                assert_eq!(r["container"], k["container"]);
                r["action"].as_str().unwrap().to_string()
            })
    };
    assert_eq!(action(1).as_deref(), Some("FailJob"));
    assert_eq!(action(2).as_deref(), Some("Count"));
    assert_eq!(action(0), None);
    // Secrets: 0440, group fsGroup, which is the image's user: readable by vouch only.
    assert_eq!(k["secret_mode"], 0o440);
    assert_eq!(k["fs_group"], k["run_as_user"]);
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let uid = k["run_as_user"].as_u64().unwrap();
    assert!(
        docker.contains(&format!("USER {uid}:{uid}")),
        "the Dockerfile's user is the CronJob's runAsUser"
    );
    // Its script, with the demo's config mounted as the CronJob mounts it: the key files
    // as Kubernetes leaves them (0440, the process's group) are read.
    let mounted = d.join("mounted");
    let secrets = mounted.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("subject.key"), format!("{DEMO_KEY}\n")).unwrap();
    let demo_dir = demo.config.parent().unwrap();
    std::fs::copy(
        demo_dir.join("keys/vouch-demo"),
        secrets.join("signing-key"),
    )
    .unwrap();
    for f in ["subject.key", "signing-key"] {
        std::fs::set_permissions(secrets.join(f), std::fs::Permissions::from_mode(0o440)).unwrap();
    }
    let text = std::fs::read_to_string(&demo.config)
        .unwrap()
        .replace(
            &format!("subject_key = \"{DEMO_KEY}\""),
            &format!(
                "subject_key_file = \"{}\"",
                secrets.join("subject.key").display()
            ),
        )
        .replace(
            "signing_key = \"keys/vouch-demo\"",
            &format!(
                "signing_key = \"{}\"",
                secrets.join("signing-key").display()
            ),
        );
    assert!(text.contains("subject_key_file") && text.contains("secrets/signing-key"));
    let k8s_cfg = demo_dir.join("k8s.toml");
    std::fs::write(&k8s_cfg, text).unwrap();
    let env_of = |v: &serde_json::Value, reports: &Path, config: &Path| {
        let mut e: Vec<(&str, String)> = Vec::new();
        for (name, _) in v.as_object().unwrap() {
            let value = match name.as_str() {
                "VOUCH_CONFIG" => config.display().to_string(),
                "VOUCH_REPORTS" => reports.display().to_string(),
                _ => continue,
            };
            e.push((Box::leak(name.clone().into_boxed_str()), value));
        }
        e
    };
    let reports = d.join("k8s-reports");
    let r = sh(
        k["script"].as_str().unwrap(),
        d,
        &env_of(&k["env"], &reports, &k8s_cfg),
    );
    assert_eq!(r.code, tonight.code, "{r:?}");
    json_log_ends_with_exit(&r.stderr, r.code);
    assert_eq!(
        statuses(&reports.join(&today)),
        statuses(&d.join("ref-tonight"))
    );
    // The Kubernetes default, 0644: refused (exit 2, retried), naming the file.
    std::fs::set_permissions(
        secrets.join("subject.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let r = sh(
        k["script"].as_str().unwrap(),
        d,
        &env_of(&k["env"], &d.join("k8s-loose"), &k8s_cfg),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("subject.key: secret file is readable by others"),
        "{r:?}"
    );
    // A config that is not there: exit 2, which the CronJob retries.
    let r = sh(
        k["script"].as_str().unwrap(),
        d,
        &env_of(&k["env"], &d.join("k8s-none"), &d.join("nowhere.toml")),
    );
    assert_eq!(r.code, 2, "{r:?}");
    json_log_ends_with_exit(&r.stderr, 2);

    // GitHub Actions: the install step is the README's kind of install; the key step
    // writes a 0600 file; the nightly step is the direct run, and records the night.
    let g = &s["github"];
    let steps = g["steps"].as_array().unwrap();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    };
    assert!(
        step("install vouch")["run"]
            .as_str()
            .unwrap()
            .starts_with("cargo install --locked ")
    );
    assert_eq!(
        g["upload_always"], true,
        "the report is kept when the run fails"
    );
    let runner_temp = d.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let key = std::fs::read_to_string(demo_dir.join("keys/vouch-demo")).unwrap();
    let r = sh(
        step("signing key")["run"].as_str().unwrap(),
        d,
        &[
            ("RUNNER_TEMP", runner_temp.display().to_string()),
            ("VOUCH_SIGNING_KEY", key.trim_end().to_string()),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let written = runner_temp.join("vouch/signing-key");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), key);
    assert_eq!(
        std::fs::metadata(&written).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        step("nightly")["secret_env"],
        serde_json::json!(["VOUCH_SUBJECT_KEY"])
    );
    let gh_out = d.join("github-output");
    let gh_reports = d.join("gh-reports");
    let mut env = env_of(&g["env"], &gh_reports, &demo.config);
    env.push(("GITHUB_OUTPUT", gh_out.display().to_string()));
    env.push(("VOUCH_SUBJECT_KEY", DEMO_KEY.to_string()));
    let r = sh(step("nightly")["run"].as_str().unwrap(), d, &env);
    assert_eq!(r.code, tonight.code, "a nonzero exit fails the run: {r:?}");
    json_log_ends_with_exit(&r.stderr, r.code);
    assert_eq!(
        std::fs::read_to_string(&gh_out).unwrap(),
        format!("night={today}\n")
    );
    assert_eq!(
        statuses(&gh_reports.join(&today)),
        statuses(&d.join("ref-tonight"))
    );

    // Airflow: the DAG's night (data_interval_end) is --as-of: the demo's night.
    let a = &s["airflow"];
    assert_eq!(a["append_env"], true, "PATH and AWS settings reach vouch");
    assert!(a["retries"].as_u64().unwrap() >= 1);
    let af_reports = d.join("af-reports");
    let r = sh(
        a["script"].as_str().unwrap(),
        d,
        &env_of(&a["env"], &af_reports, &demo.config),
    );
    assert_eq!(r.code, 1, "a violation fails the task: {r:?}");
    json_log_ends_with_exit(&r.stderr, 1);
    assert_eq!(
        statuses(&af_reports.join(&night)),
        statuses(&d.join("ref-night"))
    );
}

/// The image: built on the minimum supported Rust, with the locked dependencies, only
/// the vouch binary, run as an unprivileged user.
#[test]
fn the_dockerfile_matches_the_package() {
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap();
    let froms: Vec<&str> = docker.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with(&format!("FROM rust:{msrv}-")),
        "{froms:?}"
    );
    assert!(docker.contains("cargo build --release --locked --bin vouch"));
    assert!(docker.contains("COPY --from=build /usr/local/bin/vouch /usr/local/bin/vouch"));
    let user = docker
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .unwrap();
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target"),
        "the build context leaves target/ out"
    );
    // Every manifest in contrib/ names an image this Dockerfile builds.
    for dir in ["contrib/kubernetes", "contrib/scheduling"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            for l in text
                .lines()
                .filter(|l| l.trim_start().starts_with("image:"))
            {
                assert!(l.contains("/vouch:"), "{}: {l}", p.display());
            }
        }
    }
}

/// The README's five-minute tour runs as written (its commands, in a fresh directory,
/// with vouch and the Debian age on the PATH): no step fails to run (exit 2), and the
/// last, a certificate's verification, passes.
#[test]
fn the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let tour = readme
        .split("## A five-minute tour")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README has a tour");
    let mut script = String::from(
        "set -u\nrun() { \"$@\"; rc=$?; [ $rc -le 1 ] || { echo \"tour: exit $rc: $*\" >&2; exit 9; }; }\n",
    );
    for line in tour.lines() {
        // Each vouch step through `run`: exit 0 or 1 (a finding) goes on, 2 stops the tour.
        let t = line.trim_start();
        if t.starts_with("vouch ") && !t.ends_with('\\') && !line.contains("&&") {
            script.push_str(&format!("run {line}\n"));
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    let t = tempfile::tempdir().unwrap();
    let r = sh(&script, t.path(), &[]);
    assert_eq!(r.code, 0, "{script}\n{r:?}");
    assert!(r.stdout.contains("VERIFIED: request D-1000"), "{r:?}");
    assert!(r.stdout.contains("RESIDUAL: "), "{r:?}");
    assert!(r.stdout.contains("(ID 5002)"), "--show-ids: {r:?}");
    assert!(t.path().join("tour/a-1.zip").exists());
    assert!(t.path().join("tour/night/report.html").exists());
}

/// The MSRV Cargo.toml declares (and the README and the Dockerfile's builder state) is
/// no older than any locked dependency's own `rust-version`: `cargo install --locked`
/// on the declared toolchain builds. (1.88 was declared while polars' sysinfo needed
/// 1.95.)
#[test]
fn the_declared_msrv_covers_the_locked_dependencies() {
    // The packages built here, for this machine's target: a fresh machine has fetched
    // only those (another platform's, such as android_system_properties, are not there
    // offline).
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8(rustc.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = |s: &str| -> Vec<u64> { s.split('.').map(|x| x.parse().unwrap()).collect() };
    let in_build: std::collections::BTreeSet<&str> = m["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let mut ours = None;
    let mut needed = (vec![0], String::new());
    for p in m["packages"].as_array().unwrap() {
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        if p["name"] == "vouch" {
            ours = Some(rv.to_string());
        } else if in_build.contains(p["id"].as_str().unwrap()) && version(rv) > needed.0 {
            needed = (
                version(rv),
                format!("{} {} needs {rv}", p["name"], p["version"]),
            );
        }
    }
    let ours = ours.expect("Cargo.toml declares rust-version");
    assert!(
        version(&ours) >= needed.0,
        "rust-version {ours}, but {}",
        needed.1
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust {ours} or newer")),
        "the README states the MSRV"
    );
}

/// `cargo install --locked --path .` installs `vouch` alone: every other binary target
/// needs a feature the install does not turn on.
#[test]
fn cargo_install_installs_one_binary() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bins: Vec<(String, bool)> = m["packages"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["required-features"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()),
            )
        })
        .collect();
    let installed: Vec<&str> = bins
        .iter()
        .filter(|(_, gated)| !gated)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(installed, ["vouch"], "{bins:?}");
    let default = m["packages"][0]["features"]["default"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        default.iter().all(|f| f != "dev-tools"),
        "dev-tools is not a default feature"
    );
}

//! Sharded scans: plan + N shards + merge give byte for byte the report of one scan
//! (N in {1, 2, 7}, on the fixtures with legal holds, random lakes and a bench lake); a
//! dropped, duplicated, foreign or stale part is refused; files changed after the plan
//! are errors, never clean; the Kubernetes and AWS Batch manifests' command lines work.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

const KEY: &str = "shard-test-subject-key-0123456789";

/// `vouch` in `dir` with the subject key.
fn v(dir: &Path) -> Command {
    let mut c = vouch();
    c.current_dir(dir).env("VOUCH_SUBJECT_KEY", KEY);
    c
}

/// Runs a command, returning (exit code, stdout, stderr).
fn go(c: &mut Command) -> (i32, String, String) {
    let r = run(c);
    (r.code, r.stdout, r.stderr)
}

/// The single scan's JSON report, and plan + N shards + merge's, for `scan` arguments.
fn single_and_merged(dir: &Path, scan: &[&str], n: usize) -> (i32, String, i32, String) {
    let (single_code, single, err) = go(v(dir)
        .arg("scan")
        .args(scan)
        .args(["--format", "json", "-q"]));
    assert!(single_code <= 2 && !single.is_empty(), "{err}");
    let lake_args = lake_args(scan);
    let (code, _, err) = go(v(dir)
        .args(["scan", "plan", "--out", "plan.jsonl", "--force"])
        .args(&lake_args));
    assert_eq!(code, 0, "{err}");
    let parts: Vec<String> = (0..n).map(|i| format!("part-{i}-of-{n}.json")).collect();
    for (i, p) in parts.iter().enumerate() {
        let (code, out, err) = go(v(dir)
            .arg("scan")
            .args(scan)
            .args(["--files-from", "plan.jsonl", "--shard", &format!("{i}/{n}")])
            .args(["--out", p, "--force"]));
        assert!(code <= 1, "part {i}/{n}: {err}");
        assert!(out.is_empty(), "a part with --out prints nothing on stdout");
        assert!(err.contains("not a verdict"), "{err}");
    }
    let (merged_code, merged, err) = go(v(dir)
        .args(["scan", "merge", "--plan", "plan.jsonl", "--format", "json"])
        .args(&parts));
    assert!(merged_code <= 2, "{err}");
    (single_code, single, merged_code, merged)
}

/// Equal texts, or the first line where they differ.
fn assert_same(single: &str, merged: &str, what: &str) {
    if single != merged {
        let at = single
            .lines()
            .zip(merged.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(single.lines().count().min(merged.lines().count()));
        panic!(
            "{what}: the merged report differs from the single scan's at line {}: {:?} vs {:?}",
            at + 1,
            single.lines().nth(at),
            merged.lines().nth(at)
        );
    }
}

/// The arguments of `scan` that say where the lake is (for `scan plan`).
fn lake_args<'a>(scan: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for w in scan.windows(2) {
        if ["--lake", "--config"].contains(&w[0]) {
            out.extend([w[0], w[1]]);
        }
    }
    out
}

const FIXTURE: [&str; 4] = ["--config", "vouch.toml", "--ids", "deleted_ids.txt"];

#[test]
fn shards_merge_into_the_single_scan_report_byte_for_byte() {
    // The fixtures: five tables, legal holds, residual subjects.
    let fx = fixture_copy();
    for n in [1, 2, 7] {
        let (sc, single, mc, merged) = single_and_merged(fx.path(), &FIXTURE, n);
        assert_same(&single, &merged, &format!("fixtures, N={n}"));
        assert_eq!((sc, mc), (1, 1));
        let r: serde_json::Value = serde_json::from_str(&merged).unwrap();
        assert!(
            r["held_rows"].as_u64().unwrap() > 0,
            "the fixtures hold rows"
        );
        assert!(r["plan_fingerprint"].is_string() && r["subjects_fingerprint"].is_string());
    }
    // Random lakes: every identifier type, one or two columns, 1 to 3 files per table.
    for seed in [3u64, 11, 29] {
        let dir = tempfile::tempdir().unwrap();
        let lake = vouch::dev::fixtures::random_lake(&dir.path().join("lake"), seed).unwrap();
        std::fs::write(dir.path().join("vouch.toml"), config_for(&lake)).unwrap();
        std::fs::write(dir.path().join("ids.txt"), lake.ids.join("\n")).unwrap();
        let scan = [
            "--lake",
            "lake",
            "--config",
            "vouch.toml",
            "--ids",
            "ids.txt",
        ];
        for n in [1, 2, 7] {
            let (sc, single, mc, merged) = single_and_merged(dir.path(), &scan, n);
            assert_same(&single, &merged, &format!("seed {seed}, N={n}"));
            assert_eq!(sc, mc);
        }
    }
    // A bench lake: many files, bloom filters, statistics; and with the subject index.
    let dir = tempfile::tempdir().unwrap();
    let lake = vouch::dev::fixtures::bench_lake(dir.path(), 120_000, 42).unwrap();
    std::fs::write(dir.path().join("ids.txt"), lake.ids.join("\n")).unwrap();
    let bloom = lake.bloom.display().to_string();
    let (code, _, err) =
        go(v(dir.path()).args(["index", "build", "--lake", &bloom, "--index", "ix"]));
    assert_eq!(code, 0, "{err}");
    for scan in [
        vec!["--lake", bloom.as_str(), "--ids", "ids.txt"],
        vec![
            "--lake",
            bloom.as_str(),
            "--ids",
            "ids.txt",
            "--index",
            "ix",
        ],
        vec![
            "--lake",
            bloom.as_str(),
            "--ids",
            "ids.txt",
            "--no-statistics",
        ],
    ] {
        for n in [1, 2, 7] {
            let (sc, single, mc, merged) = single_and_merged(dir.path(), &scan, n);
            assert_same(&single, &merged, &format!("{scan:?}, N={n}"));
            assert_eq!(sc, mc);
            let plan = std::fs::read_to_string(dir.path().join("plan.jsonl")).unwrap();
            assert!(
                plan.lines().count() > 7,
                "the bench lake has more files than shards"
            );
        }
    }
}

/// With `--custody`, a single scan and plan + shards + merge write the same custody file
/// and the same report; the report names the file by SHA-256 and line count and leaves
/// `objects` empty; the lines are the objects of the report made without `--custody`, with
/// what was decided of each, an unreadable file's error included.
#[test]
fn custody_files_of_a_single_scan_and_a_merge_are_the_same_bytes() {
    let fx = fixture_copy();
    let d = fx.path();
    // An unreadable file: its line carries the error.
    std::fs::write(d.join("lake/events/broken.parquet"), b"PAR1 not parquet").unwrap();
    let json = |extra: &[&str]| {
        let (code, out, err) = go(v(d)
            .arg("scan")
            .args(FIXTURE)
            .args(["--format", "json", "-q"])
            .args(extra));
        assert_eq!(code, 2, "{err}");
        out
    };
    let plain: serde_json::Value = serde_json::from_str(&json(&[])).unwrap();
    std::fs::create_dir_all(d.join("s")).unwrap();
    std::fs::create_dir_all(d.join("m")).unwrap();
    let single = json(&["--custody", "s/custody.jsonl"]);
    // Plan, three parts, merge with its own custody file.
    let (code, _, err) = go(v(d)
        .args(["scan", "plan", "--out", "plan.jsonl"])
        .args(lake_args(&FIXTURE)));
    assert_eq!(code, 0, "{err}");
    let mut parts = Vec::new();
    for i in 0..3 {
        let name = format!("part-{i}.json");
        let (code, _) = part(
            &mut v(d),
            &FIXTURE,
            "plan.jsonl",
            &format!("{i}/3"),
            &d.join(&name),
        );
        assert!(code <= 2);
        parts.push(name);
    }
    let (code, merged, err) = go(v(d)
        .args([
            "scan",
            "merge",
            "--plan",
            "plan.jsonl",
            "--format",
            "json",
            "-q",
        ])
        .args(["--custody", "m/custody.jsonl"])
        .args(&parts));
    assert_eq!(code, 2, "{err}");
    assert_same(&single, &merged, "with --custody");
    let s_bytes = std::fs::read(d.join("s/custody.jsonl")).unwrap();
    assert_eq!(
        s_bytes,
        std::fs::read(d.join("m/custody.jsonl")).unwrap(),
        "the same custody file from one scan and from a merge"
    );
    let r: serde_json::Value = serde_json::from_str(&single).unwrap();
    assert_eq!(r["objects"], serde_json::json!([]));
    assert_eq!(r["custody"]["file"], "custody.jsonl");
    assert_eq!(r["custody"]["sha256"], sha256_hex(&s_bytes));
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&s_bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(r["custody"]["records"], lines.len() as u64);
    // The lines are the objects a report without --custody holds, in its order.
    let objects = plain["objects"].as_array().unwrap();
    assert_eq!(objects.len(), lines.len());
    for (o, l) in objects.iter().zip(&lines) {
        for k in ["file", "size", "etag", "version_id", "footer_sha256"] {
            let set = |v: &serde_json::Value| v.get(k).filter(|x| !x.is_null()).cloned();
            assert_eq!(set(o), set(l), "{k}: {o} vs {l}");
        }
    }
    let broken: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["file"].as_str().unwrap().ends_with("broken.parquet"))
        .collect();
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0]["error"].is_string() && broken[0]["rows"].is_null(),
        "{}",
        broken[0]
    );
    let read: u64 = lines.iter().filter(|l| l["error"].is_null()).count() as u64;
    assert_eq!(read, r["files_scanned"].as_u64().unwrap());
    let rows: u64 = lines.iter().filter_map(|l| l["rows"].as_u64()).sum();
    assert_eq!(rows, r["rows_scanned"].as_u64().unwrap());
    // Beside custody and objects, the report is the one made without --custody.
    let bare = |mut v: serde_json::Value| {
        for k in ["objects", "custody", "authentication"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(bare(r.clone()), bare(plain));
    // The text report names it.
    let (_, text, _) = go(v(d)
        .arg("scan")
        .args(FIXTURE)
        .args(["--custody", "t.jsonl", "-q"]));
    assert!(
        text.contains(&format!(
            "custody t.jsonl: {} object(s), SHA-256 ",
            lines.len()
        )),
        "{text}"
    );
    // An existing custody file is kept unless --force; --out and --custody differ; a part
    // carries its files to the merge.
    let (code, _, err) = go(v(d)
        .arg("scan")
        .args(FIXTURE)
        .args(["--custody", "s/custody.jsonl"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("s/custody.jsonl") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(d.join("s/custody.jsonl")).unwrap(), s_bytes);
    let (code, _, err) =
        go(v(d)
            .arg("scan")
            .args(FIXTURE)
            .args(["--custody", "s/custody.jsonl", "--force", "-q"]));
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        std::fs::read(d.join("s/custody.jsonl")).unwrap(),
        s_bytes,
        "a rerun writes the same bytes"
    );
    let (code, _, err) =
        go(v(d)
            .arg("scan")
            .args(FIXTURE)
            .args(["--custody", "x.json", "--out", "./x.json"]));
    assert_eq!(code, 2);
    assert!(err.contains("the same file"), "{err}");
    assert!(!d.join("x.json").exists());
    let (code, _, err) = go(v(d).arg("scan").args(FIXTURE).args([
        "--files-from",
        "plan.jsonl",
        "--custody",
        "y.jsonl",
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--custody") && err.contains("--files-from"),
        "{err}"
    );
    assert!(!d.join("y.jsonl").exists());
}

#[test]
fn any_split_of_the_plan_through_stdin_merges_the_same() {
    let fx = fixture_copy();
    let d = fx.path();
    let (_, single, _) = go(v(d)
        .arg("scan")
        .args(FIXTURE)
        .args(["--format", "json", "-q"]));
    let (code, plan, _) = go(v(d).args(["scan", "plan", "--config", "vouch.toml"]));
    assert_eq!(code, 0);
    std::fs::write(d.join("plan.jsonl"), &plan).unwrap();
    // Odd and even file lines, without the header, through stdin.
    let lines: Vec<&str> = plan.lines().skip(1).collect();
    for (k, name) in [(0, "odd.json"), (1, "even.json")] {
        let subset: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == k)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let r = run_with_stdin(
            v(d).arg("scan")
                .args(FIXTURE)
                .args(["--files-from", "-", "--out", name, "-q"]),
            subset.as_bytes(),
        );
        assert!(r.code <= 1, "{r:?}");
    }
    let (_, merged, _) = go(v(d).args([
        "scan",
        "merge",
        "odd.json",
        "even.json",
        "--plan",
        "plan.jsonl",
        "--format",
        "json",
    ]));
    assert_same(&single, &merged, "stdin split");
    // Without --out, the part goes to stdout (what a Spark executor collects).
    let (_, part, _) =
        go(v(d)
            .arg("scan")
            .args(FIXTURE)
            .args(["--files-from", "plan.jsonl", "-q"]));
    let p: serde_json::Value = serde_json::from_str(&part).unwrap();
    assert_eq!(p["vouch_partial"], 1);
    assert_eq!(p["files"].as_array().unwrap().len(), lines.len());
    // A part names subjects only by keyed hash; no raw ID appears.
    for id in std::fs::read_to_string(d.join("deleted_ids.txt"))
        .unwrap()
        .lines()
    {
        let id = id.trim();
        if !id.is_empty() && !id.starts_with('#') {
            assert!(
                !holds_token(&part, id),
                "a raw subject ID in a partial report"
            );
        }
    }
}

/// `vouch scan plan` of the fixture config in `d`, to `out`.
fn plan_fixtures(d: &Path, out: &str) {
    let (code, _, err) = go(v(d).args([
        "scan",
        "plan",
        "--config",
        "vouch.toml",
        "--out",
        out,
        "--force",
    ]));
    assert_eq!(code, 0, "{err}");
}

/// A part: `vouch scan SCAN --files-from PLAN [--shard SHARD] --out OUT` (exit code, stderr).
fn part(c: &mut Command, scan: &[&str], plan: &str, shard: &str, out: &Path) -> (i32, String) {
    c.arg("scan").args(scan).args(["--files-from", plan]);
    if !shard.is_empty() {
        c.args(["--shard", shard]);
    }
    // Reruns write the same part: --force replaces it.
    let (code, _, err) = go(c.arg("--out").arg(out).arg("--force"));
    (code, err)
}

/// Plan and three shards of the fixtures in `d`: the part paths.
fn three_parts(d: &Path) -> Vec<PathBuf> {
    plan_fixtures(d, "plan.jsonl");
    (0..3)
        .map(|i| {
            let p = d.join(format!("part-{i}.json"));
            let (code, err) = part(&mut v(d), &FIXTURE, "plan.jsonl", &format!("{i}/3"), &p);
            assert!(code <= 1, "{err}");
            p
        })
        .collect()
}

fn merge(d: &Path, parts: &[PathBuf]) -> (i32, String, String) {
    go(v(d)
        .args(["scan", "merge", "--plan", "plan.jsonl", "--format", "json"])
        .args(parts))
}

/// The merge streams the plan and the parts: each thing it takes on trust until their end
/// (order, completeness, the parts' own bytes) is tried here with a part that lies.
#[test]
fn a_streamed_merge_is_not_fooled_by_order_cuts_padding_or_reformatting() {
    let fx = fixture_copy();
    let d = fx.path();
    let parts = three_parts(d);
    let (code, single, err) = merge(d, &parts);
    assert_eq!(code, 1, "{err}");
    let refused = |parts: &[PathBuf], want: &str| {
        let (code, out, err) = merge(d, parts);
        assert_eq!(code, 2, "{want}: {err}");
        assert!(out.is_empty(), "{want}: no report");
        assert!(err.contains(want), "{want}: {err}");
    };
    let plan = std::fs::read_to_string(d.join("plan.jsonl")).unwrap();
    let lines: Vec<&str> = plan.lines().skip(1).collect();
    assert!(lines.len() >= 4, "the fixtures have files enough");
    let stdin_part = |subset: &[&str], name: &str| {
        let text: String = subset.iter().map(|l| format!("{l}\n")).collect();
        let r = run_with_stdin(
            v(d).arg("scan").args(FIXTURE).args([
                "--files-from",
                "-",
                "--out",
                name,
                "--force",
                "-q",
            ]),
            text.as_bytes(),
        );
        assert!(r.code <= 1, "{r:?}");
        d.join(name)
    };

    // Every file, in the plan's order reversed: the part is authentic, but cannot be
    // streamed; refused, naming the part and the rule, not merged wrongly.
    let reversed: Vec<&str> = lines.iter().rev().copied().collect();
    let rev = stdin_part(&reversed, "reversed.json");
    refused(&[rev], "reversed.json: covers");
    refused(
        &[stdin_part(&reversed, "reversed.json")],
        "a part lists its files in the plan's order",
    );

    // The same part, in the plan's order, merges to the single report.
    let whole = stdin_part(&lines, "whole.json");
    let (code, merged, err) = merge(d, std::slice::from_ref(&whole));
    assert_eq!(code, 1, "{err}");
    assert_same(&single, &merged, "one part of every line");

    // Reformatted by another tool (keys sorted, indented): still authentic, merged the
    // same (read whole, as it is not in vouch's order).
    let v0: serde_json::Value = serde_json::from_slice(&std::fs::read(&parts[0]).unwrap()).unwrap();
    let pretty = d.join("pretty.json");
    std::fs::write(&pretty, serde_json::to_string_pretty(&v0).unwrap()).unwrap();
    let (code, merged, err) = merge(d, &[pretty, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, 1, "{err}");
    assert_same(&single, &merged, "a part reformatted");

    // Cut anywhere (a copy that stopped): refused naming it, at any length.
    let bytes = std::fs::read(&whole).unwrap();
    let cut = d.join("cut.json");
    for at in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 3] {
        std::fs::write(&cut, &bytes[..at]).unwrap();
        refused(std::slice::from_ref(&cut), "cut.json: ");
    }
    // Something after it, or a file's entry repeated inside it.
    let padded = d.join("padded.json");
    let mut more = bytes.clone();
    more.extend_from_slice(b"{}\n");
    std::fs::write(&padded, &more).unwrap();
    refused(
        std::slice::from_ref(&padded),
        "padded.json: not a vouch partial report",
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    let start = text.find("\"files\":[").unwrap() + "\"files\":[".len();
    let first_entry_end = {
        let mut depth = 0;
        let mut end = start;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        end
    };
    let entry = &text[start..first_entry_end];
    let doubled = format!("{}{entry},{}", &text[..start], &text[start..]);
    let twice = d.join("twice.json");
    std::fs::write(&twice, doubled).unwrap();
    refused(
        std::slice::from_ref(&twice),
        "twice.json: its authentication does not match",
    );

    // A plan whose lines were moved between tables no longer streams: refused.
    let mut header_and_lines: Vec<&str> = plan.lines().collect();
    let last = header_and_lines.pop().unwrap();
    header_and_lines.insert(1, last);
    let moved = header_and_lines.join("\n") + "\n";
    let tables: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["table"].to_string())
        .collect();
    if tables.len() > 1 {
        std::fs::write(d.join("plan.jsonl"), moved).unwrap();
        refused(&parts, "plan.jsonl: ");
        std::fs::write(d.join("plan.jsonl"), &plan).unwrap();
    }
    // A shard of a plan given through a pipe (a path that cannot be read twice) is the
    // shard of the plan file.
    let r = run_with_stdin(
        v(d).arg("scan").args(FIXTURE).args([
            "--files-from",
            "/dev/stdin",
            "--shard",
            "1/3",
            "--out",
            "piped.json",
            "--force",
            "-q",
        ]),
        plan.as_bytes(),
    );
    assert!(r.code <= 1, "{r:?}");
    let names = |p: &Path| -> Vec<String> {
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        j["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&d.join("piped.json")), names(&parts[1]));
    // Nothing was left behind by the refusals but what the test wrote.
    let (code, _, _) = merge(d, &parts);
    assert_eq!(code, 1);
}

#[test]
fn a_dropped_duplicated_or_foreign_part_is_refused() {
    let fx = fixture_copy();
    let d = fx.path();
    let parts = three_parts(d);
    let (code, _, _) = merge(d, &parts);
    assert_eq!(code, 1, "the fixtures have residual rows");

    // A shard dropped: every missing file counted, exit 2, no report.
    let non_empty: Vec<&PathBuf> = parts
        .iter()
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("\"result\""))
        .collect();
    let dropped: Vec<PathBuf> = parts
        .iter()
        .filter(|p| *p != non_empty[0])
        .cloned()
        .collect();
    let (code, out, err) = merge(d, &dropped);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("in no part") && err.contains("merge refused"),
        "{err}"
    );

    // A shard given twice.
    let mut twice = parts.clone();
    twice.push(non_empty[0].clone());
    let (code, _, err) = merge(d, &twice);
    assert_eq!(code, 2);
    assert!(err.contains("covered twice"), "{err}");

    // A part scanned for another subject list.
    std::fs::write(d.join("other_ids.txt"), "someone-else\n").unwrap();
    let other = d.join("other.json");
    let other_scan = ["--config", "vouch.toml", "--ids", "other_ids.txt"];
    let (code, err) = part(&mut v(d), &other_scan, "plan.jsonl", "0/3", &other);
    assert!(code <= 1, "{err}");
    let mixed = vec![other.clone(), parts[1].clone(), parts[2].clone()];
    let (code, _, err) = merge(d, &mixed);
    assert_eq!(code, 2);
    assert!(err.contains("another subject list"), "{err}");
    // ... and with the right list's fingerprint copied over it, or its counts edited: the
    // part's authentication no longer matches (issue 16, item 7).
    let right: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&parts[0]).unwrap()).unwrap();
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&other).unwrap()).unwrap();
    forged["subjects_fingerprint"] = right["subjects_fingerprint"].clone();
    forged["subjects"] = right["subjects"].clone();
    std::fs::write(&other, forged.to_string()).unwrap();
    let (code, _, err) = merge(d, &mixed);
    assert_eq!(code, 2);
    assert!(
        err.contains("other.json: its authentication does not match"),
        "{err}"
    );
    let mut zeroed = right.clone();
    for f in zeroed["files"].as_array_mut().unwrap() {
        if let Some(r) = f.get_mut("result") {
            r["matching_rows"] = 0.into();
            r["subjects"] = serde_json::json!([]);
        }
    }
    let zeroed_path = d.join("zeroed.json");
    std::fs::write(&zeroed_path, zeroed.to_string()).unwrap();
    let (code, _, err) = merge(d, &[zeroed_path, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("zeroed.json: its authentication does not match"),
        "{err}"
    );

    // A part scanned with another subject key (the same IDs): refused too.
    let rekeyed = d.join("rekeyed.json");
    let mut rekey = v(d);
    rekey.env("VOUCH_SUBJECT_KEY", "another-subject-key-9876543210");
    let (code, _) = part(&mut rekey, &FIXTURE, "plan.jsonl", "0/3", &rekeyed);
    assert!(code <= 1);
    let (code, _, err) = merge(d, &[rekeyed, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("rekeyed.json: its authentication does not match"),
        "{err}"
    );

    // A part scanned without the legal-hold table.
    let no_holds = d.join("no_holds.json");
    std::fs::write(
        d.join("noholds.toml"),
        std::fs::read_to_string(d.join("vouch.toml"))
            .unwrap()
            .replace("data_retention_policy", "# data_retention_policy"),
    )
    .unwrap();
    let no_holds_scan = ["--config", "noholds.toml", "--ids", "deleted_ids.txt"];
    let (code, _) = part(&mut v(d), &no_holds_scan, "plan.jsonl", "1/3", &no_holds);
    assert!(code <= 2);
    let (code, _, err) = merge(d, &[parts[0].clone(), no_holds, parts[2].clone()]);
    assert_eq!(code, 2);
    assert!(err.contains("another legal holds"), "{err}");

    // A part of another plan: a file added to the lake, planned again.
    let events = d.join("lake/events");
    let first = std::fs::read_dir(&events)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap();
    let src = std::fs::read_dir(&first)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::copy(&src, first.join("added.parquet")).unwrap();
    plan_fixtures(d, "plan2.jsonl");
    let newer = d.join("newer.json");
    let (code, _) = part(&mut v(d), &FIXTURE, "plan2.jsonl", "0/3", &newer);
    assert!(code <= 1);
    let (code, _, err) = merge(d, &[newer, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, 2);
    assert!(err.contains("another plan"), "{err}");

    // A plan edited after it was made.
    let plan = std::fs::read_to_string(d.join("plan.jsonl")).unwrap();
    std::fs::write(
        d.join("plan.jsonl"),
        plan.replacen("\"size\":", "\"size\":1", 1),
    )
    .unwrap();
    let (code, _, err) = merge(d, &parts);
    assert_eq!(code, 2);
    assert!(err.contains("changed after it was made"), "{err}");
    std::fs::write(d.join("plan.jsonl"), &plan).unwrap();

    // A part that is not JSON, or cut short.
    let cut = d.join("cut.json");
    let text = std::fs::read_to_string(&parts[0]).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let (code, _, err) = merge(d, &[cut, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cut.json") && err.contains("not a vouch partial report"),
        "{err}"
    );
    let (code, _, _) = merge(d, &parts);
    assert_eq!(code, 1, "the original parts still merge");
}

#[test]
fn files_changed_after_the_plan_are_errors_never_clean() {
    let fx = fixture_copy();
    let d = fx.path();
    let parts = three_parts(d);
    // Grow every file after planning, then scan again from the same plan.
    for p in files_below(&d.join("lake")) {
        if p.extension().is_some_and(|x| x == "parquet") {
            let mut b = std::fs::read(&p).unwrap();
            b.extend_from_slice(b"PAR1");
            std::fs::write(&p, b).unwrap();
        }
    }
    let (code, err) = part(&mut v(d), &FIXTURE, "plan.jsonl", "", &d.join("stale.json"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("changed since it was listed"), "{err}");
    let (code, out, _) = merge(d, &[d.join("stale.json")]);
    assert_eq!(code, 2);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["verdict"], "incomplete");
    assert_eq!(r["files_scanned"], 0);
    drop(parts);
    // A missing file is named too.
    std::fs::remove_dir_all(d.join("lake/events")).unwrap();
    let (code, err) = part(&mut v(d), &FIXTURE, "plan.jsonl", "", &d.join("gone.json"));
    assert_eq!(code, 2);
    assert!(
        err.contains("events/") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn parts_need_a_subject_key_and_a_sane_list() {
    let fx = fixture_copy();
    let d = fx.path();
    plan_fixtures(d, "plan.jsonl");
    let (code, _, err) = go(vouch()
        .current_dir(d)
        .env_remove("VOUCH_SUBJECT_KEY")
        .arg("scan")
        .args(FIXTURE)
        .args(["--files-from", "plan.jsonl"]));
    assert_eq!(code, 2);
    assert!(err.contains("needs a subject key"), "{err}");
    for (list, why) in [
        (
            "{\"plan\":\"x\",\"table\":\"t\",\"id_columns\":[\"user_id\"],\"file\":\"../../etc/p.parquet\",\"size\":9}\n",
            "unsafe file path",
        ),
        ("not json\n", "line 1 is not a plan file line"),
    ] {
        std::fs::write(d.join("bad.jsonl"), list).unwrap();
        let (code, _, err) = go(v(d)
            .arg("scan")
            .args(FIXTURE)
            .args(["--files-from", "bad.jsonl"]));
        assert_eq!(code, 2);
        assert!(err.contains(why) && err.contains("bad.jsonl"), "{err}");
    }
    for bad in ["3/3", "x", "1/0"] {
        let (code, _, err) =
            go(v(d)
                .arg("scan")
                .args(FIXTURE)
                .args(["--files-from", "plan.jsonl", "--shard", bad]));
        assert_eq!(code, 2);
        assert!(err.contains("--shard"), "{err}");
    }
    // --shard without a list is a usage error.
    let (code, _, _) = go(v(d).arg("scan").args(FIXTURE).args(["--shard", "0/2"]));
    assert_eq!(code, 2);
    // More shards than files: the empty shards still merge.
    let n = 12;
    let parts: Vec<String> = (0..n).map(|i| format!("p{i}.json")).collect();
    for (i, p) in parts.iter().enumerate() {
        let (code, err) = part(
            &mut v(d),
            &FIXTURE,
            "plan.jsonl",
            &format!("{i}/{n}"),
            &d.join(p),
        );
        assert!(code <= 1, "{err}");
    }
    let (code, merged, _) = go(v(d)
        .args(["scan", "merge", "--plan", "plan.jsonl", "--format", "json"])
        .args(&parts));
    assert_eq!(code, 1);
    let (_, single, _) = go(v(d)
        .arg("scan")
        .args(FIXTURE)
        .args(["--format", "json", "-q"]));
    assert_same(&single, &merged, "12 shards");
}

#[test]
fn the_kubernetes_and_aws_batch_steps_run_as_local_processes() {
    let steps = oracle(
        "manifests.py",
        &serde_json::json!({"root": repo().display().to_string()}),
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_vouch")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for platform in ["kubernetes", "aws-batch"] {
        let fx = fixture_copy();
        let d = fx.path();
        // The steps name the config by absolute path, so the lake's location is absolute.
        let (_, single, _) = go(v(d)
            .args(["scan", "--config"])
            .arg(d.join("vouch.toml"))
            .args(["--ids", "deleted_ids.txt", "--format", "json", "-q"]));
        let work = d.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let jobs = steps[platform].as_array().unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j["job"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["vouch-plan", "vouch-scan", "vouch-merge"],
            "{platform}"
        );
        // Each step's script as written, with the paths of this machine.
        let step = |job: &serde_json::Value, index: Option<usize>| {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(job["script"].as_str().unwrap());
            for (k, val) in job["env"].as_object().unwrap() {
                c.env(k, val.as_str().unwrap());
            }
            c.env("VOUCH_WORK", &work)
                .env("VOUCH_CONFIG", d.join("vouch.toml"))
                .env("VOUCH_IDS", d.join("deleted_ids.txt"))
                .env("VOUCH_SUBJECT_KEY", KEY)
                .env("PATH", &path)
                .current_dir(d);
            if let (Some(i), Some(var)) = (index, job["index_var"].as_str()) {
                c.env(var, i.to_string());
            }
            c
        };
        let (plan, scan, merge) = (&jobs[0], &jobs[1], &jobs[2]);
        let shards = scan["count"].as_u64().unwrap() as usize;
        assert_eq!(
            scan["env"]["SHARDS"].as_str().unwrap(),
            shards.to_string(),
            "{platform}: SHARDS must equal the number of copies"
        );
        assert!(scan["index_var"].is_string());
        // A stale part of an earlier run is removed by the plan step.
        std::fs::create_dir_all(work.join("parts")).unwrap();
        std::fs::write(work.join("parts/part-99.json"), "{}").unwrap();
        let (code, _, err) = go(&mut step(plan, None));
        assert_eq!(code, 0, "{platform} plan: {err}");
        // The shards as N concurrent processes.
        let children: Vec<_> = (0..shards)
            .map(|i| {
                step(scan, Some(i))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{platform} shard {i}: residual rows (exit 1) count as done: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (code, _, err) = go(&mut step(merge, None));
        assert_eq!(
            code, 1,
            "{platform} merge: the fixtures have residual rows: {err}"
        );
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(work.join("report.json")).unwrap()).unwrap();
        let single: serde_json::Value = serde_json::from_str(&single).unwrap();
        assert_eq!(
            report, single,
            "{platform}: the merged report is the single scan's"
        );
        // A shard that never ran: the merge refuses.
        let first = work.join("parts/part-0.json");
        std::fs::remove_file(&first).unwrap();
        std::fs::remove_file(work.join("report.json")).unwrap();
        let (code, _, err) = go(&mut step(merge, None));
        assert_eq!(code, 2, "{platform}: {err}");
        assert!(err.contains("merge refused"), "{err}");
        assert!(
            !work.join("report.json").exists(),
            "no report from a refused merge"
        );
    }
}

#[test]
fn nightly_takes_a_merged_report_and_certifies_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let demo = vouch::ops::demo::write(&dir.path().join("demo")).unwrap();
    let d = dir.path();
    let cfg = demo.config.display().to_string();
    let as_of = vouch::domain::report::rfc3339(demo.as_of);
    let nightly = |out: &str, extra: &[&str]| {
        go(vouch()
            .current_dir(d)
            .args(["nightly", "--config", &cfg, "--as-of", &as_of, "--out", out])
            .args(extra))
    };
    // The demo's nightly scan (it keeps the subject index in the demo dir up to date).
    let (code_a, _, err) = nightly("a", &[]);
    assert_eq!(code_a, 1, "the demo has planted violations: {err}");
    // The subjects it verified, for the shards.
    let (code, _, err) = go(vouch().current_dir(d).args([
        "nightly",
        "--config",
        &cfg,
        "--as-of",
        &as_of,
        "--write-subjects",
        "ids.txt",
    ]));
    assert_eq!(code, 0, "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("ids.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "raw subject IDs are for the owner only"
    );
    let index = demo
        .config
        .parent()
        .unwrap()
        .join("index")
        .display()
        .to_string();
    // Plan, three shards, merge; the key comes from the demo config.
    let merged = |ids: &str, name: &str| {
        let (code, _, err) = go(vouch().current_dir(d).args([
            "scan",
            "plan",
            "--config",
            &cfg,
            "--out",
            "plan.jsonl",
            "--force",
        ]));
        assert_eq!(code, 0, "{err}");
        let mut parts = Vec::new();
        for i in 0..3 {
            let part_name = format!("{name}-{i}.json");
            let scan = ["--config", &cfg, "--ids", ids, "--index", &index];
            let (code, err) = part(
                vouch().current_dir(d),
                &scan,
                "plan.jsonl",
                &format!("{i}/3"),
                &d.join(&part_name),
            );
            assert!(code <= 1, "{err}");
            parts.push(part_name);
        }
        // The report and its custody file side by side, as nightly expects them.
        std::fs::create_dir_all(d.join(name)).unwrap();
        let (code, _, err) = go(vouch()
            .current_dir(d)
            .args([
                "scan",
                "merge",
                "--config",
                &cfg,
                "--plan",
                "plan.jsonl",
                "--out",
                &format!("{name}/report.json"),
                "--custody",
                &format!("{name}/custody.jsonl"),
                "--force",
            ])
            .args(&parts));
        assert!(code <= 1, "{err}");
    };
    merged("ids.txt", "merged");
    let (code_b, _, err) = nightly("b", &["--scan-report", "merged/report.json"]);
    assert_eq!(code_b, code_a, "{err}");
    let report = |out: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(out).join("report.json")).unwrap()).unwrap()
    };
    let (a, b) = (report("a"), report("b"));
    assert_eq!(
        a["checks"][0], b["checks"][0],
        "deletion verification from the merged report"
    );
    assert_eq!(a["checks"][0]["check"], "deletion_verification");
    // The same signed certificates, byte for byte.
    let certs = |out: &str| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.join(out).join("certificates"))
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let (ca, cb) = (certs("a"), certs("b"));
    assert!(!ca.is_empty());
    assert_eq!(ca, cb, "the same certificates and the same custody file");
    assert!(ca.iter().any(|(n, _)| n == "custody.jsonl"));

    // The custody file beside the certificates backs them; edited, cut or gone, it does
    // not, and `certificate verify` says so.
    let cert = d.join("b/certificates/D-1001.json");
    let pubkey = demo.config.parent().unwrap().join("keys/vouch-demo.pub");
    let verify = |extra: &[&str]| {
        go(vouch()
            .args(["certificate", "verify"])
            .arg(&cert)
            .arg("--public-key")
            .arg(&pubkey)
            .args(extra))
    };
    let (code, out, err) = verify(&[]);
    assert!(code <= 1 && !out.starts_with("NOT VERIFIED"), "{out}{err}");
    let custody = d.join("b/certificates/custody.jsonl");
    let original = std::fs::read(&custody).unwrap();
    let mut edited = original.clone();
    let at = edited.windows(7).position(|w| w == b"\"size\":").unwrap() + 7;
    edited[at] = if edited[at] == b'9' { b'8' } else { b'9' };
    for (what, bytes) in [
        ("edited", edited),
        ("cut", original[..original.len() / 2].to_vec()),
        ("a line dropped", {
            let first = original.iter().position(|b| *b == b'\n').unwrap() + 1;
            original[first..].to_vec()
        }),
    ] {
        std::fs::write(&custody, &bytes).unwrap();
        let (code, out, err) = verify(&[]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert!(
            out.starts_with("NOT VERIFIED") && out.contains("custody"),
            "{what}: {out}"
        );
    }
    std::fs::remove_file(&custody).unwrap();
    let (code, _, err) = verify(&[]);
    assert_eq!(
        code, 2,
        "a custody file that is not there decides nothing: {err}"
    );
    assert!(
        err.contains("custody.jsonl") && err.contains("--custody"),
        "{err}"
    );
    // Kept elsewhere, it is named with --custody.
    std::fs::write(d.join("kept-custody.jsonl"), &original).unwrap();
    let kept = d.join("kept-custody.jsonl").display().to_string();
    let (code, out, err) = verify(&["--custody", &kept]);
    assert!(code <= 1 && !out.starts_with("NOT VERIFIED"), "{out}{err}");

    // A merged report whose custody file was edited or is missing is refused by nightly:
    // no certificate.
    let merged_custody = d.join("merged/custody.jsonl");
    let good = std::fs::read(&merged_custody).unwrap();
    std::fs::write(&merged_custody, &good[..good.len() - 10]).unwrap();
    let (code, _, err) = nightly("e", &["--scan-report", "merged/report.json"]);
    assert_eq!(code, 2, "{err}");
    let e = report("e");
    assert_eq!(e["checks"][0]["status"], "error");
    assert!(
        e["checks"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("custody"),
        "{}",
        e["checks"][0]
    );
    assert!(
        !std::fs::read_dir(d.join("e/certificates"))
            .unwrap()
            .flatten()
            .any(|f| f.path().extension().is_some_and(|x| x == "json")),
        "no certificate from a report whose custody file was cut"
    );
    std::fs::write(&merged_custody, &good).unwrap();

    // A report of another subject list is an error of the check, not a verdict.
    let mut other = std::fs::read_to_string(d.join("ids.txt")).unwrap();
    other.push_str("someone-else\n");
    std::fs::write(d.join("other.txt"), other).unwrap();
    merged("other.txt", "other");
    let (code, _, err) = nightly("c", &["--scan-report", "other/report.json"]);
    assert_eq!(code, 2, "{err}");
    let c = report("c");
    assert_eq!(c["checks"][0]["status"], "error");
    assert!(
        c["checks"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("another list of subjects"),
        "{}",
        c["checks"][0]
    );
    assert!(
        std::fs::read_dir(d.join("c/certificates"))
            .unwrap()
            .next()
            .is_none(),
        "no certificate from a report of other subjects"
    );

    // An edited merged report (residuals removed, verdict clean) is refused: no certificate.
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("merged/report.json")).unwrap()).unwrap();
    assert_eq!(forged["verdict"], "residual");
    assert!(
        forged["authentication"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    forged["verdict"] = "clean".into();
    forged["residual_rows"] = 0.into();
    forged["residuals"] = serde_json::json!([]);
    for t in forged["tables"].as_array_mut().unwrap() {
        t["residual_rows"] = 0.into();
        t["partitions_with_residuals"] = serde_json::json!([]);
    }
    std::fs::write(d.join("merged/forged.json"), forged.to_string()).unwrap();
    let (code, _, err) = nightly("f", &["--scan-report", "merged/forged.json"]);
    assert_eq!(code, 2, "{err}");
    let f = report("f");
    assert_eq!(f["checks"][0]["status"], "error");
    assert!(
        f["checks"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("authentication does not match"),
        "{}",
        f["checks"][0]
    );
    assert!(
        std::fs::read_dir(d.join("f/certificates"))
            .unwrap()
            .next()
            .is_none(),
        "no certificate from an edited report"
    );

    // A file added to the lake after the plan was never scanned: not verified.
    let lake = demo.config.parent().unwrap().join("lake");
    let events = std::fs::read_dir(lake.join("events"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    let some_file = std::fs::read_dir(&events)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::copy(&some_file, events.join("late-arrival.parquet")).unwrap();
    let (code, _, err) = nightly("g", &["--scan-report", "merged/report.json"]);
    assert_eq!(code, 2, "{err}");
    let g = report("g");
    assert_eq!(g["checks"][0]["status"], "error", "{}", g["checks"][0]);
    let text = g["checks"][0].to_string();
    assert!(
        text.contains("late-arrival.parquet") && text.contains("added after"),
        "{text}"
    );
    // A file the report checked, grown since: changed, not verified; the others stay
    // checked (only the changed file is named).
    std::fs::remove_file(events.join("late-arrival.parquet")).unwrap();
    let mut bytes = std::fs::read(&some_file).unwrap();
    bytes.extend_from_slice(b"appended");
    std::fs::write(&some_file, &bytes).unwrap();
    let (code, _, err) = nightly("h", &["--scan-report", "merged/report.json"]);
    assert_eq!(code, 2, "{err}");
    let h = report("h");
    let text = h["checks"][0].to_string();
    let name = some_file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        text.contains(&name) && text.contains("changed after") && !text.contains("added after"),
        "{text}"
    );
}

/// A lake as other writers and links leave it (a file in the lake root, an extensionless
/// file, a `_k=v` partition, a file reached by two paths) gives the same report through
/// plan, shards and merge as in one scan: the root's error travels in the plan, the
/// aliases in its tables (issue 16).
#[test]
fn messy_lakes_merge_into_the_single_scan_report() {
    let fx = fixture_copy();
    let d = fx.path();
    let lake = d.join("lake");
    std::fs::rename(
        lake.join("events/dt=2026-01-02"),
        lake.join("events/_dt=2026-01-02"),
    )
    .unwrap();
    std::fs::rename(
        lake.join("profiles/part-0.parquet"),
        lake.join("profiles/000000_0"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../payments", lake.join("profiles/linked")).unwrap();
    std::fs::copy(
        lake.join("devices/part-0.parquet"),
        lake.join("stray.parquet"),
    )
    .unwrap();
    let (single_code, single, err) = go(v(d)
        .arg("scan")
        .args(FIXTURE)
        .args(["--format", "json", "-q"]));
    assert_eq!(single_code, 2, "the stray file: {err}");
    let (code, _, err) = go(v(d).args([
        "scan",
        "plan",
        "--config",
        "vouch.toml",
        "--out",
        "plan.jsonl",
    ]));
    assert_eq!(
        code, 2,
        "the plan is written, and says what belongs to no table: {err}"
    );
    assert!(err.contains("stray.parquet"), "{err}");
    let parts: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = d.join(format!("part-{i}.json"));
            let (code, err) = part(&mut v(d), &FIXTURE, "plan.jsonl", &format!("{i}/2"), &p);
            assert!(code <= 1, "{err}");
            p
        })
        .collect();
    let (code, merged, err) = merge(d, &parts);
    assert_eq!(code, 2, "{err}");
    assert_same(&single, &merged, "messy fixtures, N=2");
    let r: serde_json::Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(r["errors"][0]["file"], "stray.parquet");
    let profiles = r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "profiles")
        .unwrap()
        .clone();
    assert_eq!(
        profiles["aliases"][0]["same_as"], "payments/part-0.parquet",
        "{profiles}"
    );
}

/// Delta and Iceberg tables written by deltalake and pyiceberg (and the corpus's table with
/// deletion vectors, when the corpus is there), each after a delete: plan + N shards +
/// merge give the single scan's report byte for byte (live rows, masked rows, removed
/// files and retained snapshots in their layers, log statistics and manifest bounds), each
/// part reading the tables' metadata again. A commit after the plan makes every part's
/// files of that table errors, never clean.
#[test]
fn delta_and_iceberg_tables_shard_into_the_single_scan_report() {
    let d = tempfile::tempdir().unwrap();
    let cat = d.path().join("cat");
    let ice = |arg: serde_json::Value| {
        let mut arg = arg;
        arg["catalog"] = serde_json::json!(cat);
        arg["table"] = serde_json::json!("ns.users");
        oracle("pyiceberg_rw.py", &arg)
    };
    ice(serde_json::json!({"op": "append", "rows": [["u1", 3], ["u2", 2], ["a0", 1]]}));
    ice(serde_json::json!({"op": "append", "rows": [["u3", 1], ["z9", 1]]}));
    ice(serde_json::json!({"op": "delete", "predicate": "user_id == 'u2'"}));
    let profiles = cat.join("wh/ns/profiles").display().to_string();
    for rows in [
        serde_json::json!([["u1", 1], ["u2", 4]]),
        serde_json::json!([["u3", 2], ["b1", 1]]),
    ] {
        oracle(
            "delta_rs.py",
            &serde_json::json!({"op": "write", "table": profiles, "rows": rows}),
        );
    }
    oracle(
        "delta_rs.py",
        &serde_json::json!({"op": "delete", "table": profiles, "predicate": "user_id = 'u2'"}),
    );
    let mut config = "[lake]\nlocation = \"cat/wh/ns\"\n".to_string();
    let dv = corpus("delta-kernel-rs");
    if let Some(corpus) = &dv {
        copy_dir(&corpus.join("table-with-dv-small"), &cat.join("wh/ns/dv"));
        config.push_str("\n[[lake.tables]]\nname = \"dv\"\nid_columns = [\"value\"]\n");
    }
    std::fs::write(d.path().join("vouch.toml"), config).unwrap();
    let scan = [
        "--config",
        "vouch.toml",
        "--id",
        "u1",
        "--id",
        "u2",
        "--id",
        "u3",
        "--id",
        "0",
        "--id",
        "5",
    ];
    for n in [1, 2, 3] {
        let (sc, single, mc, merged) = single_and_merged(d.path(), &scan, n);
        assert_eq!(sc, 1, "u1 and u3 are live: {single}");
        assert_eq!((sc, mc), (1, 1), "{n} shards");
        assert_same(&single, &merged, &format!("{n} shards"));
        let j: serde_json::Value = serde_json::from_str(&merged).unwrap();
        let kinds = copy_kinds(&j);
        for k in ["removed_file", "retained_snapshot", "log_stats"] {
            assert!(kinds.contains(k), "{k}: {merged}");
        }
        assert_eq!(kinds.contains("masked_rows"), dv.is_some(), "{merged}");
    }
    // A commit after the plan: the parts refuse the table's files; the merge is incomplete.
    let (code, _, err) = go(v(d.path())
        .args(["scan", "plan", "--out", "plan.jsonl", "--force"])
        .args(["--config", "vouch.toml"]));
    assert_eq!(code, 0, "{err}");
    oracle(
        "delta_rs.py",
        &serde_json::json!({"op": "delete", "table": profiles, "predicate": "user_id = 'u1'"}),
    );
    let (code, _) = part(
        &mut v(d.path()),
        &scan,
        "plan.jsonl",
        "0/1",
        &d.path().join("p.json"),
    );
    assert_eq!(code, 2, "the part's files of profiles are errors");
    let (code, out, _) = merge(d.path(), &[d.path().join("p.json")]);
    assert_eq!(code, 2, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["verdict"], "incomplete");
    assert!(
        error_lines(&j)
            .iter()
            .any(|e| e.starts_with("profiles/") && e.contains("changed since the plan")),
        "{out}"
    );
}

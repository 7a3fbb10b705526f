//! `vouch evidence build / verify` and `vouch keygen` with the auditor's own tools:
//! `ssh-keygen -Y verify`, `bagit.py --validate`, `unzip`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A temp dir with a key pair `k` and a source directory `logs/` of a few files.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let r = run(vouch().current_dir(p).args(["keygen", "--out", "k"]));
    assert_eq!(r.code, 0, "{r:?}");
    std::fs::create_dir_all(p.join("logs/app/2026-11-27")).unwrap();
    std::fs::create_dir_all(p.join("logs/.meta")).unwrap();
    std::fs::write(
        p.join("logs/app/2026-11-27/audit.log"),
        "user=hmac:ab action=export\n".repeat(200),
    )
    .unwrap();
    let noise: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(p.join("logs/app/dump.bin"), noise).unwrap();
    std::fs::write(p.join("logs/.meta/checkpoint"), "42\n").unwrap();
    std::fs::write(p.join("logs/empty.log"), "").unwrap();
    dir
}

fn build(p: &Path, out: &str, extra: &[&str]) -> Run {
    run(vouch()
        .current_dir(p)
        .args([
            "evidence",
            "build",
            "--source",
            "logs",
            "--signing-key",
            "k",
            "--as-of",
            "2026-11-27",
            "--out",
            out,
        ])
        .args(extra))
}

/// `ssh-keygen -Y sign` of `file` in `dir` with `key`: the armored signature it wrote.
fn ssh_sign(dir: &Path, key: &Path, namespace: &str, file: &str) -> String {
    ok(Command::new("ssh-keygen")
        .current_dir(dir)
        .args(["-Y", "sign", "-f"])
        .arg(key)
        .args(["-n", namespace, file]));
    std::fs::read_to_string(dir.join(format!("{file}.sig"))).unwrap()
}

fn verify_with(p: &Path, bundle: &str, public_key: &str) -> Run {
    run(vouch()
        .current_dir(p)
        .args(["evidence", "verify", bundle, "--public-key", public_key]))
}

fn verify(p: &Path, bundle: &str) -> Run {
    run(vouch()
        .current_dir(p)
        .args(["evidence", "verify", bundle, "--public-key", "k.pub"]))
}

fn unzip(p: &Path, bundle: &str, into: &str) -> PathBuf {
    ok(Command::new("unzip")
        .current_dir(p)
        .args(["-q", bundle, "-d", into]));

    std::fs::read_dir(p.join(into))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

fn edit(p: &Path, from: &str, to: &str, ops: serde_json::Value) {
    let input = if from.is_empty() {
        serde_json::Value::Null
    } else {
        p.join(from).display().to_string().into()
    };
    oracle(
        "../oracle/zip_edit.py",
        &serde_json::json!({"in": input, "out": p.join(to), "ops": ops}),
    );
}

#[test]
fn auditors_verify_with_ssh_keygen_and_bagit_and_the_zip_is_reproducible() {
    let dir = setup();
    let p = dir.path();
    let r = build(
        p,
        "evidence-2026-11-27.zip",
        &[
            "--organization",
            "Example Data Platform",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let s = r.json();
    assert_eq!(s["files"], 4, "hidden and empty files are evidence too");
    assert_eq!(s["retain_until"], "2033-11-27");
    let bytes = std::fs::read(p.join("evidence-2026-11-27.zip")).unwrap();
    assert_eq!(
        s["sha256"].as_str().unwrap(),
        vouch::domain::subjects::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    let bag = unzip(p, "evidence-2026-11-27.zip", "u");
    assert_eq!(bag.file_name().unwrap(), "evidence-2026-11-27");
    let said = ok(Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            "k.allowed_signers",
            "-I",
            "vouch",
            "-n",
            "vouch-evidence",
            "-s",
        ])
        .arg(bag.join("tagmanifest-sha256.txt.sig"))
        .current_dir(p)
        .stdin(std::fs::File::open(bag.join("tagmanifest-sha256.txt")).unwrap()));
    assert!(
        said.contains("Good \"vouch-evidence\" signature for vouch"),
        "{said}"
    );
    let said = ok(Command::new("bagit.py").arg("--validate").arg(&bag));
    assert!(said.contains("is valid"), "{said}");
    ok(Command::new("sha256sum").current_dir(&bag).args([
        "-c",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
    ]));
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    for line in [
        "Source-Organization: Example Data Platform",
        "Bagging-Date: 2026-11-27",
        "Payload-Oxum: ",
        "Retain-Until: 2033-11-27",
        "Retention-Mode: COMPLIANCE",
        "Legal-Hold: false",
        "Source-Location: logs",
    ] {
        assert!(info.contains(line), "{line} in {info}");
    }
    let r = verify(p, "evidence-2026-11-27.zip");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("VERIFIED: evidence-2026-11-27.zip: 4 file(s)"),
        "{r:?}"
    );
    // Same inputs, key and date: the same bytes.
    std::fs::create_dir(p.join("again")).unwrap();
    let r = build(
        p,
        "again/evidence-2026-11-27.zip",
        &["--organization", "Example Data Platform"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read(p.join("again/evidence-2026-11-27.zip")).unwrap(),
        bytes
    );
    // No overwrite without --force; nothing else left in the directory.
    let r = build(p, "evidence-2026-11-27.zip", &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "vouch: error: evidence-2026-11-27.zip: already exists (use --force to overwrite)\n"
    );
}

#[test]
fn keys_from_ssh_keygen_sign_and_ssh_keygen_signatures_verify() {
    let dir = setup();
    let p = dir.path();
    ok(Command::new("ssh-keygen")
        .current_dir(p)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "auditor", "-f", "sk"]));
    let r = run(vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--signing-key",
        "sk",
        "--as-of",
        "2026-11-27",
        "--out",
        "b.zip",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let r = verify_with(p, "b.zip", "sk.pub");
    assert_eq!(r.code, 0, "{r:?}");
    // Re-sign the tag manifest with ssh-keygen -Y sign and put that signature in the zip.
    let bag = unzip(p, "b.zip", "u");
    let sig = ssh_sign(
        &bag,
        &p.join("sk"),
        "vouch-evidence",
        "tagmanifest-sha256.txt",
    );
    edit(
        p,
        "b.zip",
        "resigned.zip",
        serde_json::json!([{"op": "replace", "name": "b/tagmanifest-sha256.txt.sig", "text": sig}]),
    );
    let r = verify_with(p, "resigned.zip", "sk.pub");
    assert_eq!(r.code, 0, "{r:?}");
    // The wrong key, and the wrong namespace.
    let r = verify_with(p, "b.zip", "k.pub");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("b/tagmanifest-sha256.txt.sig: the signature does not verify with this key"),
        "{r:?}"
    );
    let other = ssh_sign(&bag, &p.join("sk"), "file", "bag-info.txt");
    edit(
        p,
        "b.zip",
        "ns.zip",
        serde_json::json!([{"op": "replace", "name": "b/tagmanifest-sha256.txt.sig", "text": other}]),
    );
    let r = verify_with(p, "ns.zip", "sk.pub");
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("namespace \"file\""), "{r:?}");
}

#[test]
fn every_kind_of_tampering_is_caught_and_named() {
    let dir = setup();
    let p = dir.path();
    assert_eq!(build(p, "e.zip", &[]).code, 0);
    ok(Command::new("ssh-keygen")
        .current_dir(p)
        .args(["-q", "-t", "ed25519", "-N", "", "-f", "other"]));
    let other = run(vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--signing-key",
        "other",
        "--as-of",
        "2026-11-27",
        "--out",
        "o/e.zip",
    ]));
    assert_eq!(other.code, 2, "o/ does not exist yet");
    std::fs::create_dir(p.join("o")).unwrap();
    assert_eq!(
        run(vouch().current_dir(p).args([
            "evidence",
            "build",
            "--source",
            "logs",
            "--signing-key",
            "other",
            "--as-of",
            "2026-11-27",
            "--out",
            "o/e.zip"
        ]))
        .code,
        0
    );
    let bag = unzip(p, "e.zip", "u");
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    let manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    let other_sig = {
        let b = unzip(p, "o/e.zip", "uo");
        std::fs::read_to_string(b.join("tagmanifest-sha256.txt.sig")).unwrap()
    };
    let cases = vec![
        (
            "payload byte",
            serde_json::json!([{"op": "replace", "name": "e/data/app/2026-11-27/audit.log", "text": "user=hmac:ab action=delete\n"}]),
            "e/data/app/2026-11-27/audit.log: does not match manifest-sha256.txt",
        ),
        (
            "added file",
            serde_json::json!([{"op": "add", "name": "e/data/app/extra.log", "text": "x"}]),
            "e/data/app/extra.log: not in manifest-sha256.txt (an added file)",
        ),
        (
            "removed file",
            serde_json::json!([{"op": "remove", "name": "e/data/empty.log"}]),
            "e/data/empty.log: listed in manifest-sha256.txt but missing",
        ),
        (
            "manifest line",
            serde_json::json!([{"op": "replace", "name": "e/manifest-sha256.txt", "text": manifest.replacen(&manifest[..4], "0000", 1)}]),
            "e/manifest-sha256.txt: does not match tagmanifest-sha256.txt",
        ),
        (
            "other key",
            serde_json::json!([{"op": "replace", "name": "e/tagmanifest-sha256.txt.sig", "text": other_sig}]),
            "e/tagmanifest-sha256.txt.sig: the signature does not verify with this key",
        ),
        (
            "retention shortened",
            serde_json::json!([{"op": "replace", "name": "e/bag-info.txt", "text": info.replace("Retain-Until: 2033-11-27", "Retain-Until: 2027-11-27")}]),
            "e/bag-info.txt: does not match tagmanifest-sha256.txt",
        ),
        (
            "extra tag file",
            serde_json::json!([{"op": "add", "name": "e/notes.txt", "text": "x"}]),
            "e/notes.txt: an extra file outside the manifests",
        ),
    ];
    for (what, ops, want) in cases {
        edit(p, "e.zip", "t.zip", ops);
        let r = verify(p, "t.zip");
        assert_eq!(r.code, 1, "{what}: {r:?}");
        assert!(
            r.stdout.starts_with("NOT VERIFIED: t.zip:"),
            "{what}: {r:?}"
        );
        assert!(r.stdout.contains(want), "{what}: want {want:?} in {r:?}");
        assert!(
            r.stderr.contains(want),
            "{what}: stderr names it too: {r:?}"
        );
    }
}

#[test]
fn hostile_zips_are_refused_and_nothing_is_written() {
    let dir = setup();
    let p = dir.path();
    assert_eq!(build(p, "e.zip", &[]).code, 0);
    let cases = vec![
        (
            "dot-dot",
            serde_json::json!([{"op": "add", "name": "e/../evil.txt", "text": "x"}]),
            "unsafe entry name",
        ),
        (
            "absolute",
            serde_json::json!([{"op": "add", "name": "/etc/evil", "text": "x"}]),
            "unsafe entry name",
        ),
        (
            "backslash",
            serde_json::json!([{"op": "add", "name": "e\\..\\evil", "text": "x"}]),
            "unsafe entry name",
        ),
        (
            "duplicate",
            serde_json::json!([{"op": "add", "name": "e/data/empty.log", "text": "x"}]),
            "duplicate",
        ),
        (
            "bomb",
            serde_json::json!([{"op": "zeros", "name": "e/data/empty.log", "size": 1 << 20}, {"op": "declare", "name": "e/data/empty.log", "size": 1000}]),
            "e/data/empty.log",
        ),
    ];
    for (what, ops, want) in cases {
        edit(p, "e.zip", "h.zip", ops);
        let before: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let r = verify(p, "h.zip");
        assert!(r.code == 1 || r.code == 2, "{what}: {r:?}");
        assert!(
            r.stdout.contains(want) || r.stderr.contains(want),
            "{what}: want {want:?}: {r:?}"
        );
        let after: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after, "{what}: verify wrote something");
        assert!(!p.join("evil.txt").exists() && !Path::new("/etc/evil").exists());
    }
    // Not a zip at all, and a truncated one: unreadable, exit 2.
    std::fs::write(p.join("n.zip"), "not a zip").unwrap();
    let r = verify(p, "n.zip");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("vouch: error: n.zip: not a readable zip"),
        "{r:?}"
    );
    let bytes = std::fs::read(p.join("e.zip")).unwrap();
    std::fs::write(p.join("cut.zip"), &bytes[..bytes.len() - 100]).unwrap();
    assert_eq!(verify(p, "cut.zip").code, 2);
}

#[test]
fn time_windows_several_sources_holds_and_key_hygiene() {
    let dir = setup();
    let p = dir.path();
    let set = |f: &str, t: i64| {
        let file = std::fs::File::options()
            .write(true)
            .open(p.join(f))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
            .unwrap();
    };
    set("logs/app/2026-11-27/audit.log", 1_795_737_600); // 2026-11-27T00:00:00Z
    set("logs/app/dump.bin", 1_795_824_000); // 2026-11-28T00:00:00Z: excluded by --to
    set("logs/.meta/checkpoint", 1_795_651_199); // before --from
    set("logs/empty.log", 1_795_780_000);
    std::fs::create_dir_all(p.join("more/logs")).unwrap();
    std::fs::write(p.join("more/logs/x.log"), "x\n").unwrap();
    set("more/logs/x.log", 1_795_740_000);
    let r = run(vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--source",
        "more/logs",
        "--signing-key",
        "k",
        "--as-of",
        "2024-02-29",
        "--from",
        "2026-11-27",
        "--to",
        "2026-11-28T00:00:00Z",
        "--legal-hold",
        "--retention-mode",
        "governance",
        "--retention-years",
        "7",
        "--out",
        "w.zip",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["files"], 3);
    assert_eq!(r.json()["retain_until"], "2031-02-28");
    let bag = unzip(p, "w.zip", "u");
    let manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    let names: Vec<&str> = manifest
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    assert_eq!(
        names,
        [
            "data/logs-1/x.log",
            "data/logs/app/2026-11-27/audit.log",
            "data/logs/empty.log"
        ]
    );
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert!(
        info.contains("Legal-Hold: true") && info.contains("Retention-Mode: GOVERNANCE"),
        "{info}"
    );
    assert!(
        info.contains("Source-Location: logs\nSource-Location: more/logs\n"),
        "{info}"
    );
    ok(Command::new("bagit.py").arg("--validate").arg(&bag));
    // A secret key others can read is refused; a protected one needs its passphrase.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.join("k"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = build(p, "x.zip", &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "vouch: error: k: secret file is readable by others (chmod 600 it, or 440 for a group of this process's)\n"
    );
    // Group-readable (a Kubernetes Secret with defaultMode 0440 and fsGroup) is read
    // when the group is the process's own, refused when it is another's (as root, the
    // test can give the file a group it is not in).
    std::fs::set_permissions(p.join("k"), std::fs::Permissions::from_mode(0o440)).unwrap();
    assert_eq!(build(p, "g.zip", &[]).code, 0, "0440, own group");
    let chgrp = |gid: &str| {
        Command::new("chgrp")
            .arg(gid)
            .arg(p.join("k"))
            .status()
            .is_ok_and(|s| s.success())
    };
    let in_groups = String::from_utf8(Command::new("id").arg("-G").output().unwrap().stdout)
        .unwrap()
        .split_whitespace()
        .any(|g| g == "4242");
    if !in_groups && chgrp("4242") {
        let r = build(p, "h.zip", &["--force"]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr
                .contains("k: secret file is readable by a group this process is not in"),
            "{r:?}"
        );
        let own = String::from_utf8(Command::new("id").arg("-g").output().unwrap().stdout).unwrap();
        assert!(chgrp(own.trim()));
    } else {
        eprintln!("NOT RUN: a group-readable key of another group (chgrp needs root)");
    }
    std::fs::set_permissions(p.join("k"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(p.join("pass"), "a long passphrase\n").unwrap();
    let keygen = || {
        run(vouch()
            .current_dir(p)
            .args(["keygen", "--out", "pk", "--passphrase-file", "pass"]))
    };
    // A passphrase file others can read is refused too, and not quoted.
    let r = keygen();
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "vouch: error: pass: secret file is readable by others (chmod 600 it, or 440 for a group of this process's)\n"
        )
    );
    std::fs::set_permissions(p.join("pass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(keygen().code, 0);
    let r = run(vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--signing-key",
        "pk",
        "--out",
        "y.zip",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("passphrase-protected"), "{r:?}");
    let r = run(vouch().current_dir(p).args([
        "evidence",
        "build",
        "--source",
        "logs",
        "--signing-key",
        "pk",
        "--signing-key-passphrase-file",
        "pass",
        "--out",
        "y.zip",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    // ssh-keygen reads what keygen wrote, passphrase and all.
    ok(Command::new("ssh-keygen")
        .current_dir(p)
        .args(["-l", "-f", "pk.pub"]));
    ok(Command::new("ssh-keygen").current_dir(p).args([
        "-y",
        "-P",
        "a long passphrase",
        "-f",
        "pk",
    ]));
    assert!(!r.stderr.contains("a long passphrase") && !r.stdout.contains("a long passphrase"));
}

/// Bytes of a zip no central-directory entry accounts for: `unzip` warns about each, and
/// so must verify (issue 16, item 14).
#[test]
fn bytes_outside_the_central_directory_are_tampering() {
    let dir = setup();
    let p = dir.path();
    assert_eq!(build(p, "e.zip", &[]).code, 0);
    let zip = std::fs::read(p.join("e.zip")).unwrap();
    assert_eq!(verify(p, "e.zip").code, 0);
    let find = |sig: &[u8], from: usize| {
        zip[from..]
            .windows(4)
            .position(|w| w == sig)
            .map(|i| i + from)
            .unwrap()
    };
    let eocd = zip.len() - 22;
    assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06");
    let cd_at = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // 1. Bytes prepended to the archive.
    let mut prefixed = b"#!/bin/sh\nexit 0\n".to_vec();
    prefixed.extend_from_slice(&zip);
    cases.push(("prefix", prefixed));
    // 2. A local header whose name differs from the central directory's (same length).
    let mut renamed = zip.clone();
    let first = find(b"PK\x03\x04", 0);
    let n = u16::from_le_bytes([zip[first + 26], zip[first + 27]]) as usize;
    let last = first + 30 + n - 1;
    renamed[last] = if renamed[last] == b'x' { b'y' } else { b'x' };
    cases.push(("local name", renamed));
    // 3. An entry only local headers know, between the entries and the central directory.
    let hidden_name = b"e/data/hidden.txt";
    let body = b"user_id=42 was here\n";
    let crc = crc32fast::hash(body);
    let mut local = b"PK\x03\x04".to_vec();
    local.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    local.extend_from_slice(&crc.to_le_bytes());
    local.extend_from_slice(&(body.len() as u32).to_le_bytes());
    local.extend_from_slice(&(body.len() as u32).to_le_bytes());
    local.extend_from_slice(&(hidden_name.len() as u16).to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes());
    local.extend_from_slice(hidden_name);
    local.extend_from_slice(body);
    let mut smuggled = zip[..cd_at].to_vec();
    smuggled.extend_from_slice(&local);
    smuggled.extend_from_slice(&zip[cd_at..]);
    let at = smuggled.len() - 22 + 16;
    smuggled[at..at + 4].copy_from_slice(&((cd_at + local.len()) as u32).to_le_bytes());
    cases.push(("local-only entry", smuggled));
    // 5. A byte of a local header's CRC or size fields, which readers ignore when a data
    //    descriptor follows (they must be zero then): it verified until the schema test
    //    flipped one.
    for field in [14usize, 18, 22] {
        let mut z = zip.clone();
        let last = zip[..cd_at]
            .windows(4)
            .rposition(|w| w == b"PK\x03\x04")
            .unwrap();
        assert_ne!(u16::from_le_bytes([z[last + 6], z[last + 7]]) & 0x8, 0);
        z[last + field] ^= 1;
        cases.push(("a local header's ignored CRC or size", z));
    }
    // 4. Trailing bytes after the end record (its comment length says none).
    let mut trailing = zip.clone();
    trailing.extend_from_slice(b"appended");
    cases.push(("trailing", trailing));
    for (what, bytes) in cases {
        std::fs::write(p.join("t.zip"), &bytes).unwrap();
        let r = verify(p, "t.zip");
        assert_eq!(
            r.code, 1,
            "{what}: a zip with unaccounted bytes is tampered: {r:?}"
        );
        assert!(
            r.stdout.contains("zip layout: ") || r.stdout.contains("data descriptor"),
            "{what}: {r:?}"
        );
        assert!(r.stdout.starts_with("NOT VERIFIED: "), "{what}: {r:?}");
    }
}

//! Crash consistency (issue 9, item 3): `vouch export` and `vouch evidence build` killed
//! with SIGKILL at 200+ points each, swept over a whole run (opening, writing, fsync,
//! rename, the `.sha256` file). After every kill the output path holds nothing or a
//! complete, valid file, and no file anywhere the export could write holds plaintext: a
//! canary value planted in the subject's rows is searched for in the output directory and
//! in the process's TMPDIR, and every file left beside the output must be age ciphertext.

mod common;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SUBJECT: &str = "crash-subject-0001";
const CANARY: &str = "CANARY-9f4c2e71-plaintext-must-not-reach-disk";
const POINTS: u32 = 200;

/// A lake whose table holds 60,000 rows, half of them the subject's, each carrying the
/// canary.
fn canary_lake(dir: &Path) {
    let n = 60_000;
    let users = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                SUBJECT.to_string()
            } else {
                format!("user-{i}")
            }
        })
        .collect();
    let notes = (0..n).map(|i| format!("{CANARY} #{i}")).collect();
    text_table(
        &dir.join("lake/t/part-0.parquet"),
        vec![("user_id", users), ("note", notes)],
    );
}

/// Runs `cmd` to completion once: how long a whole run takes.
fn duration_of(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed()
}

/// Starts `cmd`, kills it with SIGKILL after `after`, and reaps it.
fn kill_after(mut child: Child, after: Duration) -> bool {
    std::thread::sleep(after);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
    finished
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_killed_export_leaves_no_partial_bundle_and_no_plaintext() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    canary_lake(p);
    let (key, recipient) = age_identity(p);
    let out = p.join("out");
    let tmp = p.join("tmp");
    let export = |force: bool| {
        let mut c = vouch();
        c.current_dir(p)
            .env("TMPDIR", &tmp)
            .args(["export", "--lake", "lake", "--id", SUBJECT, "-q"])
            .args(["--data-format", "csv", "--recipient", &recipient])
            .args(["--out", "out/b.age"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if force {
            c.arg("--force");
        }
        c
    };
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let whole = duration_of(&mut export(true));
    let (mut complete, mut absent, mut finished) = (0, 0, 0);
    for i in 0..=POINTS {
        for f in files_below(&out) {
            std::fs::remove_file(f).unwrap();
        }
        // Points swept across the whole run, a little past its end.
        let at = whole.mul_f64(f64::from(i) / f64::from(POINTS) * 1.1);
        if kill_after(export(false).spawn().unwrap(), at) {
            finished += 1;
        }
        for f in files_below(&out).iter().chain(&files_below(&tmp)) {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !contains(&bytes, CANARY.as_bytes()),
                "point {i}: plaintext in {}",
                f.display()
            );
            let name = f.file_name().unwrap().to_str().unwrap();
            // The hash line (or its temp file) aside, all is ciphertext.
            if !name.contains(".sha256") {
                assert!(
                    bytes.is_empty() || bytes.starts_with(b"age-encryption.org/v1\n"),
                    "point {i}: {} is not age ciphertext",
                    f.display()
                );
            }
        }
        let bundle = out.join("b.age");
        if bundle.exists() {
            // Whole: it decrypts and every zip member passes its CRC.
            let zip = decrypt(&key, &bundle);
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
            for k in 0..z.len() {
                let mut m = z.by_index(k).unwrap();
                let mut v = Vec::new();
                m.read_to_end(&mut v).unwrap();
            }
            let sums = out.join("b.age.sha256");
            if sums.exists() {
                ok(Command::new("sha256sum")
                    .current_dir(&out)
                    .args(["-c", "b.age.sha256"]));
            }
            complete += 1;
        } else {
            absent += 1;
        }
    }
    eprintln!(
        "export: {} kill points over {whole:?}: {complete} complete bundles, {absent} none, \
         {finished} runs had finished",
        POINTS + 1
    );
    assert!(complete > 0 && absent > 0, "the sweep missed the run");
}

#[test]
fn a_killed_evidence_build_leaves_no_partial_bundle() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    std::fs::create_dir_all(p.join("logs/app")).unwrap();
    for f in 0..40 {
        let text: String = (0..4000)
            .map(|i| format!("2026-11-27T10:{:02}:00Z app[{f}] request {i} ok\n", i % 60))
            .collect();
        std::fs::write(p.join(format!("logs/app/{f:02}.log")), text).unwrap();
    }
    ok(Command::new("ssh-keygen")
        .current_dir(p)
        .args(["-q", "-t", "ed25519", "-N", "", "-f", "k"]));
    let out = p.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let build = || {
        let mut c = vouch();
        c.current_dir(p)
            .args("evidence build --source logs --signing-key k --as-of 2026-11-27".split(' '))
            .args(["--out", "out/e.zip"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let whole = duration_of(&mut build());
    let reference = std::fs::read(out.join("e.zip")).unwrap();
    let (mut complete, mut absent) = (0, 0);
    for i in 0..=POINTS {
        for f in files_below(&out) {
            std::fs::remove_file(f).unwrap();
        }
        let at = whole.mul_f64(f64::from(i) / f64::from(POINTS) * 1.1);
        kill_after(build().spawn().unwrap(), at);
        let bundle = out.join("e.zip");
        if bundle.exists() {
            // Reproducible: a bundle at the path is byte for byte the whole one.
            assert!(
                std::fs::read(&bundle).unwrap() == reference,
                "point {i}: a partial or different bundle"
            );
            complete += 1;
        } else {
            absent += 1;
        }
    }
    let verify = "evidence verify out/e.zip --public-key k.pub";
    let r = run(vouch().current_dir(p).args(verify.split(' ')));
    assert!(r.code == 0 || complete == 0, "{r:?}");
    eprintln!(
        "evidence build: {} kill points over {whole:?}: {complete} complete bundles, {absent} none",
        POINTS + 1
    );
    assert!(complete > 0 && absent > 0, "the sweep missed the run");
}

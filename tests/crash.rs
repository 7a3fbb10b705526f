//! Crash consistency (issue 9, item 3): `vouch export` and `vouch evidence build` killed
//! with SIGKILL at 200+ points each, swept over a whole run (opening, writing, fsync,
//! rename, the `.sha256` file). After every kill the output path holds nothing or a
//! complete, valid file, and no file anywhere the export could write holds plaintext: a
//! canary value planted in the subject's rows is searched for in the output directory and
//! in the process's TMPDIR, and every file left beside the output must be age ciphertext.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

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

/// Runs `cmd` under strace, which kills it with SIGKILL as it enters the `n`th `syscall`
/// (any thread). False when the run never got there (it finished).
fn kill_at_syscall(cmd: &Command, syscall: &str, n: u32) -> bool {
    let mut s = Command::new("strace");
    s.args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={syscall}"))
        .arg("-e")
        .arg(format!("inject={syscall}:signal=KILL:when={n}"))
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(cmd.get_current_dir().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    let status = s.status().expect("strace (the test script installs it)");
    !status.success()
}

/// Kills `cmd` at each of the `syscalls` in turn, at every occurrence (up to `limit`),
/// and runs `check` after each kill; returns how many kills there were.
fn kill_at_every(
    cmd: &dyn Fn() -> Command,
    syscalls: &[(&str, u32)],
    check: &mut dyn FnMut(&str),
) -> u32 {
    // strace must be able to trace here (a failure would look like a kill).
    let traced = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .status()
        .expect("strace (the test script installs it)");
    assert!(traced.success(), "strace cannot trace processes here");
    let mut kills = 0;
    for &(syscall, limit) in syscalls {
        for n in 1..=limit {
            let killed = kill_at_syscall(&cmd(), syscall, n);
            check(&format!("{syscall} #{n}"));
            if !killed {
                break;
            }
            kills += 1;
        }
    }
    kills
}

/// The syscalls around which files become visible: every write up to 400, each fsync,
/// rename and file creation.
const SYSCALLS: [(&str, u32); 5] = [
    ("openat", 100),
    ("write", 400),
    ("fsync", 20),
    ("rename", 20),
    ("close", 200),
];

/// Kills runs of `cmd` at 201 points in time across a run of length `whole`, then at
/// every syscall of [`SYSCALLS`]; `check` looks at what each kill left and counts it in
/// `complete` or `absent`.
fn kill_everywhere(
    name: &str,
    cmd: &dyn Fn() -> Command,
    whole: Duration,
    complete: &Cell<u32>,
    absent: &Cell<u32>,
    check: &mut dyn FnMut(&str),
) {
    let mut finished = 0;
    for i in 0..=POINTS {
        // Points swept across the whole run, a little past its end.
        let at = whole.mul_f64(f64::from(i) / f64::from(POINTS) * 1.1);
        if kill_after(cmd().spawn().unwrap(), at) {
            finished += 1;
        }
        check(&format!("point {i}"));
    }
    eprintln!(
        "{name}: {} kill points over {whole:?}: {} complete, {} none, {finished} runs had \
         finished",
        POINTS + 1,
        complete.get(),
        absent.get()
    );
    assert!(
        complete.get() > 0 && absent.get() > 0,
        "the sweep missed the run"
    );
    let (c0, a0) = (complete.get(), absent.get());
    let kills = kill_at_every(cmd, &SYSCALLS, check);
    eprintln!(
        "{name}: {kills} kills at syscalls: {} complete, {} none",
        complete.get() - c0,
        absent.get() - a0
    );
    assert!(kills >= 20, "{kills}");
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
    let (complete, absent) = (Cell::new(0u32), Cell::new(0u32));
    // After a kill: nothing or a whole bundle at the path, no plaintext anywhere; then the
    // directory is emptied for the next run.
    let mut check = |point: &str| {
        for f in files_below(&out).iter().chain(&files_below(&tmp)) {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !contains(&bytes, CANARY.as_bytes()),
                "{point}: plaintext in {}",
                f.display()
            );
            let name = f.file_name().unwrap().to_str().unwrap();
            // The hash line (or its temp file) aside, all is ciphertext.
            if !name.contains(".sha256") {
                assert!(
                    bytes.is_empty() || bytes.starts_with(b"age-encryption.org/v1\n"),
                    "{point}: {} is not age ciphertext",
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
            complete.set(complete.get() + 1);
        } else {
            absent.set(absent.get() + 1);
        }
        for f in files_below(&out).iter().chain(&files_below(&tmp)) {
            std::fs::remove_file(f).unwrap();
        }
    };
    kill_everywhere(
        "export",
        &|| export(false),
        whole,
        &complete,
        &absent,
        &mut check,
    );
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
    let (complete, absent) = (Cell::new(0u32), Cell::new(0u32));
    let mut check = |point: &str| {
        let bundle = out.join("e.zip");
        if bundle.exists() {
            // Reproducible: a bundle at the path is byte for byte the whole one.
            assert!(
                std::fs::read(&bundle).unwrap() == reference,
                "{point}: a partial or different bundle"
            );
            complete.set(complete.get() + 1);
        } else {
            absent.set(absent.get() + 1);
        }
        for f in files_below(&out) {
            std::fs::remove_file(f).unwrap();
        }
    };
    kill_everywhere(
        "evidence build",
        &build,
        whole,
        &complete,
        &absent,
        &mut check,
    );
    // And the reference, the whole bundle, verifies.
    std::fs::write(out.join("e.zip"), &reference).unwrap();
    let verify = "evidence verify out/e.zip --public-key k.pub";
    let r = run(vouch().current_dir(p).args(verify.split(' ')));
    assert_eq!(r.code, 0, "{r:?}");
}

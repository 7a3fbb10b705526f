//! CLI behaviour pinned by case files (`tests/cases/*.case`), in the manner of `trycmd`:
//! each file is a list of steps run in one fresh copy of `fixtures/`, in order:
//!
//! ```text
//! # a comment
//! env VOUCH_SUBJECT_KEY=an-example-key-of-32-bytes------
//! $ vouch scan --config vouch.toml --id 5002 -q
//! ? 1
//! stdout:
//! RESIDUAL: [..]
//! ...
//! stderr:
//! ```
//!
//! `file NAME:` and the lines after it (to a blank line) write NAME in the case's directory
//! (and the directories it names) before the next step. `then file NAME:` after a step is
//! what NAME must hold once the step has run (matched like output); `then no file NAME`
//! says the step left no NAME behind. `env` lines apply to the steps after them, and so
//! does `cd DIR` (the working directory, below the case's directory; `cd .` goes back). `? N` is the exit code (required). A
//! `stdout:` or `stderr:` block is the whole output, line for line, up to the next blank
//! line or header; an absent block is not checked, an empty one means no output. In an expected line `[..]` matches any run of
//! characters (timings, hashes), `[DIR]` is the case's directory; a last line `...` lets
//! more lines follow. Words of the command split on spaces; `'quoted words'` keep theirs.
//! A command ending `< NAME` reads the file NAME on stdin; one ending `| closed` has its
//! stdout a pipe closed before it writes (as `| head` leaves it; its stdout block, if any,
//! must be empty).

use std::path::Path;

use crate::common::*;

#[derive(Debug, Default)]
struct Step {
    line: usize,
    /// Written before the step runs: (name, contents).
    files: Vec<(String, String)>,
    env: Vec<(String, String)>,
    /// The working directory, relative to the case's directory (`cd DIR`; `cd .` back).
    cwd: String,
    args: Vec<String>,
    /// `< NAME`: the file read on stdin, relative to the working directory.
    stdin: Option<String>,
    /// `| closed`: stdout is a pipe whose reader has gone.
    closed_stdout: bool,
    code: Option<i32>,
    stdout: Option<Vec<String>>,
    stderr: Option<Vec<String>>,
    /// Checked after the step: (name, expected lines; None: no such file).
    then: Vec<(String, Option<Vec<String>>)>,
}

fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

enum Block {
    Stdout,
    Stderr,
    File(String),
    Then(String),
}

fn parse(text: &str, file: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut cwd = String::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut block: Option<(Block, Vec<String>)> = None;
    let close = |steps: &mut Vec<Step>,
                 files: &mut Vec<(String, String)>,
                 block: &mut Option<(Block, Vec<String>)>| {
        match block.take() {
            Some((Block::File(name), lines)) => {
                files.push((name, lines.iter().map(|l| format!("{l}\n")).collect()));
            }
            Some((Block::Stdout, lines)) => {
                if let Some(step) = steps.last_mut() {
                    step.stdout = Some(lines);
                }
            }
            Some((Block::Stderr, lines)) => {
                if let Some(step) = steps.last_mut() {
                    step.stderr = Some(lines);
                }
            }
            Some((Block::Then(name), lines)) => {
                if let Some(step) = steps.last_mut() {
                    step.then.push((name, Some(lines)));
                }
            }
            None => {}
        }
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("$ ") {
            close(&mut steps, &mut files, &mut block);
            let mut args = words(rest);
            let closed_stdout = args.ends_with(&["|".to_string(), "closed".to_string()]);
            if closed_stdout {
                args.truncate(args.len() - 2);
            }
            let stdin = match args.len().checked_sub(2).map(|k| args[k] == "<") {
                Some(true) => {
                    let name = args.pop();
                    args.pop();
                    name
                }
                _ => None,
            };
            assert_eq!(
                args.first().map(String::as_str),
                Some("vouch"),
                "{file}:{n}"
            );
            steps.push(Step {
                line: n,
                files: std::mem::take(&mut files),
                env: env.clone(),
                cwd: cwd.clone(),
                args: args[1..].to_vec(),
                stdin,
                closed_stdout,
                ..Default::default()
            });
        } else if line == "stdout:" || line == "stderr:" {
            close(&mut steps, &mut files, &mut block);
            let kind = if line == "stdout:" {
                Block::Stdout
            } else {
                Block::Stderr
            };
            block = Some((kind, Vec::new()));
        } else if let Some(name) = line
            .strip_prefix("then file ")
            .and_then(|r| r.strip_suffix(':'))
        {
            close(&mut steps, &mut files, &mut block);
            block = Some((Block::Then(name.to_string()), Vec::new()));
        } else if let Some(name) = line.strip_prefix("then no file ") {
            close(&mut steps, &mut files, &mut block);
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{n}: then before $"));
            step.then.push((name.to_string(), None));
        } else if let Some(name) = line.strip_prefix("file ").and_then(|r| r.strip_suffix(':')) {
            close(&mut steps, &mut files, &mut block);
            block = Some((Block::File(name.to_string()), Vec::new()));
        } else if line.is_empty() {
            close(&mut steps, &mut files, &mut block);
        } else if let Some((_, lines)) = block.as_mut() {
            lines.push(line.to_string());
        } else if let Some(code) = line.strip_prefix("? ") {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{n}: ? before $"));
            step.code = Some(code.trim().parse().unwrap_or_else(|_| panic!("{file}:{n}")));
        } else if let Some(kv) = line.strip_prefix("env ") {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{file}:{n}: env K=V"));
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        } else if let Some(dir) = line.strip_prefix("cd ") {
            cwd = if dir == "." {
                String::new()
            } else {
                dir.to_string()
            };
        } else if !(line.is_empty() || line.starts_with('#')) {
            panic!("{file}:{n}: not a case line: {line:?}");
        }
    }
    close(&mut steps, &mut files, &mut block);
    assert!(files.is_empty(), "{file}: a file block after the last step");
    for s in &steps {
        assert!(
            s.code.is_some(),
            "{file}:{}: a step needs its exit code (? N)",
            s.line
        );
    }
    steps
}

/// `expected` (with `[..]`) against one actual line.
fn line_matches(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (k, p) in parts.iter().enumerate() {
        if k + 1 == parts.len() {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(j) => rest = &rest[j + p.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Why `actual` does not match the block, if it does not.
fn block_mismatch(expected: &[String], actual: &str, dir: &Path) -> Option<String> {
    let shown = dir.display().to_string();
    let actual: Vec<String> = actual.lines().map(|l| l.replace(&shown, "[DIR]")).collect();
    let open_ended = expected.last().is_some_and(|l| l == "...");
    let expected = if open_ended {
        &expected[..expected.len() - 1]
    } else {
        expected
    };
    for (i, e) in expected.iter().enumerate() {
        match actual.get(i) {
            Some(a) if line_matches(e, a) => {}
            Some(a) => return Some(format!("line {}: expected {e:?}, got {a:?}", i + 1)),
            None => {
                return Some(format!(
                    "line {}: expected {e:?}, got no more output",
                    i + 1
                ));
            }
        }
    }
    if !open_ended && actual.len() > expected.len() {
        return Some(format!(
            "line {}: unexpected {:?}",
            expected.len() + 1,
            actual[expected.len()]
        ));
    }
    None
}

#[test]
fn cli_cases() {
    let dir = repo().join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the case files are missing from {}",
        dir.display()
    );
    let mut failed = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let steps = parse(&std::fs::read_to_string(path).unwrap(), &name);
        let fx = fixture_copy();
        for s in &steps {
            for (name, text) in &s.files {
                let at = fx.path().join(name);
                std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                std::fs::write(at, text).unwrap();
            }
            let mut c = vouch();
            let cwd = fx.path().join(&s.cwd);
            std::fs::create_dir_all(&cwd).unwrap();
            c.current_dir(&cwd)
                .env_remove("VOUCH_SUBJECT_KEY")
                .args(&s.args);
            for (k, v) in &s.env {
                c.env(k, v);
            }
            let r = if s.closed_stdout {
                run_closed_stdout(&mut c, s.stdin.as_ref().map(|n| cwd.join(n)).as_deref())
            } else if let Some(name) = &s.stdin {
                run_with_stdin(&mut c, &std::fs::read(cwd.join(name)).unwrap())
            } else {
                run(&mut c)
            };
            let mut why = Vec::new();
            if Some(r.code) != s.code {
                why.push(format!(
                    "exit code {} (expected {})",
                    r.code,
                    s.code.unwrap_or(-1)
                ));
            }
            for (what, exp, act) in [
                ("stdout", &s.stdout, &r.stdout),
                ("stderr", &s.stderr, &r.stderr),
            ] {
                if let Some(m) = exp.as_ref().and_then(|e| block_mismatch(e, act, fx.path())) {
                    why.push(format!("{what} {m}"));
                }
            }
            for (file, expected) in &s.then {
                let held = std::fs::read_to_string(fx.path().join(file)).ok();
                match (expected, held) {
                    (None, None) => {}
                    (None, Some(_)) => why.push(format!("{file} exists")),
                    (Some(_), None) => why.push(format!("{file} is missing")),
                    (Some(e), Some(text)) => {
                        if let Some(m) = block_mismatch(e, &text, fx.path()) {
                            why.push(format!("{file} {m}"));
                        }
                    }
                }
            }
            if !why.is_empty() {
                failed.push(format!(
                    "{name}:{}: vouch {}: {}\n--- stdout\n{}--- stderr\n{}",
                    s.line,
                    s.args.join(" "),
                    why.join("; "),
                    r.stdout,
                    r.stderr
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Runs `c` with its stdout a pipe closed at once (nobody will read what it writes), and
/// the file `stdin` (if any) on its stdin.
fn run_closed_stdout(c: &mut std::process::Command, stdin: Option<&Path>) -> Run {
    use std::io::Read;
    use std::process::Stdio;
    match stdin {
        Some(p) => c.stdin(std::fs::File::open(p).unwrap()),
        None => c.stdin(Stdio::null()),
    };
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vouch");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr,
    }
}

/// The harness itself: a mismatch is found, a match is not.
#[test]
fn the_case_harness_sees_differences() {
    assert!(line_matches("scanned in [..] s", "scanned in 0.25 s"));
    assert!(line_matches("[..]", "anything"));
    assert!(line_matches("a [..] b [..] c", "a x b y c"));
    assert!(!line_matches("a [..] c", "a x b"));
    assert!(!line_matches("exact", "exact plus"));
    let d = Path::new("/tmp/x");
    let exp = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(block_mismatch(&exp(&["one", "two"]), "one\ntwo\n", d).is_none());
    assert!(block_mismatch(&exp(&["one"]), "one\ntwo\n", d).is_some());
    assert!(block_mismatch(&exp(&["one", "..."]), "one\ntwo\n", d).is_none());
    assert!(block_mismatch(&exp(&["one", "two"]), "one\n", d).is_some());
    assert!(block_mismatch(&exp(&["in [DIR]/a"]), "in /tmp/x/a\n", d).is_none());
    assert!(block_mismatch(&exp(&[]), "", d).is_none());
    assert!(block_mismatch(&exp(&[]), "noise\n", d).is_some());
    let steps = parse(
        "file f.txt:\none\ntwo\n\nenv K=V\n$ vouch scan 'a b' c\n? 2\nstderr:\nvouch: error: [..]\n",
        "t.case",
    );
    assert_eq!(steps.len(), 1);
    assert_eq!(
        steps[0].files,
        [("f.txt".to_string(), "one\ntwo\n".to_string())]
    );
    assert_eq!(steps[0].args, ["scan", "a b", "c"]);
    assert_eq!(steps[0].code, Some(2));
    assert_eq!(
        steps[0].stderr.as_deref(),
        Some(&["vouch: error: [..]".to_string()][..])
    );
    assert!(steps[0].stdout.is_none());
    assert_eq!(steps[0].env, [("K".to_string(), "V".to_string())]);
    let steps = parse(
        "$ vouch keygen --out k\n? 0\nthen file k.pub:\nssh-ed25519 [..]\n\nthen no file k.tmp\n",
        "t.case",
    );
    assert_eq!(
        steps[0].then,
        [
            (
                "k.pub".to_string(),
                Some(vec!["ssh-ed25519 [..]".to_string()])
            ),
            ("k.tmp".to_string(), None)
        ]
    );
}

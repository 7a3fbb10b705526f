//! The layering of `src/` stays true: a module imports only from its own layer or the
//! layers below it, no two modules import each other (directly or round a cycle), the
//! product never imports the dev-only code, `domain/` does no IO of its own and only the
//! binary prints. See ARCHITECTURE.md, "Layers".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where a file sits: its layer, and the module (node) its imports are counted for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    layer: Layer,
    node: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Io,
    Domain,
    Ops,
    Dev,
    Cli,
}

impl Layer {
    fn rank(self) -> u8 {
        match self {
            Layer::Io => 1,
            Layer::Domain => 2,
            Layer::Ops | Layer::Dev => 3,
            Layer::Cli => 4,
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The layer and node of a file by its path under `src/`; `None` for the crate root.
fn place_of(rel: &str) -> Option<Place> {
    let parts: Vec<&str> = rel.trim_end_matches(".rs").split('/').collect();
    let layer = match parts[0] {
        "io" => Layer::Io,
        "domain" => Layer::Domain,
        "ops" => Layer::Ops,
        "dev" => Layer::Dev,
        "main" | "cli" | "bin" => Layer::Cli,
        "lib" => return None,
        other => panic!("src/{rel}: not in a layer (io, domain, ops, dev, cli): {other}"),
    };
    let node = match parts.as_slice() {
        [_, "mod"] | [_] => parts[0].to_string(),
        [first, second, ..] => format!("{first}::{second}"),
        [] => unreachable!(),
    };
    Some(Place { layer, node })
}

/// The node a path such as `domain::scan::pages::X` names (the first two segments, or
/// the first when the second is an item of the layer's own `mod.rs`).
fn place_of_path(path: &[&str], known: &BTreeSet<String>) -> Option<Place> {
    let first = *path.first()?;
    let layer = match first {
        "io" => Layer::Io,
        "domain" => Layer::Domain,
        "ops" => Layer::Ops,
        "dev" => Layer::Dev,
        _ => return None,
    };
    let node = match path.get(1) {
        Some(second) if known.contains(&format!("{first}::{second}")) => {
            format!("{first}::{second}")
        }
        _ => first.to_string(),
    };
    Some(Place { layer, node })
}

/// The source without comments, string and char literals, and `#[cfg(test)]` items (a
/// test may reach anywhere).
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if text[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            i = text[i..].find("*/").map_or(b.len(), |j| i + j + 2);
        } else if text[i..].starts_with("r#\"") || text[i..].starts_with("r\"") {
            let hashes = text[i + 1..].bytes().take_while(|&c| c == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            i = text[start..]
                .find(&close)
                .map_or(b.len(), |j| start + j + close.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\''
            && (text[i..].starts_with("'\\") || text[i + 1..].chars().nth(1) == Some('\''))
        {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            let end = text[i + 2..].find('\'').map_or(b.len(), |j| i + 2 + j + 1);
            i = end;
            out.push_str("' '");
        } else if text[i..].starts_with("#[cfg(test)]") {
            // Skip the attribute and the item after it: to its `;` or its closing brace.
            i += "#[cfg(test)]".len();
            let mut depth = 0i32;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every `crate::a::b…` (or, in the binary, `vouch::a::b…`) path in the code, as segments.
fn paths_in(code: &str, root: &str) -> Vec<Vec<String>> {
    let needle = format!("{root}::");
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(j) = code[at..].find(&needle) {
        let start = at + j;
        at = start + needle.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segs: Vec<String> = rest[..len]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !segs.is_empty() {
            found.push(segs);
        }
        // `use crate::a::{b, c::d}`: each branch is an import of `a::…`.
        if rest[len..].starts_with('{') && segs_len(&rest[..len]) == 1 {
            let close = rest[len..].find('}').map_or(rest.len(), |k| len + k);
            for item in rest[len + 1..close].split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    let mut p = vec![rest[..len].trim_end_matches("::").to_string()];
                    p.extend(item.split("::").map(|s| s.trim().to_string()));
                    found.push(p);
                }
            }
        }
    }
    found
}

fn segs_len(p: &str) -> usize {
    p.split("::").filter(|s| !s.is_empty()).count()
}

/// Names that mean IO of one's own or printing, by where they are refused.
const DOMAIN_REFUSES: &[&str] = &[
    "std::fs",
    "std::env",
    "std::process",
    "std::net",
    "fs::File",
    "File::open",
    "File::create",
    "aws_sdk_s3",
    "aws_config",
    "tokio::",
];
const PRINTS: &[&str] = &["println!", "eprintln!", "print!", "eprint!", "dbg!"];

/// `name` as a whole path in `code`: not inside a longer identifier on either side
/// (`TempFile::create` is not `File::create`, `fs::FileExt` is not `fs::File`).
fn contains_name(code: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        let starts_a_name = !before.is_some_and(|c| ident(c) || c == ':');
        let ends_a_name = !(name.ends_with(ident) && after.is_some_and(ident));
        starts_a_name && ends_a_name
    })
}

/// The contents of each `std::{...}` group in the code.
fn std_groups(code: &str) -> Vec<&str> {
    code.match_indices("std::{")
        .filter_map(|(i, m)| {
            let start = i + m.len();
            code[start..].find('}').map(|j| &code[start..start + j])
        })
        .collect()
}

struct Tree {
    files: Vec<(String, Place, String)>,
    known: BTreeSet<String>,
}

fn tree() -> Tree {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let rel = p.strip_prefix(src()).unwrap().to_str().unwrap().to_string();
        let Some(place) = place_of(&rel) else {
            continue;
        };
        let code = code_of(&std::fs::read_to_string(&p).unwrap());
        files.push((rel, place, code));
    }
    let known = files.iter().map(|(_, p, _)| p.node.clone()).collect();
    Tree { files, known }
}

/// (from node, to node, the file and path that makes the edge)
fn edges(t: &Tree) -> Vec<(Place, Place, String)> {
    let mut out = Vec::new();
    for (rel, place, code) in &t.files {
        let root = if place.layer == Layer::Cli {
            "vouch"
        } else {
            "crate"
        };
        for path in paths_in(code, root) {
            let segs: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(to) = place_of_path(&segs, &t.known)
                && to.node != place.node
            {
                out.push((
                    place.clone(),
                    to,
                    format!("src/{rel}: {root}::{}", path.join("::")),
                ));
            }
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let t = tree();
    let mut bad = Vec::new();
    for (from, to, why) in edges(&t) {
        if to.layer.rank() > from.layer.rank() {
            bad.push(format!("{why} ({:?} imports {:?})", from.layer, to.layer));
        }
        if to.layer == Layer::Dev && from.layer != Layer::Dev {
            // The fixtures tool (src/bin) is dev-only too.
            if !why.starts_with("src/bin/") {
                bad.push(format!("{why} (product code imports dev-only code)"));
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}

#[test]
fn no_import_cycles_between_modules() {
    let t = tree();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    for (from, to, w) in edges(&t) {
        graph
            .entry(from.node.clone())
            .or_default()
            .insert(to.node.clone());
        why.entry((from.node, to.node)).or_insert(w);
    }
    // A node is on a cycle when it reaches itself.
    let mut cycles = Vec::new();
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((n, route)) = stack.pop() {
            for m in graph.get(&n).into_iter().flatten() {
                if m == start {
                    let mut r = route.clone();
                    r.push(m.clone());
                    let shown: Vec<String> = r
                        .windows(2)
                        .map(|w| why[&(w[0].clone(), w[1].clone())].clone())
                        .collect();
                    cycles.push(format!("{}\n    {}", r.join(" -> "), shown.join("\n    ")));
                } else if seen.insert(m.clone()) {
                    let mut r = route.clone();
                    r.push(m.clone());
                    stack.push((m.clone(), r));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn domain_does_no_io_of_its_own_and_only_the_binary_prints() {
    let t = tree();
    let mut bad = Vec::new();
    for (rel, place, code) in &t.files {
        if place.layer == Layer::Domain {
            for name in DOMAIN_REFUSES {
                if contains_name(code, name) {
                    bad.push(format!(
                        "src/{rel}: {name} (domain/ reads and writes through io/)"
                    ));
                }
            }
            // `use std::{fs, env}` names them too.
            for group in std_groups(code) {
                for name in ["fs", "env", "process", "net"] {
                    let inner = format!("{name}::");
                    if group
                        .split([',', ' ', '\n'])
                        .any(|w| w == name || w.starts_with(&inner))
                    {
                        bad.push(format!(
                            "src/{rel}: std::{{{group}}} names std::{name} (domain/ reads and writes through io/)"
                        ));
                    }
                }
            }
        }
        // A path that climbs out of its module with super::super escapes the import check.
        if contains_name(code, "super::super") {
            bad.push(format!(
                "src/{rel}: super::super (name the module by its crate:: path)"
            ));
        }
        // The binary hands operations their environment (`ops::Env`).
        if place.layer == Layer::Ops && contains_name(code, "std::env") {
            bad.push(format!(
                "src/{rel}: std::env (operations get Env from the caller)"
            ));
        }
        if matches!(place.layer, Layer::Io | Layer::Domain | Layer::Ops) {
            for name in PRINTS {
                if contains_name(code, name) {
                    bad.push(format!("src/{rel}: {name} (the library never prints)"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The checks above must be able to fail: each rule catches a planted violation.
#[test]
fn the_checker_sees_what_it_looks_for() {
    let code = code_of(
        "use crate::domain::{scan::X, report};\n// crate::ops::nightly\n\
         let s = \"crate::ops::demo\";\n#[cfg(test)]\nmod tests { use crate::ops::x; }\n\
         fn f() { crate::io::s3::put(); }",
    );
    let paths = paths_in(&code, "crate");
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert!(
        joined.contains(&"domain::scan::X".to_string()),
        "{joined:?}"
    );
    assert!(joined.contains(&"domain::report".to_string()), "{joined:?}");
    assert!(joined.contains(&"io::s3::put".to_string()), "{joined:?}");
    assert!(!joined.iter().any(|p| p.starts_with("ops")), "{joined:?}");
    let known: BTreeSet<String> = ["domain::scan".to_string()].into();
    assert_eq!(
        place_of_path(&["domain", "scan", "X"], &known)
            .unwrap()
            .node,
        "domain::scan"
    );
    assert_eq!(
        place_of_path(&["domain", "thing"], &known).unwrap().node,
        "domain"
    );
    assert_eq!(place_of("io/mod.rs").unwrap().node, "io");
    assert_eq!(
        place_of("domain/scan/pages.rs").unwrap().node,
        "domain::scan"
    );
    assert!(Layer::Ops.rank() > Layer::Domain.rank());
    assert_eq!(std_groups("use std::{fs, io::Read};"), ["fs, io::Read"]);
    assert!(contains_name("use super::super::ops;", "super::super"));
    assert!(contains_name("let f = std::fs::File::open(p);", "std::fs"));
    assert!(contains_name("x.read(); eprintln!(\"\")", "eprintln!"));
    assert!(!contains_name("TempFile::create(p)", "File::create"));
    assert!(!contains_name(
        "use std::os::unix::fs::FileExt;",
        "fs::File"
    ));
    assert!(
        contains_name("use std::fs::File;", "fs::File")
            || contains_name("use std::fs::File;", "std::fs")
    );
}

//! Apache Iceberg tables: the metadata read as pyiceberg reads it (the duckdb-iceberg
//! corpus: v1 to v3 tables written by Spark, pyiceberg and others, with equality and
//! position deletes, deletion vectors, schema evolution and partitions).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::*;

/// The corpus copied to `root/data/persistent` (its metadata names files by paths relative
/// to where it was written), and its tables: directories with `metadata/*.metadata.json`,
/// below `root`.
fn corpus_tables(corpus: &Path, root: &Path) -> Vec<String> {
    copy_dir(corpus, &root.join("data/persistent"));
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let m = d.join("metadata");
        if m.is_dir()
            && std::fs::read_dir(&m).unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".metadata.json")
            })
        {
            out.push(d.to_path_buf());
            return;
        }
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("data/persistent"), &mut out);
    let mut tables: Vec<String> = out
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().to_string())
        .collect();
    tables.sort();
    tables
}

fn walk_files(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_corpus_table_reads_to_the_files_pyiceberg_lists_or_is_refused_naming_a_file() {
    let Some(corpus) = corpus("duckdb-iceberg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tables = corpus_tables(&corpus, dir.path());
    assert!(
        tables.len() >= 35,
        "corpus looks incomplete: {} tables",
        tables.len()
    );
    let store = vouch::io::local::LocalStore::open(dir.path()).unwrap();
    let mut read = Vec::new();
    let mut refused = Vec::new();
    for t in &tables {
        let ours = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vouch::domain::iceberg::open(&store, t)
        }))
        .unwrap_or_else(|_| panic!("{t}: reading the metadata panicked"));
        match ours {
            None => panic!("{t}: not seen as an Iceberg table"),
            Some(Ok(table)) => read.push((t.clone(), table)),
            Some(Err(e)) => {
                assert!(
                    e.file.starts_with(t.as_str()),
                    "{t}: the error names {}",
                    e.file
                );
                refused.push(format!("{t}: {}", e.problem));
            }
        }
    }
    let arg = json!({
        "root": dir.path(),
        "tables": read.iter().map(|(t, x)| json!({"table": t, "metadata": x.metadata_file})).collect::<Vec<_>>(),
    });
    let oracle = oracle("pyiceberg_files.py", &arg);
    let mut problems = Vec::new();
    for (t, x) in &read {
        let theirs = &oracle[t.as_str()];
        if let Some(err) = theirs.get("error") {
            // pyiceberg does not read v1 snapshots that list their manifests inline (no
            // manifest list); such a table of one append holds every data file on disk.
            if err.as_str().is_some_and(|e| e.contains("validation error")) && x.format_version == 1
            {
                let on_disk: Vec<String> = walk_files(&dir.path().join(t).join("data"))
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                    .map(|p| {
                        p.strip_prefix(dir.path().join(t))
                            .unwrap()
                            .to_string_lossy()
                            .to_string()
                    })
                    .collect();
                let ours: Vec<String> = x.current.keys().cloned().collect();
                assert_eq!(ours, on_disk, "{t}");
                continue;
            }
            problems.push(format!("{t}: read by vouch, pyiceberg says {err}"));
            continue;
        }
        use vouch::domain::iceberg::Content;
        let ours: Vec<(String, i64)> = x
            .current
            .values()
            .map(|f| {
                let c = match f.content {
                    Content::Data => 0,
                    Content::PositionDeletes => 1,
                    Content::EqualityDeletes => 2,
                };
                (f.path.clone(), c)
            })
            .collect();
        let want: Vec<(String, i64)> = theirs["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_i64().unwrap()))
            .collect();
        if ours != want {
            problems.push(format!("{t}: vouch {ours:?}\n  pyiceberg {want:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        read.len() >= 30,
        "{} read, refused: {refused:#?}",
        read.len()
    );
    eprintln!(
        "iceberg corpus: {} tables read like pyiceberg, {} refused: {refused:#?}",
        read.len(),
        refused.len()
    );
}

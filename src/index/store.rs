//! The subject index on disk, its incremental build, and its use by the scan.
//!
//! Layout of `DIR`: `files/<hash of the path>.vix`, one sealed entry per lake file, and
//! `lake.vix`, sealed, listing the entries (path → fingerprint → file) and holding the
//! lake-wide hash set. Every file is written to a temp file and renamed, `lake.vix`
//! last; an entry's own fingerprint is checked before use, so two builds racing leave a
//! usable index and never a wrong one. Anything that fails its checksum, its key id or
//! its parse is not trusted: the scan reads those files in full, the build redoes them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{FileEntry, Fingerprint, IndexKey, LakeSet, seal, unseal};
use crate::lake::{Table, list_table};
use crate::scan::ScanOptions;
use crate::store::Store;

/// The index in memory.
pub struct LakeIndex {
    pub key: IndexKey,
    pub set: LakeSet,
    pub entries: HashMap<String, FileEntry>,
    /// path → the entry's file name under `files/`.
    names: HashMap<String, String>,
    /// SHA-256 of `lake.vix` (hex): which index a report or certificate relied on.
    pub fingerprint: String,
    /// The lake set holds only values of current files (no removal or replacement since
    /// it was built from scratch).
    pub exact: bool,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// path → entry file name below `files/`.
    files: BTreeMap<String, String>,
    /// Whether the lake set holds only values of current files (false after removals).
    exact: bool,
}

/// What `vouch index build` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildSummary {
    pub files: u64,
    /// Files (re)indexed: new, changed, or with an unusable entry.
    pub indexed: u64,
    /// Files whose entry was kept (same fingerprint).
    pub reused: u64,
    /// Entries dropped because their file is gone.
    pub removed: u64,
    pub lake_values: u64,
    /// The lake set holds only current values (else stale ones too, until a rebuild).
    pub lake_set_exact: bool,
    pub index_bytes: u64,
    pub fingerprint: String,
    /// Files that could not be indexed (they are scanned in full).
    pub errors: Vec<crate::report::ScanErrorEntry>,
}

/// An entry's file name: the hash of its sealed bytes. Content-addressed, so a build can
/// never overwrite an entry another build's `lake.vix` lists (whose lake set covers that
/// entry's values, and only those): an entry is trusted only under the name it has.
fn entry_name(sealed: &[u8]) -> String {
    format!(
        "{}.vix",
        &crate::subjects::hex(&Sha256::digest(sealed))[..32]
    )
}

impl LakeIndex {
    /// Loads the index in `dir` (every entry is checked).
    pub fn load(dir: &Path, key: &IndexKey) -> Result<LakeIndex, String> {
        let lake = dir.join("lake.vix");
        let raw = std::fs::read(&lake)
            .map_err(|e| format!("{}: {}", lake.display(), crate::store::io_message(&e)))?;
        let fingerprint = crate::subjects::hex(&Sha256::digest(&raw));
        let body = unseal(key, &raw).map_err(|e| format!("{}: {e}", lake.display()))?;
        let n = body
            .get(..4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
            .ok_or("lake.vix: malformed")?;
        let manifest: Manifest =
            serde_json::from_slice(body.get(4..4 + n).ok_or("lake.vix: malformed")?)
                .map_err(|e| format!("lake.vix: {e}"))?;
        let set = LakeSet::from_bytes(&body[4 + n..])?;
        use rayon::prelude::*;
        // An unusable entry leaves its file to a full scan.
        let loaded: HashMap<String, (String, FileEntry)> = manifest
            .files
            .par_iter()
            .filter_map(|(path, name)| {
                let raw = std::fs::read(dir.join("files").join(name)).ok()?;
                if entry_name(&raw) != *name {
                    return None;
                }
                let e = FileEntry::from_bytes(unseal(key, &raw).ok()?).ok()?;
                (&e.fingerprint.path == path).then(|| (path.clone(), (name.clone(), e)))
            })
            .collect();
        let mut names = HashMap::new();
        let mut entries = HashMap::new();
        for (path, (name, e)) in loaded {
            names.insert(path.clone(), name);
            entries.insert(path, e);
        }
        Ok(LakeIndex {
            key: key.clone(),
            set,
            entries,
            names,
            fingerprint,
            exact: manifest.exact,
        })
    }
}

/// Builds or brings up to date the index of `tables` in `dir`.
pub fn build(
    store: &dyn Store,
    tables: &[Table],
    key: &IndexKey,
    dir: &Path,
    opts: &ScanOptions,
) -> Result<BuildSummary, String> {
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir)
        .map_err(|e| format!("{}: {}", files_dir.display(), crate::store::io_message(&e)))?;
    let old = LakeIndex::load(dir, key).ok();
    let mut summary = BuildSummary::default();
    let mut manifest = Manifest {
        version: 1,
        files: BTreeMap::new(),
        exact: true,
    };
    let mut set = match &old {
        Some(o) => o.set.clone(),
        None => LakeSet::default(),
    };
    let mut listed_paths = std::collections::HashSet::new();
    let mut replaced = 0u64;
    // New values, merged into the set once at the end (one sort, not one per file).
    let mut new_hashes: Vec<u64> = Vec::new();
    for t in tables {
        let listing = list_table(store, t, false);
        for e in listing.errors {
            summary.errors.push(crate::report::ScanErrorEntry {
                file: e.path,
                error: e.message,
            });
        }
        use rayon::prelude::*;
        let results: Vec<_> = listing
            .files
            .par_iter()
            .map(|f| {
                let reuse = old
                    .as_ref()
                    .and_then(|o| o.entries.get(&f.path))
                    .filter(|e| {
                        e.fingerprint.listed_as(f)
                            && e.columns.iter().all(|c| t.id_columns.contains(c))
                    });
                match reuse {
                    Some(_) => (f, None),
                    None => (
                        f,
                        Some(crate::scan::index_file(store, f, &t.id_columns, key, opts)),
                    ),
                }
            })
            .collect();
        for (f, r) in results {
            summary.files += 1;
            listed_paths.insert(f.path.clone());
            match r {
                None => {
                    summary.reused += 1;
                    let name = old
                        .as_ref()
                        .and_then(|o| o.names.get(&f.path))
                        .cloned()
                        .unwrap_or_default();
                    manifest.files.insert(f.path.clone(), name);
                }
                Some(Ok((entry, hashes))) => {
                    if old
                        .as_ref()
                        .is_some_and(|o| o.entries.contains_key(&f.path))
                    {
                        replaced += 1;
                    }
                    let sealed = seal(key, &entry.to_bytes());
                    let name = entry_name(&sealed);
                    // Authenticated and content-named: a lost or torn entry after a crash
                    // is redone, not trusted.
                    crate::fsio::write_atomic_unsynced(&files_dir.join(&name), &sealed)?;
                    new_hashes.extend_from_slice(&hashes);
                    summary.indexed += 1;
                    manifest.files.insert(f.path.clone(), name);
                }
                Some(Err(e)) => summary.errors.push(crate::report::ScanErrorEntry {
                    file: f.path.clone(),
                    error: e,
                }),
            }
        }
    }
    if let Some(o) = &old {
        summary.removed = o
            .entries
            .keys()
            .filter(|p| !listed_paths.contains(*p))
            .count() as u64;
        // Replaced or removed files leave their values in the set: a superset, never a
        // false negative. A build from scratch makes it exact again.
        manifest.exact = o.exact && summary.removed == 0 && replaced == 0;
    }
    set.extend(&new_hashes);
    drop(new_hashes);
    let head = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    let mut body = (head.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(&head);
    body.extend_from_slice(&set.to_bytes());
    let sealed = seal(key, &body);
    crate::fsio::write_atomic(&dir.join("lake.vix"), &sealed, true)?;
    // Entries this index no longer lists (replaced or vanished files). A build racing
    // this one may lose an entry it just wrote: its file is then read in full, never
    // skipped, and the next build redoes it.
    let listed: std::collections::HashSet<&String> = manifest.files.values().collect();
    for e in std::fs::read_dir(&files_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".vix") && !listed.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    summary.lake_values = set.len() as u64;
    summary.lake_set_exact = manifest.exact;
    summary.fingerprint = crate::subjects::hex(&Sha256::digest(&sealed));
    summary.index_bytes = dir_bytes(dir);
    Ok(summary)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

impl LakeIndex {
    /// The row groups of a file the index rules out for these probes, or None when the
    /// index cannot speak for the file (no entry, or its fingerprint differs).
    /// `probes` are (column name, hashes of the subject IDs in that column's form).
    pub fn ruled_out(
        &self,
        fingerprint: &Fingerprint,
        probes: &[(String, Vec<u64>)],
    ) -> Option<Vec<bool>> {
        let e = self.entries.get(&fingerprint.path)?;
        if &e.fingerprint != fingerprint {
            return None;
        }
        // Only subjects present somewhere in the lake need the per-row-group filters.
        let present: Vec<(usize, Vec<u64>)> = probes
            .iter()
            .map(|(col, hashes)| {
                let i = e.columns.iter().position(|c| c == col);
                (
                    i,
                    hashes
                        .iter()
                        .copied()
                        .filter(|h| self.set.contains(*h))
                        .collect(),
                )
            })
            .map(|(i, h)| i.map(|i| (i, h)))
            .collect::<Option<Vec<_>>>()?;
        Some(
            e.row_groups
                .iter()
                .map(|filters| {
                    present
                        .iter()
                        .all(|(i, hs)| hs.iter().all(|h| !filters[*i].may_contain(*h)))
                })
                .collect(),
        )
    }
}

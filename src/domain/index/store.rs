//! The subject index on disk, its incremental build, and its use by the scan.
//!
//! Layout of `DIR`: `files/<name>.vix`, one sealed entry per lake file (its row group
//! filters), named by its own MAC so a name commits to its contents, and `lake.vix`,
//! sealed, listing every lake file with its fingerprint, columns and entry name, and
//! holding the lake-wide hash set. Every file is written to a temp file and renamed,
//! `lake.vix` last, so two builds racing leave a usable index and never a wrong one.
//! Files are read in part (see [`super::sealed`]): a lookup opens `lake.vix`, reads the
//! blocks of the lake set it needs, and opens an entry only for a file that may hold a
//! subject present in the lake. Anything that fails its check is not trusted: the scan
//! reads those files in full, the build redoes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sealed::{BLOCK, Sealed, prefix_sha256, seal};
use super::{EntryRef, Fingerprint, IndexError, IndexKey, LakeSet, sorted_hashes};
use crate::domain::lake::{Table, list_table};
use crate::io::store::{ObjectMeta, Store};

/// Indexes one file of a table with these identifier columns; its error is the file's
/// problem as the scan states it (`scan::FileProblem`: the index does not depend on the
/// scan, the scan's decoder is handed in).
pub type IndexFile<'a, E> =
    dyn Fn(&ObjectMeta, &[String]) -> Result<(super::FileEntry, Vec<u64>), E> + Sync + 'a;

/// The index, opened: `lake.vix`'s head in memory, the rest read on demand.
pub struct LakeIndex {
    pub key: IndexKey,
    dir: PathBuf,
    files: BTreeMap<String, Listed>,
    set: Sealed,
    /// The first hash of each block of the lake set.
    set_dir: Vec<u64>,
    /// SHA-256 (hex) of `lake.vix` up to its lake set, which it commits to by the set's
    /// SHA-256: which index a report or certificate relied on.
    pub fingerprint: String,
    /// The lake set holds only values of current files (no removal or replacement since
    /// it was built from scratch).
    pub exact: bool,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    version: u32,
    files: BTreeMap<String, Listed>,
    /// Whether the lake set holds only values of current files (false after removals).
    exact: bool,
}

/// A lake file as `lake.vix` lists it.
#[derive(Serialize, Deserialize, Clone)]
struct Listed {
    /// The entry's file name below `files/`.
    entry: String,
    fingerprint: Fingerprint,
    columns: Vec<String>,
    row_groups: usize,
}

/// What `vouch index build` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildSummary {
    /// 1 (0 only before the build fills it in).
    pub schema_version: u32,
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
    pub errors: Vec<crate::domain::report::ScanErrorEntry>,
}

impl LakeIndex {
    /// Opens the index in `dir`: checks `lake.vix`'s head; the rest is checked as read.
    pub fn load(dir: &Path, key: &IndexKey) -> Result<LakeIndex, IndexError> {
        let lake = dir.join("lake.vix");
        let at = |e: IndexError| IndexError::At {
            path: lake.display().to_string(),
            error: Box::new(e),
        };
        let set = Sealed::open(&lake, key).map_err(at)?;
        let head = &set.head;
        let n = head
            .get(..4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
            .ok_or_else(|| at(IndexError::Malformed))?;
        let manifest: Manifest = serde_json::from_slice(
            head.get(4..4 + n)
                .ok_or_else(|| at(IndexError::Malformed))?,
        )
        .map_err(|e| at(IndexError::Json(e.to_string())))?;
        let set_dir = sorted_hashes(&head[4 + n..])
            .filter(|d| {
                set.body_len().is_multiple_of(8) && d.len() as u64 == set.body_len().div_ceil(BLOCK)
            })
            .ok_or_else(|| at(IndexError::MalformedSet))?;
        Ok(LakeIndex {
            key: key.clone(),
            dir: dir.to_path_buf(),
            files: manifest.files,
            fingerprint: set.prefix_sha256.clone(),
            set,
            set_dir,
            exact: manifest.exact,
        })
    }

    /// How many lake files the index lists.
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// Whether the lake set holds `h` (one block read and checked).
    fn set_contains(&self, h: u64) -> Result<bool, IndexError> {
        let i = self.set_dir.partition_point(|&first| first <= h);
        if i == 0 {
            return Ok(false);
        }
        let at = (i - 1) as u64 * BLOCK;
        let b = self.set.read(at, BLOCK.min(self.set.body_len() - at))?;
        let v = sorted_hashes(&b)
            .filter(|v| v.first() == Some(&self.set_dir[i - 1]))
            .ok_or(IndexError::MalformedSet)?;
        Ok(v.binary_search(&h).is_ok())
    }

    /// The hashes that may occur in the lake. A block that fails its check counts as a
    /// match (the row group filters then decide): never a false "absent".
    pub fn present(&self, hashes: &[u64]) -> Vec<u64> {
        hashes
            .iter()
            .copied()
            .filter(|&h| self.set_contains(h).unwrap_or(true))
            .collect()
    }

    /// The whole lake set (for a build), every block checked.
    fn set_values(&self) -> Result<LakeSet, IndexError> {
        LakeSet::from_bytes(&self.set.read_all()?)
    }

    /// Opens and checks the entry of a listed file.
    fn entry(&self, listed: &Listed) -> Result<EntryRef, IndexError> {
        let sealed = Sealed::open(&self.dir.join("files").join(&listed.entry), &self.key)?;
        if sealed.name != listed.entry {
            return Err(IndexError::EntryMismatch);
        }
        let e = EntryRef::open(sealed)?;
        if e.fingerprint != listed.fingerprint
            || e.columns != listed.columns
            || e.row_groups.len() != listed.row_groups
        {
            return Err(IndexError::EntryMismatch);
        }
        Ok(e)
    }
}

/// Builds or brings up to date the index of `tables` in `dir`.
/// `index_file` reads one lake file's identifier columns (the scan's decoder:
/// `scan::index_file`) into its entry and the keyed hashes of its values.
pub fn build<E: std::fmt::Display + Send>(
    store: &dyn Store,
    tables: &[Table],
    key: &IndexKey,
    dir: &Path,
    index_file: &IndexFile<'_, E>,
    progress: &dyn crate::domain::progress::Progress,
) -> Result<BuildSummary, IndexError> {
    let files_dir = dir.join("files");
    crate::io::fsio::create_dir_all(&files_dir)?;
    // The old index is usable only with its whole lake set (an entry kept must have its
    // values there).
    let old = LakeIndex::load(dir, key)
        .ok()
        .and_then(|o| o.set_values().ok().map(|set| (o, set)));
    let mut summary = BuildSummary {
        schema_version: 1,
        ..BuildSummary::default()
    };
    let mut manifest = Manifest {
        version: 2,
        files: BTreeMap::new(),
        exact: true,
    };
    let (old, mut set) = match old {
        Some((o, set)) => (Some(o), set),
        None => (None, LakeSet::default()),
    };
    let mut listed_paths = std::collections::HashSet::new();
    let mut replaced = 0u64;
    // New values, merged into the set once at the end (one sort, not one per file).
    let mut new_hashes: Vec<u64> = Vec::new();
    let listed: Vec<_> = tables
        .iter()
        .map(|t| (t, list_table(store, t, false)))
        .collect();
    progress.stage("indexing");
    progress.start(
        listed.iter().map(|(_, l)| l.files.len() as u64).sum(),
        listed
            .iter()
            .flat_map(|(_, l)| &l.files)
            .map(|f| f.size)
            .sum(),
    );
    for (t, listing) in listed {
        for e in listing.errors {
            summary.errors.push(crate::domain::report::ScanErrorEntry {
                file: e.path,
                error: e.message,
            });
        }
        use rayon::prelude::*;
        let results: Vec<_> = listing
            .files
            .par_iter()
            .map(|f| {
                // Kept when the file is unchanged and its entry checks out in full.
                let reuse = old.as_ref().and_then(|o| {
                    let l = o.files.get(&f.path)?;
                    let usable = l.fingerprint.listed_as(f)
                        && l.columns.iter().all(|c| t.id_columns.contains(c))
                        && o.entry(l).and_then(|e| e.sealed.read_all()).is_ok();
                    usable.then(|| l.clone())
                });
                let r = match reuse {
                    Some(l) => (f, Ok(l)),
                    None => (f, Err(index_file(f, &t.id_columns))),
                };
                progress.file_done(f.size);
                r
            })
            .collect();
        for (f, r) in results {
            summary.files += 1;
            listed_paths.insert(f.path.clone());
            match r {
                Ok(l) => {
                    summary.reused += 1;
                    manifest.files.insert(f.path.clone(), l);
                }
                Err(Ok((entry, hashes))) => {
                    if old.as_ref().is_some_and(|o| o.files.contains_key(&f.path)) {
                        replaced += 1;
                    }
                    let (head, body) = entry.to_parts();
                    let (sealed, name) = seal(key, &head, &body);
                    // Checked and named by its MAC: a lost or torn entry after a crash is
                    // redone, not trusted.
                    crate::io::fsio::write_atomic_unsynced(&files_dir.join(&name), &sealed)?;
                    new_hashes.extend_from_slice(&hashes);
                    summary.indexed += 1;
                    manifest.files.insert(
                        f.path.clone(),
                        Listed {
                            entry: name,
                            row_groups: entry.row_groups.len(),
                            fingerprint: entry.fingerprint,
                            columns: entry.columns,
                        },
                    );
                }
                Err(Err(e)) => summary.errors.push(crate::domain::report::ScanErrorEntry {
                    file: f.path.clone(),
                    error: e.to_string(),
                }),
            }
        }
    }
    if let Some(o) = &old {
        summary.removed = o
            .files
            .keys()
            .filter(|p| !listed_paths.contains(*p))
            .count() as u64;
        // Replaced or removed files leave their values in the set: a superset, never a
        // false negative. A build from scratch makes it exact again.
        manifest.exact = o.exact && summary.removed == 0 && replaced == 0;
    }
    set.extend(&new_hashes);
    drop(new_hashes);
    let json = serde_json::to_vec(&manifest).map_err(|e| IndexError::Json(e.to_string()))?;
    let mut head = (json.len() as u32).to_le_bytes().to_vec();
    head.extend_from_slice(&json);
    let body = set.to_bytes();
    for block in body.chunks(BLOCK as usize) {
        head.extend_from_slice(&block[..8]);
    }
    let (sealed, _) = seal(key, &head, &body);
    crate::io::fsio::write_atomic(&dir.join("lake.vix"), &sealed, true)?;
    // Entries this index no longer lists (replaced or vanished files). A build racing
    // this one may lose an entry it just wrote: its file is then read in full, never
    // skipped, and the next build redoes it.
    let listed: std::collections::HashSet<&String> =
        manifest.files.values().map(|l| &l.entry).collect();
    for name in crate::io::fsio::names_in(&files_dir) {
        if name.ends_with(".vix") && !listed.contains(&name) {
            crate::io::fsio::remove_written(&files_dir.join(name));
        }
    }
    summary.lake_values = set.len() as u64;
    summary.lake_set_exact = manifest.exact;
    summary.fingerprint = prefix_sha256(&sealed[..sealed.len() - body.len()]);
    summary.index_bytes = crate::io::fsio::dir_bytes(dir);
    Ok(summary)
}

impl LakeIndex {
    /// The row groups of a file the index rules out for these probes, or None when the
    /// index cannot speak for the file (not listed, its fingerprint differs, or its entry
    /// fails a check). `probes` are (column name, the subjects' keyed hashes in that
    /// column's form that [`LakeIndex::present`] let through): only subjects present
    /// somewhere in the lake need the row group filters.
    pub fn ruled_out(
        &self,
        fingerprint: &Fingerprint,
        probes: &[(String, &[u64])],
    ) -> Option<Vec<bool>> {
        let listed = self.files.get(&fingerprint.path)?;
        if &listed.fingerprint != fingerprint {
            return None;
        }
        let present: Vec<(usize, &[u64])> = probes
            .iter()
            .map(|(col, hashes)| Some((listed.columns.iter().position(|c| c == col)?, *hashes)))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .filter(|(_, h)| !h.is_empty())
            .collect();
        if present.is_empty() {
            // No subject occurs anywhere in the lake set, which holds every value of
            // every listed file: the entry need not be opened.
            return Some(vec![true; listed.row_groups]);
        }
        let e = self.entry(listed).ok()?;
        let mut out = Vec::with_capacity(e.row_groups.len());
        for filters in &e.row_groups {
            let mut maybe = false;
            for (i, hs) in &present {
                if filters[*i].may_contain_any(&e.sealed, hs).ok()? {
                    maybe = true;
                    break;
                }
            }
            out.push(!maybe);
        }
        Some(out)
    }
}

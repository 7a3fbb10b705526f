//! The subject index on disk, its incremental build, and its use by the scan.
//!
//! Layout of `DIR`: `files/<name>.vix`, one sealed entry per lake file (its row group
//! filters), named by its own MAC so a name commits to its contents; `sets/<name>.vix`,
//! the layers of the lake-wide hash set, named the same way; and `lake.vix`, sealed,
//! listing every lake file with its fingerprint, columns and entry name, and the set's
//! layers by name. Every file is written to a temp file and renamed, `lake.vix` last, so
//! two builds racing leave a usable index and never a wrong one.
//! Files are read in part (see [`super::sealed`]): a lookup opens `lake.vix` and the
//! layers' heads, reads the blocks of the lake set it needs, and opens an entry only for
//! a file that may hold a subject present in the lake. Anything that fails its check is
//! not trusted: the scan reads those files in full, the build redoes them.
//!
//! The set is kept in layers so that a night's upkeep writes the new files' values, not
//! the whole lake's again: each build adds one layer of its new values, then merges the
//! newest two while the newer holds at least half as many values as the one before
//! (sizes then at least halve layer to layer: at most log2(n) layers, and each value is
//! merged again at most that many times in all).
//!
//! Each build that adds a layer is a generation (0 for a build from scratch, then one
//! more each time): `lake.vix` gives every file the generation that indexed it and every
//! layer the generations whose values it holds (a range, joined when layers merge). A
//! file's values are all in the layers of its generation, so a subject whose hash those
//! layers do not hold cannot be in the file, and the file's filters are not consulted for
//! it: a subject deleted tonight whose rows only tonight's files hold costs no false
//! positive in the rest of the lake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sealed::{BLOCK, Sealed, prefix_sha256, seal};
use super::{EntryRef, Fingerprint, IndexError, IndexKey, LakeSet, sorted_hashes};
use crate::domain::lake::TableFiles;
use crate::io::store::ObjectMeta;

/// Indexes one file of a table with these identifier columns; its error is the file's
/// problem as the scan states it (`scan::FileProblem`: the index does not depend on the
/// scan, the scan's decoder is handed in).
pub type IndexFile<'a, E> =
    dyn Fn(&ObjectMeta, &[String]) -> Result<(super::FileEntry, Vec<Vec<u64>>), E> + Sync + 'a;

/// The index, opened: `lake.vix`'s head and the set layers' heads in memory, the rest
/// read on demand.
pub struct LakeIndex {
    pub key: IndexKey,
    dir: PathBuf,
    files: BTreeMap<String, Listed>,
    /// The lake set's layers, oldest (largest) first.
    sets: Vec<SetLayer>,
    /// The names of the entries `files` lists.
    entries: std::collections::HashSet<String>,
    /// Entries a lookup found damaged (their lake files were read in full).
    broken: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// SHA-256 (hex) of `lake.vix`, which commits to every entry and set layer by name
    /// (each name is its file's MAC): which index a report or certificate relied on.
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
    /// The lake set's layers below `sets/`, oldest first.
    sets: Vec<String>,
    /// Per layer (as `sets`): the first and last generation whose values it holds.
    generations: Vec<[u64; 2]>,
}

/// The manifest version this build writes and reads (an index of any other version is
/// rebuilt, never half-read; version 3, without generations, was written only in index
/// files of format 4, which are refused whole).
const MANIFEST_VERSION: u32 = 4;

/// One layer of the lake set: its body the sorted hashes, its head the first hash of
/// each block.
struct SetLayer {
    name: String,
    sealed: Sealed,
    dir: Vec<u64>,
    /// The generations whose values it holds, first and last.
    generations: [u64; 2],
}

impl SetLayer {
    fn open(
        sets: &Path,
        name: &str,
        generations: [u64; 2],
        key: &IndexKey,
    ) -> Result<SetLayer, IndexError> {
        let path = sets.join(name);
        let at = |e: IndexError| IndexError::At {
            path: path.display().to_string(),
            error: Box::new(e),
        };
        let sealed = Sealed::open(&path, key).map_err(at)?;
        if sealed.name != name {
            return Err(at(IndexError::EntryMismatch));
        }
        let dir = sorted_hashes(&sealed.head)
            .filter(|d| {
                sealed.body_len().is_multiple_of(8)
                    && d.len() as u64 == sealed.body_len().div_ceil(BLOCK)
            })
            .ok_or_else(|| at(IndexError::MalformedSet))?;
        Ok(SetLayer {
            name: name.to_string(),
            sealed,
            dir,
            generations,
        })
    }

    fn len(&self) -> usize {
        (self.sealed.body_len() / 8) as usize
    }

    /// Whether the layer holds `h` (one block read and checked).
    fn contains(&self, h: u64) -> Result<bool, IndexError> {
        let i = self.dir.partition_point(|&first| first <= h);
        if i == 0 {
            return Ok(false);
        }
        let at = (i - 1) as u64 * BLOCK;
        let b = self
            .sealed
            .read(at, BLOCK.min(self.sealed.body_len() - at))?;
        let v = sorted_hashes(&b)
            .filter(|v| v.first() == Some(&self.dir[i - 1]))
            .ok_or(IndexError::MalformedSet)?;
        Ok(v.binary_search(&h).is_ok())
    }

    /// Every hash, every block checked.
    fn values(&self) -> Result<LakeSet, IndexError> {
        LakeSet::from_bytes(&self.sealed.read_all()?)
    }
}

/// Writes a set layer into `sets` (unsynced, as entries: a lost layer makes `lake.vix`
/// unusable and the index is rebuilt); returns its name.
fn write_layer(sets: &Path, key: &IndexKey, set: &LakeSet) -> Result<String, IndexError> {
    let body = set.to_bytes();
    let mut head = Vec::with_capacity(body.len().div_ceil(BLOCK as usize) * 8);
    for block in body.chunks(BLOCK as usize) {
        head.extend_from_slice(&block[..8]);
    }
    let (sealed, name) = seal(key, &head, &body);
    crate::io::fsio::write_atomic_unsynced(&sets.join(&name), &sealed)?;
    Ok(name)
}

/// A layer of the set while a build works: kept from the old index, or new (with its
/// generations).
enum Layer {
    Kept(Box<SetLayer>),
    New(LakeSet, [u64; 2]),
}

impl Layer {
    fn len(&self) -> usize {
        match self {
            Layer::Kept(l) => l.len(),
            Layer::New(s, _) => s.len(),
        }
    }

    fn generations(&self) -> [u64; 2] {
        match self {
            Layer::Kept(l) => l.generations,
            Layer::New(_, g) => *g,
        }
    }

    fn values(self) -> Result<LakeSet, IndexError> {
        match self {
            Layer::Kept(l) => l.values(),
            Layer::New(s, _) => Ok(s),
        }
    }
}

/// Merges the newest two layers while the newer holds at least half as many values as
/// the one before.
fn compact(layers: &mut Vec<Layer>) -> Result<(), IndexError> {
    while let [.., a, b] = layers.as_slice()
        && b.len().saturating_mul(2) >= a.len()
    {
        let (Some(b), Some(a)) = (layers.pop(), layers.pop()) else {
            break;
        };
        let (ga, gb) = (a.generations(), b.generations());
        let generations = [ga[0].min(gb[0]), ga[1].max(gb[1])];
        let mut merged = a.values()?;
        merged.absorb(b.values()?.0);
        layers.push(Layer::New(merged, generations));
    }
    Ok(())
}

/// A lake file as `lake.vix` lists it.
#[derive(Serialize, Deserialize, Clone)]
struct Listed {
    /// The entry's file name below `files/`.
    entry: String,
    fingerprint: Fingerprint,
    columns: Vec<String>,
    row_groups: usize,
    /// The build that indexed it: its values are in the layers whose generations
    /// include this one.
    generation: u64,
}

/// Layers of the lake set, one bit each (bit i for the i-th, oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers(u64);

impl Layers {
    const ALL: Layers = Layers(u64::MAX);

    /// Layer i's bit; past the 64th, every bit (the mask then never narrows).
    fn bit(i: usize) -> u64 {
        if i < 64 { 1 << i } else { u64::MAX }
    }
}

/// The keyed hashes of a scan's subjects that the lake set may hold, in the order given,
/// each with the layers that may hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Present {
    pub hashes: Vec<u64>,
    layers: Vec<Layers>,
}

impl Present {
    /// The hashes a file whose values are in `layers` may hold.
    fn within(&self, layers: Layers) -> Vec<u64> {
        self.hashes
            .iter()
            .zip(&self.layers)
            .filter(|(_, l)| l.0 & layers.0 != 0)
            .map(|(&h, _)| h)
            .collect()
    }
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
    /// Opens the index in `dir`: checks `lake.vix` and its set layers' heads; the rest is
    /// checked as read.
    pub fn load(dir: &Path, key: &IndexKey) -> Result<LakeIndex, IndexError> {
        let lake = dir.join("lake.vix");
        let at = |e: IndexError| IndexError::At {
            path: lake.display().to_string(),
            error: Box::new(e),
        };
        let top = Sealed::open(&lake, key).map_err(at)?;
        let manifest: Manifest =
            serde_json::from_slice(&top.head).map_err(|e| at(IndexError::Json(e.to_string())))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(at(IndexError::Malformed));
        }
        let generations = manifest.generations.clone();
        if top.body_len() != 0
            || generations.len() != manifest.sets.len()
            || generations.iter().any(|g| g[0] > g[1])
        {
            return Err(at(IndexError::Malformed));
        }
        let sets_dir = dir.join("sets");
        let sets = manifest
            .sets
            .iter()
            .zip(generations)
            .map(|(name, g)| SetLayer::open(&sets_dir, name, g, key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LakeIndex {
            key: key.clone(),
            dir: dir.to_path_buf(),
            entries: manifest.files.values().map(|l| l.entry.clone()).collect(),
            broken: Default::default(),
            files: manifest.files,
            fingerprint: top.prefix_sha256.clone(),
            sets,
            exact: manifest.exact,
        })
    }

    /// How many lake files the index lists.
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// The layers that may hold `h` (a block read and checked per layer; one that fails
    /// its check counts as holding it).
    fn layers_holding(&self, h: u64) -> Layers {
        let mut m = 0;
        for (i, l) in self.sets.iter().enumerate() {
            if l.contains(h).unwrap_or(true) {
                m |= Layers::bit(i);
            }
        }
        Layers(m)
    }

    /// The layers that hold the values of a file of generation `g`; all of them when
    /// the index has more layers than a mask has bits or none claims `g` (never a
    /// narrower answer than the set's own).
    fn layers_of(&self, g: u64) -> Layers {
        let mut m = 0;
        for (i, l) in self.sets.iter().enumerate() {
            if l.generations[0] <= g && g <= l.generations[1] {
                m |= Layers::bit(i);
            }
        }
        if m == 0 || self.sets.len() > 64 {
            return Layers::ALL;
        }
        Layers(m)
    }

    /// The hashes that may occur in the lake, each with the layers that may hold it.
    /// A block that fails its check counts as a match (the row group filters then
    /// decide): never a false "absent".
    ///
    /// Each lookup reads and authenticates a block of a layer (a night's thousand
    /// subjects: two thousand blocks), so a long list is looked up in two halves side by
    /// side: the second on a thread of its own, not on rayon's pool, whose workers call
    /// this from inside a `OnceLock` that another file's work stolen onto the same
    /// worker would wait on.
    pub fn present(&self, hashes: &[u64]) -> Present {
        let part = |hashes: &[u64]| {
            let mut out = Present::default();
            for &h in hashes {
                let layers = self.layers_holding(h);
                if layers.0 != 0 {
                    out.hashes.push(h);
                    out.layers.push(layers);
                }
            }
            out
        };
        if hashes.len() < PRESENT_SPLIT {
            return part(hashes);
        }
        let (first, second) = hashes.split_at(hashes.len() / 2);
        std::thread::scope(|s| {
            let later = s.spawn(|| part(second));
            let mut out = part(first);
            // A half whose thread failed is looked up here: never a narrower answer.
            let rest = later.join().unwrap_or_else(|_| part(second));
            out.hashes.extend(rest.hashes);
            out.layers.extend(rest.layers);
            out
        })
    }

    /// The generation the next build's new files get: one past every generation this
    /// index names.
    fn next_generation(&self) -> u64 {
        let layers = self.sets.iter().map(|l| l.generations[1]);
        let files = self.files.values().map(|l| l.generation);
        layers.chain(files).max().map_or(0, |g| g.saturating_add(1))
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

/// From this many hashes a lookup of the lake set is split in two (see
/// [`LakeIndex::present`]).
const PRESENT_SPLIT: usize = 256;

/// How much of a kept entry a build checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptCheck {
    /// Its sealed head: the MAC of its head and block tags, and its exact length (a
    /// missing, truncated, replaced or foreign entry is redone). A damaged body is found
    /// when a lookup reads the block: that lake file is then read in full.
    Head,
    /// Every byte, against the SHA-256 its sealed head holds (`index build --verify`).
    Whole,
}

/// Builds or brings up to date the index of the files of `listed` (the lake's tables as
/// [`crate::domain::lake::list_tables`] lists them, without versions) in `dir`.
/// `index_file` reads one lake file's identifier columns (the scan's decoder:
/// `scan::index_file`) into its entry and the keyed hashes of its values.
pub fn build<E: std::fmt::Display + Send>(
    listed: &[TableFiles],
    key: &IndexKey,
    dir: &Path,
    index_file: &IndexFile<'_, E>,
    check: KeptCheck,
    progress: &dyn crate::domain::progress::Progress,
) -> Result<BuildSummary, IndexError> {
    crate::io::fsio::create_dir_all(dir)?;
    // Builds of one index take turns, each starting from the last one's result: a set
    // layer one build merged away is never still needed by another.
    let _lock = crate::io::fsio::lock_exclusive(&dir.join("build.lock"))?;
    let old = LakeIndex::load(dir, key).ok();
    let inputs = BuildInputs {
        listed,
        key,
        dir,
        index_file,
        check,
        progress,
    };
    let r = match build_on(&inputs, old) {
        // A kept set layer that fails its check when merged: the set cannot be trusted
        // whole, so the index is built again from scratch.
        Err(BuildError::Layer) => match build_on(&inputs, None) {
            Err(BuildError::Layer) => Err(IndexError::MalformedSet),
            Err(BuildError::Index(e)) => Err(e),
            Ok(s) => Ok(s),
        },
        Err(BuildError::Index(e)) => Err(e),
        Ok(s) => Ok(s),
    };
    super::fuse::release();
    r
}

/// A newly indexed file's entry sealed and written (checked and named by its MAC: a lost
/// or torn entry after a crash is redone, not trusted), its values sent to the build's
/// gatherer; what `lake.vix` lists of it.
fn new_entry<E>(
    inputs: &BuildInputs<'_, '_, E>,
    files_dir: &Path,
    gather: &std::sync::mpsc::SyncSender<Vec<Vec<u64>>>,
    entry: super::FileEntry,
    hashes: Vec<Vec<u64>>,
    generation: u64,
) -> Result<Listed, BuildError> {
    let (head, body) = entry.to_parts();
    let (sealed, name) = seal(inputs.key, &head, &body);
    crate::io::fsio::write_atomic_unsynced(&files_dir.join(&name), &sealed)?;
    // A file whose values the set lost would be ruled out wrongly: the build fails.
    gather
        .send(hashes)
        .map_err(|_| IndexError::Io("the lake set's gathering stopped".into()))?;
    Ok(Listed {
        entry: name,
        row_groups: entry.row_groups.len(),
        fingerprint: entry.fingerprint,
        columns: entry.columns,
        generation,
    })
}

/// What a build works on (see [`build`]).
struct BuildInputs<'a, 'f, E> {
    listed: &'a [TableFiles],
    key: &'a IndexKey,
    dir: &'a Path,
    index_file: &'a IndexFile<'f, E>,
    check: KeptCheck,
    progress: &'a dyn crate::domain::progress::Progress,
}

enum BuildError {
    Layer,
    Index(IndexError),
}

impl From<IndexError> for BuildError {
    fn from(e: IndexError) -> BuildError {
        BuildError::Index(e)
    }
}

impl From<crate::io::fsio::FileError> for BuildError {
    fn from(e: crate::io::fsio::FileError) -> BuildError {
        BuildError::Index(e.into())
    }
}

fn build_on<E: std::fmt::Display + Send>(
    inputs: &BuildInputs<'_, '_, E>,
    mut old: Option<LakeIndex>,
) -> Result<BuildSummary, BuildError> {
    let files_dir = inputs.dir.join("files");
    let sets_dir = inputs.dir.join("sets");
    crate::io::fsio::create_dir_all(&files_dir)?;
    crate::io::fsio::create_dir_all(&sets_dir)?;
    let mut summary = BuildSummary {
        schema_version: 1,
        ..BuildSummary::default()
    };
    let mut manifest = Manifest {
        version: MANIFEST_VERSION,
        files: BTreeMap::new(),
        exact: true,
        sets: Vec::new(),
        generations: Vec::new(),
    };
    // This build's files, and the layer of their values, are one generation past
    // everything the old index names.
    let generation = old.as_ref().map_or(0, LakeIndex::next_generation);
    let mut layers: Vec<Layer> = old
        .as_mut()
        .map(|o| std::mem::take(&mut o.sets))
        .unwrap_or_default()
        .into_iter()
        .map(|l| Layer::Kept(Box::new(l)))
        .collect();
    let mut listed_paths = std::collections::HashSet::new();
    let mut replaced = 0u64;
    let listed = inputs.listed;
    inputs.progress.stage("indexing");
    inputs.progress.start(
        listed.iter().map(|l| l.files.len() as u64).sum(),
        listed.iter().flat_map(|l| &l.files).map(|f| f.size).sum(),
    );
    // New values go to a thread of their own as the workers index files, which gathers
    // them into their sorted distinct set meanwhile (see `SetGatherer`): the build holds
    // the lake's distinct values, not every row group's, and never waits on a batch. It
    // sorts without rayon, whose workers may be waiting on its channel.
    let gathered = std::thread::scope(|threads| -> Result<super::SetGatherer, BuildError> {
        // A file's values, a list a row group.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u64>>>(4);
        let gatherer = threads.spawn(move || {
            let mut g = super::SetGatherer::default();
            for groups in rx {
                for hashes in &groups {
                    g.add(hashes);
                }
            }
            g
        });
        let read = (|| -> Result<(), BuildError> {
            for listing in listed {
                let t = &listing.table;
                for e in &listing.errors {
                    summary.errors.push(crate::domain::report::ScanErrorEntry {
                        file: e.path.clone(),
                        error: e.message.clone(),
                    });
                }
                use rayon::prelude::*;
                // Files side by side, each new entry sealed and written, and its values
                // sent on, by the worker that read it.
                let results: Vec<_> = listing
                    .files
                    .par_iter()
                    .map(|f| {
                        // Kept when the file is unchanged and its entry passes the check.
                        let reuse = old.as_ref().and_then(|o| {
                            let l = o.files.get(&f.path)?;
                            let usable = l.fingerprint.listed_as(f)
                                && l.columns.iter().all(|c| t.id_columns.contains(c))
                                && o.entry(l)
                                    .and_then(|e| match inputs.check {
                                        KeptCheck::Head => Ok(()),
                                        KeptCheck::Whole => e.sealed.read_all().map(drop),
                                    })
                                    .is_ok();
                            usable.then(|| l.clone())
                        });
                        let r = match reuse {
                            Some(l) => Ok(l),
                            None => Err((inputs.index_file)(f, &t.id_columns).map(
                                |(entry, hashes)| {
                                    new_entry(inputs, &files_dir, &tx, entry, hashes, generation)
                                },
                            )),
                        };
                        inputs.progress.file_done(f.size);
                        (f, r)
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
                        Err(Ok(written)) => {
                            let l = written?;
                            if old.as_ref().is_some_and(|o| o.files.contains_key(&f.path)) {
                                replaced += 1;
                            }
                            summary.indexed += 1;
                            manifest.files.insert(f.path.clone(), l);
                        }
                        Err(Err(e)) => summary.errors.push(crate::domain::report::ScanErrorEntry {
                            file: f.path.clone(),
                            error: e.to_string(),
                        }),
                    }
                }
            }
            Ok(())
        })();
        drop(tx);
        let g = gatherer
            .join()
            .map_err(|_| IndexError::Io("the lake set's gathering stopped".into()))?;
        read.map(|()| g)
    })?;
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
    if !gathered.is_empty() {
        layers.push(Layer::New(gathered.finish(), [generation, generation]));
    }
    compact(&mut layers).map_err(|_| BuildError::Layer)?;
    for l in layers {
        summary.lake_values += l.len() as u64;
        manifest.generations.push(l.generations());
        manifest.sets.push(match l {
            Layer::Kept(k) => k.name,
            Layer::New(s, _) => write_layer(&sets_dir, inputs.key, &s)?,
        });
    }
    let json = serde_json::to_vec(&manifest).map_err(|e| IndexError::Json(e.to_string()))?;
    let (sealed, _) = seal(inputs.key, &json, &[]);
    crate::io::fsio::write_atomic(&inputs.dir.join("lake.vix"), &sealed, true)?;
    // Entries and set layers this index no longer lists (replaced or vanished files,
    // merged layers). A build racing this one may lose a file it just wrote: an entry's
    // lake file is then read in full, never skipped, and a lost layer makes the index
    // unusable until the next build, which starts it again from scratch.
    let entries: std::collections::HashSet<&String> =
        manifest.files.values().map(|l| &l.entry).collect();
    let sets: std::collections::HashSet<&String> = manifest.sets.iter().collect();
    for (d, keep) in [(&files_dir, &entries), (&sets_dir, &sets)] {
        for name in crate::io::fsio::names_in(d) {
            if name.ends_with(".vix") && !keep.contains(&name) {
                crate::io::fsio::remove_written(&d.join(name));
            }
        }
    }
    summary.lake_set_exact = manifest.exact;
    summary.fingerprint = prefix_sha256(&sealed);
    summary.index_bytes = crate::io::fsio::dir_bytes(inputs.dir);
    Ok(summary)
}

/// What the index says of one file's row groups for a scan's subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCandidates {
    /// The file's entry (its name commits to the file's fingerprint).
    pub entry: String,
    /// Per row group, per probe (in the order given): the keyed hashes the row group may
    /// hold. A row group with none is ruled out.
    pub row_groups: Vec<Vec<Vec<u64>>>,
}

impl FileCandidates {
    /// Whether the index rules row group `g` out.
    pub fn rules_out(&self, g: usize) -> bool {
        self.row_groups
            .get(g)
            .is_some_and(|cols| cols.iter().all(Vec::is_empty))
    }
}

impl LakeIndex {
    /// Per row group, the subjects' hashes the index cannot rule out; None when the index
    /// cannot speak for the file (not listed, its fingerprint differs, or its entry fails a
    /// check). `probes` are (column name, the subjects' keyed hashes in that column's form
    /// that [`LakeIndex::present`] let through): only subjects present in the layers that
    /// hold the file's values need its row group filters.
    pub fn candidates(
        &self,
        fingerprint: &Fingerprint,
        probes: &[(String, &Present)],
    ) -> Option<FileCandidates> {
        let listed = self.files.get(&fingerprint.path)?;
        if &listed.fingerprint != fingerprint {
            return None;
        }
        let layers = self.layers_of(listed.generation);
        let probes: Vec<(&String, Vec<u64>)> =
            probes.iter().map(|(c, p)| (c, p.within(layers))).collect();
        let columns: Vec<usize> = probes
            .iter()
            .map(|(col, _)| listed.columns.iter().position(|c| c == *col))
            .collect::<Option<Vec<_>>>()?;
        let mut out = FileCandidates {
            entry: listed.entry.clone(),
            row_groups: vec![vec![Vec::new(); probes.len()]; listed.row_groups],
        };
        if probes.iter().all(|(_, h)| h.is_empty()) {
            // No subject occurs anywhere in the lake set, which holds every value of
            // every listed file: the entry need not be opened.
            return Some(out);
        }
        let broken = || {
            if let Ok(mut b) = self.broken.lock() {
                b.insert(listed.entry.clone());
            }
        };
        let Ok(e) = self.entry(listed) else {
            broken();
            return None;
        };
        for (g, filters) in e.row_groups.iter().enumerate() {
            for (p, ((_, hashes), &i)) in probes.iter().zip(&columns).enumerate() {
                for &h in hashes {
                    match filters[i].may_contain_any(&e.sealed, &[h]) {
                        Ok(true) => out.row_groups[g][p].push(h),
                        Ok(false) => {}
                        Err(_) => {
                            broken();
                            return None;
                        }
                    }
                }
                out.row_groups[g][p].sort_unstable();
                out.row_groups[g][p].dedup();
            }
        }
        Some(out)
    }

    /// Whether `entry` is the name of an entry this index lists.
    pub fn lists_entry(&self, entry: &str) -> bool {
        self.entries.contains(entry)
    }

    /// Removes the entries lookups found damaged, so that the next build, which checks
    /// kept entries by their heads only, finds them missing and indexes their files again
    /// (a damaged entry is never trusted either way). Returns how many.
    pub fn forget_broken(&self) -> usize {
        let names = self
            .broken
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        for name in &names {
            if self.entries.contains(name) {
                crate::io::fsio::remove_written(&self.dir.join("files").join(name));
            }
        }
        names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generations narrow lookups to their layers; a generation no layer claims narrows
    /// nothing; a manifest without generations, or whose generations do not fit the
    /// layers, is refused, never half-read.
    #[test]
    fn generations_are_read_checked_and_narrow_lookups_to_their_layers() {
        use serde_json::json;
        let key = IndexKey::new(b"generations-unit-key");
        let t = tempfile::tempdir().unwrap();
        let sets = t.path().join("sets");
        std::fs::create_dir_all(&sets).unwrap();
        let a = write_layer(&sets, &key, &LakeSet::from_hashes(vec![1, 2, 3])).unwrap();
        let b = write_layer(&sets, &key, &LakeSet::from_hashes(vec![3, 4])).unwrap();
        let write = |m: serde_json::Value| {
            let (sealed, _) = seal(&key, &serde_json::to_vec(&m).unwrap(), &[]);
            std::fs::write(t.path().join("lake.vix"), sealed).unwrap();
        };
        let manifest = |version: u32, generations: Option<serde_json::Value>| {
            let mut m = json!({"version": version, "files": {}, "exact": true, "sets": [a, b]});
            if let Some(g) = generations {
                m["generations"] = g;
            }
            m
        };
        write(manifest(4, Some(json!([[0, 4], [5, 5]]))));
        let ix = LakeIndex::load(t.path(), &key).unwrap();
        let p = ix.present(&[1, 3, 4, 9]);
        assert_eq!(p.hashes, vec![1, 3, 4]);
        assert_eq!(p.within(Layers(0b01)), vec![1, 3]);
        assert_eq!(p.within(Layers(0b10)), vec![3, 4]);
        assert_eq!(p.within(Layers::ALL), vec![1, 3, 4]);
        // A long list, looked up in two halves side by side: the same answer, in order.
        let long: Vec<u64> = (0..3 * PRESENT_SPLIT as u64).map(|i| i % 7).collect();
        let p = ix.present(&long);
        let one_by_one: Vec<u64> = long
            .iter()
            .copied()
            .filter(|h| (1..=4).contains(h))
            .collect();
        assert_eq!(p.hashes, one_by_one);
        assert_eq!(
            p.within(Layers(0b10)),
            one_by_one
                .iter()
                .copied()
                .filter(|&h| h >= 3)
                .collect::<Vec<_>>()
        );
        assert_eq!(ix.layers_of(3), Layers(0b01));
        assert_eq!(ix.layers_of(5), Layers(0b10));
        // A generation no layer claims narrows nothing.
        assert_eq!(ix.layers_of(9), Layers::ALL);
        assert_eq!(ix.next_generation(), 6);

        for bad in [
            manifest(4, None),
            manifest(4, Some(json!([[0, 4]]))),
            manifest(4, Some(json!([[3, 2], [5, 5]]))),
            manifest(3, None),
            manifest(3, Some(json!([[0, 0], [1, 1]]))),
            manifest(5, Some(json!([[0, 0], [1, 1]]))),
        ] {
            write(bad.clone());
            assert!(LakeIndex::load(t.path(), &key).is_err(), "{bad}");
        }
    }

    /// Night after night of new values of any size: no value is lost, and layer sizes at
    /// least halve from one layer to the next (so there are at most log2(n) of them).
    #[test]
    fn layers_merge_by_size_and_keep_every_value() {
        let mut rng = crate::domain::keyhash::test_rng(0x9e37_79b9_7f4a_7c15);
        let mut layers: Vec<Layer> = Vec::new();
        let mut all = Vec::new();
        for night in 0..200u64 {
            let n = match night % 17 {
                0 => 5000,
                1..=3 => 0,
                k => (rng() % (k * 40)) as usize,
            };
            let new: Vec<u64> = (0..n).map(|_| rng()).collect();
            all.extend_from_slice(&new);
            if !new.is_empty() {
                layers.push(Layer::New(LakeSet::from_hashes(new), [night, night]));
            }
            compact(&mut layers).unwrap();
            for w in layers.windows(2) {
                assert!(w[1].len() * 2 < w[0].len(), "night {night}");
                // Generations stay ordered and apart: a merge joins neighbours.
                assert!(
                    w[0].generations()[1] < w[1].generations()[0],
                    "night {night}"
                );
            }
            assert!(layers.len() <= 1 + all.len().max(1).ilog2() as usize);
        }
        let mut union = Vec::new();
        for l in layers {
            union.extend(l.values().unwrap().0);
        }
        assert_eq!(LakeSet::from_hashes(union), LakeSet::from_hashes(all));
    }
}

//! `vouch index build`: builds or brings up to date the subject index of a lake.

use std::path::{Path, PathBuf};

use crate::domain::index::{BuildSummary, IndexKey, KeptCheck};
use crate::domain::lake::TableFiles;
use crate::domain::scan::ScanOptions;
use crate::io::store::Store;
use crate::ops::{Env, OpError, OpenedLake};

/// How a build goes about it.
pub struct Upkeep<'a> {
    /// How much of each kept entry is checked.
    pub check: KeptCheck,
    /// New files are also probed for a scan's subjects as they are indexed.
    pub prescan: Option<&'a crate::domain::scan::Prescan<'a>>,
    pub progress: &'a dyn crate::domain::scan::Progress,
}

/// The index of the files of `listed` (the lake's tables listed without versions) in
/// `dir`, built with the scan's own decoder.
pub fn build(
    store: &dyn Store,
    listed: &[TableFiles],
    key: &IndexKey,
    dir: &Path,
    opts: &ScanOptions,
    how: Upkeep<'_>,
) -> Result<BuildSummary, crate::domain::index::IndexError> {
    let index_file = |f: &crate::io::store::ObjectMeta, columns: &[String]| {
        crate::domain::scan::index_file(store, f, columns, key, opts, how.prescan)
    };
    crate::domain::index::build(listed, key, dir, &index_file, how.check, how.progress)
}

/// Brings the index in `dir` up to date before a scan through it (`scan --update-index`,
/// nightly), kept entries checked by their sealed heads; the new files are probed for the
/// scan's subjects in the same decode (`prescan`). `listed` is the listing the scan then
/// reads, so the lake is listed once and the index covers exactly the files scanned.
/// Returns a line for each file that could not be indexed (the scan reads it in full).
pub fn keep_current(
    store: &dyn Store,
    listed: &[TableFiles],
    key: &IndexKey,
    dir: &Path,
    opts: &ScanOptions,
    prescan: &crate::domain::scan::Prescan<'_>,
    progress: &dyn crate::domain::scan::Progress,
) -> Result<Vec<String>, crate::domain::index::IndexError> {
    let how = Upkeep {
        check: KeptCheck::Head,
        prescan: Some(prescan),
        progress,
    };
    let s = build(store, listed, key, dir, opts, how)?;
    Ok(s.errors
        .iter()
        .map(|e| {
            format!(
                "index {}: {}: {}; it is read in full",
                dir.display(),
                e.file,
                e.error
            )
        })
        .collect())
}

/// What `vouch index build` is asked to do.
pub struct Options {
    pub lake: crate::ops::LakeLocation,
    pub index: PathBuf,
    /// How much of each kept entry is checked.
    pub check: KeptCheck,
}

/// What it did: the build's summary (its errors name files relative to the lake).
pub struct Outcome {
    pub location: String,
    pub index: PathBuf,
    pub summary: BuildSummary,
}

impl Outcome {
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        format!(
            "index {}: {} file(s): {} indexed, {} unchanged, {} dropped; {} values in the lake set, {} bytes; {} error(s)\n",
            self.index.display(),
            s.files,
            s.indexed,
            s.reused,
            s.removed,
            s.lake_values,
            s.index_bytes,
            s.errors.len()
        )
    }

    /// Every error, `location/file: problem`.
    pub fn error_lines(&self) -> Vec<String> {
        crate::ops::error_lines(&self.location, &self.summary.errors)
    }

    pub fn exit_code(&self) -> u8 {
        if self.summary.errors.is_empty() { 0 } else { 2 }
    }
}

pub fn run(opts: &Options, env: &Env<'_>) -> Result<Outcome, OpError> {
    let OpenedLake {
        cfg,
        location,
        store,
        lake,
    } = crate::ops::open_lake(&opts.lake, env)?;
    let key = IndexKey::new(&crate::ops::require_subject_key(
        &cfg,
        env,
        "the subject index",
        "it holds keyed hashes only",
    )?);
    let listed = crate::domain::lake::list_tables(store.as_ref(), &lake.tables, false);
    let mut summary = build(
        store.as_ref(),
        &listed,
        &key,
        &opts.index,
        &ScanOptions::for_lake(&cfg.lake),
        Upkeep {
            check: opts.check,
            prescan: None,
            progress: env.progress,
        },
    )?;
    summary
        .errors
        .splice(0..0, lake.errors.iter().map(Into::into));
    Ok(Outcome {
        location,
        index: opts.index.clone(),
        summary,
    })
}

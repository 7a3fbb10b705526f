//! Deletion verification: find every row of the given subjects in a lake.
//!
//! Flow: tables are listed through the [`Store`] seam; files are scanned in parallel
//! (rayon), row groups of a file in parallel too. For each row group and identifier column
//! the scan decides as early as it can: min/max statistics, then the Parquet bloom filter,
//! then the dictionary page; only then are values decoded ([`pages`]), falling back to the
//! `parquet` crate's generic decoder for encodings the fast path does not handle. Every
//! failure is recorded against its file and the scan goes on; panics from decoders are
//! contained at the file boundary. Decoded row counts are checked against the footer.
//!
//! Memory: one footer and one column chunk per worker thread at a time.

pub mod bloom;
pub mod error;
pub mod facts;
pub mod pages;
pub mod probe;
pub mod thrift;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::file::metadata::{
    ColumnChunkMetaData, ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData,
};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnDescPtr;
use rayon::prelude::*;

use crate::domain::custody::{CustodyRecord, CustodyWriter};
use crate::domain::lake::{Table, TableFiles, list_tables, partition_of, partition_values};
use crate::domain::report::{
    Layer, PhysicalCopy, PhysicalVerdict, Residual, RowGroupStats, ScanErrorEntry, ScanReport,
    TableReport, Verdict,
};
use crate::domain::subjects::{SubjectLabeler, SubjectList};
use crate::io::store::{ObjectMeta, RangeRead, Store};
pub use error::FileProblem;
pub use pages::Limits;
use pages::{ChunkError, ChunkScan, ChunkSpec};
use probe::{IdKind, Probe};

/// Switches for the scan; the defaults are what users get.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub limits: Limits,
    /// Check page CRCs where the writer stored them.
    pub verify_crc: bool,
    pub use_statistics: bool,
    pub use_bloom_filters: bool,
    pub use_dictionaries: bool,
    /// Match identifier column names exactly; by default case is ignored, as the engines
    /// do (`[lake] exact_column_names`).
    pub exact_column_names: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limits: Limits::default(),
            verify_crc: true,
            use_statistics: true,
            use_bloom_filters: true,
            use_dictionaries: true,
            exact_column_names: false,
        }
    }
}

impl ScanOptions {
    /// The defaults, with what the lake's configuration says.
    pub fn for_lake(cfg: &crate::domain::config::LakeConfig) -> ScanOptions {
        ScanOptions {
            exact_column_names: cfg.exact_column_names,
            ..ScanOptions::default()
        }
    }
}

/// Everything a scan needs, passed in by the caller (the binary, nightly, tests).
pub struct ScanRequest<'a> {
    pub store: &'a dyn Store,
    /// Shown in the report as the lake's location.
    pub lake: String,
    pub tables: Vec<Table>,
    /// Raw subject IDs; they never leave this process except through `labeler`.
    pub subjects: &'a SubjectList,
    /// Table names under legal hold.
    pub holds: BTreeSet<String>,
    pub labeler: SubjectLabeler,
    pub options: ScanOptions,
    /// Errors found before the scan (an unreadable retention table, ...); they make the
    /// verdict incomplete.
    pub prior_errors: Vec<ScanErrorEntry>,
    /// Keep the positions of matching rows ([`scan_locating`]); the export needs them.
    pub collect_rows: bool,
    /// Scan every stored version of every file (S3 versioned buckets): rows deleted from
    /// the current object but kept in an older version are still residual data.
    pub include_versions: bool,
    /// A subject index: row groups it rules out are not read. Files it cannot speak
    /// for (new, changed) are scanned in full; the answer is the same either way.
    pub index: Option<&'a crate::domain::index::LakeIndex>,
    /// Outcomes of row groups earlier nights decoded, kept beside the index: used where
    /// they give the answer a decode would ([`crate::domain::index::Recall`]), and this
    /// scan's added.
    pub recall: Option<&'a crate::domain::index::Recall>,
    /// What this run's index upkeep found while it read the new files: their chunks are
    /// not read again ([`Prescan`]).
    pub prescan: Option<&'a Prescan<'a>>,
}

impl<'a> ScanRequest<'a> {
    /// The probes: the prescan's (made once for the upkeep and the scan), or new ones.
    fn probes<'s>(&'s self, own: &'s mut Option<ProbeCache<'a>>) -> &'s ProbeCache<'a> {
        match self.prescan {
            Some(p) => &p.probes,
            None => own.insert(ProbeCache::new(self.subjects)),
        }
    }
}

/// The index upkeep's one pass over new files (`scan --update-index`, nightly): while it
/// decodes a file to index it, the run's subjects are probed in the same decode, and the
/// column chunks that hold a subject's rows are kept here; the scan that follows takes
/// them instead of reading and decoding those chunks again (their bytes count as read:
/// the report is the one a scan reading them would write). The probes are the scan's own.
pub struct Prescan<'a> {
    probes: ProbeCache<'a>,
    files: Mutex<HashMap<String, PrescannedFile>>,
    /// Matches kept so far; past [`PRESCAN_MATCHES`] chunks are not kept (the scan reads
    /// them itself), so memory stays bounded however many rows match.
    kept: std::sync::atomic::AtomicUsize,
}

/// Most matches a prescan keeps (8 bytes each).
const PRESCAN_MATCHES: usize = 4 << 20;

/// One file's prescanned chunks, by (row group, column index), and the fingerprint of
/// the file they were read from (listing and footer: a file rewritten since is read again).
struct PrescannedFile {
    fingerprint: crate::domain::index::Fingerprint,
    chunks: HashMap<(usize, usize), pages::ChunkScan>,
}

impl<'a> Prescan<'a> {
    pub fn new(subjects: &'a SubjectList) -> Prescan<'a> {
        Prescan {
            probes: ProbeCache::new(subjects),
            files: Mutex::new(HashMap::new()),
            kept: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn keep(
        &self,
        fingerprint: &crate::domain::index::Fingerprint,
        at: (usize, usize),
        cs: pages::ChunkScan,
    ) {
        let n = cs.matches.len();
        if self.kept.fetch_add(n, Ordering::Relaxed) + n > PRESCAN_MATCHES {
            return;
        }
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let f = files
            .entry(fingerprint.path.clone())
            .or_insert_with(|| PrescannedFile {
                fingerprint: fingerprint.clone(),
                chunks: HashMap::new(),
            });
        if &f.fingerprint == fingerprint {
            f.chunks.insert(at, cs);
        }
    }

    /// How many files have chunks kept and not yet taken.
    pub fn files(&self) -> usize {
        self.files.lock().map_or(0, |f| f.len())
    }

    /// A file's chunks, taken out (each is used once), when the file listed and read now
    /// is the one the upkeep read (same fingerprint).
    fn take(&self, fingerprint: &crate::domain::index::Fingerprint) -> Option<PrescannedFile> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .remove(&fingerprint.path)
            .filter(|f| &f.fingerprint == fingerprint)
    }
}

/// Where a file's matching rows are: what [`scan_locating`] returns beside the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMatches {
    pub table: String,
    /// The table's directory: the file's Hive partitions are the `k=v` segments below it.
    pub table_path: String,
    pub file: ObjectMeta,
    /// (row group index, matching row positions within it, ascending).
    pub row_groups: Vec<(usize, Vec<u32>)>,
}

pub use crate::domain::progress::{NoProgress, Progress};

/// What one file holds.
#[derive(Debug, Default, Clone)]
struct FileOutcome {
    rows: u64,
    stats: RowGroupStats,
    residual_rows: u64,
    /// subject number -> matching rows
    per_subject: BTreeMap<u32, u64>,
    /// (row group, matching rows) when the request collects them.
    matched_rows: Vec<(usize, Vec<u32>)>,
    /// SHA-256 of the footer as read (hex): the file's fingerprint in the report.
    footer_sha256: String,
    /// The subject index spoke for this file.
    indexed: bool,
    /// Identifier columns whose value came from the file's path (`user_id=…/`).
    partition_columns: Vec<String>,
    /// Matching rows a deletion vector masks (counted in `residual_rows` too).
    masked_rows: u64,
    masked_per_subject: BTreeMap<u32, u64>,
    /// Subjects whose ID is a min or max statistic (files the table masks rows of).
    stat_subjects: BTreeMap<u32, u64>,
    /// The file's top-level columns and their types, as its footer says.
    columns: Vec<(String, String)>,
}

/// What one file held: the unit a partial report carries and a report is assembled from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileResult {
    /// Rows in the file (its footer's count; every one was checked or ruled out).
    pub rows: u64,
    pub row_groups: RowGroupStats,
    /// Rows of any subject.
    pub matching_rows: u64,
    /// (subject label, matching rows), sorted by label.
    pub subjects: Vec<(String, u64)>,
    /// SHA-256 of the footer as read (hex).
    pub footer_sha256: String,
    /// The subject index spoke for this file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub indexed: bool,
    /// Identifier columns whose value for every row came from a Hive partition of the
    /// file's path (`user_id=42/`), as engines with Hive partitioning read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_columns: Vec<String>,
    /// Of `matching_rows`, those a Delta deletion vector masks: gone for every reader of
    /// the table, still in the file's bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub masked_rows: u64,
    /// (subject label, masked rows), sorted by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked_subjects: Vec<(String, u64)>,
    /// In a file the table masks rows of: (subject label, row-group min/max statistics of
    /// an identifier column equal to the subject's ID), sorted by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stats_subjects: Vec<(String, u64)>,
    /// The file's top-level columns (name, type), as its footer says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<(String, String)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Copies of identifier values in a Delta table's log (its file statistics), per log
/// file, and what of the log could not be read.
#[derive(Debug, Clone, Default)]
pub struct LogFindings {
    pub copies: Vec<LogCopy>,
    pub errors: Vec<ScanErrorEntry>,
}

/// One log file holding subjects' IDs among its file statistics.
#[derive(Debug, Clone)]
pub struct LogCopy {
    /// Below the store root.
    pub file: String,
    /// Modification time, seconds.
    pub modified: Option<i64>,
    /// (subject label, statistics values equal to the subject's ID).
    pub subjects: Vec<(String, u64)>,
}

/// What [`scan_listed`] found: one result per listed file, per table, in listing order.
pub struct Scanned {
    pub results: Vec<Vec<Result<FileResult, FileProblem>>>,
    /// Per table: what its Delta log's statistics hold (empty for plain tables).
    pub logs: Vec<LogFindings>,
    pub located: Vec<FileMatches>,
    pub bytes_read: u64,
    pub read_requests: u64,
}

/// Runs the scan and builds the report.
pub fn scan(req: &ScanRequest<'_>, progress: &dyn Progress) -> ScanReport {
    scan_locating(req, progress, None).0
}

/// Runs the scan; with `req.collect_rows` also says where every matching row is. With
/// `custody`, the objects go there line by line instead of into the report; the caller
/// finishes the writer, sets `report.custody` and seals the report again.
///
/// Tables are scanned and assembled one at a time: a table's per-file results are
/// dropped once its share of the report is made.
pub fn scan_locating(
    req: &ScanRequest<'_>,
    progress: &dyn Progress,
    custody: Option<&mut CustodyWriter<'_>>,
) -> (ScanReport, Vec<FileMatches>) {
    scan_locating_of(req, list(req), progress, custody)
}

/// [`scan_locating`] of the tables as the caller listed them, as [`list`] does (an index
/// upkeep before the scan works on the same listing, so the lake is listed once).
pub fn scan_locating_of(
    req: &ScanRequest<'_>,
    mut listed: Vec<TableFiles>,
    progress: &dyn Progress,
    custody: Option<&mut CustodyWriter<'_>>,
) -> (ScanReport, Vec<FileMatches>) {
    start_progress(&listed, progress);
    let plan_fingerprint = crate::domain::plan::fingerprint(&listed);
    let mut own = None;
    let probes = req.probes(&mut own);
    let counters = ReadCounters::default();
    let mut located = Vec::new();
    let mut asm = Assembler::new(&req.labeler, &req.holds, req.prior_errors.clone(), custody);
    for lt in &mut listed {
        if lt.view.is_none() {
            // A plain table's files are taken out of the listing and its results stream
            // into the report a chunk at a time, each chunk's files let go once reported.
            let files = std::mem::take(&mut lt.files);
            let lt: &TableFiles = lt;
            let results =
                streamed_results(req, lt, files, probes, &counters, progress, &mut located);
            asm.table_files(lt, results, None);
            continue;
        }
        let lt: &TableFiles = lt;
        let (results, log) = scan_table(req, lt, probes, &counters, progress, &mut located);
        let facts = lt
            .view
            .as_deref()
            .map(|v| facts::TableFacts::of(lt, v, &results, log, &req.lake));
        asm.table(lt, text_results(results), facts);
    }
    let mut report = asm.finish(Head {
        lake: req.lake.clone(),
        subjects: req.subjects.len(),
        subjects_fingerprint: req.labeler.list_fingerprint(req.subjects),
        plan_fingerprint,
        tables: listed.len(),
        bytes_read: counters.bytes.load(Ordering::Relaxed),
        read_requests: counters.requests.load(Ordering::Relaxed),
        index: req.index.map(|ix| ix.fingerprint.clone()),
    });
    report.seal(&req.labeler);
    (report, located)
}

fn start_progress(listed: &[TableFiles], progress: &dyn Progress) {
    let total_files: u64 = listed.iter().map(|l| l.files.len() as u64).sum();
    let total_bytes: u64 = listed.iter().flat_map(|l| &l.files).map(|f| f.size).sum();
    progress.stage("scanning");
    progress.start(total_files, total_bytes);
}

/// Per table of `listed`: its format's facts for its files (none for a plain table).
pub fn facts_of<E>(
    listed: &[TableFiles],
    results: &[Vec<Result<FileResult, E>>],
    logs: Vec<LogFindings>,
    lake: &str,
) -> Vec<Option<facts::TableFacts>> {
    listed
        .iter()
        .zip(results)
        .zip(logs)
        .map(|((lt, r), log)| {
            lt.view
                .as_deref()
                .map(|v| facts::TableFacts::of(lt, v, r, log, lake))
        })
        .collect()
}

/// The tables of the request with their files, as listed now: the work of a scan.
pub fn list(req: &ScanRequest<'_>) -> Vec<TableFiles> {
    list_tables(req.store, &req.tables, req.include_versions)
}

/// Scans every file of `listed` (table-level listing errors are the caller's).
pub fn scan_listed(
    req: &ScanRequest<'_>,
    listed: &[TableFiles],
    progress: &dyn Progress,
) -> Scanned {
    start_progress(listed, progress);
    let mut own = None;
    let probes = req.probes(&mut own);
    let counters = ReadCounters::default();
    let mut located = Vec::new();
    let mut results = Vec::with_capacity(listed.len());
    let mut logs = Vec::with_capacity(listed.len());
    for lt in listed {
        let (r, log) = scan_table(req, lt, probes, &counters, progress, &mut located);
        results.push(r);
        logs.push(log);
    }
    Scanned {
        results,
        logs,
        located,
        bytes_read: counters.bytes.load(Ordering::Relaxed),
        read_requests: counters.requests.load(Ordering::Relaxed),
    }
}

/// One table's files, in listing order, and what its log's statistics hold.
fn scan_table(
    req: &ScanRequest<'_>,
    lt: &TableFiles,
    probes: &ProbeCache<'_>,
    counters: &ReadCounters,
    progress: &dyn Progress,
    located: &mut Vec<FileMatches>,
) -> (Vec<Result<FileResult, FileProblem>>, LogFindings) {
    let setup = TableScan::of(lt);
    let results = setup.scan(req, lt, &lt.files, probes, counters, progress, located);
    let log = match &lt.view {
        Some(_) => log_findings(req, lt, &setup.table.id_columns, probes),
        None => LogFindings::default(),
    };
    (results, log)
}

/// Files of a plain Parquet table scanned at a time when its results stream into the
/// report: enough to keep every worker busy, few enough that their results (a file's
/// columns and types among them) stay small whatever the table's size.
const STREAM_CHUNK: usize = 4096;

/// A plain table's `files` (taken out of `lt`) with their results, in listing order,
/// scanned [`STREAM_CHUNK`] files at a time as the report asks for them: no more than one
/// chunk's results are held at once, and the listing gives back its memory as it goes.
#[allow(clippy::too_many_arguments)]
fn streamed_results<'s>(
    req: &'s ScanRequest<'_>,
    lt: &'s TableFiles,
    files: Vec<ObjectMeta>,
    probes: &'s ProbeCache<'_>,
    counters: &'s ReadCounters,
    progress: &'s dyn Progress,
    located: &'s mut Vec<FileMatches>,
) -> impl Iterator<Item = (std::borrow::Cow<'s, ObjectMeta>, Result<FileResult, String>)> + 's {
    let setup = TableScan::of(lt);
    OwnedChunks::new(files, STREAM_CHUNK).flat_map(move |chunk| {
        let results = setup.scan(req, lt, &chunk, probes, counters, progress, located);
        (chunk.into_iter().map(std::borrow::Cow::Owned))
            .zip(results.into_iter().map(|r| r.map_err(|e| e.to_string())))
    })
}

/// A list taken `size` items at a time from its front, in order, each chunk owned; the
/// list shrinks as it goes (it is kept reversed and cut from its end), so a listing of a
/// million files is not held whole until the last chunk is reported.
struct OwnedChunks<T> {
    reversed: Vec<T>,
    size: usize,
}

impl<T> OwnedChunks<T> {
    fn new(mut items: Vec<T>, size: usize) -> Self {
        items.reverse();
        OwnedChunks {
            reversed: items,
            size: size.max(1),
        }
    }
}

impl<T> Iterator for OwnedChunks<T> {
    type Item = Vec<T>;
    fn next(&mut self) -> Option<Vec<T>> {
        if self.reversed.is_empty() {
            return None;
        }
        let at = self.reversed.len().saturating_sub(self.size);
        let chunk: Vec<T> = self.reversed.drain(at..).rev().collect();
        // Given back an eighth at a time (a large list is its own mapping: a smaller
        // allocation is the same pages, fewer).
        if self.reversed.capacity() - self.reversed.len() > self.reversed.capacity() / 8 {
            self.reversed.shrink_to_fit();
        }
        Some(chunk)
    }
}

/// How a table's files are read: its identifier columns as its files name them (column
/// mapping), their field ids, and whether a file without them holds nulls there.
struct TableScan {
    table: Table,
    absent_means_null: bool,
    field_ids: Vec<i32>,
    tails: TailHint,
}

impl TableScan {
    fn of(lt: &TableFiles) -> TableScan {
        let table = match &lt.view {
            Some(v) => Table {
                id_columns: lt
                    .table
                    .id_columns
                    .iter()
                    .map(|c| v.physical_column(c))
                    .collect(),
                ..lt.table.clone()
            },
            None => lt.table.clone(),
        };
        let absent_means_null = lt
            .view
            .as_ref()
            .is_some_and(|v| v.absent_means_null(&lt.table.id_columns));
        let field_ids: Vec<i32> = lt
            .view
            .as_ref()
            .map(|v| v.field_ids(&lt.table.id_columns))
            .unwrap_or_default();
        TableScan {
            table,
            absent_means_null,
            field_ids,
            tails: TailHint::default(),
        }
    }

    /// `files` (of `lt`, in listing order) scanned in parallel: one result each, in order.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        req: &ScanRequest<'_>,
        lt: &TableFiles,
        files: &[ObjectMeta],
        probes: &ProbeCache<'_>,
        counters: &ReadCounters,
        progress: &dyn Progress,
        located: &mut Vec<FileMatches>,
    ) -> Vec<Result<FileResult, FileProblem>> {
        let outcomes: Vec<Result<FileOutcome, FileProblem>> = files
            .par_iter()
            .map(|f| {
                let r = contain(|| {
                    // Only rows every reader sees are located (an export takes them).
                    let live = lt.view.as_ref().is_none_or(|v| v.is_live(&f.path));
                    let mask = match &lt.view {
                        Some(v) if live => {
                            let m = v.mask(req.store, &f.path).map_err(FileProblem::Malformed)?;
                            let mut subjects = BTreeSet::new();
                            for value in &m.values {
                                probes.path_ids().matching(value, &mut subjects);
                            }
                            Some(RowMask {
                                positions: m.positions,
                                subjects,
                            })
                        }
                        _ => None,
                    };
                    // Identifier values the table keeps as partition values (Delta's
                    // partitionValues), not in the files.
                    let partition_ids = lt
                        .view
                        .as_ref()
                        .map(|v| v.partition_ids(&f.path, &self.table.id_columns))
                        .unwrap_or_default();
                    scan_file(
                        req,
                        f,
                        &self.table,
                        probes,
                        counters,
                        &self.tails,
                        mask.as_ref(),
                        live,
                        &partition_ids,
                        &self.field_ids,
                        self.absent_means_null,
                    )
                });
                progress.file_done(f.size);
                r
            })
            .collect();
        let mut results = Vec::with_capacity(outcomes.len());
        for (f, r) in files.iter().zip(outcomes) {
            results.push(r.map(|mut o| {
                if !o.matched_rows.is_empty() {
                    located.push(FileMatches {
                        table: lt.table.name.clone(),
                        table_path: lt.table.path.clone(),
                        file: f.clone(),
                        row_groups: std::mem::take(&mut o.matched_rows),
                    });
                }
                let labelled = |m: BTreeMap<u32, u64>| {
                    let mut v: Vec<(String, u64)> = m
                        .into_iter()
                        .map(|(s, n)| (req.labeler.label(&req.subjects.get(s as usize)), n))
                        .collect();
                    v.sort();
                    v
                };
                FileResult {
                    rows: o.rows,
                    row_groups: o.stats,
                    matching_rows: o.residual_rows,
                    subjects: labelled(o.per_subject),
                    footer_sha256: o.footer_sha256,
                    indexed: o.indexed,
                    partition_columns: o.partition_columns,
                    masked_rows: o.masked_rows,
                    masked_subjects: labelled(o.masked_per_subject),
                    stats_subjects: labelled(o.stat_subjects),
                    columns: o.columns,
                }
            }));
        }
        results
    }
}

/// The subjects' IDs among the file statistics of a Delta table's log.
fn log_findings(
    req: &ScanRequest<'_>,
    lt: &TableFiles,
    physical: &[String],
    probes: &ProbeCache<'_>,
) -> LogFindings {
    let mut per_file: BTreeMap<String, (Option<i64>, BTreeMap<u32, u64>)> = BTreeMap::new();
    let mut visit = |o: &ObjectMeta, value: &str| {
        let mut found = BTreeSet::new();
        probes.path_ids().matching(value, &mut found);
        if found.is_empty() {
            return;
        }
        let e = per_file
            .entry(o.path.clone())
            .or_insert_with(|| (o.modified, BTreeMap::new()));
        for s in found {
            *e.1.entry(s).or_default() += 1;
        }
    };
    let read = std::panic::catch_unwind(AssertUnwindSafe(|| match lt.view.as_deref() {
        Some(crate::domain::format::TableView::Delta(_)) => {
            crate::domain::delta::visit_stats(req.store, &lt.table.path, physical, &mut visit)
                .map_err(|e| (e.file, e.problem))
        }
        Some(crate::domain::format::TableView::Iceberg(i)) => {
            crate::domain::iceberg::visit_bounds(req.store, i, &lt.table.id_columns, &mut visit)
                .map_err(|e| (e.file, e.problem))
        }
        None => Ok(()),
    }));
    let mut out = LogFindings::default();
    match read {
        Ok(Ok(())) => {}
        Ok(Err((file, problem))) => out.errors.push(ScanErrorEntry {
            file,
            error: format!("{problem}: the table's file statistics were not checked"),
        }),
        Err(_) => out.errors.push(ScanErrorEntry {
            file: lt.table.path.clone(),
            error: "a metadata file made the reader fail: the table's file statistics were not \
                    checked"
                .into(),
        }),
    }
    out.copies = per_file
        .into_iter()
        .map(|(path, (modified, subjects))| {
            let mut labelled: Vec<(String, u64)> = subjects
                .into_iter()
                .map(|(s, n)| (req.labeler.label(&req.subjects.get(s as usize)), n))
                .collect();
            labelled.sort();
            LogCopy {
                file: path,
                modified,
                subjects: labelled,
            }
        })
        .collect();
    out
}

/// What a report says beside its tables.
pub struct Head {
    pub lake: String,
    pub subjects: usize,
    pub subjects_fingerprint: Option<String>,
    /// The listing's fingerprint ([`crate::domain::plan::fingerprint`]).
    pub plan_fingerprint: String,
    /// Tables listed (none is an error of the report).
    pub tables: usize,
    pub bytes_read: u64,
    pub read_requests: u64,
    pub index: Option<String>,
}

/// `more` added at the end of `all`: moved whole when `all` is empty.
fn append<T>(all: &mut Vec<T>, mut more: Vec<T>) {
    if all.is_empty() {
        *all = more;
    } else {
        all.append(&mut more);
    }
}

/// A report made table by table ([`Assembler::table`] in listing order), so that no
/// more than one table's per-file results need be held at once.
pub struct Assembler<'a, 'w> {
    labeler: &'a SubjectLabeler,
    holds: &'a BTreeSet<String>,
    custody: Option<&'a mut CustodyWriter<'w>>,
    /// Where files' results go once assembled (None: dropped here).
    spent: Option<Disposal<Spent>>,
    errors: Vec<ScanErrorEntry>,
    tables: Vec<TableReport>,
    residuals: Vec<Residual>,
    copies: Vec<PhysicalCopy>,
    objects: Vec<crate::domain::report::ObjectRecord>,
    totals: RowGroupStats,
    files_without_index: u64,
}

impl<'a, 'w> Assembler<'a, 'w> {
    pub fn new(
        labeler: &'a SubjectLabeler,
        holds: &'a BTreeSet<String>,
        prior_errors: Vec<ScanErrorEntry>,
        custody: Option<&'a mut CustodyWriter<'w>>,
    ) -> Self {
        Assembler {
            labeler,
            holds,
            custody,
            spent: None,
            errors: prior_errors,
            tables: Vec::new(),
            residuals: Vec::new(),
            copies: Vec::new(),
            objects: Vec::new(),
            totals: RowGroupStats::default(),
            files_without_index: 0,
        }
    }

    /// The next table of the listing, with one result per listed file.
    pub fn table(
        &mut self,
        lt: &TableFiles,
        results: impl IntoIterator<Item = Result<FileResult, String>>,
        facts: Option<facts::TableFacts>,
    ) {
        let files = lt.files.iter().map(std::borrow::Cow::Borrowed).zip(results);
        self.table_files(lt, files, facts);
    }

    /// The next table, its files given beside their results rather than in `lt.files`
    /// (a merge streams them from the plan): `lt` gives the table, its listing errors,
    /// aliases and locations.
    /// Files' results, once assembled, are dropped on the worker pool that made them
    /// (a merge: see [`Disposal`]).
    pub fn dispose_on_workers(&mut self) {
        self.spent = Some(Disposal::default());
    }

    pub fn table_files<'f>(
        &mut self,
        lt: &TableFiles,
        files: impl IntoIterator<Item = (std::borrow::Cow<'f, ObjectMeta>, Result<FileResult, String>)>,
        facts: Option<facts::TableFacts>,
    ) {
        let held = self.holds.contains(&lt.table.name);
        let t = assemble_table(
            lt,
            files,
            facts,
            self.labeler,
            held,
            self.custody.as_deref_mut(),
            self.spent.as_mut(),
        );
        // Moved when they are the first (a lake of one large table): a copy would hold
        // its residual list twice at the peak.
        append(&mut self.errors, t.errors);
        append(&mut self.residuals, t.residuals);
        append(&mut self.copies, t.copies);
        append(&mut self.objects, t.objects);
        add_stats(&mut self.totals, &t.row_groups);
        self.files_without_index += t.files_without_index;
        self.tables.push(t.report);
    }

    pub fn finish(self, head: Head) -> ScanReport {
        let Assembler {
            labeler,
            mut errors,
            tables,
            residuals,
            copies,
            objects,
            totals,
            files_without_index,
            ..
        } = self;
        if head.tables == 0 {
            errors.push(ScanErrorEntry {
                file: head.lake.clone(),
                error: "no tables found in the lake".into(),
            });
        }
        let sum = |f: fn(&TableReport) -> u64| tables.iter().map(f).sum::<u64>();
        let residual_rows = sum(|t| t.residual_rows);
        let verdict = verdict(&errors, residual_rows);
        let physical_verdict = Some(physical_verdict(verdict, &copies));
        ScanReport {
            schema_version: 1,
            verdict,
            physical_verdict,
            physical_copies: copies,
            lake: head.lake,
            subjects: head.subjects,
            subject_labels: if labeler.is_keyed() {
                "keyed-hash".into()
            } else {
                "as-given".into()
            },
            subjects_fingerprint: head.subjects_fingerprint,
            plan_fingerprint: Some(head.plan_fingerprint),
            files_scanned: sum(|t| t.files),
            rows_scanned: sum(|t| t.rows_scanned),
            bytes_read: head.bytes_read,
            read_requests: head.read_requests,
            residual_rows,
            held_rows: sum(|t| t.held_rows),
            row_groups: totals,
            tables,
            residuals,
            errors,
            objects,
            custody: None,
            index: head
                .index
                .map(|fingerprint| crate::domain::report::IndexUse {
                    fingerprint,
                    files_without_index,
                }),
            authentication: None,
        }
    }
}

/// The physical verdict: unknown without a verdict; erased when no live row and no copy
/// outside legal holds remains.
pub fn physical_verdict(verdict: Verdict, copies: &[PhysicalCopy]) -> PhysicalVerdict {
    match verdict {
        Verdict::Incomplete => PhysicalVerdict::Unknown,
        Verdict::Residual => PhysicalVerdict::Pending,
        Verdict::Clean if copies.iter().any(|c| !c.held) => PhysicalVerdict::Pending,
        Verdict::Clean => PhysicalVerdict::Erased,
    }
}

/// The verdict: any error makes it incomplete, whatever was found; then residual rows.
pub fn verdict(errors: &[ScanErrorEntry], residual_rows: u64) -> Verdict {
    if !errors.is_empty() {
        Verdict::Incomplete
    } else if residual_rows > 0 {
        Verdict::Residual
    } else {
        Verdict::Clean
    }
}

/// One table's share of the report.
struct AssembledTable {
    report: TableReport,
    errors: Vec<ScanErrorEntry>,
    residuals: Vec<Residual>,
    copies: Vec<PhysicalCopy>,
    objects: Vec<crate::domain::report::ObjectRecord>,
    row_groups: RowGroupStats,
    files_without_index: u64,
}

/// A file's listing and result once its table's report has taken what it needs.
pub(crate) struct Spent {
    #[allow(dead_code)] // held to be dropped where the disposal says
    meta: Option<ObjectMeta>,
    #[allow(dead_code)]
    result: Option<FileResult>,
}

/// Values to be dropped on rayon's worker pool, a batch at a time. A merge's records are
/// parsed (allocated) by the workers and taken apart by the merging thread: freed there,
/// each free of another thread's memory waited on that thread's allocator arena lock,
/// which a third of the merging thread's waits were (`perf`, 10M-file merge).
pub(crate) struct Disposal<T: Send + 'static> {
    batch: Vec<T>,
}

impl<T: Send + 'static> Default for Disposal<T> {
    fn default() -> Self {
        Disposal { batch: Vec::new() }
    }
}

/// Values a disposal sends to the workers at a time.
const DISPOSAL_BATCH: usize = 1024;

impl<T: Send + 'static> Disposal<T> {
    pub(crate) fn push(&mut self, v: T) {
        if self.batch.capacity() == 0 {
            self.batch.reserve_exact(DISPOSAL_BATCH);
        }
        self.batch.push(v);
        if self.batch.len() >= DISPOSAL_BATCH {
            let b = std::mem::take(&mut self.batch);
            rayon::spawn(move || drop(b));
        }
    }
}

/// A table's report from its listing and one result per listed file. Paths are shown as
/// kept evidence shows them: no raw identifier in a partition name.
fn assemble_table<'f>(
    lt: &TableFiles,
    files: impl IntoIterator<Item = (std::borrow::Cow<'f, ObjectMeta>, Result<FileResult, String>)>,
    facts: Option<facts::TableFacts>,
    labeler: &SubjectLabeler,
    held: bool,
    mut custody: Option<&mut CustodyWriter<'_>>,
    mut spent: Option<&mut Disposal<Spent>>,
) -> AssembledTable {
    let t = &lt.table;
    let shown = |p: &str| crate::domain::lake::label_path(p, &t.id_columns, labeler);
    let mut out = AssembledTable {
        report: TableReport {
            table: t.name.clone(),
            path: t.path.clone(),
            id_columns: t.id_columns.clone(),
            legal_hold: held,
            format: facts.as_ref().map(|f| f.format.clone()),
            table_version: facts.as_ref().map(|f| f.version),
            unapplied_deletes: facts
                .iter()
                .flat_map(|f| &f.unapplied)
                .map(|(f, why)| format!("{}: {why}", shown(f)))
                .collect(),
            ..TableReport::default()
        },
        errors: table_errors(lt, &shown),
        residuals: Vec::new(),
        copies: Vec::new(),
        objects: Vec::new(),
        row_groups: RowGroupStats::default(),
        files_without_index: 0,
    };
    let tr = &mut out.report;
    // Directories: their last segment is a partition too, not a file name.
    let dir_shown = |d: &str| shown(&format!("{d}/")).trim_end_matches('/').to_string();
    tr.locations = lt
        .locations
        .iter()
        .map(|(dir, at)| (dir_shown(dir), dir_shown(at)))
        .collect();
    tr.aliases = lt
        .aliases
        .iter()
        .map(|x| crate::domain::lake::Alias {
            file: shown(&x.file),
            same_as: shown(&x.same_as),
            same_as_table: x.same_as_table.clone(),
        })
        .collect();
    let mut partition_columns = BTreeSet::new();
    let mut partitions = BTreeSet::new();
    let places = facts.as_ref().map(|f| f.places_of()).unwrap_or_default();
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // A table none of whose files is given has nothing checked: said where the listing's
    // own errors end, before its files' errors.
    let listing_errors = out.errors.len();
    let mut seen = 0u64;
    for (f, r) in files {
        seen += 1;
        let mut spent_result = None;
        let file = shown(&f.path);
        let mut record = CustodyRecord {
            table: t.name.clone(),
            object: crate::domain::report::ObjectRecord {
                file: file.clone(),
                size: f.size,
                etag: f.etag().map(str::to_string),
                version_id: f.version_id().map(str::to_string),
                noncurrent: f.noncurrent(),
                footer_sha256: None,
            },
            rows: None,
            row_groups: None,
            matching_rows: None,
            error: None,
        };
        match r {
            Err(error) => {
                record.error = Some(error.clone());
                out.errors.push(ScanErrorEntry {
                    file: file.clone(),
                    error,
                })
            }
            Ok(mut o) => {
                record.object.footer_sha256 = Some(std::mem::take(&mut o.footer_sha256));
                record.rows = Some(o.rows);
                record.row_groups = Some(o.row_groups.clone());
                record.matching_rows = Some(o.matching_rows);
                // Every file names its columns again: copied only when new.
                for (name, kind) in &o.columns {
                    let kinds = match columns.get_mut(name) {
                        Some(k) => k,
                        None => columns.entry(name.clone()).or_default(),
                    };
                    if !kinds.contains(kind) {
                        kinds.insert(kind.clone());
                    }
                }
                partition_columns.extend(std::mem::take(&mut o.partition_columns));
                tr.files += 1;
                tr.rows_scanned += o.rows;
                add_stats(&mut out.row_groups, &o.row_groups);
                out.files_without_index += u64::from(!o.indexed);
                let (live, copies) =
                    split_layers(places.get(&(f.path.as_str(), f.version_id())), &o);
                if held {
                    tr.held_rows += live.rows;
                } else {
                    tr.residual_rows += live.rows;
                }
                let partition = partition_of(&t.path, &file);
                if live.rows > 0
                    && !held
                    && let Some(p) = &partition
                {
                    partitions.insert(p.clone());
                }
                out.residuals
                    .extend(live.subjects.into_iter().map(|(subject, rows)| Residual {
                        table: t.name.clone(),
                        file: file.clone(),
                        partition: partition.clone(),
                        subject,
                        rows,
                        held,
                        version_id: f.version_id().map(str::to_string),
                    }));
                for (place, rows, subjects) in copies {
                    match place.layer {
                        Layer::DeletedRetained => tr.deleted_retained_rows += rows,
                        Layer::Unreferenced => tr.unreferenced_rows += rows,
                    }
                    out.copies
                        .extend(copies_at(&t.name, &file, &place, subjects, held));
                }
                spent_result = Some(o);
            }
        }
        match &mut custody {
            Some(w) => {
                w.record(&record);
                // The digest goes back to the result it came from, to be dropped with it.
                if let (Some(o), Some(d)) = (&mut spent_result, record.object.footer_sha256) {
                    o.footer_sha256 = d;
                }
            }
            None => out.objects.push(record.object),
        }
        if let Some(d) = spent.as_deref_mut() {
            d.push(Spent {
                meta: match f {
                    std::borrow::Cow::Owned(m) => Some(m),
                    std::borrow::Cow::Borrowed(_) => None,
                },
                result: spent_result,
            });
        }
    }
    if seen == 0 && lt.errors.is_empty() && lt.aliases.is_empty() {
        out.errors.insert(
            listing_errors,
            ScanErrorEntry {
                file: t.path.clone(),
                error: "table has no data files: nothing was checked".into(),
            },
        );
    }
    if let Some(facts) = facts {
        out.errors
            .extend(facts.log_errors.into_iter().map(|e| ScanErrorEntry {
                file: shown(&e.file),
                error: e.error,
            }));
        for c in facts.log_copies {
            let file = shown(&c.file);
            out.copies
                .extend(copies_at(&t.name, &file, &c.place, c.subjects, held));
        }
    }
    tr.partitions_with_residuals = partitions.into_iter().collect();
    // Types that differ between files are all named.
    tr.columns = columns
        .into_iter()
        .map(|(name, kinds)| (name, kinds.into_iter().collect::<Vec<_>>().join(" | ")))
        .collect();
    tr.partition_id_columns = partition_columns.into_iter().collect();
    tr.errors = out.errors.len() as u64;
    out
}

/// One copy per subject in one place of one file.
fn copies_at(
    table: &str,
    file: &str,
    place: &crate::domain::copies::CopyPlace,
    subjects: Vec<(String, u64)>,
    held: bool,
) -> impl Iterator<Item = PhysicalCopy> {
    let (table, file, place) = (table.to_string(), file.to_string(), place.clone());
    subjects
        .into_iter()
        .map(move |(subject, rows)| PhysicalCopy {
            table: table.clone(),
            file: file.clone(),
            subject,
            rows,
            layer: place.layer,
            kind: place.kind.to_string(),
            removable_after: place
                .removable_after_ms
                .map(|ms| crate::domain::report::rfc3339(ms.div_euclid(1000))),
            way_out: place.way_out.clone(),
            held,
        })
}

/// Matching rows every reader of the table sees: how many, and per subject.
struct LiveRows {
    rows: u64,
    subjects: Vec<(String, u64)>,
}

/// Copies in one place: where, how many rows, and per subject.
type Copies = Vec<(crate::domain::copies::CopyPlace, u64, Vec<(String, u64)>)>;

/// A file's matches by layer: the live ones, and each place copies are in with their
/// rows and per-subject rows. A plain Parquet table has live rows only.
fn split_layers(places: Option<&&facts::FilePlaces>, o: &FileResult) -> (LiveRows, Copies) {
    let all = LiveRows {
        rows: o.matching_rows,
        subjects: o.subjects.clone(),
    };
    let Some(p) = places else {
        return (all, Vec::new());
    };
    if let Some(place) = &p.whole {
        // The whole file is outside the current version.
        let copies = vec![(place.clone(), o.matching_rows, o.subjects.clone())];
        return (
            LiveRows {
                rows: 0,
                subjects: Vec::new(),
            },
            copies,
        );
    }
    if o.masked_rows == 0 {
        return (all, Vec::new());
    }
    let masked: BTreeMap<&str, u64> = o
        .masked_subjects
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    let live = LiveRows {
        rows: o.matching_rows.saturating_sub(o.masked_rows),
        subjects: o
            .subjects
            .iter()
            .map(|(s, n)| {
                (
                    s.clone(),
                    n.saturating_sub(masked.get(s.as_str()).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect(),
    };
    let mut copies: Copies = p
        .masked
        .clone()
        .map(|place| (place, o.masked_rows, o.masked_subjects.clone()))
        .into_iter()
        .collect();
    // The footer's statistics name a masked subject's ID until the file is rewritten:
    // a copy in the same place (its `rows` are statistics values).
    let in_stats: Vec<(String, u64)> = o
        .stats_subjects
        .iter()
        .filter(|(s, _)| masked.contains_key(s.as_str()))
        .cloned()
        .collect();
    if let Some(place) = &p.masked
        && !in_stats.is_empty()
    {
        let place = crate::domain::copies::CopyPlace {
            kind: "footer_stats".into(),
            ..place.clone()
        };
        copies.push((place, 0, in_stats));
    }
    (live, copies)
}

/// What is wrong with a table before any of its files is read: its listing's errors, a
/// partition directory taken for a table.
fn table_errors(lt: &TableFiles, shown: &dyn Fn(&str) -> String) -> Vec<ScanErrorEntry> {
    let t = &lt.table;
    let mut errors: Vec<ScanErrorEntry> = lt
        .errors
        .iter()
        .map(|e| ScanErrorEntry {
            file: shown(&e.path),
            error: e.message.clone(),
        })
        .collect();
    if t.path.rsplit('/').next().is_some_and(|n| n.contains('=')) {
        errors.push(ScanErrorEntry {
            file: t.path.clone(),
            error: "a partition directory where a table was expected: the lake location should be \
                    the directory that holds the tables"
                .into(),
        });
    }
    errors
}

fn add_stats(into: &mut RowGroupStats, s: &RowGroupStats) {
    into.total += s.total;
    into.skipped_by_statistics += s.skipped_by_statistics;
    into.skipped_by_bloom_filter += s.skipped_by_bloom_filter;
    into.skipped_by_dictionary += s.skipped_by_dictionary;
    into.decoded += s.decoded;
    into.skipped_by_index += s.skipped_by_index;
    into.recalled_by_index += s.recalled_by_index;
    into.decided_by_partition += s.decided_by_partition;
    into.decided_by_schema += s.decided_by_schema;
    into.by_column_type += s.by_column_type;
}

/// The results of a scan as a report shows them: each problem as its text.
fn text_results(results: Vec<Result<FileResult, FileProblem>>) -> Vec<Result<FileResult, String>> {
    results
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// A decoder's error on the file's bytes.
fn malformed(e: parquet::errors::ParquetError) -> FileProblem {
    FileProblem::Malformed(e.to_string())
}

/// The index's filter of a row group's value hashes.
fn filter(hashes: Vec<u64>) -> Result<crate::domain::index::RowGroupFilter, FileProblem> {
    crate::domain::index::RowGroupFilter::build(hashes)
        .map_err(|e| FileProblem::OverLimit(e.to_string()))
}

/// [`filter`] of hashes already sorted and distinct, which stay the caller's.
fn filter_of_sorted(hashes: &[u64]) -> Result<crate::domain::index::RowGroupFilter, FileProblem> {
    crate::domain::index::RowGroupFilter::of_sorted(hashes)
        .map_err(|e| FileProblem::OverLimit(e.to_string()))
}

/// Runs `f`, turning a panic into an error message (decoders of hostile files can panic).
fn contain<T>(f: impl FnOnce() -> Result<T, FileProblem>) -> Result<T, FileProblem> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let msg: String = msg.chars().take(160).collect();
            Err(FileProblem::DecoderPanic(msg))
        }
    }
}

/// One probe per identifier kind, built on first use and shared by all files.
struct ProbeCache<'a> {
    subjects: &'a SubjectList,
    probes: Mutex<HashMap<IdKind, Arc<Probe>>>,
    path_ids: std::sync::OnceLock<PathIds>,
}

/// The subjects a Hive partition value names, the way an engine that infers the
/// partition's type compares it: as text, as an integer ("007" is 7) or as a UUID.
struct PathIds {
    /// Text (and canonical lowercase UUIDs) found in the list itself.
    subjects: SubjectList,
    /// (value, subject) of the IDs that read as integers, sorted: 16 bytes an ID within
    /// 64 bits, 32 past them (a map of lists took about 80).
    int: Vec<(i64, u32)>,
    wide: Vec<(i128, u32)>,
    /// (value, subject) of the IDs written as UUIDs another way (uppercase, bare hex
    /// digits), sorted.
    uuid: Vec<([u8; 16], u32)>,
}

/// The subjects of `pairs` (sorted by value) whose value is `v`.
fn equal_to<T: Ord + Copy>(pairs: &[(T, u32)], v: T) -> impl Iterator<Item = u32> + '_ {
    let from = pairs.partition_point(|p| p.0 < v);
    pairs[from..]
        .iter()
        .take_while(move |p| p.0 == v)
        .map(|p| p.1)
}

impl PathIds {
    fn new(subjects: &SubjectList) -> PathIds {
        let mut p = PathIds {
            subjects: subjects.clone(),
            int: Vec::new(),
            wide: Vec::new(),
            uuid: Vec::new(),
        };
        for i in 0..subjects.len() {
            if subjects.stored_uuid(i).is_some() {
                continue; // found by `find_uuid`, never an integer
            }
            let id = subjects.get(i);
            if let Ok(v) = id.trim().parse::<i128>() {
                match i64::try_from(v) {
                    Ok(v) => p.int.push((v, i as u32)),
                    Err(_) => p.wide.push((v, i as u32)),
                }
            }
            if let Some(u) = probe::parse_uuid(&id) {
                p.uuid.push((u, i as u32));
            }
        }
        p.int.sort_unstable();
        p.wide.sort_unstable();
        p.uuid.sort_unstable();
        p
    }

    fn matching(&self, value: &str, out: &mut BTreeSet<u32>) {
        if value == "__HIVE_DEFAULT_PARTITION__" {
            return; // null
        }
        if let Ok(v) = value.trim().parse::<i128>() {
            match i64::try_from(v) {
                Ok(v) => out.extend(equal_to(&self.int, v)),
                Err(_) => out.extend(equal_to(&self.wide, v)),
            }
        }
        if let Some(u) = probe::parse_uuid(value) {
            out.extend(equal_to(&self.uuid, u));
            out.extend(self.subjects.find_uuid(&u));
        }
        out.extend(self.subjects.find(value.as_bytes()));
    }
}

impl<'a> ProbeCache<'a> {
    fn new(subjects: &'a SubjectList) -> Self {
        ProbeCache {
            subjects,
            probes: Mutex::new(HashMap::new()),
            path_ids: std::sync::OnceLock::new(),
        }
    }

    fn path_ids(&self) -> &PathIds {
        self.path_ids.get_or_init(|| PathIds::new(self.subjects))
    }

    fn get(&self, kind: IdKind) -> Arc<Probe> {
        let mut m = self.probes.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(kind)
            .or_insert_with(|| Arc::new(Probe::new(kind, self.subjects)))
            .clone()
    }
}

/// How an identifier column of this schema type is matched, or why it cannot be.
pub fn id_kind(descr: &parquet::schema::types::ColumnDescriptor) -> Result<IdKind, FileProblem> {
    let name = descr.path().string();
    if descr.max_rep_level() > 0 {
        return Err(FileProblem::Unsupported(format!(
            "identifier column {name} is repeated (a list); only flat columns are supported"
        )));
    }
    let logical = descr.logical_type_ref();
    let converted = descr.converted_type();
    let unsupported = |what: &str| {
        Err(FileProblem::Unsupported(format!(
            "identifier column {name} has unsupported type {what}"
        )))
    };
    // Types in the words of the Parquet spec, not Rust's Debug.
    let words = |l: &LogicalType| match l {
        LogicalType::Decimal(d) => format!("DECIMAL({}, {})", d.precision, d.scale),
        LogicalType::Unknown => "NULL (a column of nulls only)".into(),
        LogicalType::Timestamp { .. } => "TIMESTAMP".into(),
        LogicalType::Time { .. } => "TIME".into(),
        LogicalType::Integer(i) => format!(
            "INT({}, {})",
            i.bit_width,
            if i.is_signed { "signed" } else { "unsigned" }
        ),
        other => format!("{other:?}").to_uppercase(),
    };
    match descr.physical_type() {
        PhysicalType::BYTE_ARRAY => match logical {
            None
            | Some(
                LogicalType::String | LogicalType::Enum | LogicalType::Json | LogicalType::Unknown,
            ) => {
                if matches!(converted, ConvertedType::DECIMAL) {
                    return unsupported("DECIMAL");
                }
                Ok(IdKind::Bytes)
            }
            Some(other) => unsupported(&words(other)),
        },
        PhysicalType::INT32 | PhysicalType::INT64 => {
            let signed = match (logical, converted) {
                (Some(LogicalType::Integer(t)), _) => t.is_signed,
                (
                    None,
                    ConvertedType::NONE
                    | ConvertedType::INT_8
                    | ConvertedType::INT_16
                    | ConvertedType::INT_32
                    | ConvertedType::INT_64,
                ) => true,
                (
                    None,
                    ConvertedType::UINT_8
                    | ConvertedType::UINT_16
                    | ConvertedType::UINT_32
                    | ConvertedType::UINT_64,
                ) => false,
                (Some(other), _) => return unsupported(&words(other)),
                (None, other) => return unsupported(&format!("{other}")),
            };
            Ok(if descr.physical_type() == PhysicalType::INT32 {
                IdKind::Int32 { signed }
            } else {
                IdKind::Int64 { signed }
            })
        }
        PhysicalType::FIXED_LEN_BYTE_ARRAY => match logical {
            Some(LogicalType::Uuid) => Ok(IdKind::Fixed {
                len: 16,
                uuid: true,
            }),
            None if converted == ConvertedType::NONE && descr.type_length() > 0 => {
                Ok(IdKind::Fixed {
                    len: descr.type_length() as usize,
                    uuid: false,
                })
            }
            Some(other) => unsupported(&words(other)),
            None => unsupported(&format!("{converted}")),
        },
        other => unsupported(&other.to_string()),
    }
}

/// What a scan read from the store.
#[derive(Default)]
struct ReadCounters {
    bytes: AtomicU64,
    requests: AtomicU64,
}

/// What a table's remote files taught the scan about their tails: of a file's size, the
/// largest share (in 1/65,536ths) seen from the start of its bloom filters to its end,
/// when they lie right before the footer (as the common writers put them). The first read
/// of a later file's tail takes that share with its footer, so footer and filters come in
/// one round trip instead of two. Per table: a table's files come from one writer.
#[derive(Default)]
struct TailHint {
    bloom_share: AtomicU64,
}

/// A remote file this small is read whole in its first request: one round trip where its
/// footer, bloom filters and column chunks would take two or three (on S3 a round trip
/// lasts about as long as a few hundred KiB take to arrive).
const WHOLE_FILE_MAX: u64 = 256 << 10;

/// Bloom filters that end at most this far before the footer count as right before it.
const BLOOM_TAIL_GAP: u64 = 64 << 10;

impl TailHint {
    /// How many bytes of a file of `size` bytes the first read of its tail takes.
    fn guess(&self, size: u64) -> u64 {
        let share = self.bloom_share.load(Ordering::Relaxed);
        let filters = ((u128::from(size) * u128::from(share)) >> 16) as u64;
        (filters.min(BLOOM_SPAN_MAX) + FOOTER_GUESS).min(size)
    }

    /// Learns from a file whose bloom filters span `lo..hi` and whose footer starts at
    /// `footer_at`.
    fn learn(&self, size: u64, (lo, hi): (u64, u64), footer_at: u64) {
        if size == 0 || hi > footer_at || footer_at - hi > BLOOM_TAIL_GAP {
            return;
        }
        let share = (u128::from(size - lo) << 16).div_ceil(u128::from(size));
        self.bloom_share
            .fetch_max(share.min(1 << 16) as u64, Ordering::Relaxed);
    }
}

/// Ranged reads of one object through the store, bounds-checked against its listed size
/// and counted.
struct ObjectReader<'a> {
    inner: Box<dyn RangeRead>,
    size: u64,
    counter: &'a ReadCounters,
    /// A range fetched ahead in one read (a remote file's bloom filters): its offset and
    /// bytes. Reads inside it are answered from memory.
    prefetched: Option<(u64, Vec<u8>)>,
}

impl ObjectReader<'_> {
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), FileProblem> {
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(FileProblem::Malformed(format!(
                "a read of {len} bytes at offset {offset} runs past the end of the file ({} bytes)",
                self.size
            )));
        }
        if let Some((base, data)) = &self.prefetched
            && offset >= *base
            && offset + len <= base + data.len() as u64
        {
            let at = (offset - base) as usize;
            buf.clear();
            buf.extend_from_slice(&data[at..at + len as usize]);
            return Ok(());
        }
        self.inner.read_into(offset, len, buf)?;
        self.counter.bytes.fetch_add(len, Ordering::Relaxed);
        self.counter.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, FileProblem> {
        let mut buf = Vec::new();
        self.read_into(offset, len, &mut buf)?;
        Ok(buf)
    }
}

/// Column chunk bytes held in memory, addressed by file offset (for the generic decoder).
struct ChunkSlice {
    start: u64,
    data: Bytes,
}

impl Length for ChunkSlice {
    fn len(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

impl ChunkReader for ChunkSlice {
    type T = bytes::buf::Reader<Bytes>;
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        let off = start
            .checked_sub(self.start)
            .filter(|&o| o <= self.data.len() as u64);
        let off = off.ok_or_else(|| {
            parquet::errors::ParquetError::General("read outside the column chunk".into())
        })?;
        Ok(self.data.slice(off as usize..).reader())
    }
    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let off = start.checked_sub(self.start).map(|o| o as usize);
        match off {
            Some(o) if o.checked_add(length).is_some_and(|e| e <= self.data.len()) => {
                Ok(self.data.slice(o..o + length))
            }
            _ => Err(parquet::errors::ParquetError::General(
                "read outside the column chunk".into(),
            )),
        }
    }
}

/// Reads and decodes the footer, with its length capped before anything is allocated.
/// Bytes read from the end of a file in the first request: most footers fit, so a remote
/// store answers the footer in one round trip.
const FOOTER_GUESS: u64 = 8 << 10;

/// A file's decoded footer, with what the read of its tail brought.
struct Footer {
    meta: ParquetMetaData,
    /// SHA-256 of the footer's bytes, hex.
    sha256: String,
    /// Where the footer starts in the file.
    at: u64,
    /// The tail read first: its offset and bytes.
    tail: (u64, Vec<u8>),
}

/// Reads and decodes the footer, with its length capped before anything is allocated;
/// the first read takes the last `guess` bytes (at least [`FOOTER_GUESS`]).
fn read_footer(r: &ObjectReader<'_>, limits: &Limits, guess: u64) -> Result<Footer, FileProblem> {
    if r.size < 12 {
        return Err(FileProblem::Malformed(format!(
            "not a Parquet file: {} bytes is too short",
            r.size
        )));
    }
    // One read of the tail; the leading magic is checked when the read reaches it.
    let first = r.size.min(guess.max(FOOTER_GUESS));
    let tail = r.read(r.size - first, first)?;
    let magic = &tail[tail.len() - 4..];
    if magic == b"PARE" {
        return Err(FileProblem::Unsupported(
            "encrypted Parquet (PARE footer) is not supported".into(),
        ));
    }
    if magic != b"PAR1" || (first == r.size && &tail[..4] != b"PAR1") {
        return Err(FileProblem::Malformed(
            "not a Parquet file: the PAR1 magic bytes are missing".into(),
        ));
    }
    let n = tail.len();
    let len = u64::from(u32::from_le_bytes([
        tail[n - 8],
        tail[n - 7],
        tail[n - 6],
        tail[n - 5],
    ]));
    if len > r.size - 12 {
        return Err(FileProblem::Malformed(format!(
            "corrupt footer: declares {len} bytes in a {} byte file",
            r.size
        )));
    }
    if len > limits.max_footer_bytes as u64 {
        return Err(FileProblem::OverLimit(format!(
            "footer of {len} bytes is over the {} byte limit",
            limits.max_footer_bytes
        )));
    }
    let footer = if len + 8 <= first {
        tail[n - 8 - len as usize..n - 8].to_vec()
    } else {
        r.read(r.size - 8 - len, len)?
    };
    thrift::check_struct(&footer).map_err(|e| {
        FileProblem::Malformed(format!(
            "corrupt footer: its Thrift encoding is malformed ({})",
            e.0.trim_start_matches("page header ")
        ))
    })?;
    let meta = ParquetMetaDataReader::decode_metadata(&footer)
        .map_err(|e| FileProblem::Malformed(format!("corrupt footer: {e}")))?;
    use sha2::Digest;
    Ok(Footer {
        meta,
        sha256: crate::domain::subjects::hex(&sha2::Sha256::digest(&footer)),
        at: r.size - 8 - len,
        tail: (r.size - first, tail),
    })
}

struct IdColumn {
    index: usize,
    descr: ColumnDescPtr,
    probe: Arc<Probe>,
}

/// The identifier columns of a file: for each configured name, the flat column whose path
/// is that name (ignoring case unless `exact`), with its index. Two columns that differ
/// only in case, or a name that is a list, map or struct, are errors; a name the file
/// does not have is left out.
pub(crate) fn resolve_id_columns(
    schema: &parquet::schema::types::SchemaDescriptor,
    id_columns: &[String],
    exact: bool,
) -> Result<Vec<(usize, ColumnDescPtr)>, FileProblem> {
    let same = |a: &str, b: &str| {
        if exact {
            a == b
        } else if a.is_ascii() && b.is_ascii() {
            a.eq_ignore_ascii_case(b)
        } else {
            a.to_lowercase() == b.to_lowercase()
        }
    };
    let mut out: Vec<(usize, ColumnDescPtr)> = Vec::new();
    for name in id_columns {
        let found: Vec<(usize, &ColumnDescPtr)> = schema
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| same(&c.path().string(), name))
            .collect();
        match found.as_slice() {
            [] => {
                // A nested column of that name holds no flat values to match.
                if let Some(f) = schema
                    .root_schema()
                    .get_fields()
                    .iter()
                    .find(|f| f.is_group() && same(f.name(), name))
                {
                    let what = match f.get_basic_info().converted_type() {
                        ConvertedType::LIST => "a list",
                        ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE => "a map",
                        _ => match f.get_basic_info().logical_type_ref() {
                            Some(LogicalType::List) => "a list",
                            Some(LogicalType::Map) => "a map",
                            _ => "a struct",
                        },
                    };
                    return Err(FileProblem::Unsupported(format!(
                        "identifier column {} is {what}, not a flat column: its values cannot \
                         be matched (name a struct field as a.b)",
                        f.name()
                    )));
                }
            }
            [(i, d)] => {
                if !out.iter().any(|(j, _)| j == i) {
                    out.push((*i, (*d).clone()));
                }
            }
            many => {
                let names: Vec<String> = many.iter().map(|(_, d)| d.path().string()).collect();
                return Err(FileProblem::Unsupported(format!(
                    "columns {} differ only in case: which one is the identifier column {name} \
                     is ambiguous (Glue, Athena and Spark read them as one)",
                    names.join(" and ")
                )));
            }
        }
    }
    Ok(out)
}

/// The flat top-level columns whose Parquet field id is one of `ids`.
fn resolve_by_field_id(
    schema: &parquet::schema::types::SchemaDescriptor,
    ids: &[i32],
) -> Vec<(usize, ColumnDescPtr)> {
    schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path().parts().len() == 1)
        .filter(|(_, c)| {
            let info = c.self_type().get_basic_info();
            info.has_id() && ids.contains(&info.id())
        })
        .map(|(i, c)| (i, c.clone()))
        .collect()
}

/// The identifier columns whose value a file's path gives (`user_id=42/`), with the
/// subjects those values name.
fn path_subjects(
    table: &Table,
    f: &ObjectMeta,
    exact: bool,
    probes: &ProbeCache<'_>,
    from_table: &[(String, String)],
) -> (Vec<String>, BTreeSet<u32>) {
    let mut columns = Vec::new();
    let mut subjects = BTreeSet::new();
    let values = partition_values(&table.path, &f.path)
        .into_iter()
        .chain(from_table.iter().cloned());
    for (key, value) in values {
        let is_id = table.id_columns.iter().any(|c| {
            if exact {
                c == &key
            } else {
                c.to_lowercase() == key.to_lowercase()
            }
        });
        if is_id {
            if !columns.contains(&key) {
                columns.push(key.clone());
            }
            probes.path_ids().matching(&value, &mut subjects);
        }
    }
    (columns, subjects)
}

/// What a table masks in one file: row positions (deletion vectors, position deletes) and
/// subjects whose rows are deleted by value (equality deletes).
pub struct RowMask {
    pub positions: Option<roaring::RoaringTreemap>,
    pub subjects: BTreeSet<u32>,
}

impl RowMask {
    fn masks(&self, row: u64, subject: u32) -> bool {
        self.subjects.contains(&subject) || self.positions.as_ref().is_some_and(|p| p.contains(row))
    }
}

/// Scans one file. `mask`: what the table masks; matches there are counted apart. `locate`: whether matching rows are located (for export:
/// only rows every reader sees).
#[allow(clippy::too_many_arguments)]
fn scan_file(
    req: &ScanRequest<'_>,
    f: &ObjectMeta,
    table: &Table,
    probes: &ProbeCache<'_>,
    counter: &ReadCounters,
    tails: &TailHint,
    mask: Option<&RowMask>,
    locate: bool,
    partition_ids: &[(String, String)],
    field_ids: &[i32],
    absent_means_null: bool,
) -> Result<FileOutcome, FileProblem> {
    let id_columns = &table.id_columns;
    let inner = req.store.open(f)?;
    let mut reader = ObjectReader {
        inner,
        size: f.size,
        counter,
        prefetched: None,
    };
    // A small remote file is read whole in one request; a larger one's bloom filters are
    // fetched whole, in one read: with the footer when the table's earlier files had them
    // right before it.
    let remote = req.store.is_remote();
    let remote_blooms = remote && req.options.use_bloom_filters;
    let guess = if remote && f.size <= WHOLE_FILE_MAX {
        f.size
    } else if remote_blooms {
        tails.guess(f.size)
    } else {
        FOOTER_GUESS
    };
    let Footer {
        meta,
        sha256: footer_sha256,
        at: footer_at,
        tail,
    } = read_footer(&reader, &req.options.limits, guess)?;
    let schema = meta.file_metadata().schema_descr();
    let columns = top_level_columns(schema);
    let mut cols = Vec::new();
    // A table that names its columns by field id (Iceberg) finds them by id in files that
    // carry ids, whatever the column was called when the file was written.
    let by_id = !field_ids.is_empty()
        && schema
            .root_schema()
            .get_fields()
            .iter()
            .any(|f| f.get_basic_info().has_id());
    let resolved = if by_id {
        resolve_by_field_id(schema, field_ids)
    } else {
        resolve_id_columns(schema, id_columns, req.options.exact_column_names)?
    };
    for (index, descr) in resolved {
        let kind = id_kind(&descr)?;
        cols.push(IdColumn {
            index,
            descr,
            probe: probes.get(kind),
        });
    }
    let (partition_columns, path_subjects) = path_subjects(
        table,
        f,
        req.options.exact_column_names,
        probes,
        partition_ids,
    );
    if cols.is_empty() && partition_columns.is_empty() {
        if !absent_means_null {
            return Err(FileProblem::NoIdColumn(id_columns.clone()));
        }
        // Written before the identifier column existed: every row reads null there.
        let groups = meta.num_row_groups() as u64;
        return Ok(FileOutcome {
            rows: meta.file_metadata().num_rows().max(0) as u64,
            stats: RowGroupStats {
                total: groups,
                decided_by_schema: groups,
                ..RowGroupStats::default()
            },
            footer_sha256,
            columns,
            ..FileOutcome::default()
        });
    }
    let declared = meta.file_metadata().num_rows();
    let mut sum = 0i64;
    for rg in meta.row_groups() {
        if rg.num_rows() < 0 {
            return Err(FileProblem::Malformed(
                "corrupt footer: a row group has a negative row count".into(),
            ));
        }
        sum = sum.saturating_add(rg.num_rows());
    }
    if sum != declared {
        return Err(FileProblem::Malformed(format!(
            "corrupt footer: row groups hold {sum} rows, the file says {declared}"
        )));
    }
    if let Some(last) = mask.and_then(|m| m.positions.as_ref()?.max())
        && last >= declared as u64
    {
        return Err(FileProblem::Malformed(format!(
            "its deletion vector masks row {last}, and the file holds {declared} rows"
        )));
    }
    // Each row group's first row in the file (deletion vectors count rows per file).
    let firsts: Vec<u64> = meta
        .row_groups()
        .iter()
        .scan(0u64, |at, rg| {
            let first = *at;
            *at += rg.num_rows() as u64;
            Some(first)
        })
        .collect();
    let mut tail = Some(tail);
    if remote_blooms && let Some(span) = bloom_span(&meta, &cols).filter(|s| s.hi <= reader.size) {
        if span.dense {
            tails.learn(f.size, (span.lo, span.hi), footer_at);
        }
        if tail.as_ref().is_some_and(|t| t.0 <= span.lo) {
            reader.prefetched = tail.take();
        } else if span.one_read() {
            reader.prefetched = Some((span.lo, reader.read(span.lo, span.hi - span.lo)?));
        }
    }
    // A whole file answers every later read from memory; any other tail that holds no
    // filters is not kept while the row groups are read.
    if remote && tail.as_ref().is_some_and(|t| t.0 == 0) {
        reader.prefetched = tail.take();
    }
    drop(tail);
    // The file as listed and read now: what the index and this run's upkeep know it by.
    let fingerprint = (req.index.is_some() || req.prescan.is_some())
        .then(|| crate::domain::index::Fingerprint::of(f, footer_sha256.clone()));
    // What the subject index says of each row group (None: it cannot speak for this file).
    let candidates = req.index.zip(fingerprint.as_ref()).and_then(|(ix, fp)| {
        let probes: Vec<(String, &crate::domain::index::Present)> = cols
            .iter()
            .map(|c| (c.descr.path().string(), c.probe.index_present(ix)))
            .collect();
        ix.candidates(fp, &probes)
    });
    // Outcomes earlier nights decoded for exactly these candidates stand for a decode:
    // for one identifier column, without a mask, when no row positions are wanted.
    let recall = match (req.recall, req.index, &candidates) {
        (Some(r), Some(ix), Some(c))
            if cols.len() == 1 && mask.is_none() && !(req.collect_rows && locate) =>
        {
            Some(Recalling {
                recall: r,
                index: ix,
                candidates: c,
                column: cols[0].descr.path().string(),
                probe: &cols[0].probe,
            })
        }
        _ => None,
    };
    // Chunks this run's index upkeep decoded while it indexed the file.
    let prescanned = req
        .prescan
        .zip(fingerprint.as_ref())
        .and_then(|(p, fp)| p.take(fp));
    let reading = Reading {
        reader: &reader,
        prescanned: prescanned.as_ref(),
    };
    let results: Vec<Result<RgOutcome, FileProblem>> = meta
        .row_groups()
        .par_iter()
        .enumerate()
        .map(|(i, rg)| {
            if candidates.as_ref().is_some_and(|c| c.rules_out(i)) {
                return Ok(RgOutcome::decided(RowGroupStats {
                    total: 1,
                    skipped_by_index: 1,
                    ..RowGroupStats::default()
                }));
            }
            if let Some(r) = &recall {
                if let Some(o) = r.recalled(i) {
                    return Ok(o);
                }
                let o = scan_row_group(req, &reading, i, rg, &cols, None, locate)?;
                r.remember(i, &o);
                return Ok(o);
            }
            let masked = mask.map(|m| (m, firsts[i]));
            scan_row_group(req, &reading, i, rg, &cols, masked, locate)
        })
        .collect();
    let mut out = FileOutcome {
        rows: declared as u64,
        columns,
        footer_sha256,
        indexed: candidates.is_some(),
        partition_columns,
        ..FileOutcome::default()
    };
    for (i, r) in results.into_iter().enumerate() {
        let rg = r?;
        add_stats(&mut out.stats, &rg.stats);
        out.residual_rows += rg.residual_rows;
        for (s, n) in rg.per_subject {
            *out.per_subject.entry(s).or_default() += n;
        }
        out.masked_rows += rg.masked_rows;
        for (s, n) in rg.masked_per_subject {
            *out.masked_per_subject.entry(s).or_default() += n;
        }
        for (s, n) in rg.stat_subjects {
            *out.stat_subjects.entry(s).or_default() += n;
        }
        if !rg.rows.is_empty() {
            out.matched_rows.push((i, rg.rows));
        }
    }
    // A subject named by the path owns every row of the file.
    if !path_subjects.is_empty() {
        out.residual_rows = out.rows;
        let positions = mask
            .and_then(|m| m.positions.as_ref())
            .map_or(0, |p| p.len());
        for s in path_subjects {
            out.per_subject.insert(s, out.rows);
            let masked = if mask.is_some_and(|m| m.subjects.contains(&s)) {
                out.rows
            } else {
                positions
            };
            if masked > 0 {
                out.masked_per_subject.insert(s, masked);
                out.masked_rows = out.masked_rows.max(masked);
            }
        }
        if req.collect_rows && locate && mask.is_none() {
            out.matched_rows = meta
                .row_groups()
                .iter()
                .enumerate()
                .filter(|(_, rg)| rg.num_rows() > 0)
                .map(|(i, rg)| (i, (0..rg.num_rows() as u32).collect()))
                .collect();
        }
    }
    Ok(out)
}

/// Largest span of bloom filters fetched in one read.
const BLOOM_SPAN_MAX: u64 = 16 << 20;

/// Where a file's bloom filters (of its identifier columns) lie.
struct BloomSpan {
    lo: u64,
    hi: u64,
    /// At least half the span is filters (writers put them side by side before the
    /// footer; some put each row group's after it).
    dense: bool,
    count: usize,
}

impl BloomSpan {
    /// One read of the span beats a round trip per filter.
    fn one_read(&self) -> bool {
        self.count > 1 && self.dense && self.hi - self.lo <= BLOOM_SPAN_MAX
    }
}

/// The byte span holding the bloom filters of a file's identifier columns, every
/// filter's length recorded.
fn bloom_span(meta: &ParquetMetaData, cols: &[IdColumn]) -> Option<BloomSpan> {
    let (mut lo, mut hi, mut filled, mut count) = (u64::MAX, 0u64, 0u64, 0);
    for rg in meta.row_groups() {
        for c in cols {
            let chunk = rg.column(c.index);
            let Some(offset) = chunk.bloom_filter_offset() else {
                continue;
            };
            let offset = u64::try_from(offset).ok()?;
            let len = u64::try_from(chunk.bloom_filter_length()?).ok()?;
            lo = lo.min(offset);
            hi = hi.max(offset.checked_add(len)?);
            filled += len;
            count += 1;
        }
    }
    (count > 0).then(|| BloomSpan {
        lo,
        hi,
        dense: filled * 2 >= hi - lo,
        count,
    })
}

/// What one row group holds.
struct RgOutcome {
    stats: RowGroupStats,
    /// Distinct matching rows.
    residual_rows: u64,
    per_subject: BTreeMap<u32, u64>,
    /// The matching rows' positions, ascending (only when the request collects them).
    rows: Vec<u32>,
    /// Of the matching rows, those a deletion vector masks.
    masked_rows: u64,
    masked_per_subject: BTreeMap<u32, u64>,
    /// In a file the table masks rows of: subjects whose ID is a min or max statistic of
    /// an identifier column chunk (the footer keeps it while the row is masked).
    stat_subjects: BTreeMap<u32, u64>,
}

/// The decoder settings under which a recalled outcome stands for a decode (those that
/// can turn a read into an error): see [`crate::domain::index::Recall`].
pub fn recall_settings(opts: &ScanOptions) -> String {
    let l = &opts.limits;
    format!(
        "crc={} page={} footer={} chunk={}",
        opts.verify_crc, l.max_page_bytes, l.max_footer_bytes, l.max_chunk_bytes
    )
}

impl RgOutcome {
    /// A row group decided without reading it.
    fn decided(stats: RowGroupStats) -> RgOutcome {
        RgOutcome {
            stats,
            residual_rows: 0,
            per_subject: BTreeMap::new(),
            rows: Vec::new(),
            masked_rows: 0,
            masked_per_subject: BTreeMap::new(),
            stat_subjects: BTreeMap::new(),
        }
    }
}

/// A file's row groups, recalled from earlier nights or remembered for later ones
/// ([`crate::domain::index::Recall`]).
struct Recalling<'r> {
    recall: &'r crate::domain::index::Recall,
    index: &'r crate::domain::index::LakeIndex,
    candidates: &'r crate::domain::index::FileCandidates,
    column: String,
    probe: &'r Probe,
}

impl Recalling<'_> {
    fn candidates(&self, g: usize) -> &[u64] {
        self.candidates
            .row_groups
            .get(g)
            .and_then(|c| c.first())
            .map_or(&[], Vec::as_slice)
    }

    /// Row group `g`'s outcome as an earlier night decoded it, when it stands for a decode.
    fn recalled(&self, g: usize) -> Option<RgOutcome> {
        let r = self
            .recall
            .lookup(&self.candidates.entry, g, &self.column, self.candidates(g))?;
        let mut o = RgOutcome::decided(RowGroupStats {
            total: 1,
            recalled_by_index: 1,
            ..RowGroupStats::default()
        });
        o.residual_rows = r.residual_rows;
        for &(h, n) in &r.per_hash {
            // The subject the hash names, and those whose IDs are the same value.
            let s = self.probe.index_subject(self.index, h)?;
            for s in std::iter::once(s).chain(self.probe.aliases(s).iter().copied()) {
                o.per_subject.insert(s, n);
            }
        }
        Some(o)
    }

    /// Keeps a decoded row group's outcome, in keyed hashes, for later nights: only for a
    /// few candidates (a long list is unlikely to be the same another night, and the
    /// recall file stays small).
    fn remember(&self, g: usize, o: &RgOutcome) {
        let candidates = self.candidates(g);
        if o.stats.decoded + o.stats.skipped_by_dictionary != 1
            || candidates.len() > crate::domain::index::RECALL_MAX_CANDIDATES
        {
            return;
        }
        let per_hash: Vec<(u64, u64)> = candidates
            .iter()
            .filter_map(|&h| {
                let s = self.probe.index_subject(self.index, h)?;
                Some((h, *o.per_subject.get(&s)?))
            })
            .collect();
        // Every matching subject is a candidate (the index has no false negatives), or
        // an alias of one (an ID that is the same value, credited when recalled); if the
        // counts do not add up, nothing is kept.
        let named: usize = per_hash
            .iter()
            .filter_map(|&(h, _)| self.probe.index_subject(self.index, h))
            .map(|s| 1 + self.probe.aliases(s).len())
            .sum();
        if named != o.per_subject.len()
            || per_hash.iter().map(|p| p.1).sum::<u64>() != o.residual_rows
        {
            return;
        }
        self.recall.remember(
            &self.candidates.entry,
            g,
            &self.column,
            candidates.to_vec(),
            o.residual_rows,
            per_hash,
        );
    }
}

enum ChunkDecision {
    /// No subject ID can be a value of the column's type (the schema decides).
    Type,
    Statistics,
    Bloom,
    Read(ChunkScan),
}

/// Where a file's chunks come from: the file, or this run's index upkeep.
struct Reading<'r> {
    reader: &'r ObjectReader<'r>,
    prescanned: Option<&'r PrescannedFile>,
}

/// `mask`: the file's deletion vector and this row group's first row in the file.
fn scan_row_group(
    req: &ScanRequest<'_>,
    reading: &Reading<'_>,
    rg_index: usize,
    rg: &RowGroupMetaData,
    cols: &[IdColumn],
    mask: Option<(&RowMask, u64)>,
    locate: bool,
) -> Result<RgOutcome, FileProblem> {
    let mut stats = RowGroupStats {
        total: 1,
        ..RowGroupStats::default()
    };
    let rows = rg.num_rows() as u64;
    // A row group without rows holds nothing, whatever its offsets say (pyarrow writes
    // `data_page_offset = 0` there); one whose identifiers all come from the path is
    // decided by the path.
    if rows == 0 || cols.is_empty() {
        if rows == 0 {
            stats.decoded = 1;
        } else {
            stats.decided_by_partition = 1;
        }
        return Ok(RgOutcome::decided(stats));
    }
    let mut matches: Vec<(u32, u32)> = Vec::new();
    let mut decisions = Vec::with_capacity(cols.len());
    let mut stat_subjects = BTreeMap::new();
    for c in cols {
        let chunk = rg.column(c.index);
        if mask.is_some() && !c.probe.is_empty() {
            for s in statistics_subjects(chunk, &c.probe) {
                for s in std::iter::once(s).chain(c.probe.aliases(s).iter().copied()) {
                    *stat_subjects.entry(s).or_insert(0u64) += 1;
                }
            }
        }
        let at = |e: FileProblem| e.at(rg_index, c.descr.path().string());
        let d = decide_chunk(req, reading, (rg_index, rg), chunk, c).map_err(at)?;
        if let ChunkDecision::Read(cs) = &d {
            if cs.rows != rows {
                return Err(at(FileProblem::Malformed(format!(
                    "pages hold {} rows, the footer says {rows}",
                    cs.rows
                ))));
            }
            // A match names the first subject of those whose IDs are this value.
            if c.probe.has_aliases() {
                for &(row, s) in &cs.matches {
                    matches.push((row, s));
                    matches.extend(c.probe.aliases(s).iter().map(|&a| (row, a)));
                }
            } else {
                matches.extend_from_slice(&cs.matches);
            }
        }
        decisions.push(d);
    }
    // The row group is ruled out by the strongest reason that covers every column.
    if decisions.iter().all(|d| matches!(d, ChunkDecision::Type)) {
        stats.skipped_by_statistics = 1;
        stats.by_column_type = 1;
    } else if decisions
        .iter()
        .all(|d| matches!(d, ChunkDecision::Statistics | ChunkDecision::Type))
    {
        stats.skipped_by_statistics = 1;
    } else if decisions
        .iter()
        .all(|d| !matches!(d, ChunkDecision::Read(_)))
    {
        stats.skipped_by_bloom_filter = 1;
    } else if decisions.iter().all(|d| match d {
        ChunkDecision::Read(cs) => cs.pages_decoded == 0,
        _ => true,
    }) {
        stats.skipped_by_dictionary = 1;
    } else {
        stats.decoded = 1;
    }
    let mut out = RgOutcome {
        stat_subjects,
        ..RgOutcome::decided(stats)
    };
    matches.sort_unstable();
    matches.dedup();
    // Per row: its matching subjects; the row is masked when the table masks it for every
    // one of them (a position, or each subject's value deleted).
    for group in matches.chunk_by(|a, b| a.0 == b.0) {
        let row = group[0].0;
        let mut all_masked = true;
        for &(_, subject) in group {
            let masked = mask.is_some_and(|(m, first)| m.masks(first + u64::from(row), subject));
            *out.per_subject.entry(subject).or_insert(0u64) += 1;
            if masked {
                *out.masked_per_subject.entry(subject).or_insert(0u64) += 1;
            }
            all_masked &= masked;
        }
        out.residual_rows += 1;
        out.masked_rows += u64::from(all_masked);
        if req.collect_rows && locate && !all_masked {
            out.rows.push(row);
        }
    }
    Ok(out)
}

fn decide_chunk(
    req: &ScanRequest<'_>,
    reading: &Reading<'_>,
    (g, rg): (usize, &RowGroupMetaData),
    chunk: &ColumnChunkMetaData,
    c: &IdColumn,
) -> Result<ChunkDecision, FileProblem> {
    let reader = reading.reader;
    let opts = &req.options;
    if c.probe.is_empty() {
        return Ok(ChunkDecision::Type);
    }
    if chunk.num_values() != rg.num_rows() {
        return Err(FileProblem::Malformed(format!(
            "column chunk has {} values, the row group {} rows",
            chunk.num_values(),
            rg.num_rows()
        )));
    }
    if opts.use_statistics && rules_out_by_statistics(chunk, &c.probe) {
        return Ok(ChunkDecision::Statistics);
    }
    if opts.use_bloom_filters
        && let Some(offset) = chunk.bloom_filter_offset()
    {
        let hashes = c.probe.bloom_hashes();
        let rules_out = with_buffer(&BLOOM_BUF, |buf| {
            let bitset = read_bloom_bitset(reader, offset, chunk.bloom_filter_length(), buf)?;
            Ok::<_, FileProblem>(!hashes.iter().any(|&h| bloom::may_contain(bitset, h)))
        })?;
        if rules_out {
            return Ok(ChunkDecision::Bloom);
        }
    }
    let (start, len) = chunk_range(chunk, reader.size, opts)?;
    if let Some(cs) = reading.prescanned.and_then(|p| p.chunks.get(&(g, c.index))) {
        // Read and decoded once in this run, by the index upkeep: counted as read here.
        reader.counter.bytes.fetch_add(len, Ordering::Relaxed);
        reader.counter.requests.fetch_add(1, Ordering::Relaxed);
        return Ok(ChunkDecision::Read(cs.clone()));
    }
    with_buffer(&CHUNK_BUF, |data| {
        reader.read_into(start, len, data)?;
        decode_chunk(data, start, rg, chunk, c, opts)
    })
    .map(ChunkDecision::Read)
}

/// A column chunk's byte range (from its dictionary page, if any), checked against the
/// file size and the chunk limit before anything is read.
fn chunk_range(
    chunk: &ColumnChunkMetaData,
    file_size: u64,
    opts: &ScanOptions,
) -> Result<(u64, u64), FileProblem> {
    let start = match chunk.dictionary_page_offset() {
        Some(d) if d > 0 && d < chunk.data_page_offset() => d,
        _ => chunk.data_page_offset(),
    };
    let len = chunk.compressed_size();
    if start < 4
        || len < 0
        || (start as u64).saturating_add(len as u64) > file_size.saturating_sub(8)
    {
        return Err(FileProblem::Malformed(format!(
            "corrupt footer: column chunk at {start}+{len} lies outside the file"
        )));
    }
    if len as u64 > opts.limits.max_chunk_bytes {
        return Err(FileProblem::OverLimit(format!(
            "column chunk of {len} bytes is over the {} byte limit",
            opts.limits.max_chunk_bytes
        )));
    }
    Ok((start as u64, len as u64))
}

/// What the index keeps of one file: its fingerprint, its identifier columns, and per row
/// group and column the filter of the values' keyed hashes; plus those hashes (each row
/// group's distinct, for the lake-wide set, which sorts them all once).
pub(crate) fn index_file(
    store: &dyn Store,
    f: &ObjectMeta,
    id_columns: &[String],
    key: &crate::domain::index::IndexKey,
    opts: &ScanOptions,
    prescan: Option<&Prescan<'_>>,
) -> Result<(crate::domain::index::FileEntry, Vec<Vec<u64>>), FileProblem> {
    let reader = ObjectReader {
        inner: store.open(f)?,
        size: f.size,
        counter: &ReadCounters::default(),
        prefetched: None,
    };
    let Footer {
        meta,
        sha256: footer_sha256,
        ..
    } = read_footer(&reader, &opts.limits, FOOTER_GUESS)?;
    let schema = meta.file_metadata().schema_descr();
    let mut cols = Vec::new();
    for (i, d) in resolve_id_columns(schema, id_columns, opts.exact_column_names)? {
        let kind = id_kind(&d)?;
        cols.push((i, d, kind));
    }
    let fingerprint = crate::domain::index::Fingerprint::of(f, footer_sha256.clone());
    // Row groups side by side (a night's one new file is then indexed on every core),
    // each with its own buffer; their results in order.
    let index_row_group = |g: usize| {
        let rg = meta.row_group(g);
        let mut all = Vec::new();
        let mut filters = Vec::with_capacity(cols.len());
        for (i, descr, kind) in &cols {
            if rg.num_rows() == 0 {
                filters.push(filter(Vec::new())?);
                continue;
            }
            let chunk = rg.column(*i);
            let (start, len) = chunk_range(chunk, f.size, opts)?;
            let at = |e: FileProblem| e.at(g, descr.path().string());
            // The chunk in the thread's read buffer (kept between row groups, as the
            // scan's), one prepared value a value (a first guess: one a row), keyed in
            // one batch once the chunk is decoded.
            use crate::domain::index::{IndexKey, PreparedKind};
            let mut hashes = Vec::with_capacity(rg.num_rows().clamp(0, 1 << 20) as usize);
            let prepared_kind = match kind {
                IdKind::Bytes | IdKind::Fixed { .. } => PreparedKind::Bytes,
                IdKind::Int32 { .. } | IdKind::Int64 { .. } => PreparedKind::Int,
            };
            // A value of the other kind (the decoders give a kind's one form) is refused,
            // not hashed under the wrong tag, where a lookup would never find it.
            let mut mixed = false;
            let mut hash = |hashes: &mut Vec<u64>, v: Value<'_>| {
                hashes.push(match v {
                    Value::Bytes(b) => {
                        mixed |= prepared_kind != PreparedKind::Bytes;
                        IndexKey::prepare_bytes(b)
                    }
                    Value::Int(x) => {
                        mixed |= prepared_kind != PreparedKind::Int;
                        IndexKey::prepare_int(x)
                    }
                })
            };
            with_buffer(&CHUNK_BUF, |buf| {
                reader.read_into(start, len, buf)?;
                let buf: &[u8] = buf;
                // With a prescan, the run's subjects are probed in the same decode (the
                // scan's own decoder, so its outcome is the one the scan would find).
                if let Some(p) = prescan.filter(|_| opts.use_dictionaries) {
                    let probe = p.probes.get(*kind);
                    if !probe.is_empty() {
                        let spec = ChunkSpec {
                            probe: &probe,
                            codec: chunk.compression(),
                            max_def: descr.max_def_level(),
                            limits: opts.limits,
                            verify_crc: opts.verify_crc,
                            expected_rows: rg.num_rows() as u64,
                        };
                        let r = with_buffer(&SCRATCH, |scratch| {
                            Ok(pages::scan_chunk_visiting(
                                buf,
                                &spec,
                                scratch,
                                Some(&mut |v| hash(&mut hashes, v)),
                            ))
                        })?;
                        match r {
                            Ok(cs) => {
                                if !cs.matches.is_empty() && cs.rows == rg.num_rows() as u64 {
                                    p.keep(&fingerprint, (g, *i), cs);
                                }
                                return Ok(());
                            }
                            // Read below as the index reads it, from the start.
                            Err(ChunkError::Unsupported(_)) => hashes.clear(),
                            Err(e) => return Err(at(FileProblem::from(e))),
                        }
                    }
                }
                // Dictionary and PLAIN pages are read directly; other encodings generically.
                let from_dictionary =
                    with_buffer(&SCRATCH, |scratch| {
                        match pages::chunk_values_fast(
                            buf,
                            chunk.compression(),
                            &opts.limits,
                            *kind,
                            descr.max_def_level(),
                            opts.verify_crc,
                            scratch,
                            &mut |v| hash(&mut hashes, v),
                        ) {
                            Ok(done) => Ok(done),
                            Err(ChunkError::Unsupported(_)) => Ok(false),
                            Err(e) => Err(FileProblem::from(e)),
                        }
                    })
                    .map_err(at)?;
                if !from_dictionary {
                    hashes.clear();
                    visit_values(
                        Bytes::copy_from_slice(buf),
                        start,
                        chunk,
                        descr,
                        *kind,
                        rg.num_rows(),
                        opts,
                        &mut |_, v| hash(&mut hashes, v),
                    )
                    .map_err(at)?;
                }
                Ok(())
            })?;
            if mixed {
                return Err(at(FileProblem::Malformed(
                    "values of two kinds in one identifier column".into(),
                )));
            }
            key.hash_prepared(prepared_kind, &mut hashes);
            hashes.sort_unstable();
            hashes.dedup();
            filters.push(filter_of_sorted(&hashes)?);
            // The values go to the lake set as they are (one column: no copy).
            if all.is_empty() {
                all = hashes;
            } else {
                all.extend_from_slice(&hashes);
            }
        }
        Ok::<_, FileProblem>((filters, all))
    };
    let done: Vec<Result<_, FileProblem>> = {
        use rayon::prelude::*;
        (0..meta.num_row_groups())
            .into_par_iter()
            .map(index_row_group)
            .collect()
    };
    // Each row group's hashes are distinct; the lake set's layer sorts them all once.
    // They stay one list a row group: joined, they were copied twice more into new memory.
    let mut all = Vec::with_capacity(done.len());
    let mut row_groups = Vec::with_capacity(done.len());
    for d in done {
        let (filters, hashes) = d?;
        row_groups.push(filters);
        all.push(hashes);
    }
    Ok((
        crate::domain::index::FileEntry {
            fingerprint,
            columns: cols.iter().map(|(_, d, _)| d.path().string()).collect(),
            row_groups,
        },
        all,
    ))
}

fn decode_chunk(
    data: &[u8],
    start: u64,
    rg: &RowGroupMetaData,
    chunk: &ColumnChunkMetaData,
    c: &IdColumn,
    opts: &ScanOptions,
) -> Result<ChunkScan, FileProblem> {
    let spec = ChunkSpec {
        probe: &c.probe,
        codec: chunk.compression(),
        max_def: c.descr.max_def_level(),
        limits: opts.limits,
        verify_crc: opts.verify_crc,
        expected_rows: rg.num_rows() as u64,
    };
    let fast = if opts.use_dictionaries {
        with_buffer(&SCRATCH, |scratch| {
            Ok(pages::scan_chunk(data, &spec, scratch))
        })?
    } else {
        Err(ChunkError::Unsupported(
            "dictionary skipping disabled".into(),
        ))
    };
    match fast {
        Ok(cs) => Ok(cs),
        Err(e @ ChunkError::Corrupt(_)) => Err(e.into()),
        Err(ChunkError::Unsupported(_)) => generic_chunk(
            Bytes::copy_from_slice(data),
            start,
            chunk,
            c,
            rg.num_rows(),
            opts,
        ),
    }
}

/// Reads a column chunk's bloom filter bitset into `buf`, checking its header.
fn read_bloom_bitset<'b>(
    reader: &ObjectReader<'_>,
    offset: i64,
    length: Option<i32>,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], FileProblem> {
    let offset = u64::try_from(offset).map_err(|_| {
        FileProblem::Malformed("corrupt footer: negative bloom filter offset".into())
    })?;
    // With the length recorded, one read; otherwise the header first, then the bitset.
    let guess = match length {
        Some(l) if l > 0 => l as u64,
        _ => 64.min(reader.size.saturating_sub(offset)),
    };
    reader.read_into(offset, guess, buf)?;
    let (num_bytes, hlen) = thrift::read_bloom_header(buf)
        .map_err(|e| FileProblem::Malformed(format!("malformed bloom filter: {e}")))?;
    let total = hlen as u64 + u64::from(num_bytes);
    if let Some(l) = length.filter(|&l| l > 0 && l as u64 != total) {
        return Err(FileProblem::Malformed(format!(
            "malformed bloom filter: {total} bytes, the footer says {l}"
        )));
    }
    if buf.len() as u64 != total {
        reader.read_into(offset, total, buf)?;
    }
    Ok(&buf[hlen..])
}

thread_local! {
    /// Buffers reused on each worker thread: the decompressed page, the column chunk and
    /// the bloom filter. A scan allocates them once per thread, not once per chunk.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static CHUNK_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static BLOOM_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffers larger than this are released after use rather than kept per thread.
const KEEP_BUFFER_BYTES: usize = 64 << 20;

/// Runs `f` with a thread's reusable buffer (a fresh one if it is already in use).
fn with_buffer<T>(
    key: &'static std::thread::LocalKey<RefCell<Vec<u8>>>,
    f: impl FnOnce(&mut Vec<u8>) -> Result<T, FileProblem>,
) -> Result<T, FileProblem> {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let r = f(&mut buf);
            if buf.capacity() > KEEP_BUFFER_BYTES {
                *buf = Vec::new();
            }
            r
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// A file's top-level columns and their types as the `parquet` crate prints a schema
/// (`OPTIONAL BYTE_ARRAY user_id (STRING)`, nested fields on one line), in schema order.
fn top_level_columns(schema: &parquet::schema::types::SchemaDescriptor) -> Vec<(String, String)> {
    schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| {
            let mut text = Vec::new();
            parquet::schema::printer::print_schema(&mut text, f);
            let text = String::from_utf8_lossy(&text)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let text = text.trim_end_matches(';').to_string();
            (f.get_basic_info().name().to_string(), text)
        })
        .collect()
}

/// The subjects whose ID is the chunk's min or max statistic (once for each).
fn statistics_subjects(chunk: &ColumnChunkMetaData, probe: &Probe) -> Vec<u32> {
    let Some(st) = chunk.statistics() else {
        return Vec::new();
    };
    let found = match st {
        Statistics::Int32(s) => [s.min_opt(), s.max_opt()].map(|v| v.and_then(|&v| probe.int32(v))),
        Statistics::Int64(s) => [s.min_opt(), s.max_opt()].map(|v| v.and_then(|&v| probe.int64(v))),
        Statistics::ByteArray(_) | Statistics::FixedLenByteArray(_) => {
            [st.min_bytes_opt(), st.max_bytes_opt()].map(|v| v.and_then(|v| probe.bytes(v)))
        }
        _ => [None, None],
    };
    found.into_iter().flatten().collect()
}

/// Min/max statistics prove no subject ID can be in the chunk.
fn rules_out_by_statistics(chunk: &ColumnChunkMetaData, probe: &Probe) -> bool {
    let Some(st) = chunk.statistics() else {
        return false;
    };
    if st
        .null_count_opt()
        .is_some_and(|n| n as i64 == chunk.num_values())
        && chunk.num_values() > 0
    {
        return true; // every value is null
    }
    let unsigned_kind = matches!(
        probe.kind(),
        IdKind::Int32 { signed: false } | IdKind::Int64 { signed: false }
    );
    match st {
        Statistics::Int32(s) => {
            if st.is_min_max_deprecated() && unsigned_kind {
                return false;
            }
            match (s.min_opt(), s.max_opt()) {
                (Some(&lo), Some(&hi)) => !probe.ints_in_range(i64::from(lo), i64::from(hi)),
                _ => false,
            }
        }
        Statistics::Int64(s) => {
            if st.is_min_max_deprecated() && unsigned_kind {
                return false;
            }
            match (s.min_opt(), s.max_opt()) {
                (Some(&lo), Some(&hi)) => !probe.ints_in_range(lo, hi),
                _ => false,
            }
        }
        Statistics::ByteArray(_) | Statistics::FixedLenByteArray(_) => {
            // Old writers ordered byte arrays as signed: only the newer fields are trusted.
            if st.is_min_max_deprecated() {
                return false;
            }
            match (st.min_bytes_opt(), st.max_bytes_opt()) {
                (Some(lo), Some(hi)) => !probe.bytes_in_range(lo, hi),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Decodes a chunk with the `parquet` crate's generic column reader (any encoding and
/// codec it supports) after checking every page header's declared sizes.
fn generic_chunk(
    data: Bytes,
    start: u64,
    chunk: &ColumnChunkMetaData,
    c: &IdColumn,
    rows: i64,
    opts: &ScanOptions,
) -> Result<ChunkScan, FileProblem> {
    let probe = &c.probe;
    let mut out = ChunkScan::default();
    let total = visit_values(
        data,
        start,
        chunk,
        &c.descr,
        probe.kind(),
        rows,
        opts,
        &mut |row, v| {
            let hit = match v {
                Value::Bytes(b) => probe.bytes(b),
                Value::Int(i) => probe.int64(i),
            };
            if let Some(s) = hit {
                out.matches.push((row, s));
            }
        },
    )?;
    out.rows = total;
    out.pages_decoded = 1;
    Ok(out)
}

/// One identifier value as the scan compares it: the bytes of a byte-array or
/// fixed-length value, or an integer in the probe's numeric form (unsigned INT32 as its
/// value, 64-bit as its bit pattern).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

/// Decodes every value of a column chunk with the parquet crate's generic reader, after
/// the same page-header checks as the scan, calling `visit(row within the row group,
/// value)` for each non-null value; returns the rows covered.
#[allow(clippy::too_many_arguments)]
pub(crate) fn visit_values(
    data: Bytes,
    start: u64,
    chunk: &ColumnChunkMetaData,
    descr: &ColumnDescPtr,
    kind: IdKind,
    rows: i64,
    opts: &ScanOptions,
    visit: &mut dyn FnMut(u32, Value<'_>),
) -> Result<u64, FileProblem> {
    use parquet::column::reader::{ColumnReader, get_column_reader};
    use parquet::data_type::AsBytes;
    use parquet::file::serialized_reader::SerializedPageReader;

    let page_rows = pages::check_page_headers(
        &data,
        &opts.limits,
        rows as u64,
        pages::min_plain_bytes(kind),
    )
    .map_err(FileProblem::from)?;
    if page_rows != rows as u64 {
        return Err(FileProblem::Malformed(format!(
            "pages hold {page_rows} rows, the footer says {rows}"
        )));
    }
    let slice = Arc::new(ChunkSlice { start, data });
    let pages = SerializedPageReader::new(slice, chunk, rows as usize, None).map_err(malformed)?;
    let reader = get_column_reader(descr.clone(), Box::new(pages));
    let max_def = descr.max_def_level();
    let mut defs: Vec<i16> = Vec::new();
    let mut done = 0u64;
    const BATCH: usize = 8192;

    // Walks one batch: `values` are the non-null values in order, `defs` the levels.
    fn walk<V>(
        done: &mut u64,
        defs: &[i16],
        levels: usize,
        max_def: i16,
        values: &[V],
        visit: &mut dyn FnMut(u32, &V),
    ) -> Result<(), FileProblem> {
        let base = *done as u32;
        if max_def == 0 {
            for (i, v) in values.iter().enumerate() {
                visit(base + i as u32, v);
            }
            *done += values.len() as u64;
        } else {
            let mut vi = 0;
            for (r, d) in defs[..levels].iter().enumerate() {
                if *d == max_def {
                    let v = values.get(vi).ok_or_else(|| {
                        FileProblem::Malformed("fewer values than definition levels".into())
                    })?;
                    vi += 1;
                    visit(base + r as u32, v);
                }
            }
            *done += levels as u64;
        }
        Ok(())
    }

    macro_rules! drain {
        ($reader:expr, $visit:expr) => {{
            let mut r = $reader;
            loop {
                let mut values = Vec::new();
                defs.clear();
                let d = if max_def > 0 { Some(&mut defs) } else { None };
                let (records, _values, levels) = r
                    .read_records(BATCH, d, None, &mut values)
                    .map_err(malformed)?;
                if records == 0 {
                    break;
                }
                walk(&mut done, &defs, levels, max_def, &values, $visit)?;
            }
        }};
    }
    let unsigned32 = matches!(kind, IdKind::Int32 { signed: false });
    match reader {
        ColumnReader::ByteArrayColumnReader(r) => {
            drain!(r, &mut |row, v: &parquet::data_type::ByteArray| visit(
                row,
                Value::Bytes(v.as_bytes())
            ))
        }
        ColumnReader::FixedLenByteArrayColumnReader(r) => {
            drain!(r, &mut |row, v: &parquet::data_type::FixedLenByteArray| {
                visit(row, Value::Bytes(v.as_bytes()))
            })
        }
        ColumnReader::Int32ColumnReader(r) => drain!(r, &mut |row, v: &i32| visit(
            row,
            Value::Int(if unsigned32 {
                i64::from(*v as u32)
            } else {
                i64::from(*v)
            })
        )),
        ColumnReader::Int64ColumnReader(r) => {
            drain!(r, &mut |row, v: &i64| visit(row, Value::Int(*v)))
        }
        _ => {
            return Err(FileProblem::Unsupported(
                "identifier column has an unsupported physical type".into(),
            ));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> ObjectMeta {
        ObjectMeta {
            path: path.into(),
            size: 10,
            modified: None,
            origin: Default::default(),
        }
    }

    fn listed(path: &str, files: &[&str]) -> TableFiles {
        TableFiles {
            table: Table {
                name: path.rsplit('/').next().unwrap_or(path).into(),
                path: path.into(),
                id_columns: vec!["user_id".into()],
                side_files: Vec::new(),
                format: None,
                metadata_location: None,
            },
            files: files.iter().map(|f| object(f)).collect(),
            errors: Vec::new(),
            aliases: Vec::new(),
            view: None,
            planned_format: None,
            locations: Vec::new(),
        }
    }

    #[test]
    fn catalog_locations_carry_no_raw_identifier() {
        let mut lt = listed("t", &[]);
        lt.locations = vec![
            ("t".into(), "s3://b/t".into()),
            ("t/user_id=42".into(), "s3://b/other/user_id=42".into()),
        ];
        let key = SubjectLabeler::keyed(b"0123456789abcdef").unwrap();
        let t = assemble_table(&lt, Vec::new(), None, &key, false, None, None);
        let text = format!("{:?}", t.report.locations);
        assert!(!text.contains("=42"), "{text}");
        assert_eq!(t.report.locations["t"], "s3://b/t");
        assert_eq!(t.report.locations.len(), 2);
    }

    fn found(rows: u64, matching: u64, subject: &str) -> FileResult {
        FileResult {
            rows,
            row_groups: RowGroupStats::default(),
            matching_rows: matching,
            subjects: if matching > 0 {
                vec![(subject.into(), matching)]
            } else {
                vec![]
            },
            footer_sha256: "f".into(),
            indexed: false,
            partition_columns: vec![],
            ..FileResult::default()
        }
    }

    #[test]
    fn any_error_makes_the_verdict_incomplete_whatever_was_found() {
        let e = ScanErrorEntry {
            file: "t/a.parquet".into(),
            error: "x".into(),
        };
        assert_eq!(verdict(&[], 0), Verdict::Clean);
        assert_eq!(verdict(&[], 3), Verdict::Residual);
        assert_eq!(verdict(std::slice::from_ref(&e), 0), Verdict::Incomplete);
        assert_eq!(verdict(&[e], 3), Verdict::Incomplete);
    }

    #[test]
    fn a_table_counts_its_files_rows_and_errors_and_holds_its_rows() {
        let lt = listed(
            "orders",
            &[
                "orders/dt=1/a.parquet",
                "orders/dt=2/b.parquet",
                "orders/c.parquet",
            ],
        );
        let outcomes = || {
            vec![
                Ok(found(5, 2, "u1")),
                Err("corrupt footer".to_string()),
                Ok(found(4, 0, "")),
            ]
        };
        let results = || {
            lt.files
                .iter()
                .map(std::borrow::Cow::Borrowed)
                .zip(outcomes())
        };
        let t = assemble_table(
            &lt,
            results(),
            None,
            &SubjectLabeler::plain(),
            false,
            None,
            None,
        );
        // Results dropped on the workers (as a merge does) assemble the same table.
        let custody_of = |spent: Option<&mut Disposal<Spent>>| {
            let owned = lt.files.iter().cloned().map(std::borrow::Cow::Owned);
            let mut bytes = Vec::new();
            let mut custody = crate::domain::custody::CustodyWriter::new(&mut bytes);
            let plain = SubjectLabeler::plain();
            let t = assemble_table(
                &lt,
                owned.zip(outcomes()),
                None,
                &plain,
                false,
                Some(&mut custody),
                spent,
            );
            drop(custody);
            (t, bytes)
        };
        let mut spent = Disposal::default();
        let (on_workers, custody) = custody_of(Some(&mut spent));
        assert_eq!(spent.batch.len(), 3, "every file's result is disposed of");
        assert_eq!(custody, custody_of(None).1, "the same custody records");
        assert!(String::from_utf8_lossy(&custody).contains("footer_sha256"));
        assert_eq!(
            format!("{:?}", on_workers.report),
            format!("{:?}", t.report)
        );
        assert_eq!(
            format!("{:?}", on_workers.residuals),
            format!("{:?}", t.residuals)
        );
        assert_eq!((t.report.files, t.report.rows_scanned), (2, 9));
        assert_eq!((t.report.residual_rows, t.report.held_rows), (2, 0));
        assert_eq!(t.report.errors, 1);
        assert_eq!(t.errors[0].file, "orders/dt=2/b.parquet");
        assert_eq!(t.report.partitions_with_residuals, vec!["dt=1".to_string()]);
        assert_eq!(
            t.objects.len(),
            3,
            "every listed file is an object, read or not"
        );
        assert_eq!(t.residuals.len(), 1);
        assert!(!t.residuals[0].held);
        let held = assemble_table(
            &lt,
            results(),
            None,
            &SubjectLabeler::plain(),
            true,
            None,
            None,
        );
        assert_eq!((held.report.residual_rows, held.report.held_rows), (0, 2));
        assert!(held.report.partitions_with_residuals.is_empty());
        assert!(held.residuals[0].held);
    }

    #[test]
    fn an_empty_table_or_a_partition_taken_for_a_table_is_an_error() {
        let shown = |p: &str| p.to_string();
        let lt = listed("orders", &[]);
        let files = lt
            .files
            .iter()
            .map(std::borrow::Cow::Borrowed)
            .zip(Vec::new());
        let empty = assemble_table(
            &lt,
            files,
            None,
            &SubjectLabeler::plain(),
            false,
            None,
            None,
        );
        assert_eq!(empty.errors.len(), 1);
        assert_eq!(
            empty.errors[0].error,
            "table has no data files: nothing was checked"
        );
        let partition = table_errors(&listed("orders/dt=1", &["orders/dt=1/a.parquet"]), &shown);
        assert_eq!(partition.len(), 1);
        assert!(
            partition[0]
                .error
                .starts_with("a partition directory where a table was expected")
        );
        assert!(table_errors(&listed("orders", &["orders/a.parquet"]), &shown).is_empty());
    }
    use parquet::data_type::ByteArray;
    use parquet::schema::types::{ColumnDescriptor, ColumnPath, Type as SchemaType};

    fn chunk(
        physical: PhysicalType,
        logical: Option<LogicalType>,
        stats: Statistics,
    ) -> ColumnChunkMetaData {
        let ty = SchemaType::primitive_type_builder("user_id", physical)
            .with_logical_type(logical)
            .with_length(if physical == PhysicalType::FIXED_LEN_BYTE_ARRAY {
                16
            } else {
                -1
            })
            .build()
            .unwrap();
        let descr = ColumnDescriptor::new(Arc::new(ty), 1, 0, ColumnPath::from("user_id"));
        ColumnChunkMetaData::builder(Arc::new(descr))
            .set_num_values(100)
            .set_statistics(stats)
            .build()
            .unwrap()
    }

    fn ids(v: &[&str]) -> SubjectList {
        SubjectList::of(v.iter().copied()).unwrap()
    }

    /// check(column, ids, expected "ruled out by statistics")
    fn check(c: &ColumnChunkMetaData, subjects: &[&str], want: bool) {
        let probe = Probe::new(id_kind(c.column_descr()).unwrap(), &ids(subjects));
        assert_eq!(
            rules_out_by_statistics(c, &probe),
            want,
            "{subjects:?} {:?}",
            c.statistics()
        );
    }

    #[test]
    fn statistics_rule_out_only_what_they_prove() {
        let ints = chunk(
            PhysicalType::INT64,
            None,
            Statistics::int64(Some(100), Some(200), None, Some(0), false),
        );
        check(&ints, &["99", "201"], true);
        check(&ints, &["100"], false);
        check(&ints, &["0150"], false);
        check(&ints, &["not-a-number"], true); // no text ID can be an integer
        let bytes = |lo: &str, hi: &str, deprecated: bool| {
            chunk(
                PhysicalType::BYTE_ARRAY,
                Some(LogicalType::String),
                Statistics::byte_array(
                    Some(ByteArray::from(lo)),
                    Some(ByteArray::from(hi)),
                    None,
                    Some(0),
                    deprecated,
                ),
            )
        };
        check(&bytes("b", "d", false), &["a", "e", "da"], true);
        check(&bytes("b", "d", false), &["c"], false);
        check(&bytes("b", "d", false), &["d"], false);
        // Old writers ordered byte arrays as signed: deprecated min/max prove nothing.
        check(&bytes("b", "d", true), &["a"], false);
        // All values null.
        let nulls = chunk(
            PhysicalType::INT64,
            None,
            Statistics::int64(None, None, None, Some(100), false),
        );
        check(&nulls, &["5"], true);
        // Unsigned 32-bit: the physical max -1 is u32::MAX.
        let uints = chunk(
            PhysicalType::INT32,
            Some(LogicalType::integer(32, false)),
            Statistics::int32(Some(10), Some(-1), None, Some(0), false),
        );
        check(&uints, &["4294967295"], false);
        check(&uints, &["9"], true);
    }

    #[test]
    fn identifier_kinds_follow_the_schema() {
        let kind = |p, l| {
            id_kind(chunk(p, l, Statistics::int64(None, None, None, None, false)).column_descr())
        };
        assert_eq!(kind(PhysicalType::BYTE_ARRAY, None), Ok(IdKind::Bytes));
        assert_eq!(
            kind(PhysicalType::INT32, None),
            Ok(IdKind::Int32 { signed: true })
        );
        assert_eq!(
            kind(PhysicalType::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid)),
            Ok(IdKind::Fixed {
                len: 16,
                uuid: true
            })
        );
        assert_eq!(
            kind(PhysicalType::DOUBLE, None),
            Err(FileProblem::Unsupported(
                "identifier column user_id has unsupported type DOUBLE".to_string()
            ))
        );
        assert!(
            kind(
                PhysicalType::INT64,
                Some(LogicalType::timestamp(
                    true,
                    parquet::basic::TimeUnit::MILLIS
                ))
            )
            .is_err()
        );
    }

    /// A partition value names a subject as an engine inferring its type would compare
    /// it: as text, as an integer, as a UUID in any case or without hyphens; whether the
    /// ID is held as 16 bytes or as text.
    #[test]
    fn partition_values_name_subjects_as_text_integers_and_uuids() {
        let a = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let b = "7C9E6679-7425-40DE-944B-E07FC1F90AE7";
        let list = SubjectList::of([a, b, "007", "abc"]).unwrap();
        let p = PathIds::new(&list);
        let found = |v: &str| {
            let mut out = BTreeSet::new();
            p.matching(v, &mut out);
            out.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(found(a), [0]);
        assert_eq!(found(&a.to_uppercase()), [0]);
        assert_eq!(found(&a.replace('-', "")), [0]);
        assert_eq!(found(b), [1]);
        assert_eq!(found(&b.to_lowercase()), [1]);
        assert_eq!(found("7"), [2]);
        assert_eq!(found("abc"), [3]);
        assert!(found("ABC").is_empty());
        assert!(found("__HIVE_DEFAULT_PARTITION__").is_empty());
        assert!(found("0f8fad5b-d9cb-469f-a165-70867728950f").is_empty());
        // Integers as an engine compares them: "007", "+7" and "7" are one value; past
        // 64 bits too; several IDs of one value all named.
        let list = SubjectList::of(["7", "+7", "-3", "18446744073709551616", "x"]).unwrap();
        let p = PathIds::new(&list);
        let found = |v: &str| {
            let mut out = BTreeSet::new();
            p.matching(v, &mut out);
            out.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(found("007"), [0, 1]);
        assert_eq!(found("-3"), [2]);
        assert_eq!(found("18446744073709551616"), [3]);
        assert!(found("8").is_empty() && found("18446744073709551615").is_empty());
    }

    /// Chunks the index upkeep decoded serve only the file it read: the same path with
    /// another fingerprint (rewritten: a new inode, or another footer) is read again.
    #[test]
    fn prescanned_chunks_serve_only_the_file_read() {
        let subjects = ids(&["a"]);
        let p = Prescan::new(&subjects);
        let fp = |inode: u64, footer: &str| crate::domain::index::Fingerprint {
            path: "t/f.parquet".into(),
            size: 10,
            modified: Some(1),
            etag: None,
            version_id: None,
            footer_sha256: footer.into(),
            stat: Some(crate::io::store::LocalStat {
                modified_ns: 1,
                changed_ns: 1,
                inode,
            }),
        };
        let cs = pages::ChunkScan {
            rows: 1,
            matches: vec![(0, 0)],
            ..Default::default()
        };
        for other in [fp(2, "ab"), fp(1, "cd")] {
            p.keep(&fp(1, "ab"), (0, 0), cs.clone());
            assert!(p.take(&other).is_none());
            assert_eq!(p.files(), 0);
        }
        p.keep(&fp(1, "ab"), (0, 0), cs.clone());
        p.keep(&fp(2, "ab"), (1, 0), cs.clone());
        let got = p.take(&fp(1, "ab")).unwrap();
        assert_eq!(
            got.chunks.len(),
            1,
            "a chunk of another file is not mixed in"
        );
        // Past the budget of matches, chunks are left to the scan.
        let many = pages::ChunkScan {
            rows: 1,
            matches: vec![(0, 0); PRESCAN_MATCHES],
            ..Default::default()
        };
        p.keep(&fp(3, "ab"), (0, 0), many);
        assert!(p.take(&fp(3, "ab")).is_none());
    }

    /// Chunks come in the list's order, every item once, whatever the list's length
    /// against the chunk's size, and the list gives back memory as it goes.
    #[test]
    fn owned_chunks_keep_order_and_let_go() {
        for (n, size) in [(0, 3), (1, 3), (3, 3), (10, 3), (10, 1), (7, 100)] {
            let items: Vec<u32> = (0..n).collect();
            let chunks: Vec<Vec<u32>> = OwnedChunks::new(items.clone(), size).collect();
            assert!(
                chunks.iter().all(|c| !c.is_empty() && c.len() <= size),
                "{n} {size}"
            );
            assert_eq!(chunks.concat(), items, "{n} {size}");
        }
        let mut c = OwnedChunks::new((0..100_000u64).collect(), 4096);
        let first = c.reversed.capacity();
        for _ in 0..20 {
            c.next();
        }
        assert!(
            c.reversed.capacity() < first / 2,
            "{} of {first}",
            c.reversed.capacity()
        );
    }

    /// A table's tail reads learn only from bloom filters right before the footer, take
    /// the largest share seen, and never ask for more than the file or the span cap.
    #[test]
    fn tail_reads_take_what_the_tables_files_showed_and_no_more() {
        let t = TailHint::default();
        assert_eq!(t.guess(1 << 20), FOOTER_GUESS);
        assert_eq!(t.guess(100), 100);
        // Filters far before the footer (each after its row group) teach nothing.
        t.learn(1 << 20, (1000, 2000), 900_000);
        assert_eq!(t.guess(1 << 20), FOOTER_GUESS);
        t.learn(0, (0, 0), 0);
        t.learn(1 << 20, (900_000, 1_000_000), 1_000_100);
        let g = t.guess(1 << 20);
        let filters = (1 << 20) - 900_000;
        assert!((filters..=filters + FOOTER_GUESS + 16).contains(&g), "{g}");
        // A smaller share later does not shrink it; a file of twice the size gets twice.
        t.learn(1 << 20, (1_000_000, 1_040_000), 1_040_000);
        assert_eq!(t.guess(1 << 20), g);
        assert!(t.guess(2 << 20) >= 2 * (g - FOOTER_GUESS));
        // A file of filters alone: the whole file, the cap for huge ones.
        t.learn(4096, (4, 4000), 4000);
        assert_eq!(t.guess(1 << 20), 1 << 20);
        assert_eq!(t.guess(1 << 40), BLOOM_SPAN_MAX + FOOTER_GUESS);
    }
}

//! The plan of a scan: every table and file of the lake as listed (size, ETag, version),
//! written as JSON Lines (a header line, then one self-contained line per file), its
//! [`fingerprint`] (the SHA-256 of what was listed, carried by every scan report), and
//! [`shard_of`]: which of N shards a file belongs to (files in the order of a hash of
//! their key, cut into N runs of about equal bytes; adding a file moves only files near
//! the cuts). `domain::shard` scans parts of a plan and merges them.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::lake::{Table, TableFiles};
use crate::domain::report::ScanErrorEntry;
use crate::io::store::{ObjectMeta, StoreError};

/// The `schema_version` of plans and parts written before it was recorded.
pub fn schema_version_1() -> u32 {
    1
}

/// The first line of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHeader {
    /// Always 1 for this layout.
    pub vouch_plan: u32,
    /// Always 1: the version every vouch JSON output carries (`vouch_plan` stays the
    /// marker of a plan's first line).
    #[serde(default = "crate::domain::plan::schema_version_1")]
    pub schema_version: u32,
    /// SHA-256 of the tables and files below (see [`fingerprint`]).
    pub fingerprint: String,
    pub lake: String,
    pub files: u64,
    pub bytes: u64,
    pub tables: Vec<PlanTable>,
    /// What in the lake's location belongs to no table (a file lying there, a dangling
    /// link): errors of every scan of the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ScanErrorEntry>,
}

/// A table of the plan, with the places its listing could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTable {
    pub table: String,
    pub path: String,
    pub id_columns: Vec<String>,
    #[serde(default)]
    pub errors: Vec<ScanErrorEntry>,
    /// Paths that lead to a file listed under another path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<crate::domain::lake::Alias>,
    /// `delta` or `iceberg`, when the table has a format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The version planned (the Delta log's version, the Iceberg current snapshot's id):
    /// every part reads the table's metadata again and refuses another version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_version: Option<u64>,
    /// Where a catalog's table and its partitions really are: (directory, location).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<(String, String)>,
}

impl PlanTable {
    /// The table as the plan lists it, with `files`.
    pub fn listed(&self, files: Vec<ObjectMeta>) -> TableFiles {
        TableFiles {
            table: Table {
                name: self.table.clone(),
                path: self.path.clone(),
                id_columns: self.id_columns.clone(),
                side_files: Vec::new(),
                format: None,
                metadata_location: None,
            },
            files,
            errors: self
                .errors
                .iter()
                .map(|e| StoreError::new(&e.file, &e.error))
                .collect(),
            aliases: self.aliases.clone(),
            view: None,
            planned_format: self.format.clone().zip(self.table_version),
            locations: self.locations.clone(),
        }
    }
}

/// A file as listed: what names it within a plan and pins its bytes. Plan lines, partial
/// reports and the plan's fingerprint all carry exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub table: String,
    pub file: String,
    pub size: u64,
    /// Last modification as listed (Unix seconds), when the store gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noncurrent: bool,
    /// A local file's nanosecond times and inode: a file rewritten after the plan (even
    /// within the same second, to the same size) is refused where it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<crate::io::store::LocalStat>,
}

impl FileRecord {
    pub(crate) fn of(table: &str, o: &ObjectMeta) -> FileRecord {
        FileRecord {
            table: table.to_string(),
            file: o.path.clone(),
            size: o.size,
            modified: o.modified,
            etag: o.etag().map(str::to_string),
            version_id: o.version_id().map(str::to_string),
            noncurrent: o.noncurrent(),
            stat: o.stat(),
        }
    }

    pub(crate) fn object(&self) -> ObjectMeta {
        ObjectMeta {
            path: self.file.clone(),
            size: self.size,
            modified: self.modified,
            origin: self.origin(),
        }
    }

    /// The file as an object of the store, taking its strings.
    pub(crate) fn into_object(self) -> ObjectMeta {
        ObjectMeta {
            origin: self.origin(),
            path: self.file,
            size: self.size,
            modified: self.modified,
        }
    }

    fn origin(&self) -> crate::io::store::Origin {
        crate::io::store::Origin::recorded(
            self.stat,
            self.etag.as_deref(),
            self.version_id.as_deref(),
            self.noncurrent,
        )
    }

    /// The same file of a plan as `other` (table, path, version id).
    pub(crate) fn key_eq(&self, other: &FileRecord) -> bool {
        self.table == other.table && self.file == other.file && self.version_id == other.version_id
    }

    /// What identifies the file within a plan.
    pub(crate) fn key(&self) -> (String, String, Option<String>) {
        (
            self.table.clone(),
            self.file.clone(),
            self.version_id.clone(),
        )
    }

    /// The file (and its version), for messages.
    pub(crate) fn shown(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{} (version {v})", self.file),
            None => self.file.clone(),
        }
    }
}

/// A plan line or a part's file entry as read: [`FileRecord`]'s fields beside the others,
/// named one by one. (Reading through `#[serde(flatten)]` buffers every field of every
/// line first: a merge of ten million files spent a third of its time there.)
/// `R` is what a part's entry says of the file (`scan::FileResult`); a plan line has none.
#[derive(Deserialize)]
pub(crate) struct FileLine<R = serde::de::IgnoredAny> {
    plan: Option<String>,
    id_columns: Option<Vec<String>>,
    table: String,
    file: String,
    size: u64,
    modified: Option<i64>,
    etag: Option<String>,
    version_id: Option<String>,
    #[serde(default)]
    noncurrent: bool,
    stat: Option<crate::io::store::LocalStat>,
    format_table: Option<FormatTable>,
    pub(crate) result: Option<R>,
    pub(crate) error: Option<String>,
}

impl<R> FileLine<R> {
    pub(crate) fn take_record(&mut self) -> FileRecord {
        FileRecord {
            table: std::mem::take(&mut self.table),
            file: std::mem::take(&mut self.file),
            size: self.size,
            modified: self.modified,
            etag: self.etag.take(),
            version_id: self.version_id.take(),
            noncurrent: self.noncurrent,
            stat: self.stat,
        }
    }
}

impl TryFrom<FileLine> for PlanFile {
    type Error = String;
    fn try_from(mut l: FileLine) -> Result<PlanFile, String> {
        Ok(PlanFile {
            plan: l.plan.take().ok_or("missing field `plan`")?,
            id_columns: l.id_columns.take().ok_or("missing field `id_columns`")?,
            format_table: l.format_table.take(),
            record: l.take_record(),
        })
    }
}

/// One file of the plan: a line that is enough to scan the file on any machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FileLine")]
pub struct PlanFile {
    /// The plan's fingerprint.
    pub plan: String,
    pub id_columns: Vec<String>,
    #[serde(flatten)]
    pub record: FileRecord,
    /// A file of a Delta or Iceberg table: what the part must read again to know what
    /// the file is to the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_table: Option<FormatTable>,
}

/// A Delta or Iceberg table as planned: where it is, and the fingerprint of its listing
/// (its identity, format, version and every file) that a part's own listing must equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatTable {
    pub path: String,
    pub fingerprint: String,
    /// The plan listed every stored version of each file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub versions: bool,
}

/// A whole plan: header and files, in the order a single scan reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub header: PlanHeader,
    pub files: Vec<PlanFile>,
}

/// SHA-256 of a listing: tables (name, path, identifier columns, listing errors) and every
/// file's [`FileRecord`], in order. The lake's location is not part of it: the same files
/// give the same fingerprint wherever the lake is mounted.
pub fn fingerprint(listed: &[TableFiles]) -> String {
    let tables: Vec<PlanTable> = listed.iter().map(plan_table).collect();
    let mut h = fingerprint_start(&tables);
    for lt in listed {
        for f in &lt.files {
            fingerprint_file(&mut h, &FileRecord::of(&lt.table.name, f));
        }
    }
    crate::domain::subjects::hex(&h.finalize())
}

/// The fingerprint's hash after the tables, before the first file.
fn fingerprint_start(tables: &[PlanTable]) -> Sha256 {
    let mut h = Sha256::new();
    h.update(b"vouch plan v1\n");
    for t in tables {
        h.update(serde_json::to_vec(t).unwrap_or_default());
        h.update(b"\n");
    }
    h
}

fn fingerprint_file(h: &mut Sha256, rec: &FileRecord) {
    h.update(serde_json::to_vec(rec).unwrap_or_default());
    h.update(b"\n");
}

fn plan_table(lt: &TableFiles) -> PlanTable {
    let errors: Vec<ScanErrorEntry> = lt
        .errors
        .iter()
        .map(|e| ScanErrorEntry {
            file: e.path.clone(),
            error: e.message.clone(),
        })
        .collect();
    let (format, table_version) = match (&lt.view, &lt.planned_format) {
        (Some(v), _) => (Some(v.format().to_string()), Some(v.version())),
        (None, Some((f, v))) => (Some(f.clone()), Some(*v)),
        (None, None) => (None, None),
    };
    PlanTable {
        table: lt.table.name.clone(),
        path: lt.table.path.clone(),
        id_columns: lt.table.id_columns.clone(),
        errors,
        aliases: lt.aliases.clone(),
        format,
        table_version,
        locations: lt.locations.clone(),
    }
}

impl Plan {
    /// The plan of a listing; `errors` are the lake's own (see [`crate::domain::lake::Lake`]).
    pub fn of(lake: &str, listed: &[TableFiles], errors: &[StoreError]) -> Plan {
        let fp = fingerprint(listed);
        let files: Vec<PlanFile> = listed
            .iter()
            .flat_map(|lt| {
                let fp = &fp;
                let format_table = lt.view.as_ref().map(|_| FormatTable {
                    path: lt.table.path.clone(),
                    fingerprint: fingerprint(std::slice::from_ref(lt)),
                    versions: lt.files.iter().any(|f| f.version_id().is_some()),
                });
                lt.files.iter().map(move |f| PlanFile {
                    plan: fp.clone(),
                    id_columns: lt.table.id_columns.clone(),
                    record: FileRecord::of(&lt.table.name, f),
                    format_table: format_table.clone(),
                })
            })
            .collect();
        Plan {
            header: PlanHeader {
                vouch_plan: 1,
                schema_version: 1,
                fingerprint: fp,
                lake: lake.to_string(),
                files: files.len() as u64,
                bytes: files.iter().map(|f| f.record.size).sum(),
                tables: listed.iter().map(plan_table).collect(),
                errors: errors
                    .iter()
                    .map(|e| ScanErrorEntry {
                        file: e.path.clone(),
                        error: e.message.clone(),
                    })
                    .collect(),
            },
            files,
        }
    }

    /// JSON Lines: the header, then one line per file.
    pub fn to_jsonl(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).unwrap_or_default();
        out.push(b'\n');
        for f in &self.files {
            out.extend(serde_json::to_vec(f).unwrap_or_default());
            out.push(b'\n');
        }
        out
    }

    /// The listing the plan describes (what [`crate::domain::scan::assemble`] takes).
    pub fn listed(&self) -> Vec<TableFiles> {
        let mut by_table: HashMap<&str, Vec<ObjectMeta>> = HashMap::new();
        for f in &self.files {
            by_table
                .entry(&f.record.table)
                .or_default()
                .push(f.record.object());
        }
        self.header
            .tables
            .iter()
            .map(|t| t.listed(by_table.remove(t.table.as_str()).unwrap_or_default()))
            .collect()
    }

    /// Reads a whole plan (`vouch scan plan` output), checking it is the plan it says.
    pub fn parse(text: &str, shown: &str) -> Result<Plan, PlanError> {
        let mut reader = PlanReader::open(text.as_bytes(), shown)?;
        let mut files = Vec::new();
        while let Some(f) = reader.next_file()? {
            files.push(f);
        }
        let header = reader.header.clone();
        reader.finish()?;
        Ok(Plan { header, files })
    }
}

/// The longest plan line read (a file line is a few hundred bytes).
const MAX_PLAN_LINE: u64 = 16 << 20;

/// The lines of a plan or file list read one at a time: each that is not blank, as text
/// without its line end, with its number. With `hash`, the SHA-256 of every byte read.
struct Lines<R> {
    input: R,
    line: Vec<u8>,
    number: usize,
    hash: Option<Sha256>,
}

impl<R: std::io::BufRead> Lines<R> {
    fn new(input: R, hash: bool) -> Lines<R> {
        Lines {
            input,
            line: Vec::with_capacity(1024),
            number: 0,
            hash: hash.then(Sha256::new),
        }
    }

    /// The next line that is not blank and its number; None at the end.
    fn next(&mut self, shown: &str) -> Result<Option<(&str, usize)>, PlanError> {
        use std::io::{BufRead, Read};
        loop {
            self.line.clear();
            let n = (&mut self.input)
                .take(MAX_PLAN_LINE)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| PlanError::refused(shown, crate::io::store::io_message(&e)))?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            if let Some(h) = &mut self.hash {
                h.update(&self.line);
            }
            if self.line.last() != Some(&b'\n') && n as u64 == MAX_PLAN_LINE {
                return Err(PlanError::refused(
                    shown,
                    format!(
                        "line {} is longer than {} MiB: not a plan line",
                        self.number,
                        MAX_PLAN_LINE >> 20
                    ),
                ));
            }
            if !self.line.trim_ascii().is_empty() {
                break;
            }
        }
        let number = self.number;
        let text = std::str::from_utf8(&self.line)
            .map_err(|_| PlanError::refused(shown, format!("line {number} is not UTF-8")))?;
        Ok(Some((text.trim_end_matches(['\n', '\r']), number)))
    }
}

/// A plan read line by line, so that no more than one file's line is held: the header
/// first ([`PlanReader::open`]), then each file ([`PlanReader::next_file`]), then
/// [`PlanReader::finish`], which says whether the plan is the plan it says (its
/// fingerprint and count). Until then nothing read may be trusted. A file line must be
/// well formed, of a table the header lists, in the header's order of tables, and carry
/// the plan's fingerprint.
pub struct PlanReader<R> {
    lines: Lines<R>,
    shown: String,
    pub header: PlanHeader,
    hash: Sha256,
    /// Index in `header.tables` of the table of the last file read.
    table: usize,
    files: u64,
    peeked: Option<PlanFile>,
}

impl<R: std::io::BufRead> PlanReader<R> {
    /// Reads the header line.
    pub fn open(input: R, shown: &str) -> Result<PlanReader<R>, PlanError> {
        let mut r = PlanReader {
            lines: Lines::new(input, false),
            shown: shown.to_string(),
            header: PlanHeader {
                vouch_plan: 0,
                schema_version: 1,
                fingerprint: String::new(),
                lake: String::new(),
                files: 0,
                bytes: 0,
                tables: Vec::new(),
                errors: Vec::new(),
            },
            hash: Sha256::new(),
            table: 0,
            files: 0,
            peeked: None,
        };
        let Some((text, number)) = r.lines.next(&r.shown)? else {
            return Err(r.refused("empty plan".into()));
        };
        r.header = serde_json::from_str(text).map_err(|e| {
            PlanError::refused(
                shown,
                format!(
                    "line {number} is not a vouch plan header ({e}): make plans with `vouch \
                     scan plan`"
                ),
            )
        })?;
        if r.header.vouch_plan != 1 {
            return Err(r.refused(format!(
                "plan layout {} is not supported (this vouch reads 1)",
                r.header.vouch_plan
            )));
        }
        r.hash = fingerprint_start(&r.header.tables);
        Ok(r)
    }

    fn refused(&self, problem: String) -> PlanError {
        PlanError::refused(&self.shown, problem)
    }

    /// The next file, or None at the end of the plan.
    pub fn next_file(&mut self) -> Result<Option<PlanFile>, PlanError> {
        if let Some(f) = self.peeked.take() {
            return Ok(Some(f));
        }
        let Some((text, number)) = self.lines.next(&self.shown)? else {
            return Ok(None);
        };
        let f = parse_file_line(text, &self.shown, number)?;
        let tables = &self.header.tables;
        match tables[self.table.min(tables.len())..]
            .iter()
            .position(|t| t.table == f.record.table)
        {
            Some(i) => self.table += i,
            None if tables.iter().any(|t| t.table == f.record.table) => {
                return Err(self.refused(format!(
                    "line {}: {} is not with the other files of table {} (a plan lists                      the files of its tables in the header's order of tables)",
                    number, f.record.file, f.record.table
                )));
            }
            None => {
                return Err(self.refused(format!(
                    "{} belongs to table {}, which the plan's header does not list",
                    f.record.file, f.record.table
                )));
            }
        }
        if f.plan != self.header.fingerprint {
            return Err(self.changed());
        }
        fingerprint_file(&mut self.hash, &f.record);
        self.files += 1;
        Ok(Some(f))
    }

    /// The next file without taking it.
    pub fn peek_file(&mut self) -> Result<Option<&PlanFile>, PlanError> {
        if self.peeked.is_none() {
            self.peeked = self.next_file()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn changed(&self) -> PlanError {
        self.refused(
            "the plan was changed after it was made (its fingerprint does not match its \
             tables and files): make a new one with `vouch scan plan`"
                .into(),
        )
    }

    /// After the last file: whether the plan is the plan it says.
    pub fn finish(mut self) -> Result<(), PlanError> {
        if self.peeked.is_some() || self.next_file()?.is_some() {
            return Err(self.refused("read before its end".into()));
        }
        let got = crate::domain::subjects::hex(&self.hash.finalize_reset());
        if got != self.header.fingerprint || self.files != self.header.files {
            return Err(self.changed());
        }
        Ok(())
    }
}

fn parse_file_line(line: &str, shown: &str, number: usize) -> Result<PlanFile, PlanError> {
    let f: PlanFile = serde_json::from_str(line).map_err(|e| {
        PlanError::refused(shown, format!("line {number} is not a plan file line: {e}"))
    })?;
    check_path(&f.record.file)
        .map_err(|why| PlanError::refused(shown, format!("line {number}: {why}")))?;
    Ok(f)
}

/// Why a plan, a file list or a `--shard` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A plan or file list that cannot be used, named (`-` for stdin), with the line.
    #[error("{input}: {problem}")]
    Refused { input: String, problem: String },
    #[error("--shard {0:?}: expected I/N with 0 <= I < N (e.g. 0/4)")]
    Shard(String),
}

impl PlanError {
    fn refused(input: &str, problem: String) -> PlanError {
        PlanError::Refused {
            input: input.to_string(),
            problem,
        }
    }
}

/// A relative `/`-separated path to a file, nothing that could leave the lake.
pub(crate) fn check_path(p: &str) -> Result<(), String> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(format!(
            "unsafe file path {p:?} (must be relative to the lake, without . or ..)"
        ));
    }
    Ok(())
}

/// `--files-from` input: the plan's fingerprint (None for an empty list without a
/// header) and the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileList {
    pub plan: Option<String>,
    pub files: Vec<PlanFile>,
}

/// Reads `--files-from` input: plan file lines (a plan's header line may come first and is
/// then checked against them). All lines must come from one plan; none twice.
pub fn parse_file_list(text: &str, shown: &str) -> Result<FileList, PlanError> {
    let mut files = Vec::new();
    let mut header_fp: Option<String> = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        if files.is_empty() && header_fp.is_none() && l.contains("\"vouch_plan\"") {
            let h: PlanHeader = serde_json::from_str(l).map_err(|e| {
                PlanError::refused(
                    shown,
                    format!("line {}: not a vouch plan header: {e}", i + 1),
                )
            })?;
            header_fp = Some(h.fingerprint);
            continue;
        }
        files.push(parse_file_line(l, shown, i + 1)?);
    }
    let plan = header_fp.or_else(|| files.first().map(|f: &PlanFile| f.plan.clone()));
    if let Some(fp) = &plan
        && let Some(f) = files.iter().find(|f| &f.plan != fp)
    {
        return Err(another_plan(shown, f, fp));
    }
    let mut seen = BTreeSet::new();
    for f in &files {
        if !seen.insert(f.record.key()) {
            return Err(PlanError::refused(
                shown,
                format!("{} is listed twice", f.record.shown()),
            ));
        }
    }
    Ok(FileList { plan, files })
}

/// A line of a file list from another plan than `fp`, the list's.
fn another_plan(shown: &str, f: &PlanFile, fp: &str) -> PlanError {
    PlanError::refused(
        shown,
        format!(
            "{} comes from another plan ({}…, not {}…): a part must come from one plan",
            f.record.file,
            short(&f.plan),
            short(fp)
        ),
    )
}

pub fn short(fp: &str) -> &str {
    fp.get(..12).unwrap_or(fp)
}

/// Parses `I/N` (I counted from 0, as Kubernetes' JOB_COMPLETION_INDEX and AWS Batch's
/// AWS_BATCH_JOB_ARRAY_INDEX are).
pub fn parse_shard(s: &str) -> Result<(usize, usize), PlanError> {
    let err = || PlanError::Shard(s.to_string());
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let i: usize = i.trim().parse().map_err(|_| err())?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if n == 0 || i >= n {
        return Err(err());
    }
    Ok((i, n))
}

/// The shard (0..n) of every file of `files`, by bytes: files are put in the order of a
/// hash of their key, and that order is cut into `n` runs of about equal bytes (each file
/// goes where its middle byte falls). Deterministic; a file added to the list shifts the
/// cuts by at most its own size, so only files that close to a cut change shard.
pub fn shard_of(files: &[PlanFile], n: usize) -> Vec<usize> {
    let mut order: Vec<ShardKey> = files
        .iter()
        .enumerate()
        .map(|(i, f)| ShardKey::of(&f.record, i))
        .collect();
    shard_cut(&mut order, n)
        .into_iter()
        .map(|k| k as usize)
        .collect()
}

/// What cutting shards needs of a file: the first 128 bits of a SHA-256 of its key (the
/// order), its weight in bytes (at least one, so that empty files are spread too) and its
/// place in the list (the order of two keys with the same hash, which are the same key).
#[derive(Clone, Copy)]
struct ShardKey {
    hash: u128,
    weight: u64,
    at: u32,
}

impl ShardKey {
    fn of(f: &FileRecord, at: usize) -> ShardKey {
        let mut h = Sha256::new();
        h.update(f.table.as_bytes());
        h.update([0]);
        h.update(f.file.as_bytes());
        h.update([0]);
        h.update(f.version_id.as_deref().unwrap_or("").as_bytes());
        let d = h.finalize();
        let mut k = [0u8; 16];
        k.copy_from_slice(&d[..16]);
        ShardKey {
            hash: u128::from_be_bytes(k),
            weight: f.size.max(1),
            at: at as u32,
        }
    }
}

/// The shard of each key, by its place in the list ([`shard_of`]).
fn shard_cut(order: &mut [ShardKey], n: usize) -> Vec<u32> {
    order.sort_unstable_by_key(|k| (k.hash, k.at));
    let total: u128 = order.iter().map(|k| u128::from(k.weight)).sum();
    let mut out = vec![0u32; order.len()];
    let mut at: u128 = 0;
    for k in order.iter() {
        let w = u128::from(k.weight);
        let middle = 2 * at + w; // twice the middle byte, to stay in integers
        out[k.at as usize] = ((middle * n as u128) / (2 * total)).min(n as u128 - 1) as u32;
        at += w;
    }
    out
}

/// Shard `i` of `n` of a file list read twice from `open` (a file, never held whole:
/// a plan of ten million files is gigabytes of lines). The first reading checks every
/// line as [`parse_file_list`] does and keeps what cutting shards needs of each (32 bytes
/// a file); the second parses the shard's own lines. The same shards as [`shard_of`] of
/// the whole list; a file that changed between the readings is refused.
pub fn shard_of_file_list(
    open: &dyn Fn() -> std::io::Result<Box<dyn std::io::BufRead>>,
    shown: &str,
    i: usize,
    n: usize,
) -> Result<FileList, PlanError> {
    let opened = || open().map_err(|e| PlanError::refused(shown, crate::io::store::io_message(&e)));
    let mut keys: Vec<ShardKey> = Vec::new();
    let mut header: Option<String> = None;
    let mut plan: Option<String> = None;
    let mut first = Lines::new(opened()?, true);
    while let Some((l, number)) = first.next(shown)? {
        if keys.is_empty() && header.is_none() && l.contains("\"vouch_plan\"") {
            let h: PlanHeader = serde_json::from_str(l).map_err(|e| {
                PlanError::refused(
                    shown,
                    format!("line {number}: not a vouch plan header: {e}"),
                )
            })?;
            header = Some(h.fingerprint);
            continue;
        }
        let f = parse_file_line(l, shown, number)?;
        let want = header.as_ref().or(plan.as_ref()).unwrap_or(&f.plan);
        if &f.plan != want {
            return Err(another_plan(shown, &f, want));
        }
        if plan.is_none() {
            plan = Some(f.plan.clone());
        }
        keys.push(ShardKey::of(&f.record, keys.len()));
    }
    let shards = shard_cut(&mut keys, n);
    // Two lines of the same key sort next to each other: said when the second reading
    // reaches the first of them.
    let mut twice = vec![false; shards.len()];
    for w in keys.windows(2) {
        if w[0].hash == w[1].hash {
            twice[w[0].at.min(w[1].at) as usize] = true;
        }
    }
    drop(keys);
    let mut files = Vec::new();
    let mut second = Lines::new(opened()?, true);
    let mut at = 0usize;
    let mut in_header = header.is_some();
    while let Some((l, number)) = second.next(shown)? {
        if in_header {
            in_header = false;
            continue;
        }
        let (mine, dup) = (
            shards.get(at).is_some_and(|&k| k as usize == i),
            twice.get(at).copied().unwrap_or(false),
        );
        at += 1;
        if mine || dup {
            let f = parse_file_line(l, shown, number)?;
            if dup {
                return Err(PlanError::refused(
                    shown,
                    format!("{} is listed twice", f.record.shown()),
                ));
            }
            files.push(f);
        }
    }
    if at != shards.len() || first.hash.map(|h| h.finalize()) != second.hash.map(|h| h.finalize()) {
        return Err(PlanError::refused(
            shown,
            "changed while it was read: give a plan that stays as it is".into(),
        ));
    }
    Ok(FileList {
        plan: header.or(plan),
        files,
    })
}

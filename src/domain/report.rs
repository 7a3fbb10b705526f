//! The scan report: its JSON document (`schema_version` 1, docs/schemas/scan-report.schema.json) and its text form.
//!
//! These types are the contract with scripts; fields are only ever added. Subjects appear
//! as the label chosen by [`crate::domain::subjects::SubjectLabeler`], never otherwise. The report
//! holds no timings so that the same lake and IDs always give the same bytes.

use serde::{Deserialize, Serialize};

/// The outcome of a deletion-verification scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every file was read and no subject has a row outside legal holds. Exit 0.
    Clean,
    /// Every file was read and rows of subjects remain. Exit 1.
    Residual,
    /// Some file or table could not be read or checked: no verdict. Exit 2.
    Incomplete,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Clean => 0,
            Verdict::Residual => 1,
            Verdict::Incomplete => 2,
        }
    }
}

/// The whole report (`vouch scan --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Always 1 for this layout.
    pub schema_version: u32,
    pub verdict: Verdict,
    /// The lake location as given.
    pub lake: String,
    /// Distinct subject IDs checked.
    pub subjects: usize,
    /// How subjects are named in `residuals`: `keyed-hash` or `as-given`.
    pub subject_labels: String,
    /// A keyed hash of the sorted subject list (with a subject key): two reports, or the
    /// partial reports of one sharded scan, checked the same subjects when these match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects_fingerprint: Option<String>,
    /// SHA-256 of the scan's plan (`vouch scan plan`: tables and every file with size,
    /// ETag and version): the same for a single scan and a merge of its shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_fingerprint: Option<String>,
    /// Files read completely.
    pub files_scanned: u64,
    /// Rows in the files read completely (pruned row groups included: they were ruled out).
    pub rows_scanned: u64,
    /// Bytes read from the store (footers, bloom filters, column chunks).
    pub bytes_read: u64,
    /// Ranged reads issued to the store (for S3: GET requests, retries not counted).
    pub read_requests: u64,
    /// Matching rows outside legal holds. Rows, not subjects.
    pub residual_rows: u64,
    /// Matching rows in tables under legal hold.
    pub held_rows: u64,
    pub row_groups: RowGroupStats,
    pub tables: Vec<TableReport>,
    /// One entry per (table, file, subject) with matching rows, sorted by file then subject.
    pub residuals: Vec<Residual>,
    /// Everything that could not be read or checked; non-empty means `incomplete`.
    pub errors: Vec<ScanErrorEntry>,
    /// Chain of custody: every object the scan read, as listed (S3 reads are conditional
    /// on the ETag, so these are exactly the bytes checked). Empty when the scan wrote a
    /// custody file (`custody`): the objects are its lines.
    pub objects: Vec<ObjectRecord>,
    /// The custody file (`--custody`): one JSON line per object with what was decided
    /// about it; its SHA-256 and line count, so a cut or edited file is detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<CustodyDigest>,
    /// The subject index the scan used (`--index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexUse>,
    /// Whether any copy of the subjects' rows outside legal holds remains in storage,
    /// live or not: `erased`, `pending`, or `unknown` when the scan is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_verdict: Option<PhysicalVerdict>,
    /// Copies of subjects' rows that no reader of the table sees and storage still holds
    /// (rows a Delta deletion vector masks, removed files kept for time travel, change
    /// data, unreferenced files), one per (table, file, subject), with when the table's
    /// own maintenance may delete them and what it must run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub physical_copies: Vec<PhysicalCopy>,
    /// With a subject key: `hmac-sha256:<hex>` over the rest of the report, under a key
    /// derived from the subject key. `vouch nightly --scan-report` refuses a report whose
    /// tag does not match (an edited verdict, count or file list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<String>,
}

impl ScanReport {
    /// Sets `authentication` (None without a subject key): an HMAC of the report as
    /// serialized without its tag.
    pub fn seal(&mut self, labeler: &crate::domain::subjects::SubjectLabeler) {
        self.authentication = None;
        if labeler.is_keyed() {
            let bare = serde_json::to_vec(&*self).unwrap_or_default();
            self.authentication = labeler.authenticate("scan report", &bare);
        }
    }

    /// Checks `authentication` under the subject key. What it covers is the report as
    /// parsed: fields a reader does not know are not part of it and have no effect.
    pub fn check_seal(
        &self,
        labeler: &crate::domain::subjects::SubjectLabeler,
    ) -> Result<(), String> {
        let mut bare = self.clone();
        let tag = bare.authentication.take();
        let bytes = serde_json::to_vec(&bare).unwrap_or_default();
        labeler.verify("scan report", &bytes, tag.as_deref())
    }
}

/// What a report or certificate says of its custody file (`domain::custody`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyDigest {
    /// The file's name as written (its last path segment): readers look for it beside
    /// the report or certificate that names it.
    pub file: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// Lines (objects) in the file.
    pub records: u64,
}

/// How a scan used the subject index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexUse {
    /// SHA-256 of the index's `lake.vix`.
    pub fingerprint: String,
    /// Files read in full because the index had no matching entry (new or changed).
    pub files_without_index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub file: String,
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// An older version of the object (scanned with `--include-versions`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noncurrent: bool,
    /// SHA-256 of the file's Parquet footer (its schema, row groups, offsets and
    /// statistics): a fingerprint of what was checked, without reading the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer_sha256: Option<String>,
}

/// How row groups were decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowGroupStats {
    pub total: u64,
    /// Ruled out by column min/max statistics (or because no ID can be of the column's type).
    pub skipped_by_statistics: u64,
    /// Of `skipped_by_statistics`, those ruled out by the columns' types alone (no subject
    /// ID is a value of the type): the schema decided, not the statistics.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub by_column_type: u64,
    /// Ruled out by a Parquet bloom filter.
    pub skipped_by_bloom_filter: u64,
    /// Read, with every identifier column chunk ruled out by its dictionary.
    pub skipped_by_dictionary: u64,
    /// Read with values decoded.
    pub decoded: u64,
    /// Ruled out by the subject index (`--index`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_by_index: u64,
    /// Not ruled out by the subject index, but decoded for exactly these candidates on an
    /// earlier night, and the file unchanged since: the outcome recalled, not read again
    /// (`--update-index`, nightly).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recalled_by_index: u64,
    /// Decided by the file's path alone: every identifier column's value comes from a
    /// Hive partition (`user_id=42/`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub decided_by_partition: u64,
    /// Decided by the table's schema: a file written before the identifier column was
    /// added holds nulls there (Delta, Iceberg).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub decided_by_schema: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReport {
    pub table: String,
    pub path: String,
    pub id_columns: Vec<String>,
    pub legal_hold: bool,
    pub files: u64,
    pub rows_scanned: u64,
    pub residual_rows: u64,
    pub held_rows: u64,
    pub partitions_with_residuals: Vec<String>,
    pub errors: u64,
    /// Identifier columns whose values came from Hive partitions of file paths
    /// (`user_id=42/`): every row of such a file has the partition's value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_id_columns: Vec<String>,
    /// Paths that lead to a file read under another path (links), not read twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<crate::domain::lake::Alias>,
    /// The table's format when it is not plain Parquet files: `delta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The version of the table the scan read (Delta: the log's newest version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_version: Option<u64>,
    /// Matching rows in the `deleted_retained` layer (see `physical_copies`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted_retained_rows: u64,
    /// Matching rows in the `unreferenced` layer.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreferenced_rows: u64,
    /// Deletes of the current version vouch did not apply (`file: why`): the rows they
    /// delete are counted live, so they may show as residual though the engine no longer
    /// reads them (never the other way round).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unapplied_deletes: Vec<String>,
    /// A catalog's table: where its directory and each partition directory really are
    /// (the paths in this report are below these).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub locations: std::collections::BTreeMap<String, String>,
    /// The top-level columns of the files read and their types (`a | b` when files
    /// differ): what the nightly schema-change check compares night to night.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub columns: std::collections::BTreeMap<String, String>,
}

pub use crate::domain::copies::{Layer, PhysicalCopy, PhysicalVerdict};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Residual {
    pub table: String,
    /// Path relative to the lake location.
    pub file: String,
    pub partition: Option<String>,
    pub subject: String,
    pub rows: u64,
    pub held: bool,
    /// The S3 version holding the rows, when versions are scanned.
    pub version_id: Option<String>,
}

impl From<&crate::io::store::StoreError> for ScanErrorEntry {
    fn from(e: &crate::io::store::StoreError) -> ScanErrorEntry {
        ScanErrorEntry {
            file: e.path.clone(),
            error: e.message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanErrorEntry {
    /// The file, or the table directory for table-level problems.
    pub file: String,
    pub error: String,
}

pub use crate::io::encode::rfc3339;

/// `root/rel`, or `root` alone for the lake itself.
pub fn join_path(root: &str, rel: &str) -> String {
    if rel.is_empty() || rel == root {
        root.to_string()
    } else {
        format!("{}/{}", root.trim_end_matches('/'), rel)
    }
}

/// Errors as the lines the binary shows: `location/file: problem`.
pub fn error_lines(location: &str, errors: &[ScanErrorEntry]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}: {}", join_path(location, &e.file), e.error))
        .collect()
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes_h(n: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < U.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[u])
    }
}

impl ScanReport {
    /// The readable report for a terminal or a ticket.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let headline = match self.verdict {
            Verdict::Clean => format!(
                "CLEAN: no rows of the {} subject(s) remain in {} table(s){}",
                self.subjects,
                self.tables.len(),
                if self.held_rows > 0 {
                    format!(
                        " ({} row(s) kept under legal hold)",
                        thousands(self.held_rows)
                    )
                } else {
                    String::new()
                }
            ),
            Verdict::Residual => {
                let files: std::collections::BTreeSet<&str> = self
                    .residuals
                    .iter()
                    .filter(|r| !r.held)
                    .map(|r| r.file.as_str())
                    .collect();
                format!(
                    "RESIDUAL: {} row(s) of deleted subjects remain in {} file(s)",
                    thousands(self.residual_rows),
                    files.len()
                )
            }
            Verdict::Incomplete => format!(
                "INCOMPLETE: {} problem(s) prevented a verdict; the lake is NOT verified clean",
                self.errors.len()
            ),
        };
        let _ = writeln!(s, "{headline}");
        // Beside the verdict, for lakes with table-format tables: what storage still holds.
        let outside: Vec<&PhysicalCopy> = self.physical_copies.iter().filter(|c| !c.held).collect();
        let formats = self.tables.iter().any(|t| t.format.is_some());
        match self.physical_verdict {
            Some(PhysicalVerdict::Pending) if !outside.is_empty() => {
                // Copies of rows, and copies of IDs as values (statistics, bounds, deletes).
                let values = |c: &&&PhysicalCopy| {
                    matches!(
                        c.kind.as_str(),
                        "log_stats" | "footer_stats" | "manifest_bounds" | "equality_delete"
                    )
                };
                let rows: u64 = outside.iter().filter(|c| !values(c)).map(|c| c.rows).sum();
                let ids: u64 = outside.iter().filter(values).map(|c| c.rows).sum();
                let files: std::collections::BTreeSet<&str> =
                    outside.iter().map(|c| c.file.as_str()).collect();
                let in_metadata = if ids > 0 {
                    format!(
                        " and {} ID value(s) in statistics or delete files",
                        thousands(ids)
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "PHYSICAL: PENDING: {} row(s) no reader of the table sees{in_metadata} remain in storage in {} file(s)",
                    thousands(rows),
                    files.len()
                );
            }
            Some(PhysicalVerdict::Erased) if formats => {
                let _ = writeln!(s, "PHYSICAL: ERASED: no copy remains in any layer");
            }
            _ => {}
        }
        let _ = writeln!(
            s,
            "scanned {}: {} file(s), {} rows, {} read in {} request(s); row groups: {} total, {} skipped by statistics, {} by bloom filter, {} by dictionary, {} decoded",
            self.lake,
            thousands(self.files_scanned),
            thousands(self.rows_scanned),
            bytes_h(self.bytes_read),
            thousands(self.read_requests),
            thousands(self.row_groups.total),
            thousands(self.row_groups.skipped_by_statistics),
            thousands(self.row_groups.skipped_by_bloom_filter),
            thousands(self.row_groups.skipped_by_dictionary),
            thousands(self.row_groups.decoded),
        );
        if let Some(c) = &self.custody {
            let _ = writeln!(
                s,
                "custody {}: {} object(s), SHA-256 {}",
                c.file,
                thousands(c.records),
                &c.sha256[..c.sha256.len().min(12)]
            );
        }
        if let Some(ix) = &self.index {
            let _ = writeln!(
                s,
                "index {}: {} row group(s) ruled out{}, {} file(s) read without it",
                &ix.fingerprint[..ix.fingerprint.len().min(12)],
                thousands(self.row_groups.skipped_by_index),
                match self.row_groups.recalled_by_index {
                    0 => String::new(),
                    n => format!(", {} recalled", thousands(n)),
                },
                thousands(ix.files_without_index)
            );
        }
        let w = self
            .tables
            .iter()
            .map(|t| t.table.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            s,
            "\n{:<w$}  {:>6}  {:>14}  {:>9}  {:>9}  NOTE",
            "TABLE", "FILES", "ROWS", "RESIDUAL", "HELD"
        );
        for t in &self.tables {
            let mut note = vec![];
            if t.legal_hold {
                note.push("legal hold".to_string());
            }
            if t.errors > 0 {
                note.push(format!("{} error(s)", t.errors));
            }
            if !t.partitions_with_residuals.is_empty() {
                note.push(format!(
                    "partitions: {}",
                    t.partitions_with_residuals.join(", ")
                ));
            }
            if !t.partition_id_columns.is_empty() {
                note.push(format!(
                    "{} from the path",
                    t.partition_id_columns.join(", ")
                ));
            }
            let _ = writeln!(
                s,
                "{:<w$}  {:>6}  {:>14}  {:>9}  {:>9}  {}",
                t.table,
                thousands(t.files),
                thousands(t.rows_scanned),
                thousands(t.residual_rows),
                thousands(t.held_rows),
                note.join("; ")
            );
        }
        if !self.residuals.is_empty() {
            let _ = writeln!(s, "\nRows found:");
            for r in &self.residuals {
                let _ = writeln!(
                    s,
                    "  {}  {}  {}  {} row(s){}",
                    r.table,
                    r.file,
                    r.subject,
                    thousands(r.rows),
                    if r.held { "  (legal hold)" } else { "" }
                );
            }
        }
        if !self.physical_copies.is_empty() {
            let _ = writeln!(s, "\nCopies no reader sees, still in storage:");
            for c in &self.physical_copies {
                let layer = match c.layer {
                    Layer::DeletedRetained => "deleted_retained",
                    Layer::Unreferenced => "unreferenced",
                };
                let _ = writeln!(
                    s,
                    "  {}  {}  {}  {} row(s)  {layer} ({}){}{}\n    way out: {}",
                    c.table,
                    c.file,
                    c.subject,
                    thousands(c.rows),
                    c.kind.replace('_', " "),
                    c.removable_after
                        .as_ref()
                        .map(|d| format!("  removable after {d}"))
                        .unwrap_or_default(),
                    if c.held { "  (legal hold)" } else { "" },
                    c.way_out
                );
            }
        }
        let aliases: Vec<&crate::domain::lake::Alias> =
            self.tables.iter().flat_map(|t| &t.aliases).collect();
        if !aliases.is_empty() {
            let _ = writeln!(s, "\nRead once (one file, two paths):");
            for a in aliases {
                let _ = writeln!(
                    s,
                    "  {} is {}{}",
                    a.file,
                    a.same_as,
                    a.same_as_table
                        .as_ref()
                        .map(|t| format!(" (table {t})"))
                        .unwrap_or_default()
                );
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\nNot checked:");
            for e in &self.errors {
                let _ = writeln!(s, "  {}: {}", e.file, e.error);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes_h(999), "999 B");
        assert_eq!(bytes_h(1_500_000), "1.5 MB");
    }

    #[test]
    fn verdicts_serialize_lowercase_and_map_to_exit_codes() {
        assert_eq!(
            serde_json::to_string(&Verdict::Incomplete).unwrap(),
            "\"incomplete\""
        );
        assert_eq!(Verdict::Residual.exit_code(), 1);
    }
}

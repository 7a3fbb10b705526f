//! Copies of a subject's rows beyond the table's current version: the layers a scan of a
//! table-format table reports, and the physical verdict over them. Plain types: the
//! report shows them, the table formats (`delta`) say where each copy is.

use serde::{Deserialize, Serialize};

/// Whether the subjects' rows are gone from storage, not only from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhysicalVerdict {
    /// No copy outside legal holds: no live row, no physical copy.
    Erased,
    /// Live rows or physical copies remain.
    Pending,
    /// The scan is incomplete: no physical verdict either.
    Unknown,
}

/// The layer a copy of a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Gone for every reader of the current version, still in storage: masked by a
    /// deletion vector, or in a file an older retained version (time travel, the change
    /// data feed) still reads.
    DeletedRetained,
    /// In a file under the table that no version the log describes references.
    Unreferenced,
}

/// A physical copy of a subject's rows outside the table's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalCopy {
    pub table: String,
    /// Path relative to the lake location.
    pub file: String,
    pub subject: String,
    pub rows: u64,
    pub layer: Layer,
    /// What holds the copy: `masked_rows`, `removed_file`, `change_data`,
    /// `unreferenced_file`, or `log_stats` (the ID is a file statistic in a log file;
    /// `rows` then counts those values).
    pub kind: String,
    /// The earliest day the table's own maintenance may delete the bytes (RFC 3339);
    /// None when something must be run first (a purge of masked rows).
    pub removable_after: Option<String>,
    /// What the table's engine must run to finish the erasure.
    pub way_out: String,
    /// In a table under legal hold: kept on purpose.
    pub held: bool,
}

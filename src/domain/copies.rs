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
    /// A copy outlives the erasure deadline (`[nightly] physical_erasure_days` after the
    /// request's completion): it is still there past it, its removal date is after it,
    /// or it has none (something must be run first).
    Overdue,
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

/// Where a copy of rows outside the current version is, and how it goes away.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CopyPlace {
    pub layer: Layer,
    /// `masked_rows`, `removed_file`, `change_data`, `unreferenced_file`, `log_stats`,
    /// `retained_snapshot`, `equality_delete`.
    pub kind: String,
    /// The earliest time (ms) the table's maintenance may delete the bytes; None: something
    /// must be run first (a purge, a rewrite) or a ref pins it.
    pub removable_after_ms: Option<i64>,
    /// What the table's engine must run.
    pub way_out: String,
}

/// One subject's physical state: its verdict and, with a deadline, the copies that miss it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectErasure {
    pub verdict: PhysicalVerdict,
    /// Indices (into the copies given) of the copies that miss the deadline.
    pub overdue: Vec<usize>,
}

/// Judges one subject's copies outside legal holds (`copies`), with `live` rows every
/// reader still sees and `incomplete` when the scan could not decide. `deadline`: Unix
/// seconds by which every copy must be gone (None: no deadline set); `as_of`: now.
/// Removal dates are RFC 3339 (as the report gives them).
pub fn judge(
    copies: &[&PhysicalCopy],
    live: u64,
    incomplete: bool,
    deadline: Option<i64>,
    as_of: i64,
) -> SubjectErasure {
    if incomplete {
        return SubjectErasure {
            verdict: PhysicalVerdict::Unknown,
            overdue: Vec::new(),
        };
    }
    let overdue: Vec<usize> = match deadline {
        None => Vec::new(),
        Some(d) => copies
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let removable = c
                    .removable_after
                    .as_deref()
                    .and_then(crate::domain::time::Timestamp::parse)
                    .map(|t| t.secs());
                as_of > d || removable.is_none_or(|r| r > d)
            })
            .map(|(i, _)| i)
            .collect(),
    };
    let verdict = if !overdue.is_empty() {
        PhysicalVerdict::Overdue
    } else if live > 0 || !copies.is_empty() {
        PhysicalVerdict::Pending
    } else {
        PhysicalVerdict::Erased
    };
    SubjectErasure { verdict, overdue }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(removable: Option<&str>) -> PhysicalCopy {
        PhysicalCopy {
            table: "t".into(),
            file: "t/a.parquet".into(),
            subject: "s".into(),
            rows: 1,
            layer: Layer::DeletedRetained,
            kind: "removed_file".into(),
            removable_after: removable.map(String::from),
            way_out: "VACUUM".into(),
            held: false,
        }
    }

    #[test]
    fn a_copy_is_overdue_past_the_deadline_or_when_it_will_outlive_it() {
        // Deadline 2026-12-31; now 2026-12-02.
        let deadline = Some(1_798_675_200);
        let now = 1_796_169_600;
        let soon = copy(Some("2026-12-09T00:00:00Z"));
        let late = copy(Some("2027-01-15T00:00:00Z"));
        let stuck = copy(None);
        assert_eq!(
            judge(&[&soon], 0, false, deadline, now).verdict,
            PhysicalVerdict::Pending
        );
        assert_eq!(
            judge(&[&soon], 0, false, None, now).verdict,
            PhysicalVerdict::Pending
        );
        let j = judge(&[&soon, &late, &stuck], 0, false, deadline, now);
        assert_eq!(
            (j.verdict, j.overdue),
            (PhysicalVerdict::Overdue, vec![1, 2])
        );
        // Past the deadline, any copy still there is overdue.
        let j = judge(&[&soon], 0, false, deadline, 1_798_675_201);
        assert_eq!(j.verdict, PhysicalVerdict::Overdue);
        assert_eq!(
            judge(&[], 0, false, deadline, now).verdict,
            PhysicalVerdict::Erased
        );
        assert_eq!(
            judge(&[], 2, false, deadline, now).verdict,
            PhysicalVerdict::Pending
        );
        assert_eq!(
            judge(&[&late], 0, true, deadline, now).verdict,
            PhysicalVerdict::Unknown
        );
    }
}

//! Table formats as the scan sees them: which listed files are live, which rows of a live
//! file the table masks, and where copies outside the current version are. One enum over
//! the formats vouch reads (`delta`, `iceberg`); plain Parquet tables have none.

use crate::domain::copies::CopyPlace;
use crate::domain::delta::DeltaView;
use crate::domain::iceberg::IcebergView;
use crate::io::store::Store;

#[derive(Debug, Clone)]
pub enum TableView {
    Delta(DeltaView),
    Iceberg(IcebergView),
}

/// What the table masks in one live file: row positions, and identifier values (as text)
/// whose rows are deleted (Iceberg equality deletes).
#[derive(Debug, Default)]
pub struct Mask {
    pub positions: Option<roaring::RoaringTreemap>,
    pub values: Vec<String>,
}

impl TableView {
    pub fn format(&self) -> &'static str {
        match self {
            TableView::Delta(_) => "delta",
            TableView::Iceberg(_) => "iceberg",
        }
    }

    /// The version read: the Delta log's version, the Iceberg current snapshot's id.
    pub fn version(&self) -> u64 {
        match self {
            TableView::Delta(d) => d.snapshot.version,
            TableView::Iceberg(i) => i.table.current_snapshot_id.unwrap_or(0) as u64,
        }
    }

    pub fn delta(&self) -> Option<&DeltaView> {
        match self {
            TableView::Delta(d) => Some(d),
            TableView::Iceberg(_) => None,
        }
    }

    /// The column the files hold a logical identifier column under.
    pub fn physical_column(&self, logical: &str) -> String {
        match self {
            TableView::Delta(d) => d.snapshot.physical_column(logical),
            TableView::Iceberg(_) => logical.to_string(),
        }
    }

    /// How the table's engine names the table in the way out: a catalog's table by its
    /// catalog name (`silver_private.users`), else a Delta table by its location.
    pub fn table_ref(&self, location: &str, name: &str) -> String {
        if let Some(rest) = location.strip_prefix("glue://")
            && let Some((database, _)) = rest.split_once('/')
        {
            return format!("{database}.{name}");
        }
        match self {
            TableView::Delta(_) => format!("delta.`{location}`"),
            TableView::Iceberg(_) => name.to_string(),
        }
    }

    /// Whether the file's rows are seen by every reader (unless masked).
    pub fn is_live(&self, path: &str) -> bool {
        match self {
            TableView::Delta(d) => matches!(d.role(path), crate::domain::delta::Role::Live(_)),
            TableView::Iceberg(i) => i.role(path) == crate::domain::iceberg::Role::Live,
        }
    }

    /// Identifier values the table keeps outside the file (Delta partition values of a
    /// live file, or of a removed one as its remove recorded them), as (column, value):
    /// `columns` are the files' (physical) names.
    pub fn partition_ids(&self, path: &str, columns: &[String]) -> Vec<(String, String)> {
        let TableView::Delta(d) = self else {
            return Vec::new();
        };
        let rel = path
            .strip_prefix(&d.table_path)
            .unwrap_or(path)
            .trim_start_matches('/');
        let values = match d.snapshot.live.get(rel) {
            Some(add) => &add.partition_values,
            None => match d.snapshot.removed_partitions.get(rel) {
                Some(v) => v,
                None => return Vec::new(),
            },
        };
        values
            .iter()
            .filter(|(k, v)| {
                v.as_ref().is_some_and(|v| !v.is_empty())
                    && columns.iter().any(|c| c.eq_ignore_ascii_case(k))
            })
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect()
    }

    /// The field ids of identifier columns (Iceberg's current schema; case ignored), or
    /// none: columns are then found by name.
    pub fn field_ids(&self, columns: &[String]) -> Vec<i32> {
        let TableView::Iceberg(i) = self else {
            return Vec::new();
        };
        columns
            .iter()
            .filter_map(|c| {
                i.table
                    .field_ids
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(c))
                    .map(|(_, id)| *id)
            })
            .collect()
    }

    /// Whether a data file without the identifier columns holds no identifier values:
    /// the table's schema has them (added after the file was written), so the engines
    /// read nulls there; an Iceberg column with an `initial-default` reads that value, and
    /// then the answer is no.
    pub fn absent_means_null(&self, columns: &[String]) -> bool {
        fn has<'a>(mut names: impl Iterator<Item = &'a String>, c: &str) -> bool {
            names.any(|n| n.eq_ignore_ascii_case(c))
        }
        match self {
            // A partition column is never in the files: its values are in the log, which
            // a removed file's rows are not read from here.
            TableView::Delta(d) => columns.iter().all(|c| {
                has(d.snapshot.columns.iter(), c) && !has(d.snapshot.partition_columns.iter(), c)
            }),
            TableView::Iceberg(i) => columns
                .iter()
                .all(|c| has(i.table.field_ids.keys(), c) && !has(i.table.defaulted.iter(), c)),
        }
    }

    /// What the table masks in a live file.
    pub fn mask(&self, store: &dyn Store, path: &str) -> Result<Mask, String> {
        match self {
            TableView::Delta(d) => match d.role(path) {
                crate::domain::delta::Role::Live(Some(dv)) => Ok(Mask {
                    positions: Some(d.mask(store, dv)?),
                    values: Vec::new(),
                }),
                _ => Ok(Mask::default()),
            },
            TableView::Iceberg(i) => {
                let rel = path
                    .strip_prefix(&i.table_path)
                    .unwrap_or(path)
                    .trim_start_matches('/');
                Ok(Mask {
                    positions: i.positions.get(rel).cloned(),
                    values: i
                        .deleted_values
                        .get(rel)
                        .map(|v| v.iter().cloned().collect())
                        .unwrap_or_default(),
                })
            }
        }
    }

    /// Where copies in a file are (`masked`: the masked rows of a live file), or None for
    /// rows every reader sees.
    pub fn copy_place(
        &self,
        path: &str,
        masked: bool,
        modified: Option<i64>,
        table_ref: &str,
    ) -> Option<CopyPlace> {
        match self {
            TableView::Delta(d) => d.copy_place(d.role(path), masked, modified, table_ref),
            TableView::Iceberg(i) => i.copy_place(i.role(path), masked, modified, table_ref),
        }
    }
}

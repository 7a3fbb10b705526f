//! Lake layout: which tables a location holds, which files belong to each, and the Hive
//! partitions of each file.
//!
//! Conventions (SPEC.md): each immediate child directory of the location is a table;
//! every `*.parquet` below it at any depth is one of its files; `key=value` path segments
//! are partitions; names starting with `_` or `.` are ignored. `[[lake.tables]]` entries
//! rename tables, point them at other paths and set their identifier columns. Listing goes
//! through [`Store`]; this module never reads file contents.

use crate::config::LakeConfig;
use crate::store::{ObjectMeta, Store, StoreError};

/// One table of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Relative path of the table's directory in the store.
    pub path: String,
    pub id_columns: Vec<String>,
}

/// A table with its files, as listed.
#[derive(Debug, Clone)]
pub struct TableFiles {
    pub table: Table,
    pub files: Vec<ObjectMeta>,
    pub errors: Vec<StoreError>,
}

/// Finds the tables of the lake: configured ones, then undeclared child directories.
pub fn discover_tables(store: &dyn Store, cfg: &LakeConfig) -> Result<Vec<Table>, StoreError> {
    let dirs = store.child_dirs()?;
    let mut tables: Vec<Table> = Vec::new();
    let mut claimed = std::collections::HashSet::new();
    for t in &cfg.tables {
        let path = t
            .path
            .clone()
            .unwrap_or_else(|| t.name.clone())
            .trim_matches('/')
            .to_string();
        claimed.insert(path.clone());
        tables.push(Table {
            name: t.name.clone(),
            path,
            id_columns: t
                .id_columns
                .clone()
                .unwrap_or_else(|| cfg.id_columns.clone()),
        });
    }
    for d in dirs {
        if !claimed.contains(&d) {
            tables.push(Table {
                name: d.clone(),
                path: d,
                id_columns: cfg.id_columns.clone(),
            });
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}

/// Lists the Parquet files of a table; with `versions`, every stored version of each.
pub fn list_table(store: &dyn Store, table: &Table, versions: bool) -> TableFiles {
    let listing = if versions {
        store.list_versions(&table.path)
    } else {
        store.list(&table.path)
    };
    let files = listing
        .objects
        .into_iter()
        .filter(|o| o.path.ends_with(".parquet"))
        .collect();
    TableFiles {
        table: table.clone(),
        files,
        errors: listing.errors,
    }
}

/// The `key=value` directory segments of a file's path below its table, joined by `/`
/// (`dt=2026-01-03/region=eu`), or None when unpartitioned.
pub fn partition_of(table_path: &str, file_path: &str) -> Option<String> {
    let rest = file_path.strip_prefix(table_path)?.trim_start_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    let dirs = &segs[..segs.len().saturating_sub(1)];
    let parts: Vec<&str> = dirs.iter().copied().filter(|s| s.contains('=')).collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_come_from_key_value_segments() {
        assert_eq!(
            partition_of("events", "events/dt=2026-01-03/part-0.parquet").as_deref(),
            Some("dt=2026-01-03")
        );
        assert_eq!(
            partition_of("events", "events/dt=2026-01-03/x/region=eu/p.parquet").as_deref(),
            Some("dt=2026-01-03/region=eu")
        );
        assert_eq!(partition_of("events", "events/part-0.parquet"), None);
        assert_eq!(
            partition_of("a/b", "a/b/k=v/f.parquet").as_deref(),
            Some("k=v")
        );
    }
}

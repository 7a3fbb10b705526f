//! Reading the runbook's small side tables (`data_retention_policy`, ...) from Parquet or
//! CSV into Arrow record batches, and pulling typed columns out of them.
//!
//! The format is chosen by extension (`.csv` or `.parquet`). Errors name the file, and
//! the column and row where a value is wrong.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: missing required column {column}")]
    MissingColumn { path: String, column: String },
    #[error("{path}: column {column}, row {row}: {message}")]
    BadValue {
        path: String,
        column: String,
        row: usize,
        message: String,
    },
}

/// A whole table in memory (registers, not lake data: a million rows is a large one).
pub struct Table {
    /// The columns, known even when there are no rows.
    pub schema: arrow::datatypes::SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Largest table read (a register, held in memory).
const MAX_TABLE_BYTES: u64 = 4 << 30;

/// Reads a whole table from a local path or an `s3://bucket/key` URI.
pub fn read_table_at(location: &str, s3: &crate::io::s3::S3Options) -> Result<Table, TableError> {
    if !location.starts_with("s3://") {
        return read_table(Path::new(location));
    }
    let bytes = crate::io::s3::S3Store::fetch(location, s3, MAX_TABLE_BYTES)
        .map_err(|e| TableError::Unreadable {
            path: location.to_string(),
            message: e.message,
        })?
        .ok_or_else(|| TableError::Unreadable {
            path: location.to_string(),
            message: "no such object".into(),
        })?;
    parse_table(location, bytes::Bytes::from(bytes))
}

/// Reads a whole table.
pub fn read_table(path: &Path) -> Result<Table, TableError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| TableError::Unreadable {
        path: shown.clone(),
        message: crate::io::store::io_message(&e),
    })?;
    parse_table(&shown, bytes::Bytes::from(bytes))
}

/// Parses a table's bytes; the format comes from the name's extension.
fn parse_table(shown: &str, data: bytes::Bytes) -> Result<Table, TableError> {
    let err = |m: String| TableError::Unreadable {
        path: shown.to_string(),
        message: m,
    };
    let ext = shown
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "parquet" => {
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
                    .map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
            let schema = builder.schema().clone();
            let reader = builder
                .build()
                .map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
            let batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("cannot decode: {e}")))?;
            Ok(Table { schema, batches })
        }
        "csv" => {
            // Every column is read as text and parsed by the caller, which knows the
            // meaning and can name the row of a bad value.
            let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let header = String::from_utf8_lossy(first);
            let names: Vec<String> = header
                .trim_end_matches(['\r', '\n'])
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .collect();
            if names.iter().all(|n| n.is_empty()) {
                return Err(err("CSV file has no header row".into()));
            }
            let fields: Vec<arrow::datatypes::Field> = names
                .iter()
                .map(|n| arrow::datatypes::Field::new(n, DataType::Utf8, true))
                .collect();
            let schema = Arc::new(arrow::datatypes::Schema::new(fields));
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(std::io::Cursor::new(data))
                .map_err(|e| err(format!("cannot read CSV: {e}")))?;
            let batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("cannot read CSV: {e}")))?;
            Ok(Table { schema, batches })
        }
        _ => Err(err(
            "unknown table format (expected .parquet or .csv)".into()
        )),
    }
}

/// A column of every batch as optional strings (any type is cast to text).
pub fn string_column(
    path: &Path,
    table: &Table,
    column: &str,
) -> Result<Vec<Option<String>>, TableError> {
    let shown = path.display().to_string();
    if table.schema.field_with_name(column).is_err() {
        return Err(TableError::MissingColumn {
            path: shown,
            column: column.into(),
        });
    }
    let mut out = Vec::with_capacity(table.rows());
    for b in &table.batches {
        let Some(col) = b.column_by_name(column) else {
            return Err(TableError::MissingColumn {
                path: shown,
                column: column.into(),
            });
        };
        let cast =
            arrow::compute::cast(col, &DataType::Utf8).map_err(|e| TableError::Unreadable {
                path: shown.clone(),
                message: format!("column {column}: {e}"),
            })?;
        let Some(s) = cast.as_any().downcast_ref::<StringArray>() else {
            return Err(TableError::Unreadable {
                path: shown,
                message: format!("column {column} is not text"),
            });
        };
        out.extend((0..s.len()).map(|i| s.is_valid(i).then(|| s.value(i).to_string())));
    }
    Ok(out)
}

/// Parses a boolean cell: true/false, t/f, yes/no, y/n, 1/0 (any case); empty is false.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

/// The datasets under legal hold according to a `data_retention_policy` table.
pub fn legal_holds(path: &Path) -> Result<BTreeSet<String>, TableError> {
    holds_of(path, &read_table(path)?)
}

/// The same, of a table at a local path or `s3://` URI.
pub fn legal_holds_at(
    location: &str,
    s3: &crate::io::s3::S3Options,
) -> Result<BTreeSet<String>, TableError> {
    holds_of(Path::new(location), &read_table_at(location, s3)?)
}

fn holds_of(path: &Path, table: &Table) -> Result<BTreeSet<String>, TableError> {
    let datasets = string_column(path, table, "dataset")?;
    let flags = string_column(path, table, "legal_hold_flag")?;
    let mut held = BTreeSet::new();
    for (i, (d, f)) in datasets.iter().zip(&flags).enumerate() {
        let flag = match f {
            None => false,
            Some(s) => parse_bool(s).ok_or_else(|| TableError::BadValue {
                path: path.display().to_string(),
                column: "legal_hold_flag".into(),
                row: i + 1,
                message: format!("{s:?} is not a boolean"),
            })?,
        };
        if let (true, Some(d)) = (flag, d) {
            held.insert(d.trim().to_string());
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_parse_leniently_but_not_blindly() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool(" 0 "), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn legal_holds_from_csv() {
        let dir = std::env::temp_dir().join(format!("vouch-holds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("policy.csv");
        std::fs::write(&p, "dataset,retention_days,legal_hold_flag,hold_reason,hold_reviewer\nevents,30,false,,\ntickets,365,true,litigation,Legal\n").unwrap();
        let held = legal_holds(&p).unwrap();
        assert_eq!(held.into_iter().collect::<Vec<_>>(), vec!["tickets"]);
        std::fs::write(&p, "dataset,legal_hold_flag\nevents,perhaps\n").unwrap();
        let e = legal_holds(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("column legal_hold_flag, row 1: \"perhaps\" is not a boolean"),
            "{e}"
        );
        std::fs::write(&p, "dataset,flag\nevents,true\n").unwrap();
        assert!(
            legal_holds(&p)
                .unwrap_err()
                .to_string()
                .ends_with("missing required column legal_hold_flag")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

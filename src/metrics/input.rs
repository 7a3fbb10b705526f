//! The metrics' input tables: read from Parquet or CSV, every value checked, then handed
//! to Polars as a frame. Errors name the file, the column and the row (1-based data row).

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use polars::prelude::{
    Column, DataFrame, DataType as PlType, NamedFrom, Series, TimeUnit as PlTimeUnit,
};

use crate::tables::{Table, TableError, parse_bool, read_table_at};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (any Arrow type is taken as its text form).
    Text,
    /// A point in time, UTC: a Parquet timestamp or date, or ISO 8601 text.
    Time,
    Bool,
}

/// One column a metric reads.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub kind: Kind,
    /// Must be set on every row.
    pub required: bool,
}

const fn col(name: &'static str, kind: Kind, required: bool) -> Col {
    Col {
        name,
        kind,
        required,
    }
}

/// A metric's input table: its name in the SQL, the columns read (others are ignored),
/// its identifier column, and pairs (earlier, later) of times that must not run backwards.
pub struct Spec {
    pub table: &'static str,
    pub columns: &'static [Col],
    pub id: &'static str,
    pub ordered: &'static [(&'static str, &'static str)],
}

pub const INCIDENTS: Spec = Spec {
    table: "data_incident",
    columns: &[
        col("incident_id", Kind::Text, true),
        col("severity", Kind::Text, false),
        col("start_at", Kind::Time, true),
        col("acknowledged_at", Kind::Time, false),
        col("end_at", Kind::Time, false),
        col("postmortem_at", Kind::Time, false),
    ],
    id: "incident_id",
    ordered: &[("start_at", "acknowledged_at"), ("start_at", "end_at")],
};

/// `subject_id` is not among the columns: the metrics never read it.
pub const DSAR: Spec = Spec {
    table: "dsar_request",
    columns: &[
        col("request_id", Kind::Text, true),
        col("request_type", Kind::Text, false),
        col("received_at", Kind::Time, true),
        col("extended", Kind::Bool, false),
        col("completed_at", Kind::Time, false),
    ],
    id: "request_id",
    ordered: &[("received_at", "completed_at")],
};

pub const CHANGES: Spec = Spec {
    table: "governance_change_log",
    columns: &[
        col("change_id", Kind::Text, true),
        col("impact", Kind::Text, false),
        col("submitted_at", Kind::Time, true),
        col("reviewed_at", Kind::Time, false),
    ],
    id: "change_id",
    ordered: &[("submitted_at", "reviewed_at")],
};

/// A checked column.
enum Values {
    Text(Vec<Option<String>>),
    /// Microseconds since the Unix epoch, UTC.
    Time(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// Reads and checks the table at `path` as `spec` says, as a Polars frame.
pub fn load(path: &Path, s3: &crate::s3::S3Options, spec: &Spec) -> Result<DataFrame, TableError> {
    let table = read_table_at(&path.to_string_lossy(), s3)?;
    let shown = path.display().to_string();
    let mut values = Vec::with_capacity(spec.columns.len());
    for c in spec.columns {
        if table.schema.field_with_name(c.name).is_err() {
            return Err(TableError::MissingColumn {
                path: shown,
                column: c.name.into(),
            });
        }
        let v = match c.kind {
            Kind::Text => Values::Text(crate::tables::string_column(path, &table, c.name)?),
            Kind::Time => Values::Time(time_column(path, &table, c.name)?),
            Kind::Bool => Values::Bool(bool_column(path, &table, c.name)?),
        };
        if c.required {
            let missing = match &v {
                Values::Text(x) => x
                    .iter()
                    .position(|v| v.as_deref().is_none_or(str::is_empty)),
                Values::Time(x) => x.iter().position(Option::is_none),
                Values::Bool(x) => x.iter().position(Option::is_none),
            };
            if let Some(i) = missing {
                return Err(bad(path, c.name, i, "is empty; it is required".into()));
            }
        }
        values.push(v);
    }
    let find = |name: &str| {
        spec.columns
            .iter()
            .position(|c| c.name == name)
            .map(|i| &values[i])
    };
    for (earlier, later) in spec.ordered {
        if let (Some(Values::Time(a)), Some(Values::Time(b))) = (find(earlier), find(later)) {
            if let Some(i) = a
                .iter()
                .zip(b)
                .position(|(a, b)| matches!((a, b), (Some(a), Some(b)) if b < a))
            {
                return Err(bad(path, later, i, format!("is before {earlier}")));
            }
        }
    }
    if let Some(Values::Text(ids)) = find(spec.id) {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id.as_deref() {
                if let Some(first) = seen.insert(id, i) {
                    return Err(bad(
                        path,
                        spec.id,
                        i,
                        format!("{id:?} is also on row {}", first + 1),
                    ));
                }
            }
        }
    }
    let height = table.rows();
    let mut columns = Vec::with_capacity(values.len());
    for (c, v) in spec.columns.iter().zip(values) {
        let s = match v {
            Values::Text(x) => Series::new(c.name.into(), x),
            Values::Bool(x) => Series::new(c.name.into(), x),
            Values::Time(x) => Series::new(c.name.into(), x)
                .cast(&PlType::Datetime(PlTimeUnit::Microseconds, None))
                .map_err(|e| TableError::Unreadable {
                    path: shown.clone(),
                    message: format!("column {}: {e}", c.name),
                })?,
        };
        columns.push(Column::from(s));
    }
    DataFrame::new(height, columns).map_err(|e| TableError::Unreadable {
        path: shown,
        message: e.to_string(),
    })
}

fn bad(path: &Path, column: &str, index: usize, message: String) -> TableError {
    TableError::BadValue {
        path: path.display().to_string(),
        column: column.into(),
        row: index + 1,
        message,
    }
}

/// A time column as UTC microseconds: Parquet timestamps (any unit, with or without a
/// zone) and dates as they are, text parsed by [`parse_time`].
pub fn time_column(path: &Path, table: &Table, name: &str) -> Result<Vec<Option<i64>>, TableError> {
    let mut out = Vec::with_capacity(table.rows());
    for b in &table.batches {
        let col = column(path, b, name)?;
        match col.data_type() {
            DataType::Timestamp(_, tz) => {
                // Only the unit changes: the stored values are UTC instants already.
                let micros = arrow::compute::cast(
                    col,
                    &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
                )
                .map_err(|e| unreadable(path, name, e))?;
                let a = micros
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .ok_or_else(|| unreadable(path, name, "not a timestamp"))?;
                out.extend(a.iter());
            }
            DataType::Date32 | DataType::Date64 => {
                let micros =
                    arrow::compute::cast(col, &DataType::Timestamp(TimeUnit::Microsecond, None))
                        .map_err(|e| unreadable(path, name, e))?;
                let a = micros
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .ok_or_else(|| unreadable(path, name, "not a date"))?;
                out.extend(a.iter());
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                parse_texts(path, col, name, &mut out, parse_time, "an ISO 8601 time")?;
            }
            other => {
                return Err(unreadable(
                    path,
                    name,
                    format!("has type {other}, expected a timestamp"),
                ));
            }
        }
    }
    Ok(out)
}

fn bool_column(path: &Path, table: &Table, name: &str) -> Result<Vec<Option<bool>>, TableError> {
    let mut out = Vec::with_capacity(table.rows());
    for b in &table.batches {
        let col = column(path, b, name)?;
        if let Some(a) = col.as_any().downcast_ref::<BooleanArray>() {
            out.extend(a.iter());
            continue;
        }
        parse_texts(path, col, name, &mut out, parse_bool, "a boolean")?;
    }
    Ok(out)
}

/// Parses a text column onto `out`; empty cells are missing values, and a cell `parse`
/// rejects is an error naming its row (`out`'s length so far).
fn parse_texts<T>(
    path: &Path,
    col: &arrow::array::ArrayRef,
    name: &str,
    out: &mut Vec<Option<T>>,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<(), TableError> {
    let text = texts(path, col, name)?;
    for i in 0..text.len() {
        let v = text.value(i);
        if text.is_null(i) || v.trim().is_empty() {
            out.push(None);
            continue;
        }
        match parse(v) {
            Some(x) => out.push(Some(x)),
            None => return Err(bad(path, name, out.len(), format!("{v:?} is not {what}"))),
        }
    }
    Ok(())
}

fn column<'b>(
    path: &Path,
    b: &'b RecordBatch,
    name: &str,
) -> Result<&'b arrow::array::ArrayRef, TableError> {
    b.column_by_name(name)
        .ok_or_else(|| TableError::MissingColumn {
            path: path.display().to_string(),
            column: name.into(),
        })
}

fn texts(path: &Path, col: &arrow::array::ArrayRef, name: &str) -> Result<StringArray, TableError> {
    let cast = arrow::compute::cast(col, &DataType::Utf8).map_err(|e| unreadable(path, name, e))?;
    cast.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| unreadable(path, name, "is not text"))
}

fn unreadable(path: &Path, column: &str, e: impl std::fmt::Display) -> TableError {
    TableError::Unreadable {
        path: path.display().to_string(),
        message: format!("column {column}: {e}"),
    }
}

/// Parses an ISO 8601 time as UTC microseconds: `2026-01-31T10:00:00Z`, with an offset
/// (`+02:00`), fractional seconds, a space for the `T`, without seconds, or without a zone
/// (taken as UTC); a bare date is its midnight, UTC.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let with_t = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&with_t) {
        return Some(t.timestamp_micros());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = chrono::DateTime::parse_from_str(&with_t, f) {
            return Some(t.timestamp_micros());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&with_t, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn iso_times_with_and_without_zones() {
        let utc = parse_time("2026-01-31T10:00:00Z").unwrap();
        assert_eq!(parse_time("2026-01-31 10:00:00"), Some(utc));
        assert_eq!(parse_time("2026-01-31T12:00:00+02:00"), Some(utc));
        assert_eq!(parse_time("2026-01-31T10:00"), Some(utc));
        assert_eq!(parse_time("2026-01-31T10:00:00.5Z"), Some(utc + 500_000));
        assert_eq!(parse_time("2026-01-31"), Some(utc - 10 * 3_600_000_000));
        assert_eq!(parse_time("31/01/2026"), None);
        assert_eq!(parse_time("2026-02-30"), None);
    }
}

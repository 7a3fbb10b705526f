//! The metrics' input tables: read from Parquet or CSV, every value checked, then handed
//! to Polars as a frame. Errors name the file, the column and the row (1-based data row).

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use polars::prelude::{
    Column, DataFrame, DataType as PlType, NamedFrom, Series, TimeUnit as PlTimeUnit,
};

use crate::io::tables::{Table, TableError, parse_bool, read_table_at};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (any Arrow type is taken as its text form).
    Text,
    /// Text that is one of these values (case as written).
    OneOf(&'static [&'static str]),
    /// A finite number (any numeric Arrow type, or decimal text).
    Number,
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
    /// (column, values, column required on rows with one of those values).
    pub needs: &'static [(&'static str, &'static [&'static str], &'static str)],
    /// Columns a table may lack (newer columns of the runbook's tables): read as empty.
    pub optional_columns: &'static [&'static str],
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
    needs: &[],
    optional_columns: &[],
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
        col("jurisdiction", Kind::Text, false),
        col("acknowledged_at", Kind::Time, false),
    ],
    id: "request_id",
    ordered: &[
        ("received_at", "completed_at"),
        ("received_at", "acknowledged_at"),
    ],
    needs: &[],
    optional_columns: &["jurisdiction", "acknowledged_at"],
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
    needs: &[],
    optional_columns: &[],
};

/// The job types `analytics_job_run` may hold: every type but `purge` refreshes its
/// dataset.
pub const JOB_TYPES: &[&str] = &["transform", "refresh", "purge", "backfill"];
pub const JOB_STATUSES: &[&str] = &["success", "failed", "running", "cancelled"];

pub const JOBS: Spec = Spec {
    table: "analytics_job_run",
    columns: &[
        col("run_id", Kind::Text, true),
        col("job_name", Kind::Text, true),
        col("dataset", Kind::Text, true),
        col("job_type", Kind::OneOf(JOB_TYPES), true),
        col("status", Kind::OneOf(JOB_STATUSES), true),
        col("scheduled_at", Kind::Time, true),
        col("started_at", Kind::Time, false),
        col("ended_at", Kind::Time, false),
    ],
    id: "run_id",
    ordered: &[("started_at", "ended_at")],
    needs: &[("status", &["success", "failed"], "ended_at")],
    optional_columns: &[],
};

/// `cost_anomaly` (the runbook's `cost_controls.anomalies`).
pub const COSTS: Spec = Spec {
    table: "cost_anomaly",
    columns: &[
        col("anomaly_id", Kind::Text, true),
        col("detected_at", Kind::Time, true),
        col("service", Kind::Text, false),
        col("resource", Kind::Text, false),
        col("cost_usd", Kind::Number, false),
        col("expected_usd", Kind::Number, false),
        col("budget_used_pct", Kind::Number, false),
        col("mitigated_at", Kind::Time, false),
        col("incident_id", Kind::Text, false),
    ],
    id: "anomaly_id",
    ordered: &[("detected_at", "mitigated_at")],
    needs: &[],
    optional_columns: &[],
};

/// The incidents `cost_anomaly.incident_id` must be in (`--incidents`): only their ids.
pub const INCIDENT_IDS: Spec = Spec {
    table: "data_incident",
    columns: &[col("incident_id", Kind::Text, true)],
    id: "incident_id",
    ordered: &[],
    needs: &[],
    optional_columns: &[],
};

/// `data_retention_policy` as the legal-hold check reads it (`hold_set_at` is newer: a
/// table without it has no hold times).
pub const HOLDS: Spec = Spec {
    table: "data_retention_policy",
    columns: &[
        col("dataset", Kind::Text, true),
        col("legal_hold_flag", Kind::Bool, false),
        col("hold_reason", Kind::Text, false),
        col("hold_reviewer", Kind::Text, false),
        col("hold_set_at", Kind::Time, false),
    ],
    id: "dataset",
    ordered: &[],
    needs: &[],
    optional_columns: &["hold_set_at"],
};

/// A checked column.
enum Values {
    /// The column's text, one array per batch (no copy per value).
    Text(Vec<StringArray>),
    /// Microseconds since the Unix epoch, UTC.
    Time(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Number(Vec<Option<f64>>),
}

/// Reads and checks the table at `path` as `spec` says, as a Polars frame.
pub fn load(
    path: &Path,
    s3: &crate::io::s3::S3Options,
    spec: &Spec,
) -> Result<DataFrame, TableError> {
    let table = read_table_at(&path.to_string_lossy(), s3)?;
    let shown = path.display().to_string();
    let mut values = Vec::with_capacity(spec.columns.len());
    for c in spec.columns {
        if table.schema.field_with_name(c.name).is_err() {
            if spec.optional_columns.contains(&c.name) {
                let n = table.rows();
                values.push(match c.kind {
                    Kind::Text | Kind::OneOf(_) => {
                        Values::Text(vec![StringArray::from(vec![None::<&str>; n])])
                    }
                    Kind::Time => Values::Time(vec![None; n]),
                    Kind::Bool => Values::Bool(vec![None; n]),
                    Kind::Number => Values::Number(vec![None; n]),
                });
                continue;
            }
            return Err(TableError::MissingColumn {
                path: shown,
                column: c.name.into(),
            });
        }
        let v = match c.kind {
            Kind::Text | Kind::OneOf(_) => Values::Text(
                table
                    .batches
                    .iter()
                    .map(|b| texts(path, column(path, b, c.name)?, c.name))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Time => Values::Time(time_column(path, &table, c.name)?),
            Kind::Bool => Values::Bool(bool_column(path, &table, c.name)?),
            Kind::Number => Values::Number(number_column(path, &table, c.name)?),
        };
        if let (Kind::OneOf(allowed), Values::Text(x)) = (c.kind, &v)
            && let Some((i, Some(value))) = cells(x)
                .enumerate()
                .find(|(_, v)| v.is_some_and(|v| !v.is_empty() && !allowed.contains(&v)))
        {
            return Err(bad(
                path,
                c.name,
                i,
                format!("{value:?} is not one of {}", allowed.join(", ")),
            ));
        }
        if c.required {
            let missing = match &v {
                Values::Text(x) => cells(x).position(|v| v.is_none_or(str::is_empty)),
                Values::Time(x) => x.iter().position(Option::is_none),
                Values::Bool(x) => x.iter().position(Option::is_none),
                Values::Number(x) => x.iter().position(Option::is_none),
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
        if let (Some(Values::Time(a)), Some(Values::Time(b))) = (find(earlier), find(later))
            && let Some(i) = a
                .iter()
                .zip(b)
                .position(|(a, b)| matches!((a, b), (Some(a), Some(b)) if b < a))
        {
            return Err(bad(path, later, i, format!("is before {earlier}")));
        }
    }
    for (column, values, needed) in spec.needs {
        if let (Some(Values::Text(v)), Some(Values::Time(t))) = (find(column), find(needed))
            && let Some((i, value)) = cells(v)
                .zip(t)
                .enumerate()
                .find(|(_, (v, t))| v.is_some_and(|v| values.contains(&v)) && t.is_none())
                .map(|(i, (v, _))| (i, v.unwrap_or_default()))
        {
            return Err(bad(
                path,
                needed,
                i,
                format!("is empty; a {value} row needs it"),
            ));
        }
    }
    if let Some(Values::Text(ids)) = find(spec.id) {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
        for (i, id) in cells(ids).enumerate() {
            if let Some(id) = id
                && let Some(first) = seen.insert(id, i)
            {
                return Err(bad(
                    path,
                    spec.id,
                    i,
                    format!("{id:?} is also on row {}", first + 1),
                ));
            }
        }
    }
    let height = table.rows();
    let mut columns = Vec::with_capacity(values.len());
    for (c, v) in spec.columns.iter().zip(values) {
        let s = match v {
            Values::Text(x) => Series::new(c.name.into(), cells(&x).collect::<Vec<_>>()),
            Values::Bool(x) => Series::new(c.name.into(), x),
            Values::Number(x) => Series::new(c.name.into(), x),
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

/// The cells of a text column, in row order.
fn cells(arrays: &[StringArray]) -> impl Iterator<Item = Option<&str>> {
    arrays.iter().flat_map(|a| a.iter())
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
/// A number column: numeric Arrow types as they are, text parsed (finite only).
fn number_column(path: &Path, table: &Table, name: &str) -> Result<Vec<Option<f64>>, TableError> {
    let mut out = Vec::with_capacity(table.rows());
    for b in &table.batches {
        let col = column(path, b, name)?;
        if col.data_type().is_numeric() {
            let f = arrow::compute::cast(col, &DataType::Float64)
                .map_err(|e| unreadable(path, name, e))?;
            let a = f
                .as_any()
                .downcast_ref::<arrow::array::Float64Array>()
                .ok_or_else(|| unreadable(path, name, "not a number"))?;
            for v in a.iter() {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(bad(path, name, out.len(), "is not a finite number".into()));
                }
                out.push(v);
            }
            continue;
        }
        parse_texts(
            path,
            col,
            name,
            &mut out,
            |t| t.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            "a number",
        )?;
    }
    Ok(out)
}

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

/// Parses an ISO 8601 time as UTC microseconds: `YYYY-MM-DD`, then optionally `T` (or a
/// space) and `HH:MM`, `:SS`, a fraction of up to 9 digits (kept to the microsecond), and
/// a zone: `Z`, `±HH:MM`, `±HHMM` or `±HH`. No zone means UTC; a bare date is its midnight,
/// UTC. Everything is checked (month 1–12, the day within the month, hour < 24, ...).
/// Hand-written: a million cells parse in a few milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |i: usize, n: usize| -> Option<i64> {
        let d = b.get(i..i + n)?;
        d.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d < 1 || d > month_days[(mo - 1) as usize] {
        return None;
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let mut micros = days * 86_400_000_000;
    if b.len() == 10 {
        return Some(micros);
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    micros += (h * 3600 + mi * 60) * 1_000_000;
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        let sec = num(i + 1, 2)?;
        if sec > 59 {
            return None;
        }
        micros += sec * 1_000_000;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return None;
            }
            let digits = (end - start).min(6);
            micros += num(start, digits)? * 10i64.pow((6 - digits) as u32);
            i = end;
        }
    }
    match b.get(i) {
        None => Some(micros),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(micros),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = match b.len() - (i + 3) {
                0 => 0,
                2 => num(i + 3, 2)?,
                3 if b[i + 3] == b':' => num(i + 4, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = (oh * 3600 + om * 60) * 1_000_000;
            Some(if sign == b'+' {
                micros - offset
            } else {
                micros + offset
            })
        }
        _ => None,
    }
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
        assert_eq!(parse_time("2024-02-29"), Some(1_709_164_800_000_000));
        assert_eq!(parse_time("2023-02-29"), None);
        assert_eq!(parse_time("1969-12-31T23:59:59Z"), Some(-1_000_000));
        assert_eq!(parse_time("2026-01-31T07:00:00-03"), Some(utc));
        assert_eq!(parse_time("2026-01-31T12:00:00+0200"), Some(utc));
        assert_eq!(
            parse_time("2026-01-31T10:00:00.123456789Z"),
            Some(utc + 123_456)
        );
        for bad in [
            "2026-01-31T24:00",
            "2026-01-31T10:60",
            "2026-01-31T10:00:00+2",
            "2026-01-31X",
            "2026-1-31",
            "2026-01-31T10:00:00Zx",
            "2026-01-31T10:00:00.",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        // The same instants chrono reads.
        for s in [
            "2026-03-01T00:00:00Z",
            "2000-02-29T23:59:59.999999Z",
            "1999-12-31T23:59:59+05:30",
        ] {
            let c = chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_micros();
            assert_eq!(parse_time(s), Some(c), "{s}");
        }
    }
}

//! `vouch metrics`: incident, DSAR and change-review SLAs (runbook §1–§3).
//!
//! Every definition is SQL under `queries/`, embedded here and run in Polars' SQL context:
//! a `<metric>.sql` query turns the input table into one row per incident, request or
//! change with what its SLA is made of, and `<metric>_summary.sql` sums those rows up per
//! group. The Rust side reads and checks the input ([`input`]), builds the groups (overall,
//! by severity / request type / impact, by month) with the lazy API, and lists the ids
//! the flags of the per-row query pick out.

pub mod input;
mod text;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Serialize;

use crate::domain::config::Targets;
use crate::io::tables::TableError;

/// The SQL the binary runs, by file name under `queries/`.
pub const QUERIES: &[(&str, &str)] = &[
    (
        "incidents.sql",
        include_str!("../../../queries/incidents.sql"),
    ),
    (
        "incidents_summary.sql",
        include_str!("../../../queries/incidents_summary.sql"),
    ),
    ("dsar.sql", include_str!("../../../queries/dsar.sql")),
    (
        "dsar_summary.sql",
        include_str!("../../../queries/dsar_summary.sql"),
    ),
    ("changes.sql", include_str!("../../../queries/changes.sql")),
    (
        "changes_summary.sql",
        include_str!("../../../queries/changes_summary.sql"),
    ),
    ("jobs.sql", include_str!("../../../queries/jobs.sql")),
    (
        "jobs_summary.sql",
        include_str!("../../../queries/jobs_summary.sql"),
    ),
    (
        "jobs_datasets.sql",
        include_str!("../../../queries/jobs_datasets.sql"),
    ),
    ("holds.sql", include_str!("../../../queries/holds.sql")),
    ("costs.sql", include_str!("../../../queries/costs.sql")),
    (
        "costs_summary.sql",
        include_str!("../../../queries/costs_summary.sql"),
    ),
    (
        "holds_purges.sql",
        include_str!("../../../queries/holds_purges.sql"),
    ),
];

fn query(file: &str) -> &'static str {
    QUERIES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, q)| *q)
        .unwrap_or("")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Incidents,
    Dsar,
    Changes,
    Jobs,
    Holds,
    Costs,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Incidents => "incidents",
            Metric::Dsar => "dsar",
            Metric::Changes => "changes",
            Metric::Jobs => "jobs",
            Metric::Holds => "holds",
            Metric::Costs => "costs",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("queries/{file}: {message}")]
    Query { file: String, message: String },
    #[error("{0}")]
    Usage(String),
}

pub struct Request<'a> {
    pub metric: Metric,
    pub input: &'a Path,
    /// "Now": microseconds since the Unix epoch, UTC.
    pub as_of: i64,
    /// Dates that are not business days (changes).
    pub holidays: &'a [NaiveDate],
    pub by_month: bool,
    pub targets: Targets,
    /// For an `s3://` input.
    pub s3: &'a crate::io::s3::S3Options,
    /// Jobs: each dataset's refresh cycle in seconds (`[jobs.cycles]`).
    pub cycles: &'a BTreeMap<String, f64>,
    /// Holds: the `analytics_job_run` table the purge runs are checked in.
    pub job_runs: Option<&'a Path>,
    /// Costs: the `data_incident` table a mitigation's incident must be in.
    pub incidents: Option<&'a Path>,
    /// DSAR: the deadline rule of each jurisdiction (built-in and configured).
    pub dsar_rules: &'a BTreeMap<String, crate::domain::config::DsarRule>,
}

/// What `vouch metrics` prints (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub metric: &'static str,
    pub input: String,
    pub as_of: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// The targets the rates were held against (`[targets]` in vouch.toml).
    pub targets: BTreeMap<&'static str, f64>,
    /// Rates under their target, and overdue or late items: `--fail-on-breach` exits 1.
    pub breaches: Vec<Breach>,
}

/// One figure past its target: a rate below its minimum, or a count of items (overdue,
/// late, unrecovered …) above zero.
#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    /// The figure's name in the report (`ack_within_5m_rate`, `overdue`, …).
    pub metric: &'static str,
    pub value: f64,
    pub target: f64,
    /// `at_least` (a rate and its minimum) or `at_most` (a count and its maximum).
    pub comparison: &'static str,
    /// The breach in words, as the text report shows it.
    pub message: String,
}

impl Breach {
    fn rate(metric: &'static str, value: f64, target: f64) -> Breach {
        Breach {
            metric,
            value,
            target,
            comparison: "at_least",
            message: format!("{metric} {value:.4} is below its target {target}"),
        }
    }

    /// `count` items of `metric` where none may be; `what` reads after the count.
    fn count(metric: &'static str, count: usize, what: &str) -> Breach {
        Breach {
            metric,
            value: count as f64,
            target: 0.0,
            comparison: "at_most",
            message: format!("{count} {what}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Figures {
    Incidents(Grouped<IncidentFigures>),
    Dsar(Grouped<DsarFigures>),
    Changes(Grouped<ChangeFigures>),
    Jobs(JobsFigures),
    Holds(HoldsFigures),
    Costs(Grouped<CostFigures>),
}

/// Figures overall (flattened into the top level) and per group.
#[derive(Debug, Clone, Serialize)]
pub struct Grouped<F> {
    #[serde(flatten)]
    pub all: F,
    /// Incidents by severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_severity: Option<BTreeMap<String, F>>,
    /// Requests by request type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_type: Option<BTreeMap<String, F>>,
    /// Changes by impact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_impact: Option<BTreeMap<String, F>>,
    /// Job runs by job name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_job: Option<BTreeMap<String, F>>,
    /// Cost anomalies by service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_service: Option<BTreeMap<String, F>>,
    /// Requests by jurisdiction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_jurisdiction: Option<BTreeMap<String, F>>,
    /// By month of the start, receipt or submission (`--by month`), `YYYY-MM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_month: Option<BTreeMap<String, F>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentFigures {
    pub count: u64,
    pub open: u64,
    pub mtta_mean_seconds: Option<f64>,
    pub mtta_p50_seconds: Option<f64>,
    pub mtta_p90_seconds: Option<f64>,
    pub mttr_mean_seconds: Option<f64>,
    pub mttr_p50_seconds: Option<f64>,
    pub mttr_p90_seconds: Option<f64>,
    pub ack_within_5m_rate: Option<f64>,
    pub postmortem_within_48h_rate: Option<f64>,
    pub unacknowledged: Vec<String>,
    pub missing_postmortem: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DsarFigures {
    pub requests: u64,
    pub completed: u64,
    pub open: u64,
    pub on_time_rate: Option<f64>,
    pub overdue: Vec<String>,
    pub at_risk: Vec<String>,
    /// Requests whose receipt was confirmed after their jurisdiction's receipt deadline, or
    /// not at all once it passed.
    pub receipt_late: Vec<String>,
    pub days_to_complete_p50: Option<f64>,
    pub days_to_complete_p90: Option<f64>,
    /// Overall only: completed requests by days to complete, in 5-day bins from 0 (the
    /// last bin holds 60 days and more), for the nightly report's chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_to_complete_histogram: Option<Vec<u64>>,
}

/// Bins of [`DsarFigures::days_to_complete_histogram`].
pub const HISTOGRAM_BIN_DAYS: f64 = 5.0;
pub const HISTOGRAM_BINS: usize = 13;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeFigures {
    pub changes: u64,
    pub reviewed_within_2bd_rate: Option<f64>,
    pub late: Vec<String>,
    pub pending: Vec<String>,
    pub escalations: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CostFigures {
    pub anomalies: u64,
    pub open: u64,
    pub mitigate_mean_seconds: Option<f64>,
    pub mitigate_p50_seconds: Option<f64>,
    pub mitigate_p90_seconds: Option<f64>,
    pub excess_cost_usd: Option<f64>,
    /// Anomalies with more than 80% of the budget used (the runbook's trigger).
    pub over_budget_80: Vec<String>,
    /// Mitigated anomalies the incident log does not record.
    pub unlogged: Vec<String>,
    pub open_anomalies: Vec<String>,
}

/// Legal holds kept (runbook §3.5): documented, and no purge ran under them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HoldsFigures {
    /// Datasets under legal hold.
    pub held_datasets: Vec<String>,
    /// Holds without a reason or a reviewer.
    pub undocumented_holds: Vec<String>,
    /// Holds without `hold_set_at`: every purge run of the dataset is held against them.
    pub holds_without_set_at: Vec<String>,
    /// Purge runs that ran on a held dataset since its hold was set.
    pub purges_under_hold: Vec<PurgeUnderHold>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeUnderHold {
    pub run_id: String,
    pub dataset: String,
    pub job_name: String,
    pub started_at: String,
    /// None: the hold has no `hold_set_at`.
    pub hold_set_at: Option<String>,
}

/// Run history: figures overall and per job, and how late each dataset is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobsFigures {
    #[serde(flatten)]
    pub runs: Grouped<JobFigures>,
    /// Datasets at least one cycle behind at `as_of`.
    pub stale_datasets: Vec<StaleDataset>,
    /// Datasets more than one cycle behind: the runbook's stakeholder notification.
    pub notify_required: Vec<String>,
    /// Datasets whose cycle is not configured and cannot be told from their runs (one
    /// scheduled time): how late they are is not known.
    pub cycle_unknown: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JobFigures {
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: Option<f64>,
    pub recovery_mean_seconds: Option<f64>,
    pub recovery_p50_seconds: Option<f64>,
    pub recovery_p90_seconds: Option<f64>,
    /// Failed runs no later successful run of the same job recovered.
    pub unrecovered: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleDataset {
    pub dataset: String,
    /// RFC 3339; None when no refreshing run succeeded.
    pub last_success: Option<String>,
    pub cycle_seconds: f64,
    pub missed_cycles: u64,
}

impl<F: Default> Default for Grouped<F> {
    fn default() -> Self {
        Grouped {
            all: F::default(),
            by_severity: None,
            by_type: None,
            by_impact: None,
            by_job: None,
            by_service: None,
            by_jurisdiction: None,
            by_month: None,
        }
    }
}

/// Computes one metric.
pub fn run(req: &Request<'_>) -> Result<Report, MetricsError> {
    let spec = match req.metric {
        Metric::Incidents => &input::INCIDENTS,
        Metric::Dsar => &input::DSAR,
        Metric::Changes => &input::CHANGES,
        Metric::Jobs => &input::JOBS,
        Metric::Holds => &input::HOLDS,
        Metric::Costs => &input::COSTS,
    };
    let table = input::load(req.input, req.s3, spec)?;
    let mut ctx = SQLContext::new();
    if req.metric == Metric::Holds {
        let runs = req.job_runs.ok_or_else(|| {
            MetricsError::Usage(
                "holds needs --job-runs FILE (the analytics_job_run table the purge runs are \
                 in)"
                .into(),
            )
        })?;
        let runs = input::load(runs, req.s3, &input::JOBS)?;
        ctx.register(input::JOBS.table, runs.lazy());
    }
    let params = df_of(vec![
        Series::new("as_of".into(), [req.as_of])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .map_err(internal)?,
        Series::new("incidents_checked".into(), [req.incidents.is_some()]),
    ])?;
    if req.metric == Metric::Costs {
        let incidents = match req.incidents {
            Some(p) => input::load(p, req.s3, &input::INCIDENT_IDS)?,
            None => df_of(vec![Series::new(
                "incident_id".into(),
                Vec::<Option<String>>::new(),
            )])?,
        };
        ctx.register("data_incident", incidents.lazy());
    }
    ctx.register("params", params.lazy());
    if req.metric == Metric::Changes {
        let calendar = business_calendar(&table, "submitted_at", req.holidays, 3)?;
        ctx.register("business_calendar", calendar.lazy());
    }
    if req.metric == Metric::Dsar {
        known_jurisdictions(req.input, &table, req.dsar_rules)?;
        let most = req
            .dsar_rules
            .values()
            .filter_map(|r| r.receipt_business_days)
            .max()
            .unwrap_or(0);
        let calendar = business_calendar(&table, "received_at", req.holidays, most + 1)?;
        ctx.register("business_calendar", calendar.lazy());
        ctx.register("dsar_rules", rules_frame(req.dsar_rules)?.lazy());
    }
    if req.metric == Metric::Jobs {
        let (names, seconds): (Vec<String>, Vec<f64>) =
            req.cycles.iter().map(|(k, v)| (k.clone(), *v)).unzip();
        ctx.register(
            "dataset_cycles",
            df_of(vec![
                Series::new("dataset".into(), names),
                Series::new("cycle_seconds".into(), seconds),
            ])?
            .lazy(),
        );
    }
    ctx.register(spec.table, table.lazy());
    let t = req.targets;
    let mut breaches = Vec::new();
    let mut check = |name: &'static str, rate: Option<f64>, target: f64| {
        if let Some(r) = rate.filter(|r| *r < target) {
            breaches.push(Breach::rate(name, r, target));
        }
    };
    let (figures, targets) = match req.metric {
        Metric::Incidents => {
            let g = incidents(&mut ctx, req.by_month)?;
            check(
                "ack_within_5m_rate",
                g.all.ack_within_5m_rate,
                t.ack_within_5m_rate,
            );
            check(
                "postmortem_within_48h_rate",
                g.all.postmortem_within_48h_rate,
                t.postmortem_within_48h_rate,
            );
            (
                Figures::Incidents(g),
                BTreeMap::from([
                    ("ack_within_5m_rate", t.ack_within_5m_rate),
                    ("postmortem_within_48h_rate", t.postmortem_within_48h_rate),
                ]),
            )
        }
        Metric::Dsar => {
            let g = dsar(&mut ctx, req.by_month)?;
            check("on_time_rate", g.all.on_time_rate, t.on_time_rate);
            if !g.all.overdue.is_empty() {
                breaches.push(Breach::count(
                    "overdue",
                    g.all.overdue.len(),
                    "open request(s) overdue",
                ));
            }
            if !g.all.receipt_late.is_empty() {
                breaches.push(Breach::count(
                    "receipt_late",
                    g.all.receipt_late.len(),
                    "request(s) whose receipt was not confirmed in time",
                ));
            }
            (
                Figures::Dsar(g),
                BTreeMap::from([("on_time_rate", t.on_time_rate)]),
            )
        }
        Metric::Changes => {
            let g = changes(&mut ctx, req.by_month)?;
            check(
                "reviewed_within_2bd_rate",
                g.all.reviewed_within_2bd_rate,
                t.reviewed_within_2bd_rate,
            );
            if !g.all.late.is_empty() {
                breaches.push(Breach::count(
                    "late",
                    g.all.late.len(),
                    "change(s) not reviewed within 2 business days",
                ));
            }
            (
                Figures::Changes(g),
                BTreeMap::from([("reviewed_within_2bd_rate", t.reviewed_within_2bd_rate)]),
            )
        }
        Metric::Jobs => {
            let j = jobs(&mut ctx, req.by_month)?;
            if !j.runs.all.unrecovered.is_empty() {
                breaches.push(Breach::count(
                    "unrecovered",
                    j.runs.all.unrecovered.len(),
                    "failed run(s) not recovered by a later successful run",
                ));
            }
            if !j.notify_required.is_empty() {
                breaches.push(Breach::count(
                    "notify_required",
                    j.notify_required.len(),
                    "dataset(s) more than one cycle behind: notify stakeholders",
                ));
            }
            (Figures::Jobs(j), BTreeMap::new())
        }
        Metric::Holds => {
            let h = holds(&mut ctx)?;
            if !h.undocumented_holds.is_empty() {
                breaches.push(Breach::count(
                    "undocumented_holds",
                    h.undocumented_holds.len(),
                    "legal hold(s) without a reason or a reviewer",
                ));
            }
            if !h.purges_under_hold.is_empty() {
                breaches.push(Breach::count(
                    "purges_under_hold",
                    h.purges_under_hold.len(),
                    "purge run(s) on datasets under legal hold",
                ));
            }
            (Figures::Holds(h), BTreeMap::new())
        }
        Metric::Costs => {
            let g = costs(&mut ctx, req.by_month)?;
            if !g.all.unlogged.is_empty() {
                breaches.push(Breach::count(
                    "unlogged",
                    g.all.unlogged.len(),
                    "mitigated cost anomal(ies) not in the incident log",
                ));
            }
            if !g.all.over_budget_80.is_empty() {
                breaches.push(Breach::count(
                    "over_budget_80",
                    g.all.over_budget_80.len(),
                    "cost anomal(ies) past 80% of the budget",
                ));
            }
            (Figures::Costs(g), BTreeMap::new())
        }
    };
    Ok(Report {
        schema_version: 1,
        metric: req.metric.name(),
        input: req.input.display().to_string(),
        as_of: rfc3339_micros(req.as_of),
        figures,
        targets,
        breaches,
    })
}

/// RFC 3339, UTC, whole seconds unless there is a fraction.
pub fn rfc3339_micros(t: i64) -> String {
    chrono::DateTime::from_timestamp_micros(t)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn internal(e: PolarsError) -> MetricsError {
    MetricsError::Usage(format!("internal: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

fn df_of(columns: Vec<Series>) -> Result<DataFrame, MetricsError> {
    let height = columns.first().map_or(0, |s| s.len());
    DataFrame::new(height, columns.into_iter().map(Column::from).collect()).map_err(internal)
}

/// Runs a query of `queries/` and collects it; errors name the file.
fn execute(ctx: &mut SQLContext, file: &str) -> Result<DataFrame, MetricsError> {
    let fail = |e: PolarsError| MetricsError::Query {
        file: file.into(),
        message: first_line(&e.to_string()),
    };
    ctx.execute(query(file))
        .and_then(|lf| lf.collect())
        .map_err(fail)
}

/// The rows of a per-row query, repeated once per grouping with `grp_kind` and `grp` set
/// (`all`/`all`, then `<kind>`/<the column's value>), ready for the summary query.
fn grouped(facts: &DataFrame, groupings: &[(&str, &str)]) -> Result<LazyFrame, MetricsError> {
    let parts: Vec<LazyFrame> = groupings
        .iter()
        .map(|(kind, column)| {
            let value = if *column == "all" {
                lit("all")
            } else {
                col(*column).cast(DataType::String)
            };
            facts
                .clone()
                .lazy()
                .with_columns([lit(*kind).alias("grp_kind"), value.alias("grp")])
        })
        .collect();
    concat(parts, UnionArgs::default()).map_err(internal)
}

/// The groupings of a metric: overall, by `by` (as `kind`), and by month when asked.
fn groupings<'a>(kind: &'a str, by: &'a str, by_month: bool) -> Vec<(&'a str, &'a str)> {
    let mut g = vec![("all", "all"), (kind, by)];
    if by_month {
        g.push(("month", "month"));
    }
    g
}

/// A group's key: (grp_kind, grp); a missing value is `(none)`.
type Key = (String, String);

fn keys(df: &DataFrame) -> Result<Vec<Key>, MetricsError> {
    let kinds = strings(df, "grp_kind")?;
    let grps = strings(df, "grp")?;
    Ok(kinds
        .into_iter()
        .zip(grps)
        .map(|(k, g)| {
            (
                k.unwrap_or_default(),
                g.unwrap_or_else(|| "(none)".to_string()),
            )
        })
        .collect())
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, MetricsError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(internal)?;
    let s = c.str().map_err(internal)?;
    Ok(s.iter().map(|v| v.map(str::to_string)).collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, MetricsError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(internal)?;
    let s = c.f64().map_err(internal)?;
    Ok(s.iter().map(|v| v.filter(|x| x.is_finite())).collect())
}

fn counts(df: &DataFrame, name: &str) -> Result<Vec<u64>, MetricsError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Int64))
        .map_err(internal)?;
    let s = c.i64().map_err(internal)?;
    Ok(s.iter().map(|v| v.unwrap_or(0).max(0) as u64).collect())
}

/// The ids of the rows of `facts` where `flag` holds, by group (every group each row is
/// in), in id order.
fn listed(
    facts: &DataFrame,
    groups: &[(&str, &str)],
    flag: Expr,
    id: &str,
) -> Result<BTreeMap<Key, Vec<String>>, MetricsError> {
    let by: Vec<&str> = groups
        .iter()
        .map(|(_, c)| *c)
        .filter(|c| *c != "all")
        .collect();
    let picked = facts
        .clone()
        .lazy()
        .filter(flag)
        .select(
            std::iter::once(col(id))
                .chain(by.iter().map(|c| col(*c).cast(DataType::String)))
                .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(internal)?;
    let ids: Vec<String> = strings(&picked, id)?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let mut out = BTreeMap::new();
    let mut column = 0;
    for (kind, c) in groups {
        if *c == "all" {
            out.insert(("all".to_string(), "all".to_string()), ids.clone());
            continue;
        }
        let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (row, v) in strings(&picked, by[column])?.into_iter().enumerate() {
            let v = v.unwrap_or_else(|| "(none)".to_string());
            match lists.get_mut(&v) {
                Some(l) => l.push(ids[row].clone()),
                None => {
                    lists.insert(v, vec![ids[row].clone()]);
                }
            }
        }
        column += 1;
        out.extend(lists.into_iter().map(|(v, l)| ((kind.to_string(), v), l)));
    }
    Ok(out)
}

/// Splits figures by key into overall, by `kind` (and by jurisdiction for requests), and
/// by month.
fn split<F: Default + Clone>(mut figs: BTreeMap<Key, F>, kind: &str, by_month: bool) -> Grouped<F> {
    let all = figs
        .remove(&("all".to_string(), "all".to_string()))
        .unwrap_or_default();
    let mut kinds: BTreeMap<String, BTreeMap<String, F>> = BTreeMap::new();
    for ((k, g), f) in figs {
        kinds.entry(k).or_default().insert(g, f);
    }
    let mut take = |k: &str, wanted: bool| wanted.then(|| kinds.remove(k).unwrap_or_default());
    Grouped {
        all,
        by_severity: take("severity", kind == "severity"),
        by_type: take("request_type", kind == "request_type"),
        by_impact: take("impact", kind == "impact"),
        by_job: take("job", kind == "job"),
        by_service: take("service", kind == "service"),
        by_jurisdiction: take("jurisdiction", kind == "request_type"),
        by_month: take("month", by_month),
    }
}

fn incidents(
    ctx: &mut SQLContext,
    by_month: bool,
) -> Result<Grouped<IncidentFigures>, MetricsError> {
    let facts = execute(ctx, "incidents.sql")?;
    let groups = groupings("severity", "severity", by_month);
    let g = grouped(&facts, &groups)?;
    ctx.register("incident_facts", g);
    let s = execute(ctx, "incidents_summary.sql")?;
    let (count, open) = (counts(&s, "count")?, counts(&s, "open")?);
    let f = |n: &str| floats(&s, n);
    let (a_mean, a50, a90) = (
        f("mtta_mean_seconds")?,
        f("mtta_p50_seconds")?,
        f("mtta_p90_seconds")?,
    );
    let (r_mean, r50, r90) = (
        f("mttr_mean_seconds")?,
        f("mttr_p50_seconds")?,
        f("mttr_p90_seconds")?,
    );
    let (ack, pm) = (f("ack_within_5m_rate")?, f("postmortem_within_48h_rate")?);
    let mut figs = BTreeMap::new();
    for (i, k) in keys(&s)?.into_iter().enumerate() {
        figs.insert(
            k,
            IncidentFigures {
                count: count[i],
                open: open[i],
                mtta_mean_seconds: a_mean[i],
                mtta_p50_seconds: a50[i],
                mtta_p90_seconds: a90[i],
                mttr_mean_seconds: r_mean[i],
                mttr_p50_seconds: r50[i],
                mttr_p90_seconds: r90[i],
                ack_within_5m_rate: ack[i],
                postmortem_within_48h_rate: pm[i],
                ..IncidentFigures::default()
            },
        );
    }
    for (k, ids) in listed(&facts, &groups, col("tta_seconds").is_null(), "incident_id")? {
        figs.entry(k).or_default().unacknowledged = ids;
    }
    for (k, ids) in listed(
        &facts,
        &groups,
        col("postmortem").eq(lit("missing")),
        "incident_id",
    )? {
        figs.entry(k).or_default().missing_postmortem = ids;
    }
    Ok(split(figs, "severity", by_month))
}

fn dsar(ctx: &mut SQLContext, by_month: bool) -> Result<Grouped<DsarFigures>, MetricsError> {
    let facts = execute(ctx, "dsar.sql")?;
    let mut groups = groupings("request_type", "request_type", by_month);
    groups.insert(2, ("jurisdiction", "jurisdiction"));
    let g = grouped(&facts, &groups)?;
    ctx.register("dsar_facts", g);
    let s = execute(ctx, "dsar_summary.sql")?;
    let (requests, completed, open) = (
        counts(&s, "requests")?,
        counts(&s, "completed")?,
        counts(&s, "open")?,
    );
    let (rate, p50, p90) = (
        floats(&s, "on_time_rate")?,
        floats(&s, "days_to_complete_p50")?,
        floats(&s, "days_to_complete_p90")?,
    );
    let mut figs = BTreeMap::new();
    for (i, k) in keys(&s)?.into_iter().enumerate() {
        figs.insert(
            k,
            DsarFigures {
                requests: requests[i],
                completed: completed[i],
                open: open[i],
                on_time_rate: rate[i],
                days_to_complete_p50: p50[i],
                days_to_complete_p90: p90[i],
                ..DsarFigures::default()
            },
        );
    }
    let mut histogram = vec![0u64; HISTOGRAM_BINS];
    for d in floats(&facts, "days_to_complete")?.into_iter().flatten() {
        let bin = ((d / HISTOGRAM_BIN_DAYS).floor().max(0.0) as usize).min(HISTOGRAM_BINS - 1);
        histogram[bin] += 1;
    }
    if let Some(all) = figs.get_mut(&("all".to_string(), "all".to_string())) {
        all.days_to_complete_histogram = Some(histogram);
    }
    for (k, ids) in listed(&facts, &groups, col("overdue"), "request_id")? {
        figs.entry(k).or_default().overdue = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("at_risk"), "request_id")? {
        figs.entry(k).or_default().at_risk = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("receipt_late"), "request_id")? {
        figs.entry(k).or_default().receipt_late = ids;
    }
    Ok(split(figs, "request_type", by_month))
}

fn changes(ctx: &mut SQLContext, by_month: bool) -> Result<Grouped<ChangeFigures>, MetricsError> {
    let facts = execute(ctx, "changes.sql")?;
    let groups = groupings("impact", "impact", by_month);
    let g = grouped(&facts, &groups)?;
    ctx.register("change_facts", g);
    let s = execute(ctx, "changes_summary.sql")?;
    let (n, rate) = (
        counts(&s, "changes")?,
        floats(&s, "reviewed_within_2bd_rate")?,
    );
    let mut figs = BTreeMap::new();
    for (i, k) in keys(&s)?.into_iter().enumerate() {
        figs.insert(
            k,
            ChangeFigures {
                changes: n[i],
                reviewed_within_2bd_rate: rate[i],
                ..ChangeFigures::default()
            },
        );
    }
    for (k, ids) in listed(&facts, &groups, col("late"), "change_id")? {
        figs.entry(k).or_default().late = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("pending"), "change_id")? {
        figs.entry(k).or_default().pending = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("escalate"), "change_id")? {
        figs.entry(k).or_default().escalations = ids;
    }
    Ok(split(figs, "impact", by_month))
}

fn costs(ctx: &mut SQLContext, by_month: bool) -> Result<Grouped<CostFigures>, MetricsError> {
    let facts = execute(ctx, "costs.sql")?;
    let groups = groupings("service", "service", by_month);
    let g = grouped(&facts, &groups)?;
    ctx.register("cost_facts", g);
    let s = execute(ctx, "costs_summary.sql")?;
    let (n, open) = (counts(&s, "anomalies")?, counts(&s, "open")?);
    let f = |n: &str| floats(&s, n);
    let (mean, p50, p90, excess) = (
        f("mitigate_mean_seconds")?,
        f("mitigate_p50_seconds")?,
        f("mitigate_p90_seconds")?,
        f("excess_cost_usd")?,
    );
    let mut figs = BTreeMap::new();
    for (i, k) in keys(&s)?.into_iter().enumerate() {
        figs.insert(
            k,
            CostFigures {
                anomalies: n[i],
                open: open[i],
                mitigate_mean_seconds: mean[i],
                mitigate_p50_seconds: p50[i],
                mitigate_p90_seconds: p90[i],
                excess_cost_usd: excess[i],
                ..CostFigures::default()
            },
        );
    }
    for (k, ids) in listed(&facts, &groups, col("over_budget_80"), "anomaly_id")? {
        figs.entry(k).or_default().over_budget_80 = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("unlogged"), "anomaly_id")? {
        figs.entry(k).or_default().unlogged = ids;
    }
    for (k, ids) in listed(&facts, &groups, col("open"), "anomaly_id")? {
        figs.entry(k).or_default().open_anomalies = ids;
    }
    Ok(split(figs, "service", by_month))
}

fn holds(ctx: &mut SQLContext) -> Result<HoldsFigures, MetricsError> {
    let h = execute(ctx, "holds.sql")?;
    let names: Vec<String> = strings(&h, "dataset")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let flag = |name: &str| -> Result<Vec<bool>, MetricsError> {
        let c = h.column(name).map_err(internal)?;
        let b = c.bool().map_err(internal)?;
        Ok(b.iter().map(|v| v.unwrap_or(false)).collect())
    };
    let (undocumented, unknown) = (flag("undocumented")?, flag("since_unknown")?);
    let pick = |f: &[bool]| -> Vec<String> {
        names
            .iter()
            .zip(f)
            .filter(|(_, b)| **b)
            .map(|(n, _)| n.clone())
            .collect()
    };
    let p = execute(ctx, "holds_purges.sql")?;
    let times = |name: &str| -> Result<Vec<Option<String>>, MetricsError> {
        let c = p
            .column(name)
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(internal)?;
        Ok(c.i64()
            .map_err(internal)?
            .iter()
            .map(|t| t.map(rfc3339_micros))
            .collect())
    };
    let (runs, datasets, jobs) = (
        strings(&p, "run_id")?,
        strings(&p, "dataset")?,
        strings(&p, "job_name")?,
    );
    let (started, set_at) = (times("started_at")?, times("hold_set_at")?);
    let purges = (0..p.height())
        .map(|i| PurgeUnderHold {
            run_id: runs[i].clone().unwrap_or_default(),
            dataset: datasets[i].clone().unwrap_or_default(),
            job_name: jobs[i].clone().unwrap_or_default(),
            started_at: started[i].clone().unwrap_or_default(),
            hold_set_at: set_at[i].clone(),
        })
        .collect();
    Ok(HoldsFigures {
        undocumented_holds: pick(&undocumented),
        holds_without_set_at: pick(&unknown),
        held_datasets: names,
        purges_under_hold: purges,
    })
}

fn jobs(ctx: &mut SQLContext, by_month: bool) -> Result<JobsFigures, MetricsError> {
    let facts = execute(ctx, "jobs.sql")?;
    let groups = groupings("job", "job_name", by_month);
    let g = grouped(&facts, &groups)?;
    ctx.register("job_facts", g);
    let s = execute(ctx, "jobs_summary.sql")?;
    let (runs, failed) = (counts(&s, "runs")?, counts(&s, "failed")?);
    let f = |n: &str| floats(&s, n);
    let (rate, mean, p50, p90) = (
        f("failure_rate")?,
        f("recovery_mean_seconds")?,
        f("recovery_p50_seconds")?,
        f("recovery_p90_seconds")?,
    );
    let mut figs = BTreeMap::new();
    for (i, k) in keys(&s)?.into_iter().enumerate() {
        figs.insert(
            k,
            JobFigures {
                runs: runs[i],
                failed: failed[i],
                failure_rate: rate[i],
                recovery_mean_seconds: mean[i],
                recovery_p50_seconds: p50[i],
                recovery_p90_seconds: p90[i],
                ..JobFigures::default()
            },
        );
    }
    for (k, ids) in listed(&facts, &groups, col("unrecovered"), "run_id")? {
        figs.entry(k).or_default().unrecovered = ids;
    }
    let d = execute(ctx, "jobs_datasets.sql")?;
    let names = strings(&d, "dataset")?;
    let cycles = floats(&d, "cycle_seconds")?;
    let missed = d
        .column("missed_cycles")
        .and_then(|c| c.cast(&DataType::Int64))
        .map_err(internal)?;
    let missed: Vec<Option<i64>> = missed.i64().map_err(internal)?.iter().collect();
    let last = d
        .column("last_success")
        .and_then(|c| c.cast(&DataType::Int64))
        .map_err(internal)?;
    let last: Vec<Option<i64>> = last.i64().map_err(internal)?.iter().collect();
    let mut out = JobsFigures {
        runs: split(figs, "job", by_month),
        ..JobsFigures::default()
    };
    for i in 0..d.height() {
        let name = names[i].clone().unwrap_or_default();
        match (cycles[i], missed[i]) {
            (Some(cycle), Some(m)) if m >= 1 => {
                if m > 1 {
                    out.notify_required.push(name.clone());
                }
                out.stale_datasets.push(StaleDataset {
                    dataset: name,
                    last_success: last[i].map(rfc3339_micros),
                    cycle_seconds: cycle,
                    missed_cycles: m as u64,
                });
            }
            (Some(_), Some(_)) => {}
            _ => out.cycle_unknown.push(name),
        }
    }
    Ok(out)
}

/// The jurisdictions' rules as the `dsar_rules` table.
fn rules_frame(
    rules: &BTreeMap<String, crate::domain::config::DsarRule>,
) -> Result<DataFrame, MetricsError> {
    let v = |f: fn(&crate::domain::config::DsarRule) -> i64| -> Vec<i64> {
        rules.values().map(f).collect()
    };
    df_of(vec![
        Series::new(
            "jurisdiction".into(),
            rules.keys().cloned().collect::<Vec<_>>(),
        ),
        Series::new("months".into(), v(|r| r.months)),
        Series::new("days".into(), v(|r| r.days)),
        Series::new("extension_months".into(), v(|r| r.extension_months)),
        Series::new("extension_days".into(), v(|r| r.extension_days)),
        Series::new(
            "receipt_business_days".into(),
            rules
                .values()
                .map(|r| r.receipt_business_days)
                .collect::<Vec<_>>(),
        ),
    ])
}

/// Every request's jurisdiction has a rule (empty is GDPR's); else the row that lacks one.
fn known_jurisdictions(
    input: &Path,
    requests: &DataFrame,
    rules: &BTreeMap<String, crate::domain::config::DsarRule>,
) -> Result<(), MetricsError> {
    for (i, j) in strings(requests, "jurisdiction")?.into_iter().enumerate() {
        let j = j.map(|j| j.trim().to_lowercase()).unwrap_or_default();
        if !j.is_empty() && !rules.contains_key(&j) {
            return Err(MetricsError::Table(TableError::BadValue {
                path: input.display().to_string(),
                column: "jurisdiction".into(),
                row: i + 1,
                message: format!(
                    "{j:?} has no deadline rule (built in: gdpr, ccpa, lgpd; others in \
                     [dsar.jurisdictions] of vouch.toml)"
                ),
            }));
        }
    }
    Ok(())
}

/// One row per date from the first `column` day until `after` business days after the
/// last one's: `day`, `is_business_day` (Monday–Friday, not a holiday) and
/// `business_days` (business days up to and including `day`).
fn business_calendar(
    table: &DataFrame,
    column: &str,
    holidays: &[NaiveDate],
    after_days: i64,
) -> Result<DataFrame, MetricsError> {
    let submitted = table
        .column(column)
        .and_then(|c| c.cast(&DataType::Int64))
        .map_err(internal)?;
    let submitted = submitted.i64().map_err(internal)?;
    let day_of = |t: i64| chrono::DateTime::from_timestamp_micros(t).map(|d| d.date_naive());
    let (mut days, mut numbers, mut business) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(first), Some(last)) = (
        submitted.min().and_then(day_of),
        submitted.max().and_then(day_of),
    ) {
        let holidays: std::collections::HashSet<NaiveDate> = holidays.iter().copied().collect();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let (mut day, mut n, mut after) = (first, 0i64, 0);
        while after < after_days {
            let is_business = day.weekday().number_from_monday() <= 5 && !holidays.contains(&day);
            n += i64::from(is_business);
            if day > last && is_business {
                after += 1;
            }
            days.push((day - epoch).num_days() as i32);
            numbers.push(n);
            business.push(is_business);
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
    }
    df_of(vec![
        Series::new("day".into(), days)
            .cast(&DataType::Date)
            .map_err(internal)?,
        Series::new("business_days".into(), numbers),
        Series::new("is_business_day".into(), business),
    ])
}

/// Reads `--holidays`: ISO dates, one a line; blank lines and `#` comments ignored.
pub fn read_holidays(path: &Path) -> Result<Vec<NaiveDate>, MetricsError> {
    let shown = path.display();
    let text = crate::io::fsio::read_to_string_or_stdin(path).map_err(|e| {
        MetricsError::Usage(format!("{shown}: {}", crate::io::store::io_message(&e)))
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        out.push(NaiveDate::parse_from_str(l, "%Y-%m-%d").map_err(|_| {
            MetricsError::Usage(format!(
                "{shown}: line {}: {l:?} is not a date (YYYY-MM-DD)",
                i + 1
            ))
        })?);
    }
    Ok(out)
}

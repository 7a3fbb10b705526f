//! `vouch metrics`: the SLA figures of one runbook table.

use std::path::PathBuf;

use crate::domain::metrics::{Metric, Report, Request};
use crate::domain::time::Timestamp;
use crate::ops::{Env, OpError};

pub struct Options {
    pub metric: Metric,
    pub input: PathBuf,
    /// Default: `env.now`.
    pub as_of: Option<Timestamp>,
    /// The targets' config (default: 1.0 each).
    pub config: Option<PathBuf>,
    pub holidays: Option<PathBuf>,
    pub by_month: bool,
    /// Holds: the analytics_job_run table.
    pub job_runs: Option<PathBuf>,
    /// Costs: the data_incident table.
    pub incidents: Option<PathBuf>,
}

pub fn run(opts: &Options, env: &Env<'_>) -> Result<Report, OpError> {
    let cfg = match &opts.config {
        Some(p) => crate::domain::config::Config::load(p)?,
        None => Default::default(),
    };
    let cycles = cfg.jobs.cycle_seconds()?;
    let dsar_rules = cfg.dsar.rules()?;
    let holidays = match &opts.holidays {
        Some(p) => crate::domain::metrics::read_holidays(p)?,
        None => Vec::new(),
    };
    Ok(crate::domain::metrics::run(&Request {
        metric: opts.metric,
        input: &opts.input,
        as_of: opts.as_of.unwrap_or(env.now).micros(),
        holidays: &holidays,
        by_month: opts.by_month,
        targets: cfg.targets,
        s3: &env.s3,
        cycles: &cycles,
        job_runs: opts.job_runs.as_deref(),
        incidents: opts.incidents.as_deref(),
        dsar_rules: &dsar_rules,
    })?)
}

/// 1 when asked to fail on a breach and there is one.
pub fn exit_code(r: &Report, fail_on_breach: bool) -> u8 {
    u8::from(fail_on_breach && !r.breaches.is_empty())
}

//! `vouch retention check`: S3 Object Lock retention of every version under a prefix.

use crate::domain::retention::RetentionReport;
use crate::ops::{Env, OpError};

pub struct Options {
    /// `s3://bucket/prefix`
    pub location: String,
    pub min_years: u32,
    pub require_compliance: bool,
}

/// The report (the S3 adapter lists the locks; `domain::retention` judges them).
pub fn run(opts: &Options, env: &Env<'_>) -> Result<RetentionReport, OpError> {
    let store = crate::io::s3::S3Store::connect(&opts.location, &env.s3)?;
    let listing = store.object_locks()?;
    Ok(crate::domain::retention::judge(
        &listing,
        opts.min_years,
        opts.require_compliance,
    )?)
}

pub fn to_text(r: &RetentionReport) -> String {
    use std::fmt::Write as _;
    crate::ops::text(|out| {
        if r.violations.is_empty() {
            writeln!(
                out,
                "OK: {} version(s) under {} retained for at least {} years",
                r.versions_checked, r.location, r.min_years
            )?;
        } else {
            writeln!(
                out,
                "VIOLATIONS: {} of {} version(s) under {}",
                r.violations.len(),
                r.versions_checked,
                r.location
            )?;
            for v in &r.violations {
                writeln!(
                    out,
                    "  {} (version {}): {}",
                    v.key,
                    v.version_id.as_deref().unwrap_or("-"),
                    v.problem
                )?;
            }
        }
        Ok(())
    })
}

pub fn exit_code(r: &RetentionReport) -> u8 {
    u8::from(!r.violations.is_empty())
}

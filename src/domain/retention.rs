//! Retention judgements, pure: how long a version must be kept, and whether what S3
//! reports for each version under a prefix meets the policy (`vouch retention check`,
//! the nightly `retention_check`). The S3 adapter only lists; this decides.

use chrono::{Datelike, NaiveDate};

use crate::io::s3::LockListing;

/// `date` plus whole calendar years; Feb 29 becomes Feb 28 in a common year.
pub fn retain_until(date: NaiveDate, years: u32) -> NaiveDate {
    let y = date.year() + years as i32;
    date.with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))
        .unwrap_or(date)
}

/// The start (00:00 UTC) of the day `years` calendar years after `t`'s day (Feb 29
/// becomes Feb 28), Unix seconds. Retention is counted in calendar days, as evidence
/// bundles set it: bagged and uploaded on a day, kept until that date 7 years on.
pub fn plus_years(t: i64, years: u32) -> i64 {
    let Some(d) = chrono::DateTime::from_timestamp(t, 0) else {
        return i64::MAX;
    };
    retain_until(d.date_naive(), years)
        .and_hms_opt(0, 0, 0)
        .map_or(i64::MAX, |d| d.and_utc().timestamp())
}

/// The start of a `YYYY-MM-DD` day, Unix seconds (a bundle's Retain-Until as the lock's).
pub fn day_start(date: &str) -> Option<i64> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// One object version that does not meet the retention policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetentionViolation {
    pub key: String,
    pub version_id: Option<String>,
    pub problem: String,
}

/// `vouch retention check`: every version under a prefix against the policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetentionReport {
    pub schema_version: u32,
    pub location: String,
    pub min_years: u32,
    pub require_compliance: bool,
    pub versions_checked: u64,
    pub delete_markers: u64,
    pub violations: Vec<RetentionViolation>,
}

/// What is wrong with one version's lock, if anything.
pub fn version_problem(
    mode: Option<&str>,
    until: Option<i64>,
    created: i64,
    min_years: u32,
    require_compliance: bool,
) -> Option<String> {
    let need = plus_years(created, min_years);
    match (mode, until) {
        (None, _) | (_, None) => Some("no Object Lock retention".to_string()),
        (Some(_), Some(u)) if u < need => Some(format!(
            "retained until {}, {min_years} years needs {}",
            crate::domain::report::rfc3339(u),
            crate::domain::report::rfc3339(need)
        )),
        (Some("GOVERNANCE"), _) if require_compliance => {
            Some("governance mode (compliance is required)".to_string())
        }
        _ => None,
    }
}

/// Each version's lock must keep it `min_years` after its creation (in compliance mode
/// when required); a key whose latest version is a delete marker is reported too (its
/// locked versions are hidden from readers). Nothing to check is an error: most likely a
/// wrong location.
pub fn judge(
    listing: &LockListing,
    min_years: u32,
    require_compliance: bool,
) -> Result<RetentionReport, String> {
    let mut report = RetentionReport {
        schema_version: 1,
        location: listing.location.clone(),
        min_years,
        require_compliance,
        versions_checked: listing.versions.len() as u64,
        delete_markers: listing.markers.len() as u64,
        violations: vec![],
    };
    for m in listing.markers.iter().filter(|m| m.is_latest) {
        report.violations.push(RetentionViolation {
            key: m.key.clone(),
            version_id: m.version_id.clone(),
            problem: "hidden behind a delete marker".into(),
        });
    }
    for v in &listing.versions {
        if let Some(problem) = version_problem(
            v.mode.as_deref(),
            v.retain_until,
            v.created,
            min_years,
            require_compliance,
        ) {
            report.violations.push(RetentionViolation {
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                problem,
            });
        }
    }
    if report.versions_checked == 0 && report.delete_markers == 0 {
        return Err(format!("{}: no objects to check", listing.location));
    }
    report
        .violations
        .sort_by(|a, b| (&a.key, &a.version_id).cmp(&(&b.key, &b.version_id)));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::s3::{DeleteMarker, VersionLock};

    const DAY: i64 = 86_400;

    fn version(key: &str, mode: Option<&str>, until: Option<i64>) -> VersionLock {
        VersionLock {
            key: key.into(),
            version_id: Some("v".into()),
            created: 1_795_737_600,
            mode: mode.map(str::to_string),
            retain_until: until,
        }
    }

    #[test]
    fn judges_each_version_without_s3() {
        let seven = plus_years(1_795_737_600, 7);
        let listing = LockListing {
            location: "s3://b/p".into(),
            versions: vec![
                version("ok", Some("COMPLIANCE"), Some(seven)),
                version("short", Some("COMPLIANCE"), Some(seven - DAY)),
                version("none", None, None),
                version("gov", Some("GOVERNANCE"), Some(seven)),
            ],
            markers: vec![
                DeleteMarker {
                    key: "gone".into(),
                    version_id: Some("m".into()),
                    is_latest: true,
                },
                DeleteMarker {
                    key: "old".into(),
                    version_id: Some("m".into()),
                    is_latest: false,
                },
            ],
        };
        let r = judge(&listing, 7, true).unwrap();
        let got: Vec<(&str, &str)> = r
            .violations
            .iter()
            .map(|v| (v.key.as_str(), v.problem.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("gone", "hidden behind a delete marker"),
                ("gov", "governance mode (compliance is required)"),
                ("none", "no Object Lock retention"),
                (
                    "short",
                    "retained until 2033-11-26T00:00:00Z, 7 years needs 2033-11-27T00:00:00Z"
                ),
            ]
        );
        assert_eq!((r.versions_checked, r.delete_markers), (4, 2));
        assert_eq!(judge(&listing, 7, false).unwrap().violations.len(), 3);
        let empty = LockListing {
            location: "s3://b/p".into(),
            ..Default::default()
        };
        assert_eq!(
            judge(&empty, 7, true).unwrap_err(),
            "s3://b/p: no objects to check"
        );
        assert_eq!(day_start("2033-11-27"), Some(seven));
    }
}

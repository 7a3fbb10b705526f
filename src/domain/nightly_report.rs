//! The nightly report's shape: each check's status, summary and details, and the worst
//! status. `ops::nightly` fills it; `domain::html` renders it.

use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not configured.
    Skipped,
    Ok,
    /// A promise is broken: residual rows, a missing audit-log row, a breach.
    Violation,
    /// The check could not decide: an unreadable table, file or bucket.
    Error,
}

impl Status {
    /// `ok`, or `violation` when a promise is broken.
    pub fn violation_if(broken: bool) -> Status {
        if broken {
            Status::Violation
        } else {
            Status::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Violation => "violation",
            Status::Error => "error",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Status::Skipped | Status::Ok => 0,
            Status::Violation => 1,
            Status::Error => 2,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    /// One line, no subject IDs.
    pub summary: String,
    pub details: serde_json::Value,
}

impl Check {
    pub fn new(check: &'static str, status: Status, summary: impl Into<String>) -> Check {
        Check {
            check,
            status,
            summary: summary.into(),
            details: json!({}),
        }
    }
}

/// `DIR/report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct NightlyReport {
    pub schema_version: u32,
    pub kind: &'static str,
    pub as_of: String,
    pub tool: String,
    /// The worst status of the checks.
    pub status: Status,
    pub exit_code: u8,
    pub checks: Vec<Check>,
}

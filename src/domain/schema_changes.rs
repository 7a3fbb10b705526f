//! Schema changes night to night (runbook §1: a new table or schema change goes through
//! change control; "involve Privacy if new PII fields appear"). Pure: it compares two
//! nights' schemas and holds the changes against the governance change log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per table, per top-level column, its type as the files say.
pub type Schemas = BTreeMap<String, BTreeMap<String, String>>;

/// One change between two nights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    pub table: String,
    /// None for a table that appeared or vanished.
    pub column: Option<String>,
    /// `table_added`, `table_removed`, `column_added`, `column_removed`, `type_changed`.
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A row of `governance_change_log` as the check reads it.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub change_id: String,
    pub impact: String,
    /// Microseconds since the Unix epoch.
    pub submitted_at: Option<i64>,
    pub reviewed_at: Option<i64>,
    /// The datasets it names (lower case).
    pub datasets: Vec<String>,
}

/// A change no reviewed change-log row covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub kind: &'static str,
    pub table: String,
    pub column: Option<String>,
    pub change: String,
    pub reason: String,
}

/// What changed from `before` to `now`, table by table, column by column.
pub fn diff(before: &Schemas, now: &Schemas) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    let change = |table: &str,
                  column: Option<&str>,
                  what: &str,
                  from: Option<&String>,
                  to: Option<&String>| {
        SchemaChange {
            table: table.to_string(),
            column: column.map(str::to_string),
            change: what.to_string(),
            from: from.cloned(),
            to: to.cloned(),
        }
    };
    for (t, cols) in now {
        match before.get(t) {
            None => {
                out.push(change(t, None, "table_added", None, None));
                for (c, ty) in cols {
                    out.push(change(t, Some(c), "column_added", None, Some(ty)));
                }
            }
            Some(old) => {
                for (c, ty) in cols {
                    match old.get(c) {
                        None => out.push(change(t, Some(c), "column_added", None, Some(ty))),
                        Some(o) if o != ty => {
                            out.push(change(t, Some(c), "type_changed", Some(o), Some(ty)))
                        }
                        Some(_) => {}
                    }
                }
                for (c, ty) in old {
                    if !cols.contains_key(c) {
                        out.push(change(t, Some(c), "column_removed", Some(ty), None));
                    }
                }
            }
        }
    }
    for t in before.keys() {
        if !now.contains_key(t) {
            out.push(change(t, None, "table_removed", None, None));
        }
    }
    out
}

/// Whether a column name looks like personal data: one of its words (split at `_`, `-`,
/// `.` and case changes) starts with a pattern (`email_hash`, `ip_address`, `birthDate`).
pub fn looks_personal(column: &str, patterns: &[String]) -> bool {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for ch in column.chars() {
        if !ch.is_alphanumeric() {
            words.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = ch.is_lowercase();
        word.extend(ch.to_lowercase());
    }
    words.push(word);
    words
        .iter()
        .filter(|w| !w.is_empty())
        .any(|w| patterns.iter().any(|p| w.starts_with(&p.to_lowercase())))
}

/// The changes no row covers: a row naming the table's dataset, submitted at or before
/// `now` (before the change was seen tonight) and reviewed by then; a new column that
/// looks like personal data needs such a row of impact `high` or `regulatory`.
pub fn unreviewed(
    changes: &[SchemaChange],
    log: &[ChangeRow],
    now: i64,
    pii_patterns: &[String],
) -> Vec<Violation> {
    let covering = |table: &str, strong: bool| {
        log.iter().any(|r| {
            r.datasets.iter().any(|d| d.eq_ignore_ascii_case(table))
                && r.submitted_at.is_some_and(|s| s <= now)
                && r.reviewed_at.is_some_and(|v| v <= now)
                && (!strong
                    || matches!(
                        r.impact.trim().to_lowercase().as_str(),
                        "high" | "regulatory"
                    ))
        })
    };
    let mut out = Vec::new();
    for c in changes {
        let personal = c.change == "column_added"
            && c.column
                .as_deref()
                .is_some_and(|col| looks_personal(col, pii_patterns));
        let reason = if !covering(&c.table, false) {
            "no reviewed change in governance_change_log names this dataset"
        } else if personal && !covering(&c.table, true) {
            "a new column that looks like personal data needs a reviewed change of impact \
             high or regulatory (involve Privacy)"
        } else {
            continue;
        };
        out.push(Violation {
            kind: "unreviewed_schema_change",
            table: c.table.clone(),
            column: c.column.clone(),
            change: c.change.clone(),
            reason: reason.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(t: &[(&str, &[(&str, &str)])]) -> Schemas {
        t.iter()
            .map(|(t, cols)| {
                (
                    t.to_string(),
                    cols.iter()
                        .map(|(c, ty)| (c.to_string(), ty.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn every_kind_of_change_is_seen_and_held_against_the_log() {
        let before = schema(&[
            ("events", &[("user_id", "STRING"), ("ts", "INT64")]),
            ("old", &[("x", "INT32")]),
        ]);
        let now = schema(&[
            (
                "events",
                &[
                    ("user_id", "STRING"),
                    ("ts", "TIMESTAMP"),
                    ("email", "STRING"),
                ],
            ),
            ("fresh", &[("id", "INT64")]),
        ]);
        let changes = diff(&before, &now);
        let kinds: Vec<(&str, Option<&str>, &str)> = changes
            .iter()
            .map(|c| (c.table.as_str(), c.column.as_deref(), c.change.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("events", Some("email"), "column_added"),
                ("events", Some("ts"), "type_changed"),
                ("fresh", None, "table_added"),
                ("fresh", Some("id"), "column_added"),
                ("old", None, "table_removed"),
            ]
        );
        let pii: Vec<String> = ["email", "ip"].map(String::from).to_vec();
        let row = |datasets: &[&str], impact: &str, reviewed: Option<i64>| ChangeRow {
            change_id: "c".into(),
            impact: impact.into(),
            submitted_at: Some(10),
            reviewed_at: reviewed,
            datasets: datasets.iter().map(|d| d.to_string()).collect(),
        };
        // A low change covers events but not its new email column; fresh has no change;
        // old's change is not reviewed.
        let log = [
            row(&["events"], "low", Some(20)),
            row(&["old"], "high", None),
        ];
        let v = unreviewed(&changes, &log, 100, &pii);
        let named: Vec<(&str, Option<&str>)> = v
            .iter()
            .map(|x| (x.table.as_str(), x.column.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                ("events", Some("email")),
                ("fresh", None),
                ("fresh", Some("id")),
                ("old", None)
            ]
        );
        assert!(v[0].reason.contains("personal data"));
        // Reviewed after tonight does not count.
        assert_eq!(
            unreviewed(
                &changes[1..2],
                &[row(&["events"], "low", Some(200))],
                100,
                &pii
            )
            .len(),
            1
        );
        assert!(
            unreviewed(
                &changes,
                &[row(&["EVENTS", "fresh", "old"], "high", Some(20))],
                100,
                &pii
            )
            .is_empty()
        );
    }

    #[test]
    fn personal_looking_names_are_found_by_word() {
        let p: Vec<String> = ["email", "ip", "birth"].map(String::from).to_vec();
        for yes in [
            "email",
            "user_email_hash",
            "ip_address",
            "birthDate",
            "client-ip",
        ] {
            assert!(looks_personal(yes, &p), "{yes}");
        }
        for no in ["description", "zip", "recipient_count", "shipment"] {
            assert!(!looks_personal(no, &p), "{no}");
        }
    }
}

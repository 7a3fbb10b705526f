//! What a table format says of a table's files, as plain values a report is assembled
//! from: the version read, where each file outside the current version is (and how it goes
//! away), where masked rows are, and the copies in the table's metadata. A single scan
//! takes them from the table's view; a part of a sharded scan carries them (computed by
//! the worker that read the files, from the same view, pinned by the plan), so that a
//! merge builds the same report without reading the lake.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::copies::CopyPlace;
use crate::domain::format::TableView;
use crate::domain::lake::TableFiles;
use crate::domain::report::ScanErrorEntry;
use crate::domain::scan::{FileResult, LogFindings};

/// A Delta or Iceberg table's facts for the files one scan (or part) read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFacts {
    /// `delta` or `iceberg`.
    pub format: String,
    /// The Delta log's version, the Iceberg current snapshot's id.
    pub version: u64,
    /// How the table's engine names the table in a way out.
    pub table_ref: String,
    /// Deletes of the current version not applied: (file, why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unapplied: Vec<(String, String)>,
    /// Per file read that is outside the current version or has masked rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<FilePlaces>,
    /// Subjects' IDs in the table's metadata (log statistics, manifest bounds), placed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_copies: Vec<PlacedLogCopy>,
    /// What of the metadata's statistics could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_errors: Vec<ScanErrorEntry>,
}

/// One file's places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePlaces {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The whole file is outside the current version: where, and how it goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole: Option<CopyPlace>,
    /// Where the rows the current version masks in it are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<CopyPlace>,
}

/// A metadata file holding subjects' IDs, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedLogCopy {
    pub file: String,
    /// (subject label, values equal to the subject's ID).
    pub subjects: Vec<(String, u64)>,
    pub place: CopyPlace,
}

impl TableFacts {
    /// The facts of `lt`'s files (one result each) under its view; `lake` is the lake's
    /// location (the way out of a Delta table names it).
    pub fn of<E>(
        lt: &TableFiles,
        view: &TableView,
        results: &[Result<FileResult, E>],
        log: LogFindings,
        lake: &str,
    ) -> TableFacts {
        let t = &lt.table;
        let table_ref = view.table_ref(&crate::domain::report::join_path(lake, &t.path), &t.name);
        let mut places = Vec::new();
        for (f, r) in lt.files.iter().zip(results) {
            let masked_rows = r.as_ref().map(|o| o.masked_rows).unwrap_or(0);
            let whole = view.copy_place(&f.path, false, f.modified, &table_ref);
            if whole.is_some() || masked_rows > 0 {
                let masked = if whole.is_none() {
                    view.copy_place(&f.path, true, f.modified, &table_ref)
                } else {
                    None
                };
                places.push(FilePlaces {
                    file: f.path.clone(),
                    version_id: f.version_id().map(str::to_string),
                    whole,
                    masked,
                });
            }
        }
        let log_copies = log
            .copies
            .into_iter()
            .map(|c| PlacedLogCopy {
                place: match view {
                    TableView::Delta(d) => d.log_copy_place(c.modified, &table_ref),
                    TableView::Iceberg(i) => i.bounds_place(&table_ref),
                },
                file: c.file,
                subjects: c.subjects,
            })
            .collect();
        TableFacts {
            format: view.format().to_string(),
            version: view.version(),
            unapplied: match view {
                TableView::Iceberg(i) => i.unapplied.clone(),
                TableView::Delta(_) => Vec::new(),
            },
            table_ref,
            places,
            log_copies,
            log_errors: log.errors,
        }
    }

    /// Everything but the places: what every part that read files of the table must agree
    /// on.
    pub fn same_table(&self, other: &TableFacts) -> bool {
        TableFacts {
            places: Vec::new(),
            ..self.clone()
        } == TableFacts {
            places: Vec::new(),
            ..other.clone()
        }
    }

    /// The places of a file (path, version id), when it has any.
    pub fn places_of(&self) -> BTreeMap<(&str, Option<&str>), &FilePlaces> {
        self.places
            .iter()
            .map(|p| ((p.file.as_str(), p.version_id.as_deref()), p))
            .collect()
    }
}

//! Scans past one machine: partial reports of a [`Plan`] and their merge into the report
//! one scan would give.
//!
//! vouch stays the kernel; an engine the team already runs (Spark, Kubernetes Indexed
//! Jobs, AWS Batch array jobs) distributes the work. The pieces:
//! - [`Plan`] (in `domain::plan`): what was listed, and which shard each file is in.
//! - [`PartialReport`]: one result per covered file, plus what must agree across parts
//!   (plan, subjects, legal holds, options, index).
//! - [`crate::domain::merge`]: checks the parts cover the plan exactly once and agree,
//!   streaming plan and parts, and builds the report through the same
//!   [`crate::domain::scan::Assembler`] a single scan uses.
//!
//! Partial reports name subjects only by keyed hash: they travel between machines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::lake::{Table, TableFiles};
pub use crate::domain::plan::{
    FileList, FileRecord, Plan, PlanFile, PlanHeader, PlanTable, fingerprint, parse_file_list,
    parse_shard, shard_of, short,
};
use crate::domain::report::ScanErrorEntry;
use crate::domain::scan::facts::TableFacts;
use crate::domain::scan::{FileResult, Progress, ScanRequest};

/// A part of a sharded scan: what it covered and found, and what must agree across parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialReport {
    /// Always 1 for this layout.
    pub vouch_partial: u32,
    /// Always 1: the version every vouch JSON output carries.
    #[serde(default = "crate::domain::plan::schema_version_1")]
    pub schema_version: u32,
    /// Not a verdict: a part says nothing about the files it did not cover.
    pub note: String,
    /// The plan's fingerprint.
    pub plan: String,
    pub lake: String,
    /// `I/N` when the part is a shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub subjects: usize,
    pub subject_labels: String,
    pub subjects_fingerprint: Option<String>,
    /// Tables under legal hold when the part was scanned.
    pub legal_holds: Vec<String>,
    /// The scan's switches (statistics, bloom filters, dictionaries, CRC checks).
    pub options: String,
    /// The subject index's fingerprint, when one was used.
    pub index: Option<String>,
    /// Problems found before scanning (an unreadable retention table, ...).
    pub prior_errors: Vec<ScanErrorEntry>,
    pub bytes_read: u64,
    pub read_requests: u64,
    /// What the format of each Delta or Iceberg table says of the files covered (every
    /// part that reads a table's files read its metadata again, at the planned version).
    /// Before `files`, so that a merge reading the part as a stream has them first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub table_facts: BTreeMap<String, TableFacts>,
    /// Last of the part's fields but its authentication: the merge streams them.
    pub files: Vec<PartialFile>,
    /// `hmac-sha256:<hex>` over the rest of the part, under a key derived from the subject
    /// key every shard holds: a part edited on its way to the merge is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<String>,
}

/// One covered file and what it held, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "crate::domain::plan::FileLine<FileResult>")]
pub struct PartialFile {
    #[serde(flatten)]
    pub record: FileRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<FileResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<crate::domain::plan::FileLine<FileResult>> for PartialFile {
    fn from(mut l: crate::domain::plan::FileLine<FileResult>) -> PartialFile {
        PartialFile {
            record: l.take_record(),
            result: l.result.take(),
            error: l.error.take(),
        }
    }
}

impl PartialReport {
    pub(crate) fn authenticated_bytes(&self) -> Vec<u8> {
        let mut bare = self.clone();
        bare.authentication = None;
        serde_json::to_vec(&bare).unwrap_or_default()
    }

    /// Checks the part's `authentication` under the subject key.
    pub fn check_seal(
        &self,
        labeler: &crate::domain::subjects::SubjectLabeler,
    ) -> Result<(), String> {
        labeler.verify(
            "partial report",
            &self.authenticated_bytes(),
            self.authentication.as_deref(),
        )
    }

    /// Matching rows found in the covered files (held or not) and files that failed.
    pub fn summary(&self) -> (u64, u64) {
        let rows = self
            .files
            .iter()
            .filter_map(|f| f.result.as_ref())
            .map(|r| r.matching_rows)
            .sum();
        let errors =
            self.files.iter().filter(|f| f.error.is_some()).count() + self.prior_errors.len();
        (rows, errors as u64)
    }

    /// Exit code of the part: 2 when something could not be read, 1 when it found rows
    /// outside legal holds, else 0. Only a merge decides for the lake.
    pub fn exit_code(&self) -> u8 {
        let holds: BTreeSet<&str> = self.legal_holds.iter().map(String::as_str).collect();
        let (_, errors) = self.summary();
        let residual = self.files.iter().any(|f| {
            !holds.contains(f.record.table.as_str())
                && f.result.as_ref().is_some_and(|r| r.matching_rows > 0)
        });
        if errors > 0 { 2 } else { u8::from(residual) }
    }
}

/// The options of a scan, as parts must agree on them.
pub fn options_text(o: &crate::domain::scan::ScanOptions) -> String {
    let mut text = format!(
        "statistics={} bloom_filters={} dictionaries={} crc={}",
        o.use_statistics, o.use_bloom_filters, o.use_dictionaries, o.verify_crc
    );
    if o.exact_column_names {
        text.push_str(" exact_column_names=true");
    }
    text
}

/// The Delta and Iceberg tables that `files` (lines of one plan) belong to, listed again
/// with their metadata: each as the plan listed it (same fingerprint: identity, format,
/// version, every file), or why not. `tables` are the lake's tables as configured now.
pub fn reopen_tables(
    store: &dyn crate::io::store::Store,
    tables: &[Table],
    files: &[PlanFile],
) -> HashMap<String, Result<TableFiles, String>> {
    let mut out = HashMap::new();
    for f in files {
        let Some(ft) = &f.format_table else { continue };
        if out.contains_key(&f.record.table) {
            continue;
        }
        let name = &f.record.table;
        let reopened = match tables.iter().find(|t| &t.name == name) {
            None => Err(format!(
                "table {name} is not in the lake as configured now, so its metadata could not \
                 be read again"
            )),
            Some(t) if t.path != ft.path || t.id_columns != f.id_columns => Err(format!(
                "table {name} is configured otherwise than when it was planned (path or \
                 identifier columns)"
            )),
            Some(t) => {
                let lt = crate::domain::lake::list_table(store, t, ft.versions);
                if fingerprint(std::slice::from_ref(&lt)) == ft.fingerprint && lt.view.is_some() {
                    Ok(lt)
                } else {
                    Err(format!(
                        "table {name} changed since the plan (its version, metadata or files): \
                         plan and scan again"
                    ))
                }
            }
        };
        out.insert(name.clone(), reopened);
    }
    out
}

/// Scans exactly `files` (a subset of one plan) and returns the part. `req.tables` is not
/// used: each line names its table and identifier columns; a file of a Delta or Iceberg
/// table is read under that table's view from `reopened` ([`reopen_tables`]), and is an
/// error when the table could not be read again as planned.
pub fn scan_part(
    req: &ScanRequest<'_>,
    plan: Option<&str>,
    files: &[PlanFile],
    shard: Option<(usize, usize)>,
    progress: &dyn Progress,
    reopened: &HashMap<String, Result<TableFiles, String>>,
) -> PartialReport {
    // Group by table, keeping the input order; files of a table that could not be read
    // again are not scanned.
    let mut listed: Vec<TableFiles> = Vec::new();
    let mut refused: Vec<(FileRecord, String)> = Vec::new();
    let mut slot: HashMap<(&str, &[String]), usize> = HashMap::new();
    // Per input file, its table's slot in `listed` (None: refused), so that the part
    // lists its files in the input's order (the plan's): the merge streams them.
    let mut order: Vec<Option<usize>> = Vec::with_capacity(files.len());
    for f in files {
        let reopen = f
            .format_table
            .as_ref()
            .map(|_| reopened.get(&f.record.table));
        let base = match reopen {
            None => None,
            Some(Some(Ok(lt))) => Some(lt),
            Some(Some(Err(why))) => {
                refused.push((f.record.clone(), why.clone()));
                order.push(None);
                continue;
            }
            Some(None) => {
                refused.push((
                    f.record.clone(),
                    "its table's metadata was not read again".into(),
                ));
                order.push(None);
                continue;
            }
        };
        let i = *slot
            .entry((f.record.table.as_str(), f.id_columns.as_slice()))
            .or_insert_with(|| {
                listed.push(match base {
                    Some(lt) => TableFiles {
                        files: Vec::new(),
                        errors: Vec::new(),
                        aliases: Vec::new(),
                        ..lt.clone()
                    },
                    None => TableFiles {
                        table: Table {
                            name: f.record.table.clone(),
                            path: String::new(),
                            id_columns: f.id_columns.clone(),
                            side_files: Vec::new(),
                            format: None,
                            metadata_location: None,
                        },
                        files: Vec::new(),
                        errors: Vec::new(),
                        aliases: Vec::new(),
                        view: None,
                        planned_format: None,
                        locations: Vec::new(),
                    },
                });
                listed.len() - 1
            });
        listed[i].files.push(f.record.object());
        order.push(Some(i));
    }
    let scanned = crate::domain::scan::scan_listed(req, &listed, progress);
    let facts = crate::domain::scan::facts_of(&listed, &scanned.results, scanned.logs, &req.lake);
    let mut table_facts = BTreeMap::new();
    for (lt, f) in listed.iter().zip(facts) {
        if let Some(f) = f {
            table_facts.insert(lt.table.name.clone(), f);
        }
    }
    let mut scanned_files: Vec<_> = listed
        .iter()
        .zip(scanned.results)
        .map(|(lt, results)| {
            lt.files
                .iter()
                .zip(results)
                .map(|(o, r)| (&lt.table.name, o, r))
        })
        .collect();
    let mut refused = refused.into_iter();
    let mut out_files = Vec::with_capacity(files.len());
    for slot in order {
        let file = match slot {
            Some(i) => scanned_files[i].next().map(|(table, o, r)| {
                let (result, error) = match r {
                    Ok(r) => (Some(r), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                PartialFile {
                    record: FileRecord::of(table, o),
                    result,
                    error,
                }
            }),
            None => refused.next().map(|(record, why)| PartialFile {
                record,
                result: None,
                error: Some(why),
            }),
        };
        out_files.extend(file);
    }
    let mut part = PartialReport {
        vouch_partial: 1,
        schema_version: 1,
        note: "a part of a sharded scan, not a verdict: merge every part with `vouch scan merge`"
            .into(),
        plan: plan.unwrap_or_default().to_string(),
        lake: req.lake.clone(),
        shard: shard.map(|(i, n)| format!("{i}/{n}")),
        subjects: req.subjects.len(),
        subject_labels: if req.labeler.is_keyed() {
            "keyed-hash".into()
        } else {
            "as-given".into()
        },
        subjects_fingerprint: req.labeler.list_fingerprint(req.subjects),
        legal_holds: req.holds.iter().cloned().collect(),
        options: options_text(&req.options),
        index: req.index.map(|ix| ix.fingerprint.clone()),
        prior_errors: req.prior_errors.clone(),
        bytes_read: scanned.bytes_read,
        read_requests: scanned.read_requests,
        files: out_files,
        table_facts,
        authentication: None,
    };
    part.authentication = req
        .labeler
        .authenticate("partial report", &part.authenticated_bytes());
    part
}

/// A part of one subject of the lake `/lake`, not sealed: for tests.
#[cfg(test)]
pub(crate) fn test_part(
    plan: &str,
    subjects_fingerprint: Option<String>,
    files: Vec<PartialFile>,
) -> PartialReport {
    PartialReport {
        vouch_partial: 1,
        schema_version: 1,
        note: String::new(),
        plan: plan.to_string(),
        lake: "/lake".into(),
        shard: None,
        subjects: 1,
        subject_labels: "keyed-hash".into(),
        subjects_fingerprint,
        legal_holds: vec![],
        options: String::new(),
        index: None,
        prior_errors: vec![],
        bytes_read: 0,
        read_requests: 0,
        table_facts: BTreeMap::new(),
        files,
        authentication: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::check_path;
    use crate::io::store::StoreError;

    fn file(name: &str, size: u64) -> PlanFile {
        PlanFile {
            plan: "p".into(),
            id_columns: vec!["user_id".into()],
            record: FileRecord {
                table: "t".into(),
                file: format!("t/{name}.parquet"),
                size,
                modified: Some(1_700_000_000),
                etag: None,
                version_id: None,
                noncurrent: false,
                stat: None,
            },
            format_table: None,
        }
    }

    /// A listing of one table `t` with these (name, size) files.
    fn table_of(files: &[(&str, u64)]) -> Vec<TableFiles> {
        vec![TableFiles {
            table: Table {
                name: "t".into(),
                path: "t".into(),
                id_columns: vec!["user_id".into()],
                side_files: vec![],
                format: None,
                metadata_location: None,
            },
            files: files
                .iter()
                .map(|(n, s)| file(n, *s).record.object())
                .collect(),
            errors: vec![],
            aliases: vec![],
            view: None,
            planned_format: None,
            locations: Vec::new(),
        }]
    }

    #[test]
    fn shards_are_balanced_by_bytes_and_cover_every_file_once() {
        let files: Vec<PlanFile> = (0..1000)
            .map(|i| file(&format!("f{i}"), 1_000 + (i * 7919 % 100_000)))
            .collect();
        for n in [1, 2, 7, 64] {
            let s = shard_of(&files, n);
            let mut bytes = vec![0u64; n];
            for (f, &k) in files.iter().zip(&s) {
                assert!(k < n);
                bytes[k] += f.record.size;
            }
            let total: u64 = bytes.iter().sum();
            let ideal = total / n as u64;
            for b in &bytes {
                // Within one largest file of the ideal share.
                assert!(b.abs_diff(ideal) <= 101_000, "n={n}: {bytes:?}");
            }
        }
    }

    #[test]
    fn a_shard_of_a_file_list_read_twice_is_the_shard_of_the_list_read_whole() {
        let files: Vec<(String, u64)> = (0..300)
            .map(|i| (format!("f{i}"), (i * 7919 % 5_000) as u64))
            .collect();
        let named: Vec<(&str, u64)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let plan = Plan::of("/lake", &table_of(&named), &[]);
        let text = String::from_utf8(plan.to_jsonl()).unwrap();
        let only_files: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let streamed = |text: &str, i, n| {
            let bytes = text.as_bytes().to_vec();
            let open = move || -> std::io::Result<Box<dyn std::io::BufRead>> {
                Ok(Box::new(std::io::Cursor::new(bytes.clone())))
            };
            crate::domain::plan::shard_of_file_list(&open, "plan.jsonl", i, n)
        };
        for text in [&text, &only_files] {
            let whole = parse_file_list(text, "plan.jsonl").unwrap();
            for n in [1, 3, 7] {
                let of = shard_of(&whole.files, n);
                for i in 0..n {
                    let want: Vec<PlanFile> = (whole.files.iter().zip(&of))
                        .filter(|(_, k)| **k == i)
                        .map(|(f, _)| f.clone())
                        .collect();
                    let got = streamed(text, i, n).unwrap();
                    assert_eq!(got.files, want, "shard {i}/{n}");
                    assert_eq!(got.plan, whole.plan);
                }
            }
        }
        // A line twice, a line of another plan, a file that changes between the readings.
        let second = text.lines().nth(2).unwrap();
        let twice = format!("{text}{second}\n");
        let e = streamed(&twice, 0, 2).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let other = format!(
            "{text}{}\n",
            second.replace(&plan.header.fingerprint, "beef")
        );
        let e = streamed(&other, 0, 2).unwrap_err().to_string();
        assert!(e.contains("another plan"), "{e}");
        let calls = std::cell::Cell::new(0);
        let (a, b) = (text.clone(), text.replace("\"size\":", "\"size\":1"));
        let changing = move || -> std::io::Result<Box<dyn std::io::BufRead>> {
            calls.set(calls.get() + 1);
            let t = if calls.get() == 1 { &a } else { &b };
            Ok(Box::new(std::io::Cursor::new(t.clone().into_bytes())))
        };
        let e = crate::domain::plan::shard_of_file_list(&changing, "plan.jsonl", 0, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("changed while it was read"), "{e}");
    }

    #[test]
    fn adding_files_moves_few_files_between_shards() {
        let files: Vec<PlanFile> = (0..2000)
            .map(|i| file(&format!("f{i}"), 10_000 + (i * 31 % 5_000)))
            .collect();
        let before = shard_of(&files, 8);
        let mut more = files.clone();
        more.extend((0..20).map(|i| file(&format!("new{i}"), 12_000)));
        let after = shard_of(&more, 8);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        // 20 new files of ~1% of the bytes: each cut moves by < 1% of the lake.
        assert!(moved < 2000 / 20, "{moved} files moved");
        // The order of the list does not matter.
        let mut rev = files.clone();
        rev.reverse();
        let mut back = shard_of(&rev, 8);
        back.reverse();
        assert_eq!(back, before);
    }

    #[test]
    fn shard_arguments_and_paths_are_checked() {
        assert_eq!(parse_shard("0/1"), Ok((0, 1)));
        assert_eq!(parse_shard("6/7"), Ok((6, 7)));
        for bad in ["7/7", "1/0", "x/2", "1", "-1/2", "1/2/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert!(check_path("events/dt=1/p.parquet").is_ok());
        // Data files need no extension (Athena, Trino and Hive write none).
        assert!(check_path("events/20260101_101010_00007_x8k2q_1").is_ok());
        for bad in [
            "/etc/p.parquet",
            "../p.parquet",
            "a/../p.parquet",
            "a//p.parquet",
            "",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plan_round_trips_and_an_edit_is_refused() {
        let mut listed = table_of(&[("a", 10), ("b", 20)]);
        listed[0].errors = vec![StoreError::new("t/x", "cannot list directory: denied")];
        let plan = Plan::of("/lake", &listed, &[]);
        let text = String::from_utf8(plan.to_jsonl()).unwrap();
        let back = Plan::parse(&text, "plan.jsonl").unwrap();
        assert_eq!(back, plan);
        assert_eq!(fingerprint(&back.listed()), plan.header.fingerprint);
        let edited = text.replace("\"size\":20", "\"size\":21");
        let e = Plan::parse(&edited, "plan.jsonl").unwrap_err().to_string();
        assert!(e.contains("changed after it was made"), "{e}");
        let dropped: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(Plan::parse(&dropped, "plan.jsonl").is_err());
        // A file list: header optional, each file once, one plan.
        let list = parse_file_list(&text, "-").unwrap();
        assert_eq!(list.files.len(), 2);
        assert_eq!(list.plan.as_deref(), Some(plan.header.fingerprint.as_str()));
        let only_files: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_file_list(&only_files, "-").unwrap(), list);
        assert_eq!(parse_file_list("", "-").unwrap().plan, None);
        let twice = format!("{only_files}{}\n", text.lines().nth(1).unwrap());
        assert!(
            parse_file_list(&twice, "-")
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
        let other = format!(
            "{}\n{}",
            text.lines().nth(1).unwrap(),
            text.lines()
                .nth(2)
                .unwrap()
                .replace(&plan.header.fingerprint, "beef")
        );
        assert!(
            parse_file_list(&other, "-")
                .unwrap_err()
                .to_string()
                .contains("another plan")
        );
    }

    #[test]
    fn merge_refuses_a_part_whose_file_differs_from_the_plan() {
        let listed = table_of(&[("a", 10)]);
        let plan = Plan::of("/lake", &listed, &[]);
        let labeler =
            crate::domain::subjects::SubjectLabeler::keyed(b"merge-test-subject-key").unwrap();
        let sealed = |mut p: PartialReport| {
            p.authentication = labeler.authenticate("partial report", &p.authenticated_bytes());
            p
        };
        let part = |record: FileRecord| {
            let files = vec![PartialFile {
                record,
                result: Some(FileResult::default()),
                error: None,
            }];
            test_part(
                &plan.header.fingerprint,
                Some("hmac-sha256:x".into()),
                files,
            )
        };
        let same = plan.files[0].record.clone();
        let plan_bytes = plan.to_jsonl();
        let merge = |p: PartialReport, l: &crate::domain::subjects::SubjectLabeler| {
            let bytes = serde_json::to_vec(&p).unwrap();
            let open = move || -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
                Ok(Box::new(std::io::Cursor::new(bytes.clone())))
            };
            let parts = vec![crate::domain::merge::PartInput {
                name: "p".into(),
                open: Box::new(open),
            }];
            crate::domain::merge::merge(&plan_bytes[..], "plan", parts, l, None)
        };
        let merged = merge(sealed(part(same.clone())), &labeler).unwrap();
        assert!(merged.check_seal(&labeler).is_ok());
        let mut touched = same.clone();
        touched.modified = Some(1);
        let e = merge(sealed(part(touched)), &labeler).unwrap_err();
        assert!(e[0].contains("differs from the plan"), "{e:?}");
        // An edited part, a part without a tag and one under another key are refused.
        let mut edited = sealed(part(same.clone()));
        edited.files[0].result.as_mut().unwrap().matching_rows = 0;
        edited.files[0].result.as_mut().unwrap().rows = 7;
        let other =
            crate::domain::subjects::SubjectLabeler::keyed(b"another-subject-key!").unwrap();
        for (what, p, l) in [
            ("edited", edited, &labeler),
            ("untagged", part(same.clone()), &labeler),
            ("other key", sealed(part(same.clone())), &other),
        ] {
            let e = merge(p, l).unwrap_err();
            assert!(e[0].contains("authentication"), "{what}: {e:?}");
        }
        // An edited merged report no longer checks.
        let mut forged = merged;
        forged.verdict = crate::domain::report::Verdict::Clean;
        forged.residual_rows = 0;
        forged.files_scanned += 1;
        assert!(forged.check_seal(&labeler).is_err());
    }
}

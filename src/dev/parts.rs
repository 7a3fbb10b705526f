//! Synthetic plans and parts for the merge benchmark: a plan of `files` files of one
//! Hive-partitioned table and `parts` authenticated partial reports covering it, each
//! written as a stream (one file's entry at a time), as `vouch scan --files-from` would
//! write them for those files. Every 997th file holds 3 rows of one subject.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::domain::plan::{FileRecord, PlanFile, PlanHeader, PlanTable};
use crate::domain::report::RowGroupStats;
use crate::domain::scan::FileResult;
use crate::domain::shard::{PartialFile, PartialReport};
use crate::domain::subjects::{SubjectLabeler, SubjectList};

/// What the merge of the parts must report.
#[derive(Debug, serde::Serialize)]
pub struct SyntheticParts {
    pub files: u64,
    pub parts: usize,
    pub residual_rows: u64,
    pub residual_files: u64,
    pub plan_bytes: u64,
    pub part_bytes: u64,
}

const TABLE: &str = "events";

fn record(i: u64) -> FileRecord {
    FileRecord {
        table: TABLE.into(),
        file: format!("events/dt={:05}/part-{:04}.parquet", i / 1000, i % 1000),
        size: 2_000 + (i * 7919) % 5_000,
        modified: Some(1_700_000_000 + (i % 86_400) as i64),
        etag: None,
        version_id: None,
        noncurrent: false,
        stat: None,
    }
}

fn result(i: u64, labeler: &SubjectLabeler) -> FileResult {
    let hit = i.is_multiple_of(997);
    let mut h = Sha256::new();
    h.update(i.to_le_bytes());
    FileResult {
        rows: 50,
        row_groups: RowGroupStats {
            total: 1,
            decoded: 1,
            ..RowGroupStats::default()
        },
        matching_rows: if hit { 3 } else { 0 },
        subjects: if hit {
            vec![(labeler.label(&format!("subject-{}", i % 1000)), 3)]
        } else {
            Vec::new()
        },
        footer_sha256: crate::domain::subjects::hex(&h.finalize()),
        columns: vec![
            ("user_id".into(), "string".into()),
            ("v".into(), "int64".into()),
        ],
        ..FileResult::default()
    }
}

/// The part a file goes to: spread like hash-cut shards, each part in the plan's order.
fn part_of(i: u64, parts: usize) -> usize {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % parts
}

/// Writes `dir/plan.jsonl` and `dir/part-K.json` (K < `parts`), authenticated under `key`.
pub fn synthetic_parts(
    dir: &Path,
    files: u64,
    parts: usize,
    key: &[u8],
) -> io::Result<SyntheticParts> {
    let labeler = SubjectLabeler::keyed(key).map_err(io::Error::other)?;
    let table = PlanTable {
        table: TABLE.into(),
        path: TABLE.into(),
        id_columns: vec!["user_id".into()],
        errors: Vec::new(),
        aliases: Vec::new(),
        format: None,
        table_version: None,
        locations: Vec::new(),
    };
    // The fingerprint first (the plan's lines carry it), then the files again.
    let mut h = Sha256::new();
    h.update(b"vouch plan v1\n");
    h.update(serde_json::to_vec(&table)?);
    h.update(b"\n");
    let mut bytes = 0u64;
    let mut part_bytes = vec![0u64; parts];
    let mut line = Vec::with_capacity(512);
    for i in 0..files {
        let r = record(i);
        bytes += r.size;
        part_bytes[part_of(i, parts)] += r.size;
        line.clear();
        serde_json::to_writer(&mut line, &r)?;
        h.update(&line);
        h.update(b"\n");
    }
    let fp = crate::domain::subjects::hex(&h.finalize());
    let header = PlanHeader {
        vouch_plan: 1,
        schema_version: 1,
        fingerprint: fp.clone(),
        lake: "/lake".into(),
        files,
        bytes,
        tables: vec![table],
        errors: Vec::new(),
    };
    let names: Vec<String> = (0..1000).map(|k| format!("subject-{k}")).collect();
    let subjects = SubjectList::of(names.iter().map(String::as_str)).map_err(io::Error::other)?;
    let mut plan =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("plan.jsonl"))?);
    serde_json::to_writer(&mut plan, &header)?;
    plan.write_all(b"\n")?;
    // Each part: its head up to `"files":[`, its entries, then `],"authentication":…}`.
    let mut outs = Vec::with_capacity(parts);
    for (k, read) in part_bytes.iter().enumerate() {
        let head = PartialReport {
            vouch_partial: 1,
            schema_version: 1,
            note:
                "a part of a sharded scan, not a verdict: merge every part with `vouch scan merge`"
                    .into(),
            plan: fp.clone(),
            lake: "/lake".into(),
            shard: Some(format!("{k}/{parts}")),
            subjects: subjects.len(),
            subject_labels: "keyed-hash".into(),
            subjects_fingerprint: labeler.list_fingerprint(&subjects),
            legal_holds: Vec::new(),
            options: "statistics=true bloom_filters=true dictionaries=true crc=false".into(),
            index: None,
            prior_errors: Vec::new(),
            bytes_read: *read,
            read_requests: 0,
            table_facts: Default::default(),
            files: Vec::new(),
            authentication: None,
        };
        let bytes = serde_json::to_vec(&head)?;
        let prefix = &bytes[..bytes.len() - 2];
        let mut mac = labeler
            .document_mac("partial report")
            .ok_or_else(|| io::Error::other("no key"))?;
        mac.update(prefix);
        let mut out = BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(dir.join(format!("part-{k}.json")))?,
        );
        out.write_all(prefix)?;
        outs.push((out, mac, true));
    }
    let (mut residual_rows, mut residual_files) = (0u64, 0u64);
    for i in 0..files {
        let record = record(i);
        let pf = PlanFile {
            plan: fp.clone(),
            id_columns: vec!["user_id".into()],
            record: record.clone(),
            format_table: None,
        };
        line.clear();
        serde_json::to_writer(&mut line, &pf)?;
        line.push(b'\n');
        plan.write_all(&line)?;
        let result = result(i, &labeler);
        if result.matching_rows > 0 {
            residual_rows += result.matching_rows;
            residual_files += 1;
        }
        let entry = PartialFile {
            record,
            result: Some(result),
            error: None,
        };
        line.clear();
        serde_json::to_writer(&mut line, &entry)?;
        let (out, mac, first) = &mut outs[part_of(i, parts)];
        if !*first {
            out.write_all(b",")?;
            mac.update(b",");
        }
        *first = false;
        out.write_all(&line)?;
        mac.update(&line);
    }
    plan.flush()?;
    let mut total = 0u64;
    for (k, (mut out, mut mac, _)) in outs.into_iter().enumerate() {
        mac.update(b"]}");
        writeln!(out, "],\"authentication\":\"{}\"}}", mac.tag())?;
        out.flush()?;
        total += std::fs::metadata(dir.join(format!("part-{k}.json")))?.len();
    }
    Ok(SyntheticParts {
        files,
        parts,
        residual_rows,
        residual_files,
        plan_bytes: std::fs::metadata(dir.join("plan.jsonl"))?.len(),
        part_bytes: total,
    })
}

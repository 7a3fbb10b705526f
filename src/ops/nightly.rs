//! `vouch nightly`: every configured check from one `vouch.toml`, each with its own status,
//! written to `DIR/report.json`, `DIR/report.html` and one signed deletion certificate per
//! verified request under `DIR/certificates/`. The exit code is the worst status.
//!
//! Nothing written here holds a raw subject ID: subjects appear as their request id and
//! keyed hash. The outputs depend only on the inputs and `--as-of`, so a rerun rewrites the
//! same bytes (Ed25519 signatures are deterministic).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::domain::config::Config;
use crate::domain::keys::SigningKey;
use crate::domain::report::ScanReport;
use crate::domain::subjects::SubjectLabeler;
use crate::io::s3::{S3Options, S3Store};
use crate::io::tables::{Table, read_table_at, string_column};

pub use crate::domain::nightly_report::{Check, NightlyReport, Status};

/// Why a check could not decide (its status is then `error` and this its message), or
/// why the run stopped (an output that could not be written). Each names the file,
/// table, object or setting concerned.
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    #[error(transparent)]
    File(#[from] crate::io::fsio::FileError),
    #[error(transparent)]
    Table(#[from] crate::io::tables::TableError),
    #[error(transparent)]
    Metrics(#[from] crate::domain::metrics::MetricsError),
    #[error(transparent)]
    Key(#[from] crate::domain::keys::KeyError),
    #[error(transparent)]
    Store(#[from] crate::io::store::StoreError),
    #[error(transparent)]
    Subjects(#[from] crate::domain::subjects::SubjectError),
    #[error(transparent)]
    Op(#[from] Box<crate::ops::OpError>),
    /// A setting the check needs is not in the config.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// A completed delete request without the subject to verify.
    #[error("request {0} has no subject_id to verify")]
    NoSubject(String),
    /// An input the check cannot take (a table's row, a supplied scan report): named,
    /// and why.
    #[error("{input}: {problem}")]
    Refused { input: String, problem: String },
}

impl NightlyError {
    fn refused(input: impl std::fmt::Display, problem: impl Into<String>) -> NightlyError {
        NightlyError::Refused {
            input: input.to_string(),
            problem: problem.into(),
        }
    }
}

impl From<crate::ops::OpError> for NightlyError {
    fn from(e: crate::ops::OpError) -> NightlyError {
        NightlyError::Op(Box::new(e))
    }
}

/// At the command's edge: each area's error as the operations' own; what is nightly's
/// alone keeps its text.
impl From<NightlyError> for crate::ops::OpError {
    fn from(e: NightlyError) -> crate::ops::OpError {
        use crate::ops::OpError;
        match e {
            NightlyError::Op(o) => *o,
            NightlyError::File(e) => OpError::File(e),
            NightlyError::Table(e) => OpError::Tables(e),
            NightlyError::Metrics(e) => OpError::Metrics(e),
            NightlyError::Key(e) => OpError::Keys(e),
            NightlyError::Store(e) => OpError::Store(e),
            NightlyError::Subjects(e) => OpError::Subjects(e),
            other => OpError::Failed(other.to_string()),
        }
    }
}

pub struct Request<'a> {
    pub cfg: &'a Config,
    /// "Now", Unix seconds.
    pub as_of: i64,
    pub out: &'a Path,
    pub s3: S3Options,
    /// The subject-hash key (required: nightly never names a subject).
    /// Zeroed when dropped.
    pub subject_key: crate::io::secret::SecretBytes,
    /// Called as each check finishes (the log line).
    pub log: &'a dyn Fn(&Check),
    /// The progress display of the scan and the index update.
    pub progress: &'a dyn crate::domain::scan::Progress,
    /// A scan report made elsewhere (a merge of a sharded scan) to use instead of
    /// scanning: it must be of the window's subjects, this lake and these legal holds.
    pub scan_report: Option<&'a Path>,
}

/// Runs every check and writes the outputs. Errors are only for what stops everything
/// (the output directory cannot be written).
pub fn run(req: &Request<'_>) -> Result<NightlyReport, NightlyError> {
    let certs = req.out.join("certificates");
    crate::io::fsio::create_dir_all(&certs)?;
    let cfg = req.cfg;
    let as_of = crate::domain::report::rfc3339(req.as_of);
    let labeler = SubjectLabeler::keyed(&req.subject_key)?;
    let key = signing_key(cfg);
    let requests = cfg.tables.dsar_request.as_ref().map(|t| {
        let location = cfg.resolve(t);
        requests_of(&location, &read_table_at(&location, &req.s3)?)
    });
    // The nights before tonight, read once: the schema check compares with the latest, the
    // report draws trends over them.
    let history_dir = cfg
        .nightly
        .history
        .as_ref()
        .map(|d| PathBuf::from(cfg.resolve(d)));
    let mut history = match &history_dir {
        Some(dir) => earlier_nights(dir, &as_of, cfg.nightly.trend_nights)?,
        None => crate::domain::html::History::default(),
    };
    let mut checks = Vec::new();
    let emit = |c: Check, checks: &mut Vec<Check>| {
        (req.log)(&c);
        checks.push(c);
    };

    let (deletion, verified) = verify_deletions(req, &requests, &labeler, &key, &certs, &as_of)
        .unwrap_or_else(|e| (Check::new(DELETION, Status::Error, e.to_string()), vec![]));
    emit(deletion, &mut checks);
    emit(audit_log_check(req, &requests, &verified), &mut checks);
    emit(export_check(req, &requests), &mut checks);
    emit(metrics_check(req), &mut checks);
    emit(legal_holds_check(req), &mut checks);
    let tonight = checks
        .iter()
        .find(|c| c.check == DELETION)
        .map(|c| c.details["schemas"].clone());
    emit(
        schema_check(req, tonight, history_dir.as_ref().map(|_| &history)),
        &mut checks,
    );
    emit(evidence_check(req, &key), &mut checks);
    emit(retention_check(req), &mut checks);

    let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    let report = NightlyReport {
        schema_version: 1,
        kind: "vouch-nightly-report",
        as_of,
        tool: format!("vouch {}", env!("CARGO_PKG_VERSION")),
        status,
        exit_code: status.exit_code(),
        checks,
    };
    let mut json = serde_json::to_vec_pretty(&report)
        .map_err(|e| NightlyError::refused(req.out.join("report.json").display(), e.to_string()))?;
    json.push(b'\n');
    crate::io::fsio::write_atomic(&req.out.join("report.json"), &json, true)?;
    if let Some(dir) = &history_dir {
        // Written once: a night already kept is never rewritten.
        let path = dir.join(night_file(&report.as_of));
        if crate::io::fsio::read(&path).is_err() {
            crate::io::fsio::write_atomic(&path, &json, false)?;
        }
        history
            .nights
            .push(serde_json::to_value(&report).unwrap_or_default());
        let keep = history
            .nights
            .len()
            .saturating_sub(cfg.nightly.trend_nights.max(1));
        history.nights.drain(..keep);
    }
    crate::io::fsio::write_atomic(
        &req.out.join("report.html"),
        crate::domain::html::render(&report, &history).as_bytes(),
        true,
    )?;
    Ok(report)
}

/// A night's file in the history: `<as-of>.json` with `:` as `-`, so that names sort in
/// time order.
fn night_file(as_of: &str) -> String {
    format!("{}.json", as_of.replace(':', "-"))
}

/// The nights the history holds before `as_of`: the last `nights - 1` of them (one at
/// least, for the schema check), oldest first; only those files are read. A file there
/// that is not named or shaped like a nightly report is named, not drawn.
fn earlier_nights(
    dir: &Path,
    as_of: &str,
    nights: usize,
) -> Result<crate::domain::html::History, NightlyError> {
    crate::io::fsio::create_dir_all(dir)?;
    let tonight = night_file(as_of);
    let shaped = |n: &str| {
        n.strip_suffix(".json").is_some_and(|stem| {
            stem.len() == night_file("2026-01-01T00:00:00Z").len() - 5
                && stem.ends_with('Z')
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"-TZ".contains(&b))
        })
    };
    let mut out = crate::domain::html::History::default();
    let mut names: Vec<String> = Vec::new();
    for n in crate::io::fsio::names_in(dir) {
        if shaped(&n) {
            names.push(n);
        } else {
            out.unreadable.push(n);
        }
    }
    names.retain(|n| *n < tonight);
    names.sort();
    let skip = names.len().saturating_sub(nights.saturating_sub(1).max(1));
    for n in names.into_iter().skip(skip) {
        let read = crate::io::fsio::read(&dir.join(&n))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(|v| v["kind"] == "vouch-nightly-report");
        match read {
            Some(v) => out.nights.push(v),
            None => out.unreadable.push(n),
        }
    }
    out.unreadable.sort();
    Ok(out)
}

fn signing_key(cfg: &Config) -> Result<SigningKey, NightlyError> {
    let path = cfg
        .nightly
        .signing_key
        .as_ref()
        .ok_or(NightlyError::NotConfigured(
            "no [nightly] signing_key in the config",
        ))?;
    let passphrase = match &cfg.nightly.signing_key_passphrase_file {
        Some(f) => Some(crate::io::secret::read_first_line(
            Path::new(&cfg.resolve(f)),
            "passphrase",
        )?),
        None => None,
    };
    Ok(SigningKey::load(
        Path::new(&cfg.resolve(path)),
        passphrase.as_ref().map(|p| &p[..]),
    )?)
}

/// One row of `dsar_request` as nightly needs it.
struct DsarRow {
    request_id: String,
    subject_id: Option<String>,
    request_type: String,
    status: String,
    /// Unix seconds.
    completed_at: Option<i64>,
    export_sha256: Option<String>,
}

fn requests_of(location: &str, t: &Table) -> Result<Vec<DsarRow>, NightlyError> {
    let path = Path::new(location);
    let s = |c: &str| string_column(path, t, c);
    let optional = |c: &str| {
        if t.schema.field_with_name(c).is_ok() {
            s(c)
        } else {
            Ok(vec![None; t.rows()])
        }
    };
    let ids = s("request_id")?;
    let subjects = s("subject_id")?;
    let types = s("request_type")?;
    let status = optional("status")?;
    let hashes = optional("export_sha256")?;
    let completed = crate::domain::metrics::input::time_column(path, t, "completed_at")?;
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        let Some(id) = id.filter(|s| !s.trim().is_empty()) else {
            return Err(NightlyError::refused(
                location,
                format!("column request_id, row {}: is empty; it is required", i + 1),
            ));
        };
        out.push(DsarRow {
            request_id: id.trim().to_string(),
            subject_id: subjects[i].clone().filter(|s| !s.trim().is_empty()),
            request_type: types[i]
                .clone()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
            status: status[i]
                .clone()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
            completed_at: completed[i].map(|us| us.div_euclid(1_000_000)),
            export_sha256: hashes[i]
                .clone()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
        });
    }
    Ok(out)
}

fn window_start(cfg: &Config, as_of: i64) -> i64 {
    as_of - i64::from(cfg.nightly.window_days) * 86_400
}

/// The delete requests completed in the window before `as_of`: what deletion verification
/// checks.
fn due_requests<'r>(requests: &'r [DsarRow], cfg: &Config, as_of: i64) -> Vec<&'r DsarRow> {
    let from = window_start(cfg, as_of);
    requests
        .iter()
        .filter(|r| {
            r.request_type == "delete"
                && r.status != "rejected"
                && r.completed_at.is_some_and(|t| t > from && t <= as_of)
        })
        .collect()
}

/// The subject IDs nightly will verify at `as_of`, sorted: the `--ids` list of a sharded
/// scan whose merged report nightly then takes (`scan_report`).
pub fn due_subjects(cfg: &Config, as_of: i64, s3: &S3Options) -> Result<Vec<String>, NightlyError> {
    let t = cfg
        .tables
        .dsar_request
        .as_ref()
        .ok_or(NightlyError::NotConfigured(
            "no dsar_request table in the config ([tables] dsar_request)",
        ))?;
    let location = cfg.resolve(t);
    let table = read_table_at(&location, s3)?;
    let requests = requests_of(&location, &table)?;
    let due = due_requests(&requests, cfg, as_of);
    if let Some(r) = due.iter().find(|r| r.subject_id.is_none()) {
        return Err(NightlyError::NoSubject(r.request_id.clone()));
    }
    Ok(due
        .iter()
        .filter_map(|r| r.subject_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// A report made elsewhere (`--scan-report`), refused unless it is the scan nightly would
/// have run: of these subjects, this lake and these holds, and (under `[nightly] strict`)
/// relying on no metadata, with the custody file it names beside it unchanged (copied
/// beside the certificates, which name it too). Files added or changed since its plan
/// make it incomplete.
fn supplied_report(
    req: &Request<'_>,
    path: &Path,
    labeler: &SubjectLabeler,
    subjects: &[String],
    location: &str,
    holds: &BTreeSet<String>,
    certs: &Path,
) -> Result<ScanReport, NightlyError> {
    let shown = path.display();
    let refused = |problem: String| NightlyError::refused(&shown, problem);
    let text = crate::io::fsio::read_to_string(path)
        .map_err(|e| refused(crate::io::store::io_message(&e)))?;
    let report: ScanReport = serde_json::from_str(&text)
        .map_err(|e| refused(format!("not a vouch scan report: {e}")))?;
    report
        .check_seal(labeler)
        .map_err(|e| refused(format!("refused: {e}")))?;
    let list = crate::domain::subjects::SubjectList::of(subjects.iter().map(String::as_str))
        .map_err(|e| refused(e.to_string()))?;
    if report.subjects_fingerprint != labeler.list_fingerprint(&list) {
        return Err(refused(format!(
            "made for another list of subjects than the {} of the delete requests \
             completed in the window (`vouch nightly --write-subjects FILE` writes that list)",
            subjects.len()
        )));
    }
    if report.lake != location {
        return Err(refused(format!(
            "a scan of {}, the config's lake is {location}",
            report.lake
        )));
    }
    if let Some(t) = report
        .tables
        .iter()
        .find(|t| t.legal_hold != holds.contains(&t.table))
    {
        return Err(refused(format!(
            "table {} is {} in the report, {} in the data_retention_policy table",
            t.table,
            if t.legal_hold { "held" } else { "not held" },
            if t.legal_hold { "not held" } else { "held" },
        )));
    }
    let cfg = req.cfg;
    let mut report = report;
    if cfg.nightly.strict
        && let Some(m) = crate::domain::certificate::MetadataReliance::of(&report)
    {
        return Err(refused(format!(
            "[nightly] strict is set, and the report ruled out {} row group(s) by \
             statistics and {} by bloom filters: scan with --no-statistics --no-bloom-filters",
            m.row_groups_ruled_out_by_statistics, m.row_groups_ruled_out_by_bloom_filters
        )));
    }
    let objects = match &report.custody {
        Some(digest) => custody_objects(path, digest, certs)?,
        None => {
            let mut c = Checked::default();
            report.objects.iter().for_each(|o| c.add(o));
            c
        }
    };
    // The report speaks for the lake it planned; what was added or changed since is not
    // verified.
    let extra = unverified_now(&report, &objects, cfg, &req.s3, labeler)?;
    if !extra.is_empty() {
        report.errors.extend(extra);
        report.verdict = crate::domain::report::Verdict::Incomplete;
    }
    Ok(report)
}

/// What a scan report says it checked: per file (and version), its size and ETag. Held as
/// SHA-256 digests cut to 16 bytes, about 50 bytes a file, where the records themselves
/// (path, ETag, version, footer digest) took about 250: a custody file of a million lines
/// is not held whole. A file added since can pass for a checked one only by a collision of
/// SHA-256's first 128 bits.
#[derive(Default)]
struct Checked {
    files: std::collections::HashMap<[u8; 16], ([u8; 16], u64)>,
    versions: bool,
}

impl Checked {
    fn digest(parts: [Option<&str>; 2]) -> [u8; 16] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for p in parts {
            match p {
                None => h.update([0]),
                Some(p) => {
                    h.update([1]);
                    h.update((p.len() as u64).to_le_bytes());
                    h.update(p);
                }
            }
        }
        let mut out = [0; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }

    fn key(file: &str, version: Option<&str>) -> [u8; 16] {
        Checked::digest([Some(file), version])
    }

    fn add(&mut self, o: &crate::domain::report::ObjectRecord) {
        self.versions |= o.version_id.is_some();
        let key = Checked::key(&o.file, o.version_id.as_deref());
        let etag = Checked::digest([o.etag.as_deref(), None]);
        self.files.insert(key, (etag, o.size));
    }

    /// None: not checked; Some(false): checked with another size or ETag.
    fn same(
        &self,
        file: &str,
        version: Option<&str>,
        size: u64,
        etag: Option<&str>,
    ) -> Option<bool> {
        let (e, s) = self.files.get(&Checked::key(file, version))?;
        Some(*s == size && *e == Checked::digest([etag, None]))
    }
}

/// The files of the lake as it is now that `report` did not check (added or changed after
/// its plan), as errors; none when the lake lists exactly as the report's plan did.
fn unverified_now(
    report: &ScanReport,
    objects: &Checked,
    cfg: &Config,
    s3: &S3Options,
    labeler: &SubjectLabeler,
) -> Result<Vec<crate::domain::report::ScanErrorEntry>, NightlyError> {
    use crate::domain::report::ScanErrorEntry;
    let mut lake_cfg = cfg.lake.clone();
    let store = crate::ops::open_at(&report.lake, &mut lake_cfg, s3)?;
    let lake = crate::domain::lake::discover_tables(store.as_ref(), &lake_cfg)?;
    let listed = crate::domain::lake::list_tables(store.as_ref(), &lake.tables, objects.versions);
    let same_listing = report.plan_fingerprint.as_deref()
        == Some(crate::domain::plan::fingerprint(&listed).as_str());
    let mut out: Vec<ScanErrorEntry> = lake.errors.iter().map(Into::into).collect();
    for lt in &listed {
        // The report names files as kept evidence does (identifier partitions labelled).
        let shown = |p: &str| crate::domain::lake::label_path(p, &lt.table.id_columns, labeler);
        out.extend(lt.errors.iter().map(|e| ScanErrorEntry {
            file: shown(&e.path),
            error: e.message.clone(),
        }));
        for f in &lt.files {
            let file = shown(&f.path);
            let same = objects.same(&file, f.version_id(), f.size, f.etag());
            let why = match same {
                None => "added after the scan report's plan: not verified",
                Some(false) => "changed after the scan report's plan: not verified",
                Some(true) => continue,
            };
            out.push(ScanErrorEntry {
                file,
                error: why.into(),
            });
        }
    }
    // What the report already says (a file lying in the lake root then and now) is not
    // news; anything else is.
    out.retain(|e| !report.errors.contains(e));
    if out.is_empty() && !same_listing {
        out.push(ScanErrorEntry {
            file: report.lake.clone(),
            error: "the lake lists differently from the scan report's plan (a file rewritten or \
                    touched, a table added or moved): the report no longer speaks for it; scan again"
                .into(),
        });
    }
    Ok(out)
}

/// The objects of a supplied report's custody file (beside the report), checked against
/// its digest while copied into `certs` under the same name, where the certificates that
/// name it are verified.
fn custody_objects(
    report: &Path,
    digest: &crate::domain::custody::CustodyDigest,
    certs: &Path,
) -> Result<Checked, NightlyError> {
    use std::io::Write;
    let shown = report.display();
    let refused = |problem: String| NightlyError::refused(&shown, problem);
    let name = crate::domain::custody::plain_name(digest).ok_or_else(|| {
        refused(format!(
            "names the custody file {:?}, which is no plain file name",
            digest.file
        ))
    })?;
    let from = report.parent().unwrap_or(Path::new(".")).join(name);
    let to = certs.join(name);
    let mut copy = crate::io::fsio::StreamedFile::create(&to, true)?;
    let mut objects = Checked::default();
    crate::domain::custody::check_file(&from, digest, &mut |line, record| {
        objects.add(&record.object);
        copy.write_all(line)
            .map_err(|e| format!("{}: {}", to.display(), crate::io::store::io_message(&e)))
    })
    .map_err(|e| refused(format!("refused: {e}")))?;
    copy.finish()?;
    Ok(objects)
}

/// A request verified by the deletion check: its id and which tables the lake has.
struct Verified {
    request_id: String,
    tables: Vec<String>,
}

const DELETION: &str = "deletion_verification";

/// The deletion check: the window's requests, one report for their subjects (scanned now
/// or supplied), a signed certificate per request. `Err` is a check that could not decide.
fn verify_deletions(
    req: &Request<'_>,
    requests: &Option<Result<Vec<DsarRow>, NightlyError>>,
    labeler: &SubjectLabeler,
    key: &Result<SigningKey, NightlyError>,
    certs: &Path,
    as_of: &str,
) -> Result<(Check, Vec<Verified>), NightlyError> {
    let undecided =
        |e: &NightlyError| Ok((Check::new(DELETION, Status::Error, e.to_string()), vec![]));
    let cfg = req.cfg;
    let requests = match requests {
        None => {
            let c = Check::new(
                DELETION,
                Status::Skipped,
                "no dsar_request table configured",
            );
            return Ok((c, vec![]));
        }
        Some(Err(e)) => return undecided(e),
        Some(Ok(r)) => r,
    };
    let from = window_start(cfg, req.as_of);
    let due = due_requests(requests, cfg, req.as_of);
    let window_json = json!({
        "from": crate::domain::report::rfc3339(from),
        "to": as_of,
        "days": cfg.nightly.window_days,
    });
    if let Some(r) = due.iter().find(|r| r.subject_id.is_none()) {
        return Err(NightlyError::NoSubject(r.request_id.clone()));
    }
    if due.is_empty() {
        let mut c = Check::new(
            DELETION,
            Status::Ok,
            "no delete request completed in the window",
        );
        c.details = json!({"window": window_json, "requests": []});
        return Ok((c, vec![]));
    }
    let key = match key {
        Ok(k) => k,
        Err(e) => return undecided(e),
    };
    let location = crate::ops::configured_location(cfg)?.ok_or(NightlyError::NotConfigured(
        "no [lake] location (or catalog and database) in the config",
    ))?;
    let subjects: Vec<String> = due
        .iter()
        .filter_map(|r| r.subject_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (holds, prior_errors) = legal_holds(cfg, &req.s3);
    let (report, index_error) = match req.scan_report {
        Some(path) => {
            if let Some(e) = prior_errors.first() {
                return Err(NightlyError::refused(&e.file, e.error.clone()));
            }
            let report = supplied_report(req, path, labeler, &subjects, &location, &holds, certs)?;
            (report, serde_json::Value::Null)
        }
        None => scan_now(
            req,
            &location,
            &subjects,
            holds,
            prior_errors,
            labeler,
            certs,
        )?,
    };
    let certified = certify(req, &due, &report, labeler, key, certs, as_of)?;
    let Certified {
        per_request,
        verified,
        residual_requests,
        overdue_requests,
    } = certified;
    let status = match report.verdict {
        crate::domain::report::Verdict::Incomplete => Status::Error,
        _ if residual_requests > 0 || overdue_requests > 0 => Status::Violation,
        _ => Status::Ok,
    };
    let mut summary = deletion_summary(&report, status, due.len(), residual_requests);
    if status != Status::Error && !report.physical_copies.is_empty() {
        summary.push_str(&format!(
            "; {} physical cop(ies) no reader sees remain in storage, {overdue_requests} \
             request(s) past the physical erasure deadline",
            report.physical_copies.iter().filter(|c| !c.held).count()
        ));
    }
    let mut c = Check::new(DELETION, status, summary);
    let by_table: BTreeMap<&str, u64> = report
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.residual_rows))
        .collect();
    // Each table's columns as its files say (compared night to night); not when the scan
    // could not read everything (a missing file is no vanished column).
    let schemas: Option<BTreeMap<&str, &BTreeMap<String, String>>> =
        (report.verdict != crate::domain::report::Verdict::Incomplete).then(|| {
            report
                .tables
                .iter()
                .map(|t| (t.table.as_str(), &t.columns))
                .collect()
        });
    c.details = json!({
        "schemas": schemas,
        "window": window_json,
        "lake": report.lake,
        "subjects": report.subjects,
        "files_scanned": report.files_scanned,
        "rows_scanned": report.rows_scanned,
        "bytes_read": report.bytes_read,
        "residual_rows": report.residual_rows,
        "held_rows": report.held_rows,
        "residual_rows_by_table": by_table,
        "physical_verdict": report.physical_verdict,
        "physical_copies": report.physical_copies,
        "physical_erasure_days": cfg.nightly.physical_erasure_days,
        "requests": per_request,
        "errors": report.errors,
        "index": report.index,
        "custody": report.custody.as_ref().map(|c| json!({
            "file": format!("certificates/{}", c.file),
            "sha256": c.sha256,
            "records": c.records,
        })),
        "index_error": index_error,
        "strict": cfg.nightly.strict,
        "relied_on_metadata": crate::domain::certificate::MetadataReliance::of(&report),
    });
    Ok((c, verified))
}

/// The datasets under legal hold; an unreadable retention table is an error entry of the
/// report (its verdict is then incomplete), not a stop.
fn legal_holds(
    cfg: &Config,
    s3: &S3Options,
) -> (BTreeSet<String>, Vec<crate::domain::report::ScanErrorEntry>) {
    let Some(p) = &cfg.tables.data_retention_policy else {
        return (BTreeSet::new(), Vec::new());
    };
    match crate::io::tables::legal_holds_at(&cfg.resolve(p), s3) {
        Ok(h) => (h, Vec::new()),
        Err(e) => (
            BTreeSet::new(),
            vec![crate::domain::report::ScanErrorEntry {
                file: cfg.resolve(p),
                error: e.to_string(),
            }],
        ),
    }
}

/// One scan of the lake for every due subject, through the subject index when one is
/// configured (brought up to date first; what the update did is not recorded: a rerun
/// must write the same report). Returns the report and why the index was not used.
fn scan_now(
    req: &Request<'_>,
    location: &str,
    subjects: &[String],
    holds: BTreeSet<String>,
    prior_errors: Vec<crate::domain::report::ScanErrorEntry>,
    labeler: &SubjectLabeler,
    certs: &Path,
) -> Result<(ScanReport, serde_json::Value), NightlyError> {
    let cfg = req.cfg;
    let env = crate::ops::Env {
        s3: req.s3.clone(),
        ..crate::ops::Env::at(crate::domain::time::Timestamp::from_secs(req.as_of))
    };
    let mut cfg = cfg.clone();
    let store = crate::ops::open_at(location, &mut cfg.lake, &env.s3)?;
    let location = location.to_string();
    let lake = crate::domain::lake::discover_tables(store.as_ref(), &cfg.lake)?;
    let opened = crate::ops::OpenedLake {
        cfg: cfg.clone(),
        location,
        store,
        lake,
    };
    let options = crate::domain::scan::ScanOptions {
        use_statistics: !cfg.nightly.strict,
        use_bloom_filters: !cfg.nightly.strict,
        ..crate::domain::scan::ScanOptions::for_lake(&cfg.lake)
    };
    let subjects = crate::domain::subjects::SubjectList::of(subjects.iter().map(String::as_str))
        .map_err(crate::ops::OpError::from)?;
    // The index upkeep probes the new files for these subjects as it reads them.
    let prescan = crate::domain::scan::Prescan::new(&subjects);
    // The index upkeep and the scan work on one listing of the lake.
    let listed =
        crate::domain::lake::list_tables(opened.store.as_ref(), &opened.lake.tables, false);
    let mut index_error = serde_json::Value::Null;
    let index = cfg.nightly.index.as_ref().and_then(|d| {
        let dir = PathBuf::from(cfg.resolve(d));
        let key = crate::domain::index::IndexKey::new(&req.subject_key);
        let store = opened.store.as_ref();
        let built = crate::ops::index::keep_current(
            store,
            &listed,
            &key,
            &dir,
            &options,
            &prescan,
            req.progress,
        )
        .and_then(|_| crate::domain::index::LakeIndex::load(&dir, &key));
        // Outcomes of row groups decoded on earlier nights (a rerun of this night
        // recalls what the first run did, and writes the same report).
        let recall = crate::domain::index::Recall::load(
            &dir,
            &key,
            req.as_of,
            crate::domain::scan::recall_settings(&options),
        );
        built
            .map(|ix| (ix, recall, dir))
            .map_err(|e| index_error = json!(e.to_string()))
            .ok()
    });
    let mut scan_req = crate::ops::scan::request(
        &opened,
        &subjects,
        crate::ops::scan::RequestParts {
            holds,
            labeler: labeler.clone(),
            options,
            index: index.as_ref().map(|i| &i.0),
            recall: index.as_ref().map(|i| &i.1),
            prescan: Some(&prescan),
        },
        false,
        false,
    );
    scan_req.prior_errors.extend(prior_errors);
    // The chain of custody goes beside the certificates that name it, line by line.
    let mut custody = crate::ops::scan::Custody::create(
        &certs.join(CUSTODY_FILE),
        crate::ops::Overwrite::Replace,
    )?;
    let report = crate::ops::in_pool(None, opened.store.as_ref(), || {
        custody.write_scan(labeler, |w| {
            crate::domain::scan::scan_locating_of(&scan_req, listed, req.progress, Some(w)).0
        })
    })??;
    custody.finish()?;
    if let Some((ix, recall, dir)) = &index {
        // Damaged entries found on the way: the next upkeep indexes their files again.
        ix.forget_broken();
        // Not kept, the outcomes are decoded again next night: nothing is wrong.
        let _ = recall.save(dir, &ix.key, &|e| ix.lists_entry(e));
    }
    Ok((report, index_error))
}

/// The custody file of nightly's own scan, in `certificates/`.
pub const CUSTODY_FILE: &str = "custody.jsonl";

/// What the certificates of the window's requests say.
struct Certified {
    /// Per request: its verdicts and certificate (the check's details).
    per_request: Vec<serde_json::Value>,
    /// The requests verified (for the audit-log check).
    verified: Vec<Verified>,
    /// Requests with live rows left.
    residual_requests: usize,
    /// Requests with a physical copy that misses `[nightly] physical_erasure_days`.
    overdue_requests: usize,
}

/// A signed certificate per due request.
fn certify(
    req: &Request<'_>,
    due: &[&DsarRow],
    report: &ScanReport,
    labeler: &SubjectLabeler,
    key: &SigningKey,
    certs: &Path,
    as_of: &str,
) -> Result<Certified, NightlyError> {
    let mut out = Certified {
        per_request: Vec::new(),
        verified: Vec::new(),
        residual_requests: 0,
        overdue_requests: 0,
    };
    let days = req.cfg.nightly.physical_erasure_days;
    for r in due {
        let label = labeler.label(r.subject_id.as_deref().unwrap_or(""));
        let deadline = days
            .zip(r.completed_at)
            .map(|(d, at)| at + i64::from(d) * 86_400);
        let cert = crate::domain::certificate::for_subject(
            report,
            &r.request_id,
            &label,
            r.completed_at.map(crate::domain::report::rfc3339),
            as_of,
            deadline,
            req.as_of,
        );
        let written = crate::domain::certificate::write_signed(&cert, certs, key)
            .map_err(|e| NightlyError::refused("certificate", e.to_string()))?;
        let cert_path = written
            .strip_prefix(req.out)
            .map(Path::to_path_buf)
            .unwrap_or(written)
            .display()
            .to_string();
        out.residual_requests += usize::from(cert.verdict == "residual");
        out.overdue_requests += usize::from(cert.physical_verdict.as_deref() == Some("overdue"));
        let mut line = json!({
            "request_id": r.request_id,
            "subject": label,
            "verdict": cert.verdict,
            "residual_rows": cert.residual_rows,
            "held_rows": cert.held_rows,
            "certificate": cert_path,
        });
        if let Some(p) = &cert.physical_verdict {
            line["physical_verdict"] = json!(p);
            line["physical_copies"] = json!(cert.physical_copies.len());
            if let Some(d) = &cert.physical_deadline {
                line["physical_deadline"] = json!(d);
            }
        }
        out.per_request.push(line);
        out.verified.push(Verified {
            request_id: r.request_id.clone(),
            tables: report.tables.iter().map(|t| t.table.clone()).collect(),
        });
    }
    Ok(out)
}

/// The check's one line.
fn deletion_summary(
    report: &ScanReport,
    status: Status,
    requests: usize,
    residual_requests: usize,
) -> String {
    if status == Status::Error {
        return format!(
            "{} file(s) could not be read: nothing is certified clean",
            report.errors.len()
        );
    }
    format!(
        "{requests} request(s) verified in one scan of {} file(s): {residual_requests} with \
         residual rows ({} rows), {} held row(s){}",
        report.files_scanned,
        report.residual_rows,
        report.held_rows,
        match crate::domain::certificate::MetadataReliance::of(report) {
            Some(m) => format!(
                "; the verdict relies on Parquet metadata no checksum covers ({} row group(s) \
                 ruled out by statistics, {} by bloom filters; [nightly] strict reads them)",
                m.row_groups_ruled_out_by_statistics, m.row_groups_ruled_out_by_bloom_filters
            ),
            None => String::new(),
        }
    )
}

fn audit_log_check(
    req: &Request<'_>,
    requests: &Option<Result<Vec<DsarRow>, NightlyError>>,
    verified: &[Verified],
) -> Check {
    const NAME: &str = "audit_log_coverage";
    let cfg = req.cfg;
    let Some(location) = cfg.tables.dsar_audit_log.as_ref().map(|l| cfg.resolve(l)) else {
        return Check::new(NAME, Status::Skipped, "no dsar_audit_log table configured");
    };
    if !matches!(requests, Some(Ok(_))) {
        return Check::new(NAME, Status::Skipped, "no delete requests to check");
    }
    let table = match read_table_at(&location, &req.s3) {
        Ok(t) => t,
        Err(e) => return Check::new(NAME, Status::Error, e.to_string()),
    };
    let path = Path::new(&location);
    let cols = ["request_id", "dataset", "action"].map(|c| string_column(path, &table, c));
    let [ids, datasets, actions] = match cols {
        [Ok(a), Ok(b), Ok(c)] => [a, b, c],
        [a, b, c] => {
            let e = a.err().or(b.err()).or(c.err());
            return Check::new(
                NAME,
                Status::Error,
                e.map(|e| e.to_string()).unwrap_or_default(),
            );
        }
    };
    let mut logged: BTreeSet<(String, String)> = BTreeSet::new();
    for i in 0..ids.len() {
        if actions[i].as_deref().map(str::trim) == Some("delete")
            && let (Some(r), Some(d)) = (&ids[i], &datasets[i])
        {
            logged.insert((r.trim().to_string(), d.trim().to_string()));
        }
    }
    let mut missing = Vec::new();
    for v in verified {
        let tables: Vec<&String> = v
            .tables
            .iter()
            .filter(|t| !logged.contains(&(v.request_id.clone(), (*t).clone())))
            .collect();
        if !tables.is_empty() {
            missing.push(json!({"request_id": v.request_id, "tables": tables}));
        }
    }
    let status = Status::violation_if(!missing.is_empty());
    let mut c = Check::new(
        NAME,
        status,
        format!(
            "{} of {} verified request(s) lack a delete entry for some table",
            missing.len(),
            verified.len()
        ),
    );
    c.details = json!({"requests_checked": verified.len(), "missing": missing});
    c
}

fn export_check(req: &Request<'_>, requests: &Option<Result<Vec<DsarRow>, NightlyError>>) -> Check {
    const NAME: &str = "export_integrity";
    let cfg = req.cfg;
    let Some(exports) = cfg.nightly.exports.as_ref().map(|l| cfg.resolve(l)) else {
        return Check::new(
            NAME,
            Status::Skipped,
            "no [nightly] exports location configured",
        );
    };
    let requests = match requests {
        None => return Check::new(NAME, Status::Skipped, "no dsar_request table configured"),
        Some(Err(e)) => return Check::new(NAME, Status::Error, e.to_string()),
        Some(Ok(r)) => r,
    };
    let (mut matched, mut mismatched, mut unreachable) = (Vec::new(), Vec::new(), Vec::new());
    for r in requests {
        let Some(want) = &r.export_sha256 else {
            continue;
        };
        if r.request_type != "access" || r.completed_at.is_none() {
            continue;
        }
        let name = format!(
            "{}.age",
            crate::domain::certificate::file_stem(&r.request_id)
        );
        let got = if exports.starts_with("s3://") {
            let uri = format!("{}/{name}", exports.trim_end_matches('/'));
            S3Store::sha256_of(&uri, &req.s3).map_err(NightlyError::from)
        } else {
            sha256_file(&Path::new(&exports).join(&name))
        };
        match got {
            Ok(None) => unreachable.push(r.request_id.clone()),
            Ok(Some(h)) if &h == want => matched.push(r.request_id.clone()),
            Ok(Some(_)) => mismatched.push(r.request_id.clone()),
            Err(e) => return Check::new(NAME, Status::Error, e.to_string()),
        }
    }
    let status = Status::violation_if(!mismatched.is_empty());
    let mut c = Check::new(
        NAME,
        status,
        format!(
            "{} bundle(s) match their recorded SHA-256, {} do not, {} not found",
            matched.len(),
            mismatched.len(),
            unreachable.len()
        ),
    );
    c.details = json!({
        "location": exports,
        "matched": matched,
        "mismatched": mismatched,
        "unreachable": unreachable,
    });
    c
}

/// SHA-256 of a local file (hex), or None when there is no such file.
fn sha256_file(path: &Path) -> Result<Option<String>, NightlyError> {
    use sha2::Digest;
    let unreadable =
        |e: std::io::Error| NightlyError::refused(path.display(), crate::io::store::io_message(&e));
    let mut f = match crate::io::fsio::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(unreadable)?;
    Ok(Some(crate::domain::subjects::hex(&h.finalize())))
}

fn metrics_check(req: &Request<'_>) -> Check {
    use crate::domain::metrics::{Metric, Request as MetricsRequest};
    const NAME: &str = "metrics";
    let cfg = req.cfg;
    let holidays = match &cfg.nightly.holidays {
        Some(h) => match crate::domain::metrics::read_holidays(Path::new(&cfg.resolve(h))) {
            Ok(d) => d,
            Err(e) => return Check::new(NAME, Status::Error, e.to_string()),
        },
        None => Vec::new(),
    };
    let dsar_rules = match cfg.dsar.rules() {
        Ok(r) => r,
        Err(e) => return Check::new(NAME, Status::Error, e.to_string()),
    };
    let cycles = match cfg.jobs.cycle_seconds() {
        Ok(c) => c,
        Err(e) => return Check::new(NAME, Status::Error, e.to_string()),
    };
    let incidents = cfg
        .tables
        .data_incident
        .as_ref()
        .map(|t| PathBuf::from(cfg.resolve(t)));
    let mut details = serde_json::Map::new();
    let mut status = Status::Skipped;
    let mut parts = Vec::new();
    for (metric, table) in [
        (Metric::Incidents, &cfg.tables.data_incident),
        (Metric::Dsar, &cfg.tables.dsar_request),
        (Metric::Changes, &cfg.tables.governance_change_log),
        (Metric::Jobs, &cfg.tables.analytics_job_run),
        (Metric::Costs, &cfg.tables.cost_anomaly),
    ] {
        let Some(t) = table else {
            continue;
        };
        let input = PathBuf::from(cfg.resolve(t));
        let r = crate::domain::metrics::run(&MetricsRequest {
            metric,
            input: &input,
            as_of: req.as_of * 1_000_000,
            holidays: &holidays,
            by_month: true,
            targets: cfg.targets,
            s3: &req.s3,
            cycles: &cycles,
            job_runs: None,
            incidents: incidents.as_deref(),
            dsar_rules: &dsar_rules,
        });
        match r {
            Ok(r) => {
                let s = Status::violation_if(!r.breaches.is_empty());
                status = status.max(s);
                parts.push(format!(
                    "{}: {} breach(es)",
                    metric.name(),
                    r.breaches.len()
                ));
                details.insert(
                    metric.name().into(),
                    serde_json::to_value(&r).unwrap_or_default(),
                );
            }
            Err(e) => {
                status = Status::Error;
                parts.push(format!("{}: error", metric.name()));
                details.insert(metric.name().into(), json!({"error": e.to_string()}));
            }
        }
    }
    if parts.is_empty() {
        return Check::new(
            NAME,
            Status::Skipped,
            "no incident, DSAR, change, job-run or cost-anomaly table configured",
        );
    }
    let mut c = Check::new(NAME, status, parts.join("; "));
    c.details = serde_json::Value::Object(details);
    c
}

/// Schema changes went through change control (runbook §1): every table or column that
/// appeared, vanished or changed type since the previous night in the history is covered by
/// a reviewed `governance_change_log` row naming the dataset, submitted before tonight; a
/// new column named like personal data needs a `high` or `regulatory` change.
fn schema_check(
    req: &Request<'_>,
    tonight: Option<serde_json::Value>,
    history: Option<&crate::domain::html::History>,
) -> Check {
    const NAME: &str = "schema_changes";
    let cfg = req.cfg;
    let Some(history) = history else {
        return Check::new(
            NAME,
            Status::Skipped,
            "needs [nightly] history (the previous night's schemas)",
        );
    };
    let Some(tonight) = tonight.filter(|t| t.is_object()) else {
        return Check::new(
            NAME,
            Status::Skipped,
            "no complete scan tonight, so no schemas to compare",
        );
    };
    // The latest earlier night (of those the history keeps for trends) with schemas.
    let previous = history.nights.iter().rev().find_map(|v| {
        let schemas = v["checks"]
            .as_array()?
            .iter()
            .find(|c| c["check"] == DELETION)?["details"]["schemas"]
            .clone();
        schemas
            .is_object()
            .then(|| (v["as_of"].as_str().unwrap_or("").to_string(), schemas))
    });
    let Some((before, previous)) = previous else {
        return Check::new(
            NAME,
            Status::Skipped,
            "no earlier night with schemas in the history: nothing to compare yet",
        );
    };
    let parse = |v: &serde_json::Value| -> crate::domain::schema_changes::Schemas {
        serde_json::from_value(v.clone()).unwrap_or_default()
    };
    let changes = crate::domain::schema_changes::diff(&parse(&previous), &parse(&tonight));
    let log = match &cfg.tables.governance_change_log {
        None => Vec::new(),
        Some(t) => match governance_rows(&cfg.resolve(t), &req.s3) {
            Ok(rows) => rows,
            Err(e) => return Check::new(NAME, Status::Error, e),
        },
    };
    let violations = crate::domain::schema_changes::unreviewed(
        &changes,
        &log,
        req.as_of * 1_000_000,
        &cfg.nightly.pii_patterns,
    );
    let status = Status::violation_if(!violations.is_empty());
    let summary = format!(
        "{} change(s) since {before}, {} not covered by a reviewed change",
        changes.len(),
        violations.len()
    );
    let mut c = Check::new(NAME, status, summary);
    c.details = json!({"since": before, "changes": changes, "violations": violations});
    c
}

/// The change log's rows as the schema check reads them.
fn governance_rows(
    location: &str,
    s3: &S3Options,
) -> Result<Vec<crate::domain::schema_changes::ChangeRow>, String> {
    let t = read_table_at(location, s3).map_err(|e| e.to_string())?;
    let path = Path::new(location);
    let text = |name: &str| -> Result<Vec<Option<String>>, String> {
        if t.schema.field_with_name(name).is_err() {
            return Ok(vec![None; t.rows()]);
        }
        crate::io::tables::string_column(path, &t, name).map_err(|e| e.to_string())
    };
    let time = |name: &str| -> Result<Vec<Option<i64>>, String> {
        crate::domain::metrics::input::time_column(path, &t, name).map_err(|e| e.to_string())
    };
    let (ids, impacts, datasets) = (text("change_id")?, text("impact")?, text("datasets")?);
    let (submitted, reviewed) = (time("submitted_at")?, time("reviewed_at")?);
    Ok((0..t.rows())
        .map(|i| crate::domain::schema_changes::ChangeRow {
            change_id: ids[i].clone().unwrap_or_default(),
            impact: impacts[i].clone().unwrap_or_default(),
            submitted_at: submitted[i],
            reviewed_at: reviewed[i],
            datasets: datasets[i]
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|d| d.trim().to_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        })
        .collect())
}

/// Legal holds kept (runbook §3.5): every held dataset's hold documented, and no purge run
/// on it since the hold was set (`vouch metrics holds`).
fn legal_holds_check(req: &Request<'_>) -> Check {
    const NAME: &str = "legal_holds";
    let cfg = req.cfg;
    let (Some(policy), Some(runs)) = (
        &cfg.tables.data_retention_policy,
        &cfg.tables.analytics_job_run,
    ) else {
        return Check::new(
            NAME,
            Status::Skipped,
            "needs [tables] data_retention_policy and analytics_job_run",
        );
    };
    let (input, runs) = (
        PathBuf::from(cfg.resolve(policy)),
        PathBuf::from(cfg.resolve(runs)),
    );
    let r = crate::domain::metrics::run(&crate::domain::metrics::Request {
        metric: crate::domain::metrics::Metric::Holds,
        input: &input,
        as_of: req.as_of * 1_000_000,
        holidays: &[],
        by_month: false,
        targets: cfg.targets,
        s3: &req.s3,
        cycles: &Default::default(),
        job_runs: Some(&runs),
        incidents: None,
        dsar_rules: &Default::default(),
    });
    match r {
        Err(e) => Check::new(NAME, Status::Error, e.to_string()),
        Ok(r) => {
            let message = if r.breaches.is_empty() {
                "every hold documented; no purge run under a hold".to_string()
            } else {
                r.breaches
                    .iter()
                    .map(|b| b.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut c = Check::new(NAME, Status::violation_if(!r.breaches.is_empty()), message);
            c.details = serde_json::to_value(&r).unwrap_or_default();
            c
        }
    }
}

fn evidence_check(req: &Request<'_>, key: &Result<SigningKey, NightlyError>) -> Check {
    use crate::domain::evidence::RetentionMode;
    use crate::ops::evidence::{BuildOptions, Upload, Uploaded};
    const NAME: &str = "evidence_bundle";
    let cfg = req.cfg;
    let e = &cfg.evidence;
    if e.sources.is_empty() {
        return Check::new(NAME, Status::Skipped, "no [evidence] sources configured");
    }
    let key = match key {
        Ok(k) => k,
        Err(m) => return Check::new(NAME, Status::Error, m.to_string()),
    };
    let as_of = crate::domain::time::Timestamp::from_secs(req.as_of);
    let out = req.out.join(format!("evidence-{}.zip", as_of.date()));
    let env = crate::ops::Env {
        s3: req.s3.clone(),
        ..crate::ops::Env::at(as_of)
    };
    let built = crate::ops::evidence::build(
        &BuildOptions {
            sources: e.sources.iter().map(|s| cfg.resolve(s)).collect(),
            from: Some(crate::domain::time::Timestamp::from_secs(
                req.as_of - 86_400,
            )),
            to: Some(as_of),
            out: out.clone(),
            overwrite: crate::ops::Overwrite::Replace,
            as_of: Some(as_of),
            retention_years: e.retention_years,
            retention_mode: if e.retention_mode == "compliance" {
                RetentionMode::Compliance
            } else {
                RetentionMode::Governance
            },
            legal_hold: e.legal_hold,
            organization: None,
            upload: e.upload.as_ref().map(|target| Upload {
                target: target.clone(),
                skip_if_same: true,
            }),
            allow_empty: e.allow_empty,
        },
        key,
        &env,
    );
    let built = match built {
        Ok(b) => b,
        Err(m) => return Check::new(NAME, Status::Error, m.to_string()),
    };
    let uploaded = match (&built.uploaded, &built.summary.upload) {
        (Uploaded::AlreadyThere { uri }, _) => {
            format!("already uploaded to {uri} (same SHA-256)")
        }
        (Uploaded::Uploaded, Some(r)) => format!(
            "uploaded to {} (version {}), locked {} until {}",
            r.uri,
            r.version_id.as_deref().unwrap_or("-"),
            r.retention_mode,
            r.retain_until
        ),
        _ => "not uploaded (no [evidence] upload configured)".to_string(),
    };
    let summary = built.summary;
    let mut c = Check::new(
        NAME,
        Status::Ok,
        format!("{} file(s) bagged and signed; {uploaded}", summary.files),
    );
    let mut details = serde_json::to_value(&summary).unwrap_or_default();
    // The bundle is beside the report: name it relative to the output directory.
    details["out"] = json!(out.file_name().map(|n| n.to_string_lossy().to_string()));
    c.details = details;
    c
}

fn retention_check(req: &Request<'_>) -> Check {
    const NAME: &str = "retention_check";
    let r = &req.cfg.retention;
    let Some(location) = &r.location else {
        return Check::new(NAME, Status::Skipped, "no [retention] location configured");
    };
    let env = crate::ops::Env {
        s3: req.s3.clone(),
        ..crate::ops::Env::at(crate::domain::time::Timestamp::from_secs(req.as_of))
    };
    let report = crate::ops::retention::run(
        &crate::ops::retention::Options {
            location: location.clone(),
            min_years: r.min_years,
            require_compliance: !r.allow_governance,
        },
        &env,
    );
    match report {
        Ok(rep) => {
            let status = Status::violation_if(!rep.violations.is_empty());
            let mut c = Check::new(
                NAME,
                status,
                format!(
                    "{} version(s) checked, {} violation(s)",
                    rep.versions_checked,
                    rep.violations.len()
                ),
            );
            c.details = serde_json::to_value(&rep).unwrap_or_default();
            c
        }
        Err(e) => Check::new(NAME, Status::Error, e.to_string()),
    }
}

/// What `vouch nightly` is asked to do.
pub struct Options {
    /// Directory for report.json, report.html, certificates/ and the evidence bundle.
    pub out: PathBuf,
    /// Default: `env.now`.
    pub as_of: Option<crate::domain::time::Timestamp>,
    pub scan_report: Option<PathBuf>,
}

/// Every check, as [`run`] does, after the checks only the command makes: the subject key
/// is required (nightly names subjects only by keyed hash) and the output directory is
/// created. `log` is called as each check finishes.
pub fn run_checks(
    cfg: &Config,
    opts: &Options,
    env: &crate::ops::Env<'_>,
    log: &dyn Fn(&Check),
) -> Result<NightlyReport, crate::ops::OpError> {
    let subject_key = crate::ops::require_subject_key(
        cfg,
        env,
        "nightly",
        "its outputs name subjects only by keyed hash",
    )?;
    crate::io::fsio::create_dir_all(&opts.out)?;
    Ok(run(&Request {
        cfg,
        as_of: opts.as_of.unwrap_or(env.now).secs(),
        out: &opts.out,
        s3: env.s3.clone(),
        subject_key,
        log,
        progress: env.progress,
        scan_report: opts.scan_report.as_deref(),
    })?)
}

/// `vouch nightly --write-subjects FILE`: the subject IDs deletion verification would
/// check at `as_of`, one a line, to a file only its owner may read. Returns how many.
pub fn write_subjects(
    cfg: &Config,
    as_of: Option<crate::domain::time::Timestamp>,
    file: &Path,
    env: &crate::ops::Env<'_>,
) -> Result<usize, crate::ops::OpError> {
    let ids = due_subjects(cfg, as_of.unwrap_or(env.now).secs(), &env.s3)?;
    let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
    crate::io::fsio::write_atomic_private(file, text.as_bytes())?;
    Ok(ids.len())
}

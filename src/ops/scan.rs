//! `vouch scan` (one machine, or one part of a sharded scan), `vouch scan plan` and
//! `vouch scan merge`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::domain::config::Config;
use crate::domain::custody::CustodyWriter;
use crate::domain::index::{IndexKey, LakeIndex};
use crate::domain::report::ScanReport;
use crate::domain::scan::{ScanOptions, ScanRequest};
use crate::domain::shard::{FileList, PartialReport, Plan};
use crate::domain::subjects::{SubjectError, SubjectLabeler, SubjectList};
use crate::io::store::Store;
use crate::ops::{Env, LakeLocation, OpError, OpenedLake, Overwrite};

/// Whom to look for: an ID file (`-` for stdin) and IDs given one by one.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    pub ids_file: Option<PathBuf>,
    pub ids: Vec<String>,
}

impl Subjects {
    /// The IDs, each once, in the order given; none at all is an error.
    pub fn read(&self) -> Result<SubjectList, OpError> {
        let mut subjects = match &self.ids_file {
            Some(p) => crate::domain::subjects::read_id_file(p)?,
            None => SubjectList::default(),
        };
        for id in &self.ids {
            let id = id.trim();
            if !id.is_empty() {
                subjects.insert(id)?;
            }
        }
        if subjects.is_empty() {
            return Err(SubjectError::NoneGiven.into());
        }
        Ok(subjects)
    }
}

/// Which decoding shortcuts a scan may take (all of them by default).
#[derive(Debug, Clone, Copy)]
pub struct Shortcuts {
    pub statistics: bool,
    pub bloom_filters: bool,
    pub dictionaries: bool,
}

impl Default for Shortcuts {
    fn default() -> Self {
        Shortcuts {
            statistics: true,
            bloom_filters: true,
            dictionaries: true,
        }
    }
}

/// One part of a sharded scan: the plan lines to read (`-` for stdin), and which shard.
#[derive(Debug, Clone)]
pub struct PartOf {
    pub files_from: String,
    pub shard: Option<(usize, usize)>,
}

/// What `vouch scan` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lake: LakeLocation,
    pub subjects: Subjects,
    pub part_of: Option<PartOf>,
    pub index: Option<PathBuf>,
    /// Bring the index up to date first, and keep the outcomes decoded for later nights.
    pub update_index: bool,
    pub retention_policy: Option<PathBuf>,
    pub shortcuts: Shortcuts,
    pub include_versions: bool,
    /// Also write the JSON (report or part) here, atomically.
    pub out: Option<PathBuf>,
    pub overwrite: Overwrite,
    /// Say, for the terminal's text only, which typed ID each keyed hash is.
    pub show_ids: bool,
    /// Write the chain of custody here (JSON Lines, one object a line) instead of into
    /// the report's `objects`; the report records its SHA-256.
    pub custody: Option<PathBuf>,
}

/// What a scan found.
pub enum Outcome {
    Report {
        report: ScanReport,
        location: String,
        /// Said before the report (an index that could not be used).
        warnings: Vec<String>,
        /// With `show_ids` and a subject key: (keyed hash, the ID as typed), for the
        /// terminal's text only — never written to `--out`, JSON or logs.
        typed_ids: Vec<(String, String)>,
    },
    /// A part: not a verdict; the merge decides.
    Part {
        part: PartialReport,
        location: String,
        warnings: Vec<String>,
        /// The part's JSON: written to `--out`, or for stdout when there is none.
        json: Vec<u8>,
    },
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Report { report, .. } => report.verdict.exit_code() as u8,
            Outcome::Part { part, .. } => part.exit_code(),
        }
    }
}

/// A scan request's common part: everything but the store, tables and subjects.
pub struct RequestParts<'a> {
    pub holds: BTreeSet<String>,
    pub labeler: SubjectLabeler,
    pub options: ScanOptions,
    pub index: Option<&'a LakeIndex>,
    pub recall: Option<&'a crate::domain::index::Recall>,
    pub prescan: Option<&'a crate::domain::scan::Prescan<'a>>,
}

/// The one way a scan request is made from an opened lake (scan, export and nightly).
pub fn request<'a>(
    lake: &'a OpenedLake,
    subjects: &'a SubjectList,
    parts: RequestParts<'a>,
    collect_rows: bool,
    include_versions: bool,
) -> ScanRequest<'a> {
    ScanRequest {
        store: lake.store.as_ref(),
        lake: lake.location.clone(),
        tables: lake.lake.tables.clone(),
        subjects,
        holds: parts.holds,
        labeler: parts.labeler,
        options: parts.options,
        prior_errors: lake.lake.errors.iter().map(Into::into).collect(),
        collect_rows,
        include_versions,
        index: parts.index,
        recall: parts.recall,
        prescan: parts.prescan,
    }
}

/// The labeler: keyed hashes under the subject key, raw IDs without one.
pub fn labeler(cfg: &Config, env: &Env<'_>) -> Result<SubjectLabeler, OpError> {
    Ok(match crate::ops::subject_key(cfg, env)? {
        Some(k) => SubjectLabeler::keyed(&k)?,
        None => SubjectLabeler::plain(),
    })
}

/// The index key, from the subject key.
pub fn index_key(cfg: &Config, env: &Env<'_>) -> Result<IndexKey, OpError> {
    let key = crate::ops::require_subject_key(
        cfg,
        env,
        "the subject index",
        "it holds keyed hashes only",
    )?;
    Ok(IndexKey::new(&key))
}

fn read_text(from: &str) -> Result<(String, String), OpError> {
    let shown = if from == "-" { "stdin" } else { from };
    let bytes = crate::io::fsio::read_or_stdin(Path::new(from))
        .map_err(|e| OpError::Failed(format!("{shown}: {}", crate::io::store::io_message(&e))))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| OpError::Failed(format!("{shown}: stream did not contain valid UTF-8")))?;
    Ok((text, shown.to_string()))
}

/// The plan lines of one part, cut to its shard. A shard of a regular file is cut reading
/// the file twice as a stream (never the whole plan in memory); standard input, a pipe or
/// another file that cannot be read twice is read whole.
fn file_list(p: &PartOf) -> Result<FileList, OpError> {
    if let Some((i, n)) = p.shard
        && p.files_from != "-"
        && crate::io::fsio::is_file(Path::new(&p.files_from))
    {
        let path = PathBuf::from(&p.files_from);
        let open = || -> std::io::Result<Box<dyn std::io::BufRead>> {
            let f = crate::io::fsio::open(&path)?;
            Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, f)))
        };
        return Ok(crate::domain::plan::shard_of_file_list(
            &open,
            &p.files_from,
            i,
            n,
        )?);
    }
    let (text, shown) = read_text(&p.files_from)?;
    let mut list = crate::domain::shard::parse_file_list(&text, &shown)?;
    if let Some((i, n)) = p.shard {
        let of = crate::domain::shard::shard_of(&list.files, n);
        list.files = std::mem::take(&mut list.files)
            .into_iter()
            .zip(of)
            .filter_map(|(f, k)| (k == i).then_some(f))
            .collect();
    }
    Ok(list)
}

fn write_out(out: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), OpError> {
    Ok(crate::io::fsio::write_atomic(
        out,
        bytes,
        overwrite.allowed(),
    )?)
}

/// The custody file of a scan, merge or nightly, open (as a temp file) while the report
/// is made.
pub(crate) struct Custody {
    file: crate::io::fsio::StreamedFile,
    name: String,
}

impl Custody {
    /// Opens `path` unless it is none; refuses the report's own `--out`.
    pub(crate) fn open(
        path: Option<&Path>,
        out: Option<&Path>,
        overwrite: Overwrite,
    ) -> Result<Option<Custody>, OpError> {
        let Some(path) = path else {
            return Ok(None);
        };
        if let Some(out) = out {
            if crate::io::fsio::same_place(out, path) {
                return Err(OpError::Failed(format!(
                    "{}: --custody and --out name the same file",
                    path.display()
                )));
            }
            // Refused before anything is written: a custody file is never left beside a
            // report that could not be written.
            if !overwrite.allowed() && crate::io::fsio::is_file(out) {
                return Err(crate::io::fsio::FileError::new(
                    out.display().to_string(),
                    "already exists (use --force to overwrite)",
                )
                .into());
            }
        }
        Custody::create(path, overwrite).map(Some)
    }

    /// Opens the custody file at `path`.
    pub(crate) fn create(path: &Path, overwrite: Overwrite) -> Result<Custody, OpError> {
        Ok(Custody {
            file: crate::io::fsio::StreamedFile::create(path, overwrite.allowed())?,
            name: crate::domain::custody::name_of(path),
        })
    }

    /// Runs `make` with a writer into the file, then records the file's digest in the
    /// report and seals it again; what `make` refuses (a merge's problems) comes back as
    /// it is.
    pub(crate) fn write<E>(
        &mut self,
        labeler: &SubjectLabeler,
        make: impl FnOnce(&mut CustodyWriter<'_>) -> Result<ScanReport, E>,
    ) -> Result<Result<ScanReport, E>, OpError> {
        let mut writer = CustodyWriter::new(&mut self.file);
        let mut report = match make(&mut writer) {
            Ok(r) => r,
            Err(refused) => return Ok(Err(refused)),
        };
        let digest = writer.finish(&self.name).map_err(|e| {
            OpError::Failed(format!(
                "{}: {}",
                self.file.shown(),
                crate::io::store::io_message(&e)
            ))
        })?;
        report.custody = Some(digest);
        report.seal(labeler);
        Ok(Ok(report))
    }

    /// [`Custody::write`] for a report that is always made (a scan).
    pub(crate) fn write_scan(
        &mut self,
        labeler: &SubjectLabeler,
        scan: impl FnOnce(&mut CustodyWriter<'_>) -> ScanReport,
    ) -> Result<ScanReport, OpError> {
        self.write(labeler, |w| Ok::<_, std::convert::Infallible>(scan(w)))
            .map(|made| made.unwrap_or_else(|never| match never {}))
    }

    /// Renames the file into place: after the report is made, before it is written.
    pub(crate) fn finish(self) -> Result<(), OpError> {
        Ok(self.file.finish()?)
    }
}

pub fn run(opts: &Options, env: &Env<'_>) -> Result<Outcome, OpError> {
    let subjects = opts.subjects.read()?;
    let (cfg, location, store) = crate::ops::open_store(&opts.lake, env)?;
    let labeler = labeler(&cfg, env)?;
    // The index's key first: without one the run stops before it lists anything.
    let index_key = match &opts.index {
        Some(_) => Some(index_key(&cfg, env)?),
        None => None,
    };
    // A local path or an `s3://` URI, as nightly reads it.
    let policy = opts
        .retention_policy
        .as_ref()
        .map(|p| p.display().to_string())
        .or_else(|| {
            cfg.tables
                .data_retention_policy
                .as_ref()
                .map(|p| cfg.resolve(p))
        });
    let holds = match &policy {
        Some(p) => crate::io::tables::legal_holds_at(p, &env.s3)?,
        None => Default::default(),
    };
    // A part of a sharded scan: the plan's lines say which files and tables.
    let part = match &opts.part_of {
        Some(p) => {
            if !labeler.is_keyed() {
                return Err(OpError::SubjectKeyRequired {
                    what: "--files-from",
                    why: "partial reports travel between machines and name subjects only by \
                          keyed hash",
                });
            }
            if opts.include_versions {
                return Err(OpError::Failed(
                    "--include-versions is for `vouch scan plan`: the plan lists the versions"
                        .into(),
                ));
            }
            if opts.custody.is_some() {
                return Err(OpError::Failed(
                    "--custody is for a whole scan or `vouch scan merge`: a part carries its \
                     files to the merge"
                        .into(),
                ));
            }
            Some((file_list(p)?, p.shard))
        }
        None => None,
    };
    // A part needs the lake's tables only to read again the metadata of its Delta and
    // Iceberg tables.
    let lake = match &part {
        Some((list, _)) if list.files.iter().all(|f| f.format_table.is_none()) => {
            Default::default()
        }
        _ => crate::domain::lake::discover_tables(store.as_ref(), &cfg.lake)?,
    };
    let options = ScanOptions {
        use_statistics: opts.shortcuts.statistics,
        use_bloom_filters: opts.shortcuts.bloom_filters,
        use_dictionaries: opts.shortcuts.dictionaries,
        ..ScanOptions::for_lake(&cfg.lake)
    };
    let mut warnings = Vec::new();
    let prescan = crate::domain::scan::Prescan::new(&subjects);
    // The upkeep and the scan work on one listing of the lake (a part has its files).
    let mut listed = (opts.index.is_some() && opts.update_index && part.is_none()).then(|| {
        crate::domain::lake::list_tables(store.as_ref(), &lake.tables, opts.include_versions)
    });
    let index = match (&opts.index, index_key) {
        (Some(dir), Some(key)) => {
            let updated = if opts.update_index {
                let own;
                let listed = match &listed {
                    Some(l) if !opts.include_versions => l,
                    _ => {
                        own = crate::domain::lake::list_tables(store.as_ref(), &lake.tables, false);
                        &own
                    }
                };
                crate::ops::index::keep_current(
                    store.as_ref(),
                    listed,
                    &key,
                    dir,
                    &options,
                    &prescan,
                    env.progress,
                )
                .map(|errors| warnings.extend(errors))
            } else {
                Ok(())
            };
            match updated.and_then(|()| LakeIndex::load(dir, &key)) {
                Ok(ix) => {
                    let recall = opts.update_index.then(|| {
                        crate::domain::index::Recall::load(
                            dir,
                            &key,
                            env.now.secs(),
                            crate::domain::scan::recall_settings(&options),
                        )
                    });
                    Some((ix, recall, dir))
                }
                Err(e) => {
                    // Never trusted when unusable; the answer is the same without it.
                    warnings.push(format!("index {}: {e}; scanning without it", dir.display()));
                    None
                }
            }
        }
        _ => None,
    };
    let opened = OpenedLake {
        cfg,
        location,
        store,
        lake,
    };
    let req = request(
        &opened,
        &subjects,
        RequestParts {
            holds,
            labeler,
            options,
            index: index.as_ref().map(|i| &i.0),
            recall: index.as_ref().and_then(|i| i.1.as_ref()),
            prescan: opts.update_index.then_some(&prescan),
        },
        false,
        opts.include_versions,
    );
    let store: &dyn Store = opened.store.as_ref();
    let location = opened.location.clone();
    if let Some((list, shard)) = part {
        let part = crate::ops::in_pool(env.threads, store, || {
            let reopened =
                crate::domain::shard::reopen_tables(store, &opened.lake.tables, &list.files);
            crate::domain::shard::scan_part(
                &req,
                list.plan.as_deref(),
                &list.files,
                shard,
                env.progress,
                &reopened,
            )
        })?;
        // Compact, on one line: parts travel to the merge, which reads them as a stream.
        let mut json = serde_json::to_vec(&part).map_err(|e| e.to_string())?;
        json.push(b'\n');
        if let Some(out) = &opts.out {
            write_out(out, &json, opts.overwrite)?;
        }
        return Ok(Outcome::Part {
            part,
            location,
            warnings,
            json,
        });
    }
    let mut custody = Custody::open(opts.custody.as_deref(), opts.out.as_deref(), opts.overwrite)?;
    let listed = listed
        .take()
        .unwrap_or_else(|| crate::domain::scan::list(&req));
    let report = crate::ops::in_pool(env.threads, store, || match custody.as_mut() {
        None => Ok(crate::domain::scan::scan_locating_of(&req, listed, env.progress, None).0),
        Some(c) => c.write_scan(&req.labeler, |w| {
            crate::domain::scan::scan_locating_of(&req, listed, env.progress, Some(w)).0
        }),
    })??;
    if let Some(c) = custody {
        c.finish()?;
    }
    if let Some((ix, Some(_), _)) = &index {
        // Damaged entries found on the way: the next upkeep indexes their files again.
        ix.forget_broken();
    }
    if let Some((ix, Some(recall), dir)) = &index
        && let Err(e) = recall.save(dir, &ix.key, &|e| ix.lists_entry(e))
    {
        warnings.push(format!(
            "index {}: {e}; the row groups decoded will be decoded again next time",
            dir.display()
        ));
    }
    if let Some(out) = &opts.out {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
        write_out(out, &json, opts.overwrite)?;
    }
    let typed_ids = if opts.show_ids && req.labeler.is_keyed() {
        subjects
            .iter()
            .map(|id| (req.labeler.label(&id), id.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Outcome::Report {
        report,
        location,
        warnings,
        typed_ids,
    })
}

/// What `vouch scan plan` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub lake: LakeLocation,
    pub include_versions: bool,
    pub out: Option<PathBuf>,
    pub overwrite: Overwrite,
}

/// The plan, and what keeps it from being complete.
pub struct PlanOutcome {
    pub plan: Plan,
    pub location: String,
    /// `location/file: problem`, and a lake with no tables.
    pub problems: Vec<String>,
    /// The JSON Lines: written to `--out`, or for stdout when there is none.
    pub jsonl: Vec<u8>,
}

impl PlanOutcome {
    /// The line said after the plan is written.
    pub fn summary(&self) -> String {
        let h = &self.plan.header;
        format!(
            "plan {}: {} file(s), {} byte(s) in {} table(s)",
            &h.fingerprint[..12],
            h.files,
            h.bytes,
            h.tables.len()
        )
    }

    /// The plan is written either way; a merge of it reports the same problems.
    pub fn exit_code(&self) -> u8 {
        if self.problems.is_empty() { 0 } else { 2 }
    }
}

pub fn plan(opts: &PlanOptions, env: &Env<'_>) -> Result<PlanOutcome, OpError> {
    let opened = crate::ops::open_lake(&opts.lake, env)?;
    let listed = crate::domain::lake::list_tables(
        opened.store.as_ref(),
        &opened.lake.tables,
        opts.include_versions,
    );
    let plan = Plan::of(&opened.location, &listed, &opened.lake.errors);
    let jsonl = plan.to_jsonl();
    if let Some(out) = &opts.out {
        write_out(out, &jsonl, opts.overwrite)?;
    }
    let errors: Vec<_> = plan
        .header
        .errors
        .iter()
        .chain(plan.header.tables.iter().flat_map(|t| &t.errors))
        .cloned()
        .collect();
    let mut problems = crate::ops::error_lines(&opened.location, &errors);
    if opened.lake.tables.is_empty() {
        problems.push(format!("{}: no tables found in the lake", opened.location));
    }
    Ok(PlanOutcome {
        plan,
        location: opened.location,
        problems,
        jsonl,
    })
}

/// What `vouch scan merge` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    pub parts: Vec<PathBuf>,
    pub plan: PathBuf,
    pub config: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub overwrite: Overwrite,
    /// As [`Options::custody`].
    pub custody: Option<PathBuf>,
}

/// The merged report, or why the parts do not make one.
pub enum MergeOutcome {
    Report(Box<ScanReport>),
    Refused(Vec<String>),
}

impl MergeOutcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            MergeOutcome::Report(r) => r.verdict.exit_code() as u8,
            MergeOutcome::Refused(_) => 2,
        }
    }
}

pub fn merge(opts: &MergeOptions, env: &Env<'_>) -> Result<MergeOutcome, OpError> {
    let open = |p: &Path| {
        crate::io::fsio::open(p)
            .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
            .map_err(|e| {
                OpError::Failed(format!(
                    "{}: {}",
                    p.display(),
                    crate::io::store::io_message(&e)
                ))
            })
    };
    let plan_shown = opts.plan.display().to_string();
    let plan = open(&opts.plan)?;
    // Every part is opened here, so that one that cannot be is said before anything else.
    let mut parts = Vec::with_capacity(opts.parts.len());
    for p in &opts.parts {
        open(p)?;
        let path = p.clone();
        let reopen = move || -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
            let f = crate::io::fsio::open(&path)?;
            Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, f)))
        };
        parts.push(crate::domain::merge::PartInput {
            name: p.display().to_string(),
            open: Box::new(reopen),
        });
    }
    let cfg = crate::ops::load_config(opts.config.as_deref())?;
    let key = crate::ops::require_subject_key(
        &cfg,
        env,
        "scan merge",
        "it checks each part's authentication with the key the parts were made with",
    )?;
    let labeler = SubjectLabeler::keyed(&key)?;
    let mut custody = Custody::open(opts.custody.as_deref(), opts.out.as_deref(), opts.overwrite)?;
    let merged = match custody.as_mut() {
        None => crate::domain::merge::merge(plan, &plan_shown, parts, &labeler, None),
        Some(c) => c.write(&labeler, |w| {
            crate::domain::merge::merge(plan, &plan_shown, parts, &labeler, Some(w))
        })?,
    };
    match merged {
        Ok(report) => {
            if let Some(c) = custody {
                c.finish()?;
            }
            if let Some(out) = &opts.out {
                let json = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
                write_out(out, &json, opts.overwrite)?;
            }
            Ok(MergeOutcome::Report(Box::new(report)))
        }
        Err(problems) => Ok(MergeOutcome::Refused(problems)),
    }
}

//! The `vouch` command line: parses arguments (`cli::args`), turns them into operation
//! options (the only place flags are validated), runs one operation (`vouch::ops`),
//! prints its outcome and maps it to the exit code: 0 holds, 1 violation, 2 could not
//! decide. No work of its own.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use cli::args::*;
use cli::output::{errors, print, print_unless_written};
use cli::progress::TermProgress;
use vouch::domain::config::Config;
use vouch::domain::time::Timestamp;
use vouch::ops::{self, Env, LakeLocation, OpError, Overwrite};

/// A failure that stops the command: one line on stderr, exit 2.
enum Fatal {
    Op(OpError),
    Stdout(std::io::Error),
}

impl From<OpError> for Fatal {
    fn from(e: OpError) -> Self {
        Fatal::Op(e)
    }
}

impl From<std::io::Error> for Fatal {
    fn from(e: std::io::Error) -> Self {
        Fatal::Stdout(e)
    }
}

impl From<String> for Fatal {
    fn from(m: String) -> Self {
        Fatal::Op(OpError::Failed(m))
    }
}

fn main() -> ExitCode {
    // Decoder panics are caught and reported per file; keep the default hook's backtrace
    // text (which could quote file contents) off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(fatal)) => {
            match fatal {
                Fatal::Op(e) => {
                    if let OpError::Export(vouch::domain::export::ExportError::Incomplete {
                        errors: lines,
                    }) = &e
                    {
                        errors(lines);
                    }
                    eprintln!("vouch: error: {e}");
                }
                Fatal::Stdout(e) => eprintln!("vouch: error: {e}"),
            }
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!(
                "vouch: internal error (a bug in vouch; please report it): the command stopped"
            );
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Fatal> {
    let quiet = cli.quiet;
    match cli.cmd {
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Plan(a)),
            ..
        }) => scan_plan(a),
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Merge(a)),
            ..
        }) => scan_merge(a),
        Cmd::Scan(a) => scan(a, quiet),
        Cmd::Export(a) => export(a, quiet),
        Cmd::Evidence(EvidenceCmd::Build(a)) => evidence_build(a),
        Cmd::Evidence(EvidenceCmd::Verify(a)) => evidence_verify(a),
        Cmd::Keygen(a) => keygen(a),
        Cmd::Retention(RetentionCmd::Check(a)) => retention_check(a),
        Cmd::Metrics(a) => metrics(a),
        Cmd::Nightly(a) => nightly(a),
        Cmd::Certificate(CertificateCmd::Verify(a)) => certificate_verify(a),
        Cmd::Demo(a) => demo(a),
        Cmd::Index(IndexCmd::Build(a)) => index_build(a),
    }
}

// ---- from arguments to options ----------------------------------------------------

/// The environment the library is handed: the S3 endpoint, `VOUCH_SUBJECT_KEY`, the
/// clock, the progress sink.
fn env<'a>(endpoint_url: Option<&str>, progress: &'a dyn vouch::domain::scan::Progress) -> Env<'a> {
    Env {
        s3: vouch::io::s3::S3Options {
            endpoint_url: endpoint_url.map(str::to_string),
            path_style: None,
        },
        subject_key: std::env::var("VOUCH_SUBJECT_KEY").ok(),
        threads: None,
        progress,
        now: Timestamp::from_micros(chrono::Utc::now().timestamp_micros()),
    }
}

fn location(a: &LocationArgs) -> LakeLocation {
    LakeLocation {
        lake: a.lake.clone(),
        config: a.config.clone(),
        catalog: a.catalog.clone(),
        database: a.database.clone(),
    }
}

fn subjects(a: &SubjectArgs) -> ops::scan::Subjects {
    ops::scan::Subjects {
        ids_file: a.ids.clone(),
        ids: a.id.clone(),
    }
}

fn overwrite(force: bool) -> Overwrite {
    if force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    }
}

/// `--as-of`, `--from`, `--to`: a date or an RFC 3339 time, everywhere.
fn time(flag: &str, value: Option<&str>) -> Result<Option<Timestamp>, Fatal> {
    Ok(value.map(|s| Timestamp::parse_flag(flag, s)).transpose()?)
}

fn progress(quiet: bool) -> TermProgress {
    TermProgress::new(!quiet && std::io::stderr().is_terminal())
}

fn nightly_log(format: LogFormat) -> impl Fn(&ops::nightly::Check) {
    move |c: &ops::nightly::Check| match format {
        LogFormat::Text => eprintln!(
            "vouch nightly: {}: {}: {}",
            c.check,
            c.status.as_str(),
            c.summary
        ),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({"check": c.check, "status": c.status, "summary": c.summary})
        ),
    }
}

// ---- one function per command: options, run, print, exit code ----------------------

fn scan(a: ScanArgs, quiet: bool) -> Result<u8, Fatal> {
    let part_of = match &a.files_from {
        Some(f) => Some(ops::scan::PartOf {
            files_from: f.clone(),
            shard: a
                .shard
                .as_deref()
                .map(vouch::domain::shard::parse_shard)
                .transpose()
                .map_err(OpError::from)?,
        }),
        None => None,
    };
    let opts = ops::scan::Options {
        lake: location(&a.lake.location),
        subjects: subjects(&a.lake.subjects),
        part_of,
        index: a.index.clone(),
        retention_policy: a.retention_policy.clone(),
        shortcuts: ops::scan::Shortcuts {
            statistics: !a.no_statistics,
            bloom_filters: !a.no_bloom_filters,
            dictionaries: !a.no_dictionaries,
        },
        include_versions: a.include_versions,
        out: a.out.clone(),
        overwrite: overwrite(a.force),
        show_ids: a.show_ids,
    };
    if a.show_ids && !matches!(a.format, Format::Text) {
        return Err(OpError::Failed(
            "--show-ids is for the text report on a terminal: JSON keeps subjects as keyed \
             hashes"
                .into(),
        )
        .into());
    }
    let started = Instant::now();
    let shown = progress(quiet);
    let env = Env {
        threads: a.threads.map(usize::from),
        ..env(a.lake.location.endpoint_url.as_deref(), &shown)
    };
    let outcome = ops::scan::run(&opts, &env);
    shown.finish();
    let outcome = outcome?;
    match &outcome {
        ops::scan::Outcome::Report {
            report,
            location,
            warnings,
            typed_ids,
        } => {
            errors(warnings);
            errors(&ops::error_lines(location, &report.errors));
            print(a.format, report, || {
                // The officer's view: each keyed hash with the ID typed for it.
                let mut text = report.to_text();
                for (label, id) in typed_ids {
                    text = text.replace(label.as_str(), &format!("{label} (ID {id})"));
                }
                text
            })?;
            if !quiet {
                eprintln!("vouch: scanned in {:.2} s", started.elapsed().as_secs_f64());
            }
        }
        ops::scan::Outcome::Part {
            part,
            location,
            warnings,
            json,
        } => {
            errors(warnings);
            for f in &part.files {
                if let Some(e) = &f.error {
                    eprintln!("vouch: {}: {e}", ops::join_path(location, &f.record.file));
                }
            }
            print_unless_written(a.out.as_deref(), json)?;
            if !quiet {
                let (rows, errs) = part.summary();
                eprintln!(
                    "vouch: part{} of plan {}: {} file(s), {} matching row(s), {} error(s) in \
                     {:.2} s (not a verdict: merge every part with `vouch scan merge`)",
                    part.shard
                        .as_ref()
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default(),
                    part.plan.get(..12).unwrap_or("-"),
                    part.files.len(),
                    rows,
                    errs,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(outcome.exit_code())
}

fn scan_plan(a: PlanArgs) -> Result<u8, Fatal> {
    let opts = ops::scan::PlanOptions {
        lake: location(&a.location),
        include_versions: a.include_versions,
        out: a.out.clone(),
        overwrite: overwrite(a.force),
    };
    let p = ops::scan::plan(
        &opts,
        &env(a.location.endpoint_url.as_deref(), &NO_PROGRESS),
    )?;
    print_unless_written(a.out.as_deref(), &p.jsonl)?;
    errors(&p.problems);
    eprintln!("vouch: {}", p.summary());
    Ok(p.exit_code())
}

fn scan_merge(a: MergeArgs) -> Result<u8, Fatal> {
    let opts = ops::scan::MergeOptions {
        parts: a.parts.clone(),
        plan: a.plan.clone(),
        config: a.config.clone(),
        out: a.out.clone(),
        overwrite: overwrite(a.force),
    };
    let outcome = ops::scan::merge(&opts, &env(None, &NO_PROGRESS))?;
    match &outcome {
        ops::scan::MergeOutcome::Refused(problems) => {
            const SHOWN: usize = 20;
            for p in problems.iter().take(SHOWN) {
                eprintln!("vouch: merge refused: {p}");
            }
            if problems.len() > SHOWN {
                eprintln!(
                    "vouch: merge refused: … and {} more",
                    problems.len() - SHOWN
                );
            }
        }
        ops::scan::MergeOutcome::Report(report) => {
            errors(&ops::error_lines(&report.lake, &report.errors));
            print(a.format, report, || report.to_text())?;
        }
    }
    Ok(outcome.exit_code())
}

fn export(a: ExportArgs, quiet: bool) -> Result<u8, Fatal> {
    use vouch::domain::export::DataFormat;
    let opts = ops::export::Options {
        lake: location(&a.lake.location),
        subjects: subjects(&a.lake.subjects),
        request_id: a.request_id.clone(),
        to: match &a.passphrase_file {
            Some(p) => ops::export::EncryptTo::PassphraseFile(p.clone()),
            None => ops::export::EncryptTo::Recipients {
                recipients: a.recipient.clone(),
                file: a.recipients_file.clone(),
            },
        },
        out: a.out.clone(),
        overwrite: overwrite(a.force),
        data_format: match a.data_format {
            DataFormatArg::Json => DataFormat::Json,
            DataFormatArg::Csv => DataFormat::Csv,
            DataFormatArg::Parquet => DataFormat::Parquet,
        },
        as_of: time("--as-of", a.as_of.as_deref())?,
        include_versions: a.include_versions,
    };
    let shown = progress(quiet);
    let summary = ops::export::run(&opts, &env(a.lake.location.endpoint_url.as_deref(), &shown));
    shown.finish();
    let summary = summary?;
    print(a.format, &summary, || ops::export::to_text(&summary))?;
    Ok(0)
}

fn evidence_build(a: EvidenceBuildArgs) -> Result<u8, Fatal> {
    use vouch::domain::evidence::RetentionMode;
    let opts = ops::evidence::BuildOptions {
        sources: a.source.clone(),
        from: time("--from", a.from.as_deref())?,
        to: time("--to", a.to.as_deref())?,
        out: a.out.clone(),
        overwrite: overwrite(a.force),
        as_of: time("--as-of", a.as_of.as_deref())?,
        retention_years: a.retention_years,
        retention_mode: match a.retention_mode {
            RetentionModeArg::Compliance => RetentionMode::Compliance,
            RetentionModeArg::Governance => RetentionMode::Governance,
        },
        legal_hold: a.legal_hold,
        organization: a.organization.clone(),
        upload: a.upload.as_ref().map(|target| ops::evidence::Upload {
            target: target.clone(),
            skip_if_same: false,
        }),
        allow_empty: a.allow_empty,
    };
    let key = ops::evidence::signing_key(&a.signing_key, a.signing_key_passphrase_file.as_deref())?;
    let built = ops::evidence::build(&opts, &key, &env(a.endpoint_url.as_deref(), &NO_PROGRESS))?;
    print(a.format, &built.summary, || built.to_text())?;
    Ok(0)
}

fn evidence_verify(a: EvidenceVerifyArgs) -> Result<u8, Fatal> {
    let signers = match (&a.public_key, &a.allowed_signers) {
        (Some(p), _) => ops::evidence::Signers::PublicKey(p.clone()),
        (None, Some(f)) => ops::evidence::Signers::AllowedSigners(f.clone()),
        (None, None) => return Err("give --public-key or --allowed-signers".to_string().into()),
    };
    let r = ops::evidence::verify(&ops::evidence::VerifyOptions {
        bundle: a.bundle.clone(),
        signers,
    })?;
    print(a.format, &r, || ops::evidence::verify_text(&a.bundle, &r))?;
    errors(&r.problems);
    Ok(ops::evidence::verify_exit_code(&r))
}

fn retention_check(a: RetentionCheckArgs) -> Result<u8, Fatal> {
    let r = ops::retention::run(
        &ops::retention::Options {
            location: a.location.clone(),
            min_years: a.min_years,
            require_compliance: !a.allow_governance,
        },
        &env(a.endpoint_url.as_deref(), &NO_PROGRESS),
    )?;
    print(a.format, &r, || ops::retention::to_text(&r))?;
    Ok(ops::retention::exit_code(&r))
}

fn keygen(a: KeygenArgs) -> Result<u8, Fatal> {
    let s = ops::keygen::run(&ops::keygen::Options {
        out: a.out.clone(),
        passphrase_file: a.passphrase_file.clone(),
        overwrite: overwrite(a.force),
    })?;
    print(Format::Text, &s, || ops::keygen::to_text(&s))?;
    Ok(0)
}

fn metrics(a: MetricsArgs) -> Result<u8, Fatal> {
    use vouch::domain::metrics::Metric;
    let opts = ops::metrics::Options {
        metric: match a.metric {
            MetricArg::Incidents => Metric::Incidents,
            MetricArg::Dsar => Metric::Dsar,
            MetricArg::Changes => Metric::Changes,
            MetricArg::Jobs => Metric::Jobs,
            MetricArg::Holds => Metric::Holds,
            MetricArg::Costs => Metric::Costs,
        },
        input: a.input.clone(),
        as_of: time("--as-of", a.as_of.as_deref())?,
        config: a.config.clone(),
        holidays: a.holidays.clone(),
        by_month: matches!(a.by, Some(ByArg::Month)),
        job_runs: a.job_runs.clone(),
        incidents: a.incidents.clone(),
    };
    let report = ops::metrics::run(&opts, &env(None, &NO_PROGRESS))?;
    print(a.format, &report, || report.to_text())?;
    Ok(ops::metrics::exit_code(&report, a.fail_on_breach))
}

fn nightly(a: NightlyArgs) -> Result<u8, Fatal> {
    let cfg = Config::load(&a.config).map_err(OpError::from)?;
    let as_of = time("--as-of", a.as_of.as_deref())?;
    let env = env(a.endpoint_url.as_deref(), &NO_PROGRESS);
    if let Some(file) = &a.write_subjects {
        let n = ops::nightly::write_subjects(&cfg, as_of, file, &env)?;
        eprintln!(
            "vouch nightly: {n} subject(s) of delete requests completed in the window written to {}",
            file.display()
        );
        return Ok(0);
    }
    let opts = ops::nightly::Options {
        out: a.out.clone().unwrap_or_else(|| PathBuf::from(".")),
        as_of,
        scan_report: a.scan_report.clone(),
    };
    let report = ops::nightly::run_checks(&cfg, &opts, &env, &nightly_log(a.log_format))?;
    Ok(report.exit_code)
}

fn certificate_verify(a: CertificateVerifyArgs) -> Result<u8, Fatal> {
    let outcome = ops::certificate::run(&ops::certificate::Options {
        cert: a.cert.clone(),
        public_key: a.public_key.clone(),
    })?;
    print(a.format, &outcome.to_json(), || outcome.to_text())?;
    Ok(outcome.exit_code())
}

fn demo(a: DemoArgs) -> Result<u8, Fatal> {
    let demo = ops::demo::write(&a.dir)?;
    eprintln!(
        "vouch demo: sample lake, runbook tables and a throwaway signing key in {}",
        a.dir.display()
    );
    let outcome = ops::demo::check(
        demo,
        &a.dir,
        &env(None, &NO_PROGRESS),
        &nightly_log(LogFormat::Text),
    )?;
    print(Format::Text, &(), || outcome.to_text())?;
    Ok(outcome.exit_code())
}

fn index_build(a: IndexBuildArgs) -> Result<u8, Fatal> {
    let outcome = ops::index::run(
        &ops::index::Options {
            lake: location(&a.location),
            index: a.index.clone(),
        },
        &env(a.location.endpoint_url.as_deref(), &NO_PROGRESS),
    )?;
    errors(&outcome.error_lines());
    print(a.format, &outcome.summary, || outcome.to_text())?;
    Ok(outcome.exit_code())
}

static NO_PROGRESS: vouch::domain::scan::NoProgress = vouch::domain::scan::NoProgress;

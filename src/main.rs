//! The `vouch` command line: parses arguments (`cli::args`), turns them into operation
//! options (the only place flags are validated), runs one operation (`vouch::ops`),
//! prints its outcome and maps it to the exit code: 0 holds, 1 violation, 2 could not
//! decide. No work of its own.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

use clap::{CommandFactory, Parser};
use tracing::{debug, info, warn};

use cli::args::*;
use cli::log::Verbosity;
use cli::output::{errors, print, print_unless_written};
use cli::progress::TermProgress;
use vouch::domain::config::Config;
use vouch::domain::index::KeptCheck;
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
        Err(e) if e.use_stderr() => {
            cli::log::usage_error(json_logs_asked(), &e.render().to_string());
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help, --version: stdout, exit 0 (a closed stdout is not an error).
            let _ = e.print();
            return ExitCode::from(0);
        }
    };
    let verbosity = Verbosity::of(cli.quiet, cli.verbose);
    if let Err(e) = cli::log::init(cli.log_format, verbosity, command_name(&cli.cmd)) {
        cli::log::fatal(&e);
        cli::log::finish(2);
        return ExitCode::from(2);
    }
    let _ = GLOBALS.set(Globals {
        profile: cli.profile.clone(),
        region: cli.region.clone(),
        progress: !cli.quiet
            && matches!(cli.log_format, LogFormat::Text)
            && std::io::stderr().is_terminal(),
    });
    let code = match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(fatal)) => {
            match fatal {
                Fatal::Op(e) => {
                    if let OpError::Export(vouch::domain::export::ExportError::Incomplete {
                        errors: lines,
                    }) = &e
                    {
                        errors(lines);
                    }
                    cli::log::fatal(&e.to_string());
                }
                Fatal::Stdout(e) => cli::log::fatal(&e.to_string()),
            }
            2
        }
        Err(_) => {
            cli::log::fatal(
                "internal error (a bug in vouch; please report it): the command stopped",
            );
            2
        }
    };
    cli::log::finish(code);
    ExitCode::from(code)
}

/// Whether the arguments ask for JSON logs (read before parsing, for a usage error).
fn json_logs_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--log-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--log-format" && w[1] == "json")
}

/// The command's name in JSON log lines.
fn command_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Plan(_)),
            ..
        }) => "scan plan",
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Merge(_)),
            ..
        }) => "scan merge",
        Cmd::Scan(_) => "scan",
        Cmd::Export(_) => "export",
        Cmd::Evidence(EvidenceCmd::Build(_)) => "evidence build",
        Cmd::Evidence(EvidenceCmd::Verify(_)) => "evidence verify",
        Cmd::Keygen(_) => "keygen",
        Cmd::Retention(RetentionCmd::Check(_)) => "retention check",
        Cmd::Metrics(_) => "metrics",
        Cmd::Nightly(_) => "nightly",
        Cmd::Certificate(CertificateCmd::Verify(_)) => "certificate verify",
        Cmd::Demo(_) => "demo",
        Cmd::Index(IndexCmd::Build(_)) => "index build",
        Cmd::Completions(_) => "completions",
        Cmd::Man(_) => "man",
    }
}

/// The global flags the commands share.
struct Globals {
    profile: Option<String>,
    region: Option<String>,
    progress: bool,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

fn globals() -> &'static Globals {
    GLOBALS.get_or_init(|| Globals {
        profile: None,
        region: None,
        progress: false,
    })
}

fn run(cli: Cli) -> Result<u8, Fatal> {
    match cli.cmd {
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Plan(a)),
            ..
        }) => scan_plan(a),
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Merge(a)),
            ..
        }) => scan_merge(a),
        Cmd::Scan(a) => scan(a),
        Cmd::Export(a) => export(a),
        Cmd::Evidence(EvidenceCmd::Build(a)) => evidence_build(a),
        Cmd::Evidence(EvidenceCmd::Verify(a)) => evidence_verify(a),
        Cmd::Keygen(a) => keygen(a),
        Cmd::Retention(RetentionCmd::Check(a)) => retention_check(a),
        Cmd::Metrics(a) => metrics(a),
        Cmd::Nightly(a) => nightly(a),
        Cmd::Certificate(CertificateCmd::Verify(a)) => certificate_verify(a),
        Cmd::Demo(a) => demo(a),
        Cmd::Index(IndexCmd::Build(a)) => index_build(a),
        Cmd::Completions(a) => completions(a),
        Cmd::Man(a) => man(a),
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
            profile: globals().profile.clone(),
            region: globals().region.clone(),
        },
        subject_key: std::env::var("VOUCH_SUBJECT_KEY").ok(),
        threads: None,
        progress,
        now: Timestamp::from_micros(chrono::Utc::now().timestamp_micros()),
    }
}

/// The config file: `--config`, else `VOUCH_CONFIG`, else `./vouch.toml` when it exists.
/// A file found without `--config` is named on stderr (info), so no run is configured
/// by surprise.
fn config_path(flag: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.clone());
    }
    if let Ok(p) = std::env::var("VOUCH_CONFIG")
        && !p.is_empty()
    {
        info!(
            event = "config",
            path = p.as_str(),
            "config {p} (from VOUCH_CONFIG)"
        );
        return Some(PathBuf::from(p));
    }
    let here = PathBuf::from("vouch.toml");
    if here.is_file() {
        info!(
            event = "config",
            path = "vouch.toml",
            "config ./vouch.toml (found in the working directory)"
        );
        return Some(here);
    }
    debug!(
        event = "config",
        "no config: no --config, VOUCH_CONFIG or ./vouch.toml"
    );
    None
}

fn location(a: &LocationArgs) -> LakeLocation {
    LakeLocation {
        lake: a.lake.clone(),
        config: config_path(a.config.as_ref()),
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

fn progress(what: &'static str) -> TermProgress {
    TermProgress::new(globals().progress, what)
}

/// One line per nightly check as it finishes.
fn nightly_log(c: &ops::nightly::Check) {
    let (check, status) = (c.check, c.status.as_str());
    let line = format!("check {check}: {status}: {}", c.summary);
    match c.status {
        ops::nightly::Status::Error => warn!(event = "check", check, status, "{line}"),
        _ => info!(event = "check", check, status, "{line}"),
    }
}

// ---- one function per command: options, run, print, exit code ----------------------

fn scan(a: ScanArgs) -> Result<u8, Fatal> {
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
        update_index: a.update_index,
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
        custody: a.custody.clone(),
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
    let shown = progress("scanning");
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
            let secs = started.elapsed().as_secs_f64();
            info!(event = "scanned", seconds = secs, "scanned in {secs:.2} s");
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
                    warn!(
                        event = "file_error",
                        "{}: {e}",
                        ops::join_path(location, &f.record.file)
                    );
                }
            }
            print_unless_written(a.out.as_deref(), json)?;
            {
                let (rows, errs) = part.summary();
                info!(
                    event = "part",
                    "part{} of plan {}: {} file(s), {} matching row(s), {} error(s) in \
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
    info!(event = "planned", "{}", p.summary());
    Ok(p.exit_code())
}

fn scan_merge(a: MergeArgs) -> Result<u8, Fatal> {
    let opts = ops::scan::MergeOptions {
        parts: a.parts.clone(),
        plan: a.plan.clone(),
        config: config_path(a.config.as_ref()),
        out: a.out.clone(),
        overwrite: overwrite(a.force),
        custody: a.custody.clone(),
    };
    let outcome = ops::scan::merge(&opts, &env(None, &NO_PROGRESS))?;
    match &outcome {
        ops::scan::MergeOutcome::Refused(problems) => {
            const SHOWN: usize = 20;
            for p in problems.iter().take(SHOWN) {
                warn!(event = "merge_refused", "merge refused: {p}");
            }
            if problems.len() > SHOWN {
                warn!(
                    event = "merge_refused",
                    "merge refused: … and {} more",
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

fn export(a: ExportArgs) -> Result<u8, Fatal> {
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
    let shown = progress("exporting");
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
    let shown = progress("bagging");
    let built = ops::evidence::build(&opts, &key, &env(a.endpoint_url.as_deref(), &shown));
    shown.finish();
    let built = built?;
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
        config: config_path(a.config.as_ref()),
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
    let Some(config) = config_path(a.config.as_ref()) else {
        return Err(Fatal::from(
            "no config: give --config FILE, set VOUCH_CONFIG, or run where ./vouch.toml is"
                .to_string(),
        ));
    };
    let cfg = Config::load(&config).map_err(OpError::from)?;
    let as_of = time("--as-of", a.as_of.as_deref())?;
    let shown = progress("nightly");
    let env = env(a.endpoint_url.as_deref(), &shown);
    if let Some(file) = &a.write_subjects {
        let n = ops::nightly::write_subjects(&cfg, as_of, file, &env)?;
        info!(
            event = "subjects_written",
            subjects = n as u64,
            "{n} subject(s) of delete requests completed in the window written to {}",
            file.display()
        );
        return Ok(0);
    }
    let opts = ops::nightly::Options {
        out: a.out.clone().unwrap_or_else(|| PathBuf::from(".")),
        as_of,
        scan_report: a.scan_report.clone(),
    };
    let report = ops::nightly::run_checks(&cfg, &opts, &env, &nightly_log);
    shown.finish();
    let report = report?;
    Ok(report.exit_code)
}

fn certificate_verify(a: CertificateVerifyArgs) -> Result<u8, Fatal> {
    let outcome = ops::certificate::run(&ops::certificate::Options {
        cert: a.cert.clone(),
        public_key: a.public_key.clone(),
        custody: a.custody.clone(),
    })?;
    print(a.format, &outcome.to_json(), || outcome.to_text())?;
    Ok(outcome.exit_code())
}

fn demo(a: DemoArgs) -> Result<u8, Fatal> {
    let demo = ops::demo::write(&a.dir)?;
    info!(
        event = "demo_written",
        "demo: sample lake, runbook tables and a throwaway signing key in {}",
        a.dir.display()
    );
    let outcome = ops::demo::check(demo, &a.dir, &env(None, &NO_PROGRESS), &nightly_log)?;
    print(Format::Text, &(), || outcome.to_text())?;
    Ok(outcome.exit_code())
}

fn index_build(a: IndexBuildArgs) -> Result<u8, Fatal> {
    let shown = progress("indexing");
    let outcome = ops::index::run(
        &ops::index::Options {
            lake: location(&a.location),
            index: a.index.clone(),
            check: if a.verify {
                KeptCheck::Whole
            } else {
                KeptCheck::Head
            },
        },
        &env(a.location.endpoint_url.as_deref(), &shown),
    );
    shown.finish();
    let outcome = outcome?;
    errors(&outcome.error_lines());
    print(a.format, &outcome.summary, || outcome.to_text())?;
    Ok(outcome.exit_code())
}

fn completions(a: CompletionsArgs) -> Result<u8, Fatal> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "vouch", &mut out);
    print_unless_written(None, &out)?;
    Ok(0)
}

/// `vouch man`: vouch.1 on stdout, or vouch.1 and vouch-COMMAND.1 (every command and
/// subcommand) written atomically into --out.
fn man(a: ManArgs) -> Result<u8, Fatal> {
    // After build(), a subcommand's display name is its page's name (vouch-scan-plan).
    fn pages(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        out.push((format!("{name}.1"), page));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            pages(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut all = Vec::new();
    pages(&cmd, &mut all)?;
    match &a.out {
        None => print_unless_written(None, &all[0].1)?,
        Some(dir) => {
            for (name, page) in &all {
                vouch::io::fsio::write_atomic(&dir.join(name), page, true)
                    .map_err(|e| Fatal::from(format!("{}: {e}", dir.join(name).display())))?;
            }
            info!(
                event = "man_written",
                pages = all.len() as u64,
                "{} man page(s) in {}",
                all.len(),
                dir.display()
            );
        }
    }
    Ok(0)
}

static NO_PROGRESS: vouch::domain::scan::NoProgress = vouch::domain::scan::NoProgress;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and option says what it is for (clap's own checks run too).
    #[test]
    fn every_command_and_option_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() && path != "vouch" {
                missing.push(format!("{path} (command)"));
            }
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id != "help" && id != "version" && a.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "vouch", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}

//! The `vouch` command line: parses arguments, calls the library, maps outcomes to exit
//! codes (0 holds, 1 violation, 2 could not decide). No logic of its own beyond that.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use vouch::config::Config;
use vouch::lake::discover_tables;
use vouch::scan::{Progress, ScanOptions, ScanRequest};
use vouch::store::LocalStore;
use vouch::subjects::{SubjectLabeler, read_id_file};

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Offline compliance evidence: prove what the runbooks promise."
)]
struct Cli {
    /// No progress display on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verify deletion: count rows of the given subjects in every table of a Parquet lake.
    Scan(ScanArgs),
    /// DSAR export: every row of the subjects, zipped, age-encrypted and hashed.
    Export(ExportArgs),
    /// Audit evidence bundles: signed, reproducible BagIt zips.
    #[command(subcommand)]
    Evidence(EvidenceCmd),
    /// Write an OpenSSH Ed25519 key pair and an allowed_signers file for ssh-keygen -Y verify.
    Keygen(KeygenArgs),
    /// Check S3 Object Lock retention of every object version under a prefix.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Incident, DSAR and change-review SLA metrics, defined in SQL under queries/.
    Metrics(MetricsArgs),
    /// Every configured check from vouch.toml: report.json, report.html and signed
    /// deletion certificates in --out; exit code the worst of the checks.
    Nightly(NightlyArgs),
    /// Deletion certificates written by nightly.
    #[command(subcommand)]
    Certificate(CertificateCmd),
    /// Generate a small sample lake and tables, run nightly on them, say where the report is.
    Demo(DemoArgs),
    /// The subject index: per-row-group filters of keyed hashes of the identifier values.
    #[command(subcommand)]
    Index(IndexCmd),
}

#[derive(Subcommand)]
enum IndexCmd {
    /// Build or bring up to date the index of a lake (only new or changed files are read).
    Build(IndexBuildArgs),
}

#[derive(clap::Args)]
struct IndexBuildArgs {
    /// The lake (default: [lake] location in --config).
    #[arg(long, value_name = "LOCATION")]
    lake: Option<String>,
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The index directory.
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct NightlyArgs {
    /// vouch.toml: the lake, the runbook tables, evidence, retention, keys, targets.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Directory for report.json, report.html, certificates/ and the evidence bundle.
    #[arg(long, value_name = "DIR", required_unless_present = "write_subjects")]
    out: Option<PathBuf>,
    /// Verify deletions with this scan report (`vouch scan merge` of a sharded scan)
    /// instead of scanning; it must be of the window's subjects, lake and legal holds.
    #[arg(long, value_name = "FILE")]
    scan_report: Option<PathBuf>,
    /// Only write the subject IDs deletion verification would check at --as-of (one a
    /// line, mode 0600) to FILE, for a sharded scan's --ids; run no check.
    #[arg(long, value_name = "FILE", conflicts_with = "scan_report")]
    write_subjects: Option<PathBuf>,
    /// "Now" (YYYY-MM-DD or RFC 3339, UTC; default: now). The same --as-of rewrites the
    /// same outputs.
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// One line per check on stderr, as text or JSON (for log shippers).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(Subcommand)]
enum CertificateCmd {
    /// Check a certificate's SSH signature (CERT.sig beside it): exit 0 verified, 1
    /// tampered or another key, 2 unreadable.
    Verify(CertificateVerifyArgs),
}

#[derive(clap::Args)]
struct CertificateVerifyArgs {
    /// The certificate (JSON); its signature is CERT.sig.
    cert: PathBuf,
    /// The signer's public key (KEY.pub) or an allowed_signers file.
    #[arg(long, value_name = "KEY")]
    public_key: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Where to write the sample data and the report (default: ./vouch-demo).
    #[arg(long, value_name = "DIR", default_value = "vouch-demo")]
    dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum MetricArg {
    Incidents,
    Dsar,
    Changes,
}

#[derive(Clone, Copy, ValueEnum)]
enum ByArg {
    Month,
}

#[derive(clap::Args)]
struct MetricsArgs {
    /// Which table and metrics: incidents (data_incident), dsar (dsar_request) or changes
    /// (governance_change_log).
    #[arg(value_enum)]
    metric: MetricArg,
    /// The table, Parquet or CSV (by extension).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// "Now" for open incidents and requests (RFC 3339 or YYYY-MM-DD, UTC; default: now).
    #[arg(long, value_name = "TIMESTAMP")]
    as_of: Option<String>,
    /// vouch.toml, for the SLA targets in its [targets] section (default: 1.0 each).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Dates that are not business days (changes), YYYY-MM-DD one a line.
    #[arg(long, value_name = "FILE")]
    holidays: Option<PathBuf>,
    /// Also give every figure by month.
    #[arg(long, value_enum)]
    by: Option<ByArg>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit 1 when a rate is below its target or anything is overdue or late.
    #[arg(long)]
    fail_on_breach: bool,
}

#[derive(Subcommand)]
enum RetentionCmd {
    /// Report versions whose retention is missing, too short, in governance mode when
    /// compliance is required, or hidden behind a delete marker (exit 1 if any).
    Check(RetentionCheckArgs),
}

#[derive(clap::Args)]
struct RetentionCheckArgs {
    /// s3://bucket/prefix
    location: String,
    /// Years every version must be retained after its creation.
    #[arg(long, default_value_t = 7)]
    min_years: u32,
    /// Accept governance-mode retention (default: compliance mode is required).
    #[arg(long)]
    allow_governance: bool,
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Subcommand)]
enum EvidenceCmd {
    /// Collect the sources into a signed BagIt zip.
    Build(EvidenceBuildArgs),
    /// Check a bundle's signature, manifests and layout without extracting it.
    Verify(EvidenceVerifyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum RetentionModeArg {
    Compliance,
    Governance,
}

#[derive(clap::Args)]
struct EvidenceBuildArgs {
    /// A directory to collect (repeatable); every file below it, hidden ones included.
    #[arg(long, value_name = "LOCATION", required = true)]
    source: Vec<String>,
    /// Only files modified at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only files modified before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// OpenSSH Ed25519 secret key (mode 0600).
    #[arg(long, value_name = "FILE")]
    signing_key: PathBuf,
    /// The signing key's passphrase, on the first line of FILE.
    #[arg(long, value_name = "FILE")]
    signing_key_passphrase_file: Option<PathBuf>,
    /// The bundle to write (FILE.zip).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long)]
    force: bool,
    /// The bagging date (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    #[arg(long, default_value_t = 7)]
    retention_years: u32,
    /// Record a legal hold on the bundle.
    #[arg(long)]
    legal_hold: bool,
    #[arg(long, value_enum, default_value = "compliance")]
    retention_mode: RetentionModeArg,
    /// Source-Organization in bag-info.txt.
    #[arg(long, value_name = "NAME")]
    organization: Option<String>,
    /// Upload to s3://bucket/prefix under S3 Object Lock (mode, Retain-Until, legal hold)
    /// with a SHA-256 checksum, then read the lock and checksum back.
    #[arg(long, value_name = "S3_URI")]
    upload: Option<String>,
    /// An S3-compatible endpoint for s3:// sources (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["public_key", "allowed_signers"])))]
struct EvidenceVerifyArgs {
    /// The bundle.
    bundle: PathBuf,
    /// The signer's OpenSSH public key (KEY.pub).
    #[arg(long, value_name = "KEY.pub")]
    public_key: Option<PathBuf>,
    /// An allowed_signers file (keys allowed in namespace vouch-evidence).
    #[arg(long, value_name = "FILE")]
    allowed_signers: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Writes PREFIX (secret, 0600), PREFIX.pub and PREFIX.allowed_signers.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// Protect the secret key with the passphrase on the first line of FILE.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DataFormatArg {
    Json,
    Csv,
    Parquet,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("to").required(true).multiple(true).args(["recipient", "recipients_file", "passphrase_file"])))]
struct ExportArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// The DSAR request id, recorded in the bundle and the summary.
    #[arg(long, value_name = "R")]
    request_id: Option<String>,
    /// An age recipient (`age1…`) or SSH public key (`ssh-ed25519 …`, `ssh-rsa …`); repeatable.
    #[arg(long, value_name = "RECIPIENT")]
    recipient: Vec<String>,
    /// A file of recipients, one a line, as the `age` CLI reads it.
    #[arg(long, value_name = "FILE")]
    recipients_file: Option<PathBuf>,
    /// Encrypt with the passphrase on the first line of FILE (scrypt) instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["recipient", "recipients_file"])]
    passphrase_file: Option<PathBuf>,
    /// The encrypted bundle to write; FILE.sha256 is written beside it.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    /// How each table's rows are written inside the bundle.
    #[arg(long, value_enum, default_value = "json")]
    data_format: DataFormatArg,
    /// The summary on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The time recorded as "generated at" (RFC 3339; default: now).
    #[arg(long, value_name = "TIMESTAMP")]
    as_of: Option<String>,
    /// Also export rows still held in noncurrent object versions (S3 versioned buckets),
    /// in their own members under noncurrent/.
    #[arg(long)]
    include_versions: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Where the lake is and whom to look for: shared by `scan` and `export`.
#[derive(clap::Args)]
struct LakeArgs {
    /// The lake: a local directory or s3://bucket/prefix whose child directories are tables.
    #[arg(long, value_name = "LOCATION")]
    lake: Option<String>,
    /// File of subject IDs, one a line (`#` comments and blank lines ignored; `-` reads
    /// stdin).
    #[arg(long, value_name = "FILE")]
    ids: Option<PathBuf>,
    /// A subject ID (repeatable; may start with `-`: `--id -1`).
    #[arg(long = "id", value_name = "ID", allow_hyphen_values = true)]
    id: Vec<String>,
    /// vouch.toml: lake location, tables, identifier columns, retention policy, subject key.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// An S3-compatible endpoint for s3:// locations (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ScanArgs {
    #[command(subcommand)]
    step: Option<ScanStep>,
    #[command(flatten)]
    lake: LakeArgs,
    /// Scan exactly the files listed (lines of `vouch scan plan`, any subset; `-` reads
    /// stdin) and write a partial report for `vouch scan merge` (needs the subject key).
    #[arg(long, value_name = "FILE")]
    files_from: Option<String>,
    /// With --files-from: scan only shard I of N of the list (I from 0; shards are
    /// balanced by bytes and the same on every machine).
    #[arg(long, value_name = "I/N", requires = "files_from")]
    shard: Option<String>,
    /// A subject index (vouch index build): row groups it rules out are not read; files
    /// it does not cover are read in full. Needs the subject key.
    #[arg(long, value_name = "DIR")]
    index: Option<PathBuf>,
    /// data_retention_policy table (Parquet or CSV): datasets under legal hold.
    #[arg(long, value_name = "FILE")]
    retention_policy: Option<PathBuf>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write the JSON report to FILE (atomically; replaces an earlier report).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Worker threads, 1 to 1024 (default: one per core; 16 for S3, whose reads wait on
    /// the network).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Do not use min/max statistics to skip row groups (diagnosis, benchmarks).
    #[arg(long)]
    no_statistics: bool,
    /// Do not use Parquet bloom filters to skip row groups.
    #[arg(long)]
    no_bloom_filters: bool,
    /// Decode every page with the generic decoder (no dictionary skipping).
    #[arg(long)]
    no_dictionaries: bool,
    /// Also scan noncurrent object versions (S3 versioned buckets).
    #[arg(long)]
    include_versions: bool,
}

#[derive(Subcommand)]
enum ScanStep {
    /// List the work of a scan as JSON Lines: a header line, then one line per file
    /// (table, key, size, ETag and version id in S3), in the order a scan reads them.
    Plan(PlanArgs),
    /// Merge the partial reports of one plan into the report a single scan gives; exit 2
    /// when a file of the plan is missing or covered twice, or the parts disagree.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The lake (default: [lake] location in --config).
    #[arg(long, value_name = "LOCATION")]
    lake: Option<String>,
    /// vouch.toml: lake location, tables, identifier columns.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Also list noncurrent object versions (S3 versioned buckets).
    #[arg(long)]
    include_versions: bool,
    /// Write the plan to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// Partial reports (`vouch scan --files-from ... --out PART`).
    #[arg(required = true, value_name = "PART")]
    parts: Vec<PathBuf>,
    /// The plan the parts were scanned from.
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write the JSON report to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// vouch.toml holding the subject key that authenticates the parts (or set
    /// VOUCH_SUBJECT_KEY).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// A failure that stops the command: one line on stderr, exit 2.
struct Fatal(String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
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
    let outcome = std::panic::catch_unwind(|| run(cli));
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(Fatal(msg))) => {
            eprintln!("vouch: error: {msg}");
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
    match cli.cmd {
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Plan(a)),
            ..
        }) => scan_plan(a),
        Cmd::Scan(ScanArgs {
            step: Some(ScanStep::Merge(a)),
            ..
        }) => scan_merge(a),
        Cmd::Scan(a) => scan(a, cli.quiet),
        Cmd::Export(a) => export(a, cli.quiet),
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

/// The index key, from the subject key (config or VOUCH_SUBJECT_KEY).
fn index_key(cfg: &Config) -> Result<vouch::index::IndexKey, Fatal> {
    let key = cfg
        .subject_key(std::env::var("VOUCH_SUBJECT_KEY").ok())?
        .ok_or_else(|| {
            Fatal(
                "the subject index needs a subject key ([privacy] subject_key or \
                 subject_key_file, or VOUCH_SUBJECT_KEY): it holds keyed hashes only"
                    .into(),
            )
        })?;
    Ok(vouch::index::IndexKey::new(&key))
}

fn index_build(a: IndexBuildArgs) -> Result<u8, Fatal> {
    let (cfg, location, store) = resolve_lake(
        a.lake.as_deref(),
        a.config.as_deref(),
        a.endpoint_url.as_deref(),
    )?;
    let key = index_key(&cfg)?;
    let lake = discover_tables(store.as_ref(), &cfg.lake)?;
    let mut s = vouch::index::build(
        store.as_ref(),
        &lake.tables,
        &key,
        &a.index,
        &ScanOptions::for_lake(&cfg.lake),
    )
    .map_err(Fatal)?;
    s.errors.splice(0..0, lake.errors.iter().map(Into::into));
    for e in &s.errors {
        eprintln!("vouch: {}: {}", join_path(&location, &e.file), e.error);
    }
    print_report(a.format, &s, || {
        format!(
            "index {}: {} file(s): {} indexed, {} unchanged, {} dropped; {} distinct values, {} bytes; {} error(s)\n",
            a.index.display(),
            s.files,
            s.indexed,
            s.reused,
            s.removed,
            s.lake_values,
            s.index_bytes,
            s.errors.len()
        )
    })?;
    Ok(if s.errors.is_empty() { 0 } else { 2 })
}

fn nightly(a: NightlyArgs) -> Result<u8, Fatal> {
    let cfg = Config::load(&a.config)?;
    let as_of = match &a.as_of {
        Some(d) => parse_time("--as-of", d)?,
        None => chrono::Utc::now().timestamp(),
    };
    if let Some(file) = &a.write_subjects {
        let ids = vouch::nightly::due_subjects(&cfg, as_of, &s3_options(a.endpoint_url.as_deref()))
            .map_err(Fatal)?;
        let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
        vouch::fsio::write_atomic_private(file, text.as_bytes()).map_err(Fatal)?;
        eprintln!(
            "vouch nightly: {} subject(s) of delete requests completed in the window written to {}",
            ids.len(),
            file.display()
        );
        return Ok(0);
    }
    let out = a.out.as_deref().unwrap_or(std::path::Path::new("."));
    let report = run_nightly(
        &cfg,
        as_of,
        out,
        a.log_format,
        a.endpoint_url.as_deref(),
        a.scan_report.as_deref(),
    )?;
    Ok(report.exit_code)
}

fn run_nightly(
    cfg: &Config,
    as_of: i64,
    out: &std::path::Path,
    log_format: LogFormat,
    endpoint_url: Option<&str>,
    scan_report: Option<&std::path::Path>,
) -> Result<vouch::nightly::NightlyReport, Fatal> {
    let subject_key = cfg
        .subject_key(std::env::var("VOUCH_SUBJECT_KEY").ok())?
        .ok_or_else(|| {
            Fatal(
                "nightly needs a subject key ([privacy] subject_key or subject_key_file, or \
                 VOUCH_SUBJECT_KEY): its outputs name subjects only by keyed hash"
                    .into(),
            )
        })?;
    std::fs::create_dir_all(out).map_err(|e| {
        Fatal(format!(
            "{}: {}",
            out.display(),
            vouch::store::io_message(&e)
        ))
    })?;
    let log = |c: &vouch::nightly::Check| match log_format {
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
    };
    vouch::nightly::run(&vouch::nightly::Request {
        cfg,
        as_of,
        out,
        s3: s3_options(endpoint_url),
        subject_key,
        log: &log,
        scan_report,
    })
    .map_err(Fatal)
}

fn certificate_verify(a: CertificateVerifyArgs) -> Result<u8, Fatal> {
    use vouch::certificate::VerifyOutcome;
    let key = vouch::keys::VerifyingKey::from_public_key_file(&a.public_key)?;
    let outcome = vouch::certificate::verify(&a.cert, &key).map_err(Fatal)?;
    let (code, value) = match &outcome {
        VerifyOutcome::Verified(c) => (
            0,
            serde_json::json!({"verified": true, "certificate": c, "key": key.fingerprint()}),
        ),
        VerifyOutcome::Invalid(why) => (1, serde_json::json!({"verified": false, "error": why})),
    };
    print_report(a.format, &value, || match &outcome {
        VerifyOutcome::Verified(c) => format!(
            "VERIFIED: request {} ({}), {} as of {}: {} residual row(s), {} held; signed by {}\n",
            c.request_id,
            c.subject,
            c.verdict,
            c.verified_at,
            c.residual_rows,
            c.held_rows,
            key.fingerprint()
        ),
        VerifyOutcome::Invalid(why) => format!("NOT VERIFIED: {why}\n"),
    })?;
    Ok(code)
}

fn demo(a: DemoArgs) -> Result<u8, Fatal> {
    let demo = vouch::demo::write(&a.dir).map_err(Fatal)?;
    eprintln!(
        "vouch demo: sample lake, runbook tables and a throwaway signing key in {}",
        a.dir.display()
    );
    let cfg = Config::load(&demo.config)?;
    let report = run_nightly(&cfg, demo.as_of, &demo.out, LogFormat::Text, None, None)?;
    let html = demo.out.join("report.html");
    println!("report: {}", html.display());
    for c in &report.checks {
        println!("  {:<22} {:<9} {}", c.check, c.status.as_str(), c.summary);
    }
    println!(
        "certificates: {} (check one: vouch certificate verify CERT --public-key {})",
        demo.out.join("certificates").display(),
        demo.public_key.display()
    );
    println!(
        "run it yourself: vouch nightly --config {} --out DIR --as-of {}",
        demo.config.display(),
        vouch::report::rfc3339(demo.as_of)
    );
    // The demo's findings are planted; it succeeded if nightly could decide every check.
    Ok(if report.status == vouch::nightly::Status::Error {
        2
    } else {
        0
    })
}

fn metrics(a: MetricsArgs) -> Result<u8, Fatal> {
    use vouch::metrics::{Metric, Request};
    let targets = match &a.config {
        Some(p) => Config::load(p)?.targets,
        None => Default::default(),
    };
    let as_of = match &a.as_of {
        Some(t) => vouch::metrics::input::parse_time(t).ok_or_else(|| {
            Fatal(format!(
                "--as-of {t:?}: expected YYYY-MM-DD or an RFC 3339 time"
            ))
        })?,
        None => chrono::Utc::now().timestamp_micros(),
    };
    let holidays = match &a.holidays {
        Some(p) => vouch::metrics::read_holidays(p)?,
        None => Vec::new(),
    };
    let report = vouch::metrics::run(&Request {
        metric: match a.metric {
            MetricArg::Incidents => Metric::Incidents,
            MetricArg::Dsar => Metric::Dsar,
            MetricArg::Changes => Metric::Changes,
        },
        input: &a.input,
        as_of,
        holidays: &holidays,
        by_month: matches!(a.by, Some(ByArg::Month)),
        targets,
        s3: &s3_options(None),
    })?;
    print_report(a.format, &report, || report.to_text())?;
    Ok(u8::from(a.fail_on_breach && !report.breaches.is_empty()))
}

/// A text form written with `writeln!`.
fn text(write: impl FnOnce(&mut String) -> std::fmt::Result) -> String {
    let mut s = String::new();
    let _ = write(&mut s);
    s
}

/// A report on stdout: pretty JSON, or its text form.
fn print_report<T: serde::Serialize>(
    format: Format,
    report: &T,
    text: impl FnOnce() -> String,
) -> Result<(), Fatal> {
    // Buffered: stdout is line-buffered, and a report may run to a million lines.
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut stdout, report)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(stdout)),
        Format::Text => write!(stdout, "{}", text()),
    }
    .and_then(|_| stdout.flush());
    quiet_on_closed_stdout(written)
}

/// A reader that stopped reading (`| head`) is not an error: the command ends quietly with
/// the exit code of what it found.
fn quiet_on_closed_stdout(written: std::io::Result<()>) -> Result<(), Fatal> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// What `scan` and `export` both resolve from the command line and the config.
struct Lake {
    cfg: Config,
    location: String,
    store: Box<dyn vouch::store::Store>,
    subjects: Vec<String>,
}

/// The config, the lake's location (`--lake` over `[lake] location`) and its store.
fn resolve_lake(
    lake: Option<&str>,
    config: Option<&std::path::Path>,
    endpoint_url: Option<&str>,
) -> Result<(Config, String, Box<dyn vouch::store::Store>), Fatal> {
    let cfg = match config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let location = match (lake, &cfg.lake.location) {
        (Some(l), _) => l.to_string(),
        (None, Some(l)) => cfg.resolve(l),
        (None, None) => {
            return Err(Fatal(
                "no lake given: use --lake LOCATION or [lake] location in --config".into(),
            ));
        }
    };
    let store = vouch::store::open_location(&location, &s3_options(endpoint_url))?;
    Ok((cfg, location, store))
}

fn open_lake(a: &LakeArgs) -> Result<Lake, Fatal> {
    let mut subjects = Vec::new();
    if let Some(p) = &a.ids {
        subjects = read_id_file(p)?;
    }
    for id in &a.id {
        let id = id.trim();
        if !id.is_empty() && !subjects.iter().any(|s| s == id) {
            subjects.push(id.to_string());
        }
    }
    if subjects.is_empty() {
        return Err(Fatal(vouch::subjects::SubjectError::NoneGiven.to_string()));
    }
    let (cfg, location, store) = resolve_lake(
        a.lake.as_deref(),
        a.config.as_deref(),
        a.endpoint_url.as_deref(),
    )?;
    Ok(Lake {
        cfg,
        location,
        store,
        subjects,
    })
}

fn scan(a: ScanArgs, quiet: bool) -> Result<u8, Fatal> {
    let Lake {
        cfg,
        location,
        store,
        subjects,
    } = open_lake(&a.lake)?;
    let labeler = match cfg.subject_key(std::env::var("VOUCH_SUBJECT_KEY").ok())? {
        Some(k) => SubjectLabeler::keyed(&k)?,
        None => SubjectLabeler::plain(),
    };
    let policy = a.retention_policy.clone().or_else(|| {
        cfg.tables
            .data_retention_policy
            .as_ref()
            .map(|p| PathBuf::from(cfg.resolve(p)))
    });
    let holds = match &policy {
        Some(p) => vouch::tables::legal_holds(p)?,
        None => Default::default(),
    };
    // A part of a sharded scan: the plan's lines say which files and tables.
    let part_of = match &a.files_from {
        Some(from) => {
            if !labeler.is_keyed() {
                return Err(Fatal(
                    "--files-from needs a subject key ([privacy] subject_key or \
                     subject_key_file, or VOUCH_SUBJECT_KEY): partial reports travel between \
                     machines and name subjects only by keyed hash"
                        .into(),
                ));
            }
            if a.include_versions {
                return Err(Fatal(
                    "--include-versions is for `vouch scan plan`: the plan lists the versions"
                        .into(),
                ));
            }
            let (text, shown) = if from == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut t)
                    .map_err(|e| Fatal(format!("stdin: {}", vouch::store::io_message(&e))))?;
                (t, "stdin".to_string())
            } else {
                let t = std::fs::read_to_string(from)
                    .map_err(|e| Fatal(format!("{from}: {}", vouch::store::io_message(&e))))?;
                (t, from.clone())
            };
            let mut list = vouch::shard::parse_file_list(&text, &shown).map_err(Fatal)?;
            let shard = match &a.shard {
                Some(s) => {
                    let (i, n) = vouch::shard::parse_shard(s).map_err(Fatal)?;
                    let of = vouch::shard::shard_of(&list.files, n);
                    list.files = std::mem::take(&mut list.files)
                        .into_iter()
                        .zip(of)
                        .filter_map(|(f, k)| (k == i).then_some(f))
                        .collect();
                    Some((i, n))
                }
                None => None,
            };
            Some((list, shard))
        }
        None => None,
    };
    let lake = match part_of {
        Some(_) => Default::default(),
        None => discover_tables(store.as_ref(), &cfg.lake)?,
    };
    let options = ScanOptions {
        use_statistics: !a.no_statistics,
        use_bloom_filters: !a.no_bloom_filters,
        use_dictionaries: !a.no_dictionaries,
        ..ScanOptions::for_lake(&cfg.lake)
    };
    let index = match &a.index {
        Some(dir) => {
            let key = index_key(&cfg)?;
            match vouch::index::LakeIndex::load(dir, &key) {
                Ok(ix) => Some(ix),
                Err(e) => {
                    // Never trusted when unusable; the answer is the same without it.
                    eprintln!("vouch: index {}: {e}; scanning without it", dir.display());
                    None
                }
            }
        }
        None => None,
    };
    let req = ScanRequest {
        store: store.as_ref(),
        lake: location.clone(),
        tables: lake.tables,
        subjects: &subjects,
        holds,
        labeler,
        options,
        prior_errors: lake.errors.iter().map(Into::into).collect(),
        collect_rows: false,
        include_versions: a.include_versions,
        index: index.as_ref(),
    };
    let started = Instant::now();
    let show = !quiet && std::io::stderr().is_terminal();
    let progress = TermProgress::new(show);
    let threads = a
        .threads
        .map_or_else(|| store.parallelism(), usize::from)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    if let Some((list, shard)) = part_of {
        let part = pool.install(|| {
            vouch::shard::scan_part(&req, list.plan.as_deref(), &list.files, shard, &progress)
        });
        progress.finish();
        for f in &part.files {
            if let Some(e) = &f.error {
                eprintln!("vouch: {}: {e}", join_path(&location, &f.record.file));
            }
        }
        let mut json = serde_json::to_vec_pretty(&part)?;
        json.push(b'\n');
        write_out_or_stdout(a.out.as_deref(), &json)?;
        if !quiet {
            let (rows, errors) = part.summary();
            eprintln!(
                "vouch: part{} of plan {}: {} file(s), {} matching row(s), {} error(s) in {:.2} s \
                 (not a verdict: merge every part with `vouch scan merge`)",
                part.shard
                    .as_ref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default(),
                part.plan.get(..12).unwrap_or("-"),
                part.files.len(),
                rows,
                errors,
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(part.exit_code());
    }
    let run = || vouch::scan::scan(&req, &progress);
    let report = pool.install(run);
    progress.finish();
    let code = emit_scan_report(&report, &location, a.out.as_deref(), a.format)?;
    if !quiet {
        eprintln!("vouch: scanned in {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(code)
}

/// A scan report's errors on stderr (one line per file), the JSON to `--out`, the report
/// on stdout; the verdict's exit code.
fn emit_scan_report(
    report: &vouch::report::ScanReport,
    location: &str,
    out: Option<&std::path::Path>,
    format: Format,
) -> Result<u8, Fatal> {
    for e in &report.errors {
        eprintln!("vouch: {}: {}", join_path(location, &e.file), e.error);
    }
    if let Some(out) = out {
        let json = serde_json::to_vec_pretty(report)?;
        vouch::fsio::write_atomic(out, &json, true).map_err(Fatal)?;
    }
    print_report(format, report, || report.to_text())?;
    Ok(report.verdict.exit_code() as u8)
}

/// `bytes` to FILE atomically, or to stdout without `--out`.
fn write_out_or_stdout(out: Option<&std::path::Path>, bytes: &[u8]) -> Result<(), Fatal> {
    match out {
        Some(out) => vouch::fsio::write_atomic(out, bytes, true).map_err(Fatal),
        None => {
            let mut stdout = std::io::stdout().lock();
            quiet_on_closed_stdout(stdout.write_all(bytes).and_then(|_| stdout.flush()))
        }
    }
}

fn scan_plan(a: PlanArgs) -> Result<u8, Fatal> {
    let (cfg, location, store) = resolve_lake(
        a.lake.as_deref(),
        a.config.as_deref(),
        a.endpoint_url.as_deref(),
    )?;
    let lake = discover_tables(store.as_ref(), &cfg.lake)?;
    let listed = vouch::lake::list_tables(store.as_ref(), &lake.tables, a.include_versions);
    let plan = vouch::shard::Plan::of(&location, &listed, &lake.errors);
    let jsonl = plan.to_jsonl();
    write_out_or_stdout(a.out.as_deref(), &jsonl)?;
    let mut problems = 0;
    for e in plan
        .header
        .errors
        .iter()
        .chain(plan.header.tables.iter().flat_map(|t| &t.errors))
    {
        eprintln!("vouch: {}: {}", join_path(&location, &e.file), e.error);
        problems += 1;
    }
    if lake.tables.is_empty() {
        eprintln!("vouch: {location}: no tables found in the lake");
        problems += 1;
    }
    eprintln!(
        "vouch: plan {}: {} file(s), {} byte(s) in {} table(s)",
        &plan.header.fingerprint[..12],
        plan.header.files,
        plan.header.bytes,
        plan.header.tables.len()
    );
    // The plan is written either way; a merge of it reports the same problems.
    Ok(if problems > 0 { 2 } else { 0 })
}

fn scan_merge(a: MergeArgs) -> Result<u8, Fatal> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Fatal(format!("{}: {}", p.display(), vouch::store::io_message(&e))))
    };
    let plan_shown = a.plan.display().to_string();
    let plan = vouch::shard::Plan::parse(&read(&a.plan)?, &plan_shown).map_err(Fatal)?;
    let mut parts = Vec::with_capacity(a.parts.len());
    for p in &a.parts {
        let shown = p.display().to_string();
        let part: vouch::shard::PartialReport = serde_json::from_str(&read(p)?)
            .map_err(|e| Fatal(format!("{shown}: not a vouch partial report: {e}")))?;
        parts.push((shown, part));
    }
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let labeler = match cfg.subject_key(std::env::var("VOUCH_SUBJECT_KEY").ok())? {
        Some(k) => SubjectLabeler::keyed(&k)?,
        None => {
            return Err(Fatal(
                "scan merge needs the subject key the parts were made with ([privacy] \
                 subject_key in --config, or VOUCH_SUBJECT_KEY): it checks each part's \
                 authentication"
                    .into(),
            ));
        }
    };
    let report = match vouch::shard::merge(&plan, &parts, &labeler) {
        Ok(r) => r,
        Err(problems) => {
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
            return Ok(2);
        }
    };
    emit_scan_report(&report, &report.lake, a.out.as_deref(), a.format)
}

fn export(a: ExportArgs, quiet: bool) -> Result<u8, Fatal> {
    use vouch::export::{DataFormat, Encryption, ExportRequest};
    let Lake {
        cfg,
        location,
        store,
        subjects,
    } = open_lake(&a.lake)?;
    let encryption = match &a.passphrase_file {
        Some(p) => Encryption::Passphrase(vouch::export::read_passphrase_file(p)?),
        None => {
            let mut rs = Vec::new();
            for (i, r) in a.recipient.iter().enumerate() {
                rs.push(
                    vouch::export::parse_recipient(r)
                        .map_err(|e| Fatal(format!("--recipient {}: {e}", i + 1)))?,
                );
            }
            if let Some(f) = &a.recipients_file {
                rs.extend(vouch::export::read_recipients_file(f)?);
            }
            Encryption::Recipients(rs)
        }
    };
    let generated_at = match &a.as_of {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| Fatal(format!("--as-of {t:?}: not an RFC 3339 timestamp ({e})")))?
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let lake = discover_tables(store.as_ref(), &cfg.lake)?;
    let req = ExportRequest {
        scan: ScanRequest {
            store: store.as_ref(),
            lake: location.clone(),
            tables: lake.tables,
            subjects: &subjects,
            holds: Default::default(),
            labeler: SubjectLabeler::plain(),
            options: ScanOptions::for_lake(&cfg.lake),
            prior_errors: lake.errors.iter().map(Into::into).collect(),
            collect_rows: true,
            include_versions: a.include_versions,
            index: None,
        },
        request_id: a.request_id.clone(),
        format: match a.data_format {
            DataFormatArg::Json => DataFormat::Json,
            DataFormatArg::Csv => DataFormat::Csv,
            DataFormatArg::Parquet => DataFormat::Parquet,
        },
        encryption,
        generated_at,
        out: a.out.clone(),
        force: a.force,
    };
    let progress = TermProgress::new(!quiet && std::io::stderr().is_terminal());
    let threads = store.parallelism().max(1);
    let summary = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?
        .install(|| vouch::export::export(req, &progress));
    progress.finish();
    let summary = summary?;
    print_report(a.format, &summary, || {
        text(|stdout| {
            writeln!(
                stdout,
                "wrote {} ({} bytes, {} row(s))",
                summary.out, summary.bytes, summary.rows
            )?;
            writeln!(stdout, "sha256 {}", summary.sha256)?;
            if let Some(r) = &summary.request_id {
                writeln!(stdout, "request {r}")?;
            }
            for t in &summary.tables {
                match t.noncurrent_rows {
                    Some(n) => writeln!(
                        stdout,
                        "  {:<24} {} row(s), {n} in noncurrent versions",
                        t.table, t.rows
                    )?,
                    None => writeln!(stdout, "  {:<24} {} row(s)", t.table, t.rows)?,
                }
            }
            Ok(())
        })
    })?;
    Ok(0)
}

fn s3_options(endpoint_url: Option<&str>) -> vouch::s3::S3Options {
    vouch::s3::S3Options {
        endpoint_url: endpoint_url.map(str::to_string),
        path_style: None,
    }
}

/// The first line of a passphrase file, without its line ending (zeroed when dropped; the
/// file is refused when group or others may read it).
fn read_secret_line(path: &std::path::Path) -> Result<vouch::secret::SecretBytes, Fatal> {
    vouch::secret::read_first_line(path, "passphrase").map_err(Fatal)
}

/// A date or RFC 3339 time (UTC) as Unix seconds.
fn parse_time(flag: &str, s: &str) -> Result<i64, Fatal> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .ok_or_else(|| {
            Fatal(format!(
                "{flag} {s:?}: expected YYYY-MM-DD or an RFC 3339 time"
            ))
        })
}

fn evidence_build(a: EvidenceBuildArgs) -> Result<u8, Fatal> {
    use vouch::evidence::{BuildRequest, RetentionMode, Source};
    // Connect first: a bad upload location should fail before the work is done.
    let upload = match &a.upload {
        Some(u) => Some(vouch::s3::S3Store::connect(
            u,
            &s3_options(a.endpoint_url.as_deref()),
        )?),
        None => None,
    };
    let passphrase = a
        .signing_key_passphrase_file
        .as_deref()
        .map(read_secret_line)
        .transpose()?;
    let key = vouch::keys::SigningKey::load(&a.signing_key, passphrase.as_ref().map(|p| &p[..]))?;
    let mut sources = Vec::new();
    for s in &a.source {
        let store: Box<dyn vouch::store::Store> = if s.starts_with("s3://") {
            Box::new(vouch::s3::S3Store::connect_all(
                s,
                &s3_options(a.endpoint_url.as_deref()),
            )?)
        } else {
            Box::new(LocalStore::open_all(std::path::Path::new(s))?)
        };
        sources.push(Source {
            location: s.clone(),
            store,
        });
    }
    let bagging_date = match &a.as_of {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .or_else(|_| {
                chrono::DateTime::parse_from_rfc3339(d)
                    .map(|t| t.with_timezone(&chrono::Utc).date_naive())
            })
            .map_err(|_| Fatal(format!("--as-of {d:?}: expected YYYY-MM-DD")))?,
        None => chrono::Utc::now().date_naive(),
    };
    let req = BuildRequest {
        sources,
        from: a
            .from
            .as_deref()
            .map(|s| parse_time("--from", s))
            .transpose()?,
        to: a.to.as_deref().map(|s| parse_time("--to", s)).transpose()?,
        signing_key: &key,
        out: a.out.clone(),
        force: a.force,
        bagging_date,
        retention_years: a.retention_years,
        retention_mode: match a.retention_mode {
            RetentionModeArg::Compliance => RetentionMode::Compliance,
            RetentionModeArg::Governance => RetentionMode::Governance,
        },
        legal_hold: a.legal_hold,
        organization: a.organization.clone(),
    };
    let mut s = vouch::evidence::build(&req)?;
    if let Some(store) = &upload {
        let name = a
            .out
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("evidence.zip");
        let until = chrono::NaiveDate::parse_from_str(&s.retain_until, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp())
            .ok_or_else(|| Fatal("internal: bad Retain-Until".into()))?;
        let lock = vouch::s3::Lock {
            compliance: matches!(a.retention_mode, RetentionModeArg::Compliance),
            retain_until: until,
            legal_hold: a.legal_hold,
        };
        s.upload = Some(store.put_locked(name, &a.out, &s.sha256, &lock)?);
    }
    print_report(a.format, &s, || {
        text(|stdout| {
            writeln!(
                stdout,
                "wrote {}: {} file(s), {} payload bytes, {} zip bytes",
                s.out, s.files, s.payload_bytes, s.zip_bytes
            )?;
            writeln!(stdout, "sha256 {}", s.sha256)?;
            writeln!(
                stdout,
                "retain until {} ({:?}){}",
                s.retain_until,
                s.retention_mode,
                if s.legal_hold { ", legal hold" } else { "" }
            )?;
            if let Some(u) = &s.upload {
                writeln!(
                    stdout,
                    "uploaded {}{} (version {}), locked {} until {}, checksum verified",
                    u.uri,
                    if u.parts > 1 {
                        format!(" in {} parts", u.parts)
                    } else {
                        String::new()
                    },
                    u.version_id.as_deref().unwrap_or("-"),
                    u.retention_mode,
                    u.retain_until
                )?;
            }
            Ok(())
        })
    })?;
    Ok(0)
}

fn evidence_verify(a: EvidenceVerifyArgs) -> Result<u8, Fatal> {
    use vouch::keys::{EVIDENCE_NAMESPACE, VerifyingKey};
    let keys = match (&a.public_key, &a.allowed_signers) {
        (Some(p), _) => vec![VerifyingKey::from_public_key_file(p)?],
        (None, Some(f)) => VerifyingKey::from_allowed_signers(f, EVIDENCE_NAMESPACE)?,
        (None, None) => return Err(Fatal("give --public-key or --allowed-signers".into())),
    };
    let r = vouch::evidence::verify(&a.bundle, &keys)?;
    print_report(a.format, &r, || {
        text(|stdout| {
            match r.verdict {
                vouch::evidence::VerifyVerdict::Verified => writeln!(
                    stdout,
                    "VERIFIED: {}: {} file(s), {} bytes, signed by {}; retain until {}",
                    a.bundle.display(),
                    r.files,
                    r.payload_bytes,
                    r.signer.as_deref().unwrap_or("?"),
                    r.retain_until.as_deref().unwrap_or("?")
                )?,
                vouch::evidence::VerifyVerdict::Tampered => writeln!(
                    stdout,
                    "TAMPERED: {}: {} problem(s)",
                    a.bundle.display(),
                    r.problems.len()
                )?,
            }
            for p in &r.problems {
                writeln!(stdout, "  {p}")?;
            }
            Ok(())
        })
    })?;
    for p in &r.problems {
        eprintln!("vouch: {p}");
    }
    Ok(if r.problems.is_empty() { 0 } else { 1 })
}

fn retention_check(a: RetentionCheckArgs) -> Result<u8, Fatal> {
    let store = vouch::s3::S3Store::connect(&a.location, &s3_options(a.endpoint_url.as_deref()))?;
    let r = store.retention_check(a.min_years, !a.allow_governance)?;
    print_report(a.format, &r, || {
        text(|stdout| {
            if r.violations.is_empty() {
                writeln!(
                    stdout,
                    "OK: {} version(s) under {} retained for at least {} years",
                    r.versions_checked, r.location, r.min_years
                )?;
            } else {
                writeln!(
                    stdout,
                    "VIOLATIONS: {} of {} version(s) under {}",
                    r.violations.len(),
                    r.versions_checked,
                    r.location
                )?;
                for v in &r.violations {
                    writeln!(
                        stdout,
                        "  {} (version {}): {}",
                        v.key,
                        v.version_id.as_deref().unwrap_or("-"),
                        v.problem
                    )?;
                }
            }
            Ok(())
        })
    })?;
    Ok(if r.violations.is_empty() { 0 } else { 1 })
}

fn keygen(a: KeygenArgs) -> Result<u8, Fatal> {
    let passphrase = a
        .passphrase_file
        .as_deref()
        .map(read_secret_line)
        .transpose()?;
    let s = vouch::keys::keygen(&a.out, passphrase.as_ref().map(|p| &p[..]), a.force)?;
    println!(
        "wrote {} (secret, mode 0600), {} and {}",
        s.secret_key, s.public_key, s.allowed_signers
    );
    println!("fingerprint {}", s.fingerprint);
    Ok(0)
}

fn join_path(root: &str, rel: &str) -> String {
    if rel.is_empty() || rel == root {
        root.to_string()
    } else {
        format!("{}/{}", root.trim_end_matches('/'), rel)
    }
}

/// A one-line progress display on stderr, redrawn a few times a second (terminals only).
struct TermProgress {
    state: Arc<ProgressState>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct ProgressState {
    files: AtomicU64,
    bytes: AtomicU64,
    done_files: AtomicU64,
    done_bytes: AtomicU64,
    stop: AtomicBool,
}

impl TermProgress {
    fn new(show: bool) -> TermProgress {
        let state = Arc::new(ProgressState::default());
        let thread = show.then(|| {
            let s = state.clone();
            std::thread::spawn(move || {
                let mut drawn = false;
                while !s.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let (f, n) = (
                        s.done_files.load(Ordering::Relaxed),
                        s.files.load(Ordering::Relaxed),
                    );
                    if n == 0 {
                        continue;
                    }
                    let (b, t) = (
                        s.done_bytes.load(Ordering::Relaxed),
                        s.bytes.load(Ordering::Relaxed).max(1),
                    );
                    eprint!(
                        "\r\x1b[2Kscanning: {f}/{n} files, {:.0}% of {:.1} MB",
                        b as f64 * 100.0 / t as f64,
                        t as f64 / 1e6
                    );
                    drawn = true;
                }
                if drawn {
                    eprint!("\r\x1b[2K");
                }
            })
        });
        TermProgress {
            state,
            thread: std::sync::Mutex::new(thread),
        }
    }

    fn finish(&self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Progress for TermProgress {
    fn start(&self, files: u64, bytes: u64) {
        self.state.files.store(files, Ordering::Relaxed);
        self.state.bytes.store(bytes, Ordering::Relaxed);
    }
    fn file_done(&self, bytes: u64) {
        self.state.done_files.fetch_add(1, Ordering::Relaxed);
        self.state.done_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

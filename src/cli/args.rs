//! The command line's shape: every subcommand, flag and help text (clap), defined once.
//! `main.rs` turns these into operation options; nothing here does work.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Offline compliance evidence: prove what the runbooks promise."
)]
pub struct Cli {
    /// No progress display on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
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
pub enum IndexCmd {
    /// Build or bring up to date the index of a lake (only new or changed files are read).
    Build(IndexBuildArgs),
}

#[derive(clap::Args)]
pub struct IndexBuildArgs {
    #[command(flatten)]
    pub location: LocationArgs,
    /// The index directory.
    #[arg(long, value_name = "DIR")]
    pub index: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct NightlyArgs {
    /// vouch.toml: the lake, the runbook tables, evidence, retention, keys, targets.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Directory for report.json, report.html, certificates/ and the evidence bundle.
    #[arg(long, value_name = "DIR", required_unless_present = "write_subjects")]
    pub out: Option<PathBuf>,
    /// Verify deletions with this scan report (`vouch scan merge` of a sharded scan)
    /// instead of scanning; it must be of the window's subjects, lake and legal holds.
    #[arg(long, value_name = "FILE")]
    pub scan_report: Option<PathBuf>,
    /// Only write the subject IDs deletion verification would check at --as-of (one a
    /// line, mode 0600) to FILE, for a sharded scan's --ids; run no check.
    #[arg(long, value_name = "FILE", conflicts_with = "scan_report")]
    pub write_subjects: Option<PathBuf>,
    /// "Now" (YYYY-MM-DD or RFC 3339, UTC; default: now). The same --as-of rewrites the
    /// same outputs.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// One line per check on stderr, as text or JSON (for log shippers).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Subcommand)]
pub enum CertificateCmd {
    /// Check a certificate's SSH signature (CERT.sig beside it): exit 0 verified, 1
    /// tampered or another key, 2 unreadable.
    Verify(CertificateVerifyArgs),
}

#[derive(clap::Args)]
pub struct CertificateVerifyArgs {
    /// The certificate (JSON); its signature is CERT.sig.
    pub cert: PathBuf,
    /// The signer's public key (KEY.pub) or an allowed_signers file.
    #[arg(long, value_name = "KEY")]
    pub public_key: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to write the sample data and the report (default: ./vouch-demo).
    #[arg(long, value_name = "DIR", default_value = "vouch-demo")]
    pub dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MetricArg {
    Incidents,
    Dsar,
    Changes,
    Jobs,
    Holds,
    Costs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ByArg {
    Month,
}

#[derive(clap::Args)]
pub struct MetricsArgs {
    /// Which table and metrics: incidents (data_incident), dsar (dsar_request), changes
    /// (governance_change_log), jobs (analytics_job_run), holds (data_retention_policy,
    /// with --job-runs) or costs (cost_anomaly, with --incidents to check the incident log).
    #[arg(value_enum)]
    pub metric: MetricArg,
    /// The table, Parquet or CSV (by extension).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// "Now" for open incidents and requests (RFC 3339 or YYYY-MM-DD, UTC; default: now).
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// vouch.toml, for the SLA targets in its [targets] section (default: 1.0 each) and the
    /// datasets' refresh cycles in [jobs.cycles].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Holds: the analytics_job_run table whose purge runs are checked against the holds.
    #[arg(long, value_name = "FILE")]
    pub job_runs: Option<PathBuf>,
    /// Costs: the data_incident table every mitigated anomaly's incident_id must be in.
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<PathBuf>,
    /// Dates that are not business days (changes), YYYY-MM-DD one a line.
    #[arg(long, value_name = "FILE")]
    pub holidays: Option<PathBuf>,
    /// Also give every figure by month.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 when a rate is below its target or anything is overdue or late.
    #[arg(long)]
    pub fail_on_breach: bool,
}

#[derive(Subcommand)]
pub enum RetentionCmd {
    /// Report versions whose retention is missing, too short, in governance mode when
    /// compliance is required, or hidden behind a delete marker (exit 1 if any).
    Check(RetentionCheckArgs),
}

#[derive(clap::Args)]
pub struct RetentionCheckArgs {
    /// s3://bucket/prefix
    pub location: String,
    /// Years every version must be retained after its creation.
    #[arg(long, default_value_t = 7)]
    pub min_years: u32,
    /// Accept governance-mode retention (default: compliance mode is required).
    #[arg(long)]
    pub allow_governance: bool,
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum EvidenceCmd {
    /// Collect the sources into a signed BagIt zip.
    Build(EvidenceBuildArgs),
    /// Check a bundle's signature, manifests and layout without extracting it.
    Verify(EvidenceVerifyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RetentionModeArg {
    Compliance,
    Governance,
}

#[derive(clap::Args)]
pub struct EvidenceBuildArgs {
    /// A directory to collect (repeatable); every file below it, hidden ones included.
    #[arg(long, value_name = "LOCATION", required = true)]
    pub source: Vec<String>,
    /// Only files modified at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only files modified before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// OpenSSH Ed25519 secret key (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub signing_key: PathBuf,
    /// The signing key's passphrase, on the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub signing_key_passphrase_file: Option<PathBuf>,
    /// The bundle to write (FILE.zip).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
    /// The bagging date (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    #[arg(long, default_value_t = 7)]
    pub retention_years: u32,
    /// Record a legal hold on the bundle.
    #[arg(long)]
    pub legal_hold: bool,
    #[arg(long, value_enum, default_value = "compliance")]
    pub retention_mode: RetentionModeArg,
    /// Source-Organization in bag-info.txt.
    #[arg(long, value_name = "NAME")]
    pub organization: Option<String>,
    /// Bag even when no file is in the sources and window (by default that is exit 2: a
    /// wrong path or window must not pass as evidence).
    #[arg(long)]
    pub allow_empty: bool,
    /// Upload to s3://bucket/prefix under S3 Object Lock (mode, Retain-Until, legal hold)
    /// with a SHA-256 checksum, then read the lock and checksum back.
    #[arg(long, value_name = "S3_URI")]
    pub upload: Option<String>,
    /// An S3-compatible endpoint for s3:// sources (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["public_key", "allowed_signers"])))]
pub struct EvidenceVerifyArgs {
    /// The bundle.
    pub bundle: PathBuf,
    /// The signer's OpenSSH public key (KEY.pub).
    #[arg(long, value_name = "KEY.pub")]
    pub public_key: Option<PathBuf>,
    /// An allowed_signers file (keys allowed in namespace vouch-evidence).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Writes PREFIX (secret, 0600), PREFIX.pub and PREFIX.allowed_signers.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Protect the secret key with the passphrase on the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DataFormatArg {
    Json,
    Csv,
    Parquet,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("to").required(true).multiple(true).args(["recipient", "recipients_file", "passphrase_file"])))]
pub struct ExportArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The DSAR request id, recorded in the bundle and the summary.
    #[arg(long, value_name = "R")]
    pub request_id: Option<String>,
    /// An age recipient (`age1…`) or SSH public key (`ssh-ed25519 …`, `ssh-rsa …`); repeatable.
    #[arg(long, value_name = "RECIPIENT")]
    pub recipient: Vec<String>,
    /// A file of recipients, one a line, as the `age` CLI reads it.
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
    /// Encrypt with the passphrase on the first line of FILE (scrypt) instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["recipient", "recipients_file"])]
    pub passphrase_file: Option<PathBuf>,
    /// The encrypted bundle to write; FILE.sha256 is written beside it.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// How each table's rows are written inside the bundle.
    #[arg(long, value_enum, default_value = "json")]
    pub data_format: DataFormatArg,
    /// The summary on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The time recorded as "generated at" (RFC 3339; default: now).
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// Also export rows still held in noncurrent object versions (S3 versioned buckets),
    /// in their own members under noncurrent/.
    #[arg(long)]
    pub include_versions: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Where the lake is: shared by `scan`, `scan plan`, `export` and `index build`.
#[derive(clap::Args)]
pub struct LocationArgs {
    /// The lake: a local directory or s3://bucket/prefix whose child directories are tables
    /// (default: [lake] location in --config).
    #[arg(long, value_name = "LOCATION")]
    pub lake: Option<String>,
    /// Take the tables from a catalog instead: `glue` (the AWS Glue Data Catalog; its
    /// endpoint from AWS_ENDPOINT_URL_GLUE or AWS_ENDPOINT_URL). Needs --database.
    #[arg(
        long,
        value_name = "CATALOG",
        conflicts_with = "lake",
        requires = "database"
    )]
    pub catalog: Option<String>,
    /// The catalog's database whose tables are the lake (`silver_private`).
    #[arg(long, value_name = "NAME", requires = "catalog")]
    pub database: Option<String>,
    /// vouch.toml: lake location, tables, identifier columns, retention policy, subject key.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An S3-compatible endpoint for s3:// locations (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Whom to look for: shared by `scan` and `export`.
#[derive(clap::Args)]
pub struct SubjectArgs {
    /// File of subject IDs, one a line (`#` comments and blank lines ignored; `-` reads
    /// stdin).
    #[arg(long, value_name = "FILE")]
    pub ids: Option<PathBuf>,
    /// A subject ID (repeatable; may start with `-`: `--id -1`).
    #[arg(long = "id", value_name = "ID", allow_hyphen_values = true)]
    pub id: Vec<String>,
}

/// Where the lake is and whom to look for.
#[derive(clap::Args)]
pub struct LakeArgs {
    #[command(flatten)]
    pub location: LocationArgs,
    #[command(flatten)]
    pub subjects: SubjectArgs,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub step: Option<ScanStep>,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Scan exactly the files listed (lines of `vouch scan plan`, any subset; `-` reads
    /// stdin) and write a partial report for `vouch scan merge` (needs the subject key).
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<String>,
    /// With --files-from: scan only shard I of N of the list (I from 0; shards are
    /// balanced by bytes and the same on every machine).
    #[arg(long, value_name = "I/N", requires = "files_from")]
    pub shard: Option<String>,
    /// A subject index (vouch index build): row groups it rules out are not read; files
    /// it does not cover are read in full. Needs the subject key.
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// data_retention_policy table (Parquet or CSV): datasets under legal hold.
    #[arg(long, value_name = "FILE")]
    pub retention_policy: Option<PathBuf>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON (report, or part with --files-from) to FILE, atomically.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out FILE if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Worker threads, 1 to 1024 (default: one per core; 16 for S3, whose reads wait on
    /// the network).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Do not use min/max statistics to skip row groups (diagnosis, benchmarks).
    #[arg(long)]
    pub no_statistics: bool,
    /// Do not use Parquet bloom filters to skip row groups.
    #[arg(long)]
    pub no_bloom_filters: bool,
    /// Decode every page with the generic decoder (no dictionary skipping).
    #[arg(long)]
    pub no_dictionaries: bool,
    /// Also scan noncurrent object versions (S3 versioned buckets).
    #[arg(long)]
    pub include_versions: bool,
    /// With a subject key: print each typed ID beside its keyed hash in the text report on
    /// stdout (never in --out, JSON or logs), so an officer sees whose rows remain.
    #[arg(long)]
    pub show_ids: bool,
}

#[derive(Subcommand)]
pub enum ScanStep {
    /// List the work of a scan as JSON Lines: a header line, then one line per file
    /// (table, key, size, ETag and version id in S3), in the order a scan reads them.
    Plan(PlanArgs),
    /// Merge the partial reports of one plan into the report a single scan gives; exit 2
    /// when a file of the plan is missing or covered twice, or the parts disagree.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub location: LocationArgs,
    /// Also list noncurrent object versions (S3 versioned buckets).
    #[arg(long)]
    pub include_versions: bool,
    /// Write the plan to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out FILE if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Partial reports (`vouch scan --files-from ... --out PART`).
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// The plan the parts were scanned from.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON report to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out FILE if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// vouch.toml holding the subject key that authenticates the parts (or set
    /// VOUCH_SUBJECT_KEY).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

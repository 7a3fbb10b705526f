//! The command line's shape: every subcommand, flag and help text (clap), defined once.
//! `main.rs` turns these into operation options; nothing here does work.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes: 0 the promise holds, 1 it does not (a violation), 2 vouch could not decide \
(bad input, unreadable data, a usage error).
Config: --config FILE, else VOUCH_CONFIG, else ./vouch.toml when it exists.
Docs: docs/README.md in the repository; `vouch COMMAND --help` for a command's examples.";

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Offline compliance evidence: prove what the runbooks promise.",
    long_about = "Offline compliance evidence: prove what the runbooks promise.\n\n\
        vouch verifies deletions in a data lake, writes encrypted DSAR export bundles and \
        signed audit evidence bundles, checks S3 Object Lock retention and computes the \
        runbooks' SLA metrics. Every verdict is an exit code a scheduler can act on.",
    after_help = AFTER_HELP,
    after_long_help = concat!(
        "Examples:\n",
        "  vouch demo                                   # a sample lake, checked end to end\n",
        "  vouch scan --lake ./lake --id 5002           # are user 5002's rows gone?\n",
        "  vouch nightly --out reports/                 # every check in ./vouch.toml\n",
        "  vouch completions bash > /etc/bash_completion.d/vouch\n\n",
        "Exit codes: 0 the promise holds, 1 it does not (a violation), 2 vouch could not decide ",
        "(bad input, unreadable data, a usage error).\n",
        "Config: --config FILE, else VOUCH_CONFIG, else ./vouch.toml when it exists.\n",
        "Logging: -q, -v, -vv; VOUCH_LOG (else RUST_LOG) takes tracing filter directives ",
        "(`vouch=debug`).\n",
        "AWS: credentials from the standard chain (environment, --profile or AWS_PROFILE, web ",
        "identity, container and instance roles); --region or AWS_REGION; endpoints from ",
        "--endpoint-url or AWS_ENDPOINT_URL."
    )
)]
pub struct Cli {
    /// Only warnings and errors on stderr, and no progress display.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,
    /// More on stderr: -v adds debug events, -vv trace events (VOUCH_LOG or RUST_LOG, as
    /// tracing filter directives, take precedence).
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// How stderr's lines are written: text for people, or json, one object a line
    /// (timestamp, level, command, event, message, duration_ms) with a final summary line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        help_heading = "Global options"
    )]
    pub log_format: LogFormat,
    /// AWS: the named profile in ~/.aws/config and ~/.aws/credentials (default:
    /// AWS_PROFILE, else `default`).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub profile: Option<String>,
    /// AWS: the region for S3 and Glue (default: AWS_REGION, else the profile's region).
    #[arg(
        long,
        global = true,
        value_name = "REGION",
        help_heading = "Global options"
    )]
    pub region: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Verify deletion: count rows of the given subjects in every table of a lake.
    #[command(
        override_usage = "vouch scan (--lake LOCATION | --catalog glue --database NAME | --config FILE) \
                          (--id ID... | --ids FILE) [OPTIONS]\n       \
                          vouch scan plan [OPTIONS]\n       \
                          vouch scan merge --plan FILE PART...",
        after_long_help = "Examples:\n  \
            vouch scan --lake ./lake --id 5002 --id 5003\n  \
            vouch scan --lake s3://lake/silver_private --ids deleted.txt --format json --out report.json\n  \
            vouch scan --catalog glue --database silver_private --ids - < deleted.txt\n  \
            vouch scan --config vouch.toml --ids deleted.txt --retention-policy data_retention_policy.parquet\n\n\
            Verdicts: CLEAN (exit 0): no live row of any subject in any table, every file read; \
            RESIDUAL (exit 1): rows remain (the report names table, file and count); \
            INCOMPLETE (exit 2): a file, table or snapshot could not be read, so nothing is \
            claimed clean."
    )]
    Scan(ScanArgs),
    /// DSAR export: every row of the subjects, zipped, age-encrypted and hashed.
    #[command(after_long_help = "Examples:\n  \
        vouch export --lake ./lake --id 5002 --request-id R-17 --recipient age1... --out R-17.age\n  \
        vouch export --config vouch.toml --ids subject.txt --recipients-file officers.txt --out R-17.age --data-format csv\n  \
        age --decrypt -i officer.key R-17.age > R-17.zip    # the standard age CLI opens it\n\n\
        Writes FILE (age-encrypted zip; the plaintext never touches disk) and FILE.sha256. \
        Exit 0 written, 2 a table could not be read (nothing is written).")]
    Export(ExportArgs),
    /// Audit evidence bundles: signed, reproducible BagIt zips.
    #[command(subcommand)]
    Evidence(EvidenceCmd),
    /// Write an OpenSSH Ed25519 key pair and an allowed_signers file for ssh-keygen -Y verify.
    #[command(after_long_help = "Examples:\n  \
        vouch keygen --out keys/evidence\n  \
        vouch keygen --out keys/evidence --passphrase-file pass.txt --force")]
    Keygen(KeygenArgs),
    /// Check S3 Object Lock retention of every object version under a prefix.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Incident, DSAR, change-review, job, legal-hold and cost metrics, defined in SQL under
    /// queries/.
    #[command(after_long_help = "Examples:\n  \
        vouch metrics incidents --input data_incident.parquet --as-of 2026-12-01\n  \
        vouch metrics dsar --input dsar_request.csv --config vouch.toml --fail-on-breach\n  \
        vouch metrics changes --input governance_change_log.parquet --holidays holidays.txt --by month\n  \
        vouch metrics holds --input data_retention_policy.parquet --job-runs analytics_job_run.parquet\n  \
        vouch metrics costs --input cost_anomaly.parquet --incidents data_incident.parquet --format json\n\n\
        Exit 0 computed (and, with --fail-on-breach, every target met), 1 a breach with \
        --fail-on-breach, 2 the input is not the table named (the error names column and row).")]
    Metrics(MetricsArgs),
    /// Every configured check from vouch.toml: report.json, report.html and signed
    /// deletion certificates in --out; exit code the worst of the checks.
    #[command(after_long_help = "Examples:\n  \
        vouch nightly --config /etc/vouch/vouch.toml --out /var/lib/vouch/2026-12-01\n  \
        vouch nightly --out reports/ --as-of 2026-12-01 --log-format json\n  \
        vouch nightly --write-subjects ids.txt          # for a sharded scan's --ids\n  \
        vouch nightly --out reports/ --scan-report merged.json\n\n\
        Exit 0 every check holds, 1 a check found a violation, 2 a check could not decide. \
        The same --as-of rewrites the same bytes.")]
    Nightly(NightlyArgs),
    /// Deletion certificates written by nightly.
    #[command(subcommand)]
    Certificate(CertificateCmd),
    /// Generate a small sample lake and tables, run nightly on them, say where the report is.
    #[command(after_long_help = "Examples:\n  \
        vouch demo\n  \
        vouch demo --dir /tmp/vouch-demo\n\n\
        Exit 0 when every check ran (the sample data holds violations on purpose; the report \
        shows them), 2 when a check could not decide.")]
    Demo(DemoArgs),
    /// The subject index: per-row-group filters of keyed hashes of the identifier values.
    #[command(subcommand)]
    Index(IndexCmd),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell.
    #[command(after_long_help = "Examples:\n  \
        vouch completions bash > ~/.local/share/bash-completion/completions/vouch\n  \
        vouch completions zsh > \"${fpath[1]}/_vouch\"\n  \
        vouch completions fish > ~/.config/fish/completions/vouch.fish")]
    Completions(CompletionsArgs),
    /// Write the man pages (vouch.1 and one per command) from these definitions.
    #[command(after_long_help = "Examples:\n  \
        vouch man --out /usr/local/share/man/man1 && man vouch-scan\n  \
        vouch man | man -l -")]
    Man(ManArgs),
}

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write vouch.1 and vouch-COMMAND.1 for every command into DIR (default: vouch.1 on
    /// stdout).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum IndexCmd {
    /// Build or bring up to date the index of a lake (only new or changed files are read).
    #[command(after_long_help = "Examples:\n  \
        VOUCH_SUBJECT_KEY=... vouch index build --lake ./lake --index ./lake.index\n  \
        vouch scan --lake ./lake --index ./lake.index --ids deleted.txt\n\n\
        Needs the subject key ([keys] subject_key_file or VOUCH_SUBJECT_KEY). Exit 0 built, \
        2 a file could not be indexed (the index stays usable: scans read such files in full).")]
    Build(IndexBuildArgs),
}

#[derive(clap::Args)]
pub struct IndexBuildArgs {
    #[command(flatten)]
    pub location: LocationArgs,
    /// The index directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub index: PathBuf,
    /// Check every byte of every entry kept (by default only their sealed heads: a
    /// damaged body is found when a scan reads it, and that file is then read in full),
    /// and redo those that fail.
    #[arg(long)]
    pub verify: bool,
    /// The summary on stdout: text, or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// `vouch: …` lines for people.
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

#[derive(clap::Args)]
pub struct NightlyArgs {
    /// vouch.toml: the lake, the runbook tables, evidence, retention, keys, targets
    /// (default: VOUCH_CONFIG, else ./vouch.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// An S3-compatible endpoint for the lake, sources and uploads (default:
    /// AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Subcommand)]
pub enum CertificateCmd {
    /// Check a deletion certificate's SSH signature (CERT.sig beside it) and what it
    /// certifies: exit 0 verified and clean, 1 not verified (changed, another key) or a
    /// deletion not confirmed (residual or incomplete), 2 unreadable.
    #[command(after_long_help = "Examples:\n  \
        vouch certificate verify reports/certificates/D-1001.json --public-key evidence.pub\n  \
        ssh-keygen -Y verify -f allowed_signers -I vouch -n vouch-deletion \\\n      \
        -s D-1001.json.sig < D-1001.json    # the signature check without vouch\n\n\
        Verdicts: VERIFIED (exit 0): the signature holds and the certificate says the \
        deletion is clean; DELETION NOT CONFIRMED (exit 1): the signature holds, and what \
        it certifies is rows that remain or a lake not read completely; NOT VERIFIED (exit \
        1): the signature does not hold for this key, the file is no certificate, or \
        the custody file it names (beside it, or --custody FILE) was edited or cut; a \
        custody file that cannot be found or read is exit 2.")]
    Verify(CertificateVerifyArgs),
}

#[derive(clap::Args)]
pub struct CertificateVerifyArgs {
    /// The certificate (JSON); its signature is CERT.sig.
    pub cert: PathBuf,
    /// The signer's public key (KEY.pub) or an allowed_signers file.
    #[arg(long, value_name = "KEY")]
    pub public_key: PathBuf,
    /// The custody file the certificate names, when it is not beside the certificate
    /// (its SHA-256 and line count are checked: an edited or cut file is NOT VERIFIED).
    #[arg(long, value_name = "FILE")]
    pub custody: Option<PathBuf>,
    /// The outcome on stdout: text, or JSON.
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
    /// data_incident: MTTA, MTTR, 5-minute acknowledgement, 48-hour postmortem.
    Incidents,
    /// dsar_request: deadlines per jurisdiction, extensions, receipts.
    Dsar,
    /// governance_change_log: 2-business-day review.
    Changes,
    /// analytics_job_run: runs, failures, freshness against refresh cycles.
    Jobs,
    /// data_retention_policy: legal holds, and purge runs under hold (--job-runs).
    Holds,
    /// cost_anomaly: anomalies, mitigation, incidents (--incidents).
    Costs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ByArg {
    /// Calendar months (UTC).
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
    /// datasets' refresh cycles in [jobs.cycles] (default: VOUCH_CONFIG, else ./vouch.toml
    /// when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Holds: the analytics_job_run table whose purge runs are checked against the holds.
    #[arg(long, value_name = "FILE")]
    pub job_runs: Option<PathBuf>,
    /// Costs: the data_incident table every mitigated anomaly's incident_id must be in.
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<PathBuf>,
    /// Dates that are not business days (changes), YYYY-MM-DD one a line (`-` reads
    /// stdin).
    #[arg(long, value_name = "FILE")]
    pub holidays: Option<PathBuf>,
    /// Also give every figure by month.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    /// The report on stdout: text, or JSON.
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
    #[command(after_long_help = "Examples:\n  \
        vouch retention check s3://audit-evidence/bundles/\n  \
        vouch retention check s3://audit-evidence/bundles/ --min-years 7 --format json\n  \
        vouch retention check s3://audit-logs/ --allow-governance --profile audit --region eu-west-1\n\n\
        Exit 0 every version is locked long enough, 1 one is not (listed), 2 the bucket \
        could not be listed or read.")]
    Check(RetentionCheckArgs),
}

#[derive(clap::Args)]
pub struct RetentionCheckArgs {
    /// s3://bucket/prefix
    pub location: String,
    /// Years every version must be retained after its creation.
    #[arg(long, value_name = "YEARS", default_value_t = 7)]
    pub min_years: u32,
    /// Accept governance-mode retention (default: compliance mode is required).
    #[arg(long)]
    pub allow_governance: bool,
    /// An S3-compatible endpoint (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The outcome on stdout: text, or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum EvidenceCmd {
    /// Collect the sources into a signed BagIt zip.
    #[command(after_long_help = "Examples:\n  \
        vouch evidence build --source s3://audit-logs/app/ --from 2026-11-01 --to 2026-12-01 \\\n      \
        --signing-key keys/evidence --out evidence-2026-11.zip\n  \
        vouch evidence build --source ./logs --signing-key keys/evidence --out ev.zip \\\n      \
        --upload s3://audit-evidence/bundles/ --retention-years 7\n\n\
        Writes FILE.zip (a BagIt bag; the same inputs give the same bytes) signed in \
        FILE.zip.sig. Exit 0 written (and uploaded), 2 nothing to bag (unless --allow-empty), \
        a source unreadable, or the upload's lock not confirmed.")]
    Build(EvidenceBuildArgs),
    /// Check a bundle's signature, manifests and layout without extracting it.
    #[command(after_long_help = "Examples:\n  \
        vouch evidence verify evidence-2026-11.zip --public-key evidence.pub\n  \
        vouch evidence verify evidence-2026-11.zip --allowed-signers allowed_signers --format json\n  \
        unzip evidence-2026-11.zip && bagit.py --validate evidence-2026-11    # without vouch\n\n\
        Exit 0 verified, 1 not verified (a bad signature, a changed or extra file), 2 the \
        bundle could not be read.")]
    Verify(EvidenceVerifyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RetentionModeArg {
    /// No one, the root account included, can shorten or remove the lock.
    Compliance,
    /// Users with s3:BypassGovernanceRetention can.
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
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// The bagging date (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Years the bundle is to be kept: recorded in bag-info.txt and, with --upload, the
    /// Object Lock Retain-Until date.
    #[arg(long, value_name = "YEARS", default_value_t = 7)]
    pub retention_years: u32,
    /// Record a legal hold on the bundle.
    #[arg(long)]
    pub legal_hold: bool,
    /// The Object Lock mode recorded and, with --upload, set.
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
    /// The summary on stdout: text, or JSON.
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
    /// The outcome on stdout: text, or JSON.
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
    /// Replace the three files if they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DataFormatArg {
    /// JSON Lines, one row an object.
    Json,
    /// CSV with a header line.
    Csv,
    /// Parquet, the table's own schema.
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
    /// A file of recipients, one a line, as the `age` CLI reads it (`-` reads stdin).
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
    /// For people.
    Text,
    /// Pretty JSON with schema_version (docs/schemas/).
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
    /// vouch.toml: lake location, tables, identifier columns, retention policy, subject key
    /// (default: VOUCH_CONFIG, else ./vouch.toml when it exists).
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
#[command(group(clap::ArgGroup::new("outputs").args(["out", "custody"]).multiple(true)))]
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
    /// Keep the --index current in the same run, as nightly does: index the lake's new
    /// and changed files first, and keep the outcome of each row group decoded for
    /// later nights (a later scan takes it while the file is unchanged).
    #[arg(long, requires = "index", conflicts_with = "files_from")]
    pub update_index: bool,
    /// data_retention_policy table (Parquet or CSV, a local file or an s3:// URI):
    /// datasets under legal hold.
    #[arg(long, value_name = "FILE")]
    pub retention_policy: Option<PathBuf>,
    /// The report on stdout: text, or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON (report, or part with --files-from) to FILE, atomically.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the chain of custody to FILE (JSON Lines: one line per object listed, with
    /// size, ETag, version, footer SHA-256, rows and what was decided), atomically, in
    /// place of the report's `objects`; the report records its SHA-256 and line count.
    #[arg(long, value_name = "FILE", conflicts_with = "files_from")]
    pub custody: Option<PathBuf>,
    /// Replace --out FILE (and --custody FILE) if it exists.
    #[arg(long, requires = "outputs")]
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
    #[command(after_long_help = "Examples:\n  \
        vouch scan plan --lake s3://lake/silver_private --out plan.jsonl\n  \
        vouch scan --files-from plan.jsonl --shard 0/4 --ids deleted.txt --out part-0.json\n\n\
        Exit 0 planned, 2 a table could not be listed (the plan is not written).")]
    Plan(PlanArgs),
    /// Merge the partial reports of one plan into the report a single scan gives; exit 2
    /// when a file of the plan is missing or covered twice, or the parts disagree.
    #[command(after_long_help = "Examples:\n  \
        vouch scan merge --plan plan.jsonl part-*.json --out report.json\n\n\
        Exit codes as `vouch scan`: 0 clean, 1 residual rows, 2 incomplete or refused.")]
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
#[command(group(clap::ArgGroup::new("outputs").args(["out", "custody"]).multiple(true)))]
pub struct MergeArgs {
    /// Partial reports (`vouch scan --files-from ... --out PART`).
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// The plan the parts were scanned from.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The report on stdout: text, or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON report to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the chain of custody to FILE (JSON Lines, as `vouch scan --custody`: the
    /// same bytes a single scan writes), atomically, in place of the report's `objects`.
    #[arg(long, value_name = "FILE")]
    pub custody: Option<PathBuf>,
    /// Replace --out FILE (and --custody FILE) if it exists.
    #[arg(long, requires = "outputs")]
    pub force: bool,
    /// vouch.toml holding the subject key that authenticates the parts (or set
    /// VOUCH_SUBJECT_KEY; default: VOUCH_CONFIG, else ./vouch.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

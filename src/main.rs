//! The `vouch` command line: parses arguments, calls the library, maps outcomes to exit
//! codes (0 holds, 1 violation, 2 could not decide). No logic of its own beyond that.

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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Where the lake is and whom to look for: shared by `scan` and `export`.
#[derive(clap::Args)]
struct LakeArgs {
    /// The lake: a local directory whose child directories are tables.
    #[arg(long, value_name = "LOCATION")]
    lake: Option<String>,
    /// File of subject IDs, one a line (`#` comments and blank lines ignored).
    #[arg(long, value_name = "FILE")]
    ids: Option<PathBuf>,
    /// A subject ID (repeatable).
    #[arg(long = "id", value_name = "ID")]
    id: Vec<String>,
    /// vouch.toml: lake location, tables, identifier columns, retention policy, subject key.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ScanArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// data_retention_policy table (Parquet or CSV): datasets under legal hold.
    #[arg(long, value_name = "FILE")]
    retention_policy: Option<PathBuf>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write the JSON report to FILE (atomically; replaces an earlier report).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not use min/max statistics to skip row groups (diagnosis, benchmarks).
    #[arg(long)]
    no_statistics: bool,
    /// Do not use Parquet bloom filters to skip row groups.
    #[arg(long)]
    no_bloom_filters: bool,
    /// Decode every page with the generic decoder (no dictionary skipping).
    #[arg(long)]
    no_dictionaries: bool,
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
        Cmd::Scan(a) => scan(a, cli.quiet),
        Cmd::Export(a) => export(a, cli.quiet),
    }
}

/// What `scan` and `export` both resolve from the command line and the config.
struct Lake {
    cfg: Config,
    location: String,
    store: LocalStore,
    subjects: Vec<String>,
}

fn open_lake(a: &LakeArgs) -> Result<Lake, Fatal> {
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let location = match (&a.lake, &cfg.lake.location) {
        (Some(l), _) => l.clone(),
        (None, Some(l)) => cfg.resolve(l),
        (None, None) => {
            return Err(Fatal(
                "no lake given: use --lake LOCATION or [lake] location in --config".into(),
            ));
        }
    };
    if location.starts_with("s3://") {
        return Err(Fatal(format!(
            "{location}: S3 lakes are not supported by this build yet (local directories only)"
        )));
    }
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
    let store = LocalStore::open(std::path::Path::new(&location))?;
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
    let tables = discover_tables(&store, &cfg.lake)?;
    let options = ScanOptions {
        use_statistics: !a.no_statistics,
        use_bloom_filters: !a.no_bloom_filters,
        use_dictionaries: !a.no_dictionaries,
        ..ScanOptions::default()
    };
    let req = ScanRequest {
        store: &store,
        lake: location.clone(),
        tables,
        subjects: &subjects,
        holds,
        labeler,
        options,
        prior_errors: vec![],
        collect_rows: false,
    };
    let started = Instant::now();
    let show = !quiet && std::io::stderr().is_terminal();
    let progress = TermProgress::new(show);
    let run = || vouch::scan::scan(&req, &progress);
    let report = match a.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()?
            .install(run),
        None => run(),
    };
    progress.finish();
    for e in &report.errors {
        eprintln!("vouch: {}: {}", join_path(&location, &e.file), e.error);
    }
    if let Some(out) = &a.out {
        let json = serde_json::to_vec_pretty(&report)?;
        vouch::fsio::write_atomic(out, &json, true).map_err(Fatal)?;
    }
    let mut stdout = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        Format::Text => write!(stdout, "{}", report.to_text())?,
    }
    if !quiet {
        eprintln!("vouch: scanned in {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(report.verdict.exit_code() as u8)
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
    let tables = discover_tables(&store, &cfg.lake)?;
    let req = ExportRequest {
        scan: ScanRequest {
            store: &store,
            lake: location.clone(),
            tables,
            subjects: &subjects,
            holds: Default::default(),
            labeler: SubjectLabeler::plain(),
            options: ScanOptions::default(),
            prior_errors: vec![],
            collect_rows: true,
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
    let summary = vouch::export::export(req, &progress);
    progress.finish();
    let summary = summary?;
    let mut stdout = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &summary)?;
            writeln!(stdout)?;
        }
        Format::Text => {
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
                writeln!(stdout, "  {:<24} {} row(s)", t.table, t.rows)?;
            }
        }
    }
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

//! One operation per user-facing command. Each takes typed options and an [`Env`] and
//! returns a typed outcome (its `to_text()` and JSON are what the binary prints, its
//! `exit_code()` what the binary exits with); none prints. Steps several commands share
//! (opening a lake, building a scan request, the thread pool, the subject key) are here,
//! once.

pub mod catalog;
pub mod certificate;
pub mod demo;
pub mod evidence;
pub mod export;
pub mod index;
pub mod keygen;
pub mod metrics;
pub mod nightly;
pub mod retention;
pub mod scan;

use std::path::PathBuf;

use crate::domain::config::{Config, ConfigError};
use crate::domain::lake::{Lake, discover_tables};
use crate::domain::scan::{NoProgress, Progress};
use crate::domain::time::Timestamp;
use crate::io::s3::S3Options;
use crate::io::secret::SecretBytes;
use crate::io::store::{Store, StoreError};

/// What an operation gets from its caller besides its options: the environment it would
/// otherwise read itself. The library never reads the process environment or the clock
/// on its own.
pub struct Env<'a> {
    pub s3: S3Options,
    /// `VOUCH_SUBJECT_KEY` as the caller read it (it takes precedence over the config).
    pub subject_key: Option<String>,
    /// Worker threads (default: what the store suits: one per core, 16 for S3).
    pub threads: Option<usize>,
    pub progress: &'a dyn Progress,
    /// "Now", for options that default to it.
    pub now: Timestamp,
}

impl Env<'_> {
    /// An environment for tests and embedders: no endpoint, no key, no progress, `now`.
    pub fn at(now: Timestamp) -> Env<'static> {
        Env {
            s3: S3Options::default(),
            subject_key: None,
            threads: None,
            progress: &NoProgress,
            now,
        }
    }
}

/// Why an operation stopped without an outcome (exit 2). Each area's error keeps its own
/// message, which names the file or object.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Subjects(#[from] crate::domain::subjects::SubjectError),
    #[error(transparent)]
    Tables(#[from] crate::io::tables::TableError),
    #[error(transparent)]
    Export(#[from] crate::domain::export::ExportError),
    #[error(transparent)]
    Evidence(#[from] crate::domain::evidence::EvidenceError),
    #[error(transparent)]
    Keys(#[from] crate::domain::keys::KeyError),
    #[error(transparent)]
    Metrics(#[from] crate::domain::metrics::MetricsError),
    #[error(transparent)]
    File(#[from] crate::io::fsio::FileError),
    #[error(transparent)]
    Index(#[from] crate::domain::index::IndexError),
    #[error(transparent)]
    Plan(#[from] crate::domain::plan::PlanError),
    /// The one "subject key required" error: what needs it and why.
    #[error(
        "{what} needs a subject key ([privacy] subject_key or subject_key_file, or \
         VOUCH_SUBJECT_KEY): {why}"
    )]
    SubjectKeyRequired {
        what: &'static str,
        why: &'static str,
    },
    /// A message that already names what failed.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for OpError {
    fn from(m: String) -> OpError {
        OpError::Failed(m)
    }
}

/// Where a lake is: `--lake` over `--catalog glue --database D` over the config's
/// `[lake] catalog` and `database`, or its `[lake] location`.
#[derive(Debug, Clone, Default)]
pub struct LakeLocation {
    pub lake: Option<String>,
    pub config: Option<PathBuf>,
    /// `glue` (`--catalog`).
    pub catalog: Option<String>,
    /// The catalog's database (`--database`).
    pub database: Option<String>,
}

/// A lake opened: the config it came with, its location, its store and its tables.
pub struct OpenedLake {
    pub cfg: Config,
    pub location: String,
    pub store: Box<dyn Store>,
    pub lake: Lake,
}

/// The config of an optional `--config` (defaults without one).
pub fn load_config(config: Option<&std::path::Path>) -> Result<Config, OpError> {
    Ok(match config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

/// A catalog's database as a lake location: `glue://database`.
fn catalog_location(catalog: &str, database: Option<&str>) -> Result<String, OpError> {
    if !catalog.eq_ignore_ascii_case("glue") {
        return Err(OpError::Failed(format!(
            "catalog {catalog:?} is not known: the one catalog vouch reads is \"glue\" \
             (the AWS Glue Data Catalog)"
        )));
    }
    match database {
        Some(d) if !d.is_empty() && !d.contains('/') => Ok(format!("glue://{d}")),
        Some(d) => Err(OpError::Failed(format!(
            "{d:?} is not a Glue database name"
        ))),
        None => Err(OpError::Failed(
            "the Glue catalog needs a database: --database NAME or [lake] database".into(),
        )),
    }
}

/// The lake the config names, if it names one: `[lake] catalog` and `database` as
/// `glue://database`, or `[lake] location` (resolved against the config's directory).
pub fn configured_location(cfg: &Config) -> Result<Option<String>, OpError> {
    match (&cfg.lake.catalog, &cfg.lake.database, &cfg.lake.location) {
        (Some(_), _, Some(_)) => Err(OpError::Failed(
            "[lake] has both location and catalog: give one (a catalog's tables carry their \
             own locations)"
                .into(),
        )),
        (Some(c), d, None) => catalog_location(c, d.as_deref()).map(Some),
        (None, Some(_), _) => Err(OpError::Failed(
            "[lake] database needs catalog = \"glue\"".into(),
        )),
        (None, None, l) => Ok(l.as_ref().map(|l| cfg.resolve(l))),
    }
}

/// The config, the lake's location and its store, without listing it.
pub fn open_store(
    at: &LakeLocation,
    env: &Env<'_>,
) -> Result<(Config, String, Box<dyn Store>), OpError> {
    let mut cfg = load_config(at.config.as_deref())?;
    let location = match (&at.lake, &at.catalog, &at.database) {
        (Some(l), None, None) => l.clone(),
        (Some(_), _, _) => {
            return Err(OpError::Failed(
                "--lake and --catalog/--database name two lakes: give one".into(),
            ));
        }
        (None, Some(c), d) => catalog_location(c, d.as_deref())?,
        (None, None, Some(_)) => {
            return Err(OpError::Failed("--database needs --catalog glue".into()));
        }
        (None, None, None) => configured_location(&cfg)?.ok_or_else(|| {
            OpError::Failed(
                "no lake given: use --lake LOCATION, --catalog glue --database NAME, or \
                 [lake] location in --config"
                    .into(),
            )
        })?,
    };
    let store = open_at(&location, &mut cfg.lake, &env.s3)?;
    Ok((cfg, location, store))
}

/// Opens a lake location: `glue://database` (its tables join `lake.tables`, see
/// [`catalog`]), `s3://bucket/prefix` or a local directory.
pub fn open_at(
    location: &str,
    lake: &mut crate::domain::config::LakeConfig,
    s3: &S3Options,
) -> Result<Box<dyn Store>, OpError> {
    match location.strip_prefix("glue://") {
        Some(database) => Ok(Box::new(catalog::open(database, lake, s3)?)),
        None => Ok(crate::io::open_location(location, s3)?),
    }
}

/// Opens a lake and finds its tables (what cannot be listed is in `lake.errors`).
pub fn open_lake(at: &LakeLocation, env: &Env<'_>) -> Result<OpenedLake, OpError> {
    let (cfg, location, store) = open_store(at, env)?;
    let lake = discover_tables(store.as_ref(), &cfg.lake)?;
    Ok(OpenedLake {
        cfg,
        location,
        store,
        lake,
    })
}

/// The subject key (the caller's `VOUCH_SUBJECT_KEY` over the config), if any.
pub fn subject_key(cfg: &Config, env: &Env<'_>) -> Result<Option<SecretBytes>, OpError> {
    Ok(cfg.subject_key(env.subject_key.clone())?)
}

/// The subject key, or the one error that says `what` needs it and `why`.
pub fn require_subject_key(
    cfg: &Config,
    env: &Env<'_>,
    what: &'static str,
    why: &'static str,
) -> Result<SecretBytes, OpError> {
    subject_key(cfg, env)?.ok_or(OpError::SubjectKeyRequired { what, why })
}

/// Runs `work` on a pool of `threads` workers (or what the store suits): the one place
/// vouch builds a thread pool.
pub fn in_pool<T: Send>(
    threads: Option<usize>,
    store: &dyn Store,
    work: impl FnOnce() -> T + Send,
) -> Result<T, OpError> {
    let n = threads.unwrap_or_else(|| store.parallelism()).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| OpError::Failed(e.to_string()))?;
    Ok(pool.install(work))
}

pub use crate::domain::report::{error_lines, join_path};

/// What to do when an output file exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    #[default]
    Refuse,
    Replace,
}

impl Overwrite {
    pub fn allowed(self) -> bool {
        self == Overwrite::Replace
    }
}

/// A text form written with `writeln!`.
pub(crate) fn text(write: impl FnOnce(&mut String) -> std::fmt::Result) -> String {
    let mut s = String::new();
    let _ = write(&mut s);
    s
}

//! `vouch.toml`: the lake, its tables and identifier columns, the side tables, privacy.
//!
//! Parsing and path resolution only; nothing here opens the lake. Relative paths in the
//! file are resolved against the file's own directory so a config works from any working
//! directory. Unknown keys are errors, so a typo cannot silently drop a table.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: malformed config: {message}")]
    Malformed { path: String, message: String },
    /// A secret file that cannot be used (the message names it, never quotes it).
    #[error("{0}")]
    Secret(crate::io::fsio::FileError),
    /// A setting that does not read (the message names it).
    #[error("{0}")]
    Invalid(String),
}

/// The whole file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub lake: LakeConfig,
    #[serde(default)]
    pub tables: SideTables,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub targets: Targets,
    #[serde(default)]
    pub nightly: NightlyConfig,
    #[serde(default)]
    pub evidence: EvidenceConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub jobs: JobsConfig,
    #[serde(default)]
    pub dsar: DsarConfig,
    /// Directory of the config file; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// A local directory or `s3://bucket/prefix`.
    pub location: Option<String>,
    /// `glue`: the tables are those of `database` in the AWS Glue Data Catalog, wherever
    /// their files are (instead of `location`).
    pub catalog: Option<String>,
    /// The catalog's database (`silver_private`).
    pub database: Option<String>,
    /// Identifier columns of tables not listed below.
    #[serde(default = "default_id_columns")]
    pub id_columns: Vec<String>,
    #[serde(default)]
    pub tables: Vec<TableConfig>,
    /// More names of side files that hold no rows, beside the known ones
    /// (`lake::DEFAULT_SIDE_FILES`): `*` within a name; with a `/`, a path below the table.
    #[serde(default)]
    pub side_files: Vec<String>,
    /// Match identifier column names exactly; by default case is ignored, as Glue, Athena,
    /// Trino, Spark and Hive do (`USER_ID` is `user_id`).
    #[serde(default)]
    pub exact_column_names: bool,
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig {
            location: None,
            catalog: None,
            database: None,
            id_columns: default_id_columns(),
            tables: vec![],
            side_files: vec![],
            exact_column_names: false,
        }
    }
}

fn default_id_columns() -> Vec<String> {
    vec!["user_id".to_string()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The table's name in reports; matches `data_retention_policy.dataset`.
    pub name: String,
    /// Path relative to the lake location (defaults to the name).
    pub path: Option<String>,
    pub id_columns: Option<Vec<String>>,
    /// `delta`, `iceberg` or `parquet`: what the table is, instead of what its directory
    /// looks like (a table configured as Delta or Iceberg without its metadata is an
    /// error; `parquet` reads the files as they are, without any table format).
    pub format: Option<String>,
    /// An Iceberg table's current metadata file, below the table's directory
    /// (`metadata/00003-....metadata.json`): what a catalog points at, read instead of the
    /// newest metadata file.
    pub metadata_location: Option<String>,
}

/// `vouch metrics jobs`: each dataset's refresh cycle (`orders = "24h"`: a number and `s`,
/// `m`, `h` or `d`), where the median gap between its scheduled runs would not do.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    #[serde(default)]
    pub cycles: std::collections::BTreeMap<String, String>,
}

impl JobsConfig {
    /// The cycles in seconds, or the one that does not read.
    pub fn cycle_seconds(&self) -> Result<std::collections::BTreeMap<String, f64>, ConfigError> {
        self.cycles
            .iter()
            .map(|(k, v)| {
                parse_cycle(v).map(|s| (k.clone(), s)).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "[jobs.cycles] {k} = {v:?}: expected a number and s, m, h or d (\"24h\")"
                    ))
                })
            })
            .collect()
    }
}

/// A jurisdiction's DSAR deadline: `months` and `days` after receipt (months first, the
/// day clamped to the target month's last), the extension's on top when a request is
/// extended, and the business days within which receipt must be confirmed (None: no such
/// rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DsarRule {
    pub months: i64,
    pub days: i64,
    pub extension_months: i64,
    pub extension_days: i64,
    pub receipt_business_days: Option<i64>,
}

/// The built-in rules: GDPR art. 12(3) (one month, two more when extended), CCPA (45 days,
/// once 45 more: 90 at most; receipt confirmed within 10 business days), LGPD (15 days).
pub fn builtin_dsar_rules() -> std::collections::BTreeMap<String, DsarRule> {
    std::collections::BTreeMap::from([
        (
            "gdpr".to_string(),
            DsarRule {
                months: 1,
                extension_months: 2,
                ..DsarRule::default()
            },
        ),
        (
            "ccpa".to_string(),
            DsarRule {
                days: 45,
                extension_days: 45,
                receipt_business_days: Some(10),
                ..DsarRule::default()
            },
        ),
        (
            "lgpd".to_string(),
            DsarRule {
                days: 15,
                ..DsarRule::default()
            },
        ),
    ])
}

/// `[dsar.jurisdictions.<name>]`: a rule replacing a built-in one or adding another.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsarConfig {
    #[serde(default)]
    pub jurisdictions: std::collections::BTreeMap<String, DsarRule>,
}

impl DsarConfig {
    /// The built-in rules with the configured ones over them, or the one that does not
    /// read (negative, no deadline at all, or more than 12 months with the extension).
    pub fn rules(&self) -> Result<std::collections::BTreeMap<String, DsarRule>, ConfigError> {
        let mut rules = builtin_dsar_rules();
        for (name, r) in &self.jurisdictions {
            let bad =
                |why: &str| ConfigError::Invalid(format!("[dsar.jurisdictions.{name}]: {why}"));
            if [r.months, r.days, r.extension_months, r.extension_days]
                .iter()
                .any(|v| *v < 0)
                || r.receipt_business_days.is_some_and(|d| d < 1)
            {
                return Err(bad("a negative or zero period"));
            }
            if r.months == 0 && r.days == 0 {
                return Err(bad("no deadline (months and days are both 0)"));
            }
            if r.months + r.extension_months > 12 {
                return Err(bad("more than 12 months with the extension"));
            }
            rules.insert(name.to_lowercase(), *r);
        }
        Ok(rules)
    }
}

/// A cycle as `[jobs.cycles]` writes it: a number and a unit, `s`, `m`, `h` or `d`
/// (`24h`, `7d`, `90m`), in seconds.
pub fn parse_cycle(text: &str) -> Option<f64> {
    let t = text.trim();
    let unit = match t.chars().last()? {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3_600.0,
        'd' => 86_400.0,
        _ => return None,
    };
    let n: f64 = t[..t.len() - 1].trim().parse().ok()?;
    (n.is_finite() && n > 0.0).then_some(n * unit)
}

/// Locations of the runbook's tables (Parquet or CSV).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideTables {
    pub data_retention_policy: Option<String>,
    pub dsar_request: Option<String>,
    pub dsar_audit_log: Option<String>,
    pub data_incident: Option<String>,
    pub governance_change_log: Option<String>,
    pub analytics_job_run: Option<String>,
    pub cost_anomaly: Option<String>,
}

/// `vouch nightly`: the verification window, the signing key, where access bundles are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NightlyConfig {
    /// Delete requests completed this many days before `--as-of` are verified.
    pub window_days: u32,
    /// OpenSSH Ed25519 key that signs certificates and evidence bundles.
    pub signing_key: Option<String>,
    /// Its passphrase, on the file's first line.
    pub signing_key_passphrase_file: Option<String>,
    /// Where access-request bundles are kept (`<request_id>.age`), local or S3, for the
    /// export integrity check.
    pub exports: Option<String>,
    /// Dates that are not business days (change reviews).
    pub holidays: Option<String>,
    /// A subject index directory: brought up to date, then used by the deletion check.
    pub index: Option<String>,
    /// Rule nothing out by Parquet min/max statistics or bloom filters (metadata no
    /// checksum covers): every identifier column chunk is read, dictionaries consumed
    /// exactly. Slower; certificates then rely on no such metadata.
    pub strict: bool,
    /// Days after a delete request's completion by which every physical copy (rows a
    /// deletion vector masks, removed files, change data, log statistics) must be gone; a
    /// copy that misses it makes the deletion check a violation. None: no deadline.
    pub physical_erasure_days: Option<u32>,
    /// Each night's report.json is kept here (`<as-of>.json`, written once, never
    /// rewritten), and report.html draws trends over the last `trend_nights` of them.
    pub history: Option<String>,
    pub trend_nights: usize,
    /// Words that make a new column name look like personal data (`email`, `phone`, ...):
    /// such a column needs a `high` or `regulatory` change.
    pub pii_patterns: Vec<String>,
}

impl Default for NightlyConfig {
    fn default() -> NightlyConfig {
        NightlyConfig {
            window_days: 30,
            signing_key: None,
            signing_key_passphrase_file: None,
            exports: None,
            holidays: None,
            index: None,
            strict: false,
            physical_erasure_days: None,
            history: None,
            trend_nights: 30,
            pii_patterns: [
                "email", "phone", "ssn", "address", "ip", "birth", "name", "passport", "iban",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// `vouch nightly`: the day's evidence bundle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Local directories or `s3://` prefixes to collect (none: no bundle).
    pub sources: Vec<String>,
    /// `s3://bucket/prefix` to upload the bundle to under Object Lock.
    pub upload: Option<String>,
    pub retention_years: u32,
    /// `compliance` or `governance`.
    pub retention_mode: String,
    pub legal_hold: bool,
    /// A day with no file in the sources is bagged (empty) instead of failing the check.
    pub allow_empty: bool,
}

impl Default for EvidenceConfig {
    fn default() -> EvidenceConfig {
        EvidenceConfig {
            sources: Vec::new(),
            upload: None,
            retention_years: 7,
            retention_mode: "compliance".into(),
            legal_hold: false,
            allow_empty: false,
        }
    }
}

/// `vouch nightly`: the Object Lock retention check of the evidence location.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// `s3://bucket/prefix` (none: no check).
    pub location: Option<String>,
    pub min_years: u32,
    pub allow_governance: bool,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            location: None,
            min_years: 7,
            allow_governance: false,
        }
    }
}

/// SLA targets of `vouch metrics --fail-on-breach` (rates in [0, 1]; default 1.0: every
/// incident, request and change within its SLA).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    pub ack_within_5m_rate: f64,
    pub postmortem_within_48h_rate: f64,
    pub on_time_rate: f64,
    pub reviewed_within_2bd_rate: f64,
}

impl Default for Targets {
    fn default() -> Targets {
        Targets {
            ack_within_5m_rate: 1.0,
            postmortem_within_48h_rate: 1.0,
            on_time_rate: 1.0,
            reviewed_within_2bd_rate: 1.0,
        }
    }
}

#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// The key for `hmac-sha256:` subject hashes (`VOUCH_SUBJECT_KEY` overrides it).
    pub subject_key: Option<String>,
    /// A file holding the key (first line), instead of `subject_key`; refused when group
    /// or others may read it.
    pub subject_key_file: Option<String>,
}

impl std::fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyConfig")
            .field(
                "subject_key",
                &self.subject_key.as_ref().map(|_| "<redacted>"),
            )
            .field("subject_key_file", &self.subject_key_file)
            .finish()
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = crate::io::fsio::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: shown.clone(),
            message: crate::io::store::io_message(&e),
        })?;
        let mut cfg = Config::parse(&text).map_err(|message| ConfigError::Malformed {
            path: shown,
            message,
        })?;
        cfg.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(cfg)
    }

    /// Parses config text; the error is one line saying where and what.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if !["compliance", "governance"].contains(&self.evidence.retention_mode.as_str()) {
            return Err(format!(
                "evidence.retention_mode = {:?}: expected \"compliance\" or \"governance\"",
                self.evidence.retention_mode
            ));
        }
        let t = &self.targets;
        for (name, v) in [
            ("ack_within_5m_rate", t.ack_within_5m_rate),
            ("postmortem_within_48h_rate", t.postmortem_within_48h_rate),
            ("on_time_rate", t.on_time_rate),
            ("reviewed_within_2bd_rate", t.reviewed_within_2bd_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("targets.{name} = {v}: a rate is between 0 and 1"));
            }
        }
        if self.lake.id_columns.is_empty() {
            return Err("lake.id_columns must name at least one column".into());
        }
        let mut names = std::collections::HashSet::new();
        for t in &self.lake.tables {
            if t.name.trim().is_empty() {
                return Err("a [[lake.tables]] entry has an empty name".into());
            }
            if let Some(f) = &t.format
                && !["delta", "iceberg", "parquet"].contains(&f.as_str())
            {
                return Err(format!(
                    "lake.tables {:?}: format = {f:?}: expected \"delta\", \"iceberg\" or \"parquet\"",
                    t.name
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(format!("table {} is listed twice", t.name));
            }
            if t.id_columns.as_ref().is_some_and(|c| c.is_empty()) {
                return Err(format!(
                    "table {}: id_columns must name at least one column",
                    t.name
                ));
            }
            let p = t.path.as_deref().unwrap_or(&t.name);
            if p.split('/').any(|s| s == "..") || p.starts_with('/') {
                return Err(format!(
                    "table {}: path must be relative to the lake and stay inside it",
                    t.name
                ));
            }
        }
        Ok(())
    }

    /// Resolves a path from the file against its directory (URIs are left alone).
    pub fn resolve(&self, p: &str) -> String {
        if p.contains("://") || Path::new(p).is_absolute() {
            p.to_string()
        } else {
            self.base_dir.join(p).display().to_string()
        }
    }

    /// The subject key: `VOUCH_SUBJECT_KEY` from `env`, else the config.
    /// Zeroed when dropped.
    pub fn subject_key(
        &self,
        env: Option<String>,
    ) -> Result<Option<crate::io::secret::SecretBytes>, ConfigError> {
        use crate::io::secret::{SecretBytes, Zeroizing};
        if let Some(k) = env.map(Zeroizing::new).filter(|k| !k.is_empty()) {
            return Ok(Some(SecretBytes::new(k.as_bytes().to_vec())));
        }
        if let Some(k) = &self.privacy.subject_key {
            return Ok(Some(SecretBytes::new(k.as_bytes().to_vec())));
        }
        if let Some(f) = &self.privacy.subject_key_file {
            let path = PathBuf::from(self.resolve(f));
            let line = crate::io::secret::read_first_line(&path, "subject key")
                .map_err(ConfigError::Secret)?;
            return Ok(Some(SecretBytes::new(line.trim_ascii().to_vec())));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_example_parses() {
        let cfg = Config::parse(include_str!("../../examples/vouch.toml")).unwrap();
        assert_eq!(cfg.nightly.window_days, 30);
        assert_eq!(cfg.evidence.sources.len(), 2);
        assert_eq!(cfg.retention.min_years, 7);
        assert_eq!(cfg.targets.on_time_rate, 1.0);
        assert!(Config::parse("[targets]\non_time_rate = 1.5\n").is_err());
        assert!(Config::parse("[evidence]\nretention_mode = \"loose\"\n").is_err());
    }

    #[test]
    fn the_spec_example_parses() {
        let cfg = Config::parse(
            r#"
[lake]
location = "s3://analytics/silver_private"   # or a local directory
id_columns = ["user_id"]                      # default for tables not listed

[[lake.tables]]
name = "payments"          # the table's name in reports
path = "payments"          # relative to location
id_columns = ["buyer_id"]
"#,
        )
        .unwrap();
        assert_eq!(
            cfg.lake.location.as_deref(),
            Some("s3://analytics/silver_private")
        );
        assert_eq!(
            cfg.lake.tables[0].id_columns.as_deref(),
            Some(&["buyer_id".to_string()][..])
        );
    }

    #[test]
    fn mistakes_are_reported_with_a_line() {
        let err = Config::parse("[lake]\nid_column = [\"x\"]\n").unwrap_err();
        assert!(
            err.starts_with("line 2: unknown field `id_column`"),
            "{err}"
        );
        let err = Config::parse("[lake\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err = Config::parse("[[lake.tables]]\nname = \"a\"\n[[lake.tables]]\nname = \"a\"\n")
            .unwrap_err();
        assert_eq!(err, "table a is listed twice");
        let err = Config::parse("[[lake.tables]]\nname = \"a\"\npath = \"../x\"\n").unwrap_err();
        assert!(err.contains("stay inside"), "{err}");
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let cfg = Config::parse("").unwrap();
        assert_eq!(cfg.lake.id_columns, vec!["user_id"]);
    }
}

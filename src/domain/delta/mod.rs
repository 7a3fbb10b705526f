//! Delta Lake tables: what the transaction log says each file under the table is.
//!
//! A table directory holding `_delta_log/` is a Delta table. Its state is replayed from
//! the log as the protocol (delta-io/delta `PROTOCOL.md`) defines it: the newest complete
//! checkpoint (classic single- or multi-part Parquet; v2 checkpoints in JSON or Parquet,
//! with their sidecars), then every commit after it in order. A logical file is
//! (path, deletion vector); an `add` makes it part of the table, a `remove` takes it out
//! and leaves a tombstone. From the replayed state each physical file gets its
//! [`Role`]:
//! - `Live`: in the current version, with the deletion vector (if any) that masks rows;
//! - `Retained`: removed, but its tombstone keeps it until `VACUUM` may delete it
//!   (`deletionTimestamp` + `delta.deletedFileRetentionDuration`);
//! - `Unreferenced`: under the table but in no version the log still describes.
//!
//! Nothing here is trusted that could make a row disappear: a log with a gap, a version
//! with no commit and no checkpoint, a reader feature vouch does not know, a checkpoint
//! that does not parse, an active file missing from storage: each is an error naming the
//! file, and the table is then `incomplete`.

pub mod dv;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::io::store::{ObjectMeta, Store};

/// Why a Delta table's log cannot be used, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct DeltaError {
    pub file: String,
    pub problem: String,
}

impl DeltaError {
    pub fn new(file: impl Into<String>, problem: impl Into<String>) -> DeltaError {
        DeltaError {
            file: file.into(),
            problem: problem.into(),
        }
    }
}

/// Reader features whose meaning vouch applies (or that change nothing it reads). A
/// table needing any other feature is refused: its rows could be read differently.
const KNOWN_READER_FEATURES: &[&str] = &[
    "deletionVectors",
    "columnMapping",
    "timestampNtz",
    "v2Checkpoint",
    "vacuumProtocolCheck",
    "typeWidening",
    "typeWidening-preview",
    "variantType",
    "variantType-preview",
    "variantShredding-preview",
    "catalogManaged",
    "catalogOwned-preview",
];

/// `add` as the log writes it (fields vouch uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    pub path: String,
    #[serde(default)]
    pub partition_values: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub modification_time: i64,
    #[serde(default)]
    pub deletion_vector: Option<dv::Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remove {
    path: String,
    #[serde(default)]
    deletion_timestamp: Option<i64>,
    /// Written with `extendedFileMetadata`.
    #[serde(default)]
    partition_values: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    deletion_vector: Option<dv::Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaData {
    schema_string: String,
    #[serde(default)]
    partition_columns: Vec<String>,
    #[serde(default)]
    configuration: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Protocol {
    min_reader_version: i64,
    #[serde(default)]
    reader_features: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Cdc {
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sidecar {
    path: String,
}

/// One line of a commit or checkpoint: at most one action of the kinds vouch reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Action {
    add: Option<Add>,
    remove: Option<Remove>,
    meta_data: Option<MetaData>,
    protocol: Option<Protocol>,
    cdc: Option<Cdc>,
    sidecar: Option<Sidecar>,
}

/// The log's files, by version.
#[derive(Debug, Default)]
struct LogFiles {
    commits: BTreeMap<u64, ObjectMeta>,
    /// Classic checkpoints: version -> parts (part number -> file), and the part count.
    classic: BTreeMap<u64, (u32, BTreeMap<u32, ObjectMeta>)>,
    /// v2 checkpoints (`N.checkpoint.UUID.json|parquet`).
    v2: BTreeMap<u64, ObjectMeta>,
}

/// What a Delta table is at its newest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub version: u64,
    /// The oldest version whose state the log still describes (time travel).
    pub oldest_version: u64,
    /// Live logical files by path (relative to the table, decoded).
    pub live: BTreeMap<String, Add>,
    /// Removed paths not live now: the newest `deletionTimestamp` (ms) of their tombstones
    /// (None: the writer recorded none).
    pub tombstones: BTreeMap<String, Option<i64>>,
    /// Change data files (`cdc` actions) the log still names.
    pub cdc: BTreeSet<String>,
    /// Partition values of removed files, as their removes recorded them.
    pub removed_partitions: BTreeMap<String, BTreeMap<String, Option<String>>>,
    pub partition_columns: Vec<String>,
    pub configuration: BTreeMap<String, String>,
    /// Logical column path -> physical column path (column mapping); identity without it.
    pub physical_names: BTreeMap<String, String>,
    /// `delta.columnMapping.mode`: none, name or id.
    pub column_mapping: String,
    /// The schema's top-level column names (logical).
    pub columns: Vec<String>,
}

/// Default of `delta.deletedFileRetentionDuration`: `VACUUM` keeps removed files a week.
pub const DEFAULT_DELETED_FILE_RETENTION_MS: i64 = 7 * 86_400_000;
/// Default of `delta.logRetentionDuration`.
pub const DEFAULT_LOG_RETENTION_MS: i64 = 30 * 86_400_000;

impl Snapshot {
    /// `delta.deletedFileRetentionDuration` in milliseconds.
    pub fn deleted_file_retention_ms(&self) -> Result<i64, String> {
        match self.configuration.get("delta.deletedFileRetentionDuration") {
            None => Ok(DEFAULT_DELETED_FILE_RETENTION_MS),
            Some(v) => parse_interval_ms(v),
        }
    }

    /// `delta.logRetentionDuration` in milliseconds.
    pub fn log_retention_ms(&self) -> Result<i64, String> {
        match self.configuration.get("delta.logRetentionDuration") {
            None => Ok(DEFAULT_LOG_RETENTION_MS),
            Some(v) => parse_interval_ms(v),
        }
    }

    /// The physical column path that holds a logical column (`a.b` paths).
    pub fn physical_column(&self, logical: &str) -> String {
        let key = logical.to_lowercase();
        self.physical_names
            .iter()
            .find(|(l, _)| l.to_lowercase() == key)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| logical.to_string())
    }
}

/// A Spark interval (`interval 7 days`, `interval 1 week`, `168 hours`) in milliseconds.
pub fn parse_interval_ms(text: &str) -> Result<i64, String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "interval")
        .collect();
    let bad = || format!("{text:?} is not an interval (such as \"interval 7 days\")");
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut total: i64 = 0;
    for pair in words.chunks(2) {
        let n: i64 = pair[0].parse().map_err(|_| bad())?;
        let unit: i64 = match pair[1].trim_end_matches('s') {
            "week" => 7 * 86_400_000,
            "day" => 86_400_000,
            "hour" => 3_600_000,
            "minute" => 60_000,
            "second" => 1_000,
            "millisecond" => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// A log path (URI-encoded, relative to the table) as a `/` path below the table, or
/// None when it is absolute or leaves the table.
pub fn relative_path(encoded: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()?
        .to_string();
    if decoded.contains("://") || decoded.starts_with('/') || decoded.starts_with("file:") {
        return None;
    }
    let ok = decoded
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..");
    ok.then_some(decoded)
}

/// The table's Delta log replayed, or None when `table` (a directory below the store
/// root) holds no `_delta_log/`.
pub fn open(store: &dyn Store, table: &str) -> Option<Result<Snapshot, DeltaError>> {
    open_listed(store, table, store.list_if_present(&log_dir(table)))
}

/// [`open`] with the table's `_delta_log/` already listed ([`Store::list_if_present`] of
/// [`log_dir`]).
pub fn open_listed(
    store: &dyn Store,
    table: &str,
    listing: crate::io::store::Listing,
) -> Option<Result<Snapshot, DeltaError>> {
    let dir = log_dir(table);
    if listing.objects.is_empty() && listing.errors.is_empty() {
        return None;
    }
    Some(snapshot_of(store, &dir, listing))
}

/// A table's `_delta_log/` directory.
pub fn log_dir(table: &str) -> String {
    if table.is_empty() {
        "_delta_log".into()
    } else {
        format!("{table}/_delta_log")
    }
}

/// Reads a whole listed object.
fn read_all(store: &dyn Store, o: &ObjectMeta, limit: u64) -> Result<Vec<u8>, DeltaError> {
    crate::io::store::read_whole(store, o, limit, "log files")
        .map_err(|e| DeltaError::new(e.path, e.message))
}

/// Log files (commits, checkpoints) are read whole; this caps each.
pub const MAX_LOG_FILE_BYTES: u64 = 1 << 30;

fn classify(objects: Vec<ObjectMeta>, dir: &str) -> Result<LogFiles, DeltaError> {
    let mut out = LogFiles::default();
    for o in objects {
        let name = o
            .path
            .strip_prefix(dir)
            .unwrap_or(&o.path)
            .trim_start_matches('/')
            .to_string();
        if name.contains('/') {
            continue; // _sidecars/, _staged_commits/: read when named
        }
        let Some((digits, rest)) = name.split_once('.') else {
            continue;
        };
        let Ok(version) = digits.parse::<u64>() else {
            continue;
        };
        if digits.len() != 20 {
            continue;
        }
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.as_slice() {
            ["json"] => {
                out.commits.insert(version, o);
            }
            ["checkpoint", "parquet"] => {
                out.classic
                    .entry(version)
                    .or_insert((1, BTreeMap::new()))
                    .1
                    .insert(1, o);
            }
            ["checkpoint", part, of, "parquet"] => {
                let (Ok(part), Ok(of)) = (part.parse::<u32>(), of.parse::<u32>()) else {
                    continue;
                };
                let e = out.classic.entry(version).or_insert((of, BTreeMap::new()));
                if e.0 != of {
                    return Err(DeltaError::new(
                        &o.path,
                        "checkpoint parts disagree on their number",
                    ));
                }
                e.1.insert(part, o);
            }
            ["checkpoint", _uuid, "json" | "parquet"] => {
                out.v2.insert(version, o);
            }
            _ => {} // .crc, compacted logs and the like: optional
        }
    }
    Ok(out)
}

/// Parses JSON lines of actions.
fn json_actions(bytes: &[u8], file: &str) -> Result<Vec<Action>, DeltaError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DeltaError::new(file, "not UTF-8"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let a: Action = serde_json::from_str(line).map_err(|e| {
            DeltaError::new(file, format!("line {}: not a Delta action: {e}", i + 1))
        })?;
        out.push(a);
    }
    Ok(out)
}

/// The actions of a Parquet checkpoint (or sidecar), through arrow's JSON writer so that
/// one parser reads both forms.
fn parquet_actions(bytes: Vec<u8>, file: &str) -> Result<Vec<Action>, DeltaError> {
    parquet_rows(bytes, file)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            serde_json::from_value(row).map_err(|e| {
                DeltaError::new(file, format!("row {}: not a Delta action: {e}", i + 1))
            })
        })
        .collect()
}

/// Reads the table's log and replays it to its newest version.
pub fn snapshot(store: &dyn Store, table: &str) -> Result<Snapshot, DeltaError> {
    let dir = log_dir(table);
    let listing = store.list(&dir);
    snapshot_of(store, &dir, listing)
}

fn snapshot_of(
    store: &dyn Store,
    dir: &str,
    listing: crate::io::store::Listing,
) -> Result<Snapshot, DeltaError> {
    let dir = dir.to_string();
    if let Some(e) = listing.errors.first() {
        return Err(DeltaError::new(&e.path, e.message.clone()));
    }
    let files = classify(listing.objects, &dir)?;
    let newest_commit = files.commits.keys().next_back().copied();
    // Complete checkpoints, newest first.
    let mut checkpoints: Vec<u64> = files
        .classic
        .iter()
        .filter(|(_, (of, parts))| {
            parts.len() as u32 == *of && (1..=*of).all(|p| parts.contains_key(&p))
        })
        .map(|(v, _)| *v)
        .chain(files.v2.keys().copied())
        .collect();
    checkpoints.sort_unstable();
    checkpoints.dedup();
    let checkpoint = checkpoints.last().copied();
    let version = match (newest_commit, checkpoint) {
        (Some(c), Some(k)) => c.max(k),
        (Some(c), None) => c,
        (None, Some(k)) => k,
        (None, None) => {
            return Err(DeltaError::new(
                &dir,
                "a Delta log with no commit and no checkpoint",
            ));
        }
    };
    let mut state = Replay::default();
    let start = match checkpoint {
        Some(k) => {
            state.apply_checkpoint(store, &files, k, &dir)?;
            k + 1
        }
        None => 0,
    };
    for v in start..=version {
        let Some(o) = files.commits.get(&v) else {
            return Err(DeltaError::new(
                &dir,
                if checkpoint.is_none() && v == 0 {
                    format!(
                        "the log starts at version {} with no checkpoint: the table's \
                         state cannot be replayed",
                        files.commits.keys().next().copied().unwrap_or(0)
                    )
                } else {
                    format!("version {v} is missing from the log (a gap before version {version})")
                },
            ));
        };
        let actions = json_actions(&read_all(store, o, MAX_LOG_FILE_BYTES)?, &o.path)?;
        state.apply(actions, &o.path)?;
    }
    // Versions before the first checkpoint are readable only if every commit from 0 is.
    let oldest = if files.commits.contains_key(&0) {
        0
    } else {
        checkpoints.first().copied().unwrap_or(version)
    };
    state.finish(version, oldest, &dir)
}

/// The actions of the sidecar files a checkpoint names (`_delta_log/_sidecars/`).
fn sidecar_actions(
    store: &dyn Store,
    dir: &str,
    top: &[Action],
    checkpoint: &str,
) -> Result<Vec<Action>, DeltaError> {
    let named: Vec<&str> = top
        .iter()
        .filter_map(|a| a.sidecar.as_ref().map(|s| s.path.as_str()))
        .collect();
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let listing = store.list_if_present(&format!("{dir}/_sidecars"));
    if let Some(e) = listing.errors.first() {
        return Err(DeltaError::new(&e.path, e.message.clone()));
    }
    let mut out = Vec::new();
    for s in named {
        let name = relative_path(s)
            .filter(|n| !n.contains('/'))
            .ok_or_else(|| {
                DeltaError::new(checkpoint, format!("sidecar path {s:?} leaves _sidecars/"))
            })?;
        let want = format!("{dir}/_sidecars/{name}");
        let found = listing
            .objects
            .iter()
            .find(|x| x.path == want)
            .ok_or_else(|| DeltaError::new(checkpoint, format!("its sidecar {want} is missing")))?;
        let actions = parquet_actions(read_all(store, found, MAX_LOG_FILE_BYTES)?, &found.path)?;
        if actions.iter().any(|a| a.sidecar.is_some()) {
            return Err(DeltaError::new(
                &found.path,
                "a sidecar that names sidecars",
            ));
        }
        out.extend(actions);
    }
    Ok(out)
}

#[derive(Default)]
struct Replay {
    /// (path, deletion vector id) -> add.
    live: BTreeMap<(String, String), Add>,
    /// (path, deletion vector id) -> deletion timestamp.
    removed: BTreeMap<(String, String), Option<i64>>,
    cdc: BTreeSet<String>,
    /// path -> the partition values its remove recorded.
    removed_partitions: BTreeMap<String, BTreeMap<String, Option<String>>>,
    meta: Option<MetaData>,
    protocol: Option<Protocol>,
}

impl Replay {
    fn apply_checkpoint(
        &mut self,
        store: &dyn Store,
        files: &LogFiles,
        version: u64,
        dir: &str,
    ) -> Result<(), DeltaError> {
        let mut actions = Vec::new();
        let mut names = Vec::new();
        let mut read = |o: &ObjectMeta| -> Result<(), DeltaError> {
            let bytes = read_all(store, o, MAX_LOG_FILE_BYTES)?;
            let top = if o.path.ends_with(".json") {
                json_actions(&bytes, &o.path)?
            } else {
                parquet_actions(bytes, &o.path)?
            };
            // A checkpoint of either name may be a v2 checkpoint whose file actions are
            // in sidecars: without them the table would look empty.
            let sidecars = sidecar_actions(store, dir, &top, &o.path)?;
            actions.extend(top);
            actions.extend(sidecars);
            names.push(o.path.clone());
            Ok(())
        };
        if let Some((_, parts)) = files.classic.get(&version) {
            for o in parts.values() {
                read(o)?;
            }
        } else if let Some(o) = files.v2.get(&version) {
            read(o)?;
        }
        let name = names.join(", ");
        self.apply(actions, &name)
    }

    fn apply(&mut self, actions: Vec<Action>, file: &str) -> Result<(), DeltaError> {
        for a in actions {
            if let Some(add) = a.add {
                let path = relative_path(&add.path).ok_or_else(|| {
                    DeltaError::new(
                        file,
                        format!(
                            "add of {:?}: a path outside the table (absolute paths and shallow \
                             clones are not supported)",
                            add.path
                        ),
                    )
                })?;
                let id = add
                    .deletion_vector
                    .as_ref()
                    .map(dv::Descriptor::unique_id)
                    .unwrap_or_default();
                self.removed.remove(&(path.clone(), id.clone()));
                self.live.insert((path.clone(), id), Add { path, ..add });
            }
            if let Some(r) = a.remove {
                let path = relative_path(&r.path).ok_or_else(|| {
                    DeltaError::new(
                        file,
                        format!("remove of {:?}: a path outside the table", r.path),
                    )
                })?;
                let id = r
                    .deletion_vector
                    .as_ref()
                    .map(dv::Descriptor::unique_id)
                    .unwrap_or_default();
                self.live.remove(&(path.clone(), id.clone()));
                if let Some(v) = r.partition_values {
                    self.removed_partitions.insert(path.clone(), v);
                }
                let e = self
                    .removed
                    .entry((path, id))
                    .or_insert(r.deletion_timestamp);
                *e = (*e).max(r.deletion_timestamp);
            }
            if let Some(p) = a.cdc.and_then(|c| relative_path(&c.path)) {
                self.cdc.insert(p);
            }
            if let Some(m) = a.meta_data {
                self.meta = Some(m);
            }
            if let Some(p) = a.protocol {
                self.protocol = Some(p);
            }
        }
        Ok(())
    }

    fn finish(self, version: u64, oldest: u64, dir: &str) -> Result<Snapshot, DeltaError> {
        let protocol = self
            .protocol
            .ok_or_else(|| DeltaError::new(dir, "the log has no protocol action"))?;
        if protocol.min_reader_version > 3 {
            return Err(DeltaError::new(
                dir,
                format!(
                    "reader version {} is not supported (vouch reads up to 3)",
                    protocol.min_reader_version
                ),
            ));
        }
        if let Some(f) = protocol
            .reader_features
            .iter()
            .flatten()
            .find(|f| !KNOWN_READER_FEATURES.contains(&f.as_str()))
        {
            return Err(DeltaError::new(
                dir,
                format!(
                    "reader feature {f:?} is not supported: the table's rows could read \
                     differently than vouch reads them"
                ),
            ));
        }
        let meta = self
            .meta
            .ok_or_else(|| DeltaError::new(dir, "the log has no metaData action"))?;
        let configuration: BTreeMap<String, String> = meta
            .configuration
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let column_mapping = configuration
            .get("delta.columnMapping.mode")
            .cloned()
            .unwrap_or_else(|| "none".into());
        let schema: serde_json::Value = serde_json::from_str(&meta.schema_string)
            .map_err(|e| DeltaError::new(dir, format!("metaData.schemaString: {e}")))?;
        let mut physical_names = BTreeMap::new();
        if column_mapping != "none" {
            physical_paths(&schema, "", "", &mut physical_names);
        }
        let columns: Vec<String> = schema
            .get("fields")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("name").and_then(|n| n.as_str()).map(String::from))
            .collect();
        let mut live = BTreeMap::new();
        for ((path, _), add) in self.live {
            if live.insert(path.clone(), add).is_some() {
                return Err(DeltaError::new(
                    dir,
                    format!("{path} is live twice, with two deletion vectors"),
                ));
            }
        }
        let mut tombstones: BTreeMap<String, Option<i64>> = BTreeMap::new();
        for ((path, _), at) in self.removed {
            if !live.contains_key(&path) {
                let e = tombstones.entry(path).or_insert(at);
                *e = (*e).max(at);
            }
        }
        Ok(Snapshot {
            version,
            oldest_version: oldest,
            live,
            tombstones,
            cdc: self.cdc,
            removed_partitions: self.removed_partitions,
            partition_columns: meta.partition_columns,
            configuration,
            physical_names,
            column_mapping,
            columns,
        })
    }
}

/// Logical -> physical paths of every (nested) struct field of a Delta schema.
fn physical_paths(
    t: &serde_json::Value,
    logical: &str,
    physical: &str,
    out: &mut BTreeMap<String, String>,
) {
    let Some(fields) = t.get("fields").and_then(|f| f.as_array()) else {
        return;
    };
    for f in fields {
        let Some(name) = f.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let phys = f
            .pointer("/metadata/delta.columnMapping.physicalName")
            .and_then(|p| p.as_str())
            .unwrap_or(name);
        let (l, p) = if logical.is_empty() {
            (name.to_string(), phys.to_string())
        } else {
            (format!("{logical}.{name}"), format!("{physical}.{phys}"))
        };
        out.insert(l.clone(), p.clone());
        if let Some(inner) = f.get("type").filter(|t| t.is_object()) {
            physical_paths(inner, &l, &p, out);
        }
    }
}

/// Calls `visit(log file, value)` for every `minValues` / `maxValues` value of the given
/// physical columns (`a.b` paths) in the file statistics the log holds — the `stats` (and
/// `stats_parsed`) of every `add` and `remove` in every commit, checkpoint, sidecar and
/// `.crc` file still in `_delta_log/` — and for their partition values of those columns. Values are given as text: strings as they are,
/// integers in decimal. These are copies of identifier values that outlive the rows:
/// kept until the log entries expire.
pub fn visit_stats(
    store: &dyn Store,
    table: &str,
    columns: &[String],
    visit: &mut dyn FnMut(&ObjectMeta, &str),
) -> Result<(), DeltaError> {
    let dir = log_dir(table);
    let mut objects = store.list_if_present(&dir);
    let sidecars = store.list_if_present(&format!("{dir}/_sidecars"));
    if let Some(e) = objects.errors.first().or(sidecars.errors.first()) {
        return Err(DeltaError::new(&e.path, e.message.clone()));
    }
    objects.objects.extend(sidecars.objects);
    for o in &objects.objects {
        let name = o.path.rsplit('/').next().unwrap_or(&o.path);
        let lines: Vec<serde_json::Value> = if name.ends_with(".json") {
            let bytes = read_all(store, o, MAX_LOG_FILE_BYTES)?;
            let text =
                std::str::from_utf8(&bytes).map_err(|_| DeltaError::new(&o.path, "not UTF-8"))?;
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str(l)
                        .map_err(|e| DeltaError::new(&o.path, format!("not JSON lines: {e}")))
                })
                .collect::<Result<_, _>>()?
        } else if name.ends_with(".parquet") {
            parquet_rows(read_all(store, o, MAX_LOG_FILE_BYTES)?, &o.path)?
        } else if name.ends_with(".crc") {
            // A checksum file may list every file of its version, stats included.
            let bytes = read_all(store, o, MAX_LOG_FILE_BYTES)?;
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) => v
                    .get("allFiles")
                    .and_then(|a| a.as_array())
                    .map(|a| a.iter().map(|f| serde_json::json!({ "add": f })).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(), // not JSON: it holds no stats to read
            }
        } else {
            continue;
        };
        for line in &lines {
            for kind in ["add", "remove"] {
                let Some(action) = line.get(kind) else {
                    continue;
                };
                // A table partitioned by an identifier column keeps the ID in every
                // action's partition values.
                if let Some(values) = action.get("partitionValues").and_then(|v| v.as_object()) {
                    for (k, v) in values {
                        if let Some(t) = v.as_str()
                            && !t.is_empty()
                            && columns.iter().any(|c| c.eq_ignore_ascii_case(k))
                        {
                            visit(o, t);
                        }
                    }
                }
                let parsed = match action.get("stats").and_then(|s| s.as_str()) {
                    Some(text) => serde_json::from_str::<serde_json::Value>(text).ok(),
                    None => None,
                };
                for stats in parsed.iter().chain(action.get("stats_parsed")) {
                    for bound in ["minValues", "maxValues"] {
                        for c in columns {
                            let mut v = stats.get(bound);
                            for part in c.split('.') {
                                v = v.and_then(|x| x.get(part));
                            }
                            match v {
                                Some(serde_json::Value::String(t)) => visit(o, t),
                                Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => {
                                    visit(o, &n.to_string())
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The rows of a Parquet log file as JSON objects (arrow's JSON writer).
fn parquet_rows(bytes: Vec<u8>, file: &str) -> Result<Vec<serde_json::Value>, DeltaError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let at = |e: String| DeltaError::new(file, format!("checkpoint does not read: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| at(e.to_string()))?
        .with_batch_size(4096)
        .build()
        .map_err(|e| at(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| at(e.to_string()))?;
        let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
        w.write(&batch).map_err(|e| at(e.to_string()))?;
        w.finish().map_err(|e| at(e.to_string()))?;
        for line in w.into_inner().split(|&b| b == b'\n') {
            if !line.is_empty() {
                out.push(serde_json::from_slice(line).map_err(|e| at(e.to_string()))?);
            }
        }
    }
    Ok(out)
}

/// A Delta table as listed: its snapshot, and the side files its roles need.
#[derive(Debug, Clone)]
pub struct DeltaView {
    pub snapshot: Snapshot,
    /// The table's directory below the store root.
    pub table_path: String,
    /// Deletion vector files, by path below the store root.
    pub dv_files: BTreeMap<String, ObjectMeta>,
    /// Files listed under `_change_data/` (paths below the store root).
    pub change_data: BTreeSet<String>,
}

/// What the log makes of one physical file under the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role<'a> {
    /// In the current version; rows the deletion vector names are masked.
    Live(Option<&'a dv::Descriptor>),
    /// Removed; kept until `VACUUM` may delete it (the newest tombstone's time, ms).
    Retained(Option<i64>),
    /// A change data file (`_change_data/`): the rows a change wrote, readable through
    /// the change data feed until `VACUUM` deletes it.
    ChangeData,
    /// Under the table but in no version the log describes.
    Unreferenced,
}

impl DeltaView {
    fn below<'p>(&self, path: &'p str) -> &'p str {
        path.strip_prefix(&self.table_path)
            .unwrap_or(path)
            .trim_start_matches('/')
    }

    /// The role of a listed file (its path below the store root).
    pub fn role(&self, path: &str) -> Role<'_> {
        if self.change_data.contains(path) {
            return Role::ChangeData;
        }
        let rel = self.below(path);
        if let Some(add) = self.snapshot.live.get(rel) {
            return Role::Live(add.deletion_vector.as_ref());
        }
        if let Some(at) = self.snapshot.tombstones.get(rel) {
            return Role::Retained(*at);
        }
        Role::Unreferenced
    }

    /// Live files of the log that the listing does not hold: rows vouch cannot check.
    pub fn missing(&self, listed: &[ObjectMeta]) -> Vec<crate::io::store::StoreError> {
        let have: BTreeSet<&str> = listed.iter().map(|o| self.below(&o.path)).collect();
        self.snapshot
            .live
            .keys()
            .filter(|p| !have.contains(p.as_str()))
            .map(|p| {
                crate::io::store::StoreError::new(
                    self.join(p),
                    format!(
                        "version {} of the Delta log names this file, and storage does not \
                         hold it: its rows were not checked",
                        self.snapshot.version
                    ),
                )
            })
            .collect()
    }

    /// `path` (below the table) below the store root.
    pub fn join(&self, path: &str) -> String {
        if self.table_path.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.table_path)
        }
    }

    /// The row positions a deletion vector masks.
    pub fn mask(
        &self,
        store: &dyn Store,
        d: &dv::Descriptor,
    ) -> Result<roaring::RoaringTreemap, String> {
        let bitmap = match d.location()? {
            dv::Location::Inline(bytes) => bytes,
            dv::Location::File { path, offset } => {
                let full = self.join(&path);
                let o = self
                    .dv_files
                    .get(&full)
                    .ok_or_else(|| format!("its deletion vector {full} is not in storage"))?;
                let len = d.size_in_bytes as u64 + 8;
                if offset.checked_add(len).is_none_or(|end| end > o.size) {
                    return Err(format!(
                        "its deletion vector lies past the end of {full} ({} bytes)",
                        o.size
                    ));
                }
                let r = store.open(o).map_err(|e| e.to_string())?;
                let mut buf = Vec::new();
                r.read_into(offset, len, &mut buf)
                    .map_err(|e| e.to_string())?;
                dv::unwrap_stored(&buf, d.size_in_bytes as usize)
                    .map_err(|e| format!("{full}: {e}"))?
                    .to_vec()
            }
        };
        dv::decode(&bitmap, d.cardinality)
    }
}

pub use crate::domain::copies::CopyPlace;

impl DeltaView {
    /// Where a log file's copies of identifier values are (`modified`: the log file's
    /// modification time, seconds): kept for `delta.logRetentionDuration` after it, and
    /// removed by log cleanup once a newer checkpoint exists.
    pub fn log_copy_place(&self, modified: Option<i64>, table: &str) -> CopyPlace {
        let retention = self.snapshot.log_retention_ms().ok();
        let when = modified
            .map(|s| s.saturating_mul(1000))
            .and_then(|ms| ms.checked_add(retention?));
        let days = retention.map_or("the table's log retention".to_string(), |r| {
            format!("{} days", r / 86_400_000)
        });
        CopyPlace {
            layer: crate::domain::copies::Layer::DeletedRetained,
            kind: "log_stats".into(),
            removable_after_ms: when,
            way_out: format!(
                "log cleanup deletes this log file once it is older than {days} \
                 (delta.logRetentionDuration) and a newer checkpoint exists: write one with \
                 a commit to {table}{}",
                when.map(|ms| format!(
                    ", on or after {}",
                    crate::io::encode::rfc3339(ms.div_euclid(1000))
                ))
                .unwrap_or_default()
            ),
        }
    }

    /// The place of copies in a file of this role (`modified`: the file's modification
    /// time, seconds), or None for rows every reader sees. `masked`: the rows a deletion
    /// vector masks in a live file.
    pub fn copy_place(
        &self,
        role: Role<'_>,
        masked: bool,
        modified: Option<i64>,
        table: &str,
    ) -> Option<CopyPlace> {
        use crate::domain::copies::Layer;
        let retention = self.snapshot.deleted_file_retention_ms().ok();
        let after = |from_ms: Option<i64>| from_ms?.checked_add(retention?);
        let hours = retention.map_or("the table's retention".to_string(), |r| {
            format!("{} hours", r / 3_600_000)
        });
        let vacuum_on = |at: Option<i64>| match at {
            Some(ms) => format!(
                "VACUUM {table} on or after {}",
                crate::io::encode::rfc3339(ms.div_euclid(1000))
            ),
            None => format!("VACUUM {table} once {hours} have passed"),
        };
        let place = match role {
            Role::Live(_) if masked => CopyPlace {
                layer: Layer::DeletedRetained,
                kind: "masked_rows".into(),
                removable_after_ms: None,
                way_out: format!(
                    "REORG TABLE {table} APPLY (PURGE), then VACUUM {table} once {hours} have \
                     passed"
                ),
            },
            Role::Live(_) => return None,
            Role::Retained(at) => {
                let when = after(at);
                CopyPlace {
                    layer: Layer::DeletedRetained,
                    kind: "removed_file".into(),
                    removable_after_ms: when,
                    way_out: vacuum_on(when),
                }
            }
            Role::ChangeData => {
                let when = after(modified.map(|s| s.saturating_mul(1000)));
                CopyPlace {
                    layer: Layer::DeletedRetained,
                    kind: "change_data".into(),
                    removable_after_ms: when,
                    way_out: vacuum_on(when),
                }
            }
            Role::Unreferenced => {
                let when = after(modified.map(|s| s.saturating_mul(1000)));
                CopyPlace {
                    layer: Layer::Unreferenced,
                    kind: "unreferenced_file".into(),
                    removable_after_ms: when,
                    way_out: vacuum_on(when),
                }
            }
        };
        Some(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_spark_writes_them() {
        assert_eq!(parse_interval_ms("interval 1 week"), Ok(7 * 86_400_000));
        assert_eq!(parse_interval_ms("interval 7 days"), Ok(7 * 86_400_000));
        assert_eq!(parse_interval_ms("INTERVAL 2 hours"), Ok(7_200_000));
        assert_eq!(
            parse_interval_ms("interval 1 day 12 hours"),
            Ok(129_600_000)
        );
        for bad in [
            "",
            "interval",
            "7 fortnights",
            "interval x days",
            "interval 1",
        ] {
            assert!(parse_interval_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_paths_stay_in_the_table() {
        assert_eq!(
            relative_path("a%20b/c.parquet").as_deref(),
            Some("a b/c.parquet")
        );
        assert_eq!(
            relative_path("dt=2026-01-01/x.parquet").as_deref(),
            Some("dt=2026-01-01/x.parquet")
        );
        for bad in [
            "/abs/x",
            "s3://b/x",
            "file:/x",
            "../x",
            "a/../../x",
            "a//b",
            "%2e%2e/x",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn column_mapping_names_nested_fields() {
        let schema: serde_json::Value = serde_json::from_str(
            r#"{"type":"struct","fields":[
                {"name":"user_id","type":"string","metadata":{"delta.columnMapping.physicalName":"col-1"}},
                {"name":"a","type":{"type":"struct","fields":[
                    {"name":"b","type":"long","metadata":{"delta.columnMapping.physicalName":"col-3"}}]},
                 "metadata":{"delta.columnMapping.physicalName":"col-2"}}]}"#,
        )
        .unwrap();
        let mut out = BTreeMap::new();
        physical_paths(&schema, "", "", &mut out);
        assert_eq!(out["user_id"], "col-1");
        assert_eq!(out["a.b"], "col-2.col-3");
    }

    #[test]
    fn replay_keys_logical_files_by_path_and_deletion_vector() {
        let mut r = Replay::default();
        let lines = |s: &str| json_actions(s.as_bytes(), "t").unwrap();
        r.apply(
            lines(concat!(
                r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"]}}"#,
                "\n",
                r#"{"metaData":{"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":[],"configuration":{}}}"#,
                "\n",
                r#"{"add":{"path":"a.parquet","size":1}}"#,
                "\n",
                r#"{"add":{"path":"b.parquet","size":1}}"#
            )),
            "0",
        )
        .unwrap();
        // A deletion vector added to a: the add comes before the remove of the old one.
        r.apply(
            lines(concat!(
                r#"{"add":{"path":"a.parquet","size":1,"deletionVector":{"storageType":"u","pathOrInlineDv":"vBn[lx{q8@P<9BNH/isA","offset":1,"sizeInBytes":36,"cardinality":2}}}"#,
                "\n",
                r#"{"remove":{"path":"a.parquet","deletionTimestamp":5}}"#,
                "\n",
                r#"{"remove":{"path":"b.parquet","deletionTimestamp":7}}"#
            )),
            "1",
        )
        .unwrap();
        let s = r.finish(1, 0, "log").unwrap();
        assert_eq!(s.live.keys().collect::<Vec<_>>(), ["a.parquet"]);
        assert!(s.live["a.parquet"].deletion_vector.is_some());
        assert_eq!(s.tombstones.get("b.parquet"), Some(&Some(7)));
        assert!(!s.tombstones.contains_key("a.parquet"), "a is still live");
    }

    #[test]
    fn unknown_reader_features_and_bad_lines_are_refused() {
        let mut r = Replay::default();
        r.apply(
            json_actions(
                concat!(
                    r#"{"protocol":{"minReaderVersion":3,"readerFeatures":["rowTracking2"]}}"#,
                    "\n",
                    r#"{"metaData":{"schemaString":"{}"}}"#
                )
                .as_bytes(),
                "0",
            )
            .unwrap(),
            "0",
        )
        .unwrap();
        assert!(
            r.finish(0, 0, "log")
                .unwrap_err()
                .problem
                .contains("rowTracking2")
        );
        assert!(
            json_actions(b"{\"add\":{\"size\":1}}\n", "f").is_err(),
            "an add without a path"
        );
        assert!(
            json_actions(b"{not json\n", "f")
                .unwrap_err()
                .to_string()
                .starts_with("f: line 1")
        );
    }
}

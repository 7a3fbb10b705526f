//! Apache Iceberg tables: what the table's metadata says each file under it is.
//!
//! A table directory holding `metadata/*.metadata.json` is an Iceberg table. Its current
//! metadata file is the one `metadata/version-hint.text` names, else the highest version
//! (`vN.metadata.json`, `NNNNN-<uuid>.metadata.json`). Every snapshot the metadata keeps
//! is read — its manifest list (Avro), its manifests (Avro) and their entries — as the
//! Iceberg spec (`format/spec.md`) defines them, so that each file gets its [`Role`]:
//! a data file of the current snapshot (live), a position-delete, equality-delete or
//! deletion-vector file of the current snapshot, a data file only older retained snapshots
//! read (time travel, until `expire_snapshots`), or a file no snapshot references
//! (`remove_orphan_files`). File paths in the metadata are absolute; they are made
//! relative by the table's own `location`, so a table copied or mounted elsewhere reads
//! the same. A path outside that location is an error, as is a manifest that does not
//! read, a snapshot whose manifest list is missing, or a format version above 3.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::io::store::{ObjectMeta, Store};

/// Why an Iceberg table's metadata cannot be used, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct IcebergError {
    pub file: String,
    pub problem: String,
}

impl IcebergError {
    pub fn new(file: impl Into<String>, problem: impl Into<String>) -> IcebergError {
        IcebergError {
            file: file.into(),
            problem: problem.into(),
        }
    }
}

/// Metadata and manifest files are read whole; this caps each.
pub const MAX_METADATA_FILE_BYTES: u64 = 512 << 20;

/// Default of `history.expire.max-snapshot-age-ms`: 5 days.
pub const DEFAULT_MAX_SNAPSHOT_AGE_MS: i64 = 5 * 86_400_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MetadataJson {
    format_version: u32,
    location: String,
    #[serde(default)]
    current_snapshot_id: Option<i64>,
    #[serde(default)]
    snapshots: Vec<SnapshotJson>,
    #[serde(default)]
    refs: BTreeMap<String, RefJson>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    schemas: Vec<serde_json::Value>,
    #[serde(default)]
    current_schema_id: Option<i64>,
    /// v1 tables may carry one schema only.
    #[serde(default)]
    schema: Option<serde_json::Value>,
    #[serde(default)]
    partition_specs: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct SnapshotJson {
    snapshot_id: i64,
    #[serde(default)]
    parent_snapshot_id: Option<i64>,
    #[serde(default)]
    sequence_number: i64,
    timestamp_ms: i64,
    #[serde(default)]
    manifest_list: Option<String>,
    /// v1: manifests listed in the snapshot itself.
    #[serde(default)]
    manifests: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RefJson {
    snapshot_id: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    max_ref_age_ms: Option<i64>,
    #[serde(default)]
    min_snapshots_to_keep: Option<i64>,
}

/// A manifest list entry (fields vouch reads).
#[derive(Debug, Clone, Deserialize)]
struct ManifestFile {
    manifest_path: String,
    #[serde(default)]
    content: Option<i32>,
    #[serde(default)]
    sequence_number: Option<i64>,
}

/// A manifest entry.
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    status: i32,
    #[serde(default)]
    sequence_number: Option<i64>,
    data_file: DataFile,
}

#[derive(Debug, Clone, Deserialize)]
struct DataFile {
    #[serde(default)]
    content: Option<i32>,
    file_path: String,
    file_format: String,
    #[serde(default)]
    partition: serde_json::Value,
    record_count: i64,
    #[serde(default)]
    equality_ids: Option<Vec<i32>>,
    #[serde(default)]
    referenced_data_file: Option<String>,
    #[serde(default)]
    content_offset: Option<i64>,
    #[serde(default)]
    content_size_in_bytes: Option<i64>,
}

/// What kind of file a manifest lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Data,
    PositionDeletes,
    EqualityDeletes,
}

/// A file of the current snapshot, as its manifest entry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    /// Below the table's directory.
    pub path: String,
    pub content: Content,
    /// `PARQUET`, `AVRO`, `ORC`, `PUFFIN`.
    pub format: String,
    pub record_count: i64,
    /// The data sequence number (deletes apply to data files older than them).
    pub sequence_number: i64,
    /// The partition values, as text (equal partitions give equal text).
    pub partition: String,
    pub spec_id: i32,
    /// Equality deletes: the field ids compared.
    pub equality_ids: Vec<i32>,
    /// Deletion vectors (v3) and file-scoped position deletes: the data file they apply to
    /// (below the table's directory).
    pub referenced_data_file: Option<String>,
    /// Deletion vectors: where the blob is in the Puffin file.
    pub content_offset: Option<i64>,
    pub content_size_in_bytes: Option<i64>,
}

/// A retained snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub snapshot_id: i64,
    pub timestamp_ms: i64,
    /// Names of the refs (branches, tags) that point at it.
    pub refs: Vec<String>,
}

/// What an Iceberg table is now, and what its older snapshots still reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub format_version: u32,
    /// The table's `location` as the metadata gives it.
    pub location: String,
    /// The metadata file read (below the store root).
    pub metadata_file: String,
    pub current_snapshot_id: Option<i64>,
    /// Files of the current snapshot, by path below the table.
    pub current: BTreeMap<String, TableFile>,
    /// Data files only older snapshots reference: path -> the snapshots that do.
    pub retained: BTreeMap<String, Vec<i64>>,
    pub snapshots: BTreeMap<i64, SnapshotInfo>,
    pub properties: BTreeMap<String, String>,
    /// The current schema's top-level fields: name -> field id.
    pub field_ids: BTreeMap<String, i32>,
    /// name -> primitive type (`string`, `long`, ...).
    pub field_types: BTreeMap<String, String>,
    /// Fields with an `initial-default` (v3): files written before them read that value.
    pub defaulted: Vec<String>,
    /// The main branch's newest snapshots `expire_snapshots` keeps whatever their age
    /// (`history.expire.min-snapshots-to-keep`), following parent links from the current.
    pub kept_by_count: std::collections::BTreeSet<i64>,
    /// That count, as configured.
    pub min_keep: u64,
    /// Per partition spec id: (position in the partition tuple, source field id) of its
    /// identity fields.
    pub identity_partitions: BTreeMap<i64, Vec<(usize, i32)>>,
    /// Older snapshots the metadata lists whose manifest list is gone.
    pub unreadable_snapshots: Vec<i64>,
}

impl Table {
    /// `history.expire.max-snapshot-age-ms`.
    pub fn max_snapshot_age_ms(&self) -> i64 {
        self.properties
            .get("history.expire.max-snapshot-age-ms")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MAX_SNAPSHOT_AGE_MS)
    }

    /// How many of the main branch's newest snapshots `expire_snapshots` keeps whatever
    /// their age (the main branch's `min-snapshots-to-keep`, else the table's
    /// `history.expire.min-snapshots-to-keep`, default 1).
    pub fn min_snapshots_to_keep(&self) -> u64 {
        self.min_keep
    }

    /// When `expire_snapshots` may first drop every snapshot that reads `path` (a retained
    /// file); None when the file is not retained or a time overflows.
    pub fn expires(&self, path: &str) -> Option<Expiry> {
        let snapshots = self.retained.get(path)?;
        let mut latest = 0i64;
        for id in snapshots {
            let s = self.snapshots.get(id)?;
            if !s.refs.is_empty() {
                return Some(Expiry::Pinned);
            }
            if self.kept_by_count.contains(id) {
                return Some(Expiry::KeptByCount(self.min_snapshots_to_keep()));
            }
            latest = latest.max(s.timestamp_ms.checked_add(self.max_snapshot_age_ms())?);
        }
        Some(Expiry::At(latest))
    }

    /// When the snapshots reading `path` may all expire, in ms; None when something other
    /// than time keeps one (a ref, the count of snapshots kept).
    pub fn expires_ms(&self, path: &str) -> Option<i64> {
        match self.expires(path)? {
            Expiry::At(ms) => Some(ms),
            _ => None,
        }
    }
}

/// The table's path below its `location`, or None when `path` lies outside it.
pub fn relocate(location: &str, path: &str) -> Option<String> {
    let strip = |s: &str| {
        s.trim_start_matches("file://")
            .trim_start_matches("file:")
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string()
    };
    let (loc, p) = (strip(location), strip(path));
    let rest = p.strip_prefix(&loc)?.strip_prefix('/')?;
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()
        .map(|c| c.to_string())
        .filter(|d| d.split('/').all(|s| !s.is_empty() && s != "." && s != ".."))?;
    // The spec's paths are plain, not URI-encoded; a name with `%` is kept as written
    // when the decoded form leaves no trace of it.
    Some(if rest.contains('%') {
        rest.to_string()
    } else {
        decoded
    })
}

/// A table's `metadata/` directory.
pub fn metadata_dir(table: &str) -> String {
    if table.is_empty() {
        "metadata".into()
    } else {
        format!("{table}/metadata")
    }
}

/// The table's metadata read, or None when `table` holds no `metadata/*.metadata.json`.
pub fn open(
    store: &dyn Store,
    table: &str,
    pinned: Option<&str>,
) -> Option<Result<Table, IcebergError>> {
    open_listed(
        store,
        table,
        pinned,
        store.list_if_present(&metadata_dir(table)),
    )
}

/// [`open`] with the table's `metadata/` already listed ([`Store::list_if_present`] of
/// [`metadata_dir`]).
pub fn open_listed(
    store: &dyn Store,
    table: &str,
    pinned: Option<&str>,
    listing: crate::io::store::Listing,
) -> Option<Result<Table, IcebergError>> {
    let dir = metadata_dir(table);
    let has = listing
        .objects
        .iter()
        .any(|o| o.path.ends_with(".metadata.json"));
    if !has && listing.errors.is_empty() && pinned.is_none() {
        return None;
    }
    Some(read_table(store, table, &dir, listing, pinned))
}

fn read_all(store: &dyn Store, o: &ObjectMeta) -> Result<Vec<u8>, IcebergError> {
    crate::io::store::read_whole(store, o, MAX_METADATA_FILE_BYTES, "metadata files")
        .map_err(|e| IcebergError::new(e.path, e.message))
}

/// The version a metadata file name carries (`v12.metadata.json`, `00012-uuid.metadata.json`).
fn metadata_version(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".metadata.json")?;
    let stem = stem.strip_suffix(".gz").unwrap_or(stem);
    if let Some(n) = stem.strip_prefix('v') {
        return n.parse().ok();
    }
    stem.split('-').next()?.parse().ok()
}

fn read_table(
    store: &dyn Store,
    table: &str,
    dir: &str,
    listing: crate::io::store::Listing,
    pinned: Option<&str>,
) -> Result<Table, IcebergError> {
    if let Some(e) = listing.errors.first() {
        return Err(IcebergError::new(&e.path, e.message.clone()));
    }
    let by_name: BTreeMap<String, &ObjectMeta> = listing
        .objects
        .iter()
        .filter(|o| !o.path[dir.len()..].trim_start_matches('/').contains('/'))
        .map(|o| (o.path.rsplit('/').next().unwrap_or(&o.path).to_string(), o))
        .collect();
    let newest = by_name
        .keys()
        .filter_map(|n| metadata_version(n).map(|v| (v, n.clone())))
        .max()
        .map(|(_, n)| n);
    let only = {
        let all: Vec<&String> = by_name
            .keys()
            .filter(|n| n.ends_with(".metadata.json"))
            .collect();
        (all.len() == 1).then(|| all[0].clone())
    };
    let chosen = match (pinned, by_name.get("version-hint.text")) {
        (Some(p), _) => {
            let name = p
                .trim_start_matches('/')
                .strip_prefix("metadata/")
                .unwrap_or("");
            if name.is_empty() || name.contains('/') || !by_name.contains_key(name) {
                return Err(IcebergError::new(
                    format!("{table}/{}", p.trim_start_matches('/')),
                    "the table's current metadata file (metadata_location) is not in its \
                     metadata/ directory",
                ));
            }
            name.to_string()
        }
        (None, Some(hint)) => {
            let text = String::from_utf8(read_all(store, hint)?)
                .map_err(|_| IcebergError::new(&hint.path, "not UTF-8"))?;
            let text = text.trim();
            let name = if text.ends_with(".metadata.json") {
                text.rsplit('/').next().unwrap_or(text).to_string()
            } else {
                [
                    format!("{text}.metadata.json"),
                    format!("v{text}.metadata.json"),
                    format!("v{text}.gz.metadata.json"),
                ]
                .into_iter()
                .find(|n| by_name.contains_key(n))
                .unwrap_or_else(|| format!("v{text}.metadata.json"))
            };
            if !by_name.contains_key(&name) {
                return Err(IcebergError::new(
                    &hint.path,
                    format!("names {name}, which is not in the metadata directory"),
                ));
            }
            name
        }
        (None, None)
            if only.is_none()
                && let Some(unversioned) = by_name
                    .keys()
                    .find(|n| n.ends_with(".metadata.json") && metadata_version(n).is_none()) =>
        {
            // Another metadata file may be the current one: reading an older one would take
            // its newer data files for unreferenced ones.
            return Err(IcebergError::new(
                by_name[unversioned].path.clone(),
                "has no version in its name, beside other metadata files and without \
                 version-hint.text: which metadata is current is not known (name it with \
                 metadata_location in [[lake.tables]])",
            ));
        }
        (None, None) => newest.or(only).ok_or_else(|| {
            IcebergError::new(
                dir,
                "no metadata file with a version in its name, and no version-hint.text",
            )
        })?,
    };
    let meta_obj = by_name[&chosen];
    let mut raw = read_all(store, meta_obj)?;
    if chosen.ends_with(".gz.metadata.json") {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_METADATA_FILE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| IcebergError::new(&meta_obj.path, format!("not gzip: {e}")))?;
        if out.len() as u64 > MAX_METADATA_FILE_BYTES {
            return Err(IcebergError::new(
                &meta_obj.path,
                "decompresses past the metadata size limit",
            ));
        }
        raw = out;
    }
    let meta: MetadataJson = serde_json::from_slice(&raw).map_err(|e| {
        IcebergError::new(&meta_obj.path, format!("not Iceberg table metadata: {e}"))
    })?;
    if meta.format_version > 3 {
        return Err(IcebergError::new(
            &meta_obj.path,
            format!(
                "format version {} is not supported (vouch reads 1 to 3)",
                meta.format_version
            ),
        ));
    }
    let find = |path: &str, what: &str| -> Result<&ObjectMeta, IcebergError> {
        let rel = relocate(&meta.location, path).ok_or_else(|| {
            IcebergError::new(
                &meta_obj.path,
                format!(
                    "{what} {path} lies outside the table's location {}",
                    meta.location
                ),
            )
        })?;
        let want = join(table, &rel);
        listing
            .objects
            .iter()
            .find(|o| o.path == want)
            .ok_or_else(|| {
                IcebergError::new(&meta_obj.path, format!("its {what} {want} is missing"))
            })
    };
    let mut refs: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (name, r) in &meta.refs {
        if name != "main" || r.kind != "branch" {
            refs.entry(r.snapshot_id).or_default().push(name.clone());
        }
        let _ = r.max_ref_age_ms;
    }
    let mut snapshots = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut per_snapshot: BTreeMap<i64, BTreeMap<String, TableFile>> = BTreeMap::new();
    let mut manifest_cache: BTreeMap<String, Vec<TableFile>> = BTreeMap::new();
    for s in &meta.snapshots {
        snapshots.insert(
            s.snapshot_id,
            SnapshotInfo {
                snapshot_id: s.snapshot_id,
                timestamp_ms: s.timestamp_ms,
                refs: refs.get(&s.snapshot_id).cloned().unwrap_or_default(),
            },
        );
        let current = meta.current_snapshot_id == Some(s.snapshot_id);
        let manifests: Vec<ManifestFile> = match (&s.manifest_list, &s.manifests) {
            (Some(list), _) => match find(list, "manifest list") {
                Ok(o) => avro_records(&read_all(store, o)?, &o.path)?,
                // An older snapshot whose manifest list is gone cannot be read by any
                // engine: its files are then referenced by no readable snapshot, and are
                // scanned and reported as unreferenced.
                Err(_) if !current => {
                    unreadable.push(s.snapshot_id);
                    continue;
                }
                Err(e) => return Err(e),
            },
            (None, Some(paths)) => paths
                .iter()
                .map(|p| ManifestFile {
                    manifest_path: p.clone(),
                    content: Some(0),
                    sequence_number: Some(0),
                })
                .collect(),
            (None, None) => {
                return Err(IcebergError::new(
                    &meta_obj.path,
                    format!("snapshot {} names no manifest list", s.snapshot_id),
                ));
            }
        };
        let mut files = BTreeMap::new();
        for m in manifests {
            let o = find(&m.manifest_path, "manifest")?;
            if !manifest_cache.contains_key(&o.path) {
                let bytes = read_all(store, o)?;
                let entries: Vec<Entry> = avro_records(&bytes, &o.path)?;
                let spec_id = avro_spec_id(&bytes).unwrap_or(0);
                let mut out = Vec::new();
                for e in entries {
                    if e.status == 2 {
                        continue; // DELETED in this snapshot
                    }
                    let d = e.data_file;
                    let content = match d.content.unwrap_or(m.content.unwrap_or(0)) {
                        0 => Content::Data,
                        1 => Content::PositionDeletes,
                        2 => Content::EqualityDeletes,
                        other => {
                            return Err(IcebergError::new(
                                &o.path,
                                format!("content {other} of {} is not known", d.file_path),
                            ));
                        }
                    };
                    let rel = relocate(&meta.location, &d.file_path).ok_or_else(|| {
                        IcebergError::new(
                            &o.path,
                            format!(
                                "{} lies outside the table's location {}",
                                d.file_path, meta.location
                            ),
                        )
                    })?;
                    let referenced = match &d.referenced_data_file {
                        Some(p) => Some(relocate(&meta.location, p).ok_or_else(|| {
                            IcebergError::new(&o.path, format!("{p} lies outside the table"))
                        })?),
                        None => None,
                    };
                    out.push(TableFile {
                        path: rel,
                        content,
                        format: d.file_format.to_ascii_uppercase(),
                        record_count: d.record_count,
                        sequence_number: e
                            .sequence_number
                            .or(m.sequence_number)
                            .unwrap_or(s.sequence_number),
                        partition: d.partition.to_string(),
                        spec_id,
                        equality_ids: d.equality_ids.unwrap_or_default(),
                        referenced_data_file: referenced,
                        content_offset: d.content_offset,
                        content_size_in_bytes: d.content_size_in_bytes,
                    });
                }
                manifest_cache.insert(o.path.clone(), out);
            }
            for f in &manifest_cache[&o.path] {
                files.insert(f.path.clone(), f.clone());
            }
        }
        per_snapshot.insert(s.snapshot_id, files);
    }
    let current = match meta.current_snapshot_id.filter(|&id| id >= 0) {
        Some(id) => per_snapshot.get(&id).cloned().ok_or_else(|| {
            IcebergError::new(
                &meta_obj.path,
                format!("current snapshot {id} is not in the metadata"),
            )
        })?,
        None => BTreeMap::new(),
    };
    let mut retained: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (id, files) in &per_snapshot {
        if Some(*id) == meta.current_snapshot_id {
            continue;
        }
        for (p, f) in files {
            if f.content == Content::Data && !current.contains_key(p) {
                retained.entry(p.clone()).or_default().push(*id);
            }
        }
    }
    let schema = meta
        .schemas
        .iter()
        .find(|s| s.get("schema-id").and_then(|i| i.as_i64()) == meta.current_schema_id)
        .or(meta.schema.as_ref());
    let mut field_ids = BTreeMap::new();
    let mut field_types = BTreeMap::new();
    let mut defaulted = Vec::new();
    for f in schema
        .and_then(|s| s.get("fields"))
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(i)) = (
            f.get("name").and_then(|n| n.as_str()),
            f.get("id").and_then(|i| i.as_i64()),
        ) {
            field_ids.insert(n.to_string(), i as i32);
            if f.get("initial-default").is_some_and(|d| !d.is_null()) {
                defaulted.push(n.to_string());
            }
            if let Some(t) = f.get("type").and_then(|t| t.as_str()) {
                field_types.insert(n.to_string(), t.to_string());
            }
        }
    }
    // The newest snapshots of the main branch that expiry keeps whatever their age.
    let keep = meta
        .refs
        .get("main")
        .and_then(|r| r.min_snapshots_to_keep)
        .or_else(|| {
            meta.properties
                .get("history.expire.min-snapshots-to-keep")
                .and_then(|v| v.parse::<i64>().ok())
        })
        .unwrap_or(1)
        .max(1) as usize;
    let parents: BTreeMap<i64, Option<i64>> = meta
        .snapshots
        .iter()
        .map(|s| (s.snapshot_id, s.parent_snapshot_id))
        .collect();
    let mut kept_by_count = std::collections::BTreeSet::new();
    let mut at = meta
        .refs
        .get("main")
        .map(|r| r.snapshot_id)
        .or(meta.current_snapshot_id)
        .filter(|&id| id >= 0);
    while let Some(id) = at
        && kept_by_count.len() < keep
        && parents.contains_key(&id)
        && kept_by_count.insert(id)
    {
        at = parents.get(&id).copied().flatten();
    }
    Ok(Table {
        kept_by_count,
        min_keep: keep as u64,
        format_version: meta.format_version,
        location: meta.location.clone(),
        metadata_file: meta_obj.path.clone(),
        current_snapshot_id: meta.current_snapshot_id.filter(|&id| id >= 0),
        current,
        retained,
        snapshots,
        properties: meta.properties,
        field_ids,
        field_types,
        defaulted,
        identity_partitions: meta
            .partition_specs
            .iter()
            .filter_map(|s| {
                let id = s.get("spec-id")?.as_i64()?;
                let fields = s.get("fields")?.as_array()?;
                let identity: Vec<(usize, i32)> = fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        f.get("transform").and_then(|t| t.as_str()) == Some("identity")
                    })
                    .filter_map(|(i, f)| Some((i, f.get("source-id")?.as_i64()? as i32)))
                    .collect();
                Some((id, identity))
            })
            .collect(),
        unreadable_snapshots: unreadable,
    })
}

fn join(table: &str, rel: &str) -> String {
    if table.is_empty() {
        rel.to_string()
    } else {
        format!("{table}/{rel}")
    }
}

/// Largest single allocation the Avro decoder may make for a value a file declares (a
/// hostile length must not reserve gigabytes); manifests hold small values.
const AVRO_MAX_ALLOCATION: usize = 64 << 20;

/// Caps the Avro decoder's allocations (once per process).
fn avro_limits() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        apache_avro::util::max_allocation_bytes(AVRO_MAX_ALLOCATION);
    });
}

/// The records of an Avro object container file, each as `T`.
fn avro_records<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    file: &str,
) -> Result<Vec<T>, IcebergError> {
    avro_limits();
    let reader = apache_avro::Reader::new(bytes)
        .map_err(|e| IcebergError::new(file, format!("not an Avro file: {e}")))?;
    let mut out = Vec::new();
    for (i, v) in reader.enumerate() {
        let v = v.map_err(|e| IcebergError::new(file, format!("record {}: {e}", i + 1)))?;
        // Through JSON: unions become their value, so optional fields read whether the
        // writer declared them as unions or not.
        let json = serde_json::Value::try_from(v)
            .map_err(|e| IcebergError::new(file, format!("record {}: {e}", i + 1)))?;
        out.push(serde_json::from_value::<T>(json).map_err(|e| {
            IcebergError::new(
                file,
                format!("record {}: not a manifest record: {e}", i + 1),
            )
        })?);
    }
    Ok(out)
}

/// A manifest's `partition-spec-id` (from the Avro file's metadata).
fn avro_spec_id(bytes: &[u8]) -> Option<i32> {
    let reader = apache_avro::Reader::new(bytes).ok()?;
    let v = reader.user_metadata().get("partition-spec-id")?;
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_by_the_table_location() {
        let loc = "s3://bucket/wh/db/t";
        assert_eq!(
            relocate(loc, "s3://bucket/wh/db/t/data/a.parquet").as_deref(),
            Some("data/a.parquet")
        );
        assert_eq!(
            relocate("file:/tmp/t/", "file:///tmp/t/data/x.parquet").as_deref(),
            Some("data/x.parquet")
        );
        assert_eq!(
            relocate("data/persistent/t", "data/persistent/t/data/x").as_deref(),
            Some("data/x")
        );
        for bad in [
            "s3://bucket/wh/db/other/a.parquet",
            "s3://bucket/wh/db/t2/a",
            "s3://bucket/wh/db/t/../x",
        ] {
            assert_eq!(relocate(loc, bad), None, "{bad}");
        }
    }

    #[test]
    fn metadata_versions_are_read_from_both_names() {
        assert_eq!(metadata_version("v12.metadata.json"), Some(12));
        assert_eq!(metadata_version("00003-1f2e.metadata.json"), Some(3));
        assert_eq!(metadata_version("x.metadata.json"), None);
    }
}

/// What a listed file is to the table (paths below the store root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A data file of the current snapshot; its deletes mask rows.
    Live,
    /// An equality-delete file of the current snapshot: it holds the deleted IDs.
    EqualityDelete,
    /// A data file only older snapshots read: when `expire_snapshots` may drop them all.
    Retained(Expiry),
    /// Referenced by no snapshot the metadata keeps.
    Unreferenced,
}

/// When the snapshots reading a retained file may all expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// From this time (ms): the newest snapshot's time + `history.expire.max-snapshot-age-ms`.
    At(i64),
    /// A tag or branch pins one of them.
    Pinned,
    /// One is among the newest `history.expire.min-snapshots-to-keep` snapshots of the main
    /// branch (this many): it stays until enough newer snapshots are committed.
    KeptByCount(u64),
}

/// An Iceberg table as listed: its metadata, and the deletes of its current snapshot
/// resolved per data file.
#[derive(Debug, Clone)]
pub struct IcebergView {
    pub table: Table,
    /// The table's directory below the store root.
    pub table_path: String,
    /// Per data file (below the table): the row positions position deletes and deletion
    /// vectors mask.
    pub positions: BTreeMap<String, roaring::RoaringTreemap>,
    /// Per data file (below the table): identifier values equality deletes remove, as
    /// text. Only deletes on one identifier column alone are applied; others leave rows
    /// live (never hidden).
    pub deleted_values: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Delete files of the current snapshot that were not applied, and why: their rows
    /// stay live in the report (never hidden).
    pub unapplied: Vec<(String, String)>,
    /// Files of the current snapshot that hold no identifier values (below the table):
    /// position deletes, deletion vectors, equality deletes on other columns.
    pub not_data: std::collections::BTreeSet<String>,
}

/// Default `older_than` of `remove_orphan_files`: 3 days.
pub const ORPHAN_AGE_MS: i64 = 3 * 86_400_000;

impl IcebergView {
    fn below<'p>(&self, path: &'p str) -> &'p str {
        path.strip_prefix(&self.table_path)
            .unwrap_or(path)
            .trim_start_matches('/')
    }

    /// A path below the table, below the store root.
    pub fn join(&self, rel: &str) -> String {
        join(&self.table_path, rel)
    }

    pub fn role(&self, path: &str) -> Role {
        let rel = self.below(path);
        match self.table.current.get(rel).map(|f| f.content) {
            Some(Content::Data) => Role::Live,
            Some(Content::EqualityDeletes) => Role::EqualityDelete,
            Some(Content::PositionDeletes) => Role::Unreferenced, // not read: side files
            None if self.table.retained.contains_key(rel) => {
                Role::Retained(self.table.expires(rel).unwrap_or(Expiry::Pinned))
            }
            None => Role::Unreferenced,
        }
    }

    /// Whether a listed file holds no rows to check: a position-delete file (paths and
    /// positions) or a Puffin file of the current snapshot.
    pub fn is_side(&self, path: &str) -> bool {
        let rel = self.below(path);
        // Only the files the current snapshot names as deletes: a file that merely has a
        // delete file's name is read (an orphan Parquet file must not hide by its name).
        self.not_data.contains(rel)
    }

    /// Data files of the current snapshot that storage does not hold.
    pub fn missing(&self, listed: &[ObjectMeta]) -> Vec<crate::io::store::StoreError> {
        let have: std::collections::BTreeSet<&str> =
            listed.iter().map(|o| self.below(&o.path)).collect();
        self.table
            .current
            .values()
            .filter(|f| !self.not_data.contains(&f.path) && !have.contains(f.path.as_str()))
            .filter(|f| f.format != "PUFFIN")
            .map(|f| {
                crate::io::store::StoreError::new(
                    self.join(&f.path),
                    "the current snapshot lists this file, and storage does not hold it: its \
                     rows were not checked",
                )
            })
            .collect()
    }

    /// Where copies in a file of this role are, or None for rows every reader sees.
    /// `masked`: rows the current snapshot's deletes mask in a live file.
    pub fn copy_place(
        &self,
        role: Role,
        masked: bool,
        modified: Option<i64>,
        table: &str,
    ) -> Option<crate::domain::copies::CopyPlace> {
        use crate::domain::copies::{CopyPlace, Layer};
        let date = |ms: i64| crate::io::encode::rfc3339(ms.div_euclid(1000));
        let expire = "CALL system.expire_snapshots(table => '{t}', older_than => TIMESTAMP '{d}')";
        Some(match role {
            Role::Live if masked => CopyPlace {
                layer: Layer::DeletedRetained,
                kind: "masked_rows".into(),
                removable_after_ms: None,
                way_out: format!(
                    "CALL system.rewrite_data_files(table => '{table}', options => \
                     map('delete-file-threshold', '1')), then CALL \
                     system.expire_snapshots(table => '{table}') once the snapshots before \
                     the rewrite may expire"
                ),
            },
            Role::Live => return None,
            Role::EqualityDelete => CopyPlace {
                layer: Layer::DeletedRetained,
                kind: "equality_delete".into(),
                removable_after_ms: None,
                way_out: format!(
                    "CALL system.rewrite_data_files(table => '{table}', options => \
                     map('delete-file-threshold', '1')) so no data file needs the delete, \
                     CALL system.rewrite_position_delete_files(table => '{table}'), then \
                     expire_snapshots"
                ),
            },
            Role::Retained(when) => CopyPlace {
                layer: Layer::DeletedRetained,
                kind: "retained_snapshot".into(),
                removable_after_ms: match when {
                    Expiry::At(ms) => Some(ms),
                    _ => None,
                },
                way_out: match when {
                    Expiry::At(ms) => expire.replace("{t}", table).replace("{d}", &date(ms)),
                    Expiry::Pinned => format!(
                        "a tag or branch pins a snapshot that reads this file: drop it (ALTER \
                         TABLE {table} DROP TAG …), then CALL system.expire_snapshots(table \
                         => '{table}')"
                    ),
                    Expiry::KeptByCount(n) => format!(
                        "a snapshot that reads this file is among the {n} newest the table \
                         keeps (history.expire.min-snapshots-to-keep): once {n} newer \
                         snapshots are committed (or the property is lowered), CALL \
                         system.expire_snapshots(table => '{table}')"
                    ),
                },
            },
            Role::Unreferenced => {
                let when = modified
                    .map(|s| s.saturating_mul(1000))
                    .and_then(|ms| ms.checked_add(ORPHAN_AGE_MS));
                CopyPlace {
                    layer: Layer::Unreferenced,
                    kind: "unreferenced_file".into(),
                    removable_after_ms: when,
                    way_out: format!(
                        "CALL system.remove_orphan_files(table => '{table}'){}",
                        when.map(|ms| format!(" on or after {}", date(ms)))
                            .unwrap_or_default()
                    ),
                }
            }
        })
    }
}

impl IcebergView {
    /// Where a manifest's bounds holding identifier values are, and how they go away.
    pub fn bounds_place(&self, table: &str) -> crate::domain::copies::CopyPlace {
        crate::domain::copies::CopyPlace {
            layer: crate::domain::copies::Layer::DeletedRetained,
            kind: "manifest_bounds".into(),
            removable_after_ms: None,
            way_out: format!(
                "the manifest records the ID as a column bound: once no data file holds the \
                 rows, CALL system.rewrite_manifests(table => '{table}'), expire the snapshots \
                 that still list the manifest (CALL system.expire_snapshots(table => \
                 '{table}')), then CALL system.remove_orphan_files(table => '{table}')"
            ),
        }
    }
}

/// Resolves the current snapshot's deletes per data file. `id_fields`: the identifier
/// columns' names in the current schema.
pub fn view(
    store: &dyn Store,
    table_path: &str,
    table: Table,
    listed: &[ObjectMeta],
    side: &[ObjectMeta],
    id_columns: &[String],
) -> Result<IcebergView, IcebergError> {
    let find = |rel: &str| {
        let full = join(table_path, rel);
        listed
            .iter()
            .chain(side)
            .find(|o| o.path == full)
            .ok_or_else(|| {
                IcebergError::new(
                    &full,
                    "a delete file of the current snapshot is not in storage",
                )
            })
    };
    let mut positions: BTreeMap<String, roaring::RoaringTreemap> = BTreeMap::new();
    let mut deleted_values: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut unapplied = Vec::new();
    let mut not_data = std::collections::BTreeSet::new();
    let data: Vec<&TableFile> = table
        .current
        .values()
        .filter(|f| f.content == Content::Data)
        .collect();
    let data_seq: BTreeMap<&str, i64> = data
        .iter()
        .map(|f| (f.path.as_str(), f.sequence_number))
        .collect();
    let id_fields: BTreeMap<i32, String> = table
        .field_ids
        .iter()
        .filter(|(name, _)| id_columns.iter().any(|c| c.eq_ignore_ascii_case(name)))
        .map(|(n, i)| (*i, n.clone()))
        .collect();
    for d in table
        .current
        .values()
        .filter(|f| f.content != Content::Data)
    {
        let holds_ids = d.content == Content::EqualityDeletes
            && d.equality_ids.iter().any(|i| id_fields.contains_key(i));
        if !holds_ids {
            not_data.insert(d.path.clone());
        }
        let o = find(&d.path)?;
        match (d.content, d.format.as_str()) {
            (Content::PositionDeletes, "PUFFIN") => {
                let target = d.referenced_data_file.clone().ok_or_else(|| {
                    IcebergError::new(&o.path, "a deletion vector without its data file")
                })?;
                let (off, len) = (
                    d.content_offset.unwrap_or(-1),
                    d.content_size_in_bytes.unwrap_or(-1),
                );
                if off < 0
                    || len < 8
                    || (off as u64).saturating_add(len as u64) > o.size
                    || len as u64 > crate::domain::delta::dv::MAX_DV_BYTES
                {
                    return Err(IcebergError::new(
                        &o.path,
                        format!("deletion vector at {off}+{len} lies outside the file"),
                    ));
                }
                let mut blob = Vec::new();
                store
                    .open(o)
                    .and_then(|r| r.read_into(off as u64, len as u64, &mut blob))
                    .map_err(|e| IcebergError::new(&o.path, e.message))?;
                let bitmap = crate::domain::delta::dv::unwrap_stored(&blob, len as usize - 8)
                    .map_err(|e| IcebergError::new(&o.path, e))?;
                let set = crate::domain::delta::dv::decode(bitmap, d.record_count)
                    .map_err(|e| IcebergError::new(&o.path, e))?;
                *positions.entry(target).or_default() |= set;
            }
            (Content::PositionDeletes, "PARQUET") => {
                let bytes =
                    crate::io::store::read_whole(store, o, MAX_METADATA_FILE_BYTES, "delete files")
                        .map_err(|e| IcebergError::new(e.path, e.message))?;
                for (file, pos) in position_rows(bytes, &o.path)? {
                    let rel = relocate_file(&table, &file).ok_or_else(|| {
                        IcebergError::new(
                            &o.path,
                            format!("deletes rows of {file}, outside the table"),
                        )
                    })?;
                    // A position delete applies to data files no newer than itself.
                    if data_seq
                        .get(rel.as_str())
                        .is_some_and(|&s| s <= d.sequence_number)
                    {
                        positions.entry(rel).or_default().insert(pos);
                    }
                }
            }
            (Content::EqualityDeletes, "PARQUET") => {
                let applies_to = |f: &TableFile| {
                    // Older data, and the same partition unless the delete's spec is global.
                    f.sequence_number < d.sequence_number
                        && (d.partition == "{}"
                            || d.partition == "null"
                            || (f.spec_id == d.spec_id && f.partition == d.partition))
                };
                let single_id = match d.equality_ids.as_slice() {
                    [field] => id_fields.get(field),
                    _ => None,
                };
                if let Some(name) = single_id {
                    // On one identifier column: the deleted values mask each subject's rows
                    // without reading the data files again.
                    let bytes = crate::io::store::read_whole(
                        store,
                        o,
                        MAX_METADATA_FILE_BYTES,
                        "delete files",
                    )
                    .map_err(|e| IcebergError::new(e.path, e.message))?;
                    let values = column_text(bytes, name, &o.path)?;
                    for f in data.iter().filter(|f| applies_to(f)) {
                        deleted_values
                            .entry(f.path.clone())
                            .or_default()
                            .extend(values.iter().cloned());
                    }
                    continue;
                }
                // On other or several columns: the rows of each older data file whose
                // values equal a delete row's become position deletes.
                match equality_fields(&table, &d.equality_ids) {
                    Err(why) => unapplied.push((o.path.clone(), why)),
                    Ok(fields) => {
                        let targets: Vec<&TableFile> =
                            data.iter().copied().filter(|f| applies_to(f)).collect();
                        equality_positions(
                            store,
                            table_path,
                            o,
                            &fields,
                            &targets,
                            listed,
                            &mut positions,
                        )?;
                    }
                }
            }
            (_, other) => {
                return Err(IcebergError::new(
                    &o.path,
                    format!("a delete file in {other} format is not supported"),
                ));
            }
        }
    }
    Ok(IcebergView {
        table,
        table_path: table_path.to_string(),
        positions,
        deleted_values,
        unapplied,
        not_data,
    })
}

fn relocate_file(table: &Table, path: &str) -> Option<String> {
    relocate(&table.location, path)
}

/// A delete file's record batches.
fn batches(
    bytes: Vec<u8>,
    file: &str,
    what: &str,
) -> Result<Vec<arrow::array::RecordBatch>, IcebergError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let at = |e: String| IcebergError::new(file, format!("{what} do not read: {e}"));
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| at(e.to_string()))?
        .build()
        .map_err(|e| at(e.to_string()))?
        .map(|b| b.map_err(|e| at(e.to_string())))
        .collect()
}

/// The (file_path, pos) rows of a position-delete file.
fn position_rows(bytes: Vec<u8>, file: &str) -> Result<Vec<(String, u64)>, IcebergError> {
    use arrow::array::{Array, Int64Array, StringArray};
    let at = |e: String| IcebergError::new(file, format!("position deletes do not read: {e}"));
    let mut out = Vec::new();
    for batch in batches(bytes, file, "position deletes")? {
        let paths = batch
            .column_by_name("file_path")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .ok_or_else(|| at("no file_path string column".into()))?;
        let pos = batch
            .column_by_name("pos")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
            .ok_or_else(|| at("no pos long column".into()))?;
        for i in 0..batch.num_rows() {
            if paths.is_null(i) || pos.is_null(i) || pos.value(i) < 0 {
                return Err(at(format!("row {}: a null or negative position", i + 1)));
            }
            out.push((paths.value(i).to_string(), pos.value(i) as u64));
        }
    }
    Ok(out)
}

/// The fields an equality delete compares, as (field id, current name): top-level fields
/// of the current schema without an `initial-default` (a file written before such a field
/// reads its default, not null); otherwise why the delete is not applied.
fn equality_fields(table: &Table, ids: &[i32]) -> Result<Vec<(i32, String)>, String> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((name, _)) = table.field_ids.iter().find(|(_, i)| *i == id) else {
            return Err(format!(
                "an equality delete on field {id}, which is not a top-level field of the \
                 current schema"
            ));
        };
        if table.defaulted.iter().any(|d| d == name) {
            return Err(format!(
                "an equality delete on field {name}, which has an initial default"
            ));
        }
        out.push((*id, name.clone()));
    }
    if out.is_empty() {
        return Err("an equality delete on no fields".into());
    }
    Ok(out)
}

/// Which column of `schema` holds each field: by the Parquet field id Arrow keeps in the
/// field's metadata, else by name (case ignored); None when the file lacks the field.
fn field_columns(
    schema: &arrow::datatypes::Schema,
    fields: &[(i32, String)],
) -> Vec<Option<usize>> {
    let id_of = |f: &arrow::datatypes::Field| {
        f.metadata()
            .get(parquet::arrow::PARQUET_FIELD_ID_META_KEY)
            .and_then(|v| v.parse::<i32>().ok())
    };
    fields
        .iter()
        .map(|(id, name)| {
            let by_id = schema.fields().iter().position(|f| id_of(f) == Some(*id));
            by_id.or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| id_of(f).is_none() && f.name().eq_ignore_ascii_case(name))
            })
        })
        .collect()
}

/// Each row's values of `cols` as text (None: null, or a column the file lacks).
fn row_keys(
    batch: &arrow::array::RecordBatch,
    cols: &[Option<usize>],
) -> Result<Vec<Vec<Option<String>>>, String> {
    use arrow::array::Array;
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default();
    let formatters = cols
        .iter()
        .map(|c| {
            c.map(|i| {
                let a = batch.column(i);
                ArrayFormatter::try_new(a.as_ref(), &options).map(|f| (a.clone(), f))
            })
            .transpose()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((0..batch.num_rows())
        .map(|r| {
            formatters
                .iter()
                .map(|f| {
                    f.as_ref()
                        .filter(|(a, _)| !a.is_null(r))
                        .map(|(_, fmt)| fmt.value(r).to_string())
                })
                .collect()
        })
        .collect())
}

/// Applies an equality delete on `fields` to `targets` (older data files of its
/// partition): the position of every row whose values all equal one of the delete's rows
/// (null equal to null) joins the file's position deletes. Reads the delete file whole
/// (capped) and only the compared columns of each data file, batch by batch.
fn equality_positions(
    store: &dyn Store,
    table_path: &str,
    delete: &ObjectMeta,
    fields: &[(i32, String)],
    targets: &[&TableFile],
    listed: &[ObjectMeta],
    positions: &mut BTreeMap<String, roaring::RoaringTreemap>,
) -> Result<(), IcebergError> {
    let bytes =
        crate::io::store::read_whole(store, delete, MAX_METADATA_FILE_BYTES, "delete files")
            .map_err(|e| IcebergError::new(e.path, e.message))?;
    let mut deleted = std::collections::HashSet::new();
    for batch in batches(bytes, &delete.path, "equality deletes")? {
        let cols = field_columns(&batch.schema(), fields);
        if let Some(((_, name), _)) = fields.iter().zip(&cols).find(|(_, c)| c.is_none()) {
            return Err(IcebergError::new(
                &delete.path,
                format!("equality deletes do not read: no column for field {name}"),
            ));
        }
        let keys = row_keys(&batch, &cols).map_err(|e| {
            IcebergError::new(&delete.path, format!("equality deletes do not read: {e}"))
        })?;
        deleted.extend(keys);
    }
    if deleted.is_empty() {
        return Ok(());
    }
    for f in targets {
        let full = join(table_path, &f.path);
        // A data file storage lacks is an error of the listing (`missing`).
        let Some(o) = listed.iter().find(|o| o.path == full) else {
            continue;
        };
        let fail = |e: String| {
            IcebergError::new(
                &o.path,
                format!(
                    "its rows could not be matched against the equality deletes of {}: {e}",
                    delete.path
                ),
            )
        };
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || -> Result<Vec<u64>, String> {
                use parquet::arrow::ProjectionMask;
                use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
                let reader =
                    crate::io::store::StoreChunkReader::open(store, o).map_err(|e| e.message)?;
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| e.to_string())?;
                let top = field_columns(builder.schema(), fields);
                let mask =
                    ProjectionMask::roots(builder.parquet_schema(), top.iter().flatten().copied());
                let mut out = Vec::new();
                let mut row = 0u64;
                for batch in builder
                    .with_projection(mask)
                    .build()
                    .map_err(|e| e.to_string())?
                {
                    let batch = batch.map_err(|e| e.to_string())?;
                    let cols = field_columns(&batch.schema(), fields);
                    for (i, k) in row_keys(&batch, &cols)?.iter().enumerate() {
                        if deleted.contains(k) {
                            out.push(row + i as u64);
                        }
                    }
                    row += batch.num_rows() as u64;
                }
                Ok(out)
            },
        ))
        .unwrap_or_else(|_| Err("the Parquet reader failed".into()))
        .map_err(fail)?;
        if !found.is_empty() {
            positions.entry(f.path.clone()).or_default().extend(found);
        }
    }
    Ok(())
}

/// One column of a Parquet file as text (strings as they are, integers in decimal).
fn column_text(bytes: Vec<u8>, column: &str, file: &str) -> Result<Vec<String>, IcebergError> {
    use arrow::array::Array;
    let at = |e: String| IcebergError::new(file, format!("equality deletes do not read: {e}"));
    let mut out = Vec::new();
    for batch in batches(bytes, file, "equality deletes")? {
        let (i, _) = batch
            .schema()
            .column_with_name(column)
            .ok_or_else(|| at(format!("no column {column}")))?;
        let c = arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| at(e.to_string()))?;
        let s = c
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| at("not text".into()))?;
        out.extend(
            (0..s.len())
                .filter(|&k| !s.is_null(k))
                .map(|k| s.value(k).to_string()),
        );
    }
    Ok(out)
}

/// Calls `visit(manifest, value)` for every lower / upper bound of the given identifier
/// columns (current-schema names) recorded in every manifest file under `metadata/`
/// (referenced or not), and for every partition value of a partition field named like
/// one (identity partitions): copies of identifier values that outlive the rows.
/// Values are given as text (strings as they are, integers in decimal, UUIDs in their
/// usual form).
pub fn visit_bounds(
    store: &dyn Store,
    view: &IcebergView,
    columns: &[String],
    visit: &mut dyn FnMut(&ObjectMeta, &str),
) -> Result<(), IcebergError> {
    let fields: BTreeMap<i32, String> = view
        .table
        .field_types
        .iter()
        .filter(|(name, _)| columns.iter().any(|c| c.eq_ignore_ascii_case(name)))
        .filter_map(|(name, ty)| Some((*view.table.field_ids.get(name)?, ty.clone())))
        .collect();
    if fields.is_empty() {
        return Ok(());
    }
    let listing = store.list_if_present(&metadata_dir(&view.table_path));
    if let Some(e) = listing.errors.first() {
        return Err(IcebergError::new(&e.path, e.message.clone()));
    }
    avro_limits();
    for o in listing.objects.iter().filter(|o| o.path.ends_with(".avro")) {
        let bytes = read_all(store, o)?;
        let reader = apache_avro::Reader::new(&bytes[..])
            .map_err(|e| IcebergError::new(&o.path, format!("not an Avro file: {e}")))?;
        for v in reader {
            let v = v.map_err(|e| IcebergError::new(&o.path, e.to_string()))?;
            let json = serde_json::Value::try_from(v)
                .map_err(|e| IcebergError::new(&o.path, e.to_string()))?;
            let Some(file) = json.get("data_file") else {
                // A manifest list: its partition summaries bound each identity partition.
                let spec = json
                    .get("partition_spec_id")
                    .and_then(|s| s.as_i64())
                    .unwrap_or(0);
                let identity = view.table.identity_partitions.get(&spec);
                let summaries = json.get("partitions").and_then(|p| p.as_array());
                for (pos, source) in identity.into_iter().flatten() {
                    let Some(ty) = fields.get(source) else {
                        continue;
                    };
                    let Some(summary) = summaries.and_then(|s| s.get(*pos)) else {
                        continue;
                    };
                    for key in ["lower_bound", "upper_bound"] {
                        let Some(raw) = summary.get(key).and_then(|v| v.as_array()) else {
                            continue;
                        };
                        if let Some(text) = json_bound_text(ty, raw) {
                            visit(o, &text);
                        }
                    }
                }
                continue;
            };
            // Partition values of an identity-partitioned identifier column are copies too.
            if let Some(part) = file.get("partition").and_then(|p| p.as_object()) {
                for (name, value) in part {
                    if !columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                        continue;
                    }
                    match value {
                        serde_json::Value::String(t) => visit(o, t),
                        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
                            visit(o, &n.to_string())
                        }
                        _ => {}
                    }
                }
            }
            for key in ["lower_bounds", "upper_bounds"] {
                for kv in file
                    .get(key)
                    .and_then(|b| b.as_array())
                    .into_iter()
                    .flatten()
                {
                    let (Some(id), Some(raw)) = (
                        kv.get("key").and_then(|k| k.as_i64()),
                        kv.get("value").and_then(|v| v.as_array()),
                    ) else {
                        continue;
                    };
                    let Some(ty) = fields.get(&(id as i32)) else {
                        continue;
                    };
                    if let Some(text) = json_bound_text(ty, raw) {
                        visit(o, &text);
                    }
                }
            }
        }
    }
    Ok(())
}

/// A bound as Avro bytes read into JSON (an array of byte values), as text.
fn json_bound_text(ty: &str, raw: &[serde_json::Value]) -> Option<String> {
    let b: Vec<u8> = raw
        .iter()
        .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect::<Option<_>>()?;
    bound_text(ty, &b)
}

/// A bound in Iceberg's single-value serialization, as text.
fn bound_text(ty: &str, b: &[u8]) -> Option<String> {
    match ty {
        "string" => String::from_utf8(b.to_vec()).ok(),
        "int" => Some(i32::from_le_bytes(b.try_into().ok()?).to_string()),
        "long" => Some(i64::from_le_bytes(b.try_into().ok()?).to_string()),
        "uuid" if b.len() == 16 => Some(crate::domain::delta::dv::uuid_text(b)),
        _ => None,
    }
}

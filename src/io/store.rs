//! The object-access seam: listing and ranged reads of a lake or evidence source.
//!
//! Everything vouch reads from a location goes through [`Store`], so that a local
//! directory and (later) an S3 prefix are scanned by the same code. Paths handed in and
//! out are relative to the store's root and always use `/`. A store never interprets
//! file contents.

/// One object (file) in a store. 96 bytes and its path (152 before `Origin`): a listing of a million files is
/// held whole while it is scanned, so what only a local file or only an S3 object has is
/// in [`Origin`], one or the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Relative path from the store root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Last modification, seconds since the Unix epoch (when the store knows it).
    pub modified: Option<i64>,
    pub origin: Origin,
}

/// What a store knows of an object beyond its path, size and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A local file.
    Local {
        /// What the file system says of the file beyond its size: nanosecond times and
        /// the inode. Together they change on every write (ctime cannot be set from user
        /// space), so the subject index and a plan can tell a rewritten file.
        stat: LocalStat,
        /// The file's device, with `stat.inode` the identity of the file itself: a file
        /// reached by two paths (symbolic or hard links) is read once. Never serialized:
        /// it differs between machines that mount the same files (a planned file has none).
        device: Option<u64>,
        /// The path passes through a symbolic link (a file reached through a link is read
        /// under its own path when both are listed). Never serialized.
        via_link: bool,
    },
    /// An S3 object, or an object of a store that says no more.
    Object {
        /// The S3 ETag as listed; reads are made conditional on it, so the bytes checked
        /// are the bytes listed.
        etag: Option<Box<str>>,
        /// The S3 version id, for versioned buckets.
        version_id: Option<Box<str>>,
        /// An older version of the object, listed only when versions are asked for.
        noncurrent: bool,
    },
}

impl Default for Origin {
    fn default() -> Self {
        Origin::Object {
            etag: None,
            version_id: None,
            noncurrent: false,
        }
    }
}

impl Origin {
    /// What a plan or report records of a file: a local file's stat, or an object's ETag
    /// and version (a record with both is taken as the local file it says it is).
    pub fn recorded(
        stat: Option<LocalStat>,
        etag: Option<&str>,
        version_id: Option<&str>,
        noncurrent: bool,
    ) -> Origin {
        match stat {
            Some(stat) => Origin::Local {
                stat,
                device: None,
                via_link: false,
            },
            None => Origin::object(etag, version_id, noncurrent),
        }
    }

    /// An object known by its ETag and version (either may be missing).
    pub fn object(etag: Option<&str>, version_id: Option<&str>, noncurrent: bool) -> Origin {
        Origin::Object {
            etag: etag.map(Into::into),
            version_id: version_id.map(Into::into),
            noncurrent,
        }
    }
}

impl ObjectMeta {
    pub fn etag(&self) -> Option<&str> {
        match &self.origin {
            Origin::Object { etag, .. } => etag.as_deref(),
            Origin::Local { .. } => None,
        }
    }

    pub fn version_id(&self) -> Option<&str> {
        match &self.origin {
            Origin::Object { version_id, .. } => version_id.as_deref(),
            Origin::Local { .. } => None,
        }
    }

    pub fn noncurrent(&self) -> bool {
        matches!(
            self.origin,
            Origin::Object {
                noncurrent: true,
                ..
            }
        )
    }

    pub fn stat(&self) -> Option<LocalStat> {
        match self.origin {
            Origin::Local { stat, .. } => Some(stat),
            Origin::Object { .. } => None,
        }
    }

    pub fn device(&self) -> Option<u64> {
        match self.origin {
            Origin::Local { device, .. } => device,
            Origin::Object { .. } => None,
        }
    }

    pub fn via_link(&self) -> bool {
        matches!(self.origin, Origin::Local { via_link: true, .. })
    }
}

/// The part of a local file's `stat` that changes whenever its contents can have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct LocalStat {
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    /// Status change time (ctime), nanoseconds since the Unix epoch.
    pub changed_ns: i64,
    pub inode: u64,
}

impl LocalStat {
    pub fn of(m: &std::fs::Metadata) -> LocalStat {
        use std::os::unix::fs::MetadataExt;
        LocalStat {
            modified_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
            changed_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
            inode: m.ino(),
        }
    }
}

/// What the root of a lake holds: the child directories (tables), the files that lie in
/// it directly, and what could not be listed or followed there.
#[derive(Debug, Default)]
pub struct RootListing {
    pub dirs: Vec<String>,
    pub files: Vec<String>,
    pub errors: Vec<StoreError>,
}

/// A failure to list or read, naming the object or directory.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

impl StoreError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What a listing found: objects, and the places that could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    pub errors: Vec<StoreError>,
}

pub trait Store: Send + Sync {
    /// A human-readable name of the root (a directory or an `s3://` URI).
    fn root(&self) -> String;
    /// The immediate children of the root, sorted: directories (`_` names included: a
    /// table may be called `_backup`), files, and entries that could not be followed. Only
    /// `.` names are left out. An error means the root itself could not be listed.
    fn root_entries(&self) -> Result<RootListing, StoreError>;
    /// Every object below `prefix` (a relative directory), at any depth, sorted by path.
    /// Names [`is_hidden`] calls hidden are skipped below `prefix` (not `prefix` itself).
    fn list(&self, prefix: &str) -> Listing;
    /// Like [`Store::list`] for a directory that may not exist (a table's `_delta_log/`,
    /// `_change_data/`): its absence is an empty listing, not an error.
    fn list_if_present(&self, prefix: &str) -> Listing {
        let mut l = self.list(prefix);
        l.errors
            .retain(|e| !(e.path == prefix && e.message.ends_with("not found")));
        l
    }
    /// How many reads to keep in flight: local files want one per core, a remote store
    /// many more (each read waits on the network).
    fn parallelism(&self) -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }
    /// Whether each read is a network round trip, so that fewer, larger reads pay (the
    /// scan then fetches a file's bloom filters in one read).
    fn is_remote(&self) -> bool {
        false
    }
    /// Like [`Store::list`], with every version of every object (current and noncurrent)
    /// where the store keeps versions; other stores list their objects.
    fn list_versions(&self, prefix: &str) -> Listing {
        self.list(prefix)
    }
    /// Opens a listed object for ranged reads (S3 reads are conditional on its ETag).
    fn open(&self, object: &ObjectMeta) -> Result<Box<dyn RangeRead>, StoreError>;
    /// Where a table's files really are when its paths are not the store's own (a
    /// catalog's table and its partitions): (directory handed out, real location). Empty
    /// for a store whose paths are its places.
    fn locations(&self, _table: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Ranged reads of one opened object.
pub trait RangeRead: Send + Sync {
    /// Reads exactly `len` bytes at `offset` into `buf` (replacing its contents). `buf` is
    /// the caller's reusable buffer: its capacity is kept, so a scan does not allocate and
    /// zero a fresh buffer for every column chunk.
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), StoreError>;
}

/// A listed object read whole (a table format's metadata file), refused over `limit`
/// bytes (`what` names the kind of file in the error) before anything is allocated.
pub fn read_whole(
    store: &dyn Store,
    o: &ObjectMeta,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, StoreError> {
    if o.size > limit {
        return Err(StoreError::new(
            &o.path,
            format!("{} bytes is over the {limit} byte limit for {what}", o.size),
        ));
    }
    let mut buf = Vec::new();
    store.open(o)?.read_into(0, o.size, &mut buf)?;
    Ok(buf)
}

/// True for names the engines skip as side files: `_SUCCESS`, `_temporary/`, `.crc`,
/// `.hive-staging`, ... A name starting with `_` that holds `=` is a Hive partition
/// (`_k=v`; Spark reads it) and is not hidden.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || (name.starts_with('_') && !name.contains('='))
}

/// An IO error as a short message without the path (the caller names the object).
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "not found".into(),
        PermissionDenied => "permission denied".into(),
        UnexpectedEof => "unexpected end of file".into(),
        _ => {
            let s = e.to_string();
            // Strip the "(os error N)" suffix; keep the words.
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// Ranged reads of one listed object through its store, for the `parquet` crate's readers
/// (each read is one ranged read of the object; errors name it).
#[derive(Clone)]
pub struct StoreChunkReader {
    inner: std::sync::Arc<dyn RangeRead>,
    size: u64,
    path: String,
}

impl StoreChunkReader {
    pub fn open(store: &dyn Store, o: &ObjectMeta) -> Result<StoreChunkReader, StoreError> {
        Ok(StoreChunkReader {
            inner: std::sync::Arc::from(store.open(o)?),
            size: o.size,
            path: o.path.clone(),
        })
    }
}

impl parquet::file::reader::Length for StoreChunkReader {
    fn len(&self) -> u64 {
        self.size
    }
}

impl parquet::file::reader::ChunkReader for StoreChunkReader {
    type T = std::io::Cursor<Vec<u8>>;
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let len = self.size.saturating_sub(start);
        self.get_bytes(start, len as usize)
            .map(|b| std::io::Cursor::new(b.to_vec()))
    }
    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        if start
            .checked_add(length as u64)
            .is_none_or(|e| e > self.size)
        {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "{}: read past the end",
                self.path
            )));
        }
        let mut buf = Vec::new();
        self.inner
            .read_into(start, length as u64, &mut buf)
            .map_err(|e| parquet::errors::ParquetError::General(e.to_string()))?;
        Ok(bytes::Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing of a million files holds a million of these: 96 bytes, not 152.
    #[test]
    fn an_object_is_small_and_says_only_what_its_store_knows() {
        assert!(std::mem::size_of::<ObjectMeta>() <= 96);
        let stat = LocalStat {
            modified_ns: 1,
            changed_ns: 2,
            inode: 3,
        };
        let local = ObjectMeta {
            path: "t/a.parquet".into(),
            size: 1,
            modified: Some(1),
            origin: Origin::Local {
                stat,
                device: Some(7),
                via_link: true,
            },
        };
        assert_eq!(
            (local.stat(), local.device(), local.via_link()),
            (Some(stat), Some(7), true)
        );
        assert_eq!(
            (local.etag(), local.version_id(), local.noncurrent()),
            (None, None, false)
        );
        let s3 = ObjectMeta {
            origin: Origin::object(Some("\"e\""), Some("v1"), true),
            ..local.clone()
        };
        assert_eq!(
            (s3.etag(), s3.version_id(), s3.noncurrent()),
            (Some("\"e\""), Some("v1"), true)
        );
        assert_eq!((s3.stat(), s3.device(), s3.via_link()), (None, None, false));
        // What a plan records: a local file's stat (no device: it is this machine's), or
        // an object's ETag and version.
        let planned = Origin::recorded(Some(stat), None, None, false);
        assert_eq!(
            planned,
            Origin::Local {
                stat,
                device: None,
                via_link: false
            }
        );
        assert_eq!(
            Origin::recorded(None, Some("e"), None, false),
            Origin::object(Some("e"), None, false)
        );
    }
}

//! The object-access seam: listing and ranged reads of a lake or evidence source.
//!
//! Everything vouch reads from a location goes through [`Store`], so that a local
//! directory and (later) an S3 prefix are scanned by the same code. Paths handed in and
//! out are relative to the store's root and always use `/`. A store never interprets
//! file contents.

use std::fs::File;
use std::path::{Path, PathBuf};

/// One object (file) in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Relative path from the store root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Last modification, seconds since the Unix epoch (when the store knows it).
    pub modified: Option<i64>,
    /// The S3 ETag as listed; reads are made conditional on it, so the bytes checked are
    /// the bytes listed.
    pub etag: Option<String>,
    /// The S3 version id, for versioned buckets.
    pub version_id: Option<String>,
    /// An older version of the object, listed only when versions are asked for.
    pub noncurrent: bool,
    /// What a local file system says of the file beyond its size: nanosecond times and
    /// the inode. Together they change on every write (ctime cannot be set from user
    /// space), so the subject index and a plan can tell a rewritten file.
    pub stat: Option<LocalStat>,
    /// The local file's device, with `stat.inode` the identity of the file itself: a file
    /// reached by two paths (symbolic or hard links) is read once. Never serialized: it
    /// differs between machines that mount the same files.
    pub device: Option<u64>,
    /// The path passes through a symbolic link (a file reached through a link is read
    /// under its own path when both are listed). Never serialized.
    pub via_link: bool,
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
    fn of(m: &std::fs::Metadata) -> LocalStat {
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
}

/// Ranged reads of one opened object.
pub trait RangeRead: Send + Sync {
    /// Reads exactly `len` bytes at `offset` into `buf` (replacing its contents). `buf` is
    /// the caller's reusable buffer: its capacity is kept, so a scan does not allocate and
    /// zero a fresh buffer for every column chunk.
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), StoreError>;
}

/// A local file opened for ranged reads.
pub struct LocalFile {
    file: File,
    path: String,
}

impl RangeRead for LocalFile {
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        let n = usize::try_from(len).map_err(|_| StoreError::new(&self.path, "read too large"))?;
        // Only the part of the buffer that grows is zeroed; the rest is overwritten.
        if buf.len() < n {
            buf.resize(n, 0);
        } else {
            buf.truncate(n);
        }
        self.file.read_exact_at(buf, offset).map_err(|e| {
            StoreError::new(
                &self.path,
                format!(
                    "cannot read {n} bytes at offset {offset}: {}",
                    io_message(&e)
                ),
            )
        })
    }
}

/// True for names the engines skip as side files: `_SUCCESS`, `_temporary/`, `.crc`,
/// `.hive-staging`, ... A name starting with `_` that holds `=` is a Hive partition
/// (`_k=v`; Spark reads it) and is not hidden.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || (name.starts_with('_') && !name.contains('='))
}

/// A directory on the local file system.
pub struct LocalStore {
    root: PathBuf,
    /// Evidence sources take every file; lakes skip `_` and `.` names.
    include_hidden: bool,
}

impl LocalStore {
    /// Opens a local directory; it must exist and be a directory.
    pub fn open(root: &Path) -> Result<LocalStore, StoreError> {
        let shown = root.display().to_string();
        let meta = std::fs::metadata(root).map_err(|e| StoreError::new(&shown, io_message(&e)))?;
        if !meta.is_dir() {
            return Err(StoreError::new(shown, "not a directory"));
        }
        Ok(LocalStore {
            root: root.to_path_buf(),
            include_hidden: false,
        })
    }

    /// Opens a directory whose every file counts, hidden names included (evidence sources).
    pub fn open_all(root: &Path) -> Result<LocalStore, StoreError> {
        Ok(LocalStore {
            include_hidden: true,
            ..LocalStore::open(root)?
        })
    }

    fn full(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Lists `rel` into `out`. `ancestors` holds the (device, inode) and path of every
    /// directory from the listed prefix down to `rel`: a directory that is one of its own
    /// ancestors (a symbolic link loop) is an error, never walked again.
    fn walk(
        &self,
        rel: &str,
        via_link: bool,
        ancestors: &mut Vec<((u64, u64), String)>,
        out: &mut Listing,
    ) {
        let dir = self.full(rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(StoreError::new(
                    rel,
                    format!("cannot list directory: {}", io_message(&e)),
                ));
                return;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => names.push(e),
                Err(e) => out.errors.push(StoreError::new(
                    rel,
                    format!("cannot list directory: {}", io_message(&e)),
                )),
            }
        }
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                out.errors.push(StoreError::new(
                    rel,
                    format!(
                        "the name {:?} is not valid UTF-8: it cannot be listed or checked",
                        e.file_name()
                    ),
                ));
                continue;
            };
            if is_hidden(&name) && !self.include_hidden {
                continue;
            }
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // Follow symlinks the way a reader would.
            let linked = via_link || e.file_type().is_ok_and(|t| t.is_symlink());
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => {
                    use std::os::unix::fs::MetadataExt;
                    let id = (m.dev(), m.ino());
                    if let Some((_, first)) = ancestors.iter().find(|(a, _)| *a == id) {
                        let first = if first.is_empty() { "." } else { first.as_str() };
                        out.errors.push(StoreError::new(
                            child,
                            format!("a symbolic link loop: this directory is {first} again"),
                        ));
                        continue;
                    }
                    ancestors.push((id, child.clone()));
                    self.walk(&child, linked, ancestors, out);
                    ancestors.pop();
                }
                Ok(m) if m.is_file() => {
                    use std::os::unix::fs::MetadataExt;
                    out.objects.push(ObjectMeta {
                        path: child,
                        size: m.len(),
                        modified: mtime(&m),
                        etag: None,
                        noncurrent: false,
                        version_id: None,
                        stat: Some(LocalStat::of(&m)),
                        device: Some(m.dev()),
                        via_link: linked,
                    })
                }
                Ok(_) => out.errors.push(StoreError::new(
                    child,
                    "not a regular file or directory (a device, socket or FIFO): it cannot be checked",
                )),
                Err(err) => out.errors.push(StoreError::new(child, follow_message(&e, &err))),
            }
        }
    }
}

/// Why an entry could not be followed; a symbolic link whose target is missing says so
/// (an unmounted disk looks like that).
fn follow_message(e: &std::fs::DirEntry, err: &std::io::Error) -> String {
    let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
    if is_link && err.kind() == std::io::ErrorKind::NotFound {
        let target = std::fs::read_link(e.path())
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        format!("a dangling symbolic link (to {target}): what it points to is not there")
    } else {
        io_message(err)
    }
}

/// A file's modification time in Unix seconds.
fn mtime(m: &std::fs::Metadata) -> Option<i64> {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
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

impl Store for LocalStore {
    fn root(&self) -> String {
        self.root.display().to_string()
    }

    fn root_entries(&self) -> Result<RootListing, StoreError> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| {
            StoreError::new(
                self.root(),
                format!("cannot list directory: {}", io_message(&e)),
            )
        })?;
        let mut out = RootListing::default();
        for e in entries {
            let e = e.map_err(|e| {
                StoreError::new(
                    self.root(),
                    format!("cannot list directory: {}", io_message(&e)),
                )
            })?;
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                out.errors.push(StoreError::new(
                    format!("{:?}", e.file_name()),
                    "a name in the lake location is not valid UTF-8: it cannot be listed or checked",
                ));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => out.dirs.push(name),
                Ok(m) if m.is_file() => out.files.push(name),
                Ok(_) => out.errors.push(StoreError::new(
                    name,
                    "not a regular file or directory (a device, socket or FIFO): it cannot be checked",
                )),
                Err(err) => out
                    .errors
                    .push(StoreError::new(name, follow_message(&e, &err))),
            }
        }
        out.dirs.sort();
        out.files.sort();
        out.errors.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn list(&self, prefix: &str) -> Listing {
        let mut out = Listing::default();
        let rel = prefix.trim_end_matches('/');
        let mut ancestors = Vec::new();
        if let Ok(m) = std::fs::metadata(self.full(rel)) {
            use std::os::unix::fs::MetadataExt;
            ancestors.push(((m.dev(), m.ino()), rel.to_string()));
        }
        self.walk(rel, false, &mut ancestors, &mut out);
        out
    }

    fn open(&self, object: &ObjectMeta) -> Result<Box<dyn RangeRead>, StoreError> {
        let path = object.path.as_str();
        let file =
            File::open(self.full(path)).map_err(|e| StoreError::new(path, io_message(&e)))?;
        // A file rewritten since it was listed (or planned) is not the file listed.
        let meta = file
            .metadata()
            .map_err(|e| StoreError::new(path, io_message(&e)))?;
        if meta.len() != object.size {
            return Err(StoreError::new(
                path,
                format!(
                    "changed since it was listed: {} bytes now, {} listed",
                    meta.len(),
                    object.size
                ),
            ));
        }
        let changed = object
            .modified
            .is_some_and(|listed| mtime(&meta) != Some(listed))
            || object
                .stat
                .is_some_and(|listed| LocalStat::of(&meta) != listed);
        if changed {
            return Err(StoreError::new(
                path,
                "changed since it was listed: modified since",
            ));
        }
        Ok(Box::new(LocalFile {
            file,
            path: path.to_string(),
        }))
    }
}

/// Opens a lake location: `s3://bucket/prefix` or a local directory.
pub fn open_location(
    location: &str,
    s3: &crate::s3::S3Options,
) -> Result<Box<dyn Store>, StoreError> {
    if location.starts_with("s3://") {
        Ok(Box::new(crate::s3::S3Store::connect(location, s3)?))
    } else {
        Ok(Box::new(LocalStore::open(std::path::Path::new(location))?))
    }
}

//! The local file system behind the [`Store`] seam: a lake or an evidence source that is a
//! directory.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::io::store::{
    Listing, LocalStat, ObjectMeta, Origin, RangeRead, RootListing, Store, StoreError, io_message,
    is_hidden,
};

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
                        origin: Origin::Local {
                            stat: LocalStat::of(&m),
                            device: Some(m.dev()),
                            via_link: linked,
                        },
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
                .stat()
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

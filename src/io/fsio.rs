//! Writing outputs so that no partial file is ever visible: temp file in the same
//! directory, fsync, rename over the target, fsync the directory. Only a regular file is
//! ever replaced: a symbolic link is written through (the link stays), a character device
//! or FIFO (`/dev/stdout`, `/dev/full`, a pipe) is written into directly, and anything
//! else (a directory, socket, block device, dangling link) is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A regular file, or no file yet, at this path (a link's target): temp file + rename.
    File(PathBuf),
    /// A character device or FIFO: written directly, there is nothing to replace.
    Stream(PathBuf),
}

/// A file that could not be read, written or replaced: its path and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    pub path: String,
    pub message: String,
}

impl FileError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FileError {
        FileError {
            path: path.into(),
            message: message.into(),
        }
    }

    fn io(path: &str, e: &std::io::Error) -> FileError {
        FileError::new(path, crate::io::store::io_message(e))
    }
}

/// Where a caller's errors are still one line of text.
impl From<FileError> for String {
    fn from(e: FileError) -> String {
        e.to_string()
    }
}

/// What writing to `path` would replace, or why it must not be written.
pub fn target(path: &Path) -> Result<Target, FileError> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display().to_string();
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Target::File(path.to_path_buf()));
        }
        Err(e) => return Err(FileError::io(&shown, &e)),
    };
    let t = m.file_type();
    if t.is_symlink() {
        return match std::fs::canonicalize(path) {
            Ok(real) if real != path => target(&real),
            Ok(_) => Err(FileError::new(
                shown,
                "a symbolic link that leads to itself",
            )),
            Err(_) => Err(FileError::new(
                shown,
                "a dangling symbolic link: refusing to replace it with a file",
            )),
        };
    }
    if t.is_file() {
        Ok(Target::File(path.to_path_buf()))
    } else if t.is_char_device() || t.is_fifo() {
        Ok(Target::Stream(path.to_path_buf()))
    } else {
        let what = if t.is_dir() {
            "a directory"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        Err(FileError::new(
            shown,
            format!("is {what}, not a regular file: refusing to replace it"),
        ))
    }
}

/// The regular file an output replaces (a link's target), for outputs that must be whole
/// files (bundles): a device, FIFO or anything else that is not a regular file is refused.
pub fn regular_target(path: &Path) -> Result<PathBuf, FileError> {
    match target(path)? {
        Target::File(p) => Ok(p),
        Target::Stream(_) => Err(FileError::new(
            path.display().to_string(),
            "is a device or FIFO, not a regular file: this output must be a file",
        )),
    }
}

/// Writes `bytes` to `path` atomically. With `overwrite` false an existing file is an error.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), FileError> {
    write_atomic_with(path, bytes, overwrite, true, false)
}

/// The same for a file only its owner may read (mode 0600 from creation): raw subject IDs.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic_with(path, bytes, true, true, true)
}

/// The same without fsync: the file appears whole or not at all, but a crash may lose it
/// or leave it unflushed. For derived files that are checksummed and rebuilt when bad
/// (the subject index's entries), where an fsync each would dominate the cost.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic_with(path, bytes, true, false, false)
}

fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    overwrite: bool,
    durable: bool,
    private: bool,
) -> Result<(), FileError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| FileError::io(&shown, &e);
    let path = match target(path)? {
        Target::File(p) => p,
        Target::Stream(p) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(io)?;
            return f.write_all(bytes).and_then(|_| f.flush()).map_err(io);
        }
    };
    let path = path.as_path();
    if !overwrite && path.exists() {
        return Err(FileError::new(
            shown,
            "already exists (use --force to overwrite)",
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = temp_path(path);
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(if private { 0o600 } else { 0o666 })
            .open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable && let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The handle type domain code reads through once io has opened a file.
pub use std::fs::File;

/// Opens a file for reading.
pub fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// A whole file's bytes.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// A file to read as a stream, or standard input for `-`, with the file's length when it
/// is a regular file. Standard input is read once: a second option naming `-` in the
/// same command is an error, not an empty file.
pub fn open_or_stdin(path: &Path) -> std::io::Result<(Box<dyn std::io::Read + Send>, Option<u64>)> {
    static STDIN_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if path == Path::new("-") {
        if STDIN_READ.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other(
                "standard input was read already (only one option may be `-`)",
            ));
        }
        Ok((Box::new(std::io::stdin()), None))
    } else {
        let f = File::open(path)?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        Ok((Box::new(f), len))
    }
}

/// A whole file's bytes, or standard input's for `-` (as [`open_or_stdin`]).
pub fn read_or_stdin(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::new();
    std::io::Read::read_to_end(&mut open_or_stdin(path)?.0, &mut b).map(|_| b)
}

/// A whole file as UTF-8 text, or standard input for `-` (as [`read_or_stdin`]).
pub fn read_to_string_or_stdin(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_or_stdin(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// A whole file as UTF-8 text.
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// The temp file a write of `path` goes through: `.NAME.vouch-PID.tmp` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    dir.join(format!(".{name}.vouch-{}.tmp", std::process::id()))
}

/// A new file written at a temp name beside its final path (`.NAME.vouch-PID.tmp`,
/// created exclusively, mode 0600 when `private`) and renamed over it by
/// [`TempFile::commit`]; dropped uncommitted, it is removed. For outputs streamed as they
/// are made (bundles, keys), where [`write_atomic`] would need the whole file in memory.
pub struct TempFile {
    tmp: PathBuf,
    dir: PathBuf,
    done: bool,
}

impl TempFile {
    /// The temp file for `path` (a regular file's path: see [`regular_target`]) and the
    /// handle to write it through.
    pub fn create(path: &Path, private: bool) -> std::io::Result<(TempFile, File)> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = temp_path(path);
        let dir = tmp.parent().unwrap_or(Path::new(".")).to_path_buf();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if private { 0o600 } else { 0o666 })
            .open(&tmp)?;
        let t = TempFile {
            tmp,
            dir,
            done: false,
        };
        Ok((t, file))
    }

    /// Where the temp file is (errors while writing it name this path).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the (already fsynced) temp file over `path` and fsyncs the directory.
    pub fn commit(mut self, path: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, path)?;
        self.done = true;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A file written as it is made and renamed into place when whole ([`StreamedFile::finish`]):
/// the streamed counterpart of [`write_atomic`] for outputs too large to hold (a custody
/// file of millions of lines). A device or FIFO is written into directly; anything else
/// that is not a regular file is refused, and so is an existing file without `overwrite`.
pub struct StreamedFile {
    shown: String,
    out: std::io::BufWriter<File>,
    /// The temp file and the final path; none when writing into a stream.
    place: Option<(TempFile, PathBuf)>,
}

impl StreamedFile {
    pub fn create(path: &Path, overwrite: bool) -> Result<StreamedFile, FileError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| FileError::io(&shown, &e);
        let (file, place) = match target(path)? {
            Target::Stream(p) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map_err(io)?;
                (f, None)
            }
            Target::File(p) => {
                if !overwrite && p.exists() {
                    return Err(FileError::new(
                        shown,
                        "already exists (use --force to overwrite)",
                    ));
                }
                let (tmp, f) = TempFile::create(&p, false).map_err(io)?;
                (f, Some((tmp, p)))
            }
        };
        Ok(StreamedFile {
            shown,
            out: std::io::BufWriter::with_capacity(1 << 16, file),
            place,
        })
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn finish(self) -> Result<(), FileError> {
        let shown = self.shown;
        let io = |e: std::io::Error| FileError::io(&shown, &e);
        let file = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        if let Some((tmp, path)) = self.place {
            file.sync_all().map_err(io)?;
            drop(file);
            tmp.commit(&path).map_err(io)?;
        }
        Ok(())
    }

    /// The path as given, for errors.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl Write for StreamedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Whether `path` is a regular file (through links).
pub fn is_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Whether two paths name the same file, as far as can be told before either exists
/// (links and `..` resolved through the parent directory).
pub fn same_place(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = std::fs::canonicalize(p) {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(parent).ok()?.join(p.file_name()?))
    };
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// Creates a directory and its parents.
pub fn create_dir_all(dir: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(dir).map_err(|e| FileError::io(&dir.display().to_string(), &e))
}

/// Holds an exclusive advisory lock on `path` (created when missing) until the returned
/// handle is dropped: writers of one directory take turns.
pub fn lock_exclusive(path: &Path) -> Result<File, FileError> {
    let shown = path.display().to_string();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| FileError::io(&shown, &e))?;
    f.lock().map_err(|e| FileError::io(&shown, &e))?;
    Ok(f)
}

/// The names in a directory (none when it cannot be read): for pruning files this
/// program wrote there.
pub fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect()
}

/// The bytes of every file below `dir` (what an index or bundle directory costs).
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// Removes a file this run wrote (a bundle whose recorded hash could not be written).
pub fn remove_written(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_refuse() {
        let dir = std::env::temp_dir().join(format!("vouch-fsio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        write_atomic(&p, b"one", false).unwrap();
        assert!(
            write_atomic(&p, b"two", false)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temp file left behind"
        );
        assert!(
            write_atomic(&dir.join("missing/r.json"), b"x", true)
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile_dir("targets");
        // A link is written through; the link stays a link.
        let real = dir.join("real.json");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", true).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link and a directory are refused, and stay.
        let dangling = dir.join("dangling.json");
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
        assert!(
            write_atomic(&dangling, b"x", true)
                .unwrap_err()
                .to_string()
                .contains("dangling")
        );
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(
            write_atomic(&sub, b"x", true)
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        assert!(sub.is_dir());
        // A character device is written into, never replaced.
        assert_eq!(
            target(Path::new("/dev/null")).unwrap(),
            Target::Stream("/dev/null".into())
        );
        write_atomic(Path::new("/dev/null"), b"x", true).unwrap();
        let err = write_atomic(Path::new("/dev/full"), b"x", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/full"), "{err}");
        assert!(
            std::fs::metadata("/dev/full")
                .map(|m| std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()))
                .unwrap()
        );
        assert!(regular_target(Path::new("/dev/null")).is_err());
        // A FIFO is written into: its reader gets the bytes, and it stays a FIFO.
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo (coreutils) makes the FIFO");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"report", true).unwrap();
        assert_eq!(reader.join().unwrap(), b"report");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vouch-fsio-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

//! Writing outputs so that no partial file is ever visible: temp file in the same
//! directory, fsync, rename over the target, fsync the directory.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically. With `overwrite` false an existing file is an error.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), String> {
    write_atomic_with(path, bytes, overwrite, true, false)
}

/// The same for a file only its owner may read (mode 0600 from creation): raw subject IDs.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomic_with(path, bytes, true, true, true)
}

/// The same without fsync: the file appears whole or not at all, but a crash may lose it
/// or leave it unflushed. For derived files that are checksummed and rebuilt when bad
/// (the subject index's entries), where an fsync each would dominate the cost.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomic_with(path, bytes, true, false, false)
}

fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    overwrite: bool,
    durable: bool,
    private: bool,
) -> Result<(), String> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| format!("{shown}: {}", crate::store::io_message(&e));
    if !overwrite && path.exists() {
        return Err(format!(
            "{shown}: already exists (use --force to overwrite)"
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.vouch-{}.tmp", std::process::id()));
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
                .contains("not found")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

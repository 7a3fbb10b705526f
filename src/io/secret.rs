//! Secrets read from files: refused when others may read them, or a group that is not
//! the process's own (a Kubernetes Secret mounted with `defaultMode: 0440` and the pod's
//! `fsGroup` is read; the default 0644 is not), and held in memory that is zeroed when
//! dropped.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::io::fsio::FileError;

pub use zeroize::Zeroizing;

/// Secret bytes: zeroed when dropped, never shown by `Debug`.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(Zeroizing::new(bytes))
    }
}

impl std::ops::Deref for SecretBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Keys and passphrases are short; an OpenSSH key file is a few kilobytes.
const MAX_SECRET_FILE: u64 = 1 << 20;

/// The contents of a secret file. Errors are one line naming the file and never quote it.
pub fn read_file(path: &Path) -> Result<SecretBytes, FileError> {
    let at = |m: String| FileError::new(path.display().to_string(), m);
    let mut f = std::fs::File::open(path).map_err(|e| at(crate::io::store::io_message(&e)))?;
    let meta = f
        .metadata()
        .map_err(|e| at(crate::io::store::io_message(&e)))?;
    if let Some(why) = loose(meta.permissions().mode(), meta.gid(), &own_groups()) {
        return Err(at(why.into()));
    }
    if meta.len() > MAX_SECRET_FILE {
        return Err(at(format!(
            "is {} bytes; a secret file holds at most {MAX_SECRET_FILE}",
            meta.len()
        )));
    }
    // Sized up front: a growing buffer would leave copies of the secret behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    f.read_to_end(&mut buf)
        .map_err(|e| at(crate::io::store::io_message(&e)))?;
    Ok(SecretBytes(buf))
}

/// Why a secret file with `mode`, owned by group `gid`, is too open for a process in
/// `groups`, if it is: others may not read or write it; its group may only read it, and
/// only when that group is one of the process's own.
fn loose(mode: u32, gid: u32, groups: &[u32]) -> Option<&'static str> {
    if mode & 0o007 != 0 {
        Some(
            "secret file is readable by others (chmod 600 it, or 440 for a group of this process's)",
        )
    } else if mode & 0o030 != 0 {
        Some("secret file is writable by its group (chmod 600 or 440 it)")
    } else if mode & 0o040 != 0 && !groups.contains(&gid) {
        Some(
            "secret file is readable by a group this process is not in (chmod 600 it, or give it one of this process's groups)",
        )
    } else {
        None
    }
}

/// The process's effective group and its supplementary groups.
fn own_groups() -> Vec<u32> {
    // SAFETY: getegid cannot fail; getgroups is given a buffer of the size it reported
    // and returns how many entries it filled (or -1, leaving none).
    unsafe {
        let mut groups = vec![libc::getegid()];
        let n = libc::getgroups(0, std::ptr::null_mut());
        if n > 0 {
            let mut buf = vec![0 as libc::gid_t; n as usize];
            let got = libc::getgroups(n, buf.as_mut_ptr());
            if got > 0 {
                groups.extend(buf.iter().take(got as usize).copied());
            }
        }
        groups
    }
}

/// The first line of a secret file, without its line ending; an empty one is an error.
pub fn read_first_line(path: &Path, what: &str) -> Result<SecretBytes, FileError> {
    let all = read_file(path)?;
    let line = all.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(FileError::new(
            path.display().to_string(),
            format!("the {what} is empty"),
        ));
    }
    Ok(SecretBytes::new(line.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kubernetes mounts a Secret 0644 by default (refused), 0440 root:fsGroup with
    /// `defaultMode: 0440` and `fsGroup` (read: the group is the pod process's own).
    #[test]
    fn a_group_may_read_only_when_it_is_the_processs_own() {
        let mine = [1000, 2000];
        assert_eq!(loose(0o600, 5, &mine), None);
        assert_eq!(loose(0o400, 5, &mine), None);
        assert_eq!(loose(0o440, 2000, &mine), None);
        assert_eq!(loose(0o640, 1000, &mine), None);
        assert!(loose(0o440, 3000, &mine).unwrap().contains("not in"));
        assert!(loose(0o644, 2000, &mine).unwrap().contains("by others"));
        assert!(loose(0o604, 2000, &mine).unwrap().contains("by others"));
        assert!(
            loose(0o660, 2000, &mine)
                .unwrap()
                .contains("writable by its group")
        );
        assert!(loose(0o620, 2000, &mine).unwrap().contains("writable"));
        // The real file: its group is this process's (the creator's), so 0640 reads.
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("k");
        std::fs::write(&p, "s3cr3t\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o440)).unwrap();
        assert_eq!(&*read_first_line(&p, "key").unwrap(), b"s3cr3t");
        assert!(own_groups().contains(&std::fs::metadata(&p).unwrap().gid()));
    }

    #[test]
    fn loose_files_are_refused_and_lines_are_cut() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("s");
        std::fs::write(&p, "hunter2-secret\r\nsecond\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("readable by others") && !e.contains("hunter2"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&*read_first_line(&p, "key").unwrap(), b"hunter2-secret");
        std::fs::write(&p, "\nx").unwrap();
        assert!(
            read_first_line(&p, "key")
                .unwrap_err()
                .to_string()
                .ends_with("the key is empty")
        );
        assert!(read_file(&t.path().join("missing")).is_err());
        let big = t.path().join("big");
        std::fs::write(&big, vec![b'k'; (1 << 20) + 1]).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = read_file(&big).unwrap_err();
        assert_eq!(e.path, big.display().to_string());
        assert!(e.message.contains("at most"), "{e}");
    }

    /// Every type that holds a secret, and every error that a secret passes through, is
    /// formatted (Display and Debug): the secret never shows.
    #[test]
    fn no_secret_in_debug_output_or_errors() {
        const SECRET: &str = "SECRET-canary-0123456789abcdef";
        let t = tempfile::tempdir().unwrap();
        let secret_at = |name: &str, text: &str, mode: u32| {
            let p = t.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let mut shown: Vec<String> = Vec::new();
        let cfg = crate::domain::config::Config::parse(&format!(
            "[privacy]\nsubject_key = \"{SECRET}\"\n"
        ))
        .unwrap();
        shown.push(format!("{cfg:?}"));
        let key = cfg.subject_key(None).unwrap().unwrap();
        assert_eq!(&*key, SECRET.as_bytes());
        shown.push(format!(
            "{:?}",
            crate::domain::subjects::SubjectLabeler::keyed(&key).unwrap()
        ));
        shown.push(format!("{:?}", crate::domain::index::IndexKey::new(&key)));
        // A key file others may read; an empty one; a config naming them.
        let loose = secret_at("loose.key", SECRET, 0o644);
        shown.push(read_file(&loose).unwrap_err().to_string());
        shown.push(format!("{:?}", read_file(&loose).unwrap_err()));
        let cfg = crate::domain::config::Config::parse(&format!(
            "[privacy]\nsubject_key_file = {:?}\n",
            loose.display().to_string()
        ))
        .unwrap();
        let e = cfg.subject_key(None).unwrap_err();
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
        // A signing key file holding the secret instead of a key; a wrong passphrase.
        let bogus = secret_at("bogus", SECRET, 0o600);
        let e = crate::domain::keys::SigningKey::load(&bogus, Some(SECRET.as_bytes())).unwrap_err();
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
        let prefix = t.path().join("signing");
        crate::domain::keys::keygen(&prefix, Some(b"right passphrase"), false).unwrap();
        let e =
            crate::domain::keys::SigningKey::load(&prefix, Some(SECRET.as_bytes())).unwrap_err();
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
        let k = crate::domain::keys::SigningKey::load(&prefix, Some(b"right passphrase")).unwrap();
        shown.push(format!("{k:?}"));
        // Passphrase files: loose, not UTF-8, fine.
        let e = crate::domain::export::read_passphrase_file(&secret_at("p1", SECRET, 0o604))
            .unwrap_err();
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
        let bad = t.path().join("p2");
        std::fs::write(&bad, [SECRET.as_bytes(), b"\xff\n"].concat()).unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = crate::domain::export::read_passphrase_file(&bad).unwrap_err();
        shown.push(e.to_string());
        let ok =
            crate::domain::export::read_passphrase_file(&secret_at("p3", SECRET, 0o600)).unwrap();
        shown.push(format!("{ok:?}"));
        shown.push(format!(
            "{:?}",
            read_first_line(&secret_at("p4", SECRET, 0o600), "x")
        ));
        assert!(shown.len() >= 15);
        // Also as Debug renders bytes: a list of numbers.
        let as_numbers = format!("{:?}", &SECRET.as_bytes()[..4])
            .trim_end_matches(']')
            .to_string();
        for s in &shown {
            assert!(!s.contains(SECRET) && !s.contains("canary"), "{s}");
            assert!(!s.contains(&as_numbers), "{s}");
        }
    }
}

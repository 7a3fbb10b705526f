//! OpenSSH Ed25519 signing keys and SSHSIG signatures — the format `ssh-keygen -Y sign`
//! and `ssh-keygen -Y verify` use, so auditors verify with what they already have.
//!
//! Secret keys are refused when group or world can read them, and never appear in errors
//! or `Debug` output. Signatures use SHA-512, as `ssh-keygen` does.

use std::io::Write;
use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The namespace of evidence bundle signatures.
pub const EVIDENCE_NAMESPACE: &str = "vouch-evidence";
/// The namespace of deletion certificates.
pub const DELETION_NAMESPACE: &str = "vouch-deletion";
/// The principal written into `PREFIX.allowed_signers`.
pub const PRINCIPAL: &str = "vouch";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// A secret file refused or unreadable (the message names it).
    #[error("{0}")]
    Secret(crate::io::fsio::FileError),
}

fn err(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// A loaded secret key. Its `Debug` shows only the public half.
pub struct SigningKey {
    key: PrivateKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public_openssh())
    }
}

impl SigningKey {
    /// Loads an OpenSSH private key (`vouch keygen` or `ssh-keygen -t ed25519`), decrypting
    /// it with `passphrase` when it is protected. Refuses a file others can read.
    pub fn load(path: &Path, passphrase: Option<&[u8]>) -> Result<SigningKey, KeyError> {
        let raw = crate::io::secret::read_file(path).map_err(KeyError::Secret)?;
        let text =
            std::str::from_utf8(&raw).map_err(|_| err(path, "not an OpenSSH private key"))?;
        let key = PrivateKey::from_openssh(text.trim_end())
            .map_err(|_| err(path, "not an OpenSSH private key"))?;
        let key = if key.is_encrypted() {
            let Some(p) = passphrase else {
                return Err(err(
                    path,
                    "secret key is passphrase-protected (give --signing-key-passphrase-file)",
                ));
            };
            key.decrypt(p)
                .map_err(|_| err(path, "wrong passphrase for the secret key"))?
        } else {
            key
        };
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(err(
                path,
                format!(
                    "{} keys are not supported; use an Ed25519 key",
                    key.algorithm()
                ),
            ));
        }
        Ok(SigningKey { key })
    }

    /// Signs `msg` in `namespace`; the armored SSHSIG text `ssh-keygen -Y verify` reads.
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<String, KeyError> {
        let sig = self
            .key
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| KeyError::File {
                path: "signature".into(),
                message: e.to_string(),
            })?;
        let mut pem = sig.to_pem(LineEnding::LF).map_err(|e| KeyError::File {
            path: "signature".into(),
            message: e.to_string(),
        })?;
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        Ok(pem)
    }

    pub fn public_openssh(&self) -> String {
        self.key.public_key().to_openssh().unwrap_or_default()
    }
}

/// A public key to verify with.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    key: PublicKey,
}

impl VerifyingKey {
    /// Reads an OpenSSH public key file (`KEY.pub`).
    pub fn from_public_key_file(path: &Path) -> Result<VerifyingKey, KeyError> {
        let text = crate::io::fsio::read_to_string(path)
            .map_err(|e| err(path, crate::io::store::io_message(&e)))?;
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let key =
            PublicKey::from_openssh(line).map_err(|_| err(path, "not an OpenSSH public key"))?;
        Ok(VerifyingKey { key })
    }

    /// Reads the keys of an `allowed_signers` file that may sign in `namespace` (lines
    /// `principals [options] keytype base64 [comment]`, as `ssh-keygen -Y verify` reads).
    pub fn from_allowed_signers(
        path: &Path,
        namespace: &str,
    ) -> Result<Vec<VerifyingKey>, KeyError> {
        let text = crate::io::fsio::read_to_string(path)
            .map_err(|e| err(path, crate::io::store::io_message(&e)))?;
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            let Some(at) = words
                .iter()
                .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-"))
            else {
                return Err(err(path, format!("line {}: no public key", i + 1)));
            };
            let options = &words[1..at];
            if let Some(ns) = options.iter().find_map(|o| o.strip_prefix("namespaces="))
                && !ns.trim_matches('"').split(',').any(|n| n == namespace)
            {
                continue;
            }
            let key = PublicKey::from_openssh(&words[at..].join(" "))
                .map_err(|_| err(path, format!("line {}: not an OpenSSH public key", i + 1)))?;
            keys.push(VerifyingKey { key });
        }
        if keys.is_empty() {
            return Err(err(
                path,
                format!("no key may sign in namespace {namespace}"),
            ));
        }
        Ok(keys)
    }

    /// Checks an armored SSHSIG over `msg` in `namespace`.
    pub fn verify(&self, namespace: &str, msg: &[u8], armored: &[u8]) -> Result<(), String> {
        let sig = SshSig::from_pem(armored)
            .map_err(|_| "the signature is not an SSH signature".to_string())?;
        if sig.namespace() != namespace {
            return Err(format!(
                "the signature is for namespace {:?}, not {namespace:?}",
                sig.namespace()
            ));
        }
        self.key
            .verify(namespace, msg, &sig)
            .map_err(|_| "the signature does not verify with this key".to_string())
    }

    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }
}

/// What `vouch keygen` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeygenSummary {
    pub secret_key: String,
    pub public_key: String,
    pub allowed_signers: String,
    pub fingerprint: String,
}

/// Writes `PREFIX` (the secret key, mode 0600), `PREFIX.pub` and `PREFIX.allowed_signers`.
pub fn keygen(
    prefix: &Path,
    passphrase: Option<&[u8]>,
    force: bool,
) -> Result<KeygenSummary, KeyError> {
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let (public_path, signers_path) = (with(".pub"), with(".allowed_signers"));
    for p in [prefix, public_path.as_path(), signers_path.as_path()] {
        if !force && p.exists() {
            return Err(err(p, "already exists (use --force to overwrite)"));
        }
    }
    let mut rng = ssh_key::rand_core::OsRng;
    let mut key = PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519)
        .map_err(|e| err(prefix, format!("cannot generate a key: {e}")))?;
    key.set_comment(PRINCIPAL);
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| err(prefix, e.to_string()))?;
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    let stored = match passphrase {
        Some(p) => key
            .encrypt(&mut rng, p)
            .map_err(|e| err(prefix, format!("cannot encrypt the key: {e}")))?,
        None => key,
    };
    let secret = stored
        .to_openssh(LineEnding::LF)
        .map_err(|e| err(prefix, e.to_string()))?;
    // The secret key is created 0600 from the start, never widened.
    let write_secret = || -> std::io::Result<()> {
        let (tmp, mut f) = crate::io::fsio::TempFile::create(prefix, true)?;
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
        tmp.commit(prefix)
    };
    write_secret().map_err(|e| err(prefix, crate::io::store::io_message(&e)))?;
    // The file error names the file (a KeyError::File around it named it twice).
    let file_error = |e: crate::io::fsio::FileError| KeyError::File {
        path: e.path,
        message: e.message,
    };
    crate::io::fsio::write_atomic(&public_path, format!("{public}\n").as_bytes(), true)
        .map_err(file_error)?;
    let signers =
        format!("{PRINCIPAL} namespaces=\"{EVIDENCE_NAMESPACE},{DELETION_NAMESPACE}\" {public}\n");
    crate::io::fsio::write_atomic(&signers_path, signers.as_bytes(), true).map_err(file_error)?;
    Ok(KeygenSummary {
        secret_key: prefix.display().to_string(),
        public_key: public_path.display().to_string(),
        allowed_signers: signers_path.display().to_string(),
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_sign_and_verify_and_refuse_loose_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        let s = keygen(&prefix, None, false).unwrap();
        assert!(
            keygen(&prefix, None, false).is_err(),
            "no overwrite without force"
        );
        let mode = std::fs::metadata(&prefix).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = SigningKey::load(&prefix, None).unwrap();
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let sig = key.sign(EVIDENCE_NAMESPACE, b"hello").unwrap();
        let v = VerifyingKey::from_public_key_file(Path::new(&s.public_key)).unwrap();
        v.verify(EVIDENCE_NAMESPACE, b"hello", sig.as_bytes())
            .unwrap();
        assert!(
            v.verify(EVIDENCE_NAMESPACE, b"hellO", sig.as_bytes())
                .is_err()
        );
        assert!(
            v.verify(DELETION_NAMESPACE, b"hello", sig.as_bytes())
                .unwrap_err()
                .contains("namespace")
        );
        let signers =
            VerifyingKey::from_allowed_signers(Path::new(&s.allowed_signers), EVIDENCE_NAMESPACE)
                .unwrap();
        assert_eq!(signers.len(), 1);
        assert!(
            VerifyingKey::from_allowed_signers(Path::new(&s.allowed_signers), "other").is_err()
        );
        std::fs::set_permissions(&prefix, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SigningKey::load(&prefix, None).unwrap_err().to_string();
        assert!(
            e.ends_with("secret file is readable by others (chmod 600 it, or 440 for a group of this process's)"),
            "{e}"
        );
    }

    #[test]
    fn passphrase_protected_keys_need_their_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        keygen(&prefix, Some(b"s3cret pass"), false).unwrap();
        assert!(
            SigningKey::load(&prefix, None)
                .unwrap_err()
                .to_string()
                .contains("passphrase-protected")
        );
        assert!(
            SigningKey::load(&prefix, Some(b"wrong"))
                .unwrap_err()
                .to_string()
                .contains("wrong passphrase")
        );
        SigningKey::load(&prefix, Some(b"s3cret pass")).unwrap();
    }
}

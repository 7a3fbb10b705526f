//! `vouch keygen`: an OpenSSH Ed25519 key pair and its allowed_signers file.

use std::path::PathBuf;

use crate::domain::keys::KeygenSummary;
use crate::ops::{OpError, Overwrite};

pub struct Options {
    pub out: PathBuf,
    pub passphrase_file: Option<PathBuf>,
    pub overwrite: Overwrite,
}

pub fn run(opts: &Options) -> Result<KeygenSummary, OpError> {
    let passphrase = opts
        .passphrase_file
        .as_deref()
        .map(|p| crate::io::secret::read_first_line(p, "passphrase"))
        .transpose()?;
    Ok(crate::domain::keys::keygen(
        &opts.out,
        passphrase.as_ref().map(|p| &p[..]),
        opts.overwrite.allowed(),
    )?)
}

pub fn to_text(s: &KeygenSummary) -> String {
    format!(
        "wrote {} (secret, mode 0600), {} and {}\nfingerprint {}\n",
        s.secret_key, s.public_key, s.allowed_signers, s.fingerprint
    )
}

//! `vouch evidence build` (and upload under S3 Object Lock) and `vouch evidence verify`.
//! The nightly `evidence_bundle` check calls [`build`] too.

use std::path::{Path, PathBuf};

use crate::domain::evidence::{
    BuildRequest, BuildSummary, RetentionMode, Source, VerifyReport, VerifyVerdict,
};
use crate::domain::keys::{EVIDENCE_NAMESPACE, SigningKey, VerifyingKey};
use crate::domain::time::Timestamp;
use crate::io::local::LocalStore;
use crate::io::s3::S3Store;
use crate::io::store::Store;
use crate::ops::{Env, OpError, Overwrite};

/// Where to upload the bundle, and whether a bundle already there with the same SHA-256
/// counts as uploaded (a nightly rerun) or is uploaded again (a new version).
#[derive(Debug, Clone)]
pub struct Upload {
    pub target: String,
    pub skip_if_same: bool,
}

pub struct BuildOptions {
    /// Directories or `s3://` prefixes; every file below each.
    pub sources: Vec<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub out: PathBuf,
    pub overwrite: Overwrite,
    /// The bagging date (default: `env.now`'s).
    pub as_of: Option<Timestamp>,
    pub retention_years: u32,
    pub retention_mode: RetentionMode,
    pub legal_hold: bool,
    pub organization: Option<String>,
    pub upload: Option<Upload>,
    /// Bag an empty payload instead of refusing it.
    pub allow_empty: bool,
}

/// What happened to the bundle in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploaded {
    NotAsked,
    /// The same bytes were there already (`skip_if_same`).
    AlreadyThere {
        uri: String,
    },
    /// Uploaded and read back: `summary.upload` holds the receipt.
    Uploaded,
}

pub struct BuildOutcome {
    pub summary: BuildSummary,
    pub uploaded: Uploaded,
}

/// The signing key, from its file and the passphrase on the first line of another.
pub fn signing_key(key: &Path, passphrase_file: Option<&Path>) -> Result<SigningKey, OpError> {
    let passphrase = passphrase_file
        .map(|p| crate::io::secret::read_first_line(p, "passphrase"))
        .transpose()?;
    Ok(SigningKey::load(key, passphrase.as_ref().map(|p| &p[..]))?)
}

fn source(location: &str, env: &Env<'_>) -> Result<Source, OpError> {
    let store: Box<dyn Store> = if location.starts_with("s3://") {
        Box::new(S3Store::connect_all(location, &env.s3)?)
    } else {
        Box::new(LocalStore::open_all(Path::new(location))?)
    };
    Ok(Source {
        location: location.to_string(),
        store,
    })
}

/// Builds the bundle and, when asked, uploads it under Object Lock and reads the lock and
/// checksum back. The upload target is connected first: a bad one fails before the work.
pub fn build(
    opts: &BuildOptions,
    key: &SigningKey,
    env: &Env<'_>,
) -> Result<BuildOutcome, OpError> {
    let upload = match &opts.upload {
        Some(u) => Some((S3Store::connect(&u.target, &env.s3)?, u)),
        None => None,
    };
    let sources = opts
        .sources
        .iter()
        .map(|s| source(s, env))
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = crate::domain::evidence::build(&BuildRequest {
        sources,
        from: opts.from.map(Timestamp::secs),
        to: opts.to.map(Timestamp::secs),
        signing_key: key,
        out: opts.out.clone(),
        force: opts.overwrite.allowed(),
        bagging_date: opts.as_of.unwrap_or(env.now).date(),
        retention_years: opts.retention_years,
        retention_mode: opts.retention_mode,
        legal_hold: opts.legal_hold,
        organization: opts.organization.clone(),
        allow_empty: opts.allow_empty,
        progress: env.progress,
    })?;
    let mut uploaded = Uploaded::NotAsked;
    if let Some((store, u)) = upload {
        let name = opts
            .out
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("evidence.zip");
        let same = u.skip_if_same && store.uploaded_sha256(name)? == Some(summary.sha256.clone());
        if same {
            uploaded = Uploaded::AlreadyThere {
                uri: format!("{}/{name}", u.target),
            };
        } else {
            let retain_until = crate::domain::retention::day_start(&summary.retain_until)
                .ok_or_else(|| OpError::Failed("internal: bad Retain-Until".into()))?;
            let lock = crate::io::s3::Lock {
                compliance: opts.retention_mode == RetentionMode::Compliance,
                retain_until,
                legal_hold: opts.legal_hold,
            };
            summary.upload = Some(store.put_locked(name, &opts.out, &summary.sha256, &lock)?);
            uploaded = Uploaded::Uploaded;
        }
    }
    Ok(BuildOutcome { summary, uploaded })
}

impl BuildOutcome {
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let s = &self.summary;
        crate::ops::text(|out| {
            writeln!(
                out,
                "wrote {}: {} file(s), {} payload bytes, {} zip bytes",
                s.out, s.files, s.payload_bytes, s.zip_bytes
            )?;
            writeln!(out, "sha256 {}", s.sha256)?;
            writeln!(
                out,
                "retain until {} ({}){}",
                s.retain_until,
                s.retention_mode.as_str(),
                if s.legal_hold { ", legal hold" } else { "" }
            )?;
            if let Some(u) = &s.upload {
                writeln!(
                    out,
                    "uploaded {}{} (version {}), locked {} until {}, checksum verified",
                    u.uri,
                    if u.parts > 1 {
                        format!(" in {} parts", u.parts)
                    } else {
                        String::new()
                    },
                    u.version_id.as_deref().unwrap_or("-"),
                    u.retention_mode,
                    u.retain_until
                )?;
            }
            Ok(())
        })
    }
}

/// Whose signature a bundle must carry.
pub enum Signers {
    PublicKey(PathBuf),
    AllowedSigners(PathBuf),
}

pub struct VerifyOptions {
    pub bundle: PathBuf,
    pub signers: Signers,
}

pub fn verify(opts: &VerifyOptions) -> Result<VerifyReport, OpError> {
    let keys = match &opts.signers {
        Signers::PublicKey(p) => vec![VerifyingKey::from_public_key_file(p)?],
        Signers::AllowedSigners(f) => VerifyingKey::from_allowed_signers(f, EVIDENCE_NAMESPACE)?,
    };
    Ok(crate::domain::evidence::verify(&opts.bundle, &keys)?)
}

pub fn verify_text(bundle: &Path, r: &VerifyReport) -> String {
    use std::fmt::Write as _;
    crate::ops::text(|out| {
        match r.verdict {
            VerifyVerdict::Verified => writeln!(
                out,
                "VERIFIED: {}: {} file(s), {} bytes, signed by {}; retain until {}",
                bundle.display(),
                r.files,
                r.payload_bytes,
                r.signer.as_deref().unwrap_or("?"),
                r.retain_until.as_deref().unwrap_or("?")
            )?,
            VerifyVerdict::NotVerified => writeln!(
                out,
                "NOT VERIFIED: {}: {} problem(s)",
                bundle.display(),
                r.problems.len()
            )?,
        }
        for p in &r.problems {
            writeln!(out, "  {p}")?;
        }
        Ok(())
    })
}

pub fn verify_exit_code(r: &VerifyReport) -> u8 {
    u8::from(!r.problems.is_empty())
}

//! `vouch export`: a subject's rows from every table, zipped, age-encrypted and hashed.

use std::path::PathBuf;

use crate::domain::export::{DataFormat, Encryption, ExportRequest, ExportSummary};
use crate::domain::scan::ScanOptions;
use crate::domain::subjects::SubjectLabeler;
use crate::domain::time::Timestamp;
use crate::ops::scan::{RequestParts, Subjects};
use crate::ops::{Env, LakeLocation, OpError, Overwrite};

/// Whom the bundle is encrypted to.
pub enum EncryptTo {
    /// `age1…` / `ssh-ed25519 …` / `ssh-rsa …` given one by one, and a recipients file.
    Recipients {
        recipients: Vec<String>,
        file: Option<PathBuf>,
    },
    /// The passphrase on the first line of this file (scrypt).
    PassphraseFile(PathBuf),
}

pub struct Options {
    pub lake: LakeLocation,
    pub subjects: Subjects,
    pub request_id: Option<String>,
    pub to: EncryptTo,
    pub out: PathBuf,
    pub overwrite: Overwrite,
    pub data_format: DataFormat,
    /// "Generated at" (default: `env.now`).
    pub as_of: Option<Timestamp>,
    pub include_versions: bool,
}

fn encryption(to: &EncryptTo) -> Result<Encryption, OpError> {
    Ok(match to {
        EncryptTo::PassphraseFile(p) => {
            Encryption::Passphrase(crate::domain::export::read_passphrase_file(p)?)
        }
        EncryptTo::Recipients { recipients, file } => {
            let mut rs = Vec::new();
            for (i, r) in recipients.iter().enumerate() {
                rs.push(
                    crate::domain::export::parse_recipient(r)
                        .map_err(|e| OpError::Failed(format!("--recipient {}: {e}", i + 1)))?,
                );
            }
            if let Some(f) = file {
                rs.extend(crate::domain::export::read_recipients_file(f)?);
            }
            Encryption::Recipients(rs)
        }
    })
}

pub fn run(opts: &Options, env: &Env<'_>) -> Result<ExportSummary, OpError> {
    let subjects = opts.subjects.read()?;
    let opened = crate::ops::open_lake(&opts.lake, env)?;
    let encryption = encryption(&opts.to)?;
    let req = ExportRequest {
        scan: crate::ops::scan::request(
            &opened,
            &subjects,
            RequestParts {
                holds: Default::default(),
                labeler: SubjectLabeler::plain(),
                options: ScanOptions::for_lake(&opened.cfg.lake),
                index: None,
                recall: None,
                prescan: None,
            },
            true,
            opts.include_versions,
        ),
        request_id: opts.request_id.clone(),
        format: opts.data_format,
        encryption,
        generated_at: opts.as_of.unwrap_or(env.now).rfc3339(),
        out: opts.out.clone(),
        force: opts.overwrite.allowed(),
    };
    let summary = crate::ops::in_pool(None, opened.store.as_ref(), || {
        crate::domain::export::export(req, env.progress)
    })?;
    Ok(summary?)
}

pub fn to_text(s: &ExportSummary) -> String {
    use std::fmt::Write as _;
    crate::ops::text(|out| {
        writeln!(
            out,
            "wrote {} ({} bytes, {} row(s))",
            s.out, s.bytes, s.rows
        )?;
        writeln!(out, "sha256 {}", s.sha256)?;
        if let Some(r) = &s.request_id {
            writeln!(out, "request {r}")?;
        }
        for t in &s.tables {
            match t.noncurrent_rows {
                Some(n) => writeln!(
                    out,
                    "  {:<24} {} row(s), {n} in noncurrent versions",
                    t.table, t.rows
                )?,
                None => writeln!(out, "  {:<24} {} row(s)", t.table, t.rows)?,
            }
        }
        Ok(())
    })
}

//! Deletion certificates: what `vouch nightly` found for one verified delete request, as a
//! small JSON document signed with SSHSIG (namespace `vouch-deletion`), verifiable with
//! `vouch certificate verify` and with `ssh-keygen -Y verify`. It holds the request id
//! and the subject's keyed hash, never the subject ID.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::custody::{CustodyDigest, CustodyProblem};
use crate::domain::keys::{DELETION_NAMESPACE, SigningKey, VerifyingKey};
use crate::domain::report::{ObjectRecord, Residual, ScanReport, Verdict};

pub const KIND: &str = "vouch-deletion-certificate";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub schema_version: u32,
    pub kind: String,
    pub request_id: String,
    /// `hmac-sha256:<hex>` of the subject ID.
    pub subject: String,
    /// When the request was completed (the deletion was done), RFC 3339.
    pub completed_at: Option<String>,
    /// The time the lake was checked for (`--as-of`), RFC 3339.
    pub verified_at: String,
    pub tool: String,
    pub lake: String,
    /// `clean`: no row of the subject outside legal holds; `residual`: rows remain;
    /// `incomplete`: some file could not be read, so nothing is certified.
    pub verdict: String,
    pub rows_scanned: u64,
    pub residual_rows: u64,
    pub held_rows: u64,
    pub tables: Vec<CertifiedTable>,
    pub residuals: Vec<CertifiedResidual>,
    /// Every object checked: path, size, ETag / version id (S3), footer SHA-256. Empty
    /// when the scan wrote a custody file (`custody`): the objects are its lines.
    pub files: Vec<ObjectRecord>,
    /// The scan's custody file (one line per object checked): its name, SHA-256 and line
    /// count. `vouch certificate verify` looks for it beside the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<CustodyDigest>,
    /// Files that could not be read (any makes the verdict `incomplete`).
    pub errors: u64,
    /// The subject index the scan relied on (SHA-256 of its `lake.vix`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Row groups the scan ruled out by Parquet min/max statistics and by bloom filters:
    /// metadata that no checksum covers, so the verdict relies on it being true (a writer
    /// bug or an edit could make it lie). Absent when none was (`[nightly] strict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relied_on_metadata: Option<MetadataReliance>,
    /// Whether the subject's rows are gone from storage too, not only from every reader:
    /// `erased`, `pending`, `overdue` (a copy misses `physical_deadline`) or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_verdict: Option<String>,
    /// The time by which every copy must be gone (`[nightly] physical_erasure_days` after
    /// `completed_at`), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_deadline: Option<String>,
    /// The subject's copies no reader sees that storage still holds (outside legal holds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub physical_copies: Vec<CertifiedCopy>,
}

/// One physical copy of the subject's rows (see `ScanReport::physical_copies`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedCopy {
    pub table: String,
    pub file: String,
    pub layer: crate::domain::copies::Layer,
    pub kind: String,
    pub rows: u64,
    pub removable_after: Option<String>,
    pub way_out: String,
    /// It misses the deadline.
    pub overdue: bool,
}

/// What a verdict took from unauthenticated Parquet metadata (see
/// [`Certificate::relied_on_metadata`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataReliance {
    pub row_groups_ruled_out_by_statistics: u64,
    pub row_groups_ruled_out_by_bloom_filters: u64,
}

impl MetadataReliance {
    /// What a scan report's verdict relied on, or None.
    pub fn of(report: &ScanReport) -> Option<MetadataReliance> {
        let r = MetadataReliance {
            row_groups_ruled_out_by_statistics: report
                .row_groups
                .skipped_by_statistics
                .saturating_sub(report.row_groups.by_column_type),
            row_groups_ruled_out_by_bloom_filters: report.row_groups.skipped_by_bloom_filter,
        };
        (r.row_groups_ruled_out_by_statistics + r.row_groups_ruled_out_by_bloom_filters > 0)
            .then_some(r)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedTable {
    pub table: String,
    pub files: u64,
    pub rows_scanned: u64,
    pub legal_hold: bool,
    /// This subject's rows in the table.
    pub residual_rows: u64,
    pub held_rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedResidual {
    pub table: String,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub rows: u64,
    pub held: bool,
}

/// The certificate of one subject (`label`: its keyed hash as the scan labelled it) from
/// a scan of all the verified subjects together.
/// `deadline`: Unix seconds by which copies must be gone (None: no deadline); `as_of`:
/// the time checked for, Unix seconds.
pub fn for_subject(
    report: &ScanReport,
    request_id: &str,
    label: &str,
    completed_at: Option<String>,
    verified_at: &str,
    deadline: Option<i64>,
    as_of: i64,
) -> Certificate {
    let mine: Vec<_> = report
        .residuals
        .iter()
        .filter(|r| r.subject == label)
        .collect();
    let tables = report
        .tables
        .iter()
        .map(|t| {
            let of_table = mine.iter().filter(|r| r.table == t.table);
            let (held, residual): (Vec<&&Residual>, Vec<&&Residual>) =
                of_table.partition(|r| r.held);
            CertifiedTable {
                table: t.table.clone(),
                files: t.files,
                rows_scanned: t.rows_scanned,
                legal_hold: t.legal_hold,
                residual_rows: residual.iter().map(|r| r.rows).sum(),
                held_rows: held.iter().map(|r| r.rows).sum(),
            }
        })
        .collect::<Vec<_>>();
    let residual_rows = tables.iter().map(|t| t.residual_rows).sum();
    let held_rows = tables.iter().map(|t| t.held_rows).sum();
    let copies: Vec<&crate::domain::copies::PhysicalCopy> = report
        .physical_copies
        .iter()
        .filter(|c| c.subject == label && !c.held)
        .collect();
    let erasure = crate::domain::copies::judge(
        &copies,
        residual_rows,
        report.verdict == Verdict::Incomplete,
        deadline,
        as_of,
    );
    let verdict = if report.verdict == Verdict::Incomplete {
        "incomplete"
    } else if residual_rows > 0 {
        "residual"
    } else {
        "clean"
    };
    Certificate {
        schema_version: 1,
        kind: KIND.into(),
        request_id: request_id.into(),
        subject: label.into(),
        completed_at,
        verified_at: verified_at.into(),
        tool: format!("vouch {}", env!("CARGO_PKG_VERSION")),
        lake: report.lake.clone(),
        verdict: verdict.into(),
        rows_scanned: report.rows_scanned,
        residual_rows,
        held_rows,
        tables,
        residuals: mine
            .iter()
            .map(|r| CertifiedResidual {
                table: r.table.clone(),
                file: r.file.clone(),
                version_id: r.version_id.clone(),
                rows: r.rows,
                held: r.held,
            })
            .collect(),
        files: report.objects.clone(),
        custody: report.custody.clone(),
        errors: report.errors.len() as u64,
        index: report.index.as_ref().map(|i| i.fingerprint.clone()),
        relied_on_metadata: MetadataReliance::of(report),
        physical_verdict: report.physical_verdict.map(|_| {
            serde_json::to_value(erasure.verdict)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        }),
        physical_deadline: deadline.map(crate::domain::report::rfc3339),
        physical_copies: copies
            .iter()
            .enumerate()
            .map(|(i, c)| CertifiedCopy {
                table: c.table.clone(),
                file: c.file.clone(),
                layer: c.layer,
                kind: c.kind.clone(),
                rows: c.rows,
                removable_after: c.removable_after.clone(),
                way_out: c.way_out.clone(),
                overdue: erasure.overdue.contains(&i),
            })
            .collect(),
    }
}

/// A file name for a request id: kept when it is plain, otherwise made plain and suffixed
/// with a hash of the id so that two ids never share a file.
pub fn file_stem(request_id: &str) -> String {
    let plain = !request_id.is_empty()
        && request_id.len() <= 100
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !request_id.starts_with('-');
    if plain {
        return request_id.to_string();
    }
    use sha2::Digest;
    let safe: String = request_id
        .chars()
        .take(40)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let h = crate::domain::subjects::hex(&sha2::Sha256::digest(request_id.as_bytes()));
    format!("{safe}-{}", &h[..12])
}

/// Writes `DIR/<request>.json` and its signature `DIR/<request>.json.sig` (atomically);
/// returns the certificate's path.
pub fn write_signed(cert: &Certificate, dir: &Path, key: &SigningKey) -> Result<PathBuf, String> {
    let mut json = serde_json::to_vec_pretty(cert).map_err(|e| e.to_string())?;
    json.push(b'\n');
    let sig = key
        .sign(DELETION_NAMESPACE, &json)
        .map_err(|e| e.to_string())?;
    let path = dir.join(format!("{}.json", file_stem(&cert.request_id)));
    crate::io::fsio::write_atomic(&path, &json, true)?;
    crate::io::fsio::write_atomic(&sig_path(&path), sig.as_bytes(), true)?;
    Ok(path)
}

/// `CERT.sig` beside `CERT`.
pub fn sig_path(cert: &Path) -> PathBuf {
    let mut s = cert.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

#[derive(Debug)]
pub enum VerifyOutcome {
    /// The signature holds for this key; the certificate is parsed (and its custody file,
    /// when it names one, is the file it names).
    Verified(Box<Certificate>),
    /// The signature holds, but the custody file the certificate names was edited, cut or
    /// replaced: what differs.
    CustodyMismatch(Box<Certificate>, String),
    /// Tampered, signed by another key, or not a certificate: what failed.
    Invalid(String),
}

/// Checks `CERT` against its `CERT.sig` and a public key, then the custody file it names
/// (`custody`, else the file of that name beside `CERT`). An unreadable file is an error.
pub fn verify(
    cert: &Path,
    key: &VerifyingKey,
    custody: Option<&Path>,
) -> Result<VerifyOutcome, String> {
    let read = |p: &Path| {
        crate::io::fsio::read(p)
            .map_err(|e| format!("{}: {}", p.display(), crate::io::store::io_message(&e)))
    };
    let json = read(cert)?;
    let sig = read(&sig_path(cert))?;
    if let Err(e) = key.verify(DELETION_NAMESPACE, &json, &sig) {
        return Ok(VerifyOutcome::Invalid(format!(
            "{}: signature: {e}",
            cert.display()
        )));
    }
    let c = match serde_json::from_slice::<Certificate>(&json) {
        Ok(c) if c.kind == KIND => c,
        Ok(c) => {
            return Ok(VerifyOutcome::Invalid(format!(
                "{}: signed, but of kind {:?}, not a deletion certificate",
                cert.display(),
                c.kind
            )));
        }
        Err(e) => {
            return Ok(VerifyOutcome::Invalid(format!(
                "{}: signed, but not a deletion certificate: {e}",
                cert.display()
            )));
        }
    };
    let Some(digest) = &c.custody else {
        return Ok(VerifyOutcome::Verified(Box::new(c)));
    };
    let path = match custody {
        Some(p) => p.to_path_buf(),
        None => match crate::domain::custody::plain_name(digest) {
            Some(name) => cert.parent().unwrap_or(Path::new(".")).join(name),
            None => {
                return Ok(VerifyOutcome::CustodyMismatch(
                    Box::new(c.clone()),
                    format!(
                        "{}: names the custody file {:?}, which is no plain file name",
                        cert.display(),
                        digest.file
                    ),
                ));
            }
        },
    };
    match crate::domain::custody::check_file(&path, digest, &mut |_, _| Ok(())) {
        Ok(()) => Ok(VerifyOutcome::Verified(Box::new(c))),
        Err(CustodyProblem::Mismatch(why)) => Ok(VerifyOutcome::CustodyMismatch(Box::new(c), why)),
        Err(CustodyProblem::Unreadable(why)) => {
            Err(format!("{why}; give its place with --custody FILE"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn request_ids_become_safe_distinct_file_names() {
        assert_eq!(file_stem("DSAR-2026-001"), "DSAR-2026-001");
        let a = file_stem("../etc/passwd");
        let b = file_stem("__etc_passwd");
        assert!(!a.contains('/') && !a.contains('.'), "{a}");
        assert_ne!(a, b);
        assert_ne!(file_stem("a/b"), file_stem("a_b"));
    }
}

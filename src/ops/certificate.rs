//! `vouch certificate verify`: a deletion certificate's SSH signature.

use std::path::PathBuf;

use crate::domain::certificate::VerifyOutcome;
use crate::domain::keys::VerifyingKey;
use crate::ops::OpError;

pub struct Options {
    pub cert: PathBuf,
    pub public_key: PathBuf,
    /// The custody file the certificate names (default: beside the certificate).
    pub custody: Option<PathBuf>,
}

pub struct Outcome {
    pub outcome: VerifyOutcome,
    pub key_fingerprint: String,
}

pub fn run(opts: &Options) -> Result<Outcome, OpError> {
    let key = VerifyingKey::from_public_key_file(&opts.public_key)?;
    let outcome = crate::domain::certificate::verify(&opts.cert, &key, opts.custody.as_deref())?;
    Ok(Outcome {
        outcome,
        key_fingerprint: key.fingerprint(),
    })
}

impl Outcome {
    /// `verified`: the signature holds and the certificate says the deletion is clean;
    /// `deletion_not_confirmed`: the signature holds, but what it certifies is rows that
    /// remain (`residual`), a lake not read completely (`incomplete`) or a copy kept in
    /// storage past its erasure deadline (physically `overdue`);
    /// `not_verified`: the signature does not hold for this key, or it is no certificate.
    pub fn verdict(&self) -> &'static str {
        match &self.outcome {
            VerifyOutcome::Verified(c) if confirmed(c) => "verified",
            VerifyOutcome::Verified(_) => "deletion_not_confirmed",
            VerifyOutcome::CustodyMismatch(..) | VerifyOutcome::Invalid(_) => "not_verified",
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match &self.outcome {
            VerifyOutcome::Verified(c) | VerifyOutcome::CustodyMismatch(c, _) => {
                let problems: Vec<&String> = match &self.outcome {
                    VerifyOutcome::CustodyMismatch(_, why) => vec![why],
                    _ => vec![],
                };
                serde_json::json!({
                    "schema_version": 1,
                    "verdict": self.verdict(),
                    "signature_valid": true,
                    "deletion_verdict": c.verdict,
                    "certificate": c,
                    "key": self.key_fingerprint,
                    "problems": problems,
                })
            }
            VerifyOutcome::Invalid(why) => serde_json::json!({
                "schema_version": 1,
                "verdict": self.verdict(),
                "signature_valid": false,
                "key": self.key_fingerprint,
                "problems": [why],
            }),
        }
    }

    pub fn to_text(&self) -> String {
        match &self.outcome {
            VerifyOutcome::Verified(c) => {
                let physical = match &c.physical_verdict {
                    Some(p) => format!(
                        "; physically {p}: {} cop(ies) in storage{}",
                        c.physical_copies.len(),
                        c.physical_deadline
                            .as_ref()
                            .map(|d| format!(", deadline {d}"))
                            .unwrap_or_default()
                    ),
                    None => String::new(),
                };
                let head = format!("request {} ({})", c.request_id, c.subject);
                let rows = format!("{} residual row(s), {} held", c.residual_rows, c.held_rows);
                if confirmed(c) {
                    format!(
                        "VERIFIED: {head}: deletion clean as of {}: {rows}{physical}; signed by {}\n",
                        c.verified_at, self.key_fingerprint
                    )
                } else {
                    let what = if c.verdict == "residual" {
                        "rows of the subject remain"
                    } else if c.verdict == "clean" {
                        "no reader sees the rows, but storage kept a copy past its erasure deadline"
                    } else {
                        "the lake was not read completely, so nothing is certified"
                    };
                    format!(
                        "DELETION NOT CONFIRMED: {head}: the certificate, validly signed by {}, records a {} scan as of {}: {what}: {rows}{physical}\n",
                        self.key_fingerprint, c.verdict, c.verified_at
                    )
                }
            }
            VerifyOutcome::CustodyMismatch(c, why) => format!(
                "NOT VERIFIED: request {} ({}): the signature holds, but the custody file it \
                 names does not: {why}\n",
                c.request_id, c.subject
            ),
            VerifyOutcome::Invalid(why) => format!("NOT VERIFIED: {why}\n"),
        }
    }

    /// 0 verified; 1 not verified, or a valid certificate of a deletion not confirmed
    /// (a script reading only the exit code must not take it for a pass).
    pub fn exit_code(&self) -> u8 {
        match self.verdict() {
            "verified" => 0,
            _ => 1,
        }
    }
}

/// A certificate of a deletion done: no live row, and no copy past its erasure deadline.
fn confirmed(c: &crate::domain::certificate::Certificate) -> bool {
    c.verdict == "clean" && c.physical_verdict.as_deref() != Some("overdue")
}

//! `vouch certificate verify`: a deletion certificate's SSH signature.

use std::path::PathBuf;

use crate::domain::certificate::VerifyOutcome;
use crate::domain::keys::VerifyingKey;
use crate::ops::OpError;

pub struct Options {
    pub cert: PathBuf,
    pub public_key: PathBuf,
}

pub struct Outcome {
    pub outcome: VerifyOutcome,
    pub key_fingerprint: String,
}

pub fn run(opts: &Options) -> Result<Outcome, OpError> {
    let key = VerifyingKey::from_public_key_file(&opts.public_key)?;
    let outcome = crate::domain::certificate::verify(&opts.cert, &key)?;
    Ok(Outcome {
        outcome,
        key_fingerprint: key.fingerprint(),
    })
}

impl Outcome {
    pub fn to_json(&self) -> serde_json::Value {
        match &self.outcome {
            VerifyOutcome::Verified(c) => serde_json::json!({
                "verified": true, "certificate": c, "key": self.key_fingerprint
            }),
            VerifyOutcome::Invalid(why) => serde_json::json!({"verified": false, "error": why}),
        }
    }

    pub fn to_text(&self) -> String {
        match &self.outcome {
            VerifyOutcome::Verified(c) => format!(
                "VERIFIED: request {} ({}), {} as of {}: {} residual row(s), {} held{}; signed by {}\n",
                c.request_id,
                c.subject,
                c.verdict,
                c.verified_at,
                c.residual_rows,
                c.held_rows,
                match &c.physical_verdict {
                    Some(p) => format!(
                        "; physically {p}: {} cop(ies) in storage{}",
                        c.physical_copies.len(),
                        c.physical_deadline
                            .as_ref()
                            .map(|d| format!(", deadline {d}"))
                            .unwrap_or_default()
                    ),
                    None => String::new(),
                },
                self.key_fingerprint
            ),
            VerifyOutcome::Invalid(why) => format!("NOT VERIFIED: {why}\n"),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            VerifyOutcome::Verified(_) => 0,
            VerifyOutcome::Invalid(_) => 1,
        }
    }
}

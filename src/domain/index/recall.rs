//! What earlier scans found in row groups they decoded, kept beside the index
//! (`recall.vix`) so that a night does not decode again the row groups of unchanged files
//! that hold subjects verified night after night (rows under legal hold, residuals not
//! yet erased).
//!
//! A record says: in row group `g` of the file whose index entry is `entry` (its name is
//! the entry's MAC, which commits to the file's fingerprint), identifier column `column`,
//! decoded for exactly these `candidates` (the subjects' keyed hashes the index could not
//! rule out there), `residual_rows` rows matched, so many per candidate. A later scan
//! takes the record instead of decoding only when everything that decides the outcome is
//! the same: the file's fingerprint (the index speaks for the file, through that same
//! entry), the row group and column, the candidates (every other subject is ruled out by
//! the index, which has no false negatives), and the decoder's settings that can turn a
//! read into an error. So a record gives the answer a decode would give, "clean" included,
//! on the same trust as the index's own "ruled out".
//!
//! Records are used only by scans of a later night than the one that wrote them
//! (`written_at` before the scan's as-of time): a rerun of the same night decides every
//! row group as the first run did and writes the same report.
//!
//! The file is sealed under the index key like the rest of the index; one that is
//! missing, damaged, foreign or of another version is an empty recall (row groups are
//! decoded), never an error.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::sealed::{Sealed, seal};
use super::{IndexError, IndexKey};

/// The file's name in the index directory.
pub const RECALL_FILE: &str = "recall.vix";

/// Most candidates an outcome is kept for.
pub const RECALL_MAX_CANDIDATES: usize = 64;

/// Most records the file keeps (the newest; about 200 bytes each).
const MAX_RECORDS: usize = 1 << 18;

const VERSION: u32 = 1;

/// One row group's outcome for one column and set of candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recalled {
    pub entry: String,
    pub row_group: u32,
    pub column: String,
    /// The candidates' keyed hashes, ascending.
    pub candidates: Vec<u64>,
    /// The decoder settings the outcome was read under (those that can turn a read into
    /// an error: checksums, size limits), as the scan names them.
    pub settings: String,
    /// As-of time (seconds) of the scan that decoded the row group.
    pub written_at: i64,
    pub residual_rows: u64,
    /// (candidate hash, matching rows), for the candidates that matched.
    pub per_hash: Vec<(u64, u64)>,
}

type Slot = (String, u32, String);

fn slot(r: &Recalled) -> Slot {
    (r.entry.clone(), r.row_group, r.column.clone())
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    records: Vec<Recalled>,
}

/// The records of `recall.vix`, and what this scan adds.
pub struct Recall {
    records: HashMap<Slot, Recalled>,
    as_of: i64,
    settings: String,
    fresh: Mutex<Vec<Recalled>>,
}

impl Recall {
    /// The recall kept in `dir`, for a scan at `as_of` with these decoder settings.
    pub fn load(dir: &Path, key: &IndexKey, as_of: i64, settings: String) -> Recall {
        let records = Sealed::open(&dir.join(RECALL_FILE), key)
            .ok()
            .filter(|s| s.body_len() == 0)
            .and_then(|s| serde_json::from_slice::<Stored>(&s.head).ok())
            .filter(|s| s.version == VERSION)
            .map(|s| s.records)
            .unwrap_or_default();
        Recall {
            records: records.into_iter().map(|r| (slot(&r), r)).collect(),
            as_of,
            settings,
            fresh: Mutex::new(Vec::new()),
        }
    }

    /// The outcome an earlier night recorded for exactly these candidates, if any.
    pub fn lookup(
        &self,
        entry: &str,
        row_group: usize,
        column: &str,
        candidates: &[u64],
    ) -> Option<&Recalled> {
        let r = self
            .records
            .get(&(entry.to_string(), row_group as u32, column.to_string()))?;
        (r.written_at < self.as_of && r.settings == self.settings && r.candidates == candidates)
            .then_some(r)
    }

    /// Keeps what this scan decoded (written by [`Recall::save`]).
    pub fn remember(
        &self,
        entry: &str,
        row_group: usize,
        column: &str,
        candidates: Vec<u64>,
        residual_rows: u64,
        per_hash: Vec<(u64, u64)>,
    ) {
        let r = Recalled {
            entry: entry.to_string(),
            row_group: row_group as u32,
            column: column.to_string(),
            candidates,
            settings: self.settings.clone(),
            written_at: self.as_of,
            residual_rows,
            per_hash,
        };
        if let Ok(mut f) = self.fresh.lock() {
            f.push(r);
        }
    }

    /// Writes the records kept (those of entries `live` still lists) and this scan's,
    /// which replace older ones of the same row group and column; in a fixed order, so
    /// the same records give the same bytes. Atomic: a reader sees the old file or the
    /// new one.
    pub fn save(
        &self,
        dir: &Path,
        key: &IndexKey,
        live: &dyn Fn(&str) -> bool,
    ) -> Result<(), IndexError> {
        self.save_at_most(dir, key, live, MAX_RECORDS)
    }

    fn save_at_most(
        &self,
        dir: &Path,
        key: &IndexKey,
        live: &dyn Fn(&str) -> bool,
        max: usize,
    ) -> Result<(), IndexError> {
        let mut all: BTreeMap<Slot, Recalled> = self
            .records
            .iter()
            .filter(|(s, _)| live(&s.0))
            .map(|(s, r)| (s.clone(), r.clone()))
            .collect();
        let fresh = self
            .fresh
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        for r in fresh {
            if live(&r.entry) {
                all.insert(slot(&r), r);
            }
        }
        let mut records: Vec<Recalled> = all.into_values().collect();
        if records.len() > max {
            // The newest, in the file's order.
            records.sort_by(|a, b| {
                b.written_at
                    .cmp(&a.written_at)
                    .then_with(|| slot(a).cmp(&slot(b)))
            });
            records.truncate(max);
            records.sort_by_key(slot);
        }
        let stored = Stored {
            version: VERSION,
            records,
        };
        let json = serde_json::to_vec(&stored).map_err(|e| IndexError::Json(e.to_string()))?;
        let (sealed, _) = seal(key, &json, &[]);
        crate::io::fsio::write_atomic(&dir.join(RECALL_FILE), &sealed, true)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serve_later_nights_with_the_same_candidates_and_settings_only() {
        let key = IndexKey::new(b"recall-test-key-0123");
        let t = tempfile::tempdir().unwrap();
        let settings = || "crc=true".to_string();
        let night1 = Recall::load(t.path(), &key, 100, settings());
        assert!(night1.lookup("e.vix", 0, "user_id", &[1, 2]).is_none());
        night1.remember("e.vix", 0, "user_id", vec![1, 2], 3, vec![(2, 3)]);
        night1.remember("gone.vix", 1, "user_id", vec![5], 0, vec![]);
        night1.save(t.path(), &key, &|e| e != "gone.vix").unwrap();
        let bytes = std::fs::read(t.path().join(RECALL_FILE)).unwrap();
        // The same night again: not used (a rerun decides as the first run did).
        let rerun = Recall::load(t.path(), &key, 100, settings());
        assert!(rerun.lookup("e.vix", 0, "user_id", &[1, 2]).is_none());
        rerun.remember("e.vix", 0, "user_id", vec![1, 2], 3, vec![(2, 3)]);
        rerun.save(t.path(), &key, &|e| e != "gone.vix").unwrap();
        assert_eq!(std::fs::read(t.path().join(RECALL_FILE)).unwrap(), bytes);
        let night2 = Recall::load(t.path(), &key, 200, settings());
        let r = night2.lookup("e.vix", 0, "user_id", &[1, 2]).unwrap();
        assert_eq!((r.residual_rows, r.per_hash.clone()), (3, vec![(2, 3)]));
        assert!(night2.lookup("e.vix", 0, "user_id", &[1]).is_none());
        assert!(night2.lookup("e.vix", 0, "user_id", &[1, 2, 3]).is_none());
        assert!(night2.lookup("e.vix", 1, "user_id", &[1, 2]).is_none());
        assert!(night2.lookup("e.vix", 0, "other", &[1, 2]).is_none());
        assert!(night2.lookup("gone.vix", 1, "user_id", &[5]).is_none());
        let strict = Recall::load(t.path(), &key, 200, "crc=false".into());
        assert!(strict.lookup("e.vix", 0, "user_id", &[1, 2]).is_none());
        // Past the file's bound, the newest records are kept.
        let capped = Recall::load(t.path(), &key, 300, settings());
        capped.remember("f.vix", 0, "user_id", vec![7], 1, vec![(7, 1)]);
        capped.save_at_most(t.path(), &key, &|_| true, 1).unwrap();
        let after = Recall::load(t.path(), &key, 400, settings());
        assert!(after.lookup("f.vix", 0, "user_id", &[7]).is_some());
        assert!(after.lookup("e.vix", 0, "user_id", &[1, 2]).is_none());
        std::fs::write(t.path().join(RECALL_FILE), &bytes).unwrap();
        // Another key, a damaged file: nothing recalled.
        let other = IndexKey::new(b"another-recall-key-01");
        assert!(
            Recall::load(t.path(), &other, 200, settings())
                .lookup("e.vix", 0, "user_id", &[1, 2])
                .is_none()
        );
        let mut b = bytes.clone();
        let n = b.len();
        b[n / 2] ^= 1;
        std::fs::write(t.path().join(RECALL_FILE), &b).unwrap();
        assert!(
            Recall::load(t.path(), &key, 200, settings())
                .lookup("e.vix", 0, "user_id", &[1, 2])
                .is_none()
        );
    }
}

//! The subject index's building blocks (issue 8): keyed hashes of identifier values and
//! the two filters that answer "could this subject be here?" without false negatives.
//!
//! Sizing, measured on the benchmark lake (181 MB, 96 row groups, 4M rows): the
//! identifier values of each row group are 80% distinct (3.2M in all) but the lake holds
//! only 100,005 distinct values, and of 1,000 subjects being verified only 5 occur at all.
//! So a lookup goes through two filters:
//! - [`LakeSet`]: the sorted 64-bit keyed hashes of every distinct value in the lake
//!   (8 bytes each; 0.44% of that lake). An absent subject stops here (false positives
//!   about n/2^64).
//! - [`RowGroupFilter`]: per row group and column, a binary fuse filter with 8-bit
//!   fingerprints (≈10 bits per distinct value at row-group sizes: 1.23 bytes at 50,000
//!   values, 1.44 at 1,000; about 2.2% of that lake) for the few subjects
//!   that are present somewhere; each false positive (≈1/256 per subject and row group)
//!   only costs decoding a row group that the scan then finds clean.
//!   Small sets are kept as sorted hashes instead, which are exact and smaller.
//!
//! Hashes are SipHash-2-4 (a keyed PRF) under a key derived from the subject key (of the
//! integer, or of a byte value's xxHash64 digest), so the index holds no raw ID and cannot
//! be searched for a guessed ID without the key.

mod store;
pub use store::{BuildSummary, LakeIndex, build};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use xorf::{BinaryFuse8, DmaSerializable, Filter};

/// The index's hashing key, derived from the subject key.
#[derive(Clone)]
pub struct IndexKey {
    k0: u64,
    k1: u64,
    /// Authenticates index files: whoever can write the index directory but lacks the
    /// subject key cannot make the scan skip a row group.
    mac: [u8; 32],
    /// A public name of the key (not the key): an index built with another key is
    /// detected and rebuilt instead of trusted.
    pub id: String,
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexKey").field("id", &self.id).finish()
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(msg);
    m.finalize().into_bytes().into()
}

impl IndexKey {
    pub fn new(subject_key: &[u8]) -> IndexKey {
        let k = hmac(subject_key, b"vouch-index-v1 siphash key");
        let id = hmac(subject_key, b"vouch-index-v1 key id");
        IndexKey {
            mac: hmac(subject_key, b"vouch-index-v1 file mac key"),
            k0: u64::from_le_bytes(k[..8].try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(k[8..16].try_into().unwrap_or_default()),
            id: crate::subjects::hex(&id[..8]),
        }
    }

    #[allow(deprecated)] // SipHasher is SipHash-2-4; the deprecation is about HashMap use.
    fn sip(&self, tag: u8, v: &[u8]) -> u64 {
        use std::hash::Hasher;
        let mut h = std::hash::SipHasher::new_with_keys(self.k0, self.k1);
        h.write_u8(tag);
        h.write(v);
        h.finish()
    }

    /// The hash of a byte-array or fixed-length value (strings, binary, UUIDs), as stored:
    /// the keyed SipHash of the value's public xxHash64 digest. Guessing an ID still needs
    /// the key; hashing 8 bytes instead of the whole value makes the build several times
    /// faster (a collision of the digests is a false positive like any other).
    pub fn bytes(&self, v: &[u8]) -> u64 {
        self.sip(
            b'b',
            &twox_hash::XxHash64::oneshot(0x0076_6f75_6368, v).to_le_bytes(),
        )
    }

    /// The hash of an integer value, in the scan's numeric form (unsigned INT32 as its
    /// value, 64-bit as its bit pattern).
    pub fn int(&self, v: i64) -> u64 {
        self.sip(b'i', &v.to_le_bytes())
    }
}

/// Sets at most this large are stored as sorted hashes (8 bytes each, exact), larger ones
/// as a binary fuse filter (1.2–1.5 bytes each, ≈1/256 false positives).
const SORTED_MAX: usize = 64;

/// One row group's values of one identifier column.
#[derive(Debug, Clone)]
pub enum RowGroupFilter {
    Sorted(Vec<u64>),
    Fuse(BinaryFuse8),
}

impl RowGroupFilter {
    /// Builds the filter of a set of value hashes (duplicates allowed).
    pub fn build(mut hashes: Vec<u64>) -> Result<RowGroupFilter, String> {
        hashes.sort_unstable();
        hashes.dedup();
        if hashes.len() <= SORTED_MAX {
            return Ok(RowGroupFilter::Sorted(hashes));
        }
        BinaryFuse8::try_from(&hashes)
            .map(RowGroupFilter::Fuse)
            .map_err(|e| format!("cannot build the row group filter: {e}"))
    }

    /// False only when the value is certainly not in the row group.
    pub fn may_contain(&self, hash: u64) -> bool {
        match self {
            RowGroupFilter::Sorted(v) => v.binary_search(&hash).is_ok(),
            RowGroupFilter::Fuse(f) => f.contains(&hash),
        }
    }

    /// Appends the serialized filter: a tag, then the hashes or the fuse filter.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            RowGroupFilter::Sorted(v) => {
                out.push(0);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                for h in v {
                    out.extend_from_slice(&h.to_le_bytes());
                }
            }
            RowGroupFilter::Fuse(f) => {
                out.push(1);
                let mut d = vec![0u8; BinaryFuse8::DESCRIPTOR_LEN];
                f.dma_copy_descriptor_to(&mut d);
                out.extend_from_slice(&d);
                let fp = f.dma_fingerprints();
                out.extend_from_slice(&(fp.len() as u32).to_le_bytes());
                out.extend_from_slice(fp);
            }
        }
    }

    /// Reads a filter written by [`RowGroupFilter::write`] from the front of `b`; returns
    /// it and the bytes used. Malformed input is an error, never a panic.
    pub fn read(b: &[u8]) -> Result<(RowGroupFilter, usize), String> {
        let bad = || "malformed row group filter".to_string();
        let u32_at = |at: usize| -> Result<usize, String> {
            let w = b.get(at..at + 4).ok_or_else(bad)?;
            Ok(u32::from_le_bytes(w.try_into().map_err(|_| bad())?) as usize)
        };
        match b.first() {
            Some(0) => {
                let n = u32_at(1)?;
                let end = n
                    .checked_mul(8)
                    .and_then(|x| x.checked_add(5))
                    .ok_or_else(bad)?;
                let body = b.get(5..end).ok_or_else(bad)?;
                let v: Vec<u64> = body
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
                if v.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad());
                }
                Ok((RowGroupFilter::Sorted(v), end))
            }
            Some(1) => {
                let dl = BinaryFuse8::DESCRIPTOR_LEN;
                let d = b.get(1..1 + dl).ok_or_else(bad)?;
                let n = u32_at(1 + dl)?;
                let start = 1 + dl + 4;
                let fp = b.get(start..start + n).ok_or_else(bad)?;
                let word = |at: usize| u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
                let descriptor = xorf::Descriptor {
                    seed: u64::from_le_bytes(d[..8].try_into().map_err(|_| bad())?),
                    segment_length: word(8),
                    segment_length_mask: word(12),
                    segment_count_length: word(16),
                };
                // The filter indexes up to segment_count_length + 2 segment lengths.
                let reach = u64::from(descriptor.segment_count_length)
                    + 2 * u64::from(descriptor.segment_length);
                if (fp.len() as u64) < reach
                    || !descriptor.segment_length.is_power_of_two()
                    || descriptor.segment_length_mask != descriptor.segment_length - 1
                {
                    return Err(bad());
                }
                let f = BinaryFuse8 {
                    descriptor,
                    fingerprints: fp.into(),
                };
                Ok((RowGroupFilter::Fuse(f), start + n))
            }
            _ => Err(bad()),
        }
    }
}

/// Every distinct value hash of the lake, sorted. Kept a superset when files go away
/// (stale hashes only cost false positives), compacted when the index is rebuilt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LakeSet(Vec<u64>);

impl LakeSet {
    pub fn from_hashes(mut hashes: Vec<u64>) -> LakeSet {
        hashes.sort_unstable();
        hashes.dedup();
        LakeSet(hashes)
    }

    /// Adds a file's hashes.
    pub fn extend(&mut self, hashes: &[u64]) {
        use rayon::slice::ParallelSliceMut;
        self.0.extend_from_slice(hashes);
        self.0.par_sort_unstable();
        self.0.dedup();
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.0.binary_search(&hash).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    pub fn from_bytes(b: &[u8]) -> Result<LakeSet, String> {
        if !b.len().is_multiple_of(8) {
            return Err("malformed lake set".into());
        }
        let v: Vec<u64> = b
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        if v.windows(2).any(|w| w[0] >= w[1]) {
            return Err("malformed lake set".into());
        }
        Ok(LakeSet(v))
    }
}

/// What identifies a file's contents: for local files path, size, modification time and
/// the SHA-256 of the Parquet footer; for S3 objects key, size, ETag and version id too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub path: String,
    pub size: u64,
    pub modified: Option<i64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub footer_sha256: String,
}

impl Fingerprint {
    pub fn of(f: &crate::store::ObjectMeta, footer_sha256: String) -> Fingerprint {
        Fingerprint {
            path: f.path.clone(),
            size: f.size,
            modified: f.modified,
            etag: f.etag.clone(),
            version_id: f.version_id.clone(),
            footer_sha256,
        }
    }

    /// Whether the listing alone still matches (the footer is checked when read).
    pub fn listed_as(&self, f: &crate::store::ObjectMeta) -> bool {
        self.path == f.path
            && self.size == f.size
            && self.modified == f.modified
            && self.etag == f.etag
            && self.version_id == f.version_id
    }
}

/// One file's index: its fingerprint, its identifier columns, and per row group one
/// filter per column (in `columns` order).
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub fingerprint: Fingerprint,
    pub columns: Vec<String>,
    pub row_groups: Vec<Vec<RowGroupFilter>>,
}

impl FileEntry {
    fn to_bytes(&self) -> Vec<u8> {
        let head = serde_json::json!({
            "fingerprint": self.fingerprint,
            "columns": self.columns,
            "row_groups": self.row_groups.len(),
        })
        .to_string();
        let mut out = Vec::new();
        out.extend_from_slice(&(head.len() as u32).to_le_bytes());
        out.extend_from_slice(head.as_bytes());
        for rg in &self.row_groups {
            for f in rg {
                f.write(&mut out);
            }
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Result<FileEntry, String> {
        let bad = |m: &str| format!("malformed index entry: {m}");
        let n = u32::from_le_bytes(
            b.get(..4)
                .ok_or_else(|| bad("short"))?
                .try_into()
                .map_err(|_| bad("short"))?,
        ) as usize;
        let head: serde_json::Value =
            serde_json::from_slice(b.get(4..4 + n).ok_or_else(|| bad("short"))?)
                .map_err(|e| bad(&e.to_string()))?;
        let fingerprint: Fingerprint =
            serde_json::from_value(head["fingerprint"].clone()).map_err(|e| bad(&e.to_string()))?;
        let columns: Vec<String> =
            serde_json::from_value(head["columns"].clone()).map_err(|e| bad(&e.to_string()))?;
        let groups = head["row_groups"]
            .as_u64()
            .ok_or_else(|| bad("row groups"))? as usize;
        let mut at = 4 + n;
        let mut row_groups = Vec::with_capacity(groups.min(1 << 20));
        for _ in 0..groups {
            let mut rg = Vec::with_capacity(columns.len());
            for _ in 0..columns.len() {
                let (f, used) = RowGroupFilter::read(&b[at..])?;
                at += used;
                rg.push(f);
            }
            row_groups.push(rg);
        }
        if at != b.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(FileEntry {
            fingerprint,
            columns,
            row_groups,
        })
    }
}

/// Magic and version at the front of every index file.
const MAGIC: &[u8; 8] = b"VOUCHIX3";

/// Seals index file contents: magic, the key id (16 hex bytes), the payload, and an
/// HMAC-SHA256 of all that under a key derived from the subject key, so a torn, corrupted,
/// foreign or deliberately altered file is detected, never trusted (the index decides
/// which row groups are not read: a forged entry could otherwise hide rows).
pub fn seal(key: &IndexKey, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 56);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.id.as_bytes());
    out.extend_from_slice(payload);
    let tag = hmac(&key.mac, &out);
    out.extend_from_slice(&tag);
    out
}

/// Checks what [`seal`] wrote and returns the payload.
pub fn unseal<'a>(key: &IndexKey, b: &'a [u8]) -> Result<&'a [u8], String> {
    let head = MAGIC.len() + key.id.len();
    if b.len() < head + 32 || &b[..MAGIC.len()] != MAGIC {
        return Err("not a vouch index file".into());
    }
    if &b[MAGIC.len()..head] != key.id.as_bytes() {
        return Err("index was built with another subject key".into());
    }
    let (body, tag) = b.split_at(b.len() - 32);
    // Constant-time comparison through the Mac API.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key.mac).unwrap_or_else(|_| unreachable!());
    m.update(body);
    if m.verify_slice(tag).is_err() {
        return Err("index file is corrupt or was altered (MAC mismatch)".into());
    }
    Ok(&body[head..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn hashes(key: &IndexKey, from: u64, n: u64) -> Vec<u64> {
        (from..from + n)
            .map(|i| key.bytes(format!("user-{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn keyed_hashes_depend_on_the_key_and_the_kind() {
        let a = IndexKey::new(b"0123456789abcdef-a");
        let b = IndexKey::new(b"0123456789abcdef-b");
        assert_ne!(a.bytes(b"5002"), b.bytes(b"5002"));
        assert_ne!(a.bytes(b"5002"), a.int(5002));
        assert_eq!(a.int(7), IndexKey::new(b"0123456789abcdef-a").int(7));
        assert_ne!(a.id, b.id);
        assert!(!format!("{a:?}").contains(&a.k0.to_string()));
    }

    #[test]
    fn filters_have_no_false_negatives_and_the_designed_false_positive_rate() {
        let key = IndexKey::new(b"0123456789abcdef");
        for n in [0u64, 1, 10, 64, 65, 1000, 50_000] {
            let members = hashes(&key, 0, n);
            let f =
                RowGroupFilter::build(members.iter().chain(&members).copied().collect()).unwrap();
            assert!(members.iter().all(|h| f.may_contain(*h)), "n = {n}");
            let mut bytes = Vec::new();
            f.write(&mut bytes);
            bytes.extend_from_slice(b"tail");
            let (back, used) = RowGroupFilter::read(&bytes).unwrap();
            let mut again = Vec::new();
            back.write(&mut again);
            assert_eq!(again, bytes[..used]);
            assert_eq!(&bytes[used..], b"tail");
            if n >= 1000 {
                let probes = 200_000u64;
                let fp = hashes(&key, 1 << 40, probes)
                    .iter()
                    .filter(|h| f.may_contain(**h))
                    .count() as f64
                    / probes as f64;
                // Designed: 1/256 ≈ 0.0039.
                assert!((0.002..0.006).contains(&fp), "false positive rate {fp}");
                let per = bytes.len() as f64 / n as f64;
                // Measured: 1.23 bytes per value at 50,000 values, 1.44 at 1,000.
                let limit = if n >= 50_000 { 1.25 } else { 1.5 };
                assert!(per < limit, "{per} bytes per value at n = {n}");
            } else if n as usize <= SORTED_MAX {
                // Small sets are exact.
                assert!(
                    hashes(&key, 1 << 40, 1000)
                        .iter()
                        .all(|h| !f.may_contain(*h))
                );
            }
        }
    }

    #[test]
    fn malformed_filters_and_sealed_files_are_errors_not_panics() {
        let key = IndexKey::new(b"0123456789abcdef");
        let f = RowGroupFilter::build(hashes(&key, 0, 5000)).unwrap();
        let mut bytes = Vec::new();
        f.write(&mut bytes);
        for cut in [0, 1, 5, 20, bytes.len() - 1] {
            assert!(RowGroupFilter::read(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut huge = bytes.clone();
        huge[1 + BinaryFuse8::DESCRIPTOR_LEN..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(RowGroupFilter::read(&huge).is_err());
        let sealed = seal(&key, &bytes);
        assert_eq!(unseal(&key, &sealed).unwrap(), &bytes[..]);
        let mut flipped = sealed.clone();
        flipped[40] ^= 1;
        assert!(unseal(&key, &flipped).unwrap_err().contains("corrupt"));
        // Re-sealing altered contents without the key (a plain SHA-256, say) is refused.
        let mut forged = sealed[..sealed.len() - 32].to_vec();
        forged[30] ^= 1;
        let sum = Sha256::digest(&forged);
        forged.extend_from_slice(&sum);
        assert!(unseal(&key, &forged).unwrap_err().contains("altered"));
        assert!(unseal(&key, &sealed[..sealed.len() - 1]).is_err());
        let other = IndexKey::new(b"another key of 16+ bytes");
        assert!(
            unseal(&other, &sealed)
                .unwrap_err()
                .contains("another subject key")
        );
        let set = LakeSet::from_hashes(vec![3, 1, 2, 2]);
        assert_eq!(LakeSet::from_bytes(&set.to_bytes()).unwrap(), set);
        assert!(set.contains(2) && !set.contains(4));
        assert!(LakeSet::from_bytes(&[0; 7]).is_err());
        assert!(LakeSet::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }
}

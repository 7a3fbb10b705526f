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
//! Hashes are AES-128 (a keyed pseudorandom permutation, used as a PRF: one 16-byte block
//! of a kind tag and the integer, or a byte value's xxHash64 digest; the first 8 bytes of
//! the ciphertext) under a key derived from the subject key, so the index holds no raw ID
//! and cannot be searched for a guessed ID without the key. A build hashes a row group's
//! values in batches, which AES instructions pipeline: about 1 ns a value, against about
//! 25 ns for the SipHash-2-4 of index format 4.

mod fuse;
mod recall;
mod sealed;
mod store;
pub use recall::{RECALL_FILE, RECALL_MAX_CANDIDATES, Recall, Recalled};
pub use store::{BuildSummary, FileCandidates, IndexFile, KeptCheck, LakeIndex, Present, build};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use xorf::{BinaryFuse8, DmaSerializable, Filter};

/// Why the index, or a part of it, is not used (the scan then reads the files it would
/// speak for in full). One phrase each; [`IndexError::At`] names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("not a vouch index file")]
    NotAnIndex,
    #[error("index was built with another subject key")]
    OtherKey,
    /// Written by another version of vouch (the format number it names).
    #[error(
        "index file is of format {0}, this vouch reads format 5 (rebuilt by `vouch index build`)"
    )]
    OtherFormat(String),
    #[error("index file is truncated or has trailing bytes")]
    Truncated,
    #[error("index file is corrupt or was altered (MAC mismatch)")]
    Altered,
    #[error("index file is corrupt or was altered (block {0})")]
    AlteredBlock(u64),
    #[error("read past the end of an index file")]
    PastEnd,
    #[error("block out of range")]
    BlockOutOfRange,
    #[error("malformed row group filter")]
    MalformedFilter,
    #[error("malformed index entry: {0}")]
    MalformedEntry(String),
    #[error("malformed lake set")]
    MalformedSet,
    #[error("malformed")]
    Malformed,
    #[error("index entry does not match lake.vix")]
    EntryMismatch,
    #[error("cannot build the row group filter: {0}")]
    Filter(String),
    /// A file of the index that could not be written, named.
    #[error(transparent)]
    File(#[from] crate::io::fsio::FileError),
    /// An IO error, without the path.
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Json(String),
    #[error("{path}: {error}")]
    At {
        path: String,
        error: Box<IndexError>,
    },
}

impl From<std::io::Error> for IndexError {
    fn from(e: std::io::Error) -> IndexError {
        IndexError::Io(crate::io::store::io_message(&e))
    }
}

/// The index's hashing key, derived from the subject key.
#[derive(Clone)]
pub struct IndexKey {
    /// The value hash's key schedule (zeroized on drop by the `aes` crate).
    aes: aes::Aes128,
    /// Authenticates index files: whoever can write the index directory but lacks the
    /// subject key cannot make the scan skip a row group.
    mac: [u8; 32],
    /// A public name of the key (not the key): an index built with another key is
    /// detected and rebuilt instead of trusted.
    pub id: String,
}

impl Drop for IndexKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.mac.zeroize();
    }
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
        use aes::cipher::KeyInit;
        let k = zeroize::Zeroizing::new(hmac(subject_key, b"vouch-index-v2 aes-128 key"));
        let id = hmac(subject_key, b"vouch-index-v1 key id");
        IndexKey {
            mac: hmac(subject_key, b"vouch-index-v1 file mac key"),
            aes: aes::Aes128::new(aes::cipher::generic_array::GenericArray::from_slice(
                &k[..16],
            )),
            id: crate::domain::subjects::hex(&id[..8]),
        }
    }

    /// The keyed hash of one prepared value: AES-128 of `tag | 7 zero bytes | value`
    /// (little-endian), the ciphertext's first 8 bytes read little-endian.
    fn keyed(&self, tag: u8, v: u64) -> u64 {
        let mut b = [aes::Block::default()];
        let mut one = [v];
        self.keyed_in_place(tag, &mut one, &mut b);
        one[0]
    }

    /// Replaces each prepared value in `values` by its keyed hash, a batch of blocks at
    /// a time (`blocks` is the batch's buffer; AES instructions pipeline its blocks).
    fn keyed_in_place(&self, tag: u8, values: &mut [u64], blocks: &mut [aes::Block]) {
        use aes::cipher::BlockEncrypt;
        for chunk in values.chunks_mut(blocks.len()) {
            let blocks = &mut blocks[..chunk.len()];
            for (b, v) in blocks.iter_mut().zip(chunk.iter()) {
                b[0] = tag;
                b[1..8].fill(0);
                b[8..].copy_from_slice(&v.to_le_bytes());
            }
            self.aes.encrypt_blocks(blocks);
            for (v, b) in chunk.iter_mut().zip(blocks.iter()) {
                *v = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            }
        }
    }

    /// Replaces the prepared values of one column chunk ([`IndexKey::prepare_bytes`] or
    /// [`IndexKey::prepare_int`] of each, all of one kind) by their keyed hashes: what
    /// [`IndexKey::bytes`] or [`IndexKey::int`] gives for each value, batched.
    pub fn hash_prepared(&self, kind: PreparedKind, values: &mut [u64]) {
        let mut blocks = [aes::Block::default(); 64];
        self.keyed_in_place(kind.tag(), values, &mut blocks);
    }

    /// A byte value's public 64-bit digest, which [`IndexKey::hash_prepared`] then keys.
    #[inline]
    pub fn prepare_bytes(v: &[u8]) -> u64 {
        twox_hash::XxHash64::oneshot(0x0076_6f75_6368, v)
    }

    /// An integer value as [`IndexKey::hash_prepared`] takes it.
    #[inline]
    pub fn prepare_int(v: i64) -> u64 {
        v as u64
    }

    /// A MAC state keyed for index files (cloned per use).
    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.mac).unwrap_or_else(|_| unreachable!())
    }

    /// The hash of a byte-array or fixed-length value (strings, binary, UUIDs), as stored:
    /// the keyed hash of the value's public xxHash64 digest. Guessing an ID still needs
    /// the key; keying 8 bytes instead of the whole value makes the build several times
    /// faster (a collision of the digests is a false positive like any other).
    pub fn bytes(&self, v: &[u8]) -> u64 {
        self.keyed(PreparedKind::Bytes.tag(), Self::prepare_bytes(v))
    }

    /// The hash of an integer value, in the scan's numeric form (unsigned INT32 as its
    /// value, 64-bit as its bit pattern).
    pub fn int(&self, v: i64) -> u64 {
        self.keyed(PreparedKind::Int.tag(), Self::prepare_int(v))
    }
}

/// What a prepared value is the preparation of (see [`IndexKey::hash_prepared`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreparedKind {
    Bytes,
    Int,
}

impl PreparedKind {
    fn tag(self) -> u8 {
        match self {
            PreparedKind::Bytes => b'b',
            PreparedKind::Int => b'i',
        }
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
    pub fn build(mut hashes: Vec<u64>) -> Result<RowGroupFilter, IndexError> {
        hashes.sort_unstable();
        hashes.dedup();
        if hashes.len() <= SORTED_MAX {
            return Ok(RowGroupFilter::Sorted(hashes));
        }
        RowGroupFilter::of_sorted(&hashes)
    }

    /// [`RowGroupFilter::build`] of hashes that are already sorted and distinct.
    pub fn of_sorted(hashes: &[u64]) -> Result<RowGroupFilter, IndexError> {
        debug_assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        if hashes.len() <= SORTED_MAX {
            return Ok(RowGroupFilter::Sorted(hashes.to_vec()));
        }
        fuse::build(hashes)
            .map(RowGroupFilter::Fuse)
            .map_err(|e| IndexError::Filter(e.to_string()))
    }

    /// False only when the value is certainly not in the row group.
    pub fn may_contain(&self, hash: u64) -> bool {
        match self {
            RowGroupFilter::Sorted(v) => v.binary_search(&hash).is_ok(),
            RowGroupFilter::Fuse(f) => f.contains(&hash),
        }
    }

    /// Appends the filter's body (the sorted hashes, little-endian, or the fuse
    /// filter's fingerprints) to `body`; returns its directory record (fixed size, kept
    /// in the entry's head).
    fn write(&self, body: &mut Vec<u8>) -> [u8; DIRENT] {
        let mut d = [0u8; DIRENT];
        d[1..9].copy_from_slice(&(body.len() as u64).to_le_bytes());
        match self {
            RowGroupFilter::Sorted(v) => {
                d[9..13].copy_from_slice(&(v.len() as u32).to_le_bytes());
                for h in v {
                    body.extend_from_slice(&h.to_le_bytes());
                }
            }
            RowGroupFilter::Fuse(f) => {
                d[0] = 1;
                let fp = f.dma_fingerprints();
                d[9..13].copy_from_slice(&(fp.len() as u32).to_le_bytes());
                let mut desc = [0u8; BinaryFuse8::DESCRIPTOR_LEN];
                f.dma_copy_descriptor_to(&mut desc);
                d[13..13 + BinaryFuse8::DESCRIPTOR_LEN].copy_from_slice(&desc);
                body.extend_from_slice(fp);
            }
        }
        d
    }
}

/// Size of a filter's directory record: kind, body offset, length, fuse descriptor.
const DIRENT: usize = 1 + 8 + 4 + 20;
const _: () = assert!(BinaryFuse8::DESCRIPTOR_LEN == 20);

/// A row group filter inside a sealed entry, read lazily: a lookup reads the few bytes
/// it needs (three fingerprints per hash for a fuse filter), each block checked.
#[derive(Debug, Clone)]
struct FilterRef {
    fuse: Option<xorf::Descriptor>,
    offset: u64,
    len: u32,
}

/// xorf's key mixing is `murmur3::mix64(key + seed)`: used to probe a fuse filter in place.
use crate::domain::keyhash::mix64;

/// Where xorf's `BinaryFuse8::contains` looks for `key`, and the fingerprint the three
/// bytes there must XOR to (a unit test pins this to xorf's own answer).
fn fuse_probe(d: &xorf::Descriptor, key: u64) -> ([u64; 3], u8) {
    let hash = mix64(key.wrapping_add(d.seed));
    let f = (hash ^ (hash >> 32)) as u8;
    let at = fuse::positions(
        hash,
        d.segment_length,
        d.segment_length_mask,
        d.segment_count_length,
    );
    (at.map(u64::from), f)
}

impl FilterRef {
    fn parse(d: &[u8], body_len: u64) -> Result<FilterRef, IndexError> {
        let bad = || IndexError::MalformedFilter;
        let u32_at = |at: usize| u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
        let offset = u64::from_le_bytes(d[1..9].try_into().map_err(|_| bad())?);
        let len = u32_at(9);
        let bytes = match d[0] {
            0 => u64::from(len) * 8,
            1 => u64::from(len),
            _ => return Err(bad()),
        };
        if offset.checked_add(bytes).is_none_or(|end| end > body_len) {
            return Err(bad());
        }
        let fuse = if d[0] == 1 {
            let desc = xorf::Descriptor {
                seed: u64::from_le_bytes(d[13..21].try_into().map_err(|_| bad())?),
                segment_length: u32_at(21),
                segment_length_mask: u32_at(25),
                segment_count_length: u32_at(29),
            };
            // A probe reaches up to segment_count_length + 2 segment lengths.
            let reach = u64::from(desc.segment_count_length) + 2 * u64::from(desc.segment_length);
            if u64::from(len) < reach
                || !desc.segment_length.is_power_of_two()
                || desc.segment_length_mask != desc.segment_length - 1
            {
                return Err(bad());
            }
            Some(desc)
        } else {
            None
        };
        Ok(FilterRef { fuse, offset, len })
    }

    /// False only when none of `hashes` is in the row group; an unreadable or altered
    /// block is an error (the caller then reads the file in full).
    fn may_contain_any(&self, s: &sealed::Sealed, hashes: &[u64]) -> Result<bool, IndexError> {
        match &self.fuse {
            None => {
                let body = s.read(self.offset, u64::from(self.len) * 8)?;
                let v = sorted_hashes(&body).ok_or(IndexError::MalformedFilter)?;
                Ok(hashes.iter().any(|h| v.binary_search(h).is_ok()))
            }
            Some(d) => {
                for &h in hashes {
                    let (at, f) = fuse_probe(d, h);
                    let mut x = f;
                    for a in at {
                        x ^= s.byte(self.offset + a)?;
                    }
                    if x == 0 {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// Strictly increasing little-endian u64s, as the index stores hash lists; None when the
/// bytes are not that.
fn sorted_hashes(b: &[u8]) -> Option<Vec<u64>> {
    if !b.len().is_multiple_of(8) {
        return None;
    }
    let v: Vec<u64> = b
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    v.windows(2).all(|w| w[0] < w[1]).then_some(v)
}

/// Up to this many hashes (32 MB), new hashes are sorted by the stable sort (see
/// [`LakeSet::absorb`]).
const STABLE_SORT_MAX: usize = 1 << 22;

/// Gathers a build's new hashes into their sorted distinct set in rounds: a round is
/// merged in once it holds as many hashes as the set and at least [`STABLE_SORT_MAX`], so
/// a build holds about three times the new distinct values (8 bytes each) and one round,
/// not every row group's values (41.5M rows, 33M row-group-distinct hashes, 1M distinct
/// on the benchmark lake), and sorts each hash about once.
/// Rounds are sorted on the calling thread alone, not on rayon's pool: a build gathers on
/// a thread of its own, which rayon's workers may be waiting on (see [`build`]).
#[derive(Default)]
pub struct SetGatherer {
    set: LakeSet,
    round: Vec<u64>,
}

impl SetGatherer {
    pub fn add(&mut self, hashes: &[u64]) {
        self.round.extend_from_slice(hashes);
        if self.round.len() >= STABLE_SORT_MAX.max(self.set.len()) {
            let round = std::mem::take(&mut self.round);
            self.set.absorb_with(round, false);
        }
    }

    /// The set; its last round sorted side by side (on rayon's pool, whichever way the
    /// rounds before were sorted).
    pub fn finish(mut self) -> LakeSet {
        self.set.absorb(self.round);
        self.set
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.round.is_empty()
    }
}

/// Every distinct value hash of the lake, sorted. Kept a superset when files go away
/// (stale hashes only cost false positives), compacted when the index is rebuilt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LakeSet(Vec<u64>);

impl LakeSet {
    pub fn from_hashes(hashes: Vec<u64>) -> LakeSet {
        let mut set = LakeSet::default();
        set.absorb(hashes);
        set
    }

    /// Adds hashes (any order, duplicates allowed): they are sorted, then merged into the
    /// set in one pass (a night's few new files cost their own sort, not one of the whole
    /// lake's set).
    pub fn absorb(&mut self, new: Vec<u64>) {
        self.absorb_with(new, true);
    }

    /// [`LakeSet::absorb`], sorting on rayon's pool or on the calling thread alone.
    fn absorb_with(&mut self, mut new: Vec<u64>, parallel: bool) {
        use rayon::slice::ParallelSliceMut;
        match (new.len() <= STABLE_SORT_MAX, parallel) {
            // Row groups' sorted runs, which the stable sort finds and merges (rayon's
            // buffer is as large as the input, at most 32 MB here).
            (true, true) => new.par_sort(),
            // Sorted in place (rayon's stable sort's buffer would raise a build's peak).
            (false, true) => new.par_sort_unstable(),
            // On one thread the standard stable sort, which finds the runs too; its
            // buffer is half the input.
            (_, false) => new.sort(),
        }
        new.dedup();
        if self.0.is_empty() {
            self.0 = new;
            return;
        }
        if new.is_empty() {
            return;
        }
        let old = std::mem::take(&mut self.0);
        let mut out = Vec::with_capacity(old.len() + new.len());
        let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
        while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
            out.push(x.min(y));
            if x <= y {
                a.next();
            }
            if y <= x {
                b.next();
            }
        }
        out.extend(a.chain(b));
        self.0 = out;
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
        // Sized once and filled eight bytes at a time (collected from `flat_map`, the
        // vector grew from empty a byte at a time: megabytes for a night's layer).
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for h in &self.0 {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<LakeSet, IndexError> {
        sorted_hashes(b)
            .map(LakeSet)
            .ok_or(IndexError::MalformedSet)
    }
}

/// What identifies a file's contents: path, size, modification time and the SHA-256 of the
/// Parquet footer; for local files also the nanosecond mtime, ctime and inode, for S3
/// objects the ETag and version id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub path: String,
    pub size: u64,
    pub modified: Option<i64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub footer_sha256: String,
    /// A local file's nanosecond modification and status-change times and inode: they
    /// change on every write, so a rewrite within the same second, or bytes patched and
    /// the mtime set back, is a changed file (ctime cannot be set from user space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<crate::io::store::LocalStat>,
}

impl Fingerprint {
    pub fn of(f: &crate::io::store::ObjectMeta, footer_sha256: String) -> Fingerprint {
        Fingerprint {
            path: f.path.clone(),
            size: f.size,
            modified: f.modified,
            etag: f.etag().map(str::to_string),
            version_id: f.version_id().map(str::to_string),
            footer_sha256,
            stat: f.stat(),
        }
    }

    /// Whether the listing alone still matches (the footer is checked when read).
    pub fn listed_as(&self, f: &crate::io::store::ObjectMeta) -> bool {
        self.path == f.path
            && self.size == f.size
            && self.modified == f.modified
            && self.etag.as_deref() == f.etag()
            && self.version_id.as_deref() == f.version_id()
            && self.stat == f.stat()
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
    /// The entry's head (fingerprint, columns, row group count, then one directory record
    /// per row group and column) and body (the filters).
    fn to_parts(&self) -> (Vec<u8>, Vec<u8>) {
        let json = serde_json::json!({
            "fingerprint": self.fingerprint,
            "columns": self.columns,
            "row_groups": self.row_groups.len(),
        })
        .to_string();
        let mut head = (json.len() as u32).to_le_bytes().to_vec();
        head.extend_from_slice(json.as_bytes());
        let mut body = Vec::new();
        for f in self.row_groups.iter().flatten() {
            head.extend_from_slice(&f.write(&mut body));
        }
        (head, body)
    }
}

/// A sealed entry opened for lookups: its head parsed, its filters read lazily.
struct EntryRef {
    fingerprint: Fingerprint,
    columns: Vec<String>,
    /// Per row group, one filter per column.
    row_groups: Vec<Vec<FilterRef>>,
    sealed: sealed::Sealed,
}

impl EntryRef {
    fn open(sealed: sealed::Sealed) -> Result<EntryRef, IndexError> {
        let bad = |m: &str| IndexError::MalformedEntry(m.to_string());
        let b = &sealed.head;
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
        let dir = &b[4 + n..];
        if columns.is_empty() || Some(dir.len()) != groups.checked_mul(columns.len() * DIRENT) {
            return Err(bad("directory"));
        }
        let filters = dir
            .chunks_exact(DIRENT)
            .map(|d| FilterRef::parse(d, sealed.body_len()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EntryRef {
            fingerprint,
            row_groups: filters.chunks(columns.len()).map(<[_]>::to_vec).collect(),
            columns,
            sealed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!format!("{a:?}").contains("aes"));
    }

    /// The format's hash, computed here with the block cipher alone (as a third party
    /// would: AES-128 of `tag | 7 zero bytes | value`, first 8 bytes), equals the
    /// single-value and the batched forms.
    #[test]
    fn keyed_hashes_are_aes_of_the_documented_block_single_or_batched() {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let subject_key = b"0123456789abcdef-a";
        let key = IndexKey::new(subject_key);
        let k = hmac(subject_key, b"vouch-index-v2 aes-128 key");
        let aes = aes::Aes128::new_from_slice(&k[..16]).unwrap();
        let expect = |tag: u8, v: u64| {
            let mut b = [0u8; 16];
            b[0] = tag;
            b[8..].copy_from_slice(&v.to_le_bytes());
            let mut b = aes::Block::from(b);
            aes.encrypt_block(&mut b);
            u64::from_le_bytes(b[..8].try_into().unwrap())
        };
        let digest = twox_hash::XxHash64::oneshot(0x0076_6f75_6368, b"user-1");
        assert_eq!(key.bytes(b"user-1"), expect(b'b', digest));
        assert_eq!(key.int(-5), expect(b'i', (-5i64) as u64));
        // Batches of every length around the batch size give the one-by-one hashes.
        for n in [0usize, 1, 7, 63, 64, 65, 129, 1000] {
            let values: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
            let mut prepared: Vec<u64> =
                values.iter().map(|v| IndexKey::prepare_bytes(v)).collect();
            key.hash_prepared(PreparedKind::Bytes, &mut prepared);
            let one_by_one: Vec<u64> = values.iter().map(|v| key.bytes(v)).collect();
            assert_eq!(prepared, one_by_one, "{n} values");
            let mut ints: Vec<u64> = (0..n as i64).map(IndexKey::prepare_int).collect();
            key.hash_prepared(PreparedKind::Int, &mut ints);
            assert_eq!(ints, (0..n as i64).map(|i| key.int(i)).collect::<Vec<_>>());
        }
    }

    /// The filter written into a sealed file and opened lazily, as a scan reads it.
    fn sealed_filter(key: &IndexKey, f: &RowGroupFilter) -> (FilterRef, sealed::Sealed, usize) {
        let mut body = b"lead".to_vec();
        let d = f.write(&mut body);
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.vix");
        std::fs::write(&p, sealed::seal(key, &d, &body).0).unwrap();
        let s = sealed::Sealed::open(&p, key).unwrap();
        (
            FilterRef::parse(&d, s.body_len()).unwrap(),
            s,
            body.len() - 4,
        )
    }

    #[test]
    fn filters_have_no_false_negatives_and_the_designed_false_positive_rate() {
        let key = IndexKey::new(b"0123456789abcdef");
        for n in [0u64, 1, 10, 64, 65, 1000, 50_000] {
            let members = hashes(&key, 0, n);
            let f =
                RowGroupFilter::build(members.iter().chain(&members).copied().collect()).unwrap();
            assert!(members.iter().all(|h| f.may_contain(*h)), "n = {n}");
            // Read in place, the filter answers exactly as xorf's own `contains`.
            let (lazy, s, bytes) = sealed_filter(&key, &f);
            let others = hashes(&key, 1 << 40, 20_000);
            for h in members.iter().chain(&others) {
                assert_eq!(
                    lazy.may_contain_any(&s, &[*h]).unwrap(),
                    f.may_contain(*h),
                    "n = {n}"
                );
            }
            if n >= 1000 {
                let probes = 200_000u64;
                let fp = hashes(&key, 1 << 40, probes)
                    .iter()
                    .filter(|h| f.may_contain(**h))
                    .count() as f64
                    / probes as f64;
                // Designed: 1/256 ≈ 0.0039.
                assert!((0.002..0.006).contains(&fp), "false positive rate {fp}");
                let per = (bytes + DIRENT) as f64 / n as f64;
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
    fn malformed_filters_and_entries_are_errors_not_panics() {
        let key = IndexKey::new(b"0123456789abcdef");
        let f = RowGroupFilter::build(hashes(&key, 0, 5000)).unwrap();
        let mut body = Vec::new();
        let d = f.write(&mut body);
        let len = body.len() as u64;
        assert!(FilterRef::parse(&d, len).is_ok());
        assert!(FilterRef::parse(&d, len - 1).is_err(), "past the body");
        let mut short = d;
        short[9..13].copy_from_slice(&1u32.to_le_bytes());
        assert!(
            FilterRef::parse(&short, len).is_err(),
            "shorter than its reach"
        );
        for (at, v) in [(0, 7u8), (21, 3), (25, 0), (32, 0xff)] {
            let mut bad = d;
            bad[at] = v;
            assert!(FilterRef::parse(&bad, u64::MAX / 2).is_err(), "byte {at}");
        }
        let sorted = RowGroupFilter::build(vec![5, 3, 9]).unwrap();
        let mut sbody = Vec::new();
        let sd = sorted.write(&mut sbody);
        sbody.swap(0, 8);
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("s.vix");
        std::fs::write(&p, sealed::seal(&key, &sd, &sbody).0).unwrap();
        let s = sealed::Sealed::open(&p, &key).unwrap();
        let r = FilterRef::parse(&sd, s.body_len()).unwrap();
        assert!(r.may_contain_any(&s, &[3]).is_err(), "unsorted hashes");
        // Entry heads: short, bad JSON, a directory of the wrong size.
        let entry = FileEntry {
            fingerprint: Fingerprint {
                path: "t/a.parquet".into(),
                size: 1,
                modified: None,
                etag: None,
                version_id: None,
                footer_sha256: "00".into(),
                stat: None,
            },
            columns: vec!["user_id".into()],
            row_groups: vec![vec![f.clone()], vec![sorted]],
        };
        let (head, body) = entry.to_parts();
        let open = |head: &[u8]| {
            std::fs::write(&p, sealed::seal(&key, head, &body).0).unwrap();
            EntryRef::open(sealed::Sealed::open(&p, &key).unwrap())
        };
        let e = open(&head).unwrap();
        assert_eq!(e.fingerprint, entry.fingerprint);
        assert_eq!(e.row_groups.len(), 2);
        assert!(open(&head[..3]).is_err());
        assert!(open(&head[..head.len() - 1]).is_err());
        let mut bad = head.clone();
        bad[5] = b'!';
        assert!(open(&bad).is_err());
        let set = LakeSet::from_hashes(vec![3, 1, 2, 2]);
        assert_eq!(LakeSet::from_bytes(&set.to_bytes()).unwrap(), set);
        assert!(set.contains(2) && !set.contains(4));
        assert!(LakeSet::from_bytes(&[0; 7]).is_err());
        assert!(LakeSet::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    /// Merging new hashes (unsorted, repeated, overlapping the set, at either end) gives
    /// the set made of all of them at once.
    #[test]
    fn a_lake_set_extended_is_the_set_of_everything() {
        let mut rng = crate::domain::keyhash::test_rng(0x2545_f491_4f6c_dd1du64);
        let mut next = move || rng() % 500;
        for round in 0..50 {
            let old: Vec<u64> = (0..round * 3).map(|_| next()).collect();
            let new: Vec<u64> = (0..(round % 7) * 20).map(|_| next()).collect();
            let mut set = LakeSet::from_hashes(old.clone());
            set.absorb(new.clone());
            let mut all = old;
            all.extend(&new);
            assert_eq!(set, LakeSet::from_hashes(all));
        }
        let mut set = LakeSet::from_hashes(vec![5, 10]);
        set.absorb(vec![u64::MAX, 0, 10, 7, 7]);
        assert_eq!(set.0, [0, 5, 7, 10, u64::MAX]);
    }

    /// A build's rounds, sorted on one thread, give the set of everything added, holding
    /// fewer values than were added.
    #[test]
    fn gathered_rounds_give_the_set_of_everything() {
        let mut rng = crate::domain::keyhash::test_rng(0x5eed);
        let mut g = SetGatherer::default();
        assert!(g.is_empty());
        let mut all = Vec::new();
        // Values repeated across "files", so that rounds overlap the set; enough of them
        // for several rounds past STABLE_SORT_MAX.
        let pool: Vec<u64> = (0..STABLE_SORT_MAX as u64 + 5000).map(|_| rng()).collect();
        let mut most = 0;
        for file in 0..12 {
            let n = if file % 7 == 0 {
                0
            } else {
                450_000 + (rng() % 1000) as usize
            };
            let mut run: Vec<u64> = (0..n)
                .map(|_| pool[(rng() % pool.len() as u64) as usize])
                .collect();
            run.sort_unstable();
            run.dedup();
            all.extend_from_slice(&run);
            g.add(&run);
            most = most.max(g.round.len() + g.set.len());
        }
        let want = {
            let mut v = all.clone();
            v.sort_unstable();
            v.dedup();
            v
        };
        assert!(
            !g.set.is_empty(),
            "at least one round was merged before the end"
        );
        assert!(most < all.len(), "{most} held of {}", all.len());
        assert_eq!(g.finish().0, want);
        assert_eq!(SetGatherer::default().finish(), LakeSet::default());
    }

    /// Both sorts of a new layer (the stable one for a night's runs, the parallel one past
    /// its bound) give the sorted distinct values.
    #[test]
    fn a_lake_set_is_sorted_and_distinct_on_both_sides_of_the_sort_bound() {
        let mut rng = crate::domain::keyhash::test_rng(0x0123_4567_89ab_cdef);
        for n in [1000, STABLE_SORT_MAX + 1000] {
            let values: Vec<u64> = (0..n).map(|_| rng() % (n as u64 / 2)).collect();
            let mut want = values.clone();
            want.sort_unstable();
            want.dedup();
            assert_eq!(LakeSet::from_hashes(values).0, want, "{n}");
        }
    }

    #[test]
    fn a_sealed_filter_is_checked_where_it_is_read() {
        let key = IndexKey::new(b"0123456789abcdef");
        let members = hashes(&key, 0, 5000);
        let f = RowGroupFilter::build(members.clone()).unwrap();
        let mut body = Vec::new();
        let d = f.write(&mut body);
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.vix");
        let (mut bytes, _) = sealed::seal(&key, &d, &body);
        let body_at = bytes.len() - body.len();
        for b in bytes[body_at..].iter_mut() {
            *b ^= 0x10;
        }
        std::fs::write(&p, &bytes).unwrap();
        let s = sealed::Sealed::open(&p, &key).unwrap();
        let r = FilterRef::parse(&d, s.body_len()).unwrap();
        // Altered fingerprints could answer "absent" for a member: they are an error.
        assert!(
            members
                .iter()
                .all(|h| r.may_contain_any(&s, &[*h]).is_err())
        );
    }
}

//! Matching identifier values against the subject list, in each column's physical form.
//!
//! The subject IDs arrive as text. Each identifier column gets a [`Probe`] that holds the
//! IDs converted once into that column's physical representation (UTF-8 bytes, 32/64-bit
//! integers matched numerically, 16-byte UUIDs), so the hot loop compares raw page values
//! without building strings or Arrow arrays. Pure: no IO, no allocation per probed value.

use std::collections::HashMap;

use crate::domain::keyhash::{K, KeyHasher, key_hash};
use crate::domain::subjects::SubjectList;
use std::hash::BuildHasherDefault;

/// The physical shape of an identifier column, as far as matching is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// BYTE_ARRAY: strings (plain, dictionary, large or view in Arrow terms) and binary.
    Bytes,
    /// INT32 physical values; `signed` follows the logical type.
    Int32 { signed: bool },
    /// INT64 physical values.
    Int64 { signed: bool },
    /// FIXED_LEN_BYTE_ARRAY of `len` bytes; `uuid` when annotated as a UUID.
    Fixed { len: usize, uuid: bool },
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Bits in the prefilter at least: 64 Ki bits (8 KiB) stay in L1 cache, and with a
/// thousand subjects let through about 1.5% of non-matching values.
const PREFILTER_BITS: usize = 1 << 16;

/// Bits in the prefilter for `ids` IDs: at least 8 an ID, so that a long list does not
/// fill it (ten million IDs filled the 64 Ki bits, and every value went on to the table:
/// two or three cache misses where one bit is one), a power of two.
fn prefilter_bits(ids: usize) -> usize {
    ids.saturating_mul(8)
        .next_power_of_two()
        .clamp(PREFILTER_BITS, 1 << 34)
}

/// The prefilter's word of a value: its first and last 8 bytes and its length, mixed. Both
/// ends, so that IDs sharing a long prefix (`user-00001234`) or a long suffix still differ.
#[inline]
fn prefix_word(v: &[u8]) -> u64 {
    // Eight bytes or more: two loads (a copy of a length known only at run time is a
    // call to memcpy, once per value scanned). Shorter: both ends are the whole value.
    let (first, last) = match (v.first_chunk::<8>(), v.last_chunk::<8>()) {
        (Some(f), Some(l)) => (u64::from_le_bytes(*f), u64::from_le_bytes(*l)),
        _ => {
            let mut w = [0u8; 8];
            w[..v.len()].copy_from_slice(v);
            let w = u64::from_le_bytes(w);
            (w, w)
        }
    };
    (first ^ last.rotate_left(29) ^ (v.len() as u64).rotate_left(56)).wrapping_mul(K)
}

#[inline]
fn int_word(v: i64) -> u64 {
    (v as u64 ^ 0x5bd1_e995).wrapping_mul(K)
}

/// Byte-string keys converted from the IDs (a UUID column's 16 bytes, fixed-length
/// text): sorted (unsigned lexicographic, the statistics' order) end to end in one
/// buffer, found through a table of their positions (hashed by their bytes, compared with
/// the bytes).
#[derive(Debug, Clone, Default)]
struct ByteKeys {
    data: Vec<u8>,
    /// Where each key ends in `data`: key `i` is `data[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    /// The subject of each key.
    subjects: Vec<u32>,
    index: hashbrown::HashTable<u32>,
    /// Subjects whose ID gives a key given before (a UUID in upper and lower case): the
    /// kept key's subject -> the others.
    aliases: FastMap<u32, Vec<u32>>,
}

impl ByteKeys {
    /// From keys end to end in `data` (key `i` ends at `ends[i]`, its subject is
    /// `subjects[i]`, subjects rising); of keys given twice, the first subject's is kept
    /// and the others are its aliases.
    fn new(data: Vec<u8>, ends: Vec<u32>, subjects: Vec<u32>) -> ByteKeys {
        let unsorted = ByteKeys {
            data,
            ends,
            subjects,
            index: hashbrown::HashTable::new(),
            aliases: FastMap::default(),
        };
        let mut order: Vec<u32> = (0..unsorted.len() as u32).collect();
        // Equal keys in subject order: the first subject's is kept below.
        order.sort_unstable_by(|&a, &b| {
            (unsorted.key(a as usize).cmp(unsorted.key(b as usize))).then(a.cmp(&b))
        });
        let mut k = ByteKeys {
            data: Vec::with_capacity(unsorted.data.len()),
            ends: Vec::with_capacity(order.len()),
            subjects: Vec::with_capacity(order.len()),
            index: hashbrown::HashTable::with_capacity(order.len()),
            aliases: FastMap::default(),
        };
        let mut last: Option<&[u8]> = None;
        for &o in &order {
            let key = unsorted.key(o as usize);
            if last == Some(key) {
                if let Some(&kept) = k.subjects.last() {
                    k.aliases
                        .entry(kept)
                        .or_default()
                        .push(unsorted.subjects[o as usize]);
                }
                continue;
            }
            last = Some(key);
            k.data.extend_from_slice(key);
            k.ends.push(k.data.len() as u32);
            k.subjects.push(unsorted.subjects[o as usize]);
        }
        for i in 0..k.len() {
            let h = key_hash(k.key(i));
            let (data, ends) = (&k.data, &k.ends);
            k.index
                .insert_unique(h, i as u32, |&p| key_hash(key_at(data, ends, p as usize)));
        }
        k
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    fn key(&self, i: usize) -> &[u8] {
        key_at(&self.data, &self.ends, i)
    }

    /// The subject of the key equal to `v`.
    #[inline]
    fn get(&self, v: &[u8]) -> Option<u32> {
        self.index
            .find(key_hash(v), |&p| self.key(p as usize) == v)
            .map(|&p| self.subjects[p as usize])
    }
}

#[inline]
fn key_at<'d>(data: &'d [u8], ends: &[u32], i: usize) -> &'d [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

/// The byte-string keys of a probe.
#[derive(Debug, Clone)]
enum Keys {
    /// A text column's: the subject list itself (shared, never copied), in its order
    /// of texts ([`SubjectList::sorted`]).
    List(SubjectList),
    /// Converted from the IDs.
    Owned(ByteKeys),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::List(l) => l.len(),
            Keys::Owned(k) => k.len(),
        }
    }

    /// Calls `f` with the `i`-th key in sorted order.
    #[inline]
    fn with_key<R>(&self, i: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Keys::List(l) => l.with_bytes(l.sorted()[i] as usize, f),
            Keys::Owned(k) => f(k.key(i)),
        }
    }

    /// Calls `f` with the `i`-th key in any fixed order.
    #[inline]
    fn with_unsorted_key<R>(&self, i: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Keys::List(l) => l.with_bytes(i, f),
            Keys::Owned(k) => f(k.key(i)),
        }
    }

    #[inline]
    fn get(&self, v: &[u8]) -> Option<u32> {
        match self {
            Keys::List(l) => l.find(v),
            Keys::Owned(k) => k.get(v),
        }
    }

    /// `f` of every key, in sorted order.
    fn map<T>(&self, mut f: impl FnMut(&[u8]) -> T) -> Vec<T> {
        (0..self.len()).map(|i| self.with_key(i, &mut f)).collect()
    }
}

/// The subject IDs of one identifier column, ready to probe.
#[derive(Debug, Clone)]
pub struct Probe {
    kind: IdKind,
    prefilter: Vec<u64>,
    /// The prefilter is indexed by a word's top bits: 64 less the log2 of its bits.
    prefilter_shift: u32,
    /// Keys in the column's statistics order, for lookups and min/max pruning.
    bytes: Keys,
    ints: FastMap<i64, u32>,
    /// Subjects whose ID is the same integer as an earlier one's ("007" and "7"): the
    /// first one's subject -> the others.
    int_aliases: FastMap<u32, Vec<u32>>,
    min_len: usize,
    max_len: usize,
    sorted_ints: Vec<i64>,
    /// xxHash64 of each key's physical bytes, as Parquet bloom filters hash them: made
    /// when a file with bloom filters first asks (8 bytes an ID, 80 MB for ten million).
    bloom: std::sync::OnceLock<Vec<u64>>,
    /// The keyed hashes the subject index's lake set may hold (a probe lives for one
    /// scan, which uses one index), and the subject each names: computed once, not once
    /// per file.
    index_present: std::sync::OnceLock<(crate::domain::index::Present, FastMap<u64, u32>)>,
}

impl Probe {
    /// Builds the probe for a column of `kind` from the subject IDs (index = subject number).
    /// IDs that cannot exist in such a column (text in an integer column) are left out.
    /// A text column's probe shares the list; others hold the IDs converted.
    pub fn new(kind: IdKind, ids: &SubjectList) -> Probe {
        let mut p = Probe {
            kind,
            prefilter: vec![0; prefilter_bits(ids.len()) / 64],
            prefilter_shift: 64 - prefilter_bits(ids.len()).trailing_zeros(),
            bytes: Keys::Owned(ByteKeys::default()),
            ints: FastMap::default(),
            int_aliases: FastMap::default(),
            min_len: usize::MAX,
            max_len: 0,
            sorted_ints: vec![],
            bloom: std::sync::OnceLock::new(),
            index_present: std::sync::OnceLock::new(),
        };
        let (mut data, mut ends, mut subjects) = (Vec::new(), Vec::new(), Vec::new());
        match kind {
            // The IDs are the keys.
            IdKind::Bytes => p.bytes = Keys::List(ids.clone()),
            IdKind::Fixed { len, uuid } => {
                for i in 0..ids.len() {
                    let id = ids.get(i);
                    if len == 16
                        && let Some(u) = ids.stored_uuid(i).or_else(|| parse_uuid(&id))
                    {
                        data.extend_from_slice(&u);
                    } else if !uuid && id.len() == len {
                        data.extend_from_slice(id.as_bytes());
                    } else {
                        continue;
                    }
                    ends.push(data.len() as u32);
                    subjects.push(i as u32);
                }
                p.bytes = Keys::Owned(ByteKeys::new(data, ends, subjects));
            }
            IdKind::Int32 { signed } | IdKind::Int64 { signed } => {
                for (i, id) in ids.iter().enumerate() {
                    // Numeric match: "007", "+7" and "7" are the same ID; "-0" is 0.
                    let Ok(v) = id.parse::<i128>() else { continue };
                    let range = match (kind, signed) {
                        (IdKind::Int32 { .. }, true) => i128::from(i32::MIN)..=i128::from(i32::MAX),
                        (IdKind::Int32 { .. }, false) => 0..=i128::from(u32::MAX),
                        (_, true) => i128::from(i64::MIN)..=i128::from(i64::MAX),
                        (_, false) => 0..=i128::from(u64::MAX),
                    };
                    if range.contains(&v) {
                        // Unsigned 64-bit IDs are kept as their bit pattern, like the column.
                        p.add_int(
                            if v > i128::from(i64::MAX) {
                                v as u64 as i64
                            } else {
                                v as i64
                            },
                            i as u32,
                        );
                    }
                }
            }
        }
        // In the list's order (any order would do): the list is read front to back.
        for i in 0..p.bytes.len() {
            let (word, len) = p
                .bytes
                .with_unsorted_key(i, |key| (prefix_word(key), key.len()));
            p.add_prefilter(word);
            p.min_len = p.min_len.min(len);
            p.max_len = p.max_len.max(len);
        }
        // Keys are distinct: an unstable sort gives the same order, faster.
        p.sorted_ints = p.ints.keys().copied().collect();
        match kind {
            IdKind::Int32 { signed: false } | IdKind::Int64 { signed: false } => {
                p.sorted_ints.sort_unstable_by_key(|&k| k as u64)
            }
            _ => p.sorted_ints.sort_unstable(),
        }
        p
    }

    fn add_prefilter(&mut self, word: u64) {
        let bit = (word >> self.prefilter_shift) as usize;
        self.prefilter[bit / 64] |= 1 << (bit % 64);
    }

    /// Whether the prefilter lets `word` through.
    #[inline]
    fn passes(&self, word: u64) -> bool {
        let bit = (word >> self.prefilter_shift) as usize;
        self.prefilter[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn add_int(&mut self, key: i64, subject: u32) {
        if let Some(&first) = self.ints.get(&key) {
            self.int_aliases.entry(first).or_default().push(subject);
            return;
        }
        self.add_prefilter(int_word(key));
        self.ints.insert(key, subject);
    }

    /// The keyed hashes of the IDs that may occur in the lake indexed by `ix` (the lake
    /// set's answer, computed on first use).
    pub fn index_present(
        &self,
        ix: &crate::domain::index::LakeIndex,
    ) -> &crate::domain::index::Present {
        &self.present_in(ix).0
    }

    /// The subject whose ID has the keyed hash `h`, of those [`Probe::index_present`]
    /// gives.
    pub fn index_subject(&self, ix: &crate::domain::index::LakeIndex, h: u64) -> Option<u32> {
        self.present_in(ix).1.get(&h).copied()
    }

    fn present_in(
        &self,
        ix: &crate::domain::index::LakeIndex,
    ) -> &(crate::domain::index::Present, FastMap<u64, u32>) {
        self.index_present.get_or_init(|| {
            let all = self.index_hashes(&ix.key);
            let present = ix.present(&all);
            let wanted: std::collections::HashSet<u64> = present.hashes.iter().copied().collect();
            let mut subjects = FastMap::default();
            for (i, h) in all.iter().enumerate() {
                if !wanted.contains(h) {
                    continue;
                }
                let s = match self.kind {
                    IdKind::Bytes | IdKind::Fixed { .. } => {
                        self.bytes.with_key(i, |k| self.bytes.get(k))
                    }
                    IdKind::Int32 { .. } | IdKind::Int64 { .. } => {
                        self.ints.get(&self.sorted_ints[i]).copied()
                    }
                };
                if let Some(s) = s {
                    subjects.entry(*h).or_insert(s);
                }
            }
            (present, subjects)
        })
    }

    /// The subject index's keyed hashes of the IDs, in this column's form, in the keys'
    /// sorted order.
    fn index_hashes(&self, key: &crate::domain::index::IndexKey) -> Vec<u64> {
        match self.kind {
            IdKind::Bytes | IdKind::Fixed { .. } => self.bytes.map(|k| key.bytes(k)),
            IdKind::Int32 { .. } | IdKind::Int64 { .. } => {
                self.sorted_ints.iter().map(|&k| key.int(k)).collect()
            }
        }
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The other subjects whose ID is the same value of this column as subject `s`'s
    /// ("007" and "7" in an integer column, a UUID in upper and lower case in a UUID
    /// column): a row that matches `s` is theirs too. Matches name the first of them.
    pub fn aliases(&self, s: u32) -> &[u32] {
        self.alias_map()
            .and_then(|m| m.get(&s))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether any two subjects' IDs are one value of this column (almost never: the
    /// scan then skips the alias lookup of every match).
    pub fn has_aliases(&self) -> bool {
        self.alias_map().is_some_and(|m| !m.is_empty())
    }

    fn alias_map(&self) -> Option<&FastMap<u32, Vec<u32>>> {
        match (self.kind, &self.bytes) {
            (IdKind::Int32 { .. } | IdKind::Int64 { .. }, _) => Some(&self.int_aliases),
            (_, Keys::Owned(k)) => Some(&k.aliases),
            (_, Keys::List(_)) => None,
        }
    }

    /// True when no subject ID can occur in this column at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() == 0 && self.ints.is_empty()
    }

    /// The subject whose ID equals this BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY value.
    #[inline]
    pub fn bytes(&self, v: &[u8]) -> Option<u32> {
        if v.len() < self.min_len || v.len() > self.max_len {
            return None;
        }
        if !self.passes(prefix_word(v)) {
            return None;
        }
        self.bytes.get(v)
    }

    /// The subject whose ID equals this INT32 physical value.
    #[inline]
    pub fn int32(&self, v: i32) -> Option<u32> {
        let key = match self.kind {
            IdKind::Int32 { signed: false } => i64::from(v as u32),
            _ => i64::from(v),
        };
        self.int(key)
    }

    /// The subject whose ID equals this INT64 physical value.
    #[inline]
    pub fn int64(&self, v: i64) -> Option<u32> {
        self.int(v)
    }

    #[inline]
    fn int(&self, key: i64) -> Option<u32> {
        if !self.passes(int_word(key)) {
            return None;
        }
        self.ints.get(&key).copied()
    }

    /// Could any ID lie within the byte-string range [min, max] (unsigned lexicographic)?
    pub fn bytes_in_range(&self, min: &[u8], max: &[u8]) -> bool {
        // The first key at or above `min`, by binary search over positions.
        let (mut lo, mut hi) = (0, self.bytes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.bytes.with_key(mid, |k| k < min) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo < self.bytes.len() && self.bytes.with_key(lo, |k| k <= max)
    }

    /// Could any ID lie within the integer range [min, max] of physical statistics values?
    pub fn ints_in_range(&self, min: i64, max: i64) -> bool {
        let unsigned = matches!(
            self.kind,
            IdKind::Int32 { signed: false } | IdKind::Int64 { signed: false }
        );
        if unsigned {
            let (min, max) = match self.kind {
                IdKind::Int32 { .. } => (u64::from(min as u32), u64::from(max as u32)),
                _ => (min as u64, max as u64),
            };
            let i = self.sorted_ints.partition_point(|&k| (k as u64) < min);
            self.sorted_ints.get(i).is_some_and(|&k| (k as u64) <= max)
        } else {
            let i = self.sorted_ints.partition_point(|&k| k < min);
            self.sorted_ints.get(i).is_some_and(|&k| k <= max)
        }
    }

    /// The bloom filter hash of every key (see [`super::bloom`]).
    pub fn bloom_hashes(&self) -> &[u64] {
        self.bloom.get_or_init(|| match self.kind {
            IdKind::Bytes | IdKind::Fixed { .. } => self.bytes.map(super::bloom::hash),
            IdKind::Int32 { .. } => (self.sorted_ints.iter())
                .map(|&k| super::bloom::hash(&(k as i32).to_le_bytes()))
                .collect(),
            IdKind::Int64 { .. } => (self.sorted_ints.iter())
                .map(|&k| super::bloom::hash(&k.to_le_bytes()))
                .collect(),
        })
    }
}

/// Parses canonical UUID text (`8-4-4-4-12` hex digits, either case) or 32 bare hex digits.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let hyphens = match b.len() {
        36 => true,
        32 => false,
        _ => return None,
    };
    let mut out = [0u8; 16];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if hyphens && matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let nibble = (c as char).to_digit(16)? as u8;
        out[n / 2] |= nibble << if n % 2 == 0 { 4 } else { 0 };
        n += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter's word is the documented mix of both 8-byte ends (zero-padded when
    /// shorter) and the length, for every length around 8 and any bytes.
    #[test]
    fn the_prefilter_word_mixes_both_ends_and_the_length() {
        let reference = |v: &[u8]| {
            let word = |b: &[u8]| {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(b);
                u64::from_le_bytes(w)
            };
            let n = v.len().min(8);
            let (first, last) = (word(&v[..n]), word(&v[v.len() - n..]));
            (first ^ last.rotate_left(29) ^ (v.len() as u64).rotate_left(56)).wrapping_mul(K)
        };
        let mut rng = crate::domain::keyhash::test_rng(0x77);
        for len in 0..40 {
            for _ in 0..50 {
                let v: Vec<u8> = (0..len).map(|_| rng() as u8).collect();
                assert_eq!(prefix_word(&v), reference(&v), "{v:?}");
            }
        }
    }

    /// IDs that are one value of the column are aliases of the first: a match names it,
    /// and the others are found through it.
    #[test]
    fn ids_that_are_one_value_are_aliases() {
        let list = SubjectList::of(["7", "x", "007", "+7", "8"]).unwrap();
        let p = Probe::new(IdKind::Int64 { signed: true }, &list);
        let first = p.int(7).unwrap();
        let mut all: Vec<u32> = std::iter::once(first)
            .chain(p.aliases(first).iter().copied())
            .collect();
        all.sort_unstable();
        let want: Vec<u32> = ["7", "007", "+7"]
            .iter()
            .map(|id| list.find(id.as_bytes()).unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(all, want);
        assert!(p.aliases(p.int(8).unwrap()).is_empty());
        let (a, b) = (
            "01165b69-a81b-44c7-9803-ac583c39ed54",
            "01165B69-A81B-44C7-9803-AC583C39ED54",
        );
        let list = SubjectList::of([b, "y", a]).unwrap();
        let p = Probe::new(
            IdKind::Fixed {
                len: 16,
                uuid: true,
            },
            &list,
        );
        let u = parse_uuid(a).unwrap();
        let first = p.bytes(&u).unwrap();
        assert_eq!(p.aliases(first).len(), 1);
        let text = Probe::new(IdKind::Bytes, &list);
        assert!(
            text.aliases(0).is_empty(),
            "in a text column they are two values"
        );
    }

    fn ids(v: &[&str]) -> SubjectList {
        SubjectList::of(v.iter().copied()).unwrap()
    }

    #[test]
    fn strings_match_exactly() {
        let p = Probe::new(IdKind::Bytes, &ids(&["u-1", "u-22", "Ünï"]));
        assert_eq!(p.bytes(b"u-1"), Some(0));
        assert_eq!(p.bytes(b"u-22"), Some(1));
        assert_eq!(p.bytes("Ünï".as_bytes()), Some(2));
        assert_eq!(p.bytes(b"u-2"), None);
        assert_eq!(p.bytes(b"U-1"), None);
        assert_eq!(p.bytes(b""), None);
    }

    #[test]
    fn integers_match_numerically() {
        let p = Probe::new(
            IdKind::Int64 { signed: true },
            &ids(&["007", "-3", "abc", "9223372036854775807"]),
        );
        assert_eq!(p.int64(7), Some(0));
        assert_eq!(p.int64(-3), Some(1));
        assert_eq!(p.int64(i64::MAX), Some(3));
        assert_eq!(p.int64(8), None);
        let p = Probe::new(IdKind::Int32 { signed: true }, &ids(&["5000000000", "12"]));
        assert_eq!(p.int32(12), Some(1));
        assert!(!p.ints_in_range(i64::from(i32::MIN), 11));
    }

    #[test]
    fn unsigned_integers_use_their_bit_patterns() {
        let p = Probe::new(
            IdKind::Int32 { signed: false },
            &ids(&["4294967295", "-1", "-0"]),
        );
        assert_eq!(p.int32(-1), Some(0));
        assert_eq!(p.int32(0), Some(2));
        assert!(p.ints_in_range(0, -1)); // physical max -1 is u32::MAX
        assert!(!p.ints_in_range(1, 100));
        let p = Probe::new(
            IdKind::Int64 { signed: false },
            &ids(&["18446744073709551615"]),
        );
        assert_eq!(p.int64(-1), Some(0));
    }

    #[test]
    fn uuids_match_in_canonical_text() {
        let u = "123e4567-E89B-12d3-a456-426614174000";
        let p = Probe::new(
            IdKind::Fixed {
                len: 16,
                uuid: true,
            },
            &ids(&[u, "nonsense"]),
        );
        let raw = parse_uuid(u).unwrap();
        assert_eq!(raw[0], 0x12);
        assert_eq!(raw[15], 0x00);
        assert_eq!(p.bytes(&raw), Some(0));
        assert_eq!(parse_uuid("123e4567e89b12d3a456426614174000"), Some(raw));
        assert_eq!(parse_uuid("123e4567-e89b-12d3-a456-42661417400g"), None);
    }

    /// A list of UUIDs held as 16 bytes beside the same UUIDs written otherwise: a text
    /// column matches each exactly as written, a UUID column matches each by value (the
    /// first subject of equal values), a 36-byte fixed column matches the text; ranges
    /// agree with a scan of every text.
    #[test]
    fn uuid_ids_held_compactly_match_as_their_text_and_their_value() {
        let a = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let b = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let list = ids(&[a, &a.to_uppercase(), b, "plain", &b.replace('-', "")]);
        let text = Probe::new(IdKind::Bytes, &list);
        assert_eq!(text.bytes(a.as_bytes()), Some(0));
        assert_eq!(text.bytes(a.to_uppercase().as_bytes()), Some(1));
        assert_eq!(text.bytes(b.as_bytes()), Some(2));
        assert_eq!(text.bytes(b"plain"), Some(3));
        assert_eq!(text.bytes(b.replace('-', "").as_bytes()), Some(4));
        assert_eq!(text.bytes(b.to_uppercase().as_bytes()), None);
        assert_eq!(
            text.bytes(&parse_uuid(a).unwrap()),
            None,
            "16 bytes are not the text"
        );
        let mut texts = vec![a.to_string(), a.to_uppercase(), b.into(), "plain".into()];
        texts.push(b.replace('-', ""));
        for (min, max) in [
            ("0", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            ("0f8g", "7"),
            ("7c", "7d"),
            ("q", "z"),
        ] {
            let naive = texts.iter().any(|t| t.as_str() >= min && t.as_str() <= max);
            assert_eq!(
                text.bytes_in_range(min.as_bytes(), max.as_bytes()),
                naive,
                "{min}..{max}"
            );
        }
        let uuid = Probe::new(
            IdKind::Fixed {
                len: 16,
                uuid: true,
            },
            &list,
        );
        assert_eq!(uuid.bytes(&parse_uuid(a).unwrap()), Some(0));
        assert_eq!(uuid.bytes(&parse_uuid(b).unwrap()), Some(2));
        assert_eq!(uuid.bloom_hashes().len(), 2);
        let fixed36 = Probe::new(
            IdKind::Fixed {
                len: 36,
                uuid: false,
            },
            &list,
        );
        assert_eq!(fixed36.bytes(a.as_bytes()), Some(0));
        assert_eq!(fixed36.bytes(a.to_uppercase().as_bytes()), Some(1));
        assert_eq!(fixed36.bytes(b.as_bytes()), Some(2));
        assert_eq!(text.bloom_hashes().len(), 5);
    }

    /// A long list gets a prefilter of at least 8 bits an ID: every ID still matches, and
    /// values that are no ID mostly stop at the prefilter.
    #[test]
    fn a_long_list_does_not_fill_the_prefilter() {
        let mut next = crate::domain::keyhash::test_rng(0x5eed);
        // IDs that share their first 8 bytes, as numbered IDs do.
        let texts: Vec<String> = (0..200_000)
            .map(|_| format!("user-000{:016x}", next()))
            .collect();
        let list = SubjectList::of(texts.iter().map(String::as_str)).unwrap();
        let p = Probe::new(IdKind::Bytes, &list);
        assert!(p.prefilter.len() * 64 >= 200_000 * 8);
        for (i, t) in texts.iter().enumerate().step_by(997) {
            assert_eq!(p.bytes(t.as_bytes()), Some(i as u32));
        }
        let others: Vec<String> = (0..10_000)
            .map(|_| format!("user-000{:016x}", next()))
            .collect();
        let through = others
            .iter()
            .filter(|o| p.passes(prefix_word(o.as_bytes())))
            .count();
        assert!(through < 2_000, "{through} of 10,000 passed");
        assert!(others.iter().all(|o| p.bytes(o.as_bytes()).is_none()));
        // A short list keeps the small one, which stays in L1 cache.
        let small = Probe::new(IdKind::Bytes, &ids(&["a", "b"]));
        assert_eq!(small.prefilter.len() * 64, PREFILTER_BITS);
    }

    #[test]
    fn ranges_prune_on_sorted_keys() {
        let p = Probe::new(IdKind::Bytes, &ids(&["b", "d"]));
        assert!(p.bytes_in_range(b"a", b"b"));
        assert!(p.bytes_in_range(b"c", b"e"));
        assert!(!p.bytes_in_range(b"ba", b"cz"));
        assert!(!p.bytes_in_range(b"e", b"z"));
        let p = Probe::new(IdKind::Int64 { signed: true }, &ids(&["-5", "10"]));
        assert!(p.ints_in_range(-5, -5));
        assert!(!p.ints_in_range(-4, 9));
    }

    #[test]
    fn byte_keys_answer_as_a_map_and_a_sorted_list_do() {
        // Seeded keys of 0 to 6 bytes over a small alphabet: many duplicates, many
        // prefixes of one another, the empty key.
        let mut next = crate::domain::keyhash::test_rng(0x2545_f491_4f6c_dd1du64);
        let (mut data, mut ends, mut subjects) = (Vec::new(), Vec::new(), Vec::new());
        let mut want: std::collections::HashMap<Vec<u8>, u32> = Default::default();
        for subject in 0..3000u32 {
            let len = (next() % 7) as usize;
            let key: Vec<u8> = (0..len).map(|_| b"ab\xff"[(next() % 3) as usize]).collect();
            want.entry(key.clone()).or_insert(subject);
            data.extend_from_slice(&key);
            ends.push(data.len() as u32);
            subjects.push(subject);
        }
        let k = ByteKeys::new(data, ends, subjects);
        assert_eq!(k.len(), want.len());
        for (key, subject) in &want {
            assert_eq!(k.get(key), Some(*subject), "{key:?}");
        }
        assert_eq!(k.get(b"abc"), None);
        let sorted: Vec<&[u8]> = (0..k.len()).map(|i| k.key(i)).collect();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        // Range questions against a scan of every key.
        for _ in 0..2000 {
            let a: Vec<u8> = (0..(next() % 5))
                .map(|_| b"ab\xff"[(next() % 3) as usize])
                .collect();
            let b: Vec<u8> = (0..(next() % 5))
                .map(|_| b"ab\xff"[(next() % 3) as usize])
                .collect();
            let (min, max) = if a <= b { (a, b) } else { (b, a) };
            let p = Probe {
                bytes: Keys::Owned(k.clone()),
                ..Probe::new(IdKind::Bytes, &SubjectList::default())
            };
            let naive = sorted.iter().any(|s| *s >= &min[..] && *s <= &max[..]);
            assert_eq!(p.bytes_in_range(&min, &max), naive, "{min:?}..={max:?}");
        }
    }
}

//! The subject list of a scan and how subjects are named in kept evidence.
//!
//! Raw subject IDs live only in memory here. Anything written to a report, a log or an
//! error goes through [`SubjectLabeler`], which gives the keyed hash `hmac-sha256:<hex>`
//! when a subject key is configured. Errors from this module never echo an ID.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error("{path}: cannot read the ID file: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: the ID file holds no subject IDs")]
    Empty { path: String },
    #[error("{path}: line {line} is not valid UTF-8")]
    NotUtf8 { path: String, line: usize },
    #[error("no subject IDs given (use --ids FILE or --id ID)")]
    NoneGiven,
    #[error("the subject key must be at least 16 bytes")]
    WeakKey,
    #[error("the subject list holds more than 4 GiB of IDs")]
    TooMany,
}

/// Subject IDs, each once, in the order given (subject `i` is the `i`-th ID first given).
///
/// Held end to end in one buffer, each ID in its stored form: an ID written as a UUID in
/// canonical lowercase text (`8-4-4-4-12` lowercase hex digits) is stored as its 16 bytes,
/// any other ID as its UTF-8 text. Ten million UUID IDs take about 280 MB here (16 bytes,
/// a 4-byte end and a slot of the table that finds them, about 8 bytes, each; 4 more for
/// the sorted order once it is made), where their text alone is 360 MB. The stored form
/// is never seen outside: [`SubjectList::get`] gives the ID's text back exactly, and two
/// IDs are the same only when their texts are. Cloning shares the buffer.
#[derive(Clone, Default)]
pub struct SubjectList(std::sync::Arc<Ids>);

#[derive(Clone, Default)]
struct Ids {
    data: Vec<u8>,
    /// Where each ID ends in `data`: ID `i` is `data[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    /// Bit `i` set: ID `i` is stored as a UUID's 16 bytes.
    uuid: Vec<u64>,
    /// Every ID's number, found by the hash of its stored form ([`stored_hash`]).
    index: hashbrown::HashTable<u32>,
    /// The ID numbers in the order of their texts' bytes: made on first use.
    sorted: std::sync::OnceLock<Vec<u32>>,
}

/// Never the IDs themselves.
impl std::fmt::Debug for SubjectList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectList({} IDs)", self.len())
    }
}

impl PartialEq for SubjectList {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.0, &*other.0);
        a.data == b.data && a.ends == b.ends && a.uuid == b.uuid
    }
}

impl Eq for SubjectList {}

/// One ID's text, as [`SubjectList::get`] gives it: borrowed from the list, or made again
/// from a UUID's 16 bytes. Derefs to `str`; deliberately not `Debug`.
pub struct Id<'a>(IdText<'a>);

enum IdText<'a> {
    Text(&'a str),
    Uuid([u8; 36]),
}

impl std::ops::Deref for Id<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match &self.0 {
            IdText::Text(s) => s,
            // Made from hex digits and hyphens only: always UTF-8.
            IdText::Uuid(b) => std::str::from_utf8(b).unwrap_or_default(),
        }
    }
}

/// The 16 bytes of `text` when it is a UUID in canonical lowercase text, the only text
/// [`uuid_text`] gives back.
pub fn canonical_uuid(text: &[u8]) -> Option<[u8; 16]> {
    /// Each lowercase hex digit's value; 0xff for any other byte.
    const NIBBLE: [u8; 256] = {
        let mut t = [0xff; 256];
        let mut c = 0;
        while c < 16 {
            t[b"0123456789abcdef"[c] as usize] = c as u8;
            c += 1;
        }
        t
    };
    /// Where each of the 16 bytes' high digit is in the text.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let text: &[u8; 36] = text.try_into().ok()?;
    if text[8] != b'-' || text[13] != b'-' || text[18] != b'-' || text[23] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    let mut bad = 0;
    for (o, &at) in out.iter_mut().zip(&AT) {
        let (hi, lo) = (NIBBLE[text[at] as usize], NIBBLE[text[at + 1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | (lo & 15);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// The canonical lowercase text of a UUID's 16 bytes. Its bytes sort as the 16 bytes do
/// (hyphens at fixed places, digits below letters), which [`SubjectList::sorted`] uses.
pub fn uuid_text(u: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 15)];
        at += 2;
    }
    out
}

/// The hash an ID is found by: of its stored form (a UUID's 16 bytes, other IDs' text).
#[inline]
fn stored_hash(stored: &[u8]) -> u64 {
    crate::domain::keyhash::key_hash(stored)
}

/// The buffers of [`Ids`] without its table, to read while the table is changed.
#[derive(Clone, Copy)]
struct Stored<'a> {
    data: &'a [u8],
    ends: &'a [u32],
    bits: &'a [u64],
}

impl<'a> Stored<'a> {
    /// ID `i`'s stored form, and whether it is a UUID's 16 bytes.
    #[inline]
    fn at(self, i: usize) -> (&'a [u8], bool) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let uuid = self
            .bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0);
        (&self.data[start..self.ends[i] as usize], uuid)
    }

    /// Whether ID `i` has this stored form; UUIDs compared as one number, not through
    /// `memcmp`.
    #[inline]
    fn is(self, i: usize, stored: &[u8], uuid: bool) -> bool {
        match (self.at(i), <&[u8; 16]>::try_from(stored)) {
            ((b, true), Ok(&u)) if uuid => {
                b.try_into().ok().map(u128::from_ne_bytes) == Some(u128::from_ne_bytes(u))
            }
            ((b, u), _) => u == uuid && b == stored,
        }
    }
}

impl Ids {
    #[inline]
    fn view(&self) -> Stored<'_> {
        Stored {
            data: &self.data,
            ends: &self.ends,
            bits: &self.uuid,
        }
    }

    #[inline]
    fn stored(&self, i: usize) -> (&[u8], bool) {
        self.view().at(i)
    }

    /// The number of the ID with this stored form.
    #[inline]
    fn find_stored(&self, stored: &[u8], uuid: bool) -> Option<u32> {
        let view = self.view();
        (self.index)
            .find(stored_hash(stored), |&i| view.is(i as usize, stored, uuid))
            .copied()
    }
}

impl SubjectList {
    pub fn len(&self) -> usize {
        self.0.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.ends.is_empty()
    }

    /// The text of ID `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Id<'_> {
        match self.0.stored(i) {
            (b, true) => Id(IdText::Uuid(uuid_text(b.try_into().unwrap_or(&[0; 16])))),
            // Stored from a `&str`.
            (b, false) => Id(IdText::Text(std::str::from_utf8(b).unwrap_or_default())),
        }
    }

    /// Calls `f` with ID `i`'s text as bytes (made on the stack for a UUID).
    #[inline]
    pub fn with_bytes<R>(&self, i: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        match self.0.stored(i) {
            (b, true) => f(&uuid_text(b.try_into().unwrap_or(&[0; 16]))),
            (b, false) => f(b),
        }
    }

    /// ID `i`'s 16 bytes when it is stored as a UUID (its text is canonical lowercase).
    #[inline]
    pub fn stored_uuid(&self, i: usize) -> Option<[u8; 16]> {
        match self.0.stored(i) {
            (b, true) => b.try_into().ok(),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Id<'_>> + Clone {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The number of the ID whose text is exactly `v` (any bytes: a value read from a file).
    #[inline]
    pub fn find(&self, v: &[u8]) -> Option<u32> {
        match canonical_uuid(v) {
            Some(u) => self.0.find_stored(&u, true),
            None => self.0.find_stored(v, false),
        }
    }

    /// The number of the ID stored as this UUID (given in canonical lowercase text).
    #[inline]
    pub fn find_uuid(&self, u: &[u8; 16]) -> Option<u32> {
        self.0.find_stored(u, true)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.find(id.as_bytes()).is_some()
    }

    /// Adds `id` at the end unless the list holds it already (then false). An ID past
    /// 4 GiB of IDs in all is refused.
    pub fn insert(&mut self, id: &str) -> Result<bool, SubjectError> {
        let compact = canonical_uuid(id.as_bytes());
        let (stored, uuid) = match &compact {
            Some(u) => (&u[..], true),
            None => (id.as_bytes(), false),
        };
        let h = stored_hash(stored);
        let Ids {
            data,
            ends,
            uuid: bits,
            index,
            sorted,
        } = std::sync::Arc::make_mut(&mut self.0);
        let view = Stored { data, ends, bits };
        // One search of the table: found, or the place to add it.
        let hashbrown::hash_table::Entry::Vacant(place) = index.entry(
            h,
            |&j| view.is(j as usize, stored, uuid),
            |&j| stored_hash(view.at(j as usize).0),
        ) else {
            return Ok(false);
        };
        if data.len() + stored.len() > u32::MAX as usize || ends.len() >= u32::MAX as usize {
            return Err(SubjectError::TooMany);
        }
        let i = ends.len();
        data.extend_from_slice(stored);
        ends.push(data.len() as u32);
        if i % 64 == 0 {
            bits.push(0);
        }
        if uuid {
            bits[i / 64] |= 1 << (i % 64);
        }
        *sorted = std::sync::OnceLock::new();
        place.insert(i as u32);
        Ok(true)
    }

    /// Room for `n` IDs more without growing the table.
    pub fn reserve(&mut self, n: usize) {
        let ids = std::sync::Arc::make_mut(&mut self.0);
        let view = Stored {
            data: &ids.data,
            ends: &ids.ends,
            bits: &ids.uuid,
        };
        ids.index
            .reserve(n, |&j| stored_hash(view.at(j as usize).0));
        ids.ends.reserve(n);
    }

    /// The IDs given, each once (the first kept), in their order; more than 4 GiB of
    /// them is an error, never a list cut short.
    pub fn of<'s>(ids: impl IntoIterator<Item = &'s str>) -> Result<SubjectList, SubjectError> {
        let mut out = SubjectList::default();
        for id in ids {
            out.insert(id)?;
        }
        Ok(out)
    }

    /// The ID numbers in the order of their texts' bytes (unsigned lexicographic, the
    /// order of Parquet statistics): made on first use, 4 bytes an ID.
    pub fn sorted(&self) -> &[u32] {
        self.0.sorted.get_or_init(|| self.sort())
    }

    /// UUIDs and texts are sorted apart, each by a number made of its first bytes and
    /// its ID number (sorted without reaching into the buffer), IDs whose first bytes
    /// tie then by all their bytes; the two orders are merged by text. A sort that
    /// compared the IDs in the buffer took 7 s for ten million (a cache miss a step).
    fn sort(&self) -> Vec<u32> {
        let ids = &*self.0;
        let be = |b: &[u8]| b.try_into().map(u128::from_be_bytes).unwrap_or(0);
        let mut uuid_keys: Vec<u64> = Vec::new();
        let mut text_keys: Vec<u128> = Vec::new();
        for i in 0..self.len() {
            match ids.stored(i) {
                // The first 32 bits of the 16 bytes, then the number.
                (b, true) => uuid_keys.push(((be(b) >> 96) as u64) << 32 | i as u64),
                // The first 8 bytes of the text, zeros after a shorter one, then the number.
                (b, false) => {
                    let mut first = [0u8; 8];
                    let n = b.len().min(8);
                    first[..n].copy_from_slice(&b[..n]);
                    text_keys.push(u128::from(u64::from_be_bytes(first)) << 64 | i as u128);
                }
            }
        }
        let uuids = by_all_bytes(
            uuid_keys,
            |k| k >> 32,
            |k| k as u32,
            |&i| be(ids.stored(i as usize).0),
        );
        let texts = by_all_bytes(
            text_keys,
            |k| k >> 64,
            |k| k as u32,
            |&i| ids.stored(i as usize).0,
        );
        if texts.is_empty() {
            return uuids;
        }
        let mut order = Vec::with_capacity(self.len());
        let (mut u, mut t) = (uuids.iter().peekable(), texts.iter().peekable());
        while let (Some(&&a), Some(&&b)) = (u.peek(), t.peek()) {
            let uuid_first = self.with_bytes(a as usize, |x| x < ids.stored(b as usize).0);
            order.push(if uuid_first { u.next() } else { t.next() }.map_or(0, |&i| i));
        }
        order.extend(u.chain(t));
        order
    }
}

/// The ID numbers of `keys` sorted by prefix, then number, with each run of equal
/// prefixes sorted again by `full` (the ID's whole stored form). The keys are given
/// back to the allocator as the numbers are taken, so both are never held whole.
fn by_all_bytes<K: Copy + Ord, F: Ord>(
    mut keys: Vec<K>,
    prefix: impl Fn(K) -> K,
    number: impl Fn(K) -> u32,
    full: impl Fn(&u32) -> F,
) -> Vec<u32> {
    keys.sort_unstable_by(|a, b| b.cmp(a));
    let mut out: Vec<u32> = Vec::with_capacity(keys.len());
    let mut runs = Vec::new();
    let mut last: Option<K> = None;
    let mut start = 0;
    while let Some(k) = keys.pop() {
        if last.is_some_and(|l| prefix(l) != prefix(k)) {
            if out.len() - start > 1 {
                runs.push(start..out.len());
            }
            start = out.len();
        }
        last = Some(k);
        out.push(number(k));
        if keys.len().is_multiple_of(1 << 20) {
            keys.shrink_to_fit();
        }
    }
    if out.len() - start > 1 {
        runs.push(start..out.len());
    }
    for r in runs {
        out[r].sort_by_key(&full);
    }
    out
}

/// Adds the IDs of `text` (whole lines, a leading byte order mark taken off already) to
/// `out`: lines end with `\n`, `\r\n` or `\r`; whitespace is trimmed; blank lines and
/// lines starting with `#` are ignored; an ID given again is dropped (the first kept).
fn add_lines(out: &mut SubjectList, text: &str) -> Result<(), SubjectError> {
    for l in text.split(['\n', '\r']).map(str::trim) {
        if !l.is_empty() && !l.starts_with('#') {
            out.insert(l)?;
        }
    }
    Ok(())
}

/// Parses an ID list into a [`SubjectList`]: one ID a line (lines end with `\n`, `\r\n` or `\r`; a leading
/// UTF-8 byte order mark is not part of the first ID), whitespace trimmed, blank lines
/// and lines starting with `#` ignored. Duplicates are dropped (first kept).
pub fn parse_id_list(text: &str) -> Result<SubjectList, SubjectError> {
    let mut out = SubjectList::default();
    add_lines(&mut out, text.strip_prefix('\u{feff}').unwrap_or(text))?;
    Ok(out)
}

/// How many IDs a file of `len` bytes may hold, at the bytes an ID line takes in its
/// first block (blank and comment lines are not counted, so a header of them does not
/// make the guess huge); never more than 16 Mi: a table reserved for a wrong guess costs
/// a byte a slot, and a longer list grows as it is read.
fn id_count_guess(len: u64, first: &[u8]) -> usize {
    let (mut lines, mut bytes) = (0u64, 0u64);
    for l in first
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
    {
        let t = l.trim_ascii();
        if !t.is_empty() && !t.starts_with(b"#") {
            lines += 1;
            bytes += l.len() as u64;
        }
    }
    match bytes.checked_div(lines) {
        Some(per_line) => (len / per_line.max(1)).min(1 << 24) as usize,
        None => 0,
    }
}

/// Reads an ID file (see [`parse_id_list`]), or standard input for `-`, a line at a time
/// (the file's text is never held whole); an empty list is an error.
pub fn read_id_file(path: &std::path::Path) -> Result<SubjectList, SubjectError> {
    use std::io::BufRead;
    let stdin = path == std::path::Path::new("-");
    let shown = if stdin {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    let unreadable = |e: &std::io::Error| SubjectError::Unreadable {
        path: shown.clone(),
        message: crate::io::store::io_message(e),
    };
    let (reader, file_len) = crate::io::fsio::open_or_stdin(path).map_err(|e| unreadable(&e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let mut ids = SubjectList::default();
    // Room for the IDs the file's length suggests: a table grown by doubling hashes
    // every ID again at each step (half the time of reading ten million).
    let first = reader.fill_buf().map_err(|e| unreadable(&e))?;
    if let Some(len) = file_len {
        ids.reserve(id_count_guess(len, first));
    }
    // Whole lines are taken from each buffer read; a line cut by the buffer's end waits
    // in `carry` for the rest of it.
    let mut carry: Vec<u8> = Vec::new();
    // Line ends before the block being read (`\n`, `\r\n` or a lone `\r`), for the line
    // an error names.
    let mut line_ends = 0;
    let mut first = true;
    let mut block = |bytes: &[u8], ids: &mut SubjectList| -> Result<(), SubjectError> {
        let mut bytes = bytes;
        if first {
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
            first = false;
        }
        let lone_crs = |b: &[u8]| {
            (memchr::memchr_iter(b'\r', b))
                .filter(|&i| b.get(i + 1) != Some(&b'\n'))
                .count()
        };
        // Whole lines are cut at character boundaries: each block is checked on its own.
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let before = &bytes[..e.valid_up_to()];
            SubjectError::NotUtf8 {
                path: shown.clone(),
                line: line_ends + memchr::memchr_iter(b'\n', before).count() + lone_crs(before) + 1,
            }
        })?;
        line_ends += memchr::memchr_iter(b'\n', bytes).count() + lone_crs(bytes);
        add_lines(ids, text)
    };
    loop {
        let buf = reader.fill_buf().map_err(|e| unreadable(&e))?;
        if buf.is_empty() {
            block(&carry, &mut ids)?;
            break;
        }
        let n = buf.len();
        match memchr::memrchr(b'\n', buf) {
            Some(k) if carry.is_empty() => {
                block(&buf[..=k], &mut ids)?;
                carry.extend_from_slice(&buf[k + 1..]);
            }
            Some(k) => {
                carry.extend_from_slice(&buf[..=k]);
                block(&carry, &mut ids)?;
                carry.clear();
                carry.extend_from_slice(&buf[k + 1..]);
            }
            None => carry.extend_from_slice(buf),
        }
        reader.consume(n);
    }
    if ids.is_empty() {
        return Err(SubjectError::Empty { path: shown });
    }
    Ok(ids)
}

/// Names subjects in reports: a keyed hash when a key is set, the ID as given otherwise.
#[derive(Clone)]
pub struct SubjectLabeler {
    /// Zeroed when dropped.
    key: Option<crate::io::secret::SecretBytes>,
}

impl std::fmt::Debug for SubjectLabeler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectLabeler")
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

impl SubjectLabeler {
    /// Labels with the raw ID (a scan run by hand without a key).
    pub fn plain() -> Self {
        SubjectLabeler { key: None }
    }

    /// Labels with HMAC-SHA256 keyed by `key` (its UTF-8 bytes).
    pub fn keyed(key: &[u8]) -> Result<Self, SubjectError> {
        if key.len() < 16 {
            return Err(SubjectError::WeakKey);
        }
        Ok(SubjectLabeler {
            key: Some(crate::io::secret::SecretBytes::new(key.to_vec())),
        })
    }

    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// A keyed hash of the sorted distinct IDs (None without a key: a plain hash of a
    /// short list would name its IDs to anyone who guesses them). Under a key derived
    /// for this use, so that it is never equal to a label.
    pub fn list_fingerprint(&self, ids: &SubjectList) -> Option<String> {
        let key = self.key.as_ref()?;
        let derived =
            zeroize::Zeroizing::new(keyed_hash_hex(key, b"vouch subject list fingerprint v1"));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(derived.as_bytes())
            .unwrap_or_else(|_| unreachable!());
        for &i in ids.sorted() {
            ids.with_bytes(i as usize, |id| {
                mac.update(&(id.len() as u64).to_le_bytes());
                mac.update(id);
            });
        }
        Some(format!("hmac-sha256:{}", hex(&mac.finalize().into_bytes())))
    }

    /// An HMAC-SHA256 of `doc` (a report or part, of the `kind` named) under a key derived
    /// from the subject key for this use alone; None without a key. Whoever holds the
    /// subject key can make one; whoever does not cannot edit a document and keep it.
    pub fn authenticate(&self, kind: &str, doc: &[u8]) -> Option<String> {
        let mut mac = self.document_mac(kind)?;
        mac.update(doc);
        Some(mac.tag())
    }

    /// [`SubjectLabeler::authenticate`] of a document given piece by piece (a part
    /// streamed through a merge); None without a key.
    pub fn document_mac(&self, kind: &str) -> Option<DocumentMac> {
        let key = self.key.as_ref()?;
        let derived =
            zeroize::Zeroizing::new(keyed_hash_hex(key, b"vouch document authentication v1"));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(derived.as_bytes())
            .unwrap_or_else(|_| unreachable!());
        mac.update(&(kind.len() as u64).to_le_bytes());
        mac.update(kind.as_bytes());
        Some(DocumentMac(mac))
    }

    /// Checks a tag made by [`SubjectLabeler::authenticate`], in constant time.
    pub fn verify(&self, kind: &str, doc: &[u8], tag: Option<&str>) -> Result<(), String> {
        check_tag(self.authenticate(kind, doc), tag)
    }

    pub fn label(&self, id: &str) -> String {
        match &self.key {
            None => id.to_string(),
            Some(k) => format!("hmac-sha256:{}", keyed_hash_hex(k, id.as_bytes())),
        }
    }
}

/// The authentication of a document being read: [`DocumentMac::update`] with its bytes
/// in order, then [`check_tag`] of [`DocumentMac::tag`].
pub struct DocumentMac(Hmac<Sha256>);

impl DocumentMac {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn tag(self) -> String {
        format!("hmac-sha256:{}", hex(&self.0.finalize().into_bytes()))
    }
}

/// Compares the tag a document should carry (`want`; None without the subject key) with
/// the one it carries, in constant time.
pub fn check_tag(want: Option<String>, tag: Option<&str>) -> Result<(), String> {
    let Some(want) = want else {
        return Err("the subject key is needed to check its authentication".into());
    };
    let Some(tag) = tag else {
        return Err("it carries no authentication (made without the subject key?)".into());
    };
    let same = tag.len() == want.len()
        && tag
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(
            "its authentication does not match: it was edited, or made with another subject key"
                .into(),
        )
    }
}

/// Lowercase hex of HMAC-SHA256(key, data).
pub fn keyed_hash_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

pub use crate::io::encode::hex;

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        parse_id_list(text)
            .unwrap()
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    fn texts(l: &SubjectList) -> Vec<String> {
        l.iter().map(|id| id.to_string()).collect()
    }

    /// The list's texts in its sorted order.
    fn sorted_texts(l: &SubjectList) -> Vec<String> {
        (l.sorted().iter())
            .map(|&i| l.get(i as usize).to_string())
            .collect()
    }

    #[test]
    fn id_lines_trim_skip_comments_and_dedupe() {
        let ids = lines("  a \n\n# comment\nb\r\na\n   # indented comment\n c#d \n");
        assert_eq!(ids, vec!["a", "b", "c#d"]);
    }

    #[test]
    fn id_lines_drop_a_byte_order_mark_and_split_every_line_end() {
        assert_eq!(lines("\u{feff}u1\nu2\n"), vec!["u1", "u2"]);
        assert!(lines("\u{feff}").is_empty());
        assert!(lines("\u{feff}\r\n").is_empty());
        assert_eq!(lines("u1\ru2\ru3"), vec!["u1", "u2", "u3"]);
        assert_eq!(lines("u1\r\nu2\ru3\n"), vec!["u1", "u2", "u3"]);
        // Only a leading mark is dropped: one inside a line is part of that ID.
        assert_eq!(lines("a\n\u{feff}b"), vec!["a", "\u{feff}b"]);
    }

    #[test]
    fn a_subject_list_holds_each_id_once_in_order_and_never_shows_them() {
        let l = parse_id_list("b\n\na\nb\n\u{e9}t\u{e9}\n\n").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(texts(&l), ["b", "a", "\u{e9}t\u{e9}"]);
        assert_eq!(&*l.get(2), "\u{e9}t\u{e9}");
        assert!(l.contains("a") && !l.contains("c"));
        assert_eq!(format!("{l:?}"), "SubjectList(3 IDs)");
        assert_eq!(
            texts(&SubjectList::of(["x", "y", "x"]).unwrap()),
            ["x", "y"]
        );
        let mut m = SubjectList::default();
        assert!(m.is_empty());
        assert!(m.insert("").unwrap());
        assert!(m.insert("z").unwrap());
        assert!(!m.insert("").unwrap());
        assert_eq!(texts(&m), ["", "z"]);
        // A clone shares the buffer; adding to it leaves the original as it was.
        let mut c = m.clone();
        c.insert("w").unwrap();
        assert_eq!((m.len(), c.len()), (2, 3));
    }

    /// IDs that try to pass for one another: a UUID in canonical lowercase (stored as
    /// 16 bytes) beside the same UUID uppercase, bare, braced, with a space, cut short,
    /// and a 16-byte text equal to its stored bytes.
    #[test]
    fn uuid_ids_are_stored_as_16_bytes_and_given_back_exactly() {
        let lower = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let raw = canonical_uuid(lower.as_bytes()).unwrap();
        let raw_text = String::from_utf8(raw.to_vec()).ok();
        let mut given = vec![
            lower.to_string(),
            lower.to_uppercase(),
            lower.replace('-', ""),
            format!("{{{lower}}}"),
            format!(" {lower}"),
            lower[..35].to_string(),
            "0f8fad5b-d9cb-469f-a165-70867728950g".into(),
            "0f8fad5bd-9cb-469f-a165-70867728950e".into(),
            "00000000-0000-0000-0000-000000000000".into(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff".into(),
            "é0000000-0000-0000-0000-00000000000".into(),
        ];
        given.extend(raw_text);
        let l = SubjectList::of(given.iter().map(String::as_str)).unwrap();
        assert_eq!(texts(&l), given, "each kept, each given back as given");
        for (i, g) in given.iter().enumerate() {
            assert_eq!(l.find(g.as_bytes()), Some(i as u32), "{g}");
            assert!(l.contains(g));
        }
        let stored: Vec<bool> = (0..l.len()).map(|i| l.stored_uuid(i).is_some()).collect();
        assert_eq!(stored.iter().filter(|&&b| b).count(), 3, "{stored:?}");
        assert_eq!(l.stored_uuid(0), Some(raw));
        assert_eq!(l.find_uuid(&raw), Some(0));
        assert_eq!(uuid_text(&raw), lower.as_bytes());
        // Sorted as the texts' bytes sort, UUIDs and text together.
        let mut want: Vec<&str> = given.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(sorted_texts(&l), want);
        assert_eq!(l.find(b"\xff\xfe"), None);
        // Only lowercase hex and hyphens in place make the 16-byte form.
        for bad in [
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5b-d9cb-469f-a165_70867728950e",
        ] {
            assert_eq!(canonical_uuid(bad.as_bytes()), None, "{bad}");
        }
    }

    /// Random lists of UUIDs (lowercase and not), hex-like text and short text: the
    /// list's order of texts and its fingerprint agree with sorting the texts themselves.
    #[test]
    fn sorted_order_and_fingerprint_agree_with_the_texts() {
        let mut next = crate::domain::keyhash::test_rng(0x9e37_79b9_7f4a_7c15u64);
        let labeler = SubjectLabeler::keyed(b"0123456789abcdef").unwrap();
        for round in 0..20 {
            let mut given = Vec::new();
            for _ in 0..(50 + round * 10) {
                let u = (u128::from(next()) << 64) | u128::from(next());
                let text = String::from_utf8(uuid_text(&u.to_be_bytes()).to_vec()).unwrap();
                given.push(match next() % 5 {
                    0 => text.to_uppercase(),
                    1 => text[..(next() % 37) as usize].to_string(),
                    2 => text.replace('-', ""),
                    _ => text,
                });
            }
            let l = SubjectList::of(given.iter().map(String::as_str)).unwrap();
            let mut want: Vec<&str> = given.iter().map(String::as_str).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(sorted_texts(&l), want);
            // The fingerprint as it was computed before the list held UUIDs compactly.
            let derived = keyed_hash_hex(b"0123456789abcdef", b"vouch subject list fingerprint v1");
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(derived.as_bytes()).unwrap();
            for id in &want {
                mac.update(&(id.len() as u64).to_le_bytes());
                mac.update(id.as_bytes());
            }
            let fp = format!("hmac-sha256:{}", hex(&mac.finalize().into_bytes()));
            assert_eq!(labeler.list_fingerprint(&l), Some(fp));
        }
    }

    /// The guess of a file's IDs counts ID lines only, and is bounded.
    #[test]
    fn the_id_count_guess_is_not_fooled_by_blank_or_comment_lines() {
        assert_eq!(
            id_count_guess(37_000, "x".repeat(36).as_bytes()),
            0,
            "no whole line"
        );
        let uuids = "0f8fad5b-d9cb-469f-a165-70867728950e\n".repeat(10);
        assert_eq!(id_count_guess(370_000_000, uuids.as_bytes()), 10_000_000);
        let blanks = format!("{}# ids\n{uuids}", "\n".repeat(100_000));
        assert_eq!(id_count_guess(370_000_000, blanks.as_bytes()), 10_000_000);
        assert_eq!(id_count_guess(u64::MAX, b"1\n2\n"), 1 << 24);
        assert_eq!(id_count_guess(1 << 20, b"\n\n# only comments\n"), 0);
    }

    /// The file read a line at a time gives what the text parsed whole gives, and a
    /// line that is not UTF-8 is named by the same count of line ends.
    #[test]
    fn an_id_file_is_read_as_its_text_is_parsed() {
        let dir = std::env::temp_dir().join(format!("vouch-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ids.txt");
        let long = "x".repeat(3 << 20);
        for text in [
            "\u{feff}a\r\nb\rc\n\n# no\n  0F8FAD5B-D9CB-469F-A165-70867728950E \r\n",
            "0f8fad5b-d9cb-469f-a165-70867728950e\n0f8fad5b-d9cb-469f-a165-70867728950e",
            &format!("a\n{long}\nb\r{long}"),
        ] {
            std::fs::write(&path, text).unwrap();
            assert_eq!(read_id_file(&path).unwrap(), parse_id_list(text).unwrap());
        }
        for (bytes, line) in [
            (&b"a\r\nb\rc\r\xff\n"[..], 4),
            (b"a\n\n\xff", 3),
            (b"\xef\xbb\xbfa\rb\n\r\n\r\xc3", 5),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let e = read_id_file(&path).unwrap_err().to_string();
            assert!(
                e.ends_with(&format!("line {line} is not valid UTF-8")),
                "{e}"
            );
        }
        std::fs::write(&path, "# only a comment\r\n\r\n").unwrap();
        assert!(matches!(
            read_id_file(&path),
            Err(SubjectError::Empty { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keyed_labels_are_rfc4231_hmac() {
        // RFC 4231 test case 2: key "Jefe" is too short for vouch, so check the primitive.
        assert_eq!(
            keyed_hash_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(SubjectLabeler::keyed(b"short").is_err());
        let l = SubjectLabeler::keyed(b"0123456789abcdef").unwrap();
        assert!(l.label("user-1").starts_with("hmac-sha256:"));
        assert!(!l.label("user-1").contains("user-1"));
        assert_eq!(SubjectLabeler::plain().label("user-1"), "user-1");
    }
}

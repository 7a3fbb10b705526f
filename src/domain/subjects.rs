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

/// Subject IDs, each once, in the order given, held end to end in one buffer: a million
/// 32-character IDs take 36 MB here, 72 as a `Vec<String>` (a heap allocation and a
/// 24-byte header each). Index it for an ID's text: `list[i]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SubjectList {
    data: String,
    /// Where each ID ends in `data`.
    ends: Vec<u32>,
}

/// Never the IDs themselves.
impl std::fmt::Debug for SubjectList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectList({} IDs)", self.len())
    }
}

impl SubjectList {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        (0..self.len()).map(|i| &self[i])
    }

    pub fn contains(&self, id: &str) -> bool {
        self.iter().any(|s| s == id)
    }

    /// Adds `id` at the end (the caller keeps the list free of duplicates). An ID past
    /// 4 GiB of IDs in all is refused.
    pub fn push(&mut self, id: &str) -> Result<(), SubjectError> {
        if self.data.len() + id.len() > u32::MAX as usize {
            return Err(SubjectError::TooMany);
        }
        self.data.push_str(id);
        self.ends.push(self.data.len() as u32);
        Ok(())
    }

    /// The IDs given, each once (the first kept), in their order; more than 4 GiB of
    /// them is an error, never a list cut short.
    pub fn of<'s>(ids: impl IntoIterator<Item = &'s str>) -> Result<SubjectList, SubjectError> {
        let mut out = SubjectList::default();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if seen.insert(id) {
                out.push(id)?;
            }
        }
        Ok(out)
    }
}

impl std::ops::Index<usize> for SubjectList {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }
}

/// Parses an ID list into a [`SubjectList`]: one ID a line (lines end with `\n`, `\r\n` or `\r`; a leading
/// UTF-8 byte order mark is not part of the first ID), whitespace trimmed, blank lines
/// and lines starting with `#` ignored. Duplicates are dropped (first kept).
pub fn parse_id_list(text: &str) -> Result<SubjectList, SubjectError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = || {
        text.split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    };
    let mut out = SubjectList::default();
    out.data.reserve(lines().map(str::len).sum());
    // Borrowed lines: the text itself is the set's storage.
    let mut seen = std::collections::HashSet::new();
    for l in lines() {
        if seen.insert(l) {
            out.push(l)?;
        }
    }
    Ok(out)
}

/// Reads an ID file (see [`parse_id_list`]), or standard input for `-`; an empty list
/// is an error.
pub fn read_id_file(path: &std::path::Path) -> Result<SubjectList, SubjectError> {
    let stdin = path == std::path::Path::new("-");
    let shown = if stdin {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = crate::io::fsio::read_or_stdin(path).map_err(|e| SubjectError::Unreadable {
        path: shown.clone(),
        message: crate::io::store::io_message(&e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line_ends = before
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
            .count();
        let line = line_ends + 1;
        SubjectError::NotUtf8 {
            path: shown.clone(),
            line,
        }
    })?;
    let ids = parse_id_list(&text)?;
    drop(text);
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
    pub fn list_fingerprint<'s>(&self, ids: impl IntoIterator<Item = &'s str>) -> Option<String> {
        let key = self.key.as_ref()?;
        let derived =
            zeroize::Zeroizing::new(keyed_hash_hex(key, b"vouch subject list fingerprint v1"));
        let mut sorted: Vec<&str> = ids.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(derived.as_bytes())
            .unwrap_or_else(|_| unreachable!());
        for id in sorted {
            mac.update(&(id.len() as u64).to_le_bytes());
            mac.update(id.as_bytes());
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
            .map(str::to_string)
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
        assert_eq!((&l[0], &l[1], &l[2]), ("b", "a", "\u{e9}t\u{e9}"));
        assert_eq!(l.iter().collect::<Vec<_>>(), ["b", "a", "\u{e9}t\u{e9}"]);
        assert!(l.contains("a") && !l.contains("c"));
        assert_eq!(format!("{l:?}"), "SubjectList(3 IDs)");
        assert_eq!(
            SubjectList::of(["x", "y", "x"])
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
        let mut m = SubjectList::default();
        assert!(m.is_empty());
        m.push("").unwrap();
        m.push("z").unwrap();
        assert_eq!((&m[0], &m[1]), ("", "z"));
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

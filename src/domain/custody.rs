//! The custody file: the chain of custody of a scan as JSON Lines, one line per object
//! the scan listed (docs/schemas/custody-record.schema.json), written while the report is
//! assembled so that no per-file list is held in memory. The report (and every
//! certificate made from it) carries the file's SHA-256 and line count, so a truncated,
//! reordered or edited custody file is detected.
//!
//! Lines come in the report's order (table by table, files in listing order) and hold no
//! timing, so the same lake and IDs give the same bytes — from a single scan or from a
//! merge of its shards. Paths are shown as the report shows them (no raw identifier in a
//! partition name).

use std::io::{BufRead, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::domain::report::CustodyDigest;
use crate::domain::report::{ObjectRecord, RowGroupStats};

/// One object of the scan and what was decided about it: the report's object record
/// (path as shown, size, ETag, version, footer SHA-256) with its table and findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyRecord {
    pub table: String,
    #[serde(flatten)]
    pub object: ObjectRecord,
    /// Rows in the file (read files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// How the file's row groups were decided (read files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_groups: Option<RowGroupStats>,
    /// Rows of any subject, live or not (read files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_rows: Option<u64>,
    /// Why the file could not be checked (the report's error for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Writes custody lines to a handle the caller opened, hashing them as they go. A write
/// error is kept and returned by [`CustodyWriter::finish`]; later lines are dropped.
pub struct CustodyWriter<'a> {
    out: &'a mut dyn Write,
    hash: Sha256,
    records: u64,
    line: Vec<u8>,
    error: Option<std::io::Error>,
}

impl<'a> CustodyWriter<'a> {
    pub fn new(out: &'a mut dyn Write) -> CustodyWriter<'a> {
        CustodyWriter {
            out,
            hash: Sha256::new(),
            records: 0,
            line: Vec::with_capacity(512),
            error: None,
        }
    }

    pub fn record(&mut self, r: &CustodyRecord) {
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, r) {
            self.error = Some(e.into());
            return;
        }
        self.line.push(b'\n');
        match self.out.write_all(&self.line) {
            Ok(()) => {
                self.hash.update(&self.line);
                self.records += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The digest of what was written, named `file`; or the first write error.
    pub fn finish(self, file: &str) -> Result<CustodyDigest, std::io::Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok(CustodyDigest {
            file: file.to_string(),
            sha256: crate::domain::subjects::hex(&self.hash.finalize()),
            records: self.records,
        })
    }
}

/// Why a custody file does not back the report or certificate that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustodyProblem {
    /// It could not be read (missing, unreadable): nothing is decided.
    Unreadable(String),
    /// It was read and is not the file named: edited, cut, reordered or replaced.
    Mismatch(String),
}

impl std::fmt::Display for CustodyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CustodyProblem::Unreadable(m) | CustodyProblem::Mismatch(m) => f.write_str(m),
        }
    }
}

/// The name a digest gives its file, when it is a plain file name (no directory, no
/// `..`): a report or certificate never sends a reader elsewhere than beside itself.
pub fn plain_name(digest: &CustodyDigest) -> Option<&str> {
    let n = digest.file.as_str();
    let plain = !n.is_empty()
        && n != "."
        && n != ".."
        && !n.contains('/')
        && !n.contains('\\')
        && !n.contains('\0');
    plain.then_some(n)
}

/// The longest line a custody record can take: a path, an ETag, a version id, a footer
/// hash, counts, and an error message are all far shorter.
pub const MAX_LINE: u64 = 1 << 20;

/// What a check hands each record to: its line's bytes and the record; an error stops it.
pub type EachRecord<'a> = dyn FnMut(&[u8], CustodyRecord) -> Result<(), String> + 'a;

/// Whether `input` is the custody file `digest` names: the same SHA-256, and as many
/// lines, each a custody record, each handed to `each` (its bytes and the record) as it
/// is read. Bounded memory; `shown` names the file in the problem.
pub fn check(
    input: &mut dyn BufRead,
    digest: &CustodyDigest,
    shown: &str,
    each: &mut EachRecord<'_>,
) -> Result<(), CustodyProblem> {
    let mut hash = Sha256::new();
    let mut line = Vec::new();
    let mut records = 0u64;
    loop {
        line.clear();
        // A line is read up to the longest a record may be: a file of one endless line
        // is a mismatch, not all of memory.
        let n = (&mut *input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| {
                CustodyProblem::Unreadable(format!("{shown}: {}", crate::io::store::io_message(&e)))
            })?;
        if n == 0 {
            break;
        }
        hash.update(&line);
        records += 1;
        if line.len() as u64 > MAX_LINE {
            return Err(CustodyProblem::Mismatch(format!(
                "{shown}: line {records} is longer than a custody record can be: the custody \
                 file was edited or replaced"
            )));
        }
        let record = match serde_json::from_slice::<CustodyRecord>(&line) {
            Ok(r) if line.last() == Some(&b'\n') => r,
            _ => {
                return Err(CustodyProblem::Mismatch(format!(
                    "{shown}: line {records} is not a custody record: the custody file was \
                     edited or cut"
                )));
            }
        };
        each(&line, record).map_err(CustodyProblem::Unreadable)?;
    }
    let sha = crate::domain::subjects::hex(&hash.finalize());
    if sha != digest.sha256 || records != digest.records {
        return Err(CustodyProblem::Mismatch(format!(
            "{shown}: SHA-256 {}… over {records} line(s), where {}… over {} was recorded: \
             the custody file was edited, cut or replaced",
            &sha[..12],
            digest.sha256.get(..12).unwrap_or(&digest.sha256),
            digest.records
        )));
    }
    Ok(())
}

/// Checks the custody file at `path` against `digest`, handing each record to `each`.
pub fn check_file(
    path: &Path,
    digest: &CustodyDigest,
    each: &mut EachRecord<'_>,
) -> Result<(), CustodyProblem> {
    let shown = path.display().to_string();
    let file = crate::io::fsio::open(path).map_err(|e| {
        CustodyProblem::Unreadable(format!(
            "{shown}: {} (the custody file {} names)",
            crate::io::store::io_message(&e),
            digest.file
        ))
    })?;
    let mut input = std::io::BufReader::with_capacity(1 << 16, file);
    check(&mut input, digest, &shown, each)
}

/// The name of the custody file at `path` as a digest records it (its last segment).
pub fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(file: &str) -> CustodyRecord {
        CustodyRecord {
            table: "events".into(),
            object: ObjectRecord {
                file: file.into(),
                size: 10,
                etag: None,
                version_id: None,
                noncurrent: false,
                footer_sha256: Some("ab".repeat(32)),
            },
            rows: Some(5),
            row_groups: Some(RowGroupStats::default()),
            matching_rows: Some(0),
            error: None,
        }
    }

    fn written(files: &[&str]) -> (Vec<u8>, CustodyDigest) {
        let mut buf = Vec::new();
        let mut w = CustodyWriter::new(&mut buf);
        for f in files {
            w.record(&rec(f));
        }
        let d = w.finish("custody.jsonl").unwrap();
        (buf, d)
    }

    #[test]
    fn the_digest_holds_for_the_bytes_written_and_nothing_else() {
        let (buf, d) = written(&["a.parquet", "b.parquet"]);
        assert_eq!(d.records, 2);
        check(&mut &buf[..], &d, "c", &mut |_, _| Ok(())).unwrap();
        // Cut after the first line: the count and the hash disagree.
        let first = buf.iter().position(|b| *b == b'\n').unwrap() + 1;
        let e = check(&mut &buf[..first], &d, "c", &mut |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("edited, cut or replaced"), "{e}");
        // Cut mid-line: named as cut.
        let e = check(&mut &buf[..first + 5], &d, "c", &mut |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 is not a custody record"), "{e}");
        // One digit edited.
        let mut edited = buf.clone();
        let at = edited.windows(7).position(|w| w == b"\"size\":").unwrap() + 7;
        edited[at] = b'9';
        assert!(matches!(
            check(&mut &edited[..], &d, "c", &mut |_, _| Ok(())),
            Err(CustodyProblem::Mismatch(_))
        ));
        // Lines swapped: same lines, another file.
        let (swapped, _) = written(&["b.parquet", "a.parquet"]);
        assert!(check(&mut &swapped[..], &d, "c", &mut |_, _| Ok(())).is_err());
        // Every record is handed on, in order.
        let mut seen = Vec::new();
        check(&mut &buf[..], &d, "c", &mut |_, r| {
            seen.push(r.object.file);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["a.parquet", "b.parquet"]);
    }

    #[test]
    fn an_endless_line_is_a_mismatch_read_in_bounded_memory() {
        let (_, d) = written(&["a.parquet"]);
        // Far more than a line may hold, and no line end: read up to the cap, refused.
        let mut endless = std::io::BufReader::new(std::io::repeat(b'x').take(64 << 20));
        let e = check(&mut endless, &d, "c", &mut |_, _| Ok(())).unwrap_err();
        assert!(
            matches!(&e, CustodyProblem::Mismatch(m) if m.contains("longer than")),
            "{e}"
        );
    }

    #[test]
    fn a_write_error_is_returned_not_a_digest() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut out = Full;
        let mut w = CustodyWriter::new(&mut out);
        w.record(&rec("a"));
        assert!(w.finish("x").is_err());
    }

    #[test]
    fn a_digest_names_a_file_beside_itself_or_nothing() {
        let d = |f: &str| CustodyDigest {
            file: f.into(),
            sha256: String::new(),
            records: 0,
        };
        assert_eq!(plain_name(&d("custody.jsonl")), Some("custody.jsonl"));
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b"] {
            assert_eq!(plain_name(&d(bad)), None, "{bad}");
        }
    }
}

//! Why a file could not be checked: the scan core's errors.
//!
//! A file's problem never stops the scan: it is recorded against the file (the report
//! shows `file: problem`) and makes the verdict `incomplete`. The text of each variant is
//! the message users see, so it names what is wrong in the file's own terms (footer, row
//! group, column, page), never Rust's.

use crate::io::store::StoreError;

/// Why one file could not be checked. The file's name is the caller's: the listing and
/// the report pair each problem with its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// The store could not open or read the object.
    #[error("{0}")]
    Unreadable(String),
    /// Not Parquet, or a structure (footer, page, bloom filter) that does not parse or
    /// disagrees with itself.
    #[error("{0}")]
    Malformed(String),
    /// Over one of the decoder's limits, checked before anything is allocated.
    #[error("{0}")]
    OverLimit(String),
    /// Valid Parquet vouch cannot check: encryption, an identifier column of a type or
    /// shape that cannot be matched, columns that differ only in case.
    #[error("{0}")]
    Unsupported(String),
    /// The file has none of its table's identifier columns (in its schema or its path).
    #[error("has none of the identifier columns {}", .0.join(", "))]
    NoIdColumn(Vec<String>),
    /// A decoder panicked on the file (hostile input); contained at the file boundary.
    #[error("the Parquet decoder failed on this file (internal panic: {0})")]
    DecoderPanic(String),
    /// Where in the file the problem is.
    #[error("row group {row_group}, column {column}: {problem}")]
    At {
        row_group: usize,
        column: String,
        problem: Box<FileProblem>,
    },
}

impl FileProblem {
    /// The problem, placed at a row group and column.
    pub fn at(self, row_group: usize, column: String) -> FileProblem {
        FileProblem::At {
            row_group,
            column,
            problem: Box::new(self),
        }
    }
}

impl From<StoreError> for FileProblem {
    fn from(e: StoreError) -> FileProblem {
        FileProblem::Unreadable(e.message)
    }
}

impl From<super::pages::ChunkError> for FileProblem {
    fn from(e: super::pages::ChunkError) -> FileProblem {
        match e {
            super::pages::ChunkError::Corrupt(m) => FileProblem::Malformed(m),
            super::pages::ChunkError::Unsupported(m) => FileProblem::Unsupported(m),
        }
    }
}

impl From<Corrupt> for FileProblem {
    fn from(e: Corrupt) -> FileProblem {
        FileProblem::Malformed(e.0)
    }
}

/// Malformed bytes, as the page decoder's helpers describe them ("run header is
/// truncated"); the caller adds where they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Corrupt(pub String);

impl From<&str> for Corrupt {
    fn from(s: &str) -> Corrupt {
        Corrupt(s.to_string())
    }
}

impl From<String> for Corrupt {
    fn from(s: String) -> Corrupt {
        Corrupt(s)
    }
}

impl From<Corrupt> for super::pages::ChunkError {
    fn from(e: Corrupt) -> super::pages::ChunkError {
        super::pages::ChunkError::Corrupt(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_what_the_report_shows() {
        let p = FileProblem::Malformed("pages hold 3 rows, the footer says 4".into())
            .at(2, "user_id".into());
        assert_eq!(
            p.to_string(),
            "row group 2, column user_id: pages hold 3 rows, the footer says 4"
        );
        assert_eq!(
            FileProblem::NoIdColumn(vec!["user_id".into(), "email".into()]).to_string(),
            "has none of the identifier columns user_id, email"
        );
        assert_eq!(
            FileProblem::DecoderPanic("index out of bounds".into()).to_string(),
            "the Parquet decoder failed on this file (internal panic: index out of bounds)"
        );
    }
}

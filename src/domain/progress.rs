//! The seam to a progress display: long operations (scan, index build, bagging) say
//! how much work there is and as each file is done; the binary draws it, tests ignore it.

/// Called as files finish, for a progress display.
pub trait Progress: Sync {
    /// A new unit of work of `files` files and `bytes` bytes begins.
    fn start(&self, _files: u64, _bytes: u64) {}
    /// One file of it is done.
    fn file_done(&self, _bytes: u64) {}
    /// What the work is called from now on ("scanning", "indexing", "bagging").
    fn stage(&self, _what: &'static str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

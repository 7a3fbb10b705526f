//! IO adapters: the [`store::Store`] seam and its implementations (local files, S3),
//! atomic output files, secret files and the runbook tables. Nothing here imports from
//! the layers above.

pub mod encode;
pub mod fsio;
pub mod glue;
pub mod local;
pub mod mount;
pub mod s3;
pub mod secret;
pub mod store;
pub mod tables;

use crate::io::local::LocalStore;
use crate::io::store::{Store, StoreError};

/// Opens a lake location: `s3://bucket/prefix` or a local directory.
pub fn open_location(
    location: &str,
    s3: &crate::io::s3::S3Options,
) -> Result<Box<dyn Store>, StoreError> {
    if location.starts_with("s3://") {
        Ok(Box::new(crate::io::s3::S3Store::connect(location, s3)?))
    } else {
        Ok(Box::new(LocalStore::open(std::path::Path::new(location))?))
    }
}

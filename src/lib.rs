//! vouch: offline compliance evidence and audit toolkit.
//!
//! The library holds everything; the `vouch` binary parses arguments, calls it and maps
//! outcomes to exit codes. See ARCHITECTURE.md for the map.

pub mod certificate;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod export;
pub mod fixtures;
pub mod fsio;
#[doc(hidden)]
pub mod fuzzing;
pub mod hashpipe;
pub mod html;
pub mod index;
pub mod keys;
pub mod lake;
pub mod metrics;
pub mod nightly;
pub mod report;
pub mod s3;
pub mod scan;
pub mod secret;
pub mod shard;
pub mod store;
pub mod subjects;
pub mod tables;

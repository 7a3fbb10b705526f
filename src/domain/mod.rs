//! Formats and decisions: what vouch knows about Parquet, lakes, reports, plans, the
//! subject index, bundles, certificates and metrics. Nothing here names `std::fs`,
//! `std::env`, the network or a print macro: every byte is read and written through
//! [`crate::io`], which names the file or object in every error.

pub mod catalog;
pub mod certificate;
pub mod config;
pub mod copies;
pub mod custody;
pub mod delta;
pub mod evidence;
pub mod export;
pub mod format;
pub mod hashpipe;
pub mod html;
pub mod iceberg;
pub mod index;
pub mod keyhash;
pub mod keys;
pub mod lake;
pub mod merge;
pub mod metrics;
pub mod nightly_report;
pub mod plan;
pub mod progress;
pub mod report;
pub mod retention;
pub mod scan;
pub mod schema_changes;
pub mod shard;
pub mod subjects;
pub mod time;

//! Every integration test, in one test binary (as ripgrep does): one link of polars and
//! the AWS SDK instead of one per file. A file here is a module; `cargo test --test tests
//! s3::` runs one of them.

mod common;

mod cases;
mod cli;
mod corpus;
mod crash;
mod delta;
mod evidence;
mod export;
mod false_clean;
mod fixtures;
mod fuzz_corpus;
mod hostile;
mod iceberg;
mod index;
mod layers;
mod metrics;
mod nightly;
mod oracle;
mod pii;
mod s3;
mod scheduling;
mod schemas;
mod shard;

//! vouch: offline compliance evidence and audit toolkit.
//!
//! The library holds everything; the `vouch` binary (`src/main.rs`, `src/cli/`) parses
//! arguments, calls one operation, prints its outcome and maps it to an exit code. The
//! layers, bottom to top (a module imports only from its own layer or the ones below; a
//! test in `tests/layers.rs` keeps this true, and ARCHITECTURE.md draws the map):
//!
//! - [`io`]: the seam ([`io::store::Store`]) and its adapters (local files, S3), atomic
//!   files, secret files, the runbook tables. The only code that touches the OS, the
//!   network or the environment.
//! - [`domain`]: formats and decisions: the scan core, reports, plans, the subject index,
//!   BagIt bundles, certificates, metric definitions. Reads and writes only through `io`.
//! - [`ops`]: one operation per command, each a typed request in and a typed outcome out.
//!   Operations never print: progress goes to a sink, outcomes to the caller.
//! - [`dev`]: fixtures and fuzzing entry points for tests and benchmarks; no product code
//!   imports it.

pub mod dev;
pub mod domain;
pub mod io;
pub mod ops;

//! The binary's parts: the argument types ([`args`]), stderr's log lines ([`log`]), the
//! progress display ([`progress`]) and how outcomes reach stdout ([`output`]). `main.rs`
//! converts arguments into operation options and dispatches.

pub mod args;
pub mod log;
pub mod output;
pub mod progress;

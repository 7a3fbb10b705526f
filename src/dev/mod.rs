//! Development only: generated lakes for tests and benchmarks, fuzzing entry points. The
//! product layers (`io`, `domain`, `ops`) never import from here.

pub mod fixtures;
#[doc(hidden)]
pub mod fuzzing;
pub mod parts;

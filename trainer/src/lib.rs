//! `contactscore-trainer` as a library: ingest, simulate, train, score, evaluate and inspect, so the
//! CLI, the benchmarks and the end-to-end tests all drive the same code.

#![warn(missing_docs)]

pub mod error;
pub mod ingest;
pub mod simulate;

pub use error::{Result, TrainerError};

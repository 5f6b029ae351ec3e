//! `contactscore-trainer` as a library: ingest, simulate, train, score, evaluate, inspect and
//! backtest, so the CLI, the benchmarks and the end-to-end tests all drive the same code.

#![warn(missing_docs)]

pub mod backtest;
pub mod champion;
pub mod config;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod features_cmd;
pub mod ingest;
pub mod inspect;
mod pipeline;
pub mod plan;
pub mod plots;
pub mod progress;
pub mod promote;
pub mod replay;
pub mod score;
pub mod shard;
pub mod simulate;
mod slices;
pub mod split;
pub mod svg_chart;
pub mod threads;
pub mod timefmt;
pub mod train;

pub use error::{Result, TrainerError};

//! Sharded training: the persons of an export split by a fixed hash of `person_id` into `P`
//! shards, each ingested and replayed on its own, so that memory is set by one shard and the
//! sampled rows rather than by the whole log, and so that a distributed engine can run the
//! shards on several machines. The published version is byte for byte the unsharded `train`'s.
//!
//! The steps, each also a command: [`plan::split`] (`split`: the facts every shard shares —
//! slice boundaries, per-slice counts that set the sampling rates, the persons file's attribute
//! typing; distributed as [`partial::split_partial`], `split --shard I --of P`, and
//! [`combine::merge_partials`], `split-merge`), [`run::replay_shard`] (`replay --shard I --of P`), [`run::fit_shards`] (`fit`:
//! merge, fit, calibrate, test, select, publish), and [`run::train_sharded`] (`train --shards
//! P`: all three in one process). docs/MODELS.md explains what stays global.

pub mod combine;
mod hash;
mod merge;
pub mod output;
pub mod partial;
pub mod plan;
mod records;
pub mod run;

pub use crate::slices::Window;
pub use hash::{ShardFilter, person_hash, person_shard, seeded_hash};
pub use output::ShardDone;
pub use plan::{SplitOptions, SplitPlan};

//! `contactscore-server`: the gRPC service dialers and messaging platforms call before every
//! attempt (`Rank`) and after it (`RecordOutcome`). It serves the trainer's promoted model,
//! keeps each person's feature state live from reported outcomes (durably journaled), switches
//! to newly promoted versions without a restart, and never suggests what the contact rules
//! forbid (the ranking and the rules live in `contactscore-models`).

pub mod auth;
pub mod config;
pub mod convert;
pub mod engine;
pub mod error;
pub mod limit;
pub mod plan;
pub mod redact;
pub mod server;
pub mod service;
pub mod status;
pub mod store;
pub mod telemetry;

pub use config::{Config, Settings};
pub use error::{Result, ServerError};

//! `contactscore-models`: the one implementation of the data contract, point-in-time features,
//! model families, artifact format and contact policy, shared by the trainer and the server so
//! training and serving cannot drift apart.
//!
//! It also holds the crash-safe file handling ([`durable`]) that the server's state directory and
//! the models directory share, and how error messages quote a value ([`quote`]).
//!
//! It knows nothing of gRPC or async runtimes: callers feed it attempts and candidates and get
//! feature vectors, probabilities and decisions back.

#![warn(missing_docs)]

pub mod artifact;
pub mod calibration;
pub mod contact;
pub mod contract;
pub mod country_zones;
pub mod durable;
pub mod error;
pub mod family;
pub mod features;
pub mod localtime;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod policy;
pub mod quote;
pub mod rank;
pub mod validation;

pub use contact::{Contact, ContactKind, ContactNormalizer, Masked, NumberInfo, NumberType};
pub use contract::{Channel, Outcome, Target};
pub use error::{Error, Result, explain};
pub use quote::quote;
pub use validation::{LineType, Validation, ValidationStatus};

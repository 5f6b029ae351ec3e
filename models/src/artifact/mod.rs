//! Model artifacts: the manifest format, the versioned models directory, and the rule evidence
//! each version's export contained.

pub mod evidence;
pub mod manifest;
pub mod registry;
pub mod state_parts;
mod state_write;

pub use evidence::RuleEvidence;
pub use manifest::{
    ChampionComparison, ComparisonResult, FORMAT_VERSION, Manifest, RowCounts, ServingSettings,
    TrainingWindow,
};
pub use registry::{LoadedVersion, Registry};

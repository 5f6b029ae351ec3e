//! Model artifacts: the manifest format and the versioned models directory.

pub mod manifest;
pub mod registry;

pub use manifest::{
    ChampionComparison, ComparisonResult, FORMAT_VERSION, Manifest, RowCounts, ServingSettings,
    TrainingWindow,
};
pub use registry::{LoadedVersion, Registry};

//! Point-in-time features: the incremental state updated by each attempt outcome, the feature
//! vector read from it, and the schema that names that vector.

mod apply;
mod fastmath;
mod partition;
pub mod rows;
pub mod schema;
pub mod state;
pub mod tally;
pub mod vector;
mod zone;

pub use rows::{PersonRows, RowPair};
pub use schema::{AttrKind, AttrSpec, BASE_FEATURES, FEATURE_VERSION, FeatureSchema};
pub use state::{ChannelState, ContactState, FeatureState, PersonState};
pub use tally::{HALF_LIVES_DAYS, Tally, TallyView};
pub use vector::Candidate;

#[cfg(test)]
mod rows_tests;
#[cfg(test)]
mod tests;

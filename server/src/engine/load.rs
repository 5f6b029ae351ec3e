//! Loading a model version for serving, shared by both state stores: the registry's load (model,
//! state, rule evidence; seconds at a million persons) off the async runtime, and a contact
//! normaliser for the version's region with libphonenumber's metadata already loaded.

use contactscore_models::ContactNormalizer;
use contactscore_models::artifact::Registry;
use contactscore_models::artifact::registry::LoadedVersion;

use crate::error::{Result, ServerError};

/// Load `version` from `registry` on a blocking thread.
pub(crate) async fn load_version(registry: &Registry, version: &str) -> Result<LoadedVersion> {
    let registry = registry.clone();
    let v = version.to_owned();
    tokio::task::spawn_blocking(move || registry.load(Some(&v)))
        .await
        .map_err(|e| ServerError::Internal(format!("model load task: {e}")))?
        .map_err(Into::into)
}

/// A normaliser for `region`, warmed up: the first parse loads libphonenumber's metadata
/// (~80 ms), paid here rather than by a Rank.
pub(crate) fn warm_normalizer(region: &str) -> Result<ContactNormalizer> {
    let normalizer = ContactNormalizer::new(region)?;
    let _ = normalizer.normalize("+14155550100");
    Ok(normalizer)
}

//! Loading a model version for serving, shared by both state stores: the registry's load (model,
//! state, rule evidence; seconds at a million persons) off the async runtime, and a contact
//! normaliser for the version's region with libphonenumber's metadata already loaded.

use contactscore_models::ContactNormalizer;
use contactscore_models::artifact::Registry;
use contactscore_models::artifact::registry::LoadedVersion;

use crate::error::{Result, ServerError};

/// Load `version` from `registry` on a blocking thread.
pub(crate) async fn load_version(registry: &Registry, version: &str) -> Result<LoadedVersion> {
    off_runtime(registry, version, Registry::load).await
}

/// [`load_version`] without the persons (`Registry::load_skeleton`: a version kept as state
/// parts is never merged), for the Redis store.
pub(crate) async fn load_skeleton(registry: &Registry, version: &str) -> Result<LoadedVersion> {
    off_runtime(registry, version, Registry::load_skeleton).await
}

async fn off_runtime(
    registry: &Registry,
    version: &str,
    load: fn(&Registry, Option<&str>) -> contactscore_models::Result<LoadedVersion>,
) -> Result<LoadedVersion> {
    let registry = registry.clone();
    let v = version.to_owned();
    tokio::task::spawn_blocking(move || load(&registry, Some(&v)))
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

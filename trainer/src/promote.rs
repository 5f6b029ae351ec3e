//! `promote`: point `CURRENT` at a published version, after loading and verifying all of it
//! (checksums, format, feature schema, state snapshot), so a server polling the models directory
//! never switches to a version it cannot load.

use std::path::Path;

use contactscore_models::ContactNormalizer;
use contactscore_models::artifact::Registry;

use crate::Result;

/// What `promote` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// The version now `CURRENT`.
    pub version: String,
    /// The version that was `CURRENT` before (`None`: none was).
    pub previous: Option<String>,
}

/// Promote `version` (`latest` = the most recently created published version) in
/// `models_dir`.
pub fn promote(models_dir: &Path, version: &str) -> Result<Promoted> {
    let registry = Registry::open(models_dir)?;
    let version = if version == "latest" {
        latest(&registry)?.ok_or_else(|| contactscore_models::Error::VersionNotFound {
            dir: models_dir.to_owned(),
            version: "latest".into(),
        })?
    } else {
        version.to_owned()
    };
    let previous = registry.current()?;
    // The model and the whole state snapshot, and the normaliser the server builds from the
    // manifest: the checks the server makes when it switches.
    let loaded = registry.load(Some(&version))?;
    ContactNormalizer::new(&loaded.manifest.serving.default_region)?;
    drop(loaded);
    registry.promote(&version)?;
    Ok(Promoted { version, previous })
}

/// The version with the latest `created_at` (ids sort by creation time only to the second);
/// versions whose manifest cannot be read are skipped.
fn latest(registry: &Registry) -> Result<Option<String>> {
    let mut best: Option<(jiff::Timestamp, String)> = None;
    for v in registry.versions()? {
        let Ok(m) = registry.manifest(&v) else {
            continue;
        };
        let Ok(at) = m.created_at.parse::<jiff::Timestamp>() else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, id)| (at, &v) > (*b, id)) {
            best = Some((at, v));
        }
    }
    Ok(best.map(|(_, v)| v))
}

//! `promote`: point `CURRENT` at a published version, after loading and verifying all of it
//! (checksums, format, feature schema, state snapshot), so a server polling the models directory
//! never switches to a version it cannot load.

use std::path::Path;

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

/// Promote `version` (`latest` = the newest published version) in `models_dir`.
pub fn promote(models_dir: &Path, version: &str) -> Result<Promoted> {
    let registry = Registry::open(models_dir)?;
    let version = if version == "latest" {
        registry
            .versions()?
            .pop()
            .ok_or_else(|| contactscore_models::Error::VersionNotFound {
                dir: models_dir.to_owned(),
                version: "latest".into(),
            })?
    } else {
        version.to_owned()
    };
    let previous = registry.current()?;
    // Loads the model and the whole state snapshot: the same checks the server makes.
    registry.load(Some(&version))?;
    registry.promote(&version)?;
    Ok(Promoted { version, previous })
}

//! `inspect`: list the versions in a models directory with their key metrics, or show one
//! manifest in full. The manifest is not covered by a checksum, so each version's model file is
//! verified against it (checksum, family, feature schema) before the manifest is believed.

use std::fmt::Write as _;
use std::path::Path;

use contactscore_models::artifact::Registry;

use crate::Result;

/// One line per version: id, CURRENT marker, family, window end, test log loss / AUC / ECE.
/// Versions whose manifest cannot be read, or disagrees with the model file, are listed with the
/// reason, not hidden.
pub fn list(models_dir: &Path) -> Result<String> {
    let registry = Registry::open(models_dir)?;
    let current = registry.current()?;
    let mut out = String::new();
    let versions = registry.versions()?;
    if versions.is_empty() {
        let _ = writeln!(out, "no versions in {}", models_dir.display());
    }
    for v in versions {
        let marker = if current.as_deref() == Some(v.as_str()) {
            "*"
        } else {
            " "
        };
        match registry.load_model(Some(&v)) {
            Ok((m, _)) => {
                let metrics = m.metrics.get(&m.family);
                let _ = writeln!(
                    out,
                    "{marker} {v}  {:<8} target {:<9} trained to {}  test log loss {}  AUC {}  ECE {}",
                    m.family.as_str(),
                    m.target.as_str(),
                    m.window.end,
                    metrics.map_or_else(|| "n/a".into(), |x| format!("{:.4}", x.log_loss)),
                    metrics
                        .and_then(|x| x.auc)
                        .map_or_else(|| "n/a".into(), |a| format!("{a:.4}")),
                    metrics.map_or_else(|| "n/a".into(), |x| format!("{:.4}", x.ece)),
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{marker} {v}  unreadable: {e}");
            }
        }
    }
    Ok(out)
}

/// A version's manifest as pretty JSON (`None` = CURRENT).
pub fn show(models_dir: &Path, version: Option<&str>) -> Result<String> {
    let registry = Registry::open(models_dir)?;
    let (m, _) = registry.load_model(version)?;
    serde_json::to_string_pretty(&m)
        .map_err(|e| crate::TrainerError::Internal(format!("manifest to JSON: {e}")))
}

//! Disposition maps: a dialer's own outcome codes (`NA`, `AM`, `DNC`, …) → canonical outcomes,
//! loaded from a TOML `[dispositions]` table. Canonical names are always accepted.

use std::collections::HashMap;
use std::path::Path;

use contactscore_models::{Outcome, quote};

use crate::error::{Result, TrainerError};

/// Maps dialer disposition codes to canonical [`Outcome`]s, case-insensitively and ignoring
/// surrounding whitespace. `Default` accepts the canonical names only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispositionMap {
    /// Lower-cased, trimmed code → outcome.
    codes: HashMap<String, Outcome>,
}

impl DispositionMap {
    /// Every code and its outcome, sorted by code (a stable fingerprint of the map).
    pub fn entries(&self) -> Vec<(&str, Outcome)> {
        let mut e: Vec<(&str, Outcome)> =
            self.codes.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        e.sort_unstable_by(|a, b| a.0.cmp(b.0));
        e
    }

    /// A map accepting only the canonical outcome names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build a map from a TOML table of `CODE = "canonical_outcome"` entries. A value that is not
    /// a string naming a canonical outcome is a `Config` error naming the key; so is a key that is
    /// itself a canonical name mapped to a different outcome (that would make files ambiguous).
    pub fn from_toml_table(table: &toml::Table) -> Result<Self> {
        let mut codes = HashMap::with_capacity(table.len());
        for (key, value) in table {
            let code = key.trim().to_ascii_lowercase();
            if code.is_empty() {
                return Err(TrainerError::Config("dispositions: empty code".to_owned()));
            }
            let name = value.as_str().ok_or_else(|| {
                TrainerError::Config(format!(
                    "dispositions: code {} must map to a canonical outcome name (a string), \
                     got {}",
                    quote(key),
                    quote(&value.to_string())
                ))
            })?;
            let outcome: Outcome = name.parse().map_err(|e| {
                TrainerError::Config(format!("dispositions: code {}: {e}", quote(key)))
            })?;
            if let Some(canonical) = canonical(&code)
                && canonical != outcome
            {
                return Err(TrainerError::Config(format!(
                    "dispositions: code {} is the canonical outcome {canonical} and cannot be \
                     mapped to {outcome}",
                    quote(key)
                )));
            }
            if let Some(prev) = codes.insert(code, outcome)
                && prev != outcome
            {
                return Err(TrainerError::Config(format!(
                    "dispositions: code {} is given twice (differing only in case) with \
                     different outcomes",
                    quote(key)
                )));
            }
        }
        Ok(Self { codes })
    }

    /// Read a TOML file with a `[dispositions]` table (other top-level keys are ignored, so the
    /// table can live in a larger config file).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
        let doc: toml::Table = text
            .parse()
            .map_err(|e| TrainerError::Config(format!("{}: {e}", path.display())))?;
        match doc.get("dispositions") {
            Some(toml::Value::Table(t)) => Self::from_toml_table(t)
                .map_err(|e| TrainerError::Config(format!("{}: {e}", path.display()))),
            Some(_) => Err(TrainerError::Config(format!(
                "{}: `dispositions` must be a table",
                path.display()
            ))),
            None => Err(TrainerError::Config(format!(
                "{}: no [dispositions] table",
                path.display()
            ))),
        }
    }

    /// The canonical outcome for a raw code or canonical name, if known. Does not allocate for
    /// canonical names or codes up to 64 bytes.
    pub fn resolve(&self, raw: &str) -> Option<Outcome> {
        let t = raw.trim();
        if let Some(o) = canonical(t) {
            return Some(o);
        }
        if self.codes.is_empty() {
            return None;
        }
        let mut buf = [0u8; 64];
        if t.len() <= buf.len() {
            let lower = &mut buf[..t.len()];
            lower.copy_from_slice(t.as_bytes());
            lower.make_ascii_lowercase();
            // Lower-casing ASCII bytes keeps UTF-8 valid.
            let lower = std::str::from_utf8(lower).ok()?;
            self.codes.get(lower).copied()
        } else {
            self.codes.get(&t.to_ascii_lowercase()).copied()
        }
    }

    /// How many dialer codes (beyond the canonical names) are mapped.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether only canonical names are accepted.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// The canonical outcome spelled by `t` (case-insensitive), without allocating.
fn canonical(t: &str) -> Option<Outcome> {
    Outcome::ALL
        .into_iter()
        .find(|o| t.eq_ignore_ascii_case(o.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().expect("valid toml")
    }

    #[test]
    fn maps_codes_case_insensitively() {
        let m = DispositionMap::from_toml_table(&table("NA = \"no_answer\"\nAm = \"VOICEMAIL\""))
            .expect("valid map");
        assert_eq!(m.resolve("NA"), Some(Outcome::NoAnswer));
        assert_eq!(m.resolve(" na "), Some(Outcome::NoAnswer));
        assert_eq!(m.resolve("aM"), Some(Outcome::Voicemail));
        assert_eq!(m.resolve("Right_Party"), Some(Outcome::RightParty));
        assert_eq!(m.resolve("XYZ"), None);
        assert_eq!(DispositionMap::default().resolve("NA"), None);
        assert_eq!(
            DispositionMap::default().resolve("busy"),
            Some(Outcome::Busy)
        );
    }

    #[test]
    fn rejects_non_canonical_values() {
        let err = DispositionMap::from_toml_table(&table("NA = \"nobody_home\""))
            .expect_err("not canonical")
            .to_string();
        assert!(err.contains("NA") && err.contains("nobody_home"), "{err}");
        let err = DispositionMap::from_toml_table(&table("NA = 3")).expect_err("not a string");
        assert!(err.to_string().contains("NA"), "{err}");
        let err = DispositionMap::from_toml_table(&table("busy = \"no_answer\""))
            .expect_err("canonical remapped");
        assert!(err.to_string().contains("busy"), "{err}");
    }

    #[test]
    fn shipped_example_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dispositions.toml");
        let m = DispositionMap::load(path).expect("example loads");
        for (code, want) in [
            ("NA", Outcome::NoAnswer),
            ("noans", Outcome::NoAnswer),
            ("AM", Outcome::Voicemail),
            ("DISC", Outcome::Invalid),
            ("3P", Outcome::ThirdParty),
            ("PTP", Outcome::Converted),
            ("DNC", Outcome::OptOut),
            ("REPLY", Outcome::Replied),
            ("sit_vc", Outcome::Invalid),
            ("Intercept", Outcome::Invalid),
            (" SIT Uncallable ", Outcome::Invalid),
            ("SIT_NC", Outcome::Busy),
            ("sit callable", Outcome::Busy),
        ] {
            assert_eq!(m.resolve(code), Some(want), "{code}");
        }
    }
}

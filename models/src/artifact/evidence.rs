//! The contact-rule evidence a version's training export provably contained
//! (`rule_evidence.bin` in the version directory): a 128-bit digest of (attempt id, outcome) for
//! every `opt_out`, `wrong_party` and `invalid` attempt the trainer ingested.
//!
//! Why: dialers report outcomes live, often late, and the nightly export is cut before the day
//! ends, so an opt-out dated before a snapshot's training cutoff may or may not be in that
//! snapshot. The server replays every live rule-evidence outcome onto a snapshot unless that
//! version's set holds its digest, instead of assuming the export was complete; so a late opt-out
//! is never lost by a new version or a rollback. Only rule evidence is listed (a few percent of
//! attempts, 16 bytes each), sorted, and covered by the manifest's checksums like every file.
//! Versions written before this file existed have an empty set: nothing is provably contained.

use sha2::{Digest, Sha256};

use crate::{Error, Outcome, Result};

/// File name inside a version directory.
pub const FILE: &str = "rule_evidence.bin";

const MAGIC: &[u8; 8] = b"CSEVID01";

/// The first 128 bits of the SHA-256 of `bytes`: how attempt ids are kept without keeping them
/// (dialer ids can carry personal data). With 10⁹ digests held, a new id collides with one of
/// them with probability below 10⁻²⁰.
pub fn digest128(bytes: &[u8]) -> u128 {
    let d = Sha256::digest(bytes);
    let mut first = [0u8; 16];
    first.copy_from_slice(&d[..16]);
    u128::from_be_bytes(first)
}

/// The digest listed for attempt `attempt_id` with `outcome`. The outcome is part of it, so an
/// export that holds the id with a different outcome does not count as containing the evidence.
pub fn digest(attempt_id: &str, outcome: Outcome) -> u128 {
    let mut bytes = Vec::with_capacity(attempt_id.len() + 16);
    bytes.extend_from_slice(attempt_id.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(outcome.as_str().as_bytes());
    digest128(&bytes)
}

/// A version's rule evidence: sorted, de-duplicated digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleEvidence {
    digests: Vec<u128>,
}

impl RuleEvidence {
    /// The evidence among `attempts` (attempt id, outcome): only rule-evidence outcomes are kept.
    pub fn collect<'a>(attempts: impl IntoIterator<Item = (&'a str, Outcome)>) -> Self {
        let mut digests: Vec<u128> = attempts
            .into_iter()
            .filter(|(_, o)| o.is_rule_evidence())
            .map(|(id, o)| digest(id, o))
            .collect();
        digests.sort_unstable();
        digests.dedup();
        Self { digests }
    }

    /// The union of several exports' evidence (a sharded training run's shards).
    pub fn merge(parts: impl IntoIterator<Item = RuleEvidence>) -> Self {
        let mut digests: Vec<u128> = parts.into_iter().flat_map(|p| p.digests).collect();
        digests.sort_unstable();
        digests.dedup();
        Self { digests }
    }

    /// Whether the export held attempt `attempt_id` with rule-evidence `outcome`.
    pub fn contains(&self, attempt_id: &str, outcome: Outcome) -> bool {
        !self.digests.is_empty()
            && outcome.is_rule_evidence()
            && self
                .digests
                .binary_search(&digest(attempt_id, outcome))
                .is_ok()
    }

    /// Number of digests.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The file's bytes: magic, then each digest big-endian, in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 16 * self.digests.len());
        out.extend_from_slice(MAGIC);
        for d in &self.digests {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    /// Parse the file's bytes (`path` names it in errors).
    pub fn from_bytes(bytes: &[u8], path: &std::path::Path) -> Result<Self> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::artifact(path, "not a contactscore rule-evidence file"))?;
        if body.len() % 16 != 0 {
            return Err(Error::artifact(path, "truncated rule-evidence file"));
        }
        let digests: Vec<u128> = body
            .chunks_exact(16)
            .map(|c| {
                let mut d = [0u8; 16];
                d.copy_from_slice(c);
                u128::from_be_bytes(d)
            })
            .collect();
        if !digests.is_sorted() {
            return Err(Error::artifact(
                path,
                "rule-evidence digests are not sorted",
            ));
        }
        Ok(Self { digests })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn only_rule_evidence_is_listed_with_its_outcome_and_round_trips() {
        let ev = RuleEvidence::collect([
            ("a1", Outcome::OptOut),
            ("a2", Outcome::NoAnswer),
            ("a3", Outcome::WrongParty),
            ("a4", Outcome::Invalid),
            ("a1", Outcome::OptOut),
        ]);
        assert_eq!(ev.len(), 3);
        assert!(ev.contains("a1", Outcome::OptOut));
        assert!(ev.contains("a3", Outcome::WrongParty) && ev.contains("a4", Outcome::Invalid));
        assert!(!ev.contains("a2", Outcome::NoAnswer), "not rule evidence");
        assert!(
            !ev.contains("a1", Outcome::Invalid),
            "same id, other outcome"
        );
        assert!(!ev.contains("a9", Outcome::OptOut));

        let bytes = ev.to_bytes();
        let p = Path::new("rule_evidence.bin");
        assert_eq!(RuleEvidence::from_bytes(&bytes, p).expect("parse"), ev);
        assert!(RuleEvidence::from_bytes(&bytes[..bytes.len() - 1], p).is_err());
        assert!(RuleEvidence::from_bytes(b"CSSTATE1", p).is_err());
        assert!(RuleEvidence::default().is_empty());
        assert!(!RuleEvidence::default().contains("a1", Outcome::OptOut));
    }
}

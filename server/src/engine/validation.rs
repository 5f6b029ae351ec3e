//! Carrier (HLR) validations recorded live (`validations.jsonl` in the state directory), and
//! re-applying them to every state the server serves.
//!
//! A validation is an event about a number, not an attempt: the state keeps each number's latest
//! validation (a feature, and the `validated_inactive` rule). The trainer's export may not carry
//! the validations the server was told about, so, like re-consents, they are kept for good —
//! the latest per (person, number) — and applied again after every snapshot load (applying one
//! twice changes nothing: the latest by instant wins). Each is appended and fsynced before the
//! call answers; `ForgetPerson` rewrites the file without the person.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use contactscore_models::durable;
use contactscore_models::features::FeatureState;
use contactscore_models::{Contact, ContactNormalizer, LineType, Validation, ValidationStatus};
use serde::{Deserialize, Serialize};

use super::Engine;
use super::input::ValidationReport;
use super::lines::{corrupt, read_lines};
use crate::error::{Result, ServerError};

/// File name inside the state directory.
pub const FILE: &str = "validations.jsonl";

/// One validation, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// The person.
    pub person_id: String,
    /// Normalised phone number (E.164).
    pub contact: String,
    /// What the carrier said.
    pub status: ValidationStatus,
    /// When (unix seconds).
    pub at: i64,
    /// The line type it reported.
    pub line_type: LineType,
    /// The carrier's name, when given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub carrier: String,
    /// Whether the number was ported, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ported: Option<bool>,
}

impl ValidationRecord {
    /// The validation as the feature state keeps it.
    pub fn validation(&self) -> Validation {
        Validation {
            at: self.at,
            status: self.status,
            line_type: self.line_type,
            ported: self.ported,
        }
    }
}

/// A validated `RecordValidation`: the record plus its normalised contact.
#[derive(Debug, Clone)]
pub struct ValidValidation {
    /// The record.
    pub record: ValidationRecord,
    /// The normalised number.
    pub contact: Contact,
}

type Key = (String, String);

/// The validations held: the latest per (person, number).
#[derive(Debug)]
pub struct Validations {
    path: PathBuf,
    latest: HashMap<Key, ValidationRecord>,
}

impl Validations {
    /// Load the file in the state directory `dir` (absent = none yet). A torn final line (a
    /// validation never acknowledged) is cut off; any other malformed line is an error naming it.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut held = Self {
            path: dir.join(FILE),
            latest: HashMap::new(),
        };
        let path = held.path.clone();
        let complete = |l: &[u8]| serde_json::from_slice::<ValidationRecord>(l).is_ok();
        read_lines(&path, complete, |n, line| {
            let r: ValidationRecord =
                serde_json::from_slice(line).map_err(|e| corrupt(&path, n, e.to_string()))?;
            held.note(r);
            Ok(())
        })?;
        Ok(held)
    }

    /// Hold `r` in memory (after [`append`] made it durable) if it is the latest for its number.
    pub fn note(&mut self, r: ValidationRecord) {
        let key = (r.person_id.clone(), r.contact.clone());
        match self.latest.get(&key) {
            Some(held) if held.at > r.at => {}
            Some(_) | None => {
                self.latest.insert(key, r);
            }
        }
    }

    /// Whether exactly `r` is already held (a retry of the same call).
    pub fn holds(&self, r: &ValidationRecord) -> bool {
        self.latest
            .get(&(r.person_id.clone(), r.contact.clone()))
            .is_some_and(|held| held == r)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Apply every validation to `state` (after a snapshot load and the live replay); returns
    /// how many were applied. A number that no longer normalises (another default region) is
    /// skipped and logged.
    pub fn apply_all(&self, state: &mut FeatureState, normalizer: &ContactNormalizer) -> usize {
        let mut applied = 0;
        for r in self.latest.values() {
            match normalizer.normalize(&r.contact) {
                Ok(contact) => {
                    let slot = state.slot_or_insert(&r.person_id);
                    match state.apply_validation(slot, &contact, r.validation()) {
                        Ok(()) => applied += 1,
                        Err(e) => tracing::error!(error = %e, "validation not applied"),
                    }
                }
                Err(e) => tracing::error!(error = %e, "recorded validation not replayable"),
            }
        }
        applied
    }

    /// Drop `person_id`'s validations (erasure), rewriting the file atomically when any go.
    /// Returns whether any were held.
    pub fn forget(&mut self, person_id: &str) -> Result<bool> {
        let before = self.latest.len();
        self.latest.retain(|(p, _), _| p != person_id);
        if self.latest.len() == before {
            return Ok(false);
        }
        let mut bytes = Vec::new();
        for r in self.latest.values() {
            serde_json::to_writer(&mut bytes, r)
                .map_err(|e| ServerError::Internal(format!("encoding a validation: {e}")))?;
            bytes.push(b'\n');
        }
        durable::replace(&self.path, &bytes).map_err(|e| ServerError::io(&self.path, e))?;
        Ok(true)
    }

    /// Number of (person, number) validations held.
    pub fn len(&self) -> usize {
        self.latest.len()
    }
}

/// Append `r` to the validations file at `path`, fsynced (and its directory, when new).
pub fn append(path: &Path, r: &ValidationRecord) -> Result<()> {
    let mut line = serde_json::to_vec(r)
        .map_err(|e| ServerError::Internal(format!("encoding a validation: {e}")))?;
    line.push(b'\n');
    durable::append(path, &line).map_err(|e| ServerError::io(path, e))
}

impl Engine {
    /// Record a carrier validation durably and apply it to the served state. Returns `false`
    /// when exactly this validation was already recorded. Runs in its own task, so a caller that
    /// goes away cannot leave a durable validation unapplied.
    pub async fn validate(self: &Arc<Self>, v: ValidationReport) -> Result<bool> {
        let engine = Arc::clone(self);
        tokio::spawn(async move { engine.validate_now(v.into()).await })
            .await
            .map_err(|e| ServerError::Internal(format!("validation task: {e}")))?
    }

    async fn validate_now(&self, v: ValidValidation) -> Result<bool> {
        // Shared gate: a reload applies every validation recorded before it swaps, and an
        // erasure (which rewrites the file) waits.
        let _gate = self.gate.read().await;
        let serving = self.current()?;
        {
            // One writer at a time; the fsync runs off the async workers.
            let _one_writer = self.validation_file.lock().await;
            if self.validations.lock().holds(&v.record) {
                return Ok(false);
            }
            let path = self.validations.lock().path().to_owned();
            let line = v.record.clone();
            tokio::task::spawn_blocking(move || append(&path, &line))
                .await
                .map_err(|e| ServerError::Internal(format!("validation write: {e}")))??;
            self.validations.lock().note(v.record.clone());
        }
        let mut st = serving.state.write();
        let slot = st.slot_or_insert(&v.record.person_id);
        st.apply_validation(slot, &v.contact, v.record.validation())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    fn record(person: &str, at: i64, status: ValidationStatus) -> ValidationRecord {
        ValidationRecord {
            person_id: person.into(),
            contact: "+5511987654321".into(),
            status,
            at,
            line_type: LineType::Mobile,
            carrier: "Vivo".into(),
            ported: Some(false),
        }
    }

    #[test]
    fn validations_persist_keep_the_latest_and_are_erased_with_the_person() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Validations::open(dir.path()).expect("open");
        let path = v.path().to_owned();
        for r in [
            record("p1", 10, ValidationStatus::Inactive),
            record("p1", 5, ValidationStatus::Active),
            record("p2", 7, ValidationStatus::Active),
        ] {
            append(&path, &r).expect("append");
        }
        // A crash mid-write leaves a torn line: never acknowledged, cut off at start-up.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"person_id\":\"p3\",\"con").expect("tear");
        let mut v = Validations::open(dir.path()).expect("reopen");
        assert_eq!(v.len(), 2);
        assert!(v.holds(&record("p1", 10, ValidationStatus::Inactive)));
        assert!(!v.holds(&record("p1", 5, ValidationStatus::Active)));

        let n = ContactNormalizer::new("BR").expect("BR");
        let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
        assert_eq!(v.apply_all(&mut state, &n), 2);
        let slot = state.slot("p1").expect("p1 created");
        let p = state.person(slot);
        let c = &p.contacts[p.contact_index("+5511987654321").expect("contact")];
        assert_eq!(
            c.validation.map(|x| (x.at, x.status)),
            Some((10, ValidationStatus::Inactive))
        );

        assert!(v.forget("p1").expect("forget"));
        assert!(!v.forget("p1").expect("forget twice"));
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains("\"p1\""), "{text}");
        assert_eq!(Validations::open(dir.path()).expect("reopen").len(), 1);

        fs::write(&path, "{\"person_id\":1}\n").expect("write");
        let err = Validations::open(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(":1:"), "{err}");
    }
}

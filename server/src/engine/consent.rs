//! Re-consent after an opt-out (`consents.jsonl` in the state directory), and re-applying it to
//! every state the server serves.
//!
//! An `opt_out` suppresses its (contact, channel) until re-consent is recorded. The trainer's
//! export has no consent events, so the next model's snapshot brings the opt-out back; and an
//! opt-out dated before the consent may still arrive live. So consents are kept for good (one
//! line per person, contact and channel, the latest instant) and applied again after every
//! snapshot load and after every live `opt_out` on the pair: the invariant is that a served
//! state holds no opt-out dated at or before a recorded consent. Consents are appended and
//! fsynced before the call answers; `ForgetPerson` rewrites the file without the person.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use contactscore_models::Channel;
use contactscore_models::durable;
use contactscore_models::features::FeatureState;
use serde::{Deserialize, Serialize};

use super::lines::{corrupt, read_lines};
use crate::error::{Result, ServerError};

/// File name inside the state directory.
pub const FILE: &str = "consents.jsonl";

/// One consent, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The person.
    pub person_id: String,
    /// Normalised contact key.
    pub contact: String,
    /// The channel consented to.
    pub channel: Channel,
    /// When consent was given (unix seconds).
    pub at: i64,
}

type Key = (String, String, Channel);

/// The consents held: the latest instant per (person, contact, channel).
#[derive(Debug)]
pub struct Consents {
    path: PathBuf,
    latest: HashMap<Key, i64>,
}

impl Consents {
    /// Load the file in the state directory `dir` (absent = none yet). A torn final line (a
    /// consent never acknowledged) is cut off; any other malformed line is an error naming it.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let mut latest = HashMap::new();
        let complete = |l: &[u8]| serde_json::from_slice::<Consent>(l).is_ok();
        read_lines(&path, complete, |n, line| {
            let c: Consent =
                serde_json::from_slice(line).map_err(|e| corrupt(&path, n, e.to_string()))?;
            note(&mut latest, c);
            Ok(())
        })?;
        Ok(Self { path, latest })
    }

    /// Hold `c` in memory (after [`append`] made it durable).
    pub fn note(&mut self, c: Consent) {
        note(&mut self.latest, c);
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest consent to `contact` on `channel` by `person_id`.
    pub fn latest(&self, person_id: &str, contact: &str, channel: Channel) -> Option<i64> {
        if self.latest.is_empty() {
            return None;
        }
        self.latest
            .get(&(person_id.to_owned(), contact.to_owned(), channel))
            .copied()
    }

    /// Apply every consent to `state` (after a snapshot load and the live replay); returns how
    /// many opt-outs were lifted.
    pub fn apply_all(&self, state: &mut FeatureState) -> usize {
        let mut lifted = 0;
        for ((person, contact, channel), at) in &self.latest {
            if let Some(slot) = state.slot(person)
                && state.lift_opt_out(slot, contact, *channel, *at)
            {
                lifted += 1;
            }
        }
        lifted
    }

    /// Drop `person_id`'s consents (erasure), rewriting the file atomically. Returns whether any
    /// were held.
    pub fn forget(&mut self, person_id: &str) -> Result<bool> {
        self.forget_where(|p| p == person_id).map(|n| n > 0)
    }

    /// Drop the consents of every person `doomed` names, rewriting the file atomically when any
    /// go. Returns how many (person, contact, channel) consents went.
    fn forget_where(&mut self, mut doomed: impl FnMut(&str) -> bool) -> Result<usize> {
        let before = self.latest.len();
        self.latest.retain(|(p, _, _), _| !doomed(p));
        let gone = before - self.latest.len();
        if gone == 0 {
            return Ok(0);
        }
        let mut bytes = Vec::new();
        for ((person_id, contact, channel), at) in &self.latest {
            let c = Consent {
                person_id: person_id.clone(),
                contact: contact.clone(),
                channel: *channel,
                at: *at,
            };
            serde_json::to_writer(&mut bytes, &c)
                .map_err(|e| ServerError::Internal(format!("encoding a consent: {e}")))?;
            bytes.push(b'\n');
        }
        durable::replace(&self.path, &bytes).map_err(|e| ServerError::io(&self.path, e))?;
        Ok(gone)
    }

    /// Number of (person, contact, channel) consents held.
    pub fn len(&self) -> usize {
        self.latest.len()
    }
}

/// Hold `c` in `latest` (the latest instant per person, contact and channel).
fn note(latest: &mut HashMap<Key, i64>, c: Consent) {
    let at = latest
        .entry((c.person_id, c.contact, c.channel))
        .or_insert(c.at);
    *at = (*at).max(c.at);
}

/// Append `c` to the consents file at `path`, fsynced (and its directory, when new).
pub fn append(path: &Path, c: &Consent) -> Result<()> {
    let mut line = serde_json::to_vec(c)
        .map_err(|e| ServerError::Internal(format!("encoding a consent: {e}")))?;
    line.push(b'\n');
    durable::append(path, &line).map_err(|e| ServerError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    fn consent(person: &str, channel: Channel, at: i64) -> Consent {
        Consent {
            person_id: person.into(),
            contact: "+5511987654321".into(),
            channel,
            at,
        }
    }

    /// Records `x` as the engine does: durably, then held.
    fn add(c: &mut Consents, x: Consent) {
        append(c.path(), &x).expect("append");
        c.note(x);
    }

    #[test]
    fn consents_persist_keep_the_latest_and_are_erased_with_the_person() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Consents::open(dir.path()).expect("open");
        add(&mut c, consent("p1", Channel::Sms, 10));
        add(&mut c, consent("p1", Channel::Sms, 5));
        add(&mut c, consent("p2", Channel::Voice, 7));
        // A crash mid-write leaves a torn line; opening cuts it off, so the next add is clean.
        let path = dir.path().join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"person_id\":\"p3\",\"con").expect("tear");
        let mut c = Consents::open(dir.path()).expect("reopen");
        assert_eq!(c.latest("p1", "+5511987654321", Channel::Sms), Some(10));
        assert_eq!(c.latest("p1", "+5511987654321", Channel::Voice), None);
        assert_eq!(c.len(), 2);
        add(&mut c, consent("p3", Channel::Email, 3));
        let mut c = Consents::open(dir.path()).expect("reopen");
        assert_eq!(c.latest("p3", "+5511987654321", Channel::Email), Some(3));

        assert!(c.forget("p1").expect("forget"));
        assert!(!c.forget("p1").expect("forget twice"));
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains("\"p1\""), "{text}");
        let c = Consents::open(dir.path()).expect("reopen");
        assert_eq!(c.len(), 2);

        fs::write(&path, "not json\n").expect("write");
        let err = Consents::open(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(":1:"), "{err}");
    }
}

//! The erasure list (`erasures.txt` in the state directory): persons forgotten under LGPD/GDPR.
//! Only SHA-256 digests of person ids are kept, one hex digest per line, fsynced before
//! `ForgetPerson` answers, so a forgotten person is dropped from every snapshot loaded later
//! (model reloads and restarts) without the list itself holding the identifier.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use contactscore_models::durable;
use sha2::{Digest, Sha256};

use super::lines::{corrupt, read_lines};
use crate::error::{Result, ServerError};

/// File name inside the state directory.
pub const FILE: &str = "erasures.txt";

/// Digest of a person id.
pub type PersonDigest = [u8; 32];

/// The digest the list stores for `person_id`.
pub fn digest(person_id: &str) -> PersonDigest {
    Sha256::digest(person_id.as_bytes()).into()
}

/// The loaded list.
#[derive(Debug)]
pub struct Erasures {
    path: PathBuf,
    set: HashSet<PersonDigest>,
    /// Ids forgotten since start-up with their sequence number (memory only), so a reload that
    /// filtered its snapshot before an erasure can apply it before going live.
    recent: Vec<(u64, String)>,
}

impl Erasures {
    /// Load the list in the state directory `dir` (absent = nobody forgotten yet).
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let mut set = HashSet::new();
        read_lines(
            &path,
            |l| parse_hex(l).is_some(),
            |n, line| {
                if line.trim_ascii().is_empty() {
                    return Ok(());
                }
                let d = parse_hex(line)
                    .ok_or_else(|| corrupt(&path, n, "expected a 64-digit hex SHA-256"))?;
                set.insert(d);
                Ok(())
            },
        )?;
        Ok(Self {
            path,
            set,
            recent: Vec::new(),
        })
    }

    /// Whether `person_id` was forgotten.
    pub fn contains(&self, person_id: &str) -> bool {
        !self.set.is_empty() && self.set.contains(&digest(person_id))
    }

    /// Number of erasures.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Add `person_id` durably (a no-op when already listed).
    pub fn add(&mut self, person_id: &str) -> Result<()> {
        let d = digest(person_id);
        if self.set.contains(&d) {
            return Ok(());
        }
        let line = format!("{:x}\n", sha2::digest::Output::<Sha256>::from(d));
        durable::append(&self.path, line.as_bytes()).map_err(|e| ServerError::io(&self.path, e))?;
        self.set.insert(d);
        self.recent
            .push((self.generation() + 1, person_id.to_owned()));
        Ok(())
    }

    /// Sequence number of the latest erasure since start-up (0 = none).
    pub fn generation(&self) -> u64 {
        self.recent.last().map_or(0, |(g, _)| *g)
    }

    /// Ids erased after generation `g` (since start-up).
    pub fn since(&self, g: u64) -> impl Iterator<Item = &str> {
        self.recent
            .iter()
            .filter(move |(n, _)| *n > g)
            .map(|(_, id)| id.as_str())
    }
}

fn parse_hex(line: &[u8]) -> Option<PersonDigest> {
    let s = std::str::from_utf8(line).ok()?.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    #[test]
    fn erasures_persist_without_the_id_in_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut e = Erasures::open(dir.path()).expect("open");
        e.add("123.456.789-09").expect("add");
        e.add("123.456.789-09").expect("add twice");
        let text = fs::read_to_string(dir.path().join(FILE)).expect("read");
        assert!(!text.contains("123.456"));
        assert_eq!(text.lines().count(), 1);
        let e = Erasures::open(dir.path()).expect("reopen");
        assert!(e.contains("123.456.789-09"));
        assert!(!e.contains("someone else"));
        // A crash mid-append leaves a torn line: never acknowledged, cut off at start-up.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .expect("open");
        f.write_all(b"00ff").expect("tear");
        let e = Erasures::open(dir.path()).expect("reopen after a torn line");
        assert_eq!(e.len(), 1);
        fs::write(dir.path().join(FILE), "zz\n").expect("write");
        let err = Erasures::open(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(":1:"), "{err}");
    }
}

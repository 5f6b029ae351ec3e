//! A feature state stored as parts (shards of persons) instead of one `state.bin`: the file
//! format of one part, and the sorted merge back into one state. A sharded training run writes
//! one part per shard; a version may keep its state as parts (`state/part-NNNNN.bin`, listed in
//! the manifest's `files`) and the loader merges them into the very state a single
//! `state.bin` holds.
//!
//! A part is `CSPART01` then the postcard encoding of (sort keys, state): each person's sort key
//! is where the export first named the person, so merging parts by key restores the unsharded
//! state's slot order.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::registry::{LoadedVersion, Registry, STATE, corrupt, sha256_hex};
use crate::features::FeatureState;
use crate::{Error, Result};

/// The magic of a state part file.
pub const PART_MAGIC: &[u8; 8] = b"CSPART01";

/// The directory of a version's state parts.
pub const PARTS_DIR: &str = "state";

/// The name of part `index` inside [`PARTS_DIR`].
pub fn part_name(index: usize) -> String {
    format!("{PARTS_DIR}/part-{index:05}.bin")
}

#[derive(Serialize)]
struct PartRef<'a> {
    keys: &'a [u64],
    state: &'a FeatureState,
}

#[derive(Deserialize)]
struct Part {
    keys: Vec<u64>,
    state: FeatureState,
}

/// The bytes of a part: `keys` (one per person of `state`, ascending) and `state`.
pub fn encode_part(keys: &[u64], state: &FeatureState) -> Result<Vec<u8>> {
    let mut out = PART_MAGIC.to_vec();
    out.extend(
        postcard::to_stdvec(&PartRef { keys, state })
            .map_err(|e| Error::InvalidConfig(format!("encoding a state part: {e}")))?,
    );
    Ok(out)
}

/// A part's sort keys and state from its bytes (`path` names it in errors).
pub fn decode_part(bytes: &[u8], path: &Path) -> Result<(Vec<u64>, FeatureState)> {
    let body = bytes
        .strip_prefix(PART_MAGIC.as_slice())
        .ok_or_else(|| Error::artifact(path, "not a contactscore state part"))?;
    let part: Part = postcard::from_bytes(body)
        .map_err(|e| Error::artifact(path, format!("unreadable state part: {e}")))?;
    Ok((part.keys, part.state))
}

/// Merge decoded parts into one state ([`FeatureState::merge_parts`]), index rebuilt.
pub fn merge(parts: Vec<(Vec<u64>, FeatureState)>) -> Result<FeatureState> {
    FeatureState::merge_parts(parts)
}

/// A decoded part: its persons' sort keys and its state.
type Decoded = (Vec<u64>, FeatureState);

/// A version's state as it is published: one snapshot, or encoded parts ([`encode_part`]).
#[derive(Debug, Clone, Copy)]
pub enum StateFiles<'a> {
    /// One `state.bin`.
    Whole(&'a FeatureState),
    /// `state/part-NNNNN.bin`, one per element, in this order.
    Parts(&'a [Vec<u8>]),
}

/// Whether a version's manifest lists state parts.
pub fn has_parts(manifest: &Manifest) -> bool {
    manifest.files.keys().any(|k| is_part(k))
}

fn is_part(name: &str) -> bool {
    name.starts_with(PARTS_DIR) && name[PARTS_DIR.len()..].starts_with("/part-")
}

/// One state part of a version: its file name and the SHA-256 its manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    /// `state/part-NNNNN.bin`.
    pub name: String,
    checksum: String,
}

impl Registry {
    /// The state parts of `version`, in order; `None` when the version keeps one `state.bin`
    /// (what [`Registry::load`] reads, decided the same way).
    pub fn state_parts(&self, version: &str) -> Result<Option<Vec<PartFile>>> {
        let manifest = self.manifest(version)?;
        Ok(parts_of(&manifest).map(|parts| {
            parts
                .into_iter()
                .map(|(name, checksum)| PartFile {
                    name: name.clone(),
                    checksum: checksum.clone(),
                })
                .collect()
        }))
    }

    /// Read, verify (the manifest's checksum) and decode one state part of `version`: its
    /// persons in the part's order, its zone table (the same in every part) and its cutoff
    /// (the version's cutoff is the largest of its parts', as [`merge`] takes it).
    pub fn read_state_part(&self, version: &str, part: &PartFile) -> Result<FeatureState> {
        let dir = self.dir().join(version);
        read_part(&dir, (&part.name, &part.checksum)).map(|(_, state)| state)
    }

    /// A version as [`Registry::load`] verifies and gives it, but with a state that holds no
    /// person (zone table, default zone, cutoff): what a scorer whose persons live elsewhere
    /// serves with. A parts version is read part by part, one decoded part in memory at a time,
    /// never merged (the zone tables checked alike, the cutoff the largest, as the merge does).
    pub fn load_skeleton(&self, version: Option<&str>) -> Result<LoadedVersion> {
        let version = self.resolve(version)?;
        let Some(parts) = self.state_parts(&version)? else {
            let mut loaded = self.load(Some(&version))?;
            strip(&mut loaded.state);
            return Ok(loaded);
        };
        let (manifest, model) = self.load_model(Some(&version))?;
        let mut skeleton: Option<FeatureState> = None;
        for part in &parts {
            let mut state = self.read_state_part(&version, part)?;
            strip(&mut state);
            match &mut skeleton {
                Some(s) => {
                    s.same_zones_as(&state)?;
                    s.cutoff = s.cutoff.max(state.cutoff);
                }
                None => skeleton = Some(state),
            }
        }
        let state = skeleton.ok_or_else(|| Error::InvalidConfig("no state parts".into()))?;
        let evidence = self.evidence(&manifest, &self.dir().join(&version))?;
        Ok(LoadedVersion {
            manifest,
            model,
            state,
            evidence,
        })
    }
}

/// Drop a state's persons (the index too).
fn strip(state: &mut FeatureState) {
    state.persons = Vec::new();
    state.person_ids = Vec::new();
    state.rebuild_index();
}

/// The manifest's state parts (name, checksum), or `None` when it has a `state.bin` or no part.
fn parts_of(manifest: &Manifest) -> Option<Vec<(&String, &String)>> {
    if manifest.files.contains_key(STATE) || !has_parts(manifest) {
        return None;
    }
    Some(manifest.files.iter().filter(|(k, _)| is_part(k)).collect())
}

/// Read, verify and decode the part `name` (checksum `want`) of the version in `dir`.
fn read_part(dir: &Path, (name, want): (&String, &String)) -> Result<Decoded> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    if &sha256_hex(&bytes) != want {
        return Err(corrupt(dir, name));
    }
    decode_part(&bytes, &path)
}

/// Read, verify (each part's checksum from the manifest) and decode the state parts of the
/// version in `dir`, on up to as many threads as there are cores, and merge them into one state.
pub(super) fn load(manifest: &Manifest, dir: &Path) -> Result<FeatureState> {
    let names = parts_of(manifest).unwrap_or_default();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(names.len())
        .max(1);
    let read = |name| read_part(dir, name);
    let chunks: Vec<Vec<(&String, &String)>> = names
        .chunks(names.len().div_ceil(threads).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let decoded: Vec<Result<Vec<Decoded>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(read).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::artifact(
                        dir,
                        "a thread reading state parts panicked",
                    ))
                })
            })
            .collect()
    });
    let mut parts = Vec::with_capacity(names.len());
    for d in decoded {
        parts.extend(d?);
    }
    merge(parts)
}

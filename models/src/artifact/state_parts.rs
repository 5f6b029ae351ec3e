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

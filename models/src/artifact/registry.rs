//! The models directory as a registry: one immutable subdirectory per version, written to a
//! temporary directory, fsynced and renamed into place; a `CURRENT` file naming the promoted
//! version, replaced atomically. Loading verifies format version, checksums, the family and the
//! feature schema. Every file is written through [`crate::durable`]: private modes (`state.bin`
//! holds contact points), no temporary left behind by a failed write.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::evidence::{self, RuleEvidence};
use super::manifest::{FORMAT_VERSION, Manifest};
use super::state_parts::{self, StateFiles};
use crate::durable::{self, Leftovers};
use crate::features::FeatureState;
use crate::model::ResponseModel;
use crate::{Error, Result};

/// File names inside a version directory.
pub const MANIFEST: &str = "manifest.json";
/// The model (families, calibrators, schema).
pub const MODEL: &str = "model.json";
/// The end-of-history feature state.
pub const STATE: &str = "state.bin";
/// The pointer to the promoted version.
pub const CURRENT: &str = "CURRENT";

/// Magic of a state snapshot; the digit is the encoding's version (postcard is not
/// self-describing, so a field added to the state is a new version). 2: contact points carry
/// their number's metadata validity and type and their latest carrier validation.
pub(super) const STATE_MAGIC: &[u8; 8] = b"CSSTATE2";

/// A models directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

/// A loaded, verified model version.
#[derive(Debug)]
pub struct LoadedVersion {
    /// Its manifest.
    pub manifest: Manifest,
    /// The model.
    pub model: ResponseModel,
    /// The feature state at the end of its training history.
    pub state: FeatureState,
    /// The rule evidence its export contained (empty for versions written before it was kept).
    pub evidence: RuleEvidence,
}

impl Registry {
    /// Open (and create if needed, mode `0700`) the models directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        durable::create_private_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All published versions, oldest first (ids sort by creation time).
    pub fn versions(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().join(MANIFEST).is_file() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The promoted version, if any.
    pub fn current(&self) -> Result<Option<String>> {
        let path = self.dir.join(CURRENT);
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// `version`, or the current one when `None`.
    pub fn resolve(&self, version: Option<&str>) -> Result<String> {
        let v = match version {
            Some(v) => v.to_owned(),
            None => self.current()?.ok_or_else(|| Error::VersionNotFound {
                dir: self.dir.clone(),
                version: CURRENT.into(),
            })?,
        };
        // A version is a directory *of this registry*: one plain path component, so neither a
        // `CURRENT` file nor a `--version` can point outside it (`../other/v`).
        let plain = !v.is_empty()
            && !v.starts_with('.')
            && !v.contains(['/', '\\'])
            && Path::new(&v).components().count() == 1;
        if !plain || !self.dir.join(&v).join(MANIFEST).is_file() {
            return Err(Error::VersionNotFound {
                dir: self.dir.clone(),
                version: v,
            });
        }
        Ok(v)
    }

    /// Publish a new version: write `manifest` (its `files` checksums are filled in here), the
    /// model, the state snapshot and the rule evidence to a temporary directory, fsync
    /// everything, then rename it into place. An existing version is never overwritten; on
    /// failure the temporary directory is removed (and so are those of publishers that crashed).
    pub fn publish(
        &self,
        manifest: &mut Manifest,
        model: &ResponseModel,
        state: &FeatureState,
        evidence: &RuleEvidence,
    ) -> Result<PathBuf> {
        self.publish_state(manifest, model, StateFiles::Whole(state), evidence)
    }

    /// [`Registry::publish`] with the state given as one snapshot or as encoded parts
    /// ([`super::state_parts`]: a sharded run's shards, kept apart and merged by the loader).
    pub fn publish_state(
        &self,
        manifest: &mut Manifest,
        model: &ResponseModel,
        state: StateFiles<'_>,
        evidence: &RuleEvidence,
    ) -> Result<PathBuf> {
        let final_dir = self.dir.join(&manifest.version);
        if final_dir.exists() {
            return Err(Error::artifact(
                &final_dir,
                "version already exists; versions are immutable",
            ));
        }
        durable::remove_temporaries(&self.dir, Leftovers::OfDeadWriters)
            .map_err(|e| Error::io(&self.dir, e))?;
        let tmp = durable::temp_path(&final_dir);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        durable::create_private_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let written = self.write_version(&tmp, &final_dir, manifest, model, state, evidence);
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written.map(|()| final_dir)
    }

    fn write_version(
        &self,
        tmp: &Path,
        final_dir: &Path,
        manifest: &mut Manifest,
        model: &ResponseModel,
        state: StateFiles<'_>,
        evidence: &RuleEvidence,
    ) -> Result<()> {
        let model_bytes = serde_json::to_vec(model)
            .map_err(|e| Error::artifact(tmp.join(MODEL), e.to_string()))?;
        let state_files: Vec<(String, std::borrow::Cow<'_, [u8]>)> = match state {
            StateFiles::Whole(state) => {
                // Streamed to the file and hashed on the way: the encoded snapshot is as large
                // as the state (2.9 GB for 3M persons) and is never held in memory.
                let path = tmp.join(STATE);
                let checksum = super::state_write::write_state(&path, state)?;
                manifest.files.insert(STATE.into(), checksum);
                Vec::new()
            }
            StateFiles::Parts(parts) => {
                let dir = tmp.join(state_parts::PARTS_DIR);
                durable::create_private_dir(&dir).map_err(|e| Error::io(&dir, e))?;
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (state_parts::part_name(i), p.as_slice().into()))
                    .collect()
            }
        };
        let evidence_bytes = evidence.to_bytes();
        manifest.format_version = FORMAT_VERSION;
        let fixed = [(MODEL, &model_bytes), (evidence::FILE, &evidence_bytes)];
        for (name, bytes) in fixed {
            manifest.files.insert(name.into(), sha256_hex(bytes));
        }
        for (name, bytes) in &state_files {
            manifest.files.insert(name.clone(), sha256_hex(bytes));
        }
        let manifest_bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::artifact(tmp.join(MANIFEST), e.to_string()))?;
        let all = fixed
            .into_iter()
            .map(|(n, b)| (n, b.as_slice()))
            .chain(state_files.iter().map(|(n, b)| (n.as_str(), b.as_ref())))
            .chain([(MANIFEST, manifest_bytes.as_slice())]);
        for (name, bytes) in all {
            let path = tmp.join(name);
            durable::write_new(&path, bytes).map_err(|e| Error::io(&path, e))?;
        }
        if matches!(state, StateFiles::Parts(_)) {
            let dir = tmp.join(state_parts::PARTS_DIR);
            durable::sync_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        durable::sync_dir(tmp).map_err(|e| Error::io(tmp, e))?;
        fs::rename(tmp, final_dir).map_err(|e| Error::io(final_dir, e))?;
        durable::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// Point `CURRENT` at `version` atomically ([`durable::replace`]).
    pub fn promote(&self, version: &str) -> Result<()> {
        let version = self.resolve(Some(version))?;
        let path = self.dir.join(CURRENT);
        durable::replace(&path, format!("{version}\n").as_bytes()).map_err(|e| Error::io(&path, e))
    }

    /// Read a version's manifest and check its format version.
    pub fn manifest(&self, version: &str) -> Result<Manifest> {
        let path = self.dir.join(version).join(MANIFEST);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let probe: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::artifact(&path, format!("not valid JSON: {e}")))?;
        let found = probe
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(FORMAT_VERSION)) {
            return Err(Error::artifact(
                &path,
                format!(
                    "artifact format version {} is not supported by this build (expects {FORMAT_VERSION})",
                    found.map_or_else(|| "missing".to_owned(), |v| v.to_string())
                ),
            ));
        }
        serde_json::from_value(probe).map_err(|e| Error::artifact(&path, e.to_string()))
    }

    /// Load and verify a version (`None` = current): checksums, format, feature schema.
    pub fn load(&self, version: Option<&str>) -> Result<LoadedVersion> {
        // The directory asked for, not the id its manifest records: a copied or renamed version
        // directory must be verified on its own files.
        let version = self.resolve(version)?;
        let (manifest, model) = self.load_model(Some(&version))?;
        let dir = self.dir.join(&version);
        let mut state = if manifest.files.contains_key(STATE) || !state_parts::has_parts(&manifest)
        {
            let want = checksum(&manifest, &dir, STATE)?;
            read_state(&dir.join(STATE), want).map_err(|e| match e {
                StateError::Io(e) => Error::io(dir.join(STATE), e),
                StateError::Checksum => corrupt(&dir, STATE),
                StateError::Format(reason) => Error::artifact(dir.join(STATE), reason),
            })?
        } else {
            state_parts::load(&manifest, &dir)?
        };
        state.rebuild_index();
        let evidence = self.evidence(&manifest, &dir)?;
        Ok(LoadedVersion {
            manifest,
            model,
            state,
            evidence,
        })
    }

    /// The rule evidence of the version in `dir`, verified against the manifest's checksum;
    /// empty when the version predates it (its manifest lists no such file).
    pub(super) fn evidence(&self, manifest: &Manifest, dir: &Path) -> Result<RuleEvidence> {
        let Some(want) = manifest.files.get(evidence::FILE) else {
            return Ok(RuleEvidence::default());
        };
        let path = dir.join(evidence::FILE);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if &sha256_hex(&bytes) != want {
            return Err(corrupt(dir, evidence::FILE));
        }
        RuleEvidence::from_bytes(&bytes, &path)
    }

    /// Load and verify a version's manifest and model without its state snapshot (`None` =
    /// current): what comparing models needs, at a fraction of the memory.
    pub fn load_model(&self, version: Option<&str>) -> Result<(Manifest, ResponseModel)> {
        let version = self.resolve(version)?;
        let dir = self.dir.join(&version);
        let manifest = self.manifest(&version)?;
        let model_path = dir.join(MODEL);
        let model_bytes = fs::read(&model_path).map_err(|e| Error::io(&model_path, e))?;
        if &sha256_hex(&model_bytes) != checksum(&manifest, &dir, MODEL)? {
            return Err(corrupt(&dir, MODEL));
        }
        let model: ResponseModel = serde_json::from_slice(&model_bytes)
            .map_err(|e| Error::artifact(dir.join(MODEL), e.to_string()))?;
        model
            .schema
            .check_compatible()
            .map_err(|reason| Error::artifact(dir.join(MODEL), reason))?;
        if model.schema != manifest.feature_schema {
            return Err(Error::artifact(
                &dir,
                "model and manifest disagree on the feature schema",
            ));
        }
        // The manifest is not covered by a checksum: a hand-edited family must not be believed.
        let family = model.primary.family();
        if family != manifest.family {
            return Err(Error::artifact(
                dir.join(MANIFEST),
                format!(
                    "the manifest says family {} but {MODEL} holds a {} model",
                    manifest.family.as_str(),
                    family.as_str()
                ),
            ));
        }
        Ok((manifest, model))
    }
}

/// The checksum the manifest records for file `name` of the version in `dir`.
fn checksum<'a>(manifest: &'a Manifest, dir: &Path, name: &str) -> Result<&'a String> {
    manifest
        .files
        .get(name)
        .ok_or_else(|| Error::artifact(dir.join(MANIFEST), format!("no checksum for {name}")))
}

/// The error for a file whose bytes do not match their checksum.
pub(super) fn corrupt(dir: &Path, name: &str) -> Error {
    Error::artifact(dir.join(name), "checksum mismatch: the file is corrupt")
}

/// Why a state snapshot could not be read.
enum StateError {
    Io(std::io::Error),
    Checksum,
    Format(String),
}

/// Decode a state snapshot straight from the file while hashing it, so that loading never holds
/// the whole file and the decoded state at once (at 1M persons the file alone is ~0.85 GiB). The
/// checksum covers every byte and is checked before the state is returned; a file that does not
/// decode is reported as corrupt when its checksum is wrong too, since that is the likelier cause.
fn read_state(path: &Path, want: &str) -> std::result::Result<FeatureState, StateError> {
    let file = fs::File::open(path).map_err(StateError::Io)?;
    // Hash below the buffer: the decoder reads a few bytes at a time, the hash sees 1 MiB blocks.
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        HashingReader {
            inner: file,
            hash: Sha256::new(),
        },
    );
    let mut magic = [0u8; STATE_MAGIC.len()];
    let read_magic = reader.read_exact(&mut magic).is_ok();
    let magic_ok = read_magic && &magic == STATE_MAGIC;
    let older = read_magic && magic[..7] == STATE_MAGIC[..7] && magic[7] < STATE_MAGIC[7];
    // Strings are copied out of this scratch space one at a time (`String`/`Box<str>` fields), so
    // it only needs to hold the longest one.
    let mut scratch = vec![0u8; 1 << 20];
    let decoded = if magic_ok {
        postcard::from_io::<FeatureState, _>((&mut reader, &mut scratch)).map(|(state, _)| state)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    };
    // Hash whatever follows (trailing bytes, or the rest after a decoding error).
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(StateError::Io)?;
    if hex(&reader.into_inner().hash.finalize()) != want {
        return Err(StateError::Checksum);
    }
    match (magic_ok, decoded) {
        (false, _) if older => Err(StateError::Format(format!(
            "state snapshot format {} is from an older build (this one reads {}); retrain the model",
            char::from(magic[7]),
            char::from(STATE_MAGIC[7])
        ))),
        (false, _) => Err(StateError::Format(
            "not a contactscore state snapshot".into(),
        )),
        (true, Ok(state)) => Ok(state),
        (true, Err(e)) => Err(StateError::Format(e.to_string())),
    }
}

/// A reader that feeds every byte it reads into a SHA-256.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(super) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, ContactNormalizer, Outcome};

    fn state() -> FeatureState {
        let mut st = FeatureState::new("America/Sao_Paulo").expect("zone");
        let n = ContactNormalizer::new("BR").expect("region");
        for (i, raw) in ["+5511987654321", "ana@example.com"].iter().enumerate() {
            let slot = st.slot_or_insert(&format!("p{i}"));
            let c = n.normalize(raw).expect("contact");
            st.apply(slot, &c, Channel::Sms, 1_770_000_000, Outcome::Replied)
                .expect("apply");
        }
        st
    }

    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let p = dir.join(STATE);
        fs::write(&p, bytes).expect("write");
        p
    }

    fn snapshot(st: &FeatureState) -> Vec<u8> {
        let mut b = STATE_MAGIC.to_vec();
        b.extend(postcard::to_stdvec(st).expect("encode"));
        b
    }

    #[test]
    fn a_snapshot_streams_back_and_every_kind_of_damage_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = state();
        let good = snapshot(&st);
        let back = read_state(&write(dir.path(), &good), &sha256_hex(&good));
        let back = back.unwrap_or_else(|_| panic!("good snapshot rejected"));
        assert_eq!(back.persons, st.persons);
        assert_eq!(back.person_ids, st.person_ids);
        assert_eq!(back.zones.name(0), st.zones.name(0));

        // A flipped byte: the checksum says so, whatever the decoder thought.
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        let r = read_state(&write(dir.path(), &bad), &sha256_hex(&good));
        assert!(matches!(r, Err(StateError::Checksum)));

        // Checksums that match but contents that are not a snapshot: the format is named.
        let mut foreign = good.clone();
        foreign[0] = b'X';
        let r = read_state(&write(dir.path(), &foreign), &sha256_hex(&foreign));
        assert!(
            matches!(&r, Err(StateError::Format(m)) if m.contains("not a contactscore")),
            "bad magic accepted"
        );
        let mut older = good.clone();
        older[7] = b'1';
        let r = read_state(&write(dir.path(), &older), &sha256_hex(&older));
        assert!(
            matches!(&r, Err(StateError::Format(m)) if m.contains("older build")),
            "an older snapshot is not named as such"
        );
        let cut = &good[..good.len() - 3];
        let r = read_state(&write(dir.path(), cut), &sha256_hex(cut));
        assert!(
            matches!(r, Err(StateError::Format(_))),
            "truncation accepted"
        );

        let r = read_state(&dir.path().join("missing.bin"), "00");
        assert!(matches!(r, Err(StateError::Io(_))));
    }
}

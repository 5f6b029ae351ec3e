//! Writing `state.bin` as a stream: magic, then the postcard encoding, hashed on its way to the
//! file, so that a snapshot of millions of persons (2.9 GB for 3M) is never encoded in memory.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::registry::{STATE_MAGIC, hex};
use crate::durable;
use crate::features::FeatureState;
use crate::{Error, Result};

/// Write `state.bin` (magic, then the postcard encoding) to the new file `path`; its SHA-256.
pub(super) fn write_state(path: &Path, state: &FeatureState) -> Result<String> {
    use std::io::Write;
    /// Passes bytes on and hashes them.
    struct Hashing<'a> {
        inner: &'a mut dyn Write,
        hash: Sha256,
    }
    impl Write for Hashing<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hash.update(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut encode_error = None;
    let mut digest = None;
    durable::write_new_with(path, |w| {
        let mut out = Hashing {
            inner: w,
            hash: Sha256::new(),
        };
        out.write_all(STATE_MAGIC)?;
        match postcard::to_io(state, &mut out) {
            Ok(_) => {
                digest = Some(out.hash.finalize());
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                encode_error = Some(message.clone());
                Err(std::io::Error::other(message))
            }
        }
    })
    .map_err(|e| match encode_error.take() {
        Some(reason) => Error::artifact(path.to_owned(), reason),
        None => Error::io(path, e),
    })?;
    digest
        .map(|d| hex(&d))
        .ok_or_else(|| Error::artifact(path.to_owned(), "not written".to_owned()))
}

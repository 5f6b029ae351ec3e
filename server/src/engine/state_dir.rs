//! The state directory as the server takes it over at start-up: created private (`0700`, its
//! files `0600`: they hold phone numbers and person ids), locked so that no second server can
//! use it at the same time, and cleared of the temporary files a crash can leave.
//!
//! Why the lock: two servers on one directory both append to `outcomes.jsonl` and each rewrites
//! it from its own memory (an erasure, a retirement), silently dropping the other's acknowledged
//! outcomes. A rolling deploy or a careless restart does exactly that; the second server must
//! refuse to start instead, naming the first one.

use std::path::Path;

use contactscore_models::durable::{self, DirLock, Leftovers};

use crate::error::{Result, ServerError};

/// Create (or tighten) and lock `dir`, and remove leftover temporary files. The lock is held
/// while the returned value lives (and released by the OS when the process dies).
pub fn take(dir: &Path) -> Result<DirLock> {
    durable::create_private_dir(dir).map_err(|e| ServerError::io(dir, e))?;
    let lock = match DirLock::try_acquire(dir).map_err(|e| ServerError::io(dir, e))? {
        Ok(lock) => lock,
        Err(holder) => {
            return Err(ServerError::StateDirInUse {
                dir: dir.to_owned(),
                pid: holder.pid,
            });
        }
    };
    let tightened = durable::make_private(dir).map_err(|e| ServerError::io(dir, e))?;
    if tightened > 0 {
        tracing::warn!(state_dir = %dir.display(), files = tightened, "made the state directory and its files private (0700/0600)");
    }
    // Ours alone now: whatever temporary file is here was left by a crashed or failed write.
    let removed =
        durable::remove_temporaries(dir, Leftovers::All).map_err(|e| ServerError::io(dir, e))?;
    for path in removed {
        tracing::warn!(file = %path.display(), "removed a temporary file left by an interrupted rewrite");
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let held = take(&state).expect("first");
        std::fs::write(state.join("outcomes.jsonl.tmp"), "half a rewrite").expect("write");
        let err = take(&state).expect_err("second");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())) && text.contains("in use"),
            "{text}"
        );
        assert!(
            state.join("outcomes.jsonl.tmp").exists(),
            "the holder's files are left alone"
        );
        drop(held);
        let _again = take(&state).expect("free again");
        assert!(
            !state.join("outcomes.jsonl.tmp").exists(),
            "leftover removed"
        );
    }
}

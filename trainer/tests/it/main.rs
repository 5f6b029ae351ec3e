//! Integration tests of the trainer: one binary, shared helpers here, one module per concern.

mod backtest;
mod bad_input;
mod capacity;
mod cli;
mod determinism;
mod dirty;
mod features_cmd;
mod leakage;
mod plan;
mod promotion;
mod sharded;
mod spark;
mod split_dist;

use std::path::{Path, PathBuf};

/// The built `contactscore-trainer` binary.
pub fn trainer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_contactscore-trainer"))
}

/// Run the trainer with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(trainer_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the trainer: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Write `text` to `dir/name` and return the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p.to_string_lossy().into_owned()
}

//! A Python interpreter with the Python client example's packages, for the end-to-end tests
//! that run it: a virtual environment created once under the target directory and reused.
//!
//! Why not the machine's own Python: the README's test command must pass on a machine whose
//! Python has no packages at all, without a setup step. Why a lock: nextest runs every test in
//! its own process, so two tests may ask for the environment at the same moment.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Written into the environment once its packages are installed: the requirements it holds.
const STAMP: &str = "contactscore-requirements.txt";

/// `$PYTHON` when set (an interpreter that already has the packages), else the interpreter of
/// `<dir>/python-venv`, created from `python3` with the packages of `requirements` installed
/// if it does not hold exactly those requirements yet.
pub fn client_python(requirements: &Path, dir: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let wanted = fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let venv = dir.join("python-venv");
    let lock_path = dir.join("python-venv.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let python = venv.join("bin").join("python");
    let stamp = venv.join(STAMP);
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.is_file() {
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    eprintln!(
        "creating {} with the packages of {} (once)",
        venv.display(),
        requirements.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements))?;
    fs::write(&stamp, &wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

fn run(cmd: &mut Command) -> Result<()> {
    let what = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

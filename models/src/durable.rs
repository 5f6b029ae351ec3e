//! Crash-safe files: the one implementation of atomic replacement, durable appends, torn-tail
//! reading, private permissions and the temporary files they use, for every file of the server's
//! state directory and of the models directory.
//!
//! Why one module: these steps are easy to get subtly wrong (a rename without a directory fsync,
//! a temporary file left behind on an error path that then fills the disk, an append that leaves
//! half a line for the next append to continue), and the same steps were once written four
//! times. Everything here is synchronous `std` I/O returning `std::io::Result`; callers add the
//! path to their own error type.
//!
//! - [`replace`]: write a temporary file beside the target, fsync, rename over the target, fsync
//!   the directory. The temporary file is removed on every error path; the target is either the
//!   old or the new content, never a mix.
//! - [`append`] / [`AppendLog`]: write whole lines and fsync; a write or fsync that fails is cut
//!   back off the file, so no later line follows a torn one. An [`AppendLog`] whose cut-back (or
//!   rewrite after its rename) failed refuses every later append until reopened.
//! - [`read_lines`]: every complete line; a final line without `\n` (an append a crash cut short,
//!   never acknowledged) is cut off the file, or completed when the caller says it is whole.
//! - Files are created `0600` and directories `0700` (they hold phone numbers and person ids).
//! - Temporary files are named `.<name>.tmp-<pid>`; [`remove_temporaries`] clears leftovers of
//!   crashed writers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Mode of every file written here (owner read/write only).
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory created here (owner only).
pub const DIR_MODE: u32 = 0o700;

/// Marker between a temporary file's target name and the writer's pid.
const TMP_MARK: &str = ".tmp-";

/// How long a temporary of a writer that is not running must have been left unchanged before
/// [`Leftovers::OfDeadWriters`] removes it.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Create `dir` and its missing parents; the directories created get mode `0700`.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(dir)
}

/// Make an existing directory private: the directory itself `0700`, each regular file directly in
/// it `0600` (for state written by builds that created them world-readable). Returns how many
/// modes were changed.
pub fn make_private(dir: &Path) -> io::Result<usize> {
    let mut changed = usize::from(set_mode(dir, DIR_MODE)?);
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            changed += usize::from(set_mode(&entry.path(), FILE_MODE)?);
        }
    }
    Ok(changed)
}

/// Set `path`'s permission bits to `mode` if they differ; returns whether they did.
#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let perms = fs::metadata(path)?.permissions();
    if perms.mode() & 0o777 == mode {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(true)
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<bool> {
    Ok(false)
}

/// Open options for a new private file.
fn private(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts
}

/// The directory `path` is in.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsync directory `dir`, so that a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The temporary path this process writes `path` through: `.<name>.tmp-<pid>` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "unnamed".into(), |n| n.to_string_lossy().into_owned());
    parent(path).join(format!(".{name}{TMP_MARK}{}", std::process::id()))
}

/// The pid in a temporary name written by [`temp_path`]; `None` for any other name.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(TMP_MARK)?;
    pid.parse().ok()
}

/// Which leftovers [`remove_temporaries`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Every temporary name, whoever wrote it, plus `*.tmp` names of older builds: only for a
    /// directory this process holds exclusively (the locked state directory).
    All,
    /// Only temporaries whose writer is no longer running and that have not changed for
    /// [`STALE_AFTER`] (a directory other processes write too, such as the models directory; the
    /// age covers writers in another pid namespace sharing the directory). Never removes anything
    /// where that cannot be told.
    OfDeadWriters,
}

/// Remove temporary files and directories that crashed writers left in `dir` (not recursive).
/// Returns what was removed.
pub fn remove_temporaries(dir: &Path, which: Leftovers) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let doomed = match (which, temp_owner(&name)) {
            (Leftovers::All, Some(_)) => true,
            (Leftovers::All, None) => name.ends_with(".tmp"),
            (Leftovers::OfDeadWriters, Some(pid)) => !running(pid) && stale(&entry.metadata()?),
            (Leftovers::OfDeadWriters, None) => false,
        };
        if !doomed {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        removed.push(path);
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// Whether an entry has not been modified for [`STALE_AFTER`] (unknown times count as fresh).
fn stale(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= STALE_AFTER)
}

/// Whether process `pid` is running (Linux: `/proc`; elsewhere assumed running, so nothing is
/// removed that might still be written).
fn running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    pid == std::process::id() || !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Write `bytes` to the new file `path` (mode `0600`) and fsync it. The file must not exist; on
/// failure it is removed again. The caller fsyncs the directory.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_new_with(path, |w| w.write_all(bytes))
}

/// [`write_new`], the content written by `write` through a buffer: for files too large to
/// encode in memory first (a state snapshot of millions of persons).
pub fn write_new_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let f = private(OpenOptions::new().write(true).create_new(true)).open(path)?;
    let mut buf = io::BufWriter::with_capacity(1 << 20, f);
    let written = write(&mut buf)
        .and_then(|()| buf.into_inner().map_err(io::IntoInnerError::into_error))
        .and_then(|f| f.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// Replace `path` with `bytes` atomically: a temporary file beside it (mode `0600`), fsync,
/// rename, directory fsync. On failure before the rename, `path` is untouched and the temporary
/// file removed; after it (the directory fsync), `path` holds the new content.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_staged(path, bytes).map_err(|(e, _)| e)
}

/// [`replace`], telling on failure whether the rename had happened.
fn replace_staged(path: &Path, bytes: &[u8]) -> Result<(), (io::Error, bool)> {
    let tmp = temp_path(path);
    // A leftover of a crashed writer that had this pid.
    let _ = fs::remove_file(&tmp);
    if let Err(e) = write_new(&tmp, bytes).and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err((e, false));
    }
    sync_dir(parent(path)).map_err(|e| (e, true))
}

/// Append `bytes` (whole lines) to `path`, creating it (mode `0600`), and fsync (the directory
/// too when the file is new). If the write or the fsync fails, the file is cut back to its length
/// before, so a later append never continues a torn line; the error is returned either way.
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut log = AppendLog::open(path)?;
    log.append(&[bytes])
}

/// An append-only file kept open by one writer (the journal's writer thread), with the state
/// [`append`] needs to stay consistent: after a failure that could not be undone it refuses every
/// later append instead of writing after a torn line, or into a file that no longer has a name.
#[derive(Debug)]
pub struct AppendLog {
    path: PathBuf,
    /// `Err(why)` once the file cannot be trusted until it is reopened.
    file: Result<File, String>,
}

impl AppendLog {
    /// Open `path` for appending, creating it (mode `0600`, directory fsynced).
    pub fn open(path: &Path) -> io::Result<Self> {
        let created = !path.exists();
        let file = private(OpenOptions::new().create(true).append(true)).open(path)?;
        if created {
            sync_dir(parent(path))?;
        }
        Ok(Self {
            path: path.to_owned(),
            file: Ok(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Ok` unless a failure left the file unusable until a restart.
    pub fn usable(&self) -> io::Result<()> {
        self.file
            .as_ref()
            .map(|_| ())
            .map_err(|why| io::Error::other(why.clone()))
    }

    /// Write `parts` in order and fsync once. On failure nothing of them stays in the file (it is
    /// cut back to its length before); if even that fails, the log refuses appends from now on.
    pub fn append(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let file = match &mut self.file {
            Ok(f) => f,
            Err(why) => return Err(io::Error::other(why.clone())),
        };
        // Nothing is written when the length cannot be read, so nothing needs undoing.
        let began = file.metadata()?.len();
        let written = parts
            .iter()
            .try_for_each(|p| file.write_all(p))
            .and_then(|()| file.sync_data());
        if let Err(e) = &written
            && let Err(cut) = file.set_len(began).and_then(|()| file.sync_all())
        {
            self.file = Err(format!(
                "{}: an append failed ({e}) and could not be cut back ({cut}); restart to recover",
                self.path.display()
            ));
        }
        written
    }

    /// Replace the whole file with `bytes` atomically ([`replace`]) and append to the new file
    /// from now on. A failure before the rename leaves file and log as they were; one after it
    /// makes the log refuse appends until it is reopened.
    pub fn replace(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.usable()?;
        let reopened = match replace_staged(&self.path, bytes) {
            Ok(()) => OpenOptions::new().append(true).open(&self.path),
            Err((e, false)) => return Err(e),
            Err((e, true)) => Err(e),
        };
        match reopened {
            Ok(f) => {
                self.file = Ok(f);
                Ok(())
            }
            Err(e) => {
                self.file = Err(format!(
                    "{}: a rewrite failed after its rename ({e}); restart to recover",
                    self.path.display()
                ));
                Err(e)
            }
        }
    }
}

/// Name of the lock file [`DirLock`] takes in a directory.
pub const LOCK_FILE: &str = "LOCK";

/// An exclusive advisory lock (`flock`) on a directory's [`LOCK_FILE`], holding the owner's pid.
/// Held while this value lives; the operating system releases it when the process ends in any
/// way, `kill -9` included, so a stale lock file never blocks a restart.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Who holds a [`DirLock`] that could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockHolder {
    /// The holder's pid, as it wrote it (absent if it had not written it yet).
    pub pid: Option<u32>,
}

impl DirLock {
    /// Take the lock on `dir` (which must exist) without waiting: `Ok(Err(holder))` when another
    /// process (or another open of the same file) holds it.
    pub fn try_acquire(dir: &Path) -> io::Result<Result<DirLock, LockHolder>> {
        let path = dir.join(LOCK_FILE);
        let mut file =
            private(OpenOptions::new().read(true).write(true).create(true)).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Ok(Err(LockHolder { pid }));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()?;
        Ok(Ok(DirLock { _file: file }))
    }
}

/// Call `each(line_number, line)` for every line of `path` (without its `\n`; numbered from 1);
/// nothing when the file does not exist. A final line without `\n` is passed on (and its `\n`
/// written) when `complete` accepts it, else it is a torn append: it is cut off the file.
/// Returns how many bytes were cut (0 = none), for the caller to log.
pub fn read_lines<E: From<io::Error>>(
    path: &Path,
    complete: impl Fn(&[u8]) -> bool,
    mut each: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let (mut good_len, mut n) = (0u64, 0usize);
    loop {
        line.clear();
        let got = reader.read_until(b'\n', &mut line)?;
        if got == 0 {
            return Ok(0);
        }
        n += 1;
        match line.strip_suffix(b"\n") {
            Some(body) => each(n, body)?,
            None if complete(&line) => {
                append(path, b"\n")?;
                each(n, &line)?;
                return Ok(0);
            }
            None => {
                let f = OpenOptions::new().write(true).open(path)?;
                f.set_len(good_len).and_then(|()| f.sync_all())?;
                return Ok(got as u64);
            }
        }
        good_len += got as u64;
    }
}

#[cfg(test)]
#[path = "durable_tests.rs"]
mod tests;

//! Unit tests of the crash-safe file helper: torn tails, atomic replacement without leftovers,
//! temporaries by owner, private modes, failed appends, and the directory lock.

use super::*;

fn lines(path: &Path, complete: impl Fn(&[u8]) -> bool) -> (Vec<(usize, String)>, u64) {
    let mut out = Vec::new();
    let cut = read_lines::<io::Error>(path, complete, |n, l| {
        out.push((n, String::from_utf8_lossy(l).trim_end().to_owned()));
        Ok(())
    })
    .expect("read");
    (out, cut)
}

fn owned(lines: &[(usize, &str)]) -> Vec<(usize, String)> {
    lines.iter().map(|&(n, l)| (n, l.to_owned())).collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn torn_tails_are_cut_and_complete_ones_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.txt");
    let is_word = |l: &[u8]| l.len() == 3;
    assert_eq!(lines(&path, is_word), (Vec::new(), 0));

    fs::write(&path, "abc\r\n\nabd\nab").expect("write");
    let want = owned(&[(1, "abc"), (2, ""), (3, "abd")]);
    assert_eq!(lines(&path, is_word), (want, 2));
    assert_eq!(fs::read_to_string(&path).expect("read"), "abc\r\n\nabd\n");

    // A complete record without its newline is kept, and the newline written.
    fs::write(&path, "abc\nxyz").expect("write");
    assert_eq!(lines(&path, is_word), (owned(&[(1, "abc"), (2, "xyz")]), 0));
    assert_eq!(fs::read_to_string(&path).expect("read"), "abc\nxyz\n");

    // A multi-byte character cut in half is a torn tail, not an error.
    fs::write(&path, b"abc\n\xc3").expect("write");
    assert_eq!(lines(&path, is_word), (owned(&[(1, "abc")]), 1));

    append(&path, b"def\n").expect("append");
    assert_eq!(fs::read_to_string(&path).expect("read"), "abc\ndef\n");
}

#[test]
fn a_callback_error_stops_the_read_and_is_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.txt");
    fs::write(&path, "a\nb\nc\n").expect("write");
    let mut seen = 0;
    let r = read_lines::<io::Error>(
        &path,
        |_| false,
        |n, _| {
            seen += 1;
            if n == 2 {
                Err(io::Error::other("line 2 is bad"))
            } else {
                Ok(())
            }
        },
    );
    assert_eq!(r.expect_err("bad line").to_string(), "line 2 is bad");
    assert_eq!(seen, 2);
}

#[test]
fn replace_is_atomic_private_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outcomes.jsonl");
    replace(&path, b"one\n").expect("create");
    replace(&path, b"two\n").expect("replace");
    assert_eq!(fs::read_to_string(&path).expect("read"), "two\n");
    #[cfg(unix)]
    assert_eq!(mode(&path), FILE_MODE);

    // A rename that fails (the target is a directory) leaves the target and no temporary file.
    let busy = dir.path().join("busy");
    fs::create_dir(&busy).expect("mkdir");
    fs::write(busy.join("x"), "x").expect("write");
    replace(&busy, b"never\n").expect_err("cannot rename over a directory");
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp")),
        "temporary file left behind: {names:?}"
    );
}

#[test]
fn leftover_temporaries_are_removed_by_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(d.join("outcomes.jsonl"), "kept\n").expect("write");
    fs::write(d.join("outcomes.jsonl.tmp"), "older build").expect("write");
    fs::write(d.join(".consents.jsonl.tmp-4194304999"), "crashed").expect("write");
    let mine = temp_path(&d.join("CURRENT"));
    fs::write(&mine, "in flight").expect("write");
    fs::create_dir(d.join(".v7.tmp-4194304999")).expect("mkdir");
    fs::write(d.join(".v7.tmp-4194304999").join("model.json"), "{}").expect("write");

    // Another writer's directory: only the dead writers' leftovers go (pids above the kernel's
    // maximum are never running), and only once they are stale; this process's own file stays.
    assert!(
        remove_temporaries(d, Leftovers::OfDeadWriters)
            .expect("clean")
            .is_empty(),
        "fresh leftovers may belong to a writer in another pid namespace"
    );
    let old = std::time::SystemTime::now() - STALE_AFTER * 2;
    for name in [".consents.jsonl.tmp-4194304999", ".v7.tmp-4194304999"] {
        File::open(d.join(name))
            .and_then(|f| f.set_modified(old))
            .expect("age");
    }
    fs::File::options()
        .write(true)
        .open(&mine)
        .and_then(|f| f.set_modified(old))
        .expect("age");
    let mut gone = remove_temporaries(d, Leftovers::OfDeadWriters).expect("clean");
    gone.sort();
    assert_eq!(
        gone,
        [
            d.join(".consents.jsonl.tmp-4194304999"),
            d.join(".v7.tmp-4194304999")
        ]
    );
    assert!(mine.exists() && d.join("outcomes.jsonl.tmp").exists());

    // A directory held exclusively: every temporary, including older builds' `*.tmp`.
    let gone = remove_temporaries(d, Leftovers::All).expect("clean");
    assert_eq!(gone.len(), 2, "{gone:?}");
    let left: Vec<String> = fs::read_dir(d)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["outcomes.jsonl"]);
    assert!(
        remove_temporaries(&d.join("absent"), Leftovers::All)
            .expect("absent dir")
            .is_empty()
    );
}

#[cfg(unix)]
#[test]
fn directories_and_files_are_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("a").join("state");
    create_private_dir(&state).expect("mkdir");
    assert_eq!(mode(&state), DIR_MODE);
    assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
    append(&state.join("erasures.txt"), b"x\n").expect("append");
    assert_eq!(mode(&state.join("erasures.txt")), FILE_MODE);
    write_new(&state.join("model.json"), b"{}").expect("write");
    assert_eq!(mode(&state.join("model.json")), FILE_MODE);

    // State written world-readable by an older build is tightened.
    use std::os::unix::fs::PermissionsExt;
    let old = state.join("outcomes.jsonl");
    fs::write(&old, "x\n").expect("write");
    fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(make_private(&state).expect("restrict"), 2);
    assert_eq!((mode(&state), mode(&old)), (DIR_MODE, FILE_MODE));
    assert_eq!(make_private(&state).expect("again"), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn a_log_that_cannot_undo_a_failed_append_refuses_later_ones() {
    // /dev/full fails every write with ENOSPC, and cannot be truncated back either.
    let mut log = AppendLog::open(Path::new("/dev/full")).expect("open /dev/full");
    assert!(log.usable().is_ok());
    let err = log.append(&[b"line\n"]).expect_err("disk full");
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
    assert!(log.usable().is_err());
    let again = log.append(&[b"next\n"]).expect_err("refused");
    assert!(again.to_string().contains("restart"), "{again}");
}

#[test]
fn appends_continue_in_the_rewritten_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outcomes.jsonl");
    let mut log = AppendLog::open(&path).expect("open");
    log.append(&[b"one\n", b"two\n"]).expect("append");
    log.replace(b"two\n").expect("rewrite");
    log.append(&[b"three\n"]).expect("append after rewrite");
    assert_eq!(fs::read_to_string(&path).expect("read"), "two\nthree\n");
    assert_eq!(log.path(), path);
}

#[test]
fn a_directory_lock_is_exclusive_and_names_its_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let held = DirLock::try_acquire(dir.path()).expect("io").expect("free");
    let pid = std::process::id();
    assert_eq!(
        fs::read_to_string(dir.path().join(LOCK_FILE)).expect("read"),
        format!("{pid}\n")
    );
    let holder = DirLock::try_acquire(dir.path())
        .expect("io")
        .expect_err("held");
    assert_eq!(holder.pid, Some(pid));
    drop(held);
    let again = DirLock::try_acquire(dir.path()).expect("io");
    assert!(again.is_ok(), "released when dropped");
}

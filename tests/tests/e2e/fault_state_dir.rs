//! End to end: faults at the state directory, with real server processes. A second server on
//! the same `--state-dir` refuses to start naming the first one's pid (and may start once that
//! one is killed with SIGKILL); a journal rewrite that fails on a full disk (a small tmpfs, when
//! this test may mount one) leaves no temporary file and recording goes on, also after a
//! restart; state and model files are private; a repeated journal line is applied once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_state_dir_refuses_to_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (models, state) = (dir.path().join("models"), dir.path().join("state"));
    let first = ServerProc::start(&models, &state, &[])?;
    let (code, stderr) = ServerProc::refused(&models, &state, &[])?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("in use by another process")
            && stderr.contains(&format!("pid {}", first.pid())),
        "{stderr}"
    );
    // The first one is unharmed.
    assert_eq!(health(&first, "").await?, NOT_SERVING);

    // SIGKILL releases the lock: a restart is never blocked by a stale lock file.
    first.kill()?;
    let second = ServerProc::start(&models, &state, &[])?;
    assert_eq!(second.terminate()?, Some(0));
    Ok(())
}

/// Files of `dir` whose names look like temporary files.
fn temporaries(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.contains(".tmp") {
            out.push(name);
        }
    }
    Ok(out)
}

/// A tmpfs mounted for the test's life (unmounted when dropped).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a tmpfs of `size` at `at`, or say why not.
    fn mount(at: &Path, size: &str) -> std::result::Result<Self, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fill the file system of `path` (a file it creates) up to `free` bytes from full.
fn fill_leaving(path: &Path, free: u64) -> Result<()> {
    let mut f = std::fs::File::create(path)?;
    let block = vec![0u8; 16 * 1024];
    loop {
        match f.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => return Err(e.into()),
        }
    }
    let len = f.metadata()?.len();
    f.set_len(len.saturating_sub(free))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_failing_on_a_full_disk_leaves_no_temporary_and_recording_goes_on() -> Result<()>
{
    let sim = simulated(300, 21, 61)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let disk = match Tmpfs::mount(&dir.join("disk"), "2m") {
        Ok(d) => d,
        Err(why) => {
            println!("SKIPPED: cannot mount a tmpfs to fill ({why}); needs root");
            return Ok(());
        }
    };
    let state = disk.0.join("state");
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    // A journal of ~600 KB: the victim's outcome, then many others.
    let mut batch = vec![outcome(
        "victim-1",
        "victim",
        "+5511955550000",
        "voice",
        MONDAY,
        "no_answer",
    )];
    for i in 0..3_000 {
        let person = format!("filler-person-{i:05}");
        batch.push(outcome(
            &format!("filler-{i:05}"),
            &person,
            "+5511955551111",
            "voice",
            MONDAY,
            "no_answer",
        ));
    }
    let r = c
        .record_outcomes(tokio_stream::iter(batch))
        .await?
        .into_inner();
    assert_eq!(r.recorded, 3_001);
    let journal = std::fs::metadata(state.join("outcomes.jsonl"))?.len();
    assert!(journal > 400_000, "journal of {journal} bytes");

    // Leave 64 KiB: enough for appends, not for a rewritten journal.
    fill_leaving(&disk.0.join("filler"), 64 * 1024)?;
    let err = c
        .forget_person(v1::ForgetPersonRequest {
            person_id: "victim".into(),
        })
        .await
        .expect_err("the rewrite cannot fit");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert_eq!(temporaries(&state)?, Vec::<String>::new());
    let after = |id: &str| {
        outcome(
            id,
            "lead-after",
            "+5511955552222",
            "voice",
            MONDAY,
            "no_answer",
        )
    };
    assert!(
        c.record_outcome(after("after-1"))
            .await?
            .into_inner()
            .recorded
    );
    server.kill()?;

    // After a crash: still recording, nothing lost, no temporary file.
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    assert!(
        !c.record_outcome(after("after-1"))
            .await?
            .into_inner()
            .recorded
    );
    assert!(
        c.record_outcome(after("after-2"))
            .await?
            .into_inner()
            .recorded
    );
    assert_eq!(temporaries(&state)?, Vec::<String>::new());

    // With space again, the retried erasure completes.
    std::fs::remove_file(disk.0.join("filler"))?;
    let forgotten = c
        .forget_person(v1::ForgetPersonRequest {
            person_id: "victim".into(),
        })
        .await?
        .into_inner();
    assert!(forgotten.existed);
    let text = std::fs::read_to_string(state.join("outcomes.jsonl"))?;
    assert!(!text.contains("\"victim\"") && text.contains("after-2"));
    assert_eq!(server.terminate()?, Some(0));
    drop(disk);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_temporary_files_are_removed_at_start_up() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (models, state) = (dir.path().join("models"), dir.path().join("state"));
    std::fs::create_dir_all(&state)?;
    // What interrupted rewrites leave: an older build's name, and this build's.
    std::fs::write(state.join("outcomes.jsonl.tmp"), "half a journal")?;
    std::fs::write(state.join(".consents.jsonl.tmp-4194304999"), "half")?;
    let server = ServerProc::start(&models, &state, &[])?;
    assert_eq!(temporaries(&state)?, Vec::<String>::new());
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[cfg(unix)]
fn mode(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)
        .with_context(|| path.display().to_string())?
        .permissions()
        .mode()
        & 0o777)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_model_files_are_private() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let sim = simulated(300, 21, 62)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    let version = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let mut files = vec![models.join("CURRENT")];
    for e in std::fs::read_dir(models.join(&version))? {
        files.push(e?.path());
    }
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        assert_eq!(mode(f)?, 0o600, "{}", f.display());
    }
    assert_eq!(mode(&models)?, 0o700);
    assert_eq!(mode(&models.join(&version))?, 0o700);

    // State an older build wrote world-readable is tightened at start-up.
    std::fs::create_dir_all(&state)?;
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(state.join("erasures.txt"), "")?;
    std::fs::set_permissions(
        state.join("erasures.txt"),
        std::fs::Permissions::from_mode(0o644),
    )?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    c.record_outcome(outcome(
        "p-1",
        "lead-perm",
        "+5511955554444",
        "voice",
        MONDAY,
        "opt_out",
    ))
    .await?;
    c.record_consent(v1::RecordConsentRequest {
        person_id: "lead-perm".into(),
        contact: "+5511955554444".into(),
        channel: "voice".into(),
        consented_at: None,
    })
    .await?;
    c.forget_person(v1::ForgetPersonRequest {
        person_id: "someone".into(),
    })
    .await?;
    assert_eq!(mode(&state)?, 0o700);
    let mut names = Vec::new();
    for e in std::fs::read_dir(&state)? {
        let path = e?.path();
        assert_eq!(mode(&path)?, 0o600, "{}", path.display());
        names.push(path.file_name().map(|n| n.to_string_lossy().into_owned()));
    }
    names.sort();
    let want = ["LOCK", "consents.jsonl", "erasures.txt", "outcomes.jsonl"];
    assert_eq!(names, want.map(|n| Some(n.to_owned())));
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_journal_line_is_applied_once() -> Result<()> {
    let sim = simulated(300, 21, 63)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    // Two attempts on Monday morning, São Paulo time (UTC-3); the daily cap is 3.
    let contact = "+5511955554444";
    for (id, hour) in [("d-1", 10), ("d-2", 11)] {
        let at = MONDAY + (hour + 3) * 3_600;
        c.record_outcome(outcome(id, "lead-dup", contact, "voice", at, "no_answer"))
            .await?;
    }
    assert_eq!(server.terminate()?, Some(0));
    // The first line again, as a journal copied together by hand would have it.
    let path = state.join("outcomes.jsonl");
    let text = std::fs::read_to_string(&path)?;
    let first = text.lines().next().context("a journal line")?;
    std::fs::write(&path, format!("{text}{first}\n"))?;

    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let info = c
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(info.live_outcomes, 2);
    // Noon, the same day: a third attempt is still allowed.
    let r = c
        .rank(v1::RankRequest {
            person_id: "lead-dup".into(),
            contacts: vec![point(contact, &["voice"], "America/Sao_Paulo")],
            as_of: Some(ts(MONDAY + 15 * 3_600)),
            horizon_hours: 6,
            ..Default::default()
        })
        .await?
        .into_inner();
    if r.suggestions.is_empty() {
        bail!("no suggestion: {:?}", r.blocked);
    }
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

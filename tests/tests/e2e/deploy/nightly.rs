//! `deploy/nightly-train.sh` run for real with bash: the first night promotes, the next ones keep
//! CURRENT (and prune old versions when asked), a missing, incomplete or bad export, a bad
//! configuration and a held lock each fail with their documented exit code and message, and
//! neither a bad row's phone number nor the admin token is ever printed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, anyhow, ensure};

use super::*;

/// Writes an executable bash script.
fn executable(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A stand-in for grpcurl: records its arguments and the authorization it was handed through
/// its environment, and answers ReloadModel as the server would, serving CURRENT.
fn fake_grpcurl(dir: &Path, models: &Path) -> Result<PathBuf> {
    let path = dir.join("grpcurl");
    let script = format!(
        r#"#!/usr/bin/env bash
printf '%s\n' "$@" >>{args}
printf '%s\n' "${{CONTACTSCORE_NIGHTLY_AUTH-}}" >>{auth}
printf '{{\n  "version": "%s",\n  "family": "logistic"\n}}\n' "$(tr -d '[:space:]' <{current})"
"#,
        args = shell_quote(&dir.join("grpcurl.args"))?,
        auth = shell_quote(&dir.join("grpcurl.auth"))?,
        current = shell_quote(&models.join("CURRENT"))?,
    );
    executable(&path, &script)?;
    Ok(path)
}

fn shell_quote(p: &Path) -> Result<String> {
    let s = path_str(p)?;
    ensure!(!s.contains('\''), "quote in {s}");
    Ok(format!("'{s}'"))
}

#[test]
fn first_night_promotes_the_next_keep_and_prune() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 300, 21, 91)?;
    let models = &setup.models;

    // The exporter has not written its marker yet: incomplete, nothing trained.
    let run = setup.run(&[])?;
    run.expect(3)?;
    assert!(
        run.summary().contains("failed (exit 3, export)") && run.summary().contains("_SUCCESS"),
        "{}",
        run.summary()
    );
    assert_eq!(current(models)?, None);

    // Night 1: nothing is CURRENT, so the new version is promoted, and the server is asked to
    // reload, with the admin token passed to grpcurl through its environment only.
    fs::write(export.join("_SUCCESS"), "")?;
    let token_file = setup.dir.path().join("admin.token");
    fs::write(&token_file, format!("{ADMIN_TOKEN}\n"))?;
    let grpcurl = fake_grpcurl(setup.dir.path(), models)?;
    let reload = [
        ("CONTACTSCORE_SERVER_ADDR", "127.0.0.1:1"),
        ("CONTACTSCORE_GRPCURL", grpcurl.to_str().unwrap_or_default()),
        (
            "CONTACTSCORE_ADMIN_TOKEN_FILE",
            token_file.to_str().unwrap_or_default(),
        ),
    ];
    let run = setup.run(&reload)?;
    run.expect(0)?;
    let v1 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    let summary = run.summary();
    assert!(
        summary.starts_with(&format!(
            "nightly-train: promoted {v1} (previous: none); nothing was CURRENT; reload: ok, the \
             server serves {v1}"
        )),
        "{summary}"
    );
    let args = fs::read_to_string(setup.dir.path().join("grpcurl.args"))?;
    let args: Vec<&str> = args.lines().collect();
    for expected in [
        "-plaintext",
        "-expand-headers",
        "authorization: Bearer ${CONTACTSCORE_NIGHTLY_AUTH}",
        "127.0.0.1:1",
        "contactscore.v1.ContactScoring/ReloadModel",
    ] {
        assert!(args.contains(&expected), "{expected:?} not in {args:?}");
    }
    assert!(!args.iter().any(|a| a.contains(ADMIN_TOKEN)), "{args:?}");
    let auth = fs::read_to_string(setup.dir.path().join("grpcurl.auth"))?;
    assert_eq!(auth.trim(), ADMIN_TOKEN);

    // Night 2 on the same export: no attempt after the champion's cutoff, so nothing to compare
    // and the gate keeps CURRENT; the new version is published all the same. No reload request.
    let run = setup.run(&reload)?;
    run.expect(0)?;
    let v2 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_ne!(v2, v1);
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    assert_eq!(versions(models)?, sorted([&v1, &v2]));
    let summary = run.summary();
    assert!(
        summary.starts_with(&format!(
            "nightly-train: kept {v1}; published {v2}, not promoted: champion {v1}: not compared"
        )),
        "{summary}"
    );
    let requests = fs::read_to_string(setup.dir.path().join("grpcurl.auth"))?;
    assert_eq!(
        requests.lines().count(),
        1,
        "a reload was requested for a kept version"
    );

    // Night 3, keeping one version: the newest (v3) and CURRENT (v1) stay, v2 goes.
    let run = setup.run(&[("CONTACTSCORE_KEEP_VERSIONS", "1")])?;
    run.expect(0)?;
    let v3 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_eq!(versions(models)?, sorted([&v1, &v3]));
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    assert!(
        run.summary()
            .contains("deleted 1 old version(s), keeping the newest 1 and CURRENT"),
        "{}",
        run.summary()
    );

    // Another run holds the lock: nothing is done.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(models.join(".nightly-train.lock"))?;
    lock.lock()?;
    let run = setup.run(&[])?;
    run.expect(6)?;
    assert!(
        run.summary().contains("another run holds"),
        "{}",
        run.summary()
    );
    lock.unlock()?;
    assert_eq!(versions(models)?, sorted([&v1, &v3]));

    // The export of a day that never came: exit 3 naming the directory; CURRENT stays.
    let run = setup.run(&[("CONTACTSCORE_EXPORT_DATE", "2026-02-02")])?;
    run.expect(3)?;
    let missing = setup.export("2026-02-02");
    assert_eq!(
        run.summary(),
        format!(
            "nightly-train: failed (exit 3, export): the export directory {} does not exist \
             (CONTACTSCORE_EXPORT_DIR)",
            missing.display()
        )
    );
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    Ok(())
}

#[test]
fn bad_exports_and_configuration_fail_with_their_codes() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 200, 14, 92)?;
    fs::write(export.join("_SUCCESS"), "")?;

    // --help prints the exit codes.
    let help = Command::new("bash")
        .arg(repo()?.join("deploy/nightly-train.sh"))
        .arg("--help")
        .output()?;
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("Exit codes") && text.contains("6  another run holds"),
        "{text}"
    );

    // Configuration: exit 2 before anything is read.
    let missing_trainer = setup.dir.path().join("no-such-trainer");
    for (env, message) in [
        (
            (
                "CONTACTSCORE_TRAINER",
                missing_trainer.to_str().unwrap_or_default(),
            ),
            "is not an executable file (CONTACTSCORE_TRAINER)",
        ),
        (
            ("CONTACTSCORE_MAX_BAD_ROWS", "lots"),
            "CONTACTSCORE_MAX_BAD_ROWS must be a whole number",
        ),
        (
            ("CONTACTSCORE_TRAIN_ARGS", "--threads 1 --no-promote"),
            "--no-promote is set by this script",
        ),
        (
            ("CONTACTSCORE_REQUIRED_INPUTS", "contacts phonebook"),
            "\"phonebook\" is not one of",
        ),
        (
            ("CONTACTSCORE_ADMIN_TOKEN_FILE", "/nonexistent/admin.token"),
            "cannot be read (CONTACTSCORE_ADMIN_TOKEN_FILE)",
        ),
    ] {
        let run = setup.run(&[env])?;
        run.expect(2)?;
        assert!(
            run.summary()
                .starts_with("nightly-train: failed (exit 2, config): ")
                && run.summary().contains(message),
            "{env:?}: {}",
            run.summary()
        );
    }

    // Every input required and present: trained and promoted (CURRENT for what follows). Then
    // one required input missing from the export: exit 3.
    let run = setup.run(&[(
        "CONTACTSCORE_REQUIRED_INPUTS",
        "contacts persons validations",
    )])?;
    run.expect(0)?;
    fs::remove_file(export.join("validations.csv"))?;
    let run = setup.run(&[(
        "CONTACTSCORE_REQUIRED_INPUTS",
        "contacts persons validations",
    )])?;
    run.expect(3)?;
    assert!(
        run.summary().contains("has no validations file"),
        "{}",
        run.summary()
    );
    let v1 = current(&setup.models)?.ok_or_else(|| anyhow!("nothing promoted"))?;

    // A bad row whose value is personal data, in fail-fast mode: the trainer fails (exit 4), the
    // message names the file, line and column, and the value is never printed.
    let bad = setup.export("2026-02-03");
    fs::create_dir_all(&bad)?;
    for f in ["contacts.csv", "persons.csv", "_SUCCESS"] {
        fs::copy(export.join(f), bad.join(f))?;
    }
    let attempts = fs::read_to_string(export.join("attempts.csv"))?;
    let mut head: Vec<&str> = attempts.lines().take(40).collect();
    head.push(
        "A99999999,P0000001,+55 (31) 9966x-8500 ana.secret@example.com,voice,\
         2026-01-06T10:00:00Z,right_party,27,collections_a",
    );
    fs::write(bad.join("attempts.csv"), head.join("\n") + "\n")?;
    let run = setup.run(&[
        ("CONTACTSCORE_EXPORT_DATE", "2026-02-03"),
        ("CONTACTSCORE_MAX_BAD_ROWS", "0"),
    ])?;
    run.expect(4)?;
    let summary = run.summary();
    assert!(
        summary.starts_with(
            "nightly-train: failed (exit 4, training): the trainer exited 3 (bad input data): "
        ) && summary.contains("attempts.csv:41: column \"contact\"")
            && summary.contains("(value <redacted>")
            && summary.ends_with(&format!("; CURRENT is still {v1}")),
        "{summary}"
    );
    assert_eq!(current(&setup.models)?.as_deref(), Some(v1.as_str()));

    // An empty attempts file: exit 3, not a trainer error.
    fs::write(bad.join("attempts.csv"), "")?;
    let run = setup.run(&[("CONTACTSCORE_EXPORT_DATE", "2026-02-03")])?;
    run.expect(3)?;
    assert!(
        run.summary().ends_with("attempts.csv is empty"),
        "{}",
        run.summary()
    );
    Ok(())
}

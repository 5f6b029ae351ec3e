//! The `contactscore-server` binary's command line: bad configuration stops it at start-up with
//! the offending key named and exit code 1, before anything listens. (Its presence also makes
//! `cargo nextest run --workspace` build the binary that the end-to-end tests in `tests/` start.)

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_contactscore-server"))
}

#[test]
fn bad_configuration_names_the_key_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("server.toml");
    std::fs::write(&cfg, "lissen = \"127.0.0.1:0\"\n").expect("write");
    let out = server().arg("--config").arg(&cfg).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lissen"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing may listen: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = server()
        .args(["--listen", "nowhere", "--models-dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

#[test]
fn help_lists_the_flags() {
    let out = server().arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--models-dir",
        "--listen",
        "--state-dir",
        "--config",
        "--metrics-listen",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

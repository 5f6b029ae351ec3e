//! The distributed split (`split --shard I --of P --now T`, then `split-merge`) writes the
//! single-process split's plan byte for byte, and refuses what it cannot merge: a missing
//! partial (named), a partial of another shard count, configuration, inputs or present (an
//! attempt id reused across shards: `sharded::an_attempt_id_reused_for_persons_of_two_shards_
//! is_refused`).

use std::path::Path;

use contactscore_trainer::simulate::{SimulateParams, simulate};

pub const NOW: &str = "1900000000";

/// The `--attempts ...` flags of the simulated export in `dir`.
fn files(dir: &Path) -> Vec<String> {
    ["attempts", "contacts", "persons", "validations"]
        .iter()
        .flat_map(|f| {
            [
                format!("--{f}"),
                dir.join(format!("{f}.csv")).to_string_lossy().into_owned(),
            ]
        })
        .collect()
}

/// Run the trainer quietly with `args` then `extra`; returns (exit code, stderr).
fn trainer(args: &[&str], extra: &[String]) -> (i32, String) {
    let mut all: Vec<&str> = vec!["-q", "--threads", "1"];
    all.extend(args);
    all.extend(extra.iter().map(String::as_str));
    let (code, _, err) = crate::run(&all);
    (code, err)
}

/// Make shard `i` of `of`'s partial under `root` with `now` and the flags `extra`.
pub fn partial(root: &Path, i: u32, of: u32, now: &str, extra: &[String]) -> (i32, String) {
    let (i, of) = (i.to_string(), of.to_string());
    let root = root.to_string_lossy();
    trainer(
        &[
            "split", "--shard", &i, "--of", &of, "--now", now, "--out", &root,
        ],
        extra,
    )
}

/// `split-merge` of `of` partials under `root` into `out`, with the flags `extra`.
pub fn merge(root: &Path, of: u32, out: &Path, extra: &[String]) -> (i32, String) {
    let of = of.to_string();
    let (root, out) = (root.to_string_lossy(), out.to_string_lossy());
    trainer(
        &[
            "split-merge",
            "--partials",
            &root,
            "--of",
            &of,
            "--out",
            &out,
        ],
        extra,
    )
}

#[test]
fn the_distributed_split_writes_the_single_process_plan_and_refuses_what_it_cannot_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let params = SimulateParams {
        persons: 300,
        days: 30,
        seed: 5,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, d).expect("simulate");
    let mut inputs = files(d);
    let bad = vec!["--max-bad-rows".to_owned(), sim.bad_rows().to_string()];
    inputs.extend(bad.clone());
    let whole = d.join("whole.json");
    let (code, err) = trainer(
        &["split", "--now", NOW, "--out", &whole.to_string_lossy()],
        &inputs,
    );
    assert_eq!(code, 0, "split: {err}");
    let want = std::fs::read(&whole).expect("plan");
    // The single-process split in several passes is the same plan, and leaves no scratch.
    let sharded = d.join("sharded.json");
    let (code, err) = trainer(
        &[
            "split",
            "--shards",
            "3",
            "--now",
            NOW,
            "--out",
            &sharded.to_string_lossy(),
        ],
        &inputs,
    );
    assert_eq!(code, 0, "split --shards 3: {err}");
    assert!(std::fs::read(&sharded).expect("plan") == want, "--shards 3");
    let scratch = std::fs::read_dir(d)
        .expect("dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(".split-"));
    assert!(!scratch, "the split's scratch directory was left behind");

    for of in [1, 3, 4] {
        let root = d.join(format!("parts{of}"));
        for i in 0..of {
            let (code, err) = partial(&root, i, of, NOW, &inputs);
            assert_eq!(code, 0, "partial {i} of {of}: {err}");
        }
        let out = d.join(format!("merged{of}.json"));
        let (code, err) = merge(&root, of, &out, &bad);
        assert_eq!(code, 0, "split-merge --of {of}: {err}");
        assert!(
            std::fs::read(&out).expect("plan") == want,
            "the merged plan of {of} partials differs from the single-process one"
        );
    }

    // A partial made twice into the same place is refused.
    let (code, err) = partial(&d.join("parts3"), 1, 3, NOW, &inputs);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already holds a finished split partial"),
        "{err}"
    );

    // Missing partials are named, with the missing-shard exit code of `fit`; so is an unfinished
    // one (no done.json).
    let root = d.join("parts4");
    let gone = root.join("split-00002-of-00004");
    std::fs::rename(&gone, d.join("aside")).expect("move");
    std::fs::remove_file(root.join("split-00000-of-00004/done.json")).expect("unfinish");
    let (code, err) = merge(&root, 4, &d.join("x.json"), &bad);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("2 of 4 split partials are missing or unfinished")
            && err.contains("split-00000-of-00004, ")
            && err.contains("split-00002-of-00004"),
        "{err}"
    );
    assert!(!err.contains("split-00001-of-00004"), "{err}");
    // A partial of another shard count in its place is refused.
    let (code, err) = partial(&root, 0, 4, NOW, &inputs);
    assert_eq!(code, 0, "a partial redone where one did not finish: {err}");
    std::fs::rename(d.join("parts3/split-00002-of-00003"), &gone).expect("move");
    let (code, err) = merge(&root, 4, &d.join("x.json"), &bad);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the partial of shard 2 of 3, not 2 of 4"),
        "{err}"
    );

    // Another present, configuration or inputs than the other partials is refused.
    let other = |name: &str, now: &str, extra: &[String], want: &str| {
        let root = d.join(name);
        let (code, err) = partial(&root, 0, 2, NOW, &inputs);
        assert_eq!(code, 0, "{err}");
        let (code, err) = partial(&root, 1, 2, now, extra);
        assert_eq!(code, 0, "{err}");
        let (code, err) = merge(&root, 2, &d.join("x.json"), &bad);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains("split-00001-of-00002") && err.contains(want),
            "{err}"
        );
    };
    other("now", "1900000001", &inputs, "with --now 1900000001");
    let config = d.join("other.toml");
    std::fs::write(&config, "validation_fraction = 0.3\n").expect("config");
    let mut configured = inputs.clone();
    configured.extend(["--config".to_owned(), config.to_string_lossy().into_owned()]);
    other("config", NOW, &configured, "another configuration");
    let without_contacts: Vec<String> = inputs
        .chunks(2)
        .filter(|flag| flag[0] != "--contacts")
        .flatten()
        .cloned()
        .collect();
    other("inputs", NOW, &without_contacts, "other input files");
}

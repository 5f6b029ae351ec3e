//! Tests: scouts (`--threads` above 1) change nothing ingest produces — tables, reports, bad-row
//! errors — on messy input with many spellings of each number, some of them invalid.

use super::perf_harness::{digest, messy_copy};
use super::tests::opts;
use super::*;
use crate::simulate::{SimulateParams, simulate};

fn with_threads(o: &IngestOptions, threads: usize) -> IngestOptions {
    IngestOptions {
        threads: Threads::new(threads),
        ..o.clone()
    }
}

#[test]
fn scouts_change_no_table_no_report_and_no_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 300,
        days: 20,
        seed: 3,
        ..SimulateParams::default()
    };
    simulate(&params, dir.path()).expect("simulate");
    let paths = InputPaths {
        attempts: vec![messy_copy(dir.path(), dir.path())],
        contacts: Some(dir.path().join("contacts.csv")),
        persons: Some(dir.path().join("persons.csv")),
        validations: Some(dir.path().join("validations.csv")),
    };
    let skipping = opts(u64::MAX);
    let one = ingest(&paths, &skipping).expect("ingest");
    assert!(
        one.report.skipped_total() > 0,
        "the messy copy should have bad spellings"
    );
    let expected = digest(&one);
    for threads in [2, 4] {
        let got = ingest(&paths, &with_threads(&skipping, threads)).expect("ingest");
        assert_eq!(digest(&got), expected, "{threads} threads");
    }
    // Failing fast names the same first bad row whatever the thread count.
    let strict = opts(0);
    let first = ingest(&paths, &strict).expect_err("bad rows").to_string();
    for threads in [2, 4] {
        let got = ingest(&paths, &with_threads(&strict, threads)).expect_err("bad rows");
        assert_eq!(got.to_string(), first, "{threads} threads");
    }
}

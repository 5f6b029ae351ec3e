//! Unit tests of the journal: appends, atomic replace, retirement, failed appends, torn lines,
//! repeated lines.

use std::fs;

use super::*;

fn record(i: u32) -> LiveOutcome {
    LiveOutcome {
        attempt_id: format!("a{i}"),
        person_id: format!("p{}", i % 3),
        contact: "+5511987654321".into(),
        channel: Channel::Voice,
        at: 1_767_625_200 + i64::from(i),
        outcome: Outcome::NoAnswer,
        duration_seconds: None,
        campaign: String::new(),
        recorded_on: "v1".into(),
        recorded_at: 0,
    }
}

#[tokio::test]
async fn appends_survive_reopening_and_replace_is_atomic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (j, old) = Journal::open(dir.path()).expect("open");
    assert!(old.is_empty());
    let batch: Vec<_> = (0..5).map(record).collect();
    // Concurrent appends are grouped but every one is answered.
    let (a, b) = tokio::join!(j.append(&batch[..2]), j.append(&batch[2..]));
    a.expect("append");
    b.expect("append");
    drop(j);
    let (j, back) = Journal::open(dir.path()).expect("reopen");
    let mut ids: Vec<_> = back.iter().map(|r| r.attempt_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["a0", "a1", "a2", "a3", "a4"]);
    j.replace(&batch[..1]).await.expect("replace");
    j.append(&[record(9)]).await.expect("append after replace");
    drop(j);
    let (_, back) = Journal::open(dir.path()).expect("reopen");
    assert_eq!(back, vec![record(0), record(9)]);
}

#[tokio::test]
async fn retiring_moves_old_outcomes_to_digests_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = record(0).at;
    let (j, _) = Journal::open(dir.path()).expect("open");
    let mut recs: Vec<_> = (0..6).map(record).collect();
    recs[1].recorded_on = "v2".into();
    // A backfill recorded long after the attempt: its id is remembered from then.
    recs[3].recorded_at = base + 100;
    j.append(&recs).await.expect("append");
    let rule = RetireRule {
        before: base + 4,
        keep_version: "v2".into(),
        evidence_lapsed_before: i64::MIN,
        latest_evidence: Arc::default(),
        ids_before: base + 3,
        compact_ids: false,
    };
    // a0, a2, a3 retire (a1 was recorded on the version kept); only a3's id is recent enough.
    let c = j.retire(rule.clone()).await.expect("retire");
    let want = RetireCounts {
        outcomes: 3,
        ids_added: 1,
        ids_forgotten: 0,
    };
    assert_eq!(c, want);
    j.append(&[record(9)]).await.expect("append after retiring");
    drop(j);
    let (j, back) = Journal::open(dir.path()).expect("reopen");
    let kept: Vec<_> = recs
        .iter()
        .filter(|r| !rule.retires(r))
        .cloned()
        .chain([record(9)])
        .collect();
    assert_eq!(back, kept);
    let ids = retired_ids::read(dir.path()).expect("ids");
    let want: retired_ids::RetiredIds = [(retired_ids::digest("a3"), base + 100)]
        .into_iter()
        .collect();
    assert_eq!(ids, want);

    // Nothing more to retire; compacting with a later rule forgets the id.
    let later = RetireRule {
        ids_before: base + 101,
        compact_ids: true,
        ..rule
    };
    let c = j.retire(later).await.expect("retire again");
    let want = RetireCounts {
        outcomes: 0,
        ids_added: 0,
        ids_forgotten: 1,
    };
    assert_eq!(c, want);
    assert!(retired_ids::read(dir.path()).expect("ids").is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_append_is_not_acknowledged_and_an_undoable_one_stops_the_writer() {
    // /dev/full fails every write (ENOSPC) and cannot be cut back either: the batch fails, and
    // so does every later one, instead of being acknowledged.
    let mut log = AppendLog::open(Path::new("/dev/full")).expect("open /dev/full");
    for round in 0..2 {
        let (done, mut answer) = oneshot::channel();
        let mut appends = vec![(encode(&[record(round)]).expect("encode"), done)];
        commit(&mut log, &mut appends);
        assert!(
            answer.try_recv().expect("answered").is_err(),
            "round {round}"
        );
    }
    assert!(log.usable().is_err());
}

#[test]
fn a_torn_last_line_is_dropped_and_a_corrupt_line_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE);
    let good = String::from_utf8(encode(&[record(1)]).expect("encode")).expect("utf8");
    fs::write(&path, format!("{good}{{\"attempt_id\":\"a2\",\"pers")).expect("write");
    let (_, back) = Journal::open(dir.path()).expect("open");
    assert_eq!(back, vec![record(1)]);
    assert_eq!(fs::read_to_string(&path).expect("read"), good);

    fs::write(&path, format!("not json\n{good}")).expect("write");
    let err = Journal::open(dir.path()).expect_err("corrupt");
    assert!(err.to_string().contains(":1:"), "{err}");
}

#[test]
fn a_repeated_line_is_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE);
    let one = String::from_utf8(encode(&[record(1)]).expect("encode")).expect("utf8");
    let two = String::from_utf8(encode(&[record(2)]).expect("encode")).expect("utf8");
    // A journal copied together by hand, or written by two servers: a1 twice.
    fs::write(&path, format!("{one}{two}{one}")).expect("write");
    let (_, back) = Journal::open(dir.path()).expect("open");
    assert_eq!(back, vec![record(1), record(2)]);
}

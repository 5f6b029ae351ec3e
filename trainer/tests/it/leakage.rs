//! Point-in-time correctness: an attempt's features must not change when later attempts and
//! later carrier validations are removed from the input, and the person-by-person replay
//! computes exactly what a plain replay of all attempts and validations in time order computes.

use std::collections::HashMap;
use std::path::Path;

use contactscore_models::ContactNormalizer;
use contactscore_models::features::Candidate;
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_models::localtime::DAY;
use contactscore_trainer::ingest::{AttemptRow, Ingested};
use contactscore_trainer::ingest::{DispositionMap, IngestOptions, InputPaths, ingest};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::replay::{Selection, replay, seed_state, unit_hash};
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::threads::Threads;

/// Ingest simulator output, allowing the bad rows the simulator says it wrote.
fn load(inputs: &InputPaths, max_bad_rows: u64) -> Ingested {
    let opts = IngestOptions {
        normalizer: ContactNormalizer::new("BR").expect("region"),
        max_bad_rows,
        dispositions: DispositionMap::default(),
        progress: false,
        now: IngestOptions::now(),
        threads: Threads::ONE,
        shard: None,
        attr_specs: None,
    };
    ingest(inputs, &opts).expect("ingest")
}

fn features_by_id(inputs: &InputPaths, max_bad_rows: u64) -> HashMap<String, Vec<u32>> {
    let data = load(inputs, max_bad_rows);
    let schema = FeatureSchema::new(data.person_attrs.clone());
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slots = seed_state(&mut state, &data).expect("seed");
    let mut out = HashMap::new();
    replay(
        &mut state,
        &data,
        &slots,
        &schema,
        &Selection::all(&data),
        Threads::ONE,
        // Compare bit patterns so NaN == NaN.
        |_, row, f| {
            out.insert(
                data.attempt_id(row).to_owned(),
                f.iter().map(|v| v.to_bits()).collect(),
            );
        },
        &Progress::silent(),
    )
    .expect("replay");
    out
}

/// Copy the rows of `src` whose RFC 3339 `column` is before `cutoff` to `dst`; returns how many.
fn keep_before(src: &Path, dst: &Path, column: &str, cutoff: i64) -> usize {
    let mut r = csv::Reader::from_path(src).expect("read");
    let mut w = csv::Writer::from_path(dst).expect("write");
    let headers = r.headers().expect("headers").clone();
    let col = headers.iter().position(|h| h == column).expect(column);
    w.write_record(&headers).expect("write");
    let mut kept = 0;
    for rec in r.records() {
        let rec = rec.expect("record");
        let t: jiff::Timestamp = rec[col].parse().expect("timestamp");
        if t.as_second() < cutoff {
            w.write_record(&rec).expect("write");
            kept += 1;
        }
    }
    w.flush().expect("flush");
    kept
}

#[test]
fn features_do_not_see_later_attempts_or_validations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 400,
        days: 30,
        seed: 11,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path()).expect("simulate");
    let cutoff = params.start.as_second() + 20 * DAY;

    // Keep only the attempts and validations before the cutoff.
    let p = |f: &str| dir.path().join(f);
    let kept = keep_before(&p("attempts.csv"), &p("early.csv"), "attempted_at", cutoff);
    let kept_validations = keep_before(
        &p("validations.csv"),
        &p("early_validations.csv"),
        "validated_at",
        cutoff,
    );
    assert!(
        kept_validations > 10 && (kept_validations as u64) < sim.validations,
        "validations on both sides of the cutoff: {kept_validations} of {}",
        sim.validations
    );

    let side = |attempts: &str, validations: &str| InputPaths {
        attempts: vec![p(attempts)],
        contacts: Some(p("contacts.csv")),
        persons: Some(p("persons.csv")),
        validations: Some(p(validations)),
    };
    let all = features_by_id(&side("attempts.csv", "validations.csv"), sim.bad_rows());
    let truncated = features_by_id(&side("early.csv", "early_validations.csv"), sim.bad_rows());
    assert!(kept > 1000 && truncated.len() > 1000, "kept {kept}");
    assert!(all.len() > truncated.len(), "later attempts exist");
    let mut differing = Vec::new();
    for (id, f) in &truncated {
        if all.get(id) != Some(f) {
            differing.push(id.clone());
        }
    }
    assert!(
        differing.is_empty(),
        "{} attempts changed, e.g. {:?}",
        differing.len(),
        &differing[..differing.len().min(5)]
    );
    // The validations are not ignored: without them, some features differ.
    let blind = features_by_id(
        &InputPaths {
            validations: None,
            ..side("attempts.csv", "validations.csv")
        },
        sim.bad_rows(),
    );
    assert!(
        all.iter().any(|(id, f)| blind.get(id) != Some(f)),
        "no feature depends on the validations file"
    );
}

/// Bit patterns of a feature row (so NaN == NaN).
fn bits(f: &[f32]) -> Vec<u32> {
    f.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn person_by_person_replay_equals_time_order_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 300,
        days: 40,
        seed: 5,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path()).expect("simulate");
    let data = load(
        &InputPaths {
            attempts: vec![dir.path().join("attempts.csv")],
            contacts: Some(dir.path().join("contacts.csv")),
            persons: Some(dir.path().join("persons.csv")),
            validations: Some(dir.path().join("validations.csv")),
        },
        sim.bad_rows(),
    );
    assert!(!data.validations.is_empty());
    let schema = FeatureSchema::new(data.person_attrs.clone());
    // A sparse selection, so ordinals differ from attempt indices.
    let picked = |row: &AttemptRow| unit_hash(data.attempt_id(row), 3) < 0.3;

    // Reference: every attempt in global time order, features read before applying; each
    // validation applied before the attempts at or after its instant.
    let mut expected_state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slots = seed_state(&mut expected_state, &data).expect("seed");
    let mut expected = Vec::new();
    let mut buf = Vec::new();
    let mut validations = data.validations.iter().peekable();
    let mut validate = |state: &mut FeatureState, until: Option<i64>| {
        while let Some(v) = validations.next_if(|v| until.is_none_or(|t| v.t <= t)) {
            let contact = &data.contacts[v.contact as usize];
            state
                .apply_validation(slots[v.person as usize], contact, v.validation())
                .expect("validate");
        }
    };
    for row in &data.attempts {
        validate(&mut expected_state, Some(row.t));
        let slot = slots[row.person as usize];
        let contact = &data.contacts[row.contact as usize];
        if picked(row) {
            buf.clear();
            let cand = Candidate {
                contact: &contact.key,
                kind: contact.kind,
                number: contact.number,
                zone: None,
                channel: row.channel,
                t: row.t,
            };
            expected_state.features(&schema, Some(slot), &cand, &mut buf);
            expected.push((data.attempt_id(row).to_owned(), bits(&buf)));
        }
        expected_state
            .apply(slot, contact, row.channel, row.t, row.outcome)
            .expect("apply");
    }
    validate(&mut expected_state, None);

    // One thread, and several: the parallel replay must compute exactly the same.
    for threads in [1, 3] {
        let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
        let slots = seed_state(&mut state, &data).expect("seed");
        let selection = Selection::new(&data, |_, row| picked(row));
        assert_eq!(selection.len(), expected.len());
        assert!(expected.len() > 1000, "{} selected", expected.len());
        let mut got = vec![None; selection.len()];
        let mut in_time_order = true;
        let mut last = None;
        replay(
            &mut state,
            &data,
            &slots,
            &schema,
            &selection,
            Threads::new(threads),
            |k, row, f| {
                in_time_order &= last.is_none_or(|l| k > l);
                last = Some(k);
                got[k] = Some((data.attempt_id(row).to_owned(), bits(f)));
            },
            &Progress::silent(),
        )
        .expect("replay");
        assert!(
            !in_time_order,
            "the replay is expected to visit person by person"
        );
        let got: Vec<_> = got.into_iter().map(|g| g.expect("visited")).collect();
        assert!(
            got == expected,
            "features differ from the time-order replay ({threads} threads)"
        );
        // The end state is the same too, zone ids included.
        assert_eq!(state.persons, expected_state.persons);
        assert_eq!(state.person_ids, expected_state.person_ids);
        assert_eq!(state.cutoff, expected_state.cutoff);
        assert_eq!(
            serde_json::to_string(&state.zones).expect("zones"),
            serde_json::to_string(&expected_state.zones).expect("zones")
        );
    }
}

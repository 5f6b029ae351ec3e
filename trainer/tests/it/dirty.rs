//! Dirty data end to end on the simulator: numbers outside libphonenumber's ranges, carrier
//! lookups and malformed rows. Training with the simulator's bad-row budget succeeds, and the
//! model learns from their outcomes that numbers outside the ranges are worth less than valid
//! ones with the same history.

use contactscore_models::artifact::Registry;
use contactscore_models::features::Candidate;
use contactscore_models::localtime::DAY;
use contactscore_models::{Channel, ContactNormalizer, Outcome};
use contactscore_trainer::config::Config;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::train::{TrainRequest, train};

#[test]
fn numbers_outside_the_ranges_get_lower_probabilities_than_valid_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 3_000,
        days: 45,
        seed: 8,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path()).expect("simulate");
    assert!(
        sim.unlisted_contacts > 100 && sim.malformed_rows > 0,
        "{sim:?}"
    );
    let settings = Config::default().validate().expect("defaults");
    let req = TrainRequest::on_simulated(
        dir.path(),
        "attempts.csv",
        "validations.csv",
        dir.path().join("models"),
        sim.bad_rows(),
    );
    let trained = train(&req, &settings, &Progress::silent()).expect("train");
    assert_eq!(
        trained.manifest.rows.skipped.values().sum::<u64>(),
        sim.bad_rows()
    );
    let loaded = Registry::open(dir.path().join("models"))
        .and_then(|r| r.load(None))
        .expect("load");
    let (model, mut state) = (loaded.model, loaded.state);

    // Per person: a new valid mobile and a new number in an unused area code, both
    // Brazilian-shaped mobiles, scored at the same instants on the same channels: first with no
    // history, then after the same two unanswered calls on each.
    let n = ContactNormalizer::new("BR").expect("BR");
    let end = params.start.as_second() + i64::from(params.days) * DAY;
    let (mut lower, mut total) = (0u32, 0u32);
    let (mut sum_valid, mut sum_unlisted) = (0.0, 0.0);
    for i in 0..200u32 {
        let person = format!("P{i:07}");
        let slot = state.slot(&person).expect("simulated person");
        let valid = n
            .normalize(&format!("+55 11 9{:04}-{:04}", 6_100 + i, i))
            .expect("valid");
        let unlisted = n
            .normalize(&format!("+55 23 9{:04}-{:04}", 6_100 + i, i))
            .expect("parses");
        assert_eq!(
            (
                valid.number.map(|x| x.valid),
                unlisted.number.map(|x| x.valid)
            ),
            (Some(true), Some(false))
        );
        for history in [false, true] {
            if history {
                for c in [&valid, &unlisted] {
                    for k in 0..2 {
                        let t = end + DAY + k * 3_600;
                        state
                            .apply(slot, c, Channel::Voice, t, Outcome::NoAnswer)
                            .expect("apply");
                    }
                }
            }
            for (channel, hour) in [
                (Channel::Voice, 14),
                (Channel::Sms, 19),
                (Channel::Whatsapp, 20),
            ] {
                let t = end + 3 * DAY + hour * 3_600;
                let p = |c: &contactscore_models::Contact| {
                    let cand = Candidate {
                        contact: &c.key,
                        kind: c.kind,
                        number: c.number,
                        zone: None,
                        channel,
                        t,
                    };
                    let mut row = Vec::new();
                    state.features(&model.schema, Some(slot), &cand, &mut row);
                    model.predict(&row)
                };
                let (pv, pu) = (p(&valid), p(&unlisted));
                sum_valid += pv;
                sum_unlisted += pu;
                lower += u32::from(pu < pv);
                total += 1;
            }
        }
    }
    let (mean_valid, mean_unlisted) = (
        sum_valid / f64::from(total),
        sum_unlisted / f64::from(total),
    );
    eprintln!(
        "unlisted lower in {lower} of {total}; mean p valid {mean_valid:.4}, unlisted {mean_unlisted:.4}"
    );
    assert!(
        f64::from(lower) >= 0.9 * f64::from(total),
        "lower in {lower} of {total}"
    );
    assert!(
        mean_unlisted < 0.7 * mean_valid,
        "mean p: valid {mean_valid:.4}, unlisted {mean_unlisted:.4}"
    );
}

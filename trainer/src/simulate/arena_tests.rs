//! Unit tests of the simulated call arena.

use super::*;

trait OkOrPanic<T> {
    fn ok_or_panic(self) -> T;
}

impl<T> OkOrPanic<T> for Result<T> {
    fn ok_or_panic(self) -> T {
        self.unwrap_or_else(|e| panic!("{e}"))
    }
}

fn params(persons: u32, days: u32, seed: u64) -> SimulateParams {
    SimulateParams {
        persons,
        days,
        seed,
        ..SimulateParams::default()
    }
}

fn arena(persons: u32, days: u32, seed: u64) -> Arena {
    Arena::new(&params(persons, days, seed)).unwrap_or_else(|e| panic!("arena: {e}"))
}

/// Noon in the dialer's zone on evaluation day `offset`, with its run day.
fn noon(arena: &Arena, offset: u32) -> (i64, u32) {
    let day = arena.eval_day(offset).ok_or_panic();
    (day.midnight + 12 * 3600, day.day)
}

/// A voice call to the person's first contact point (a dead end when that is an email).
fn voice(person: u32, (at, day): (i64, u32)) -> Call {
    let channel = Channel::Voice;
    Call {
        person,
        contact: 0,
        channel,
        at,
        day,
    }
}

/// The arena's situation of a logged attempt is the dialer's, bit for bit: feeding the
/// dialer's own attempts through it gives the probabilities written to `truth.csv`, and the
/// history ends in the state the arena starts from.
#[test]
fn reproduces_the_dialers_probabilities_and_end_state() {
    let p = params(400, 21, 4);
    let arena = Arena::new(&p).ok_or_panic();
    let wp = WorldParams {
        seed: p.seed,
        days: p.days,
        day0: arena.calendar.midnight(0).ok_or_panic(),
    };
    let mut dialers: Vec<PersonState> = (0..p.persons)
        .map(|i| {
            let (person, rng) = world::person(&wp, i);
            PersonState::new(&person, rng)
        })
        .collect();
    let mut moods = vec![Mood::default(); p.persons as usize];
    let (mut buffer, mut checked) = (Vec::new(), 0);
    for day in 0..p.days {
        let ctx = arena.calendar.day(day).ok_or_panic();
        for (i, dialer) in dialers.iter_mut().enumerate() {
            buffer.clear();
            dialer.run_day(&arena.persons[i], &ctx, &arena.zones, &mut buffer);
            for a in &buffer {
                let call = Call {
                    person: i as u32,
                    contact: a.contact,
                    channel: a.channel,
                    at: a.at,
                    day,
                };
                let c = arena
                    .context(&mut moods[i], &call, a.campaign)
                    .ok_or_panic();
                assert_eq!(behaviour::p_engaged(&c).to_bits(), a.p_engaged.to_bits());
                moods[i].record(a.at, a.outcome);
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "only {checked} attempts checked");
    assert!(
        moods == arena.end_of_history,
        "end-of-history state differs"
    );
}

#[test]
fn dead_reassigned_and_unsupported_lines_never_engage() {
    let arena = arena(400, 30, 9);
    let mut world = arena.fork(0);
    let (at, day) = noon(&arena, 0);
    let (mut dead, mut reassigned, mut unsupported, mut alive_positive) = (0, 0, 0, 0);
    for (i, person) in arena.persons.iter().enumerate() {
        for (k, c) in person.contacts.iter().enumerate() {
            let mut call = Call {
                person: i as u32,
                contact: k,
                channel: c.channels[0],
                at,
                day,
            };
            let p = arena.p_engaged(&world, &call).ok_or_panic();
            match c.lifecycle.state(day) {
                LineState::Dead => {
                    assert_eq!(p, 0.0);
                    let answer = arena.attempt(&mut world, &call).ok_or_panic();
                    assert_eq!(answer.outcome, Outcome::Invalid);
                    assert!(answer.dead_end && answer.p_engaged == 0.0);
                    dead += 1;
                }
                LineState::Reassigned => {
                    assert_eq!(p, 0.0);
                    reassigned += 1;
                }
                LineState::Alive => alive_positive += usize::from(p > 0.0),
            }
            if !c.channels.contains(&Channel::Email) {
                call.channel = Channel::Email;
                let p = arena.p_engaged(&world, &call).ok_or_panic();
                assert_eq!(p, 0.0, "email to a phone number");
                unsupported += 1;
            }
        }
    }
    assert!(
        dead > 10 && reassigned > 5 && unsupported > 100 && alive_positive > 100,
        "{dead} dead, {reassigned} reassigned, {unsupported} unsupported, {alive_positive} alive"
    );
}

/// A [`voice`] call to every person at noon on each of the first `days` evaluation days.
fn calls(arena: &Arena, days: u32) -> Vec<Call> {
    (0..days)
        .flat_map(|d| (0..arena.len() as u32).map(move |p| voice(p, noon(arena, d))))
        .collect()
}

fn answers(arena: &Arena, stream: u64, calls: &[Call]) -> Vec<Answer> {
    let mut world = arena.fork(stream);
    calls
        .iter()
        .map(|c| arena.attempt(&mut world, c).ok_or_panic())
        .collect()
}

#[test]
fn same_seed_and_stream_give_identical_answers() {
    let (a, b) = (arena(300, 14, 5), arena(300, 14, 5));
    let calls = calls(&a, 3);
    let first = answers(&a, 0, &calls);
    assert_eq!(first, answers(&b, 0, &calls));
    let outcomes = |x: &[Answer]| x.iter().map(|a| a.outcome).collect::<Vec<_>>();
    assert_ne!(outcomes(&first), outcomes(&answers(&a, 1, &calls)));
    assert!(first.iter().any(|a| a.outcome.is_engaged()));
}

#[test]
fn forks_are_independent_and_attempts_tire_the_person() {
    let arena = arena(200, 14, 6);
    let (mut a, b) = (arena.fork(0), arena.fork(1));
    let (at, day) = noon(&arena, 0);
    let probe = |world: &World, person: u32| {
        let call = voice(person, (at + 6 * 3600, day));
        arena.p_engaged(world, &call).ok_or_panic()
    };
    let before: Vec<f64> = (0..200).map(|i| probe(&b, i)).collect();
    let mut tired = 0;
    for person in 0..200u32 {
        let p0 = probe(&a, person);
        let answer = arena
            .attempt(&mut a, &voice(person, (at, day)))
            .ok_or_panic();
        let p1 = probe(&a, person);
        assert!(p1 <= p0, "an attempt never makes a person more responsive");
        if p0 > 0.0 && p0 < 0.9 && !answer.outcome.is_engaged() {
            assert!(p1 < p0, "fatigue: {p0} then {p1}");
            tired += 1;
        }
    }
    assert!(tired > 20, "{tired}");
    let after: Vec<f64> = (0..200).map(|i| probe(&b, i)).collect();
    assert_eq!(before, after, "attempts in one fork leaked into another");
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let arena = arena(50, 7, 1);
    let mut world = arena.fork(0);
    let call = voice(0, noon(&arena, 0));
    for bad in [
        Call { person: 50, ..call },
        Call {
            contact: 99,
            ..call
        },
    ] {
        assert!(arena.attempt(&mut world, &bad).is_err(), "{bad:?}");
    }
    assert!(arena.attempt(&mut world, &call).is_ok());
    let earlier = Call {
        at: call.at - 3600,
        ..call
    };
    assert!(arena.attempt(&mut world, &earlier).is_err(), "time order");
}

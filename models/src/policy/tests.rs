//! Unit tests of each policy rule on hand-made states (windows per zone, weekend, DST, caps,
//! cool-down, opt-out, wrong party, invalid) and of the configuration file.

use super::*;
use crate::features::state::FeatureState;
use crate::{Contact, ContactNormalizer, Outcome};

/// 2026-01-05T00:00:00Z, a Monday. São Paulo is UTC-3, New York UTC-5 in January.
const MON: i64 = 1_767_571_200;
const H: i64 = 3_600;

/// Monday + `d` days at local hour `h` in São Paulo.
fn sp(d: i64, h: i64) -> i64 {
    MON + 3 * H + d * DAY + h * H
}

fn number(raw: &str) -> Contact {
    ContactNormalizer::new("BR")
        .and_then(|n| n.normalize(raw))
        .expect("number")
}

struct Fixture {
    state: FeatureState,
    slot: u32,
    c1: Contact,
    c2: Contact,
}

impl Fixture {
    fn new(person_zone: Option<&str>) -> Self {
        let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
        let slot = state.slot_or_insert("P1");
        state
            .set_person_info(slot, person_zone, Vec::new())
            .expect("zone");
        Self {
            state,
            slot,
            c1: number("+5511987654321"),
            c2: number("+5511912345678"),
        }
    }

    fn apply(&mut self, second: bool, ch: Channel, t: i64, o: Outcome) {
        let c = if second { &self.c2 } else { &self.c1 };
        self.state.apply(self.slot, c, ch, t, o).expect("apply");
    }

    fn parts(&self, second: bool) -> (&PersonState, Option<&ContactState>, u16) {
        let p = self.state.person(self.slot);
        let key = if second { &self.c2.key } else { &self.c1.key };
        let c = p.contact_index(key).map(|i| &p.contacts[i]);
        (p, c, self.state.resolve_zone(p, c))
    }

    fn check(&self, policy: &Policy, second: bool, ch: Channel, t: i64) -> Result<(), Block> {
        let (p, c, zone) = self.parts(second);
        policy.check(&self.state.zones, zone, p, c, ch, t)
    }

    fn slots(&self, policy: &Policy, ch: Channel, from: i64, h: u32) -> Result<Vec<i64>, Block> {
        let (p, c, zone) = self.parts(false);
        policy.allowed_slots(&self.state.zones, zone, p, c, ch, from, h)
    }
}

fn block(reason: BlockReason, until: Option<i64>) -> Block {
    Block { reason, until }
}

#[test]
fn weekday_window_in_sao_paulo() {
    let f = Fixture::new(None);
    let got = f.slots(&Policy::default(), Channel::Voice, sp(0, 0), 24);
    let want: Vec<i64> = (9..21).map(|h| sp(0, h)).collect();
    assert_eq!(got, Ok(want));
}

#[test]
fn saturday_short_and_sunday_closed() {
    let f = Fixture::new(None);
    let p = Policy::default();
    let sat: Vec<i64> = (10..16).map(|h| sp(5, h)).collect();
    assert_eq!(f.slots(&p, Channel::Sms, sp(5, 0), 24), Ok(sat));
    // Sunday: nothing; ask again Monday 09:00.
    let sun = f.slots(&p, Channel::Whatsapp, sp(6, 0), 24);
    assert_eq!(sun, Err(block(BlockReason::OutsideWindow, Some(sp(7, 9)))));
    // The TCPA preset opens Sunday 08:00–21:00.
    let us = PolicyConfig::preset("us_tcpa").and_then(PolicyConfig::validate);
    let us = us.expect("preset");
    let want: Vec<i64> = (8..21).map(|h| sp(6, h)).collect();
    assert_eq!(f.slots(&us, Channel::Voice, sp(6, 0), 24), Ok(want));
}

#[test]
fn new_york_person_gets_new_york_hours() {
    let f = Fixture::new(Some("America/New_York"));
    let got = f
        .slots(&Policy::default(), Channel::Voice, MON, 30)
        .expect("slots");
    // 09:00 New York = 14:00Z (São Paulo would start at 12:00Z).
    assert_eq!(got.first(), Some(&(MON + 14 * H)));
    assert_eq!(got.len(), 12);
    assert_eq!(got.last(), Some(&(MON + 25 * H)));
}

#[test]
fn email_any_time_but_voice_not_at_3am() {
    let f = Fixture::new(None);
    let p = Policy::default();
    assert_eq!(f.slots(&p, Channel::Email, sp(0, 3), 1), Ok(vec![sp(0, 3)]));
    assert_eq!(
        f.slots(&p, Channel::Voice, sp(0, 3), 1),
        Err(block(BlockReason::OutsideWindow, Some(sp(0, 9))))
    );
    // Slot starts are rounded up to the next whole local hour.
    let one = f.slots(&p, Channel::Email, sp(0, 3) + 60, 1);
    assert_eq!(one, Ok(vec![sp(0, 4)]));
}

#[test]
fn dst_spring_forward_and_fall_back_in_new_york() {
    let f = Fixture::new(Some("America/New_York"));
    let p = Policy::default();
    let zones = &f.state.zones;
    let ny = zones.id("America/New_York").expect("zone");
    // Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let mar8 = MON + 62 * DAY;
    assert_eq!(zones.local(ny, mar8 + 6 * H).offset, -5 * 3600);
    assert_eq!(zones.local(ny, mar8 + 7 * H).offset, -4 * 3600);
    let got = f
        .slots(&p, Channel::Email, mar8 + 5 * H, 24)
        .expect("email");
    let hours: Vec<u8> = got.iter().map(|&t| zones.local(ny, t).hour).collect();
    assert_eq!(got.len(), 24);
    assert!(!hours.contains(&2), "02:00 does not exist that night");
    assert!(
        got.iter()
            .all(|&t| zones.local(ny, t).second_of_day.is_multiple_of(3600))
    );
    // Monday 03-09 voice starts at 09:00 EDT = 13:00Z.
    let mon = f.slots(&p, Channel::Voice, mar8 + DAY, 24).expect("voice");
    assert_eq!(mon.first(), Some(&(mar8 + DAY + 13 * H)));
    // Sunday 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z); 01:00 happens twice.
    let nov1 = MON + 300 * DAY;
    assert_eq!(zones.local(ny, nov1 + 5 * H).hour, 1);
    assert_eq!(zones.local(ny, nov1 + 6 * H).hour, 1);
    let got = f.slots(&p, Channel::Email, nov1 + 4 * H, 4).expect("email");
    assert_eq!(
        got,
        vec![nov1 + 4 * H, nov1 + 5 * H, nov1 + 6 * H, nov1 + 7 * H]
    );
    // Monday 11-02 voice starts at 09:00 EST = 14:00Z.
    let mon = f.slots(&p, Channel::Voice, nov1 + DAY, 24).expect("voice");
    assert_eq!(mon.first(), Some(&(nov1 + DAY + 14 * H)));
}

#[test]
fn half_hour_zone_slots_start_on_local_hours() {
    let f = Fixture::new(Some("Asia/Kolkata"));
    let got = f
        .slots(&Policy::default(), Channel::Voice, MON, 24)
        .expect("slots");
    // 09:00 IST = 03:30Z.
    assert_eq!(got.first(), Some(&(MON + 3 * H + 1_800)));
    assert_eq!(got.len(), 12);
}

#[test]
fn daily_cap_counts_the_candidate_zones_local_day() {
    let mut f = Fixture::new(None);
    // Tuesday 03:30Z, 04:00Z, 04:30Z: Tuesday 00:30+ in São Paulo, Monday 22:30+ in New York.
    for i in 0..3 {
        f.apply(
            i == 1,
            Channel::Voice,
            MON + DAY + 3 * H + 1_800 * (i + 1),
            Outcome::NoAnswer,
        );
    }
    let p = Policy::default();
    let t = MON + DAY + 15 * H;
    let until = Some(sp(2, 0));
    assert_eq!(
        f.check(&p, false, Channel::Sms, t),
        Err(block(BlockReason::DailyCap, until))
    );
    assert_eq!(f.check(&p, false, Channel::Sms, sp(2, 0)), Ok(()));
    let (person, c, _) = f.parts(false);
    let mut zones = f.state.zones.clone();
    let ny = zones.intern("America/New_York").expect("zone");
    assert_eq!(p.check(&zones, ny, person, c, Channel::Sms, t), Ok(()));
}

#[test]
fn no_slot_reports_the_block_that_lifts_latest() {
    let mut f = Fixture::new(None);
    for h in 9..12 {
        f.apply(false, Channel::Voice, sp(0, h), Outcome::NoAnswer);
    }
    let p = Policy::default();
    // 12:00 Monday to 02:00 Tuesday: capped until midnight, then closed until 09:00.
    let got = f.slots(&p, Channel::Voice, sp(0, 12), 14);
    assert_eq!(got, Err(block(BlockReason::OutsideWindow, Some(sp(1, 9)))));
    // Within Monday only, the daily cap is what blocks.
    let got = f.slots(&p, Channel::Voice, sp(0, 12), 6);
    assert_eq!(got, Err(block(BlockReason::DailyCap, Some(sp(1, 0)))));
    assert_eq!(
        f.slots(&p, Channel::Voice, sp(0, 12), 22),
        Ok(vec![sp(1, 9)])
    );
}

#[test]
fn weekly_cap_lifts_when_enough_attempts_age_out() {
    let mut f = Fixture::new(None);
    let t0 = sp(0, 10);
    for i in 0..10 {
        f.apply(i % 2 == 0, Channel::Voice, t0 + i * 12 * H, Outcome::Busy);
    }
    let p = PolicyConfig {
        max_attempts_per_local_day: 10,
        ..PolicyConfig::default()
    }
    .validate()
    .expect("valid");
    let lift = t0 + 7 * DAY;
    let t = t0 + 5 * DAY;
    let want = Err(block(BlockReason::WeeklyCap, Some(lift)));
    assert_eq!(f.check(&p, false, Channel::Voice, t), want);
    assert_eq!(f.check(&p, true, Channel::Email, lift - 1), want);
    assert_eq!(f.check(&p, true, Channel::Email, lift), Ok(()));
}

#[test]
fn cool_down_after_engagement_on_any_contact() {
    let mut f = Fixture::new(None);
    let t0 = sp(0, 12);
    f.apply(true, Channel::Whatsapp, t0, Outcome::Replied);
    let p = Policy::default();
    let b = block(BlockReason::CoolDown, Some(t0 + DAY));
    let want = Err(b);
    assert_eq!(f.check(&p, false, Channel::Voice, t0 + 23 * H), want);
    assert_eq!(f.check(&p, false, Channel::Voice, t0 + DAY), Ok(()));
    // Every slot in the next 10 hours is blocked; the cool-down outlasts the window gap.
    assert_eq!(f.slots(&p, Channel::Voice, t0 + H, 10), Err(b));
}

#[test]
fn opt_out_blocks_the_pair_only() {
    let mut f = Fixture::new(None);
    let t0 = sp(0, 12);
    f.apply(false, Channel::Sms, t0, Outcome::OptOut);
    let p = Policy::default();
    let later = t0 + 300 * DAY;
    let b = block(BlockReason::OptedOut, None);
    let want = Err(b);
    assert_eq!(f.check(&p, false, Channel::Sms, later), want);
    assert_eq!(f.slots(&p, Channel::Sms, later, 48), Err(b));
    assert_eq!(f.check(&p, false, Channel::Voice, later), Ok(()));
    assert_eq!(f.check(&p, true, Channel::Sms, later), Ok(()));
}

#[test]
fn wrong_party_blocks_the_number_until_engaged() {
    let mut f = Fixture::new(None);
    let t0 = sp(0, 12);
    f.apply(false, Channel::Voice, t0, Outcome::WrongParty);
    let p = Policy::default();
    let want = Err(block(BlockReason::WrongParty, None));
    assert_eq!(f.check(&p, false, Channel::Sms, t0 + 90 * DAY), want);
    assert_eq!(f.check(&p, true, Channel::Voice, t0 + 90 * DAY), Ok(()));
    f.apply(false, Channel::Whatsapp, t0 + DAY, Outcome::RightParty);
    assert_eq!(f.check(&p, false, Channel::Voice, t0 + 3 * DAY), Ok(()));
}

#[test]
fn invalid_suppresses_the_pair_for_30_days() {
    let mut f = Fixture::new(None);
    let t0 = sp(0, 12);
    f.apply(false, Channel::Voice, t0, Outcome::Invalid);
    let p = Policy::default();
    let want = Err(block(BlockReason::Invalid, Some(t0 + 30 * DAY)));
    assert_eq!(f.check(&p, false, Channel::Voice, t0 + 29 * DAY), want);
    assert_eq!(f.check(&p, false, Channel::Voice, t0 + 30 * DAY), Ok(()));
    assert_eq!(f.check(&p, false, Channel::Sms, t0 + DAY), Ok(()));
}

#[test]
fn unknown_contact_only_faces_person_rules() {
    let mut f = Fixture::new(None);
    f.apply(false, Channel::Voice, sp(0, 12), Outcome::RightParty);
    let p = Policy::default();
    let (person, _, zone) = f.parts(false);
    let got = p.check(
        &f.state.zones,
        zone,
        person,
        None,
        Channel::Voice,
        sp(0, 13),
    );
    assert_eq!(got.map_err(|b| b.reason), Err(BlockReason::CoolDown));
    let got = p.allowed_slots(
        &f.state.zones,
        zone,
        person,
        None,
        Channel::Sms,
        sp(1, 12),
        2,
    );
    assert_eq!(got, Ok(vec![sp(1, 12), sp(1, 13)]));
}

#[test]
fn reason_strings_are_stable() {
    let all = [
        (BlockReason::OptedOut, "opted_out"),
        (BlockReason::WrongParty, "wrong_party"),
        (BlockReason::Invalid, "invalid_recent"),
        (BlockReason::CoolDown, "cooldown_after_engaged"),
        (BlockReason::DailyCap, "daily_cap"),
        (BlockReason::WeeklyCap, "weekly_cap"),
        (BlockReason::OutsideWindow, "outside_window"),
    ];
    for (r, s) in all {
        assert_eq!(r.as_str(), s);
        assert_eq!(r.to_string(), s);
    }
}

#[test]
fn a_number_validated_inactive_is_blocked_until_engaged_or_validated_active() {
    use crate::{LineType, Validation, ValidationStatus};
    let mut f = Fixture::new(None);
    let t = sp(0, 10);
    let validate = |f: &mut Fixture, at, status| {
        let v = Validation {
            at,
            status,
            line_type: LineType::Unknown,
            ported: None,
        };
        f.state
            .apply_validation(f.slot, &f.c1, v)
            .expect("validate");
    };
    let policy = Policy::default();
    // Engaged on the number, then validated inactive: blocked on every phone channel.
    f.apply(false, Channel::Voice, t - 5 * DAY, Outcome::RightParty);
    validate(&mut f, t - DAY, ValidationStatus::Inactive);
    for ch in [Channel::Voice, Channel::Sms, Channel::Whatsapp] {
        assert_eq!(
            f.check(&policy, false, ch, t),
            Err(block(BlockReason::ValidatedInactive, None)),
            "{ch}"
        );
    }
    // Not the person's other number, and not when the rule is off.
    assert_eq!(f.check(&policy, true, Channel::Voice, t), Ok(()));
    let off = PolicyConfig {
        block_validated_inactive: false,
        ..PolicyConfig::default()
    }
    .validate()
    .expect("valid");
    assert_eq!(f.check(&off, false, Channel::Voice, t), Ok(()));
    // A later engagement lifts it (the cool-down then applies for a day)…
    f.apply(false, Channel::Sms, t, Outcome::Replied);
    assert_eq!(f.check(&policy, false, Channel::Voice, t + 2 * DAY), Ok(()));
    // …until a newer inactive validation; then an active one lifts it again.
    validate(&mut f, t + DAY, ValidationStatus::Inactive);
    assert_eq!(
        f.check(&policy, false, Channel::Voice, t + 2 * DAY),
        Err(block(BlockReason::ValidatedInactive, None))
    );
    validate(&mut f, t + DAY + 60, ValidationStatus::Active);
    assert_eq!(f.check(&policy, false, Channel::Voice, t + 2 * DAY), Ok(()));
    // An opt-out is still reported first.
    validate(&mut f, t + DAY + 120, ValidationStatus::Inactive);
    f.apply(false, Channel::Sms, t + DAY + 180, Outcome::OptOut);
    assert_eq!(
        f.check(&policy, false, Channel::Sms, t + 2 * DAY),
        Err(block(BlockReason::OptedOut, None))
    );
}

#[test]
fn numbers_outside_listed_ranges_are_blocked_only_when_configured() {
    let mut f = Fixture::new(None);
    let unlisted = number("+55 20 98765-4321");
    let t = sp(0, 10);
    f.state
        .apply(
            f.slot,
            &unlisted,
            Channel::Voice,
            t - DAY,
            Outcome::NoAnswer,
        )
        .expect("apply");
    let p = f.state.person(f.slot);
    let c = p.contact_index(&unlisted.key).map(|i| &p.contacts[i]);
    let zone = f.state.resolve_zone(p, c);
    let strict = PolicyConfig {
        block_invalid_numbers: true,
        ..PolicyConfig::default()
    }
    .validate()
    .expect("valid");
    let default = Policy::default();
    assert_eq!(
        default.check(&f.state.zones, zone, p, c, Channel::Voice, t),
        Ok(())
    );
    assert_eq!(
        strict.check(&f.state.zones, zone, p, c, Channel::Sms, t),
        Err(block(BlockReason::InvalidNumber, None))
    );
    // A number the state does not know: the same answer from the number alone.
    assert_eq!(
        strict.number_block(unlisted.number, Channel::Whatsapp),
        Some(block(BlockReason::InvalidNumber, None))
    );
    assert_eq!(default.number_block(unlisted.number, Channel::Voice), None);
    assert_eq!(strict.number_block(f.c1.number, Channel::Voice), None);
    assert_eq!(strict.number_block(None, Channel::Email), None);
}

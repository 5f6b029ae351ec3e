//! The point-in-time feature state: what is known about each person, contact point and channel
//! after the attempts applied so far. Training replays history through it; the server keeps it
//! live from reported outcomes; both read features from it through `vector.rs`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::tally::{HALF_LIVES_DAYS, Tally};
use crate::localtime::{DAY, Zones};
use crate::{
    Channel, Contact, ContactKind, NumberInfo, Outcome, Result, Validation, country_zones,
};

/// How long per-person attempt instants are kept for the 24 h / 7 day counts.
pub const RECENT_WINDOW: i64 = 7 * DAY;

/// What is known about one (person, contact, channel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    /// The channel.
    pub channel: Channel,
    /// Decayed outcome counts.
    pub tally: Tally,
    /// Last attempt on this contact and channel.
    pub last_attempt_at: Option<i64>,
    /// Last engaged outcome.
    pub last_engaged_at: Option<i64>,
    /// Attempts since the last reached outcome.
    pub consecutive_failures: u16,
    /// Number of `invalid` outcomes ever.
    pub invalid_count: u16,
    /// Last `invalid` outcome.
    pub last_invalid_at: Option<i64>,
    /// When the person opted out on this contact and channel (cleared only by re-consent).
    pub opted_out_at: Option<i64>,
}

impl ChannelState {
    fn new(channel: Channel) -> Self {
        Self {
            channel,
            tally: Tally::default(),
            last_attempt_at: None,
            last_engaged_at: None,
            consecutive_failures: 0,
            invalid_count: 0,
            last_invalid_at: None,
            opted_out_at: None,
        }
    }
}

/// What is known about one (person, contact point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactState {
    /// Normalised contact key (E.164 or lower-case email).
    pub key: Box<str>,
    /// Phone or email.
    pub kind: ContactKind,
    /// For a phone number, what libphonenumber's metadata says about it (valid, type).
    pub number: Option<NumberInfo>,
    /// The latest carrier validation (by its own instant), when there was one.
    pub validation: Option<Validation>,
    /// The contact's own time zone, when the contacts file gave one.
    pub zone: Option<u16>,
    /// The zone of the number's country when that country has a single zone.
    pub country_zone: Option<u16>,
    /// Channels the contacts file lists for this contact (bit per [`Channel::index`]); 0 = none.
    pub listed_channels: u8,
    /// When the contact point became known (contacts file `added_at`, else its first attempt).
    pub known_since: Option<i64>,
    /// Decayed outcome counts over all channels.
    pub tally: Tally,
    /// Last attempt on any channel.
    pub last_attempt_at: Option<i64>,
    /// Last reached outcome on any channel.
    pub last_reached_at: Option<i64>,
    /// Last engaged outcome on any channel.
    pub last_engaged_at: Option<i64>,
    /// Last `wrong_party`, cleared by a later engaged outcome on this contact.
    pub wrong_party_at: Option<i64>,
    /// Attempts since the last reached outcome, over all channels.
    pub consecutive_failures: u16,
    /// Per-channel state.
    pub channels: Vec<ChannelState>,
}

impl ContactState {
    /// The state of `channel` on this contact, if it was ever attempted.
    pub fn channel(&self, channel: Channel) -> Option<&ChannelState> {
        self.channels.iter().find(|c| c.channel == channel)
    }

    /// Whether the contact was known at instant `t`.
    pub fn known_at(&self, t: i64) -> bool {
        self.known_since.is_none_or(|s| s <= t)
    }

    pub(super) fn channel_mut(&mut self, channel: Channel) -> &mut ChannelState {
        let i = match self.channels.iter().position(|c| c.channel == channel) {
            Some(i) => i,
            None => {
                self.channels.push(ChannelState::new(channel));
                self.channels.len() - 1
            }
        };
        &mut self.channels[i]
    }
}

/// Decayed attempts and engagements of a person in one local hour-of-week bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HourCell {
    /// Bucket: weekday × 8 + hour / 3.
    pub bucket: u8,
    /// Last update.
    pub at: i64,
    /// Decayed attempts (long half-life).
    pub attempts: f32,
    /// Decayed engagements (long half-life).
    pub engaged: f32,
}

impl HourCell {
    /// Decay factor applied to hour cells: the longest half-life, since availability is stable.
    pub fn decay(&self, t: i64) -> f32 {
        let days = (t.saturating_sub(self.at).max(0) as f32) / DAY as f32;
        (-days / HALF_LIVES_DAYS[2]).exp2()
    }
}

/// What is known about one person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonState {
    /// The person's time zone, when known.
    pub zone: Option<u16>,
    /// Person attributes, encoded per the feature schema (NaN = missing).
    pub attrs: Vec<f32>,
    /// Decayed outcome counts over all contacts and channels.
    pub tally: Tally,
    /// Last attempt.
    pub last_attempt_at: Option<i64>,
    /// Last engaged outcome.
    pub last_engaged_at: Option<i64>,
    /// Attempt instants within [`RECENT_WINDOW`] of the latest one, oldest first.
    pub recent: Vec<i64>,
    /// Sparse hour-of-week cells.
    pub hours: Vec<HourCell>,
    /// Known contact points.
    pub contacts: Vec<ContactState>,
}

impl PersonState {
    /// Index of contact `key` in [`PersonState::contacts`].
    pub fn contact_index(&self, key: &str) -> Option<usize> {
        self.contacts.iter().position(|c| &*c.key == key)
    }

    /// Attempts in the half-open window `[t - window, t)`.
    pub fn attempts_within(&self, t: i64, window: i64) -> usize {
        self.recent
            .iter()
            .filter(|&&a| a < t && a >= t.saturating_sub(window))
            .count()
    }
}

/// The feature state of every person, plus the zone table and the defaults that resolve zones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureState {
    /// Interned time zones.
    pub zones: Zones,
    /// Zone used when neither contact, person nor country gives one.
    pub default_zone: u16,
    /// Person ids by slot.
    pub person_ids: Vec<Box<str>>,
    /// Person states by slot.
    pub persons: Vec<PersonState>,
    /// Latest attempt instant applied (the state's cutoff).
    pub cutoff: Option<i64>,
    #[serde(skip)]
    pub(super) index: HashMap<Box<str>, u32>,
}

impl FeatureState {
    /// An empty state whose fallback zone is `default_zone` (IANA name).
    pub fn new(default_zone: &str) -> Result<Self> {
        let mut zones = Zones::default();
        let default_zone = zones.intern(default_zone)?;
        Ok(Self {
            zones,
            default_zone,
            person_ids: Vec::new(),
            persons: Vec::new(),
            cutoff: None,
            index: HashMap::new(),
        })
    }

    /// Rebuild the id → slot index (after deserialising).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .person_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), slot(i)))
            .collect();
    }

    /// The slot of `person_id`, if known.
    pub fn slot(&self, person_id: &str) -> Option<u32> {
        self.index.get(person_id).copied()
    }

    /// The slot of `person_id`, creating an empty person if needed.
    pub fn slot_or_insert(&mut self, person_id: &str) -> u32 {
        if let Some(&s) = self.index.get(person_id) {
            return s;
        }
        let s = slot(self.persons.len());
        self.person_ids.push(person_id.into());
        self.persons.push(PersonState::default());
        self.index.insert(person_id.into(), s);
        s
    }

    /// Erase everything known about `person_id` (LGPD/GDPR erasure). Returns whether the person
    /// was known. The last person moves into the freed slot, so slots taken before a `forget`
    /// are invalid after it.
    pub fn forget(&mut self, person_id: &str) -> bool {
        let Some(s) = self.index.remove(person_id) else {
            return false;
        };
        let s = s as usize;
        self.persons.swap_remove(s);
        self.person_ids.swap_remove(s);
        if let Some(moved) = self.person_ids.get(s) {
            self.index.insert(moved.clone(), slot(s));
        }
        true
    }

    /// Erase every person whose id satisfies `doomed`; returns how many were erased.
    pub fn forget_where(&mut self, mut doomed: impl FnMut(&str) -> bool) -> usize {
        let keep: Vec<bool> = self.person_ids.iter().map(|id| !doomed(id)).collect();
        let erased = keep.iter().filter(|k| !**k).count();
        if erased > 0 {
            let mut k = keep.iter();
            self.persons.retain(|_| k.next().copied().unwrap_or(true));
            let mut k = keep.iter();
            self.person_ids
                .retain(|_| k.next().copied().unwrap_or(true));
            self.rebuild_index();
        }
        erased
    }

    /// The person in `slot`.
    pub fn person(&self, slot: u32) -> &PersonState {
        &self.persons[slot as usize]
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// Whether no person is known.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    /// Set a person's time zone and attributes (from the persons file).
    pub fn set_person_info(
        &mut self,
        slot: u32,
        zone: Option<&str>,
        attrs: Vec<f32>,
    ) -> Result<()> {
        let zone = zone.map(|z| self.zones.intern(z)).transpose()?;
        let p = &mut self.persons[slot as usize];
        if zone.is_some() {
            p.zone = zone;
        }
        p.attrs = attrs;
        Ok(())
    }

    /// Register a contact point from the contacts file: its channels, zone and when it became
    /// known. Registering twice merges (listed channels add up; the earliest `added_at` wins).
    pub fn register_contact(
        &mut self,
        slot: u32,
        contact: &Contact,
        channels: &[Channel],
        zone: Option<&str>,
        added_at: Option<i64>,
    ) -> Result<()> {
        let zone = zone.map(|z| self.zones.intern(z)).transpose()?;
        let i = self.contact_or_insert(slot, contact, added_at)?;
        let c = &mut self.persons[slot as usize].contacts[i];
        for ch in channels {
            c.listed_channels |= 1 << ch.index();
        }
        if zone.is_some() {
            c.zone = zone;
        }
        if let Some(a) = added_at {
            c.known_since = Some(c.known_since.map_or(a, |k| k.min(a)));
        }
        Ok(())
    }

    /// Apply one attempt outcome. This is the only way the state learns from attempts.
    ///
    /// Attempts are meant to come in time order (the trainer's replay), but a late report is
    /// older than what the state already holds; the contact-rule fields come out as in time
    /// order either way (latest opt-out, latest invalid, a wrong party cleared by a later
    /// engaged outcome whichever arrives first), and the decayed counts never decay backwards.
    pub fn apply(
        &mut self,
        slot: u32,
        contact: &Contact,
        channel: Channel,
        t: i64,
        outcome: Outcome,
    ) -> Result<()> {
        let ci = self.contact_or_insert(slot, contact, Some(t))?;
        let local = {
            let p = self.person(slot);
            self.local(p, Some(&p.contacts[ci]), t)
        };
        self.cutoff = Some(self.cutoff.map_or(t, |c| c.max(t)));
        self.persons[slot as usize].record(ci, local, channel, t, outcome);
        Ok(())
    }

    /// Apply one attempt outcome to `person`, a person's state held outside `self` (a copy, to
    /// read the features that would follow a hypothetical attempt), exactly as
    /// [`FeatureState::apply`] applies it to a stored person; `self` gives the zones. A contact
    /// new to `person` gets its country's zone only if `self` has interned it already (callers
    /// intern the zones of the contacts they plan for beforehand).
    pub fn apply_to(
        &self,
        person: &mut PersonState,
        contact: &Contact,
        channel: Channel,
        t: i64,
        outcome: Outcome,
    ) {
        let ci = self.outside_contact(person, contact, t);
        let local = self.local(person, Some(&person.contacts[ci]), t);
        person.record(ci, local, channel, t, outcome);
    }

    /// Apply one carrier validation of `contact` (point in time, like an attempt: the replay
    /// applies it at its instant). The latest validation by instant is kept; a contact point the
    /// person was not known to have becomes known at the validation. Not an attempt: no count,
    /// cap or cool-down changes, and the state's cutoff (its latest attempt) stays.
    pub fn apply_validation(
        &mut self,
        slot: u32,
        contact: &Contact,
        validation: Validation,
    ) -> Result<()> {
        let ci = self.contact_or_insert(slot, contact, Some(validation.at))?;
        self.persons[slot as usize].keep_validation(ci, validation);
        Ok(())
    }

    /// Apply one carrier validation to `person`, a person's state held outside `self`, exactly
    /// as [`FeatureState::apply_validation`] applies it to a stored person (a new contact's
    /// zone as in [`FeatureState::apply_to`]).
    pub fn apply_validation_to(
        &self,
        person: &mut PersonState,
        contact: &Contact,
        validation: Validation,
    ) {
        let ci = self.outside_contact(person, contact, validation.at);
        person.keep_validation(ci, validation);
    }

    /// Re-consent of the person in `slot` to `contact` on `channel` at `t`: lifts an opt-out
    /// recorded at or before `t` (one recorded later stands). Returns whether one was lifted.
    /// Consent is not an attempt: nothing else changes.
    pub fn lift_opt_out(&mut self, slot: u32, contact: &str, channel: Channel, t: i64) -> bool {
        self.persons[slot as usize].lift_opt_out(contact, channel, t)
    }

    /// The index of `contact` in `person` (held outside `self`), added if new with its
    /// country's zone when `self` has interned it ([`FeatureState::apply_to`]).
    fn outside_contact(&self, person: &mut PersonState, contact: &Contact, seen: i64) -> usize {
        match person.contact_index(&contact.key) {
            Some(i) => {
                let c = &mut person.contacts[i];
                if c.number.is_none() {
                    c.number = contact.number;
                }
                i
            }
            None => {
                let country_zone =
                    country_zones::zone_for_region(&contact.region).and_then(|z| self.zones.id(z));
                person.insert_contact(contact, country_zone, Some(seen))
            }
        }
    }

    fn contact_or_insert(
        &mut self,
        slot: u32,
        contact: &Contact,
        seen: Option<i64>,
    ) -> Result<usize> {
        if let Some(i) = self.persons[slot as usize].contact_index(&contact.key) {
            let c = &mut self.persons[slot as usize].contacts[i];
            if c.number.is_none() {
                c.number = contact.number;
            }
            return Ok(i);
        }
        let country_zone = country_zones::zone_for_region(&contact.region)
            .map(|z| self.zones.intern(z))
            .transpose()?;
        Ok(self.persons[slot as usize].insert_contact(contact, country_zone, seen))
    }
}

fn slot(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

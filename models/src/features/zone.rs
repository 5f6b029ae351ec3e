//! Which time zone defines local time for a contact point: the one resolution order, used by
//! ranking and planning (with the zones a request names), the replay, the features, the policy
//! and the trainer's planners (with none).
//!
//! First of:
//!
//! 1. the zone the request gives the contact point (`Rank`'s `contacts[i].timezone`);
//! 2. the contact point's zone from the contacts file;
//! 3. the person's zone the request gives (`Rank`'s `timezone`);
//! 4. the person's zone from the persons file;
//! 5. the zone of the number's country, when that country has a single one
//!    ([`crate::country_zones`]);
//! 6. the state's default zone (`default_timezone`).
//!
//! Why: a zone given for one contact point is more specific than a person's (a person may keep a
//! number from another region), so either contact zone beats either person zone; at each level
//! the request's zone beats the stored one, being the caller's latest knowledge; a zone somebody
//! stated beats one guessed from the number's country; the default is the last resort.
//! docs/DATA.md and docs/SERVER.md describe the same order.

use super::state::{ContactState, FeatureState, PersonState};
use crate::localtime::LocalTime;

impl FeatureState {
    /// The zone of `contact` of `person` when no request names one: [`Self::resolve_zone_with`]
    /// without the request's zones (contact, person, the number's country, default).
    pub fn resolve_zone(&self, person: &PersonState, contact: Option<&ContactState>) -> u16 {
        self.resolve_zone_with(person, contact, None, None)
    }

    /// The zone of `contact` of `person` in the order of the module docs, given the zone a
    /// request names for the contact point (`asked_contact_zone`) and for the person
    /// (`asked_person_zone`).
    pub fn resolve_zone_with(
        &self,
        person: &PersonState,
        contact: Option<&ContactState>,
        asked_contact_zone: Option<u16>,
        asked_person_zone: Option<u16>,
    ) -> u16 {
        asked_contact_zone
            .or(contact.and_then(|c| c.zone))
            .or(asked_person_zone)
            .or(person.zone)
            .or(contact.and_then(|c| c.country_zone))
            .unwrap_or(self.default_zone)
    }

    /// Local position of `t` for `contact` of `person` (in [`Self::resolve_zone`]).
    pub fn local(&self, person: &PersonState, contact: Option<&ContactState>, t: i64) -> LocalTime {
        self.zones.local(self.resolve_zone(person, contact), t)
    }
}

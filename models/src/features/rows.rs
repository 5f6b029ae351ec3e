//! Feature rows of one person at many candidates: every (contact, channel) pair at every slot
//! instant of a ranking or a plan, computed segment by segment (see `vector.rs`) with each
//! segment computed once per key and copied into every row that shares it.
//!
//! Why: a `Rank` scores ≈ 66 rows and a plan ≈ 65 per person, and most of a row does not depend
//! on the pair and the instant together. The person's counts, fatigue and contact tallies at an
//! instant are the same for every pair; the local time and hour-of-week cells are the same for
//! every pair in the same zone; a contact's counts are the same for each of its channels. Only
//! the (contact, channel) segment and the short number segment (it falls back on the pair's own
//! [`super::Candidate::number`] for a contact the state does not know) are computed per row. Every value still comes from the segment
//! functions of `vector.rs` with the same inputs, so rows are bit-identical to
//! [`FeatureState::features`] (checked row by row in debug builds, and by tests against the
//! pre-segment implementation).

use super::schema::FeatureSchema;
use super::state::{ContactState, FeatureState, PersonState};
use super::tally::TallyView;
use super::vector::{
    SEG_CONTACT, SEG_HOURS, SEG_PERSON, SEG_TIME, Writer, attribute_segment, channel_segment,
    contact_segment, hours_segment, listed_segment, number_segment, pair_segment, person_segment,
    time_segment, visible_contact,
};
use crate::localtime::LocalTime;
use crate::{Channel, ContactKind, NumberInfo};

/// A (contact, channel) pair of the person, resolved once for all its rows.
#[derive(Debug, Clone, Copy)]
pub struct RowPair<'k> {
    key: &'k str,
    kind: ContactKind,
    number: Option<NumberInfo>,
    channel: Channel,
    zone: Option<u16>,
    /// The contact's index in the person's state, if the state knows it.
    index: Option<usize>,
    /// Its slot in the contact caches.
    contact_slot: usize,
}

impl<'k> RowPair<'k> {
    /// The contact's key.
    pub fn contact(&self) -> &'k str {
        self.key
    }

    /// The contact's kind.
    pub fn kind(&self) -> ContactKind {
        self.kind
    }

    /// What the metadata says about the number (`None` for an email).
    pub fn number(&self) -> Option<NumberInfo> {
        self.number
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }
}

/// The person segment at one instant.
#[derive(Debug, Clone, Copy)]
struct AtInstant {
    pv: TallyView,
    person: [f32; SEG_PERSON],
}

/// The zone-dependent segments at one instant.
#[derive(Debug, Clone, Copy)]
struct InZone {
    time: [f32; SEG_TIME],
    hours: [f32; SEG_HOURS],
}

/// Builds the rows of one person (see the module docs). The instants rows are asked for are
/// given up front, so every cache is a plain table indexed by the instant's position.
#[derive(Debug)]
pub struct PersonRows<'a> {
    state: &'a FeatureState,
    person: &'a PersonState,
    schema: &'a FeatureSchema,
    times: Vec<i64>,
    at: Vec<Option<AtInstant>>,
    zones: Vec<u16>,
    zoned: Vec<Option<InZone>>,
    contact_keys: Vec<Option<usize>>,
    contacts: Vec<Option<[f32; SEG_CONTACT]>>,
    scratch: Vec<f32>,
}

impl<'a> PersonRows<'a> {
    /// Rows for `person` (its zones from `state`) in `schema`, at instants among `times`
    /// (sorted and de-duplicated here).
    pub fn new(
        state: &'a FeatureState,
        person: &'a PersonState,
        schema: &'a FeatureSchema,
        mut times: Vec<i64>,
    ) -> Self {
        times.sort_unstable();
        times.dedup();
        Self {
            at: vec![None; times.len()],
            times,
            state,
            person,
            schema,
            zones: Vec::new(),
            zoned: Vec::new(),
            contact_keys: Vec::new(),
            contacts: Vec::new(),
            scratch: Vec::with_capacity(SEG_CONTACT),
        }
    }

    /// The instants rows can be asked for, in increasing order.
    pub fn times(&self) -> &[i64] {
        &self.times
    }

    /// The position of `t` in [`Self::times`].
    pub fn time_index(&self, t: i64) -> Option<usize> {
        self.times.binary_search(&t).ok()
    }

    /// Resolve the pair (`contact` of `kind`, `channel`); `number` and `zone` are the
    /// candidate's, as in [`super::Candidate`] (`zone` overrides the state's zone for it).
    pub fn pair<'k>(
        &mut self,
        contact: &'k str,
        kind: ContactKind,
        number: Option<NumberInfo>,
        channel: Channel,
        zone: Option<u16>,
    ) -> RowPair<'k> {
        let index = self.person.contact_index(contact);
        let contact_slot = match self.contact_keys.iter().position(|&k| k == index) {
            Some(s) => s,
            None => {
                self.contact_keys.push(index);
                self.contacts
                    .extend(std::iter::repeat_n(None, self.times.len()));
                self.contact_keys.len() - 1
            }
        };
        RowPair {
            key: contact,
            kind,
            number,
            channel,
            zone,
            index,
            contact_slot,
        }
    }

    /// Append the row of `pair` at instant `self.times()[ti]` to `out`: exactly what
    /// [`FeatureState::features`] appends for that candidate.
    pub fn push(&mut self, pair: &RowPair<'_>, ti: usize, out: &mut Vec<f32>) {
        let start = out.len();
        let t = self.times[ti];
        let person = self.person;
        let contact = visible_contact(person, pair.index, t);
        let zone = pair
            .zone
            .unwrap_or_else(|| self.state.resolve_zone(person, contact));
        let at = self.at(ti);
        let zoned = self.zoned(zone, ti, &at.pv);
        let contact_seg = self.contact(pair, ti, &at.pv);
        let mut w = Writer { out };
        channel_segment(&mut w, pair.channel);
        w.out.extend_from_slice(&zoned.time);
        pair_segment(&mut w, contact.and_then(|c| c.channel(pair.channel)), t);
        w.out.extend_from_slice(&contact_seg);
        listed_segment(&mut w, contact, pair.channel);
        w.out.extend_from_slice(&at.person);
        w.out.extend_from_slice(&zoned.hours);
        number_segment(&mut w, contact, pair.number, t);
        attribute_segment(&mut w, person, self.schema);
        #[cfg(debug_assertions)]
        self.check(pair, t, &out[start..]);
        let _ = start;
    }

    /// Debug builds: the row equals [`FeatureState::features_of`]'s, bit for bit. A feature
    /// written in a segment whose cache key it does not fully depend on fails here.
    #[cfg(debug_assertions)]
    fn check(&self, pair: &RowPair<'_>, t: i64, row: &[f32]) {
        let mut direct = Vec::with_capacity(row.len());
        let cand = super::Candidate {
            contact: pair.contact(),
            kind: pair.kind(),
            number: pair.number,
            zone: pair.zone,
            channel: pair.channel,
            t,
        };
        self.state
            .features_of(self.person, self.schema, &cand, &mut direct);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        debug_assert_eq!(
            bits(row),
            bits(&direct),
            "segmented feature row differs from FeatureState::features"
        );
    }

    fn at(&mut self, ti: usize) -> AtInstant {
        if let Some(a) = self.at[ti] {
            return a;
        }
        let (t, p) = (self.times[ti], self.person);
        let pv = p.tally.view(t);
        let mut person = [0.0; SEG_PERSON];
        segment(&mut self.scratch, &mut person, |w| {
            person_segment(w, p, &pv, t)
        });
        let a = AtInstant { pv, person };
        self.at[ti] = Some(a);
        a
    }

    fn zoned(&mut self, zone: u16, ti: usize, pv: &TallyView) -> InZone {
        let n = self.times.len();
        let zi = match self.zones.iter().position(|&z| z == zone) {
            Some(i) => i,
            None => {
                self.zones.push(zone);
                self.zoned.extend(std::iter::repeat_n(None, n));
                self.zones.len() - 1
            }
        };
        if let Some(z) = self.zoned[zi * n + ti] {
            return z;
        }
        let (t, p) = (self.times[ti], self.person);
        let local: LocalTime = self.state.zones.local(zone, t);
        let mut z = InZone {
            time: [0.0; SEG_TIME],
            hours: [0.0; SEG_HOURS],
        };
        segment(&mut self.scratch, &mut z.time, |w| time_segment(w, local));
        segment(&mut self.scratch, &mut z.hours, |w| {
            hours_segment(w, p, local, pv, t);
        });
        self.zoned[zi * n + ti] = Some(z);
        z
    }

    fn contact(&mut self, pair: &RowPair<'_>, ti: usize, pv: &TallyView) -> [f32; SEG_CONTACT] {
        let k = pair.contact_slot * self.times.len() + ti;
        if let Some(c) = self.contacts[k] {
            return c;
        }
        let t = self.times[ti];
        let contact: Option<&ContactState> = visible_contact(self.person, pair.index, t);
        let mut c = [0.0; SEG_CONTACT];
        segment(&mut self.scratch, &mut c, |w| {
            contact_segment(w, contact, pv, t)
        });
        self.contacts[k] = Some(c);
        c
    }
}

/// Run a segment writer into `dst` (its exact width), through `scratch`.
fn segment<const N: usize>(
    scratch: &mut Vec<f32>,
    dst: &mut [f32; N],
    f: impl FnOnce(&mut Writer<'_>),
) {
    scratch.clear();
    f(&mut Writer { out: scratch });
    debug_assert_eq!(scratch.len(), N, "segment width");
    for (d, s) in dst.iter_mut().zip(scratch.iter()) {
        *d = *s;
    }
}

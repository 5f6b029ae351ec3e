//! The rules at given slot instants: which of a list of one-hour slots (any alignment, e.g. a
//! plan's UTC hours) a (contact, channel) may use. [`Policy::allowed_slots`] walks the
//! recipient's whole local hours inside a horizon; a plan instead asks about fixed slots that
//! capacity is given for, so it needs the same two tests — the slot inside one of the channel's
//! windows, and [`Policy::check`] passing at the slot's start — at instants it chooses.

use super::{Block, History, Policy, window};
use crate::Channel;
use crate::features::state::{ContactState, PersonState};
use crate::localtime::Zones;

impl Policy {
    /// Which slots `[t, t + 3600)` with `t` in `starts` may be used for this (contact,
    /// channel): the slot lies entirely inside one of the channel's windows in `zone`, and
    /// [`Policy::check`] passes at `t` (caps counted for that instant and its local day).
    /// Writes one flag per start into `allowed` (cleared first). `Err` with the block when the
    /// pair is blocked whatever the instant (opt-out, wrong party, validated inactive, invalid
    /// number: what [`Policy::check`] reports for a contact point the state knows); `allowed`
    /// is then empty. For a contact point the state has never seen, callers ask
    /// [`Policy::number_block`] first, as the ranking does.
    #[allow(clippy::too_many_arguments)]
    pub fn allowed_at(
        &self,
        zones: &Zones,
        zone: u16,
        person: &PersonState,
        contact: Option<&ContactState>,
        channel: Channel,
        starts: &[i64],
        allowed: &mut Vec<bool>,
    ) -> Result<(), Block> {
        allowed.clear();
        if let Some(b) = self.permanent_block(contact, channel) {
            return Err(b);
        }
        let week = self.windows(channel);
        let history = History::new(zones, zone, person);
        allowed.extend(starts.iter().map(|&t| {
            window::slot_in_window(zones, zone, week, t)
                && self
                    .timed_block(zones, zone, person, contact, channel, &history, t)
                    .is_ok()
        }));
        Ok(())
    }
}

//! The list a plan is made for: the contacts file's columns (`person_id` required; `contact`,
//! `channels`, `timezone` optional, other columns ignored), one or more rows per person in the
//! order persons first appear. A person whose rows name no contact point is planned over the
//! contact points the state knows. Contact points are normalised in parallel (phone-number
//! parsing is most of the reading time); errors name the file, line, column and value, with
//! contact points masked.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;

use contactscore_models::features::FeatureState;
use contactscore_models::rank::{RankContact, supports};
use contactscore_models::{Channel, Contact, ContactNormalizer, Masked, country_zones};

use super::table::Table;
use crate::{Result, TrainerError};

/// Longest accepted person id (as for the server).
const MAX_ID_LEN: usize = 256;
/// Most contact points one person may list (as the server's default).
const MAX_CONTACTS: usize = 64;

/// One person of the list.
#[derive(Debug, Clone, Default)]
pub(super) struct ListPerson {
    /// The listed contact points; `None` = those the state knows.
    pub contacts: Option<Vec<RankContact>>,
}

/// The list.
#[derive(Debug, Default)]
pub(super) struct List {
    /// Person ids, in first-appearance order.
    pub ids: Vec<Box<str>>,
    /// The persons, in the same order.
    pub persons: Vec<ListPerson>,
    /// Contact points read.
    pub contacts: usize,
}

/// A row with a contact point, before normalisation.
struct Raw {
    person: usize,
    line: u64,
    contact: String,
    channels: Vec<Channel>,
    zone: Option<u16>,
}

/// Read the list at `path`; zones it names (and the zones of its numbers' countries) are
/// interned into `state`.
pub(super) fn read(
    path: &Path,
    normalizer: &ContactNormalizer,
    state: &mut FeatureState,
    threads: NonZeroUsize,
) -> Result<List> {
    let mut table = Table::open(path)?;
    let col = |name: &str| table.column(name);
    let person_col = col("person_id").ok_or_else(|| {
        table.error(
            "no person_id column (the list has the contacts file's columns: person_id, contact, \
             channels, timezone)",
        )
    })?;
    let (contact_col, channels_col, zone_col) = (col("contact"), col("channels"), col("timezone"));
    let mut list = List::default();
    let mut index: HashMap<Box<str>, usize> = HashMap::new();
    let mut raws: Vec<Raw> = Vec::new();
    let mut record = csv::StringRecord::new();
    while let Some(line) = table.next(&mut record)? {
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let id = field(Some(person_col));
        if id.is_empty() {
            return Err(TrainerError::bad_row(
                path,
                line,
                "person_id",
                id,
                "empty person id",
            ));
        }
        if id.len() > MAX_ID_LEN {
            return Err(TrainerError::bad_row(
                path,
                line,
                "person_id",
                "",
                format!("longer than {MAX_ID_LEN} bytes"),
            ));
        }
        let person = match index.get(id) {
            Some(&p) => p,
            None => {
                let p = list.ids.len();
                list.ids.push(id.into());
                list.persons.push(ListPerson::default());
                index.insert(id.into(), p);
                p
            }
        };
        let contact = field(contact_col);
        if contact.is_empty() {
            continue;
        }
        let mut channels = Vec::new();
        let listed = field(channels_col);
        for part in listed.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let c = part.parse::<Channel>().map_err(|e| {
                TrainerError::bad_row(path, line, "channels", listed, e.to_string())
            })?;
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        let tz = field(zone_col);
        let zone =
            if tz.is_empty() {
                None
            } else {
                Some(state.zones.intern(tz).map_err(|e| {
                    TrainerError::bad_row(path, line, "timezone", tz, e.to_string())
                })?)
            };
        raws.push(Raw {
            person,
            line,
            contact: contact.to_owned(),
            channels,
            zone,
        });
    }
    let normalized = normalize(&raws, normalizer, threads);
    list.contacts = raws.len();
    for (raw, contact) in raws.into_iter().zip(normalized) {
        let contact = contact.map_err(|reason| {
            TrainerError::bad_row(
                path,
                raw.line,
                "contact",
                &Masked(&raw.contact).to_string(),
                reason,
            )
        })?;
        if let Some(c) = raw.channels.iter().find(|c| !supports(contact.kind, **c)) {
            let why = format!(
                "channel {c} cannot carry this kind of contact ({:?})",
                contact.kind
            );
            return Err(TrainerError::bad_row(
                path,
                raw.line,
                "channels",
                c.as_str(),
                why,
            ));
        }
        // A number new to the state takes its country's zone when the plan's hypothetical
        // attempts are applied: have it interned.
        if let Some(z) = country_zones::zone_for_region(&contact.region) {
            state.zones.intern(z)?;
        }
        let p = &mut list.persons[raw.person];
        let contacts = p.contacts.get_or_insert_with(Vec::new);
        if contacts.len() >= MAX_CONTACTS {
            return Err(TrainerError::bad_row(
                path,
                raw.line,
                "contact",
                &Masked(&raw.contact).to_string(),
                format!("more than {MAX_CONTACTS} contact points for one person"),
            ));
        }
        contacts.push(RankContact {
            contact,
            channels: raw.channels,
            zone: raw.zone,
        });
    }
    Ok(list)
}

/// Normalise every row's contact point, on `threads` threads, in row order.
fn normalize(
    raws: &[Raw],
    normalizer: &ContactNormalizer,
    threads: NonZeroUsize,
) -> Vec<Result<Contact, String>> {
    // The reason only: the error's own text repeats the contact point in clear.
    let one = |r: &Raw| {
        normalizer.normalize(&r.contact).map_err(|e| {
            if let contactscore_models::Error::InvalidContact { reason, .. } = e {
                format!("invalid contact: {reason}")
            } else {
                e.to_string()
            }
        })
    };
    let threads = threads.get().min(raws.len().div_ceil(1024)).max(1);
    if threads == 1 {
        return raws.iter().map(one).collect();
    }
    let chunk = raws.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = raws
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

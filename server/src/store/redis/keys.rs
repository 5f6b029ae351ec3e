//! Key names of the Redis state store, in one place.
//!
//! Every key of one person carries the same hash tag `{<tag>}` — the first 128 bits of the
//! SHA-256 of the person id, in hex — so a Redis Cluster keeps them in one slot: a person's
//! reads and writes are single-slot transactions and pipelines on one node; the version stays
//! outside the braces. The bookkeeping keys below each hash to a slot of their own (a cluster
//! reads and writes them one command at a time). Person ids never appear in
//! a key, and the erasure set holds the same tags, so it holds no id either.
//!
//! | key | type | what |
//! |---|---|---|
//! | `cs:{tag}:s:<version>` | string | the person's snapshot state in that version (postcard) |
//! | `cs:{tag}:e` | hash | live events of the person, field = idempotency key (see `event.rs`) |
//! | `cs:current` | string | the version whose snapshots are loaded and served |
//! | `cs:loaded:<version>` | string | set once that version's bulk load completed (its person count) |
//! | `cs:versions` | set | versions that may have snapshot keys (for erasure and clean-up) |
//! | `cs:superseded` | hash | version → when it stopped being current (unix ms) |
//! | `cs:erasures` | set | tags of forgotten persons (a later bulk load skips them) |
//! | `cs:lock:load` | string | the bulk-load / clean-up lock (`SET NX PX`, owner token) |

use sha2::{Digest, Sha256};

/// The pointer to the served version.
pub const CURRENT: &str = "cs:current";
/// The bulk-load lock.
pub const LOAD_LOCK: &str = "cs:lock:load";
/// Versions that may have snapshot keys.
pub const VERSIONS: &str = "cs:versions";
/// Version → unix ms when it stopped being current.
pub const SUPERSEDED: &str = "cs:superseded";
/// Tags of forgotten persons.
pub const ERASURES: &str = "cs:erasures";

/// The hash tag of `person_id` (32 hex digits).
pub fn tag(person_id: &str) -> String {
    let d = Sha256::digest(person_id.as_bytes());
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The snapshot key of the person tagged `tag` in `version`.
pub fn snapshot(tag: &str, version: &str) -> String {
    format!("cs:{{{tag}}}:s:{version}")
}

/// The live-event hash of the person tagged `tag`.
pub fn events(tag: &str) -> String {
    format!("cs:{{{tag}}}:e")
}

/// The completion marker of `version`'s bulk load.
pub fn loaded(version: &str) -> String {
    format!("cs:loaded:{version}")
}

/// A `SCAN MATCH` pattern for every snapshot key of `version` (glob characters escaped).
pub fn snapshot_pattern(version: &str) -> String {
    let mut v = String::with_capacity(version.len());
    for c in version.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            v.push('\\');
        }
        v.push(c);
    }
    format!("cs:{{*}}:s:{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_keys_share_one_hash_tag_and_hold_no_id() {
        let t = tag("P0000042");
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(t, tag("P0000042"), "deterministic");
        assert_ne!(t, tag("P0000043"));
        let (s, e) = (snapshot(&t, "v1"), events(&t));
        assert!(!s.contains("P0000042") && !e.contains("P0000042"));
        // The cluster slot is computed from what is between the first `{` and the next `}`.
        let hashed = |k: &str| {
            let open = k.find('{').expect("open");
            let close = open + k[open..].find('}').expect("close");
            k[open + 1..close].to_owned()
        };
        assert_eq!(hashed(&s), t);
        assert_eq!(hashed(&e), t);
        assert_eq!(
            hashed(&snapshot(&t, "v2")),
            t,
            "the version is outside the braces"
        );
    }

    #[test]
    fn key_names_are_stable() {
        // Changing a name strands every key a running deployment holds: this test says so.
        assert_eq!(tag("a"), "ca978112ca1bbdcafac231b39a23dc4d");
        assert_eq!(snapshot("ab", "20260209-x"), "cs:{ab}:s:20260209-x");
        assert_eq!(events("ab"), "cs:{ab}:e");
        assert_eq!(loaded("v"), "cs:loaded:v");
        assert_eq!(snapshot_pattern("v*1"), "cs:{*}:s:v\\*1");
    }
}

//! The raw-contact → contact-id cache: keyed by a canonical spelling of the raw string, so that
//! `+55 (11) 98765-4321` and `+5511987654321` share one (expensive) phone-number parse.
//!
//! A canonical key is used only where the `phonenumber` parser provably treats both spellings
//! alike (see [`canonical`]); anything else is keyed by its exact raw text, as before. Only
//! successful normalisations are cached (valid numbers and numbers the metadata does not list,
//! the contact they map to carrying its class and type): a raw string missing from the cache is always normalised
//! itself, so error messages never come from another spelling. Failures are remembered by exact
//! raw text only (normalisation is a pure function of the raw string), so a bad spelling repeated
//! over many rows is parsed once and every row still gets its own, identical, error.

use std::collections::HashMap;

use super::intern::{Fingerprinter, Fp, PassThroughBuild};

/// What kind of cache key a raw contact string has (part of the fingerprint, so the key spaces
/// cannot collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// The exact raw text.
    Raw = 0,
    /// A phone number spelled with digits only, after an optional leading `+`.
    Phone = 1,
    /// A trimmed, lower-cased email address.
    Email = 2,
}

/// The cache key of `raw`: its kind and bytes (in `buf`, or `raw` itself for [`KeyKind::Raw`]).
///
/// Phones: formatting characters (space, `-`, `(`, `)`, `.`) are stripped, never digits, and a
/// leading `+` is kept, only when the trimmed string has nothing but digits, those characters and
/// an optional leading `+`, and has at least 3 digits. With those characters and ≥ 3 digits the
/// parser's viability check, extension and second-number detection cannot tell the spellings
/// apart, and both reach the same normalised digits. One path differs: a `+` number written
/// without spaces but with `-().` goes through the RFC 3966 parser, which takes the country code
/// from the text before the first separator (`+55-11…`), whereas `+5511…` finds it by prefix; so
/// such strings keep their exact raw key. Strings without `+` reach the same digits either way.
///
/// Emails (anything with `@`): normalisation depends only on `raw.trim().to_lowercase()`.
pub(crate) fn canonical<'a>(raw: &'a str, buf: &'a mut Vec<u8>) -> (KeyKind, &'a [u8]) {
    let t = raw.trim();
    let b = t.as_bytes();
    buf.clear();
    if b.contains(&b'@') {
        if t.is_ascii() {
            buf.extend(b.iter().map(u8::to_ascii_lowercase));
        } else {
            buf.extend_from_slice(t.to_lowercase().as_bytes());
        }
        return (KeyKind::Email, buf);
    }
    let rest = match b.split_first() {
        Some((b'+', rest)) => {
            buf.push(b'+');
            rest
        }
        Some(_) | None => b,
    };
    let (mut digits, mut space, mut format) = (0usize, false, false);
    for &c in rest {
        match c {
            b'0'..=b'9' => {
                buf.push(c);
                digits += 1;
            }
            b' ' => space = true,
            b'-' | b'(' | b')' | b'.' => format = true,
            _ => return (KeyKind::Raw, raw.as_bytes()),
        }
    }
    let plus = b.first() == Some(&b'+');
    if digits < 3 || (plus && format && !space) {
        return (KeyKind::Raw, raw.as_bytes());
    }
    (KeyKind::Phone, buf)
}

/// Fingerprint tag of exact raw spellings that failed (apart from the [`KeyKind`] key spaces).
const FAILED: u64 = 3;
/// At most this many failed spellings are remembered (bounds memory on hostile input; past it,
/// failures are simply normalised again).
const MAX_FAILED: usize = 1 << 20;
/// At most this many distinct failure reasons are kept (they are few: the parser's error kinds).
const MAX_REASONS: usize = 64;

/// Raw contact spellings seen (successfully normalised) → contact id; exact raw spellings that
/// failed → the reason.
#[derive(Debug, Default)]
pub(crate) struct ContactCache {
    ids: HashMap<Fp, u32, PassThroughBuild>,
    /// Failed exact raw spelling → index into `reasons`.
    failed: HashMap<Fp, u8, PassThroughBuild>,
    reasons: Vec<String>,
    fingerprint: Fingerprinter,
    buf: Vec<u8>,
}

impl ContactCache {
    /// The fingerprint of `raw`'s cache key (look it up with [`ContactCache::get`]).
    pub(crate) fn key(&mut self, raw: &str) -> Fp {
        let (kind, bytes) = canonical(raw, &mut self.buf);
        self.fingerprint.fingerprint_tagged(kind as u64, bytes)
    }

    /// The cached contact id for `key`.
    #[inline]
    pub(crate) fn get(&self, key: &Fp) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Remember that `key` normalises to contact `id`.
    pub(crate) fn insert(&mut self, key: Fp, id: u32) {
        self.ids.insert(key, id);
    }

    /// The fingerprint of exactly `raw`, for [`ContactCache::failure`].
    pub(crate) fn failure_key(&self, raw: &str) -> Fp {
        self.fingerprint.fingerprint_tagged(FAILED, raw.as_bytes())
    }

    /// Why exactly this raw spelling failed to normalise, if it did before.
    pub(crate) fn failure(&self, key: &Fp) -> Option<&str> {
        let i = *self.failed.get(key)?;
        self.reasons.get(usize::from(i)).map(String::as_str)
    }

    /// Remember that the raw spelling with [`ContactCache::failure_key`] `key` failed.
    pub(crate) fn insert_failure(&mut self, key: Fp, reason: &str) {
        if self.failed.len() >= MAX_FAILED {
            return;
        }
        let i = match self.reasons.iter().position(|r| r == reason) {
            Some(i) => i,
            None if self.reasons.len() < MAX_REASONS => {
                self.reasons.push(reason.to_owned());
                self.reasons.len() - 1
            }
            None => return,
        };
        if let Ok(i) = u8::try_from(i) {
            self.failed.insert(key, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> (KeyKind, String) {
        let mut buf = Vec::new();
        let (k, b) = canonical(raw, &mut buf);
        (k, String::from_utf8(b.to_vec()).expect("utf-8"))
    }

    #[test]
    fn phones_strip_formatting_only() {
        let phone = |s: &str| (KeyKind::Phone, s.to_owned());
        assert_eq!(key("+55 (11) 98765-4321"), phone("+5511987654321"));
        assert_eq!(key("+5511987654321"), phone("+5511987654321"));
        assert_eq!(key(" +55 11 98765.4321 "), phone("+5511987654321"));
        assert_eq!(key("(11) 98765-4321"), phone("11987654321"));
        assert_eq!(key("11-98765-4321"), phone("11987654321"));
        assert_eq!(key("5511987654321"), phone("5511987654321"));
        assert_eq!(key("55.11.98765.4321"), phone("5511987654321"));
    }

    #[test]
    fn ambiguous_spellings_keep_their_raw_text() {
        for raw in [
            "+55-11-98765-4321", // RFC 3966 path: the country code is what precedes the `-`
            "+55(11)98765-4321",
            "(+55) 11 98765-4321", // `+` not first
            "+55 11 +98765",
            "12",
            "1-2",
            "1 800 FLOWERS",
            "11 98765-4321 x12",
            "11 98765-4321#",
            "11/98765-4321",
            "11\u{a0}98765 4321",
        ] {
            assert_eq!(key(raw), (KeyKind::Raw, raw.to_owned()), "{raw}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = (KeyKind::Email, "maria@example.com".to_owned());
        assert_eq!(key(" Maria@Example.COM\t"), email);
        assert_eq!(key("maria@example.com"), email);
        assert_eq!(key("ÁNA@x.com"), (KeyKind::Email, "ána@x.com".to_owned()));
    }
}

#[cfg(test)]
mod cache_tests {
    use super::super::Ctx;
    use super::super::tests::opts;

    #[test]
    fn spellings_of_one_number_share_one_contact_id() {
        let o = opts(0);
        let mut ctx = Ctx::new(&o);
        let spellings = [
            "+55 (11) 98765-4321",
            "+5511987654321",
            "+55 11 98765 4321",
            "(11) 98765-4321",
            "11987654321",
            "11-98765-4321",
            "5511987654321",
            "55 (11) 98765-4321",
            "+55-11-98765-4321",
        ];
        for raw in spellings {
            let id = ctx.contact_id(raw, 2).unwrap_or_else(|_| panic!("{raw}"));
            assert_eq!(id, 0, "{raw}");
        }
        assert_eq!(ctx.contacts.len(), 1);
        assert_eq!(ctx.contacts[0].key, "+5511987654321");
        assert_eq!(ctx.contacts[0].region, "BR");
        for raw in [
            "Maria@Example.com",
            " maria@example.com",
            "MARIA@EXAMPLE.COM",
        ] {
            assert_eq!(ctx.contact_id(raw, 2).ok(), Some(1), "{raw}");
        }
        assert_eq!(ctx.contacts[1].key, "maria@example.com");
    }

    /// Through the cache, every spelling normalises exactly as it does on its own (same contact
    /// or same error), whatever spellings came before it.
    #[test]
    fn cache_agrees_with_normalising_each_spelling() {
        let o = opts(0);
        let mut ctx = Ctx::new(&o);
        let numbers = [
            "5511987654321",
            "551133334444",
            "14155552671",
            "5521982421788",
        ];
        let mut checked = 0;
        for digits in numbers {
            let d = digits;
            let n = d.len();
            let national = &d[2..];
            let spellings = [
                format!("+{d}"),
                d.to_owned(),
                format!(
                    "+{} ({}) {}-{}",
                    &d[..2],
                    &d[2..4],
                    &d[4..n - 4],
                    &d[n - 4..]
                ),
                format!("+{}-{}-{}", &d[..2], &d[2..4], &d[4..]),
                format!("+{}-{}", &d[..1], &d[1..]),
                format!("+{}({}){}", &d[..3], &d[3..5], &d[5..]),
                format!("({}) {}", &national[..2], &national[2..]),
                format!("{}-{}", &national[..2], &national[2..]),
                format!("{}.{}", &national[..5], &national[5..]),
                national.to_owned(),
                format!("0{national}"),
                format!("0 {national}"),
                format!("{} {}", &d[..4], &d[4..]),
                format!("+ {d}"),
                d[..n - 1].to_owned(),
                format!("+{}", &d[..n - 1]),
                format!("{d}9"),
                format!("+{} {}9", &d[..2], &d[2..]),
                format!("{d} x12"),
                "1-2".to_owned(),
                "12".to_owned(),
            ];
            for raw in spellings.iter().chain(spellings.iter().rev()) {
                let via_cache = ctx
                    .contact_id(raw, 2)
                    .map(|id| ctx.contacts[id as usize].clone())
                    .map_err(|bad| bad.reason);
                let alone = o.normalizer.normalize(raw).map_err(|e| {
                    if let contactscore_models::Error::InvalidContact { reason, .. } = &e {
                        format!("invalid contact: {reason}")
                    } else {
                        e.to_string()
                    }
                });
                assert_eq!(via_cache, alone, "{raw}");
                checked += 1;
            }
        }
        assert!(checked > 100);
        // The second pass over each invalid spelling was answered by the failure cache.
        let twelve = ctx.contact_cache.failure_key("12");
        assert!(ctx.contact_cache.failure(&twelve).is_some());
    }
}

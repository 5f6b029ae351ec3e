//! Tests of contact normalisation: the three classes of phone contact, emails, sizes.

use super::*;

fn br() -> ContactNormalizer {
    ContactNormalizer::new("BR").expect("BR is a region")
}

#[test]
fn brazilian_formats_are_one_number() {
    let n = br();
    let want = "+5511987654321";
    for raw in [
        "+55 (11) 98765-4321",
        "5511987654321",
        "+5511987654321",
        "(11) 98765-4321",
    ] {
        let c = n.normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(c.key, want, "{raw}");
        assert_eq!(c.kind, ContactKind::Phone);
        assert_eq!(c.region, "BR");
    }
}

#[test]
fn foreign_numbers_keep_their_country() {
    let c = br()
        .normalize("+1 (415) 555-2671")
        .expect("valid US number");
    assert_eq!(c.key, "+14155552671");
    assert_eq!(c.region, "US");
    let c = ContactNormalizer::new("us").and_then(|n| n.normalize("415-555-2671"));
    assert_eq!(c.map(|c| c.key).ok().as_deref(), Some("+14155552671"));
}

#[test]
fn emails_are_trimmed_and_lowercased() {
    let c = br()
        .normalize("  Maria.Silva@Example.COM ")
        .expect("valid email");
    assert_eq!(c.key, "maria.silva@example.com");
    assert_eq!(c.kind, ContactKind::Email);
    assert!(br().normalize("maria@").is_err());
    assert!(br().normalize("a b@c.d").is_err());
}

#[test]
fn garbage_is_rejected_with_the_value() {
    // Letters, too few or too many digits for the plan, no country at all.
    for raw in [
        "",
        "12",
        "not a number",
        "+99 123",
        "N/A",
        "0000",
        "(11) 9876",
        "+55 11 98765-4321 999",
        "+5511987654321999",
    ] {
        let err = br()
            .normalize(raw)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("contact"), "{raw}: {err}");
    }
    assert!(ContactNormalizer::new("XX").is_err());
}

#[test]
fn huge_contacts_are_refused_and_quoted_short() {
    // A syntactically valid but absurd address, and phone-like garbage.
    for raw in [
        format!("{}@example.com", "a".repeat(100_000)),
        "9".repeat(1 << 20),
    ] {
        let err = br().normalize(&raw).expect_err("too long").to_string();
        assert!(err.contains("longer than 320 bytes"), "{err}");
        assert!(err.len() < 200, "{} bytes: {err:.100}", err.len());
        assert!(err.contains(&format!("({} bytes)", raw.len())), "{err}");
    }
    let longest = format!("{}@example.com", "a".repeat(MAX_CONTACT_BYTES - 12));
    assert!(br().normalize(&longest).is_ok());
}

#[test]
fn numbers_outside_listed_ranges_are_kept_as_not_valid() {
    let n = br();
    for (raw, key, region) in [
        // Portugal has no 23x range; the digit count is Portugal's.
        ("+351 230676310", "+351230676310", "PT"),
        ("351230676310", "+351230676310", "PT"),
        // Brazil has no area code 20.
        ("+55 20 98765-4321", "+5520987654321", "BR"),
        ("(20) 98765-4321", "+5520987654321", "BR"),
        // A North American number whose area code starts with 1: no region, so the main
        // country of +1.
        ("+1 123 456 7890", "+11234567890", "US"),
    ] {
        let c = n.normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(c.key, key, "{raw}");
        assert_eq!(c.region, region, "{raw}");
        assert_eq!(
            c.number,
            Some(NumberInfo {
                valid: false,
                number_type: NumberType::Other
            }),
            "{raw}"
        );
    }
}

#[test]
fn valid_numbers_carry_their_type() {
    let n = br();
    for (raw, t) in [
        ("+55 11 98765-4321", NumberType::Mobile),
        ("+55 11 3456-7890", NumberType::FixedLine),
        ("0800 123 4567", NumberType::TollFree),
        ("+1 212 555 2671", NumberType::FixedLineOrMobile),
        ("+1 800 555 0100", NumberType::TollFree),
        ("+44 7912 345678", NumberType::Mobile),
    ] {
        let c = n.normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            c.number,
            Some(NumberInfo {
                valid: true,
                number_type: t
            }),
            "{raw}"
        );
    }
    let email = n.normalize("ana@example.com").expect("email");
    assert_eq!(email.number, None);
}

#[test]
fn e164_text_is_the_formatters() {
    // Italy keeps a leading zero in the national number; the others cover common layouts.
    for (region, raw) in [
        ("IT", "06 6982 0000"),
        ("IT", "+39 333 123 4567"),
        ("BR", "(11) 98765-4321"),
        ("BR", "(21) 3456-7890"),
        ("US", "(415) 555-2671"),
        ("GB", "020 7946 0958"),
        ("DE", "030 901820"),
        ("MX", "55 1234 5678"),
        ("PT", "912 345 678"),
    ] {
        let id = RegionId::from_str(region).expect("region");
        let n = phonenumber::parse(Some(id), raw).expect("parses");
        assert!(n.is_valid(), "{region} {raw}");
        let want = n.format().mode(phonenumber::Mode::E164).to_string();
        assert_eq!(e164(&n), want, "{region} {raw}");
    }
}

#[test]
fn masking_hides_the_number() {
    let shown = Masked("+5511987654321").to_string();
    assert!(shown.starts_with("+55***21#"), "{shown}");
    assert!(!shown.contains("98765"));
    let shown = Masked("maria@example.com").to_string();
    assert!(
        shown.starts_with("***@example.com#") && !shown.contains("maria"),
        "{shown}"
    );
}

//! RFC 3339 timestamps → unix seconds: a hand-written fast path for the common
//! `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` shape and jiff for everything else.

use contactscore_models::localtime::DAY;

/// Parse an RFC 3339 timestamp with an offset (or `Z`) into unix seconds, dropping any fraction
/// (rounding towards the past, so it also holds before 1970). Returns a short reason on failure.
pub(crate) fn parse_rfc3339(s: &str) -> Result<i64, String> {
    if let Some(t) = fast(s.as_bytes()) {
        return Ok(t);
    }
    // The longest RFC 3339 instant is 35 characters; the parser's error would repeat the input.
    if s.len() > 64 {
        return Err("too long for an RFC 3339 timestamp".to_owned());
    }
    match s.parse::<jiff::Timestamp>() {
        Ok(ts) => {
            let secs = ts.as_second();
            Ok(if ts.subsec_nanosecond() < 0 {
                secs - 1
            } else {
                secs
            })
        }
        Err(e) => Err(format!("not an RFC 3339 timestamp with offset: {e}")),
    }
}

fn digits2(b: &[u8], at: usize) -> Option<i64> {
    let (h, l) = (b[at].wrapping_sub(b'0'), b[at + 1].wrapping_sub(b'0'));
    (h < 10 && l < 10).then(|| i64::from(h) * 10 + i64::from(l))
}

/// The fast path; `None` means "let jiff decide" (never "invalid").
fn fast(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let year = digits2(b, 0)? * 100 + digits2(b, 2)?;
    let (month, day) = (digits2(b, 5)?, digits2(b, 8)?);
    let (hour, minute, second) = (digits2(b, 11)?, digits2(b, 14)?, digits2(b, 17)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
    }
    let offset = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (digits2(b, i + 1)?, digits2(b, i + 4)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * DAY + hour * 3600 + minute * 60 + second - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jiff_secs(s: &str) -> Option<i64> {
        s.parse::<jiff::Timestamp>().ok().map(|ts| {
            let secs = ts.as_second();
            if ts.subsec_nanosecond() < 0 {
                secs - 1
            } else {
                secs
            }
        })
    }

    #[test]
    fn fast_path_agrees_with_jiff() {
        let cases = [
            "2024-03-05T14:07:09Z",
            "2024-03-05T14:07:09.123Z",
            "2024-03-05T14:07:09.999999999-03:00",
            "2024-02-29T23:59:59+05:30",
            "1969-12-31T23:59:59.5Z",
            "2000-01-01T00:00:00-00:00",
            "1900-03-01T00:00:00Z",
            "2100-12-31T12:00:00+14:00",
        ];
        for s in cases {
            assert_eq!(fast(s.as_bytes()), jiff_secs(s), "{s}");
            assert!(
                fast(s.as_bytes()).is_some(),
                "{s} should take the fast path"
            );
        }
        // A deterministic sweep over many dates and offsets.
        let mut t: i64 = -2_000_000_000;
        while t < 4_000_000_000 {
            let ts = jiff::Timestamp::from_second(t).expect("in range");
            for off in [-10_800, 0, 19_800] {
                let tz = jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(off).unwrap());
                let s = ts.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
                assert_eq!(fast(s.as_bytes()), Some(t), "{s}");
            }
            t += 7_777_777;
        }
    }

    #[test]
    fn other_shapes_fall_back_to_jiff() {
        assert_eq!(parse_rfc3339("2024-03-05t14:07:09z"), Ok(1_709_647_629));
        assert_eq!(parse_rfc3339("2024-03-05 14:07:09Z"), Ok(1_709_647_629));
        assert_eq!(parse_rfc3339("2024-03-05T14:07:09+0000"), Ok(1_709_647_629));
        assert_eq!(parse_rfc3339("2024-03-05T14:07:09.5Z"), Ok(1_709_647_629));
    }

    #[test]
    fn garbage_is_rejected() {
        for s in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-03-05T14:07:09",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
        let long = format!("2024-03-05T14:07:09Z{}", "x".repeat(1 << 20));
        let why = parse_rfc3339(&long).expect_err("a megabyte");
        assert!(why.len() < 100, "{why:.200}");
    }
}

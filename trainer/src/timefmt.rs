//! Formatting unix seconds for manifests and reports.

/// RFC 3339 UTC for unix seconds (`1970-01-01T00:00:00Z` if out of range).
pub fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map_or_else(|_| "1970-01-01T00:00:00Z".to_owned(), |ts| ts.to_string())
}

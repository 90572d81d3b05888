//! Dates as feeds write them.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Dates as feeds write them: RFC 3339, RFC 2822 (with the usual sloppiness), and a few bare forms.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    // "Tue, 10 Jun 2003 04:00:00 GMT" variants chrono rejects: named zones, missing weekday, "UT".
    let cleaned = s
        .replace(" UTC", " +0000")
        .replace(" GMT", " +0000")
        .replace(" UT", " +0000")
        .replace(" Z", " +0000");
    if let Ok(d) = DateTime::parse_from_rfc2822(&cleaned) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%a, %d %b %Y %H:%M %z",
        "%d %b %Y %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&cleaned, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    // No zone given: take it as UTC.
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    None
}

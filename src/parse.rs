//! Bytes → feed-rs's feed model, with one repair-and-retry pass for common breakage.
//!
//! feed-rs rejects a whole feed for one bare `&`, a control character or an `<rss>` whose version it does
//! not know. Real feeds have all three, so on failure the document is repaired and parsed once more; the
//! error of the first attempt is reported if the repair does not help.

use chrono::{DateTime, NaiveDateTime, Utc};
use feed_rs::model::Feed;

#[derive(Debug, thiserror::Error)]
#[error("not a feed: {0}")]
pub struct ParseError(pub String);

/// Parses RSS 0.9x/1.0/2.0, Atom or JSON Feed.
pub fn parse_feed(body: &[u8], base: Option<&str>) -> Result<Feed, ParseError> {
    match parse_once(body, base) {
        Ok(feed) => Ok(feed),
        Err(first) => match repair(body) {
            Some(fixed) => parse_once(&fixed, base).map_err(|_| first),
            None => Err(first),
        },
    }
}

fn parse_once(body: &[u8], base: Option<&str>) -> Result<Feed, ParseError> {
    feed_rs::parser::Builder::new()
        .base_uri(base)
        // Leave ids empty where the feed has none: normalize mints syndic's own stable keys.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(parse_date)
        .build()
        .parse(body)
        .map_err(|e| ParseError(e.to_string()))
}

/// Returns a repaired copy of an XML document, or `None` when nothing needed repair.
fn repair(body: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if !trimmed.starts_with('<') {
        return None;
    }
    let mut out = String::with_capacity(trimmed.len() + 64);
    for (i, c) in trimmed.char_indices() {
        match c {
            // XML 1.0 forbids most C0 controls even as references.
            '\u{0}'..='\u{8}'
            | '\u{b}'
            | '\u{c}'
            | '\u{e}'..='\u{1f}'
            | '\u{fffe}'
            | '\u{ffff}' => {}
            '&' if !starts_entity(&trimmed[i + 1..]) => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    // An <rss> root with a version feed-rs does not list ("2.01", "0.94", none): treat it as 2.0.
    if let Some(start) = out.find("<rss")
        && let Some(end) = out[start..].find('>').map(|e| start + e)
    {
        let tag = &out[start..end];
        if !tag.contains("version=\"2.0\"") && !tag.contains("version='2.0'") {
            let mut fixed_tag = String::from("<rss version=\"2.0\"");
            let rest = strip_attr(&tag[4..], "version");
            fixed_tag.push_str(&rest);
            out.replace_range(start..end, &fixed_tag);
        }
    }
    (out.as_bytes() != body).then(|| out.into_bytes())
}

fn starts_entity(s: &str) -> bool {
    let end = match s.find(';') {
        Some(e) if e > 0 && e <= 32 => e,
        _ => return false,
    };
    let name = &s[..end];
    if let Some(num) = name.strip_prefix('#') {
        if let Some(hex) = num.strip_prefix(['x', 'X']) {
            return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
        }
        return !num.is_empty() && num.chars().all(|c| c.is_ascii_digit());
    }
    name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Removes ` name="…"` / ` name='…'` from an attribute list.
fn strip_attr(attrs: &str, name: &str) -> String {
    let mut out = attrs.to_string();
    for q in ['"', '\''] {
        let needle = format!("{name}={q}");
        if let Some(s) = out.find(&needle)
            && let Some(e) = out[s + needle.len()..].find(q)
        {
            out.replace_range(s..s + needle.len() + e + 1, "");
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_families() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description><item><title>a</title><link>http://x/a</link></item></channel></rss>"#;
        assert_eq!(parse_feed(rss, None).unwrap().entries.len(), 1);
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2026-11-27T10:00:00Z</updated><entry><id>urn:e</id><title>e</title><updated>2026-11-27T10:00:00Z</updated></entry></feed>"#;
        assert_eq!(parse_feed(atom, None).unwrap().entries[0].id, "urn:e");
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","title":"j","url":"http://x/j"}]}"#;
        assert_eq!(parse_feed(json, None).unwrap().entries.len(), 1);
    }

    #[test]
    fn entries_without_guid_keep_an_empty_id() {
        let rss = br#"<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>"#;
        assert_eq!(parse_feed(rss, None).unwrap().entries[0].id, "");
    }

    #[test]
    fn repairs_bare_ampersands_controls_and_odd_versions() {
        let rss = "<rss version=\"2.01\"><channel><title>A & B\u{1}</title><item><title>Q&A &amp; more</title></item></channel></rss>";
        let feed = parse_feed(rss.as_bytes(), None).unwrap();
        assert_eq!(feed.title.unwrap().content, "A & B");
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "Q&A & more"
        );
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = parse_feed(b"<html><body>hello</body></html>", None).unwrap_err();
        assert!(e.to_string().starts_with("not a feed"), "{e}");
        assert!(parse_feed(b"\x00\x01binary", None).is_err());
        assert!(parse_feed(b"", None).is_err());
    }

    #[test]
    fn dates() {
        let want = "2026-11-02T09:30:00Z".parse::<DateTime<Utc>>().unwrap();
        for s in [
            "2026-11-02T09:30:00Z",
            "Mon, 02 Nov 2026 09:30:00 +0000",
            "Mon, 02 Nov 2026 09:30:00 GMT",
            "02 Nov 2026 09:30:00 UT",
            "2026-11-02 09:30:00",
            "2026-11-02T10:30:00+01:00",
        ] {
            assert_eq!(parse_date(s), Some(want), "{s}");
        }
        assert_eq!(parse_date("yesterday"), None);
    }
}

//! Bytes → feed-rs's feed model, with a transcoding pre-pass and one repair-and-retry pass.
//!
//! Transcoding: feed-rs (through quick-xml) only reads ASCII-compatible encodings, ignores the HTTP
//! charset and panics on some UTF-16 documents, so every XML document is handed over as UTF-8: a BOM
//! wins, then the XML declaration, then the HTTP `charset`, then UTF-8 if valid, else Windows-1252 (what
//! undeclared "Latin-1" feeds really are).
//!
//! Repair: feed-rs rejects a whole feed for one bare `&`, a control character or an `<rss>` whose version
//! it does not know. Real feeds have all three, so on failure the document is repaired and parsed once
//! more; the error of the first attempt is reported if the repair does not help.

mod atom;
mod dates;
mod discovery;
mod encoding;
mod json;
mod rdf;
mod repair;
mod rss;

use std::borrow::Cow;

use feed_rs::model::Feed;

use atom::{atom_text_fixes, atom03_to_10};
use encoding::to_utf8;
use json::with_json_images;
use rdf::rdf_fixes;
use repair::{emails_apart, repair, without_declarations};
use rss::with_rss_extras;

pub use dates::parse_date;
pub use discovery::{announced_feeds, feed_hint, looks_like_html};
pub use encoding::charset_of;

#[derive(Debug, thiserror::Error)]
#[error("not a feed: {0}")]
pub struct ParseError(pub String);

/// Parses RSS 0.9x/1.0/2.0, Atom or JSON Feed. `http_charset` is the `charset` of the HTTP
/// `Content-Type`, if any.
pub fn parse_feed(
    body: &[u8],
    base: Option<&str>,
    http_charset: Option<&str>,
) -> Result<Feed, ParseError> {
    let decoded = to_utf8(body, http_charset);
    let mut body = without_declarations(&decoded);
    if let Some(spaced) = emails_apart(&body) {
        body = Cow::Owned(spaced);
    }
    let atom03 = match atom03_to_10(&body) {
        Some(upgraded) => {
            body = Cow::Owned(upgraded);
            true
        }
        None => false,
    };
    if let Some(fixed) = atom_text_fixes(&body, atom03) {
        body = Cow::Owned(fixed);
    }
    if let Some(fixed) = rdf_fixes(&body) {
        body = Cow::Owned(fixed);
    }
    match parse_once(&body, base) {
        Ok(feed) => Ok(with_json_images(with_rss_extras(feed, &body), &body)),
        Err(first) => match repair(&body) {
            Some(fixed) => parse_once(&fixed, base)
                .map(|feed| with_rss_extras(feed, &fixed))
                .map_err(|_| first),
            None => Err(first),
        },
    }
}

/// Whether `needle` occurs in `hay` (SIMD search: documents run to megabytes).
pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The trimmed, unescaped value of an element's attribute by local name (any case, any prefix);
/// `None` when it is missing or blank.
pub(crate) fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref().eq_ignore_ascii_case(name))
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parse_once(body: &[u8], base: Option<&str>) -> Result<Feed, ParseError> {
    let parse = || {
        feed_rs::parser::Builder::new()
            .base_uri(base)
            // Leave ids empty where the feed has none: normalize mints syndic's own stable keys.
            .id_generator(|_, _, _| String::new())
            .sanitize_content(false)
            .timestamp_parser(parse_date)
            .build()
            .parse(body)
            .map_err(|e| ParseError(e.to_string()))
    };
    // A panic in the parser libraries is their bug, but a hostile document must not take a refresh
    // (or the corpus tool) down with it: it becomes this document's error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|_| {
        Err(ParseError(
            "not a feed: the XML parser failed on this document".into(),
        ))
    })
}

#[cfg(test)]
mod tests;

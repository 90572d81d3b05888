//! feed-rs's model → syndic's [`Item`]: stable keys, canonical URLs, clean text, sanitized HTML.
//!
//! Everything here is pure so it can be tested without I/O. The item key must be identical on every poll
//! of the same entry: it derives from the entry's own id (guid / Atom id / JSON Feed id), else its canonical
//! link, else a hash of title and content. feed-rs's generated ids are never used (see `ingest::parse`).

mod html;
mod media;
mod urls;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{FeedInfo, Item};
use crate::text::hex;

use html::{text_of, text_of_clean_html};
use media::{enclosures, image};

pub use html::{clean_text, html_to_text, sanitize_html, truncate_chars};
pub use urls::canonical_url;

/// Longest plain-text summary kept per item, in characters.
const SUMMARY_CHARS: usize = 600;
/// Longest headline kept, in characters (cut at a word, with an ellipsis).
const TITLE_CHARS: usize = 300;
/// Longest HTML content read per item, in bytes (cut at a character; sanitizing closes open tags).
const CONTENT_BYTES: usize = 256 * 1024;
/// Longest author name, category name and stored guid, in characters; most categories per item.
const NAME_CHARS: usize = 200;
const GUID_CHARS: usize = 1000;
const MAX_CATEGORIES: usize = 32;
/// Longest article URL kept, in bytes.
const URL_BYTES: usize = 4096;

/// Converts a parsed feed. `base` is the URL the document was fetched from.
pub fn normalize(feed: &Feed, base: &Url) -> (FeedInfo, Vec<Item>) {
    let (info, items, _) = normalize_limited(feed, base, usize::MAX);
    (info, items)
}

/// As [`normalize`], taking at most `max_entries` entries: the newest by their dates (entries without a
/// date count as older than any dated one, in document order), kept in document order. Also returns
/// how many entries were left out.
pub fn normalize_limited(
    feed: &Feed,
    base: &Url,
    max_entries: usize,
) -> (FeedInfo, Vec<Item>, usize) {
    let total = feed.entries.len();
    if total <= max_entries {
        let (info, items) = normalize_entries(feed, feed.entries.iter(), base);
        return (info, items, 0);
    }
    let mut order: Vec<usize> = (0..total).collect();
    // Stable: equal dates (and undated entries) keep their document order.
    order.sort_by_key(|&i| {
        let e = &feed.entries[i];
        std::cmp::Reverse(e.published.or(e.updated))
    });
    order.truncate(max_entries);
    order.sort_unstable();
    let (info, items) = normalize_entries(feed, order.iter().map(|&i| &feed.entries[i]), base);
    (info, items, total - max_entries)
}

fn normalize_entries<'a>(
    feed: &Feed,
    entries: impl Iterator<Item = &'a Entry>,
    base: &Url,
) -> (FeedInfo, Vec<Item>) {
    let info = FeedInfo {
        title: feed.title.as_ref().map(text_of).filter(|t| !t.is_empty()),
        site_url: feed
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .and_then(|l| canonical_url(&l.href, Some(base))),
        updated: feed.updated.filter(plausible),
    };
    let mut items: Vec<Item> = Vec::new();
    let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in entries {
        if let Some(item) = normalize_entry(entry, base) {
            // A feed listing the same entry twice yields one item (the first, usually the newest).
            if keys.insert(item.key.clone()) {
                items.push(item);
            }
        }
    }
    (info, items)
}

fn normalize_entry(entry: &Entry, feed_base: &Url) -> Option<Item> {
    // xml:base on the entry, if any, overrides the document URL.
    let base = entry
        .base
        .as_deref()
        .and_then(|b| feed_base.join(b).ok())
        .unwrap_or_else(|| feed_base.clone());
    let url = entry_link(entry)
        .and_then(|href| canonical_url(href, Some(&base)))
        // RSS guids with isPermaLink are often the only link.
        .or_else(|| {
            (entry.id.starts_with("http://") || entry.id.starts_with("https://"))
                .then(|| canonical_url(&entry.id, None))
                .flatten()
        });
    let content_raw = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(|b| cut_bytes(b, CONTENT_BYTES).to_string());
    let summary_raw = entry
        .summary
        .as_ref()
        .map(|s| cut_bytes(&s.content, CONTENT_BYTES).to_string());
    // Sanitize first: when the summary's source is the sanitized HTML (no separate content), its text
    // is read off the sanitizer's well-formed output instead of parsing the HTML a second time.
    let sanitized = content_raw
        .as_deref()
        .or(summary_raw.as_deref())
        .map(|html| sanitize_html(html, &base));
    let summary_text = match (&summary_raw, &content_raw) {
        (Some(s), Some(_)) => html_to_text(s),
        _ => sanitized
            .as_deref()
            .map(text_of_clean_html)
            .unwrap_or_default(),
    };
    let summary = truncate_chars(&summary_text, SUMMARY_CHARS);
    let mut title = entry
        .title
        .as_ref()
        .map(|t| {
            truncate_chars(
                &html_to_text(cut_bytes(&t.content, CONTENT_BYTES)),
                TITLE_CHARS,
            )
        })
        .unwrap_or_default();
    if title.is_empty() {
        // Titleless entries (allowed in RSS) borrow the start of their summary.
        title = truncate_chars(&summary, 100);
    }
    if title.is_empty() {
        // Still empty with no link: a thin entry (see `Item::is_thin`).
        title = url.clone().unwrap_or_default();
    }
    let content_html = sanitized.filter(|h| !h.trim().is_empty());

    let guid = Some(entry.id.trim()).filter(|g| !g.is_empty());
    // The key hashes the whole guid (stable); the stored copy is cut.
    let key = item_key(guid, url.as_deref(), &title, content_html.as_deref());
    let guid = guid.map(|g| truncate_chars(g, GUID_CHARS));
    let author = author_of(entry);
    let categories = categories_of(entry);
    let updated = entry.updated;
    let media = enclosures(entry, &base);
    Some(Item {
        key,
        guid,
        url,
        title,
        summary,
        content_html,
        author,
        categories,
        image: image(entry, &base, &media),
        enclosures: media,
        published: entry.published.or(updated).filter(plausible),
        updated: updated.filter(plausible),
    })
}

/// The entry's first author name, cleaned: an RSS "me@example.com (Name)" gives "Name", and a
/// "Name (me@example.com)" keeps the name (syndic republishes no addresses).
fn author_of(entry: &Entry) -> Option<String> {
    entry
        .authors
        .iter()
        .filter_map(|p| {
            p.name.as_deref().map(|n| {
                let n = clean_text(n);
                // RSS "me@example.com (Name)" leaves "(Name)"; "Name (me@example.com)" keeps the
                // name (syndic republishes no addresses).
                let n = n
                    .strip_prefix('(')
                    .and_then(|n| n.strip_suffix(')'))
                    .unwrap_or(&n);
                let n = match n.strip_suffix(')').and_then(|a| a.rsplit_once(" (")) {
                    Some((name, email)) if email.contains('@') && !name.trim().is_empty() => name,
                    _ => n,
                };
                truncate_chars(n.trim(), NAME_CHARS)
            })
        })
        .find(|n| !n.is_empty())
}

/// The entry's categories, at most [`MAX_CATEGORIES`], each once whatever its case.
fn categories_of(entry: &Entry) -> Vec<String> {
    let mut categories: Vec<String> = Vec::new();
    // An Atom category's label ("The economy") is for people, its term ("economy") what section rules
    // name: both are kept (once, whatever the case).
    for c in entry.categories.iter().take(MAX_CATEGORIES) {
        for name in c.label.as_deref().into_iter().chain([c.term.as_str()]) {
            let name = truncate_chars(&clean_text(name), NAME_CHARS);
            if !name.is_empty()
                && !categories
                    .iter()
                    .any(|k| k.to_lowercase() == name.to_lowercase())
            {
                categories.push(name);
            }
        }
    }
    categories
}

/// A date a feed could mean: from 1970 to 2200 (year 1 or 9999 is a placeholder or garbage, and
/// would be republished as such).
fn plausible(t: &DateTime<Utc>) -> bool {
    (0..7_258_118_400).contains(&t.timestamp())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The article link: the first `alternate` (or rel-less) link, else the first link.
fn entry_link(entry: &Entry) -> Option<&str> {
    entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        // A media file is no article page (see `enclosures`).
        .or_else(|| {
            entry
                .links
                .iter()
                .find(|l| l.rel.as_deref() != Some("enclosure"))
        })
        .map(|l| l.href.as_str())
}

/// Stable key: the entry id, else the canonical URL, else title + content.
pub fn item_key(
    guid: Option<&str>,
    url: Option<&str>,
    title: &str,
    content: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    match (guid, url) {
        (Some(g), _) => {
            h.update(b"id\0");
            h.update(g.as_bytes());
        }
        (None, Some(u)) => {
            h.update(b"url\0");
            h.update(u.as_bytes());
        }
        (None, None) => {
            h.update(b"text\0");
            h.update(title.as_bytes());
            h.update(b"\0");
            h.update(content.unwrap_or("").as_bytes());
        }
    }
    hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests;

//! feed-rs's model → syndic's [`Item`]: stable keys, canonical URLs, clean text, sanitized HTML.
//!
//! Everything here is pure so it can be tested without I/O. The item key must be identical on every poll
//! of the same entry: it derives from the entry's own id (guid / Atom id / JSON Feed id), else its canonical
//! link, else a hash of title and content. feed-rs's generated ids are never used (see parse.rs).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, Text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Enclosure, FeedInfo, Item, MAX_ENCLOSURES};
use crate::text::{hex, is_xml_illegal, strip_xml_illegal};

/// Query parameters that only track the reader; removed from canonical URLs.
const TRACKING_PARAMS: &[&str] = &["fbclid", "gclid", "mc_cid", "mc_eid"];

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
    let author = entry
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
        .find(|n| !n.is_empty());
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
    let updated = entry.updated;
    Some(Item {
        key,
        guid,
        url,
        title,
        summary,
        content_html,
        author,
        categories,
        enclosures: enclosures(entry, &base),
        published: entry.published.or(updated).filter(plausible),
        updated: updated.filter(plausible),
    })
}

/// The entry's media: Media RSS objects (which is how feed-rs reads RSS `<enclosure>`, `media:content`
/// and JSON Feed attachments), their thumbnails when an object has no content, and Atom
/// `link rel="enclosure"`; each URL once.
fn enclosures(entry: &Entry, base: &Url) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    let mut add = |href: &str, mime: Option<String>, length: Option<u64>| {
        if out.len() >= MAX_ENCLOSURES {
            return;
        }
        let Some(url) = media_url(href, base) else {
            return;
        };
        let length = length.filter(|n| *n > 0);
        if let Some(known) = out.iter_mut().find(|e| e.url == url) {
            // The same file twice (an enclosure and its media:content): keep what either says.
            known.length = known.length.or(length);
            return;
        }
        let mime_type = mime
            .map(|m| clean_text(&m).to_ascii_lowercase())
            .filter(|m| is_mime(m))
            .unwrap_or_else(|| guess_mime(&url).to_string());
        out.push(Enclosure {
            url,
            mime_type,
            length,
        });
    };
    for m in &entry.media {
        for c in &m.content {
            if let Some(u) = &c.url {
                add(
                    u.as_str(),
                    c.content_type.as_ref().map(|t| t.to_string()),
                    c.size,
                );
            }
        }
        if m.content.is_empty() {
            for t in &m.thumbnails {
                add(&t.image.uri, None, None);
            }
        }
    }
    for l in &entry.links {
        if l.rel.as_deref() == Some("enclosure") {
            add(&l.href, l.media_type.clone(), l.length);
        }
    }
    // Audio and video first: RSS carries one enclosure, and a podcast's is its episode, not an image.
    out.sort_by_key(|e| !(e.mime_type.starts_with("audio/") || e.mime_type.starts_with("video/")));
    out
}

/// An absolute http(s) media URL without credentials or fragment (its query kept: media hosts often
/// need it).
fn media_url(href: &str, base: &Url) -> Option<String> {
    Some(http_url(href, Some(base))?.to_string()).filter(|u| u.len() <= URL_BYTES)
}

/// `type/subtype`, in the characters MIME allows.
fn is_mime(m: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    matches!(m.split_once('/'), Some((a, b)) if ok(a) && ok(b))
}

/// A MIME type from a media URL's file extension (what podcast apps need when a feed leaves it out).
fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
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

/// `href` as an absolute http(s) URL (resolved against `base`), without credentials (a leak, never
/// part of an address) or fragment.
fn http_url(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(b) => b.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Some(url)
}

/// Canonical form of an article URL: absolute http(s), lower-case scheme and host (the `url` crate does
/// that and drops default ports), no fragment, no tracking parameters.
pub fn canonical_url(href: &str, base: Option<&Url>) -> Option<String> {
    let mut url = http_url(href, base)?;
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string()).filter(|u| u.len() <= URL_BYTES)
}

/// Text of a feed-rs `Text`: plain text stays as is, HTML is reduced to its text.
fn text_of(t: &Text) -> String {
    html_to_text(&t.content)
}

/// HTML (or text that may carry entities and tags) → one line of plain text.
pub fn html_to_text(html: &str) -> String {
    // Without tags (and without NUL or a byte-order mark, which the HTML parser drops) the text needs
    // no parser.
    if !html.contains(['<', '&', '\0', '\u{feff}']) {
        return clean_text(html);
    }
    if !html.contains(['<', '\0', '\u{feff}'])
        && let Some(text) = decode_common_entities(html)
    {
        return clean_text(&text);
    }
    text_by_parser(html)
}

/// [`html_to_text`] through the HTML parser, which knows every entity and tag.
fn text_by_parser(html: &str) -> String {
    static STRIPPER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let stripper = STRIPPER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        // Drop script/style bodies entirely instead of keeping their text.
        b.clean_content_tags(["script", "style", "template"].into_iter().collect());
        b
    });
    // ammonia parses with html5ever (every named entity decoded) and re-serializes the text escaped;
    // undo that escaping to get plain text.
    let escaped = stripper.clean(html).to_string();
    clean_text(
        &escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&"),
    )
}

/// Text whose only markup is the XML entities and numeric character references, decoded; `None` when
/// it has any other entity (left to the HTML parser, which knows them all). An `&` not followed by a
/// letter, digit or `#` ("markets & banks", unlike "Q&A") cannot start a reference: it is text, as
/// HTML reads it.
fn decode_common_entities(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        if !tail
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'#')
        {
            out.push('&');
            rest = tail;
            continue;
        }
        let end = tail.find(';').filter(|e| *e <= 10)?;
        let name = &tail[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    name.strip_prefix('#')?.parse().ok()?
                };
                // NUL and the C1 range (which HTML reads as Windows-1252: &#146; is ’) are left to
                // the parser.
                char::from_u32(code).filter(|c| *c != '\0' && !('\u{80}'..='\u{9f}').contains(c))?
            }
        };
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The text of HTML as the sanitizer writes it (well-formed tags, only `&amp;`, `&lt;`, `&gt;`, `&quot;`
/// and `&nbsp;` escaped, no script or style): tags dropped, entities decoded, whitespace collapsed.
fn text_of_clean_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        match rest[at..].find('>') {
            Some(end) => rest = &rest[at + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    let text = if out.contains('&') {
        decode_common_entities(&out).unwrap_or_else(|| html_to_text(&out))
    } else {
        out
    };
    clean_text(&text)
}

/// Collapses whitespace and removes control characters.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// At most `max` characters, cut at a word with an ellipsis.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => {
            // Prefer a word boundary, then mark the cut.
            let head = &s[..cut];
            let head = head.rfind(' ').map_or(head, |sp| &head[..sp]);
            format!("{}…", head.trim_end())
        }
    }
}

/// Sanitizes HTML for republishing: ammonia's safe defaults, links made absolute against `base`.
pub fn sanitize_html(html: &str, base: &Url) -> String {
    // Plain text (no tag, no reference, none of the characters the parser rewrites: NUL, CR, a
    // byte-order mark) comes out of the sanitizer as itself with `>` and no-break spaces escaped.
    if !html.contains(['<', '&', '\0', '\r', '\u{feff}']) {
        let mut out = String::with_capacity(html.len() + 8);
        for c in html.chars() {
            match c {
                '>' => out.push_str("&gt;"),
                '\u{a0}' => out.push_str("&nbsp;"),
                c if is_xml_illegal(c) => {}
                c => out.push(c),
            }
        }
        return out;
    }
    sanitize_by_parser(html, base)
}

/// [`sanitize_html`] through ammonia.
fn sanitize_by_parser(html: &str, base: &Url) -> String {
    thread_local! {
        // The document's base, read by the policy's URL rewriter during `clean`.
        static BASE: std::cell::RefCell<Option<Url>> = const { std::cell::RefCell::new(None) };
        // Building ammonia's default policy allocates its tag and attribute sets: once per thread.
        static CLEANER: ammonia::Builder<'static> = {
            let mut b = ammonia::Builder::default();
            b.url_relative(ammonia::UrlRelative::Custom(Box::new(absolute)));
            b.link_rel(Some("noopener noreferrer"));
            b
        };
    }
    /// A relative link made absolute against the document's base (`None` removes it).
    fn absolute(url: &str) -> Option<std::borrow::Cow<'_, str>> {
        BASE.with(|base| {
            base.borrow()
                .as_ref()
                .and_then(|b| b.join(url).ok())
                .map(|u| std::borrow::Cow::Owned(u.to_string()))
        })
    }
    BASE.with(|b| {
        let mut b = b.borrow_mut();
        if b.as_ref() != Some(base) {
            *b = Some(base.clone());
        }
    });
    CLEANER.with(|cleaner| strip_xml_illegal(&cleaner.clean(html).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse::parse_feed;

    fn base() -> Url {
        Url::parse("https://news.example.com/feeds/world.xml").unwrap()
    }

    fn rss(items: &str) -> Feed {
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>t</title><link>https://n.example/</link><description>d</description>{items}</channel></rss>"
        );
        parse_feed(doc.as_bytes(), None, None).unwrap()
    }

    #[test]
    fn thin_entries_are_read_but_marked_and_author_forms_are_names() {
        let feed = rss(concat!(
            "<item><author>me@example.com (Example editor)</author><pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>",
            "<item xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><title>T</title><dc:creator>Ed Itor (ed@example.com)</dc:creator></item>",
        ));
        let (_, items) = normalize(&feed, &base());
        assert_eq!(items.len(), 2);
        assert!(items[0].is_thin());
        assert_eq!(items[0].author.as_deref(), Some("Example editor"));
        assert!(items[0].published.is_some());
        assert!(!items[1].is_thin());
        assert_eq!(items[1].author.as_deref(), Some("Ed Itor"));
    }

    #[test]
    fn enclosures_are_absolute_typed_and_deduplicated() {
        let feed = rss(concat!(
            r#"<item xmlns:media="http://search.yahoo.com/mrss/"><title>Pod</title><link>https://n.example/p</link>"#,
            r#"<enclosure url="/audio/ep1.mp3" length="42" type=""/>"#,
            r#"<media:content url="https://user:pw@cdn.example/a.JPG?w=600" medium="image"/>"#,
            r#"<media:content url="javascript:alert(1)" type="image/png"/>"#,
            "</item>"
        ));
        let (_, items) = normalize(&feed, &base());
        assert_eq!(
            items[0].enclosures,
            vec![
                Enclosure {
                    url: "https://news.example.com/audio/ep1.mp3".into(),
                    mime_type: "audio/mpeg".into(),
                    length: Some(42),
                },
                Enclosure {
                    url: "https://cdn.example/a.JPG?w=600".into(),
                    mime_type: "image/jpeg".into(),
                    length: None,
                },
            ]
        );
        let atom = parse_feed(
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id><updated>2026-11-27T10:00:00Z</updated>
            <entry><id>e</id><title>E</title><updated>2026-11-27T10:00:00Z</updated>
            <link href="https://n.example/e"/><link rel="enclosure" href="https://n.example/e.ogg#t=3"/>
            <link rel="enclosure" href="https://n.example/e.ogg" length="7"/></entry></feed>"#,
            None,
            None,
        )
        .unwrap();
        let (_, items) = normalize(&atom, &base());
        assert_eq!(items[0].url.as_deref(), Some("https://n.example/e"));
        assert_eq!(items[0].enclosures.len(), 1, "{:?}", items[0].enclosures);
        assert_eq!(items[0].enclosures[0].mime_type, "audio/ogg");
        assert_eq!(items[0].enclosures[0].length, Some(7));
    }

    #[test]
    fn a_capped_document_keeps_its_newest_entries_in_document_order() {
        let feed = rss(concat!(
            "<item><title>undated</title><link>https://n.example/u</link></item>",
            "<item><title>old</title><link>https://n.example/o</link><pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate></item>",
            "<item><title>new</title><link>https://n.example/n</link><pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>",
            "<item><title>mid</title><link>https://n.example/m</link><pubDate>Sun, 15 Nov 2026 10:00:00 +0000</pubDate></item>",
        ));
        let (_, items, left_out) = normalize_limited(&feed, &base(), 2);
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!((titles, left_out), (vec!["new", "mid"], 2));
        let (_, items, left_out) = normalize_limited(&feed, &base(), 10);
        assert_eq!((items.len(), left_out), (4, 0));
    }

    #[test]
    fn hostile_fields_are_cut_stripped_or_dropped() {
        let long = "word ".repeat(1000);
        let feed = rss(&format!(
            "<item><title>{long}</title><link>https://u:p@n.example/a</link><author>{long}</author><pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>"
        ));
        let (_, items) = normalize(&feed, &base());
        let it = &items[0];
        assert!(it.title.chars().count() <= TITLE_CHARS + 1 && it.title.ends_with("word…"));
        assert_eq!(it.url.as_deref(), Some("https://n.example/a"));
        assert_eq!(it.published, None);
        assert!(it.author.as_ref().unwrap().chars().count() <= NAME_CHARS + 1);
        assert_eq!(
            canonical_url("https://user@n.example/x", None).unwrap(),
            "https://n.example/x"
        );
        assert_eq!(canonical_url("javascript:alert(1)", None), None);
        assert_eq!(
            canonical_url(&format!("https://n.example/{}", "a".repeat(5000)), None),
            None
        );
        assert_eq!(cut_bytes("héllo", 2), "h");
    }

    #[test]
    fn canonical_urls() {
        let c = |s| canonical_url(s, Some(&base()));
        assert_eq!(
            c("HTTPS://News.Example.COM:443/a/b?utm_source=x&id=3&fbclid=zz#frag").as_deref(),
            Some("https://news.example.com/a/b?id=3")
        );
        assert_eq!(
            c("/story/1?utm_medium=rss").as_deref(),
            Some("https://news.example.com/story/1")
        );
        assert_eq!(c("../x").as_deref(), Some("https://news.example.com/x"));
        assert_eq!(
            c("http://h.example:80/p?gclid=1&mc_cid=2&mc_eid=3").as_deref(),
            Some("http://h.example/p")
        );
        assert_eq!(c("mailto:x@example.com"), None);
        assert_eq!(c("javascript:alert(1)"), None);
    }

    #[test]
    fn titles_become_plain_text() {
        assert_eq!(
            html_to_text("  Tom &amp; Jerry <b>return</b>\n\t again "),
            "Tom & Jerry return again"
        );
        assert_eq!(
            html_to_text("Caf&eacute; &mdash; &#8220;open&#8221;&nbsp;now"),
            "Café — “open” now"
        );
        assert_eq!(html_to_text("a<script>alert(1)</script>b"), "ab");
        assert_eq!(html_to_text("x < y and y > z"), "x < y and y > z");
        assert_eq!(html_to_text("bell\u{7}char"), "bell char");
    }

    /// `count` strings of fewer than `max_pieces` pieces drawn from `alphabet` (xorshift from `seed`).
    fn random_strings<'a>(
        alphabet: &'a [&'a str],
        seed: u64,
        count: usize,
        max_pieces: u64,
    ) -> impl Iterator<Item = String> + 'a {
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        (0..count).map(move |_| {
            let len = next() % max_pieces;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
    }

    /// Plain text skips the sanitizer and comes out as the sanitizer would write it.
    #[test]
    fn plain_text_sanitizes_like_the_parser() {
        let base = base();
        let alphabet = [
            "a", "Z", " ", "  ", "\n", "\t", ">", "\"", "'", "=", "/", "é", "日本", "\u{a0}",
            "\u{7}", "\u{1b}", "\u{fffe}", "\u{feff}", "\u{200b}", "🙂", "\u{85}", "\u{2028}",
        ];
        for s in random_strings(&alphabet, 0x2545_f491_4f6c_dd1d, 5_000, 10) {
            assert_eq!(
                sanitize_html(&s, &base),
                sanitize_by_parser(&s, &base),
                "{s:?}"
            );
        }
    }

    /// The shortcuts `html_to_text` takes for text without tags give what the HTML parser gives, on
    /// every short string over an alphabet of entity pieces, bare ampersands and odd characters.
    #[test]
    fn text_shortcuts_agree_with_the_html_parser() {
        let alphabet = [
            "&", "#", "x", "X", ";", "amp", "lt", "gt", "quot", "apos", "nbsp", "copy", "eacute",
            "a", "Q", " ", "1", "3", "9", "12", "128", "x41", "xD800", "0", "\u{a0}", "é", "\r\n",
            "\t", "\u{7}", "\u{0}", ">", "\"", "'", "\u{feff}", "\u{85}",
        ];
        for s in [
            "&#128;",
            "&#x80;",
            "&#150; x",
            "&#159;",
            "&#160;",
            "&#0;",
            "&#xD800;",
            "&#1114112;",
            "&amp",
            "&copy 2024",
            "AT&T",
            "Q&A",
            "a & b",
            "&#",
            "&#;",
            "&#x;",
            "&;",
            "&&amp;",
            "&#65",
            "&#x41;&#X42;",
            "&nbsp;&nbsp;x",
            "1 &lt; 2",
        ] {
            assert_eq!(html_to_text(s), text_by_parser(s), "{s:?}");
        }
        for s in random_strings(&alphabet, 0x9e37_79b9_7f4a_7c15, 20_000, 9) {
            assert_eq!(html_to_text(&s), text_by_parser(&s), "{s:?}");
        }
    }

    #[test]
    fn sanitizes_content_and_absolutizes_links() {
        let h = sanitize_html(
            r#"<p onclick="x()">Hi <a href="/a">a</a><img src="i.png"><script>bad()</script></p>"#,
            &base(),
        );
        assert!(!h.contains("script") && !h.contains("onclick"), "{h}");
        assert!(h.contains(r#"href="https://news.example.com/a""#), "{h}");
        assert!(
            h.contains(r#"src="https://news.example.com/feeds/i.png""#),
            "{h}"
        );
    }

    #[test]
    fn keys_are_stable_and_fall_back() {
        let rss = br#"<rss version="2.0"><channel><title>t</title>
            <item><guid>abc</guid><title>One</title><link>/1?utm_source=a</link></item>
            <item><title>Two</title><link>https://news.example.com/2#top</link></item>
            <item><title>Three</title><description>only text</description></item>
        </channel></rss>"#;
        let feed = parse_feed(rss, None, None).unwrap();
        let (_, a) = normalize(&feed, &base());
        let (_, b) = normalize(&parse_feed(rss, None, None).unwrap(), &base());
        assert_eq!(a, b, "same document, same items");
        assert_eq!(a[0].key, item_key(Some("abc"), None, "", None));
        assert_eq!(a[0].url.as_deref(), Some("https://news.example.com/1"));
        assert_eq!(
            a[1].key,
            item_key(None, Some("https://news.example.com/2"), "", None)
        );
        assert_eq!(a[2].key, item_key(None, None, "Three", Some("only text")));
        // Editing the title of an entry with a guid keeps its key.
        let edited = String::from_utf8_lossy(rss).replace("One", "One, updated");
        let (_, c) = normalize(&parse_feed(edited.as_bytes(), None, None).unwrap(), &base());
        assert_eq!(c[0].key, a[0].key);
        assert_eq!(c[0].title, "One, updated");
    }

    #[test]
    fn summary_falls_back_to_content_and_is_truncated() {
        let long = "word ".repeat(400);
        let atom = format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id><updated>2026-11-27T10:00:00Z</updated>
            <entry><id>urn:1</id><title type="html">&lt;i&gt;Big&lt;/i&gt; news</title><updated>2026-11-27T10:00:00Z</updated>
            <content type="html">&lt;p&gt;{long}&lt;/p&gt;</content><link href="/n/1"/><category term="asia" label="Asia"/></entry></feed>"#
        );
        let (_, items) = normalize(&parse_feed(atom.as_bytes(), None, None).unwrap(), &base());
        let it = &items[0];
        assert_eq!(it.title, "Big news");
        assert!(it.summary.ends_with('…') && it.summary.chars().count() <= SUMMARY_CHARS + 1);
        assert_eq!(it.categories, vec!["Asia"]);
        assert_eq!(it.url.as_deref(), Some("https://news.example.com/n/1"));
        assert!(it.published.is_some());
    }
}

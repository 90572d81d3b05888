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

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use feed_rs::model::Feed;

use crate::text::is_xml_illegal;

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
        Ok(feed) => Ok(with_rss_extras(feed, &body)),
        Err(first) => match repair(&body) {
            Some(fixed) => parse_once(&fixed, base)
                .map(|feed| with_rss_extras(feed, &fixed))
                .map_err(|_| first),
            None => Err(first),
        },
    }
}

const ATOM_03: &str = "http://purl.org/atom/ns#";

/// An Atom 0.3 document rewritten as Atom 1.0, which feed-rs reads (it ignores elements in the 0.3
/// namespace, so 0.3 feeds came out empty): the namespace, the renamed elements (`issued` →
/// `published`, `modified` → `updated`, `tagline` → `subtitle`, `copyright` → `rights`) and text
/// constructs' MIME types (`text/html` → `html`, `application/xhtml+xml` → `xhtml`, `text/plain` →
/// `text`; `mode="escaped"` is what 1.0's `html` means). `None` when it is not Atom 0.3.
fn atom03_to_10(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static TAGS: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let declared = contains(body, ATOM_03.as_bytes());
    let draft = contains(body, b"<feed") && contains(body, b"version=");
    if !(declared || draft) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    // A `<feed version="0.x">` in some other namespace (pre-0.3 drafts called it echo, pie, necho) is
    // Atom 0.3 too: its namespace becomes 0.3's, then the rewrite below applies.
    let owned;
    let text = if declared {
        text
    } else {
        owned = draft_atom_namespace(text)?;
        owned.as_str()
    };
    let (renamed, text_constructs) =
        TAGS.get_or_init(|| {
            (
            regex::Regex::new(r"<(/?)((?:[A-Za-z_][\w.-]*:)?)(issued|modified|tagline|copyright)\b")
                .expect("valid"),
            regex::Regex::new(
                r"<((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights|info)(\s[^>]*)>",
            )
            .expect("valid"),
        )
        });
    let text = text.replace(ATOM_03, "http://www.w3.org/2005/Atom");
    let text = renamed.replace_all(&text, |c: &regex::Captures<'_>| {
        let new = match &c[3] {
            "issued" => "published",
            "modified" => "updated",
            "tagline" => "subtitle",
            _ => "rights",
        };
        format!("<{}{}{new}", &c[1], &c[2])
    });
    let text = text_constructs.replace_all(&text, |c: &regex::Captures<'_>| {
        let attrs = c[3]
            .replace("type=\"text/html\"", "type=\"html\"")
            .replace("type='text/html'", "type='html'")
            .replace("type=\"application/xhtml+xml\"", "type=\"xhtml\"")
            .replace("type='application/xhtml+xml'", "type='xhtml'")
            .replace("type=\"text/plain\"", "type=\"text\"")
            .replace("type='text/plain'", "type='text'")
            .replace("mode=\"escaped\"", "")
            .replace("mode='escaped'", "");
        format!("<{}{}{attrs}>", &c[1], &c[2])
    });
    Some(text.into_owned().into_bytes())
}

/// A document whose root is `<feed version="0.x" xmlns="...">` (not Atom 1.0) with its default
/// namespace replaced by Atom 0.3's; `None` for any other document.
fn draft_atom_namespace(text: &str) -> Option<String> {
    use std::sync::OnceLock;
    static ROOT: OnceLock<regex::Regex> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        regex::Regex::new(
            r#"^(\s*(?:<!--(?s:.*?)-->\s*|<\?(?s:.*?)\?>\s*|<!DOCTYPE[^>]*>\s*)*)<feed(\s[^>]*)>"#,
        )
        .expect("valid")
    });
    let c = root.captures(text)?;
    let attrs = &c[2];
    static VERSION: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let (version, xmlns) = VERSION.get_or_init(|| {
        (
            regex::Regex::new(r#"\sversion\s*=\s*["']0\.\d["']"#).expect("valid"),
            regex::Regex::new(r#"\sxmlns\s*=\s*("[^"]*"|'[^']*')"#).expect("valid"),
        )
    });
    if !version.is_match(attrs) || attrs.contains("http://www.w3.org/2005/Atom") {
        return None;
    }
    let new_attrs = if xmlns.is_match(attrs) {
        xmlns
            .replace(attrs, format!(" xmlns=\"{ATOM_03}\""))
            .into_owned()
    } else {
        format!("{attrs} xmlns=\"{ATOM_03}\"")
    };
    let whole = c.get(0).expect("the match");
    Some(format!(
        "{}<feed{new_attrs}>{}",
        &c[1],
        &text[whole.end()..]
    ))
}

/// Atom text constructs feed-rs refuses or misreads, rewritten: base64 text (0.3 `mode="base64"`, or a
/// 1.0 `type` that is neither text, HTML nor XML, such as `application/octet-stream`) decoded into
/// escaped HTML; an empty `type` dropped; and in Atom 0.3, inline markup with no type (what 0.3 calls
/// `mode="xml"`) kept as HTML instead of being cut at its first tag. `None` when nothing changes.
fn atom_text_fixes(body: &[u8], atom03: bool) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use std::sync::OnceLock;
    static CONSTRUCT: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let suspect = [&b"base64"[..], b"type=\"\"", b"type=''", b"/octet-stream"]
        .iter()
        .any(|needle| contains(body, needle));
    if !suspect && !atom03 {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let (construct, type_attr) = CONSTRUCT.get_or_init(|| {
        (
            regex::Regex::new(
                r"(?s)<((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights)(\s[^>]*)?>(.*?)</((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights)\s*>",
            )
            .expect("valid"),
            regex::Regex::new(r#"\stype\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid"),
        )
    });
    let mut changed = false;
    let out = construct.replace_all(text, |c: &regex::Captures<'_>| {
        let whole = c[0].to_string();
        if c[1] != c[5] || c[2] != c[6] {
            return whole;
        }
        let (prefix, name) = (&c[1], &c[2]);
        let attrs = c.get(3).map_or("", |m| m.as_str());
        let inner = &c[4];
        let mime = type_attr.captures(attrs).map(|t| {
            t.get(1)
                .or(t.get(2))
                .map_or("", |m| m.as_str())
                .trim()
                .to_ascii_lowercase()
        });
        let base64_mode = attrs.contains("mode=\"base64\"") || attrs.contains("mode='base64'");
        let binary = mime.as_deref().is_some_and(|m| {
            !m.is_empty()
                && !matches!(m, "text" | "html" | "xhtml")
                && !m.starts_with("text/")
                && !m.ends_with("+xml")
                && !m.ends_with("/xml")
        });
        let element = |body: &str| {
            let escaped = body
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<{prefix}{name} type=\"html\">{escaped}</{prefix}{name}>")
        };
        if base64_mode || binary {
            let compact: String = inner.split_whitespace().collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact.as_bytes())
                && let Ok(decoded) = String::from_utf8(bytes)
            {
                changed = true;
                return element(&decoded);
            }
            return whole;
        }
        if mime.as_deref() == Some("") {
            changed = true;
            let attrs = type_attr.replace(attrs, "");
            return format!("<{prefix}{name}{attrs}>{inner}</{prefix}{name}>");
        }
        if atom03
            && mime.is_none()
            && !attrs.contains("mode=")
            && inner.contains('<')
            && !inner.contains("<![CDATA[")
        {
            changed = true;
            return element(inner);
        }
        whole
    });
    changed.then(|| out.into_owned().into_bytes())
}

const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
/// The link given to RSS 1.0 items that have none (see [`rdf_fixes`]); not http, so normalize ignores it.
const NO_LINK: &str = "urn:syndic:no-link";

/// RSS 0.90 and 1.0 (RDF) documents as feed-rs reads them: 0.90's namespace becomes 1.0's (feed-rs knows
/// only 1.0), and an `<item>` without `<link>` gets one (its `rdf:about`, else a placeholder), because
/// feed-rs drops linkless items whole. `None` when nothing changes.
fn rdf_fixes(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static ITEM: OnceLock<(regex::Regex, regex::Regex, regex::Regex)> = OnceLock::new();
    let has = |needle: &str| contains(body, needle.as_bytes());
    let rss090 = has(RSS_090);
    let rss10 = has(&format!("\"{RSS_10}\"")) || has(&format!("'{RSS_10}'"));
    if !(rss090 || rss10) || !has("22-rdf-syntax-ns#") {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let text: Cow<'_, str> = if rss090 {
        Cow::Owned(text.replace(RSS_090, RSS_10))
    } else {
        Cow::Borrowed(text)
    };
    let (item, link, about) = ITEM.get_or_init(|| {
        (
            regex::Regex::new(r"(?s)<((?:[A-Za-z_][\w.-]*:)?)item(\s[^>]*)?>(.*?)</((?:[A-Za-z_][\w.-]*:)?)item\s*>")
                .expect("valid"),
            regex::Regex::new(r"<(?:[A-Za-z_][\w.-]*:)?link[\s>/]").expect("valid"),
            regex::Regex::new(r#"\s(?:[A-Za-z_][\w.-]*:)?about\s*=\s*(?:"([^"]*)"|'([^']*)')"#)
                .expect("valid"),
        )
    });
    let linkless = |c: &regex::Captures<'_>| c[1] == c[4] && !link.is_match(&c[3]);
    // Most RSS 1.0 documents have a link in every item: find that out without captures (an item's
    // tags cannot hold a `<link`, so the whole match has one exactly when its content does).
    if !rss090
        && !item
            .find_iter(&text)
            .filter(|m| !link.is_match(m.as_str()))
            .any(|m| item.captures(m.as_str()).is_some_and(|c| linkless(&c)))
    {
        return None;
    }
    let mut changed = rss090;
    let out = item.replace_all(&text, |c: &regex::Captures<'_>| {
        if !linkless(c) {
            return c[0].to_string();
        }
        changed = true;
        let attrs = c.get(2).map_or("", |m| m.as_str());
        let target = about
            .captures(attrs)
            .and_then(|a| a.get(1).or(a.get(2)))
            .map_or(NO_LINK.to_string(), |m| m.as_str().to_string());
        format!(
            "<{p}item{attrs}><{p}link>{target}</{p}link>{}</{p}item>",
            &c[3],
            p = &c[1]
        )
    });
    changed.then(|| out.into_owned().into_bytes())
}

const DUBLIN_CORE: &str = "http://purl.org/dc/elements/1.1/";

const DUBLIN_CORE_TERMS: &str = "http://purl.org/dc/terms/";

/// What feed-rs leaves out of an RSS item, read by a second pass over the document.
#[derive(Default)]
struct ItemExtras {
    /// `<dc:subject>` texts.
    subjects: Vec<String>,
    /// `<enclosure>` elements as `(url, length, type)`: feed-rs drops them when the item also has
    /// Media RSS content, and keeps none with a relative URL.
    enclosures: Vec<(String, Option<u64>, Option<String>)>,
    /// RSS 1.0 `rdf:about`: the item's URI, its id.
    about: Option<String>,
    /// `<dc:title>`, `<dc:author>` (not Dublin Core, but in use), `<dcterms:issued>`, `<dcterms:modified>`.
    title: Option<String>,
    author: Option<String>,
    issued: Option<String>,
    modified: Option<String>,
}

/// The channel's Dublin Core title and date (`dc:date` or `dcterms:modified`).
#[derive(Default)]
struct ChannelExtras {
    title: Option<String>,
    date: Option<String>,
}

/// Which element's text the pass is reading.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Subject,
    Title,
    Author,
    Issued,
    Modified,
    ChannelTitle,
    ChannelDate,
}

/// Adds what feed-rs leaves out of RSS documents: each item's `<dc:subject>` values to its categories,
/// its `<enclosure>`s to its links (as `rel="enclosure"`, the Atom way, which normalize reads with the
/// media), its `dc:title`, `dc:author`, `dcterms:issued` and `dcterms:modified` where feed-rs found no
/// title, author or dates; and the channel's `dc:title` and `dc:date`/`dcterms:modified` likewise.
/// Items and entries are matched by document order; when their counts differ no item gets anything.
fn with_rss_extras(mut feed: Feed, body: &[u8]) -> Feed {
    use feed_rs::model::FeedType;
    if !matches!(
        feed.feed_type,
        FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2
    ) {
        return feed;
    }
    // The second pass costs as much as a parse: only when the document has something for it.
    let wanted = |word: &[u8]| contains(body, word);
    let titles_missing = untitled(&feed.title) || feed.entries.iter().any(|e| untitled(&e.title));
    let undated = feed.updated.is_none() || feed.entries.iter().any(|e| e.published.is_none());
    let needed = wanted(b"subject")
        || wanted(b"enclosure")
        || wanted(b"about=")
        || wanted(b":author")
        || (titles_missing && wanted(b":title"))
        || (undated && (wanted(b":date") || wanted(b"issued") || wanted(b"modified")));
    if !needed {
        return feed;
    }
    let Some((channel, extras)) = rss_extras(body) else {
        return feed;
    };
    if untitled(&feed.title)
        && let Some(t) = channel.title
    {
        feed.title = Some(plain_text(t));
    }
    if feed.updated.is_none() {
        feed.updated = channel.date.as_deref().and_then(parse_date);
    }
    if extras.len() != feed.entries.len() {
        return feed;
    }
    for (entry, extra) in feed.entries.iter_mut().zip(extras) {
        for term in extra.subjects {
            if !entry.categories.iter().any(|c| c.term == term) {
                entry.categories.push(feed_rs::model::Category {
                    term,
                    scheme: None,
                    label: None,
                    subcategories: Vec::new(),
                });
            }
        }
        for (href, length, mime) in extra.enclosures {
            entry.links.push(feed_rs::model::Link {
                href,
                rel: Some("enclosure".into()),
                media_type: mime,
                href_lang: None,
                title: None,
                length,
                target: None,
            });
        }
        if untitled(&entry.title)
            && let Some(t) = extra.title
        {
            entry.title = Some(plain_text(t));
        }
        if entry.authors.is_empty()
            && let Some(a) = extra.author
        {
            entry.authors.push(feed_rs::model::Person {
                name: Some(a),
                uri: None,
                email: None,
                role: None,
            });
        }
        if entry.id.is_empty()
            && let Some(about) = extra.about
        {
            entry.id = about;
        }
        if entry.published.is_none() {
            entry.published = extra.issued.as_deref().and_then(parse_date);
        }
        if entry.updated.is_none() {
            entry.updated = extra.modified.as_deref().and_then(parse_date);
        }
    }
    feed
}

/// Whether `needle` occurs in `hay` (SIMD search: documents run to megabytes).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
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

/// Whether a feed-rs title is missing or blank.
fn untitled(t: &Option<feed_rs::model::Text>) -> bool {
    t.as_ref().is_none_or(|t| t.content.trim().is_empty())
}

/// A feed-rs text construct of plain text.
fn plain_text(content: String) -> feed_rs::model::Text {
    feed_rs::model::Text {
        content_type: mediatype::MediaTypeBuf::new(mediatype::names::TEXT, mediatype::names::PLAIN),
        src: None,
        content,
    }
}

/// The channel's extras and those of every `<item>`, in document order (`None`: the XML did not read).
fn rss_extras(body: &[u8]) -> Option<(ChannelExtras, Vec<ItemExtras>)> {
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_reader(body);
    let mut channel = ChannelExtras::default();
    let mut items: Vec<ItemExtras> = Vec::new();
    let mut in_item = false;
    let mut depth = 0usize;
    let mut reading: Option<(Field, String)> = None;
    // An `<enclosure>` in no namespace (RSS 2.0) inside an item.
    let enclosure = |ns: &ResolveResult<'_>, e: &BytesStart<'_>| {
        if !matches!(ns, ResolveResult::Unbound) || e.local_name().as_ref() != "enclosure" {
            return None;
        }
        let attr = |name: &str| attribute(e, name);
        let url = attr("url")?;
        Some((
            url,
            attr("length").and_then(|l| l.parse().ok()),
            attr("type"),
        ))
    };
    loop {
        match reader.read_resolved_event().ok()? {
            (ns, Event::Start(e)) => {
                depth += 1;
                let local = e.local_name();
                let local = local.as_ref();
                let in_ns = |uri: &str| matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == uri);
                let dc = in_ns(DUBLIN_CORE);
                let terms = in_ns(DUBLIN_CORE_TERMS);
                if local == "item" && !in_item {
                    in_item = true;
                    let about = attribute(&e, "about");
                    items.push(ItemExtras {
                        about,
                        ..ItemExtras::default()
                    });
                } else if in_item {
                    let field = match local {
                        "subject" if dc => Some(Field::Subject),
                        "title" if dc => Some(Field::Title),
                        "author" if dc => Some(Field::Author),
                        "issued" if terms => Some(Field::Issued),
                        "modified" if terms => Some(Field::Modified),
                        _ => None,
                    };
                    if let Some(f) = field {
                        reading = Some((f, String::new()));
                    } else if let Some(enc) = enclosure(&ns, &e)
                        && let Some(item) = items.last_mut()
                    {
                        item.enclosures.push(enc);
                    }
                } else if depth <= 3 {
                    // The channel's own children (RSS 2.0: rss/channel/x; RSS 1.0: rdf/channel/x).
                    reading = match local {
                        "title" if dc => Some((Field::ChannelTitle, String::new())),
                        "date" if dc => Some((Field::ChannelDate, String::new())),
                        "modified" if terms => Some((Field::ChannelDate, String::new())),
                        _ => reading,
                    };
                }
            }
            (_, Event::Empty(e)) if e.local_name().as_ref() == "item" && !in_item => {
                items.push(ItemExtras::default());
            }
            (ns, Event::Empty(e)) => {
                if in_item
                    && let Some(enc) = enclosure(&ns, &e)
                    && let Some(item) = items.last_mut()
                {
                    item.enclosures.push(enc);
                }
            }
            (_, Event::Text(t)) => {
                if let Some((_, s)) = reading.as_mut() {
                    s.push_str(&t.xml10_content());
                }
            }
            (_, Event::CData(t)) => {
                if let Some((_, s)) = reading.as_mut() {
                    s.push_str(&t.into_inner());
                }
            }
            (_, Event::GeneralRef(r)) => {
                if let Some((_, s)) = reading.as_mut()
                    && let Ok(text) = quick_xml::escape::unescape(&format!("&{};", &*r))
                {
                    s.push_str(&text);
                }
            }
            (_, Event::End(e)) => {
                depth = depth.saturating_sub(1);
                if let Some((field, text)) = reading.take() {
                    let text = text.trim().to_string();
                    if !text.is_empty() {
                        let item = items.last_mut().filter(|_| in_item);
                        match (field, item) {
                            (Field::Subject, Some(i)) => i.subjects.push(text),
                            (Field::Title, Some(i)) => i.title = i.title.take().or(Some(text)),
                            (Field::Author, Some(i)) => i.author = i.author.take().or(Some(text)),
                            (Field::Issued, Some(i)) => i.issued = i.issued.take().or(Some(text)),
                            (Field::Modified, Some(i)) => {
                                i.modified = i.modified.take().or(Some(text));
                            }
                            (Field::ChannelTitle, _) => {
                                channel.title = channel.title.take().or(Some(text));
                            }
                            (Field::ChannelDate, _) => {
                                channel.date = channel.date.take().or(Some(text));
                            }
                            _ => {}
                        }
                    }
                } else if e.local_name().as_ref() == "item" {
                    in_item = false;
                }
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    Some((channel, items))
}

/// The `charset` parameter of a `Content-Type` value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}

/// The document as UTF-8 (an XML declaration, if any, rewritten to say so).
fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, [u8]> {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return if enc == UTF_8 {
            Cow::Borrowed(&body[bom_len..])
        } else {
            Cow::Owned(decode_xml(&body[bom_len..], enc))
        };
    }
    // UTF-16 without a BOM still starts with "<?" in two-byte units.
    if body.starts_with(&[b'<', 0, b'?', 0]) {
        return Cow::Owned(decode_xml(body, UTF_16LE));
    }
    if body.starts_with(&[0, b'<', 0, b'?']) {
        return Cow::Owned(decode_xml(body, UTF_16BE));
    }
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if body.get(start) != Some(&b'<') {
        return Cow::Borrowed(body); // JSON Feed (UTF-8 by spec) or not a feed at all
    }
    let declared = declared_encoding(&body[start..]);
    let label = declared.as_deref().or(http_charset);
    let enc = label.and_then(|l| Encoding::for_label(l.as_bytes()));
    match enc {
        Some(enc) if enc == UTF_8 || (enc == UTF_16LE || enc == UTF_16BE) => {
            // A UTF-16 label on an ASCII-looking document is a lie; read it as UTF-8 (or 1252 below).
            utf8_or_1252(body)
        }
        Some(enc) => Cow::Owned(decode_xml(body, enc)),
        None => utf8_or_1252(body),
    }
}

fn utf8_or_1252(body: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(body).is_ok() {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(decode_xml(body, WINDOWS_1252))
    }
}

/// Decodes with `enc` (invalid sequences become U+FFFD) and relabels the XML declaration as UTF-8.
fn decode_xml(body: &[u8], enc: &'static Encoding) -> Vec<u8> {
    let (text, _) = enc.decode_without_bom_handling(body);
    relabel_utf8(&text).into_bytes()
}

/// The `encoding` of a leading `<?xml …?>` declaration.
fn declared_encoding(doc: &[u8]) -> Option<String> {
    let head = &doc[..doc.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

fn relabel_utf8(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        let decl = &trimmed[..end];
        if let Some(at) = decl.find("encoding") {
            let after = &decl[at..];
            // encoding = "label" → drop it: without one, XML means UTF-8.
            let len = after
                .char_indices()
                .filter(|(_, c)| *c == '"' || *c == '\'')
                .nth(1)
                .map_or(after.len(), |(i, _)| i + 1);
            let mut out = String::with_capacity(text.len());
            out.push_str(&trimmed[..at]);
            out.push_str(&trimmed[at + len..]);
            return out;
        }
    }
    text.to_string()
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

/// The document with a space between an e-mail address and a non-ASCII character touching it
/// ("山田taro@example.com"), or `None` when there is no such place. feed-rs splits a person's name from
/// their address by slicing one byte before or after the address, which panics inside a multi-byte
/// character (found by fuzzing); the space makes that byte a character boundary.
fn emails_apart(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static EMAIL: OnceLock<(regex::bytes::Regex, regex::bytes::Regex)> = OnceLock::new();
    if !body.contains(&b'@') || body.is_ascii() {
        return None;
    }
    let (before, after) = EMAIL.get_or_init(|| {
        let addr = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}";
        (
            regex::bytes::Regex::new(&format!(r"((?-u:[\x80-\xff]))((?:mailto:)?{addr})"))
                .expect("valid"),
            regex::bytes::Regex::new(&format!(r"({addr})((?-u:[\x80-\xff]))")).expect("valid"),
        )
    });
    if !before.is_match(body) && !after.is_match(body) {
        return None;
    }
    let spaced = before.replace_all(body, &b"$1 $2"[..]);
    Some(after.replace_all(&spaced, &b"$1 $2"[..]).into_owned())
}

/// The document without its XML declarations. It is UTF-8 by now (see `to_utf8`), so a declaration
/// has nothing left to say, and quick-xml panicked when a declaration after the start (or a broken
/// one at the start) switched encodings mid-stream: found by fuzzing. Borrowed when the only
/// declaration is the first thing in the document.
fn without_declarations(body: &[u8]) -> Cow<'_, [u8]> {
    let is_decl = |at: usize| {
        body[at..].starts_with(b"<?xml")
            && body
                .get(at + 5)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?')
    };
    // Where a declaration starting at `at` ends: after its `?>`, or at the next `<` when it is cut
    // short by one, or at the end.
    let end_of = |at: usize| {
        let rest = &body[at + 2..];
        let close = rest.windows(2).position(|w| w == b"?>").map(|p| p + 2);
        let open = rest.iter().position(|b| *b == b'<');
        at + 2
            + match (close, open) {
                (Some(c), Some(o)) if o < c - 2 => o,
                (Some(c), _) => c,
                (None, Some(o)) => o,
                (None, None) => rest.len(),
            }
    };
    let mut head = 0;
    loop {
        let Some(start) = body[head..].iter().position(|b| !b.is_ascii_whitespace()) else {
            return Cow::Borrowed(&body[head..]);
        };
        if !is_decl(head + start) {
            break;
        }
        head = end_of(head + start);
    }
    let Some(first) = (head..body.len().saturating_sub(5)).find(|&i| body[i] == b'<' && is_decl(i))
    else {
        return Cow::Borrowed(&body[head..]);
    };
    let mut out = Vec::with_capacity(body.len() - head);
    out.extend_from_slice(&body[head..first]);
    let mut i = first;
    while i < body.len() {
        if body[i] == b'<' && is_decl(i) {
            i = end_of(i);
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
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
            c if is_xml_illegal(c) => {}
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

/// How often the feed asks to be polled: RSS `<ttl>` (minutes, from feed-rs), else the syndication
/// module's `<sy:updatePeriod>` (hourly, daily, weekly, monthly, yearly) divided by
/// `<sy:updateFrequency>` (any namespace prefix). `None` without either.
pub fn feed_hint(body: &[u8], ttl_minutes: Option<u32>) -> Option<std::time::Duration> {
    if let Some(ttl) = ttl_minutes.filter(|t| *t > 0) {
        return Some(std::time::Duration::from_secs(u64::from(ttl) * 60));
    }
    // The channel's hints come before its items; do not scan a whole large document.
    let head = &body[..body.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let period = element_text(&text, "updatePeriod")?;
    let secs: u64 = match period.trim().to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = element_text(&text, "updateFrequency")
        .and_then(|f| f.trim().parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(std::time::Duration::from_secs(secs / frequency))
}

/// The text of the first element with this local name (any prefix), e.g. `<sy:updatePeriod>`.
fn element_text<'a>(doc: &'a str, local: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(at) = doc[from..].find(local) {
        let start = from + at;
        from = start + local.len();
        // Preceded by "<" or "<prefix:", followed by ">" (attributes are not expected here).
        let before = &doc[..start];
        let Some(lt) = before.rfind('<') else {
            continue;
        };
        let prefix = &before[lt + 1..];
        if !(prefix.is_empty() || prefix.ends_with(':') && !prefix.contains(char::is_whitespace)) {
            continue;
        }
        let rest = &doc[from..];
        let Some(body) = rest.strip_prefix('>') else {
            continue;
        };
        return body.find('<').map(|end| &body[..end]);
    }
    None
}

/// Whether a body that failed to parse is an HTML page.
pub fn looks_like_html(body: &[u8], content_type: Option<&str>) -> bool {
    if content_type.is_some_and(|c| c.to_ascii_lowercase().contains("text/html")) {
        return true;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<head")
}

/// The feeds an HTML page announces: `<link rel="alternate" type="application/rss+xml">` (or Atom, or
/// JSON Feed) with an `href`, resolved against the page's URL, in page order, each once.
pub fn announced_feeds(html: &[u8], base: &url::Url) -> Vec<url::Url> {
    let text = String::from_utf8_lossy(html);
    let lower = text.to_ascii_lowercase();
    let mut out: Vec<url::Url> = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<link") {
        let start = from + at + "<link".len();
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        from = end;
        let attrs = parse_attrs(&text[start..end]);
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let rel_alternate = get("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|w| w.eq_ignore_ascii_case("alternate"))
        });
        let feed_type = get("type").is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t.starts_with("application/rss+xml")
                || t.starts_with("application/atom+xml")
                || t.starts_with("application/feed+json")
        });
        if !(rel_alternate && feed_type) {
            continue;
        }
        let Some(href) = get("href").map(|h| h.trim()).filter(|h| !h.is_empty()) else {
            continue;
        };
        if let Ok(u) = base.join(&decode_entities(href))
            && !out.contains(&u)
        {
            out.push(u);
        }
    }
    out
}

/// `name="value"`, `name='value'` and `name=value` pairs of a tag's attribute text.
fn parse_attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let Some(eq) = rest.find('=') else {
            break;
        };
        let name = rest[..eq].trim();
        let name = name.rsplit(char::is_whitespace).next().unwrap_or(name);
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                Some(end) => (&after[1..1 + end], &after[end + 2..]),
                None => (&after[1..], ""),
            },
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push((name.to_string(), value.to_string()));
        rest = next;
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(feed: &Feed) -> Vec<Vec<String>> {
        feed.entries
            .iter()
            .map(|e| e.categories.iter().map(|c| c.term.clone()).collect())
            .collect()
    }

    fn title(t: &Option<feed_rs::model::Text>) -> &str {
        t.as_ref().map_or("", |t| t.content.as_str())
    }

    #[test]
    fn atom_drafts_base64_and_odd_types_are_read() {
        // A pre-0.3 namespace with version="0.3", inline markup in a 0.3 title, base64 in 0.3 and 1.0.
        let drafts = br#"<feed version="0.3" xmlns="http://purl.org/echo/"><title>Example <b>Atom</b></title>
            <entry><title mode="base64">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title><id>e1</id></entry></feed>"#;
        let feed = parse_feed(drafts, None, None).unwrap();
        assert!(
            title(&feed.title).contains("<b>Atom</b>"),
            "{:?}",
            feed.title
        );
        assert_eq!(title(&feed.entries[0].title), "Example <b>Atom</b>");
        let atom10 =
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="application/octet-stream">
            RXhhbXBsZSA8Yj5BdG9tPC9iPg==
            </title><entry><title type="">evil</title><id>e</id></entry></feed>"#;
        let feed = parse_feed(atom10, None, None).unwrap();
        assert_eq!(title(&feed.title), "Example <b>Atom</b>");
        assert_eq!(title(&feed.entries[0].title), "evil");
        // Not Atom at all: untouched.
        assert!(draft_atom_namespace("<rss version=\"0.3\"/>").is_none());
    }

    #[test]
    fn rss_090_and_linkless_rss_1_items_are_kept_with_their_about_ids() {
        let rss090 = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
            <channel><title>Example title</title></channel><item><title>Item title</title></item></rdf:RDF>"#;
        let feed = parse_feed(rss090, None, None).unwrap();
        assert_eq!(title(&feed.title), "Example title");
        assert_eq!(title(&feed.entries[0].title), "Item title");
        let rss1 = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel rdf:about="http://example.com/"><title>t</title></channel>
            <item rdf:about="http://example.org/1"><title>One</title></item>
            <item rdf:about="http://example.org/2"><title>Two</title><link>http://example.org/two</link></item></rdf:RDF>"#;
        let feed = parse_feed(rss1, None, None).unwrap();
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(feed.entries[0].id, "http://example.org/1");
        assert_eq!(feed.entries[0].links[0].href, "http://example.org/1");
        assert_eq!(feed.entries[1].links[0].href, "http://example.org/two");
    }

    #[test]
    fn dublin_core_titles_authors_and_dates_fill_what_rss_lacks() {
        let doc = br#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">
            <channel><dc:title>Channel</dc:title><dc:date>2003-12-31T10:14:55Z</dc:date>
            <item><dc:title>Item</dc:title><dc:author>Ed</dc:author><dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued>
            <dcterms:modified>2004-01-01T00:00:00Z</dcterms:modified></item>
            <item><title>Own</title><dc:title>Ignored</dc:title></item></channel></rss>"#;
        let feed = parse_feed(doc, None, None).unwrap();
        assert_eq!(title(&feed.title), "Channel");
        assert!(feed.updated.is_some());
        let e = &feed.entries[0];
        assert_eq!(title(&e.title), "Item");
        assert_eq!(e.authors[0].name.as_deref(), Some("Ed"));
        assert_eq!(
            e.published.unwrap().to_rfc3339(),
            "2003-12-31T10:14:55+00:00"
        );
        assert_eq!(e.updated.unwrap().to_rfc3339(), "2004-01-01T00:00:00+00:00");
        assert_eq!(title(&feed.entries[1].title), "Own");
    }

    #[test]
    fn dublin_core_subjects_become_categories_in_rss_2_and_1() {
        let rss2 = br#"<?xml version="1.0"?><rss version="2.0" xmlns:d="http://purl.org/dc/elements/1.1/"><channel><title>t</title><link>http://x/</link><description>d</description>
<d:subject>Channel level</d:subject>
<item><title>a</title><link>http://x/a</link><d:subject>Business &amp; Economy</d:subject><category>Markets</category><d:subject><![CDATA[Asia]]></d:subject></item>
<item><title>b</title><link>http://x/b</link><subject>not Dublin Core</subject></item>
<item><title>c</title><link>http://x/c</link><d:subject> Markets </d:subject></item>
</channel></rss>"#;
        let feed = parse_feed(rss2, None, None).unwrap();
        assert_eq!(
            terms(&feed),
            [
                vec!["Markets", "Business & Economy", "Asia"],
                vec![],
                vec!["Markets"]
            ]
        );
        let rss1 = br#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://x/"><title>t</title><link>http://x/</link><description>d</description></channel>
<item rdf:about="http://x/1"><title>one</title><link>http://x/1</link><dc:subject>World</dc:subject></item>
</rdf:RDF>"#;
        assert_eq!(
            terms(&parse_feed(rss1, None, None).unwrap()),
            [vec!["World"]]
        );
    }

    #[test]
    fn xml_declarations_are_dropped_not_a_crash() {
        // Found by fuzzing: quick-xml panicked switching encodings at a declaration mid-document.
        let doc = br#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><?xml version="1.0" encoding="ISO-8859-1"?><?xml-stylesheet href="s.xsl"?>
<item><title>a</title><link>http://x/a</link></item></channel></rss>"#;
        let feed = parse_feed(doc, None, None).unwrap();
        assert_eq!(feed.entries.len(), 1);
        // A declaration cut short by another one, in another encoding.
        let doc = "<?xml version=\"1.\u{feff}<?xml version=\"1.0\" encoding=\"us-ascii\"?>\
<rss version=\"2.0\"><channel><title>t</title><item><title>b</title><link>http://x/b</link></item></channel></rss>";
        assert_eq!(
            parse_feed(doc.as_bytes(), None, None)
                .unwrap()
                .entries
                .len(),
            1
        );
        assert_eq!(
            &*without_declarations(b"  <?xml version='1.0'?><rss/>"),
            b"<rss/>"
        );
        for name in ["feed-late-declaration.xml", "feed-broken-declaration.xml"] {
            let crash = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fuzz-regressions")
                .join(name);
            if let Err(e) = parse_feed(&std::fs::read(crash).unwrap(), None, None) {
                assert!(!e.to_string().contains("parser failed"), "{name}: {e}");
            }
        }
    }

    #[test]
    fn an_address_touching_a_multibyte_character_is_no_crash() {
        // Found by fuzzing: feed-rs sliced inside the character next to an author's address.
        let doc = "<rss version=\"2.0\"><channel><title>t</title><managingEditor>\u{81}me@example.com)</managingEditor>\
<item><title>a</title><link>http://x/a</link><author>jane@example.com（Jane）</author></item></channel></rss>";
        let feed = parse_feed(doc.as_bytes(), None, None).unwrap();
        assert_eq!(feed.entries.len(), 1);
        let crash = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions/feed-address-next-to-multibyte.xml");
        if let Err(e) = parse_feed(&std::fs::read(crash).unwrap(), None, None) {
            assert!(!e.to_string().contains("parser failed"), "{e}");
        }
    }

    #[test]
    fn atom_0_3_is_read_as_atom_1_0() {
        let doc = br#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title type="text/html" mode="escaped">Example &lt;b&gt;Atom&lt;/b&gt;</title>
<tagline>Sub</tagline><link rel="alternate" type="text/html" href="http://example.com/"/>
<entry><title>One</title><link rel="alternate" type="text/html" href="http://example.com/1"/><id>urn:1</id>
<issued>2004-01-01T19:48:21Z</issued><modified>2004-01-02T19:48:21Z</modified></entry></feed>"#;
        let feed = parse_feed(doc, None, None).unwrap();
        assert_eq!(feed.title.unwrap().content, "Example <b>Atom</b>");
        assert_eq!(feed.description.unwrap().content, "Sub");
        assert_eq!(feed.links[0].href, "http://example.com/");
        let e = &feed.entries[0];
        assert_eq!(e.links[0].href, "http://example.com/1");
        assert_eq!(
            e.published.unwrap().to_rfc3339(),
            "2004-01-01T19:48:21+00:00"
        );
        assert_eq!(e.updated.unwrap().to_rfc3339(), "2004-01-02T19:48:21+00:00");
    }

    #[test]
    fn parses_the_three_families() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description><item><title>a</title><link>http://x/a</link></item></channel></rss>"#;
        assert_eq!(parse_feed(rss, None, None).unwrap().entries.len(), 1);
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2026-11-27T10:00:00Z</updated><entry><id>urn:e</id><title>e</title><updated>2026-11-27T10:00:00Z</updated></entry></feed>"#;
        assert_eq!(parse_feed(atom, None, None).unwrap().entries[0].id, "urn:e");
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","title":"j","url":"http://x/j"}]}"#;
        assert_eq!(parse_feed(json, None, None).unwrap().entries.len(), 1);
    }

    #[test]
    fn entries_without_guid_keep_an_empty_id() {
        let rss = br#"<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>"#;
        assert_eq!(parse_feed(rss, None, None).unwrap().entries[0].id, "");
    }

    #[test]
    fn repairs_bare_ampersands_controls_and_odd_versions() {
        let rss = "<rss version=\"2.01\"><channel><title>A & B\u{1}</title><item><title>Q&A &amp; more</title></item></channel></rss>";
        let feed = parse_feed(rss.as_bytes(), None, None).unwrap();
        assert_eq!(feed.title.unwrap().content, "A & B");
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "Q&A & more"
        );
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = parse_feed(b"<html><body>hello</body></html>", None, None).unwrap_err();
        assert!(e.to_string().starts_with("not a feed"), "{e}");
        assert!(parse_feed(b"\x00\x01binary", None, None).is_err());
        assert!(parse_feed(b"", None, None).is_err());
    }

    #[test]
    fn transcodes_to_utf8() {
        let doc = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss version=\"2.0\"><channel><title>Café</title></channel></rss>";
        let mut le = vec![0xff, 0xfe];
        le.extend(doc.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            parse_feed(&le, None, None).unwrap().title.unwrap().content,
            "Café"
        );
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(
            parse_feed(&be, None, None).unwrap().title.unwrap().content,
            "Café"
        );

        // Declared Latin-1, undeclared Latin-1, and a charset only in the HTTP header.
        let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Caf\xe9</title></channel></rss>";
        assert_eq!(
            parse_feed(latin, None, None)
                .unwrap()
                .title
                .unwrap()
                .content,
            "Café"
        );
        let bare = b"<rss version=\"2.0\"><channel><title>Caf\xe9</title></channel></rss>";
        assert_eq!(
            parse_feed(bare, None, None).unwrap().title.unwrap().content,
            "Café"
        );
        let koi8 = b"<rss version=\"2.0\"><channel><title>\xf0\xd2\xc9\xd7\xc5\xd4</title></channel></rss>";
        assert_eq!(
            parse_feed(koi8, None, Some("koi8-r"))
                .unwrap()
                .title
                .unwrap()
                .content,
            "Привет"
        );
        assert_eq!(charset_of("text/xml; Charset=\"KOI8-R\""), Some("KOI8-R"));
        assert_eq!(charset_of("application/rss+xml"), None);
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

    #[test]
    fn feed_hints_from_ttl_and_syndication_module() {
        assert_eq!(
            feed_hint(b"", Some(120)),
            Some(std::time::Duration::from_secs(7200))
        );
        let sy = br#"<rss xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
            <sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"#;
        assert_eq!(
            feed_hint(sy, None),
            Some(std::time::Duration::from_secs(21_600))
        );
        let hourly = b"<channel><syn:updatePeriod> hourly </syn:updatePeriod>";
        assert_eq!(
            feed_hint(hourly, None),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(feed_hint(b"<rss><channel><title>x</title>", None), None);
        assert_eq!(
            feed_hint(b"<sy:updatePeriod>sometimes</sy:updatePeriod>", None),
            None
        );
    }

    #[test]
    fn html_pages_announce_their_feeds() {
        let base = url::Url::parse("https://news.example/world/").unwrap();
        let page = br#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">
            <LINK REL='alternate' TYPE='application/atom+xml' HREF='atom.xml?a=1&amp;b=2'>
            <link rel="alternate" hreflang="fr" href="/fr/">
            <link type="application/feed+json" rel="alternate" href="https://news.example/feed.json" />
            <link rel="alternate" type="application/rss+xml" href="/world/rss.xml">
            </head><body></body></html>"#;
        assert!(looks_like_html(page, None));
        let found: Vec<String> = announced_feeds(page, &base)
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "https://news.example/world/rss.xml",
                "https://news.example/world/atom.xml?a=1&b=2",
                "https://news.example/feed.json"
            ]
        );
        assert!(announced_feeds(b"<html><head></head></html>", &base).is_empty());
        assert!(!looks_like_html(b"<?xml version=\"1.0\"?><rss>", None));
        assert!(looks_like_html(b"oops", Some("text/html; charset=utf-8")));
    }
}

//! What feed-rs leaves out of RSS documents (Dublin Core, enclosures), read by a second pass.

use feed_rs::model::Feed;

use super::{attribute, contains, parse_date};

pub(super) const DUBLIN_CORE: &str = "http://purl.org/dc/elements/1.1/";

pub(super) const DUBLIN_CORE_TERMS: &str = "http://purl.org/dc/terms/";

/// What feed-rs leaves out of an RSS item, read by a second pass over the document.
#[derive(Default)]
pub(super) struct ItemExtras {
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
pub(super) struct ChannelExtras {
    title: Option<String>,
    date: Option<String>,
}

/// Which element's text the pass is reading.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Field {
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
pub(super) fn with_rss_extras(mut feed: Feed, body: &[u8]) -> Feed {
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

/// Whether a feed-rs title is missing or blank.
pub(super) fn untitled(t: &Option<feed_rs::model::Text>) -> bool {
    t.as_ref().is_none_or(|t| t.content.trim().is_empty())
}

/// A feed-rs text construct of plain text.
pub(super) fn plain_text(content: String) -> feed_rs::model::Text {
    feed_rs::model::Text {
        content_type: mediatype::MediaTypeBuf::new(mediatype::names::TEXT, mediatype::names::PLAIN),
        src: None,
        content,
    }
}

/// The channel's extras and those of every `<item>`, in document order (`None`: the XML did not read).
///
/// One loop over the reader's events, as streaming XML readers are written: its state (the item being
/// read, the depth, the field whose text is gathering) lives in the loop, and each event's handling is
/// a few lines.
pub(super) fn rss_extras(body: &[u8]) -> Option<(ChannelExtras, Vec<ItemExtras>)> {
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
                    let item = items.last_mut().filter(|_| in_item);
                    keep_field(field, text.trim(), item, &mut channel);
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

/// Keeps a field's text where it belongs (the first value wins); blank text is ignored.
fn keep_field(
    field: Field,
    text: &str,
    item: Option<&mut ItemExtras>,
    channel: &mut ChannelExtras,
) {
    if text.is_empty() {
        return;
    }
    let text = text.to_string();
    match (field, item) {
        (Field::Subject, Some(i)) => i.subjects.push(text),
        (Field::Title, Some(i)) => i.title = i.title.take().or(Some(text)),
        (Field::Author, Some(i)) => i.author = i.author.take().or(Some(text)),
        (Field::Issued, Some(i)) => i.issued = i.issued.take().or(Some(text)),
        (Field::Modified, Some(i)) => i.modified = i.modified.take().or(Some(text)),
        (Field::ChannelTitle, _) => channel.title = channel.title.take().or(Some(text)),
        (Field::ChannelDate, _) => channel.date = channel.date.take().or(Some(text)),
        _ => {}
    }
}

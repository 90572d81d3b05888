//! Stories in, feed bytes out. Pure: no I/O, no clock except for an empty feed's date.
//!
//! Every output carries stable ids and dates derived from the stored stories, so rendering the same
//! stories twice yields the same bytes (and so the same ETag, across restarts too).

pub mod atom;
pub mod html;
pub mod json;
pub mod opml;
pub mod rss;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{ALL_SECTION, Config, MUST_READS};
use crate::store::Story;

/// Media RSS, whose `media:thumbnail` carries a story's picture in RSS and Atom.
pub const MEDIA_NAMESPACE: &str = "http://search.yahoo.com/mrss/";

/// Output formats served and written by `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Rss,
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// What a feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub section: String,
    pub title: String,
    pub description: String,
    /// The HTML page readers go to (the site root).
    pub site_url: String,
    /// The feed's own URL in this format.
    pub self_url: String,
    /// The feed's URL in the other formats, as `(format, url)`.
    pub alternates: Vec<(Format, String)>,
    /// Stable feed id (an absolute IRI).
    pub id: String,
    pub generator: String,
    /// RFC 5005 paging: the first page, the next (older) and previous (newer) pages, where they exist.
    pub paging: Paging,
    /// The WebSub hub that readers may subscribe to for push updates.
    pub hub: Option<String>,
}

/// Links between the pages of a paged feed (RFC 5005 section 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paging {
    pub first: Option<String>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl Paging {
    /// `(rel, url)` of each link there is, in a fixed order.
    pub fn links(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("first", &self.first),
            ("next", &self.next),
            ("previous", &self.previous),
        ]
        .into_iter()
        .filter_map(|(rel, url)| url.as_deref().map(|u| (rel, u)))
    }
}

impl FeedMeta {
    /// Metadata of a section's feed in `format`, or `None` for an unknown section.
    pub fn new(config: &Config, section: &str, format: Format) -> Option<FeedMeta> {
        let title = config.feed_title(section)?;
        let base = &config.server.base_url;
        let url = |f: Format| format!("{base}/feeds/{section}.{}", f.extension());
        let description = if section == ALL_SECTION {
            format!(
                "Latest stories from every source of {}",
                config.output.title
            )
        } else if section == MUST_READS {
            format!(
                "Stories the editors of {} pinned, newest pin first",
                config.output.title
            )
        } else {
            format!("{title}: stories merged from several sources")
        };
        Some(FeedMeta {
            section: section.to_string(),
            title,
            description,
            site_url: format!("{base}/"),
            self_url: url(format),
            alternates: Format::ALL
                .into_iter()
                .filter(|f| *f != format)
                .map(|f| (f, url(f)))
                .collect(),
            id: urn_uuid(&format!("feed\0{base}\0{section}")),
            generator: format!("syndic {}", env!("CARGO_PKG_VERSION")),
            paging: Paging::default(),
            hub: config.output.websub_hub.as_ref().map(|u| u.to_string()),
        })
    }

    /// The same feed in another view: "Popular now" / "Weekly best" get their own title, self link and id;
    /// an archive page its own self link (the feed, and so its id, stays the same).
    pub fn with_view(mut self, view: View) -> FeedMeta {
        if let View::Page { page } = view {
            self.title = format!("{} (page {page})", self.title);
            self.self_url.push_str(&view.query());
            for (_, url) in &mut self.alternates {
                url.push_str(&view.query());
            }
        }
        if let View::Top { hours } = view {
            let query = view.query();
            self.title = format!("{}: {}", self.title, view.label());
            self.description = format!(
                "{} ranked by the number of sources that reported them, last {hours} hours",
                self.description
            );
            self.self_url.push_str(&query);
            for (_, url) in &mut self.alternates {
                url.push_str(&query);
            }
            self.id = urn_uuid(&format!("{}\0top\0{hours}", self.id));
        }
        self
    }

    /// Sets the paging links of page `page` (1 is the feed itself) given whether older stories follow.
    pub fn with_paging(mut self, page: u32, more: bool) -> FeedMeta {
        let base = self
            .self_url
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let at = |n: u32| match n {
            1 => base.clone(),
            n => format!("{base}?page={n}"),
        };
        self.paging = Paging {
            first: (page > 1 || more).then(|| at(1)),
            next: more.then(|| at(page + 1)),
            previous: (page > 1).then(|| at(page - 1)),
        };
        self
    }

    /// Entry id of a story in this feed. Ids are per section: several readers (newsboat among them) key
    /// items by id across all subscribed feeds, and a story in both "Asia" and "Latest" must show in both.
    pub fn entry_id(&self, story: &Story) -> String {
        urn_uuid(&format!("story\0{}\0{}", story.uid, self.section))
    }
}

/// Which stories a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum View {
    /// Newest first.
    #[default]
    Latest,
    /// "Popular now": stories first seen in the last `hours`, by the number of sources reporting them.
    Top { hours: u32 },
    /// Page `page` (2 or more) of the latest stories: RFC 5005 paging beyond `max_items`.
    Page { page: u32 },
}

impl View {
    /// Hours of the default top view ("Popular now").
    pub const TOP_HOURS: u32 = 24;
    /// The period of the "Weekly best" box (`?sort=top&hours=168`).
    pub const WEEK_HOURS: u32 = 168;

    /// The URL query selecting this view ("" for the plain feed).
    pub fn query(self) -> String {
        match self {
            View::Latest => String::new(),
            View::Page { page } => format!("?page={page}"),
            View::Top { hours } if hours == View::TOP_HOURS => "?sort=top".into(),
            View::Top { hours } => format!("?sort=top&hours={hours}"),
        }
    }

    pub fn label(self) -> String {
        match self {
            View::Latest => "Latest".into(),
            View::Page { page } => format!("Page {page}"),
            View::Top { hours: 24 } => "Popular now".into(),
            View::Top { hours: 168 } => "Weekly best".into(),
            View::Top { hours } => format!("Most reported, last {hours} hours"),
        }
    }
}

/// Renders stories in a format.
pub fn render(format: Format, meta: &FeedMeta, stories: &[Story]) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(meta, stories),
        Format::Atom => atom::render(meta, stories),
        Format::Json => json::render(meta, stories),
    }
}

/// When the feed last changed: its newest story update (stable), or now for an empty feed.
pub fn last_updated(stories: &[Story]) -> DateTime<Utc> {
    stories
        .iter()
        .map(|s| s.updated)
        .max()
        .unwrap_or_else(Utc::now)
}

/// A name-based UUID (SHA-256 truncated, version 8 bits set) as a URN.
pub fn urn_uuid(name: &str) -> String {
    let d = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8 (custom, RFC 9562)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = crate::text::hex(&b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Removes what XML cannot carry (every string that reaches a writer passes through here).
fn x(s: &str) -> String {
    crate::text::strip_xml_illegal(s)
}

/// "Also reported by" as HTML: the other sources of a story, linked where they have a URL.
fn also_reported_html(story: &Story) -> Option<String> {
    let links: Vec<String> = story
        .other_sources()
        .map(|i| match &i.url {
            Some(u) => format!("<a href=\"{}\">{}</a>", escape(u), escape(&i.source)),
            None => escape(&i.source),
        })
        .collect();
    if links.is_empty() {
        return None;
    }
    Some(format!("<p>Also reported by: {}</p>", links.join(", ")))
}

/// The body HTML of an entry: the lead's content (or its summary as text), then "Also reported by".
fn body_html(story: &Story) -> String {
    let lead = story.lead();
    let mut html = match &lead.content_html {
        Some(h) => h.clone(),
        None if !lead.summary.is_empty() => format!("<p>{}</p>", escape(&lead.summary)),
        None => String::new(),
    };
    if let Some(also) = also_reported_html(story) {
        html.push_str(&also);
    }
    x(&html)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::StoryItem;

    pub(crate) fn story(uid: &str, titles: &[(&str, &str, Option<&str>)]) -> Story {
        let t: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        Story {
            id: 1,
            uid: uid.into(),
            first_seen: t,
            updated: t,
            sections: vec!["asia".into()],
            section_origins: vec![crate::tag::rules::Origin::Source("A".into())],
            items: titles
                .iter()
                .map(|(source, title, url)| StoryItem {
                    source: source.to_string(),
                    title: title.to_string(),
                    url: url.map(str::to_string),
                    summary: "Summary & more".into(),
                    content_html: None,
                    joined: None,
                    refused: None,
                    author: None,
                    categories: vec![],
                    enclosures: vec![],
                    image: None,
                    published: Some(t),
                    first_seen: t,
                })
                .collect(),
        }
    }

    pub(crate) fn meta(format: Format) -> FeedMeta {
        FeedMeta {
            section: "asia".into(),
            title: "News: Asia".into(),
            description: "d".into(),
            site_url: "http://127.0.0.1:8080/".into(),
            self_url: format!("http://127.0.0.1:8080/feeds/asia.{}", format.extension()),
            alternates: vec![],
            id: urn_uuid("feed"),
            generator: "syndic".into(),
            paging: Paging::default(),
            hub: None,
        }
    }

    #[test]
    fn urn_uuids_are_well_formed_and_stable() {
        let a = urn_uuid("x");
        assert_eq!(a, urn_uuid("x"));
        assert_ne!(a, urn_uuid("y"));
        assert_eq!(a.len(), "urn:uuid:".len() + 36);
        assert_eq!(&a[23..24], "8");
    }

    #[test]
    fn body_lists_other_sources() {
        let s = story(
            "u1",
            &[
                ("A", "T", Some("https://a/1")),
                ("B <b>", "T", Some("https://b/1?x=1&y=2")),
            ],
        );
        let body = body_html(&s);
        assert!(body.starts_with("<p>Summary &amp; more</p>"), "{body}");
        assert!(
            body.contains(r#"Also reported by: <a href="https://b/1?x=1&amp;y=2">B &lt;b&gt;</a>"#),
            "{body}"
        );
    }
}

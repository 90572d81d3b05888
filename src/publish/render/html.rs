//! The HTML front page (`/`, "Latest") and one page per section (`/{section}`): sections as tabs, the
//! latest stories with their sources, "also reported by" and section tags, a "Popular now" box, and
//! subscribe links with `<link rel="alternate">` autodiscovery.
//!
//! Server-rendered from `templates/page.html` with minijinja, whose HTML auto-escaping covers every
//! value (titles, names, URLs), so hostile headlines are text. No JavaScript; the CSS is inline and the
//! page reads well without it. Links are relative (`feeds/asia.rss`, `asia`, `./`), so the pages work
//! behind a proxy that mounts syndic under a path.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use minijinja::Environment;
use serde::Serialize;

use super::{Format, x};
use crate::config::{ALL_SECTION, Config};
use crate::store::Story;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // The name ends in .html: minijinja escapes every value for HTML.
    env.add_template("page.html", include_str!("../../../templates/page.html"))
        .expect("the page template parses (checked by the tests)");
    // minijinja's own HTML escaping also writes `/` as `&#x2f;`, which is valid but turns
    // `type="application/rss+xml"` into a string that naive autodiscovery does not recognize. This one
    // escapes what HTML needs escaped (`& < > " '`), in text and in quoted attributes alike.
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let text = value.to_string();
        let text = if value.is_safe() {
            text
        } else {
            super::escape(&text).replace('\'', "&#39;")
        };
        out.write_str(&text)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    });
    env
});

/// Most entries in the "Popular now" and "Weekly best" boxes.
pub const POPULAR: usize = 5;

/// Most entries in the front page's "Must-reads" box.
pub const MUST_READS_BOX: usize = 5;

/// The boxes beside a page's stories: the editors' pins with their notes (front page only), the
/// last day's ranking ("Popular now") and the last week's ("Weekly best"), each ranking as read
/// (stories of one source are left out here).
#[derive(Default)]
pub struct Boxes<'a> {
    pub must_reads: &'a [(Story, String)],
    pub popular: &'a [Story],
    pub weekly: &'a [Story],
}

/// What a page says about itself.
#[derive(Debug, Clone)]
pub struct PageMeta {
    pub site_title: String,
    /// The section shown (`all` for "Latest").
    pub section: String,
    pub section_title: String,
    /// Every tab: `(id, title)`, "Latest" first.
    pub tabs: Vec<(String, String)>,
    pub generator: String,
}

impl PageMeta {
    /// The page of a section; `None` for an unknown one.
    pub fn new(config: &Config, section: &str) -> Option<PageMeta> {
        let title_of = |id: &str| {
            if id == ALL_SECTION {
                Some("Latest".to_string())
            } else {
                config.section(id).map(|s| s.title.clone())
            }
        };
        let section_title = title_of(section)?;
        let tabs = std::iter::once((ALL_SECTION.to_string(), "Latest".to_string()))
            .chain(
                config
                    .sections
                    .iter()
                    .map(|s| (s.id.clone(), s.title.clone())),
            )
            .collect();
        Some(PageMeta {
            site_title: config.output.title.clone(),
            section: section.to_string(),
            section_title,
            tabs,
            generator: format!("syndic {}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// Relative link to a section's page.
    fn href(id: &str) -> String {
        if id == ALL_SECTION {
            "./".into()
        } else {
            id.to_string()
        }
    }

    fn title_of(&self, id: &str) -> Option<&str> {
        self.tabs
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.as_str())
    }
}

#[derive(Serialize)]
struct Page<'a> {
    page_title: String,
    site_title: &'a str,
    section_title: &'a str,
    generator: &'a str,
    tabs: Vec<Tab>,
    feeds: Vec<FeedLink>,
    stories: Vec<StoryView>,
    must_reads: Vec<StoryView>,
    popular: Vec<StoryView>,
    weekly: Vec<StoryView>,
    /// Whether there is any box to show.
    boxes: bool,
    opml_href: &'static str,
    updated_iso: String,
    updated_full: String,
}

#[derive(Serialize)]
struct Tab {
    href: String,
    title: String,
    current: bool,
}

#[derive(Serialize)]
struct FeedLink {
    href: String,
    mime: &'static str,
    title: String,
    label: &'static str,
}

#[derive(Serialize)]
struct StoryView {
    title: String,
    url: Option<String>,
    source: String,
    time_iso: String,
    time_full: String,
    time_rel: String,
    sources: usize,
    also: Vec<Also>,
    tags: Vec<Tab>,
    /// An editor's note (must-reads).
    note: String,
    /// The story's picture (shown scaled down, loaded lazily, straight from the outlet).
    image: Option<String>,
}

#[derive(Serialize)]
struct Also {
    name: String,
    url: Option<String>,
}

/// Renders a page. `now` dates the relative times ("5 min ago").
pub fn render(
    meta: &PageMeta,
    stories: &[Story],
    boxes: &Boxes<'_>,
    now: DateTime<Utc>,
) -> Vec<u8> {
    let feeds = Format::ALL
        .into_iter()
        .map(|f| FeedLink {
            href: format!("feeds/{}.{}", meta.section, f.extension()),
            mime: f.content_type().split(';').next().unwrap_or_default(),
            title: format!("{}: {} ({})", meta.site_title, meta.section_title, label(f)),
            label: label(f),
        })
        .collect();
    let tabs = meta
        .tabs
        .iter()
        .map(|(id, title)| Tab {
            href: PageMeta::href(id),
            title: title.clone(),
            current: *id == meta.section,
        })
        .collect();
    let updated = super::last_updated(stories);
    let ranked = |list: &[Story]| -> Vec<StoryView> {
        list.iter()
            .filter(|s| s.source_count() >= 2)
            .take(POPULAR)
            .map(|s| view(meta, s, now))
            .collect()
    };
    let must_reads: Vec<StoryView> = boxes
        .must_reads
        .iter()
        .take(MUST_READS_BOX)
        .map(|(s, note)| StoryView {
            note: note.clone(),
            ..view(meta, s, now)
        })
        .collect();
    let popular = ranked(boxes.popular);
    let weekly = ranked(boxes.weekly);
    let page = Page {
        page_title: if meta.section == ALL_SECTION {
            meta.site_title.clone()
        } else {
            format!("{}: {}", meta.site_title, meta.section_title)
        },
        site_title: &meta.site_title,
        section_title: &meta.section_title,
        generator: &meta.generator,
        tabs,
        feeds,
        stories: stories.iter().map(|s| view(meta, s, now)).collect(),
        boxes: !(must_reads.is_empty() && popular.is_empty() && weekly.is_empty()),
        must_reads,
        popular,
        weekly,
        opml_href: "sources.opml",
        updated_iso: updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        updated_full: full_date(updated),
    };
    let html = TEMPLATES
        .get_template("page.html")
        .and_then(|t| t.render(minijinja::value::Serde(&page)))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot render the HTML page");
            String::from("<!doctype html><title>error</title><p>This page could not be rendered.")
        });
    x(&html).into_bytes()
}

fn label(f: Format) -> &'static str {
    match f {
        Format::Rss => "RSS",
        Format::Atom => "Atom",
        Format::Json => "JSON Feed",
    }
}

fn view(meta: &PageMeta, story: &Story, now: DateTime<Utc>) -> StoryView {
    let lead = story.lead();
    let published = story.published();
    let also = story
        .other_sources()
        .map(|i| Also {
            name: i.source.clone(),
            url: i.url.clone(),
        })
        .collect();
    StoryView {
        title: lead.title.clone(),
        url: lead.url.clone(),
        source: lead.source.clone(),
        time_iso: published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        time_full: full_date(published),
        time_rel: relative(published, now),
        sources: story.source_count(),
        also,
        tags: story
            .sections
            .iter()
            .filter_map(|id| {
                meta.title_of(id).map(|title| Tab {
                    href: PageMeta::href(id),
                    title: title.to_string(),
                    current: *id == meta.section,
                })
            })
            .collect(),
        note: String::new(),
        image: story.image().map(str::to_string),
    }
}

fn full_date(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y, %H:%M UTC").to_string()
}

/// "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        ..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..172_800 => "yesterday".into(),
        172_800..604_800 => format!("{} days ago", secs / 86_400),
        _ => t.format("%-d %b %Y").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::story;
    use super::*;

    fn meta() -> PageMeta {
        PageMeta {
            site_title: "News & Co".into(),
            section: "asia".into(),
            section_title: "Asia".into(),
            tabs: vec![
                ("all".into(), "Latest".into()),
                ("asia".into(), "Asia".into()),
                ("world".into(), "World".into()),
            ],
            generator: "syndic".into(),
        }
    }

    #[test]
    fn a_page_lists_stories_tabs_and_feeds_and_escapes_everything() {
        let s = story(
            "u1",
            &[
                (
                    "A <b>",
                    "<script>document.title='pwned'</script> \"Quake\" & more",
                    Some("https://a.example/1?x=1&y=\"2\""),
                ),
                ("B", "Quake", Some("https://b.example/1")),
            ],
        );
        let now: DateTime<Utc> = "2026-11-27T13:00:00Z".parse().unwrap();
        let boxes = Boxes {
            popular: std::slice::from_ref(&s),
            ..Boxes::default()
        };
        let html =
            String::from_utf8(render(&meta(), std::slice::from_ref(&s), &boxes, now)).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="https://a.example/1?x=1&amp;y=&quot;2&quot;""#),
            "{html}"
        );
        assert!(html.contains("A &lt;b&gt; · <time"), "{html}");
        assert!(html.contains(">3 h ago</time>"), "{html}");
        assert!(html.contains(r#"<link rel="alternate" type="application/atom+xml" title="News &amp; Co: Asia (Atom)" href="feeds/asia.atom">"#), "{html}");
        assert!(
            html.contains(r#"<a href="asia" aria-current="page">Asia</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="./">Latest</a>"#), "{html}");
        assert!(html.contains("Also reported by: <a href="), "{html}");
        assert!(html.contains("Popular now"), "{html}");
        assert!(html.contains("2 sources"), "{html}");
    }

    #[test]
    fn one_source_stories_are_not_popular_and_an_empty_page_says_so() {
        let now = Utc::now();
        let single = story("u1", &[("A", "Alone", None)]);
        let boxes = Boxes {
            popular: std::slice::from_ref(&single),
            weekly: std::slice::from_ref(&single),
            ..Boxes::default()
        };
        let html = String::from_utf8(render(&meta(), &[], &boxes, now)).unwrap();
        assert!(!html.contains("Popular now"), "{html}");
        assert!(!html.contains("Weekly best"), "{html}");
        assert!(!html.contains("<aside"), "{html}");
        assert!(html.contains("No stories yet."), "{html}");
    }

    #[test]
    fn relative_times() {
        let now: DateTime<Utc> = "2026-11-27T13:00:00Z".parse().unwrap();
        let ago = |s: i64| relative(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(-30), "just now");
        assert_eq!(ago(59), "just now");
        assert_eq!(ago(120), "2 min ago");
        assert_eq!(ago(7200), "2 h ago");
        assert_eq!(ago(90_000), "yesterday");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(30 * 86_400), "28 Oct 2026");
    }
}

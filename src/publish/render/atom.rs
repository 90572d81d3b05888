//! Atom 1.0 (RFC 4287), written with `atom_syndication`.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, SubsecRound, Utc};

use super::{FeedMeta, MEDIA_NAMESPACE, body_html, last_updated, x};
use crate::store::Story;

pub fn render(meta: &FeedMeta, stories: &[Story]) -> Vec<u8> {
    let mut links = vec![
        link(&meta.self_url, "self", Some("application/atom+xml")),
        link(&meta.site_url, "alternate", Some("text/html")),
    ];
    for (format, url) in &meta.alternates {
        let mime = format.content_type().split(';').next().map(str::to_string);
        links.push(Link {
            mime_type: mime,
            ..link(url, "alternate", None)
        });
    }
    for (rel, url) in meta.paging.links() {
        links.push(link(url, rel, Some("application/atom+xml")));
    }
    if let Some(hub) = &meta.hub {
        links.push(link(hub, "hub", None));
    }
    let feed = Feed {
        title: Text::plain(x(&meta.title)),
        id: x(&meta.id),
        updated: date(last_updated(stories)),
        subtitle: Some(Text::plain(x(&meta.description))),
        // A feed-level author makes entries without their own author valid.
        authors: vec![Person {
            name: x(&meta.title),
            ..Person::default()
        }],
        generator: Some(Generator {
            value: x(&meta.generator),
            ..Generator::default()
        }),
        links,
        entries: stories.iter().map(|s| entry(meta, s)).collect(),
        namespaces: if stories.iter().any(|s| s.image().is_some()) {
            [("media".to_string(), MEDIA_NAMESPACE.to_string())]
                .into_iter()
                .collect()
        } else {
            Default::default()
        },
        ..Feed::default()
    };
    let mut out = feed.write_to(Vec::new()).unwrap_or_default();
    out.push(b'\n');
    out
}

fn entry(meta: &FeedMeta, story: &Story) -> Entry {
    let lead = story.lead();
    let mut links = Vec::new();
    if let Some(u) = &lead.url {
        links.push(link(u, "alternate", Some("text/html")));
    }
    for other in &story.items[1..] {
        if let Some(u) = &other.url
            && Some(u) != lead.url.as_ref()
        {
            links.push(Link {
                title: Some(x(&other.source)),
                ..link(u, "related", Some("text/html"))
            });
        }
    }
    for e in story.enclosures() {
        links.push(Link {
            length: e.length.map(|n| n.to_string()),
            ..link(&e.url, "enclosure", Some(&e.mime_type))
        });
    }
    let summary = (!lead.summary.is_empty()).then(|| Text::plain(x(&lead.summary)));
    Entry {
        title: Text::plain(x(&lead.title)),
        id: meta.entry_id(story),
        updated: date(story.changed()),
        published: Some(date(story.published())),
        authors: vec![Person {
            name: x(lead.author.as_deref().unwrap_or(&lead.source)),
            ..Person::default()
        }],
        categories: story
            .sections
            .iter()
            .map(|s| Category {
                term: x(s),
                ..Category::default()
            })
            .collect(),
        links,
        summary,
        content: Some(Content {
            value: Some(body_html(story)),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        extensions: story.image().map(media_thumbnail).unwrap_or_default(),
        ..Entry::default()
    }
}

fn link(href: &str, rel: &str, mime: Option<&str>) -> Link {
    Link {
        href: x(href),
        rel: rel.into(),
        mime_type: mime.map(str::to_string),
        ..Link::default()
    }
}

/// Atom dates: whole seconds, UTC offset.
fn date(t: DateTime<Utc>) -> FixedDateTime {
    t.trunc_subsecs(0).fixed_offset()
}

/// A story's picture as a `media:thumbnail` extension element.
fn media_thumbnail(url: &str) -> atom_syndication::extension::ExtensionMap {
    let thumb = atom_syndication::extension::Extension {
        name: "media:thumbnail".into(),
        attrs: [("url".to_string(), x(url))].into_iter().collect(),
        ..Default::default()
    };
    let by_name = [("thumbnail".to_string(), vec![thumb])]
        .into_iter()
        .collect();
    [("media".to_string(), by_name)].into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::tests::{meta, story};
    use super::*;

    #[test]
    fn entries_have_ids_dates_and_related_links() {
        let s = story(
            "abc",
            &[
                ("A", "Quake", Some("https://a/1")),
                ("B", "Quake", Some("https://b/1")),
            ],
        );
        let m = meta(Format::Atom);
        let out = String::from_utf8(render(&m, std::slice::from_ref(&s))).unwrap();
        assert!(
            out.contains(r#"<feed xmlns="http://www.w3.org/2005/Atom""#),
            "{out}"
        );
        assert!(
            out.contains(&format!("<id>{}</id>", m.entry_id(&s))),
            "{out}"
        );
        assert!(
            out.contains("<updated>2026-11-27T10:00:00+00:00</updated>"),
            "{out}"
        );
        assert!(
            out.contains(r#"href="http://127.0.0.1:8080/feeds/asia.atom" rel="self""#),
            "{out}"
        );
        assert!(
            out.contains(r#"<link href="https://b/1" rel="related" type="text/html" title="B"/>"#),
            "{out}"
        );
        assert!(out.contains(r#"<content type="html">"#), "{out}");
    }

    #[test]
    fn entries_stored_by_one_poll_keep_their_own_updated_dates() {
        // Both stories were stored by the same refresh (updated 12:00), from items of their own dates.
        let poll: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let mut a = story("a", &[("A", "One", Some("https://a/1"))]);
        let mut b = story("b", &[("B", "Two", Some("https://b/1"))]);
        for (s, at) in [
            (&mut a, "2026-11-27T09:15:00Z"),
            (&mut b, "2026-11-27T11:40:00Z"),
        ] {
            s.updated = poll;
            s.first_seen = poll;
            s.items[0].published = Some(at.parse().unwrap());
        }
        let out = String::from_utf8(render(&meta(Format::Atom), &[a, b])).unwrap();
        assert!(
            out.contains("<updated>2026-11-27T09:15:00+00:00</updated>"),
            "{out}"
        );
        assert!(
            out.contains("<updated>2026-11-27T11:40:00+00:00</updated>"),
            "{out}"
        );
        // The feed's own updated is the newest change.
        assert!(
            out.contains("<updated>2026-11-27T12:00:00+00:00</updated>"),
            "{out}"
        );
    }
}

//! RSS 2.0 with `atom:link rel="self"`, written with the `rss` crate.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item};

use super::{FeedMeta, MEDIA_NAMESPACE, body_html, last_updated, x};
use crate::store::Story;

pub fn render(meta: &FeedMeta, stories: &[Story]) -> Vec<u8> {
    let items: Vec<Item> = stories.iter().map(|s| item(meta, s)).collect();
    let mut namespaces = BTreeMap::new();
    namespaces.insert(
        "atom".to_string(),
        rss::extension::atom::NAMESPACE.to_string(),
    );
    namespaces.insert(
        "dc".to_string(),
        rss::extension::dublincore::NAMESPACE.to_string(),
    );
    if stories.iter().any(|s| s.image().is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NAMESPACE.to_string());
    }
    let channel = Channel {
        title: x(&meta.title),
        link: x(&meta.site_url),
        description: x(&meta.description),
        generator: Some(x(&meta.generator)),
        last_build_date: Some(last_updated(stories).to_rfc2822()),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        atom_ext: Some(AtomExtension {
            links: atom_links(meta),
        }),
        namespaces,
        items,
        ..Channel::default()
    };
    let mut out = channel.write_to(Vec::new()).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `atom:link`s: self, the paging links (RFC 5005) and the WebSub hub.
fn atom_links(meta: &FeedMeta) -> Vec<Link> {
    let mut links = vec![Link {
        href: x(&meta.self_url),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Link::default()
    }];
    for (rel, url) in meta.paging.links() {
        links.push(Link {
            href: x(url),
            rel: rel.into(),
            mime_type: Some("application/rss+xml".into()),
            ..Link::default()
        });
    }
    if let Some(hub) = &meta.hub {
        links.push(Link {
            href: x(hub),
            rel: "hub".into(),
            ..Link::default()
        });
    }
    links
}

fn item(meta: &FeedMeta, story: &Story) -> Item {
    let lead = story.lead();
    Item {
        title: Some(x(&lead.title)),
        link: lead.url.as_deref().map(x),
        description: Some(body_html(story)),
        guid: Some(Guid {
            value: format!("{}/{}", story.uid, meta.section),
            permalink: false,
        }),
        pub_date: Some(story.published().to_rfc2822()),
        // RSS 2.0 has room for one enclosure per item: the first (Atom and JSON Feed carry all).
        enclosure: story.enclosures().first().map(|e| Enclosure {
            url: x(&e.url),
            // Unknown lengths are written as 0, as the RSS Advisory Board recommends.
            length: e.length.unwrap_or(0).to_string(),
            mime_type: x(&e.mime_type),
        }),
        // `<author>` must be an e-mail address; dc:creator takes a name.
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![x(lead.author.as_deref().unwrap_or(&lead.source))],
            ..DublinCoreExtension::default()
        }),
        categories: story
            .sections
            .iter()
            .map(|s| Category {
                name: x(s),
                domain: None,
            })
            .collect(),
        // The picture as `media:thumbnail` (readers show it beside the entry).
        extensions: story.image().map(media_thumbnail).unwrap_or_default(),
        ..Item::default()
    }
}

/// A story's picture as a `media:thumbnail` extension element.
fn media_thumbnail(url: &str) -> rss::extension::ExtensionMap {
    let thumb = rss::extension::Extension {
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
    fn valid_channel_with_self_link_and_stable_guid() {
        let s = story(
            "abc",
            &[
                ("A", "Title \u{1}<1>", Some("https://a/1")),
                ("B", "T", None),
            ],
        );
        let out = String::from_utf8(render(&meta(Format::Rss), &[s])).unwrap();
        assert!(
            out.contains(r#"xmlns:atom="http://www.w3.org/2005/Atom""#),
            "{out}"
        );
        assert!(
            out.contains(r#"<atom:link href="http://127.0.0.1:8080/feeds/asia.rss" rel="self""#),
            "{out}"
        );
        assert!(
            out.contains(r#"<guid isPermaLink="false">abc/asia</guid>"#),
            "{out}"
        );
        assert!(out.contains("<title>Title &lt;1&gt;</title>"), "{out}");
        assert!(
            out.contains("<pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate>"),
            "{out}"
        );
        assert!(out.contains("Also reported by: B"), "{out}");
        assert_eq!(
            out,
            String::from_utf8(render(
                &meta(Format::Rss),
                &[story(
                    "abc",
                    &[
                        ("A", "Title \u{1}<1>", Some("https://a/1")),
                        ("B", "T", None)
                    ]
                )]
            ))
            .unwrap()
        );
    }
}

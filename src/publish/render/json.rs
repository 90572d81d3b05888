//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), written with serde_json.
//!
//! Each item is a story: its lead's link, title, content and dates, the story's sections as `tags`, and
//! the other sources under the `_syndic` extension object (`sources`: name, title, url of each other
//! item), which readers that do not know it ignore.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::{FeedMeta, body_html};
use crate::store::Story;

pub fn render(meta: &FeedMeta, stories: &[Story]) -> Vec<u8> {
    let items: Vec<Value> = stories.iter().map(|s| item(meta, s)).collect();
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.site_url,
        "feed_url": meta.self_url,
        "description": meta.description,
        "authors": [{"name": meta.title}],
    });
    if let Some(next) = &meta.paging.next {
        feed["next_url"] = json!(next);
    }
    if let Some(hub) = &meta.hub {
        feed["hubs"] = json!([{"type": "WebSub", "url": hub}]);
    }
    feed["items"] = json!(items);
    let mut out = serde_json::to_vec_pretty(&feed).unwrap_or_default();
    out.push(b'\n');
    out
}

fn item(meta: &FeedMeta, story: &Story) -> Value {
    let lead = story.lead();
    let mut o = Map::new();
    o.insert("id".into(), json!(meta.entry_id(story)));
    if let Some(u) = &lead.url {
        o.insert("url".into(), json!(u));
    }
    o.insert("title".into(), json!(lead.title));
    o.insert("content_html".into(), json!(body_html(story)));
    if !lead.summary.is_empty() {
        o.insert("summary".into(), json!(lead.summary));
    }
    if let Some(image) = story.image() {
        o.insert("image".into(), json!(image));
    }
    let date = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    o.insert("date_published".into(), json!(date(story.published())));
    o.insert("date_modified".into(), json!(date(story.changed())));
    if let Some(a) = &lead.author {
        o.insert("authors".into(), json!([{ "name": a }]));
    }
    if !story.sections.is_empty() {
        o.insert("tags".into(), json!(story.sections));
    }
    let attachments: Vec<Value> = story
        .enclosures()
        .iter()
        .map(|e| {
            let mut a = json!({"url": e.url, "mime_type": e.mime_type});
            if let Some(n) = e.length {
                a["size_in_bytes"] = json!(n);
            }
            a
        })
        .collect();
    if !attachments.is_empty() {
        o.insert("attachments".into(), json!(attachments));
    }
    let others: Vec<Value> = story.items[1..]
        .iter()
        .map(|i| json!({"name": i.source, "title": i.title, "url": i.url}))
        .collect();
    if !others.is_empty() {
        o.insert("_syndic".into(), json!({ "sources": others }));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{meta, story};
    use super::*;
    use crate::publish::render::Format;

    #[test]
    fn a_story_is_a_json_feed_item_with_its_other_sources() {
        let s = story(
            "u1",
            &[
                (
                    "A",
                    "Quake \"hits\" <coast> ]]> & more",
                    Some("https://a/1"),
                ),
                ("B", "Quake hits coast", Some("https://b/1")),
            ],
        );
        let out = render(&meta(Format::Json), &[s]);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(v["feed_url"], "http://127.0.0.1:8080/feeds/asia.json");
        let item = &v["items"][0];
        assert_eq!(item["title"], "Quake \"hits\" <coast> ]]> & more");
        assert_eq!(item["url"], "https://a/1");
        assert_eq!(item["tags"][0], "asia");
        assert_eq!(item["date_published"], "2026-11-27T10:00:00Z");
        assert_eq!(item["_syndic"]["sources"][0]["name"], "B");
        assert!(item["id"].as_str().unwrap().starts_with("urn:uuid:"));
        // feed-rs reads it back.
        let back = feed_rs::parser::parse(&out[..]).unwrap();
        assert_eq!(back.entries.len(), 1);
    }
}

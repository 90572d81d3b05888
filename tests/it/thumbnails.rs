//! Thumbnails: where an entry carries a picture (Media RSS `media:thumbnail` or an image
//! `media:content`, an image enclosure, JSON Feed `image`), the story keeps it, the front page shows it
//! scaled and lazy-loaded, and the RSS, Atom and JSON Feed outputs carry it on (`media:thumbnail`,
//! JSON Feed `image`); nothing is fetched from the article page, and a non-http picture is dropped.

use crate::support::{
    Env, FixtureServer, InProcessDaemon, Route, assert_xmllint_accepts, feedparser_reports, source,
};

const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Pictures</title>
<link>https://p.example/</link><description>d</description>
<item><guid>p1</guid><title>Harbour cranes back at work</title><link>https://p.example/1</link>
<media:content url="https://cdn.p.example/video1.mp4" type="video/mp4"><media:thumbnail url="https://cdn.p.example/thumb1.jpg"/></media:content></item>
<item><guid>p2</guid><title>Night trains return to the valley</title><link>https://p.example/2</link>
<enclosure url="https://cdn.p.example/train.png" type="image/png" length="1234"/></item>
<item><guid>p3</guid><title>Podcast: the week in rail</title><link>https://p.example/3</link>
<enclosure url="https://cdn.p.example/week.mp3" type="audio/mpeg" length="99"/></item>
<item><guid>p4</guid><title>Bridge inspection finds no faults</title><link>https://p.example/4</link>
<media:thumbnail url="javascript:alert(1)"/></item>
</channel></rss>"#;

const JSON: &str = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Json Desk",
 "items": [
  {"id": "j1", "url": "https://j.example/1", "title": "Glacier retreat speeds up",
   "content_text": "Ice.", "image": "https://img.j.example/glacier.webp"},
  {"id": "j2", "url": "https://j.example/2", "title": "Rail fares rise", "content_text": "Fares."}
 ]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_become_thumbnails_on_the_page_and_in_every_feed() {
    let server = FixtureServer::start();
    server.set(
        "/p.xml",
        Route::Feed {
            body: RSS.as_bytes().to_vec(),
            content_type: "application/rss+xml".into(),
            etag: None,
        },
    );
    server.set(
        "/j.json",
        Route::Feed {
            body: JSON.as_bytes().to_vec(),
            content_type: "application/feed+json".into(),
            etag: None,
        },
    );
    let sources = source("Pictures", &server.url("/p.xml"), &["world"])
        + &source("Json Desk", &server.url("/j.json"), &["world"]);
    let env = Env::new(&sources);
    env.ok(&["poll"]);

    let stories: serde_json::Value = serde_json::from_str(&env.ok(&["stories", "--json"])).unwrap();
    let image_of = |title: &str| {
        stories
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["items"][0]["title"] == title)
            .unwrap_or_else(|| panic!("{title}: {stories:#}"))["items"][0]
            .get("image")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let want = [
        (
            "Harbour cranes back at work",
            Some("https://cdn.p.example/thumb1.jpg"),
        ),
        (
            "Night trains return to the valley",
            Some("https://cdn.p.example/train.png"),
        ),
        ("Podcast: the week in rail", None),
        ("Bridge inspection finds no faults", None),
        (
            "Glacier retreat speeds up",
            Some("https://img.j.example/glacier.webp"),
        ),
        ("Rail fares rise", None),
    ];
    for (title, image) in want {
        assert_eq!(image_of(title).as_deref(), image, "{title}");
    }
    // One fetch of each feed, nothing else (the pictures stay on their hosts; pages are never read).
    assert_eq!(server.requests("/p.xml").len(), 1);
    assert_eq!(server.requests("/j.json").len(), 1);

    // The feeds carry the pictures on.
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);
    let feeds = out.join("feeds");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(feeds.join("all.json")).unwrap()).unwrap();
    let images: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["image"].as_str())
        .collect();
    assert_eq!(images.len(), 3, "{json:#}");
    for ext in ["rss", "atom"] {
        let text = std::fs::read_to_string(feeds.join(format!("all.{ext}"))).unwrap();
        assert!(
            text.contains(r#"xmlns:media="http://search.yahoo.com/mrss/""#)
                && text.contains(r#"<media:thumbnail url="https://img.j.example/glacier.webp""#)
                && text.matches("<media:thumbnail ").count() == 3,
            "{ext}: {text}"
        );
    }
    let files = [feeds.join("all.rss"), feeds.join("all.atom")];
    assert_xmllint_accepts(&files);
    if let Some(said) = feedparser_reports(
        &files,
        "sorted(t['url'] for e in d.entries for t in e.get('media_thumbnail', []))",
    ) {
        let want = "['https://cdn.p.example/thumb1.jpg', 'https://cdn.p.example/train.png', 'https://img.j.example/glacier.webp']";
        assert_eq!(said.matches(want).count(), 2, "{said}");
    }

    // The front page shows them scaled and lazy-loaded.
    let daemon = InProcessDaemon::start(&env).await;
    let page = reqwest::get(format!("http://{}/", daemon.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(
            r#"<img class="thumb" src="https://cdn.p.example/thumb1.jpg" alt="" loading="lazy""#
        ),
        "{page}"
    );
    assert_eq!(page.matches("<img class=\"thumb\"").count(), 3, "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    daemon.stop().await;
}

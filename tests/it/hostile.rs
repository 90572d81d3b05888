//! Hostile documents over loopback HTTP: every one ends with a clear error or a sane stored result,
//! and the stories stored before survive. Each case is a source of its own, polled together with a
//! well-behaved one.

use crate::support::{Env, FixtureServer, Route, rss_feed, source};

fn route(body: impl Into<Vec<u8>>) -> Route {
    Route::Feed {
        body: body.into(),
        content_type: "application/rss+xml".into(),
        etag: None,
    }
}

fn channel(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>H</title><link>https://h.example/</link><description>d</description>{items}</channel></rss>"
    )
}

fn item(guid: &str, title: &str, link: &str, date: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link><description>Text.</description>{date}</item>"
    )
}

/// The stored items of one source: (title, url, published) from `stories --json`.
fn items_of(env: &Env, source: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    for s in env.stories("all") {
        for it in s["items"].as_array().unwrap() {
            if it["source"] == source {
                out.push((
                    it["title"].as_str().unwrap().to_string(),
                    it["url"].as_str().map(str::to_string),
                    it["published"].as_str().map(str::to_string),
                ));
            }
        }
    }
    out
}

#[test]
fn hostile_xml_ends_in_a_clear_error_or_a_sane_result_and_loses_nothing() {
    let server = FixtureServer::start();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "TOP-SECRET-CONTENT").unwrap();

    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><rss version=\"2.0\"><channel><title>L</title><item><title>&lol9;</title><link>https://l.example/1</link></item></channel></rss>",
        (1..10)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!(
                    "&lol{};",
                    if i == 1 {
                        String::new()
                    } else {
                        (i - 1).to_string()
                    }
                )
                .repeat(10)
            ))
            .collect::<String>()
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file://{}\">]><rss version=\"2.0\"><channel><title>X</title><item><title>Leak &x; here</title><link>https://x.example/1</link></item></channel></rss>",
        secret.path().display()
    );
    let deep = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>D</title>{}{}</channel></rss>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let mut bad_utf8 =
        channel(&item("u1", "Caf\u{0}MARK tour", "https://u.example/1", "")).into_bytes();
    let at = bad_utf8.windows(4).position(|w| w == b"MARK").unwrap();
    bad_utf8.splice(at..at + 4, [0xff, 0xfe, b'!', b' ']);
    let nul = channel(&item(
        "n1",
        "Null\u{0}byte headline",
        "https://n.example/1",
        "",
    ));
    let huge_title = channel(&item(
        "t1",
        &"word ".repeat(200_000),
        "https://t.example/1",
        "",
    ));
    let dates = channel(
        &[
            item(
                "d1",
                "Year one",
                "https://d.example/1",
                "<pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate>",
            ),
            item(
                "d2",
                "Year 9999",
                "https://d.example/2",
                "<pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate>",
            ),
            item(
                "d3",
                "A real date",
                "https://d.example/3",
                "<pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate>",
            ),
        ]
        .concat(),
    );
    let links = channel(
        &[
            item(
                "l1",
                "Credentials in the link",
                "https://user:pass@c.example/story?utm_source=x",
                "",
            ),
            item("l2", "Script link", "javascript:alert(1)", ""),
            item("l3", "Data link", "data:text/html,<b>hi</b>", ""),
        ]
        .concat(),
    );
    let same_guid = channel(
        &(0..50)
            .map(|i| {
                item(
                    "same",
                    &format!("Story {i} with one guid"),
                    &format!("https://g.example/{i}"),
                    "",
                )
            })
            .collect::<String>(),
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("Laughs", laughs.into_bytes()),
        ("Xxe", xxe.into_bytes()),
        ("Deep", deep.into_bytes()),
        ("Utf8", bad_utf8),
        ("Nul", nul.into_bytes()),
        ("Huge", huge_title.into_bytes()),
        ("Dates", dates.into_bytes()),
        ("Links", links.into_bytes()),
        ("Guid", same_guid.into_bytes()),
    ];
    let good = rss_feed(
        "Good",
        &[("g1", "A well-formed story", "https://good.example/1")],
    );
    server.set("/good.xml", Route::rss(good));
    let mut sources = source("Good", &server.url("/good.xml"), &["world"]);
    for (name, body) in &cases {
        let path = format!("/{name}.xml");
        server.set(&path, route(body.clone()));
        sources += &source(name, &server.url(&path), &["world"]);
    }
    let env = Env::with_poll(&sources, "timeout_secs = 20\nmax_bytes = 4000000");
    let out = env.ok(&["poll"]);

    // The good source, and a second poll (nothing may be lost or duplicated by the hostile ones).
    assert!(out.contains("ok       Good: 1 entries, 1 new"), "{out}");
    // Billion laughs: stored, without expanding the entity.
    for (title, _, _) in items_of(&env, "Laughs") {
        assert!(title.len() < 1000, "expanded: {} bytes", title.len());
    }
    // XXE: the file is never read.
    let all = env.ok(&["stories", "--limit", "500", "--json"]);
    assert!(!all.contains("TOP-SECRET"), "XXE read a file");
    // 100,000 levels: a clear one-line error, not a crash.
    let deep_line = out.lines().find(|l| l.contains(" Deep:")).unwrap();
    assert!(
        deep_line.starts_with("error    Deep: parse:") && deep_line.contains("deeper"),
        "{deep_line}"
    );
    // Invalid UTF-8 and NUL: stored, lossily, without the NUL.
    let utf8 = items_of(&env, "Utf8");
    assert_eq!(utf8.len(), 1, "{out}");
    assert!(
        utf8[0].0.starts_with("Caf") && utf8[0].0.ends_with("tour"),
        "{utf8:?}"
    );
    let nul = items_of(&env, "Nul");
    assert_eq!(nul.len(), 1, "{out}");
    assert!(!nul[0].0.contains('\0'), "{nul:?}");
    // A 1 MB headline is cut at a word, with an ellipsis.
    let huge = items_of(&env, "Huge");
    assert_eq!(huge.len(), 1);
    assert!(
        huge[0].0.chars().count() <= 301 && huge[0].0.ends_with("word…"),
        "{}",
        huge[0].0.len()
    );
    // Years 1 and 9999 are no dates: stored without one (the story keeps its first-seen time).
    let mut dates = items_of(&env, "Dates");
    dates.sort();
    assert_eq!(dates.len(), 3);
    assert_eq!(dates[0].0, "A real date");
    assert!(
        dates[0].2.as_deref().unwrap().starts_with("2026-11-27"),
        "{dates:?}"
    );
    assert_eq!(
        (dates[1].2.as_deref(), dates[2].2.as_deref()),
        (None, None),
        "{dates:?}"
    );
    // Credentials and tracking are stripped; script and data links are dropped.
    let mut links = items_of(&env, "Links");
    links.sort();
    assert_eq!(
        links,
        vec![
            (
                "Credentials in the link".into(),
                Some("https://c.example/story".into()),
                None
            ),
            ("Data link".into(), None, None),
            ("Script link".into(), None, None),
        ]
    );
    // Every entry with one guid: one item.
    assert_eq!(items_of(&env, "Guid").len(), 1, "{out}");

    // Every feed still renders, and a second poll loses nothing.
    let before = env.stories("all").len();
    let dir = env.path("out");
    env.ok(&["render", "--out", dir.to_str().unwrap()]);
    let rss = std::fs::read(dir.join("feeds/all.rss")).unwrap();
    syndic::ingest::parse::parse_feed(&rss, None, None).expect("the merged feed parses");
    env.ok(&["poll"]);
    assert_eq!(env.stories("all").len(), before);
}

#[test]
fn a_document_with_100000_entries_is_cut_to_the_newest_and_says_so() {
    let server = FixtureServer::start();
    let mut body = String::with_capacity(12 << 20);
    body += "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title><link>https://b.example/</link><description>d</description>";
    for i in 0..100_000u32 {
        // Dates rise through the document: the newest entries are the last ones.
        let (day, hour, min) = (1 + i / 14_400 % 28, i / 600 % 24, i / 10 % 60);
        body += &format!(
            "<item><guid isPermaLink=\"false\">g{i}</guid><title>Entry number {i}</title><link>https://b.example/{i}</link><pubDate>{day:02} Nov 2026 {hour:02}:{min:02}:{:02} +0000</pubDate></item>",
            i % 10 * 6
        );
    }
    body += "</channel></rss>";
    server.set("/big.xml", route(body.into_bytes()));
    let env = Env::with_poll(
        &source("Big", &server.url("/big.xml"), &["world"]),
        "timeout_secs = 30\nmax_bytes = 20000000\nmax_entries = 300",
    );
    let out = env.ok(&["poll"]);
    assert!(out.contains("ok       Big: 300 entries, 300 new"), "{out}");
    assert!(
        out.contains("NOTE Big: 99700 older entries left out (poll.max_entries)"),
        "{out}"
    );
    let titles: Vec<String> = items_of(&env, "Big").into_iter().map(|t| t.0).collect();
    assert_eq!(titles.len(), 300);
    assert!(titles.contains(&"Entry number 99999".to_string()));
    assert!(!titles.contains(&"Entry number 99699".to_string()));
}

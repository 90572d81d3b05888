//! poll → store: dedupe across sources, sections, idempotent re-polls, in-place updates, 304s, and
//! broken sources that must not stop the others.

use std::time::Duration;

use crate::support::{Env, FixtureServer, Route, rss_feed, source, titles};

pub(crate) const QUAKE: &str = "Quake shakes northern Japan, no tsunami warning";
pub(crate) const SUMMIT: &str = "Seoul hosts regional trade summit";
pub(crate) const STOCKS: &str = "Markets rally as chip stocks surge";
const TALKS: &str = "Ceasefire talks resume in Geneva";
const QUAKE_B: &str = "Strong earthquake hits Hokkaido";

/// Two desks whose feeds share two stories: one article URL (with and without `utm_` parameters) and
/// one identical headline at different URLs.
pub(crate) fn two_desks() -> (FixtureServer, Env) {
    let server = FixtureServer::start();
    server.set(
        "/asia.xml",
        Route::rss(rss_feed(
            "Asia Desk",
            &[
                (
                    "a1",
                    QUAKE,
                    "https://a.example/japan-quake?utm_source=rss&utm_medium=feed",
                ),
                ("a2", SUMMIT, "https://a.example/seoul-summit"),
                ("a3", STOCKS, "https://a.example/chip-stocks"),
            ],
        )),
    );
    server.set(
        "/world.xml",
        Route::rss(rss_feed(
            "World Desk",
            &[
                ("b1", QUAKE_B, "https://a.example/japan-quake"),
                ("b2", SUMMIT, "https://b.example/2026/seoul"),
                ("b3", TALKS, "https://b.example/2026/geneva"),
            ],
        )),
    );
    let env = Env::new(&format!(
        "{}{}",
        source("Asia Desk", &server.url("/asia.xml"), &["asia"]),
        source("World Desk", &server.url("/world.xml"), &["world"])
    ));
    (server, env)
}

/// What every output of `two_desks` must list after one poll: per section, the (title, link) of each
/// story's lead item. The Asia Desk is listed first in the config, so its items lead where both report.
pub(crate) fn two_desks_sections() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let quake = (QUAKE, "https://a.example/japan-quake");
    let summit = (SUMMIT, "https://a.example/seoul-summit");
    let stocks = (STOCKS, "https://a.example/chip-stocks");
    let talks = (TALKS, "https://b.example/2026/geneva");
    vec![
        ("all", vec![quake, summit, stocks, talks]),
        ("asia", vec![quake, summit, stocks]),
        ("world", vec![quake, summit, talks]),
        ("business", vec![stocks]),
        ("debate", vec![]),
        ("lifestyle", vec![]),
    ]
}

#[test]
fn shared_stories_appear_once_per_feed_with_the_right_sections() {
    let (_server, env) = two_desks();
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("ok       Asia Desk: 3 entries, 3 new"),
        "{out}"
    );
    assert!(
        out.contains("ok       World Desk: 3 entries, 3 new"),
        "{out}"
    );
    assert!(out.contains("0 errors"), "{out}");

    let all = env.stories("all");
    assert_eq!(all.len(), 4, "6 items make 4 stories: {all:#?}");
    let quake = all
        .iter()
        .find(|s| {
            s["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["title"] == QUAKE)
        })
        .expect("quake story");
    let urls: Vec<&str> = quake["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        vec!["https://a.example/japan-quake"; 2],
        "tracking parameters are gone"
    );
    let summit = all
        .iter()
        .find(|s| s["items"][0]["title"] == SUMMIT)
        .expect("summit story");
    assert_eq!(summit["items"].as_array().unwrap().len(), 2);

    // Sections: source defaults plus keywords ("Japan", "stocks", "ceasefire").
    let sections_of = |title: &str| -> Vec<String> {
        let s = all
            .iter()
            .find(|s| {
                s["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["title"] == title)
            })
            .unwrap();
        serde_json::from_value(s["sections"].clone()).unwrap()
    };
    assert_eq!(sections_of(QUAKE), vec!["asia", "world"]);
    assert_eq!(sections_of(SUMMIT), vec!["asia", "world"]);
    assert_eq!(sections_of(STOCKS), vec!["asia", "business"]);
    assert_eq!(sections_of(TALKS), vec!["world"]);

    // Each section lists each of its stories exactly once.
    let expect = [
        ("asia", 3),
        ("world", 3),
        ("business", 1),
        ("debate", 0),
        ("lifestyle", 0),
    ];
    for (section, n) in expect {
        let list = env.stories(section);
        let mut t = titles(&list);
        t.dedup();
        assert_eq!(t.len(), n, "{section}: {t:?}");
        assert_eq!(list.len(), n, "{section}: duplicates in {t:?}");
    }

    // The rendered feeds agree: one entry per story.
    let out_dir = env.path("public");
    env.ok(&["render", "--out", out_dir.to_str().unwrap()]);
    let rss = std::fs::read_to_string(out_dir.join("feeds/all.rss")).unwrap();
    assert_eq!(rss.matches("<item>").count(), 4, "{rss}");
    let atom = std::fs::read_to_string(out_dir.join("feeds/asia.atom")).unwrap();
    assert_eq!(atom.matches("<entry>").count(), 3, "{atom}");
    assert!(
        atom.contains("rel=\"related\""),
        "other sources are linked: {atom}"
    );
}

#[test]
fn polling_again_adds_nothing_and_a_changed_headline_updates_in_place() {
    let (server, env) = two_desks();
    env.ok(&["poll"]);
    let before = env.stories("all");

    let again = env.ok(&["poll"]);
    assert!(again.contains("0 new items"), "{again}");
    assert!(
        again.contains("store holds 6 items in 4 stories"),
        "{again}"
    );
    assert_eq!(env.stories("all").len(), before.len());

    // Same guid, new headline (and the feed's bytes change, so it is parsed).
    server.set(
        "/asia.xml",
        Route::rss(rss_feed(
            "Asia Desk",
            &[
                (
                    "a1",
                    QUAKE,
                    "https://a.example/japan-quake?utm_source=rss&utm_medium=feed",
                ),
                ("a2", SUMMIT, "https://a.example/seoul-summit"),
                (
                    "a3",
                    "Markets rally as chip stocks surge to record",
                    "https://a.example/chip-stocks",
                ),
            ],
        )),
    );
    let out = env.ok(&["poll", "--source", "Asia Desk"]);
    assert!(
        out.contains("Asia Desk: 3 entries, 0 new, 1 updated"),
        "{out}"
    );
    assert!(out.contains("store holds 6 items in 4 stories"), "{out}");
    let t = titles(&env.stories("all"));
    assert!(
        t.contains(&"Markets rally as chip stocks surge to record".to_string()),
        "{t:?}"
    );
    assert!(!t.contains(&STOCKS.to_string()), "{t:?}");
}

#[test]
fn a_304_costs_no_parse_and_changes_nothing() {
    let server = FixtureServer::start();
    server.set(
        "/feed.xml",
        Route::rss(rss_feed(
            "Desk",
            &[("x1", "Central bank holds rates", "https://c.example/1")],
        ))
        .with_etag("v1"),
    );
    let env = Env::new(&source("Desk", &server.url("/feed.xml"), &["business"]));
    env.ok(&["poll"]);
    let before = env.ok(&["stories", "--json"]);

    let out = env.ok(&["poll"]);
    assert!(out.contains("304      Desk: not modified"), "{out}");
    let reqs = server.requests("/feed.xml");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers.get("if-none-match"), None);
    assert_eq!(
        reqs[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(reqs[1].status, 304);
    assert_eq!(
        env.ok(&["stories", "--json"]),
        before,
        "a 304 changes no story"
    );
    let sources = env.ok(&["sources", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&sources).unwrap();
    assert_eq!(v[0]["status"], "not-modified");
    assert_eq!(v[0]["items"], 1);
}

#[test]
fn broken_sources_do_not_stop_the_others_and_show_their_errors() {
    let server = FixtureServer::start();
    server.set(
        "/good.xml",
        Route::rss(rss_feed(
            "Good",
            &[("g1", "Opinion: cities need trees", "https://g.example/1")],
        )),
    );
    server.set("/slow.xml", Route::Hang(Duration::from_secs(4)));
    server.set("/garbage.xml", Route::Garbage);
    server.set("/down.xml", Route::Status(500));
    let env = Env::with_poll(
        &format!(
            "{}{}{}{}",
            source("Good", &server.url("/good.xml"), &[]),
            source("Slow", &server.url("/slow.xml"), &["world"]),
            source("Garbage", &server.url("/garbage.xml"), &["world"]),
            source("Down", &server.url("/down.xml"), &["world"]),
        ),
        "timeout_secs = 1",
    );
    let out = env.ok(&["poll"]);
    assert!(out.contains("ok       Good: 1 entries, 1 new"), "{out}");
    assert!(
        out.contains("error    Slow: fetch: timed out after 1s"),
        "{out}"
    );
    assert!(out.contains("error    Garbage: parse: not a feed"), "{out}");
    assert!(out.contains("error    Down: fetch: HTTP 500"), "{out}");
    assert!(out.contains("3 errors"), "{out}");
    assert_eq!(
        titles(&env.stories("debate")),
        vec!["Opinion: cities need trees"]
    );

    let health = env.ok(&["sources"]);
    assert!(
        health.contains("error: fetch: timed out after 1s"),
        "{health}"
    );
    assert!(health.contains("error: parse: not a feed"), "{health}");
    assert!(health.contains("error: fetch: HTTP 500"), "{health}");
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    let streak = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["error_streak"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((streak("Good"), streak("Down")), (0, 1));

    // A later failure of a good source keeps what it stored.
    server.set("/good.xml", Route::Garbage);
    let out = env.ok(&["poll", "--source", "Good"]);
    assert!(out.contains("error    Good: parse"), "{out}");
    assert_eq!(
        titles(&env.stories("all")),
        vec!["Opinion: cities need trees"]
    );
}

#[test]
fn offline_example_merges_the_sample_feeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // Copy the example so the test does not write a database into the repo.
    let examples = dir.path().join("examples");
    std::fs::create_dir_all(examples.join("feeds")).unwrap();
    std::fs::copy(
        root.join("examples/offline.toml"),
        examples.join("offline.toml"),
    )
    .unwrap();
    for f in std::fs::read_dir(root.join("examples/feeds")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), examples.join("feeds").join(f.file_name())).unwrap();
    }
    let config = examples.join("offline.toml");
    let out = crate::support::syndic_with(&config, &["poll"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("polled 5 sources: 15 new items, 0 errors"),
        "{text}"
    );
    assert!(
        text.contains("store holds 15 items in 12 stories"),
        "{text}"
    );
}

#[test]
fn feeds_hold_at_most_max_items_newest_first() {
    let server = FixtureServer::start();
    let items: Vec<(String, String, String)> = (0..6)
        .map(|i| {
            (
                format!("g{i}"),
                format!("Central bank story number {i}"),
                format!("https://c.example/{i}"),
            )
        })
        .collect();
    // rss_feed dates item i at 10-i o'clock: item 0 is the newest.
    server.set("/c.xml", Route::rss(rss_feed("C", &items)));
    let env = Env::new(&source("C", &server.url("/c.xml"), &[]));
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace("max_items = 50", "max_items = 2"),
    )
    .unwrap();
    env.ok(&["poll"]);
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);
    for section in ["all", "business"] {
        let rss = std::fs::read_to_string(out.join(format!("feeds/{section}.rss"))).unwrap();
        assert_eq!(rss.matches("<item>").count(), 2, "{rss}");
        let first = rss.find("story number 0").expect("newest first");
        let second = rss.find("story number 1").expect("second newest");
        assert!(first < second, "{rss}");
    }
}

#[test]
fn entries_with_no_title_link_or_text_are_not_stored() {
    let server = FixtureServer::start();
    server.set(
        "/thin.xml",
        Route::rss(
            "<rss version=\"2.0\"><channel><title>T</title><link>http://t.example/</link><description>d</description>\
             <item><guid isPermaLink=\"false\">only-a-guid</guid><author>ed@t.example (Ed)</author></item>\
             <item><title>Harbour reopens after the storm</title><link>https://t.example/1</link></item>\
             </channel></rss>",
        ),
    );
    let env = Env::new(&source("Thin", &server.url("/thin.xml"), &["world"]));
    let out = env.ok(&["poll"]);
    assert!(out.contains("1 new"), "{out}");
    assert_eq!(
        titles(&env.stories("all")),
        vec!["Harbour reopens after the storm"]
    );
}

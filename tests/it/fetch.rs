//! Fetching against hostile or unusual servers: size caps, gzip, Retry-After, redirects, charsets,
//! and the configured User-Agent.

use std::io::Write;

use chrono::Utc;

use crate::support::{Env, FixtureServer, Route, rss_feed, source, titles};

fn sources_json(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap()
}

#[test]
fn bodies_over_max_bytes_are_refused_while_streaming() {
    let server = FixtureServer::start();
    server.set("/endless.xml", Route::Unbounded(64 * 1024 * 1024));
    let big = rss_feed(
        "Big",
        &[("b1", &"long ".repeat(1000), "https://b.example/1")],
    );
    server.set("/declared.xml", Route::rss(big));
    let env = Env::with_poll(
        &format!(
            "{}{}",
            source("Endless", &server.url("/endless.xml"), &[]),
            source("Declared", &server.url("/declared.xml"), &[])
        ),
        "timeout_secs = 20\nmax_bytes = 4096",
    );
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("error    Endless: fetch: body larger than the 4096-byte limit"),
        "{out}"
    );
    assert!(
        out.contains("error    Declared: fetch: body larger than the 4096-byte limit"),
        "{out}"
    );
}

#[test]
fn gzip_redirects_user_agent_and_relative_links() {
    let server = FixtureServer::start();
    let feed = "<rss version=\"2.0\"><channel><title>Z</title><link>http://z.example/</link><description>d</description>\
        <item><title>Central bank weighs digital currency</title><link>../stories/cbdc?utm_source=x</link></item></channel></rss>";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(feed.as_bytes()).unwrap();
    server.set(
        "/news/feed.xml",
        Route::Raw {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/rss+xml".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
            body: gz.finish().unwrap(),
        },
    );
    server.set(
        "/old-feed",
        Route::Raw {
            status: 301,
            headers: vec![("Location".into(), "/news/feed.xml".into())],
            body: Vec::new(),
        },
    );
    let env = Env::with_poll(
        &source("Zed", &server.url("/old-feed"), &[]),
        "timeout_secs = 5\nuser_agent = \"syndic-test/1.0 (+mailto:ops@example.org)\"",
    );
    let out = env.ok(&["poll"]);
    assert!(out.contains("ok       Zed: 1 entries, 1 new"), "{out}");
    let stories = env.stories("business");
    let url = stories[0]["items"][0]["url"].as_str().unwrap();
    assert_eq!(
        url,
        server.url("/stories/cbdc"),
        "relative to the final URL, tracking removed"
    );
    let seen = server.requests("/news/feed.xml");
    assert_eq!(
        seen[0].headers.get("user-agent").map(String::as_str),
        Some("syndic-test/1.0 (+mailto:ops@example.org)")
    );
    assert!(
        seen[0]
            .headers
            .get("accept-encoding")
            .is_some_and(|v| v.contains("gzip"))
    );
}

#[test]
fn retry_after_pushes_the_next_check_back() {
    let server = FixtureServer::start();
    server.set(
        "/busy.xml",
        Route::Raw {
            status: 429,
            headers: vec![("Retry-After".into(), "7200".into())],
            body: Vec::new(),
        },
    );
    let env = Env::new(&source("Busy", &server.url("/busy.xml"), &[]));
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("error    Busy: fetch: HTTP 429 (retry after 7200s)"),
        "{out}"
    );
    let s = &sources_json(&env)[0];
    let next: chrono::DateTime<Utc> = s["next_check_at"].as_str().unwrap().parse().unwrap();
    assert!(
        next > Utc::now() + chrono::Duration::seconds(7000),
        "{next}"
    );
    assert_eq!(s["error_streak"], 1);
}

#[test]
fn the_http_charset_applies_when_the_document_declares_none() {
    let server = FixtureServer::start();
    // "Привет, мир: Japan" in KOI8-R, no XML declaration.
    let mut body =
        b"<rss version=\"2.0\"><channel><title>K</title><item><guid>k1</guid><title>".to_vec();
    body.extend_from_slice(b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2: Japan</title><link>https://k.example/1</link></item></channel></rss>");
    server.set(
        "/koi8.xml",
        Route::Raw {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml; charset=KOI8-R".into())],
            body,
        },
    );
    let env = Env::new(&source("Koi", &server.url("/koi8.xml"), &[]));
    env.ok(&["poll"]);
    assert_eq!(titles(&env.stories("asia")), vec!["Привет, мир: Japan"]);
}

#[test]
fn fetches_respect_the_per_host_and_global_limits() {
    // Every fixture source is on 127.0.0.1: one host. Each answer takes a while, so a missing limit
    // would show as overlapping requests.
    let run = |poll: &str| {
        let server = FixtureServer::start();
        let mut sources = String::new();
        for i in 0..4 {
            let path = format!("/slow{i}.xml");
            server.set(&path, Route::Hang(std::time::Duration::from_millis(300)));
            sources.push_str(&source(&format!("S{i}"), &server.url(&path), &[]));
        }
        let env = Env::with_poll(&sources, poll);
        let out = env.ok(&["poll"]);
        assert!(out.contains("polled 4 sources"), "{out}");
        server.max_concurrent()
    };
    assert_eq!(run("timeout_secs = 10\nconcurrency = 8\nper_host = 1"), 1);
    assert!(run("timeout_secs = 10\nconcurrency = 2\nper_host = 4") <= 2);
}

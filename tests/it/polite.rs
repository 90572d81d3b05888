//! Polling politely against a misbehaving loopback server: Retry-After, backoff, 410, permanent moves,
//! redirect limits, HTML pages that announce feeds, feed hints, conditional GET.

use chrono::{DateTime, Duration, Utc};

use crate::support::{Env, FixtureServer, Route, rss_feed, source};

fn sources_json(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap()
}

fn source_json(env: &Env, name: &str) -> serde_json::Value {
    sources_json(env)
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

fn next_check(env: &Env, name: &str) -> DateTime<Utc> {
    source_json(env, name)["next_check_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn raw(status: u16, headers: &[(&str, &str)], body: &str) -> Route {
    Route::Raw {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn feed() -> String {
    rss_feed(
        "Wire",
        &[("w1", "Ferry sinks off Korean island", "https://w.example/1")],
    )
}

fn redirect(status: u16, to: &str) -> Route {
    raw(status, &[("Location", to)], "")
}

#[test]
fn retry_after_holds_only_that_source_in_seconds_and_as_a_date() {
    let server = FixtureServer::start();
    server.set("/busy.xml", raw(429, &[("Retry-After", "120")], ""));
    let later = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    server.set("/dated.xml", raw(503, &[("Retry-After", &later)], ""));
    server.set("/fine.xml", Route::rss(feed()));
    let env = Env::new(&format!(
        "{}{}{}",
        source("Busy", &server.url("/busy.xml"), &[]),
        source("Dated", &server.url("/dated.xml"), &[]),
        source("Fine", &server.url("/fine.xml"), &[])
    ));
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("error    Busy: fetch: HTTP 429 (retry after 120s)"),
        "{out}"
    );
    assert!(out.contains("error    Dated: fetch: HTTP 503"), "{out}");

    // The next manual poll leaves both alone, says why and until when; the other source on the same host
    // is still polled.
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("held     Busy: the server asked not to be polled before"),
        "{out}"
    );
    assert!(out.contains("held     Dated:"), "{out}");
    assert!(out.contains("2 held"), "{out}");
    assert_eq!(server.requests("/busy.xml").len(), 1);
    assert_eq!(server.requests("/dated.xml").len(), 1);
    assert_eq!(server.requests("/fine.xml").len(), 2);
    // The daemon's schedule says the same.
    let busy = next_check(&env, "Busy");
    assert!(busy >= Utc::now() + Duration::seconds(100), "{busy}");
    let dated = next_check(&env, "Dated");
    assert!(dated >= Utc::now() + Duration::minutes(55), "{dated}");
    assert_eq!(source_json(&env, "Busy")["state"], "retry-after");

    // One source by name: held, and it says so; --force overrides.
    let out = env.ok(&["poll", "--source", "Busy"]);
    assert!(
        out.contains("held     Busy:") && out.contains("--force"),
        "{out}"
    );
    assert_eq!(server.requests("/busy.xml").len(), 1);
    env.ok(&["poll", "--source", "Busy", "--force"]);
    assert_eq!(server.requests("/busy.xml").len(), 2);
}

#[test]
fn failures_back_off_doubling_and_success_resets() {
    let server = FixtureServer::start();
    server.set("/flaky.xml", Route::Status(500));
    let env = Env::new(&source("Flaky", &server.url("/flaky.xml"), &[]));
    let mut waits = Vec::new();
    for round in 0..3 {
        let out = env.ok(&["poll", "--force"]);
        assert!(
            out.contains("error    Flaky: fetch: HTTP 500"),
            "{round}: {out}"
        );
        waits.push((next_check(&env, "Flaky") - Utc::now()).num_minutes());
    }
    // Every 15 minutes normally: 30, 60, 120 minutes (plus up to a tenth of jitter).
    for (wait, want) in waits.iter().zip([30, 60, 120]) {
        assert!((want - 1..=want + want / 10).contains(wait), "{waits:?}");
    }
    let s = source_json(&env, "Flaky");
    assert_eq!(
        (s["state"].as_str(), s["error_streak"].as_i64()),
        (Some("backoff"), Some(3))
    );
    let text = env.ok(&["sources"]);
    assert!(
        text.contains("BACKING OFF: 3 consecutive failures"),
        "{text}"
    );
    // A plain poll respects the backoff.
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("held     Flaky: backing off after 3 consecutive failures"),
        "{out}"
    );
    assert_eq!(server.requests("/flaky.xml").len(), 3);

    server.set("/flaky.xml", Route::rss(feed()));
    let out = env.ok(&["poll", "--force"]);
    assert!(out.contains("ok       Flaky: 1 entries"), "{out}");
    let s = source_json(&env, "Flaky");
    assert_eq!(
        (s["state"].as_str(), s["error_streak"].as_i64()),
        (Some("ok"), Some(0))
    );
    assert!(next_check(&env, "Flaky") <= Utc::now() + Duration::minutes(17));
}

#[test]
fn gone_sources_stop_until_their_url_changes() {
    let server = FixtureServer::start();
    server.set("/gone.xml", Route::Status(410));
    server.set("/new.xml", Route::rss(feed()));
    let env = Env::new(&source("Old", &server.url("/gone.xml"), &[]));
    let out = env.ok(&["poll"]);
    assert!(out.contains("error    Old: fetch: HTTP 410 Gone"), "{out}");
    for _ in 0..2 {
        let out = env.ok(&["poll"]);
        assert!(out.contains("gone     Old: answered 410 Gone"), "{out}");
    }
    assert_eq!(server.requests("/gone.xml").len(), 1);
    let text = env.ok(&["sources"]);
    assert!(
        text.contains("GONE since") && text.contains("feeds.toml"),
        "{text}"
    );
    assert_eq!(source_json(&env, "Old")["state"], "gone");

    // The operator points the source elsewhere: it is polled again, afresh.
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        config.replace(&server.url("/gone.xml"), &server.url("/new.xml")),
    )
    .unwrap();
    let out = env.ok(&["poll"]);
    assert!(out.contains("ok       Old: 1 entries"), "{out}");
    assert_eq!(source_json(&env, "Old")["state"], "ok");
}

#[test]
fn permanent_moves_are_followed_remembered_and_reported() {
    let server = FixtureServer::start();
    server.set("/old.xml", redirect(301, "/moved.xml"));
    server.set("/moved.xml", Route::rss(feed()));
    server.set("/temp.xml", redirect(302, "/moved.xml"));
    let env = Env::new(&format!(
        "{}{}",
        source("Mover", &server.url("/old.xml"), &[]),
        source("Temp", &server.url("/temp.xml"), &[])
    ));
    let before = std::fs::read_to_string(env.config_path()).unwrap();
    let out = env.ok(&["poll"]);
    let new_url = server.url("/moved.xml");
    assert!(
        out.contains(&format!("NOTE Mover: moved permanently to {new_url}")),
        "{out}"
    );
    assert!(out.contains("update their url in feeds.toml"), "{out}");
    assert!(!out.contains("NOTE Temp"), "302 is not a move: {out}");
    // From now on the new URL is polled directly; a 302 keeps the original.
    env.ok(&["poll"]);
    assert_eq!(server.requests("/old.xml").len(), 1);
    assert_eq!(server.requests("/temp.xml").len(), 2);
    let s = source_json(&env, "Mover");
    assert_eq!(s["moved_to"], new_url.as_str());
    assert_eq!(s["url"], server.url("/old.xml").as_str());
    let text = env.ok(&["sources"]);
    assert!(
        text.contains(&format!("MOVED permanently to {new_url}")),
        "{text}"
    );
    // The operator's file is never rewritten.
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), before);
}

#[test]
fn redirect_loops_and_long_chains_end_with_clear_errors() {
    let server = FixtureServer::start();
    server.set("/loop-a", redirect(302, "/loop-b"));
    server.set("/loop-b", redirect(307, "/loop-a"));
    for i in 0..12 {
        server.set(
            &format!("/hop{i}"),
            redirect(302, &format!("/hop{}", i + 1)),
        );
    }
    server.set("/hop12", Route::rss(feed()));
    // Ten hops (hop2 → … → hop12) are fine, eleven (hop1 → …) are not.
    let env = Env::new(&format!(
        "{}{}{}",
        source("Loop", &server.url("/loop-a"), &[]),
        source("Ten", &server.url("/hop2"), &[]),
        source("Eleven", &server.url("/hop1"), &[])
    ));
    let out = env.ok(&["poll"]);
    let (a, b) = (server.url("/loop-a"), server.url("/loop-b"));
    assert!(
        out.contains(&format!(
            "error    Loop: fetch: redirect loop: {a} -> {b} -> {a}"
        )),
        "{out}"
    );
    assert!(out.contains("ok       Ten: 1 entries"), "{out}");
    assert!(
        out.contains("error    Eleven: fetch: more than 10 redirects:"),
        "{out}"
    );
}

#[test]
fn an_html_page_names_the_feeds_it_announces() {
    let server = FixtureServer::start();
    let page = r#"<!DOCTYPE html><html><head><title>World news</title>
        <link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">
        <link rel="alternate" type="application/atom+xml" href="https://other.example/world.atom">
        </head><body><h1>World</h1></body></html>"#;
    server.set(
        "/world/",
        raw(200, &[("Content-Type", "text/html; charset=utf-8")], page),
    );
    server.set(
        "/plain.html",
        raw(
            200,
            &[("Content-Type", "text/html")],
            "<html><body>hi</body></html>",
        ),
    );
    let env = Env::new(&format!(
        "{}{}",
        source("Page", &server.url("/world/"), &[]),
        source("Plain", &server.url("/plain.html"), &[])
    ));
    let out = env.ok(&["poll"]);
    let want = format!(
        "error    Page: {} is an HTML page; it announces feeds at {}, https://other.example/world.atom",
        server.url("/world/"),
        server.url("/world/rss.xml")
    );
    assert!(out.contains(&want), "{out}");
    assert!(
        out.contains("is an HTML page; it announces no feed"),
        "{out}"
    );
}

#[test]
fn feed_hints_stretch_the_interval_but_never_shorten_it() {
    let server = FixtureServer::start();
    let with_ttl = |ttl: u32| feed().replace("<channel>", &format!("<channel><ttl>{ttl}</ttl>"));
    server.set("/ttl.xml", Route::rss(with_ttl(120)));
    server.set("/short.xml", Route::rss(with_ttl(1)));
    server.set(
        "/maxage.xml",
        raw(
            200,
            &[
                ("Content-Type", "application/rss+xml"),
                ("Cache-Control", "public, max-age=7200"),
            ],
            &feed(),
        ),
    );
    let sources = format!(
        "{}{}{}",
        source("Ttl", &server.url("/ttl.xml"), &[]),
        source("Short", &server.url("/short.xml"), &[]),
        source("MaxAge", &server.url("/maxage.xml"), &[])
    );
    let env = Env::new(&sources);
    env.ok(&["poll"]);
    let soon = Utc::now() + Duration::minutes(16);
    assert!(next_check(&env, "Ttl") >= Utc::now() + Duration::minutes(118));
    assert!(next_check(&env, "MaxAge") >= Utc::now() + Duration::minutes(118));
    assert!(
        next_check(&env, "Short") <= soon,
        "a smaller hint does not shorten"
    );
    assert_eq!(source_json(&env, "Ttl")["hint_secs"], 7200);

    // Switched off, hints change nothing.
    let off = Env::with_poll(
        &sources,
        "schedule = \"*/15 * * * *\"\nhonor_feed_hints = false",
    );
    off.ok(&["poll"]);
    for name in ["Ttl", "MaxAge", "Short"] {
        assert!(next_check(&off, name) <= soon, "{name}");
    }
}

#[test]
fn a_stable_feed_with_an_etag_is_parsed_once_in_fifty_polls() {
    let server = FixtureServer::start();
    server.set("/stable.xml", Route::rss(feed()).with_etag("v1"));
    let env = Env::new(&source("Stable", &server.url("/stable.xml"), &[]));
    let mut parsed = 0;
    let mut not_modified = 0;
    for _ in 0..50 {
        let out = env.ok(&["poll"]);
        parsed += usize::from(out.contains("ok       Stable:"));
        not_modified += usize::from(out.contains("304      Stable: not modified"));
    }
    assert_eq!((parsed, not_modified), (1, 49));
    let seen = server.requests("/stable.xml");
    assert_eq!(seen.len(), 50);
    assert!(
        seen[1..]
            .iter()
            .all(|s| s.headers.get("if-none-match").map(String::as_str) == Some("\"v1\""))
    );
}

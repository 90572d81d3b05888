//! Publishing beyond the first page: RFC 5005 archive pages, WebSub pings, OPML import.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::{
    Env, FixtureServer, InProcessDaemon, Route, rss_feed, source, text, wait_until,
};

/// Headlines that share no words, so none of them cluster.
pub(crate) fn distinct_headlines(n: usize) -> Vec<(String, String, String)> {
    const A: [&str; 8] = [
        "Harbour", "Glacier", "Orchard", "Railway", "Lantern", "Quarry", "Meadow", "Canyon",
    ];
    const B: [&str; 6] = ["opens", "floods", "closes", "expands", "burns", "reopens"];
    const C: [&str; 5] = ["Tuesday", "quietly", "overnight", "again", "early"];
    (0..n)
        .map(|i| {
            (
                format!("p{i}"),
                format!(
                    "{} {} {} {i}",
                    A[i % A.len()],
                    B[(i / A.len()) % B.len()],
                    C[i % C.len()]
                ),
                format!("https://p.example/{i}"),
            )
        })
        .collect()
}

/// The `href` of the element carrying `rel="next"` in an RSS or Atom document.
fn xml_next(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    let tag = &body[start..end];
    let href = tag.split("href=\"").nth(1)?;
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

/// Walks a feed's pages by their `next` links; returns the entry ids of each page.
/// Links carry the configured base URL (`http://feeds.test`); they are followed on the test's daemon.
async fn walk(client: &reqwest::Client, base: &str, first: &str, ext: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut url = Some(first.to_string());
    while let Some(u) = url.take().map(|u| u.replace("http://feeds.test", base)) {
        assert!(pages.len() < 50, "paging does not end");
        let resp = client.get(&u).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{u}");
        let body = resp.text().await.unwrap();
        let ids: Vec<String> = match ext {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                url = v["next_url"].as_str().map(str::to_string);
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["url"].as_str().unwrap().to_string())
                    .collect()
            }
            _ => {
                url = xml_next(&body);
                let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
                feed.entries
                    .iter()
                    .map(|e| e.links[0].href.clone())
                    .collect()
            }
        };
        pages.push(ids);
    }
    pages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_pages_reach_every_story_exactly_once() {
    let server = FixtureServer::start();
    let items = distinct_headlines(23);
    server.set("/p.xml", Route::rss(rss_feed("P", &items)));
    let env = Env::new(&source("P", &server.url("/p.xml"), &["world"]));
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace("max_items = 50", "max_items = 5"),
    )
    .unwrap();
    env.ok(&["poll"]);

    // The static export writes the same pages, and the HTML pages.
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);
    for ext in ["rss", "atom", "json"] {
        assert!(out.join(format!("feeds/world.{ext}")).is_file());
        for page in 2..=5 {
            let archive = out.join(format!("feeds/world/page/{page}.{ext}"));
            let text = std::fs::read_to_string(&archive).unwrap();
            assert!(text.contains(&format!("?page={page}")), "{text}");
        }
        assert!(!out.join(format!("feeds/world/page/6.{ext}")).exists());
        assert!(!out.join(format!("feeds/asia/page/2.{ext}")).exists());
    }
    for page in ["index.html", "world.html", "asia.html", "sources.opml"] {
        assert!(out.join(page).is_file(), "{page}");
    }

    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::new();
    let want: HashSet<String> = items.iter().map(|(_, _, u)| u.clone()).collect();
    for section in ["all", "world"] {
        for ext in ["rss", "atom", "json"] {
            let first = format!("{base}/feeds/{section}.{ext}");
            let pages = walk(&client, &base, &first, ext).await;
            assert_eq!(pages.len(), 5, "{first}: 23 stories in pages of 5");
            assert!(pages[..4].iter().all(|p| p.len() == 5), "{pages:?}");
            let all: Vec<&String> = pages.iter().flatten().collect();
            let unique: HashSet<String> = all.iter().map(|s| s.to_string()).collect();
            assert_eq!(all.len(), unique.len(), "a story on two pages: {pages:?}");
            assert_eq!(unique, want, "{first}");
            // Newest first across pages: rss_feed dates item i at 10-i o'clock.
            assert_eq!(pages[0][0], "https://p.example/0");
            assert_eq!(pages[4].last().unwrap(), "https://p.example/22");

            let past = client.get(format!("{first}?page=6")).send().await.unwrap();
            assert_eq!(past.status(), 404, "{first}?page=6");
            assert!(past.text().await.unwrap().contains("no page 6"));
            for bad in ["0", "x", "-1"] {
                let r = client
                    .get(format!("{first}?page={bad}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 400, "page={bad}");
            }
        }
    }
    // Page 2 links back to the first page and forward to page 3, in the body and the Link header.
    let r = client
        .get(format!("{base}/feeds/world.atom?page=2"))
        .send()
        .await
        .unwrap();
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("<http://feeds.test/feeds/world.atom?page=2>; rel=\"self\""),
        "{link}"
    );
    assert!(
        link.contains("<http://feeds.test/feeds/world.atom>; rel=\"previous\""),
        "{link}"
    );
    assert!(
        link.contains("<http://feeds.test/feeds/world.atom?page=3>; rel=\"next\""),
        "{link}"
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"href="http://feeds.test/feeds/world.atom" rel="first""#),
        "{body}"
    );
    // Pages: /all is the front page's other name; an unknown section is a 404.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain.get(format!("{base}/all")).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "./");
    let r = plain.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = plain.get(format!("{base}/world")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Harbour opens Tuesday 0"));

    // The first page of an empty section is an empty feed with no next link, not a 404.
    let r = client
        .get(format!("{base}/feeds/asia.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(xml_next(&r.text().await.unwrap()).is_none());
    daemon.stop().await;
}

/// The `hub.url` of each publish ping the hub received, after checking the ping's form.
fn pings(hub: &FixtureServer) -> Vec<String> {
    hub.requests("/hub")
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(
                r.headers.get("content-type").map(String::as_str),
                Some("application/x-www-form-urlencoded")
            );
            let form: Vec<(String, String)> = url::form_urlencoded::parse(r.body.as_bytes())
                .into_owned()
                .collect();
            assert!(
                form.contains(&("hub.mode".into(), "publish".into())),
                "{form:?}"
            );
            form.into_iter()
                .find(|(k, _)| k == "hub.url")
                .map(|(_, v)| v)
                .expect("a hub.url")
        })
        .collect()
}

fn websub_env(server: &FixtureServer, hub: &FixtureServer) -> Env {
    let env = Env::with_poll(
        &source("P", &server.url("/p.xml"), &["world"]),
        "schedule = \"* * * * * *\"\ntimeout_secs = 5",
    );
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace(
            "max_items = 50",
            &format!("max_items = 50\nwebsub_hub = \"{}\"", hub.url("/hub")),
        ),
    )
    .unwrap();
    env
}

fn feed_urls(sections: &[&str]) -> Vec<String> {
    let mut urls: Vec<String> = sections
        .iter()
        .flat_map(|s| {
            ["rss", "atom", "json"].map(|ext| format!("http://feeds.test/feeds/{s}.{ext}"))
        })
        .collect();
    urls.sort();
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_gets_one_ping_per_changed_feed_and_is_advertised() {
    let (server, hub) = (FixtureServer::start(), FixtureServer::start());
    hub.set("/hub", Route::Status(202));
    let items = distinct_headlines(3);
    server.set("/p.xml", Route::rss(rss_feed("P", &items)));
    let env = websub_env(&server, &hub);
    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);

    // The first refresh changes Latest and World: one ping for each of their six feeds.
    let want = feed_urls(&["all", "world"]);
    wait_until("six publish pings", || pings(&hub).len() >= 6);
    // Later polls of the unchanged source change nothing and send nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = pings(&hub);
    got.sort();
    assert_eq!(got, want);

    // Every format advertises the hub and itself.
    let client = reqwest::Client::new();
    let hub_url = hub.url("/hub");
    for ext in ["rss", "atom"] {
        let r = client
            .get(format!("{base}/feeds/world.{ext}"))
            .send()
            .await
            .unwrap();
        let link = r.headers()["link"].to_str().unwrap().to_string();
        assert!(
            link.contains(&format!("<{hub_url}>; rel=\"hub\"")),
            "{link}"
        );
        assert!(link.contains("rel=\"self\""), "{link}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains(&format!("href=\"{hub_url}\" rel=\"hub\"")),
            "{body}"
        );
    }
    let body = text(&client, &format!("{base}/feeds/world.json")).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    assert_eq!(json["hubs"][0]["url"], hub_url.as_str());

    // A new story in the source: the same six feeds are pinged once more.
    server.set("/p.xml", Route::rss(rss_feed("P", &distinct_headlines(4))));
    wait_until("six more pings", || pings(&hub).len() >= 12);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut got = pings(&hub);
    got.sort();
    let mut twice: Vec<String> = want.iter().chain(&want).cloned().collect();
    twice.sort();
    assert_eq!(got, twice);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_hanging_hub_never_delays_refreshes() {
    for (hub_route, retried) in [
        (Route::Status(500), true),
        (Route::Hang(Duration::from_secs(30)), false),
    ] {
        let (server, hub) = (FixtureServer::start(), FixtureServer::start());
        hub.set("/hub", hub_route.clone());
        server.set("/p.xml", Route::rss(rss_feed("P", &distinct_headlines(1))));
        let env = websub_env(&server, &hub);
        let daemon = InProcessDaemon::start(&env).await;
        let client = reqwest::Client::new();
        let url = format!("http://{}/feeds/world.json", daemon.addr);
        crate::http::wait_for_body(&client, &url, "p.example/0").await;
        // While the hub fails or hangs, the next new stories still arrive at once.
        for n in 2..=4 {
            server.set("/p.xml", Route::rss(rss_feed("P", &distinct_headlines(n))));
            let started = Instant::now();
            crate::http::wait_for_body(&client, &url, &format!("p.example/{}", n - 1)).await;
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "{hub_route:?}: a refresh waited for the hub ({:?})",
                started.elapsed()
            );
        }
        if retried {
            // Each ping is tried three times, then given up.
            let first = "http://feeds.test/feeds/world.rss".to_string();
            wait_until("three attempts at one ping", || {
                pings(&hub).iter().filter(|u| **u == first).count() >= 3
            });
        }
        daemon.stop().await;
    }
}

#[test]
fn opml_round_trip_keeps_sources_and_comments_and_adds_nothing_twice() {
    let mut sources = source("Tokyo Desk", "https://tokyo.example/rss", &["asia"]);
    sources.push_str(&source(
        "Markets & Money",
        "https://money.example/feed?x=1&y=2",
        &["business", "world"],
    ));
    sources.push_str(&source("Everything", "https://all.example/atom", &[]));
    let full = Env::new(&sources);
    let opml = full.ok(&["sources", "--opml"]);
    let opml_path = full.path("sources.opml");
    std::fs::write(&opml_path, &opml).unwrap();

    let empty = Env::new("# no sources yet: import them\n");
    let before = std::fs::read_to_string(empty.config_path()).unwrap();
    let out = empty.ok(&["import-opml", opml_path.to_str().unwrap()]);
    assert!(out.contains("3 source(s) added, 0 skipped"), "{out}");
    let after = std::fs::read_to_string(empty.config_path()).unwrap();
    assert!(
        after.starts_with(&before),
        "the old text is kept as it was:\n{after}"
    );
    assert!(after.contains("# no sources yet: import them"));
    empty.ok(&["check"]);
    // The same sources: exporting again gives the same OPML.
    assert_eq!(empty.ok(&["sources", "--opml"]), opml);

    // Twice adds nothing and leaves the file alone.
    let out = empty.ok(&["import-opml", opml_path.to_str().unwrap()]);
    assert!(out.contains("0 source(s) added, 3 skipped"), "{out}");
    assert_eq!(std::fs::read_to_string(empty.config_path()).unwrap(), after);

    // --section adds a section to every new source; an unknown one is a usage error.
    let other = Env::new("");
    let out = other.ok(&[
        "import-opml",
        opml_path.to_str().unwrap(),
        "--section",
        "debate",
    ]);
    assert!(out.contains("[asia, debate]"), "{out}");
    let bad = other.syndic(&[
        "import-opml",
        opml_path.to_str().unwrap(),
        "--section",
        "nope",
    ]);
    assert_eq!(bad.status.code(), Some(2));

    // Not OPML: a clear error, the config untouched.
    let junk = other.path("junk.opml");
    std::fs::write(&junk, "<rss><channel/></rss>").unwrap();
    let before = std::fs::read_to_string(other.config_path()).unwrap();
    let bad = other.syndic(&["import-opml", junk.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not an OPML document"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(other.config_path()).unwrap(),
        before
    );
}

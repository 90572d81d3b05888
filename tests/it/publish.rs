//! Publishing beyond the first page: RFC 5005 archive pages, WebSub pings, OPML import.

use std::collections::HashSet;

use crate::support::{Env, FixtureServer, InProcessDaemon, Route, rss_feed, source};

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

            let past = client
                .get(format!("{first}?page=6"))
                .send()
                .await
                .unwrap();
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

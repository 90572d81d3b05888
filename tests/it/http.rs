//! The daemon over real loopback HTTP: caching headers, 304s, gzip, 404s, and a refresh that changes a
//! feed invalidating the cached bytes.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED,
};

use crate::support::{Env, FixtureServer, InProcessDaemon, Route, WAIT, rss_feed, source, text};

pub(crate) async fn wait_for_body(
    client: &reqwest::Client,
    url: &str,
    want: &str,
) -> reqwest::Response {
    let deadline = Instant::now() + WAIT;
    loop {
        let resp = client.get(url).send().await.unwrap();
        let etag = resp.headers().get(ETAG).cloned();
        let body = resp.text().await.unwrap();
        if body.contains(want) {
            // Fetch again so the caller gets an unread response for the same bytes.
            let again = client.get(url).send().await.unwrap();
            assert_eq!(again.headers().get(ETAG), etag.as_ref());
            return again;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never contained {want:?}; last body:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_cached_feeds_with_etags_304_and_gzip() {
    let server = FixtureServer::start();
    server.set(
        "/feed.xml",
        Route::rss(rss_feed(
            "Desk",
            &[(
                "x1",
                "Japan and Korea sign fisheries pact",
                "https://d.example/1",
            )],
        )),
    );
    // Poll every second (6-field cron) so a changed source shows up quickly.
    let env = Env::with_poll(
        &source("Desk", &server.url("/feed.xml"), &["asia"]),
        "schedule = \"* * * * * *\"\ntimeout_secs = 5",
    );
    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{base}/feeds/asia.rss");

    let resp = wait_for_body(&client, &url, "fisheries pact").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "application/rss+xml; charset=utf-8"
    );
    let opml = client
        .get(format!("{base}/sources.opml"))
        .send()
        .await
        .unwrap();
    assert_eq!(opml.headers()[CONTENT_TYPE], "text/x-opml; charset=utf-8");
    assert!(
        opml.text()
            .await
            .unwrap()
            .contains("xmlUrl=\"http://127.0.0.1:")
    );
    // Polled every second: readers are asked to wait the one-minute floor; the feed names itself.
    assert_eq!(resp.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        resp.headers()["link"],
        "<http://feeds.test/feeds/asia.rss>; rel=\"self\""
    );
    let etag = resp.headers()[ETAG].to_str().unwrap().to_string();
    let last_modified = resp.headers()[LAST_MODIFIED].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let identity = resp.bytes().await.unwrap();

    let resp = client
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()[ETAG].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());

    let resp = client
        .get(&url)
        .header(IF_MODIFIED_SINCE, &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    let resp = client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
    let gz_etag = resp.headers()[ETAG].to_str().unwrap().to_string();
    assert_ne!(gz_etag, etag, "the gzip representation has its own tag");
    let compressed = resp.bytes().await.unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, identity);
    let resp = client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip")
        .header(IF_NONE_MATCH, &gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    let atom = client
        .get(format!("{base}/feeds/all.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(atom.status(), StatusCode::OK);
    assert_eq!(
        atom.headers()[CONTENT_TYPE],
        "application/atom+xml; charset=utf-8"
    );
    assert!(atom.text().await.unwrap().contains("fisheries pact"));

    for missing in [
        "/feeds/sport.rss",
        "/feeds/asia.txt",
        "/feeds/asia",
        "/nope",
    ] {
        let resp = client.get(format!("{base}{missing}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{missing}");
        assert!(
            resp.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }
    let sport = client
        .get(format!("{base}/feeds/sport.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(sport.text().await.unwrap(), "unknown section \"sport\"\n");

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[ETAG].to_str().unwrap(), etag);
    assert!(head.bytes().await.unwrap().is_empty());

    let index = text(&client, &format!("{base}/")).await;
    for link in ["feeds/all.rss", "feeds/all.atom", "asia", "lifestyle"] {
        assert!(index.contains(&format!("href=\"{link}\"")), "{index}");
    }

    // A refresh that changes the section drops the cached bytes: new body, new ETag.
    server.set(
        "/feed.xml",
        Route::rss(rss_feed(
            "Desk",
            &[
                (
                    "x2",
                    "Tokyo opens new harbour bridge",
                    "https://d.example/2",
                ),
                (
                    "x1",
                    "Japan and Korea sign fisheries pact",
                    "https://d.example/1",
                ),
            ],
        )),
    );
    let resp = wait_for_body(&client, &url, "harbour bridge").await;
    let new_etag = resp.headers()[ETAG].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let resp = client
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the old tag no longer matches"
    );

    daemon.stop().await;
}

/// A short, bounded load while the daemon polls: 2,000 requests over 16 connections, plain, gzip and
/// conditional, to the merged and a section feed; every answer is a 200 or a 304 with a whole body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_during_polling_all_get_whole_answers() {
    let server = FixtureServer::start();
    let mut sources = String::new();
    for s in 0..20 {
        let items: Vec<(String, String, String)> = (0..10)
            .map(|j| {
                (
                    format!("s{s}-{j}"),
                    format!("Desk {s} files report {j} on harbour {}", s * 100 + j),
                    format!("https://d{s}.example/{j}"),
                )
            })
            .collect();
        server.set(&format!("/d{s}.xml"), Route::rss(rss_feed("Desk", &items)));
        sources += &source(
            &format!("Desk {s}"),
            &server.url(&format!("/d{s}.xml")),
            &["asia"],
        );
        sources += "dedupe = false\n";
    }
    let env = Env::with_poll(&sources, "schedule = \"* * * * * *\"\ntimeout_secs = 5");
    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    // Once every desk is in, the feeds stay as they are (later polls find nothing new).
    let deadline = Instant::now() + WAIT;
    let etag = loop {
        let resp = client
            .get(format!("{base}/feeds/all.rss"))
            .send()
            .await
            .unwrap();
        let etag = resp.headers()[ETAG].to_str().unwrap().to_string();
        let body = resp.text().await.unwrap();
        if (0..20).all(|s| body.contains(&format!("Desk {s} files"))) {
            break etag;
        }
        assert!(
            Instant::now() < deadline,
            "not every desk was polled:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut tasks = Vec::new();
    for worker in 0..16 {
        let (client, base, etag) = (client.clone(), base.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = (0, 0);
            for n in 0..125 {
                let path = ["all.rss", "asia.atom", "all.json"][n % 3];
                let mut req = client.get(format!("{base}/feeds/{path}"));
                match (worker + n) % 3 {
                    0 => req = req.header("Accept-Encoding", "gzip"),
                    1 => req = req.header("If-None-Match", etag.as_str()),
                    _ => {}
                }
                let resp = req.send().await.expect("an answer");
                let status = resp.status();
                let body = resp.bytes().await.expect("a whole body");
                match status {
                    StatusCode::OK => {
                        assert!(!body.is_empty());
                        seen.0 += 1;
                    }
                    StatusCode::NOT_MODIFIED => seen.1 += 1,
                    other => panic!("{path}: {other}"),
                }
            }
            seen
        }));
    }
    let mut total = (0, 0);
    for t in tasks {
        let (ok, not_modified) = t.await.unwrap();
        total = (total.0 + ok, total.1 + not_modified);
    }
    assert_eq!(total.0 + total.1, 2000);
    daemon.stop().await;
}

/// `/metrics` parses with Prometheus's own text-format parser, and its counters move with polls and
/// requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_prometheus_and_move_after_a_poll() {
    let Some(python) = crate::support::python_or_skip("Python with prometheus_client (.venv)")
    else {
        return;
    };
    let server = FixtureServer::start();
    server.set(
        "/feed.xml",
        Route::rss(rss_feed(
            "Desk",
            &[("m1", "Port strike ends", "https://m.example/1")],
        )),
    );
    let env = Env::with_poll(
        &source("Desk", &server.url("/feed.xml"), &["asia"]),
        "schedule = \"* * * * * *\"\ntimeout_secs = 5",
    );
    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::new();
    wait_for_body(&client, &format!("{base}/feeds/all.rss"), "Port strike").await;
    let text = text(&client, &format!("{base}/metrics")).await;
    daemon.stop().await;
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
values = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        values[f"{s.name}{{{labels}}}"] = s.value
for k in sorted(values):
    print(k, values[k])
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "prometheus_client could not parse:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |name: &str| -> f64 {
        parsed
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing in:\n{parsed}"))
    };
    assert!(value("syndic_fetches_total{outcome=updated}") >= 1.0);
    assert_eq!(value("syndic_items_stored{}"), 1.0);
    assert_eq!(value("syndic_stories_stored{}"), 1.0);
    assert!(value("syndic_new_stories_total{}") >= 1.0);
    assert_eq!(value("syndic_source_error_streak{source=Desk}"), 0.0);
    assert_eq!(value("syndic_tags{origin=source}"), 1.0);
    assert!(value("syndic_last_successful_poll_timestamp_seconds{}") > 1.7e9);
    assert!(value("syndic_http_requests_total{route=/feeds/{file},status=200}") >= 1.0);
    assert!(value("syndic_refresh_duration_seconds_count{}") >= 1.0);
    assert_eq!(value("syndic_build_info{version=0.1.0}"), 1.0);
}

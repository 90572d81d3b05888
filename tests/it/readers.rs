//! Real feed readers and XML tools accept the output: newsboat subscribes to every feed over loopback
//! HTTP, xmllint checks every rendered file. Both are installed by `.ci/setup`.

use std::path::Path;
use std::process::Command;

use crate::pipeline::{two_desks, two_desks_sections};
use crate::support::{InProcessDaemon, have, missing_tool};

#[test]
fn xmllint_finds_every_output_well_formed() {
    if !have("xmllint") && missing_tool("xmllint (Debian libxml2-utils)") {
        return;
    }
    let (_server, env) = two_desks();
    env.ok(&["poll"]);
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);
    let mut files: Vec<_> = std::fs::read_dir(out.join("feeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 21, "{files:?}");
    let (json, xml): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|f| f.extension().is_some_and(|e| e == "json"));
    assert_eq!((xml.len(), json.len()), (14, 7));
    // JSON Feed 1.1's required fields, checked on the parsed document (feedparser 6.0 reads no JSON
    // Feed; feed-rs reads these files back in the corpus sweep and the render tests).
    for f in &json {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        assert_eq!(
            v["version"],
            "https://jsonfeed.org/version/1.1",
            "{}",
            f.display()
        );
        assert!(v["title"].is_string(), "{}", f.display());
        for item in v["items"].as_array().unwrap() {
            assert!(item["id"].is_string(), "{item}");
            assert!(item["content_html"].is_string() || item["content_text"].is_string());
        }
    }
    let lint = Command::new("xmllint")
        .arg("--noout")
        .args(&xml)
        .arg(out.join("sources.opml"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "xmllint:\n{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    // The same OPML from the command line, one outline per configured source.
    let opml = env.ok(&["sources", "--opml"]);
    assert_eq!(
        opml,
        std::fs::read_to_string(out.join("sources.opml")).unwrap()
    );
    assert_eq!(opml.matches("<outline type=\"rss\"").count(), 2, "{opml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newsboat_reads_every_feed_over_http() {
    if !have("newsboat") && missing_tool("newsboat") {
        return;
    }
    let (_server, env) = two_desks();
    env.ok(&["poll"]);
    let daemon = InProcessDaemon::start(&env).await;
    let addr = daemon.addr;

    let home = env.path("newsboat");
    std::fs::create_dir_all(&home).unwrap();
    let mut urls = String::new();
    for (section, _) in two_desks_sections() {
        for ext in ["rss", "atom"] {
            urls.push_str(&format!("http://{addr}/feeds/{section}.{ext}\n"));
        }
    }
    std::fs::write(home.join("urls"), &urls).unwrap();
    std::fs::write(home.join("config"), "").unwrap();
    let cache = home.join("cache.db");
    let home2 = home.clone();
    let cache2 = cache.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("newsboat")
            .env("HOME", &home2)
            .arg("-u")
            .arg(home2.join("urls"))
            .arg("-c")
            .arg(&cache2)
            .arg("-C")
            .arg(home2.join("config"))
            .args(["-x", "reload"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "newsboat failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    daemon.stop().await;

    check_cache(&cache, &addr.to_string());
}

fn check_cache(cache: &Path, addr: &str) {
    let db = rusqlite::Connection::open(cache).unwrap();
    for (section, stories) in two_desks_sections() {
        let titles: Vec<&str> = stories.iter().map(|(title, _)| *title).collect();
        for ext in ["rss", "atom"] {
            let url = format!("http://{addr}/feeds/{section}.{ext}");
            let feed_title: String = db
                .query_row(
                    "SELECT title FROM rss_feed WHERE rssurl = ?1",
                    [&url],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("newsboat has no feed {url}: {e}"));
            assert!(feed_title.starts_with("Test News: "), "{url}: {feed_title}");
            let mut stmt = db
                .prepare("SELECT title FROM rss_item WHERE feedurl = ?1 ORDER BY title")
                .unwrap();
            let got: Vec<String> = stmt
                .query_map([&url], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let mut want: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{url}");
        }
    }
}

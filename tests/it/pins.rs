//! Editors' pins, the way an editor uses them: `syndic pin` (with a note, until a date or for good),
//! `syndic pins`, `syndic unpin`; the pinned stories form /feeds/must-reads.{rss,atom,json}, newest pin
//! first, valid for xmllint and Python's feedparser; an expired pin drops out; retention keeps a
//! pinned story and lets it go once its pin expires.

use crate::pipeline::{QUAKE, STOCKS, SUMMIT, two_desks};
use crate::support::{Env, InProcessDaemon, assert_xmllint_accepts, feedparser_reports};

/// The id of the story led by `title`, from `syndic stories --json`.
fn story_id(env: &Env, title: &str) -> String {
    let all: serde_json::Value = serde_json::from_str(&env.ok(&["stories", "--json"])).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["items"][0]["title"] == title)
        .unwrap_or_else(|| panic!("{title} not stored"))["id"]
        .to_string()
}

/// The titles `syndic render` wrote into the must-reads feed of `ext`, in order, and its path.
fn must_reads(env: &Env, ext: &str) -> (Vec<String>, std::path::PathBuf) {
    let out = env.path("public");
    let _ = std::fs::remove_dir_all(&out);
    env.ok(&["render", "--out", out.to_str().unwrap()]);
    let path = out.join(format!("feeds/must-reads.{ext}"));
    let text = std::fs::read_to_string(&path).unwrap();
    let titles = match ext {
        "json" => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_string())
                .collect()
        }
        _ => {
            let tag = if ext == "rss" { "<item>" } else { "<entry>" };
            text.split(tag)
                .skip(1)
                .map(|e| {
                    let t = &e[e.find("<title").unwrap()..];
                    let t = &t[t.find('>').unwrap() + 1..];
                    t[..t.find("</title>").unwrap()].to_string()
                })
                .collect()
        }
    };
    (titles, path)
}

#[test]
fn editors_pin_expire_and_unpin_must_reads() {
    let (_server, env) = two_desks();
    env.ok(&["poll"]);
    let (quake, summit, stocks) = (
        story_id(&env, QUAKE),
        story_id(&env, SUMMIT),
        story_id(&env, STOCKS),
    );
    // Nothing pinned: the feeds exist and are empty.
    assert!(env.ok(&["pins"]).contains("no pins"));
    assert!(must_reads(&env, "rss").0.is_empty());

    // Pin the quake for good, then the summit until a day to come with a note: newest pin first.
    let said = env.ok(&["pin", &quake]);
    assert!(said.contains("until unpinned"), "{said}");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let said = env.ok(&[
        "pin",
        &format!("#{summit}"),
        "--until",
        &tomorrow,
        "--note",
        "Background to the talks",
    ]);
    assert!(
        said.contains(&format!("through {tomorrow} (UTC)")),
        "{said}"
    );
    for ext in ["rss", "atom", "json"] {
        assert_eq!(must_reads(&env, ext).0, [SUMMIT, QUAKE], "{ext}");
    }
    let listed = env.ok(&["pins"]);
    assert!(
        listed.find(SUMMIT).unwrap() < listed.find(QUAKE).unwrap()
            && listed.contains("Background to the talks")
            && listed.contains("until unpinned"),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["pins", "--json"])).unwrap();
    assert_eq!(json[0]["note"], "Background to the talks");
    assert_eq!(json[0]["live"], true);

    // Wrong input is a clear usage error, and changes nothing.
    for (args, says) in [
        (vec!["pin", "999999"], "no story"),
        (
            vec!["pin", &stocks, "--until", "2001-01-01"],
            "already past",
        ),
        (vec!["pin", &stocks, "--until", "next week"], "give a date"),
    ] {
        let out = env.syndic(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // A pin that expires drops out of the feeds (and `pins` says it expired).
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    env.ok(&["pin", &stocks, "--until", &soon]);
    assert_eq!(must_reads(&env, "rss").0, [STOCKS, SUMMIT, QUAKE]);
    std::thread::sleep(std::time::Duration::from_millis(1600));
    let (titles, rss) = must_reads(&env, "rss");
    assert_eq!(titles, [SUMMIT, QUAKE]);
    assert!(env.ok(&["pins"]).contains("expired"));

    // Independent checkers accept the feeds.
    let atom = rss.with_extension("atom");
    let files = [rss.clone(), atom];
    assert_xmllint_accepts(&files);
    if let Some(said) = feedparser_reports(&files, "(d.feed.title, [e.title for e in d.entries])") {
        let want = format!("('Test News: Must-reads', ['{SUMMIT}', '{QUAKE}'])");
        assert_eq!(said.matches(&want).count(), 2, "{said}");
    }

    // Unpinned: gone; unpinning again is a usage error.
    assert!(env.ok(&["unpin", &quake]).contains("unpinned"));
    assert_eq!(must_reads(&env, "json").0, [SUMMIT]);
    assert_eq!(env.syndic(&["unpin", &quake]).status.code(), Some(2));

    // Retention keeps the pinned summit and lets the rest go, the expired pin's story with them.
    let store = syndic::store::Store::open(&env.path("test.db")).unwrap();
    let now = chrono::Utc::now();
    let far = now + chrono::Duration::days(3650);
    while store.prune(far, far, now, 100).unwrap().stories == 100 {}
    let left: Vec<String> = store
        .stories(None, 50)
        .unwrap()
        .iter()
        .map(|s| s.items[0].title.clone())
        .collect();
    assert_eq!(left, [SUMMIT]);
    let pins = store.pins().unwrap();
    assert_eq!(
        pins.len(),
        1,
        "the expired pin went with its story: {pins:?}"
    );
}

/// The daemon serves the must-reads feeds, and a pin made on the command line shows within a minute
/// (the feed is rendered again each minute); no HTTP method changes pins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_must_reads_and_no_request_changes_pins() {
    let (_server, env) = two_desks();
    env.ok(&["poll"]);
    env.ok(&["pin", &story_id(&env, QUAKE), "--note", "First"]);
    let daemon = InProcessDaemon::start(&env).await;
    let client = reqwest::Client::new();
    let base = format!("http://{}", daemon.addr);
    for ext in ["rss", "atom", "json"] {
        let resp = client
            .get(format!("{base}/feeds/must-reads.{ext}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{ext}");
        assert!(resp.text().await.unwrap().contains(QUAKE), "{ext}");
    }
    for ext in ["rss?sort=top", "rss?page=2"] {
        let resp = client
            .get(format!("{base}/feeds/must-reads.{ext}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{ext}");
    }
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let resp = client
            .request(method.clone(), format!("{base}/feeds/must-reads.rss"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
    }
    let page = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Must-reads") && page.contains("First"),
        "{page}"
    );
    daemon.stop().await;
    assert_eq!(
        syndic::store::Store::open(&env.path("test.db"))
            .unwrap()
            .pins()
            .unwrap()
            .len(),
        1
    );
}

//! Story clusters end to end: one wire story under three headlines from three sources becomes one
//! entry with two "also reported by" sources, `--explain` shows the similarity join, `sort=top` ranks
//! it first; and the store-level guarantees behind it (restart, `dedupe = false`, edited headlines).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::ETAG;
use syndic::config::{DEFAULT_DECAY_HOURS, DEFAULT_TITLE_THRESHOLD, SourceConfig};
use syndic::model::Item;
use syndic::store::{FetchRecord, RefreshInput, Store};
use syndic::tag::rules::Tagger;

use crate::support::{Env, FixtureServer, InProcessDaemon, Route, rss_feed, source};

const GOX_A: &str = "Bitcoin exchange Mt. Gox files for bankruptcy protection in US";
const GOX_B: &str = "UPDATE 2-Mt. Gox files for U.S. bankruptcy protection";
const GOX_C: &str = "Mt Gox seeks US bankruptcy protection as bitcoin exchange collapses";

fn three_outlets() -> (FixtureServer, Env) {
    let server = FixtureServer::start();
    server.set(
        "/wire.xml",
        Route::rss(rss_feed(
            "Wire",
            &[
                ("w1", GOX_A, "https://wire.example/gox"),
                (
                    "w2",
                    "Ceasefire talks resume in Geneva",
                    "https://wire.example/geneva",
                ),
                (
                    "w3",
                    "Seoul hosts regional trade summit",
                    "https://wire.example/seoul",
                ),
            ],
        )),
    );
    server.set(
        "/ledger.xml",
        Route::rss(rss_feed(
            "Ledger",
            &[
                ("l1", GOX_B, "https://ledger.example/markets/gox"),
                (
                    "l2",
                    "Chip stocks rally on record demand",
                    "https://ledger.example/chips",
                ),
            ],
        )),
    );
    server.set(
        "/harbour.xml",
        Route::rss(rss_feed(
            "Harbour",
            &[
                ("h1", GOX_C, "https://harbour.example/2026/gox"),
                (
                    "h2",
                    "Typhoon nears northern Philippines",
                    "https://harbour.example/typhoon",
                ),
            ],
        )),
    );
    let env = Env::new(&format!(
        "{}{}{}",
        source("Global Wire", &server.url("/wire.xml"), &["world"]),
        source("Daily Ledger", &server.url("/ledger.xml"), &["business"]),
        source("Harbour Times", &server.url("/harbour.xml"), &["world"])
    ));
    (server, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wire_story_under_three_headlines_is_one_entry_explained_and_top() {
    let (_server, env) = three_outlets();
    let out = tokio::task::spawn_blocking({
        let cfg = env.config_path();
        move || crate::support::syndic_with(&cfg, &["poll"])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");

    let all = env.stories("all");
    assert_eq!(all.len(), 5, "{all:#?}");
    let gox: Vec<&serde_json::Value> = all
        .iter()
        .filter(|s| s["items"][0]["title"].as_str().unwrap().contains("Gox"))
        .collect();
    assert_eq!(gox.len(), 1, "the three headlines form one story: {all:#?}");
    let items = gox[0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let joins: Vec<&str> = items
        .iter()
        .filter_map(|i| i["joined"]["reason"].as_str())
        .collect();
    assert_eq!(joins, vec!["similar", "similar"], "{items:#?}");

    let explained = env.ok(&["stories", "--explain"]);
    assert!(
        explained.contains("joined: similar title, score 0.") || explained.contains("score 1.00"),
        "{explained}"
    );
    assert!(explained.contains("started the story"), "{explained}");
    assert!(
        explained.contains("section world: default section of source"),
        "{explained}"
    );

    let top = env.ok(&["stories", "--sort", "top", "--limit", "1"]);
    assert!(top.contains("Gox") && top.contains("(3 sources)"), "{top}");

    // Over HTTP: the world feed lists the story once, with the two other outlets.
    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}", daemon.addr);
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move { client.get(path).send().await.unwrap() }
    };
    let plain = get(format!("{base}/feeds/all.rss")).await;
    assert_eq!(plain.status(), StatusCode::OK);
    let plain_etag = plain.headers()[ETAG].clone();
    let body = plain.text().await.unwrap();
    let entries = body.split("<item>").skip(1).collect::<Vec<_>>();
    let gox_entries: Vec<&&str> = entries.iter().filter(|e| e.contains("Gox")).collect();
    assert_eq!(gox_entries.len(), 1, "{body}");
    let entry = gox_entries[0];
    let also = entry
        .split("Also reported by:")
        .nth(1)
        .and_then(|a| a.split("</p>").next())
        .expect("also reported by");
    let others = ["Global Wire", "Daily Ledger", "Harbour Times"]
        .iter()
        .filter(|s| also.contains(*s))
        .count();
    assert_eq!(others, 2, "{entry}");

    for (path, first) in [
        ("/feeds/all.rss?sort=top", "<item>"),
        ("/feeds/all.atom?sort=top", "<entry>"),
        ("/feeds/world.rss?sort=top&hours=168", "<item>"),
    ] {
        let resp = get(format!("{base}{path}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_ne!(resp.headers()[ETAG], plain_etag, "{path}");
        let body = resp.text().await.unwrap();
        let first_entry = body.split(first).nth(1).unwrap();
        assert!(first_entry.contains("Gox"), "{path}: {body}");
    }
    let top_etag = get(format!("{base}/feeds/all.rss?sort=top"))
        .await
        .headers()[ETAG]
        .clone();
    let week_etag = get(format!("{base}/feeds/all.rss?sort=top&hours=168"))
        .await
        .headers()[ETAG]
        .clone();
    assert_ne!(top_etag, week_etag);
    for bad in [
        "sort=top&hours=0",
        "sort=top&hours=-1",
        "sort=top&hours=abc",
        "sort=top&hours=100000",
        "sort=best",
        "hours=24",
    ] {
        let resp = get(format!("{base}/feeds/all.rss?{bad}")).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    daemon.stop().await;
}

// ---- store level ----

struct Harness {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    ids: HashMap<String, i64>,
    tagger: std::sync::Arc<Tagger>,
}

/// Times relative to now: the reopened store keeps the stories of the last 72 hours.
fn t(minutes: i64) -> DateTime<Utc> {
    use std::sync::OnceLock;
    static BASE: OnceLock<DateTime<Utc>> = OnceLock::new();
    *BASE.get_or_init(|| Utc::now() - chrono::Duration::hours(20))
        + chrono::Duration::minutes(minutes)
}

fn item(key: &str, title: &str, url: &str) -> Item {
    Item {
        guid: None,
        ..Item::headline(key, title, Some(url.into()), None)
    }
}

impl Harness {
    fn new(sources: &[&str]) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).unwrap();
        let configs: Vec<SourceConfig> = sources
            .iter()
            .map(|n| {
                SourceConfig::at(
                    n,
                    url::Url::parse(&format!("http://feeds.invalid/{n}")).unwrap(),
                )
            })
            .collect();
        let ids = store.sync_sources(&configs).unwrap();
        Harness {
            _dir: dir,
            path,
            store,
            ids,
            tagger: std::sync::Arc::new(Tagger::new(&[], &[])),
        }
    }

    fn reopen(&mut self) {
        self.store = Store::open_with_window(&self.path, chrono::Duration::hours(72)).unwrap();
    }

    /// Applies one item from `source` at `at`, with title dedupe on or off; returns its story.
    fn put(&self, source: &str, it: &Item, at: DateTime<Utc>, title_dedupe: bool) -> i64 {
        self.put_with(source, it, at, title_dedupe, true)
    }

    /// As [`Harness::put`], with `[dedupe].similarity` on or off.
    fn put_with(
        &self,
        source: &str,
        it: &Item,
        at: DateTime<Utc>,
        title_dedupe: bool,
        similarity: bool,
    ) -> i64 {
        let source_id = self.ids[source];
        self.store
            .apply_refresh(&RefreshInput {
                source_id,
                items: vec![it.clone()],
                now: at,
                window: chrono::Duration::hours(72),
                threshold: DEFAULT_TITLE_THRESHOLD,
                decay_hours: DEFAULT_DECAY_HOURS,
                title_dedupe,
                similarity,
                veto: Default::default(),
                tagger: self.tagger.clone(),
                fetch: FetchRecord::ok(at),
            })
            .unwrap();
        self.store
            .story_of_item(source_id, &it.key)
            .unwrap()
            .unwrap()
    }
}

/// Real headlines of two days (dev set), as (source, title).
const DAY_ONE: &[(&str, &str)] = &[
    ("A", "Mt. Gox files for US bankruptcy"),
    (
        "B",
        "Sbarro files for bankruptcy protection for the second time",
    ),
    ("C", "Titanfall review roundup"),
    ("D", "Mt Gox files US bankruptcy, opponents call it a ruse"),
    ("A", "Sbarro again files for Ch. 11 reorganization"),
    ("B", "Oil falls to around $101 after China data"),
    ("C", "Bachelor finale: Juan Pablo makes his decision"),
];
const DAY_TWO: &[(&str, &str)] = &[
    ("C", "Mt. Gox files for U.S. bankruptcy protection"),
    ("D", "Sbarro Files For Chapter 11 Reorganization Again"),
    ("A", "Oil falls to around $101 after China, Japan data"),
    ("B", "'Bachelor' Juan Pablo makes his final decision"),
    ("D", "Titanfall reviewed: the critics weigh in"),
    ("A", "Malaysia Airlines search widens as families wait"),
];

fn story_groups(h: &Harness, rows: &[(&str, &str)], start: i64, prefix: &str) -> Vec<i64> {
    rows.iter()
        .enumerate()
        .map(|(i, (src, title))| {
            let key = format!("{prefix}{i}");
            let it = item(&key, title, &format!("https://{src}.example/{key}"));
            h.put(src, &it, t(start + i as i64), true)
        })
        .collect()
}

#[test]
fn a_restart_rebuilds_the_index_with_the_same_decisions() {
    let sources = ["A", "B", "C", "D"];
    let continuous = Harness::new(&sources);
    story_groups(&continuous, DAY_ONE, 0, "x");
    let held = continuous.store.index_len();
    let expected = story_groups(&continuous, DAY_TWO, 600, "y");

    let mut restarted = Harness::new(&sources);
    story_groups(&restarted, DAY_ONE, 0, "x");
    restarted.reopen();
    assert_eq!(restarted.store.index_len(), held);
    let got = story_groups(&restarted, DAY_TWO, 600, "y");
    assert_eq!(got, expected);
    // And the decisions are real joins: day two's first four items joined day one's stories.
    let day_one = story_groups(&restarted, DAY_ONE, 0, "x");
    for s in &got[..4] {
        assert!(day_one.contains(s), "{got:?} vs {day_one:?}");
    }
    assert!(!day_one.contains(&got[5]));
}

#[test]
fn with_similarity_off_only_identical_headlines_and_urls_join() {
    let h = Harness::new(&["Wire", "Desk", "Blog"]);
    let put = |src: &str, key: &str, title: &str, url: &str, min: i64| {
        h.put_with(src, &item(key, title, url), t(min), true, false)
    };
    let wire = put(
        "Wire",
        "w1",
        "Mt. Gox files for US bankruptcy protection",
        "https://wire.example/1",
        0,
    );
    // The same normalized headline from another outlet joins ...
    assert_eq!(
        put(
            "Desk",
            "d1",
            "UPDATE 2-Mt. Gox files for US bankruptcy protection - Reuters",
            "https://desk.example/1",
            1
        ),
        wire
    );
    // ... a merely similar one does not (it would with similarity on) ...
    let near = put(
        "Blog",
        "b1",
        "Mt Gox files for bankruptcy protection in the US",
        "https://blog.example/1",
        2,
    );
    assert_ne!(near, wire);
    // ... and the same URL still does.
    assert_eq!(
        put("Blog", "b3", "Our take", "https://wire.example/1", 5),
        wire
    );
}

#[test]
fn stories_stored_with_similarity_off_become_candidates_once_it_is_on() {
    let mut h = Harness::new(&["Wire", "Blog"]);
    let now = Utc::now();
    let wire = h.put_with(
        "Wire",
        &item(
            "w1",
            "Mt. Gox files for US bankruptcy protection",
            "https://wire.example/1",
        ),
        now,
        true,
        false,
    );
    // The operator turns similarity on; the daemon restarts and rebuilds its index.
    h.reopen();
    let near = h.put_with(
        "Blog",
        &item(
            "b1",
            "Mt Gox files for bankruptcy protection in the US",
            "https://blog.example/1",
        ),
        now + chrono::Duration::minutes(5),
        true,
        true,
    );
    assert_eq!(near, wire);
}

#[test]
fn a_source_with_dedupe_off_is_never_merged_by_title_but_still_by_url() {
    let h = Harness::new(&["Wire", "Press review", "Desk"]);
    let wire = h.put(
        "Wire",
        &item(
            "w1",
            "Mt. Gox files for US bankruptcy protection",
            "https://wire.example/1",
        ),
        t(0),
        true,
    );
    // Same headline, and a near-identical one, from the opted-out source: stories of their own.
    let same = item(
        "p1",
        "Mt. Gox files for US bankruptcy protection",
        "https://press.example/1",
    );
    let near = item(
        "p2",
        "Mt Gox files for U.S. bankruptcy protection",
        "https://press.example/2",
    );
    let a = h.put("Press review", &same, t(1), false);
    let b = h.put("Press review", &near, t(2), false);
    assert_ne!(a, wire);
    assert_ne!(b, wire);
    // Nor do later items of other sources join the opted-out source's stories by title.
    let later = item(
        "d1",
        "Mt Gox files for U.S. bankruptcy protection",
        "https://desk.example/1",
    );
    assert_eq!(h.put("Desk", &later, t(3), true), wire);
    // The same article URL still joins.
    let linked = item(
        "p3",
        "Press review: the bankruptcy",
        "https://wire.example/1",
    );
    assert_eq!(h.put("Press review", &linked, t(4), false), wire);
}

#[test]
fn an_edited_headline_keeps_its_story_and_does_not_gather_other_news() {
    let h = Harness::new(&["A", "B", "C"]);
    let lead = item(
        "a1",
        "Ferry sinks off Korean island, hundreds rescued",
        "https://a.example/1",
    );
    let story = h.put("A", &lead, t(0), true);
    let member = item(
        "b1",
        "Hundreds rescued as ferry sinks off Korean island",
        "https://b.example/1",
    );
    assert_eq!(h.put("B", &member, t(1), true), story);
    // B rewrites its item into other news: it stays where it was (no split) ...
    let rewritten = item(
        "b1",
        "Parliament passes budget after all-night session",
        "https://b.example/1",
    );
    assert_eq!(h.put("B", &rewritten, t(2), true), story);
    // ... but does not pull that other news into the ferry story.
    let budget = item(
        "c1",
        "Parliament passes budget after all-night session",
        "https://c.example/1",
    );
    assert_ne!(h.put("C", &budget, t(3), true), story);
    // The lead's own refinement still gathers the story.
    let refined = item(
        "a1",
        "Ferry sinks off Korean island, 300 rescued, 12 missing",
        "https://a.example/1",
    );
    assert_eq!(h.put("A", &refined, t(4), true), story);
    let follow = item(
        "c2",
        "Ferry sinks off Korean island: 300 rescued, 12 missing",
        "https://c.example/2",
    );
    assert_eq!(h.put("C", &follow, t(5), true), story);
}

//! Story clusters on a first poll of real backlogs, through the real binary: items cluster on their own
//! publication dates (a headline that recurs months later is another story), look-alike headlines about
//! different events stay apart and `--explain` says why, and `syndic explain` gives the decision for
//! two titles. Plus the evaluator's two replays on a slice of the shared headline set.

use std::path::Path;

use syndic::dedupe::VetoRules;
use syndic::eval::clusters::{self, Replay, Settings};

use crate::support::{Env, FixtureServer, Route, source};

/// An RSS document with `(guid, title, link, RFC 2822 date)` items, in the given order.
fn dated_feed(title: &str, items: &[(&str, &str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title>\
         <link>http://example.invalid/</link><description>fixture</description>\n"
    );
    for (guid, title, link, date) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link>\
             <pubDate>{date}</pubDate></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn stories_with(stories: &[serde_json::Value], words: &str) -> Vec<Vec<String>> {
    stories
        .iter()
        .filter_map(|s| {
            let titles: Vec<String> = s["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_string())
                .collect();
            titles.iter().any(|t| t.contains(words)).then_some(titles)
        })
        .collect()
}

#[test]
fn a_first_poll_of_backlogs_clusters_on_publication_dates_and_keeps_look_alikes_apart() {
    let server = FixtureServer::start();
    server.set(
        "/ledger.xml",
        Route::rss(dated_feed(
            "Ledger",
            &[
                (
                    "l3",
                    "Mt. Gox files for US bankruptcy protection",
                    "https://ledger.example/gox",
                    "Mon, 10 Aug 2026 09:00:00 +0000",
                ),
                (
                    "l2",
                    "Magnitude 6.1 earthquake strikes off northern Chile, no tsunami warning",
                    "https://ledger.example/chile",
                    "Sat, 01 Aug 2026 04:00:00 +0000",
                ),
                (
                    "l1",
                    "How the Dow fared Thursday",
                    "https://ledger.example/dow-march",
                    "Thu, 05 Mar 2026 21:00:00 +0000",
                ),
            ],
        )),
    );
    server.set(
        "/harbour.xml",
        Route::rss(dated_feed(
            "Harbour",
            &[
                (
                    "h3",
                    "Mt Gox files for U.S. bankruptcy protection",
                    "https://harbour.example/gox",
                    "Mon, 10 Aug 2026 11:00:00 +0000",
                ),
                (
                    "h2",
                    "Magnitude 6.1 earthquake strikes off southern Japan, no tsunami warning",
                    "https://harbour.example/japan",
                    "Sat, 01 Aug 2026 06:00:00 +0000",
                ),
                (
                    "h1",
                    "How the Dow fared Thursday",
                    "https://harbour.example/dow-june",
                    "Thu, 11 Jun 2026 21:00:00 +0000",
                ),
            ],
        )),
    );
    let env = Env::new(&format!(
        "{}{}",
        source("Daily Ledger", &server.url("/ledger.xml"), &["business"]),
        source("Harbour Times", &server.url("/harbour.xml"), &["world"])
    ));
    env.ok(&["poll"]);
    let stories = env.stories("all");
    // The same headline three months apart: two stories, even though both were first seen now.
    assert_eq!(
        stories_with(&stories, "How the Dow").len(),
        2,
        "{stories:#?}"
    );
    // The same frame about two places on one day: two stories.
    let quakes = stories_with(&stories, "earthquake strikes");
    assert_eq!(quakes.len(), 2, "{quakes:?}");
    // One event from two outlets, two hours apart: one story.
    let gox = stories_with(&stories, "Gox");
    assert_eq!(gox.len(), 1);
    assert_eq!(gox[0].len(), 2, "{gox:?}");
    // --explain says which look-alike the veto refused, and why.
    let text = env.ok(&["stories", "--explain", "--limit", "50"]);
    assert!(
        text.contains("kept apart from the look-alike") && text.contains("different places"),
        "{text}"
    );
    let json = stories
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap())
        .find(|i| i.get("refused").is_some())
        .expect("a refused near-miss in the JSON");
    assert!(
        json["refused"]["reason"]
            .as_str()
            .unwrap()
            .contains("chile")
    );
}

#[test]
fn explain_gives_the_decision_score_words_and_veto_for_two_titles() {
    let env = Env::new("");
    let out = env.ok(&[
        "explain",
        "Magnitude 6.1 quake hits northern Chile",
        "Magnitude 6.3 quake hits southern Japan",
    ]);
    assert!(
        out.starts_with("apart: a look-alike: different places"),
        "{out}"
    );
    assert!(
        out.contains("shared words:       magnitude 6 quake hits"),
        "{out}"
    );
    assert!(
        out.contains("only in the first:  1 northern chile"),
        "{out}"
    );
    let out = env.ok(&[
        "explain",
        "Mt. Gox files for US bankruptcy protection",
        "Mt Gox files for U.S. bankruptcy protection",
    ]);
    assert!(out.starts_with("join:"), "{out}");
    // Weeks apart, the same words are another story.
    let out = env.ok(&[
        "explain",
        "How the Dow fared Thursday",
        "How the Dow fared Thursday",
        "--first-date",
        "2026-03-05T21:00:00Z",
        "--second-date",
        "2026-06-11T21:00:00Z",
    ]);
    assert!(
        out.starts_with("apart:") && out.contains("beyond the 72 h window"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&[
        "explain",
        "Quake hits Chile",
        "Quake hits Chile",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["decision"], "join");
    let bad = env.syndic(&["explain", "a", "b", "--first-date", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Rows of every third story of the shared dev set (whole clusters, so labels stay comparable), or None
/// (with a message) where `../shared` is absent.
fn dev_rows() -> Option<Vec<clusters::Row>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/headlines/dev.tsv");
    if !path.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "{} is missing under CI",
            path.display()
        );
        eprintln!("skipped: {} is absent (a clone elsewhere)", path.display());
        return None;
    }
    let mut rows = clusters::read_rows(&path).unwrap();
    let mut ids: Vec<String> = rows.iter().map(|r| r.story.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let keep: std::collections::HashSet<&String> = ids.iter().step_by(3).collect();
    rows.retain(|r| keep.contains(&r.story));
    Some(rows)
}

#[test]
fn both_replays_keep_a_shifted_copy_apart_and_stay_near_exact_title_precision() {
    let Some(rows) = dev_rows() else {
        return;
    };
    let rows = clusters::shifted(&rows, 30);
    let labels: Vec<&str> = rows.iter().map(|r| r.story.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    let settings = |similarity| Settings {
        threshold: syndic::config::DEFAULT_TITLE_THRESHOLD,
        decay_hours: syndic::config::DEFAULT_DECAY_HOURS,
        window: chrono::Duration::hours(72),
        similarity,
        veto: VetoRules::ALL,
    };
    for replay in [Replay::Time, Replay::Poll] {
        let pred = clusters::clusters(&rows, replay, settings(true), dir.path()).unwrap();
        let exact = clusters::clusters(&rows, replay, settings(false), dir.path()).unwrap();
        let s = clusters::score(&labels, &pred);
        let e = clusters::score(&labels, &exact);
        assert_eq!(
            clusters::cross_shift_joins(&rows, &pred),
            0,
            "{replay:?}: a story mixes items a month apart"
        );
        assert!(
            s.b3_precision >= e.b3_precision - 0.02,
            "{replay:?}: similarity precision {s:?} below exact titles {e:?}"
        );
        // Similarity must find stories that exact titles miss.
        assert!(s.b3_recall > e.b3_recall, "{replay:?}: {s:?} vs {e:?}");
    }
}

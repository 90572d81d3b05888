//! `cargo bench --bench pipeline`: throughput of each stage and peak memory, printed as plain figures.
//!
//! - parse + normalize over the shared real-world corpus (`../shared/data/feeds`, ~4,400 documents);
//! - ingest: 6,366 real headlines (`../shared/data/headlines/dev.tsv`) as 64 RSS feeds of ~100 items,
//!   each parsed, normalized, deduplicated, tagged and stored in one SQLite transaction;
//! - a re-poll of the same feeds (every item already stored: the steady state);
//!   both with title similarity off and on (`dedupe = false` vs the default);
//! - render: 50 stories as RSS and Atom, from the store.
//!
//! Without `../shared/data` the corpus and headline figures are skipped with a message.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use syndic::config::{Config, SectionConfig};
use syndic::ingest::normalize::normalize;
use syndic::ingest::parse::parse_feed;
use syndic::publish::render::{self, FeedMeta, Format};
use syndic::store::{FetchRecord, RefreshInput, Store};
use syndic::tag::rules::Tagger;

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if !data.is_dir() {
        println!("SKIPPED: {} is absent", data.display());
        return;
    }
    corpus(&data.join("feeds"));
    let feeds = headline_feeds(&data.join("headlines/dev.tsv"));
    // Title similarity off (URL and exact-title identity only), then on, as the daemon runs.
    ingest(&feeds, false);
    ingest(&feeds, true);
    println!("peak RSS (VmHWM): {} KiB", common::proc_status_kib("VmHWM"));
}

fn corpus(root: &Path) {
    let mut files = Vec::new();
    walk(root, &mut files);
    let docs: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let bytes: usize = docs.iter().map(|(_, b)| b.len()).sum();
    let base = url::Url::parse("http://bench.test/feed.xml").unwrap();
    let rounds = 3;
    let start = Instant::now();
    let mut items = 0;
    for _ in 0..rounds {
        for (_, b) in &docs {
            if let Ok(feed) = parse_feed(b, Some(base.as_str()), None) {
                items += normalize(&feed, &base).1.len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "parse+normalize corpus: {} docs ({:.1} MiB) x{rounds} in {secs:.2}s = {:.0} docs/s, {:.1} MiB/s, {} items",
        docs.len(),
        bytes as f64 / 1048576.0,
        (docs.len() * rounds) as f64 / secs,
        (bytes * rounds) as f64 / 1048576.0 / secs,
        items / rounds
    );
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "xml") {
            out.push(p);
        }
    }
}

/// The headlines as RSS documents of 100 items each, grouped in file order (mixed publishers).
fn headline_feeds(tsv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(tsv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    rows.chunks(100)
        .enumerate()
        .map(|(n, chunk)| {
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {n}</title><link>http://bench.test/</link><description>bench</description>"
            );
            for (i, r) in chunk.iter().enumerate() {
                let esc = |x: &str| x.replace('&', "&amp;").replace('<', "&lt;").replace('\\', "");
                s.push_str(&format!(
                    "<item><guid isPermaLink=\"false\">{n}-{i}</guid><title>{}</title><link>{}</link><description>{} reports: {}</description><pubDate>Mon, 10 Mar 2014 17:{:02}:00 GMT</pubDate></item>",
                    esc(r[1]),
                    esc(r[2]),
                    esc(r[3]),
                    esc(r[1]),
                    i % 60
                ));
            }
            s.push_str("</channel></rss>");
            s
        })
        .collect()
}

fn ingest(feeds: &[String], similarity: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).unwrap();
    let sources: Vec<syndic::config::SourceConfig> = (0..feeds.len())
        .map(|i| syndic::config::SourceConfig {
            name: format!("Feed {i}"),
            url: url::Url::parse(&format!("http://bench.test/{i}.xml")).unwrap(),
            sections: vec![],
            schedule: None,
            dedupe: true,
            tagging: Default::default(),
        })
        .collect();
    let ids = store.sync_sources(&sources).unwrap();
    let sections = vec![
        SectionConfig {
            id: "business".into(),
            title: "Business".into(),
            keywords: vec!["stocks".into(), "Fed".into(), "bank".into()],
            ..SectionConfig::default()
        },
        SectionConfig {
            id: "tech".into(),
            title: "Tech".into(),
            keywords: vec!["Apple".into(), "Google".into(), "Microsoft".into()],
            ..SectionConfig::default()
        },
    ];
    let tagger = std::sync::Arc::new(Tagger::new(&sections, &sources));
    let base = url::Url::parse("http://bench.test/").unwrap();

    for round in ["first poll", "re-poll (all stored)"] {
        let start = Instant::now();
        let mut new_items = 0;
        let mut stories = 0;
        let mut total = 0;
        for (i, doc) in feeds.iter().enumerate() {
            let feed = parse_feed(doc.as_bytes(), Some(base.as_str()), None).unwrap();
            let (_, items) = normalize(&feed, &base);
            total += items.len();
            let stats = store
                .apply_refresh(&RefreshInput {
                    source_id: ids[&format!("Feed {i}")],
                    items,
                    now: Utc::now(),
                    window: chrono::Duration::hours(72 * 24 * 365 * 20),
                    threshold: syndic::config::DEFAULT_TITLE_THRESHOLD,
                    decay_hours: syndic::config::DEFAULT_DECAY_HOURS,
                    title_dedupe: similarity,
                    similarity,
                    veto: Default::default(),
                    tagger: tagger.clone(),
                    fetch: FetchRecord::ok(Utc::now()),
                })
                .unwrap();
            new_items += stats.new_items;
            stories += stats.new_stories;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "ingest (title similarity {}), {round}: {} feeds, {total} items in {secs:.2}s = {:.0} items/s ({new_items} new items, {stories} new stories)",
            if similarity { "on" } else { "off" },
            feeds.len(),
            total as f64 / secs
        );
    }

    if !similarity {
        return;
    }
    let config = Config::from_toml(
        Path::new("bench.toml"),
        "[output]\ntitle = \"Bench\"\nmax_items = 50\n[[section]]\nid = \"business\"\ntitle = \"Business\"\n",
    )
    .unwrap();
    let rounds = 200;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        for format in Format::ALL {
            let stories = store.stories(Some("all"), 50).unwrap();
            let meta = FeedMeta::new(&config, "all", format).unwrap();
            bytes += render::render(format, &meta, &stories).len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "render 50 stories from the store: {:.2} ms per feed ({} bytes avg)",
        secs * 1000.0 / (rounds * 2) as f64,
        bytes / (rounds * 2)
    );
}

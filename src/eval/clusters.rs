//! Story-cluster evaluation on labelled headlines, through the paths users run (`dedupe_eval` and the
//! cluster tests share it).
//!
//! Two replays of a labelled set:
//! - [`Replay::Time`]: the headlines in timestamp order, each one refresh of its publisher's source with
//!   the poll time set to the headline's timestamp (what a daemon polling continuously would see);
//! - [`Replay::Poll`]: one RSS document per publisher, the rows' timestamps as `pubDate`, a `feeds.toml`
//!   naming them as `file:` sources, and one first poll of all of them through [`crate::ingest::refresh`], as
//!   `syndic poll` does it (a new install reading real backlogs).
//!
//! [`shifted`] appends the set once more with its dates moved N days later, its story ids made distinct
//! and its URLs made distinct (a recurring headline weeks later is another story, on another page):
//! [`cross_shift_joins`] counts stored stories that mix the two copies.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::{Config, SourceConfig};
use crate::dedupe;
use crate::ingest::normalize::canonical_url;
use crate::model::Item;
use crate::store::{FetchRecord, RefreshInput, Store};
use crate::tag::rules::Tagger;

/// One labelled headline.
#[derive(Debug, Clone)]
pub struct Row {
    /// Same value = same news story.
    pub story: String,
    pub title: String,
    pub url: Option<String>,
    pub publisher: String,
    pub at: DateTime<Utc>,
    /// 0 for the set itself, 1 for its shifted copy.
    pub copy: u8,
}

/// How the rows reach the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Time,
    Poll,
}

impl Replay {
    pub fn as_str(self) -> &'static str {
        match self {
            Replay::Time => "time",
            Replay::Poll => "poll",
        }
    }

    pub fn parse(s: &str) -> Option<Replay> {
        match s {
            "time" => Some(Replay::Time),
            "poll" => Some(Replay::Poll),
            _ => None,
        }
    }
}

/// The dedupe settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub threshold: f64,
    pub decay_hours: f64,
    pub window: chrono::Duration,
    /// Title similarity on; off leaves URL and identical-headline joins (the exact-title baseline of the
    /// poll replay).
    pub similarity: bool,
    /// `[dedupe].veto`.
    pub veto: crate::dedupe::VetoRules,
}

/// Cluster quality of one run against the labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub b3_precision: f64,
    pub b3_recall: f64,
    pub b3_f1: f64,
    pub pair_precision: f64,
    pub pair_recall: f64,
    pub stories: usize,
}

impl Scores {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "b3_precision": self.b3_precision, "b3_recall": self.b3_recall, "b3_f1": self.b3_f1,
            "pair_precision": self.pair_precision, "pair_recall": self.pair_recall,
            "stories": self.stories,
        })
    }
}

/// Reads a tab-separated file with a header naming at least `story_id`, `title`, `url`, `publisher` and
/// `timestamp` (ms since the epoch); rows come back in timestamp order. Bad rows are skipped with a line
/// on stderr.
pub fn read_rows(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", path.display()))?
        .split('\t')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column \"{name}\"", path.display()))
    };
    let (c_story, c_title, c_url, c_pub, c_ts) = (
        col("story_id")?,
        col("title")?,
        col("url")?,
        col("publisher")?,
        col("timestamp")?,
    );
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).map_or("", |s| s.trim());
        let Some(at) = get(c_ts)
            .parse::<i64>()
            .ok()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        else {
            eprintln!("line {}: bad timestamp, skipped", n + 2);
            continue;
        };
        if get(c_story).is_empty() || get(c_title).is_empty() {
            eprintln!("line {}: no story id or title, skipped", n + 2);
            continue;
        }
        // The dev set carries stray backslash escapes in URLs and names.
        let url = canonical_url(&get(c_url).replace('\\', ""), None);
        let publisher = get(c_pub).replace('\\', "");
        rows.push(Row {
            story: get(c_story).to_string(),
            title: get(c_title).to_string(),
            url,
            publisher: if publisher.is_empty() {
                "(no publisher)".into()
            } else {
                publisher
            },
            at,
            copy: 0,
        });
    }
    rows.sort_by_key(|r| r.at);
    Ok(rows)
}

/// The rows, then the rows once more `days` later as other stories on other pages, in time order.
pub fn shifted(rows: &[Row], days: i64) -> Vec<Row> {
    let mut out = rows.to_vec();
    out.extend(rows.iter().map(|r| Row {
        story: format!("{}#shift{days}", r.story),
        url: r.url.as_ref().map(|u| {
            let sep = if u.contains('?') { '&' } else { '?' };
            format!("{u}{sep}syndic-eval-shift={days}")
        }),
        at: r.at + chrono::Duration::days(days),
        copy: 1,
        ..r.clone()
    }));
    out.sort_by_key(|r| r.at);
    out
}

/// Stored stories that hold items of both copies of a [`shifted`] set.
pub fn cross_shift_joins(rows: &[Row], pred: &[i64]) -> usize {
    let mut copies: HashMap<i64, u8> = HashMap::new();
    for (r, p) in rows.iter().zip(pred) {
        *copies.entry(*p).or_default() |= 1 << r.copy;
    }
    copies.values().filter(|&&m| m == 3).count()
}

/// The story syndic stored each row in (same order as `rows`). `dir` holds the database and, for the
/// poll replay, the feed documents and config.
pub fn clusters(
    rows: &[Row],
    replay: Replay,
    settings: Settings,
    dir: &Path,
) -> Result<Vec<i64>, String> {
    match replay {
        Replay::Time => time_replay(rows, settings, dir),
        Replay::Poll => poll_replay(rows, settings, dir),
    }
}

fn publishers(rows: &[Row]) -> Vec<&str> {
    let mut names: Vec<&str> = rows.iter().map(|r| r.publisher.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Each headline one refresh of its publisher's source, polled at the headline's timestamp.
fn time_replay(rows: &[Row], settings: Settings, dir: &Path) -> Result<Vec<i64>, String> {
    let path = dir.join("time.db");
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    let sources: Vec<SourceConfig> = publishers(rows)
        .iter()
        .enumerate()
        .map(|(i, n)| {
            SourceConfig::at(
                n,
                url::Url::parse(&format!("http://eval.invalid/{i}.xml")).expect("url"),
            )
        })
        .collect();
    let ids = store.sync_sources(&sources).map_err(|e| e.to_string())?;
    let tagger = std::sync::Arc::new(Tagger::new(&[], &[]));
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let key = format!("{n:08x}");
        let item = Item {
            guid: None,
            ..Item::headline(&key, &row.title, row.url.clone(), Some(row.at))
        };
        let source_id = ids[&row.publisher];
        store
            .apply_refresh(&RefreshInput {
                source_id,
                items: vec![item],
                now: row.at,
                window: settings.window,
                threshold: settings.threshold,
                decay_hours: settings.decay_hours,
                title_dedupe: true,
                similarity: settings.similarity,
                veto: settings.veto,
                tagger: tagger.clone(),
                fetch: FetchRecord::ok(row.at),
            })
            .map_err(|e| e.to_string())?;
        let story = store
            .story_of_item(source_id, &key)
            .map_err(|e| e.to_string())?
            .ok_or("item not stored")?;
        out.push(story);
    }
    Ok(out)
}

/// One RSS document per publisher (newest first, as feeds list them), one `feeds.toml`, one first poll
/// of every source through the refresh path of `syndic poll`. Kept as one script so it reads as the
/// user path it reproduces (write the feeds, write the config, open the store, poll, read the labels).
fn poll_replay(rows: &[Row], settings: Settings, dir: &Path) -> Result<Vec<i64>, String> {
    let feeds = dir.join("feeds");
    let _ = std::fs::remove_dir_all(&feeds);
    std::fs::create_dir_all(&feeds).map_err(|e| e.to_string())?;
    let db = dir.join("poll.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let names = publishers(rows);
    let mut by_publisher: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, r) in rows.iter().enumerate() {
        by_publisher.entry(&r.publisher).or_default().push(n);
    }
    let most = by_publisher.values().map(Vec::len).max().unwrap_or(1);
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://127.0.0.1\"\n\n\
         [storage]\ndatabase = {db:?}\n\n\
         [poll]\nschedule = \"@hourly\"\nmax_entries = {most}\nmax_bytes = 104857600\n\n\
         [dedupe]\ntitle_threshold = {:?}\ndecay_hours = {:?}\nwindow_hours = {}\nsimilarity = {}\nveto = [{}]\n\n\
         [output]\ntitle = \"eval\"\n\n",
        settings.threshold,
        settings.decay_hours,
        settings.window.num_hours().max(1),
        settings.similarity,
        veto_list(settings.veto),
    );
    for (i, name) in names.iter().enumerate() {
        let path = feeds.join(format!("{i}.xml"));
        let mut idx = by_publisher[name].clone();
        idx.sort_by_key(|&n| std::cmp::Reverse((rows[n].at, n)));
        let items: Vec<rss::Item> = idx
            .iter()
            .map(|&n| {
                let r = &rows[n];
                let mut item = rss::Item::default();
                item.set_title(r.title.clone());
                item.set_link(r.url.clone());
                item.set_guid(rss::Guid {
                    value: format!("row-{n}"),
                    permalink: false,
                });
                item.set_pub_date(r.at.to_rfc2822());
                item
            })
            .collect();
        let mut channel = rss::Channel::default();
        channel.set_title(name.to_string());
        channel.set_link(format!("http://eval.invalid/{i}"));
        channel.set_description("eval");
        channel.set_items(items);
        std::fs::write(&path, channel.to_string()).map_err(|e| e.to_string())?;
        toml.push_str(&format!(
            "[[source]]\nname = {:?}\nurl = {:?}\nsections = []\n\n",
            format!("{i} {name}"),
            format!("file://{}", path.display())
        ));
    }
    let config_path = dir.join("feeds.toml");
    std::fs::write(&config_path, toml).map_err(|e| e.to_string())?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = runtime.block_on(async {
        let store = Store::open_configured(
            &config.database,
            config.database_url.as_deref(),
            config.dedupe.window,
        )
        .map_err(|e| e.to_string())?;
        let sources = config.sources.clone();
        let ctx = crate::service::startup::prepare(Arc::new(config), store.clone())
            .await
            .map_err(|e| e.to_string())?
            .ctx;
        for report in crate::ingest::refresh::refresh_all(&ctx, &sources).await {
            if report.is_error() {
                return Err(format!("poll: {report}"));
            }
        }
        Ok::<_, String>(store)
    })?;
    let by_guid = store.stories_by_guid().map_err(|e| e.to_string())?;
    (0..rows.len())
        .map(|n| {
            by_guid
                .get(&format!("row-{n}"))
                .copied()
                .ok_or_else(|| format!("row {n} was not stored"))
        })
        .collect()
}

/// The `[dedupe].veto` list naming the enabled rules.
fn veto_list(rules: crate::dedupe::VetoRules) -> String {
    let on = [rules.places, rules.names, rules.numbers, rules.calendar];
    crate::dedupe::VetoRules::NAMES
        .iter()
        .zip(on)
        .filter(|(_, on)| *on)
        .map(|(n, _)| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Baseline: identical normalized titles (within the window) form a story.
pub fn exact_baseline(rows: &[Row], window: chrono::Duration) -> Vec<i64> {
    let mut seen: HashMap<String, (i64, DateTime<Utc>)> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let key = dedupe::normalize_title(&row.title);
        let id = match seen.get(&key) {
            Some(&(id, first)) if row.at - first <= window => id,
            _ => {
                seen.insert(key, (n as i64, row.at));
                n as i64
            }
        };
        out.push(id);
    }
    out
}

/// Baseline: each headline joins the story of its most similar earlier headline (token Jaccard over
/// lower-cased words minus stop words, within the window) if that similarity is at least 0.5.
pub fn jaccard_baseline(rows: &[Row], window: chrono::Duration) -> Vec<i64> {
    let sets: Vec<HashSet<String>> = rows
        .iter()
        .map(|r| {
            crate::text::words(&r.title.to_lowercase())
                .filter(|w| !dedupe::is_stop_word(w))
                .map(str::to_string)
                .collect()
        })
        .collect();
    let mut postings: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut out: Vec<i64> = Vec::with_capacity(rows.len());
    for (n, set) in sets.iter().enumerate() {
        let mut cands: Vec<usize> = set
            .iter()
            .filter_map(|w| postings.get(w.as_str()))
            .flatten()
            .copied()
            .filter(|&j| rows[n].at - rows[j].at <= window)
            .collect();
        cands.sort_unstable();
        cands.dedup();
        let mut best: Option<(f64, usize)> = None;
        for j in cands {
            let inter = set.intersection(&sets[j]).count() as f64;
            let union = set.union(&sets[j]).count() as f64;
            let sim = inter / union;
            if best.is_none_or(|(b, _)| sim > b) {
                best = Some((sim, j));
            }
        }
        out.push(match best {
            Some((sim, j)) if sim >= 0.5 => out[j],
            _ => n as i64,
        });
        for w in set {
            postings.entry(w.as_str()).or_default().push(n);
        }
    }
    out
}

/// B-cubed and pairwise precision and recall of predicted clusters against labels.
pub fn score(labels: &[&str], pred: &[i64]) -> Scores {
    let n = labels.len().max(1) as f64;
    let mut by_pred: HashMap<i64, usize> = HashMap::new();
    let mut by_label: HashMap<&str, usize> = HashMap::new();
    let mut joint: HashMap<(&str, i64), usize> = HashMap::new();
    for (l, p) in labels.iter().zip(pred) {
        *by_pred.entry(*p).or_default() += 1;
        *by_label.entry(l).or_default() += 1;
        *joint.entry((l, *p)).or_default() += 1;
    }
    let (mut p, mut r) = (0.0, 0.0);
    for (l, q) in labels.iter().zip(pred) {
        let j = joint[&(*l, *q)] as f64;
        p += j / by_pred[q] as f64;
        r += j / by_label[l] as f64;
    }
    let (p, r) = (p / n, r / n);
    let pairs = |c: usize| (c * c.saturating_sub(1) / 2) as f64;
    let tp: f64 = joint.values().map(|&c| pairs(c)).sum();
    let predicted: f64 = by_pred.values().map(|&c| pairs(c)).sum();
    let actual: f64 = by_label.values().map(|&c| pairs(c)).sum();
    Scores {
        b3_precision: p,
        b3_recall: r,
        b3_f1: if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        },
        pair_precision: if predicted > 0.0 { tp / predicted } else { 1.0 },
        pair_recall: if actual > 0.0 { tp / actual } else { 1.0 },
        stories: by_pred.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_pairs_and_b_cubed() {
        let s = score(&["a", "a", "b"], &[1, 1, 1]);
        assert!((s.pair_precision - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.pair_recall, 1.0);
        assert_eq!(s.stories, 1);
        let s = score(&["a", "a", "b"], &[1, 2, 3]);
        assert_eq!(s.pair_precision, 1.0);
        assert_eq!(s.pair_recall, 0.0);
    }

    #[test]
    fn a_shifted_copy_is_other_stories_on_other_pages() {
        let at = Utc.timestamp_opt(1_394_470_000, 0).unwrap();
        let rows = vec![Row {
            story: "s".into(),
            title: "Quake hits Chile".into(),
            url: Some("https://x.example/a?id=1".into()),
            publisher: "X".into(),
            at,
            copy: 0,
        }];
        let both = shifted(&rows, 30);
        assert_eq!(both.len(), 2);
        assert_eq!(both[1].at - both[0].at, chrono::Duration::days(30));
        assert_ne!(both[0].story, both[1].story);
        assert_ne!(both[0].url, both[1].url);
        assert_eq!(cross_shift_joins(&both, &[7, 7]), 1);
        assert_eq!(cross_shift_joins(&both, &[7, 8]), 0);
    }
}

//! Story-cluster evaluation on labelled headlines.
//!
//! `cargo run --release --example dedupe_eval -- PATH [--threshold T] [--decay-hours D] [--window-hours H]
//! [--json]`
//!
//! PATH is a tab-separated file with a header naming at least `story_id`, `title`, `url`, `publisher` and
//! `timestamp` (milliseconds since the epoch); other columns are ignored. The headlines go, in timestamp
//! order, through syndic's real store (a temporary SQLite file, its similarity index and window), one
//! source per publisher, one refresh per headline. Printed: B-cubed and pairwise precision/recall, the
//! number of stories, the same for two baselines (exact normalized title; online token Jaccard ≥ 0.5), and
//! a table over thresholds. With `--json`, exactly one JSON object for the chosen threshold.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use syndic::config::{DEFAULT_DECAY_HOURS, DEFAULT_TITLE_THRESHOLD, SourceConfig};
use syndic::dedupe;
use syndic::normalize::{Item, canonical_url};
use syndic::sections::Tagger;
use syndic::store::{FetchRecord, RefreshInput, Store};

struct Row {
    story: String,
    title: String,
    url: Option<String>,
    publisher: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Scores {
    b3_precision: f64,
    b3_recall: f64,
    b3_f1: f64,
    pair_precision: f64,
    pair_recall: f64,
    stories: usize,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("dedupe_eval: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut path = None;
    let mut threshold = DEFAULT_TITLE_THRESHOLD;
    let mut window_hours: i64 = 72;
    let mut decay_hours = DEFAULT_DECAY_HOURS;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--threshold" => {
                threshold = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|t: &f64| (0.0..=1.0).contains(t))
                    .ok_or("--threshold wants a number between 0 and 1")?;
            }
            "--decay-hours" => {
                decay_hours = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|h: &f64| *h >= 0.0)
                    .ok_or("--decay-hours wants a number of hours (0 = off)")?;
            }
            "--window-hours" => {
                window_hours = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|h: &i64| *h > 0)
                    .ok_or("--window-hours wants a positive number")?;
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.ok_or(
        "usage: dedupe_eval PATH [--threshold T] [--decay-hours D] [--window-hours H] [--json]"
            .to_string(),
    )?;
    let rows = read_rows(&path)?;
    if rows.is_empty() {
        return Err(format!("{}: no headlines", path.display()));
    }
    let window = chrono::Duration::hours(window_hours);
    let labels: Vec<&str> = rows.iter().map(|r| r.story.as_str()).collect();

    let syndic = score(
        &labels,
        &syndic_clusters(&rows, threshold, decay_hours, window)?,
    );
    let exact = score(&labels, &exact_baseline(&rows, window));
    let jaccard = score(&labels, &jaccard_baseline(&rows, window));

    if json {
        let obj = |s: &Scores| {
            serde_json::json!({
                "b3_precision": s.b3_precision, "b3_recall": s.b3_recall, "b3_f1": s.b3_f1,
                "pair_precision": s.pair_precision, "pair_recall": s.pair_recall,
                "stories": s.stories,
            })
        };
        let mut out = obj(&syndic);
        out["threshold"] = serde_json::json!(threshold);
        out["baseline_exact"] = obj(&exact);
        out["baseline_jaccard"] = obj(&jaccard);
        println!("{out}");
        return Ok(());
    }

    let true_stories: HashSet<&str> = labels.iter().copied().collect();
    println!(
        "{}: {} headlines, {} labelled stories, {} publishers, window {window_hours} h, decay {decay_hours} h",
        path.display(),
        rows.len(),
        true_stories.len(),
        rows.iter()
            .map(|r| &r.publisher)
            .collect::<HashSet<_>>()
            .len()
    );
    println!();
    println!("                      B3 P    B3 R    B3 F1   pair P  pair R  stories");
    let line = |name: &str, s: &Scores| {
        println!(
            "{name:<20}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
            s.b3_precision, s.b3_recall, s.b3_f1, s.pair_precision, s.pair_recall, s.stories
        )
    };
    line(&format!("syndic @ {threshold:.2}"), &syndic);
    if decay_hours > 0.0 {
        let flat = score(&labels, &syndic_clusters(&rows, threshold, 0.0, window)?);
        line("  same, no decay", &flat);
    }
    line("exact title", &exact);
    line("token Jaccard >= 0.5", &jaccard);
    println!();
    println!("threshold table (syndic):");
    println!("  threshold  B3 P    B3 R    B3 F1   pair P  pair R  stories");
    for t in [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9] {
        let s = score(&labels, &syndic_clusters(&rows, t, decay_hours, window)?);
        println!(
            "  {t:.2}       {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
            s.b3_precision, s.b3_recall, s.b3_f1, s.pair_precision, s.pair_recall, s.stories
        );
    }
    Ok(())
}

fn read_rows(path: &PathBuf) -> Result<Vec<Row>, String> {
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
        let Some(ms) = get(c_ts).parse::<i64>().ok() else {
            eprintln!("dedupe_eval: line {}: bad timestamp, skipped", n + 2);
            continue;
        };
        let Some(at) = Utc.timestamp_millis_opt(ms).single() else {
            eprintln!(
                "dedupe_eval: line {}: timestamp out of range, skipped",
                n + 2
            );
            continue;
        };
        if get(c_story).is_empty() || get(c_title).is_empty() {
            eprintln!("dedupe_eval: line {}: no story id or title, skipped", n + 2);
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
        });
    }
    rows.sort_by_key(|r| r.at);
    Ok(rows)
}

/// Cluster ids from syndic's store: each headline one refresh of its publisher's source.
fn syndic_clusters(
    rows: &[Row],
    threshold: f64,
    decay_hours: f64,
    window: chrono::Duration,
) -> Result<Vec<i64>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(&dir.path().join("eval.db")).map_err(|e| e.to_string())?;
    let mut names: Vec<&str> = rows.iter().map(|r| r.publisher.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let sources: Vec<SourceConfig> = names
        .iter()
        .enumerate()
        .map(|(i, n)| SourceConfig {
            name: n.to_string(),
            url: url::Url::parse(&format!("http://eval.invalid/{i}.xml")).expect("url"),
            sections: vec![],
            schedule: None,
            dedupe: true,
            tagging: Default::default(),
        })
        .collect();
    let ids = store.sync_sources(&sources).map_err(|e| e.to_string())?;
    let tagger = Tagger::new(&[], &[]);
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let key = format!("{n:08x}");
        let item = Item {
            key: key.clone(),
            guid: None,
            url: row.url.clone(),
            title: row.title.clone(),
            summary: String::new(),
            content_html: None,
            author: None,
            categories: vec![],
            enclosures: vec![],
            published: Some(row.at),
            updated: None,
        };
        let source_id = ids[&row.publisher];
        store
            .apply_refresh(&RefreshInput {
                source_id,
                items: std::slice::from_ref(&item),
                now: row.at,
                window,
                threshold,
                decay_hours,
                title_dedupe: true,
                similarity: true,
                tagger: &tagger,
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

/// Baseline 1: identical normalized titles (within the window) form a story.
fn exact_baseline(rows: &[Row], window: chrono::Duration) -> Vec<i64> {
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

/// Baseline 2: each headline joins the story of its most similar earlier headline (token Jaccard over
/// lower-cased words minus stop words, within the window) if that similarity is at least 0.5.
fn jaccard_baseline(rows: &[Row], window: chrono::Duration) -> Vec<i64> {
    let sets: Vec<HashSet<String>> = rows
        .iter()
        .map(|r| {
            r.title
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty() && !dedupe::is_stop_word(w))
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

fn score(labels: &[&str], pred: &[i64]) -> Scores {
    let n = labels.len() as f64;
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

//! `cargo bench --bench dedupe`: the title-similarity index at scale.
//!
//! Builds 1,000,000 synthetic titles from the dev set's vocabulary and cluster structure
//! (`../shared/data/headlines/dev.tsv`): each synthetic story starts from a real headline with about half
//! of its words swapped for others of the vocabulary (drawn by their frequency) and a rare name of its
//! own, and has as many members as a real story's share of outlets (sizes from the dev clusters, scaled to
//! a mean of about 4); members drop, add and reorder words. Stories interleave in time, as in a day of
//! news. Every title goes through the daemon's decision (best match, then join and offer as a
//! representative, or start a story) with a window that holds them all. Printed: decision latency p50 /
//! p99 / max, total time, index memory per story held (the growth of the process's resident memory while the index is built, and the index's own
//! account of its heap), and, on the first 20,000
//! titles, the same decisions by a brute-force scan over every representative in the window.
//!
//! `SYNDIC_BENCH_TITLES=N` changes the number of titles; `SYNDIC_BENCH_SCAN=0` skips the scan (for
//! profiling the index alone). Without `../shared/data` it says so and skips.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use syndic::config::{DEFAULT_DECAY_HOURS, DEFAULT_TITLE_THRESHOLD};
use syndic::dedupe::{TitleIndex, TitleProbe, title_tokens};

const TITLES: usize = 1_000_000;
const SCAN_TITLES: usize = 20_000;

/// A small deterministic generator (xorshift), so every run builds the same titles.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

struct Title {
    source: i64,
    at: DateTime<Utc>,
    tokens: Vec<String>,
}

fn main() {
    let tsv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/headlines/dev.tsv");
    let Ok(text) = std::fs::read_to_string(&tsv) else {
        println!("SKIPPED: {} is absent", tsv.display());
        return;
    };
    let mut headlines: Vec<Vec<String>> = Vec::new();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 2 {
            continue;
        }
        *sizes.entry(f[0]).or_default() += 1;
        let t = title_tokens(f[1]);
        if t.len() >= 3 {
            headlines.push(t);
        }
    }
    // The vocabulary, each word as often as the dev set uses it.
    let vocab: Vec<String> = headlines.iter().flatten().cloned().collect();
    let mut sizes: Vec<usize> = sizes.into_values().collect();
    sizes.sort_unstable();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let scale = mean / 4.0;

    let n = std::env::var("SYNDIC_BENCH_TITLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TITLES);
    let titles = synthesize(&headlines, &vocab, &sizes, scale, n);
    let stories_made = titles.iter().map(|t| t.source).max().unwrap_or(0);
    println!(
        "synthetic titles: {} from {} dev headlines ({} words of vocabulary), {} sources",
        titles.len(),
        headlines.len(),
        vocab.len(),
        stories_made + 1
    );

    let window = Duration::hours(24 * 365);
    let rss_before = common::proc_status_kib("VmRSS") as i64;
    let (lat, held, bytes, secs, joined, ix) = run_index(&titles, window);
    let rss_growth = (common::proc_status_kib("VmRSS") as i64 - rss_before) * 1024;
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    println!(
        "index, {} titles: {secs:.2}s total, {:.0} titles/s; decision latency p50 {:.1} us, p99 {:.1} us, max {:.0} us; {joined} joined, {held} stories held; index heap {:.1} MiB = {:.0} bytes per story (RSS growth {:.1} MiB = {:.0} bytes per story)",
        titles.len(),
        titles.len() as f64 / secs,
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1],
        bytes as f64 / 1048576.0,
        bytes as f64 / held as f64,
        rss_growth as f64 / 1048576.0,
        rss_growth as f64 / held as f64
    );
    drop(ix);
    if std::env::var("SYNDIC_BENCH_SCAN").is_ok_and(|v| v == "0") {
        return;
    }

    let head = &titles[..SCAN_TITLES];
    let (_, _, _, secs_i, joined_i, _) = run_index(head, window);
    let (secs_s, joined_s) = run_scan(head);
    println!(
        "first {SCAN_TITLES} titles: index {secs_i:.3}s ({:.1} us/title, {joined_i} joined), brute-force scan {secs_s:.3}s ({:.1} us/title, {joined_s} joined): index {:.0}x faster",
        secs_i * 1e6 / SCAN_TITLES as f64,
        secs_s * 1e6 / SCAN_TITLES as f64,
        secs_s / secs_i
    );
}

fn synthesize(
    headlines: &[Vec<String>],
    vocab: &[String],
    sizes: &[usize],
    scale: f64,
    n: usize,
) -> Vec<Title> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    // Open stories: (base tokens, members left). New stories open as others finish, so stories
    // interleave like a news day.
    let mut open: Vec<(Vec<String>, usize)> = Vec::new();
    let mut out = Vec::with_capacity(n);
    let mut story_no = 0usize;
    while out.len() < n {
        if open.len() < 64 || rng.chance(0.3) {
            let real = &headlines[rng.below(headlines.len())];
            let mut base: Vec<String> = real
                .iter()
                .map(|w| {
                    if rng.chance(0.5) {
                        vocab[rng.below(vocab.len())].clone()
                    } else {
                        w.clone()
                    }
                })
                .collect();
            base.push(format!("name{story_no}"));
            story_no += 1;
            let size = ((sizes[rng.below(sizes.len())] as f64 / scale).ceil() as usize).max(1);
            open.push((base, size));
        }
        let k = rng.below(open.len());
        let (base, left) = &mut open[k];
        let mut t: Vec<String> = base.iter().filter(|_| !rng.chance(0.2)).cloned().collect();
        for _ in 0..rng.below(3) {
            t.push(vocab[rng.below(vocab.len())].clone());
        }
        if rng.chance(0.5) && t.len() > 1 {
            let a = rng.below(t.len());
            let b = rng.below(t.len());
            t.swap(a, b);
        }
        t.dedup();
        out.push(Title {
            source: rng.below(2000) as i64,
            at: start + Duration::milliseconds(out.len() as i64 * 500),
            tokens: t,
        });
        *left -= 1;
        if *left == 0 {
            open.swap_remove(k);
        }
    }
    out
}

type IndexRun = (Vec<f64>, usize, usize, f64, usize, TitleIndex);

/// The daemon's decision for each title; returns sorted latencies (us), stories held, index heap bytes,
/// seconds, joins and the index.
fn run_index(titles: &[Title], window: Duration) -> IndexRun {
    let mut ix = TitleIndex::new();
    ix.set_decay_hours(DEFAULT_DECAY_HOURS);
    let mut lat = Vec::with_capacity(titles.len());
    let mut joined = 0;
    let start = Instant::now();
    for (i, t) in titles.iter().enumerate() {
        let t0 = Instant::now();
        let probe = TitleProbe {
            source_id: t.source,
            tokens: &t.tokens,
            event: t.at,
        };
        let id = i as i64;
        // As the daemon asks first: the best story (only when the look-alike veto, which reads the
        // original titles these synthetic ones lack, refuses it are the next ones asked for).
        match ix
            .best_matches(&probe, DEFAULT_TITLE_THRESHOLD, window, 1)
            .first()
        {
            Some(m) => {
                joined += 1;
                if ix.would_admit(m.story_id, t.source, &t.tokens, DEFAULT_TITLE_THRESHOLD) {
                    ix.restore_rep(m.story_id, id, t.source, &t.tokens);
                }
                ix.extend_span(m.story_id, t.at);
            }
            None => ix.insert_story(id, t.at, (t.at, t.at), id, t.source, &t.tokens),
        }
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let held = ix.len();
    (lat, held, ix.heap_bytes(), secs, joined, ix)
}

/// A story in the scan: its representatives as (source, sorted token ids), and when it was last seen.
type ScanStory = (Vec<(i64, Vec<u32>)>, i64);

/// The same decisions by scanning every representative of every story in the window (token ids and
/// story frequencies kept as the index keeps them, so only the candidate search differs).
fn run_scan(titles: &[Title]) -> (f64, usize) {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut df: Vec<u32> = Vec::new();
    let mut stories: Vec<ScanStory> = Vec::new();
    let mut joined = 0;
    let start = Instant::now();
    for t in titles {
        let mut tok: Vec<u32> = t
            .tokens
            .iter()
            .map(|w| {
                let n = ids.len() as u32;
                *ids.entry(w.clone()).or_insert_with(|| {
                    df.push(0);
                    n
                })
            })
            .collect();
        tok.sort_unstable();
        tok.dedup();
        let n = stories.len() as f64;
        let w = |id: u32| ((n + 1.0) / (f64::from(df[id as usize]) + 1.0)).ln() + 1.0;
        let now = t.at.timestamp_millis();
        let total: f64 = tok.iter().map(|&i| w(i)).sum();
        let mut best: Option<(f64, usize)> = None;
        for (s, (reps, last)) in stories.iter().enumerate() {
            let idle = (now - last) as f64 / 3_600_000.0;
            let decay = (-idle / DEFAULT_DECAY_HOURS).exp();
            for (src, r) in reps {
                if *src == t.source {
                    continue;
                }
                let rt: f64 = r.iter().map(|&i| w(i)).sum();
                let shared: f64 = r
                    .iter()
                    .filter(|i| tok.binary_search(i).is_ok())
                    .map(|&i| w(i))
                    .sum();
                let score = shared / (total * rt).sqrt() * decay;
                if score >= DEFAULT_TITLE_THRESHOLD && best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, s));
                }
            }
        }
        match best {
            Some((_, s)) => {
                joined += 1;
                stories[s].1 = now;
                if stories[s].0.len() < syndic::dedupe::MAX_REPS {
                    for &i in &tok {
                        if !stories[s].0.iter().any(|(_, r)| r.contains(&i)) {
                            df[i as usize] += 1;
                        }
                    }
                    stories[s].0.push((t.source, tok));
                }
            }
            None => {
                for &i in &tok {
                    df[i as usize] += 1;
                }
                stories.push((vec![(t.source, tok)], now));
            }
        }
    }
    (start.elapsed().as_secs_f64(), joined)
}

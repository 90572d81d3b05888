//! `cargo bench --bench parse`: parse + normalize throughput against Python feedparser, in one run.
//!
//! Inputs: every document of `../shared/data/feeds/feedparser` (feedparser's own test corpus, read into
//! memory once) and a generated RSS feed of 20,000 items (~9 MB). Measured on the same bytes:
//! - syndic: `parse_feed` (charset detection, repair pass) + `normalize` (keys, canonical URLs, text,
//!   sanitized HTML), every entry (no cap);
//! - feed-rs alone (`feed_rs::parser::parse`), so the cost of normalizing and sanitizing shows;
//! - Python feedparser 6 (`feedparser.parse(bytes)`), in `.venv` (created here with
//!   `.ci/requirements.txt` when missing).
//!
//! Printed: MB/s and items/s for each, and syndic's speed as a multiple of feedparser's. Without the
//! shared data the corpus half is skipped; without Python the feedparser half is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use syndic::eval::corpus::documents;
use syndic::ingest::normalize::normalize;
use syndic::ingest::parse::parse_feed;

const BIG_ITEMS: usize = 20_000;

/// Documents: (path, bytes).
type Docs = Vec<(PathBuf, Vec<u8>)>;

fn big_feed() -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Big</title><link>https://big.example/</link><description>generated</description>\n",
    );
    for i in 0..BIG_ITEMS {
        s += &format!(
            "<item><guid isPermaLink=\"false\">big-{i}</guid><title>Officials announce measure {i} as markets react &amp; analysts weigh in</title>\
<link>https://big.example/news/2026/11/{i}?utm_source=rss</link><dc:creator>Reporter {}</dc:creator><category>Section {}</category>\
<description><![CDATA[<p>Paragraph one of story {i}, with <a href=\"/rel/{i}\">a relative link</a> and <b>bold</b> text.</p><p>A second paragraph carries more words about the measure and what it means for readers in the region.</p>]]></description>\
<pubDate>Fri, 27 Nov 2026 {:02}:{:02}:00 +0000</pubDate></item>\n",
            i % 97,
            i % 13,
            i / 60 % 24,
            i % 60
        );
    }
    s += "</channel></rss>\n";
    s.into_bytes()
}

/// (seconds per pass, items) of `f` over `docs`, best of `passes`.
fn time(
    docs: &[(PathBuf, Vec<u8>)],
    passes: usize,
    f: impl Fn(&Path, &[u8]) -> usize,
) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let mut items = 0;
    for _ in 0..passes {
        let started = Instant::now();
        items = docs.iter().map(|(p, b)| f(p, b)).sum();
        best = best.min(started.elapsed().as_secs_f64());
    }
    (best, items)
}

fn syndic(path: &Path, bytes: &[u8]) -> usize {
    let base = url::Url::from_file_path(path)
        .unwrap_or_else(|()| url::Url::parse("http://bench.test/feed").expect("valid"));
    match parse_feed(bytes, Some(base.as_str()), None) {
        Ok(feed) => normalize(&feed, &base).1.len(),
        Err(_) => 0,
    }
}

/// feed-rs on the raw bytes. It panics on a few corpus documents (syndic guards against that; see
/// `parse.rs`): those count as refused.
fn feed_rs_alone(_: &Path, bytes: &[u8]) -> usize {
    std::panic::catch_unwind(|| feed_rs::parser::parse(bytes).map_or(0, |f| f.entries.len()))
        .unwrap_or(0)
}

/// A Python with feedparser: `.venv/bin/python`, made from `.ci/requirements.txt` when missing.
fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = root.join(".venv/bin/python");
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import feedparser"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has(&py) {
        return Some(py);
    }
    eprintln!("parse bench: installing feedparser into .venv");
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(root.join(".venv"))
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(&py)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(root.join(".ci/requirements.txt"))
            .status()
            .is_ok_and(|s| s.success());
    (ok && has(&py)).then_some(py)
}

/// feedparser over the files listed in `list` (one path per line): (seconds per pass, entries).
fn feedparser(py: &Path, list: &Path, passes: usize) -> Option<(f64, usize)> {
    let script = format!(
        r#"import feedparser, time
files = [open(p.rstrip("\n"), "rb").read() for p in open({list:?})]
best = None
for _ in range({passes}):
    t = time.perf_counter()
    n = 0
    for b in files:
        n += len(feedparser.parse(b).entries)
    d = time.perf_counter() - t
    best = d if best is None else min(best, d)
print(best, n)
"#,
        list = list.display().to_string()
    );
    let out = Command::new(py).args(["-c", &script]).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "feedparser failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn report(name: &str, bytes: usize, (secs, items): (f64, usize)) -> f64 {
    let mbs = bytes as f64 / 1e6 / secs;
    println!(
        "  {name:<28} {:>8.1} MB/s {:>10.0} items/s   ({items} items, {:.1} ms per pass)",
        mbs,
        items as f64 / secs,
        secs * 1000.0
    );
    mbs
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = root.join("target/bench-parse");
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let big = scratch.join("big.xml");
    std::fs::write(&big, big_feed()).expect("write the generated feed");

    let mut sets: Vec<(&str, Docs, usize)> = Vec::new();
    let corpus_dir = root.join("../shared/data/feeds/feedparser");
    if corpus_dir.is_dir() {
        let docs: Docs = documents(&[corpus_dir])
            .into_iter()
            .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
            .collect();
        sets.push(("feedparser corpus", docs, 5));
    } else {
        println!("parse bench: ../shared/data/feeds/feedparser not found; corpus half skipped");
    }
    let big_bytes = std::fs::read(&big).expect("read the generated feed");
    sets.push(("generated 20,000 items", vec![(big.clone(), big_bytes)], 3));

    // feed-rs alone panics on some documents; the panics are counted as refusals, not printed.
    std::panic::set_hook(Box::new(|_| {}));
    let py = python();
    if py.is_none() {
        println!("parse bench: no Python with feedparser; the comparison is skipped");
    }
    for (name, docs, passes) in &sets {
        let bytes: usize = docs.iter().map(|(_, b)| b.len()).sum();
        println!(
            "{name}: {} documents, {:.2} MB",
            docs.len(),
            bytes as f64 / 1e6
        );
        let ours = report(
            "syndic parse + normalize",
            bytes,
            time(docs, *passes, syndic),
        );
        report(
            "feed-rs parse alone",
            bytes,
            time(docs, *passes, feed_rs_alone),
        );
        if let Some(py) = &py {
            let list = scratch.join("files.txt");
            let paths: Vec<String> = docs.iter().map(|(p, _)| p.display().to_string()).collect();
            std::fs::write(&list, paths.join("\n") + "\n").expect("file list");
            if let Some(fp) = feedparser(py, &list, 1) {
                let theirs = report("Python feedparser 6", bytes, fp);
                println!("  syndic / feedparser: {:.0}x", ours / theirs);
            }
        }
    }
}

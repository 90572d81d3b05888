//! A sweep over real-world feed documents (`../shared/data/feeds`: feedparser's and the W3C validator's
//! test suites, ~4,400 files, many deliberately broken): syndic must never panic, and everything it
//! publishes from whatever it accepted must be well-formed and parse back with the same entries.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use syndic::normalize::normalize;
use syndic::parse::parse_feed;
use syndic::render::{self, FeedMeta, Format};
use syndic::store::{Story, StoryItem};

fn corpus_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/feeds");
    if root.is_dir() {
        Some(root)
    } else {
        // A clone elsewhere has no shared data: skip, saying so (CI runs beside it).
        eprintln!(
            "SKIPPED: {} is absent: the corpus sweep needs the shared test data",
            root.display()
        );
        None
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("html" | "htaccess" | "jsonl") | None
        ) {
            out.push(p);
        }
    }
}

fn meta(format: Format) -> FeedMeta {
    FeedMeta {
        section: "all".into(),
        title: "Sweep".into(),
        description: "corpus sweep".into(),
        site_url: "http://feeds.test/".into(),
        self_url: format!("http://feeds.test/feeds/all.{}", format.extension()),
        alternates: vec![],
        id: render::urn_uuid("sweep"),
        generator: "syndic".into(),
    }
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    parsed: usize,
    entries: usize,
    problems: Vec<String>,
}

fn sweep_one(path: &Path, tally: &mut Tally) {
    let bytes = std::fs::read(path).unwrap();
    let base = url::Url::from_file_path(path).unwrap();
    let name = path.display().to_string();
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<usize, String> {
        let Ok(feed) = parse_feed(&bytes, Some(base.as_str()), None) else {
            return Ok(usize::MAX); // refused with an error: fine
        };
        let (_, items) = normalize(&feed, &base);
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let stories: Vec<Story> = items
            .iter()
            .enumerate()
            .map(|(i, it)| Story {
                id: i as i64,
                uid: format!("s{i}"),
                first_seen: now,
                updated: now,
                sections: vec!["all".into()],
                section_origins: vec!["source:Sweep".into()],
                items: vec![StoryItem {
                    source: "Sweep".into(),
                    title: it.title.clone(),
                    url: it.url.clone(),
                    summary: it.summary.clone(),
                    content_html: it.content_html.clone(),
                    author: it.author.clone(),
                    categories: it.categories.clone(),
                    published: it.published,
                    first_seen: now,
                    joined: None,
                }],
            })
            .collect();
        for format in Format::ALL {
            let out = render::render(format, &meta(format), &stories);
            let back = feed_rs::parser::parse(&out[..])
                .map_err(|e| format!("{format:?} output does not parse: {e}"))?;
            if back.entries.len() != stories.len() {
                return Err(format!(
                    "{format:?} output has {} entries, want {}",
                    back.entries.len(),
                    stories.len()
                ));
            }
            for (s, e) in stories.iter().zip(&back.entries) {
                let title = e.title.as_ref().map(|t| t.content.as_str()).unwrap_or("");
                if title.trim() != s.lead().title {
                    return Err(format!(
                        "{format:?} title {title:?} != {:?}",
                        s.lead().title
                    ));
                }
            }
        }
        Ok(stories.len())
    }));
    tally.files += 1;
    match result {
        Ok(Ok(usize::MAX)) => {}
        Ok(Ok(n)) => {
            tally.parsed += 1;
            tally.entries += n;
        }
        Ok(Err(e)) => tally.problems.push(format!("{name}: {e}")),
        Err(_) => tally.problems.push(format!("{name}: PANIC")),
    }
}

#[test]
fn real_world_documents_never_panic_and_republish_cleanly() {
    let Some(root) = corpus_root() else { return };
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let mut groups: Vec<(String, Tally)> = Vec::new();
    for path in &all {
        let rel = path.strip_prefix(&root).unwrap();
        let mut parts = rel
            .components()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let group = format!(
            "{}/{}",
            parts.next().unwrap(),
            parts.next().unwrap_or_default()
        );
        if groups.last().is_none_or(|(g, _)| *g != group) {
            groups.push((group.clone(), Tally::default()));
        }
        sweep_one(path, &mut groups.last_mut().unwrap().1);
    }
    let mut problems = Vec::new();
    for (group, t) in &groups {
        eprintln!(
            "corpus {group:<28} {:>5} files, {:>5} accepted ({:>5.1}%), {:>6} entries republished, {} problems",
            t.files,
            t.parsed,
            100.0 * t.parsed as f64 / t.files.max(1) as f64,
            t.entries,
            t.problems.len()
        );
        problems.extend(t.problems.iter().cloned());
    }
    assert!(
        all.len() > 4000,
        "expected the whole corpus, found {} files",
        all.len()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

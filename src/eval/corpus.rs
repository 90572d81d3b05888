//! Running folders of feed documents through syndic's real path (file → parse → normalize → store →
//! render), counting errors, panics and hangs, and comparing the normalized values with the
//! expectations that come with a corpus (feedparser's `expectations.jsonl`). Used by the `corpus`
//! example and the corpus sweep test.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use url::Url;

use crate::config::{DEFAULT_MAX_ENTRIES, SourceConfig, Tagging};
use crate::ingest::normalize::{canonical_url, html_to_text, normalize_limited};
use crate::ingest::parse::parse_feed;
use crate::model::{FeedInfo, Item};
use crate::publish::render::{self, FeedMeta, Format};
use crate::store::{FetchRecord, RefreshInput, Store, Story, StoryItem};
use crate::tag::rules::Tagger;

/// Every file under `dirs` that may be a feed document (not `.html`, `.jsonl`, `.htaccess`, README or
/// LICENSE files, nor files without an extension), sorted.
pub fn documents(dirs: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if !matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("html" | "htaccess" | "jsonl" | "md") | None
            ) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        if d.is_file() {
            out.push(d.clone());
        } else {
            walk(d, &mut out);
        }
    }
    out.sort();
    out
}

/// What happened to one document.
#[derive(Debug)]
pub enum Outcome {
    /// Parsed, stored and republished well-formed in every format.
    Ok { feed: FeedInfo, items: Vec<Item> },
    /// Refused with this one-line error.
    Error(String),
    /// syndic panicked (a bug): the message.
    Panic(String),
    /// Not done within the time limit (a bug).
    Timeout,
}

/// Runs documents one by one against one store.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    tagger: Arc<Tagger>,
    limit: Duration,
}

impl Runner {
    /// `store`: a scratch database; `limit`: the time one document may take.
    pub fn new(store: Store, limit: Duration) -> Runner {
        Runner {
            store,
            tagger: Arc::new(Tagger::default()),
            limit,
        }
    }

    /// One document, in a thread of its own so that a panic is caught and a hang is given up on.
    pub fn run(&self, path: &Path) -> Outcome {
        let (tx, rx) = std::sync::mpsc::channel();
        let (me, p) = (self.clone(), path.to_path_buf());
        std::thread::spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| me.process(&p)));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(self.limit) {
            Ok(Ok(Ok((feed, items)))) => Outcome::Ok { feed, items },
            Ok(Ok(Err(e))) => Outcome::Error(e),
            Ok(Err(panic)) => Outcome::Panic(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            ),
            Err(_) => Outcome::Timeout,
        }
    }

    fn process(&self, path: &Path) -> Result<(FeedInfo, Vec<Item>), String> {
        let bytes = std::fs::read(path).map_err(|e| format!("read: {e}"))?;
        let abs = std::path::absolute(path).map_err(|e| format!("path: {e}"))?;
        let base = Url::from_file_path(&abs).map_err(|()| "path: not absolute".to_string())?;
        let feed = parse_feed(&bytes, Some(base.as_str()), None).map_err(|e| e.to_string())?;
        let (info, items, _) = normalize_limited(&feed, &base, DEFAULT_MAX_ENTRIES);
        // Thin entries (no title, link or text) are read, and checked against expectations, but syndic
        // stores and republishes only the others, as the daemon does.
        let kept: Vec<Item> = items.iter().filter(|i| !i.is_thin()).cloned().collect();
        let name = abs.display().to_string();
        let ids = self
            .store
            .sync_sources(&[SourceConfig {
                name: name.clone(),
                url: base.clone(),
                sections: Vec::new(),
                schedule: None,
                dedupe: false,
                tagging: Tagging::Both,
            }])
            .map_err(|e| format!("store: {e}"))?;
        let now = Utc::now();
        self.store
            .apply_refresh(&RefreshInput {
                source_id: ids[&name],
                items: kept.clone(),
                now,
                window: chrono::Duration::hours(1),
                threshold: 1.0,
                decay_hours: 0.0,
                title_dedupe: false,
                similarity: false,
                veto: Default::default(),
                tagger: self.tagger.clone(),
                fetch: FetchRecord::ok(now),
            })
            .map_err(|e| format!("store: {e}"))?;
        republish(&kept)?;
        Ok((info, items))
    }
}

/// Items as one-item stories, as the store would give them back.
pub fn stories_of(items: &[Item], now: DateTime<Utc>) -> Vec<Story> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| Story {
            id: i as i64,
            uid: format!("s{i}"),
            first_seen: now,
            updated: now,
            sections: vec!["all".into()],
            section_origins: vec![crate::tag::rules::Origin::Source("corpus".into())],
            items: vec![StoryItem {
                source: "corpus".into(),
                title: it.title.clone(),
                url: it.url.clone(),
                summary: it.summary.clone(),
                content_html: it.content_html.clone(),
                author: it.author.clone(),
                categories: it.categories.clone(),
                enclosures: it.enclosures.clone(),
                image: it.image.clone(),
                published: it.published,
                first_seen: now,
                joined: None,
                refused: None,
            }],
        })
        .collect()
}

/// Renders the items in every format and reads each output back: it must parse, with the same
/// entries and titles.
pub fn republish(items: &[Item]) -> Result<(), String> {
    let stories = stories_of(items, Utc::now());
    for format in Format::ALL {
        let meta = FeedMeta {
            section: "all".into(),
            title: "Corpus".into(),
            description: "corpus run".into(),
            site_url: "http://feeds.test/".into(),
            self_url: format!("http://feeds.test/feeds/all.{}", format.extension()),
            alternates: vec![],
            id: render::urn_uuid("corpus"),
            generator: "syndic".into(),
            paging: render::Paging::default(),
            hub: None,
        };
        let out = render::render(format, &meta, &stories);
        let back = feed_rs::parser::parse(&out[..])
            .map_err(|e| format!("render: {format:?} output does not parse: {e}"))?;
        if back.entries.len() != stories.len() {
            return Err(format!(
                "render: {format:?} output has {} entries, want {}",
                back.entries.len(),
                stories.len()
            ));
        }
        for (s, e) in stories.iter().zip(&back.entries) {
            let title = e.title.as_ref().map(|t| t.content.as_str()).unwrap_or("");
            if title.trim() != s.lead().title {
                return Err(format!(
                    "render: {format:?} title {title:?} != {:?}",
                    s.lead().title
                ));
            }
        }
    }
    Ok(())
}

/// The group of a document: its first two folders below the corpus root ("wellformed/rss").
pub fn group_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.len() {
        0 | 1 => ".".into(),
        2 => parts[0].clone(),
        _ => format!("{}/{}", parts[0], parts[1]),
    }
}

/// One check of an expectations file that names a field syndic normalizes.
#[derive(Debug, Clone)]
pub struct Check {
    /// The document, relative to the expectations file's folder.
    pub file: String,
    /// "feed.title", "entries[0].link", ...
    pub field: String,
    /// Which of syndic's values it names.
    target: Target,
    /// The expected value; `None` for an "is None" check.
    want: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Link,
    Id,
    Author,
    Published,
    Updated,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Feed(Field),
    Entry(usize, Field),
}

/// The checks of `dir/expectations.jsonl` that name a feed or entry title, link, id, author or date
/// (`None` when there is no such file).
pub fn expectations(dir: &Path) -> Option<Vec<Check>> {
    let text = std::fs::read_to_string(dir.join("expectations.jsonl")).ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(file) = v["file"].as_str() else {
            continue;
        };
        for c in v["checks"].as_array().into_iter().flatten() {
            let Some(path) = c["path"].as_array() else {
                continue;
            };
            let want = match c["op"].as_str() {
                Some("==") => Some(c["value"].clone()),
                Some("is None") => None,
                _ => continue,
            };
            if let Some((target, field)) = target_of(path) {
                out.push(Check {
                    file: file.to_string(),
                    field,
                    target,
                    want,
                });
            }
        }
    }
    Some(out)
}

/// feedparser's key path → the syndic value it corresponds to.
fn target_of(path: &[serde_json::Value]) -> Option<(Target, String)> {
    let keys: Vec<String> = path
        .iter()
        .map(|k| match k {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let field = |rest: &[String]| -> Option<Field> {
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        Some(match rest.as_slice() {
            ["title"] | ["title_detail", "value"] => Field::Title,
            ["link"] => Field::Link,
            ["id"] | ["guid"] => Field::Id,
            ["author"] | ["author_detail", "name"] => Field::Author,
            ["published_parsed"] | ["issued_parsed"] => Field::Published,
            ["updated_parsed"] | ["modified_parsed"] => Field::Updated,
            _ => return None,
        })
    };
    let name = keys.join(".");
    match keys.first().map(String::as_str) {
        Some("feed") => {
            let f = field(&keys[1..])?;
            // The feed's own id and author are not part of syndic's model.
            if matches!(f, Field::Id | Field::Author | Field::Published) {
                return None;
            }
            Some((Target::Feed(f), name))
        }
        Some("entries") => {
            let i: usize = keys.get(1)?.parse().ok()?;
            let f = field(&keys[2..])?;
            Some((
                Target::Entry(i, f),
                format!("entries[].{}", keys[2..].join(".")),
            ))
        }
        _ => None,
    }
}

/// Compares one check with a document's outcome: `Ok(())`, or why not.
pub fn verify(check: &Check, outcome: &Outcome) -> Result<(), String> {
    let Outcome::Ok { feed, items } = outcome else {
        return Err("document not accepted".into());
    };
    let (field, got) = match check.target {
        Target::Feed(f) => (
            f,
            match f {
                Field::Title => feed.title.clone().map(Got::Text),
                Field::Link => feed.site_url.clone().map(Got::Url),
                Field::Updated => feed.updated.map(Got::Date),
                _ => None,
            },
        ),
        Target::Entry(i, f) => {
            let Some(it) = items.get(i) else {
                return Err(format!(
                    "entry {i} not read ({} read): the parser dropped it",
                    items.len()
                ));
            };
            (
                f,
                match f {
                    Field::Title => Some(Got::Text(it.title.clone())),
                    Field::Link => it.url.clone().map(Got::Url),
                    Field::Id => it.guid.clone().map(Got::Text),
                    Field::Author => it.author.clone().map(Got::Text),
                    Field::Published => it.published.map(Got::Date),
                    Field::Updated => it.updated.or(it.published).map(Got::Date),
                },
            )
        }
    };
    let Some(want) = &check.want else {
        return match got {
            None => Ok(()),
            Some(g) => Err(format!("want none, got {g:?}")),
        };
    };
    let Some(got) = got else {
        return Err(format!("want {want}, got none"));
    };
    let ok = match (&got, field) {
        (Got::Date(d), _) => date_of(want).is_some_and(|w| w == *d),
        (Got::Url(u), _) => want.as_str().is_some_and(|w| same_url(w, u)),
        // feedparser's `author` is "name (email)" when there is an address; syndic keeps names only.
        (Got::Text(t), Field::Author) => want
            .as_str()
            .is_some_and(|w| same_text(w, t) || same_text(without_email(w), t)),
        (Got::Text(t), _) => want.as_str().is_some_and(|w| same_text(w, t)),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("want {want}, got {got:?}"))
    }
}

#[derive(Debug)]
enum Got {
    Text(String),
    Url(String),
    Date(DateTime<Utc>),
}

/// Text compared as text: whitespace collapsed; an expectation carrying HTML also by its text.
fn same_text(want: &str, got: &str) -> bool {
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    collapse(want) == collapse(got) || html_to_text(want) == collapse(got)
}

/// "Name (me@example.com)" → "Name".
fn without_email(author: &str) -> &str {
    match author
        .trim_end()
        .strip_suffix(')')
        .and_then(|a| a.rsplit_once(" ("))
    {
        Some((name, email)) if email.contains('@') => name,
        _ => author,
    }
}

/// URLs compared after syndic's canonicalization (fragment and tracking parameters dropped).
fn same_url(want: &str, got: &str) -> bool {
    want == got || canonical_url(want, None).is_some_and(|w| w == got)
}

/// A Python `time.struct_time` as a JSON list (UTC) → an instant.
fn date_of(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    let a = v.as_array()?;
    let n = |i: usize| a.get(i).and_then(serde_json::Value::as_i64);
    Utc.with_ymd_and_hms(
        n(0)? as i32,
        n(1)? as u32,
        n(2)? as u32,
        n(3)? as u32,
        n(4)? as u32,
        n(5)?.min(59) as u32,
    )
    .single()
}

/// Checked and passed counts per group, and failures (group, field, file, why).
#[derive(Debug, Default)]
pub struct Conformance {
    pub groups: BTreeMap<String, (usize, usize)>,
    pub failures: Vec<(String, String, String, String)>,
}

impl Conformance {
    /// Runs `checks` (from a folder's expectations) against the outcomes of that folder's documents,
    /// keyed by their path relative to it.
    pub fn add(&mut self, checks: &[Check], outcomes: &BTreeMap<String, &Outcome>) {
        for c in checks {
            let Some(outcome) = outcomes.get(&c.file) else {
                continue;
            };
            let group = group_of(Path::new(""), Path::new(&c.file));
            let entry = self.groups.entry(group.clone()).or_default();
            entry.0 += 1;
            match verify(c, outcome) {
                Ok(()) => entry.1 += 1,
                Err(why) => self
                    .failures
                    .push((group, c.field.clone(), c.file.clone(), why)),
            }
        }
    }
}

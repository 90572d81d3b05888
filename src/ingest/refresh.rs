//! `refresh(source)`: fetch → parse → normalize → dedupe → sections → store, as one script.
//!
//! Each refresh logs one structured event with its outcome and returns a [`RefreshReport`]; a failing
//! source records its error on its own row and never affects the others.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Semaphore};
use url::Url;

use crate::config::{Config, MAX_HINT, SourceConfig};
use crate::ingest::fetch::{FetchError, FetchMeta, FetchOutcome, Fetcher};
use crate::ingest::normalize::normalize_limited;
use crate::ingest::parse::{
    ParseError, announced_feeds, charset_of, feed_hint, looks_like_html, parse_feed,
};
use crate::model::{FeedInfo, Item};
use crate::store::{
    FetchRecord, FetchStatus, Hold, RefreshInput, RefreshStats, SourceState, Store, StoreError,
};
use crate::tag::rules::Tagger;
use crate::text::hex;

/// Everything a refresh needs, built once per config generation (start and each reload) by the
/// service's start-up steps, which register the sources and prepare the tagger first.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub fetcher: Fetcher,
    pub tagger: Arc<Tagger>,
    pub source_ids: Arc<HashMap<String, i64>>,
    limits: Arc<Limits>,
}

/// Global and per-host concurrency limits.
struct Limits {
    global: Semaphore,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Context {
    /// The HTTP client and the limits for `config`, over sources already registered in `store` (their
    /// ids by name) and a prepared tagger. Does no I/O.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        source_ids: HashMap<String, i64>,
        tagger: Arc<Tagger>,
    ) -> Result<Context, FetchError> {
        Ok(Context {
            fetcher: Fetcher::new(&config.poll)?,
            tagger,
            source_ids: Arc::new(source_ids),
            limits: Arc::new(Limits {
                global: Semaphore::new(config.poll.concurrency),
                per_host: config.poll.per_host,
                hosts: Mutex::new(HashMap::new()),
            }),
            config,
            store,
        })
    }
}

#[derive(Debug)]
pub struct RefreshReport {
    pub source: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// Something the operator must act on (a permanent move), printed under the summary line.
    pub notice: Option<String>,
}

#[derive(Debug)]
pub enum Outcome {
    /// The document was parsed and stored.
    Updated(RefreshStats),
    /// The server sent the same bytes as last time: nothing parsed.
    Unchanged,
    /// 304 Not Modified.
    NotModified,
    Failed(RefreshError),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("fetch: {0}")]
    Fetch(#[from] FetchError),
    #[error("parse: {0}")]
    Parse(#[from] ParseError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("source is not registered in the store")]
    Unknown,
    #[error("{url} is an HTML page; {}", announced(feeds))]
    HtmlPage { url: String, feeds: Vec<String> },
}

fn announced(feeds: &[String]) -> String {
    match feeds {
        [] => "it announces no feed (no <link rel=\"alternate\"> with a feed type)".into(),
        [one] => format!("it announces a feed at {one}"),
        many => format!("it announces feeds at {}", many.join(", ")),
    }
}

impl RefreshReport {
    pub fn changed_sections(&self) -> impl Iterator<Item = &str> {
        let set = match &self.outcome {
            Outcome::Updated(stats) => Some(&stats.changed_sections),
            _ => None,
        };
        set.into_iter().flatten().map(String::as_str)
    }

    pub fn is_error(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

impl fmt::Display for RefreshReport {
    /// One summary line, as `syndic poll` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.elapsed.as_millis();
        match &self.outcome {
            Outcome::Updated(s) => write!(
                f,
                "ok       {}: {} entries, {} new, {} updated, {} joined existing stories, {} new stories ({ms} ms)",
                self.source, s.items, s.new_items, s.updated_items, s.joined, s.new_stories
            )
            .and_then(|()| {
                if s.left_out > 0 {
                    write!(
                        f,
                        "\n         NOTE {}: {} older entries left out (poll.max_entries)",
                        self.source, s.left_out
                    )
                } else {
                    Ok(())
                }
            }),
            Outcome::Unchanged => write!(
                f,
                "same     {}: body unchanged, not parsed ({ms} ms)",
                self.source
            ),
            Outcome::NotModified => write!(f, "304      {}: not modified ({ms} ms)", self.source),
            Outcome::Failed(e) => write!(f, "error    {}: {e} ({ms} ms)", self.source),
        }?;
        if let Some(n) = &self.notice {
            write!(f, "\n         NOTE {}: {n}", self.source)?;
        }
        Ok(())
    }
}

/// Refreshes one source under the global and per-host limits. `seen_at` is when the poll started: new
/// stories count as first seen then, so sources polled together interleave by their own dates.
pub async fn refresh(
    ctx: &Context,
    source: &SourceConfig,
    seen_at: DateTime<Utc>,
) -> RefreshReport {
    // The host's permit first: a task queued behind a busy host must not hold a global slot that
    // another host's source could use.
    let host = source.url.host_str().unwrap_or("").to_string();
    let host_sem = {
        let mut hosts = ctx.limits.hosts.lock().await;
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(ctx.limits.per_host)))
            .clone()
    };
    let _host = host_sem.acquire().await;
    let _global = ctx.limits.global.acquire().await;

    let started = Instant::now();
    let mut notice = None;
    let outcome = match run(ctx, source, seen_at, &mut notice).await {
        Ok(o) => o,
        Err(e) => {
            record_failure(ctx, source, &e).await;
            Outcome::Failed(e)
        }
    };
    let report = RefreshReport {
        source: source.name.clone(),
        outcome,
        elapsed: started.elapsed(),
        notice,
    };
    match &report.outcome {
        Outcome::Updated(s) => tracing::info!(
            source = %source.name, entries = s.items, new = s.new_items, updated = s.updated_items,
            joined = s.joined, new_stories = s.new_stories, ms = report.elapsed.as_millis() as u64,
            "refreshed"
        ),
        Outcome::Unchanged | Outcome::NotModified => tracing::debug!(
            source = %source.name, ms = report.elapsed.as_millis() as u64, "not modified"
        ),
        Outcome::Failed(e) => tracing::warn!(source = %source.name, error = %e, "refresh failed"),
    }
    report
}

/// Refreshes several sources concurrently (within the limits); reports come back in input order.
pub async fn refresh_all(ctx: &Context, sources: &[SourceConfig]) -> Vec<RefreshReport> {
    let seen_at = Utc::now();
    join_all(sources.iter().map(|s| refresh(ctx, s, seen_at))).await
}

/// One refresh as steps: the source's stored state, the fetch (a 304 or an unchanged body is recorded
/// and ends here), the parse ([`parse_document`], off the async workers), then one store transaction.
async fn run(
    ctx: &Context,
    source: &SourceConfig,
    seen_at: DateTime<Utc>,
    notice: &mut Option<String>,
) -> Result<Outcome, RefreshError> {
    let id = *ctx
        .source_ids
        .get(&source.name)
        .ok_or(RefreshError::Unknown)?;
    let state = ctx.store.call(move |s| s.source_state(id)).await?;
    // A feed that moved permanently is polled at its new address until feeds.toml changes.
    let url = state
        .moved_to
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| source.url.clone());
    let now = Utc::now();
    let next = NextCheck::new(ctx, source, &state, now);
    let fetched = ctx.fetcher.fetch(&url, &state.validators).await?;
    let moved =
        |meta: &FetchMeta, notice: &mut Option<String>| moved_to(source, &url, meta, notice);
    let (body, validators, final_url, content_type, meta) = match fetched {
        FetchOutcome::NotModified(meta) => {
            let (next, hint_secs) = next.due(meta.max_age.max(next.stored_hint));
            let rec = FetchRecord {
                status: FetchStatus::NotModified,
                next_check_at: Some(next),
                moved_to: moved(&meta, notice),
                hint_secs,
                ..FetchRecord::ok(now)
            };
            ctx.store.call(move |s| s.record_fetch(id, &rec)).await?;
            return Ok(Outcome::NotModified);
        }
        FetchOutcome::Fresh {
            body,
            validators,
            final_url,
            content_type,
            meta,
        } => (body, validators, final_url, content_type, meta),
    };
    let body_hash = hex(&Sha256::digest(&body)[..16]);
    if state.body_hash.as_deref() == Some(body_hash.as_str()) {
        let (next, hint_secs) = next.due(meta.max_age.max(next.stored_hint));
        let rec = FetchRecord {
            status: FetchStatus::Unchanged,
            validators: Some(validators),
            next_check_at: Some(next),
            moved_to: moved(&meta, notice),
            hint_secs,
            ..FetchRecord::ok(now)
        };
        ctx.store.call(move |s| s.record_fetch(id, &rec)).await?;
        return Ok(Outcome::Unchanged);
    }

    let max_entries = ctx.config.poll.max_entries;
    let parsed = parse_document(body, final_url, content_type, max_entries).await?;
    let (next, hint_secs) = next.due(meta.max_age.max(parsed.hint));
    let fetch = FetchRecord {
        validators: Some(validators),
        body_hash: Some(body_hash),
        feed_title: parsed.info.title,
        next_check_at: Some(next),
        moved_to: moved(&meta, notice),
        hint_secs,
        ..FetchRecord::ok(now)
    };
    let stats = store_items(ctx, source, id, parsed.items, seen_at, fetch).await?;
    if parsed.left_out > 0 {
        tracing::warn!(
            source = %source.name, left_out = parsed.left_out, max_entries,
            "document has more entries than poll.max_entries: the oldest were left out"
        );
    }
    Ok(Outcome::Updated(RefreshStats {
        left_out: parsed.left_out,
        ..stats
    }))
}

/// When a source is checked next: its schedule, stretched (never shortened, never beyond
/// [`MAX_HINT`]) by what the feed or server hints when `poll.honor_feed_hints` is on.
struct NextCheck {
    now: DateTime<Utc>,
    normal: DateTime<Utc>,
    honor: bool,
    /// The hint stored from the last parsed document.
    stored_hint: Option<Duration>,
}

impl NextCheck {
    fn new(ctx: &Context, source: &SourceConfig, state: &SourceState, now: DateTime<Utc>) -> Self {
        NextCheck {
            now,
            normal: ctx.config.schedule_of(source).next_due(now, &source.name),
            honor: ctx.config.poll.honor_feed_hints,
            stored_hint: state
                .hint_secs
                .map(|s| Duration::from_secs(s.max(0) as u64)),
        }
    }

    /// The next check time and the hint to store (seconds), given this fetch's hint.
    fn due(&self, hint: Option<Duration>) -> (DateTime<Utc>, Option<i64>) {
        let Some(hint) = hint.filter(|_| self.honor) else {
            return (self.normal, None);
        };
        let hint = hint.min(MAX_HINT);
        let hinted = self.now + chrono::Duration::from_std(hint).unwrap_or_default();
        (self.normal.max(hinted), Some(hint.as_secs() as i64))
    }
}

/// Where a permanent redirect led, logged and noted for the operator; `None` when the feed did not move.
fn moved_to(
    source: &SourceConfig,
    from: &Url,
    meta: &FetchMeta,
    notice: &mut Option<String>,
) -> Option<String> {
    let to = meta.moved_to.as_ref()?;
    tracing::warn!(
        source = %source.name, from = %from, to = %to,
        "feed moved permanently: polling the new URL from now on; update its url in feeds.toml"
    );
    *notice = Some(format!(
        "moved permanently to {to}: now polled there; update url in feeds.toml"
    ));
    Some(to.to_string())
}

/// A parsed document: its feed metadata, its entries worth storing, its polling hint and how many
/// older entries `poll.max_entries` left out.
struct Parsed {
    info: FeedInfo,
    items: Vec<Item>,
    hint: Option<Duration>,
    left_out: usize,
}

/// Parses and normalizes a fetched body on a blocking thread (parsing is CPU work: it stays off the
/// async workers). An HTML page in place of a feed is an error naming the feeds it announces.
async fn parse_document(
    body: Vec<u8>,
    final_url: Url,
    content_type: Option<String>,
    max_entries: usize,
) -> Result<Parsed, RefreshError> {
    tokio::task::spawn_blocking(move || {
        let charset = content_type.as_deref().and_then(charset_of);
        let feed = match parse_feed(&body, Some(final_url.as_str()), charset) {
            Ok(feed) => feed,
            Err(_) if looks_like_html(&body, content_type.as_deref()) => {
                return Err(RefreshError::HtmlPage {
                    url: final_url.to_string(),
                    feeds: announced_feeds(&body, &final_url)
                        .iter()
                        .map(Url::to_string)
                        .collect(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let hint = feed_hint(&body, feed.ttl);
        let (info, mut items, left_out) = normalize_limited(&feed, &final_url, max_entries);
        // Entries with no title, link or text have nothing to show a reader.
        items.retain(|i| !i.is_thin());
        Ok(Parsed {
            info,
            items,
            hint,
            left_out,
        })
    })
    .await
    .map_err(|e| RefreshError::Store(StoreError::Task(e.to_string())))?
}

/// Stores a source's entries and its fetch record in one transaction (dedupe and tagging inside).
async fn store_items(
    ctx: &Context,
    source: &SourceConfig,
    id: i64,
    items: Vec<Item>,
    seen_at: DateTime<Utc>,
    fetch: FetchRecord,
) -> Result<RefreshStats, RefreshError> {
    let tagger = ctx.tagger.clone();
    let dedupe = ctx.config.dedupe.clone();
    let title_dedupe = source.dedupe;
    Ok(ctx
        .store
        .apply_queued(RefreshInput {
            source_id: id,
            items,
            now: seen_at,
            window: dedupe.window,
            threshold: dedupe.title_threshold,
            decay_hours: dedupe.decay_hours,
            title_dedupe,
            similarity: dedupe.similarity,
            veto: dedupe.veto,
            tagger,
            fetch,
        })
        .await?)
}

/// Records a failure: 410 marks the source gone; a Retry-After holds it until then; anything else
/// backs off exponentially from the normal interval.
async fn record_failure(ctx: &Context, source: &SourceConfig, err: &RefreshError) {
    let Some(&id) = ctx.source_ids.get(&source.name) else {
        return;
    };
    let now = Utc::now();
    let schedule = ctx.config.schedule_of(source);
    let failures = match ctx.store.call(move |s| s.source_state(id)).await {
        Ok(state) => state.error_streak.max(0) as u32 + 1,
        Err(_) => 1,
    };
    let mut rec = FetchRecord::error(now, err.to_string());
    match err {
        RefreshError::Fetch(FetchError::Gone) => {
            tracing::warn!(
                source = %source.name,
                "410 Gone: not polled again until its url changes in feeds.toml"
            );
            rec.gone = true;
        }
        RefreshError::Fetch(f) if f.retry_after().is_some() => {
            let wait = f.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
            let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::warn!(source = %source.name, until = %until, "server asked to retry later");
            rec.retry_until = Some(until);
            rec.next_check_at = Some(until.max(schedule.next_due(now, &source.name)));
        }
        _ => {
            let cap = chrono::Duration::from_std(MAX_HINT).unwrap_or_default();
            rec.next_check_at = Some(schedule.backoff_due(now, &source.name, failures, cap));
        }
    }
    if let Err(e) = ctx.store.call(move |s| s.record_fetch(id, &rec)).await {
        tracing::error!(source = %source.name, error = %e, "cannot record fetch failure");
    }
}

/// The longest a Retry-After is honoured (a week): a typo'd header must not silence a source forever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a source is held now, if it is (for `syndic poll`, which skips held sources unless forced).
pub async fn hold_of(ctx: &Context, source: &SourceConfig) -> Option<Hold> {
    let id = *ctx.source_ids.get(&source.name)?;
    let state = ctx.store.call(move |s| s.source_state(id)).await.ok()?;
    state.hold(Utc::now())
}

/// One line saying why a held source was skipped, as `syndic poll` prints it.
pub fn held_line(name: &str, hold: &Hold) -> String {
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match hold {
        Hold::Gone(since) => format!(
            "gone     {name}: answered 410 Gone at {}; not polled until its url changes in feeds.toml (--force polls it anyway)",
            at(since)
        ),
        Hold::RetryAfter(until) => format!(
            "held     {name}: the server asked not to be polled before {} (Retry-After); --force polls it anyway",
            at(until)
        ),
        Hold::Backoff { until, failures } => format!(
            "held     {name}: backing off after {failures} consecutive failures until {}; --force polls it anyway",
            at(until)
        ),
    }
}

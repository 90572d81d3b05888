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

use crate::config::{Config, SourceConfig};
use crate::fetch::{FetchError, FetchOutcome, Fetcher};
use crate::normalize::{hex, normalize};
use crate::parse::{ParseError, charset_of, parse_feed};
use crate::sections::Tagger;
use crate::store::{FetchRecord, RefreshInput, RefreshStats, Store, StoreError};

/// Everything a refresh needs, built once per config generation (start and each reload).
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub fetcher: Fetcher,
    pub tagger: Arc<Tagger>,
    pub source_sections: Arc<HashMap<String, Vec<String>>>,
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
    /// Registers the config's sources in the store, re-applies the section rules to the stories within
    /// the dedupe window (the rules may have changed since they were tagged), and prepares the client.
    pub async fn new(config: Arc<Config>, store: Store) -> anyhow::Result<Context> {
        let fetcher = Fetcher::new(&config.poll)?;
        let sources = config.sources.clone();
        let source_ids = store.call(move |s| s.sync_sources(&sources)).await?;
        let source_sections: Arc<HashMap<String, Vec<String>>> = Arc::new(
            config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.sections.clone()))
                .collect(),
        );
        let tagger = Arc::new(Tagger::new(&config.sections));
        let since = Utc::now() - config.dedupe.window;
        let (t, ss) = (tagger.clone(), source_sections.clone());
        let retagged = store.call(move |s| s.retag_since(since, &t, &ss)).await?;
        if !retagged.is_empty() {
            tracing::info!(sections = ?retagged, "section rules changed: recent stories retagged");
        }
        Ok(Context {
            tagger,
            source_sections,
            source_ids: Arc::new(source_ids),
            limits: Arc::new(Limits {
                global: Semaphore::new(config.poll.concurrency),
                per_host: config.poll.per_host,
                hosts: Mutex::new(HashMap::new()),
            }),
            config,
            store,
            fetcher,
        })
    }
}

#[derive(Debug)]
pub struct RefreshReport {
    pub source: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
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
            ),
            Outcome::Unchanged => write!(
                f,
                "same     {}: body unchanged, not parsed ({ms} ms)",
                self.source
            ),
            Outcome::NotModified => write!(f, "304      {}: not modified ({ms} ms)", self.source),
            Outcome::Failed(e) => write!(f, "error    {}: {e} ({ms} ms)", self.source),
        }
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
    let outcome = match run(ctx, source, seen_at).await {
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

async fn run(
    ctx: &Context,
    source: &SourceConfig,
    seen_at: DateTime<Utc>,
) -> Result<Outcome, RefreshError> {
    let id = *ctx
        .source_ids
        .get(&source.name)
        .ok_or(RefreshError::Unknown)?;
    let state = ctx.store.call(move |s| s.source_state(id)).await?;
    let now = Utc::now();
    let next = Some(ctx.config.schedule_of(source).next_due(now, &source.name));
    let fetched = ctx.fetcher.fetch(&source.url, &state.validators).await?;
    let (body, validators, final_url, content_type) = match fetched {
        FetchOutcome::NotModified => {
            let rec = FetchRecord {
                at: now,
                status: "not-modified",
                error: None,
                validators: None,
                body_hash: None,
                feed_title: None,
                next_check_at: next,
            };
            ctx.store.call(move |s| s.record_fetch(id, &rec)).await?;
            return Ok(Outcome::NotModified);
        }
        FetchOutcome::Fresh {
            body,
            validators,
            final_url,
            content_type,
        } => (body, validators, final_url, content_type),
    };
    let body_hash = hex(&Sha256::digest(&body)[..16]);
    if state.body_hash.as_deref() == Some(body_hash.as_str()) {
        let rec = FetchRecord {
            at: now,
            status: "unchanged",
            error: None,
            validators: Some(validators),
            body_hash: None,
            feed_title: None,
            next_check_at: next,
        };
        ctx.store.call(move |s| s.record_fetch(id, &rec)).await?;
        return Ok(Outcome::Unchanged);
    }

    // Parsing is CPU work: keep it off the async workers.
    let (info, items) = tokio::task::spawn_blocking(move || {
        let charset = content_type.as_deref().and_then(charset_of);
        let feed = parse_feed(&body, Some(final_url.as_str()), charset)?;
        Ok::<_, ParseError>(normalize(&feed, &final_url))
    })
    .await
    .map_err(|e| RefreshError::Store(StoreError::Task(e.to_string())))??;

    let ctx2 = ctx.clone();
    let window = ctx.config.dedupe.window;
    let threshold = ctx.config.dedupe.title_threshold;
    let decay_hours = ctx.config.dedupe.decay_hours;
    let title_dedupe = source.dedupe;
    let stats = ctx
        .store
        .call(move |s| {
            s.apply_refresh(&RefreshInput {
                source_id: id,
                items: &items,
                now: seen_at,
                window,
                threshold,
                decay_hours,
                title_dedupe,
                tagger: &ctx2.tagger,
                source_sections: &ctx2.source_sections,
                fetch: FetchRecord {
                    at: now,
                    status: "ok",
                    error: None,
                    validators: Some(validators),
                    body_hash: Some(body_hash),
                    feed_title: info.title,
                    next_check_at: next,
                },
            })
        })
        .await?;
    Ok(Outcome::Updated(stats))
}

async fn record_failure(ctx: &Context, source: &SourceConfig, err: &RefreshError) {
    let Some(&id) = ctx.source_ids.get(&source.name) else {
        return;
    };
    let now = Utc::now();
    let mut next = ctx.config.schedule_of(source).next_due(now, &source.name);
    if let RefreshError::Fetch(f) = err
        && let Some(wait) = f.retry_after()
        && let Ok(wait) = chrono::Duration::from_std(wait)
    {
        next = next.max(now + wait);
    }
    let rec = FetchRecord {
        at: now,
        status: "error",
        error: Some(err.to_string()),
        validators: None,
        body_hash: None,
        feed_title: None,
        next_check_at: Some(next),
    };
    if let Err(e) = ctx.store.call(move |s| s.record_fetch(id, &rec)).await {
        tracing::error!(source = %source.name, error = %e, "cannot record fetch failure");
    }
}

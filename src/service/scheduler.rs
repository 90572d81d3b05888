//! The scheduler loop: starts a refresh for every due source (one at a time per source), hands each
//! report to publishing, retrains the learned tagger when due, reloads on SIGHUP, and keeps systemd's
//! status line current.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use crate::config::{Config, SourceConfig};
use crate::ingest::refresh::{self, Context};
use crate::service::notify::Notifier;
use crate::service::startup::{self, Started};

use super::cluster::{self, Leases, Notice};
use super::shared::{MAX_TICK, Service, stopped};
use crate::service::retrain::MODEL_NAME;

/// Runs until the stop flag is set: each pass starts the due refreshes, maybe a retraining, and sleeps
/// until the next source is due, a refresh finishes or SIGHUP asks for a reload.
pub(super) async fn scheduler(
    svc: Arc<Service>,
    mut stop: watch::Receiver<bool>,
    notifier: Arc<Notifier>,
    heartbeat: Arc<AtomicU64>,
    started: std::time::Instant,
    mut learner: Learner,
) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut status = Status::default();
    // A finished refresh wakes the scheduler: its source has a new next-check time to wait for.
    let finished = Arc::new(Notify::new());
    let mut hup = hangup_signal();
    let mut leases = Leases::new();
    loop {
        let ctx = svc.context();
        if let Some(node) = &svc.node {
            let running: Vec<i64> = in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect();
            leases.renew_due(node, &ctx, running).await;
        }
        let wait = match start_due(&svc, &ctx, &in_flight, &finished).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::error!(error = %e, "scheduler cannot read the store");
                MAX_TICK
            }
        };
        let busy = !in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        learner.maybe_start(&svc, &ctx, busy).await;
        let wait = if ctx.config.tagging.learn {
            wait.min(LEARN_CHECK)
        } else {
            wait
        };
        heartbeat.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        if notifier.enabled() {
            let polling = in_flight.lock().unwrap_or_else(|e| e.into_inner()).len();
            status.update(&notifier, &ctx, polling, wait).await;
        }
        tokio::select! {
            () = stopped(&mut stop) => break,
            _ = tokio::time::sleep(wait) => {}
            () = finished.notified() => {}
            Some(()) = hup.recv() => {
                notifier.send("RELOADING=1\nSTATUS=reloading the config");
                reload(&svc).await;
                notifier.send("READY=1");
            }
        }
    }
    if let Some(node) = &svc.node {
        cluster::release_all(node, &svc.context()).await;
    }
}

/// The `STATUS=` line systemd shows: "polling 37/120 sources", or "idle; next poll in 4 min; 1,234
/// stories" (the story count read at most once a minute). Sent when it changes.
#[derive(Default)]
pub(super) struct Status {
    last: String,
    stories: Option<(i64, std::time::Instant)>,
}

impl Status {
    async fn update(&mut self, notifier: &Notifier, ctx: &Context, polling: usize, wait: Duration) {
        let line = if polling > 0 {
            format!("polling {polling}/{} sources", ctx.config.sources.len())
        } else {
            if self
                .stories
                .is_none_or(|(_, at)| at.elapsed() >= Duration::from_secs(60))
                && let Ok((_, n)) = ctx.store.call(|s| s.counts()).await
            {
                self.stories = Some((n, std::time::Instant::now()));
            }
            let secs = wait.as_secs();
            let next = if secs >= 120 {
                format!("{} min", secs / 60)
            } else {
                format!("{secs} s")
            };
            match self.stories {
                Some((n, _)) => format!("idle; next poll in {next}; {} stories", thousands(n)),
                None => format!("idle; next poll in {next}"),
            }
        };
        if line != self.last {
            notifier.send(&format!("STATUS={line}"));
            self.last = line;
        }
    }
}

/// 1234567 → "1,234,567".
pub(crate) fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Retrains the learned tagger in the background when it is due, one training at a time.
pub(super) struct Learner {
    due: crate::service::retrain::Due,
    /// Whether this node led at the last look (always on SQLite).
    led: bool,
    running: Arc<AtomicBool>,
    last_check: Option<std::time::Instant>,
    /// Since when a due retrain has waited for this node's refreshes to finish.
    deferred_since: Option<std::time::Instant>,
}

/// How often the scheduler asks whether a retrain is due (it counts the stories).
pub(super) const LEARN_CHECK: Duration = Duration::from_secs(5);

/// Longest a due retrain waits for the refreshes in flight to finish.
const LEARN_DEFER: Duration = Duration::from_secs(600);

impl Learner {
    pub(super) fn new(trained: Option<(chrono::DateTime<Utc>, i64)>) -> Learner {
        Learner {
            due: crate::service::retrain::Due::new(trained),
            led: false,
            running: Arc::default(),
            last_check: None,
            deferred_since: None,
        }
    }

    /// Starts a retrain when one is due. While refreshes are in flight (`busy`: a poll cycle storing
    /// stories) it waits for them, at most [`LEARN_DEFER`]: the model learns from the cycle's stories
    /// whole rather than from the part stored so far, and training does not compete with its ingest.
    pub(super) async fn maybe_start(&mut self, svc: &Arc<Service>, ctx: &Context, busy: bool) {
        let leads = svc.leads();
        if leads && !self.led {
            // Just took the lead (or started): the schedule follows the stored model, which another
            // node may have trained.
            self.led = true;
            let (config, store) = (ctx.config.clone(), ctx.store.clone());
            if let Ok(Some(stored)) = store.call(|s| s.load_model(MODEL_NAME)).await
                && config.tagging.learn
            {
                self.due =
                    crate::service::retrain::Due::new(Some((stored.trained_at, stored.stories_at)));
            }
        }
        self.led = leads;
        if !leads
            || !ctx.config.tagging.learn
            || self.running.load(Ordering::Acquire)
            || self.last_check.is_some_and(|t| t.elapsed() < LEARN_CHECK)
        {
            return;
        }
        self.last_check = Some(std::time::Instant::now());
        let stories = match ctx.store.call(|s| s.last_story_id()).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "learned tagger: cannot count stories");
                return;
            }
        };
        let now = Utc::now();
        if !self.due.is_due(&ctx.config, now, stories) {
            return;
        }
        if busy
            && self
                .deferred_since
                .get_or_insert_with(std::time::Instant::now)
                .elapsed()
                < LEARN_DEFER
        {
            return;
        }
        self.deferred_since = None;
        self.due.attempted(now, stories);
        self.running.store(true, Ordering::Release);
        let (svc, ctx, running) = (svc.clone(), ctx.clone(), self.running.clone());
        tokio::spawn(async move {
            let (config, tagger) = (ctx.config.clone(), ctx.tagger.clone());
            let result = ctx
                .store
                .call(move |s| crate::service::retrain::train_now(s, &config, &tagger))
                .await;
            match result {
                Ok(outcome) => {
                    crate::service::retrain::log(&outcome);
                    if let crate::service::retrain::Trained::Model(summary) = &outcome {
                        svc.web
                            .invalidate(summary.retagged.iter().map(String::as_str));
                        svc.announce(Notice::Model).await;
                        // A reload during training made a new tagger: give it the new model too.
                        let now = svc.context();
                        if !Arc::ptr_eq(&now.tagger, &ctx.tagger) {
                            let load = now.store.call(move |s| {
                                crate::service::retrain::load_stored(s, &now.config, &now.tagger)
                            });
                            if let Err(e) = load.await {
                                tracing::error!(error = %e, "learned tagger: cannot load the new model");
                            }
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "learned tagger: training failed"),
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// Spawns a refresh for every due source that is not already running; returns how long to sleep. On
/// PostgreSQL only the due sources this node claimed run here (see [`cluster`]).
pub(super) async fn start_due(
    svc: &Arc<Service>,
    ctx: &Context,
    in_flight: &Arc<Mutex<HashSet<i64>>>,
    finished: &Arc<Notify>,
) -> anyhow::Result<Duration> {
    let running = in_flight.lock().unwrap_or_else(|e| e.into_inner()).len();
    if svc.node.is_some() && !cluster::worth_claiming(ctx, running) {
        // Too few free slots to claim for: the next refresh to finish wakes this loop again.
        return Ok(cluster::CLAIM_RETRY);
    }
    let claimed = match &svc.node {
        Some(node) => Some(cluster::claim(node, ctx, running).await?),
        None => None,
    };
    let checks = match &claimed {
        // A full batch: the claim found these due, more may be, and the next refresh to finish wakes
        // this loop for them, so no source's next check needs reading to know how long to sleep.
        Some(claimed) if claimed.len() >= ctx.config.poll.concurrency.saturating_sub(running) => {
            claimed.iter().map(|id| (*id, None)).collect()
        }
        _ => ctx.store.call(|s| s.next_checks()).await?,
    };
    let by_id: HashMap<i64, &SourceConfig> = ctx
        .config
        .sources
        .iter()
        .filter_map(|s| ctx.source_ids.get(&s.name).map(|id| (*id, s)))
        .collect();
    let now = Utc::now();
    let mut wait = MAX_TICK;
    for (id, next) in checks {
        let due = next.is_none_or(|t| t <= now);
        if !due {
            let until = (next.unwrap_or(now) - now).to_std().unwrap_or_default();
            wait = wait.min(until);
            continue;
        }
        if let Some(claimed) = &claimed
            && !claimed.contains(&id)
        {
            // Due, but another node runs it (or this node had no free slot): look again soon, as the
            // lease of a node that died expires.
            if !in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id)
            {
                wait = wait.min(cluster::CLAIM_RETRY);
            }
            continue;
        }
        let Some(source) = by_id.get(&id).map(|s| (*s).clone()) else {
            continue;
        };
        if !in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id)
        {
            continue;
        }
        let (svc, ctx, in_flight) = (svc.clone(), ctx.clone(), in_flight.clone());
        let finished = finished.clone();
        tokio::spawn(async move {
            let report = refresh::refresh(&ctx, &source, now).await;
            svc.refreshed(&report);
            if let Some(node) = &svc.node {
                cluster::release(&node.name, &ctx, id).await;
                let changed = report.changed_sections().map(str::to_string).collect();
                svc.announce(Notice::Feeds(changed)).await;
            }
            in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            // notify_one keeps a permit, so a wake-up between two passes is not lost.
            finished.notify_one();
        });
    }
    if svc.node.is_some()
        && !in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    {
        wait = wait.min(Leases::every(ctx));
    }
    Ok(wait.max(Duration::from_millis(200)))
}

pub(super) async fn reload(svc: &Arc<Service>) {
    let old = svc.context();
    let config = match Config::load(&old.config.path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload rejected, keeping the running config:\n{e}");
            return;
        }
    };
    if config.server.listen != old.config.server.listen || config.database != old.config.database {
        tracing::warn!("server.listen and storage.database take effect on restart only");
    }
    match startup::prepare(Arc::new(config), old.store.clone()).await {
        Ok(Started { ctx, .. }) => {
            tracing::info!(sources = ctx.config.sources.len(), "config reloaded");
            svc.replace(ctx);
        }
        Err(e) => tracing::error!(error = %e, "reload failed, keeping the running config"),
    }
}

/// SIGHUP as a stream of `()`; never fires where there are no Unix signals.
pub(super) fn hangup_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(()).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload needs a restart")
            }
        }
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

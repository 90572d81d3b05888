//! The daemon's background tasks beside the scheduler: retention, WebSub pings, the systemd watchdog.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::publish::http::AppState;
use crate::service::notify::Notifier;

use super::cluster::Notice;
use super::shared::{MAX_TICK, Service, stopped};

/// How often retention runs, and how many stories one of its transactions deletes.
pub(super) const RETENTION_EVERY: Duration = Duration::from_secs(3600);

pub(super) const RETENTION_BATCH: usize = 500;

/// Deletes old stories (`[storage].keep_days`) a minute after start and then hourly, in batches of short
/// transactions with pauses between them, so refreshes never wait long for the store.
pub(super) async fn retention(svc: Arc<Service>, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = RETENTION_EVERY;
        if !svc.leads() {
            // Another node of the cluster runs retention; look again in a minute (it may die).
            wait = Duration::from_secs(60);
            continue;
        }
        let ctx = svc.context();
        let Some(keep) = ctx.config.keep else {
            continue;
        };
        let mut total = crate::store::Pruned::default();
        loop {
            let now = Utc::now();
            let tombstones_before = now - ctx.config.tombstones_for;
            let pass = ctx
                .store
                .call(move |s| s.prune(now - keep, tombstones_before, now, RETENTION_BATCH))
                .await;
            match pass {
                Ok(p) => {
                    total.stories += p.stories;
                    total.items += p.items;
                    total.tombstones_expired += p.tombstones_expired;
                    if p.stories < RETENTION_BATCH && p.tombstones_expired < RETENTION_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "retention pass failed");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if total.stories > 0 || total.tombstones_expired > 0 {
            tracing::info!(
                stories = total.stories,
                items = total.items,
                tombstones_expired = total.tombstones_expired,
                "retention: old stories deleted"
            );
            let mut sections: Vec<&str> =
                ctx.config.sections.iter().map(|s| s.id.as_str()).collect();
            sections.push(crate::config::ALL_SECTION);
            svc.web.invalidate(sections);
            svc.announce(Notice::Feeds(vec![crate::config::ALL_SECTION.into()]))
                .await;
        }
    }
}

/// Pings the WebSub hub (when one is configured) for the feeds of the sections refreshes changed.
pub(super) async fn websub(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let client = crate::publish::websub::client(&state.site().config.poll.user_agent);
    loop {
        let sections = tokio::select! {
            s = state.websub.next_batch(crate::publish::websub::QUIET) => s,
            () = stopped(&mut stop) => return,
        };
        let config = state.site().config;
        let Some(hub) = &config.output.websub_hub else {
            continue;
        };
        let urls = crate::publish::websub::feed_urls(&config, &sections);
        let (state, client, hub) = (state.clone(), client.clone(), hub.clone());
        // Each batch on its own task: a hanging hub delays its own retries, never the next batch.
        tokio::spawn(async move {
            let accepted = crate::publish::websub::publish(&client, &hub, &urls).await;
            state.metrics.websub(accepted, urls.len() - accepted);
            tracing::debug!(hub = %hub, accepted, feeds = urls.len(), "websub: publish pings sent");
        });
    }
}

/// Sends `WATCHDOG=1` every `every` while the scheduler loop turns (its heartbeat is recent) and the
/// store answers a query within `every`; a wedged store or loop stops the pings, and systemd restarts
/// the service.
pub(super) async fn watchdog(
    svc: Arc<Service>,
    notifier: Arc<Notifier>,
    heartbeat: Arc<AtomicU64>,
    started: std::time::Instant,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tick.tick() => {}
        }
        let beat = Duration::from_millis(heartbeat.load(Ordering::Relaxed));
        let loop_alive = started.elapsed().saturating_sub(beat) < MAX_TICK * 2;
        let store = svc.context().store;
        let store_alive = matches!(
            tokio::time::timeout(every, store.call(|s| s.ping())).await,
            Ok(Ok(()))
        );
        if loop_alive && store_alive {
            notifier.send("WATCHDOG=1");
        } else {
            tracing::warn!(loop_alive, store_alive, "watchdog: not pinging systemd");
        }
    }
}

//! What the daemon's tasks share: the [`Service`] (the refresh context and the HTTP state), the
//! scheduler's longest sleep, and the stop flag's future.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::ingest::refresh::{Context, Outcome, RefreshReport};
use crate::publish::http::AppState;
use crate::publish::metrics::Refreshed;

use super::cluster::Node;

/// Longest sleep between scheduler passes (so a clock jump or a missed wake-up costs little).
pub(super) const MAX_TICK: Duration = Duration::from_secs(30);

/// What the daemon's tasks share: the refresh context of the running config generation and the HTTP
/// state. The service is the one place that drives both ingest and publish: it hands each refresh's
/// report to publishing (metrics, render-cache invalidation, WebSub) and swaps both on reload.
pub(super) struct Service {
    pub(super) ctx: RwLock<Context>,
    pub(super) web: Arc<AppState>,
    /// This node, on PostgreSQL (`None` on SQLite: no other node).
    pub(super) node: Option<Arc<Node>>,
}

impl Service {
    pub(super) fn new(ctx: Context, node: Option<Arc<Node>>) -> Arc<Service> {
        let web = AppState::new(ctx.config.clone(), ctx.store.clone());
        Arc::new(Service {
            ctx: RwLock::new(ctx),
            web,
            node,
        })
    }

    /// The refresh context of the running config generation.
    pub(super) fn context(&self) -> Context {
        self.ctx.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in a reloaded config generation, for refreshes and for serving.
    pub(super) fn replace(&self, ctx: Context) {
        let config = ctx.config.clone();
        *self.ctx.write().unwrap_or_else(|e| e.into_inner()) = ctx;
        self.web.replace_config(config);
    }

    /// Tells publishing what one refresh changed.
    pub(super) fn refreshed(&self, report: &RefreshReport) {
        let counted = match &report.outcome {
            Outcome::Updated(stats) => Refreshed::Updated(stats),
            Outcome::Unchanged => Refreshed::Unchanged,
            Outcome::NotModified => Refreshed::NotModified,
            Outcome::Failed(_) => Refreshed::Failed,
        };
        self.web.metrics.refreshed(counted, report.elapsed);
        self.web.invalidate(report.changed_sections());
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
pub(super) async fn stopped(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here, before any other await.
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

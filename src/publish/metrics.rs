//! `/metrics` in the Prometheus text format (prometheus-client). Counters move with refreshes and
//! HTTP requests; what the store knows (items and stories stored, each source's error streak, the last
//! successful poll) is read when the page is scraped.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{RefreshStats, SourceHealth, StoreError};

type Labels = Vec<(String, String)>;

/// How one refresh ended, as the metrics count it (the service translates the refresh's report).
#[derive(Debug, Clone, Copy)]
pub enum Refreshed<'a> {
    Updated(&'a RefreshStats),
    Unchanged,
    NotModified,
    Failed,
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    fetches: Family<Labels, Counter>,
    refresh_seconds: Histogram,
    joins: Family<Labels, Counter>,
    new_stories: Counter,
    http_requests: Family<Labels, Counter>,
    items: Gauge,
    stories: Gauge,
    error_streak: Family<Labels, Gauge>,
    tags: Family<Labels, Gauge>,
    last_success: Gauge<f64, AtomicU64>,
    websub_pings: Family<Labels, Counter>,
    /// The request counters already looked up, by (route, status): counting a request then allocates
    /// nothing (the family's lookup needs owned label strings).
    request_counters: std::sync::RwLock<std::collections::HashMap<(&'static str, u16), Counter>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("syndic");
        let r = &mut registry;
        // Fields in registration order: the page lists the metrics in it.
        let mut metrics = Metrics {
            fetches: registered(
                r,
                "fetches",
                "Source refreshes by outcome (updated, unchanged, not_modified, failed)",
            ),
            refresh_seconds: {
                let h = Histogram::new(exponential_buckets(0.005, 2.0, 14));
                r.register(
                    "refresh_duration_seconds",
                    "Time one source refresh took (fetch, parse, store)",
                    h.clone(),
                );
                h
            },
            joins: registered(
                r,
                "joins",
                "New items that joined an existing story, by reason (url, title, similar)",
            ),
            new_stories: registered(r, "new_stories", "Stories started"),
            http_requests: registered(r, "http_requests", "HTTP requests by route and status"),
            items: registered(r, "items_stored", "Items in the database"),
            stories: registered(r, "stories_stored", "Stories in the database"),
            error_streak: registered(
                r,
                "source_error_streak",
                "Consecutive failed refreshes of each source",
            ),
            tags: registered(
                r,
                "tags",
                "Stored section tags by origin (source, category, path, keyword, regex, learned)",
            ),
            last_success: registered(
                r,
                "last_successful_poll_timestamp_seconds",
                "When any source was last refreshed successfully (Unix time)",
            ),
            websub_pings: registered(
                r,
                "websub_pings",
                "WebSub publish pings by result (accepted, failed after retries)",
            ),
            request_counters: Default::default(),
            registry,
        };
        let build = Family::<Labels, Gauge>::default();
        build
            .get_or_create(&vec![(
                "version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            )])
            .set(1);
        metrics
            .registry
            .register("build_info", "syndic's version", build);
        metrics
    }

    /// Counts one refresh that took `elapsed`.
    pub fn refreshed(&self, refreshed: Refreshed<'_>, elapsed: Duration) {
        let outcome = match refreshed {
            Refreshed::Updated(stats) => {
                for (reason, n) in &stats.joins_by_reason {
                    self.joins
                        .get_or_create(&vec![("reason".into(), (*reason).to_string())])
                        .inc_by(*n as u64);
                }
                self.new_stories.inc_by(stats.new_stories as u64);
                "updated"
            }
            Refreshed::Unchanged => "unchanged",
            Refreshed::NotModified => "not_modified",
            Refreshed::Failed => "failed",
        };
        self.fetches
            .get_or_create(&vec![("outcome".into(), outcome.into())])
            .inc();
        self.refresh_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts WebSub publish pings.
    pub fn websub(&self, accepted: usize, failed: usize) {
        for (result, n) in [("accepted", accepted), ("failed", failed)] {
            self.websub_pings
                .get_or_create(&vec![("result".into(), result.into())])
                .inc_by(n as u64);
        }
    }

    /// Counts one HTTP request.
    pub fn request(&self, route: &'static str, status: u16) {
        if let Some(c) = self
            .request_counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(route, status))
        {
            c.inc();
            return;
        }
        let c = self
            .http_requests
            .get_or_create(&vec![
                ("route".into(), route.into()),
                ("status".into(), status.to_string()),
            ])
            .clone();
        c.inc();
        self.request_counters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((route, status), c);
    }

    /// The page, with the store's figures read now.
    pub fn render(
        &self,
        counts: (i64, i64),
        health: &[SourceHealth],
        tags: &[(String, i64)],
    ) -> Result<String, StoreError> {
        self.items.set(counts.0);
        self.stories.set(counts.1);
        for (origin, n) in tags {
            self.tags
                .get_or_create(&vec![("origin".into(), origin.clone())])
                .set(*n);
        }
        let mut last = None;
        for h in health {
            self.error_streak
                .get_or_create(&vec![("source".into(), h.name.clone())])
                .set(h.error_streak);
            if let Some(t) = h.last_success_at {
                last = last.max(Some(t));
            }
        }
        if let Some(t) = last {
            self.last_success.set(t.timestamp_millis() as f64 / 1000.0);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(out)
    }
}

/// A new metric registered under `name` (clones share its value, so the returned one is live).
fn registered<M>(registry: &mut Registry, name: &str, help: &str) -> M
where
    M: prometheus_client::registry::Metric + Clone + Default,
{
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

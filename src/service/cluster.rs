//! Several nodes on one PostgreSQL database: the node's name and leases, its watch connection (the
//! other nodes' notices, and the leader lock), and what it announces.
//!
//! - Polling is leased: each scheduler pass claims due sources ([`claim`]), at most as many as the
//!   node has free refresh slots, so the nodes share the work; the node renews the leases of its
//!   running refreshes ([`Leases::renew_due`]) and gives each back when its refresh is stored.
//! - A node that stored a change announces the sections it touched (`Notice::Feeds`), and a node
//!   that stored a new model says so (`Notice::Model`); the others mark those renderings out of date
//!   (without a WebSub ping: the node that stored the change pings) or install the model.
//! - One node leads at a time (a session advisory lock on the watch connection): retraining and
//!   retention run there. When the leader dies its connection closes, and another node takes the
//!   lead within a second.
//!
//! On SQLite there is no cluster: the node leads and claims nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::config::ALL_SECTION;
use crate::ingest::refresh::Context;
use crate::store::pg::{Claim, Watch};

use super::shared::{Service, stopped};

/// How long the watch connection waits for a notice before it looks at the stop flag and the lead.
const WATCH_TICK: Duration = Duration::from_secs(1);

/// How soon a node looks again for due sources it could not claim (another node's, or a host at its
/// limit) or that it had no free slot for.
pub(super) const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// This process's name among the nodes, `host:pid` (also a manual `syndic poll`'s, for its leases).
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}:{}", std::process::id())
}

/// This node of the cluster.
pub(super) struct Node {
    /// `host:pid`, shown by `syndic sources` beside the leases it holds.
    pub(super) name: String,
    url: String,
    leading: AtomicBool,
}

impl Node {
    pub(super) fn new(url: &str) -> Arc<Node> {
        Arc::new(Node {
            name: node_name(),
            url: url.to_string(),
            leading: AtomicBool::new(false),
        })
    }

    /// Does this node lead (run retraining and retention) now?
    pub(super) fn leads(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }
}

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Notice {
    /// These sections' feeds changed ([`ALL_SECTION`] alone: every feed).
    Feeds(Vec<String>),
    /// A new model of the learned tagger is stored (and recent stories were re-scored).
    Model,
}

/// Longest payload sent; PostgreSQL takes up to 8,000 bytes. Longer lists become "every feed".
const MAX_PAYLOAD: usize = 7000;

impl Notice {
    /// `node\tfeeds\tasia,world` or `node\tmodel`.
    fn encode(&self, node: &str) -> String {
        match self {
            Notice::Feeds(sections) => {
                let text = format!("{node}\tfeeds\t{}", sections.join(","));
                if text.len() <= MAX_PAYLOAD {
                    text
                } else {
                    format!("{node}\tfeeds\t{ALL_SECTION}")
                }
            }
            Notice::Model => format!("{node}\tmodel"),
        }
    }

    /// The sending node and its notice; `None` for a payload this version does not know.
    fn decode(payload: &str) -> Option<(&str, Notice)> {
        let mut parts = payload.splitn(3, '\t');
        let node = parts.next()?;
        match (parts.next()?, parts.next()) {
            ("feeds", Some(list)) => Some((
                node,
                Notice::Feeds(
                    list.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                ),
            )),
            ("model", _) => Some((node, Notice::Model)),
            _ => None,
        }
    }
}

impl Service {
    /// Does this node run the once-per-cluster work (retraining, retention)? Always on SQLite.
    pub(super) fn leads(&self) -> bool {
        self.node.as_ref().is_none_or(|n| n.leads())
    }

    /// Tells the other nodes (nothing on SQLite). A failure is logged: their renderings then catch up
    /// at their next change.
    pub(super) async fn announce(&self, notice: Notice) {
        let Some(node) = &self.node else {
            return;
        };
        if matches!(&notice, Notice::Feeds(s) if s.is_empty()) {
            return;
        }
        let payload = notice.encode(&node.name);
        let store = self.context().store;
        let sent = store
            .call(move |s| match s.postgres() {
                Some(pg) => pg.notify(&payload),
                None => Ok(()),
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot tell the other nodes about a change");
        }
    }

    /// Applies another node's notice to this node.
    async fn heard(&self, notice: Notice) {
        match notice {
            Notice::Feeds(sections) => self.mark_out_of_date(&sections),
            Notice::Model => {
                let ctx = self.context();
                let (config, tagger) = (ctx.config.clone(), ctx.tagger.clone());
                let loaded = ctx
                    .store
                    .call(move |s| super::retrain::load_stored(s, &config, &tagger))
                    .await;
                if let Err(e) = loaded {
                    tracing::error!(error = %e, "learned tagger: cannot load the new model");
                }
                self.mark_out_of_date(&[ALL_SECTION.to_string()]);
            }
        }
    }

    /// Marks renderings out of date without a WebSub ping (the node that stored the change pings).
    fn mark_out_of_date(&self, sections: &[String]) {
        if sections.iter().any(|s| s == ALL_SECTION) {
            let config = self.context().config;
            let all = config
                .sections
                .iter()
                .map(|s| s.id.as_str())
                .chain([ALL_SECTION]);
            self.web.mark_out_of_date(all);
        } else {
            self.web
                .mark_out_of_date(sections.iter().map(String::as_str));
        }
    }
}

/// Starts the node's watch connection on a thread of its own (the client blocks) and a task applying
/// what it hears, until the stop flag is set. The connection is retried every few seconds when it
/// fails; after a gap every rendering is marked out of date and the model reloaded (notices may have
/// been missed).
pub(super) fn watch_others(svc: Arc<Service>, node: Arc<Node>, stop: watch::Receiver<bool>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
    let mut stop_task = stop.clone();
    tokio::spawn(async move {
        loop {
            let notice = tokio::select! {
                n = rx.recv() => n,
                () = stopped(&mut stop_task) => None,
            };
            let Some(notice) = notice else {
                return;
            };
            svc.heard(notice).await;
        }
    });
    let spawned = std::thread::Builder::new()
        .name("syndic-watch".into())
        .spawn(move || watch_loop(&node, &tx, &stop));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the watch thread: this node will not lead");
    }
}

fn watch_loop(node: &Node, tx: &mpsc::UnboundedSender<Notice>, stop: &watch::Receiver<bool>) {
    let mut first = true;
    while !*stop.borrow() {
        let mut w = match Watch::connect(&node.url) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "watch connection failed; retrying");
                sleep_unless_stopped(Duration::from_secs(3), stop);
                continue;
            }
        };
        if !first {
            let _ = tx.send(Notice::Model);
            let _ = tx.send(Notice::Feeds(vec![ALL_SECTION.to_string()]));
        }
        first = false;
        if let Err(e) = watch_connected(node, &mut w, tx, stop) {
            tracing::warn!(error = %e, "watch connection lost; reconnecting");
        }
        if node.leading.swap(false, Ordering::AcqRel) {
            tracing::info!(node = %node.name, "this node no longer leads");
        }
        drop(w);
        sleep_unless_stopped(Duration::from_secs(1), stop);
    }
}

fn watch_connected(
    node: &Node,
    w: &mut Watch,
    tx: &mpsc::UnboundedSender<Notice>,
    stop: &watch::Receiver<bool>,
) -> Result<(), crate::store::StoreError> {
    while !*stop.borrow() {
        let leads = w.try_lead()?;
        if leads && !node.leading.swap(true, Ordering::AcqRel) {
            tracing::info!(node = %node.name, "this node leads (retraining, retention)");
        }
        for payload in w.wait(WATCH_TICK)? {
            match Notice::decode(&payload) {
                Some((from, _)) if from == node.name => {}
                Some((_, notice)) => {
                    let _ = tx.send(notice);
                }
                None => tracing::debug!(%payload, "unknown notice ignored"),
            }
        }
    }
    Ok(())
}

fn sleep_unless_stopped(d: Duration, stop: &watch::Receiver<bool>) {
    let until = Instant::now() + d;
    while Instant::now() < until && !*stop.borrow() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether this node has enough free refresh slots to look for due sources: any when none is
/// running, otherwise half of them. Claims come in batches rather than one per finished refresh
/// (each claim reads every due source and the busy hosts under the cluster's claim lock, and shares the
/// node's connection with its refreshes), at the price of a few slots idle for a moment.
pub(super) fn worth_claiming(ctx: &Context, running: usize) -> bool {
    let slots = ctx.config.poll.concurrency;
    let free = slots.saturating_sub(running);
    free > 0 && (running == 0 || free >= slots.div_ceil(2))
}

/// Claims due sources for this node: up to its free refresh slots, among the sources its config
/// knows. Empty on SQLite.
pub(super) async fn claim(
    node: &Node,
    ctx: &Context,
    running: usize,
) -> anyhow::Result<HashSet<i64>> {
    let free = ctx.config.poll.concurrency.saturating_sub(running);
    if free == 0 {
        return Ok(HashSet::new());
    }
    let among: Vec<i64> = ctx.source_ids.values().copied().collect();
    let name = node.name.clone();
    let lease = chrono::Duration::from_std(ctx.config.poll.lease)?;
    let per_host = ctx.config.poll.per_host;
    let claimed = ctx
        .store
        .call(move |s| {
            let Some(pg) = s.postgres() else {
                return Ok(Vec::new());
            };
            let claim = Claim {
                node: &name,
                among: &among,
                lease,
                per_host,
                limit: free as i64,
            };
            pg.claim_due(&claim, Utc::now())
        })
        .await?;
    Ok(claimed.into_iter().collect())
}

/// Gives a source's lease, held by the node named `node`, back once its refresh is stored.
pub async fn release(node: &str, ctx: &Context, id: i64) {
    let name = node.to_string();
    let released = ctx
        .store
        .call(move |s| match s.postgres() {
            Some(pg) => pg.release(&name, id),
            None => Ok(true),
        })
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, source_id = id, "cannot release a lease; it expires on its own");
    }
}

/// Gives back every lease of this node as it stops, so the other nodes take its sources at once
/// rather than when the leases expire. A refresh still finishing stores nothing twice if another node
/// fetches the source again.
pub(super) async fn release_all(node: &Node, ctx: &Context) {
    let name = node.name.clone();
    let released = ctx
        .store
        .call(move |s| match s.postgres() {
            Some(pg) => pg.release_all(&name),
            None => Ok(0),
        })
        .await;
    match released {
        Ok(n) if n > 0 => tracing::info!(leases = n, "leases given back to the other nodes"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot give the leases back; they expire on their own")
        }
    }
}

/// When this node last renewed the leases of its running refreshes.
pub(super) struct Leases {
    renewed: Instant,
}

impl Leases {
    pub(super) fn new() -> Leases {
        Leases {
            renewed: Instant::now(),
        }
    }

    /// How often leases are renewed: a third of their length, so two renewals may fail before one
    /// lapses.
    pub(super) fn every(ctx: &Context) -> Duration {
        (ctx.config.poll.lease / 3).max(Duration::from_millis(500))
    }

    /// Renews the leases of `running` when a renewal is due.
    pub(super) async fn renew_due(&mut self, node: &Node, ctx: &Context, running: Vec<i64>) {
        if running.is_empty() || self.renewed.elapsed() < Leases::every(ctx) {
            return;
        }
        self.renewed = Instant::now();
        let name = node.name.clone();
        let Ok(lease) = chrono::Duration::from_std(ctx.config.poll.lease) else {
            return;
        };
        let renewed = ctx
            .store
            .call(move |s| match s.postgres() {
                Some(pg) => pg.renew(&name, &running, Utc::now() + lease),
                None => Ok(0),
            })
            .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "cannot renew this node's leases");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_survive_their_encoding() {
        let feeds = Notice::Feeds(vec!["asia".into(), "all".into()]);
        assert_eq!(
            Notice::decode(&feeds.encode("a:1")),
            Some(("a:1", feeds.clone()))
        );
        assert_eq!(
            Notice::decode(&Notice::Model.encode("b:2")),
            Some(("b:2", Notice::Model))
        );
        assert_eq!(Notice::decode("c:3\tsomething-new"), None);
        let long = Notice::Feeds((0..2000).map(|i| format!("section{i}")).collect());
        assert_eq!(
            Notice::decode(&long.encode("a:1")),
            Some(("a:1", Notice::Feeds(vec![ALL_SECTION.into()])))
        );
    }
}

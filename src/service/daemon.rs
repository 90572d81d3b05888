//! The daemon: serve HTTP, refresh sources when they are due, reload on SIGHUP, stop on a signal.
//!
//! Shutdown is a future passed in by the caller (mini-redis style), so tests can stop the daemon without
//! signals. A reload that fails validation keeps the running config.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::ingest::refresh::{self, Context, Outcome, RefreshReport};
use crate::publish::http::{self, AppState};
use crate::publish::metrics::Refreshed;
use crate::service::notify::Notifier;
use crate::service::startup::{self, Started};
use crate::store::Store;

/// What the daemon's tasks share: the refresh context of the running config generation and the HTTP
/// state. The service is the one place that drives both ingest and publish: it hands each refresh's
/// report to publishing (metrics, render-cache invalidation, WebSub) and swaps both on reload.
struct Service {
    ctx: RwLock<Context>,
    web: Arc<AppState>,
}

impl Service {
    fn new(ctx: Context) -> Arc<Service> {
        let web = AppState::new(ctx.config.clone(), ctx.store.clone());
        Arc::new(Service {
            ctx: RwLock::new(ctx),
            web,
        })
    }

    /// The refresh context of the running config generation.
    fn context(&self) -> Context {
        self.ctx.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in a reloaded config generation, for refreshes and for serving.
    fn replace(&self, ctx: Context) {
        let config = ctx.config.clone();
        *self.ctx.write().unwrap_or_else(|e| e.into_inner()) = ctx;
        self.web.replace_config(config);
    }

    /// Tells publishing what one refresh changed.
    fn refreshed(&self, report: &RefreshReport) {
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

/// Longest sleep between scheduler passes (so a clock jump or a missed wake-up costs little).
const MAX_TICK: Duration = Duration::from_secs(30);

/// Runs until `shutdown` resolves. `ready` is called once the listener is bound.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(std::net::SocketAddr) + Send,
) -> anyhow::Result<()> {
    let store = Store::open_with_window(&config.database, config.dedupe.window)
        .with_context(|| format!("opening {}", config.database.display()))?;
    let listen = config.server.listen;
    let Started { ctx, model_trained } = startup::prepare(Arc::new(config), store).await?;
    let listener = match inherited_listener()? {
        Some(l) => {
            tracing::info!("serving on the socket passed by systemd (socket activation)");
            l
        }
        None => tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?,
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, sources = ctx.config.sources.len(), "syndic running");
    ready(addr);
    // Ready for systemd only now: the store is open and the port answers.
    let notifier = Arc::new(Notifier::from_env());
    notifier.send(&format!(
        "READY=1\nSTATUS=serving on {addr}; {} sources",
        ctx.config.sources.len()
    ));

    let svc = Service::new(ctx);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let server = serve_apart(listener, svc.web.clone(), stop_rx.clone())?;
    let heartbeat = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    if let Some(every) = notifier.watchdog_interval() {
        tokio::spawn(watchdog(
            svc.clone(),
            notifier.clone(),
            heartbeat.clone(),
            started,
            every,
            stop_rx.clone(),
        ));
    }

    tokio::spawn(retention(svc.clone(), stop_rx.clone()));
    tokio::spawn(websub(svc.web.clone(), stop_rx.clone()));

    let learner = Learner::new(model_trained);
    scheduler(svc, stop_rx, notifier.clone(), heartbeat, started, learner).await;
    notifier.send("STOPPING=1");
    server
        .await
        .map_err(|_| anyhow::anyhow!("the HTTP server thread ended without a result"))??;
    tracing::info!("syndic stopped");
    Ok(())
}

/// How much lower than the daemon's own priority its background threads run (a nice increment):
/// polling, parsing, storing and retention yield the CPU to the threads serving readers.
pub const BACKGROUND_NICE: i32 = 10;

/// Sets the calling thread's scheduling priority to [`BACKGROUND_NICE`] below the main thread's (Linux
/// keeps a nice value per thread; elsewhere this does nothing). `syndic run` calls it on every thread
/// of the runtime that polls (the WAL checkpoint thread, mostly waiting on the disk, is left alone).
/// The HTTP server's threads are started from the main thread and keep the process's priority, so a
/// refresh cycle cannot take the CPU from readers.
/// Relative to the main thread, not to the caller, so calling it twice changes nothing. Failure (a
/// sandbox forbidding it) is ignored: the thread keeps its priority.
#[allow(unsafe_code)]
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: getpid, gettid and get/setpriority take plain integers and touch no memory of ours; the
    // errno location is this thread's own.
    unsafe {
        // For PRIO_PROCESS Linux reads `who` as a thread id; the main thread's id is the process id.
        let main = libc::getpid() as libc::id_t;
        *libc::__errno_location() = 0;
        let base = libc::getpriority(libc::PRIO_PROCESS, main);
        if base == -1 && *libc::__errno_location() != 0 {
            return;
        }
        let tid = libc::gettid() as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, (base + BACKGROUND_NICE).min(19));
    }
}

/// How many threads serve HTTP: one per core, at most 16.
fn http_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 16))
}

/// Serves HTTP apart from the poll cycle until the stop flag is set: one thread per core
/// ([`http_threads`]), each with a single-threaded runtime of its own accepting from the same listening
/// socket (the kernel gives each new connection to one of them). A connection then lives on one thread
/// from accept to close: no task moves between threads and no thread wakes another, as with nginx's
/// worker processes. Readers' requests never queue behind the poll cycle's tasks on the scheduler's
/// runtime. The result (the first error, if any thread had one) arrives on the returned channel once
/// every thread has stopped.
fn serve_apart(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::sync::oneshot::Receiver<std::io::Result<()>>> {
    // A listener belongs to the runtime that registered it: each thread gets the socket as a plain one
    // (a duplicate descriptor) and registers it with its own runtime.
    let std_listener = listener.into_std()?;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let threads = http_threads();
    for n in 0..threads {
        let socket = std_listener.try_clone()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (state, mut stop, done) = (state.clone(), stop.clone(), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("syndic-http-{n}"))
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(socket)?;
                    http::serve(listener, state, async move {
                        stopped(&mut stop).await;
                    })
                    .await
                });
                let _ = done.send(result);
            })?;
    }
    drop(done_tx);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("syndic-http-join".into())
        .spawn(move || {
            let mut result = Ok(());
            for r in done_rx.iter().take(threads) {
                if result.is_ok() {
                    result = r;
                }
            }
            let _ = tx.send(result);
        })?;
    Ok(rx)
}

/// The listening socket systemd passed (`$LISTEN_FDS`, `$LISTEN_PID`: socket activation), if any.
fn inherited_listener() -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let Some(listener) = fds
        .take_tcp_listener(0)
        .context("LISTEN_FDS: the first passed socket is not a TCP listener")?
    else {
        return Ok(None);
    };
    listener.set_nonblocking(true)?;
    Ok(Some(tokio::net::TcpListener::from_std(listener)?))
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here, before any other await.
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// How often retention runs, and how many stories one of its transactions deletes.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
const RETENTION_BATCH: usize = 500;

/// Deletes old stories (`[storage].keep_days`) a minute after start and then hourly, in batches of short
/// transactions with pauses between them, so refreshes never wait long for the store.
async fn retention(svc: Arc<Service>, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = RETENTION_EVERY;
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
        }
    }
}

/// Pings the WebSub hub (when one is configured) for the feeds of the sections refreshes changed.
async fn websub(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
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
async fn watchdog(
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

async fn scheduler(
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
    loop {
        let ctx = svc.context();
        let wait = match start_due(&svc, &ctx, &in_flight, &finished).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::error!(error = %e, "scheduler cannot read the store");
                MAX_TICK
            }
        };
        learner.maybe_start(&svc, &ctx).await;
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
}

/// The `STATUS=` line systemd shows: "polling 37/120 sources", or "idle; next poll in 4 min; 1,234
/// stories" (the story count read at most once a minute). Sent when it changes.
#[derive(Default)]
struct Status {
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
fn thousands(n: i64) -> String {
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
struct Learner {
    due: crate::service::retrain::Due,
    running: Arc<AtomicBool>,
    last_check: Option<std::time::Instant>,
}

/// How often the scheduler asks whether a retrain is due (it counts the stories).
const LEARN_CHECK: Duration = Duration::from_secs(5);

impl Learner {
    fn new(trained: Option<(chrono::DateTime<Utc>, i64)>) -> Learner {
        Learner {
            due: crate::service::retrain::Due::new(trained),
            running: Arc::default(),
            last_check: None,
        }
    }

    async fn maybe_start(&mut self, svc: &Arc<Service>, ctx: &Context) {
        if !ctx.config.tagging.learn
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

/// Spawns a refresh for every due source that is not already running; returns how long to sleep.
async fn start_due(
    svc: &Arc<Service>,
    ctx: &Context,
    in_flight: &Arc<Mutex<HashSet<i64>>>,
    finished: &Arc<Notify>,
) -> anyhow::Result<Duration> {
    let checks = ctx.store.call(|s| s.next_checks()).await?;
    let now = Utc::now();
    let mut wait = MAX_TICK;
    for (id, next) in checks {
        let due = next.is_none_or(|t| t <= now);
        if !due {
            let until = (next.unwrap_or(now) - now).to_std().unwrap_or_default();
            wait = wait.min(until);
            continue;
        }
        let Some(source) = ctx
            .config
            .sources
            .iter()
            .find(|s| ctx.source_ids.get(&s.name) == Some(&id))
            .cloned()
        else {
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
            in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            // notify_one keeps a permit, so a wake-up between two passes is not lost.
            finished.notify_one();
        });
    }
    Ok(wait.max(Duration::from_millis(200)))
}

async fn reload(svc: &Arc<Service>) {
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
fn hangup_signal() -> tokio::sync::mpsc::Receiver<()> {
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    /// The nice value (field 19) of a `/proc/.../stat` line.
    #[cfg(target_os = "linux")]
    fn nice(stat_path: &str) -> i32 {
        let stat = std::fs::read_to_string(stat_path).unwrap();
        let rest = stat.rsplit_once(')').unwrap().1;
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_threads_run_below_the_main_thread_once() {
        let main = nice("/proc/self/stat");
        let (first, second) = std::thread::spawn(|| {
            super::lower_thread_priority();
            let first = nice("/proc/thread-self/stat");
            super::lower_thread_priority();
            (first, nice("/proc/thread-self/stat"))
        })
        .join()
        .unwrap();
        assert_eq!(first, (main + super::BACKGROUND_NICE).min(19));
        assert_eq!(second, first, "relative to the main thread, not cumulative");
        assert_eq!(
            nice("/proc/self/stat"),
            main,
            "the main thread keeps its priority"
        );
    }

    #[test]
    fn story_counts_read_with_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1234), "1,234");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}

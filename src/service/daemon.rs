//! The daemon: serve HTTP, refresh sources when they are due, reload on SIGHUP, stop on a signal.
//!
//! Shutdown is a future passed in by the caller (mini-redis style), so tests can stop the daemon without
//! signals. A reload that fails validation keeps the running config.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::config::Config;
use crate::publish::http::{self, AppState};
use crate::service::notify::Notifier;
use crate::service::startup::{self, Started};
use crate::store::Store;

use super::cluster::{Node, watch_others};
use super::scheduler::{Learner, scheduler};
use super::shared::{Service, stopped};
use super::tasks::{retention, watchdog, websub};

/// Runs until `shutdown` resolves. `ready` is called once the listener is bound.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(std::net::SocketAddr) + Send,
) -> anyhow::Result<()> {
    let store = Store::open_configured(
        &config.database,
        config.database_url.as_deref(),
        config.dedupe.window,
    )
    .with_context(|| format!("opening {}", config.storage_name()))?;
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

    let node = ctx.config.database_url.as_deref().map(Node::new);
    if let Some(node) = &node {
        tracing::info!(node = %node.name, "running as one node of a PostgreSQL cluster");
    }
    let svc = Service::new(ctx, node.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(node) = node {
        watch_others(svc.clone(), node, stop_rx.clone());
    }
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
        assert_eq!(crate::service::scheduler::thousands(0), "0");
        assert_eq!(crate::service::scheduler::thousands(999), "999");
        assert_eq!(crate::service::scheduler::thousands(1234), "1,234");
        assert_eq!(crate::service::scheduler::thousands(1_234_567), "1,234,567");
    }
}

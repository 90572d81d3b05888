//! The generated feed server the poll-cycle and load benches poll: `SOURCES` RSS feeds of `ITEMS` items
//! at `/feed/{n}` with ETag and 304, and `/bump?percent=P` to make that share of the sources publish
//! five new items. Runs in a child process (the bench binary re-run with `serve`), so its CPU and
//! memory are not the measured process's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The feed server, in a child process: prints its address, then serves until its stdin closes.
/// The headlines of `../shared/data/headlines/dev.tsv` the generated feeds are made of; `None`, after
/// saying the bench is skipped, where the shared data is absent.
pub fn dev_titles() -> Option<Vec<String>> {
    let tsv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/headlines/dev.tsv");
    let Ok(text) = std::fs::read_to_string(&tsv) else {
        println!("SKIPPED: {} is absent", tsv.display());
        return None;
    };
    Some(
        text.lines()
            .skip(1)
            .filter_map(|l| l.split('\t').nth(1).map(str::to_string))
            .collect(),
    )
}

/// Starts the server in a child process (this bench binary re-run with `serve`, with `env` set) and
/// returns it with its address. Closing the child's stdin stops it.
pub fn spawn(env: &[(&str, String)]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut addr = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    (child, addr.trim().to_string())
}

pub fn serve(titles: Vec<String>, sources: usize, items: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let state = Arc::new(Feeds {
            titles,
            items,
            versions: (0..sources).map(|_| AtomicU32::new(0)).collect(),
            cache: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/feed/{n}", get(feed))
            .route("/bump", get(bump))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        tokio::spawn(async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            })
            .await;
            std::process::exit(0);
        });
        axum::serve(listener, app).await.unwrap();
    });
}

struct Feeds {
    titles: Vec<String>,
    items: usize,
    versions: Vec<AtomicU32>,
    /// Rendered bodies by (source, version).
    cache: Mutex<BodyCache>,
}

type BodyCache = HashMap<(usize, u32), Arc<Vec<u8>>>;

impl Feeds {
    /// Source `n` at version `v`: its 50 latest items; each version adds five.
    fn body(&self, n: usize, v: u32) -> Arc<Vec<u8>> {
        if let Some(b) = self.cache.lock().unwrap().get(&(n, v)) {
            return b.clone();
        }
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Source {n}</title><link>https://src{n}.example/</link><description>generated</description>\n"
        );
        let newest = self.items + 5 * v as usize;
        for k in (newest - self.items..newest).rev() {
            // Sources share headlines the way outlets do: each title recurs in several sources.
            let title = &self.titles[(n * 37 + k * 101) % self.titles.len()];
            let title = title
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let minute = k % 60;
            out.push_str(&format!(
                "<item><guid>https://src{n}.example/{k}</guid><title>{title}</title><link>https://src{n}.example/{k}</link><description>Item {k} of source {n}: {title}</description><pubDate>Sat, 28 Nov 2026 10:{minute:02}:00 GMT</pubDate></item>\n"
            ));
        }
        out.push_str("</channel></rss>\n");
        let body = Arc::new(out.into_bytes());
        self.cache.lock().unwrap().insert((n, v), body.clone());
        body
    }
}

async fn feed(
    State(feeds): State<Arc<Feeds>>,
    UrlPath(n): UrlPath<usize>,
    headers: HeaderMap,
) -> Response {
    let Some(version) = feeds.versions.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let v = version.load(Ordering::Relaxed);
    let etag = format!("\"{n}-{v}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|h| h.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = feeds.body(n, v);
    (
        [
            (
                header::CONTENT_TYPE,
                "application/rss+xml; charset=utf-8".to_string(),
            ),
            (header::ETAG, etag),
        ],
        body.as_ref().clone(),
    )
        .into_response()
}

/// `/bump?percent=30`: that share of the sources publish five new items.
async fn bump(State(feeds): State<Arc<Feeds>>, Query(q): Query<HashMap<String, usize>>) -> String {
    let percent = q.get("percent").copied().unwrap_or(30);
    let mut bumped = 0;
    for (n, v) in feeds.versions.iter().enumerate() {
        if (n * 7919) % 100 < percent {
            v.fetch_add(1, Ordering::Relaxed);
            bumped += 1;
        }
    }
    bumped.to_string()
}

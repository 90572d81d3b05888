//! Test harness: a fixture HTTP server on 127.0.0.1:0, a temp folder with a config and database, and
//! helpers to run the real `syndic` binary.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen soon.
pub const WAIT: Duration = Duration::from_secs(60);

/// A plain HTTP/1.1 GET over loopback: (status, body).
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// `syndic run` as a child process, its address (from its announcement on stderr) and its log.
pub struct RunningDaemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl RunningDaemon {
    pub fn spawn(config: &Path) -> RunningDaemon {
        RunningDaemon::spawn_with(config, &[])
    }

    /// With extra environment variables.
    pub fn spawn_with(config: &Path, env: &[(&str, &str)]) -> RunningDaemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_syndic"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", "syndic=info")
            .env_remove("SYNDIC_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log: Arc<Mutex<String>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log2 = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("syndic: serving http://") {
                    let addr: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                    let _ = addr_tx.send(addr);
                }
                let mut log = log2.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = addr_rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!(
                "daemon announces its address; log:\n{}",
                log.lock().unwrap()
            )
        });
        RunningDaemon { child, addr, log }
    }
}

impl Drop for RunningDaemon {
    /// A test that fails half-way must not leave its daemon running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How the fixture server answers one path.
#[derive(Clone, Debug)]
pub enum Route {
    /// 200 with the body; answers `If-None-Match` with 304 when an etag is set.
    Feed {
        body: Vec<u8>,
        content_type: String,
        etag: Option<String>,
    },
    /// An empty response with this status.
    Status(u16),
    /// Sends nothing for this long, then a valid response (for timeouts).
    Hang(Duration),
    /// 200 with bytes that are no feed at all.
    Garbage,
    /// Any status, headers and body (Content-Length is added).
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// 200 with no Content-Length and this many bytes of an endless-looking feed, ended by closing.
    Unbounded(usize),
    /// The inner route's answer, held back this long (counted in `max_concurrent` meanwhile).
    Slow(Duration, Box<Route>),
}

impl Route {
    pub fn rss(body: impl Into<String>) -> Route {
        Route::Feed {
            body: body.into().into_bytes(),
            content_type: "application/rss+xml; charset=utf-8".into(),
            etag: None,
        }
    }

    pub fn with_etag(self, tag: &str) -> Route {
        match self {
            Route::Feed {
                body, content_type, ..
            } => Route::Feed {
                body,
                content_type,
                etag: Some(format!("\"{tag}\"")),
            },
            other => other,
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub method: String,
    pub headers: HashMap<String, String>,
    /// The request body (read by its Content-Length), lossily as text.
    pub body: String,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, Route>,
    log: Vec<Seen>,
    /// Requests being answered now, and the most there ever were at once.
    active: usize,
    max_active: usize,
}

/// A tiny HTTP/1.1 server (one thread per connection, `Connection: close`) serving fixture routes.
#[derive(Clone)]
pub struct FixtureServer {
    pub addr: std::net::SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FixtureServer {
    pub fn start() -> FixtureServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fixture server");
        let addr = listener.local_addr().unwrap();
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let shared = inner.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &shared);
                });
            }
        });
        FixtureServer { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.inner
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    /// The most `Route::Hang` and `Route::Slow` requests this server was holding at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.inner.lock().unwrap().max_active
    }

    /// Requests seen for a path, oldest first.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        let inner = self.inner.lock().unwrap();
        inner
            .log
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

fn handle(stream: TcpStream, shared: &Mutex<Inner>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let request_body = String::from_utf8_lossy(&body).into_owned();
    let mut route = shared.lock().unwrap().routes.get(&path).cloned();
    if let Some(Route::Slow(d, inner)) = route {
        {
            let mut inner = shared.lock().unwrap();
            inner.active += 1;
            inner.max_active = inner.max_active.max(inner.active);
        }
        thread::sleep(d);
        shared.lock().unwrap().active -= 1;
        route = Some(*inner);
    }
    if let Some(Route::Unbounded(total)) = route {
        shared.lock().unwrap().log.push(Seen {
            path,
            method,
            headers,
            body: request_body,
            status: 200,
        });
        let mut out = reader.into_inner();
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n<rss version=\"2.0\"><channel><title>big</title>")?;
        let chunk = vec![b' '; 16 * 1024];
        let mut sent = 0;
        while sent < total {
            if out.write_all(&chunk).is_err() {
                break; // the client gave up: that is the point
            }
            sent += chunk.len();
        }
        return Ok(());
    }
    let (status, extra, body): (u16, Vec<(String, String)>, Vec<u8>) = match route {
        None => (404, vec![], b"no such fixture".to_vec()),
        Some(Route::Status(code)) => (code, vec![], Vec::new()),
        Some(Route::Garbage) => (
            200,
            vec![("Content-Type".into(), "application/rss+xml".into())],
            b"\x00\x9f\x92<<<this is not a feed>>> {{{ \xff\xfe".to_vec(),
        ),
        Some(Route::Raw {
            status,
            headers,
            body,
        }) => (status, headers, body),
        Some(Route::Unbounded(_) | Route::Slow(..)) => unreachable!("handled above"),
        Some(Route::Hang(d)) => {
            // Counted while the answer is held back, not while it is written: a client that has read
            // a whole answer may start its next request before this thread is done.
            {
                let mut inner = shared.lock().unwrap();
                inner.active += 1;
                inner.max_active = inner.max_active.max(inner.active);
            }
            thread::sleep(d);
            shared.lock().unwrap().active -= 1;
            (
                200,
                vec![],
                b"<rss version=\"2.0\"><channel><title>late</title></channel></rss>".to_vec(),
            )
        }
        Some(Route::Feed {
            body,
            content_type,
            etag,
        }) => {
            let mut extra = vec![("Content-Type".to_string(), content_type)];
            if let Some(tag) = &etag {
                extra.push(("ETag".into(), tag.clone()));
            }
            let matches =
                matches!((&etag, headers.get("if-none-match")), (Some(t), Some(inm)) if t == inm);
            if matches {
                (304, extra, Vec::new())
            } else {
                (200, extra, body)
            }
        }
    };
    shared.lock().unwrap().log.push(Seen {
        path,
        method,
        headers,
        body: request_body,
        status,
    });
    let mut out = reader.into_inner();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&body)?;
    out.flush()?;
    // Drain anything left so the client sees a clean close.
    let _ = out.read(&mut [0u8; 64]);
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// An RSS 2.0 document with `(guid, title, link)` items (borrowed or owned strings).
pub fn rss_feed<S: AsRef<str>>(title: &str, items: &[(S, S, S)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>http://example.invalid/</link><description>fixture</description>\n"
    );
    for (i, (guid, title, link)) in items.iter().enumerate() {
        let (guid, title, link) = (guid.as_ref(), title.as_ref(), link.as_ref());
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{}</link><description>Summary of {title}.</description><pubDate>Fri, 27 Nov 2026 {:02}:00:00 +0000</pubDate></item>\n",
            link.replace('&', "&amp;"),
            10 - i.min(9)
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// The five sections of the example config, with a few keywords.
pub const SECTIONS: &str = r#"
[[section]]
id = "asia"
title = "Asia"
keywords = ["Japan", "Korea"]

[[section]]
id = "world"
title = "World"
keywords = ["ceasefire"]

[[section]]
id = "business"
title = "Business"
keywords = ["stocks", "central bank"]

[[section]]
id = "debate"
title = "Debate"
keywords = ["Opinion"]

[[section]]
id = "lifestyle"
title = "Lifestyle"
keywords = ["recipe"]
"#;

/// A temp folder holding `feeds.toml` and the database.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A config with the five sections, `extra` appended (sources), polling every `schedule`.
    pub fn new(sources: &str) -> Env {
        Env::with_poll(sources, "schedule = \"*/15 * * * *\"\ntimeout_secs = 5")
    }

    pub fn with_poll(sources: &str, poll: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test\"\n\n[storage]\ndatabase = \"test.db\"\n\n[poll]\n{poll}\n\n[output]\ntitle = \"Test News\"\nmax_items = 50\n{SECTIONS}\n{sources}"
        );
        std::fs::write(dir.path().join("feeds.toml"), text).unwrap();
        Env { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("feeds.toml")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `syndic --config <this config> ARGS`.
    pub fn syndic(&self, args: &[&str]) -> Output {
        syndic_with(&self.config_path(), args)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.syndic(args);
        assert!(
            out.status.success(),
            "syndic {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `syndic stories --json` parsed.
    pub fn stories(&self, section: &str) -> Vec<serde_json::Value> {
        let out = self.ok(&["stories", "--section", section, "--limit", "500", "--json"]);
        serde_json::from_str(&out).unwrap()
    }
}

pub fn syndic_with(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndic"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SYNDIC_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run syndic")
}

/// The body of a GET, as text (any status).
pub async fn text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// `syndic::service::daemon::run` on this config inside the test's runtime, stopped by [`InProcessDaemon::stop`].
pub struct InProcessDaemon {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcessDaemon {
    pub async fn start(env: &Env) -> InProcessDaemon {
        let config = syndic::config::Config::load(&env.config_path()).unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(syndic::service::daemon::run(
            config,
            async {
                let _ = stop_rx.await;
            },
            move |addr| addr_tx.send(addr).unwrap(),
        ));
        let addr = tokio::task::spawn_blocking(move || {
            addr_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the daemon binds its listener")
        })
        .await
        .unwrap();
        InProcessDaemon { addr, stop, task }
    }

    /// Stops the daemon and checks that it shut down cleanly.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("daemon stops on shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A `[[source]]` block.
pub fn source(name: &str, url: &str, sections: &[&str]) -> String {
    let secs: Vec<String> = sections.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "\n[[source]]\nname = \"{name}\"\nurl = \"{url}\"\nsections = [{}]\n",
        secs.join(", ")
    )
}

/// Titles of stories (their lead item's title) in a `stories --json` listing.
pub fn titles(stories: &[serde_json::Value]) -> Vec<String> {
    let mut t: Vec<String> = stories
        .iter()
        .map(|s| s["items"][0]["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

/// Python with feedparser: `$SYNDIC_PYTHON`, else the repo's `.venv` (made by `.ci/run`).
pub fn feedparser_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("SYNDIC_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import feedparser"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(py);
        }
    }
    None
}

/// Skips a test (returns true) when an external checker is missing, but fails under CI.
/// Whether `tool --version` runs.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `.venv` Python (see [`feedparser_python`]), or `None` after [`missing_tool`] has said the test
/// skips (it panics under CI instead).
pub fn python_or_skip(what: &str) -> Option<PathBuf> {
    let found = feedparser_python();
    if found.is_none() {
        missing_tool(what);
    }
    found
}

pub fn missing_tool(what: &str) -> bool {
    let msg =
        format!("{what} is not installed: run `bash .ci/run` (or `bash .ci/setup`) to install it");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}; CI must have it");
    }
    eprintln!("SKIPPED: {msg}");
    true
}

/// Asserts that xmllint finds each file well-formed (skips where xmllint is missing outside CI).
pub fn assert_xmllint_accepts(files: &[PathBuf]) {
    if !have("xmllint") && missing_tool("xmllint (Debian libxml2-utils)") {
        return;
    }
    let lint = Command::new("xmllint")
        .arg("--noout")
        .args(files)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}

/// Parses each file with Python's feedparser, asserts none is malformed (`bozo`), and returns what
/// `report` (a Python expression over the parsed document `d`) printed, a line per file; `None` where
/// feedparser is missing outside CI.
pub fn feedparser_reports(files: &[PathBuf], report: &str) -> Option<String> {
    let python = python_or_skip("Python feedparser")?;
    let script = format!(
        "import sys, feedparser\n\
         for path in sys.argv[1:]:\n\
         \x20   d = feedparser.parse(path)\n\
         \x20   assert not d.bozo, (path, d.bozo_exception)\n\
         \x20   print({report})"
    );
    let check = Command::new(python)
        .args(["-c", &script])
        .args(files)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    Some(said)
}
